//! `?`: every binding of the live keymap, grouped by where it applies.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::tui::forms::centered;
use crate::tui::keymap::{Context, Keymap};
use crate::tui::theme::Theme;

/// The order sections appear in.
const SECTIONS: [Context; 11] = [
    Context::Global,
    Context::Nav,
    Context::List,
    Context::Tenants,
    Context::Routers,
    Context::Peers,
    Context::Script,
    Context::Form,
    Context::Confirm,
    Context::Input,
    Context::Always,
];

#[derive(Debug, Default)]
pub struct HelpView {
    pub scroll: usize,
}

/// The help text as lines (also what the tests read).
pub fn lines<'a>(keymap: &'a Keymap, theme: &Theme) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    for ctx in SECTIONS {
        let entries: Vec<_> = keymap
            .entries()
            .iter()
            .filter(|e| e.context == ctx)
            .collect();
        if entries.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(Line::default());
        }
        out.push(Line::from(Span::styled(ctx.title(), theme.header)));
        for e in entries {
            out.push(Line::from(vec![
                Span::styled(format!("  {:<16}", e.keys_label()), theme.key),
                Span::styled(e.description, theme.text),
            ]));
        }
    }
    out
}

pub fn render(view: &HelpView, keymap: &Keymap, frame: &mut Frame, area: Rect, theme: &Theme) {
    let text = lines(keymap, theme);
    let popup = centered(area, 64, area.height.saturating_sub(2).max(3));
    let max_scroll = text
        .len()
        .saturating_sub(popup.height.saturating_sub(2) as usize);
    let scroll = view.scroll.min(max_scroll) as u16;
    frame.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(" Keys ", theme.title))
        .title_bottom(super::key_hints(
            &[("↑↓", "scroll"), ("esc", "close")],
            theme,
        ));
    frame.render_widget(Paragraph::new(text).block(block).scroll((scroll, 0)), popup);
}
