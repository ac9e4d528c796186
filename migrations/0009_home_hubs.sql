-- Several hubs: each tenant has a home hub, and its routers live there, so the management
-- network routes one /16 per tenant to one hub (`tikwire hub routes`).
--
-- * hubs.max_peers: how many routers the hub's interface may carry (one tenant's full range
--   by default). A hub's load is the routers of the tenants whose home it is: addresses
--   handed out, not a reservation of 65,278 per tenant (that would put one tenant per hub).
-- * hubs.mgmt_address: the hub's address on the management network, the next hop of the
--   routes to its tenants' /16s. Existing hubs whose endpoint is an IPv4 address take it;
--   others (DNS names, IPv6) have none until an operator sets one (`hub set`).
-- * tenants.hub_id: the home hub. Existing tenants get the hub most of their routers are on
--   (ties: the lowest hub id); a tenant without routers gets the only hub when there is one,
--   otherwise none, and is placed on the hub with the most room when its first router is
--   provisioned. Routers are not moved: a router already on another hub than its tenant's
--   home stays there and keeps working (its hub still serves it; `hub routes` adds a /32
--   route for it via its own hub; `tenant list` names those other hubs).

ALTER TABLE hubs
    ADD COLUMN max_peers INTEGER NOT NULL DEFAULT 65278 CHECK (max_peers BETWEEN 1 AND 10000000),
    ADD COLUMN mgmt_address INET CHECK (family(mgmt_address) = 4 AND masklen(mgmt_address) = 32);

UPDATE hubs SET mgmt_address = endpoint_host::inet
WHERE endpoint_host ~ '^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}$';

ALTER TABLE tenants ADD COLUMN hub_id BIGINT REFERENCES hubs (id) ON DELETE RESTRICT;
CREATE INDEX tenants_hub_id_idx ON tenants (hub_id);
-- Which hubs hold a tenant's routers: one probe per (tenant, hub), whatever the fleet size.
-- `id` last: the foreign key check of vpn_configurations (router_id, tenant_id, hub_id) may
-- choose this index when statistics are stale (a bulk insert into a new tenant), and with
-- `id` in it that is still one probe, not a scan of the tenant's routers per inserted row.
CREATE INDEX routers_tenant_hub_idx ON routers (tenant_id, hub_id, id);

UPDATE tenants t SET hub_id = most.hub_id
FROM (
    SELECT DISTINCT ON (tenant_id) tenant_id, hub_id
    FROM routers
    GROUP BY tenant_id, hub_id
    ORDER BY tenant_id, count(*) DESC, hub_id
) most
WHERE most.tenant_id = t.id;

UPDATE tenants SET hub_id = (SELECT min(id) FROM hubs)
WHERE hub_id IS NULL AND (SELECT count(*) FROM hubs) = 1;

-- A hub's load: the routers of the tenants it is home to. Security definer so the API's
-- role, which sees only its own tenant's rows, still checks the hub's capacity against all.
CREATE FUNCTION tikwire_hub_load(hub bigint) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS
$$ SELECT COALESCE(sum(a.allocated_ips), 0)::bigint
   FROM tenants t JOIN vpn_subnet_allocations a ON a.tenant_id = t.id
   WHERE t.hub_id = hub $$;
REVOKE ALL ON FUNCTION tikwire_hub_load(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tikwire_hub_load(bigint) TO tikwire_api;

GRANT SELECT (max_peers, mgmt_address) ON hubs TO tikwire_api;
-- A tenant without a home hub is placed when its first router is provisioned (the API too).
GRANT UPDATE (hub_id, updated_at) ON tenants TO tikwire_api;
