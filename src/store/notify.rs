//! Change announcements: every write NOTIFYs channel `tikwire` with a small JSON payload, so
//! every open console reloads just what changed.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;

use super::Tx;
use crate::Result;

pub const CHANNEL: &str = "tikwire";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// "tenant", "router", "hub" or "status".
    pub kind: String,
    /// "insert", "update", "delete" or "import".
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
}

impl Change {
    pub fn new(kind: &str, op: &str) -> Self {
        Self {
            kind: kind.into(),
            op: op.into(),
            tenant_id: None,
            hub_id: None,
            id: None,
        }
    }

    pub fn tenant(mut self, tenant_id: i64) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }

    pub fn hub(mut self, hub_id: i64) -> Self {
        self.hub_id = Some(hub_id);
        self
    }

    pub fn id(mut self, id: i64) -> Self {
        self.id = Some(id);
        self
    }
}

/// Queues a notification; PostgreSQL delivers it when the transaction commits.
pub(crate) async fn publish(tx: &mut Tx<'_>, change: &Change) -> Result<()> {
    let payload = serde_json::to_string(change).expect("Change serializes");
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Receives changes made by any tikwire process.
pub struct ChangeListener {
    listener: PgListener,
}

impl ChangeListener {
    pub async fn connect(url: &str) -> Result<Self> {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        Ok(Self { listener })
    }

    /// The next change. A payload tikwire cannot read becomes a catch-all "unknown" change,
    /// so a newer writer never stalls an older console.
    pub async fn recv(&mut self) -> Result<Change> {
        let notification = self.listener.recv().await?;
        Ok(serde_json::from_str(notification.payload())
            .unwrap_or_else(|_| Change::new("unknown", "update")))
    }
}
