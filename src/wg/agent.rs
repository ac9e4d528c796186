//! The hub agent: keeps the hub's interface in step with the database (reconcile) and the
//! database in step with the interface (poll + status sync). Runs as root next to the
//! interface; everything it changes is logged, nothing secret ever is.

use std::time::{Duration, Instant};

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::apply::{self, Applied, Tools};
use super::desired::DesiredInterface;
use super::plan::{ReconcileOptions, plan_cut_overs};
use super::poller;
use super::status::Thresholds;
use super::sync::{StatusSync, SyncReport};
use crate::alerts::monitor::{AlertSetup, HubAlerts};
use crate::events::{Change, ChangeKind};
use crate::history::Retention;
use crate::keys::PublicKey;
use crate::metrics::{AgentMetrics, HubFigures, Outcome, outbox};
use crate::model::AgentIdentity;
use crate::model::Hub;
use crate::provision::Provisioner;
use crate::store::notify::ChangeListener;
use crate::store::rotation::StagedRotation;
use crate::{Error, Result};

/// Even without announced changes, reconcile this often to undo changes made by hand.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(60);
/// How often history partitions and roll-ups are maintained (also at start).
pub const MAINTAIN_HISTORY_EVERY: Duration = Duration::from_secs(3600);
const LISTEN_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long announced changes are gathered before one reconcile applies them all.
const CHANGE_SETTLE: Duration = Duration::from_millis(250);
/// While rotations are staged, how often their handshakes are checked: a router that has
/// switched keys is unreachable until its cut-over, so at most about this long plus one
/// database commit and one `wg set`.
pub const CUT_OVER_WATCH: Duration = Duration::from_millis(250);
/// How many names a log line lists before it says "and N more".
const LOG_NAMES: usize = 20;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub hub: String,
    pub interval: Duration,
    pub thresholds: Thresholds,
    pub tools: Tools,
    pub options: ReconcileOptions,
    /// History kept; the agent maintains it at start and hourly.
    pub retention: Retention,
    /// Alerts on status changes (`None`: off).
    pub alerts: Option<AlertSetup>,
}

pub struct Agent {
    config: AgentConfig,
    provisioner: Provisioner,
    database_url: String,
    identity: AgentIdentity,
    hub: Option<Hub>,
    sync: Option<StatusSync>,
    need_reconcile: bool,
    last_reconcile: Option<Instant>,
    /// The hub's staged rotations, read at each reconcile; watched while not empty.
    staged: Vec<StagedRotation>,
    /// The last successful history maintenance.
    last_maintenance: Option<Instant>,
    /// Where polls and reconciles are recorded for `/metrics` (`--metrics-listen`).
    metrics: Option<AgentMetrics>,
}

impl Agent {
    pub fn new(provisioner: Provisioner, database_url: String, config: AgentConfig) -> Self {
        Self {
            config,
            provisioner,
            database_url,
            identity: AgentIdentity::current(),
            hub: None,
            sync: None,
            need_reconcile: true,
            last_reconcile: None,
            staged: Vec::new(),
            last_maintenance: None,
            metrics: None,
        }
    }

    /// Records every poll and reconcile into `metrics`, and hands each successful poll's
    /// view of the hub over to it.
    #[must_use]
    pub fn with_metrics(mut self, metrics: AgentMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The hub row and the in-memory status copy, loaded on first use and after changes.
    async fn hub(&mut self) -> Result<Hub> {
        if let Some(hub) = &self.hub {
            return Ok(hub.clone());
        }
        let hub = self.provisioner.store().hub(&self.config.hub).await?;
        let mut sync = StatusSync::load(
            self.provisioner.store(),
            hub.id,
            self.config.thresholds,
            self.identity.clone(),
        )
        .await?;
        // What the alert engine remembers (recoveries under way, flapping) outlives reloads.
        let carried = self.sync.as_mut().and_then(StatusSync::take_alerts);
        let fresh = carried.is_none();
        let alerts = carried.or_else(|| {
            let setup = self.config.alerts.clone()?;
            Some(HubAlerts::new(
                setup,
                hub.name.clone(),
                self.config.interval,
            ))
        });
        if let Some(alerts) = alerts {
            sync.set_alerts(alerts);
        }
        if fresh && let Some(alerts) = sync.alerts_mut() {
            let store = self.provisioner.store();
            let said = crate::store::webhooks::last_router_alerts(store.pool(), hub.id).await?;
            alerts.recall(said);
        }
        tracing::info!(hub = %hub.name, interface = %hub.interface, routers = sync.known_count(), "serving hub");
        self.sync = Some(sync);
        self.hub = Some(hub.clone());
        Ok(hub)
    }

    /// Makes the interface match the database.
    pub async fn reconcile(&mut self) -> Result<Applied> {
        let started = Instant::now();
        let result = self.reconcile_interface().await;
        if let Some(metrics) = &self.metrics {
            metrics.record_reconcile(started.elapsed(), outcome(&result));
        }
        result
    }

    async fn reconcile_interface(&mut self) -> Result<Applied> {
        let hub = self.hub().await?;
        let material = self.provisioner.hub_material(&hub.name).await?;
        let desired = DesiredInterface::from_material(&material);
        drop(material);
        self.staged = self.provisioner.store().staged_rotations(hub.id).await?;
        let applied = apply::reconcile(
            &self.config.tools,
            &hub.interface,
            &desired,
            self.config.options,
        )
        .await?;
        self.need_reconcile = false;
        self.last_reconcile = Some(Instant::now());
        log_applied(&hub, desired.peers.len(), &applied);
        Ok(applied)
    }

    /// Polls the interface once and stores what changed. A failed poll is recorded in the
    /// database (for consoles) and returned.
    pub async fn poll(&mut self) -> Result<SyncReport> {
        let started = Instant::now();
        let result = self.poll_and_store().await;
        let Some(metrics) = &self.metrics else {
            return result.map(|(report, _)| report);
        };
        let took = started.elapsed();
        match result {
            Ok((report, figures)) => {
                metrics.record_poll(took, Outcome::Success, figures);
                // Once per poll, never per scrape; a failure only leaves the last figures.
                match outbox::read_outbox_figures(self.provisioner.store()).await {
                    Ok(outbox) => metrics.record_outbox(outbox),
                    Err(err) => tracing::debug!("cannot read the webhook outbox's figures: {err}"),
                }
                Ok(report)
            }
            Err(err) => {
                metrics.record_poll(took, Outcome::Failure, None);
                Err(err)
            }
        }
    }

    /// The poll itself, and (with metrics) the hub's figures as it left them.
    async fn poll_and_store(&mut self) -> Result<(SyncReport, Option<HubFigures>)> {
        let hub = self.hub().await?;
        let store = self.provisioner.store().clone();
        let sync = self
            .sync
            .as_mut()
            .ok_or_else(|| Error::Other("status copy not loaded".into()))?;
        match poller::poll_once(&self.config.tools.wg, &hub.interface).await {
            Ok(snapshot) => {
                let report = sync.sync(&store, &snapshot).await?;
                log_report(&hub, &report);
                let figures = self.metrics.as_ref().map(|metrics| {
                    sync.figures(
                        snapshot.peers.len(),
                        report.unknown_count,
                        snapshot.taken_at,
                        metrics.per_router(),
                    )
                });
                Ok((report, figures))
            }
            Err(err) => {
                let message = err.to_string();
                if let Err(db) = sync.record_error(&store, &message).await {
                    tracing::warn!("cannot record the poll error: {db}");
                }
                Err(err.into())
            }
        }
    }

    /// Cuts over every staged rotation whose staged key has shaken hands: the database first
    /// (one transaction: should the `wg set` then fail, the next reconcile puts the interface
    /// where the database says), then one `wg set`. Returns how many routers were cut over.
    pub async fn watch_rotations(&mut self) -> Result<usize> {
        if self.staged.is_empty() {
            return Ok(0);
        }
        let hub = self.hub().await?;
        let handshakes =
            poller::read_latest_handshakes(&self.config.tools.wg, &hub.interface).await?;
        let proven: Vec<PublicKey> = plan_cut_overs(&self.staged, &handshakes)
            .iter()
            .map(|s| s.pending_key)
            .collect();
        if proven.is_empty() {
            return Ok(0);
        }
        let done = self.provisioner.cut_over(hub.id, &proven).await?;
        // Whatever happens next, the interface and the status copy follow the database.
        self.forget_loaded();
        let committed: Vec<&StagedRotation> = self
            .staged
            .iter()
            .filter(|s| done.iter().any(|d| d.router_id == s.router_id))
            .collect();
        apply::cut_over(&self.config.tools, &hub.interface, &committed).await?;
        let labels: Vec<&str> = done.iter().map(|d| d.label.as_str()).collect();
        tracing::info!(
            "{}: cut over {} routers to their new keys: {}",
            hub.interface,
            done.len(),
            names(&labels)
        );
        let cut: Vec<i64> = done.iter().map(|d| d.router_id).collect();
        self.staged.retain(|s| !cut.contains(&s.router_id));
        Ok(done.len())
    }

    /// One reconcile, one cut-over check and one poll (`--once`).
    pub async fn run_once(&mut self) -> Result<()> {
        self.maintain_history().await?;
        self.reconcile().await?;
        self.watch_rotations().await?;
        self.poll().await?;
        Ok(())
    }

    /// Reconciles and polls every interval until cancelled. Failures (database gone,
    /// interface missing) are logged once per kind and retried; they never end the loop.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut ticker = tokio::time::interval(self.config.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut watch = tokio::time::interval(CUT_OVER_WATCH);
        watch.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut listener: Option<ChangeListener> = None;
        let mut failing: Option<String> = None;
        // Apart from the cycle's: a working watch must not announce a failing cycle as fixed.
        let mut watch_failing: Option<String> = None;
        // A burst of announced changes (operators adding routers one by one) is gathered for
        // a moment into one reconcile, rather than one full reload per change.
        let mut change_pending = false;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => {
                    change_pending = false;
                    if listener.is_none() {
                        // Bounded: a database host that drops packets must not stall polling.
                        let connect = ChangeListener::connect(&self.database_url);
                        listener = tokio::time::timeout(LISTEN_CONNECT_TIMEOUT, connect).await.ok().and_then(Result::ok);
                    }
                    let result = self.cycle().await;
                    if matches!(result, Err(Error::Database(_))) {
                        // Changes may have been announced while the database was away.
                        self.forget_loaded();
                    }
                    report_cycle(&mut failing, result);
                }
                _ = watch.tick(), if !self.staged.is_empty() => {
                    let result = self.watch_rotations().await.map(drop);
                    report_cycle(&mut watch_failing, result);
                }
                change = next_change(&mut listener) => match change {
                    Ok(change) => {
                        if self.is_relevant(change.as_ref()) {
                            self.forget_loaded();
                            if !change_pending {
                                change_pending = true;
                                ticker.reset_after(CHANGE_SETTLE);
                            }
                        }
                    }
                    Err(err) => {
                        tracing::debug!("change listener lost: {err}");
                        listener = None;
                        self.forget_loaded();
                    }
                },
            }
        }
        tracing::info!(hub = %self.config.hub, "agent stopped");
    }

    async fn cycle(&mut self) -> Result<()> {
        let due = self
            .last_reconcile
            .is_none_or(|at| at.elapsed() >= RECONCILE_EVERY);
        let reconciled = if self.need_reconcile || due {
            self.reconcile().await.map(drop)
        } else {
            Ok(())
        };
        let maintained = if self
            .last_maintenance
            .is_none_or(|at| at.elapsed() >= MAINTAIN_HISTORY_EVERY)
        {
            self.maintain_history().await
        } else {
            Ok(())
        };
        // Poll even when reconcile failed: status still matters.
        let polled = self.poll().await.map(drop);
        reconciled.and(maintained).and(polled)
    }

    /// Makes the history partitions the next days need, rolls up finished hours and drops
    /// what retention no longer keeps. Several agents may try; one does it.
    pub async fn maintain_history(&mut self) -> Result<()> {
        let done = self
            .provisioner
            .store()
            .maintain_history(chrono::Utc::now(), self.config.retention)
            .await?;
        self.last_maintenance = Some(Instant::now());
        if done.ran {
            tracing::info!(
                created = done.created.len(),
                dropped = done.dropped.len(),
                rolled_up = done.rolled_up,
                "history maintained{}{}",
                if done.dropped.is_empty() {
                    String::new()
                } else {
                    format!("; dropped {}", names(&done.dropped))
                },
                if done.created.is_empty() {
                    String::new()
                } else {
                    format!("; created {}", names(&done.created))
                },
            );
        }
        Ok(())
    }

    /// Does `change` alter the peers this hub should have? An unreadable one might.
    fn is_relevant(&self, change: Option<&Change>) -> bool {
        let Some(change) = change else {
            return true;
        };
        let ours = match (&self.hub, change.hub_id) {
            (Some(hub), Some(id)) => hub.id == id,
            _ => true,
        };
        let alters_peers = match change.kind {
            // Written by an agent's poll: nothing to apply.
            ChangeKind::StatusUpdated => false,
            // Capacity and management address: nothing on the interface changes.
            ChangeKind::HubUpdated => false,
            ChangeKind::TenantCreated
            | ChangeKind::TenantDeleted
            | ChangeKind::HubCreated
            | ChangeKind::RouterCreated
            | ChangeKind::RoutersImported
            | ChangeKind::RouterDeleted
            | ChangeKind::RouterEnabled
            | ChangeKind::RouterDisabled
            | ChangeKind::RotationStaged
            | ChangeKind::RotationAborted
            | ChangeKind::RouterRotated => true,
        };
        alters_peers && ours
    }

    /// Drop the cached hub row and router copy: reload and reconcile next cycle.
    fn forget_loaded(&mut self) {
        self.need_reconcile = true;
        if let Some(sync) = &mut self.sync {
            sync.mark_dirty();
        }
        self.hub = None;
    }
}

fn outcome<T>(result: &Result<T>) -> Outcome {
    match result {
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure,
    }
}

async fn next_change(listener: &mut Option<ChangeListener>) -> Result<Option<Change>> {
    match listener {
        Some(listener) => listener.recv().await,
        None => std::future::pending().await,
    }
}

/// Logs a failure when it starts or changes, and the recovery; not every interval.
fn report_cycle(failing: &mut Option<String>, result: Result<()>) {
    match result {
        Ok(()) => {
            if failing.take().is_some() {
                tracing::info!("agent working again");
            }
        }
        Err(err) => {
            let message = err.to_string();
            if failing.as_deref() != Some(message.as_str()) {
                tracing::warn!("{message} (retrying every interval)");
            }
            *failing = Some(message);
        }
    }
}

fn names<T: std::fmt::Display>(list: &[T]) -> String {
    let shown = list
        .iter()
        .take(LOG_NAMES)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    match list.len().saturating_sub(LOG_NAMES) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

fn log_applied(hub: &Hub, desired: usize, applied: &Applied) {
    let iface = &hub.interface;
    if applied.set_private_key {
        tracing::info!("{iface}: set the hub's private key");
    }
    if let Some(port) = applied.set_listen_port {
        tracing::info!("{iface}: set listen port {port}");
    }
    if !applied.removed.is_empty() {
        tracing::info!(
            "{iface}: removed {} peers: {}",
            applied.removed.len(),
            names(&applied.removed)
        );
    }
    if !applied.added.is_empty() {
        tracing::info!(
            "{iface}: added {} peers: {}",
            applied.added.len(),
            names(&applied.added)
        );
    }
    if !applied.updated.is_empty() {
        tracing::info!(
            "{iface}: corrected preshared key or allowed IPs of {} peers: {}",
            applied.updated.len(),
            names(&applied.updated)
        );
    }
    for net in &applied.addresses_added {
        tracing::info!("{iface}: added address {net}");
    }
    for net in &applied.addresses_removed {
        tracing::info!("{iface}: removed address {net}");
    }
    if applied.brought_up {
        tracing::info!("{iface}: brought the link up");
    }
    if !applied.unknown_kept.is_empty() {
        tracing::warn!(
            "{iface}: {} peers not in the database kept: {}",
            applied.unknown_kept.len(),
            names(&applied.unknown_kept)
        );
    }
    if !applied.changed_anything() {
        tracing::debug!("{iface}: all {desired} peers already in place");
    }
}

fn log_report(hub: &Hub, report: &SyncReport) {
    let moves: Vec<String> = report
        .transitions
        .iter()
        .map(|t| format!("{} {} -> {}", t.router.label(), t.from, t.to))
        .collect();
    if !moves.is_empty() {
        tracing::info!("{}: status changes: {}", hub.name, names(&moves));
    }
    if !report.new_unknown.is_empty() {
        tracing::warn!(
            "{}: peers on {} that no router owns: {}",
            hub.name,
            hub.interface,
            names(&report.new_unknown)
        );
    }
    tracing::debug!(
        "{}: poll stored, {} rows updated",
        hub.name,
        report.rows_updated
    );
}
