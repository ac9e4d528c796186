-- A hub's router count (the console's hub list, `hub list`, placement's load) counted the
-- hub's routers row by row: 85 ms at a million routers, most of the console's start at ten
-- million. `router_counts` now keeps its figures per hub too (tenant, hub, status: a few rows
-- per tenant), so every count the console shows costs the same at any fleet size.

ALTER TABLE router_counts DROP CONSTRAINT router_counts_pkey;
ALTER TABLE router_counts ADD COLUMN hub_id BIGINT REFERENCES hubs (id) ON DELETE CASCADE;
TRUNCATE router_counts;
INSERT INTO router_counts (tenant_id, hub_id, status, routers)
SELECT tenant_id, hub_id, status, count(*) FROM vpn_configurations GROUP BY tenant_id, hub_id, status;
ALTER TABLE router_counts ALTER COLUMN hub_id SET NOT NULL;
ALTER TABLE router_counts ADD PRIMARY KEY (tenant_id, hub_id, status);
CREATE INDEX router_counts_hub_idx ON router_counts (hub_id);

-- As in 0012, grouped by hub as well.
CREATE OR REPLACE FUNCTION router_counts_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO router_counts AS c (tenant_id, hub_id, status, routers)
        SELECT tenant_id, hub_id, status, count(*) FROM added GROUP BY tenant_id, hub_id, status
        ON CONFLICT (tenant_id, hub_id, status) DO UPDATE SET routers = c.routers + EXCLUDED.routers;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE router_counts c SET routers = c.routers - d.n
        FROM (SELECT tenant_id, hub_id, status, count(*) AS n FROM removed
              GROUP BY tenant_id, hub_id, status) d
        WHERE c.tenant_id = d.tenant_id AND c.hub_id = d.hub_id AND c.status = d.status;
    ELSE
        WITH delta AS (
            SELECT tenant_id, hub_id, status, sum(delta) AS delta FROM (
                SELECT tenant_id, hub_id, status, 1 AS delta FROM added
                UNION ALL
                SELECT tenant_id, hub_id, status, -1 FROM removed
            ) m GROUP BY tenant_id, hub_id, status HAVING sum(delta) <> 0
        ), kept AS (
            UPDATE router_counts c SET routers = c.routers + d.delta
            FROM delta d
            WHERE c.tenant_id = d.tenant_id AND c.hub_id = d.hub_id AND c.status = d.status
            RETURNING c.tenant_id, c.hub_id, c.status
        )
        INSERT INTO router_counts AS c (tenant_id, hub_id, status, routers)
        SELECT d.tenant_id, d.hub_id, d.status, d.delta FROM delta d
        WHERE d.delta > 0
          AND NOT EXISTS (SELECT 1 FROM kept k
                          WHERE k.tenant_id = d.tenant_id AND k.hub_id = d.hub_id
                            AND k.status = d.status)
        ON CONFLICT (tenant_id, hub_id, status) DO UPDATE SET routers = c.routers + EXCLUDED.routers;
    END IF;
    RETURN NULL;
END
$$;
