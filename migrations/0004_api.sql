-- The HTTP API (`tikwire serve`): the platform's own router ids and display names, API tokens,
-- audit context, and tenant isolation enforced by PostgreSQL itself.
--
-- The API runs every request in a transaction as role tikwire_api (SET LOCAL ROLE), with the
-- caller's tenant in the transaction-local setting tikwire.tenant_id, or tikwire.scope =
-- 'system' for a system admin. Row-level security below lets tikwire_api see and change only
-- rows of that tenant; with neither setting it sees no rows at all. The table owner (the
-- console, the command line, the agent) is not subject to these policies.

-- The hotspot platform's id for the router (unique per tenant) and its display name, which
-- may hold any printable text; `routers.name` stays the script-safe identifier.
ALTER TABLE routers
    ADD COLUMN platform_router_id BIGINT CHECK (platform_router_id >= 0),
    ADD COLUMN display_name TEXT CHECK (char_length(display_name) BETWEEN 1 AND 200);
ALTER TABLE routers
    ADD CONSTRAINT routers_tenant_platform_router_id_key UNIQUE (tenant_id, platform_router_id);

-- Bearer tokens. Only the SHA-256 of the secret is stored; the secret is shown once.
CREATE TABLE api_tokens (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 63),
    -- NULL for a system admin token
    tenant_id     BIGINT REFERENCES tenants (id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'user', 'system')),
    secret_sha256 BYTEA NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ,
    CONSTRAINT api_tokens_scope_check CHECK ((role = 'system') = (tenant_id IS NULL))
);

-- Who acted from where. Filled from transaction-local settings the API sets, so the writes
-- the core makes inside an API request (provisioning, deletion) carry the request's context
-- without the core knowing about HTTP.
ALTER TABLE audit_log
    ADD COLUMN tenant_id   BIGINT DEFAULT NULLIF(current_setting('tikwire.tenant_id', true), '')::bigint,
    ADD COLUMN token_name  TEXT DEFAULT NULLIF(current_setting('tikwire.token_name', true), ''),
    ADD COLUMN client_addr TEXT DEFAULT NULLIF(current_setting('tikwire.client_addr', true), ''),
    ADD COLUMN request_id  TEXT DEFAULT NULLIF(current_setting('tikwire.request_id', true), '');
CREATE INDEX audit_log_tenant_at_idx ON audit_log (tenant, at);

-- The role. Roles are cluster-wide: another database on the same server may have made it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tikwire_api') THEN
        CREATE ROLE tikwire_api NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
    END IF;
    -- The connecting user switches to it with SET LOCAL ROLE.
    EXECUTE format('GRANT tikwire_api TO %I', current_user);
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'tikwire needs role tikwire_api and membership in it: as a superuser run CREATE ROLE tikwire_api NOLOGIN; GRANT tikwire_api TO %;', current_user;
END
$$;

-- Least grants: what the API's queries and the provisioning core need, nothing more. No hub
-- private key, no tokens (authentication runs before a tenant is known, as the owner).
GRANT SELECT (id, name, endpoint_host, endpoint_port, interface_name, listen_port, public_key, created_at)
    ON hubs TO tikwire_api;
GRANT SELECT ON tenants TO tikwire_api;
GRANT SELECT, UPDATE (allocated_ips, next_host_index, status, updated_at)
    ON vpn_subnet_allocations TO tikwire_api;
GRANT SELECT, INSERT, DELETE ON released_host_indexes TO tikwire_api;
GRANT SELECT, INSERT, DELETE, UPDATE (platform_router_id, display_name, updated_at)
    ON routers TO tikwire_api;
GRANT SELECT, INSERT ON vpn_configurations TO tikwire_api;
GRANT INSERT ON audit_log TO tikwire_api;
GRANT USAGE ON SEQUENCE routers_id_seq, vpn_configurations_id_seq, audit_log_id_seq TO tikwire_api;

-- The caller's tenant, or NULL (no rows) when none is set.
CREATE FUNCTION tikwire_api_tenant() RETURNS bigint LANGUAGE sql STABLE AS
$$ SELECT NULLIF(current_setting('tikwire.tenant_id', true), '')::bigint $$;
CREATE FUNCTION tikwire_api_system() RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT coalesce(current_setting('tikwire.scope', true) = 'system', false) $$;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON tenants TO tikwire_api
    USING (tikwire_api_system() OR id = tikwire_api_tenant());

ALTER TABLE vpn_subnet_allocations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON vpn_subnet_allocations TO tikwire_api
    USING (tikwire_api_system() OR tenant_id = tikwire_api_tenant());

ALTER TABLE released_host_indexes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON released_host_indexes TO tikwire_api
    USING (tikwire_api_system() OR tenant_id = tikwire_api_tenant());

ALTER TABLE routers ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON routers TO tikwire_api
    USING (tikwire_api_system() OR tenant_id = tikwire_api_tenant());

ALTER TABLE vpn_configurations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON vpn_configurations TO tikwire_api
    USING (tikwire_api_system() OR tenant_id = tikwire_api_tenant());

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON audit_log TO tikwire_api
    USING (tikwire_api_system() OR tenant_id = tikwire_api_tenant());

-- No policy for tikwire_api and no grant: the API role can never read or change tokens.
ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
