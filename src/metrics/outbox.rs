//! The webhook outbox's figures for `/metrics`.
//!
//! The outbox itself belongs to the alerts work (migration 0008, `src/store/webhooks.rs`),
//! built in parallel: nothing here reads its tables yet, and until it is wired the exposition
//! emits no outbox series at all rather than zeros that would look like a healthy outbox.

use crate::Result;
use crate::store::Store;

/// How the webhook outbox stands, read once per poll (never per scrape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxFigures {
    /// Deliveries waiting to be sent or retried.
    pub pending: u64,
    /// Deliveries given up on (retries exhausted, or the endpoint disabled).
    pub failed: u64,
}

/// The outbox's figures for the hub's agent; `None` while there is no outbox to read.
///
/// MERGE(lead): when the alerts branch lands, replace the body with one aggregate query in
/// `src/store/webhooks.rs` (e.g. `SELECT count(*) FILTER (WHERE <pending>), count(*) FILTER
/// (WHERE <failed>) FROM <outbox table>`, taking `impl PgExecutor<'_>`), and return
/// `Ok(Some(OutboxFigures { pending, failed }))`. The agent already calls this after every
/// successful poll and the exposition already renders `tikwire_webhook_outbox_pending` and
/// `tikwire_webhook_outbox_failed` from what it returns.
pub async fn read_outbox_figures(_store: &Store) -> Result<Option<OutboxFigures>> {
    Ok(None)
}
