//! One module per region of the main screen. Each draws from the application state and
//! builds only the rows that fit.

pub mod peers;
pub mod routers;
pub mod subnets;
pub mod tenants;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::model::RouterStatus;
use crate::tui::data::Phase;
use crate::tui::format;
use crate::tui::theme::Theme;
use ratatui::style::Style;

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

/// A text gauge: `█` for used, `░` for free, so it reads without colour too.
pub fn bar(used: i64, capacity: i64, width: usize, theme: &Theme) -> Vec<Span<'static>> {
    let ratio = if capacity > 0 {
        (used as f64 / capacity as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut filled = (ratio * width as f64).round() as usize;
    if used > 0 && filled == 0 {
        filled = 1; // something allocated is never drawn as nothing
    }
    let style = if ratio >= 0.9 {
        theme.gauge_full
    } else {
        theme.gauge
    };
    vec![
        Span::styled("█".repeat(filled.min(width)), style),
        Span::styled("░".repeat(width - filled.min(width)), theme.muted),
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
