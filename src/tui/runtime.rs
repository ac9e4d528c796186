//! The event loop and the effects executor: the only part of the console that touches the
//! terminal, the database and the clock.
//!
//! Input events and background results are drained together, then one frame is drawn if
//! anything changed (yazi-style coalescing). There is no fixed-rate redraw: the loop sleeps
//! until an event arrives or until a relative age on screen would change its text.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{Event, EventStream, KeyEventKind};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::doctor::gather::HostTools;
use crate::error::{Error, Result};
use crate::model::Hub;
use crate::provision::Provisioner;
use crate::store::notify::ChangeListener;
use crate::store::window::ListSpec;
use crate::tui::app::{App, Dataset, DbHealth, Effect, Loaded, Msg, Outcome, Staging, startup};
use crate::tui::clipboard::Clipboard;
use crate::tui::overlays::save::{self, Written};
use crate::tui::peerview::LiveState;
use crate::tui::window::{self, Fetch};
use crate::tui::{fleet, host_probe, monitor, scripts_bridge, ui};
use crate::wg::{PollerConfig, PollerState, spawn_poller};

/// How this process works on the hub host: polling its interface when it may, and probing
/// a router for its diagnosis.
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub wg_command: PathBuf,
    pub interval: Duration,
    /// A handshake younger than this counts as online (the diagnosis's handshake check).
    pub online_secs: i64,
}

/// While the database is down, how often to try again.
const RETRY_EVERY: Duration = Duration::from_secs(3);

/// Terminal input as the reader task hands it over.
type Input = std::io::Result<Event>;

/// Runs the loop until the operator quits. The terminal is set up by the caller.
pub async fn event_loop(
    terminal: &mut DefaultTerminal,
    mut app: App,
    provisioner: Provisioner,
    url: String,
    host: HostConfig,
) -> Result<()> {
    let (tx, mut rx) = unbounded_channel::<Msg>();
    let mut exec = Executor {
        provisioner,
        tx: tx.clone(),
        loads: HashMap::new(),
        window_read: None,
        peer_read: None,
        clipboard: Clipboard::detect(),
        host,
        cancel: CancellationToken::new(),
    };
    let listener = tokio::spawn(listen_for_changes(url, tx.clone()));
    let signalled = CancellationToken::new();
    let signals = tokio::spawn(cancel_on_signal(signalled.clone()));
    let size = terminal
        .size()
        .map_err(|e| Error::io("reading the terminal size", e))?;
    app.update(Msg::Resize(size.width, size.height));
    let first = app.route(startup());
    exec.run_all(first, terminal);
    // Only now: EventStream needs a terminal that is already set up.
    let (input_tx, mut input) = unbounded_channel::<Input>();
    let reader = tokio::spawn(read_terminal(input_tx));
    // Deadlines, not durations: events in between must not postpone them.
    let mut redraw_at: Option<Instant> = None;
    let result = loop {
        if app.dirty {
            let mut info = Default::default();
            terminal
                .draw(|f| info = ui::draw(f, &app))
                .map_err(|e| Error::io("drawing the console", e))?;
            app.dirty = false;
            redraw_at = info
                .wake_in_secs
                .map(|s| Instant::now() + Duration::from_secs(s));
            if matches!(app.db, DbHealth::Down { .. }) {
                let retry = Instant::now() + RETRY_EVERY;
                redraw_at = Some(redraw_at.map_or(retry, |w| w.min(retry)));
            }
        }
        let agent_at = app.agent_due.map(|due| {
            let secs = (due - Utc::now()).num_milliseconds().max(0) as u64;
            Instant::now() + Duration::from_millis(secs)
        });
        let wake = [redraw_at, agent_at].into_iter().flatten().min();
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let mut effects = Vec::new();
        tokio::select! {
            event = input.recv() => match event {
                Some(Ok(e)) => effects.extend(on_terminal_event(&mut app, e)),
                Some(Err(e)) => break Err(Error::io("reading the terminal", e)),
                // The terminal is gone (stdin closed): nobody is left to quit.
                None => break Ok(()),
            },
            () = signalled.cancelled() => break Ok(()),
            Some(msg) = rx.recv() => {
                effects.extend(app.update(Msg::Tick(Utc::now())));
                effects.extend(app.update(msg));
            }
            () = sleep => {
                let now = Instant::now();
                if agent_at.is_some_and(|at| at <= now) {
                    effects.extend(app.update(Msg::Tick(Utc::now())));
                    effects.extend(app.update(Msg::RefreshAgent));
                }
                if redraw_at.is_some_and(|at| at <= now) {
                    redraw_at = None;
                    effects.extend(app.update(Msg::Tick(Utc::now())));
                    if matches!(app.db, DbHealth::Down { .. }) {
                        exec.ping();
                    }
                }
            }
        }
        match drain(&mut app, &mut input, &mut rx) {
            Ok(more) => effects.extend(more),
            Err(e) => break Err(Error::io("reading the terminal", e)),
        }
        if exec.run_all(effects, terminal) || app.quit {
            break Ok(());
        }
    };
    listener.abort();
    signals.abort();
    exec.cancel.cancel();
    exec.abort_all();
    // Dropping the EventStream (with the task) tells crossterm's reader thread to stop.
    reader.abort();
    let _ = reader.await;
    result
}

/// Cancels `token` on SIGTERM, SIGINT, SIGHUP or SIGQUIT, so the loop ends and the caller
/// restores the terminal (raw mode off, main screen) instead of the process dying in it.
async fn cancel_on_signal(token: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let kinds = [
        SignalKind::terminate(),
        SignalKind::interrupt(),
        SignalKind::hangup(),
        SignalKind::quit(),
    ];
    let mut streams = Vec::new();
    for kind in kinds {
        match signal(kind) {
            Ok(s) => streams.push(s),
            Err(e) => tracing::warn!("cannot watch signal {kind:?}: {e}"),
        }
    }
    if streams.is_empty() {
        return;
    }
    let any = futures_util::future::select_all(streams.iter_mut().map(|s| Box::pin(s.recv())));
    any.await;
    tracing::info!("signal received: restoring the terminal and quitting");
    token.cancel();
}

/// Owns crossterm's `EventStream` and forwards what it reads.
///
/// The stream must only ever be polled from this one task: crossterm registers the waker
/// of the first poll that finds no input and wakes only that one when input arrives. The
/// loop once polled it with `now_or_never` (a no-op waker) while draining; the next key
/// then woke nobody and the console froze. Channels have no such trap: `try_recv` is safe.
async fn read_terminal(tx: UnboundedSender<Input>) {
    let mut events = EventStream::new();
    while let Some(event) = events.next().await {
        let failed = event.is_err();
        if tx.send(event).is_err() || failed {
            return;
        }
    }
}

/// Everything already queued, without waiting.
fn drain(
    app: &mut App,
    input: &mut UnboundedReceiver<Input>,
    rx: &mut UnboundedReceiver<Msg>,
) -> std::io::Result<Vec<Effect>> {
    let mut effects = Vec::new();
    loop {
        let mut progressed = false;
        while let Ok(event) = input.try_recv() {
            effects.extend(on_terminal_event(app, event?));
            progressed = true;
        }
        while let Ok(msg) = rx.try_recv() {
            effects.extend(app.update(Msg::Tick(Utc::now())));
            effects.extend(app.update(msg));
            progressed = true;
        }
        if !progressed {
            return Ok(effects);
        }
    }
}

fn on_terminal_event(app: &mut App, event: Event) -> Vec<Effect> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => {
            let mut effects = app.update(Msg::Tick(Utc::now()));
            effects.extend(app.update(Msg::Key(key)));
            effects
        }
        Event::Paste(text) => {
            let mut effects = app.update(Msg::Tick(Utc::now()));
            effects.extend(app.update(Msg::Paste(text)));
            effects
        }
        Event::Resize(w, h) => app.update(Msg::Resize(w, h)),
        _ => Vec::new(),
    }
}

/// LISTEN/NOTIFY: every change made anywhere becomes a message; a lost connection is
/// reported and retried.
async fn listen_for_changes(url: String, tx: UnboundedSender<Msg>) {
    loop {
        match ChangeListener::connect(&url).await {
            Ok(mut listener) => loop {
                match listener.recv().await {
                    Ok(change) => {
                        let msg = Msg::Changed(change);
                        if tx.send(msg).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!("change listener: {e}");
                        break;
                    }
                }
            },
            Err(e) => {
                tracing::warn!("change listener: {e}");
                if tx.send(Msg::DbDown(e.to_string())).is_err() {
                    return;
                }
            }
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

fn text(e: Error) -> String {
    e.to_string()
}

/// Carries out effects: database work in abortable tasks (a newer load of the same dataset
/// replaces an older one still running), copies inline because they write to the terminal.
struct Executor {
    provisioner: Provisioner,
    tx: UnboundedSender<Msg>,
    loads: HashMap<Dataset, AbortHandle>,
    /// The router window's read in flight: a newer one replaces it (its answer would be
    /// dropped as stale anyway).
    window_read: Option<AbortHandle>,
    /// The peer pane's window read in flight, likewise.
    peer_read: Option<AbortHandle>,
    clipboard: Clipboard,
    host: HostConfig,
    /// Stops the live poller.
    cancel: CancellationToken,
}

impl Executor {
    /// Runs the effects; true when one of them asks to quit.
    fn run_all(&mut self, effects: Vec<Effect>, terminal: &mut DefaultTerminal) -> bool {
        let mut quit = false;
        for effect in effects {
            match effect {
                Effect::Quit => quit = true,
                Effect::Copy { what, text } => {
                    let mut out = std::io::stdout();
                    let result = self
                        .clipboard
                        .copy(&text, &mut out)
                        .map(|m| m.describe().to_string());
                    let _ = out.flush();
                    // OSC 52 bytes went around ratatui: make sure the next frame is complete.
                    let _ = terminal.clear();
                    let _ = self.tx.send(Msg::Done(Outcome::Copied {
                        what,
                        result: result.map_err(text_of),
                    }));
                }
                Effect::Load(set) => self.load(set),
                Effect::FetchWindow {
                    ticket,
                    spec,
                    fetch,
                    margin,
                } => self.fetch_window(ticket, spec, fetch, margin),
                Effect::FetchPeers {
                    ticket,
                    spec,
                    fetch,
                    margin,
                } => self.fetch_peers(ticket, spec, fetch, margin),
                Effect::StartLive(hubs) => self.start_live(hubs),
                Effect::Diagnose { tenant, router } => self.diagnose(tenant, router),
                other => self.spawn(other),
            }
        }
        quit
    }

    fn abort_all(&mut self) {
        for (_, h) in self.loads.drain() {
            h.abort();
        }
        if let Some(h) = self.window_read.take() {
            h.abort();
        }
        if let Some(h) = self.peer_read.take() {
            h.abort();
        }
    }

    /// While the database is down: one cheap query; success brings everything back.
    fn ping(&self) {
        let store = self.provisioner.store().clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let msg = match store.ping().await {
                Ok(_) => Msg::DbUp,
                Err(e) => Msg::DbDown(e.to_string()),
            };
            let _ = tx.send(msg);
        });
    }

    fn load(&mut self, set: Dataset) {
        if let Some(old) = self.loads.remove(&set) {
            old.abort();
        }
        let p = self.provisioner.clone();
        let tx = self.tx.clone();
        let key = set.clone();
        let handle = tokio::spawn(async move {
            let store = p.store();
            let (loaded, failure) = match set {
                Dataset::Hubs => split(store.list_hubs().await, Loaded::Hubs),
                Dataset::Tenants => split(store.list_tenants().await, Loaded::Tenants),
                Dataset::Subnets => split(store.subnet_usage().await, Loaded::Subnets),
                Dataset::Pool => split(store.pool_usage(&p.ipam).await, Loaded::Pool),
                Dataset::Agent => split(fleet::agent_report(store).await, Loaded::Agent),
                Dataset::Routers { tenant } => {
                    let rows = fleet::router_rows(store, tenant.as_deref()).await;
                    split(rows, |result| Loaded::Routers { tenant, result })
                }
                Dataset::Detail { router_id } => {
                    let detail = fleet::router_detail(store, router_id, Utc::now()).await;
                    split(detail, |result| Loaded::Detail { router_id, result })
                }
                Dataset::Events { tenant } => {
                    let since = Utc::now() - monitor::MONTH;
                    let events = store
                        .recent_events(tenant.as_deref(), since, monitor::EVENTS_KEPT as i64)
                        .await;
                    split(events, |result| Loaded::Events { tenant, result })
                }
                Dataset::EventFeed { after } => {
                    let events = store.feed_after(after, monitor::FEED_READ_MAX).await;
                    split(events, |result| Loaded::EventFeed { after, result })
                }
                Dataset::EventCursor => split(store.feed_start().await, Loaded::EventCursor),
            };
            let _ = tx.send(Msg::Loaded(loaded));
            let _ = tx.send(match failure {
                Some(reason) => Msg::DbDown(reason),
                None => Msg::DbUp,
            });
        });
        self.loads.insert(key, handle.abort_handle());
    }

    /// One read of the router list's window, off the UI thread.
    fn fetch_window(&mut self, ticket: u64, spec: ListSpec, fetch: Fetch, margin: usize) {
        if let Some(old) = self.window_read.take() {
            old.abort();
        }
        let store = self.provisioner.store().clone();
        let tx = self.tx.clone();
        let handle = tokio::spawn(async move {
            let result = window::fetch(&store, &spec, ticket, &fetch, margin).await;
            let (loaded, failure) = split(result, |result| Loaded::Window { ticket, result });
            let _ = tx.send(Msg::Loaded(loaded));
            let _ = tx.send(match failure {
                Some(reason) => Msg::DbDown(reason),
                None => Msg::DbUp,
            });
        });
        self.window_read = Some(handle.abort_handle());
    }

    /// One read of the peer pane's window, off the UI thread: a newer one makes an older
    /// one moot.
    fn fetch_peers(&mut self, ticket: u64, spec: ListSpec, fetch: Fetch, margin: usize) {
        if let Some(old) = self.peer_read.take() {
            old.abort();
        }
        let store = self.provisioner.store().clone();
        let tx = self.tx.clone();
        let handle = tokio::spawn(async move {
            let result = window::fetch(&store, &spec, ticket, &fetch, margin).await;
            let (loaded, failure) = split(result, |result| Loaded::Peers { ticket, result });
            let _ = tx.send(Msg::Loaded(loaded));
            let _ = tx.send(match failure {
                Some(reason) => Msg::DbDown(reason),
                None => Msg::DbUp,
            });
        });
        self.peer_read = Some(handle.abort_handle());
    }

    /// On the hub host with the right to read its interface: poll it here and feed the
    /// peer pane live; anywhere else the pane keeps showing what the agent stores.
    fn start_live(&self, hubs: Vec<Hub>) {
        if !host_probe::may_read_interfaces() {
            return;
        }
        let tx = self.tx.clone();
        let live = self.host.clone();
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            let Some(hub) = host_probe::local_hub(&live.wg_command, &hubs).await else {
                return;
            };
            let config = PollerConfig {
                wg_command: live.wg_command,
                interface: hub.interface.clone(),
                interval: live.interval,
            };
            let (mut rx, _poller) = spawn_poller(config, cancel.clone());
            loop {
                let state = match &*rx.borrow_and_update() {
                    PollerState::Starting => None,
                    PollerState::Ready(s) => Some(LiveState::Ready(s.clone())),
                    PollerState::Error(e) => Some(LiveState::Error(e.clone())),
                };
                if let Some(state) = state {
                    let msg = Msg::Live {
                        interface: hub.interface.clone(),
                        state,
                    };
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
                tokio::select! {
                    () = cancel.cancelled() => return,
                    changed = rx.changed() => if changed.is_err() { return },
                }
            }
        });
    }

    /// The same checks as `tikwire router diagnose`, in a task of their own: the probes
    /// through the tunnel take seconds when the router does not answer.
    fn diagnose(&self, tenant: String, router: String) {
        let p = self.provisioner.clone();
        let tx = self.tx.clone();
        let tools = HostTools::new(self.host.wg_command.clone());
        let online_secs = self.host.online_secs;
        tokio::spawn(async move {
            let report =
                crate::doctor::diagnose_router(&p, &tenant, &router, online_secs, &tools).await;
            let _ = tx.send(Msg::Done(Outcome::Diagnosed {
                tenant,
                router,
                result: report.map(|r| r.checks).map_err(text),
            }));
        });
    }

    fn spawn(&self, effect: Effect) {
        let p = self.provisioner.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let outcome = run_effect(&p, effect).await;
            if let Some(msg) = outcome {
                let _ = tx.send(msg);
            }
        });
    }
}

fn text_of(e: Error) -> String {
    text(e)
}

/// A load result as the app wants it, plus the reason when the database itself failed.
fn split<T>(
    result: Result<T>,
    wrap: impl FnOnce(Result<T, String>) -> Loaded,
) -> (Loaded, Option<String>) {
    let down = match &result {
        Err(e @ Error::Database(_)) => Some(e.to_string()),
        _ => None,
    };
    (wrap(result.map_err(text)), down)
}

async fn run_effect(p: &Provisioner, effect: Effect) -> Option<Msg> {
    let store = p.store();
    let outcome = match effect {
        Effect::LoadScripts { tenant, router } => {
            let result = match p.router_material(&tenant, &router).await {
                Ok(m) => scripts_bridge::bundle(&m),
                Err(e) => Err(e.to_string()),
            };
            return Some(Msg::Loaded(Loaded::Scripts {
                tenant,
                router,
                result,
            }));
        }
        Effect::AddTenant(name) => Outcome::TenantAdded(p.add_tenant(&name).await.map_err(text)),
        Effect::AddHub(req) => Outcome::HubAdded(p.add_hub(&req).await.map_err(text)),
        Effect::Provision(req) => {
            let (tenant, name) = (req.tenant.to_string(), req.spec.name.to_string());
            Outcome::Provisioned {
                tenant,
                name,
                result: p.add_router(&req).await.map_err(text),
            }
        }
        Effect::DeleteRouter { tenant, name } => {
            let result = store
                .delete_router(&tenant, &name)
                .await
                .map(drop)
                .map_err(text);
            Outcome::RouterDeleted {
                tenant,
                name,
                result,
            }
        }
        Effect::DeleteTenant { name } => {
            let result = store.delete_tenant(&name).await.map(drop).map_err(text);
            Outcome::TenantDeleted { name, result }
        }
        Effect::SetEnabled {
            tenant,
            name,
            enabled,
        } => {
            let result = store
                .set_router_enabled(&tenant, &name, enabled)
                .await
                .map_err(text);
            Outcome::EnabledSet {
                tenant,
                name,
                result,
            }
        }
        Effect::StageRotation { tenant, name } => {
            let result = p
                .stage_rotation(&tenant, &name)
                .await
                .map(|(router, report)| (router, Staging::of(&report)))
                .map_err(text);
            Outcome::RotationStaged {
                tenant,
                name,
                result,
            }
        }
        Effect::AbortRotation { tenant, name } => {
            let result = p.abort_rotation(&tenant, &name).await.map_err(text);
            Outcome::RotationAborted {
                tenant,
                name,
                result,
            }
        }
        Effect::Save {
            path,
            text: body,
            kind,
            replace,
        } => {
            let target = path.clone();
            let body_for_write = body.clone();
            let written = tokio::task::spawn_blocking(move || {
                save::write_private(&target, &body_for_write, replace)
            })
            .await
            .map_err(|e| Error::Other(format!("saving: {e}")))
            .and_then(|r| r);
            match written {
                Ok(Written::Exists) => Outcome::SaveExists {
                    path,
                    kind,
                    text: body,
                },
                Ok(Written::Saved) => Outcome::Saved {
                    path,
                    result: Ok(()),
                },
                Err(e) => Outcome::Saved {
                    path,
                    result: Err(text(e)),
                },
            }
        }
        Effect::Load(_)
        | Effect::FetchWindow { .. }
        | Effect::FetchPeers { .. }
        | Effect::StartLive(_)
        | Effect::Diagnose { .. }
        | Effect::Copy { .. }
        | Effect::Quit => {
            return None;
        }
    };
    Some(Msg::Done(outcome))
}
