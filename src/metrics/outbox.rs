//! The webhook outbox's figures for `/metrics`.
//!
//! The outbox itself is the alerts' (migration 0008, `src/store/webhooks.rs`).

use crate::Result;
use crate::store::{Store, webhooks};

/// How the webhook outbox stands, read once per poll (never per scrape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxFigures {
    /// Deliveries waiting to be sent or retried.
    pub pending: u64,
    /// Deliveries given up on (retries exhausted, or the endpoint disabled).
    pub failed: u64,
}

/// The outbox's figures, read by the agent after every successful poll (one aggregate query
/// over the deliveries; the pending ones come from the workers' partial index).
pub async fn read_outbox_figures(store: &Store) -> Result<Option<OutboxFigures>> {
    let (pending, failed) = webhooks::outbox_depth(store.pool()).await?;
    Ok(Some(OutboxFigures {
        pending: pending.max(0) as u64,
        failed: failed.max(0) as u64,
    }))
}
