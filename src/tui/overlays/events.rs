//! The fleet's recent events (status transitions, first handshakes, and the alerts the agent
//! judged from them, marked ▲ for bad news and ● for good), newest first, for all tenants or
//! one. Hub alerts (a storm, a silent hub) name no tenant: the all-tenants view lists them.
//! Opening loads the newest [`EVENTS_KEPT`]; afterwards the console's live feed (one read of
//! what follows its cursors, per change notification) adds new ones as they happen. `t`
//! cycles the tenant filter.

use std::cell::Cell;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{Canvas, Env, Overlay, Reply, key_hints};
use crate::history::FleetEvent;
use crate::tui::app::{Dataset, Effect};
use crate::tui::data::ListCursor;
use crate::tui::format::{escaped, truncate};
use crate::tui::keymap::{Action, Context};
use crate::store::console_history::FeedEvent;
use crate::tui::monitor::{EVENTS_KEPT, EventLog, alarming, event_tenant};
use crate::tui::panes::status_look;
use crate::tui::theme::Theme;

pub struct EventsView {
    /// Only this tenant's events (`None`: the whole fleet).
    pub tenant: Option<String>,
    pub log: EventLog,
    /// The first load for this filter has not arrived yet.
    pub loading: bool,
    pub error: Option<String>,
    pub scroll: ListCursor,
    rows: Cell<usize>,
}

impl EventsView {
    pub fn new(tenant: Option<String>) -> Self {
        EventsView {
            tenant,
            log: EventLog::default(),
            loading: true,
            error: None,
            scroll: ListCursor::default(),
            rows: Cell::new(0),
        }
    }

    /// What loads this view's newest events for its filter.
    pub fn load(&self) -> Effect {
        Effect::Load(Dataset::Events {
            tenant: self.tenant.clone(),
        })
    }

    /// The newest events of `tenant` arrived; ignored when the filter moved on since.
    /// Merged by id with what the live feed added meanwhile.
    pub fn set_loaded(
        &mut self,
        tenant: Option<&str>,
        result: Result<Vec<FeedEvent>, String>,
    ) -> bool {
        if tenant != self.tenant.as_deref() {
            return false;
        }
        self.loading = false;
        match result {
            Ok(events) => {
                self.error = None;
                self.log.merge(events);
            }
            Err(e) => self.error = Some(e),
        }
        true
    }

    /// New events from the live feed: those of this view's tenant join the list. True when
    /// any did.
    pub fn offer(&mut self, events: &[FeedEvent]) -> bool {
        let mine = events
            .iter()
            .filter(|e| {
                self.tenant
                    .as_deref()
                    .is_none_or(|t| event_tenant(&e.event) == t)
            })
            .cloned();
        self.log.merge(mine) > 0
    }

    /// The next filter after the current one: all tenants, then each tenant in order.
    fn next_tenant(&self, tenants: &[crate::model::Tenant]) -> Option<String> {
        let i = match &self.tenant {
            None => 0,
            Some(t) => tenants.iter().position(|x| &x.name == t).map_or(0, |i| i + 1),
        };
        tenants.get(i).map(|t| t.name.clone())
    }

    fn line(feed: &FeedEvent, width: usize, theme: &Theme) -> Line<'static> {
        let event = &feed.event;
        let (at, tenant, router, hub) = match event {
            FleetEvent::Status {
                at,
                tenant,
                router,
                hub,
                ..
            }
            | FleetEvent::FirstHandshake {
                at,
                tenant,
                router,
                hub,
            }
            | FleetEvent::Alert {
                at,
                tenant,
                router,
                hub,
                ..
            } => (at, tenant, router, hub),
        };
        // Wide enough for the longest alert, marked: "● router.first_handshake".
        let what_width: usize = 24;
        let name_width = width.saturating_sub(15 + what_width + 10).clamp(10, 40);
        let who = match (tenant.as_str(), router.as_str()) {
            ("", "") => "hub-wide".to_owned(),
            // An alert about a tenant's routers (a storm's copy) or a router since deleted.
            (tenant, "") => format!("{tenant}/-"),
            (tenant, router) => format!("{tenant}/{router}"),
        };
        let who = truncate(&escaped(&who), name_width);
        let mut spans = vec![
            Span::styled(format!("{} ", at.format("%m-%d %H:%M:%S")), theme.muted),
            Span::styled(format!("{who:<name_width$} "), theme.text),
        ];
        match event {
            FleetEvent::Status { from, to, .. } => {
                let (_, from_style) = status_look(*from, theme);
                let (symbol, to_style) = status_look(*to, theme);
                let text_len = from.as_str().len() + 3 + to.as_str().len() + 2;
                spans.push(Span::styled(from.as_str(), from_style));
                spans.push(Span::styled(" → ", theme.muted));
                spans.push(Span::styled(format!("{symbol} {to}"), to_style));
                spans.push(Span::raw(" ".repeat(what_width.saturating_sub(text_len))));
            }
            FleetEvent::FirstHandshake { .. } => {
                spans.push(Span::styled(
                    format!("{:<what_width$}", "first handshake"),
                    theme.accent,
                ));
            }
            FleetEvent::Alert { alert, .. } => {
                let (mark, style) = if alarming(*alert) {
                    ("▲", theme.error)
                } else {
                    ("●", theme.ok)
                };
                let what = match feed.routers {
                    Some(n) => format!("{mark} {alert} ×{n}"),
                    None => format!("{mark} {alert}"),
                };
                spans.push(Span::styled(format!("{what:<what_width$}"), style));
            }
        }
        spans.push(Span::styled(format!(" {}", escaped(hub)), theme.muted));
        Line::from(spans)
    }
}

impl Overlay for EventsView {
    fn contexts(&self) -> &'static [Context] {
        &[Context::Events, Context::List, Context::Nav, Context::Always]
    }

    fn on_key(&mut self, _key: KeyEvent, action: Option<Action>, env: &Env) -> Reply {
        match action {
            Some(Action::Back) => Reply::close(),
            Some(Action::NextTenant) => {
                self.tenant = self.next_tenant(env.form.tenants);
                self.log.clear();
                self.loading = true;
                self.error = None;
                self.scroll.top();
                Reply::stay(true).effect(self.load())
            }
            Some(a) => Reply::stay(self.scroll.scroll(a, self.rows.get())),
            None => Reply::stay(false),
        }
    }

    fn render(&self, frame: &mut Frame, canvas: &Canvas) {
        let (area, theme) = (canvas.body, canvas.theme);
        frame.render_widget(Clear, area);
        let scope = match &self.tenant {
            Some(t) => format!("tenant {}", escaped(t)),
            None => "all tenants".to_owned(),
        };
        let state = if self.loading {
            "loading".to_owned()
        } else {
            format!("{} newest first, live", self.log.len())
        };
        let tenant_key = canvas.keymap.key_for(Action::NextTenant, Context::Events);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border_focused)
            .title(Span::styled(format!(" Events · {scope} · {state} "), theme.title))
            .title_bottom(key_hints(
                &[(&tenant_key, "tenant"), ("↑↓", "scroll"), ("esc", "close")],
                theme,
            ));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let width = inner.width as usize;
        let mut lines: Vec<Line> = Vec::new();
        if let Some(e) = &self.error {
            lines.push(Line::from(Span::styled(format!("✗ {}", escaped(e)), theme.error)));
        }
        if !self.loading && self.log.is_empty() && self.error.is_none() {
            lines.push(Line::from(Span::styled(
                format!(
                    "no events yet: transitions, first handshakes and alerts appear here as \
                     the agent records them (the newest {EVENTS_KEPT} are kept)"
                ),
                theme.muted,
            )));
        }
        lines.extend(self.log.newest_first().map(|e| Self::line(e, width, theme)));
        self.rows.set(lines.len());
        let window = self.scroll.text_window(lines.len(), inner.height as usize);
        frame.render_widget(Paragraph::new(lines[window].to_vec()), inner);
    }
}
