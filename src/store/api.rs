//! The HTTP API's queries. Every one runs inside a transaction opened by [`begin_scoped`]:
//! role `tikwire_api` with the caller's tenant in `tikwire.tenant_id`, so row-level security,
//! not the `WHERE` clauses here, keeps one tenant from seeing another.

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{FromRow as _, Postgres, QueryBuilder, Row as _};

use super::hubs::{HUB_SELECT, hub_from_row};
use super::routers::{ROUTER_COLUMNS, ROUTER_FROM, SEALED_COLUMNS};
use super::{DeletedRouter, RouterSecretRow, Store, Tx};
use crate::events::AuditAction;
use crate::model::{Hub, Router, RouterStatus, SubnetUsage};
use crate::{Error, Result};

/// Whose rows a request may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessScope {
    /// One tenant (by id).
    Tenant(i64),
    /// Every tenant: a system admin.
    System,
}

/// Who makes a request, for the audit log rows written inside it.
#[derive(Debug, Clone)]
pub struct RequestOrigin<'a> {
    pub token_name: &'a str,
    pub client_addr: &'a str,
    pub request_id: &'a str,
}

/// Opens a request's transaction: `SET LOCAL ROLE tikwire_api` (as `set_config('role')`),
/// the caller's scope and the audit context, all transaction-local so nothing outlives the
/// transaction on a pooled connection. BEGIN and the settings go in one simple-query batch:
/// one round trip per request instead of two.
pub async fn begin_scoped(
    store: &Store,
    scope: AccessScope,
    origin: &RequestOrigin<'_>,
) -> Result<Tx<'static>> {
    let (tenant, system) = match scope {
        AccessScope::Tenant(id) => (id.to_string(), ""),
        AccessScope::System => (String::new(), "system"),
    };
    // A simple query takes no bind parameters, so the values are written into the text: the
    // tenant id is digits, the scope a constant, and the caller's strings go in as hex, which
    // no quoting rule or server setting can turn into SQL.
    let token_name = text_from_hex(origin.token_name);
    let batch = format!(
        "BEGIN; SELECT set_config('role', 'tikwire_api', true),
                set_config('tikwire.tenant_id', '{tenant}', true),
                set_config('tikwire.scope', '{system}', true),
                set_config('tikwire.actor', 'token:' || {token_name}, true),
                set_config('tikwire.token_name', {token_name}, true),
                set_config('tikwire.client_addr', {}, true),
                set_config('tikwire.request_id', {}, true)",
        text_from_hex(origin.client_addr),
        text_from_hex(origin.request_id),
    );
    Ok(store.pool.begin_with(sqlx::AssertSqlSafe(batch)).await?)
}

/// `text` as a SQL expression made only of hex digits and fixed words.
fn text_from_hex(text: &str) -> String {
    let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
    format!("convert_from(decode('{hex}', 'hex'), 'UTF8')")
}

/// A router's VPN configuration as the API shows it: the router plus the columns only the
/// API reads. Never a key other than the public ones.
#[derive(Debug, Clone)]
pub struct VpnRow {
    pub router: Router,
    pub platform_router_id: Option<i64>,
    pub display_name: Option<String>,
    pub server_public_key: String,
    pub server_endpoint: String,
    pub listen_port: u16,
    pub allowed_ips: Value,
    pub dns_servers: Value,
}

const VPN_COLUMNS: &str = ", r.platform_router_id, r.display_name, c.server_public_key,
    c.server_endpoint, c.listen_port, c.allowed_ips, c.dns_servers";

fn vpn_query(tail: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("{ROUTER_COLUMNS}{VPN_COLUMNS}{ROUTER_FROM} {tail}"))
}

fn vpn_from_row(row: &PgRow) -> Result<VpnRow> {
    Ok(VpnRow {
        router: Router::from_row(row)?,
        platform_router_id: row.try_get("platform_router_id")?,
        display_name: row.try_get("display_name")?,
        server_public_key: row.try_get("server_public_key")?,
        server_endpoint: row.try_get("server_endpoint")?,
        listen_port: row.try_get::<i32, _>("listen_port")? as u16,
        allowed_ips: row.try_get("allowed_ips")?,
        dns_servers: row.try_get("dns_servers")?,
    })
}

/// One page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// From 1.
    pub number: u32,
    pub size: u32,
}

/// Configurations visible in the transaction's scope, of the scope's tenant (`scope`; for a
/// system admin the tenant named, or all) and optionally of one status, in router order; and
/// how many there are in all.
///
/// Fast on a large tenant: the page's ids come from an index-only scan (the OFFSET skips
/// index entries, not joined rows), only those rows are joined, and the total is the
/// tenant's allocation count (one row per tenant; every router holds one address) or, for a
/// status, an index-only count. The tenant is also named in the WHERE clauses so those
/// indexes apply; row-level security still decides what is visible.
pub async fn list_vpn(
    tx: &mut Tx<'_>,
    scope: AccessScope,
    tenant: Option<&str>,
    status: Option<RouterStatus>,
    page: Page,
) -> Result<(Vec<VpnRow>, i64)> {
    let status = status.map(RouterStatus::as_str);
    let mut total = match status {
        None => QueryBuilder::new(
            "SELECT COALESCE(sum(a.allocated_ips), 0)::bigint
             FROM vpn_subnet_allocations a WHERE true",
        ),
        Some(_) => QueryBuilder::new("SELECT count(*) FROM vpn_configurations c WHERE true"),
    };
    let alias = if status.is_none() { "a" } else { "c" };
    push_list_filter(&mut total, alias, scope, tenant, status);
    let total: i64 = total.build_query_scalar().fetch_one(&mut **tx).await?;
    let mut rows = QueryBuilder::new(format!(
        "{ROUTER_COLUMNS}{VPN_COLUMNS}{ROUTER_FROM} WHERE r.id = ANY (ARRAY(
             SELECT c.router_id FROM vpn_configurations c WHERE true"
    ));
    push_list_filter(&mut rows, "c", scope, tenant, status);
    rows.push(" ORDER BY c.router_id LIMIT ")
        .push_bind(i64::from(page.size))
        .push(" OFFSET ")
        .push_bind(i64::from(page.number.saturating_sub(1)) * i64::from(page.size))
        .push(")) ORDER BY r.id");
    let rows = rows.build().fetch_all(&mut **tx).await?;
    let rows = rows.iter().map(vpn_from_row).collect::<Result<_>>()?;
    Ok((rows, total))
}

/// ` AND …` clauses of a listing on `alias` (a table with `tenant_id` and, for a status,
/// `status`). Each combination is its own SQL text, so each gets a plan of its own.
fn push_list_filter(
    query: &mut QueryBuilder<Postgres>,
    alias: &str,
    scope: AccessScope,
    tenant: Option<&str>,
    status: Option<&str>,
) {
    if let AccessScope::Tenant(id) = scope {
        query
            .push(format!(" AND {alias}.tenant_id = "))
            .push_bind(id);
    }
    if let Some(name) = tenant {
        query
            .push(format!(
                " AND {alias}.tenant_id = (SELECT id FROM tenants WHERE name = "
            ))
            .push_bind(name.to_owned())
            .push(")");
    }
    if let Some(status) = status {
        query
            .push(format!(" AND {alias}.status = "))
            .push_bind(status);
    }
}

/// A configuration by id; `None` also when it belongs to a tenant outside the scope.
pub async fn vpn_by_id(tx: &mut Tx<'_>, id: i64) -> Result<Option<VpnRow>> {
    let row = sqlx::query(vpn_query("WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(vpn_from_row).transpose()
}

/// A configuration with its sealed keys and its hub, for rendering its script.
pub async fn vpn_secret_by_id(tx: &mut Tx<'_>, id: i64) -> Result<Option<(RouterSecretRow, Hub)>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{ROUTER_COLUMNS}{SEALED_COLUMNS}{ROUTER_FROM} WHERE r.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let secret = RouterSecretRow::from_row(&row)?;
    let hub = sqlx::query(sqlx::AssertSqlSafe(format!("{HUB_SELECT} WHERE h.id = $1")))
        .bind(secret.router.hub_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Some((secret, hub_from_row(&hub)?)))
}

/// The name of a tenant in the scope.
pub async fn tenant_name(tx: &mut Tx<'_>, tenant_id: i64) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(&mut **tx)
        .await?)
}

/// Whether a tenant of that name is in the scope.
pub async fn tenant_exists(tx: &mut Tx<'_>, name: &str) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants WHERE name = $1)")
            .bind(name)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// Deletes a configuration (its router) in the scope, as `router rm` does.
pub async fn delete_vpn(tx: &mut Tx<'_>, id: i64) -> Result<Option<DeletedRouter>> {
    let Some(row) = vpn_by_id(tx, id).await? else {
        return Ok(None);
    };
    let r = row.router;
    super::routers::delete_router_in(tx, &r.tenant, &r.name)
        .await
        .map(Some)
}

/// A tenant's address allocation with the true figures.
pub async fn subnet_info(tx: &mut Tx<'_>, tenant: &str) -> Result<Option<SubnetUsage>> {
    Ok(sqlx::query_as(
        "SELECT t.name AS tenant, a.subnet_cidr, a.gateway_ip AS hub_ip, a.range_start,
                a.range_end, a.total_ips AS capacity, a.allocated_ips AS allocated,
                a.available_ips AS available, a.status
         FROM vpn_subnet_allocations a JOIN tenants t ON t.id = a.tenant_id
         WHERE t.name = $1",
    )
    .bind(tenant)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Records an API action (a download) in the audit log, with the request's context.
pub async fn audit(
    tx: &mut Tx<'_>,
    action: AuditAction,
    router: &Router,
    detail: Value,
) -> Result<()> {
    super::audit(tx, action, Some(&router.tenant), Some(&router.name), detail).await
}

/// Statuses and tenants of a hub's configurations changed since `since`: what the event
/// stream compares to tell status changes (the agent announces only "hub H changed").
pub async fn statuses_since(
    tx: &mut Tx<'_>,
    hub_id: Option<i64>,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(i64, i64, RouterStatus)>> {
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT c.router_id, c.tenant_id, c.status FROM vpn_configurations c
         WHERE ($1::bigint IS NULL OR c.hub_id = $1) AND c.updated_at >= $2",
    )
    .bind(hub_id)
    .bind(since)
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|(id, tenant, status)| {
            let status = RouterStatus::parse(&status)
                .ok_or_else(|| Error::Database(format!("unknown router status {status:?}")))?;
            Ok((id, tenant, status))
        })
        .collect()
}

/// Every configuration's status in the scope, to start comparing from.
pub async fn all_statuses(tx: &mut Tx<'_>) -> Result<Vec<(i64, RouterStatus)>> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT router_id, status FROM vpn_configurations")
            .fetch_all(&mut **tx)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, s)| RouterStatus::parse(&s).map(|s| (id, s)))
        .collect())
}
