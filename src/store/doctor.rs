//! Reads for `tikwire doctor`: the schema's migration record and the agent's heartbeat.

use chrono::{DateTime, Utc};

use super::Store;
use crate::Result;

/// One row of sqlx's migration record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AppliedMigration {
    pub version: i64,
    pub success: bool,
}

/// The agent's heartbeat row for one hub.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AgentHeartbeat {
    pub host: String,
    pub pid: i32,
    pub updated_at: DateTime<Utc>,
    /// The database's clock at the time of reading, so ages do not depend on this host's.
    pub now: DateTime<Utc>,
    pub last_error: Option<String>,
}

impl Store {
    /// Migrations recorded in the database; empty when it was never migrated.
    pub async fn migration_record(&self) -> Result<Vec<AppliedMigration>> {
        let exists: bool =
            sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        if !exists {
            return Ok(Vec::new());
        }
        Ok(
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The agent's last heartbeat for a hub, if any agent ever ran for it.
    pub async fn agent_heartbeat(&self, hub_id: i64) -> Result<Option<AgentHeartbeat>> {
        Ok(sqlx::query_as(
            "SELECT host, pid, updated_at, now() AS now, last_error FROM wg_agent_status WHERE hub_id = $1",
        )
        .bind(hub_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}
