//! Routers of the selected tenant (or all): status readable without colour, address, last
//! handshake as a relative age, traffic. Only the rows on screen are built.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{
    Column, Give, RenderInfo, block, fit_relevant, fitted_table, measure, message, phase_line,
    status_cell,
};
use crate::tui::app::{App, Pane};
use crate::tui::data::{shown_status, status_changes_in};
use crate::tui::format::escaped;
use crate::tui::format::{bytes_short, count};
use crate::tui::keymap::{Action, Context};

/// A row's styled cells and its optional row style.
type StyledRow = (Vec<(String, Style)>, Option<Style>);

pub fn render(app: &App, frame: &mut Frame, area: Rect, focused: bool, info: &mut RenderInfo) {
    let theme = &app.theme;
    let table = &app.routers;
    let mut title = vec![Span::styled(Pane::Routers.title(), theme.title)];
    title.push(Span::styled(
        format!(" · {}", table.tenant.as_deref().unwrap_or("all tenants")),
        theme.accent,
    ));
    title.push(Span::styled(
        format!(
            " · {} of {}",
            count(table.len() as i64),
            count(table.total() as i64)
        ),
        theme.muted,
    ));
    let arrow = if table.descending { "↓" } else { "↑" };
    title.push(Span::styled(
        format!(" · by {} {arrow}", table.sort.label()),
        theme.muted,
    ));
    let b = block(3, Line::from(title), focused, theme);
    let inner = b.inner(area);
    frame.render_widget(b, area);

    let editing = app.filter_edit.as_ref().filter(|e| e.pane == Pane::Routers);
    let filter_shown = editing.is_some() || !table.filter.is_empty();
    let [list_area, filter_area] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(u16::from(filter_shown)),
    ])
    .areas(inner);
    if filter_shown {
        let mut spans = vec![
            Span::styled("/", theme.key),
            Span::styled(table.filter.clone(), theme.input),
        ];
        if editing.is_some() {
            spans.push(Span::styled("█", theme.key));
            spans.push(Span::styled(
                "  name, address or status · enter keeps · esc clears",
                theme.muted,
            ));
        } else {
            spans.push(Span::styled("  (esc clears)", theme.muted));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), filter_area);
    }

    if let Some(guide) = onboarding(app) {
        message(frame, list_area, guide);
        return;
    }
    let pending: Vec<&(String, String)> = app
        .provisioning
        .iter()
        .filter(|(t, _)| table.tenant.as_deref().is_none_or(|s| s == t))
        .collect();
    if table.is_empty() && pending.is_empty() {
        let mut lines: Vec<Line> = phase_line(&table.phase, theme).into_iter().collect();
        if table.phase == crate::tui::data::Phase::Ready {
            lines.push(Line::from(if table.filter.is_empty() {
                format!(
                    "No routers in {} yet. Press {} to provision one.",
                    table.tenant.as_deref().unwrap_or("any tenant"),
                    app.keymap.key_for(Action::Provision, Context::Global)
                )
            } else {
                format!(
                    "No router matches \"{}\". Esc clears the filter.",
                    table.filter
                )
            }));
        }
        message(frame, list_area, lines);
        return;
    }

    let show_tenant = table.tenant.is_none();
    let body = list_area.height.saturating_sub(1) as usize;
    let pending_rows = pending.len().min(body);
    let range = table.cursor.visible(table.len(), body - pending_rows);
    let muted = theme.muted;
    // Cells of the rows on screen only, in column order; widths follow from their content.
    let mut cells: Vec<StyledRow> = pending[..pending_rows]
        .iter()
        .map(|(t, n)| {
            let row = vec![
                ("◌ pending".to_string(), theme.pending),
                (n.clone(), theme.text),
                (t.clone(), muted),
                ("allocating…".to_string(), muted),
                ("never".to_string(), muted),
                (String::new(), theme.text),
                (String::new(), theme.text),
                (String::new(), muted),
            ];
            (row, None)
        })
        .collect();
    cells.extend(
        range
            .filter_map(|i| {
                let index = table.view_index(i)?;
                Some((i, table.row(index)?, app.peers.link(table, index)?))
            })
            .map(|(i, r, link)| {
                // The same derivation as the peer pane, from the freshest handshake known.
                let shown = shown_status(
                    r.status,
                    r.enabled,
                    link.last_handshake,
                    app.now,
                    &table.thresholds,
                );
                if let Some(h) = link.last_handshake
                    && let Some(secs) = status_changes_in(h, app.now, &table.thresholds)
                {
                    info.wake_in(secs);
                }
                let status = status_cell(shown, theme);
                let row = vec![
                    (status.content.into_owned(), status.style),
                    (escaped(&r.name), theme.text),
                    (escaped(&r.tenant), muted),
                    (r.vpn_ip.to_string(), theme.text),
                    (info.age(link.last_handshake, app.now), theme.text),
                    (bytes_short(link.rx_bytes), theme.text),
                    (bytes_short(link.tx_bytes), theme.text),
                    (link.endpoint.unwrap_or_default(), muted),
                ];
                let highlight = (i == table.cursor.selected).then_some(if focused {
                    theme.selected
                } else {
                    theme.accent
                });
                (row, highlight)
            }),
    );
    let mut columns = [
        Column::new("Status", Give::Fixed),
        Column::new("Name", Give::Shrink { min: 10 }),
        Column::new("Tenant", Give::Shrink { min: 8 }),
        Column::new("Address", Give::Fixed),
        Column::new("Handshake", Give::Fixed),
        Column::new("Rx", Give::DropLast),
        Column::new("Tx", Give::DropLast),
        Column::new("Endpoint", Give::DropFirst),
    ];
    measure(&mut columns, &cells);
    let has_endpoint = cells.iter().any(|(row, _)| !row[7].0.is_empty());
    let relevant = [
        true,
        true,
        show_tenant,
        true,
        true,
        true,
        true,
        has_endpoint,
    ];
    let widths = fit_relevant(&columns, &relevant, list_area.width as usize);
    frame.render_widget(
        fitted_table(&columns, &widths, cells, theme.header),
        list_area,
    );
}

/// First run: what to do, in order, with what is already done ticked.
fn onboarding(app: &App) -> Option<Vec<Line<'static>>> {
    let theme = &app.theme;
    let no_hub = app.hubs.is_ready() && app.hubs.value.is_empty();
    let no_tenant = app.tenants.is_ready() && app.tenants.value.is_empty();
    if !(no_hub || no_tenant) {
        return None;
    }
    let key = |a| app.keymap.key_for(a, Context::Global);
    let step = |done: bool, text: String, k: String| {
        Line::from(vec![
            Span::styled(
                if done { "  ✓ " } else { "  · " },
                if done { theme.ok } else { theme.muted },
            ),
            Span::raw(text),
            Span::styled(
                if done {
                    String::new()
                } else {
                    format!("  press {k}")
                },
                theme.key,
            ),
        ])
    };
    Some(vec![
        Line::from(Span::styled("Getting started", theme.header)),
        Line::default(),
        step(
            !no_hub,
            "1. Add a hub: the WireGuard server routers dial".into(),
            key(Action::AddHub),
        ),
        step(
            !no_tenant,
            "2. Add a tenant: it gets a 10.X.0.0/16".into(),
            key(Action::AddTenant),
        ),
        step(
            false,
            "3. Provision a router, then paste its RouterOS script".into(),
            key(Action::Provision),
        ),
        Line::default(),
        Line::from(Span::styled(
            "Or fill a database with sample data: tikwire demo",
            theme.muted,
        )),
    ])
}
