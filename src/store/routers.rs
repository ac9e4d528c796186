//! Routers, their VPN configuration rows and their addresses.
//!
//! Address allocation holds the tenant's allocation row locked (`FOR UPDATE`) for the
//! transaction, so concurrent provisioners into one tenant queue up there; the unique
//! constraints on (tenant, host_index) and (tenant, vpn_ip) make a duplicate impossible even
//! for a writer that bypasses tikwire. Whatever does not need the lock is done before it is
//! taken, and what does is a few statements: the lock is held for as few round trips as
//! possible, because it is what one tenant's provisioning throughput is made of.

use serde::Serialize;

use super::configurations;
use super::notify::publish;
use super::tenants::no_such_tenant;
use super::{Store, Tx, audit};
use crate::events::{AuditAction, Change, ChangeKind};
use crate::keys::PublicKey;
use crate::model::{Hub, Router};
use crate::{Error, Result};

/// Which routers to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterFilter {
    pub tenant: Option<String>,
    pub hub: Option<String>,
}

/// A tenant's allocation row, locked for the current transaction.
#[derive(Debug, Clone, Copy)]
pub struct TenantLock {
    pub tenant_id: i64,
    pub octet: u8,
    pub capacity: u32,
    pub allocated: u32,
    pub next_host_index: u32,
}

/// A router about to be inserted, with its keys already sealed for row `id`.
pub struct NewRouterRow {
    pub id: i64,
    pub name: String,
    pub host_index: u32,
    pub public_key: PublicKey,
    pub private_key_sealed: Vec<u8>,
    pub preshared_key_sealed: Vec<u8>,
    pub interface_name: String,
    pub keepalive: u16,
    /// The platform's own router id and display name, for routers provisioned by the API.
    pub platform: Option<PlatformIdentity>,
}

/// How the hotspot platform knows a router: its id (unique per tenant) and display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformIdentity {
    pub router_id: i64,
    pub display_name: Option<String>,
}

/// A router with its sealed keys.
#[derive(sqlx::FromRow)]
pub struct RouterSecretRow {
    #[sqlx(flatten)]
    pub router: Router,
    #[sqlx(rename = "client_private_key_sealed")]
    pub private_key_sealed: Vec<u8>,
    pub preshared_key_sealed: Vec<u8>,
    /// The staged rotation's keys, when one is staged.
    pub pending_private_key_sealed: Option<Vec<u8>>,
    pub pending_preshared_key_sealed: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeletedRouter {
    #[serde(flatten)]
    pub router: Router,
}

/// What every router query returns (never the sealed keys).
pub(crate) const ROUTER_COLUMNS: &str = "
    SELECT r.id, r.name, t.name AS tenant, r.tenant_id, h.name AS hub, r.hub_id, r.vpn_ip,
           a.subnet_cidr, a.gateway_ip AS hub_ip, c.client_public_key AS public_key, c.interface_name,
           c.keepalive_interval AS keepalive,
           r.enabled, c.status, c.last_handshake_at, c.first_handshake_at, c.last_endpoint,
           c.rx_bytes, c.tx_bytes, r.created_at, GREATEST(r.updated_at, c.updated_at) AS updated_at,
           c.keys_created_at,
           CASE WHEN c.pending_public_key IS NULL THEN 'none' ELSE 'staged' END AS rotation_state,
           c.pending_public_key, c.rotation_staged_at";
/// Added only where a script or hub config is about to be rendered.
pub(crate) const SEALED_COLUMNS: &str = ", c.client_private_key_sealed, c.preshared_key_sealed,
    c.pending_private_key_sealed, c.pending_preshared_key_sealed";
pub(crate) const ROUTER_FROM: &str = "
    FROM routers r
    JOIN tenants t ON t.id = r.tenant_id
    JOIN vpn_subnet_allocations a ON a.tenant_id = r.tenant_id
    JOIN hubs h ON h.id = r.hub_id
    JOIN vpn_configurations c ON c.router_id = r.id";
const LIST_WHERE: &str = "
    WHERE ($1::text IS NULL OR t.name = $1) AND ($2::text IS NULL OR h.name = $2)
    ORDER BY t.name, r.host_index";

/// A router query without sealed columns: `tail` adds WHERE / ORDER BY.
fn public_query(tail: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("{ROUTER_COLUMNS}{ROUTER_FROM} {tail}"))
}

/// A router query with the sealed keys.
fn sealed_query(tail: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "{ROUTER_COLUMNS}{SEALED_COLUMNS}{ROUTER_FROM} {tail}"
    ))
}

impl Store {
    pub async fn list_routers(&self, filter: &RouterFilter) -> Result<Vec<Router>> {
        let rows = sqlx::query_as(public_query(LIST_WHERE))
            .bind(filter.tenant.as_deref())
            .bind(filter.hub.as_deref())
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            self.check_filter(filter).await?;
        }
        Ok(rows)
    }

    /// Routers one at a time, for listings of any size: memory stays flat however large the
    /// fleet. Checks the filter's names first, so a typo is an error, not an empty list.
    pub async fn stream_routers<'a>(
        &'a self,
        filter: &'a RouterFilter,
    ) -> Result<futures_util::stream::BoxStream<'a, Result<Router>>> {
        use futures_util::StreamExt as _;
        self.check_filter(filter).await?;
        let rows = sqlx::query_as::<_, Router>(public_query(LIST_WHERE))
            .bind(filter.tenant.as_deref())
            .bind(filter.hub.as_deref())
            .fetch(&self.pool);
        Ok(rows.map(|row| Ok(row?)).boxed())
    }

    /// Says so when a filter names a tenant or hub that does not exist.
    async fn check_filter(&self, filter: &RouterFilter) -> Result<()> {
        if let Some(tenant) = &filter.tenant {
            self.tenant(tenant).await?;
        }
        if let Some(hub) = &filter.hub {
            self.hub(hub).await?;
        }
        Ok(())
    }

    pub async fn router(&self, tenant: &str, name: &str) -> Result<Router> {
        let row = sqlx::query_as(public_query("WHERE t.name = $1 AND r.name = $2"))
            .bind(tenant)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(router) => Ok(router),
            None => {
                self.tenant(tenant).await?;
                Err(no_such_router(tenant, name))
            }
        }
    }

    pub async fn router_by_id(&self, id: i64) -> Result<Router> {
        sqlx::query_as(public_query("WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no router with id {id}")))
    }

    /// A router with its sealed keys (for rendering its script).
    pub async fn router_secret(&self, tenant: &str, name: &str) -> Result<RouterSecretRow> {
        let row = sqlx::query_as(sealed_query("WHERE t.name = $1 AND r.name = $2"))
            .bind(tenant)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            self.tenant(tenant).await?;
            return Err(no_such_router(tenant, name));
        };
        Ok(row)
    }

    /// Every router a hub serves, with sealed preshared keys (for the hub's config).
    pub async fn hub_routers_secret(&self, hub_id: i64) -> Result<Vec<RouterSecretRow>> {
        Ok(sqlx::query_as(sealed_query(
            "WHERE r.hub_id = $1 ORDER BY a.subnet_octet_2, r.host_index",
        ))
        .bind(hub_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes a router and releases its address, in one transaction.
    pub async fn delete_router(&self, tenant: &str, name: &str) -> Result<DeletedRouter> {
        let mut tx = self.begin().await?;
        let deleted = delete_router_in(&mut tx, tenant, name).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Disables (the hub drops its peer) or re-enables a router without deleting it.
    pub async fn set_router_enabled(
        &self,
        tenant: &str,
        name: &str,
        enabled: bool,
    ) -> Result<Router> {
        let mut tx = self.begin().await?;
        let tenant_id: i64 = sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1")
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| super::tenants::no_such_tenant(tenant))?;
        let router = locked_router(&mut tx, tenant_id, tenant, name).await?;
        sqlx::query("UPDATE routers SET enabled = $2, updated_at = now() WHERE id = $1")
            .bind(router.id)
            .bind(enabled)
            .execute(&mut *tx)
            .await?;
        configurations::set_enabled(&mut tx, router.id, enabled).await?;
        let (action, kind) = if enabled {
            (AuditAction::RouterEnable, ChangeKind::RouterEnabled)
        } else {
            (AuditAction::RouterDisable, ChangeKind::RouterDisabled)
        };
        audit(
            &mut tx,
            action,
            Some(tenant),
            Some(name),
            serde_json::json!({}),
        )
        .await?;
        publish(
            &mut tx,
            &Change::new(kind)
                .tenant(router.tenant_id)
                .hub(router.hub_id)
                .id(router.id),
        )
        .await?;
        let updated: Router = sqlx::query_as(public_query("WHERE r.id = $1"))
            .bind(router.id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(updated)
    }
}

/// Deletes a router and releases its address inside the caller's transaction.
pub(crate) async fn delete_router_in(
    tx: &mut Tx<'_>,
    tenant: &str,
    name: &str,
) -> Result<DeletedRouter> {
    let lock = lock_tenant(tx, tenant).await?;
    // Read under the tenant's lock, so what is reported is what is deleted.
    let router = locked_router(tx, lock.tenant_id, tenant, name).await?;
    let host_index: i32 =
        sqlx::query_scalar("DELETE FROM routers WHERE id = $1 RETURNING host_index")
            .bind(router.id)
            .fetch_one(&mut **tx)
            .await?;
    sqlx::query("INSERT INTO released_host_indexes (tenant_id, host_index) VALUES ($1, $2)")
        .bind(lock.tenant_id)
        .bind(host_index)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE vpn_subnet_allocations
         SET allocated_ips = allocated_ips - 1, status = 'active', updated_at = now()
         WHERE tenant_id = $1",
    )
    .bind(lock.tenant_id)
    .execute(&mut **tx)
    .await?;
    audit(
        tx,
        AuditAction::RouterRm,
        Some(tenant),
        Some(name),
        serde_json::json!({ "vpn_ip": router.vpn_ip }),
    )
    .await?;
    publish(
        tx,
        &Change::new(ChangeKind::RouterDeleted)
            .tenant(lock.tenant_id)
            .hub(router.hub_id)
            .id(router.id),
    )
    .await?;
    Ok(DeletedRouter { router })
}

/// A router row locked for the rest of the transaction.
async fn locked_router(
    tx: &mut Tx<'_>,
    tenant_id: i64,
    tenant: &str,
    name: &str,
) -> Result<Router> {
    sqlx::query_as(public_query(
        "WHERE r.tenant_id = $1 AND r.name = $2 FOR UPDATE OF r",
    ))
    .bind(tenant_id)
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| no_such_router(tenant, name))
}

/// Locks a tenant's allocation row for the rest of the transaction.
pub(crate) async fn lock_tenant(tx: &mut Tx<'_>, tenant: &str) -> Result<TenantLock> {
    let row: Option<(i64, i16, i32, i32, i32)> = sqlx::query_as(
        "SELECT a.tenant_id, a.subnet_octet_2, a.total_ips, a.allocated_ips, a.next_host_index
         FROM vpn_subnet_allocations a JOIN tenants t ON t.id = a.tenant_id
         WHERE t.name = $1 FOR UPDATE OF a",
    )
    .bind(tenant)
    .fetch_optional(&mut **tx)
    .await?;
    let (tenant_id, octet, capacity, allocated, next) =
        row.ok_or_else(|| no_such_tenant(tenant))?;
    Ok(TenantLock {
        tenant_id,
        octet: octet as u8,
        capacity: capacity as u32,
        allocated: allocated as u32,
        next_host_index: next as u32,
    })
}

/// Takes the `count` lowest free host indexes of a locked tenant: released ones first (all
/// below the high-water mark), then fresh ones from the mark. One indexed statement when
/// addresses were released, none otherwise; the counters in `lock` are advanced here and
/// written by [`insert_routers`] with the rows.
pub(crate) async fn allocate_host_indexes(
    tx: &mut Tx<'_>,
    lock: &mut TenantLock,
    count: u32,
    tenant: &str,
) -> Result<Vec<u32>> {
    let free = lock.capacity - lock.allocated;
    if count > free {
        return Err(Error::Exhausted(format!(
            "tenant {tenant} has {free} free router address{} of {} and {count} {} asked for; remove routers first",
            if free == 1 { "" } else { "es" },
            lock.capacity,
            if count == 1 { "was" } else { "were" },
        )));
    }
    // Every index below the mark is either allocated or released: holes exist exactly when
    // fewer are allocated than the mark.
    let mut indexes: Vec<u32> = if lock.allocated < lock.next_host_index {
        sqlx::query_scalar::<_, i32>(
            "DELETE FROM released_host_indexes WHERE (tenant_id, host_index) IN (
                 SELECT tenant_id, host_index FROM released_host_indexes
                 WHERE tenant_id = $1 ORDER BY host_index LIMIT $2)
             RETURNING host_index",
        )
        .bind(lock.tenant_id)
        .bind(i64::from(count))
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|i| i as u32)
        .collect()
    } else {
        Vec::new()
    };
    indexes.sort_unstable();
    let fresh = count - indexes.len() as u32;
    indexes.extend(lock.next_host_index..lock.next_host_index + fresh);
    lock.next_host_index += fresh;
    lock.allocated += count;
    Ok(indexes)
}

/// Reserves `count` router ids, so keys can be sealed to their rows before the insert.
pub(crate) async fn reserve_router_ids(tx: &mut Tx<'_>, count: usize) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('routers', 'id')) FROM generate_series(1, $1)",
    )
    .bind(count as i64)
    .fetch_all(&mut **tx)
    .await?)
}

/// The tenant's id and the names among `names` it already uses (at most five), read before
/// its lock is taken: the unique constraint on (tenant, name) still catches a name taken in
/// between.
pub(crate) async fn tenant_and_taken_names(
    tx: &mut Tx<'_>,
    tenant: &str,
    names: &[String],
) -> Result<(i64, Vec<String>)> {
    let row: Option<(i64, Vec<String>)> = sqlx::query_as(
        "SELECT t.id, ARRAY(SELECT r.name FROM routers r
                            WHERE r.tenant_id = t.id AND r.name = ANY($2) ORDER BY r.name LIMIT 5)
         FROM tenants t WHERE t.name = $1",
    )
    .bind(tenant)
    .bind(names)
    .fetch_optional(&mut **tx)
    .await?;
    row.ok_or_else(|| no_such_tenant(tenant))
}

/// Inserts routers and their VPN configuration rows and writes the locked tenant's
/// allocation counters: one statement for any number of rows.
pub(crate) async fn insert_routers(
    tx: &mut Tx<'_>,
    lock: &TenantLock,
    hub: &Hub,
    rows: &[NewRouterRow],
) -> Result<()> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let indexes: Vec<i32> = rows.iter().map(|r| r.host_index as i32).collect();
    let platform_ids: Vec<Option<i64>> = rows
        .iter()
        .map(|r| r.platform.as_ref().map(|p| p.router_id))
        .collect();
    let display_names: Vec<Option<&str>> = rows
        .iter()
        .map(|r| r.platform.as_ref().and_then(|p| p.display_name.as_deref()))
        .collect();
    let query = sqlx::query(configurations::INSERT_WITH_ROUTERS)
        .bind(lock.tenant_id)
        .bind(hub.id)
        .bind(lock.next_host_index as i32)
        .bind(lock.allocated as i32)
        .bind(super::tenants::host(std::net::Ipv4Addr::new(
            10, lock.octet, 0, 0,
        )))
        .bind(&ids)
        .bind(&names)
        .bind(&indexes)
        .bind(&platform_ids)
        .bind(&display_names);
    configurations::bind_new_rows(query, lock, hub, rows)
        .execute(&mut **tx)
        .await
        .map_err(|err| {
            super::on_unique_violation(err, |constraint| match constraint {
                "routers_tenant_name_key" => {
                    "a router with one of these names already exists in this tenant".into()
                }
                "routers_tenant_platform_router_id_key" => match &platform_ids[..] {
                    [Some(id)] => {
                        format!("router_id {id} already has a VPN configuration in this tenant")
                    }
                    _ => "a router_id already has a VPN configuration in this tenant".into(),
                },
                _ => format!("address or key conflict ({constraint}); try again"),
            })
        })?;
    Ok(())
}

pub(crate) fn no_such_router(tenant: &str, name: &str) -> Error {
    Error::NotFound(format!(
        "no router named {name:?} in tenant {tenant:?} (see `tikwire router list --tenant {tenant}`)"
    ))
}

pub(crate) async fn audit_router_add(
    tx: &mut Tx<'_>,
    tenant: &str,
    router: &crate::model::RouterName,
    vpn_ip: Option<std::net::Ipv4Addr>,
) -> Result<()> {
    audit(
        tx,
        AuditAction::RouterAdd,
        Some(tenant),
        Some(router.as_str()),
        serde_json::json!({ "vpn_ip": vpn_ip }),
    )
    .await
}

pub(crate) async fn audit_import(
    tx: &mut Tx<'_>,
    summary: &crate::model::ImportSummary,
) -> Result<()> {
    audit(
        tx,
        AuditAction::RouterImport,
        Some(&summary.tenant),
        None,
        serde_json::to_value(summary).unwrap_or_default(),
    )
    .await
}
