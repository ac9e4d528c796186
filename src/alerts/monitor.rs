//! The agent's side of alerts for one hub: feeds each poll's status changes to the engine,
//! keeps the resulting events until the poll's transaction commits them to the outbox (a
//! failed write keeps them for the next one: computed once, never lost, never doubled), then
//! wakes the delivery worker and runs the hook command.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::engine::{AlertEngine, AlertRules, RouterChange, RouterId};
use super::event::{OutboxEvent, RouterFacts, outbox_events};
use super::hook::HookCommand;
use crate::model::RouterStatus;

/// Events kept while the database is away; beyond this the oldest are dropped (logged).
const MAX_UNSENT: usize = 10_000;

/// What a hub's alerts need from the agent.
#[derive(Debug, Clone)]
pub struct AlertSetup {
    pub rules: AlertRules,
    pub hook: Option<HookCommand>,
    /// Wakes the delivery worker after a commit.
    pub wake: Arc<Notify>,
}

/// The events one poll write carries.
#[derive(Debug, Clone, Copy)]
pub struct PollOutbox<'a> {
    pub hub: &'a str,
    /// The agent's poll interval, for the hub watchdog.
    pub interval: Duration,
    pub events: &'a [OutboxEvent],
}

#[derive(Debug)]
pub struct HubAlerts {
    engine: AlertEngine,
    setup: AlertSetup,
    hub: String,
    interval: Duration,
    unsent: Vec<OutboxEvent>,
}

impl HubAlerts {
    pub fn new(setup: AlertSetup, hub: String, interval: Duration) -> Self {
        Self {
            engine: AlertEngine::new(setup.rules),
            setup,
            hub,
            interval,
            unsent: Vec::new(),
        }
    }

    /// The hub's routers as loaded (again): see [`AlertEngine::track`].
    pub fn track(&mut self, routers: impl IntoIterator<Item = (RouterId, RouterStatus)>) {
        self.engine.track(routers);
    }

    /// See [`AlertEngine::recall`].
    pub fn recall(&mut self, said: impl IntoIterator<Item = (RouterId, super::AlertKind)>) {
        self.engine.recall(said);
    }

    /// One poll's changes: the alerts they make wait for the poll's write.
    pub fn observe(
        &mut self,
        at: DateTime<Utc>,
        changes: &[RouterChange],
        facts: impl Fn(RouterId) -> Option<RouterFacts>,
    ) {
        for alert in self.engine.observe(at, changes) {
            self.unsent.extend(outbox_events(&alert, &self.hub, &facts));
        }
        if self.unsent.len() > MAX_UNSENT {
            let dropped = self.unsent.len() - MAX_UNSENT;
            tracing::warn!(
                "{}: {dropped} alerts dropped: the database has been away too long",
                self.hub
            );
            self.unsent.drain(..dropped);
        }
    }

    /// What the next poll write must carry.
    pub fn outbox(&self) -> PollOutbox<'_> {
        PollOutbox {
            hub: &self.hub,
            interval: self.interval,
            events: &self.unsent,
        }
    }

    /// The poll write committed `outbox()` (and `extra`, e.g. hub.up): wake the worker and run
    /// the hook command in the background.
    pub fn committed(&mut self, extra: Vec<OutboxEvent>) {
        let mut events = std::mem::take(&mut self.unsent);
        events.extend(extra);
        if events.is_empty() {
            return;
        }
        // A hub alert's per-tenant copies are one alert to the operator reading the journal.
        for event in events.iter().filter(|e| !e.tenant_copy) {
            let data = &event.body.data;
            match (&data.tenant, &data.router, data.routers) {
                (Some(tenant), Some(router), _) => {
                    tracing::info!(hub = %self.hub, "alert {}: {tenant}/{router}", event.kind)
                }
                (_, _, Some(routers)) => {
                    tracing::info!(hub = %self.hub, "alert {}: {routers} routers", event.kind)
                }
                _ => tracing::info!(hub = %self.hub, "alert {}", event.kind),
            }
        }
        self.setup.wake.notify_one();
        if let Some(hook) = self.setup.hook.clone() {
            let bodies: Vec<String> = events
                .iter()
                .filter_map(|e| serde_json::to_string(&e.body).ok())
                .collect();
            tokio::spawn(async move { hook.run_all(&bodies).await });
        }
    }
}
