//! A router's diagnosis in the console: the checks of `tikwire router diagnose`, asked for
//! from the routers pane or the script view. The checks run in the background; this view
//! says so until they come back, then shows each one (status, detail, and the fix: for a
//! router that never connected, the RouterOS commands to paste), scrollable.

use std::cell::Cell;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{TEXT_CONTEXTS, read_text, Canvas, Env, Overlay, Reply, key_hints};
use crate::doctor::{Check, Status};
use crate::tui::data::ListCursor;
use crate::tui::format::escaped;
use crate::tui::keymap::{Action, Context};
use crate::tui::theme::Theme;

pub struct DiagnosisView {
    pub tenant: String,
    pub router: String,
    /// `None` while the checks run.
    pub result: Option<Result<Vec<Check>, String>>,
    pub scroll: ListCursor,
    /// Screen rows the text takes at the width last drawn: what scrolls.
    rows: Cell<usize>,
}

impl DiagnosisView {
    pub fn new(tenant: &str, router: &str) -> Self {
        DiagnosisView {
            tenant: tenant.to_owned(),
            router: router.to_owned(),
            result: None,
            scroll: ListCursor::default(),
            rows: Cell::new(0),
        }
    }

    pub fn is_for(&self, tenant: &str, router: &str) -> bool {
        self.tenant == tenant && self.router == router
    }

    pub fn set_result(&mut self, result: Result<Vec<Check>, String>) {
        self.result = Some(result);
        self.scroll.top();
    }

    /// What the view says, one paragraph a line before wrapping: a lead (status word or
    /// indent) and a text. Tests read the texts.
    fn paragraphs(&self, theme: &Theme) -> Vec<TextLine> {
        let checks = match &self.result {
            None => return vec![TextLine::plain("running the checks…", theme.muted)],
            Some(Err(e)) => return vec![TextLine::plain(format!("✗ {e}"), theme.error)],
            Some(Ok(checks)) => checks,
        };
        let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
        let mut out = vec![
            TextLine::plain(
                format!(
                    "{} ok, {} warn, {} fail (as `tikwire router diagnose {} --tenant {}`)",
                    count(Status::Ok),
                    count(Status::Warn),
                    count(Status::Fail),
                    self.router,
                    self.tenant
                ),
                theme.muted,
            ),
            TextLine::plain("", theme.text),
        ];
        let name_width = checks.iter().map(|c| c.name.chars().count()).max();
        let name_width = name_width.unwrap_or(0);
        for check in checks {
            let (word, style) = look(check.status, theme);
            out.push(TextLine {
                lead: vec![
                    Span::styled(word, style),
                    Span::styled(format!("{:<name_width$}  ", check.name), theme.header),
                ],
                text: escaped(&check.detail),
                style: theme.text,
            });
            let lead = " ".repeat(word.chars().count() + name_width + 2);
            for (i, line) in check.fix.iter().flat_map(|f| f.lines()).enumerate() {
                let arrow = if i == 0 { "→ " } else { "  " };
                // An indented line explains the command above it: it stays indented.
                let text = line.trim_start();
                let indent = " ".repeat(line.len() - text.len());
                out.push(TextLine {
                    lead: vec![
                        Span::raw(lead.clone()),
                        Span::styled(arrow, theme.key),
                        Span::raw(indent),
                    ],
                    text: escaped(text),
                    style: theme.muted,
                });
            }
        }
        out
    }

    /// The text as shown, without styles (for tests and the screen reader in us all).
    pub fn text(&self) -> String {
        let theme = Theme::default();
        self.paragraphs(&theme)
            .iter()
            .map(|p| {
                let lead: String = p.lead.iter().map(|s| s.content.as_ref()).collect();
                format!("{lead}{}", p.text)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Status as symbol and word, so it reads without colour.
fn look(status: Status, theme: &Theme) -> (&'static str, Style) {
    match status {
        Status::Ok => ("✓ ok    ", theme.ok),
        Status::Warn => ("! warn  ", theme.stale),
        Status::Fail => ("✗ fail  ", theme.error),
    }
}

/// One line of the view before wrapping: continuation rows are indented under `text`.
struct TextLine {
    lead: Vec<Span<'static>>,
    text: String,
    style: Style,
}

impl TextLine {
    fn plain(text: impl Into<String>, style: Style) -> Self {
        TextLine {
            lead: Vec::new(),
            text: text.into(),
            style,
        }
    }

    /// The screen rows of this paragraph at `width` columns: words kept whole where they
    /// fit, continuation rows starting under the text (a hanging indent).
    fn rows(&self, width: usize) -> Vec<Line<'static>> {
        let lead_width: usize = self.lead.iter().map(|s| s.content.chars().count()).sum();
        let room = width.saturating_sub(lead_width).max(8);
        wrap_words(&self.text, room)
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let mut spans = if i == 0 {
                    self.lead.clone()
                } else {
                    vec![Span::raw(" ".repeat(lead_width))]
                };
                spans.push(Span::styled(row, self.style));
                Line::from(spans)
            })
            .collect()
    }
}

/// `text` in rows of at most `room` characters, broken at spaces where possible.
fn wrap_words(text: &str, room: usize) -> Vec<String> {
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut used = 0;
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let gap = usize::from(used > 0);
            if used + gap + word.len() <= room {
                if gap == 1 {
                    row.push(' ');
                }
                used += gap + word.len();
                row.extend(word);
                break;
            }
            if used == 0 {
                // A word longer than a row: cut it.
                let rest = word.split_off(room);
                row.extend(word);
                word = rest;
            }
            rows.push(std::mem::take(&mut row));
            used = 0;
        }
    }
    rows.push(row);
    rows
}

impl Overlay for DiagnosisView {
    fn contexts(&self) -> &'static [Context] {
        TEXT_CONTEXTS
    }

    fn on_key(&mut self, _key: KeyEvent, action: Option<Action>, _env: &Env) -> Reply {
        read_text(&mut self.scroll, self.rows.get(), action)
    }

    fn render(&self, frame: &mut Frame, canvas: &Canvas) {
        let theme = canvas.theme;
        let area = canvas.body;
        frame.render_widget(Clear, area);
        let state = match &self.result {
            None => "running",
            Some(Err(_)) => "failed",
            Some(Ok(_)) => "done",
        };
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border_focused)
            .title(Span::styled(
                format!(" Diagnosis · {}/{} · {state} ", self.tenant, self.router),
                theme.title,
            ))
            .title_bottom(key_hints(&[("↑↓", "scroll"), ("esc", "close")], theme));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let rows: Vec<Line> = self
            .paragraphs(theme)
            .iter()
            .flat_map(|p| p.rows(inner.width as usize))
            .collect();
        self.rows.set(rows.len());
        let window = self.scroll.text_window(rows.len(), inner.height as usize);
        frame.render_widget(Paragraph::new(rows[window].to_vec()), inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_whole_and_long_ones_are_cut() {
        assert_eq!(wrap_words("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap_words("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap_words("", 4), [""]);
        assert_eq!(wrap_words("a  b", 10), ["a  b"]);
    }
}
