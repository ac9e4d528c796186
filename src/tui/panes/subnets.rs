//! Subnet usage: the global pool (tenant subnets used of 155) and, per tenant, addresses
//! allocated of the true capacity (65,278 router addresses per /16).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{bar, block, message, percent, phase_line};
use crate::tui::app::{App, Pane};
use crate::tui::format::escaped;
use crate::tui::format::{count, truncate};

pub fn render(app: &App, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = &app.theme;
    let capacity = app.subnets.value.first().map_or(65_278, |s| s.capacity);
    let title = Line::from(vec![
        Span::styled(Pane::Subnets.title(), theme.title),
        Span::styled(format!(" · of {} each", count(capacity)), theme.muted),
    ]);
    let b = block(2, title, focused, theme);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let [pool_area, list_area] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(inner);

    let pool = app.pool.value;
    let used = format!(
        "{}/{}",
        count(pool.tenants_used),
        count(pool.tenants_capacity)
    );
    let pct = percent(pool.tenants_used, pool.tenants_capacity);
    let long = format!(" {used} tenant subnets {pct}");
    // "Pool " + a bar of at least 6 cells + the figures, shortened when the pane is narrow.
    let figures = if long.chars().count() + 11 <= pool_area.width as usize {
        long
    } else {
        format!(" {used} {pct}")
    };
    let bar_width = (pool_area.width as usize)
        .saturating_sub(figures.chars().count() + 5)
        .clamp(4, 40);
    let mut spans = vec![Span::styled("Pool ", theme.header)];
    spans.extend(bar(
        pool.tenants_used,
        pool.tenants_capacity,
        bar_width,
        theme,
    ));
    spans.push(Span::raw(figures));
    frame.render_widget(Paragraph::new(Line::from(spans)), pool_area);

    let subnets = &app.subnets.value;
    if subnets.is_empty() {
        let mut lines: Vec<Line> = phase_line(&app.subnets.phase, theme).into_iter().collect();
        if app.subnets.is_ready() {
            lines.push(Line::from(Span::styled(
                "No tenant subnets allocated yet.",
                theme.muted,
            )));
        }
        message(frame, list_area, lines);
        return;
    }
    let range = app
        .subnet_cursor
        .visible(subnets.len(), list_area.height as usize);
    let longest = range
        .clone()
        .map(|i| subnets[i].tenant.chars().count())
        .max()
        .unwrap_or(0);
    // Names get what is left after a bar of at least 6 cells and the figures.
    let figures_width = 15;
    let name_width = longest.clamp(
        6,
        (list_area.width as usize)
            .saturating_sub(figures_width + 7)
            .max(6),
    );
    let lines: Vec<Line> = range
        .map(|i| {
            let s = &subnets[i];
            // Every tenant has the same capacity (said in the title): the count alone.
            let figures = format!(
                " {:>7} {:>6}",
                count(s.allocated),
                percent(s.allocated, s.capacity)
            );
            let width = (list_area.width as usize)
                .saturating_sub(name_width + 1 + figures.chars().count())
                .max(3);
            let mut spans = vec![Span::styled(
                format!(
                    "{:<name_width$} ",
                    truncate(&escaped(&s.tenant), name_width)
                ),
                theme.text,
            )];
            spans.extend(bar(s.allocated, s.capacity, width, theme));
            spans.push(Span::raw(figures));
            let line = Line::from(spans);
            if focused && i == app.subnet_cursor.selected {
                line.style(theme.selected)
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list_area);
}
