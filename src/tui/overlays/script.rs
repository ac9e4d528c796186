//! The script view of one router: RouterOS script, its undo script and the wg-quick config,
//! scrollable, keys masked until revealed. The texts arrive from a background task.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use zeroize::Zeroizing;

use crate::tui::data::{ScriptBundle, ScriptKind};
use crate::tui::theme::Theme;

pub struct ScriptView {
    pub tenant: String,
    pub router: String,
    pub kind: ScriptKind,
    pub bundle: Option<ScriptBundle>,
    pub error: Option<String>,
    pub revealed: bool,
    pub scroll: usize,
    /// The lines on screen (masked or not), rebuilt only when kind or reveal changes.
    lines: Zeroizing<Vec<String>>,
    page: std::cell::Cell<usize>,
}

impl ScriptView {
    pub fn new(tenant: &str, router: &str, kind: ScriptKind) -> Self {
        ScriptView {
            tenant: tenant.to_owned(),
            router: router.to_owned(),
            kind,
            bundle: None,
            error: None,
            revealed: false,
            scroll: 0,
            lines: Zeroizing::new(Vec::new()),
            page: std::cell::Cell::new(10),
        }
    }

    pub fn label(&self) -> String {
        format!("{}/{}", self.tenant, self.router)
    }

    pub fn set_bundle(&mut self, result: Result<ScriptBundle, String>) {
        match result {
            Ok(b) => {
                self.bundle = Some(b);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
        self.rebuild();
    }

    fn rebuild(&mut self) {
        let Some(b) = &self.bundle else {
            self.lines = Zeroizing::new(Vec::new());
            return;
        };
        let text: Zeroizing<String> = if self.revealed {
            b.text(self.kind).clone()
        } else {
            Zeroizing::new(b.masked(self.kind))
        };
        self.lines = Zeroizing::new(text.lines().map(str::to_owned).collect());
        self.scroll = self.scroll.min(self.lines.len().saturating_sub(1));
    }

    pub fn toggle_reveal(&mut self) {
        self.revealed = !self.revealed;
        self.rebuild();
    }

    pub fn set_kind(&mut self, kind: ScriptKind) {
        self.kind = kind;
        self.scroll = 0;
        self.rebuild();
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The exact text of the current script, keys included: what copy and save use.
    pub fn full_text(&self) -> Option<Zeroizing<String>> {
        self.bundle.as_ref().map(|b| b.text(self.kind).clone())
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

pub fn render(view: &ScriptView, frame: &mut Frame, area: Rect, theme: &Theme, footer: Line) {
    frame.render_widget(Clear, area);
    let tabs: Vec<Span> = ScriptKind::ALL
        .iter()
        .flat_map(|k| {
            let style = if *k == view.kind {
                theme.selected
            } else {
                theme.muted
            };
            [
                Span::styled(format!(" {} ", k.title()), style),
                Span::raw(" "),
            ]
        })
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(
            format!(" {} · {} ", view.kind.title(), view.label()),
            theme.title,
        ))
        .title_bottom(footer);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [tab_area, status_area, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(Line::from(tabs)), tab_area);
    let status = match (&view.bundle, &view.error, view.revealed) {
        (_, Some(err), _) => Line::from(Span::styled(format!("✗ {err}"), theme.error)),
        (None, None, _) => Line::from(Span::styled("generating…", theme.muted)),
        (Some(_), None, false) => Line::from(Span::styled(
            "keys hidden on screen (p shows them); copy and save always use the full script",
            theme.muted,
        )),
        (Some(_), None, true) => {
            Line::from(Span::styled("⚠ private key shown: p hides it", theme.stale))
        }
    };
    frame.render_widget(Paragraph::new(status), status_area);
    let height = body.height as usize;
    view.page.set(height);
    let end = (view.scroll + height).min(view.lines.len());
    let start = view.scroll.min(end);
    let shown: Vec<Line> = view.lines[start..end]
        .iter()
        .map(|l| Line::from(Span::styled(l.as_str(), theme.text)))
        .collect();
    // Long lines wrap rather than lose their end off-screen.
    frame.render_widget(
        Paragraph::new(shown).wrap(ratatui::widgets::Wrap { trim: false }),
        body,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testdata;

    #[test]
    fn reveal_and_copy_text() {
        let mut v = ScriptView::new("acme", "hq-000", ScriptKind::RouterOs);
        v.set_bundle(Ok(testdata::bundle()));
        assert!(!v.lines().join("\n").contains(testdata::PRIVATE_KEY));
        assert!(v.full_text().unwrap().contains(testdata::PRIVATE_KEY));
        v.toggle_reveal();
        assert!(v.lines().join("\n").contains(testdata::PRIVATE_KEY));
        v.set_kind(ScriptKind::WgQuick);
        assert!(v.lines()[1].starts_with("[Interface]"));
    }
}
