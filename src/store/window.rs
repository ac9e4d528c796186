//! Windows of the console's router list, read by keyset over the columns of the sort order
//! (never `OFFSET`), filtered through indexes, and the counts per tenant and stored status
//! kept by triggers in `router_counts` (migration 0010). Every order is one index walk
//! (migrations 0010 and 0011): what one read costs depends on the window asked for, not on
//! the fleet.

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};

use super::Store;
use super::status::RouterLink;
use crate::Result;
use crate::model::RouterStatus;

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

    /// Whether the order breaks ties by the router's address rather than by tenant and
    /// router name: the orders over configuration columns do, so that one index on
    /// `vpn_configurations` holds the whole order (names live in other tables).
    pub fn ties_by_address(self) -> bool {
        matches!(self, Self::Status | Self::Handshake | Self::Traffic)
    }

    /// The columns of the order, most significant first, each ascending or not as shown
    /// unreversed: the sort column, then what breaks ties (unique together).
    fn columns(self) -> &'static [(Column, bool)] {
        use Column::*;
        match self {
            Self::Name => &[(Name, true), (Tenant, true)],
            Self::Address => &[(Address, true), (Tenant, true), (Name, true)],
            Self::Status => &[(Status, true), (PeerAddress, true)],
            // most recent first reads best; never-seen routers last
            Self::Handshake => &[(Handshake, false), (PeerAddress, true)],
            Self::Traffic => &[(Traffic, false), (PeerAddress, true)],
            Self::Tenant => &[(Tenant, true), (Name, true)],
        }
    }
}

/// One column of a sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Tenant,
    /// The router's address as `routers` holds it.
    Address,
    /// The same address as `vpn_configurations` holds it (`client_ip`, equal to
    /// `routers.vpn_ip`), so the configuration orders' indexes hold it beside their column.
    PeerAddress,
    /// The stored status, ranked as `RouterStatus` orders.
    Status,
    Handshake,
    Traffic,
}

/// Which routers the list shows and in which order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSpec {
    /// Only this tenant's routers (None: all tenants).
    pub tenant_id: Option<i64>,
    /// Substring of the name, the address or the stored status, any case ("" shows all).
    pub filter: String,
    pub sort: SortKey,
    pub descending: bool,
}

impl ListSpec {
    /// All tenants' routers by name, unfiltered: the console's start.
    pub fn all_by_name() -> Self {
        ListSpec {
            tenant_id: None,
            filter: String::new(),
            sort: SortKey::Name,
            descending: false,
        }
    }
}

/// Where a router stands in the list's order: its values of every sort column.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub name: String,
    pub tenant: String,
    pub vpn_ip: Ipv4Addr,
    /// The stored status (the agent's verdict).
    pub status: RouterStatus,
    pub last_handshake: Option<DateTime<Utc>>,
    /// rx + tx bytes.
    pub traffic: i64,
}

impl Position {
    /// Where a stored router stands.
    pub fn of(row: &RouterLink) -> Self {
        Position {
            name: row.name.clone(),
            tenant: row.tenant.clone(),
            vpn_ip: row.vpn_ip,
            status: row.status,
            last_handshake: row.last_handshake_at,
            traffic: row.rx_bytes + row.tx_bytes,
        }
    }
}

/// Which side of a position to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Rows after it in the list's order; the position's own row too when `inclusive`.
    After { inclusive: bool },
    /// Rows before it, returned in the list's order (nearest last).
    Before,
}

/// The columns every read returns, as `RouterLink` maps them.
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

/// Where a status stands in the status order: `console_status_rank` of migration 0011,
/// which the status order's indexes hold (a test checks that the two agree).
pub fn rank(status: RouterStatus) -> i32 {
    match status {
        RouterStatus::Pending => 0,
        RouterStatus::Online => 1,
        RouterStatus::Stale => 2,
        RouterStatus::Offline => 3,
        RouterStatus::Disabled => 4,
    }
}

/// The statuses whose name holds `needle` (already lower case).
fn statuses_matching(needle: &str) -> Vec<i32> {
    RouterStatus::ALL
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

/// One part of what `/` matches, each served by indexes of one table. A name or address
/// matches through the trigram indexes on `routers`; a status through the status order's
/// index on `vpn_configurations`. One OR across both tables can use neither (an OR of
/// conditions on two tables is checked row by row after the join), so a filter naming a
/// status reads the two parts separately, the second without the first's rows, and merges
/// them: sparse or dense, each part walks or looks up its own index.
#[derive(Debug, Clone)]
enum Part {
    /// No filter: every router.
    All,
    /// The name or the address holds the pattern.
    Text { pattern: String },
    /// The stored status is one of `ranks`, and neither name nor address holds the pattern.
    Status { pattern: String, ranks: Vec<i32> },
    /// The stored status is one of `ranks`, and name or address holds the pattern: what the
    /// other two parts both hold, when counting them apart.
    Overlap { pattern: String, ranks: Vec<i32> },
}

/// The parts the spec's filter reads.
fn parts(spec: &ListSpec) -> Vec<Part> {
    let needle = spec.filter.to_ascii_lowercase();
    if needle.is_empty() {
        return vec![Part::All];
    }
    let pattern = like_pattern(&needle);
    let ranks = statuses_matching(&needle);
    let mut parts = vec![Part::Text {
        pattern: pattern.clone(),
    }];
    if !ranks.is_empty() {
        parts.push(Part::Status { pattern, ranks });
    }
    parts
}

/// Name or address holds the pattern.
fn push_text_match(q: &mut QueryBuilder<Postgres>, pattern: &str) {
    q.push("(r.name ILIKE ").push_bind(pattern.to_owned());
    q.push(" OR host(r.vpn_ip) LIKE ")
        .push_bind(pattern.to_owned())
        .push(")");
}

/// The spec's scope and the part's filter, after a `WHERE`.
fn push_filter(q: &mut QueryBuilder<Postgres>, spec: &ListSpec, part: &Part) {
    if let Some(tenant_id) = spec.tenant_id {
        // On both tables: the configuration orders' indexes start with their tenant_id.
        q.push(" AND r.tenant_id = ").push_bind(tenant_id);
        q.push(" AND c.tenant_id = ").push_bind(tenant_id);
    }
    match part {
        Part::All => {}
        Part::Text { pattern } => {
            q.push(" AND ");
            push_text_match(q, pattern);
        }
        Part::Status { pattern, ranks } => {
            q.push(" AND console_status_rank(c.status) = ANY(")
                .push_bind(ranks.clone())
                .push(") AND NOT ");
            push_text_match(q, pattern);
        }
        Part::Overlap { pattern, ranks } => {
            q.push(" AND console_status_rank(c.status) = ANY(")
                .push_bind(ranks.clone())
                .push(") AND ");
            push_text_match(q, pattern);
        }
    }
}

/// Which rows a column's SQL refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    /// The tables, as the indexes of migrations 0010 and 0011 hold the column.
    Tables,
    /// The output of a part (alias `u`), when parts are merged.
    Merged,
}

/// The SQL of a column.
fn expr(column: Column, rows: Rows) -> &'static str {
    match rows {
        Rows::Tables => match column {
            Column::Name => "r.name COLLATE \"C\"",
            Column::Tenant => "t.name COLLATE \"C\"",
            Column::Address => "r.vpn_ip",
            Column::PeerAddress => "c.client_ip",
            Column::Status => "console_status_rank(c.status)",
            Column::Handshake => "coalesce(c.last_handshake_at, '-infinity'::timestamptz)",
            Column::Traffic => "(c.rx_bytes + c.tx_bytes)",
        },
        Rows::Merged => match column {
            Column::Name => "u.name COLLATE \"C\"",
            Column::Tenant => "u.tenant COLLATE \"C\"",
            Column::Address | Column::PeerAddress => "u.vpn_ip",
            Column::Status => "console_status_rank(u.status)",
            Column::Handshake => "coalesce(u.last_handshake_at, '-infinity'::timestamptz)",
            Column::Traffic => "(u.rx_bytes + u.tx_bytes)",
        },
    }
}

/// Pushes the position's value of `column` as a bind.
fn push_value(q: &mut QueryBuilder<Postgres>, column: Column, at: &Position) {
    match column {
        Column::Name => q.push_bind(at.name.clone()).push("::text"),
        Column::Tenant => q.push_bind(at.tenant.clone()).push("::text"),
        Column::Address | Column::PeerAddress => q.push_bind(at.vpn_ip.to_string()).push("::inet"),
        Column::Status => q.push_bind(rank(at.status)).push("::integer"),
        Column::Handshake => match at.last_handshake {
            Some(t) => q.push_bind(t).push("::timestamptz"),
            None => q.push("'-infinity'::timestamptz"),
        },
        Column::Traffic => q.push_bind(at.traffic).push("::bigint"),
    };
}

/// The read's direction over the spec's order.
#[derive(Debug, Clone, Copy)]
struct Direction {
    descending: bool,
    /// Reading backwards walks the order reversed, nearest first.
    backwards: bool,
}

impl Direction {
    /// Whether a column shown ascending (unreversed) is read ascending.
    fn ascending(self, asc: bool) -> bool {
        asc != (self.descending != self.backwards)
    }

    fn keyword(self, asc: bool) -> &'static str {
        if self.ascending(asc) { " ASC" } else { " DESC" }
    }
}

/// `ORDER BY` the spec's columns over `rows`.
fn push_order(q: &mut QueryBuilder<Postgres>, spec: &ListSpec, way: Direction, rows: Rows) {
    q.push(" ORDER BY ");
    for (i, &(column, asc)) in spec.sort.columns().iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push(expr(column, rows)).push(way.keyword(asc));
    }
}

/// One range of the keyset beyond a position: its first `equal` columns equal to the
/// position's, the next one past it (or at it, for the last column of an inclusive read).
/// Each is one index range, whatever the columns' directions and however many rows tie on
/// the leading ones (a million routers never seen tie on their handshake); as one OR, the
/// index would be bounded by the leading column alone and the ties scanned to the position.
#[derive(Debug, Clone, Copy)]
struct KeyRange<'a> {
    at: &'a Position,
    equal: usize,
    or_equal: bool,
}

/// The ranges that together hold every row beyond `at` on `side`, nearest first.
fn ranges<'a>(spec: &ListSpec, at: &'a Position, side: Side) -> Vec<KeyRange<'a>> {
    let last = spec.sort.columns().len() - 1;
    (0..=last)
        .rev()
        .map(|equal| KeyRange {
            at,
            equal,
            or_equal: equal == last && side == (Side::After { inclusive: true }),
        })
        .collect()
}

/// ` AND ` the range's conditions.
fn push_range(q: &mut QueryBuilder<Postgres>, spec: &ListSpec, way: Direction, range: KeyRange) {
    let columns = spec.sort.columns();
    for &(column, _) in &columns[..range.equal] {
        q.push(" AND ").push(expr(column, Rows::Tables)).push(" = ");
        push_value(q, column, range.at);
    }
    let (column, asc) = columns[range.equal];
    let beyond = match (way.ascending(asc), range.or_equal) {
        (true, false) => " > ",
        (true, true) => " >= ",
        (false, false) => " < ",
        (false, true) => " <= ",
    };
    q.push(" AND ")
        .push(expr(column, Rows::Tables))
        .push(beyond);
    push_value(q, column, range.at);
}

/// One part's rows in one range (or from the list's start when None) in the spec's order,
/// at most `limit`: one index walk.
fn push_leaf(
    q: &mut QueryBuilder<Postgres>,
    spec: &ListSpec,
    part: &Part,
    range: Option<KeyRange>,
    way: Direction,
    limit: i64,
) {
    let per_tenant = spec.sort == SortKey::Tenant;
    q.push(if per_tenant {
        PER_TENANT_COLUMNS
    } else {
        LIST_COLUMNS
    });
    push_filter(q, spec, part);
    if let Some(range) = range {
        push_range(q, spec, way, range);
    }
    if per_tenant {
        // Within the tenant by name; then the tenants' pieces merged.
        q.push(" ORDER BY ")
            .push(expr(Column::Name, Rows::Tables))
            .push(way.keyword(true));
        q.push(" LIMIT ").push_bind(limit).push(") x");
        q.push(" ORDER BY x.tenant COLLATE \"C\"")
            .push(way.keyword(true))
            .push(", x.name COLLATE \"C\"")
            .push(way.keyword(true));
    } else {
        push_order(q, spec, way, Rows::Tables);
    }
    q.push(" LIMIT ").push_bind(limit);
}

/// Rows beside `at` (or from the start when None) in the spec's order, at most `limit`:
/// each part of the filter (see [`Part`]) in each range of the keyset (see [`KeyRange`]) read
/// on its own by an index, the pieces merged.
pub async fn list_page(
    db: impl PgExecutor<'_>,
    spec: &ListSpec,
    at: Option<&Position>,
    side: Side,
    limit: i64,
) -> Result<Vec<RouterLink>> {
    let way = Direction {
        descending: spec.descending,
        backwards: side == Side::Before,
    };
    let ranges: Vec<Option<KeyRange>> = match at {
        Some(at) => ranges(spec, at, side).into_iter().map(Some).collect(),
        None => vec![None],
    };
    let parts = parts(spec);
    let leaves: Vec<(&Part, Option<KeyRange>)> = parts
        .iter()
        .flat_map(|part| ranges.iter().map(move |range| (part, *range)))
        .collect();
    let mut q = QueryBuilder::new("");
    if let [(part, range)] = leaves.as_slice() {
        push_leaf(&mut q, spec, part, *range, way, limit);
    } else {
        q.push("SELECT * FROM (");
        for (i, (part, range)) in leaves.iter().enumerate() {
            if i > 0 {
                q.push(" UNION ALL ");
            }
            q.push("(");
            push_leaf(&mut q, spec, part, *range, way, limit);
            q.push(")");
        }
        q.push(") u");
        push_order(&mut q, spec, way, Rows::Merged);
        q.push(" LIMIT ").push_bind(limit);
    }
    let mut rows: Vec<RouterLink> = q.build_query_as().fetch_all(db).await?;
    if side == Side::Before {
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
/// counting there: "10,000+"). Routers per status come from `router_counts`; only names
/// and addresses are counted row by row, through their trigram indexes (see [`count_sql`]).
pub async fn list_count(db: impl PgExecutor<'_>, spec: &ListSpec, cap: i64) -> Result<i64> {
    Ok(count_sql(spec, cap)
        .build_query_scalar()
        .fetch_one(db)
        .await?)
}

/// The count of [`list_count`], part by part: no filter is every router in scope; a name or
/// address match is counted up to `cap`; a status part is every router in those statuses,
/// less those the name or address part counted already (counted up to `cap` too). When the
/// name or address part reaches `cap`, so does the whole (the status part never subtracts
/// more than it adds), so capped counts stay right.
fn count_sql(spec: &ListSpec, cap: i64) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::new("SELECT least(");
    q.push_bind(cap).push("::bigint, 0::bigint");
    let push_kept = |q: &mut QueryBuilder<Postgres>, statuses: Option<&Vec<i32>>| {
        q.push(" + (SELECT coalesce(sum(routers), 0)::bigint FROM router_counts WHERE true");
        if let Some(tenant_id) = spec.tenant_id {
            q.push(" AND tenant_id = ").push_bind(tenant_id);
        }
        if let Some(ranks) = statuses {
            q.push(" AND console_status_rank(status) = ANY(")
                .push_bind(ranks.clone())
                .push(")");
        }
        q.push(")");
    };
    let push_counted = |q: &mut QueryBuilder<Postgres>, sign: &str, part: &Part| {
        q.push(sign).push(
            "(SELECT count(*) FROM (SELECT 1 FROM routers r \
             JOIN vpn_configurations c ON c.router_id = r.id WHERE true",
        );
        push_filter(q, spec, part);
        q.push(" LIMIT ").push_bind(cap).push(") m)");
    };
    for part in parts(spec) {
        match &part {
            Part::All => push_kept(&mut q, None),
            Part::Text { .. } => push_counted(&mut q, " + ", &part),
            Part::Status { pattern, ranks } => {
                push_kept(&mut q, Some(ranks));
                let overlap = Part::Overlap {
                    pattern: pattern.clone(),
                    ranks: ranks.clone(),
                };
                push_counted(&mut q, " - ", &overlap);
            }
            Part::Overlap { .. } => {}
        }
    }
    q.push(")");
    q
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
        "SELECT tenant_id, status, sum(routers)::bigint AS routers FROM router_counts \
         GROUP BY tenant_id, status HAVING sum(routers) > 0 ORDER BY tenant_id, status",
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
        assert_eq!(statuses_matching("zzz"), Vec::<i32>::new());
    }

    #[test]
    fn a_filter_naming_a_status_reads_it_apart_from_names_and_addresses() {
        let spec = |filter: &str| ListSpec {
            filter: filter.into(),
            ..ListSpec::all_by_name()
        };
        assert!(matches!(parts(&spec("")).as_slice(), [Part::All]));
        assert!(matches!(
            parts(&spec("hq-")).as_slice(),
            [Part::Text { .. }]
        ));
        match parts(&spec("ONL")).as_slice() {
            [Part::Text { pattern }, Part::Status { pattern: p, ranks }] => {
                assert_eq!((pattern.as_str(), p.as_str()), ("%onl%", "%onl%"));
                assert_eq!(ranks, &vec![rank(RouterStatus::Online)]);
            }
            other => panic!("{other:?}"),
        }
    }
}
