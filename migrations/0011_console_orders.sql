-- The console shows the status the agent stored (issue 12: the same status as the command
-- line and the API), so its status order and status filter can walk an index; and the
-- orders over configuration columns break ties by the router's address, which is unique
-- across the fleet (each tenant has its own /16) and groups a tenant's routers, so one index
-- holds each order whole (issue 13: `G` on a million tied never-seen routers sorted them all
-- when ties were broken by tenant and router names, which live in other tables).
--
-- client_ip holds the router's address exactly as routers.vpn_ip does (a /32 inet, written
-- from it when the router is provisioned), so the console reads it as the router's address.

-- The status order: pending, online, stale, offline, disabled (as `RouterStatus` orders).
-- IMMUTABLE so indexes can hold it; not STRICT, so the planner inlines the CASE (in indexes
-- and queries alike) rather than calling a function per row.
CREATE FUNCTION console_status_rank(status TEXT) RETURNS INTEGER
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE status
        WHEN 'pending' THEN 0
        WHEN 'online' THEN 1
        WHEN 'stale' THEN 2
        WHEN 'offline' THEN 3
        ELSE 4
    END
$$;

-- Replaced by the same orders with the address after them.
DROP INDEX vpn_configurations_handshake_idx;
DROP INDEX vpn_configurations_tenant_handshake_idx;
DROP INDEX vpn_configurations_traffic_idx;
DROP INDEX vpn_configurations_tenant_traffic_idx;

-- Over all tenants and within one: status, then address.
CREATE INDEX vpn_configurations_status_order_idx
    ON vpn_configurations ((console_status_rank(status)), client_ip);
CREATE INDEX vpn_configurations_tenant_status_order_idx
    ON vpn_configurations (tenant_id, (console_status_rank(status)), client_ip);
-- Most recent handshake first, never-seen last, then address.
CREATE INDEX vpn_configurations_handshake_order_idx
    ON vpn_configurations ((coalesce(last_handshake_at, '-infinity'::timestamptz)) DESC, client_ip);
CREATE INDEX vpn_configurations_tenant_handshake_order_idx
    ON vpn_configurations (tenant_id, (coalesce(last_handshake_at, '-infinity'::timestamptz)) DESC, client_ip);
-- Most traffic first, then address.
CREATE INDEX vpn_configurations_traffic_order_idx
    ON vpn_configurations ((rx_bytes + tx_bytes) DESC, client_ip);
CREATE INDEX vpn_configurations_tenant_traffic_order_idx
    ON vpn_configurations (tenant_id, (rx_bytes + tx_bytes) DESC, client_ip);
