-- What happened to each router over time: liveness from activity, status transitions (and the
-- first handshake), NAT endpoint changes, and traffic in 5-minute buckets with hourly roll-ups.
--
-- The agent writes transitions, endpoint changes and traffic in the same transaction as the
-- status columns (src/store/history.rs). Traffic tables are range-partitioned by time: the
-- agent creates partitions ahead and drops those past retention (`[history] traffic_days`,
-- `rollup_days`), so old history leaves by DROP TABLE, never by a DELETE that bloats.

-- When the router's received bytes last grew: a router with persistent keepalive sends a packet
-- every keepalive interval, so this says "alive" long before the next handshake would.
ALTER TABLE vpn_configurations ADD COLUMN last_seen_at TIMESTAMPTZ;

-- One row per status change of a router, and one for its first handshake.
CREATE TABLE router_transitions (
    id          BIGSERIAL PRIMARY KEY,
    router_id   BIGINT NOT NULL REFERENCES routers (id) ON DELETE CASCADE,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hub_id      BIGINT NOT NULL REFERENCES hubs (id) ON DELETE CASCADE,
    at          TIMESTAMPTZ NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('status', 'first_handshake')),
    -- Both set for a status change (and different); both NULL for a first handshake.
    from_status TEXT CHECK (from_status IN ('pending', 'online', 'stale', 'offline', 'disabled')),
    to_status   TEXT CHECK (to_status IN ('pending', 'online', 'stale', 'offline', 'disabled')),
    CONSTRAINT router_transitions_shape CHECK (
        (kind = 'status' AND from_status IS NOT NULL AND to_status IS NOT NULL AND from_status <> to_status)
        OR (kind = 'first_handshake' AND from_status IS NULL AND to_status IS NULL))
);
-- A router's timeline (history, availability), a tenant's and the fleet's recent events.
CREATE INDEX router_transitions_router_at_idx ON router_transitions (router_id, at);
CREATE INDEX router_transitions_tenant_at_idx ON router_transitions (tenant_id, at);
CREATE INDEX router_transitions_at_idx ON router_transitions (at);

-- Every change of a router's public (NAT) address as the hub saw it.
CREATE TABLE router_endpoints (
    id        BIGSERIAL PRIMARY KEY,
    router_id BIGINT NOT NULL REFERENCES routers (id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at        TIMESTAMPTZ NOT NULL,
    endpoint  TEXT NOT NULL
);
CREATE INDEX router_endpoints_router_at_idx ON router_endpoints (router_id, at);

-- Bytes received and sent in each 5-minute bucket (only buckets with traffic have a row).
-- Partitions are daily: router_traffic_5m_pYYYYMMDD. No foreign keys (they would cost a check
-- per row every poll): the trigger below deletes a deleted router's rows.
CREATE TABLE router_traffic_5m (
    router_id BIGINT NOT NULL,
    tenant_id BIGINT NOT NULL,
    bucket    TIMESTAMPTZ NOT NULL,
    rx_bytes  BIGINT NOT NULL CHECK (rx_bytes >= 0),
    tx_bytes  BIGINT NOT NULL CHECK (tx_bytes >= 0),
    PRIMARY KEY (router_id, bucket)
) PARTITION BY RANGE (bucket);

-- The same per hour, rolled up from the 5-minute buckets. Partitions are monthly:
-- router_traffic_1h_pYYYYMM.
CREATE TABLE router_traffic_1h (
    router_id BIGINT NOT NULL,
    tenant_id BIGINT NOT NULL,
    hour      TIMESTAMPTZ NOT NULL,
    rx_bytes  BIGINT NOT NULL CHECK (rx_bytes >= 0),
    tx_bytes  BIGINT NOT NULL CHECK (tx_bytes >= 0),
    PRIMARY KEY (router_id, hour)
) PARTITION BY RANGE (hour);

-- Deleting routers (one, or a tenant's by cascade) deletes their traffic: one statement per
-- table for the whole batch. The API deletes routers as tikwire_api, which may not delete
-- history: the function runs as its owner.
CREATE FUNCTION router_traffic_forget() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM router_traffic_5m WHERE router_id IN (SELECT id FROM gone);
    DELETE FROM router_traffic_1h WHERE router_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER routers_forget_traffic AFTER DELETE ON routers
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION router_traffic_forget();

-- Up to which hour the 5-minute buckets have been rolled up (one row).
CREATE TABLE history_rollup_state (
    singleton    BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    rolled_until TIMESTAMPTZ NOT NULL
);

-- The API reads history through row-level security, exactly as 0004/0005 set it up.
GRANT SELECT ON router_transitions, router_endpoints, router_traffic_5m, router_traffic_1h
    TO tikwire_api;

DO $$
DECLARE
    scoped_table text;
BEGIN
    FOREACH scoped_table IN ARRAY ARRAY['router_transitions', 'router_endpoints',
                                        'router_traffic_5m', 'router_traffic_1h']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', scoped_table);
        EXECUTE format(
            'CREATE POLICY tenant_scope ON %I TO tikwire_api
                 USING ((SELECT tikwire_api_system()) OR tenant_id = (SELECT tikwire_api_tenant()))',
            scoped_table);
    END LOOP;
END
$$;
