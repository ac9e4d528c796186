//! Reading the audit log (writes go through `store::audit` inside each change's transaction).

use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use serde::Serialize;
use sqlx::Row as _;

use super::Store;
use crate::Result;

/// One audited action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The OS user (command line, console) or `token:NAME` (API).
    pub actor: String,
    pub action: String,
    pub tenant: Option<String>,
    pub router: Option<String>,
    pub token_name: Option<String>,
    /// The API client's address, or the SSH client's for the command line.
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
    pub detail: serde_json::Value,
}

impl Store {
    /// Entries oldest first, one at a time (memory stays flat however long the log is).
    pub fn audit_entries<'a>(
        &'a self,
        tenant: Option<&'a str>,
        since: Option<DateTime<Utc>>,
    ) -> BoxStream<'a, Result<AuditEntry>> {
        use futures_util::StreamExt as _;
        sqlx::query(
            "SELECT id, at, actor, action, tenant, router, token_name, client_addr, request_id, detail
             FROM audit_log
             WHERE ($1::text IS NULL OR tenant = $1) AND ($2::timestamptz IS NULL OR at >= $2)
             ORDER BY at, id",
        )
        .bind(tenant)
        .bind(since)
        .fetch(&self.pool)
        .map(|row| {
            let row = row?;
            Ok(AuditEntry {
                id: row.try_get("id")?,
                at: row.try_get("at")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                tenant: row.try_get("tenant")?,
                router: row.try_get("router")?,
                token_name: row.try_get("token_name")?,
                client_addr: row.try_get("client_addr")?,
                request_id: row.try_get("request_id")?,
                detail: row.try_get("detail")?,
            })
        })
        .boxed()
    }
}
