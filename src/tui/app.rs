//! The console's state and its one update function: a message in (a key, a result from a
//! background task, a change notification, a clock tick), the state updated, effects out
//! (load this, provision that, copy this text). No terminal, no database, no clock reads:
//! tests drive it with plain values.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::KeyEvent;
use ratatui_textarea::TextArea;
use zeroize::Zeroizing;

use crate::events::{Change, ChangeKind};
use crate::model::{Hub, Router, SubnetUsage, Tenant, TenantName};
use crate::tui::data::{
    ListCursor, PoolUsage, RouterRow, RouterTable, ScriptBundle, ScriptKind, Slot,
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
use crate::tui::peerview::{AgentReport, LiveState, PeerPane};
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
    /// The agents' heartbeats and the unknown peers they saw.
    Agent,
    /// One tenant's routers, or all of them.
    Routers {
        tenant: Option<String>,
    },
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
    /// Routers being provisioned in the background: (tenant, name), shown as pending rows.
    pub provisioning: Vec<(String, String)>,
    pub peers: PeerPane,
    pub layers: Vec<Layer>,
    pub filter_edit: Option<FilterEdit>,
    pub toasts: Vec<Toast>,
    pub db: DbHealth,
    /// When to reload the agents' heartbeat (only while peer status comes from the database).
    pub agent_due: Option<DateTime<Utc>>,
    /// Whether the live poller was asked for (once, when the hubs first load).
    pub live_requested: bool,
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
        Dataset::Agent,
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
            agent_due: None,
            live_requested: false,
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
        self.routers.as_of = self.now;
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
                self.routers.as_of = now;
                self.toasts.retain(|t| t.until > now);
                Vec::new()
            }
            Msg::RefreshAgent => {
                self.dirty = false;
                self.agent_due = None;
                match (&self.db, self.peers.is_live()) {
                    (DbHealth::Up, false) => vec![Effect::Load(Dataset::Agent)],
                    _ => Vec::new(),
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
                self.dirty = !was_live || self.peers_digest() != before;
                Vec::new()
            }
            Msg::Changed(change) => self.on_change(change),
            Msg::DbDown(reason) => {
                if matches!(self.db, DbHealth::Down { .. }) {
                    self.dirty = false;
                } else {
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
                    // Every load reports the database up: nothing to draw for that.
                    self.dirty = false;
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
                    .or_else(|| self.highlighted_tenant().map(|t| t.name.clone()))
                    .or_else(|| match self.tenants.value.as_slice() {
                        [only] => Some(only.name.clone()),
                        _ => None,
                    });
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
            A::Freeze if self.focus == Pane::Peers => self.toggle_freeze(),
            _ => self.dirty = false,
        }
        Vec::new()
    }

    /// Esc on the main screen: drop the filter, then the tenant scope. Never quits.
    fn back_on_main(&mut self) {
        match self.focus {
            Pane::Peers if !self.peers.filter.is_empty() => {
                self.peers.set_filter("", &self.routers)
            }
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
                Some(r) => {
                    let (tenant, name) = (r.tenant.to_string(), r.name.to_string());
                    self.open_scripts(&tenant, &name)
                }
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
            Pane::Peers => self.peers.set_filter(&text, &self.routers),
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
                tenant: r.tenant.to_string(),
                name: r.name.to_string(),
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
                tenant: r.tenant.to_string(),
                name: r.name.to_string(),
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
                    return vec![Effect::StartLive(self.hubs.value.clone())];
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
                self.dirty = self.peers_digest() != before;
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
    fn on_change(&mut self, change: Option<Change>) -> Vec<Effect> {
        let Some(change) = change else {
            return load_everything();
        };
        let tenant = self.tenant_name(change.tenant_id);
        let counts = [Dataset::Tenants, Dataset::Subnets, Dataset::Pool];
        let sets: Vec<Dataset> = match change.kind {
            ChangeKind::HubCreated => vec![Dataset::Hubs],
            ChangeKind::TenantDeleted => {
                if let Some(t) = &tenant {
                    self.routers.remove_tenant(t);
                    self.peers.rebuild(&self.routers);
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
            ChangeKind::StatusUpdated => vec![
                Dataset::Routers { tenant },
                Dataset::Tenants,
                Dataset::Agent,
            ],
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

    fn toggle_freeze(&mut self) {
        if !self.peers.is_live() {
            self.toast(
                "freeze applies to live peer status; this view changes only when the agent writes",
            );
            return;
        }
        if self.peers.toggle_freeze() {
            self.peers.rebuild(&self.routers);
        }
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
