//! Change announcements: every write NOTIFYs channel `tikwire` with a small JSON payload, so
//! every open console reloads just what changed.

use sqlx::postgres::PgListener;

use super::Tx;
use crate::Result;
pub use crate::events::{Change, ChangeKind};

pub const CHANNEL: &str = "tikwire";

/// Queues a notification; PostgreSQL delivers it when the transaction commits.
pub(crate) async fn publish(tx: &mut Tx<'_>, change: &Change) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(change.to_json())
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

    /// Listens on a connection of the store's pool (no second URL to keep in step).
    pub async fn from_store(store: &super::Store) -> Result<Self> {
        let mut listener = PgListener::connect_with(&store.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Self { listener })
    }

    /// The next change; `None` for a payload this version cannot read (a newer writer), which
    /// a listener treats as "anything may have changed" rather than stalling.
    pub async fn recv(&mut self) -> Result<Option<Change>> {
        let notification = self.listener.recv().await?;
        let change = Change::from_json(notification.payload());
        if change.is_none() {
            tracing::warn!(
                "unreadable change notification ({} bytes)",
                notification.payload().len()
            );
        }
        Ok(change)
    }
}
