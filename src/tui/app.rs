//! The console's state and its one update function: a message in (a key, a result from a
//! background task, a change notification, a clock tick), the state updated, effects out
//! (load this, provision that, copy this text). No terminal, no database, no clock reads:
//! tests drive it with plain values.

use std::collections::HashSet;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::KeyEvent;
use ratatui_textarea::TextArea;
use zeroize::Zeroizing;

use crate::doctor::{Check, Status};
use crate::events::{Change, ChangeKind};
use crate::model::{Hub, RotationState, Router, SubnetUsage, Tenant, TenantName};
use crate::provision::{NewHub, NewRouter};
use crate::rotation::StageReport;
use crate::store::PoolUsage;
use crate::store::console_history::{FeedCursor, FeedEvent};
use crate::store::window::ListSpec;
use crate::tui::data::{ListCursor, RouterRow, RouterTable, ScriptBundle, ScriptKind, Slot};
use crate::tui::forms::{Form, FormContext, Request};
use crate::tui::keymap::{Action, Context, Keymap};
use crate::tui::monitor::{self, RouterDetail};
pub use crate::tui::overlays::Layer;
use crate::tui::overlays::command::{Command, CommandLine};
use crate::tui::overlays::confirm::{ConfirmTarget, Confirmation};
use crate::tui::overlays::detail::DetailView;
use crate::tui::overlays::diagnosis::DiagnosisView;
use crate::tui::overlays::events::EventsView;
use crate::tui::overlays::help::HelpView;
use crate::tui::overlays::save::SaveDialog;
use crate::tui::overlays::script::ScriptView;
use crate::tui::overlays::toast::{self, Toast};
use crate::tui::overlays::{Ask, Env, INPUT_LIMIT, Reply, paste_into};
use crate::tui::peerview::{AgentReport, LiveState, PeerPane};
use crate::tui::theme::Theme;
use crate::tui::window::{Fetch, Fetched, RouterWindow};

/// The four panes of the main screen, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Tenants,
    Subnets,
    Routers,
    Peers,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Self::Tenants, Self::Subnets, Self::Routers, Self::Peers];

    pub fn title(self) -> &'static str {
        match self {
            Self::Tenants => "Tenants",
            Self::Subnets => "Subnet usage",
            Self::Routers => "Routers",
            Self::Peers => "Peer status",
        }
    }

    fn context(self) -> Context {
        match self {
            Self::Tenants => Context::Tenants,
            Self::Subnets => Context::List,
            Self::Routers => Context::Routers,
            Self::Peers => Context::Peers,
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// A dataset a background task loads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dataset {
    Hubs,
    Tenants,
    Subnets,
    Pool,
    /// The agents' heartbeats and the unknown peers they saw.
    Agent,
    /// One tenant's routers, or all of them.
    Routers {
        tenant: Option<String>,
    },
    /// One router's history for its detail view.
    Detail {
        router_id: i64,
    },
    /// The newest events of one tenant or all, for the events view.
    Events {
        tenant: Option<String>,
    },
    /// The live feed: every transition and alert after the cursors `after` (toasts, the open
    /// events view).
    EventFeed {
        after: FeedCursor,
    },
    /// Where the live feed starts: the newest transition and alert now.
    EventCursor,
}

/// Work the state asks the runtime to do; results come back as [`Msg`].
#[derive(Debug)]
pub enum Effect {
    Load(Dataset),
    /// Poll the interface of whichever of these hubs runs here, if this process may.
    StartLive(Vec<Hub>),
    LoadScripts {
        tenant: String,
        router: String,
    },
    AddTenant(TenantName),
    AddHub(NewHub),
    Provision(NewRouter),
    DeleteRouter {
        tenant: String,
        name: String,
    },
    DeleteTenant {
        name: String,
    },
    SetEnabled {
        tenant: String,
        name: String,
        enabled: bool,
    },
    /// `what` names the text for the toast ("RouterOS script of acme/hq-1").
    Copy {
        what: String,
        text: Zeroizing<String>,
    },
    /// Stage new keys for a router beside its current ones.
    StageRotation {
        tenant: String,
        name: String,
    },
    /// Drop a router's staged keys.
    AbortRotation {
        tenant: String,
        name: String,
    },
    /// Read the router list's window (see [`RouterWindow`]); the answer comes back as
    /// [`Loaded::Window`].
    FetchWindow {
        ticket: u64,
        spec: ListSpec,
        fetch: Fetch,
        margin: usize,
    },
    /// Read the peer pane's window (see [`PeerPane::window`]); the answer comes back as
    /// [`Loaded::Peers`].
    FetchPeers {
        ticket: u64,
        spec: ListSpec,
        fetch: Fetch,
        margin: usize,
    },
    /// Run `tikwire router diagnose` for one router (in the background: it probes the
    /// network with timeouts).
    Diagnose {
        tenant: String,
        router: String,
    },
    /// `replace`: the operator agreed to replace a file already at `path`.
    Save {
        path: PathBuf,
        text: Zeroizing<String>,
        kind: ScriptKind,
        replace: bool,
    },
    Quit,
}

/// A dataset that arrived (or failed to).
pub enum Loaded {
    Hubs(Result<Vec<Hub>, String>),
    Tenants(Result<Vec<Tenant>, String>),
    Subnets(Result<Vec<SubnetUsage>, String>),
    Pool(Result<PoolUsage, String>),
    Agent(Result<AgentReport, String>),
    Routers {
        tenant: Option<String>,
        result: Result<Vec<RouterRow>, String>,
    },
    Scripts {
        tenant: String,
        router: String,
        result: Result<ScriptBundle, String>,
    },
    /// An answer to [`Effect::FetchWindow`].
    Window {
        ticket: u64,
        result: Result<Fetched, String>,
    },
    /// An answer to [`Effect::FetchPeers`].
    Peers {
        ticket: u64,
        result: Result<Fetched, String>,
    },
    /// `Ok(None)`: the router is gone.
    Detail {
        router_id: i64,
        result: Result<Option<RouterDetail>, String>,
    },
    Events {
        tenant: Option<String>,
        result: Result<Vec<FeedEvent>, String>,
    },
    EventFeed {
        after: FeedCursor,
        result: Result<Vec<FeedEvent>, String>,
    },
    EventCursor(Result<FeedCursor, String>),
}

/// What staging a router's rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staging {
    /// New keys staged now.
    New,
    /// A rotation was staged already and is kept: its keys may be on the router.
    AlreadyStaged,
}

impl Staging {
    /// Staging one router: its report counts one or the other.
    pub fn of(report: &StageReport) -> Self {
        if report.already_staged > 0 {
            Self::AlreadyStaged
        } else {
            Self::New
        }
    }
}

/// The result of an operator's action.
pub enum Outcome {
    TenantAdded(Result<Tenant, String>),
    HubAdded(Result<Hub, String>),
    Provisioned {
        tenant: String,
        name: String,
        result: Result<Router, String>,
    },
    RouterDeleted {
        tenant: String,
        name: String,
        result: Result<(), String>,
    },
    TenantDeleted {
        name: String,
        result: Result<(), String>,
    },
    EnabledSet {
        tenant: String,
        name: String,
        result: Result<Router, String>,
    },
    RotationStaged {
        tenant: String,
        name: String,
        result: Result<(Router, Staging), String>,
    },
    RotationAborted {
        tenant: String,
        name: String,
        result: Result<Router, String>,
    },
    /// `how` says what was done, e.g. "sent to the tmux buffer".
    Copied {
        what: String,
        result: Result<String, String>,
    },
    Saved {
        path: PathBuf,
        result: Result<(), String>,
    },
    /// A router's checks, or why they could not run.
    Diagnosed {
        tenant: String,
        router: String,
        result: Result<Vec<Check>, String>,
    },
    /// Nothing written: a file is at `path` already; the operator is asked to replace it.
    SaveExists {
        path: PathBuf,
        kind: ScriptKind,
        text: Zeroizing<String>,
    },
}

pub enum Msg {
    Key(KeyEvent),
    /// A bracketed paste: one edit of whatever takes text, never a string of keys.
    Paste(String),
    Resize(u16, u16),
    /// The clock moved on: the only way `now` changes.
    Tick(DateTime<Utc>),
    Loaded(Loaded),
    Done(Outcome),
    /// A poll of the hub's interface by this process.
    Live {
        interface: String,
        state: LiveState,
    },
    /// Time to reload the agents' heartbeat (see [`App::agent_due`]).
    RefreshAgent,
    /// A change announced by another console, the command line or the agent (`None`: one
    /// this version cannot read).
    Changed(Option<Change>),
    DbDown(String),
    DbUp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DbHealth {
    Up,
    Down {
        reason: String,
        since: DateTime<Utc>,
    },
}

/// Typing a live filter for a pane.
pub struct FilterEdit {
    pub pane: Pane,
    pub input: TextArea<'static>,
}

pub struct App {
    pub keymap: Keymap,
    pub theme: Theme,
    pub now: DateTime<Utc>,
    pub size: (u16, u16),
    pub focus: Pane,
    pub hubs: Slot<Vec<Hub>>,
    pub tenants: Slot<Vec<Tenant>>,
    pub tenant_cursor: ListCursor,
    pub subnets: Slot<Vec<SubnetUsage>>,
    pub subnet_cursor: ListCursor,
    pub pool: Slot<PoolUsage>,
    pub routers: RouterTable,
    /// With a database: the router list read as a window ([`RouterWindow`]); `routers`
    /// then holds only the window's rows, and its filter, sort and tenant scope are what
    /// the window reads. `None` (tests feeding whole lists): `routers` holds what it is fed.
    pub window: Option<RouterWindow>,
    /// `g`/`G` asked for the list's end beyond the loaded rows.
    window_jump: Option<Fetch>,
    /// The latest window read is such a jump: its answer selects the list's end, where
    /// any other keeps the router the operator moved to while it was out.
    window_jumped: bool,
    /// Routers being provisioned in the background: (tenant, name), shown as pending rows.
    pub provisioning: Vec<(String, String)>,
    /// Routers whose diagnosis runs in the background: (tenant, name). Asking again while
    /// one runs opens its view without starting a second.
    pub diagnosing: HashSet<(String, String)>,
    pub peers: PeerPane,
    /// Keys older than this are due for rotation (`[rotation] max_age_days`; `None`: no
    /// policy). Marks rows and the script view.
    pub rotation_max_age: Option<chrono::Duration>,
    pub layers: Vec<Layer>,
    pub filter_edit: Option<FilterEdit>,
    pub toasts: Vec<Toast>,
    pub db: DbHealth,
    /// When to reload the agents' heartbeat (only while peer status comes from the database).
    pub agent_due: Option<DateTime<Utc>>,
    /// Whether the live poller was asked for (once, when the hubs first load).
    pub live_requested: bool,
    /// How far the live feed has read transitions and alerts (`None` until its start is
    /// known): each status notification reads only what follows.
    pub event_cursor: Option<FeedCursor>,
    pub quit: bool,
    /// A frame is due: something visible changed since the last one (the runtime clears
    /// it after drawing).
    pub dirty: bool,
}

/// The router list's state a window read depends on (see [`App::route_window`]).
#[derive(PartialEq)]
struct ListState {
    tenant: Option<String>,
    filter: String,
    sort: (crate::tui::data::SortKey, bool),
    selected: Option<i64>,
}

/// What handling one message did: the work it asks for, and whether anything visible
/// changed.
#[must_use]
struct Handled {
    effects: Vec<Effect>,
    redraw: bool,
}

impl Handled {
    fn nothing() -> Self {
        Self::redraw(false)
    }

    fn redraw(redraw: bool) -> Self {
        Handled {
            effects: Vec::new(),
            redraw,
        }
    }

    /// Work, and a changed screen.
    fn drawn(effects: Vec<Effect>) -> Self {
        Handled {
            effects,
            redraw: true,
        }
    }

    /// Work only: the screen changes when its result comes back.
    fn quiet(effects: Vec<Effect>) -> Self {
        Handled {
            effects,
            redraw: false,
        }
    }
}

/// Everything loaded at start and after the database comes back.
pub fn load_everything() -> Vec<Effect> {
    [
        Dataset::Hubs,
        Dataset::Tenants,
        Dataset::Subnets,
        Dataset::Pool,
        Dataset::Agent,
        Dataset::Routers { tenant: None },
    ]
    .into_iter()
    .map(Effect::Load)
    .collect()
}

/// What the console loads when it starts: everything, and where the live event feed starts
/// (so the past is not toasted).
pub fn startup() -> Vec<Effect> {
    let mut effects = load_everything();
    effects.push(Effect::Load(Dataset::EventCursor));
    effects
}

impl App {
    pub fn new(keymap: Keymap, theme: Theme, now: DateTime<Utc>) -> Self {
        let routers = RouterTable::default();
        App {
            keymap,
            theme,
            now,
            size: (80, 24),
            focus: Pane::Routers,
            hubs: Slot::default(),
            tenants: Slot::default(),
            tenant_cursor: ListCursor::default(),
            subnets: Slot::default(),
            subnet_cursor: ListCursor::default(),
            pool: Slot::default(),
            routers,
            window: None,
            window_jump: None,
            window_jumped: false,
            provisioning: Vec::new(),
            diagnosing: HashSet::new(),
            peers: PeerPane::default(),
            rotation_max_age: crate::config::RotationConfig::default().max_age(),
            layers: Vec::new(),
            filter_edit: None,
            toasts: Vec::new(),
            db: DbHealth::Up,
            agent_due: None,
            live_requested: false,
            event_cursor: None,
            quit: false,
            dirty: true,
        }
    }

    /// The contexts keys are looked up in now, most specific first.
    pub fn contexts(&self) -> Vec<Context> {
        use Context as C;
        match self.layers.last() {
            Some(layer) => layer.overlay().contexts().to_vec(),
            None if self.filter_edit.is_some() => vec![C::Input, C::Always],
            None => vec![self.focus.context(), C::List, C::Nav, C::Global, C::Always],
        }
    }

    /// Feeds one event in; returns the effects to carry out. Afterwards `dirty` says whether
    /// a frame is due: each handler reports whether it changed anything visible, and a
    /// frame asked for by an earlier event of the same batch stays asked for (the loop
    /// drains many events before it draws once).
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let before = self.list_state();
        let handled = self.dispatch(msg);
        self.dirty |= handled.redraw;
        self.route_window(before, handled.effects)
    }

    /// What the window's reads depend on: tenant scope, filter, sort, and the selection.
    fn list_state(&self) -> ListState {
        let t = &self.routers;
        ListState {
            tenant: t.tenant.clone(),
            filter: t.filter.clone(),
            sort: (t.sort, t.descending),
            selected: t.selected().map(|r| r.id),
        }
    }

    /// The spec the window reads now.
    fn list_spec(&self) -> ListSpec {
        let t = &self.routers;
        let tenant_id = t.tenant.as_deref().and_then(|name| {
            self.tenants
                .value
                .iter()
                .find(|x| x.name == name)
                .map(|x| x.id)
        });
        ListSpec {
            tenant_id,
            filter: t.filter.clone(),
            sort: t.sort,
            descending: t.descending,
        }
    }

    /// Startup effects as the runtime should run them (see [`App::route_window`]).
    pub fn route(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        let before = self.list_state();
        self.route_window(before, effects)
    }

    /// With a window: a whole-list load becomes a window read (a change re-reads only the
    /// window, a burst of them once); a new filter, sort or scope re-reads around the
    /// selected router; a move near the window's edge reads the rows beyond it.
    fn route_window(&mut self, before: ListState, mut effects: Vec<Effect>) -> Vec<Effect> {
        let after = self.list_state();
        let spec = self.list_spec();
        let len = self.routers.len();
        let shown = self.routers.cursor.meant();
        let chosen = self.routers.selected().cloned();
        let peers_shown = self.pane_visible(Pane::Peers);
        let Some(window) = self.window.as_mut() else {
            return effects;
        };
        let loads = effects.len();
        effects.retain(|e| !matches!(e, Effect::Load(Dataset::Routers { .. })));
        let reload = effects.len() != loads;
        // The peer pane's window: the whole fleet in this list's order.
        let peer_spec = self.peers.window_spec(&self.routers);
        let page = (self.size.1 as usize).saturating_sub(4).max(1);
        if let Some((ticket, fetch)) = self.peers.window_read(peer_spec, page, reload, peers_shown)
            && let Some(w) = self.peers.window.as_ref()
        {
            effects.push(Effect::FetchPeers {
                ticket,
                spec: w.spec.clone(),
                fetch,
                margin: w.margin(),
            });
        }
        // Drawn rows of the routers pane at most: the window keeps two pages either side.
        window.page = (self.size.1 as usize).saturating_sub(4).max(1);
        // A selection the window does not hold (a router just provisioned): read around it,
        // once when it is selected and again on a change, not on every message.
        let moved = after.selected != before.selected;
        let lost = match &chosen {
            Some(row) => !window.select_id(row.id) && (moved || reload),
            None => false,
        };
        let jump = self.window_jump.take();
        let jumped = jump.is_some();
        let read = if let Some(jump) = jump {
            window.spec = spec;
            Some(window.jump(jump))
        } else if (&after.tenant, &after.filter, after.sort)
            != (&before.tenant, &before.filter, before.sort)
        {
            let scope = spec.tenant_id != window.spec.tenant_id;
            match &chosen {
                Some(row) if lost && !scope => {
                    window.spec = spec;
                    Some(window.around(row))
                }
                _ => Some(window.respec(spec)),
            }
        } else if let Some(row) = chosen.as_ref().filter(|_| lost) {
            Some(window.around(row))
        } else if reload {
            window.changed()
        } else if moved {
            // Within a page of the window's edge, the view's rows, not only the selection:
            // a page move then keeps the selection's screen row.
            let page = window.page;
            let near_start = !window.at_start() && shown.start < page;
            let near_end = !window.at_end() && shown.end + page > len;
            (near_start || near_end).then(|| window.refresh())
        } else {
            None
        };
        if let Some((ticket, fetch)) = read {
            self.window_jumped = jumped;
            effects.push(Effect::FetchWindow {
                ticket,
                spec: window.spec.clone(),
                fetch,
                margin: window.margin(),
            });
            // Nothing to show yet (a new scope, say): "loading", not "no routers".
            if self.routers.is_empty() {
                self.routers.phase = crate::tui::data::Phase::Loading;
            }
        }
        effects
    }

    /// A window read came back: the table shows its rows, selected where the window is.
    fn on_window(&mut self, ticket: u64, result: Result<Fetched, String>) -> Handled {
        let Some(window) = self.window.as_mut() else {
            return Handled::nothing();
        };
        let redraw = match result {
            Ok(fetched) => {
                // Keys pressed while the read was out moved the selection on: it stays
                // where they put it if the new rows hold it.
                let moved_to = self.routers.selected().map(|r| r.id);
                if window.apply(fetched) {
                    let answered = window.selected().map(|r| r.id);
                    self.routers.replace(None, window.rows().to_vec());
                    let kept = !self.window_jumped
                        && moved_to
                            .is_some_and(|id| window.select_id(id) && self.routers.select_id(id));
                    if !kept && let Some(id) = answered {
                        window.select_id(id);
                        self.routers.select_id(id);
                    }
                    self.routers.phase = crate::tui::data::Phase::Ready;
                    self.routers.updated_at = Some(self.now);
                    // A window holding the whole fleet tells unknown live peers apart;
                    // a partial one cannot (a missing key may be a router off screen).
                    let whole = window.at_start()
                        && window.at_end()
                        && window.spec.filter.is_empty()
                        && window.spec.tenant_id.is_none();
                    self.peers.window_only = !whole;
                    self.peers.rebuild(&self.routers);
                    true
                } else {
                    false
                }
            }
            Err(e) => {
                window.failed(ticket);
                let shown = window.rows().is_empty();
                if shown {
                    self.routers.phase = crate::tui::data::Phase::Failed(e);
                }
                shown
            }
        };
        let mut effects = Vec::new();
        if let Some(window) = self.window.as_mut()
            && let Some((ticket, fetch)) = window.follow_up()
        {
            self.window_jumped = false;
            effects.push(Effect::FetchWindow {
                ticket,
                spec: window.spec.clone(),
                fetch,
                margin: window.margin(),
            });
        }
        Handled { effects, redraw }
    }

    /// A read of the peer pane's window came back.
    fn on_peer_window(&mut self, ticket: u64, result: Result<Fetched, String>) -> Handled {
        let redraw = match result {
            Ok(fetched) => self.peers.window_answer(fetched),
            Err(_) => {
                // The pane keeps what it shows; the routers pane reports the database.
                self.peers.window_failed(ticket);
                false
            }
        };
        let effects = match (self.peers.window_follow_up(), self.peers.window.as_ref()) {
            (Some((ticket, fetch)), Some(w)) => vec![Effect::FetchPeers {
                ticket,
                spec: w.spec.clone(),
                fetch,
                margin: w.margin(),
            }],
            _ => Vec::new(),
        };
        Handled { effects, redraw }
    }

    fn dispatch(&mut self, msg: Msg) -> Handled {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Paste(text) => self.on_paste(&text),
            Msg::Resize(w, h) => {
                let changed = self.size != (w, h);
                self.size = (w, h);
                Handled::redraw(changed)
            }
            Msg::Tick(now) => self.on_tick(now),
            Msg::RefreshAgent => {
                self.agent_due = None;
                match (&self.db, self.peers.is_live()) {
                    (DbHealth::Up, false) => Handled::quiet(vec![Effect::Load(Dataset::Agent)]),
                    _ => Handled::nothing(),
                }
            }
            Msg::Loaded(loaded) => self.on_loaded(loaded),
            Msg::Done(outcome) => self.on_outcome(outcome),
            Msg::Live { interface, state } => {
                let before = self.peers_digest();
                let was_live = self.peers.is_live();
                if self.peers.offer_live(&interface, state) || !was_live {
                    self.peers.rebuild(&self.routers);
                }
                self.agent_due = None;
                Handled::redraw(!was_live || self.peers_digest() != before)
            }
            Msg::Changed(change) => self.on_change(change),
            Msg::DbDown(reason) => {
                if matches!(self.db, DbHealth::Down { .. }) {
                    return Handled::nothing();
                }
                self.db = DbHealth::Down {
                    reason,
                    since: self.now,
                };
                Handled::redraw(true)
            }
            Msg::DbUp => {
                if self.db == DbHealth::Up {
                    // Every load reports the database up: nothing to draw for that.
                    return Handled::nothing();
                }
                self.db = DbHealth::Up;
                self.toast("database reachable again; reloaded");
                let mut effects = load_everything();
                effects.push(self.feed_read());
                effects.extend(self.detail_reloads(None));
                Handled::drawn(effects)
            }
        }
    }

    /// The clock moved on. Every age on screen is in whole seconds or coarser, so within
    /// one second nothing visible moves unless a toast expired.
    fn on_tick(&mut self, now: DateTime<Utc>) -> Handled {
        let second_changed = now.timestamp() != self.now.timestamp();
        self.now = now;
        let toasts = self.toasts.len();
        self.toasts.retain(|t| t.until > now);
        Handled::redraw(second_changed || self.toasts.len() != toasts)
    }

    fn toast(&mut self, text: impl Into<String>) {
        self.toasts.push(Toast::info(text, self.now));
    }

    fn toast_error(&mut self, text: impl Into<String>) {
        self.toasts.push(Toast::error(text, self.now));
    }

    fn on_key(&mut self, key: KeyEvent) -> Handled {
        let action = self.keymap.action(&key, &self.contexts());
        if action == Some(Action::ForceQuit) {
            self.quit = true;
            return Handled::drawn(vec![Effect::Quit]);
        }
        if let Some(top) = self.layers.last_mut() {
            let env = Env {
                now: self.now,
                form: FormContext {
                    tenants: &self.tenants.value,
                    hubs: &self.hubs.value,
                    routers: &self.routers,
                },
            };
            let reply = top.overlay_mut().on_key(key, action, &env);
            return self.carry_out(reply);
        }
        match (self.filter_edit.take(), action) {
            (Some(edit), _) => self.on_filter_key(edit, key, action),
            (None, Some(a)) => self.on_main(a),
            (None, None) => Handled::nothing(),
        }
    }

    /// A bracketed paste goes whole to whatever takes text now; elsewhere it is ignored
    /// (a paste must never act as a string of keys).
    fn on_paste(&mut self, text: &str) -> Handled {
        if let Some(top) = self.layers.last_mut() {
            let env = Env {
                now: self.now,
                form: FormContext {
                    tenants: &self.tenants.value,
                    hubs: &self.hubs.value,
                    routers: &self.routers,
                },
            };
            let reply = top.overlay_mut().on_paste(text, &env);
            return self.carry_out(reply);
        }
        let Some(mut edit) = self.filter_edit.take() else {
            return Handled::nothing();
        };
        let note = paste_into(&mut edit.input, text, INPUT_LIMIT);
        self.apply_filter(&edit);
        self.filter_edit = Some(edit);
        if let Some(note) = note {
            self.toast(note);
        }
        Handled::redraw(true)
    }

    /// What the top overlay's reply asks of the main screen.
    fn carry_out(&mut self, reply: Reply) -> Handled {
        let Reply {
            close,
            mut redraw,
            mut effects,
            open,
            toast,
            ask,
        } = reply;
        if close {
            self.layers.pop();
        }
        if let Some(layer) = open {
            self.layers.push(layer);
        }
        if let Some(t) = toast {
            self.toasts.push(t);
        }
        match ask {
            Some(Ask::Command(cmd)) => effects.extend(self.run_command(cmd)),
            Some(Ask::Submit(request)) => effects.extend(self.submit(request)),
            Some(Ask::Diagnose { tenant, router }) => {
                let handled = self.diagnose(tenant, router);
                effects.extend(handled.effects);
                redraw = true;
            }
            Some(Ask::Rotate { tenant, router }) => redraw |= self.ask_rotation(&tenant, &router),
            None => {}
        }
        Handled {
            effects,
            redraw: redraw || close,
        }
    }

    fn on_main(&mut self, action: Action) -> Handled {
        use Action as A;
        let changed = match action {
            A::Quit => {
                self.quit = true;
                return Handled::drawn(vec![Effect::Quit]);
            }
            A::Help => self.open(HelpView::default()),
            A::Back => self.back_on_main(),
            A::CommandLine => self.open(CommandLine::default()),
            A::NextPane => self.focus_on(Pane::ALL[(self.focus.index() + 1) % 4]),
            A::PrevPane => self.focus_on(Pane::ALL[(self.focus.index() + 3) % 4]),
            A::Pane1 => self.focus_on(Pane::Tenants),
            A::Pane2 => self.focus_on(Pane::Subnets),
            A::Pane3 => self.focus_on(Pane::Routers),
            A::Pane4 => self.focus_on(Pane::Peers),
            A::Provision => {
                let tenant = self
                    .routers
                    .tenant
                    .clone()
                    .or_else(|| self.highlighted_tenant().map(|t| t.name.clone()))
                    .or_else(|| match self.tenants.value.as_slice() {
                        [only] => Some(only.name.clone()),
                        _ => None,
                    });
                self.open(Form::router(tenant.as_deref()))
            }
            A::AddTenant => self.open(Form::tenant()),
            A::AddHub => self.open(Form::hub()),
            A::Events => {
                let view = EventsView::new(self.routers.tenant.clone());
                let load = view.load();
                self.layers.push(Layer::Events(view));
                return Handled::drawn(vec![load]);
            }
            A::Scripts => return self.open_scripts(),
            A::Reload => return Handled::drawn(load_everything()),
            A::Up | A::Down | A::Top | A::Bottom | A::PageUp | A::PageDown => {
                self.move_cursor(action)
            }
            A::Open => return self.open_selected(),
            A::Filter => self.start_filter(),
            A::Sort if self.focus == Pane::Routers => {
                self.routers.cycle_sort();
                self.peers.rebuild(&self.routers);
                true
            }
            A::ReverseSort if self.focus == Pane::Routers => {
                self.routers.reverse();
                self.peers.rebuild(&self.routers);
                true
            }
            A::Delete => self.ask_delete(),
            A::ToggleEnabled => return self.toggle_enabled(),
            A::Diagnose => match (self.focus, self.routers.selected()) {
                (Pane::Routers, Some(r)) => {
                    let (tenant, router) = (r.tenant.to_string(), r.name.to_string());
                    return self.diagnose(tenant, router);
                }
                _ => false,
            },
            A::Rotate => match (self.focus, self.routers.selected()) {
                (Pane::Routers, Some(r)) => {
                    let (tenant, router) = (r.tenant.to_string(), r.name.to_string());
                    self.ask_rotation(&tenant, &router)
                }
                _ => false,
            },
            A::Freeze if self.focus == Pane::Peers => self.toggle_freeze(),
            _ => false,
        };
        Handled::redraw(changed)
    }

    fn open(&mut self, layer: impl Into<Layer>) -> bool {
        self.layers.push(layer.into());
        true
    }

    fn focus_on(&mut self, pane: Pane) -> bool {
        let changed = self.focus != pane;
        self.focus = pane;
        changed
    }

    /// Esc on the main screen: drop the filter, then the tenant scope. Never quits.
    fn back_on_main(&mut self) -> bool {
        match self.focus {
            Pane::Peers if !self.peers.filter.is_empty() => {
                self.peers.set_filter("", &self.routers)
            }
            _ if !self.routers.filter.is_empty() => self.routers.set_filter(""),
            _ if self.routers.tenant.is_some() => {
                self.routers.set_tenant(None);
                self.tenant_cursor.top();
            }
            _ => return false,
        }
        true
    }

    /// The tenant under the cursor in the tenants pane (row 0 is "all tenants").
    pub fn highlighted_tenant(&self) -> Option<&Tenant> {
        self.tenant_cursor
            .selected
            .checked_sub(1)
            .and_then(|i| self.tenants.value.get(i))
    }

    fn move_cursor(&mut self, action: Action) -> bool {
        let len = match self.focus {
            Pane::Tenants => self.tenants.value.len() + 1,
            Pane::Subnets => self.subnets.value.len(),
            Pane::Routers => self.routers.len(),
            Pane::Peers => self.peers.len(),
        };
        // Past the loaded rows, g and G read the list's own ends.
        if let (Pane::Routers, Some(w)) = (self.focus, &self.window) {
            self.window_jump = match action {
                Action::Top if !w.at_start() => Some(Fetch::First),
                Action::Bottom if !w.at_end() => Some(Fetch::Last),
                _ => None,
            };
        }
        let cursor = match self.focus {
            Pane::Tenants => &mut self.tenant_cursor,
            Pane::Subnets => &mut self.subnet_cursor,
            Pane::Routers => &mut self.routers.cursor,
            Pane::Peers => &mut self.peers.cursor,
        };
        let moved = cursor.step(action, len);
        if self.focus == Pane::Peers {
            // Past the loaded rows, or near their edge: the pane's window reads on.
            self.peers.window_step(action);
        }
        moved
    }

    fn open_selected(&mut self) -> Handled {
        match self.focus {
            Pane::Tenants => {
                let tenant = self.highlighted_tenant().map(|t| t.name.clone());
                self.routers.set_tenant(tenant);
                self.focus = Pane::Routers;
                Handled::redraw(true)
            }
            Pane::Routers => match self.routers.selected() {
                Some(r) => {
                    let view = DetailView::new(r.id, &r.tenant, &r.name, self.rotation_max_age);
                    let load = view.load();
                    self.layers.push(Layer::Detail(view));
                    Handled::drawn(vec![load])
                }
                None => Handled::nothing(),
            },
            _ => Handled::nothing(),
        }
    }

    /// The selected router's scripts (from the routers pane).
    fn open_scripts(&mut self) -> Handled {
        match self.focus {
            Pane::Routers => match self.routers.selected() {
                Some(r) => {
                    let (tenant, name) = (r.tenant.to_string(), r.name.to_string());
                    self.layers.push(Layer::Script(ScriptView::new(
                        &tenant,
                        &name,
                        ScriptKind::RouterOs,
                        self.rotation_max_age,
                    )));
                    Handled::drawn(vec![Effect::LoadScripts {
                        tenant,
                        router: name,
                    }])
                }
                None => Handled::nothing(),
            },
            _ => Handled::nothing(),
        }
    }

    fn start_filter(&mut self) -> bool {
        let current = match self.focus {
            Pane::Routers => self.routers.filter.clone(),
            Pane::Peers => self.peers.filter.clone(),
            _ => return false,
        };
        let mut input = TextArea::new(vec![current]);
        input.move_cursor(ratatui_textarea::CursorMove::End);
        self.filter_edit = Some(FilterEdit {
            pane: self.focus,
            input,
        });
        true
    }

    fn on_filter_key(
        &mut self,
        mut edit: FilterEdit,
        key: KeyEvent,
        action: Option<Action>,
    ) -> Handled {
        match action {
            Some(Action::Submit) => return Handled::redraw(true),
            Some(Action::Back) => {
                edit.input = TextArea::default();
                self.apply_filter(&edit);
                return Handled::redraw(true);
            }
            _ => {}
        }
        let changed = edit.input.input(key);
        if changed {
            self.apply_filter(&edit);
        }
        self.filter_edit = Some(edit);
        Handled::redraw(changed)
    }

    fn apply_filter(&mut self, edit: &FilterEdit) {
        let text = edit.input.lines().first().cloned().unwrap_or_default();
        match edit.pane {
            Pane::Peers => self.peers.set_filter(&text, &self.routers),
            _ => self.routers.set_filter(&text),
        }
    }

    fn ask_delete(&mut self) -> bool {
        let target = match self.focus {
            Pane::Tenants => self
                .highlighted_tenant()
                .map(|t| ConfirmTarget::DeleteTenant {
                    name: t.name.clone(),
                    routers: t.routers,
                }),
            Pane::Routers => self
                .routers
                .selected()
                .map(|r| ConfirmTarget::DeleteRouter {
                    tenant: r.tenant.to_string(),
                    name: r.name.to_string(),
                }),
            _ => None,
        };
        match target {
            Some(t) => self.open(Confirmation::new(t)),
            None => false,
        }
    }

    /// Asks to stage new keys for a router, or to abort the rotation it has staged: which
    /// one follows from the router's row as last loaded (a reload follows every change).
    fn ask_rotation(&mut self, tenant: &str, name: &str) -> bool {
        let Some(row) = self.routers.find(tenant, name) else {
            self.toast_error(format!("{tenant}/{name} is not loaded; ctrl-r reloads"));
            return true;
        };
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        let target = match row.keys.rotation_state() {
            RotationState::None => ConfirmTarget::StageRotation { tenant, name },
            RotationState::Staged => ConfirmTarget::AbortRotation { tenant, name },
        };
        self.open(Confirmation::new(target))
    }

    fn reload_all_scripts(&self) -> Vec<Effect> {
        self.layers
            .iter()
            .filter_map(|l| match l {
                Layer::Script(s) => Some(Effect::LoadScripts {
                    tenant: s.tenant.clone(),
                    router: s.router.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// The script views open on `tenant/name` reload: a rotation changes the keys they show.
    fn reload_scripts(&self, tenant: &str, name: &str) -> Vec<Effect> {
        self.layers
            .iter()
            .filter_map(|l| match l {
                Layer::Script(s) if s.tenant == tenant && s.router == name => {
                    Some(Effect::LoadScripts {
                        tenant: s.tenant.clone(),
                        router: s.router.clone(),
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Opens the diagnosis of a router and starts it, unless one is running already: its
    /// result then fills this view.
    fn diagnose(&mut self, tenant: String, router: String) -> Handled {
        self.layers
            .push(Layer::Diagnosis(DiagnosisView::new(&tenant, &router)));
        if !self.diagnosing.insert((tenant.clone(), router.clone())) {
            return Handled::redraw(true);
        }
        Handled::drawn(vec![Effect::Diagnose { tenant, router }])
    }

    /// A diagnosis came back: into its view if one is open, else told in a toast.
    fn diagnosed(&mut self, tenant: String, router: String, result: Result<Vec<Check>, String>) {
        self.diagnosing.remove(&(tenant.clone(), router.clone()));
        let view = self.layers.iter_mut().rev().find_map(|l| match l {
            Layer::Diagnosis(v) if v.is_for(&tenant, &router) => Some(v),
            _ => None,
        });
        match (view, result) {
            (Some(v), result) => v.set_result(result),
            (None, Ok(checks)) => {
                let count = |s| checks.iter().filter(|c| c.status == s).count();
                let key = self.keymap.key_for(Action::Diagnose, Context::Routers);
                self.toast(format!(
                    "diagnosis of {tenant}/{router}: {} fail, {} warn ({key} runs it again)",
                    count(Status::Fail),
                    count(Status::Warn)
                ));
            }
            (None, Err(e)) => self.toast_error(format!("diagnosing {tenant}/{router}: {e}")),
        }
    }

    fn toggle_enabled(&mut self) -> Handled {
        match (self.focus, self.routers.selected()) {
            (Pane::Routers, Some(r)) => Handled::quiet(vec![Effect::SetEnabled {
                tenant: r.tenant.to_string(),
                name: r.name.to_string(),
                enabled: !r.enabled,
            }]),
            _ => Handled::nothing(),
        }
    }

    fn submit(&mut self, request: Request) -> Vec<Effect> {
        match request {
            Request::AddTenant(name) => {
                self.toast(format!("adding tenant {name}…"));
                vec![Effect::AddTenant(name)]
            }
            Request::AddHub(hub) => {
                self.toast(format!("adding hub {}…", hub.name));
                vec![Effect::AddHub(hub)]
            }
            Request::Provision(req) => {
                // Shown at once as a pending row; the real row replaces it when it lands.
                self.provisioning
                    .push((req.tenant.to_string(), req.spec.name.to_string()));
                self.focus = Pane::Routers;
                if self
                    .routers
                    .tenant
                    .as_deref()
                    .is_some_and(|t| t != req.tenant.as_str())
                {
                    self.routers.set_tenant(Some(req.tenant.to_string()));
                }
                vec![Effect::Provision(req)]
            }
        }
    }

    fn run_command(&mut self, cmd: Command) -> Vec<Effect> {
        match cmd {
            Command::Tenant(name) => match self.tenants.value.iter().position(|t| t.name == name) {
                Some(i) => {
                    self.tenant_cursor.selected = i + 1;
                    self.routers.set_tenant(Some(name));
                    self.focus = Pane::Routers;
                }
                None => self.toast_error(format!("no tenant named {name}")),
            },
            Command::Router { tenant, name } => {
                if self.routers.select(tenant.as_deref(), &name) {
                    self.focus = Pane::Routers;
                } else if self.window.is_some() {
                    // Only the window is loaded: the database finds it by its name.
                    if tenant.is_some() {
                        self.routers.set_tenant(tenant);
                    }
                    self.routers.set_filter(&name);
                    self.focus = Pane::Routers;
                } else {
                    self.toast_error(format!("no router named {name}"));
                }
            }
            Command::AllTenants => {
                self.routers.set_tenant(None);
                self.tenant_cursor.top();
                self.focus = Pane::Routers;
            }
            Command::Quit => {
                self.quit = true;
                return vec![Effect::Quit];
            }
            Command::Help => self.layers.push(Layer::Help(HelpView::default())),
        }
        Vec::new()
    }

    fn on_loaded(&mut self, loaded: Loaded) -> Handled {
        let now = self.now;
        match loaded {
            Loaded::Tenants(r) => {
                self.tenants.set(r, now);
                self.tenant_cursor.clamp(self.tenants.value.len() + 1);
            }
            Loaded::Subnets(r) => {
                self.subnets.set(r, now);
                self.subnet_cursor.clamp(self.subnets.value.len());
            }
            Loaded::Pool(r) => self.pool.set(r, now),
            Loaded::Hubs(r) => {
                self.hubs.set(r, now);
                if !self.live_requested && self.hubs.is_ready() && !self.hubs.value.is_empty() {
                    self.live_requested = true;
                    return Handled::drawn(vec![Effect::StartLive(self.hubs.value.clone())]);
                }
            }
            Loaded::Agent(r) => {
                let before = self.peers_digest();
                self.peers.agent.set(r, now);
                if !self.peers.is_live() {
                    self.peers.rebuild(&self.routers);
                    self.agent_due =
                        Some(now + chrono::Duration::seconds(self.peers.interval_secs as i64));
                }
                return Handled::redraw(self.peers_digest() != before);
            }
            Loaded::Routers { tenant, result } => match result {
                Ok(rows) => {
                    self.routers.replace(tenant.as_deref(), rows);
                    self.routers.phase = crate::tui::data::Phase::Ready;
                    self.routers.updated_at = Some(now);
                    self.peers.rebuild(&self.routers);
                }
                Err(e) => self.routers.phase = crate::tui::data::Phase::Failed(e),
            },
            Loaded::Scripts {
                tenant,
                router,
                result,
            } => {
                let view = self.layers.iter_mut().find_map(|l| match l {
                    Layer::Script(s) if s.tenant == tenant && s.router == router => Some(s),
                    _ => None,
                });
                match view {
                    Some(v) => v.set_bundle(result),
                    None => return Handled::nothing(),
                }
            }
            Loaded::Window { ticket, result } => return self.on_window(ticket, result),
            Loaded::Peers { ticket, result } => return self.on_peer_window(ticket, result),
            Loaded::Detail { router_id, result } => {
                let mut any = false;
                for layer in &mut self.layers {
                    if let Layer::Detail(v) = layer
                        && v.router_id == router_id
                    {
                        v.set(result.clone());
                        any = true;
                    }
                }
                return Handled::redraw(any);
            }
            Loaded::Events { tenant, result } => {
                let mut any = false;
                for layer in &mut self.layers {
                    if let Layer::Events(v) = layer {
                        any |= v.set_loaded(tenant.as_deref(), result.clone());
                    }
                }
                return Handled::redraw(any);
            }
            Loaded::EventCursor(result) => {
                return match result {
                    // A cursor already known (a reload raced this one) stays: it is newer.
                    Ok(id) if self.event_cursor.is_none() => {
                        self.event_cursor = Some(id);
                        Handled::nothing()
                    }
                    _ => Handled::nothing(),
                };
            }
            Loaded::EventFeed { after, result } => return self.on_feed(after, result),
        }
        Handled::redraw(true)
    }

    fn on_outcome(&mut self, outcome: Outcome) -> Handled {
        Handled::drawn(self.outcome_effects(outcome))
    }

    /// Every outcome is told in a toast; some ask for reloads.
    fn outcome_effects(&mut self, outcome: Outcome) -> Vec<Effect> {
        let counts = || {
            vec![
                Effect::Load(Dataset::Tenants),
                Effect::Load(Dataset::Subnets),
                Effect::Load(Dataset::Pool),
            ]
        };
        match outcome {
            Outcome::TenantAdded(Ok(t)) => {
                self.toast(format!(
                    "tenant {} added with subnet {}",
                    t.name, t.subnet_cidr
                ));
                return counts();
            }
            Outcome::HubAdded(Ok(h)) => {
                self.toast(format!("hub {} added ({})", h.name, h.endpoint));
                return vec![Effect::Load(Dataset::Hubs)];
            }
            Outcome::Provisioned {
                tenant,
                name,
                result,
            } => {
                self.provisioning
                    .retain(|(t, n)| !(*t == tenant && *n == name));
                match result {
                    Ok(router) => {
                        self.toast(format!(
                            "{tenant}/{name} provisioned at {}: c shows its script",
                            router.vpn_ip
                        ));
                        self.routers.upsert(&router);
                        self.peers.rebuild(&self.routers);
                        return counts();
                    }
                    Err(e) => self.toast_error(format!("provisioning {tenant}/{name} failed: {e}")),
                }
            }
            Outcome::RouterDeleted {
                tenant,
                name,
                result: Ok(()),
            } => {
                self.routers.remove(&tenant, &name);
                self.peers.rebuild(&self.routers);
                self.toast(format!(
                    "router {tenant}/{name} deleted; its address is free again"
                ));
                return counts();
            }
            Outcome::TenantDeleted {
                name,
                result: Ok(()),
            } => {
                self.routers.remove_tenant(&name);
                self.peers.rebuild(&self.routers);
                if self.routers.tenant.as_deref() == Some(name.as_str()) {
                    self.routers.set_tenant(None);
                }
                self.toast(format!("tenant {name} deleted with its routers and subnet"));
                return counts();
            }
            Outcome::EnabledSet {
                result: Ok(router), ..
            } => {
                let word = if router.enabled {
                    "enabled"
                } else {
                    "disabled"
                };
                self.toast(format!("{}/{} {word}", router.tenant, router.name));
                self.routers.upsert(&router);
                self.peers.rebuild(&self.routers);
            }
            Outcome::RotationStaged {
                tenant,
                name,
                result: Ok((router, staging)),
            } => {
                match staging {
                    // Staged before (elsewhere, or twice here): kept, as its keys may already
                    // be on the router.
                    Staging::AlreadyStaged => self.toast(format!(
                        "{tenant}/{name} already has new keys staged; kept them"
                    )),
                    Staging::New => self.toast(format!(
                        "new keys staged for {tenant}/{name}: run its script again; \
                         the hub cuts over on their first handshake"
                    )),
                }
                self.routers.upsert(&router);
                self.peers.rebuild(&self.routers);
                return self.reload_scripts(&tenant, &name);
            }
            Outcome::RotationAborted {
                tenant,
                name,
                result: Ok(router),
            } => {
                self.toast(format!(
                    "key rotation of {tenant}/{name} aborted; it keeps its current keys"
                ));
                self.routers.upsert(&router);
                self.peers.rebuild(&self.routers);
                return self.reload_scripts(&tenant, &name);
            }
            Outcome::RotationStaged {
                tenant,
                name,
                result: Err(e),
            } => self.toast_error(format!("staging new keys for {tenant}/{name}: {e}")),
            Outcome::RotationAborted {
                tenant,
                name,
                result: Err(e),
            } => self.toast_error(format!("aborting the rotation of {tenant}/{name}: {e}")),
            Outcome::Copied {
                what,
                result: Ok(how),
            } => self.toast(format!("copied {what}: {how}")),
            Outcome::Saved {
                path,
                result: Ok(()),
            } => self.toast(format!("saved to {} (mode 0600)", path.display())),
            Outcome::Diagnosed {
                tenant,
                router,
                result,
            } => self.diagnosed(tenant, router, result),
            Outcome::SaveExists { path, kind, text } => self
                .layers
                .push(Layer::Save(SaveDialog::replacing(&path, kind, text))),
            Outcome::TenantAdded(Err(e)) | Outcome::HubAdded(Err(e)) => self.toast_error(e),
            Outcome::RouterDeleted { result: Err(e), .. }
            | Outcome::TenantDeleted { result: Err(e), .. }
            | Outcome::EnabledSet { result: Err(e), .. }
            | Outcome::Copied { result: Err(e), .. }
            | Outcome::Saved { result: Err(e), .. } => self.toast_error(e),
        }
        Vec::new()
    }

    fn tenant_name(&self, id: Option<i64>) -> Option<String> {
        let id = id?;
        self.tenants
            .value
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.name.clone())
    }

    /// Reloads what a change notification touched, no more.
    fn on_change(&mut self, change: Option<Change>) -> Handled {
        let Some(change) = change else {
            return Handled::quiet(load_everything());
        };
        let tenant = self.tenant_name(change.tenant_id);
        let counts = [Dataset::Tenants, Dataset::Subnets, Dataset::Pool];
        let mut removed = false;
        let sets: Vec<Dataset> = match change.kind {
            ChangeKind::HubCreated | ChangeKind::HubUpdated => vec![Dataset::Hubs],
            ChangeKind::TenantDeleted => {
                if let Some(t) = &tenant {
                    self.routers.remove_tenant(t);
                    self.peers.rebuild(&self.routers);
                    removed = true;
                }
                counts.to_vec()
            }
            ChangeKind::TenantCreated => counts.to_vec(),
            ChangeKind::RouterCreated
            | ChangeKind::RoutersImported
            | ChangeKind::RouterDeleted
            | ChangeKind::RouterEnabled
            | ChangeKind::RouterDisabled => {
                let mut v = counts.to_vec();
                v.push(Dataset::Routers { tenant });
                v.push(Dataset::Hubs);
                v
            }
            ChangeKind::RotationStaged
            | ChangeKind::RotationAborted
            | ChangeKind::RouterRotated => {
                // An open script view shows the staged keys or the current ones: it follows.
                let router = change.id.and_then(|id| self.routers.find_id(id));
                let scripts = match router {
                    Some(r) => self.reload_scripts(&r.tenant, &r.name),
                    // Staged over a whole tenant (or a router not loaded): every view.
                    None => self.reload_all_scripts(),
                };
                return Handled::quiet(
                    std::iter::once(Effect::Load(Dataset::Routers { tenant }))
                        .chain(scripts)
                        .collect(),
                );
            }
            ChangeKind::StatusUpdated => {
                // A poll may have recorded transitions: the feed reads what is new, and the
                // detail views of the hub's routers reload.
                let mut effects: Vec<Effect> = [
                    Dataset::Routers { tenant },
                    Dataset::Tenants,
                    Dataset::Agent,
                ]
                .into_iter()
                .map(Effect::Load)
                .collect();
                effects.push(self.feed_read());
                effects.extend(self.detail_reloads(change.hub_id));
                return Handled::quiet(effects);
            }
        };
        // What was reloaded redraws when it arrives.
        Handled {
            effects: sets.into_iter().map(Effect::Load).collect(),
            redraw: removed,
        }
    }

    /// The live feed's next read: the events after the cursor, or the cursor itself while
    /// it is not known yet.
    fn feed_read(&self) -> Effect {
        Effect::Load(match self.event_cursor {
            Some(after) => Dataset::EventFeed { after },
            None => Dataset::EventCursor,
        })
    }

    /// Reloads of the open detail views of routers on `hub` (`None`: every one).
    fn detail_reloads(&self, hub: Option<i64>) -> Vec<Effect> {
        let mut effects: Vec<Effect> = Vec::new();
        for layer in &self.layers {
            if let Layer::Detail(v) = layer
                && (hub.is_none() || v.hub_id().is_none() || v.hub_id() == hub)
            {
                effects.push(v.load());
            }
        }
        effects
    }

    /// New events from the live feed: the cursors move past them, one toast tells the alerts
    /// among them (coalesced), and an open events view lists them all.
    fn on_feed(&mut self, after: FeedCursor, result: Result<Vec<FeedEvent>, String>) -> Handled {
        let Ok(events) = result else {
            // Read again on the next notification.
            return Handled::nothing();
        };
        let cursor = self.event_cursor.unwrap_or(after);
        // A read that started before another's result moved the cursor: only what is newer.
        let fresh: Vec<FeedEvent> = events
            .into_iter()
            .filter(|e| cursor.precedes(e.id))
            .collect();
        if fresh.is_empty() {
            return Handled::nothing();
        }
        self.event_cursor = Some(cursor.past(&fresh));
        let mut redraw = false;
        if let Some(news) = monitor::announce(&fresh) {
            toast::push_alerts(&mut self.toasts, news, self.now);
            redraw = true;
        }
        for layer in &mut self.layers {
            if let Layer::Events(v) = layer {
                redraw |= v.offer(&fresh);
            }
        }
        Handled::redraw(redraw)
    }

    /// Seconds until a visible toast expires (the runtime wakes up for it).
    pub fn next_toast_expiry(&self) -> Option<i64> {
        self.toasts
            .iter()
            .map(|t| (t.until - self.now).num_seconds().max(1))
            .min()
    }

    /// Is `pane` on screen (all four are from the wide size on, else only the focused one)?
    pub fn pane_visible(&self, pane: Pane) -> bool {
        let (w, h) = self.size;
        (w >= crate::tui::ui::WIDE_WIDTH && h >= crate::tui::ui::WIDE_HEIGHT) || self.focus == pane
    }

    /// A digest of everything on screen that peer data feeds: the peer pane's label and
    /// visible rows, and the routers pane's visible rows (their links can be live).
    fn peers_digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        if self.pane_visible(Pane::Peers) {
            self.peers.digest(&self.routers, self.now).hash(&mut h);
        }
        if self.pane_visible(Pane::Routers) {
            for i in self.routers.cursor.window(self.routers.len()) {
                if let Some(row) = self.routers.view_index(i) {
                    self.peers.link(&self.routers, row).hash(&mut h);
                }
            }
        }
        h.finish()
    }

    fn toggle_freeze(&mut self) -> bool {
        if !self.peers.is_live() {
            self.toast(
                "freeze applies to live peer status; this view changes only when the agent writes",
            );
            return true;
        }
        if self.peers.toggle_freeze() {
            self.peers.rebuild(&self.routers);
        }
        true
    }
}
