//! Staged key rotations: the `pending_*` columns of `vpn_configurations`. Staging fills them,
//! an abort wipes them, a cut-over makes them the router's keys. Every function runs inside the
//! caller's transaction (the command line's, or the API's scoped one).

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};

use super::Tx;
use crate::Result;
use crate::keys::PublicKey;

/// Which routers of a tenant to stage rotations for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationScope {
    /// One router, by id.
    Router(i64),
    /// Every router of the tenant.
    All,
    /// Routers whose keys are at least this old.
    Due(chrono::Duration),
}

/// A router picked for staging, locked for the transaction.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RotationCandidate {
    #[sqlx(rename = "router_id")]
    pub id: i64,
    pub name: String,
    /// A rotation is staged already (it is never replaced: its keys may be on the router).
    pub staged: bool,
}

/// New keys for one router, sealed for its `pending_*` columns.
pub struct NewStagedKeys {
    pub router_id: i64,
    pub public_key: PublicKey,
    pub private_key_sealed: Vec<u8>,
    pub preshared_key_sealed: Vec<u8>,
}

/// A staged rotation as the agent watches it: no secret.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StagedRotation {
    pub router_id: i64,
    /// "tenant/router", for logs.
    pub label: String,
    #[sqlx(try_from = "super::columns::V4")]
    pub vpn_ip: Ipv4Addr,
    /// The key the hub's peer holds the router's address for.
    pub current_key: PublicKey,
    pub pending_key: PublicKey,
    pub enabled: bool,
    pub staged_at: DateTime<Utc>,
}

/// A staged rotation with its sealed values, locked for a cut-over.
#[derive(sqlx::FromRow)]
pub struct StagedSecretRow {
    pub router_id: i64,
    pub tenant_id: i64,
    pub tenant: String,
    pub name: String,
    pub current_key: PublicKey,
    pub pending_key: PublicKey,
    pub pending_private_key_sealed: Vec<u8>,
    pub pending_preshared_key_sealed: Vec<u8>,
}

/// The staged keys of one router, re-sealed for the current columns.
pub struct CutOverKeys {
    pub router_id: i64,
    pub private_key_sealed: Vec<u8>,
    pub preshared_key_sealed: Vec<u8>,
}

/// The routers `scope` names in a tenant, locked (`FOR UPDATE`) so two stagings of one
/// router queue up and the second sees the first's keys.
pub async fn candidates(
    tx: &mut Tx<'_>,
    tenant_id: i64,
    scope: RotationScope,
) -> Result<Vec<RotationCandidate>> {
    let (router, max_age_secs) = match scope {
        RotationScope::Router(id) => (Some(id), None),
        RotationScope::All => (None, None),
        RotationScope::Due(age) => (None, Some(age.num_seconds() as f64)),
    };
    Ok(sqlx::query_as(
        "SELECT c.router_id, r.name, c.pending_public_key IS NOT NULL AS staged
         FROM vpn_configurations c JOIN routers r ON r.id = c.router_id
         WHERE c.tenant_id = $1
           AND ($2::bigint IS NULL OR c.router_id = $2)
           AND ($3::float8 IS NULL
                OR c.keys_created_at <= now() - make_interval(secs => $3::float8))
         ORDER BY r.host_index
         FOR UPDATE OF c",
    )
    .bind(tenant_id)
    .bind(router)
    .bind(max_age_secs)
    .fetch_all(&mut **tx)
    .await?)
}

/// Stores new staged keys (one statement for any number); a router that has a staged
/// rotation keeps it. Returns how many were staged.
pub async fn stage(tx: &mut Tx<'_>, keys: &[NewStagedKeys]) -> Result<u64> {
    let ids: Vec<i64> = keys.iter().map(|k| k.router_id).collect();
    let public: Vec<PublicKey> = keys.iter().map(|k| k.public_key).collect();
    let private: Vec<&[u8]> = keys
        .iter()
        .map(|k| k.private_key_sealed.as_slice())
        .collect();
    let psk: Vec<&[u8]> = keys
        .iter()
        .map(|k| k.preshared_key_sealed.as_slice())
        .collect();
    let done = sqlx::query(
        "UPDATE vpn_configurations c
         SET pending_public_key = u.public_key, pending_private_key_sealed = u.private_sealed,
             pending_preshared_key_sealed = u.psk_sealed, rotation_staged_at = now(),
             updated_at = now()
         FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::bytea[])
              AS u(id, public_key, private_sealed, psk_sealed)
         WHERE c.router_id = u.id AND c.pending_public_key IS NULL",
    )
    .bind(&ids)
    .bind(&public)
    .bind(&private)
    .bind(&psk)
    .execute(&mut **tx)
    .await
    .map_err(|err| {
        super::on_unique_violation(err, |c| format!("staged key conflict ({c}); try again"))
    })?;
    Ok(done.rows_affected())
}

/// Wipes a router's staged rotation. Returns the public key that was staged, if any.
pub async fn abort(tx: &mut Tx<'_>, router_id: i64) -> Result<Option<PublicKey>> {
    Ok(sqlx::query_scalar(
        "UPDATE vpn_configurations c
         SET pending_public_key = NULL, pending_private_key_sealed = NULL,
             pending_preshared_key_sealed = NULL, rotation_staged_at = NULL, updated_at = now()
         FROM vpn_configurations old
         WHERE c.router_id = $1 AND old.id = c.id AND old.pending_public_key IS NOT NULL
         RETURNING old.pending_public_key",
    )
    .bind(router_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// The staged rotations of a hub (an index serves this however large the hub is).
pub async fn staged_on_hub(
    db: impl sqlx::PgExecutor<'_>,
    hub_id: i64,
) -> Result<Vec<StagedRotation>> {
    Ok(sqlx::query_as(
        "SELECT c.router_id, t.name || '/' || r.name AS label, r.vpn_ip,
                c.client_public_key AS current_key, c.pending_public_key AS pending_key,
                r.enabled, c.rotation_staged_at AS staged_at
         FROM vpn_configurations c
         JOIN routers r ON r.id = c.router_id
         JOIN tenants t ON t.id = c.tenant_id
         WHERE c.hub_id = $1 AND c.pending_public_key IS NOT NULL
         ORDER BY c.router_id",
    )
    .bind(hub_id)
    .fetch_all(db)
    .await?)
}

impl super::Store {
    /// The staged rotations of a hub.
    pub async fn staged_rotations(&self, hub_id: i64) -> Result<Vec<StagedRotation>> {
        staged_on_hub(&self.pool, hub_id).await
    }
}

/// Locks the staged rotations of `hub_id` whose staged key is one of `proven`: what a
/// cut-over may complete. A rotation aborted or completed meanwhile is not returned.
pub async fn lock_for_cut_over(
    tx: &mut Tx<'_>,
    hub_id: i64,
    proven: &[PublicKey],
) -> Result<Vec<StagedSecretRow>> {
    Ok(sqlx::query_as(
        "SELECT c.router_id, c.tenant_id, t.name AS tenant, r.name,
                c.client_public_key AS current_key, c.pending_public_key AS pending_key,
                c.pending_private_key_sealed, c.pending_preshared_key_sealed
         FROM vpn_configurations c
         JOIN routers r ON r.id = c.router_id
         JOIN tenants t ON t.id = c.tenant_id
         WHERE c.hub_id = $1 AND c.pending_public_key = ANY($2::text[])
         ORDER BY c.router_id
         FOR UPDATE OF c",
    )
    .bind(hub_id)
    .bind(proven)
    .fetch_all(&mut **tx)
    .await?)
}

/// Makes staged keys the routers' keys: the staged public key becomes the client key, the
/// re-sealed values replace the old sealed ones, and the staged columns are wiped.
pub async fn complete_cut_over(tx: &mut Tx<'_>, keys: &[CutOverKeys]) -> Result<u64> {
    let ids: Vec<i64> = keys.iter().map(|k| k.router_id).collect();
    let private: Vec<&[u8]> = keys
        .iter()
        .map(|k| k.private_key_sealed.as_slice())
        .collect();
    let psk: Vec<&[u8]> = keys
        .iter()
        .map(|k| k.preshared_key_sealed.as_slice())
        .collect();
    let done = sqlx::query(
        "UPDATE vpn_configurations c
         SET client_public_key = c.pending_public_key, client_private_key_sealed = u.private_sealed,
             preshared_key_sealed = u.psk_sealed, keys_created_at = now(),
             pending_public_key = NULL, pending_private_key_sealed = NULL,
             pending_preshared_key_sealed = NULL, rotation_staged_at = NULL, updated_at = now()
         FROM unnest($1::bigint[], $2::bytea[], $3::bytea[]) AS u(id, private_sealed, psk_sealed)
         WHERE c.router_id = u.id AND c.pending_public_key IS NOT NULL",
    )
    .bind(&ids)
    .bind(&private)
    .bind(&psk)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}
