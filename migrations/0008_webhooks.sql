-- Alerts and their delivery: webhook endpoints, the alert events (the outbox, written in the
-- agent's poll transaction), and one delivery row per endpoint and event that workers claim
-- with FOR UPDATE SKIP LOCKED. Also the hub watchdog's memory: which hub was announced down.

CREATE TABLE webhook_endpoints (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    url             TEXT NOT NULL CHECK (url ~ '^https?://' AND char_length(url) <= 2000),
    -- NULL: every tenant's events and the hub events.
    tenant_id       BIGINT REFERENCES tenants (id) ON DELETE CASCADE,
    -- NULL: every event type.
    event_types     TEXT[] CHECK (cardinality(event_types) > 0),
    -- AES-256-GCM under the master key, bound to (webhook_endpoints, id, secret): it must be
    -- recovered to sign, so it cannot be a hash.
    secret_sealed   BYTEA NOT NULL,
    enabled         BOOLEAN NOT NULL DEFAULT true,
    disabled_reason TEXT,
    disabled_at     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE alert_events (
    id         BIGSERIAL PRIMARY KEY,
    -- webhook-id: stable across retries, so receivers can deduplicate.
    message_id TEXT NOT NULL UNIQUE DEFAULT 'msg_' || replace(gen_random_uuid()::text, '-', ''),
    type       TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    hub_id     BIGINT REFERENCES hubs (id) ON DELETE SET NULL,
    -- No foreign keys: an alert about a router outlives the router.
    tenant_id  BIGINT,
    router_id  BIGINT,
    -- A hub alert's copy for one tenant's scoped endpoints, naming only that tenant's routers
    -- (endpoints without a tenant get the hub-wide original).
    tenant_copy BOOLEAN NOT NULL DEFAULT false,
    body       JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX alert_events_at_idx ON alert_events (at);
CREATE INDEX alert_events_tenant_at_idx ON alert_events (tenant_id, at);
-- An agent starting reads the last alert said about each of its routers.
CREATE INDEX alert_events_hub_router_idx ON alert_events (hub_id, router_id, id)
    WHERE router_id IS NOT NULL;

CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    endpoint_id     BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        BIGINT NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    tenant_id       BIGINT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at TIMESTAMPTZ,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ,
    failed_at       TIMESTAMPTZ,
    UNIQUE (endpoint_id, event_id)
);
-- What workers scan: only deliveries still to make.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

-- The hub watchdog: the agent's poll interval as it last said, and whether the hub's silence
-- was announced (hub.down), so every watcher announces it once.
CREATE TABLE alert_hub_watch (
    hub_id             BIGINT PRIMARY KEY REFERENCES hubs (id) ON DELETE CASCADE,
    interval_ms        INTEGER NOT NULL CHECK (interval_ms > 0),
    -- The database's clock, not the agent's: watchers on other hosts compare with it.
    last_poll_at       TIMESTAMPTZ NOT NULL,
    down_announced_at  TIMESTAMPTZ
);

-- The API role reads its tenant's events and deliveries, nothing else; endpoints (with sealed
-- secrets) stay with the owner.
GRANT SELECT ON alert_events, webhook_deliveries TO tikwire_api;
ALTER TABLE alert_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON alert_events TO tikwire_api
    USING ((SELECT tikwire_api_system()) OR tenant_id = (SELECT tikwire_api_tenant()));
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON webhook_deliveries TO tikwire_api
    USING ((SELECT tikwire_api_system()) OR tenant_id = (SELECT tikwire_api_tenant()));
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_hub_watch ENABLE ROW LEVEL SECURITY;
