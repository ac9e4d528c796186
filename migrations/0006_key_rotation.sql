-- Key rotation without cutting routers off.
--
-- A staged rotation is a second key set beside the router's current one: a new keypair and a
-- new preshared key, sealed like the current ones but under their own column names
-- (tikwire/routers/<id>/pending_private_key, .../pending_preshared_key), so a staged value
-- cannot pass for a current one or move to another row. Scripts render the staged keys; the
-- hub keeps the old peer with the router's address and adds the staged public key as a second
-- peer without one. The agent cuts over when the staged key shakes hands: the staged values
-- become the current ones (re-sealed under the current columns) and the staged columns are
-- wiped, in one transaction.

ALTER TABLE vpn_configurations
    -- When the current keys were generated: provisioning or the last cut-over.
    ADD COLUMN keys_created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN pending_public_key TEXT UNIQUE,
    ADD COLUMN pending_private_key_sealed BYTEA,
    ADD COLUMN pending_preshared_key_sealed BYTEA,
    ADD COLUMN rotation_staged_at TIMESTAMPTZ,
    ADD CONSTRAINT vpn_configurations_rotation_whole CHECK (
        (pending_public_key IS NULL) = (pending_private_key_sealed IS NULL)
        AND (pending_public_key IS NULL) = (pending_preshared_key_sealed IS NULL)
        AND (pending_public_key IS NULL) = (rotation_staged_at IS NULL)),
    ADD CONSTRAINT vpn_configurations_rotation_new_key CHECK (pending_public_key <> client_public_key);

-- Existing routers' keys are as old as their rows.
UPDATE vpn_configurations SET keys_created_at = created_at;

-- The agent's fast handshake check reads only a hub's staged rotations; `--due` and the
-- "due" listing look for the oldest keys of a tenant.
CREATE INDEX vpn_configurations_staged_idx ON vpn_configurations (hub_id)
    WHERE pending_public_key IS NOT NULL;
CREATE INDEX vpn_configurations_tenant_keys_age_idx
    ON vpn_configurations (tenant_id, keys_created_at);

-- A tenant admin stages and aborts rotations through the API (row-level security applies).
GRANT UPDATE (pending_public_key, pending_private_key_sealed, pending_preshared_key_sealed,
              rotation_staged_at, updated_at)
    ON vpn_configurations TO tikwire_api;
