//! The raw view: the script alone, no borders, no colours, nothing else on screen, so the
//! terminal's own mouse selection copies exactly the script.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};
use zeroize::Zeroizing;

use super::{TEXT_CONTEXTS, read_text, Canvas, Env, Overlay, Reply};
use crate::tui::data::ListCursor;
use crate::tui::keymap::{Action, Context};

pub struct RawView {
    lines: Zeroizing<Vec<String>>,
    pub scroll: ListCursor,
}

impl RawView {
    pub fn new(text: &str) -> Self {
        RawView {
            lines: Zeroizing::new(text.lines().map(str::to_owned).collect()),
            scroll: ListCursor::default(),
        }
    }
}

impl Overlay for RawView {
    fn contexts(&self) -> &'static [Context] {
        TEXT_CONTEXTS
    }

    fn on_key(&mut self, _key: KeyEvent, action: Option<Action>, _env: &Env) -> Reply {
        read_text(&mut self.scroll, self.lines.len(), action)
    }

    fn render(&self, frame: &mut Frame, canvas: &Canvas) {
        render(self, frame, canvas.screen);
    }

    fn full_screen(&self) -> bool {
        true
    }
}

pub fn render(view: &RawView, frame: &mut Frame, area: Rect) {
    frame.render_widget(Clear, area);
    let shown = view
        .scroll
        .text_window(view.lines.len(), area.height as usize);
    let lines: Vec<Line> = view.lines[shown]
        .iter()
        .map(|l| Line::raw(l.as_str()))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        area,
    );
}
