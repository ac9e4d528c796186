//! A router's detail view, opened with Enter on its row: where it stands and since when, a
//! status strip over the last 24 hours, availability over 24 h / 7 d / 30 d, rx/tx
//! sparklines for 24 hours (5-minute buckets) and 30 days (hourly), and its recent
//! transitions and NAT endpoints side by side (scrollable). The history loads in the
//! background and reloads when the router's hub announces a poll; its scripts are one key
//! away.

use std::cell::Cell;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::script::ScriptView;
use super::{Ask, Canvas, Env, Overlay, Reply, key_hints};
use crate::model::RouterStatus;
use crate::tui::app::Effect;
use crate::tui::data::{ListCursor, ScriptKind};
use crate::tui::format::{escaped, truncate};
use crate::tui::keymap::{Action, Context};
use crate::tui::monitor::{self, RouterDetail};
use crate::tui::panes::status_look;
use crate::tui::theme::Theme;

pub struct DetailView {
    pub router_id: i64,
    pub tenant: String,
    pub router: String,
    /// The rotation policy, for the script view opened from here.
    pub max_age: Option<chrono::Duration>,
    /// `None` until the first load arrives; the last good detail stays while a reload runs.
    pub detail: Option<RouterDetail>,
    /// Why the last load failed (the router may be gone).
    pub error: Option<String>,
    pub scroll: ListCursor,
    /// Rows of the transitions and endpoints lists as last drawn: what scrolls.
    rows: Cell<usize>,
}

/// Left of the strip and the sparklines.
const LABEL_WIDTH: usize = 13;
/// Right of the sparklines: the span's total.
const TOTAL_WIDTH: usize = 10;

impl DetailView {
    pub fn new(
        router_id: i64,
        tenant: &str,
        router: &str,
        max_age: Option<chrono::Duration>,
    ) -> Self {
        DetailView {
            router_id,
            tenant: tenant.to_owned(),
            router: router.to_owned(),
            max_age,
            detail: None,
            error: None,
            scroll: ListCursor::default(),
            rows: Cell::new(0),
        }
    }

    /// What loads (and reloads) this view.
    pub fn load(&self) -> Effect {
        Effect::Load(crate::tui::app::Dataset::Detail {
            router_id: self.router_id,
        })
    }

    /// The hub the router is on, once loaded: its polls reload this view.
    pub fn hub_id(&self) -> Option<i64> {
        self.detail.as_ref().map(|d| d.now.hub_id)
    }

    pub fn set(&mut self, result: Result<Option<RouterDetail>, String>) {
        match result {
            Ok(Some(detail)) => {
                self.detail = Some(detail);
                self.error = None;
            }
            Ok(None) => self.error = Some("this router is gone (deleted)".to_owned()),
            Err(e) => self.error = Some(e),
        }
    }

    /// The transitions (newest first) and endpoints (newest first) as list rows.
    fn list_rows(&self, width: usize, theme: &Theme) -> Vec<Line<'static>> {
        let Some(d) = &self.detail else {
            return Vec::new();
        };
        let half = width / 2;
        let left: Vec<Vec<Span<'static>>> = d
            .month
            .transitions
            .iter()
            .rev()
            .map(|t| {
                let (_, from_style) = status_look(t.from, theme);
                let (_, to_style) = status_look(t.to, theme);
                vec![
                    Span::styled(format!("{} ", when(t.at)), theme.muted),
                    Span::styled(t.from.as_str(), from_style),
                    Span::styled(" → ", theme.muted),
                    Span::styled(t.to.as_str(), to_style),
                ]
            })
            .collect();
        let right: Vec<Vec<Span<'static>>> = d
            .month
            .endpoints
            .iter()
            .rev()
            .map(|e| {
                vec![
                    Span::styled(format!("{} ", when(e.at)), theme.muted),
                    Span::styled(
                        truncate(&escaped(&e.endpoint), half.saturating_sub(13)),
                        theme.text,
                    ),
                ]
            })
            .collect();
        let n = left.len().max(right.len()).max(1);
        (0..n)
            .map(|i| {
                let mut spans = match left.get(i) {
                    Some(l) => l.clone(),
                    None if i == 0 => vec![Span::styled("none in 30 days", theme.muted)],
                    None => Vec::new(),
                };
                let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
                spans.push(Span::raw(" ".repeat(half.saturating_sub(used))));
                match right.get(i) {
                    Some(r) => spans.extend(r.iter().cloned()),
                    None if i == 0 => spans.push(Span::styled("none in 30 days", theme.muted)),
                    None => {}
                }
                Line::from(spans)
            })
            .collect()
    }
}

/// A time in the lists and the heading: "12-02 09:12" (UTC, like the command line).
fn when(at: DateTime<Utc>) -> String {
    at.format("%m-%d %H:%M").to_string()
}

/// One slot of the status strip, readable without colour.
fn strip_look(status: Option<RouterStatus>, theme: &Theme) -> (char, Style) {
    match status {
        None => (' ', theme.muted),
        Some(RouterStatus::Online) => ('█', theme.online),
        Some(RouterStatus::Stale) => ('▓', theme.stale),
        Some(RouterStatus::Offline) => ('░', theme.offline),
        Some(RouterStatus::Pending) => ('·', theme.pending),
        Some(RouterStatus::Disabled) => ('/', theme.disabled),
    }
}

fn spark_line(label: &str, values: &[u64], style: Style, theme: &Theme) -> Line<'static> {
    let total: u64 = values.iter().sum();
    Line::from(vec![
        Span::styled(format!("{label:<LABEL_WIDTH$}"), theme.header),
        Span::styled(monitor::spark(values), style),
        Span::styled(
            format!(
                "{:>TOTAL_WIDTH$}",
                crate::format::bytes(i64::try_from(total).unwrap_or(i64::MAX))
            ),
            theme.muted,
        ),
    ])
}

fn render_detail(d: &RouterDetail, frame: &mut Frame, area: Rect, theme: &Theme) {
    let width = area.width as usize;
    let graph = width.saturating_sub(LABEL_WIDTH + TOTAL_WIDTH).max(1);
    let (symbol, style) = status_look(d.now.status, theme);
    let since = match d.status_since() {
        Some(at) => format!(
            " since {} ({} ago)",
            when(at),
            crate::format::duration(at, d.as_of)
        ),
        None => " (no change in 30 days)".to_owned(),
    };
    let endpoint = d
        .now
        .last_endpoint
        .as_deref()
        .map_or_else(|| "no endpoint yet".to_owned(), escaped);
    let head = vec![
        Span::styled(format!("{symbol} {}", d.now.status), style),
        Span::styled(since, theme.text),
    ];
    let mut place = vec![Span::styled(
        format!("hub {} · endpoint {endpoint}", escaped(&d.now.hub)),
        theme.muted,
    )];
    if let Some(at) = d.now.last_handshake_at {
        place.push(Span::styled(
            format!(" · handshake {}", crate::format::age(Some(at), d.as_of)),
            theme.muted,
        ));
    }
    let a = d.availability;
    let availability = Line::from(vec![
        Span::styled(format!("{:<LABEL_WIDTH$}", "availability"), theme.header),
        Span::styled(
            format!(
                "24h {}   7d {}   30d {}",
                monitor::percent(a.day),
                monitor::percent(a.week),
                monitor::percent(a.month)
            ),
            theme.text,
        ),
    ]);
    let day_from = d.as_of - monitor::DAY;
    let strip = monitor::status_strip(&d.timeline, day_from, d.as_of, graph);
    let mut strip_spans = vec![Span::styled(format!("{:<LABEL_WIDTH$}", "status 24h"), theme.header)];
    strip_spans.extend(strip.iter().map(|s| {
        let (c, style) = strip_look(*s, theme);
        Span::styled(c.to_string(), style)
    }));
    let legend = format!(
        "{:<LABEL_WIDTH$}{:<half$}{:>rest$}",
        "",
        "-24h",
        "now · █ online ▓ stale ░ offline",
        half = graph / 3,
        rest = graph - graph / 3
    );
    let (rx_day, tx_day) = monitor::traffic_columns(&d.day.traffic, day_from, monitor::DAY, graph);
    let month_from = d.as_of - monitor::MONTH;
    let (rx_month, tx_month) =
        monitor::traffic_columns(&d.month.traffic, month_from, monitor::MONTH, graph);
    let lines = vec![
        Line::from(head),
        Line::from(place),
        availability,
        Line::from(strip_spans),
        Line::from(Span::styled(legend, theme.muted)),
        spark_line("rx 24h", &rx_day, theme.online, theme),
        spark_line("tx 24h", &tx_day, theme.accent, theme),
        spark_line("rx 30d", &rx_month, theme.online, theme),
        spark_line("tx 30d", &tx_month, theme.accent, theme),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

impl Overlay for DetailView {
    fn contexts(&self) -> &'static [Context] {
        &[Context::Detail, Context::List, Context::Nav, Context::Always]
    }

    fn on_key(&mut self, _key: KeyEvent, action: Option<Action>, _env: &Env) -> Reply {
        match action {
            Some(Action::Back) => Reply::close(),
            Some(Action::Scripts) => Reply::stay(false)
                .open(ScriptView::new(
                    &self.tenant,
                    &self.router,
                    ScriptKind::RouterOs,
                    self.max_age,
                ))
                .effect(Effect::LoadScripts {
                    tenant: self.tenant.clone(),
                    router: self.router.clone(),
                }),
            Some(Action::Diagnose) => Reply::stay(false).ask(Ask::Diagnose {
                tenant: self.tenant.clone(),
                router: self.router.clone(),
            }),
            Some(a) => Reply::stay(self.scroll.scroll(a, self.rows.get())),
            None => Reply::stay(false),
        }
    }

    fn render(&self, frame: &mut Frame, canvas: &Canvas) {
        let (area, theme) = (canvas.body, canvas.theme);
        frame.render_widget(Clear, area);
        let state = match (&self.detail, &self.error) {
            (_, Some(_)) => " · failed",
            (None, None) => " · loading",
            (Some(_), None) => "",
        };
        let scripts = canvas.keymap.key_for(Action::Scripts, Context::Detail);
        let diagnose = canvas.keymap.key_for(Action::Diagnose, Context::Detail);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border_focused)
            .title(Span::styled(
                format!(" Router · {}/{}{state} ", escaped(&self.tenant), escaped(&self.router)),
                theme.title,
            ))
            .title_bottom(key_hints(
                &[
                    (&scripts, "scripts"),
                    (&diagnose, "diagnose"),
                    ("↑↓", "scroll"),
                    ("esc", "close"),
                ],
                theme,
            ));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let [top, error_area, gap, heads, list] = Layout::vertical([
            Constraint::Length(9),
            Constraint::Length(u16::from(self.error.is_some())),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(inner);
        let _ = gap;
        if let Some(e) = &self.error {
            frame.render_widget(
                Paragraph::new(Span::styled(format!("✗ {}", escaped(e)), theme.error)),
                error_area,
            );
        }
        let Some(detail) = &self.detail else {
            frame.render_widget(
                Paragraph::new(Span::styled("loading the router's history…", theme.muted)),
                top,
            );
            return;
        };
        render_detail(detail, frame, top, theme);
        let half = inner.width as usize / 2;
        let transitions = format!("Transitions, 30 d ({})", detail.month.transitions.len());
        let heading = format!(
            "{transitions:<half$}NAT endpoints, 30 d ({})",
            detail.month.endpoints.len()
        );
        frame.render_widget(
            Paragraph::new(Span::styled(heading, theme.header)),
            heads,
        );
        let rows = self.list_rows(inner.width as usize, theme);
        self.rows.set(rows.len());
        let window = self.scroll.text_window(rows.len(), list.height as usize);
        frame.render_widget(Paragraph::new(rows[window].to_vec()), list);
    }
}
