//! Peer status: what the hub's WireGuard interface reports (live poller), or what the agent
//! last stored. Shows when it was updated, can be frozen, and lists peers the interface has
//! that tikwire does not know.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

use super::{RenderInfo, block, message, status_cell};
use crate::tui::app::{App, Pane};
use crate::tui::data::{PeerSource, status_from_handshake};
use crate::tui::format::bytes;

pub fn render(app: &App, frame: &mut Frame, area: Rect, focused: bool, info: &mut RenderInfo) {
    let theme = &app.theme;
    let pane = &app.peers;
    let mut title = vec![Span::styled(Pane::Peers.title(), theme.title)];
    if let Some(s) = &pane.shown {
        let source = match &s.source {
            PeerSource::Interface(i) => format!(" · {i} live"),
            PeerSource::Database => " · stored by the agent".to_string(),
        };
        title.push(Span::styled(source, theme.muted));
        title.push(Span::styled(
            format!(" · updated {}", info.age(Some(s.taken_at), app.now)),
            theme.text,
        ));
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
        let text = match &pane.shown {
            None => "waiting for the first peer status…",
            Some(_) if !pane.filter.is_empty() => "no peer matches the filter",
            Some(_) => "no peers yet: provisioned routers appear here once the hub knows them",
        };
        message(
            frame,
            list_area,
            vec![Line::from(Span::styled(text, theme.muted))],
        );
        return;
    }
    let wide = list_area.width >= 100;
    let mut header = vec!["Peer", "Address", "Status", "Handshake", "Rx", "Tx"];
    if wide {
        header.push("Endpoint");
    }
    let header = Row::new(header).style(theme.header);
    let range = pane
        .cursor
        .visible(pane.len(), list_area.height.saturating_sub(1) as usize);
    let t = app.thresholds;
    let rows: Vec<Row> = range
        .filter_map(|i| pane.get(i).map(|p| (i, p)))
        .map(|(i, p)| {
            let status =
                status_from_handshake(p.last_handshake, app.now, t.online_secs, t.stale_secs);
            let name = match &p.router {
                Some(r) => Span::styled(r.clone(), theme.text),
                None => Span::styled(
                    format!(
                        "? unknown {}…",
                        p.public_key.chars().take(8).collect::<String>()
                    ),
                    theme.unknown,
                ),
            };
            let status = match (&p.router, status) {
                (None, _) => Span::styled("? unknown", theme.unknown),
                (_, s) => status_cell(s, theme),
            };
            let mut cells = vec![
                name,
                Span::raw(
                    p.vpn_ip
                        .map(|ip| ip.to_string())
                        .unwrap_or_else(|| "-".into()),
                ),
                status,
                Span::raw(info.age(p.last_handshake, app.now)),
                Span::raw(bytes(p.rx_bytes)),
                Span::raw(bytes(p.tx_bytes)),
            ];
            if wide {
                cells.push(Span::styled(
                    p.endpoint.clone().unwrap_or_default(),
                    theme.muted,
                ));
            }
            let row = Row::new(cells);
            if focused && i == pane.cursor.selected {
                row.style(theme.selected)
            } else {
                row
            }
        })
        .collect();
    let mut widths = vec![
        Constraint::Fill(1),
        Constraint::Length(14),
        Constraint::Length(10),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
    ];
    if wide {
        widths.push(Constraint::Length(21));
    }
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        list_area,
    );
}
