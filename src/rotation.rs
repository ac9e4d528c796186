//! Key rotation without cutting routers off.
//!
//! Staging generates a new keypair and preshared key beside the router's current ones, sealed
//! under the router's `pending_*` columns; the current keys stay untouched, so the router keeps
//! working until it takes the new ones (its usual install script renders the staged keys). The
//! hub adds the staged public key as a second peer without allowed IPs, and the agent cuts over
//! on the first handshake from it: the staged keys become the router's keys (re-sealed under the
//! current columns) in one transaction, then one `wg set` moves the router's address to the new
//! peer and removes the old one. Each operation is one transaction, audited and announced.

use serde::Serialize;

use crate::events::{AuditAction, Change, ChangeKind};
use crate::keys::{PresharedKey, PrivateKey, PublicKey};
use crate::model::Router;
use crate::provision::Provisioner;
use crate::store::notify::publish;
use crate::store::rotation::{self as staged, CutOverKeys, NewStagedKeys, RotationScope};
use crate::store::{self, Tx};
use crate::vault::aad;
use crate::{Error, Result};

/// The sealed columns of a router's staged keys, for [`aad`].
const PENDING_PRIVATE: &str = "pending_private_key";
const PENDING_PRESHARED: &str = "pending_preshared_key";
/// The sealed columns of a router's current keys.
pub(crate) const CURRENT_PRIVATE: &str = "client_private_key";
pub(crate) const CURRENT_PRESHARED: &str = "preshared_key";

/// The associated data of a router's sealed private key and preshared key, current or staged.
pub(crate) fn router_aads(router_id: i64, staged: bool) -> (String, String) {
    let (private, preshared) = if staged {
        (PENDING_PRIVATE, PENDING_PRESHARED)
    } else {
        (CURRENT_PRIVATE, CURRENT_PRESHARED)
    };
    (
        aad("routers", router_id, private),
        aad("routers", router_id, preshared),
    )
}

/// What staging did in a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageReport {
    pub tenant: String,
    /// Rotations staged now.
    pub staged: u64,
    /// Routers that had one staged already (kept: its keys may be on the router).
    pub already_staged: u64,
}

/// One router cut over to its staged keys. No secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutOver {
    pub router_id: i64,
    /// "tenant/router", for logs.
    pub label: String,
    pub old_key: PublicKey,
    pub new_key: PublicKey,
}

impl Provisioner {
    /// Stages a rotation for one router. A router with a rotation staged keeps it: the report
    /// says `already_staged`.
    pub async fn stage_rotation(&self, tenant: &str, name: &str) -> Result<(Router, StageReport)> {
        let router = self.store().router(tenant, name).await?;
        let mut tx = self.store().begin().await?;
        let report = self
            .stage_in(
                &mut tx,
                router.tenant_id,
                tenant,
                RotationScope::Router(router.id),
            )
            .await?;
        tx.commit().await?;
        Ok((self.store().router_by_id(router.id).await?, report))
    }

    /// Stages rotations for every router of a tenant, or those whose keys are due, in one
    /// transaction.
    pub async fn stage_rotations(&self, tenant: &str, scope: RotationScope) -> Result<StageReport> {
        let tenant_id = self.store().tenant(tenant).await?.id;
        let mut tx = self.store().begin().await?;
        let report = self.stage_in(&mut tx, tenant_id, tenant, scope).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Stages inside the caller's transaction (the API's runs as the tenant-scoped role).
    pub(crate) async fn stage_in(
        &self,
        tx: &mut Tx<'_>,
        tenant_id: i64,
        tenant: &str,
        scope: RotationScope,
    ) -> Result<StageReport> {
        let candidates = staged::candidates(tx, tenant_id, scope).await?;
        if let (RotationScope::Router(id), true) = (scope, candidates.is_empty()) {
            return Err(Error::NotFound(format!(
                "no router with id {id} in tenant {tenant}"
            )));
        }
        let fresh: Vec<_> = candidates.iter().filter(|c| !c.staged).collect();
        let already_staged = (candidates.len() - fresh.len()) as u64;
        let count = fresh.len();
        let keys = tokio::task::spawn_blocking(move || {
            (0..count)
                .map(|_| (PrivateKey::generate(), PresharedKey::generate()))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|err| Error::Other(format!("key generation failed: {err}")))?;
        let rows: Vec<NewStagedKeys> = fresh
            .iter()
            .zip(&keys)
            .map(|(candidate, (private, psk))| {
                let (private_aad, psk_aad) = router_aads(candidate.id, true);
                NewStagedKeys {
                    router_id: candidate.id,
                    public_key: private.public_key(),
                    private_key_sealed: self.vault().seal(private.as_bytes(), &private_aad),
                    preshared_key_sealed: self.vault().seal(psk.as_bytes(), &psk_aad),
                }
            })
            .collect();
        drop(keys);
        let staged = staged::stage(tx, &rows).await?;
        let report = StageReport {
            tenant: tenant.to_owned(),
            staged,
            already_staged,
        };
        if staged == 0 {
            return Ok(report);
        }
        let mut change = Change::new(ChangeKind::RotationStaged).tenant(tenant_id);
        match (scope, rows.first()) {
            (RotationScope::Router(id), Some(row)) => {
                store::audit(
                    tx,
                    AuditAction::RouterRotate,
                    Some(tenant),
                    Some(&fresh[0].name),
                    serde_json::json!({ "pending_public_key": row.public_key }),
                )
                .await?;
                change = change.id(id);
            }
            _ => {
                let scope = match scope {
                    RotationScope::Due(age) => {
                        format!("due (keys older than {} days)", age.num_days())
                    }
                    _ => "all".to_owned(),
                };
                store::audit(
                    tx,
                    AuditAction::RouterRotate,
                    Some(tenant),
                    None,
                    serde_json::json!({ "scope": scope, "staged": staged, "already_staged": already_staged }),
                )
                .await?;
            }
        }
        publish(tx, &change).await?;
        Ok(report)
    }

    /// Drops a router's staged rotation; its current keys stay.
    pub async fn abort_rotation(&self, tenant: &str, name: &str) -> Result<Router> {
        let router = self.store().router(tenant, name).await?;
        let mut tx = self.store().begin().await?;
        abort_in(&mut tx, &router).await?;
        tx.commit().await?;
        self.store().router_by_id(router.id).await
    }

    /// Completes the staged rotations of `hub_id` whose staged key has shaken hands
    /// (`proven`): one transaction re-seals the staged keys as the routers' keys, wipes the
    /// staged and old values, audits and announces. A crash before the commit leaves the old
    /// keys working and the rotations staged. Returns what was cut over.
    pub async fn cut_over(&self, hub_id: i64, proven: &[PublicKey]) -> Result<Vec<CutOver>> {
        let mut tx = self.store().begin().await?;
        let rows = staged::lock_for_cut_over(&mut tx, hub_id, proven).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            let (pending_private, pending_psk) = router_aads(row.router_id, true);
            let (current_private, current_psk) = router_aads(row.router_id, false);
            let private = self
                .vault()
                .open(&row.pending_private_key_sealed, &pending_private)?;
            let psk = self
                .vault()
                .open(&row.pending_preshared_key_sealed, &pending_psk)?;
            keys.push(CutOverKeys {
                router_id: row.router_id,
                private_key_sealed: self.vault().seal(&private, &current_private),
                preshared_key_sealed: self.vault().seal(&psk, &current_psk),
            });
        }
        staged::complete_cut_over(&mut tx, &keys).await?;
        for row in &rows {
            store::audit(
                &mut tx,
                AuditAction::RouterRotateCutOver,
                Some(&row.tenant),
                Some(&row.name),
                serde_json::json!({ "old_public_key": row.current_key, "public_key": row.pending_key }),
            )
            .await?;
            publish(
                &mut tx,
                &Change::new(ChangeKind::RouterRotated)
                    .tenant(row.tenant_id)
                    .hub(hub_id)
                    .id(row.router_id),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|row| CutOver {
                router_id: row.router_id,
                label: format!("{}/{}", row.tenant, row.name),
                old_key: row.current_key,
                new_key: row.pending_key,
            })
            .collect())
    }
}

/// Drops `router`'s staged rotation inside the caller's transaction; an error when none is
/// staged.
pub(crate) async fn abort_in(tx: &mut Tx<'_>, router: &Router) -> Result<()> {
    let Some(dropped) = staged::abort(tx, router.id).await? else {
        return Err(Error::NotFound(format!(
            "router {} in tenant {} has no staged rotation",
            router.name, router.tenant
        )));
    };
    store::audit(
        tx,
        AuditAction::RouterRotateAbort,
        Some(&router.tenant),
        Some(&router.name),
        serde_json::json!({ "pending_public_key": dropped }),
    )
    .await?;
    publish(
        tx,
        &Change::new(ChangeKind::RotationAborted)
            .tenant(router.tenant_id)
            .hub(router.hub_id)
            .id(router.id),
    )
    .await
}
