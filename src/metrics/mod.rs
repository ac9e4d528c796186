//! Prometheus metrics of the hub agent (`tikwire agent --metrics-listen ADDR`).
//!
//! The agent records into an [`AgentMetrics`] as it works: durations and outcomes of polls and
//! reconciles, and after each successful poll a whole [`HubFigures`] of the hub (routers by
//! tenant and status, peers, optionally every router). A scrape takes a [`MetricsSnapshot`]
//! (a few numbers and one `Arc`, under a short lock) and renders it: no database query and
//! no walk of anything but the snapshot, whatever the scrape rate.
//!
//! - [`figures`]: what one poll hands over.
//! - [`histogram`]: fixed-bucket duration histograms.
//! - [`exposition`]: the classic text format and OpenMetrics, chosen by `Accept` (pure).
//! - [`outbox`]: the webhook outbox's figures (wired when the outbox exists).
//! - [`server`]: the `/metrics` listener (axum).

pub mod exposition;
pub mod figures;
pub mod histogram;
pub mod outbox;
pub mod server;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use exposition::{Format, render};
pub use figures::{HubFigures, RouterFigures, TenantRouters};
pub use histogram::Histogram;
pub use outbox::OutboxFigures;

/// Whether a poll or reconcile worked, as the `result` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

/// Everything a scrape renders, copied out of the recorder at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSnapshot {
    pub hub: Arc<str>,
    /// The agent's configured poll interval.
    pub interval: Duration,
    pub polls_succeeded: u64,
    pub polls_failed: u64,
    pub poll_seconds: Histogram,
    pub reconcile_errors: u64,
    pub reconcile_seconds: Histogram,
    pub last_poll_success: Option<DateTime<Utc>>,
    /// The latest successful poll's view of the hub; `None` before the first one.
    pub hub_figures: Option<Arc<HubFigures>>,
    /// `None` until the webhook outbox is wired (then nothing is emitted for it).
    pub outbox: Option<OutboxFigures>,
}

/// The agent's side of the metrics: cheap to clone, shared with the `/metrics` server.
#[derive(Debug, Clone)]
pub struct AgentMetrics {
    per_router: bool,
    recorded: Arc<Mutex<MetricsSnapshot>>,
}

impl AgentMetrics {
    /// `per_router`: also keep every router's traffic and handshake (`--metrics-per-router`).
    pub fn new(hub: &str, interval: Duration, per_router: bool) -> Self {
        Self {
            per_router,
            recorded: Arc::new(Mutex::new(MetricsSnapshot {
                hub: hub.into(),
                interval,
                polls_succeeded: 0,
                polls_failed: 0,
                poll_seconds: Histogram::default(),
                reconcile_errors: 0,
                reconcile_seconds: Histogram::default(),
                last_poll_success: None,
                hub_figures: None,
                outbox: None,
            })),
        }
    }

    pub fn per_router(&self) -> bool {
        self.per_router
    }

    /// A poll ended after `took`; on success, `figures` is the hub as it saw it.
    pub fn record_poll(&self, took: Duration, outcome: Outcome, figures: Option<HubFigures>) {
        let mut recorded = self.lock();
        recorded.poll_seconds.observe(took.as_secs_f64());
        match outcome {
            Outcome::Success => recorded.polls_succeeded += 1,
            Outcome::Failure => recorded.polls_failed += 1,
        }
        if let Some(figures) = figures {
            recorded.last_poll_success = Some(figures.taken_at);
            recorded.hub_figures = Some(Arc::new(figures));
        }
    }

    pub fn record_reconcile(&self, took: Duration, outcome: Outcome) {
        let mut recorded = self.lock();
        recorded.reconcile_seconds.observe(took.as_secs_f64());
        if outcome == Outcome::Failure {
            recorded.reconcile_errors += 1;
        }
    }

    pub fn record_outbox(&self, outbox: Option<OutboxFigures>) {
        self.lock().outbox = outbox;
    }

    /// What a scrape renders. The hub's figures are shared, not copied.
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, MetricsSnapshot> {
        // Every writer leaves the numbers consistent between statements: a panic elsewhere
        // while holding the lock cannot leave them half-written, so poisoning is ignored.
        self.recorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_hands_its_figures_over_and_failures_keep_the_last_ones() {
        let metrics = AgentMetrics::new("hub1", Duration::from_secs(5), false);
        let at = DateTime::from_timestamp(1_764_680_000, 0).unwrap();
        let figures = HubFigures::from_routers(std::iter::empty(), 3, 1, at, false);
        metrics.record_poll(Duration::from_millis(4), Outcome::Success, Some(figures));
        metrics.record_poll(Duration::from_millis(2), Outcome::Failure, None);
        metrics.record_reconcile(Duration::from_millis(30), Outcome::Failure);
        let snap = metrics.snapshot();
        assert_eq!((snap.polls_succeeded, snap.polls_failed), (1, 1));
        assert_eq!(snap.poll_seconds.count(), 2);
        assert_eq!(snap.last_poll_success, Some(at));
        assert_eq!(snap.hub_figures.map(|f| f.peers), Some(3));
        assert_eq!(snap.reconcile_errors, 1);
        assert_eq!(snap.reconcile_seconds.count(), 1);
        assert_eq!(snap.outbox, None);
    }
}
