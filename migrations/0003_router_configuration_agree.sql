-- A router's VPN configuration row must name the same tenant and hub as the router itself:
-- the agent reads the hub from vpn_configurations, the hub config from routers, and the
-- database, not tikwire, keeps the two in step.
ALTER TABLE routers
    ADD CONSTRAINT routers_id_tenant_hub_key UNIQUE (id, tenant_id, hub_id);
ALTER TABLE vpn_configurations
    ADD CONSTRAINT vpn_configurations_router_tenant_hub_fkey
    FOREIGN KEY (router_id, tenant_id, hub_id) REFERENCES routers (id, tenant_id, hub_id)
    ON DELETE CASCADE ON UPDATE CASCADE;
