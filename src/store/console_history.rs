//! Small reads the console's monitoring views need beside those of [`super::history`]: where a
//! router stands now (for its detail view) and the newest event id (where the console's
//! live event feed starts, so opening it does not toast the past).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::Store;
use crate::Result;
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

/// The same on the store's pool.
impl Store {
    pub async fn router_now(&self, router_id: i64) -> Result<Option<RouterNow>> {
        router_now(&self.pool, router_id).await
    }

    pub async fn newest_event_id(&self) -> Result<i64> {
        newest_event_id(&self.pool).await
    }

    /// A router's status timeline from `from` on ([`super::history::timeline`]).
    pub async fn status_timeline(
        &self,
        router_id: i64,
        from: DateTime<Utc>,
    ) -> Result<crate::history::Timeline> {
        super::history::timeline(&self.pool, router_id, from).await
    }
}
