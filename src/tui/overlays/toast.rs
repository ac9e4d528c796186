//! Short messages about results ("copied", "router provisioned"), gone after a few seconds.

use chrono::{DateTime, Duration, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Clear, Paragraph};

use crate::tui::theme::Theme;

/// How long a toast stays.
pub const TOAST_SECS: i64 = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub text: String,
    pub error: bool,
    pub until: DateTime<Utc>,
}

impl Toast {
    pub fn info(text: impl Into<String>, now: DateTime<Utc>) -> Self {
        Toast {
            text: text.into(),
            error: false,
            until: now + Duration::seconds(TOAST_SECS),
        }
    }

    pub fn error(text: impl Into<String>, now: DateTime<Utc>) -> Self {
        // Errors stay longer: they need reading.
        Toast {
            text: text.into(),
            error: true,
            until: now + Duration::seconds(TOAST_SECS * 2),
        }
    }
}

/// The newest toast, right-aligned on the line above the footer.
pub fn render(toast: &Toast, frame: &mut Frame, area: Rect, theme: &Theme) {
    let prefix = if toast.error { " ✗ " } else { " ✓ " };
    let text = format!("{prefix}{} ", crate::format::escape_control(&toast.text));
    let width = (text.chars().count() as u16).min(area.width);
    let rect = Rect {
        x: area.x + area.width - width,
        y: area.y,
        width,
        height: 1,
    };
    let style = if toast.error {
        theme.toast_error
    } else {
        theme.toast
    };
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(Span::styled(text, style)), rect);
}
