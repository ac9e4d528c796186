//! Small reads the console's monitoring views need beside those of [`super::history`]: where a
//! router stands now (for its detail view), where the console's live feed starts (the newest
//! transition and alert, so opening it does not toast the past), the transitions and alerts
//! after that (the feed's read on each status notification) and the newest of both for the
//! events view. Rows become events through the mappings `tikwire events` uses.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::Store;
use super::history::{AlertRow, EventRow, select_alert_rows};
use crate::Result;
use crate::history::FleetEvent;
use crate::model::RouterStatus;

/// A router as its detail view heads it: stored status, hub and last contact.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RouterNow {
    pub hub_id: i64,
    pub hub: String,
    pub status: RouterStatus,
    pub last_handshake_at: Option<DateTime<Utc>>,
    pub last_endpoint: Option<String>,
    /// When the router was provisioned: its status dates from then until its first transition.
    pub created_at: DateTime<Utc>,
}

const ROUTER_NOW: &str = "
    SELECT c.hub_id, h.name AS hub, c.status, c.last_handshake_at, c.last_endpoint, r.created_at
    FROM vpn_configurations c JOIN hubs h ON h.id = c.hub_id JOIN routers r ON r.id = c.router_id
    WHERE c.router_id = $1";

/// Where router `router_id` stands now; `None` when it is gone.
pub async fn router_now(db: impl PgExecutor<'_>, router_id: i64) -> Result<Option<RouterNow>> {
    Ok(sqlx::query_as(ROUTER_NOW)
        .bind(router_id)
        .fetch_optional(db)
        .await?)
}

/// Where a fleet event sits in its table: transitions and alerts are numbered apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventId {
    Transition(i64),
    Alert(i64),
}

/// One event of the console's feed and events view: a transition or a judged alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    pub id: EventId,
    pub event: FleetEvent,
    /// A hub alert: how many routers' alerts it folds (a storm, a mass recovery).
    pub routers: Option<i64>,
}

impl FeedEvent {
    fn transition((id, event): (i64, FleetEvent)) -> Self {
        Self {
            id: EventId::Transition(id),
            event,
            routers: None,
        }
    }

    fn alert(row: AlertRow) -> Result<Self> {
        let routers = row.routers;
        let (id, event) = row.into_event()?;
        Ok(Self {
            id: EventId::Alert(id),
            event,
            routers,
        })
    }
}

/// How far the live feed has read each table. Ids follow commit order within a table, so
/// each table has its own cursor; time merges the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FeedCursor {
    pub transitions: i64,
    pub alerts: i64,
}

impl FeedCursor {
    /// Whether `id` is beyond what this cursor has read.
    pub fn precedes(self, id: EventId) -> bool {
        match id {
            EventId::Transition(id) => id > self.transitions,
            EventId::Alert(id) => id > self.alerts,
        }
    }

    /// The cursor moved past `events`.
    pub fn past<'a>(mut self, events: impl IntoIterator<Item = &'a FeedEvent>) -> Self {
        for event in events {
            match event.id {
                EventId::Transition(id) => self.transitions = self.transitions.max(id),
                EventId::Alert(id) => self.alerts = self.alerts.max(id),
            }
        }
        self
    }
}

/// Oldest first; at one instant a transition before the alert it raised.
fn by_time(events: &mut [FeedEvent]) {
    events.sort_by_key(|e| (e.event.at(), e.id));
}

/// Where the feed starts: the newest id of each table (0 without any), two index lookups.
const FEED_START: &str = "
    SELECT (SELECT coalesce(max(id), 0) FROM router_transitions),
           (SELECT coalesce(max(id), 0) FROM alert_events)";

pub async fn feed_start(db: impl PgExecutor<'_>) -> Result<FeedCursor> {
    let (transitions, alerts) = sqlx::query_as(FEED_START).fetch_one(db).await?;
    Ok(FeedCursor {
        transitions,
        alerts,
    })
}

/// The newest transitions with an id above `$1`, at most `$2`, oldest first. By id on the
/// primary key: a read costs what is new, however many events the day had.
const TRANSITIONS_AFTER: &str = "
    SELECT * FROM (
        SELECT e.id, e.at, e.kind, t.name AS tenant, r.name AS router, h.name AS hub,
               e.from_status, e.to_status
        FROM router_transitions e
        JOIN routers r ON r.id = e.router_id
        JOIN tenants t ON t.id = e.tenant_id
        JOIN hubs h ON h.id = e.hub_id
        WHERE e.id > $1
        ORDER BY e.id DESC LIMIT $2
    ) AS newest ORDER BY id";

/// The same for alerts: the hub-wide originals (a hub alert's per-tenant copies say it again).
const ALERTS_AFTER: &str = concat!(
    "SELECT * FROM (",
    select_alert_rows!(),
    " WHERE a.id > $1 AND NOT a.tenant_copy
      ORDER BY a.id DESC LIMIT $2
    ) AS newest ORDER BY id"
);

/// The fleet's transitions and alerts after `after` (the newest `limit` of each table),
/// merged by time, oldest first: what the console's live feed reads on each status
/// notification. Two reads on the primary keys, each bounded.
pub async fn feed_after(
    conn: &mut PgConnection,
    after: FeedCursor,
    limit: i64,
) -> Result<Vec<FeedEvent>> {
    let transitions: Vec<EventRow> = sqlx::query_as(TRANSITIONS_AFTER)
        .bind(after.transitions)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    let alerts: Vec<AlertRow> = sqlx::query_as(ALERTS_AFTER)
        .bind(after.alerts)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    merged(transitions, alerts)
}

fn merged(transitions: Vec<EventRow>, alerts: Vec<AlertRow>) -> Result<Vec<FeedEvent>> {
    let mut events = transitions
        .into_iter()
        .map(|row| row.into_event().map(FeedEvent::transition))
        .chain(alerts.into_iter().map(FeedEvent::alert))
        .collect::<Result<Vec<_>>>()?;
    by_time(&mut events);
    Ok(events)
}

/// The newest transitions and alerts of `tenant` (all: `None`) since `since`, at most `limit`
/// of each, merged by time, oldest first: what the events view opens with. The same reads as
/// `tikwire events`.
pub async fn recent_events(
    conn: &mut PgConnection,
    tenant: Option<&str>,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<FeedEvent>> {
    let transitions = super::history::events(&mut *conn, tenant, since, 0, limit).await?;
    let alerts = super::history::alert_rows(&mut *conn, tenant, since, 0, limit).await?;
    let mut events: Vec<FeedEvent> = transitions
        .into_iter()
        .map(FeedEvent::transition)
        .chain(
            alerts
                .into_iter()
                .map(FeedEvent::alert)
                .collect::<Result<Vec<_>>>()?,
        )
        .collect();
    by_time(&mut events);
    Ok(events)
}

/// The same on the store's pool.
impl Store {
    pub async fn router_now(&self, router_id: i64) -> Result<Option<RouterNow>> {
        router_now(&self.pool, router_id).await
    }

    pub async fn feed_start(&self) -> Result<FeedCursor> {
        feed_start(&self.pool).await
    }

    pub async fn feed_after(&self, after: FeedCursor, limit: i64) -> Result<Vec<FeedEvent>> {
        let mut conn = self.pool.acquire().await?;
        feed_after(&mut conn, after, limit).await
    }

    pub async fn recent_events(
        &self,
        tenant: Option<&str>,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<FeedEvent>> {
        let mut conn = self.pool.acquire().await?;
        recent_events(&mut conn, tenant, since, limit).await
    }

    /// A router's status timeline from `from` on ([`super::history::timelines`]).
    pub async fn status_timeline(
        &self,
        router_id: i64,
        from: DateTime<Utc>,
    ) -> Result<crate::history::Timeline> {
        let mut timelines = super::history::timelines(&self.pool, &[router_id], from).await?;
        Ok(timelines.remove(&router_id).unwrap_or_default())
    }
}
