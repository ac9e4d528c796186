//! Small reads the console's monitoring views need beside those of [`super::history`]: where a
//! router stands now (for its detail view), the newest event id (where the console's live
//! event feed starts, so opening it does not toast the past) and the events after an id (the
//! feed's read on each status notification).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::Store;
use super::history::EventRow;
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
}

const ROUTER_NOW: &str = "
    SELECT c.hub_id, h.name AS hub, c.status, c.last_handshake_at, c.last_endpoint
    FROM vpn_configurations c JOIN hubs h ON h.id = c.hub_id
    WHERE c.router_id = $1";

/// Where router `router_id` stands now; `None` when it is gone.
pub async fn router_now(db: impl PgExecutor<'_>, router_id: i64) -> Result<Option<RouterNow>> {
    Ok(sqlx::query_as(ROUTER_NOW)
        .bind(router_id)
        .fetch_optional(db)
        .await?)
}

/// The id of the newest fleet event (0 without any): one index lookup.
pub async fn newest_event_id(db: impl PgExecutor<'_>) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM router_transitions")
            .fetch_one(db)
            .await?,
    )
}

/// The newest events with an id above `$1`, at most `$2`, oldest first. By id on the primary
/// key: a read costs what is new, however many events the day had.
const EVENTS_AFTER: &str = "
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

/// The fleet's events after id `after` (the newest `limit` of them), oldest first: what the
/// console's live feed reads on each status notification.
pub async fn events_after(
    db: impl PgExecutor<'_>,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, FleetEvent)>> {
    let rows: Vec<EventRow> = sqlx::query_as(EVENTS_AFTER)
        .bind(after)
        .bind(limit)
        .fetch_all(db)
        .await?;
    rows.into_iter().map(EventRow::into_event).collect()
}

/// The same on the store's pool.
impl Store {
    pub async fn router_now(&self, router_id: i64) -> Result<Option<RouterNow>> {
        router_now(&self.pool, router_id).await
    }

    pub async fn newest_event_id(&self) -> Result<i64> {
        newest_event_id(&self.pool).await
    }

    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<(i64, FleetEvent)>> {
        events_after(&self.pool, after, limit).await
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
