//! The script view of one router: RouterOS script, its undo script and the wg-quick config,
//! scrollable, keys masked until revealed. The texts arrive from a background task.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use zeroize::Zeroizing;

use super::qr::QrView;
use super::raw::RawView;
use super::save::SaveDialog;
use super::toast::Toast;
use super::{Ask, Canvas, Env, Overlay, Reply};
use crate::tui::app::Effect;
use crate::tui::data::{KeyDates, ListCursor, ScriptBundle, ScriptKind};
use crate::tui::keymap::{Action, Context};
use crate::tui::panes::key_standing_style;
use crate::tui::theme::Theme;

pub struct ScriptView {
    pub tenant: String,
    pub router: String,
    pub kind: ScriptKind,
    /// The rotation policy (`[rotation] max_age_days`), for the key age shown.
    pub max_age: Option<chrono::Duration>,
    pub bundle: Option<ScriptBundle>,
    pub error: Option<String>,
    pub revealed: bool,
    pub scroll: ListCursor,
    /// The lines on screen (masked or not), rebuilt only when kind or reveal changes.
    lines: Zeroizing<Vec<String>>,
    /// Screen rows the lines take at the width last drawn (long lines wrap): what scrolls.
    rows: std::cell::Cell<usize>,
}

impl ScriptView {
    pub fn new(
        tenant: &str,
        router: &str,
        kind: ScriptKind,
        max_age: Option<chrono::Duration>,
    ) -> Self {
        ScriptView {
            tenant: tenant.to_owned(),
            router: router.to_owned(),
            kind,
            max_age,
            bundle: None,
            error: None,
            revealed: false,
            scroll: ListCursor::default(),
            lines: Zeroizing::new(Vec::new()),
            rows: std::cell::Cell::new(0),
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
        // Until the next frame tells the wrapped height, one row per line.
        self.rows.set(self.lines.len());
    }

    pub fn toggle_reveal(&mut self) {
        self.revealed = !self.revealed;
        self.rebuild();
    }

    pub fn set_kind(&mut self, kind: ScriptKind) {
        self.kind = kind;
        self.scroll.top();
        self.rebuild();
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The exact text of the current script, keys included: what copy and save use.
    pub fn full_text(&self) -> Option<Zeroizing<String>> {
        self.bundle.as_ref().map(|b| b.text(self.kind).clone())
    }

    /// Copy, save, QR and raw view: all need the script itself.
    fn use_text(&self, action: Action, env: &Env) -> Reply {
        let Some(text) = self.full_text() else {
            return Reply::stay(false)
                .toast(Toast::error("the script is still being generated", env.now));
        };
        match action {
            Action::Copy => Reply::stay(false).effect(Effect::Copy {
                what: format!("{} of {}", self.kind.title(), self.label()),
                text,
            }),
            Action::Save => Reply::stay(false).open(SaveDialog::new(
                &self.tenant,
                &self.router,
                self.kind,
                text,
            )),
            Action::Raw => Reply::stay(false).open(RawView::new(&text)),
            Action::Qr => {
                let payload = self
                    .bundle
                    .as_ref()
                    .map(|b| b.qr_payload.clone())
                    .unwrap_or_default();
                match QrView::new(&self.label(), &payload) {
                    Ok(q) => Reply::stay(false).open(q),
                    Err(e) => Reply::stay(false).toast(Toast::error(e, env.now)),
                }
            }
            _ => Reply::stay(false),
        }
    }
}

impl Overlay for ScriptView {
    fn contexts(&self) -> &'static [Context] {
        &[
            Context::Script,
            Context::List,
            Context::Nav,
            Context::Always,
        ]
    }

    fn on_key(&mut self, _key: KeyEvent, action: Option<Action>, env: &Env) -> Reply {
        use Action as A;
        let Some(action) = action else {
            return Reply::stay(false);
        };
        match action {
            A::Back => Reply::close(),
            A::Reveal => {
                self.toggle_reveal();
                Reply::stay(true)
            }
            A::NextScript => {
                self.set_kind(self.kind.next());
                Reply::stay(true)
            }
            A::PrevScript => {
                self.set_kind(self.kind.prev());
                Reply::stay(true)
            }
            A::Copy | A::Save | A::Qr | A::Raw => self.use_text(action, env),
            A::Diagnose => Reply::stay(false).ask(Ask::Diagnose {
                tenant: self.tenant.clone(),
                router: self.router.clone(),
            }),
            A::Rotate => Reply::stay(false).ask(Ask::Rotate {
                tenant: self.tenant.clone(),
                router: self.router.clone(),
            }),
            scroll => Reply::stay(self.scroll.scroll(scroll, self.rows.get())),
        }
    }

    fn render(&self, frame: &mut Frame, canvas: &Canvas) {
        render(self, frame, canvas, Line::default());
    }
}

pub fn render(view: &ScriptView, frame: &mut Frame, canvas: &Canvas, footer: Line) {
    let (area, theme) = (canvas.body, canvas.theme);
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
    let keys = view.bundle.as_ref().map(|b| b.keys);
    let mut title = vec![Span::styled(
        format!(" {} · {} ", view.kind.title(), view.label()),
        theme.title,
    )];
    if let Some(keys) = keys {
        title.extend(key_age(keys, view.max_age, canvas.now, theme));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Line::from(title))
        .title_bottom(footer);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Only a script that holds keys can hold staged ones.
    let staged_since = match (&view.bundle, keys.and_then(|k| k.staged_at)) {
        (Some(b), Some(at)) if b.holds_secret(view.kind) => Some(at),
        _ => None,
    };
    let [tab_area, status_area, staged_area, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(u16::from(staged_since.is_some())),
        Constraint::Min(1),
    ])
    .areas(inner);
    if let Some(at) = staged_since {
        let line = Line::from(Span::styled(
            format!(
                "↻ staged keys (staged {}) — the hub cuts over on their first handshake",
                crate::format::age(Some(at), canvas.now)
            ),
            theme.accent,
        ));
        frame.render_widget(Paragraph::new(line), staged_area);
    }
    frame.render_widget(Paragraph::new(Line::from(tabs)), tab_area);
    let status = match (&view.bundle, &view.error, view.revealed) {
        (_, Some(err), _) => Line::from(Span::styled(format!("✗ {err}"), theme.error)),
        (None, None, _) => Line::from(Span::styled("generating…", theme.muted)),
        (Some(b), None, _) if !b.holds_secret(view.kind) => {
            Line::from(Span::styled("this script holds no keys", theme.muted))
        }
        (Some(_), None, false) => Line::from(Span::styled(
            "keys hidden on screen (p shows them); copy and save always use the full script",
            theme.muted,
        )),
        (Some(_), None, true) => {
            Line::from(Span::styled("⚠ private key shown: p hides it", theme.stale))
        }
    };
    frame.render_widget(Paragraph::new(status), status_area);
    let rows = wrap_rows(view.lines(), body.width as usize);
    view.rows.set(rows.len());
    let window = view.scroll.text_window(rows.len(), body.height as usize);
    let shown: Vec<Line> = rows[window]
        .iter()
        .map(|row| match row {
            Row::Start(text) => Line::from(Span::styled(*text, theme.text)),
            Row::Continued(text) => Line::from(vec![
                Span::styled(CONTINUED, theme.muted),
                Span::styled(*text, theme.text),
            ]),
        })
        .collect();
    frame.render_widget(Paragraph::new(shown), body);
}

/// The key age in the title: "· keys 12d old", "· keys 95d old · due", "· keys 95d old · staged"
/// (the marker is a word, readable without colour).
fn key_age(
    keys: KeyDates,
    max_age: Option<chrono::Duration>,
    now: chrono::DateTime<chrono::Utc>,
    theme: &Theme,
) -> Vec<Span<'static>> {
    let standing = keys.standing(max_age, now);
    let age = crate::format::duration(keys.created_at, now);
    let mut spans = vec![Span::styled(format!("· keys {age} old "), theme.muted)];
    if let Some(marker) = standing.marker() {
        spans.push(Span::styled(
            format!("· {marker} "),
            key_standing_style(standing, theme),
        ));
    }
    spans
}

/// Marks a row that continues the line above: a wrapped script line must not read as a
/// command of its own. (The raw view shows the lines unmarked, for mouse selection.)
const CONTINUED: &str = "↪ ";

enum Row<'a> {
    Start(&'a str),
    Continued(&'a str),
}

/// Long lines split into rows of at most `width` columns, continuation rows leaving room for
/// the marker. Scripts are ASCII (keys masked with one-column dots), so a char is a column.
fn wrap_rows(lines: &[String], width: usize) -> Vec<Row<'_>> {
    let width = width.max(CONTINUED.chars().count() + 1);
    let mut rows = Vec::with_capacity(lines.len());
    for line in lines {
        let mut rest = line.as_str();
        let mut first = true;
        loop {
            let room = if first {
                width
            } else {
                width - CONTINUED.chars().count()
            };
            let cut = rest.char_indices().nth(room).map_or(rest.len(), |(i, _)| i);
            let (head, tail) = rest.split_at(cut);
            rows.push(if first {
                Row::Start(head)
            } else {
                Row::Continued(head)
            });
            if tail.is_empty() {
                break;
            }
            rest = tail;
            first = false;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testdata;

    #[test]
    fn reveal_and_copy_text() {
        let mut v = ScriptView::new("acme", "hq-000", ScriptKind::RouterOs, None);
        v.set_bundle(Ok(testdata::bundle()));
        assert!(!v.lines().join("\n").contains(testdata::PRIVATE_KEY));
        assert!(v.full_text().unwrap().contains(testdata::PRIVATE_KEY));
        v.toggle_reveal();
        assert!(v.lines().join("\n").contains(testdata::PRIVATE_KEY));
        v.set_kind(ScriptKind::WgQuick);
        assert!(v.lines().iter().any(|l| l.starts_with("[Interface]")));
    }

    #[test]
    fn wrapped_rows_give_back_every_line_and_mark_continuations() {
        let lines = vec!["a".repeat(25), String::new(), "short".into()];
        let rows = wrap_rows(&lines, 10);
        let text: Vec<(bool, &str)> = rows
            .iter()
            .map(|r| match r {
                Row::Start(t) => (true, *t),
                Row::Continued(t) => (false, *t),
            })
            .collect();
        let a = |n| "a".repeat(n);
        let expected = [
            (true, a(10)),
            (false, a(8)),
            (false, a(7)),
            (true, String::new()),
            (true, "short".into()),
        ];
        assert_eq!(text.len(), expected.len());
        for ((start, t), (want_start, want)) in text.iter().zip(&expected) {
            assert_eq!((start, *t), (want_start, want.as_str()));
        }
    }

    #[test]
    fn the_last_line_is_reachable_when_lines_wrap() {
        let mut v = ScriptView::new("acme", "hq-000", ScriptKind::RouterOs, None);
        v.set_bundle(Ok(testdata::bundle()));
        let last = v.lines().last().unwrap().clone();
        let theme = Theme::default();
        let keymap = crate::tui::keymap::Keymap::default();
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(40, 12)).unwrap();
        let draw = |t: &mut ratatui::Terminal<ratatui::backend::TestBackend>, v: &ScriptView| {
            t.draw(|f| {
                let canvas = Canvas {
                    screen: f.area(),
                    body: f.area(),
                    footer: f.area(),
                    theme: &theme,
                    keymap: &keymap,
                    now: testdata::now(),
                };
                render(v, f, &canvas, Line::default())
            })
            .unwrap();
            let buf = t.backend().buffer().clone();
            let rows: Vec<String> = (0..buf.area.height)
                .map(|y| {
                    (0..buf.area.width)
                        .map(|x| buf[(x, y)].symbol().to_string())
                        .collect()
                })
                .collect();
            rows.join("\n")
        };
        draw(&mut terminal, &v);
        v.scroll.scroll(Action::Bottom, v.rows.get());
        let screen = draw(&mut terminal, &v);
        let tail: String = last
            .chars()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        assert!(
            screen.contains(tail.trim()),
            "last line {last:?} not on screen:\n{screen}"
        );
    }
}
