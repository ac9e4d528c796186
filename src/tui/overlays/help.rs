//! `?`: every binding of the live keymap, grouped by where it applies.

use std::cell::Cell;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{TEXT_CONTEXTS, read_text, Canvas, Env, Overlay, Reply};
use crate::tui::data::ListCursor;
use crate::tui::forms::centered;
use crate::tui::keymap::{Action, Context, Keymap};
use crate::tui::theme::Theme;

/// The order sections appear in.
const SECTIONS: [Context; 13] = [
    Context::Global,
    Context::Nav,
    Context::List,
    Context::Tenants,
    Context::Routers,
    Context::Peers,
    Context::Script,
    Context::Detail,
    Context::Events,
    Context::Form,
    Context::Confirm,
    Context::Input,
    Context::Always,
];

#[derive(Debug, Default)]
pub struct HelpView {
    pub scroll: ListCursor,
    /// Lines of help as last drawn: what scrolls.
    rows: Cell<usize>,
}

impl Overlay for HelpView {
    fn contexts(&self) -> &'static [Context] {
        TEXT_CONTEXTS
    }

    fn on_key(&mut self, _key: KeyEvent, action: Option<Action>, _env: &Env) -> Reply {
        read_text(&mut self.scroll, self.rows.get(), action)
    }

    fn render(&self, frame: &mut Frame, canvas: &Canvas) {
        render(self, canvas.keymap, frame, canvas.body, canvas.theme);
    }
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
    view.rows.set(text.len());
    let shown = view
        .scroll
        .text_window(text.len(), popup.height.saturating_sub(2) as usize);
    frame.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(" Keys ", theme.title))
        .title_bottom(super::key_hints(
            &[("↑↓", "scroll"), ("esc", "close")],
            theme,
        ));
    frame.render_widget(
        Paragraph::new(text)
            .block(block)
            .scroll((shown.start as u16, 0)),
        popup,
    );
}
