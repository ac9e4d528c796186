//! Peer status: what the hub's WireGuard interface reports (live poller), or what the agent
//! last stored. Shows when it was updated, can be frozen, and lists peers the interface has
//! that tikwire does not know.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{
    Column, Give, RenderInfo, block, fit_relevant, fitted_table, measure, message, status_cell,
};
use crate::tui::app::{App, Pane};
use crate::tui::data::status_changes_in;
use crate::tui::format::bytes_short;
use crate::tui::peerview::Tone;

pub fn render(app: &App, frame: &mut Frame, area: Rect, focused: bool, info: &mut RenderInfo) {
    let theme = &app.theme;
    let pane = &app.peers;
    let mut title = vec![Span::styled(Pane::Peers.title(), theme.title)];
    let label = pane.source_label(app.now);
    let tone = match label.tone {
        Tone::Good => theme.online,
        Tone::Warn => theme.stale,
        Tone::Bad => theme.error,
        Tone::Quiet => theme.muted,
    };
    title.push(Span::styled(format!(" · {}", label.text), tone));
    if let Some(secs) = pane.label_changes_in(app.now) {
        info.wake_in(secs);
    }
    if pane.frozen {
        let held = if pane.held.is_some() {
            " (newer data held)"
        } else {
            ""
        };
        title.push(Span::styled(format!(" · ❄ FROZEN{held}"), theme.stale));
    }
    let b = block(4, Line::from(title), focused, theme);
    let inner = b.inner(area);
    frame.render_widget(b, area);

    let editing = app.filter_edit.as_ref().filter(|e| e.pane == Pane::Peers);
    let filter_shown = editing.is_some() || !pane.filter.is_empty();
    let [list_area, filter_area] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(u16::from(filter_shown)),
    ])
    .areas(inner);
    if filter_shown {
        let cursor = if editing.is_some() { "█" } else { "" };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled("/", theme.key),
                Span::styled(pane.filter.clone(), theme.input),
                Span::styled(cursor, theme.key),
            ])),
            filter_area,
        );
    }
    if pane.is_empty() {
        let text = if !pane.filter.is_empty() {
            "no peer matches the filter"
        } else if pane.is_live() && pane.snapshot().is_none() {
            "waiting for the first poll of the interface…"
        } else if !pane.is_live() && !app.routers.phase_ready() {
            "loading…"
        } else {
            "no peers yet: provisioned routers appear here once the hub knows them"
        };
        message(
            frame,
            list_area,
            vec![Line::from(Span::styled(text, theme.muted))],
        );
        return;
    }
    let range = pane
        .cursor
        .visible(pane.len(), list_area.height.saturating_sub(1) as usize);
    let table = &app.routers;
    let muted = theme.muted;
    // Cells of the rows on screen only; widths follow from their content.
    let cells: Vec<(Vec<(String, Style)>, bool)> = range
        .filter_map(|i| Some((i, pane.line(table, pane.entry(i)?)?)))
        .map(|(i, p)| {
            let (name, status) = match (p.router, p.status) {
                (Some(r), Some(s)) => {
                    let cell = status_cell(s, theme);
                    ((r, theme.text), (cell.content.into_owned(), cell.style))
                }
                _ => {
                    let key: String = p.public_key.to_string().chars().take(8).collect();
                    (
                        (format!("? unknown {key}…"), theme.unknown),
                        ("? unknown".to_string(), theme.unknown),
                    )
                }
            };
            if let Some(h) = p.link.last_handshake
                && p.status.is_some()
                && let Some(secs) = status_changes_in(h, app.now, &table.thresholds)
            {
                info.wake_in(secs);
            }
            let address = p
                .vpn_ip
                .map(|ip| ip.to_string())
                .unwrap_or_else(|| "-".into());
            let row = vec![
                name,
                (address, theme.text),
                status,
                (info.age(p.link.last_handshake, app.now), theme.text),
                (bytes_short(p.link.rx_bytes), theme.text),
                (bytes_short(p.link.tx_bytes), theme.text),
                (p.link.endpoint.unwrap_or_default(), muted),
            ];
            (row, focused && i == pane.cursor.selected)
        })
        .collect();
    let mut columns = [
        Column::new("Peer", Give::Shrink { min: 12 }),
        Column::new("Address", Give::Fixed),
        Column::new("Status", Give::Fixed),
        Column::new("Handshake", Give::Fixed),
        Column::new("Rx", Give::DropLast),
        Column::new("Tx", Give::DropLast),
        Column::new("Endpoint", Give::DropFirst),
    ];
    measure(&mut columns, &cells);
    let has_endpoint = cells.iter().any(|(row, _)| !row[6].0.is_empty());
    let relevant = [true, true, true, true, true, true, has_endpoint];
    let widths = fit_relevant(&columns, &relevant, list_area.width as usize);
    let rows = cells
        .into_iter()
        .map(|(row, selected)| (row, selected.then_some(theme.selected)));
    frame.render_widget(
        fitted_table(&columns, &widths, rows, theme.header),
        list_area,
    );
}
