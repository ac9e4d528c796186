//! Peer status: what the hub's WireGuard interface reports (live poller), or what the agent
//! last stored. Shows when it was updated, can be frozen, and lists peers the interface has
//! that tikwire does not know.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::columns::{ColumnSpec, LinkRow, draw_table, filter_line, link_columns};
use super::{Give, RenderInfo, block, message, status_cell};
use crate::tui::app::{App, Pane};
use crate::tui::peerview::{Link, PeerLine, Tone};

/// One row of the table: a peer, with its handshake age as shown.
pub struct PeerRow {
    peer: PeerLine,
    handshake: String,
}

impl LinkRow for PeerRow {
    fn link(&self) -> Option<(&Link, &str)> {
        Some((&self.peer.link, self.handshake.as_str()))
    }
}

/// The table, one column a line. A peer no router owns reads "? unknown" in name and status.
fn columns() -> [ColumnSpec<PeerRow>; 7] {
    let [handshake, rx, tx, endpoint] = link_columns();
    let column = ColumnSpec::<PeerRow>::new;
    [
        column("Peer", Give::Shrink { min: 12 }, |r, theme| {
            match &r.peer.router {
                Some(name) if r.peer.status.is_some() => (name.clone(), theme.text),
                _ => {
                    let key: String = r.peer.public_key.to_string().chars().take(8).collect();
                    (format!("? unknown {key}…"), theme.unknown)
                }
            }
        }),
        column("Address", Give::Fixed, |r, theme| {
            let address = r.peer.vpn_ip.map(|ip| ip.to_string());
            (address.unwrap_or_else(|| "-".into()), theme.text)
        }),
        column("Status", Give::Fixed, |r, theme| {
            match (&r.peer.router, r.peer.status) {
                (Some(_), Some(status)) => {
                    let cell = status_cell(status, theme);
                    (cell.content.into_owned(), cell.style)
                }
                _ => ("? unknown".into(), theme.unknown),
            }
        }),
        handshake,
        rx,
        tx,
        endpoint,
    ]
}

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
    let list_area = filter_line(app, frame, inner, Pane::Peers, &pane.filter, None);
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
    // The rows on screen only.
    let rows: Vec<(PeerRow, Option<_>)> = range
        .filter_map(|i| Some((i, pane.line(table, pane.entry(i)?)?)))
        .map(|(i, peer)| {
            let handshake = info.age(peer.link.last_handshake, app.now);
            let selected = focused && i == pane.cursor.selected;
            (
                PeerRow { peer, handshake },
                selected.then_some(theme.selected),
            )
        })
        .collect();
    draw_table(app, frame, list_area, &columns(), &rows, None);
}
