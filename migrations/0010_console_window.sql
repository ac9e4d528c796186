-- The console reads windows of the router list, not the fleet (issue 13): every sort order
-- it offers walks an index, `/` finds name and address substrings through trigram indexes,
-- and the counts it shows come from a small table kept by triggers (one row per tenant and
-- stored status), so opening, scrolling and counting cost the same at any fleet size.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Filtering: substring matches on names and addresses.
CREATE INDEX routers_name_trgm_idx ON routers USING gin (name gin_trgm_ops);
CREATE INDEX routers_address_trgm_idx ON routers USING gin (host(vpn_ip) gin_trgm_ops);

-- Sort orders, over all tenants and within one. Names sort bytewise (COLLATE "C"), as the
-- console always sorted them, whatever the database's locale.
CREATE INDEX routers_name_idx ON routers ((name COLLATE "C"));
CREATE INDEX routers_tenant_name_idx ON routers (tenant_id, (name COLLATE "C"));
CREATE INDEX routers_vpn_ip_idx ON routers (vpn_ip);
CREATE INDEX tenants_name_c_idx ON tenants ((name COLLATE "C"));
-- Handshake and traffic: most recent / most first, never-seen last.
CREATE INDEX vpn_configurations_handshake_idx
    ON vpn_configurations ((coalesce(last_handshake_at, '-infinity'::timestamptz)) DESC);
CREATE INDEX vpn_configurations_tenant_handshake_idx
    ON vpn_configurations (tenant_id, (coalesce(last_handshake_at, '-infinity'::timestamptz)) DESC);
CREATE INDEX vpn_configurations_traffic_idx ON vpn_configurations ((rx_bytes + tx_bytes) DESC);
CREATE INDEX vpn_configurations_tenant_traffic_idx
    ON vpn_configurations (tenant_id, (rx_bytes + tx_bytes) DESC);

-- Routers per tenant and stored status, kept by statement-level triggers: one aggregated
-- upsert per statement however many rows it wrote (an agent's poll writes up to 65,278).
CREATE TABLE router_counts (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    status    TEXT NOT NULL CHECK (status IN ('pending', 'online', 'stale', 'offline', 'disabled')),
    routers   BIGINT NOT NULL CHECK (routers >= 0),
    PRIMARY KEY (tenant_id, status)
);

-- SECURITY DEFINER: the API's role writes configuration rows but not this table.
CREATE FUNCTION router_counts_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO router_counts AS c (tenant_id, status, routers)
        SELECT tenant_id, status, count(*) FROM added GROUP BY tenant_id, status
        ON CONFLICT (tenant_id, status) DO UPDATE SET routers = c.routers + EXCLUDED.routers;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE router_counts c SET routers = c.routers - d.n
        FROM (SELECT tenant_id, status, count(*) AS n FROM removed GROUP BY tenant_id, status) d
        WHERE c.tenant_id = d.tenant_id AND c.status = d.status;
    ELSE
        -- Every updated row is in both transition tables: old statuses out, new ones in,
        -- summed per tenant and status (no join: transition tables have no index). Gains
        -- are upserted, losses subtracted from rows that exist (an upsert's inserted row
        -- must pass the CHECK itself, so a loss cannot go through it).
        INSERT INTO router_counts AS c (tenant_id, status, routers)
        SELECT tenant_id, status, sum(delta) AS delta FROM (
            SELECT tenant_id, status, 1 AS delta FROM added
            UNION ALL
            SELECT tenant_id, status, -1 FROM removed
        ) m GROUP BY tenant_id, status HAVING sum(delta) > 0
        ON CONFLICT (tenant_id, status) DO UPDATE SET routers = c.routers + EXCLUDED.routers;
        UPDATE router_counts c SET routers = c.routers + m.delta
        FROM (SELECT tenant_id, status, sum(delta) AS delta FROM (
            SELECT tenant_id, status, 1 AS delta FROM added
            UNION ALL
            SELECT tenant_id, status, -1 FROM removed
        ) m GROUP BY tenant_id, status HAVING sum(delta) < 0) m
        WHERE c.tenant_id = m.tenant_id AND c.status = m.status;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER router_counts_insert AFTER INSERT ON vpn_configurations
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION router_counts_apply();
CREATE TRIGGER router_counts_delete AFTER DELETE ON vpn_configurations
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION router_counts_apply();
CREATE TRIGGER router_counts_update AFTER UPDATE ON vpn_configurations
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION router_counts_apply();

INSERT INTO router_counts (tenant_id, status, routers)
SELECT tenant_id, status, count(*) FROM vpn_configurations GROUP BY tenant_id, status;
