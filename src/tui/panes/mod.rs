//! One module per region of the main screen. Each draws from the application state and
//! builds only the rows that fit.

pub mod columns;
pub mod peers;
pub mod routers;
pub mod subnets;
pub mod tenants;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Constraint;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};

use crate::model::{KeyStanding, RouterStatus};
use crate::tui::data::Phase;
use crate::tui::format::{self, truncate};
use crate::tui::theme::Theme;
use ratatui::style::{Modifier, Style};

/// What a frame learnt while drawing: when its text next changes on its own.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct RenderInfo {
    pub wake_in_secs: Option<u64>,
}

impl RenderInfo {
    /// Records a relative age on screen.
    pub fn age(&mut self, then: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
        if let Some(t) = then {
            self.wake_in(format::age_changes_in(t, now));
        }
        format::age(then, now)
    }

    pub fn wake_in(&mut self, secs: u64) {
        self.wake_in_secs = Some(self.wake_in_secs.map_or(secs, |s| s.min(secs)));
    }
}

/// The pane frame: focused panes get the accent border and a title with their number.
pub fn block<'a>(number: usize, title: Line<'a>, focused: bool, theme: &Theme) -> Block<'a> {
    let mut spans = vec![Span::styled(format!(" {number} "), theme.key)];
    spans.extend(title.spans);
    spans.push(Span::raw(" "));
    Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        })
        .title(Line::from(spans))
}

/// A message in place of an empty or failed list.
pub fn message(frame: &mut Frame, area: Rect, lines: Vec<Line>) {
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

/// The line saying a dataset is loading or failed, if it is.
pub fn phase_line<'a>(phase: &Phase, theme: &Theme) -> Option<Line<'a>> {
    match phase {
        Phase::Loading => Some(Line::from(Span::styled("loading…", theme.muted))),
        Phase::Failed(e) => Some(Line::from(Span::styled(format!("✗ {e}"), theme.error))),
        Phase::Ready => None,
    }
}

/// Status as symbol and word, so it reads without colour.
pub fn status_cell(status: RouterStatus, theme: &Theme) -> Span<'static> {
    let (symbol, style) = status_look(status, theme);
    Span::styled(format!("{symbol} {}", status.as_str()), style)
}

pub fn status_look(status: RouterStatus, theme: &Theme) -> (&'static str, Style) {
    match status {
        RouterStatus::Online => ("●", theme.online),
        RouterStatus::Stale => ("◐", theme.stale),
        RouterStatus::Offline => ("○", theme.offline),
        RouterStatus::Pending => ("◌", theme.pending),
        RouterStatus::Disabled => ("⊘", theme.disabled),
    }
}

/// The colour of a key age's marker ("due", "staged"); the word itself reads without it.
pub fn key_standing_style(standing: KeyStanding, theme: &Theme) -> Style {
    match standing {
        KeyStanding::Current => theme.muted,
        KeyStanding::Due => theme.stale,
        KeyStanding::Staged => theme.accent,
    }
}

/// A text gauge: `█` for used, `░` for free, so it reads without colour too. Rounded down
/// in eighths of a cell: a nearly empty pool reads empty (the percentage beside it says how
/// much), a full cell means at least that much is used.
pub fn bar(used: i64, capacity: i64, width: usize, theme: &Theme) -> Vec<Span<'static>> {
    const PARTIAL: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = if capacity > 0 {
        (used.clamp(0, capacity) as u128 * width as u128 * 8 / capacity as u128) as usize
    } else {
        0
    };
    let full = eighths / 8;
    let partial = PARTIAL[eighths % 8];
    let free = width - full - usize::from(!partial.is_empty());
    let style = if capacity > 0 && used * 10 >= capacity * 9 {
        theme.gauge_full
    } else {
        theme.gauge
    };
    vec![
        Span::styled(format!("{}{partial}", "█".repeat(full)), style),
        Span::styled("░".repeat(free), theme.muted),
    ]
}

pub fn percent(used: i64, capacity: i64) -> String {
    if capacity <= 0 {
        return "-".into();
    }
    let p = used as f64 * 100.0 / capacity as f64;
    if p > 0.0 && p < 0.1 {
        "<0.1%".into()
    } else {
        format!("{p:.1}%")
    }
}

/// How a table column behaves when the pane is too narrow for every column at full width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Give {
    /// Always shown at its width.
    Fixed,
    /// Names: shrinks (shown with an ellipsis) down to `min`, widest first.
    Shrink { min: usize },
    /// Nice to have (endpoint): left out before any name is shortened.
    DropFirst,
    /// Secondary figures (traffic): left out only when names are already at their minimum.
    DropLast,
}

/// A column as measured over the rows on screen: header and content width.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub width: usize,
    pub give: Give,
    /// The header is underlined: the list is in this column's order.
    pub marked: bool,
}

impl Column {
    pub fn new(header: &'static str, give: Give) -> Self {
        Column {
            header,
            width: header.chars().count(),
            give,
            marked: false,
        }
    }

    /// Widens the column to fit `text`.
    pub fn measure(&mut self, text: &str) {
        self.width = self.width.max(text.chars().count());
    }
}

/// Widens each column to fit its cell in every row on screen.
pub fn measure<'a, R, H>(columns: &mut [Column], rows: impl IntoIterator<Item = &'a (R, H)>)
where
    R: AsRef<[(String, Style)]> + 'a,
    H: 'a,
{
    for (row, _) in rows {
        for (column, (text, _)) in columns.iter_mut().zip(row.as_ref()) {
            column.measure(text);
        }
    }
}

/// The width of every column within `avail` (one space between columns), `None` for a column
/// left out. Work per frame is proportional to the columns, not the rows.
pub fn fit(columns: &[Column], avail: usize) -> Vec<Option<usize>> {
    let mut shown: Vec<bool> = vec![true; columns.len()];
    let drop_order = columns
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, c)| c.give == Give::DropFirst)
        .chain(
            columns
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, c)| c.give == Give::DropLast),
        )
        .map(|(i, c)| (i, c.give));
    let mut drops = drop_order.collect::<Vec<_>>().into_iter();
    loop {
        let mut widths: Vec<Option<usize>> = columns
            .iter()
            .zip(&shown)
            .map(|(c, s)| s.then_some(c.width))
            .collect();
        let total = |w: &[Option<usize>]| {
            let n = w.iter().flatten().count();
            w.iter().flatten().sum::<usize>() + n.saturating_sub(1)
        };
        // Before names shrink, the nice-to-have columns go.
        let first_pending = shown
            .iter()
            .zip(columns)
            .any(|(s, c)| *s && c.give == Give::DropFirst);
        if total(&widths) > avail
            && first_pending
            && let Some((i, _)) = drops.next()
        {
            shown[i] = false;
            continue;
        }
        let mut over = total(&widths).saturating_sub(avail);
        while over > 0 {
            let widest = widths
                .iter()
                .zip(columns)
                .enumerate()
                .filter_map(|(i, (w, c))| match (w, c.give) {
                    (Some(w), Give::Shrink { min }) if *w > min => Some((i, *w)),
                    _ => None,
                })
                .max_by_key(|(_, w)| *w);
            let Some((i, _)) = widest else {
                break;
            };
            if let Some(w) = widths[i].as_mut() {
                *w -= 1;
            }
            over -= 1;
        }
        if over > 0
            && let Some((i, _)) = drops.next()
        {
            shown[i] = false;
            continue;
        }
        return widths;
    }
}

/// Fits only the columns that apply (no tenant column inside one tenant, no endpoint column
/// when no row has one); the others are `None`.
pub fn fit_relevant(columns: &[Column], relevant: &[bool], avail: usize) -> Vec<Option<usize>> {
    let kept: Vec<Column> = columns
        .iter()
        .zip(relevant)
        .filter(|(_, r)| **r)
        .map(|(c, _)| *c)
        .collect();
    let mut fitted = fit(&kept, avail).into_iter();
    relevant
        .iter()
        .map(|r| if *r { fitted.next().flatten() } else { None })
        .collect()
}

/// A table of fitted columns; the cells of columns that got no width are left out.
pub fn fitted_table<'a>(
    columns: &[Column],
    widths: &[Option<usize>],
    rows: impl IntoIterator<Item = (Vec<(String, Style)>, Option<Style>)>,
    header_style: Style,
) -> Table<'a> {
    let header = Row::new(
        columns
            .iter()
            .zip(widths)
            .filter(|(_, w)| w.is_some())
            .map(|(c, _)| {
                let cell = Span::raw(c.header);
                if c.marked {
                    cell.style(header_style.add_modifier(Modifier::UNDERLINED))
                } else {
                    cell
                }
            }),
    )
    .style(header_style);
    let rows: Vec<Row> =
        rows.into_iter()
            .map(|(cells, highlight)| {
                let row = Row::new(cells.into_iter().zip(widths).filter_map(
                    |((text, style), w)| w.map(|w| Span::styled(truncate(&text, w), style)),
                ));
                match highlight {
                    Some(style) => row.style(style),
                    None => row,
                }
            })
            .collect();
    let constraints: Vec<Constraint> = widths
        .iter()
        .flatten()
        .map(|w| Constraint::Length(*w as u16))
        .collect();
    Table::new(rows, constraints)
        .header(header)
        .column_spacing(1)
}

#[cfg(test)]
mod bar_tests {
    use super::*;

    fn text(used: i64, capacity: i64, width: usize) -> String {
        bar(used, capacity, width, &Theme::default())
            .iter()
            .map(|s| s.content.as_ref())
            .collect()
    }

    #[test]
    fn gauges_round_down() {
        assert_eq!(text(80, 65_278, 7), "░░░░░░░", "0.1% reads empty");
        assert_eq!(text(6, 155, 4), "▏░░░", "3.9% of four cells is one eighth");
        assert_eq!(text(0, 155, 4), "░░░░");
        assert_eq!(text(155, 155, 4), "████");
        assert_eq!(text(154, 155, 4), "███▉");
        assert_eq!(text(1, 0, 3), "░░░");
        for used in 0..=20 {
            assert_eq!(text(used, 20, 5).chars().count(), 5);
        }
    }
}

#[cfg(test)]
mod fit_tests {
    use super::*;

    fn col(width: usize, give: Give) -> Column {
        Column {
            header: "",
            width,
            give,
            marked: false,
        }
    }

    #[test]
    fn everything_fits_at_its_content_width() {
        let cols = [
            col(10, Give::Fixed),
            col(8, Give::Shrink { min: 4 }),
            col(5, Give::DropLast),
        ];
        assert_eq!(fit(&cols, 30), vec![Some(10), Some(8), Some(5)]);
    }

    #[test]
    fn endpoint_goes_before_names_shrink_and_traffic_after() {
        let cols = [
            col(10, Give::Fixed),
            col(12, Give::Shrink { min: 8 }),
            col(16, Give::Shrink { min: 8 }),
            col(9, Give::DropLast),
            col(21, Give::DropFirst),
        ];
        // 10+12+16+9 + 3 spaces = 50: the endpoint goes, names untouched
        assert_eq!(
            fit(&cols, 50),
            vec![Some(10), Some(12), Some(16), Some(9), None]
        );
        // 4 short: the widest name gives
        assert_eq!(
            fit(&cols, 46),
            vec![Some(10), Some(12), Some(12), Some(9), None]
        );
        // names at their minimum, still short: traffic goes, names grow back
        assert_eq!(
            fit(&cols, 34),
            vec![Some(10), Some(11), Some(11), None, None]
        );
    }
}
