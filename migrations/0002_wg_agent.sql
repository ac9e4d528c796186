-- What the hub agent (`tikwire agent`) sees that has no other home, so that consoles running
-- without privileges on the hub (they cannot run `wg show`) can show it.

-- Peers on a hub's interface that no router in the database owns.
CREATE TABLE wg_unknown_peers (
    hub_id            BIGINT NOT NULL REFERENCES hubs (id) ON DELETE CASCADE,
    public_key        TEXT NOT NULL,
    endpoint          TEXT,
    allowed_ips       TEXT NOT NULL DEFAULT '',
    last_handshake_at TIMESTAMPTZ,
    first_seen_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (hub_id, public_key)
);

-- One row per hub: the agent's heartbeat and its last poll error, so a console can tell
-- "online" from "nobody is polling".
CREATE TABLE wg_agent_status (
    hub_id        BIGINT PRIMARY KEY REFERENCES hubs (id) ON DELETE CASCADE,
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    -- last successful poll
    last_poll_at  TIMESTAMPTZ,
    -- NULL while polls succeed
    last_error    TEXT,
    last_error_at TIMESTAMPTZ,
    peers         INTEGER NOT NULL DEFAULT 0,
    unknown_peers INTEGER NOT NULL DEFAULT 0,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
