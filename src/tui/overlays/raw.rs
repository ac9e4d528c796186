//! The raw view: the script alone, no borders, no colours, nothing else on screen, so the
//! terminal's own mouse selection copies exactly the script.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};
use zeroize::Zeroizing;

pub struct RawView {
    lines: Zeroizing<Vec<String>>,
    pub scroll: usize,
    page: std::cell::Cell<usize>,
}

impl RawView {
    pub fn new(text: &str) -> Self {
        RawView {
            lines: Zeroizing::new(text.lines().map(str::to_owned).collect()),
            scroll: 0,
            page: std::cell::Cell::new(10),
        }
    }

    pub fn scroll_by(&mut self, delta: isize) {
        let max = self.lines.len().saturating_sub(self.page.get()) as isize;
        self.scroll = (self.scroll as isize + delta).clamp(0, max.max(0)) as usize;
    }

    pub fn page(&self) -> usize {
        self.page.get().max(1)
    }

    pub fn scroll_to_end(&mut self) {
        self.scroll = self.lines.len().saturating_sub(self.page.get());
    }
}

pub fn render(view: &RawView, frame: &mut Frame, area: Rect) {
    frame.render_widget(Clear, area);
    view.page.set(area.height as usize);
    let end = (view.scroll + area.height as usize).min(view.lines.len());
    let start = view.scroll.min(end);
    let lines: Vec<Line> = view.lines[start..end]
        .iter()
        .map(|l| Line::raw(l.as_str()))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        area,
    );
}
