//! The frame: header, database banner, the panes (all four side by side when the terminal
//! is large, one at a time otherwise), the footer built from the keymap, then overlays.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use crate::tui::app::{App, DbHealth, Pane};
use crate::tui::format::{count, escaped};
use crate::tui::keymap::Context;
use crate::tui::overlays::{Canvas, toast};
use crate::tui::panes::{self, RenderInfo};

/// Below this the console says it needs more room instead of drawing a mess.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;
/// From this size on, all four panes are visible together.
pub const WIDE_WIDTH: u16 = 110;
pub const WIDE_HEIGHT: u16 = 30;

pub fn draw(frame: &mut Frame, app: &App) -> RenderInfo {
    let mut info = RenderInfo::default();
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area, app);
        return info;
    }
    let canvas = |body, footer| Canvas {
        screen: area,
        body,
        footer,
        theme: &app.theme,
        keymap: &app.keymap,
        now: app.now,
    };
    if let Some(top) = app.layers.last().map(|l| l.overlay())
        && top.full_screen()
    {
        top.render(frame, &canvas(area, area));
        return info;
    }
    let down = matches!(app.db, DbHealth::Down { .. });
    let [header_area, banner_area, body, toast_area, footer_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(down)),
        Constraint::Min(0),
        Constraint::Length(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header(frame, header_area, app);
    if let DbHealth::Down { reason, since } = &app.db {
        let age = info.age(Some(*since), app.now);
        let text = format!(
            " ⚠ database unreachable (since {age}): {reason} · retrying; showing the last data "
        );
        frame.render_widget(
            Paragraph::new(Span::styled(text, app.theme.banner)),
            banner_area,
        );
    }
    let _ = toast_area;
    if area.width >= WIDE_WIDTH && area.height >= WIDE_HEIGHT {
        wide(frame, body, app, &mut info);
    } else {
        narrow(frame, body, app, &mut info);
    }
    footer(frame, footer_area, app);
    for layer in &app.layers {
        layer.overlay().render(frame, &canvas(body, footer_area));
    }
    if let Some(t) = app.toasts.last() {
        let line = Rect {
            y: footer_area.y.saturating_sub(1),
            ..footer_area
        };
        toast::render(t, frame, line, &app.theme);
        if let Some(secs) = app.next_toast_expiry() {
            info.wake_in(secs as u64);
        }
    }
    info
}

fn too_small(frame: &mut Frame, area: Rect, app: &App) {
    let text = vec![
        Line::from(Span::styled(
            "tikwire needs a bigger terminal",
            app.theme.error,
        )),
        Line::from(format!(
            "at least {MIN_WIDTH}x{MIN_HEIGHT}; this one is {}x{}.",
            area.width, area.height
        )),
        Line::from(format!(
            "All four panes at once from {WIDE_WIDTH}x{WIDE_HEIGHT}."
        )),
        Line::from("Ctrl-C quits."),
    ];
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}

fn header(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let mut spans = vec![Span::styled(" tikwire ", t.title)];
    let sep = || Span::styled(" │ ", t.border);
    match app.hubs.value.as_slice() {
        [] => spans.push(Span::styled("no hub", t.muted)),
        [hub] if area.width >= 100 => {
            let text = format!("hub {} {}", hub.name, hub.endpoint);
            spans.push(Span::raw(escaped(&text)))
        }
        [hub] => spans.push(Span::raw(escaped(&format!("hub {}", hub.name)))),
        hubs => spans.push(Span::raw(format!("{} hubs", hubs.len()))),
    }
    spans.push(sep());
    spans.push(Span::raw(crate::format::counted(
        app.tenants.value.len() as i64,
        "tenant",
    )));
    spans.push(sep());
    let online = app.tenants.value.iter().map(|t| t.online).sum::<i64>();
    // With a window only its rows are loaded: the fleet's size is the tenants' counts.
    let fleet_size = match app.window {
        Some(_) => app.tenants.value.iter().map(|t| t.routers).sum::<i64>(),
        None => app.routers.total() as i64,
    };
    spans.push(Span::raw(format!(
        "{} ",
        crate::format::counted(fleet_size, "router")
    )));
    spans.push(Span::styled(
        format!("({} online)", count(online)),
        t.online,
    ));
    spans.push(sep());
    spans.push(match app.db {
        DbHealth::Up => Span::styled("db ok", t.ok),
        DbHealth::Down { .. } => Span::styled("db DOWN", t.error),
    });
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn wide(frame: &mut Frame, area: Rect, app: &App, info: &mut RenderInfo) {
    // The left column as wide as tenant names need, within a third to two fifths: the
    // routers pane beside it needs the room for names too.
    let left_width = panes::tenants::wanted_width(app).clamp(area.width / 3, area.width * 2 / 5);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(0)]).areas(area);
    let [tenants, subnets] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(left);
    let [routers, peers] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(right);
    panes::tenants::render(app, frame, tenants, app.focus == Pane::Tenants);
    panes::subnets::render(app, frame, subnets, app.focus == Pane::Subnets);
    panes::routers::render(app, frame, routers, app.focus == Pane::Routers, info);
    panes::peers::render(app, frame, peers, app.focus == Pane::Peers, info);
}

fn narrow(frame: &mut Frame, area: Rect, app: &App, info: &mut RenderInfo) {
    let [tabs, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let t = &app.theme;
    let spans: Vec<Span> = Pane::ALL
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            let style = if *p == app.focus { t.selected } else { t.muted };
            [
                Span::styled(format!(" {} {} ", i + 1, p.title()), style),
                Span::raw(" "),
            ]
        })
        .collect();
    frame.render_widget(Paragraph::new(Line::from(spans)), tabs);
    match app.focus {
        Pane::Tenants => panes::tenants::render(app, frame, body, true),
        Pane::Subnets => panes::subnets::render(app, frame, body, true),
        Pane::Routers => panes::routers::render(app, frame, body, true, info),
        Pane::Peers => panes::peers::render(app, frame, body, true, info),
    }
}

/// The keys that apply now, from the live keymap, as many as fit.
fn footer(frame: &mut Frame, area: Rect, app: &App) {
    if app.layers.last().is_some_and(|l| l.overlay().uses_footer()) {
        return;
    }
    let t = &app.theme;
    let contexts: Vec<Context> = app
        .contexts()
        .into_iter()
        .filter(|c| !matches!(c, Context::List | Context::Always))
        .collect();
    let mut spans = Vec::new();
    let mut width = 0usize;
    let budget = area.width as usize;
    let mut seen = std::collections::HashSet::new();
    for e in app.keymap.in_contexts(&contexts) {
        // Pane numbers and shift-tab are implied by the tab bar and tab.
        if matches!(
            e.name,
            "prev_pane"
                | "pane_tenants"
                | "pane_subnets"
                | "pane_routers"
                | "pane_peers"
                | "force_quit"
                | "reload"
        ) || !seen.insert(e.action)
        {
            continue;
        }
        let key = e.keys.first().map(ToString::to_string).unwrap_or_default();
        let desc = e.description.split(" (").next().unwrap_or(e.description);
        let len = key.chars().count() + desc.chars().count() + 3;
        if width + len > budget {
            break;
        }
        width += len;
        spans.push(Span::styled(format!(" {key}"), t.key));
        spans.push(Span::styled(format!(" {desc} "), t.muted));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
