//! Short messages about results ("copied", "router provisioned") and alerts as they happen
//! ("acme/hq-1 went offline on hub1"), gone after a few seconds. Alerts arriving while an
//! alert toast shows join it ("5 alerts: …"): one line, however many came.

use chrono::{DateTime, Duration, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Clear, Paragraph};

use crate::tui::monitor::Announcement;
use crate::tui::theme::Theme;

/// How long a toast stays.
pub const TOAST_SECS: i64 = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub text: String,
    pub error: bool,
    pub until: DateTime<Utc>,
    /// The alerts it tells (a result's toast: none).
    pub alerts: Option<Announcement>,
}

impl Toast {
    pub fn info(text: impl Into<String>, now: DateTime<Utc>) -> Self {
        Toast {
            text: text.into(),
            error: false,
            until: now + Duration::seconds(TOAST_SECS),
            alerts: None,
        }
    }

    pub fn error(text: impl Into<String>, now: DateTime<Utc>) -> Self {
        // Errors stay longer: they need reading.
        Toast {
            text: text.into(),
            error: true,
            until: now + Duration::seconds(TOAST_SECS * 2),
            alerts: None,
        }
    }

    /// The toast telling `news`: bad news stays as long as an error.
    pub fn alerts(news: Announcement, now: DateTime<Utc>) -> Self {
        let mut toast = if news.alarming {
            Self::error(news.text(), now)
        } else {
            Self::info(news.text(), now)
        };
        toast.alerts = Some(news);
        toast
    }
}

/// Shows new alerts: joined to the newest toast when that one tells alerts and is still on
/// screen, else a toast of their own.
pub fn push_alerts(toasts: &mut Vec<Toast>, news: Announcement, now: DateTime<Utc>) {
    let showing = toasts
        .last()
        .filter(|t| t.until > now)
        .and_then(|t| t.alerts.as_ref());
    let toast = match showing {
        Some(older) => {
            let joined = news.then(older);
            toasts.pop();
            Toast::alerts(joined, now)
        }
        None => Toast::alerts(news, now),
    };
    toasts.push(toast);
}

/// The newest toast, right-aligned on the line above the footer.
pub fn render(toast: &Toast, frame: &mut Frame, area: Rect, theme: &Theme) {
    let prefix = match (&toast.alerts, toast.error) {
        (Some(_), true) => " ▲ ",
        (Some(_), false) => " ● ",
        (None, true) => " ✗ ",
        (None, false) => " ✓ ",
    };
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
