-- tikwire foundation schema.
--
-- Differences from the seed's schema, on purpose:
-- * Generated scripts are not stored (the seed's mikrotik_script/linux_script): they contain
--   the router's private key in plaintext. Scripts are rendered on demand from sealed keys.
-- * The hub's private key lives once, sealed, in hubs; vpn_configurations keeps the hub's
--   public key (server_public_key) and its tunnel address (server_ip).
-- * Router addresses are host indexes into the tenant's range (10.X.1.1 = 0 ..
--   10.X.255.254 = 65277), allocated from a high-water mark plus a table of released indexes,
--   so the lowest free address is one index lookup however full the tenant is.

CREATE TABLE hubs (
    id                 BIGSERIAL PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    endpoint_host      TEXT NOT NULL,
    endpoint_port      INTEGER NOT NULL CHECK (endpoint_port BETWEEN 1 AND 65535),
    interface_name     TEXT NOT NULL DEFAULT 'wg0',
    listen_port        INTEGER NOT NULL DEFAULT 51820 CHECK (listen_port BETWEEN 1 AND 65535),
    public_key         TEXT NOT NULL UNIQUE,
    private_key_sealed BYTEA NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE tenants (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE vpn_subnet_allocations (
    id             BIGSERIAL PRIMARY KEY,
    tenant_id      BIGINT NOT NULL UNIQUE REFERENCES tenants (id) ON DELETE CASCADE,
    subnet_cidr    CIDR NOT NULL UNIQUE,
    subnet_octet_2 SMALLINT NOT NULL UNIQUE CHECK (subnet_octet_2 BETWEEN 0 AND 255),
    gateway_ip     INET NOT NULL,
    range_start    INET NOT NULL,
    range_end      INET NOT NULL,
    -- capacity of this tenant's pool (65278 unless configured smaller)
    total_ips      INTEGER NOT NULL CHECK (total_ips BETWEEN 1 AND 65278),
    allocated_ips  INTEGER NOT NULL DEFAULT 0 CHECK (allocated_ips BETWEEN 0 AND total_ips),
    available_ips  INTEGER GENERATED ALWAYS AS (total_ips - allocated_ips) STORED,
    -- every host index below this has been handed out at least once
    next_host_index INTEGER NOT NULL DEFAULT 0 CHECK (next_host_index BETWEEN 0 AND total_ips),
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'exhausted', 'reserved')),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Host indexes released by deleted routers, below next_host_index: handed out again lowest first.
CREATE TABLE released_host_indexes (
    tenant_id  BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    host_index INTEGER NOT NULL CHECK (host_index BETWEEN 0 AND 65277),
    PRIMARY KEY (tenant_id, host_index)
);

CREATE TABLE routers (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hub_id     BIGINT NOT NULL REFERENCES hubs (id) ON DELETE RESTRICT,
    name       TEXT NOT NULL,
    host_index INTEGER NOT NULL CHECK (host_index BETWEEN 0 AND 65277),
    vpn_ip     INET NOT NULL CHECK (family(vpn_ip) = 4 AND masklen(vpn_ip) = 32),
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT routers_tenant_name_key UNIQUE (tenant_id, name),
    CONSTRAINT routers_tenant_vpn_ip_key UNIQUE (tenant_id, vpn_ip),
    CONSTRAINT routers_tenant_host_index_key UNIQUE (tenant_id, host_index)
);
CREATE INDEX routers_hub_id_idx ON routers (hub_id);

CREATE TABLE vpn_configurations (
    id                        BIGSERIAL PRIMARY KEY,
    tenant_id                 BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    router_id                 BIGINT NOT NULL UNIQUE REFERENCES routers (id) ON DELETE CASCADE,
    hub_id                    BIGINT NOT NULL REFERENCES hubs (id) ON DELETE RESTRICT,
    vpn_type                  TEXT NOT NULL DEFAULT 'wireguard' CHECK (vpn_type IN ('wireguard')),
    server_public_key         TEXT NOT NULL,
    client_public_key         TEXT NOT NULL UNIQUE,
    client_private_key_sealed BYTEA NOT NULL,
    preshared_key_sealed      BYTEA NOT NULL,
    server_ip                 INET NOT NULL,
    client_ip                 INET NOT NULL,
    subnet_cidr               CIDR NOT NULL,
    listen_port               INTEGER NOT NULL CHECK (listen_port BETWEEN 1 AND 65535),
    server_endpoint           TEXT NOT NULL,
    status                    TEXT NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'online', 'stale', 'offline', 'disabled')),
    script_issued_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    first_handshake_at        TIMESTAMPTZ,
    last_handshake_at         TIMESTAMPTZ,
    last_endpoint             TEXT,
    -- cumulative counters that survive interface restarts ...
    rx_bytes                  BIGINT NOT NULL DEFAULT 0 CHECK (rx_bytes >= 0),
    tx_bytes                  BIGINT NOT NULL DEFAULT 0 CHECK (tx_bytes >= 0),
    -- ... and the raw counters last read from `wg show`, to detect resets
    last_rx_counter           BIGINT NOT NULL DEFAULT 0,
    last_tx_counter           BIGINT NOT NULL DEFAULT 0,
    interface_name            TEXT NOT NULL DEFAULT 'wg-hotspot',
    keepalive_interval        INTEGER NOT NULL DEFAULT 25 CHECK (keepalive_interval BETWEEN 1 AND 65535),
    allowed_ips               JSONB NOT NULL DEFAULT '[]',
    dns_servers               JSONB NOT NULL DEFAULT '[]',
    created_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT vpn_configurations_tenant_client_ip_key UNIQUE (tenant_id, client_ip)
);
CREATE INDEX vpn_configurations_hub_id_idx ON vpn_configurations (hub_id);
CREATE INDEX vpn_configurations_status_idx ON vpn_configurations (tenant_id, status);

-- A value sealed with the master key, so a wrong key is caught at start, not mid-script.
CREATE TABLE vault_meta (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    key_check  BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Who changed what, for operators looking back.
CREATE TABLE audit_log (
    id        BIGSERIAL PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    tenant    TEXT,
    router    TEXT,
    detail    JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
