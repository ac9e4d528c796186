//! Views drawn over the panes; each module holds one overlay's state and its drawing.

pub mod command;
pub mod confirm;
pub mod help;
pub mod qr;
pub mod raw;
pub mod save;
pub mod script;
pub mod toast;

use ratatui::text::{Line, Span};

use crate::tui::theme::Theme;

/// The key hints in a popup's bottom border: `[("enter", "save"), ("esc", "cancel")]`.
pub fn key_hints(hints: &[(&str, &str)], theme: &Theme) -> Line<'static> {
    let mut spans = Vec::with_capacity(hints.len() * 2);
    for (i, (key, what)) in hints.iter().enumerate() {
        let gap = if i + 1 == hints.len() { " " } else { "  " };
        let lead = if i == 0 { " " } else { "" };
        spans.push(Span::styled(format!("{lead}{key} "), theme.key));
        spans.push(Span::styled(format!("{what}{gap}"), theme.muted));
    }
    Line::from(spans)
}
