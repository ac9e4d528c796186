//! Tenants: name, subnet, routers, online. The first row stands for all tenants.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, Table};

use super::{block, message, phase_line};
use crate::tui::app::{App, Pane};
use crate::tui::format::count;
use crate::tui::keymap::{Action, Context};

pub fn render(app: &App, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = &app.theme;
    let tenants = &app.tenants.value;
    let title = Line::from(vec![
        Span::styled(Pane::Tenants.title(), theme.title),
        Span::styled(format!(" ({})", tenants.len()), theme.muted),
    ]);
    let b = block(1, title, focused, theme);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    if tenants.is_empty() {
        let mut lines: Vec<Line> = phase_line(&app.tenants.phase, theme).into_iter().collect();
        if app.tenants.is_ready() {
            let key = app.keymap.key_for(Action::AddTenant, Context::Global);
            lines.push(Line::from("No tenants yet."));
            lines.push(Line::from(vec![
                Span::raw("Press "),
                Span::styled(key, theme.key),
                Span::raw(" to add one: it gets its own 10.X.0.0/16."),
            ]));
        }
        message(frame, inner, lines);
        return;
    }
    let header = Row::new(["Tenant", "Subnet", "Routers", "Online"]).style(theme.header);
    let body_height = inner.height.saturating_sub(1) as usize;
    let len = tenants.len() + 1;
    let range = app.tenant_cursor.visible(len, body_height);
    let (total, online) = tenants
        .iter()
        .fold((0, 0), |(r, o), t| (r + t.routers, o + t.online));
    let rows = range.clone().map(|i| {
        let row = match i.checked_sub(1).and_then(|i| tenants.get(i)) {
            None => Row::new(vec![
                Span::styled("(all)", theme.accent),
                Span::styled("", theme.muted),
                Span::raw(count(total)),
                Span::styled(count(online), theme.online),
            ]),
            Some(t) => {
                let scoped = app.routers.tenant.as_deref() == Some(t.name.as_str());
                Row::new(vec![
                    Span::styled(
                        t.name.clone(),
                        if scoped { theme.accent } else { theme.text },
                    ),
                    Span::styled(t.subnet_cidr.to_string(), theme.muted),
                    Span::raw(count(t.routers)),
                    Span::styled(count(t.online), theme.online),
                ])
            }
        };
        if i == app.tenant_cursor.selected && focused {
            row.style(theme.selected)
        } else {
            row
        }
    });
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(13),
        Constraint::Length(7),
        Constraint::Length(6),
    ];
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        inner,
    );
}
