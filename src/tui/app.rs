//! The console's state and its one update function: a message in (a key, a result from a
//! background task, a change notification, a clock tick), the state updated, effects out
//! (load this, provision that, copy this text). No terminal, no database, no clock reads:
//! tests drive it with plain values.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::KeyEvent;
use ratatui_textarea::TextArea;
use zeroize::Zeroizing;

use crate::model::{Hub, Router, SubnetUsage, Tenant, TenantName};
use crate::tui::data::{
    ListCursor, PeerSnapshot, PeerSource, PoolUsage, RouterTable, ScriptBundle, ScriptKind, Slot,
};
use crate::tui::forms::{Form, FormContext, HubRequest, ProvisionRequest, Request};
use crate::tui::keymap::{Action, Context, Keymap};
use crate::tui::overlays::command::{self, Command, CommandLine};
use crate::tui::overlays::confirm::{ConfirmDelete, DeleteTarget};
use crate::tui::overlays::help::HelpView;
use crate::tui::overlays::qr::QrView;
use crate::tui::overlays::raw::RawView;
use crate::tui::overlays::save::SaveDialog;
use crate::tui::overlays::script::ScriptView;
use crate::tui::overlays::toast::Toast;
use crate::tui::theme::Theme;

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

/// Something drawn over the panes; Esc closes the top one.
pub enum Layer {
    Help(HelpView),
    Form(Form),
    Confirm(ConfirmDelete),
    Command(CommandLine),
    Script(ScriptView),
    Qr(QrView),
    Raw(RawView),
    Save(SaveDialog),
}

/// A dataset a background task loads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dataset {
    Hubs,
    Tenants,
    Subnets,
    Pool,
    /// One tenant's routers, or all of them.
    Routers {
        tenant: Option<String>,
    },
}

/// Work the state asks the runtime to do; results come back as [`Msg`].
#[derive(Debug)]
pub enum Effect {
    Load(Dataset),
    LoadScripts {
        tenant: String,
        router: String,
    },
    AddTenant(TenantName),
    AddHub(HubRequest),
    Provision(ProvisionRequest),
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
    Save {
        path: PathBuf,
        text: Zeroizing<String>,
    },
    Quit,
}

/// A dataset that arrived (or failed to).
pub enum Loaded {
    Hubs(Result<Vec<Hub>, String>),
    Tenants(Result<Vec<Tenant>, String>),
    Subnets(Result<Vec<SubnetUsage>, String>),
    Pool(Result<PoolUsage, String>),
    Routers {
        tenant: Option<String>,
        result: Result<Vec<Router>, String>,
    },
    Scripts {
        tenant: String,
        router: String,
        result: Result<ScriptBundle, String>,
    },
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
    /// `how` says what was done, e.g. "sent to the tmux buffer".
    Copied {
        what: String,
        result: Result<String, String>,
    },
    Saved {
        path: PathBuf,
        result: Result<(), String>,
    },
}

pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    /// The clock moved on (the runtime only ticks when something on screen changes).
    Tick(DateTime<Utc>),
    Loaded(Loaded),
    Done(Outcome),
    /// A new peer table from a live poller.
    Peers(PeerSnapshot),
    /// A change announced by another console, the command line or the agent.
    Changed {
        kind: String,
        op: String,
        tenant_id: Option<i64>,
    },
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

/// The peer pane: the snapshot on screen, and the newest one held back while frozen.
#[derive(Debug, Default)]
pub struct PeerPane {
    pub shown: Option<PeerSnapshot>,
    pub held: Option<PeerSnapshot>,
    pub frozen: bool,
    /// A live poller feeds this pane; database rows are no longer used for it.
    pub live: bool,
    pub cursor: ListCursor,
    pub filter: String,
    view: Vec<u32>,
}

impl PeerPane {
    fn offer(&mut self, snap: PeerSnapshot) {
        if self.frozen {
            self.held = Some(snap);
        } else {
            self.shown = Some(snap);
            self.refilter();
        }
    }

    fn refilter(&mut self) {
        let needle = self.filter.to_ascii_lowercase();
        self.view.clear();
        if let Some(s) = &self.shown {
            self.view
                .extend(s.peers.iter().enumerate().filter_map(|(i, p)| {
                    let hit = needle.is_empty()
                        || p.router
                            .as_deref()
                            .unwrap_or("unknown")
                            .to_ascii_lowercase()
                            .contains(&needle)
                        || p.vpn_ip.is_some_and(|ip| ip.to_string().contains(&needle))
                        || p.public_key.to_ascii_lowercase().contains(&needle);
                    hit.then_some(i as u32)
                }));
        }
        self.cursor.clamp(self.view.len());
    }

    pub fn set_filter(&mut self, filter: &str) {
        self.filter = filter.to_owned();
        self.refilter();
    }

    fn toggle_freeze(&mut self) {
        self.frozen = !self.frozen;
        if !self.frozen
            && let Some(s) = self.held.take()
        {
            self.shown = Some(s);
            self.refilter();
        }
    }

    pub fn len(&self) -> usize {
        self.view.len()
    }

    pub fn is_empty(&self) -> bool {
        self.view.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&crate::tui::data::PeerRow> {
        let s = self.shown.as_ref()?;
        self.view.get(i).map(|&p| &s.peers[p as usize])
    }
}

/// Typing a live filter for a pane.
pub struct FilterEdit {
    pub pane: Pane,
    pub input: TextArea<'static>,
}

/// Status thresholds (seconds) used to classify live peers.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub online_secs: u64,
    pub stale_secs: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            online_secs: 180,
            stale_secs: 600,
        }
    }
}

pub struct App {
    pub keymap: Keymap,
    pub theme: Theme,
    pub thresholds: Thresholds,
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
    /// Routers being provisioned in the background: (tenant, name), shown as pending rows.
    pub provisioning: Vec<(String, String)>,
    pub peers: PeerPane,
    pub layers: Vec<Layer>,
    pub filter_edit: Option<FilterEdit>,
    pub toasts: Vec<Toast>,
    pub db: DbHealth,
    pub quit: bool,
    /// Set when the state changed since the last frame.
    pub dirty: bool,
}

/// Everything loaded at start and after the database comes back.
pub fn load_everything() -> Vec<Effect> {
    [
        Dataset::Hubs,
        Dataset::Tenants,
        Dataset::Subnets,
        Dataset::Pool,
        Dataset::Routers { tenant: None },
    ]
    .into_iter()
    .map(Effect::Load)
    .collect()
}

impl App {
    pub fn new(keymap: Keymap, theme: Theme, now: DateTime<Utc>) -> Self {
        App {
            keymap,
            theme,
            thresholds: Thresholds::default(),
            now,
            size: (80, 24),
            focus: Pane::Routers,
            hubs: Slot::default(),
            tenants: Slot::default(),
            tenant_cursor: ListCursor::default(),
            subnets: Slot::default(),
            subnet_cursor: ListCursor::default(),
            pool: Slot::default(),
            routers: RouterTable::default(),
            provisioning: Vec::new(),
            peers: PeerPane::default(),
            layers: Vec::new(),
            filter_edit: None,
            toasts: Vec::new(),
            db: DbHealth::Up,
            quit: false,
            dirty: true,
        }
    }

    /// The contexts keys are looked up in now, most specific first.
    pub fn contexts(&self) -> Vec<Context> {
        use Context as C;
        match self.layers.last() {
            None if self.filter_edit.is_some() => vec![C::Input, C::Always],
            None => vec![self.focus.context(), C::List, C::Nav, C::Global, C::Always],
            Some(Layer::Help(_) | Layer::Raw(_)) => vec![C::List, C::Nav, C::Always],
            Some(Layer::Form(_)) => vec![C::Form, C::Always],
            Some(Layer::Confirm(_)) => vec![C::Confirm, C::Always],
            Some(Layer::Command(_) | Layer::Save(_)) => vec![C::Input, C::Always],
            Some(Layer::Script(_)) => vec![C::Script, C::List, C::Nav, C::Always],
            Some(Layer::Qr(_)) => vec![C::Nav, C::Always],
        }
    }

    /// Feeds one event in; returns the effects to carry out. Afterwards `dirty` says whether
    /// a frame is due. Handlers clear it when they changed nothing; that must never cancel a
    /// redraw an earlier event of the same batch asked for (the loop drains many at once).
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let pending = self.dirty;
        self.dirty = true;
        let effects = self.dispatch(msg);
        self.dirty |= pending;
        effects
    }

    fn dispatch(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Resize(w, h) => {
                self.size = (w, h);
                Vec::new()
            }
            Msg::Tick(now) => {
                self.now = now;
                self.toasts.retain(|t| t.until > now);
                Vec::new()
            }
            Msg::Loaded(loaded) => self.on_loaded(loaded),
            Msg::Done(outcome) => self.on_outcome(outcome),
            Msg::Peers(snap) => {
                self.peers.live = true;
                self.peers.offer(snap);
                Vec::new()
            }
            Msg::Changed {
                kind,
                op,
                tenant_id,
            } => self.on_change(&kind, &op, tenant_id),
            Msg::DbDown(reason) => {
                if !matches!(self.db, DbHealth::Down { .. }) {
                    self.db = DbHealth::Down {
                        reason,
                        since: self.now,
                    };
                }
                Vec::new()
            }
            Msg::DbUp => {
                let was_down = matches!(self.db, DbHealth::Down { .. });
                self.db = DbHealth::Up;
                if was_down {
                    self.toast("database reachable again; reloaded");
                    load_everything()
                } else {
                    Vec::new()
                }
            }
        }
    }

    fn toast(&mut self, text: impl Into<String>) {
        self.toasts.push(Toast::info(text, self.now));
    }

    fn toast_error(&mut self, text: impl Into<String>) {
        self.toasts.push(Toast::error(text, self.now));
    }

    fn form_context(&self) -> FormContext<'_> {
        FormContext {
            tenants: &self.tenants.value,
            hubs: &self.hubs.value,
            routers: &self.routers,
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let action = self.keymap.action(&key, &self.contexts());
        if action == Some(Action::ForceQuit) {
            self.quit = true;
            return vec![Effect::Quit];
        }
        let Some(layer) = self.layers.pop() else {
            return match self.filter_edit.take() {
                Some(edit) => self.on_filter_key(edit, key, action),
                None => match action {
                    Some(a) => self.on_main(a),
                    None => {
                        self.dirty = false;
                        Vec::new()
                    }
                },
            };
        };
        let (kept, effects) = match layer {
            Layer::Form(form) => self.on_form(form, key, action),
            Layer::Confirm(c) => self.on_confirm(c, key, action),
            Layer::Command(c) => self.on_command(c, key, action),
            Layer::Save(s) => self.on_save(s, key, action),
            Layer::Script(s) => self.on_script(s, action),
            Layer::Help(h) => (self.on_help(h, action), Vec::new()),
            Layer::Raw(r) => (on_raw(r, action), Vec::new()),
            Layer::Qr(q) => (
                (action != Some(Action::Back)).then_some(Layer::Qr(q)),
                Vec::new(),
            ),
        };
        if let Some(layer) = kept {
            // A layer handler may have opened another one on top; keep the order.
            let above = std::mem::take(&mut self.layers);
            self.layers.push(layer);
            self.layers.extend(above);
        }
        effects
    }

    fn on_main(&mut self, action: Action) -> Vec<Effect> {
        use Action as A;
        match action {
            A::Quit => {
                self.quit = true;
                return vec![Effect::Quit];
            }
            A::Help => self.layers.push(Layer::Help(HelpView::default())),
            A::Back => self.back_on_main(),
            A::CommandLine => self.layers.push(Layer::Command(CommandLine::default())),
            A::NextPane => self.focus = Pane::ALL[(self.focus.index() + 1) % 4],
            A::PrevPane => self.focus = Pane::ALL[(self.focus.index() + 3) % 4],
            A::Pane1 => self.focus = Pane::Tenants,
            A::Pane2 => self.focus = Pane::Subnets,
            A::Pane3 => self.focus = Pane::Routers,
            A::Pane4 => self.focus = Pane::Peers,
            A::Provision => {
                let tenant = self
                    .routers
                    .tenant
                    .clone()
                    .or_else(|| self.highlighted_tenant().map(|t| t.name.clone()));
                self.layers
                    .push(Layer::Form(Form::router(tenant.as_deref())));
            }
            A::AddTenant => self.layers.push(Layer::Form(Form::tenant())),
            A::AddHub => self.layers.push(Layer::Form(Form::hub())),
            A::Reload => return load_everything(),
            A::Up | A::Down | A::Top | A::Bottom | A::PageUp | A::PageDown => {
                self.move_cursor(action)
            }
            A::Open => return self.open(),
            A::Filter => self.start_filter(),
            A::Sort if self.focus == Pane::Routers => self.routers.cycle_sort(),
            A::ReverseSort if self.focus == Pane::Routers => self.routers.reverse(),
            A::Delete => self.ask_delete(),
            A::ToggleEnabled => return self.toggle_enabled(),
            A::Freeze if self.focus == Pane::Peers => self.peers.toggle_freeze(),
            _ => self.dirty = false,
        }
        Vec::new()
    }

    /// Esc on the main screen: drop the filter, then the tenant scope. Never quits.
    fn back_on_main(&mut self) {
        match self.focus {
            Pane::Peers if !self.peers.filter.is_empty() => self.peers.set_filter(""),
            _ if !self.routers.filter.is_empty() => self.routers.set_filter(""),
            _ if self.routers.tenant.is_some() => {
                self.routers.set_tenant(None);
                self.tenant_cursor.top();
            }
            _ => self.dirty = false,
        }
    }

    /// The tenant under the cursor in the tenants pane (row 0 is "all tenants").
    pub fn highlighted_tenant(&self) -> Option<&Tenant> {
        self.tenant_cursor
            .selected
            .checked_sub(1)
            .and_then(|i| self.tenants.value.get(i))
    }

    fn move_cursor(&mut self, action: Action) {
        let len = match self.focus {
            Pane::Tenants => self.tenants.value.len() + 1,
            Pane::Subnets => self.subnets.value.len(),
            Pane::Routers => self.routers.len(),
            Pane::Peers => self.peers.len(),
        };
        let cursor = match self.focus {
            Pane::Tenants => &mut self.tenant_cursor,
            Pane::Subnets => &mut self.subnet_cursor,
            Pane::Routers => &mut self.routers.cursor,
            Pane::Peers => &mut self.peers.cursor,
        };
        let page = cursor.page();
        match action {
            Action::Up => cursor.up(1),
            Action::Down => cursor.down(1, len),
            Action::Top => cursor.top(),
            Action::Bottom => cursor.bottom(len),
            Action::PageUp => cursor.up(page),
            Action::PageDown => cursor.down(page, len),
            _ => {}
        }
    }

    fn open(&mut self) -> Vec<Effect> {
        match self.focus {
            Pane::Tenants => {
                let tenant = self.highlighted_tenant().map(|t| t.name.clone());
                self.routers.set_tenant(tenant);
                self.focus = Pane::Routers;
                Vec::new()
            }
            Pane::Routers => match self.routers.selected() {
                Some(r) => self.open_scripts(&r.tenant.clone(), &r.name.clone()),
                None => Vec::new(),
            },
            _ => {
                self.dirty = false;
                Vec::new()
            }
        }
    }

    fn open_scripts(&mut self, tenant: &str, router: &str) -> Vec<Effect> {
        self.layers.push(Layer::Script(ScriptView::new(
            tenant,
            router,
            ScriptKind::RouterOs,
        )));
        vec![Effect::LoadScripts {
            tenant: tenant.to_owned(),
            router: router.to_owned(),
        }]
    }

    fn start_filter(&mut self) {
        let current = match self.focus {
            Pane::Routers => self.routers.filter.clone(),
            Pane::Peers => self.peers.filter.clone(),
            _ => {
                self.dirty = false;
                return;
            }
        };
        let mut input = TextArea::new(vec![current]);
        input.move_cursor(ratatui_textarea::CursorMove::End);
        self.filter_edit = Some(FilterEdit {
            pane: self.focus,
            input,
        });
    }

    fn on_filter_key(
        &mut self,
        mut edit: FilterEdit,
        key: KeyEvent,
        action: Option<Action>,
    ) -> Vec<Effect> {
        match action {
            Some(Action::Submit) => return Vec::new(),
            Some(Action::Back) => edit.input = TextArea::default(),
            _ => {
                edit.input.input(key);
            }
        }
        let text = edit.input.lines().first().cloned().unwrap_or_default();
        match edit.pane {
            Pane::Peers => self.peers.set_filter(&text),
            _ => self.routers.set_filter(&text),
        }
        if action != Some(Action::Back) {
            self.filter_edit = Some(edit);
        }
        Vec::new()
    }

    fn ask_delete(&mut self) {
        let target = match self.focus {
            Pane::Tenants => self.highlighted_tenant().map(|t| DeleteTarget::Tenant {
                name: t.name.clone(),
                routers: t.routers,
            }),
            Pane::Routers => self.routers.selected().map(|r| DeleteTarget::Router {
                tenant: r.tenant.clone(),
                name: r.name.clone(),
            }),
            _ => None,
        };
        match target {
            Some(t) => self.layers.push(Layer::Confirm(ConfirmDelete::new(t))),
            None => self.dirty = false,
        }
    }

    fn toggle_enabled(&mut self) -> Vec<Effect> {
        match (self.focus, self.routers.selected()) {
            (Pane::Routers, Some(r)) => vec![Effect::SetEnabled {
                tenant: r.tenant.clone(),
                name: r.name.clone(),
                enabled: !r.enabled,
            }],
            _ => {
                self.dirty = false;
                Vec::new()
            }
        }
    }

    fn on_form(
        &mut self,
        mut form: Form,
        key: KeyEvent,
        action: Option<Action>,
    ) -> (Option<Layer>, Vec<Effect>) {
        match action {
            Some(Action::Back) => return (None, Vec::new()),
            Some(Action::NextField) => form.next_field(),
            Some(Action::PrevField) => form.prev_field(),
            Some(Action::Submit) => {
                let request = form.submit(&self.form_context());
                if let Some(request) = request {
                    return (None, self.submit(request));
                }
            }
            _ => form.input(key, &self.form_context()),
        }
        (Some(Layer::Form(form)), Vec::new())
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
                    .push((req.tenant.to_string(), req.name.to_string()));
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

    fn on_confirm(
        &mut self,
        mut c: ConfirmDelete,
        key: KeyEvent,
        action: Option<Action>,
    ) -> (Option<Layer>, Vec<Effect>) {
        match action {
            Some(Action::Back) => (None, Vec::new()),
            Some(Action::Confirm) if c.confirmed() => {
                let effect = match &c.target {
                    DeleteTarget::Router { tenant, name } => Effect::DeleteRouter {
                        tenant: tenant.clone(),
                        name: name.clone(),
                    },
                    DeleteTarget::Tenant { name, .. } => {
                        Effect::DeleteTenant { name: name.clone() }
                    }
                };
                (None, vec![effect])
            }
            Some(Action::Confirm) => (Some(Layer::Confirm(c)), Vec::new()),
            _ => {
                c.input(key);
                (Some(Layer::Confirm(c)), Vec::new())
            }
        }
    }

    fn on_command(
        &mut self,
        mut c: CommandLine,
        key: KeyEvent,
        action: Option<Action>,
    ) -> (Option<Layer>, Vec<Effect>) {
        match action {
            Some(Action::Back) => (None, Vec::new()),
            Some(Action::Submit) => match command::parse(c.text()) {
                Ok(cmd) => (None, self.run_command(cmd)),
                Err(e) => {
                    self.toast_error(e);
                    (None, Vec::new())
                }
            },
            _ => {
                c.input.input(key);
                (Some(Layer::Command(c)), Vec::new())
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

    fn on_save(
        &mut self,
        mut s: SaveDialog,
        key: KeyEvent,
        action: Option<Action>,
    ) -> (Option<Layer>, Vec<Effect>) {
        match action {
            Some(Action::Back) => (None, Vec::new()),
            Some(Action::Submit) => {
                let path = s.path();
                (
                    None,
                    vec![Effect::Save {
                        path,
                        text: s.text.clone(),
                    }],
                )
            }
            _ => {
                s.input.input(key);
                (Some(Layer::Save(s)), Vec::new())
            }
        }
    }

    fn on_script(
        &mut self,
        mut s: ScriptView,
        action: Option<Action>,
    ) -> (Option<Layer>, Vec<Effect>) {
        use Action as A;
        let mut effects = Vec::new();
        match action {
            Some(A::Back) => return (None, effects),
            Some(A::Reveal) => s.toggle_reveal(),
            Some(A::NextScript) => s.set_kind(s.kind.next()),
            Some(A::PrevScript) => s.set_kind(s.kind.prev()),
            Some(A::Up) => s.scroll_by(-1),
            Some(A::Down) => s.scroll_by(1),
            Some(A::PageUp) => s.scroll_by(-(s.page() as isize)),
            Some(A::PageDown) => s.scroll_by(s.page() as isize),
            Some(A::Top) => s.scroll = 0,
            Some(A::Bottom) => s.scroll_to_end(),
            Some(A::Copy | A::Save | A::Qr | A::Raw) => match s.full_text() {
                None => self.toast_error("the script is still being generated"),
                Some(text) => self.script_action(&s, action, text, &mut effects),
            },
            _ => self.dirty = false,
        }
        (Some(Layer::Script(s)), effects)
    }

    fn script_action(
        &mut self,
        s: &ScriptView,
        action: Option<Action>,
        text: Zeroizing<String>,
        effects: &mut Vec<Effect>,
    ) {
        match action {
            Some(Action::Copy) => effects.push(Effect::Copy {
                what: format!("{} of {}", s.kind.title(), s.label()),
                text,
            }),
            Some(Action::Save) => self.layers.push(Layer::Save(SaveDialog::new(
                &s.tenant, &s.router, s.kind, text,
            ))),
            Some(Action::Raw) => self.layers.push(Layer::Raw(RawView::new(&text))),
            Some(Action::Qr) => {
                let payload = s
                    .bundle
                    .as_ref()
                    .map(|b| b.qr_payload.clone())
                    .unwrap_or_default();
                match QrView::new(&s.label(), &payload) {
                    Ok(q) => self.layers.push(Layer::Qr(q)),
                    Err(e) => self.toast_error(e),
                }
            }
            _ => {}
        }
    }

    fn on_help(&mut self, mut h: HelpView, action: Option<Action>) -> Option<Layer> {
        match action {
            Some(Action::Back) => return None,
            Some(Action::Up) => h.scroll = h.scroll.saturating_sub(1),
            Some(Action::Down) => h.scroll += 1,
            Some(Action::PageUp) => h.scroll = h.scroll.saturating_sub(10),
            Some(Action::PageDown) => h.scroll += 10,
            Some(Action::Top) => h.scroll = 0,
            _ => self.dirty = false,
        }
        Some(Layer::Help(h))
    }

    fn on_loaded(&mut self, loaded: Loaded) -> Vec<Effect> {
        let now = self.now;
        match loaded {
            Loaded::Hubs(r) => self.hubs.set(r, now),
            Loaded::Tenants(r) => {
                self.tenants.set(r, now);
                self.tenant_cursor.clamp(self.tenants.value.len() + 1);
            }
            Loaded::Subnets(r) => {
                self.subnets.set(r, now);
                self.subnet_cursor.clamp(self.subnets.value.len());
            }
            Loaded::Pool(r) => self.pool.set(r, now),
            Loaded::Routers { tenant, result } => match result {
                Ok(rows) => {
                    self.routers.replace(tenant.as_deref(), rows);
                    self.routers.phase = crate::tui::data::Phase::Ready;
                    self.routers.updated_at = Some(now);
                    if !self.peers.live {
                        self.peers
                            .offer(PeerSnapshot::from_routers(self.routers.all(), now));
                    }
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
                    None => self.dirty = false,
                }
            }
        }
        Vec::new()
    }

    fn on_outcome(&mut self, outcome: Outcome) -> Vec<Effect> {
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
                            "{tenant}/{name} provisioned at {}: enter shows its script",
                            router.vpn_ip
                        ));
                        self.routers.upsert(router);
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
                self.routers.upsert(router);
            }
            Outcome::Copied {
                what,
                result: Ok(how),
            } => self.toast(format!("copied {what}: {how}")),
            Outcome::Saved {
                path,
                result: Ok(()),
            } => self.toast(format!("saved to {} (mode 0600)", path.display())),
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
    fn on_change(&mut self, kind: &str, op: &str, tenant_id: Option<i64>) -> Vec<Effect> {
        let tenant = self.tenant_name(tenant_id);
        let counts = [Dataset::Tenants, Dataset::Subnets, Dataset::Pool];
        let sets: Vec<Dataset> = match (kind, op) {
            ("hub", _) => vec![Dataset::Hubs],
            ("tenant", "delete") => {
                if let Some(t) = &tenant {
                    self.routers.remove_tenant(t);
                }
                counts.to_vec()
            }
            ("tenant", _) => counts.to_vec(),
            ("router", _) => {
                let mut v = counts.to_vec();
                v.push(Dataset::Routers { tenant });
                v.push(Dataset::Hubs);
                v
            }
            ("status", _) => vec![Dataset::Routers { tenant }, Dataset::Tenants],
            _ => return load_everything(),
        };
        sets.into_iter().map(Effect::Load).collect()
    }

    /// Seconds until a visible toast expires (the runtime wakes up for it).
    pub fn next_toast_expiry(&self) -> Option<i64> {
        self.toasts
            .iter()
            .map(|t| (t.until - self.now).num_seconds().max(1))
            .min()
    }

    /// Is the peer pane fed by a live poller?
    pub fn peer_source(&self) -> Option<&PeerSource> {
        self.peers.shown.as_ref().map(|s| &s.source)
    }
}

fn on_raw(mut r: RawView, action: Option<Action>) -> Option<Layer> {
    match action {
        Some(Action::Back) => return None,
        Some(Action::Up) => r.scroll_by(-1),
        Some(Action::Down) => r.scroll_by(1),
        Some(Action::PageUp) => r.scroll_by(-(r.page() as isize)),
        Some(Action::PageDown) => r.scroll_by(r.page() as isize),
        Some(Action::Top) => r.scroll = 0,
        Some(Action::Bottom) => r.scroll_to_end(),
        _ => {}
    }
    Some(Layer::Raw(r))
}
