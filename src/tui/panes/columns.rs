//! The tables of the routers and the peer status panes, each defined one column at a time:
//! its header, how it gives way when the pane is narrow, when it applies at all, the sort key
//! it shows, and how one row fills its cell. Measuring, fitting and drawing are done here
//! once for both, as is the filter line under them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Column, Give, fit_relevant, fitted_table, measure};
use crate::tui::app::{App, Pane};
use crate::tui::data::SortKey;
use crate::tui::format::bytes_short;
use crate::tui::peerview::Link;
use crate::tui::theme::Theme;

/// Whether a column is shown at all.
#[derive(Clone, Copy)]
pub enum Applies {
    Always,
    /// Only when a row on screen has something in it (endpoints appear with a handshake).
    WhenFilled,
    /// Only when the state says so (the tenant column, when the list spans tenants).
    If(fn(&App) -> bool),
}

/// A cell: its text and its style.
pub type Cell = (String, Style);

/// One column of a pane's table, whole.
pub struct ColumnSpec<R> {
    pub header: &'static str,
    pub give: Give,
    pub applies: Applies,
    /// The sort key whose order this column shows (its header is marked while sorted so).
    pub sort: Option<SortKey>,
    /// The cell of one row.
    pub cell: fn(&R, &Theme) -> Cell,
}

impl<R> ColumnSpec<R> {
    pub const fn new(header: &'static str, give: Give, cell: fn(&R, &Theme) -> Cell) -> Self {
        ColumnSpec {
            header,
            give,
            applies: Applies::Always,
            sort: None,
            cell,
        }
    }

    pub const fn sorts(mut self, key: SortKey) -> Self {
        self.sort = Some(key);
        self
    }

    pub const fn applies(mut self, applies: Applies) -> Self {
        self.applies = applies;
        self
    }
}

/// A row that ends in a WireGuard link: both tables close with the same four columns.
pub trait LinkRow {
    /// The link and its handshake age as shown, or `None` while the router is only being
    /// provisioned.
    fn link(&self) -> Option<(&Link, &str)>;
}

/// Handshake, Rx, Tx and Endpoint, for any row with a link.
pub fn link_columns<R: LinkRow>() -> [ColumnSpec<R>; 4] {
    [
        ColumnSpec::new("Handshake", Give::Fixed, |r: &R, theme| match r.link() {
            Some((_, age)) => (age.to_owned(), theme.text),
            None => ("never".into(), theme.muted),
        })
        .sorts(SortKey::Handshake),
        ColumnSpec::new("Rx", Give::DropLast, |r: &R, theme| {
            let rx = r.link().map(|(l, _)| bytes_short(l.rx_bytes));
            (rx.unwrap_or_default(), theme.text)
        })
        .sorts(SortKey::Traffic),
        ColumnSpec::new("Tx", Give::DropLast, |r: &R, theme| {
            let tx = r.link().map(|(l, _)| bytes_short(l.tx_bytes));
            (tx.unwrap_or_default(), theme.text)
        })
        .sorts(SortKey::Traffic),
        ColumnSpec::new("Endpoint", Give::DropFirst, |r: &R, theme| {
            let endpoint = r.link().and_then(|(l, _)| l.endpoint.clone());
            (endpoint.unwrap_or_default(), theme.muted)
        })
        .applies(Applies::WhenFilled),
    ]
}

/// Draws `rows` (only those on screen; each with its highlight) under `columns`: widths
/// follow from the cells, columns that do not apply are left out, the rest fitted to `area`.
/// `sorted` marks the headers of the columns showing that order.
pub fn draw_table<R>(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    columns: &[ColumnSpec<R>],
    rows: &[(R, Option<Style>)],
    sorted: Option<SortKey>,
) {
    let theme = &app.theme;
    let cells: Vec<(Vec<Cell>, Option<Style>)> = rows
        .iter()
        .map(|(row, highlight)| {
            let cells = columns.iter().map(|c| (c.cell)(row, theme)).collect();
            (cells, *highlight)
        })
        .collect();
    let mut measured: Vec<Column> = columns
        .iter()
        .map(|c| {
            let mut column = Column::new(c.header, c.give);
            column.marked = sorted.is_some() && c.sort == sorted;
            column
        })
        .collect();
    measure(&mut measured, &cells);
    let relevant: Vec<bool> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| match c.applies {
            Applies::Always => true,
            Applies::WhenFilled => cells.iter().any(|(row, _)| !row[i].0.is_empty()),
            Applies::If(applies) => applies(app),
        })
        .collect();
    let widths = fit_relevant(&measured, &relevant, area.width as usize);
    frame.render_widget(fitted_table(&measured, &widths, cells, theme.header), area);
}

/// Splits the filter line off the bottom of a list pane when there is a filter to show, and
/// draws it: `/text`, the cursor while typing, and `hint` (what the filter matches) if any.
/// Returns the area left for the list.
pub fn filter_line(
    app: &App,
    frame: &mut Frame,
    inner: Rect,
    pane: Pane,
    filter: &str,
    hint: Option<&str>,
) -> Rect {
    let theme = &app.theme;
    let editing = app.filter_edit.as_ref().is_some_and(|e| e.pane == pane);
    let shown = editing || !filter.is_empty();
    let [list_area, filter_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(u16::from(shown))]).areas(inner);
    if shown {
        let mut spans = vec![
            Span::styled("/", theme.key),
            Span::styled(filter.to_owned(), theme.input),
        ];
        if editing {
            spans.push(Span::styled("█", theme.key));
        }
        match (hint, editing) {
            (Some(hint), true) => spans.push(Span::styled(
                format!("  {hint} · enter keeps · esc clears"),
                theme.muted,
            )),
            (Some(_), false) => spans.push(Span::styled("  (esc clears)", theme.muted)),
            (None, _) => {}
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), filter_area);
    }
    list_area
}
