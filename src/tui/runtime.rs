//! The event loop and the effects executor: the only part of the console that touches the
//! terminal, the database and the clock.
//!
//! Input events and background results are drained together, then one frame is drawn if
//! anything changed (yazi-style coalescing). There is no fixed-rate redraw: the loop sleeps
//! until an event arrives or until a relative age on screen would change its text.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{Event, EventStream, KeyEventKind};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::AbortHandle;

use crate::clipboard::Clipboard;
use crate::error::{Error, Result};
use crate::provision::{NewHub, NewRouter, Provisioner, RouterSpec};
use crate::store::RouterFilter;
use crate::store::notify::ChangeListener;
use crate::tui::app::{App, Dataset, DbHealth, Effect, Loaded, Msg, Outcome, load_everything};
use crate::tui::data::PoolUsage;
use crate::tui::{overlays, scripts_bridge, ui};

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
) -> Result<()> {
    let (tx, mut rx) = unbounded_channel::<Msg>();
    let mut exec = Executor {
        provisioner,
        tx: tx.clone(),
        loads: HashMap::new(),
        clipboard: Clipboard::detect(),
    };
    let listener = tokio::spawn(listen_for_changes(url, tx.clone()));
    let size = terminal
        .size()
        .map_err(|e| Error::io("reading the terminal size", e))?;
    app.update(Msg::Resize(size.width, size.height));
    exec.run_all(load_everything(), terminal);
    // Only now: EventStream needs a terminal that is already set up.
    let (input_tx, mut input) = unbounded_channel::<Input>();
    let reader = tokio::spawn(read_terminal(input_tx));
    let mut wake_in: Option<u64> = None;
    let result = loop {
        if app.dirty {
            let mut info = Default::default();
            terminal
                .draw(|f| info = ui::draw(f, &app))
                .map_err(|e| Error::io("drawing the console", e))?;
            app.dirty = false;
            wake_in = info.wake_in_secs;
        }
        if matches!(app.db, DbHealth::Down { .. }) {
            wake_in = Some(wake_in.map_or(RETRY_EVERY.as_secs(), |w| w.min(RETRY_EVERY.as_secs())));
        }
        let sleep = async {
            match wake_in {
                Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
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
            Some(msg) = rx.recv() => {
                app.now = Utc::now();
                effects.extend(app.update(msg));
            }
            () = sleep => {
                effects.extend(app.update(Msg::Tick(Utc::now())));
                if matches!(app.db, DbHealth::Down { .. }) {
                    exec.ping();
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
    exec.abort_all();
    // Dropping the EventStream (with the task) tells crossterm's reader thread to stop.
    reader.abort();
    let _ = reader.await;
    result
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
            app.now = Utc::now();
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
            app.now = Utc::now();
            app.update(Msg::Key(key))
        }
        Event::Resize(w, h) => app.update(Msg::Resize(w, h)),
        Event::FocusGained => {
            app.dirty = true;
            Vec::new()
        }
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
                    Ok(c) => {
                        let msg = Msg::Changed {
                            kind: c.kind,
                            op: c.op,
                            tenant_id: c.tenant_id,
                        };
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
    clipboard: Clipboard,
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
                other => self.spawn(other),
            }
        }
        quit
    }

    fn abort_all(&mut self) {
        for (_, h) in self.loads.drain() {
            h.abort();
        }
    }

    /// While the database is down: one cheap query; success brings everything back.
    fn ping(&self) {
        let store = self.provisioner.store.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let msg = match sqlx::query("SELECT 1").execute(&store.pool).await {
                Ok(_) => Msg::DbUp,
                Err(e) => Msg::DbDown(Error::from(e).to_string()),
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
            let store = &p.store;
            let (loaded, failure) = match set {
                Dataset::Hubs => split(store.list_hubs().await, Loaded::Hubs),
                Dataset::Tenants => split(store.list_tenants().await, Loaded::Tenants),
                Dataset::Subnets => split(store.subnet_usage().await, Loaded::Subnets),
                Dataset::Pool => split(
                    store.pool_usage(&p.ipam).await.map(|u| PoolUsage {
                        tenants_used: u.tenants_used,
                        tenants_capacity: u.tenants_capacity,
                    }),
                    Loaded::Pool,
                ),
                Dataset::Routers { tenant } => {
                    let filter = RouterFilter {
                        tenant: tenant.clone(),
                        hub: None,
                    };
                    split(store.list_routers(&filter).await, |result| {
                        Loaded::Routers { tenant, result }
                    })
                }
            };
            let _ = tx.send(Msg::Loaded(loaded));
            let _ = tx.send(match failure {
                Some(reason) => Msg::DbDown(reason),
                None => Msg::DbUp,
            });
        });
        self.loads.insert(key, handle.abort_handle());
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
    let store = &p.store;
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
        Effect::AddHub(h) => {
            let req = NewHub {
                name: h.name,
                endpoint: h.endpoint,
                interface: h.interface,
                listen_port: h.listen_port,
            };
            Outcome::HubAdded(p.add_hub(&req).await.map_err(text))
        }
        Effect::Provision(r) => {
            let (tenant, name) = (r.tenant.to_string(), r.name.to_string());
            let req = NewRouter {
                tenant: r.tenant,
                hub: r.hub,
                spec: RouterSpec {
                    name: r.name,
                    interface_name: r.interface_name,
                    keepalive: r.keepalive,
                },
            };
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
        Effect::Save { path, text: body } => {
            let target = path.clone();
            let result =
                tokio::task::spawn_blocking(move || overlays::save::write_private(&target, &body))
                    .await
                    .map_err(|e| Error::Other(format!("saving: {e}")))
                    .and_then(|r| r)
                    .map_err(text);
            Outcome::Saved { path, result }
        }
        Effect::Load(_) | Effect::Copy { .. } | Effect::Quit => return None,
    };
    Some(Msg::Done(outcome))
}
