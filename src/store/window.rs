//! Windows of the console's router list, read by keyset over the sort key plus the names
//! that break ties (never `OFFSET`), filtered through trigram indexes, and the counts per
//! tenant and stored status kept by triggers in `router_counts` (migration 0010). What one
//! read costs depends on the window asked for, not on the fleet.

use std::net::Ipv4Addr;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};

use super::Store;
use super::status::RouterLink;
use crate::Result;
use crate::model::RouterStatus;
use crate::wg::status::Thresholds;

/// Columns the router list sorts by, in the order `s` cycles through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Address,
    Status,
    Handshake,
    Traffic,
    Tenant,
}

impl SortKey {
    const CYCLE: [SortKey; 6] = [
        Self::Name,
        Self::Address,
        Self::Status,
        Self::Handshake,
        Self::Traffic,
        Self::Tenant,
    ];

    pub fn next(self) -> Self {
        let i = Self::CYCLE.iter().position(|k| *k == self).unwrap_or(0);
        Self::CYCLE[(i + 1) % Self::CYCLE.len()]
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Address => "address",
            Self::Status => "status",
            Self::Handshake => "handshake",
            Self::Traffic => "traffic",
            Self::Tenant => "tenant",
        }
    }

    /// The columns of the order, most significant first, each ascending or not as shown
    /// unreversed: the sort column, then tenant and name (unique together) to break ties.
    fn columns(self) -> &'static [(Column, bool)] {
        use Column::*;
        match self {
            Self::Name => &[(Name, true), (Tenant, true)],
            Self::Address => &[(Address, true), (Tenant, true), (Name, true)],
            Self::Status => &[(Status, true), (Tenant, true), (Name, true)],
            // most recent first reads best; never-seen routers last
            Self::Handshake => &[(Handshake, false), (Tenant, true), (Name, true)],
            Self::Traffic => &[(Traffic, false), (Tenant, true), (Name, true)],
            Self::Tenant => &[(Tenant, true), (Name, true)],
        }
    }
}

/// One column of a sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Tenant,
    Address,
    Status,
    Handshake,
    Traffic,
}

/// Which routers the list shows and in which order.
#[derive(Debug, Clone, PartialEq)]
pub struct ListSpec {
    /// Only this tenant's routers (None: all tenants).
    pub tenant_id: Option<i64>,
    /// Substring of the name, the address or the shown status, any case ("" shows all).
    pub filter: String,
    pub sort: SortKey,
    pub descending: bool,
    /// The clock the shown status is derived at (see `tui::data::shown_status`).
    pub now: DateTime<Utc>,
    pub thresholds: Thresholds,
}

/// Where a router stands in the list's order: its values of every sort column.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub name: String,
    pub tenant: String,
    pub vpn_ip: Ipv4Addr,
    /// The status as shown (derived at the spec's clock).
    pub status: RouterStatus,
    pub last_handshake: Option<DateTime<Utc>>,
    /// rx + tx bytes.
    pub traffic: i64,
}

/// Which side of a position to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Rows after it in the list's order; the position's own row too when `inclusive`.
    After { inclusive: bool },
    /// Rows before it, returned in the list's order (nearest last).
    Before,
}

/// The status shown, derived in SQL exactly as `tui::data::shown_status` does it: the rank
/// of `RouterStatus` (pending 0 … disabled 4). $1 online since, $2 stale since.
const SHOWN_RANK: &str = "(CASE WHEN NOT r.enabled OR c.status = 'disabled' THEN 4
      WHEN c.last_handshake_at IS NULL THEN
          CASE c.status WHEN 'pending' THEN 0 WHEN 'online' THEN 1 WHEN 'stale' THEN 2 ELSE 3 END
      WHEN c.last_handshake_at > $1 THEN 1
      WHEN c.last_handshake_at > $2 THEN 2
      ELSE 3 END)";

const LIST_COLUMNS: &str = "
    SELECT r.id, r.name, t.name AS tenant, r.vpn_ip, c.client_public_key AS public_key, r.enabled,
           c.status, c.last_handshake_at, c.last_endpoint, c.rx_bytes, c.tx_bytes,
           c.keys_created_at, c.rotation_staged_at
    FROM routers r
    JOIN tenants t ON t.id = r.tenant_id
    JOIN vpn_configurations c ON c.router_id = r.id
    WHERE true";

/// The tenant order, read tenant by tenant: each tenant's next rows by its (tenant, name)
/// index, at most a window each, then the few merged. No index holds tenant names beside
/// router names, so one ordered scan would sort a whole tenant (65,278 rows) per window.
const PER_TENANT_COLUMNS: &str = "
    SELECT x.* FROM tenants t CROSS JOIN LATERAL (
    SELECT r.id, r.name, t.name AS tenant, r.vpn_ip, c.client_public_key AS public_key, r.enabled,
           c.status, c.last_handshake_at, c.last_endpoint, c.rx_bytes, c.tx_bytes,
           c.keys_created_at, c.rotation_staged_at
    FROM routers r
    JOIN vpn_configurations c ON c.router_id = r.id
    WHERE r.tenant_id = t.id";

fn rank(status: RouterStatus) -> i16 {
    match status {
        RouterStatus::Pending => 0,
        RouterStatus::Online => 1,
        RouterStatus::Stale => 2,
        RouterStatus::Offline => 3,
        RouterStatus::Disabled => 4,
    }
}

/// A handshake at or after this is `online` at `now` (ages are whole seconds, see
/// `Thresholds::status_at`): `age <= limit` is `at > now - (limit + 1) s`.
fn fresh_since(now: DateTime<Utc>, limit_secs: u64) -> DateTime<Utc> {
    now - TimeDelta::seconds(limit_secs as i64 + 1)
}

/// The statuses whose name holds `needle` (already lower case).
fn statuses_matching(needle: &str) -> Vec<i16> {
    [
        RouterStatus::Pending,
        RouterStatus::Online,
        RouterStatus::Stale,
        RouterStatus::Offline,
        RouterStatus::Disabled,
    ]
    .into_iter()
    .filter(|s| s.as_str().contains(needle))
    .map(rank)
    .collect()
}

/// `needle` for LIKE: its own `%`, `_` and `\` match themselves.
fn like_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// The query's start: columns, the clock's binds ($1, $2) and the spec's filters.
fn base(spec: &ListSpec, select: &str) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::new(select);
    // $1 and $2 are the status bounds SHOWN_RANK refers to: bound first, in a clause that
    // is always true, so every query has them whatever follows.
    q.push(" AND ")
        .push_bind(fresh_since(spec.now, spec.thresholds.online_secs()));
    q.push("::timestamptz IS NOT NULL AND ")
        .push_bind(fresh_since(spec.now, spec.thresholds.stale_secs()));
    q.push("::timestamptz IS NOT NULL");
    if let Some(tenant_id) = spec.tenant_id {
        q.push(" AND r.tenant_id = ").push_bind(tenant_id);
    }
    let needle = spec.filter.to_ascii_lowercase();
    if !needle.is_empty() {
        let pattern = like_pattern(&needle);
        q.push(" AND (r.name ILIKE ").push_bind(pattern.clone());
        q.push(" OR host(r.vpn_ip) LIKE ").push_bind(pattern);
        let statuses = statuses_matching(&needle);
        if !statuses.is_empty() {
            q.push(" OR ")
                .push(SHOWN_RANK)
                .push(" = ANY(")
                .push_bind(statuses)
                .push(")");
        }
        q.push(")");
    }
    q
}

/// The SQL of a column, as the indexes of migration 0010 hold it.
fn expr(column: Column) -> &'static str {
    match column {
        Column::Name => "r.name COLLATE \"C\"",
        Column::Tenant => "t.name COLLATE \"C\"",
        Column::Address => "r.vpn_ip",
        Column::Status => SHOWN_RANK,
        Column::Handshake => "coalesce(c.last_handshake_at, '-infinity'::timestamptz)",
        Column::Traffic => "(c.rx_bytes + c.tx_bytes)",
    }
}

/// Pushes the position's value of `column` as a bind.
fn push_value(q: &mut QueryBuilder<Postgres>, column: Column, at: &Position) {
    match column {
        Column::Name => q.push_bind(at.name.clone()).push("::text"),
        Column::Tenant => q.push_bind(at.tenant.clone()).push("::text"),
        Column::Address => q.push_bind(at.vpn_ip.to_string()).push("::inet"),
        Column::Status => q.push_bind(rank(at.status)).push("::smallint"),
        Column::Handshake => match at.last_handshake {
            Some(t) => q.push_bind(t).push("::timestamptz"),
            None => q.push("'-infinity'::timestamptz"),
        },
        Column::Traffic => q.push_bind(at.traffic).push("::bigint"),
    };
}

/// Rows beside `at` (or from the start when None) in the spec's order, at most `limit`.
/// Keyset: the leading column is bounded on its own too, so the index range starts there.
pub async fn list_page(
    db: impl PgExecutor<'_>,
    spec: &ListSpec,
    at: Option<&Position>,
    side: Side,
    limit: i64,
) -> Result<Vec<RouterLink>> {
    let columns = spec.sort.columns();
    // Reading backwards walks the order reversed, nearest first.
    let backwards = side == Side::Before;
    let ascending =
        |asc: bool| asc != spec.descending && !backwards || asc == spec.descending && backwards;
    let per_tenant = spec.sort == SortKey::Tenant;
    let mut q = base(
        spec,
        if per_tenant {
            PER_TENANT_COLUMNS
        } else {
            LIST_COLUMNS
        },
    );
    let direction = |asc: bool| if ascending(asc) { " ASC" } else { " DESC" };
    if let Some(at) = at {
        let (first, first_asc) = columns[0];
        q.push(" AND ")
            .push(expr(first))
            .push(if ascending(first_asc) { " >= " } else { " <= " });
        push_value(&mut q, first, at);
        q.push(" AND (");
        for (i, &(column, asc)) in columns.iter().enumerate() {
            if i > 0 {
                q.push(" OR ");
            }
            q.push("(");
            for &(equal, _) in &columns[..i] {
                q.push(expr(equal)).push(" = ");
                push_value(&mut q, equal, at);
                q.push(" AND ");
            }
            q.push(expr(column))
                .push(if ascending(asc) { " > " } else { " < " });
            push_value(&mut q, column, at);
            q.push(")");
        }
        if side == (Side::After { inclusive: true }) {
            q.push(" OR (");
            for (i, &(column, _)) in columns.iter().enumerate() {
                if i > 0 {
                    q.push(" AND ");
                }
                q.push(expr(column)).push(" = ");
                push_value(&mut q, column, at);
            }
            q.push(")");
        }
        q.push(")");
    }
    if per_tenant {
        // Within the tenant by name; then the tenants' pieces merged.
        q.push(" ORDER BY ")
            .push(expr(Column::Name))
            .push(direction(true));
        q.push(" LIMIT ").push_bind(limit).push(") x WHERE true");
        if let Some(at) = at {
            q.push(" AND ")
                .push(expr(Column::Tenant))
                .push(if ascending(true) { " >= " } else { " <= " });
            push_value(&mut q, Column::Tenant, at);
        }
        q.push(" ORDER BY x.tenant COLLATE \"C\"")
            .push(direction(true))
            .push(", x.name COLLATE \"C\"")
            .push(direction(true));
    } else {
        q.push(" ORDER BY ");
        for (i, &(column, asc)) in columns.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push(expr(column)).push(direction(asc));
        }
    }
    q.push(" LIMIT ").push_bind(limit);
    let mut rows: Vec<RouterLink> = q.build_query_as().fetch_all(db).await?;
    if backwards {
        rows.reverse();
    }
    Ok(rows)
}

/// The last `limit` rows of the list, in its order.
pub async fn list_end(
    db: impl PgExecutor<'_>,
    spec: &ListSpec,
    limit: i64,
) -> Result<Vec<RouterLink>> {
    let reversed = ListSpec {
        descending: !spec.descending,
        ..spec.clone()
    };
    let mut rows = list_page(db, &reversed, None, Side::After { inclusive: false }, limit).await?;
    rows.reverse();
    Ok(rows)
}

/// One router as the list would show it (filtered out or not), to find where it stands.
pub async fn list_row(db: impl PgExecutor<'_>, router_id: i64) -> Result<Option<RouterLink>> {
    let mut q = QueryBuilder::new(LIST_COLUMNS);
    q.push(" AND r.id = ").push_bind(router_id);
    Ok(q.build_query_as().fetch_optional(db).await?)
}

/// How many routers the spec shows, counting at most `cap` (a filter over millions stops
/// counting there: "10,000+"). Without a filter the count comes from `router_counts`.
pub async fn list_count(db: impl PgExecutor<'_>, spec: &ListSpec, cap: i64) -> Result<i64> {
    if spec.filter.is_empty() {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT sum(routers)::bigint FROM router_counts WHERE ($1::bigint IS NULL OR tenant_id = $1)",
        )
        .bind(spec.tenant_id)
        .fetch_one(db)
        .await?;
        return Ok(n.unwrap_or(0));
    }
    let mut q = base(
        spec,
        "SELECT count(*) FROM (SELECT 1 FROM routers r JOIN tenants t ON t.id = r.tenant_id \
         JOIN vpn_configurations c ON c.router_id = r.id WHERE true",
    );
    q.push(" LIMIT ").push_bind(cap).push(") m");
    Ok(q.build_query_scalar().fetch_one(db).await?)
}

/// Routers of one tenant in one stored status, as `router_counts` keeps them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RouterCount {
    pub tenant_id: i64,
    pub status: RouterStatus,
    pub routers: i64,
}

/// Every tenant's routers per stored status: one row per tenant and status, whatever the
/// fleet's size.
pub async fn router_counts(db: impl PgExecutor<'_>) -> Result<Vec<RouterCount>> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, status, routers FROM router_counts WHERE routers > 0 ORDER BY tenant_id, status",
    )
    .fetch_all(db)
    .await?)
}

/// The same reads on the store's pool.
impl Store {
    pub async fn list_page(
        &self,
        spec: &ListSpec,
        at: Option<&Position>,
        side: Side,
        limit: i64,
    ) -> Result<Vec<RouterLink>> {
        list_page(&self.pool, spec, at, side, limit).await
    }

    pub async fn list_end(&self, spec: &ListSpec, limit: i64) -> Result<Vec<RouterLink>> {
        list_end(&self.pool, spec, limit).await
    }

    pub async fn list_row(&self, router_id: i64) -> Result<Option<RouterLink>> {
        list_row(&self.pool, router_id).await
    }

    pub async fn list_count(&self, spec: &ListSpec, cap: i64) -> Result<i64> {
        list_count(&self.pool, spec, cap).await
    }

    pub async fn router_counts(&self) -> Result<Vec<RouterCount>> {
        router_counts(&self.pool).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_their_own_wildcards_literally() {
        assert_eq!(like_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }

    #[test]
    fn statuses_match_by_substring() {
        assert_eq!(statuses_matching("line"), vec![1, 3]);
        assert_eq!(statuses_matching("zzz"), Vec::<i16>::new());
    }

    #[test]
    fn ages_are_whole_seconds() {
        let now = DateTime::<Utc>::from_timestamp(1_000_000, 0).unwrap();
        // status_at: age 180 s is online, 181 s is not
        let t = Thresholds::default();
        let since = fresh_since(now, t.online_secs());
        let at = now - TimeDelta::seconds(180);
        assert!(at > since);
        assert_eq!(t.status_at(Some(at), now), RouterStatus::Online);
        let at = now - TimeDelta::seconds(181);
        assert!(at <= since);
        assert_eq!(t.status_at(Some(at), now), RouterStatus::Stale);
    }
}
