//! Router history: status transitions and first handshakes (`router_transitions`), NAT
//! endpoint changes (`router_endpoints`), traffic in 5-minute buckets and hourly roll-ups
//! (`router_traffic_5m`, `router_traffic_1h`, range-partitioned), their maintenance, and the
//! reads behind `router history`, availability and `tikwire events`.
//!
//! The agent's writes run inside its poll transaction ([`super::status::write_poll`]), one
//! statement per kind with `unnest` arrays, so history commits with the status or not at all.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Acquire as _, PgConnection, PgExecutor};

use super::Store;
use crate::Result;
use crate::history::{
    self, AVAILABILITY_SPAN_DAYS, Availability, FleetEvent, HISTORY_EVENTS_MAX, Resolution,
    Retention, RouterHistory, Timeline, TrafficTable,
};
use crate::model::RouterStatus;

/// Which router, for history rows and alert payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterRef {
    pub router_id: i64,
    pub tenant_id: i64,
    pub tenant: String,
    pub name: String,
}

impl RouterRef {
    /// "tenant/router", for logs.
    pub fn label(&self) -> String {
        format!("{}/{}", self.tenant, self.name)
    }
}

/// A change of a router's status seen by a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub router: RouterRef,
    pub hub_id: i64,
    /// The poll's time.
    pub at: DateTime<Utc>,
    pub from: RouterStatus,
    pub to: RouterStatus,
    pub last_handshake_at: Option<DateTime<Utc>>,
}

/// A router's first handshake ever, seen by a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstHandshake {
    pub router: RouterRef,
    pub hub_id: i64,
    /// The handshake's time.
    pub at: DateTime<Utc>,
}

/// A router seen at a new NAT endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointMove {
    pub router_id: i64,
    pub tenant_id: i64,
    pub at: DateTime<Utc>,
    pub endpoint: String,
}

/// Bytes a router received and sent since the last poll, for its current bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficDelta {
    pub router_id: i64,
    pub tenant_id: i64,
    pub bucket: DateTime<Utc>,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
}

// History has no foreign keys (a check per row, migration 0012): each insert joins the
// router's configuration row and locks it (FOR KEY SHARE, already held for the rows the poll
// updated), so a router deleted before the poll gets no history and one deleted meanwhile
// waits for the commit, then its history is deleted with it.

/// Status transitions, recorded only where the status write took effect (the poll's update
/// skips a router whose enabled flag changed under it).
const INSERT_TRANSITIONS: &str = "
    INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
    SELECT u.router_id, u.tenant_id, $1, u.at, 'status', u.from_status, u.to_status
    FROM unnest($2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[], $6::text[])
         AS u(router_id, tenant_id, at, from_status, to_status)
    JOIN vpn_configurations v ON v.router_id = u.router_id AND v.status = u.to_status
    FOR KEY SHARE OF v";

const INSERT_FIRST_HANDSHAKES: &str = "
    INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind)
    SELECT u.router_id, u.tenant_id, $1, u.at, 'first_handshake'
    FROM unnest($2::bigint[], $3::bigint[], $4::timestamptz[]) AS u(router_id, tenant_id, at)
    JOIN vpn_configurations v ON v.router_id = u.router_id
    FOR KEY SHARE OF v";

const INSERT_ENDPOINTS: &str = "
    INSERT INTO router_endpoints (router_id, tenant_id, at, endpoint)
    SELECT u.router_id, u.tenant_id, u.at, u.endpoint
    FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::text[])
         AS u(router_id, tenant_id, at, endpoint)
    JOIN vpn_configurations v ON v.router_id = u.router_id
    FOR KEY SHARE OF v";

/// Adds to each router's bucket (a poll may land in a bucket another poll already filled).
const ADD_TRAFFIC: &str = "
    INSERT INTO router_traffic_5m AS t (router_id, tenant_id, bucket, rx_bytes, tx_bytes)
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::bigint[], $5::bigint[])
    ON CONFLICT (router_id, bucket) DO UPDATE SET
        rx_bytes = t.rx_bytes + EXCLUDED.rx_bytes, tx_bytes = t.tx_bytes + EXCLUDED.tx_bytes";

pub async fn insert_transitions(
    db: impl PgExecutor<'_>,
    hub_id: i64,
    transitions: &[Transition],
) -> Result<()> {
    let router_ids: Vec<i64> = transitions.iter().map(|t| t.router.router_id).collect();
    let tenant_ids: Vec<i64> = transitions.iter().map(|t| t.router.tenant_id).collect();
    let at: Vec<DateTime<Utc>> = transitions.iter().map(|t| t.at).collect();
    let from: Vec<&str> = transitions.iter().map(|t| t.from.as_str()).collect();
    let to: Vec<&str> = transitions.iter().map(|t| t.to.as_str()).collect();
    sqlx::query(INSERT_TRANSITIONS)
        .bind(hub_id)
        .bind(&router_ids)
        .bind(&tenant_ids)
        .bind(&at)
        .bind(&from)
        .bind(&to)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn insert_first_handshakes(
    db: impl PgExecutor<'_>,
    hub_id: i64,
    firsts: &[FirstHandshake],
) -> Result<()> {
    let router_ids: Vec<i64> = firsts.iter().map(|f| f.router.router_id).collect();
    let tenant_ids: Vec<i64> = firsts.iter().map(|f| f.router.tenant_id).collect();
    let at: Vec<DateTime<Utc>> = firsts.iter().map(|f| f.at).collect();
    sqlx::query(INSERT_FIRST_HANDSHAKES)
        .bind(hub_id)
        .bind(&router_ids)
        .bind(&tenant_ids)
        .bind(&at)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn insert_endpoints(db: impl PgExecutor<'_>, moves: &[EndpointMove]) -> Result<()> {
    let router_ids: Vec<i64> = moves.iter().map(|m| m.router_id).collect();
    let tenant_ids: Vec<i64> = moves.iter().map(|m| m.tenant_id).collect();
    let at: Vec<DateTime<Utc>> = moves.iter().map(|m| m.at).collect();
    let endpoints: Vec<&str> = moves.iter().map(|m| m.endpoint.as_str()).collect();
    sqlx::query(INSERT_ENDPOINTS)
        .bind(&router_ids)
        .bind(&tenant_ids)
        .bind(&at)
        .bind(&endpoints)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn add_traffic(db: impl PgExecutor<'_>, deltas: &[TrafficDelta]) -> Result<()> {
    Ok(add_traffic_raw(db, deltas).await?)
}

/// [`add_traffic`] with the database's own error (its SQLSTATE tells a missing partition).
pub(super) async fn add_traffic_raw(
    db: impl PgExecutor<'_>,
    deltas: &[TrafficDelta],
) -> sqlx::Result<()> {
    let router_ids: Vec<i64> = deltas.iter().map(|d| d.router_id).collect();
    let tenant_ids: Vec<i64> = deltas.iter().map(|d| d.tenant_id).collect();
    let buckets: Vec<DateTime<Utc>> = deltas.iter().map(|d| d.bucket).collect();
    let rx: Vec<i64> = deltas.iter().map(|d| d.rx_bytes).collect();
    let tx: Vec<i64> = deltas.iter().map(|d| d.tx_bytes).collect();
    sqlx::query(ADD_TRAFFIC)
        .bind(&router_ids)
        .bind(&tenant_ids)
        .bind(&buckets)
        .bind(&rx)
        .bind(&tx)
        .execute(db)
        .await?;
    Ok(())
}

/// Held (for the transaction) by whichever agent maintains history now; the others skip.
const MAINTENANCE_LOCK: i64 = 0x7469_6b77_6869_7374; // "tikwhist"

/// What one maintenance run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// False when another agent held the lock: nothing was done.
    pub ran: bool,
    pub created: Vec<String>,
    pub dropped: Vec<String>,
    /// Hourly rows written (rolled up again rows included).
    pub rolled_up: u64,
}

const PARTITIONS_OF: &str = "
    SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = $1::regclass ORDER BY 1";

const ROLL_UP: &str = "
    INSERT INTO router_traffic_1h AS h (router_id, tenant_id, hour, rx_bytes, tx_bytes)
    SELECT router_id, tenant_id, date_trunc('hour', bucket, 'UTC'), sum(rx_bytes), sum(tx_bytes)
    FROM router_traffic_5m WHERE bucket >= $1 AND bucket < $2
    GROUP BY 1, 2, 3
    ON CONFLICT (router_id, hour) DO UPDATE SET
        rx_bytes = EXCLUDED.rx_bytes, tx_bytes = EXCLUDED.tx_bytes";

/// Creates the partitions history needs from retention's start to a few days ahead, rolls
/// finished hours up, and drops partitions past retention. Idempotent; with several agents
/// one does it and the others return at once.
pub async fn maintain(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    retention: Retention,
) -> Result<Maintenance> {
    let mut tx = conn.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(MAINTENANCE_LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(Maintenance::default());
    }
    let mut done = Maintenance {
        ran: true,
        ..Maintenance::default()
    };
    for partition in history::wanted_partitions(now, retention) {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(&partition.name)
            .fetch_one(&mut *tx)
            .await?;
        if exists {
            continue;
        }
        // Names and bounds are made by tikwire (history::wanted_partitions), never input.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ('{}') TO ('{}')",
            partition.name,
            partition.table.name(),
            partition.from.to_rfc3339(),
            partition.to.to_rfc3339()
        )))
        .execute(&mut *tx)
        .await?;
        done.created.push(partition.name);
    }

    let rolled_until: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT rolled_until FROM history_rollup_state")
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((from, to)) = history::rollup_window(rolled_until, now, retention.traffic_days) {
        done.rolled_up = sqlx::query(ROLL_UP)
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "INSERT INTO history_rollup_state (rolled_until) VALUES ($1)
             ON CONFLICT (singleton) DO UPDATE SET rolled_until = EXCLUDED.rolled_until",
        )
        .bind(to)
        .execute(&mut *tx)
        .await?;
    }

    for table in [TrafficTable::FiveMinute, TrafficTable::Hourly] {
        let existing: Vec<String> = sqlx::query_scalar(PARTITIONS_OF)
            .bind(table.name())
            .fetch_all(&mut *tx)
            .await?;
        for name in history::expired_partitions(table, &existing, now, retention) {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {name}")))
                .execute(&mut *tx)
                .await?;
            done.dropped.push(name.to_owned());
        }
    }
    tx.commit().await?;
    Ok(done)
}

/// The partitions of a traffic table, by name.
pub async fn partitions(db: impl PgExecutor<'_>, table: TrafficTable) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(PARTITIONS_OF)
        .bind(table.name())
        .fetch_all(db)
        .await?)
}

const TRAFFIC_5M: &str = "
    SELECT bucket AS at, rx_bytes, tx_bytes FROM router_traffic_5m
    WHERE router_id = $1 AND bucket >= $2 ORDER BY bucket LIMIT $3";
const TRAFFIC_1H: &str = "
    SELECT hour AS at, rx_bytes, tx_bytes FROM router_traffic_1h
    WHERE router_id = $1 AND hour >= $2 ORDER BY hour LIMIT $3";
/// The newest transitions of the span, oldest first.
const STATUS_CHANGES: &str = "
    SELECT at, from_status AS from, to_status AS to FROM (
        SELECT at, id, from_status, to_status FROM router_transitions
        WHERE router_id = $1 AND kind = 'status' AND at >= $2 ORDER BY at DESC, id DESC LIMIT $3
    ) AS newest ORDER BY at, id";
const ENDPOINT_CHANGES: &str = "
    SELECT at, endpoint FROM (
        SELECT at, id, endpoint FROM router_endpoints
        WHERE router_id = $1 AND at >= $2 ORDER BY at DESC, id DESC LIMIT $3
    ) AS newest ORDER BY at, id";

/// The most traffic points one history returns: two days of 5-minute buckets, or 400 days of
/// hours.
const TRAFFIC_POINTS_MAX: i64 = 400 * 24;

/// A router's history since `since` (`now` decides the resolution). Runs as the caller's
/// executor, so through the API it sees only what row-level security lets it.
pub async fn router_history(
    conn: &mut PgConnection,
    router_id: i64,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<RouterHistory> {
    let traffic_query = match Resolution::for_span(now - since) {
        Resolution::FiveMinute => TRAFFIC_5M,
        Resolution::Hourly => TRAFFIC_1H,
    };
    Ok(RouterHistory {
        traffic: span_rows(conn, traffic_query, router_id, since, TRAFFIC_POINTS_MAX).await?,
        transitions: span_rows(conn, STATUS_CHANGES, router_id, since, HISTORY_EVENTS_MAX).await?,
        endpoints: span_rows(conn, ENDPOINT_CHANGES, router_id, since, HISTORY_EVENTS_MAX).await?,
    })
}

/// One of a router's history queries: $1 the router, $2 the span's start, $3 the most rows.
async fn span_rows<T>(
    conn: &mut PgConnection,
    query: &'static str,
    router_id: i64,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    Ok(sqlx::query_as(query)
        .bind(router_id)
        .bind(since)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// For each router: the status it had at `from` (its last change before) and every change
/// since, in order.
const TIMELINES: &str = "
    SELECT u.rid, c.at, c.to_status
    FROM unnest($1::bigint[]) AS u(rid)
    CROSS JOIN LATERAL (
        (SELECT t.at, t.to_status FROM router_transitions t
         WHERE t.router_id = u.rid AND t.kind = 'status' AND t.at < $2 ORDER BY t.at DESC LIMIT 1)
        UNION ALL
        (SELECT t.at, t.to_status FROM router_transitions t
         WHERE t.router_id = u.rid AND t.kind = 'status' AND t.at >= $2)
    ) AS c
    ORDER BY 1, 2";

/// Routers' status timelines from `from` on, by router id (routers without any change are
/// left out).
pub async fn timelines(
    db: impl PgExecutor<'_>,
    router_ids: &[i64],
    from: DateTime<Utc>,
) -> Result<HashMap<i64, Timeline>> {
    let rows: Vec<(i64, DateTime<Utc>, RouterStatus)> = sqlx::query_as(TIMELINES)
        .bind(router_ids)
        .bind(from)
        .fetch_all(db)
        .await?;
    let mut timelines: HashMap<i64, Timeline> = HashMap::new();
    for (router_id, at, status) in rows {
        timelines
            .entry(router_id)
            .or_default()
            .changes
            .push((at, status));
    }
    Ok(timelines)
}

/// Routers' availability over 24 h, 7 d and 30 d up to `now`, by router id (every id given
/// has an entry; null spans without data).
pub async fn availabilities(
    db: impl PgExecutor<'_>,
    router_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<HashMap<i64, Availability>> {
    let from = now - chrono::TimeDelta::days(AVAILABILITY_SPAN_DAYS);
    let mut timelines = timelines(db, router_ids, from).await?;
    Ok(router_ids
        .iter()
        .map(|id| {
            let timeline = timelines.remove(id).unwrap_or_default();
            (*id, Availability::over(&timeline, now))
        })
        .collect())
}

/// One router's availability over 24 h, 7 d and 30 d up to `now`.
pub async fn availability(
    db: impl PgExecutor<'_>,
    router_id: i64,
    now: DateTime<Utc>,
) -> Result<Availability> {
    let mut all = availabilities(db, &[router_id], now).await?;
    Ok(all
        .remove(&router_id)
        .unwrap_or_else(|| Availability::over(&Timeline::default(), now)))
}

/// One row of `router_transitions` with its names: `tikwire events` and the console's feed.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct EventRow {
    id: i64,
    at: DateTime<Utc>,
    kind: String,
    tenant: String,
    router: String,
    hub: String,
    from_status: Option<RouterStatus>,
    to_status: Option<RouterStatus>,
}

/// The newest events since `since` (and after id `after`), oldest first.
const EVENTS: &str = "
    SELECT * FROM (
        SELECT e.id, e.at, e.kind, t.name AS tenant, r.name AS router, h.name AS hub,
               e.from_status, e.to_status
        FROM router_transitions e
        JOIN routers r ON r.id = e.router_id
        JOIN tenants t ON t.id = e.tenant_id
        JOIN hubs h ON h.id = e.hub_id
        WHERE e.at >= $1 AND e.id > $2 AND ($3::text IS NULL OR t.name = $3)
        ORDER BY e.at DESC, e.id DESC LIMIT $4
    ) AS newest ORDER BY at, id";

/// Fleet events (transitions and first handshakes) since `since` with an id above `after`,
/// at most `limit` (the newest), oldest first, each with its id (for following).
pub async fn events(
    db: impl PgExecutor<'_>,
    tenant: Option<&str>,
    since: DateTime<Utc>,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, FleetEvent)>> {
    let rows: Vec<EventRow> = sqlx::query_as(EVENTS)
        .bind(since)
        .bind(after)
        .bind(tenant)
        .bind(limit)
        .fetch_all(db)
        .await?;
    rows.into_iter().map(EventRow::into_event).collect()
}

impl EventRow {
    /// The event this row records, with its id; a row of an unknown shape is an error.
    pub(super) fn into_event(self) -> Result<(i64, FleetEvent)> {
        let row = self;
        let event = match (row.kind.as_str(), row.from_status, row.to_status) {
            ("status", Some(from), Some(to)) => FleetEvent::Status {
                at: row.at,
                tenant: row.tenant,
                router: row.router,
                hub: row.hub,
                from,
                to,
            },
            ("first_handshake", None, None) => FleetEvent::FirstHandshake {
                at: row.at,
                tenant: row.tenant,
                router: row.router,
                hub: row.hub,
            },
            (kind, ..) => {
                return Err(crate::Error::Other(format!(
                    "router_transitions row {} has an unknown shape (kind {kind:?})",
                    row.id
                )));
            }
        };
        Ok((row.id, event))
    }
}

/// Sample history for `tikwire demo`, derived from the tenant's (demo) status columns: each
/// router's first handshake and coming online, its current endpoint since then, a dip for one
/// router in five yesterday, its current stale/offline status since its last handshake, and
/// traffic for online routers (5-minute buckets over a day, hourly over 30 days).
const DEMO_HISTORY: [&str; 6] = [
    "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
     SELECT router_id, tenant_id, hub_id, first_handshake_at, 'status', 'pending', 'online'
     FROM vpn_configurations WHERE tenant_id = $1 AND first_handshake_at IS NOT NULL",
    "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind)
     SELECT router_id, tenant_id, hub_id, first_handshake_at, 'first_handshake'
     FROM vpn_configurations WHERE tenant_id = $1 AND first_handshake_at IS NOT NULL",
    "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
     SELECT router_id, tenant_id, hub_id, d.at, 'status', d.from_status, d.to_status
     FROM vpn_configurations v
     CROSS JOIN LATERAL (VALUES
         ($2 - interval '20 hours' - (router_id % 240) * interval '1 minute', 'online', 'offline'),
         ($2 - interval '19 hours' - (router_id % 240) * interval '1 minute', 'offline', 'online')
     ) AS d(at, from_status, to_status)
     WHERE tenant_id = $1 AND router_id % 5 = 0 AND status = 'online'
       AND first_handshake_at < $2 - interval '21 hours'",
    "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
     SELECT router_id, tenant_id, hub_id, last_handshake_at + interval '3 minutes', 'status', 'online', status
     FROM vpn_configurations WHERE tenant_id = $1 AND status IN ('stale', 'offline')",
    "INSERT INTO router_endpoints (router_id, tenant_id, at, endpoint)
     SELECT router_id, tenant_id, first_handshake_at, last_endpoint
     FROM vpn_configurations WHERE tenant_id = $1 AND last_endpoint IS NOT NULL",
    "WITH five AS (
         INSERT INTO router_traffic_5m (router_id, tenant_id, bucket, rx_bytes, tx_bytes)
         SELECT router_id, tenant_id, date_bin('5 minutes', $2, 'epoch') - k * interval '5 minutes',
                (random() * 4e6)::bigint, (random() * 6e5)::bigint
         FROM vpn_configurations, generate_series(1, 288) k
         WHERE tenant_id = $1 AND status = 'online'
     )
     INSERT INTO router_traffic_1h (router_id, tenant_id, hour, rx_bytes, tx_bytes)
     SELECT router_id, tenant_id, date_trunc('hour', $2, 'UTC') - k * interval '1 hour',
            (random() * 5e7)::bigint, (random() * 7e6)::bigint
     FROM vpn_configurations, generate_series(1, 720) k
     WHERE tenant_id = $1 AND status = 'online'",
];

/// Writes sample history for a demo tenant (partitions must exist: [`maintain`] first).
pub async fn write_demo_history(
    conn: &mut PgConnection,
    tenant_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut tx = conn.begin().await?;
    for statement in DEMO_HISTORY {
        sqlx::query(statement)
            .bind(tenant_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// One row of `alert_events` with its names: `tikwire events` and the console's feed.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct AlertRow {
    id: i64,
    at: DateTime<Utc>,
    alert: String,
    tenant: String,
    router: String,
    hub: String,
    /// A hub alert: how many routers' alerts it stands for (the body's `routers`).
    pub(super) routers: Option<i64>,
}

/// What each alert query selects into an [`AlertRow`] (its WHERE, ORDER and LIMIT follow):
/// `alert_events a` with its tenant `t` and hub `h`. The router's and tenant's names come from
/// the alert's own body (an alert outlives its router).
macro_rules! select_alert_rows {
    () => {
        "SELECT a.id, a.at, a.type AS alert,
                COALESCE(t.name, a.body->'data'->>'tenant', '') AS tenant,
                COALESCE(a.body->'data'->>'router', '') AS router,
                COALESCE(h.name, a.body->'data'->>'hub', '') AS hub,
                (a.body->'data'->>'routers')::bigint AS routers
         FROM alert_events a
         LEFT JOIN tenants t ON t.id = a.tenant_id
         LEFT JOIN hubs h ON h.id = a.hub_id"
    };
}
pub(super) use select_alert_rows;

/// The newest alerts since `since` (and after alert id `after`), oldest first: the hub-wide
/// originals, not the per-tenant copies of a hub alert.
const ALERTS: &str = concat!(
    "SELECT * FROM (",
    select_alert_rows!(),
    " WHERE a.at >= $1 AND a.id > $2 AND NOT a.tenant_copy
        AND ($3::text IS NULL OR t.name = $3)
      ORDER BY a.at DESC, a.id DESC LIMIT $4
    ) AS newest ORDER BY at, id"
);

/// The rows of [`alerts`].
pub(super) async fn alert_rows(
    db: impl PgExecutor<'_>,
    tenant: Option<&str>,
    since: DateTime<Utc>,
    after: i64,
    limit: i64,
) -> Result<Vec<AlertRow>> {
    Ok(sqlx::query_as(ALERTS)
        .bind(since)
        .bind(after)
        .bind(tenant)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// Alerts since `since` with an id above `after`, at most `limit` (the newest), oldest first,
/// each with its id (alert ids, apart from [`events`]' ids).
pub async fn alerts(
    db: impl PgExecutor<'_>,
    tenant: Option<&str>,
    since: DateTime<Utc>,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, FleetEvent)>> {
    let rows = alert_rows(db, tenant, since, after, limit).await?;
    rows.into_iter().map(AlertRow::into_event).collect()
}

impl AlertRow {
    /// The event this row records, with its id; an alert type this build does not know is
    /// an error.
    pub(super) fn into_event(self) -> Result<(i64, FleetEvent)> {
        let row = self;
        let alert = crate::alerts::AlertKind::parse(&row.alert)
            .map_err(|e| crate::Error::Other(format!("alert_events row {}: {}", row.id, e.0)))?;
        Ok((
            row.id,
            FleetEvent::Alert {
                at: row.at,
                alert,
                tenant: row.tenant,
                router: row.router,
                hub: row.hub,
            },
        ))
    }
}

/// The same on the store's pool.
impl Store {
    pub async fn write_demo_history(&self, tenant_id: i64, now: DateTime<Utc>) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        write_demo_history(&mut conn, tenant_id, now).await
    }

    pub async fn maintain_history(
        &self,
        now: DateTime<Utc>,
        retention: Retention,
    ) -> Result<Maintenance> {
        let mut conn = self.pool.acquire().await?;
        maintain(&mut conn, now, retention).await
    }

    pub async fn router_history(
        &self,
        router_id: i64,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<RouterHistory> {
        let mut conn = self.pool.acquire().await?;
        router_history(&mut conn, router_id, since, now).await
    }

    pub async fn availability(&self, router_id: i64, now: DateTime<Utc>) -> Result<Availability> {
        availability(&self.pool, router_id, now).await
    }

    pub async fn events(
        &self,
        tenant: Option<&str>,
        since: DateTime<Utc>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, FleetEvent)>> {
        events(&self.pool, tenant, since, after, limit).await
    }

    pub async fn alerts(
        &self,
        tenant: Option<&str>,
        since: DateTime<Utc>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, FleetEvent)>> {
        alerts(&self.pool, tenant, since, after, limit).await
    }
}
