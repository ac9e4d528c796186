//! Tenants: name, subnet, routers online of all. The first row stands for all tenants.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{Column, Give, block, fit, fitted_table, measure, message, phase_line};
use crate::tui::app::{App, Pane};
use crate::tui::format::count;
use crate::tui::format::escaped;
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
    let body_height = inner.height.saturating_sub(1) as usize;
    let len = tenants.len() + 1;
    let range = app.tenant_cursor.visible(len, body_height);
    let (total, online) = tenants
        .iter()
        .fold((0, 0), |(r, o), t| (r + t.routers, o + t.online));
    let up = |online: i64, routers: i64| format!("{}/{}", count(online), count(routers));
    // Cells of the rows on screen; "online/routers" in one column leaves the names room.
    let cells: Vec<([(String, Style); 3], bool)> = range
        .map(|i| {
            let row = match i.checked_sub(1).and_then(|i| tenants.get(i)) {
                None => [
                    ("(all)".to_string(), theme.accent),
                    (String::new(), theme.muted),
                    (up(online, total), theme.online),
                ],
                Some(t) => {
                    let scoped = app.routers.tenant.as_deref() == Some(t.name.as_str());
                    [
                        (
                            escaped(&t.name),
                            if scoped { theme.accent } else { theme.text },
                        ),
                        (t.subnet_cidr.to_string(), theme.muted),
                        (up(t.online, t.routers), theme.online),
                    ]
                }
            };
            (row, focused && i == app.tenant_cursor.selected)
        })
        .collect();
    let mut columns = [
        Column::new("Tenant", Give::Shrink { min: 8 }),
        Column::new("Subnet", Give::Fixed),
        Column::new("Online", Give::Fixed),
    ];
    measure(&mut columns, &cells);
    let widths = fit(&columns, inner.width as usize);
    let rows = cells
        .into_iter()
        .map(|(row, selected)| (row.to_vec(), selected.then_some(theme.selected)));
    frame.render_widget(fitted_table(&columns, &widths, rows, theme.header), inner);
}

/// The width this pane needs to show every tenant name in full.
pub fn wanted_width(app: &App) -> u16 {
    let name = app
        .tenants
        .value
        .iter()
        .map(|t| t.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    let (total, online) = app
        .tenants
        .value
        .iter()
        .fold((0, 0), |(r, o), t| (r + t.routers, o + t.online));
    let up = count(online).len() + 1 + count(total).len();
    // borders, name, subnet (10.XXX.0.0/16), online/routers, two spaces between
    (2 + name + 1 + 13 + 1 + up.max(6)) as u16
}
