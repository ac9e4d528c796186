//! Routers of the selected tenant (or all): status readable without colour, address, last
//! handshake as a relative age, traffic. Only the rows on screen are built.

use std::net::Ipv4Addr;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::columns::{Applies, ColumnSpec, LinkRow, draw_table, filter_line, link_columns};
use super::{Give, RenderInfo, block, key_standing_style, message, phase_line, status_cell};
use crate::format::{age_changes_in, key_age_of};
use crate::model::{KeyStanding, RouterStatus};
use crate::tui::app::{App, Pane};
use crate::tui::data::SortKey;
use crate::tui::format::count;
use crate::tui::format::escaped;
use crate::tui::keymap::{Action, Context};
use crate::tui::peerview::Link;
use crate::tui::window::COUNT_CAP;

/// One row of the table: a stored router, or one still being provisioned.
pub struct RouterLine {
    status: RouterStatus,
    name: String,
    tenant: String,
    /// Its tenant's home hub, where its routers live ("" before the tenant is placed).
    hub: String,
    /// `None` while the router is being provisioned.
    seen: Option<Seen>,
}

/// What a stored router adds: its address, its key age and its link, with the handshake age
/// as shown.
struct Seen {
    vpn_ip: Ipv4Addr,
    /// "12d", "95d due", "3d staged".
    key_age: String,
    key_standing: KeyStanding,
    link: Link,
    handshake: String,
}

impl LinkRow for RouterLine {
    fn link(&self) -> Option<(&Link, &str)> {
        self.seen.as_ref().map(|s| (&s.link, s.handshake.as_str()))
    }
}

/// The table, one column a line.
fn columns() -> [ColumnSpec<RouterLine>; 10] {
    let [handshake, rx, tx, endpoint] = link_columns();
    let column = ColumnSpec::<RouterLine>::new;
    [
        column("Status", Give::Fixed, |r, theme| {
            let cell = status_cell(r.status, theme);
            (cell.content.into_owned(), cell.style)
        })
        .sorts(SortKey::Status),
        column("Name", Give::Shrink { min: 10 }, |r, theme| {
            (r.name.clone(), theme.text)
        })
        .sorts(SortKey::Name),
        column("Tenant", Give::Shrink { min: 8 }, |r, theme| {
            (r.tenant.clone(), theme.muted)
        })
        .sorts(SortKey::Tenant)
        .applies(Applies::If(|app| app.routers.tenant.is_none())),
        column("Address", Give::Fixed, |r, theme| match &r.seen {
            Some(s) => (s.vpn_ip.to_string(), theme.text),
            None => ("allocating…".into(), theme.muted),
        })
        .sorts(SortKey::Address),
        // Only with several hubs: with one, it says nothing.
        column("Hub", Give::Shrink { min: 4 }, |r, theme| {
            (r.hub.clone(), theme.muted)
        })
        .applies(Applies::If(|app| {
            app.hubs.value.len() > 1 && app.routers.tenant.is_none()
        })),
        // Fixed: the rotation markers must stay on screen at 80 columns.
        column("Keys", Give::Fixed, |r, theme| match &r.seen {
            Some(s) => (s.key_age.clone(), key_standing_style(s.key_standing, theme)),
            None => (String::new(), theme.muted),
        }),
        handshake,
        rx,
        tx,
        endpoint,
    ]
}

/// A tenant's home hub, from the tenants list (at most 155 rows; only rows on screen ask).
fn home_hub(app: &App, tenant: &str) -> String {
    app.tenants
        .value
        .iter()
        .find(|t| t.name == tenant)
        .and_then(|t| t.hub.as_deref())
        .map(escaped)
        .unwrap_or_default()
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, focused: bool, info: &mut RenderInfo) {
    let theme = &app.theme;
    let table = &app.routers;
    let mut title = vec![Span::styled(Pane::Routers.title(), theme.title)];
    title.push(Span::styled(
        format!(" · {}", table.tenant.as_deref().unwrap_or("all tenants")),
        theme.accent,
    ));
    // With several hubs, the one a tenant's routers live on.
    if let Some(tenant) = table.tenant.as_deref()
        && app.hubs.value.len() > 1
    {
        let hub = home_hub(app, tenant);
        if !hub.is_empty() {
            title.push(Span::styled(format!(" on {hub}"), theme.muted));
        }
    }
    let counted = match &app.window {
        // Counted by the database (a filtered count stops at the cap), of the scope's
        // routers as the tenants list counts them.
        Some(w) => {
            let plus = if w.count >= COUNT_CAP && !table.filter.is_empty() {
                "+"
            } else {
                ""
            };
            let of: i64 = app
                .tenants
                .value
                .iter()
                .filter(|t| table.tenant.as_deref().is_none_or(|s| s == t.name))
                .map(|t| t.routers)
                .sum();
            format!(" · {}{plus} of {}", count(w.count), count(of))
        }
        None => format!(
            " · {} of {}",
            count(table.len() as i64),
            count(table.total() as i64)
        ),
    };
    title.push(Span::styled(counted, theme.muted));
    let arrow = if table.descending { "↓" } else { "↑" };
    title.push(Span::styled(
        format!(" · by {} {arrow}", table.sort.label()),
        theme.muted,
    ));
    let b = block(3, Line::from(title), focused, theme);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let list_area = filter_line(
        app,
        frame,
        inner,
        Pane::Routers,
        &table.filter,
        Some("name, address or status"),
    );

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

    let body = list_area.height.saturating_sub(1) as usize;
    let pending_rows = pending.len().min(body);
    let range = table.cursor.visible(table.len(), body - pending_rows);
    // The rows on screen only: pending ones first.
    let mut rows: Vec<(RouterLine, Option<_>)> = pending[..pending_rows]
        .iter()
        .map(|(t, n)| {
            let line = RouterLine {
                status: RouterStatus::Pending,
                name: n.clone(),
                hub: home_hub(app, t),
                tenant: t.clone(),
                seen: None,
            };
            (line, None)
        })
        .collect();
    rows.extend(
        range
            .filter_map(|i| {
                let index = table.view_index(i)?;
                Some((i, table.row(index)?, app.peers.link(table, index)?))
            })
            .map(|(i, r, link)| {
                // The agent's verdict, as the peer pane, the command line and the API show it.
                let status = r.status;
                let key_standing = r.keys.standing(app.rotation_max_age, app.now);
                // Key ages step like handshake ages (a new router's keys are seconds old).
                info.wake_in(age_changes_in(r.keys.created_at, app.now));
                let line = RouterLine {
                    status,
                    name: escaped(&r.name),
                    hub: home_hub(app, &r.tenant),
                    tenant: escaped(&r.tenant),
                    seen: Some(Seen {
                        vpn_ip: r.vpn_ip,
                        key_age: key_age_of(r.keys.created_at, key_standing, app.now),
                        key_standing,
                        handshake: info.age(link.last_handshake, app.now),
                        link,
                    }),
                };
                let highlight = (i == table.cursor.selected).then_some(if focused {
                    theme.selected
                } else {
                    theme.accent
                });
                (line, highlight)
            }),
    );
    draw_table(app, frame, list_area, &columns(), &rows, Some(table.sort));
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
