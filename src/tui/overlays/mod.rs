//! Views drawn over the panes. Each module holds one overlay whole: its state, its keys and
//! its drawing, behind the one [`Overlay`] trait. The main screen (`app.rs`) only hands the
//! top overlay every key and paste while it is open, and carries out its [`Reply`].
//!
//! Adding an overlay: a new file with a type implementing [`Overlay`], and one line in the
//! [`overlays!`] list at the bottom of this file (which also declares the file's module).

/// Toasts: drawn by the frame, not an overlay on the stack.
pub mod toast;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui_textarea::TextArea;

use crate::tui::app::Effect;
use crate::tui::data::ListCursor;
use crate::tui::forms::{Form, FormContext, Request};
use crate::tui::keymap::{Action, Context, Keymap};
use crate::tui::theme::Theme;
use toast::Toast;

/// What an overlay may read while it handles input.
pub struct Env<'a> {
    pub now: DateTime<Utc>,
    pub form: FormContext<'a>,
}

/// Where and with what an overlay draws.
pub struct Canvas<'a> {
    /// The whole terminal (full-screen overlays).
    pub screen: Rect,
    /// Between the header and the footer.
    pub body: Rect,
    /// The footer line.
    pub footer: Rect,
    pub theme: &'a Theme,
    pub keymap: &'a Keymap,
    /// The application's clock, for ages on screen.
    pub now: DateTime<Utc>,
}

/// Work only the main screen can do, asked for by an overlay that closes.
#[derive(Debug)]
pub enum Ask {
    /// A `:` command (jumps change the main screen's focus and scope).
    Command(command::Command),
    /// A checked form (provisioning shows a pending row on the main screen).
    Submit(Request),
    /// A router's diagnosis (the main screen knows which ones already run).
    Diagnose { tenant: String, router: String },
    /// Stage or abort a router's key rotation (the main screen knows whether one is staged).
    Rotate { tenant: String, router: String },
}

/// What handling one key or paste did.
#[must_use]
#[derive(Default)]
pub struct Reply {
    /// Close this overlay.
    pub close: bool,
    /// Something visible changed: a frame is due.
    pub redraw: bool,
    pub effects: Vec<Effect>,
    /// Open another overlay on top of this one.
    pub open: Option<Layer>,
    pub toast: Option<Toast>,
    pub ask: Option<Ask>,
}

impl Reply {
    /// Stay open; `redraw` says whether anything visible changed.
    pub fn stay(redraw: bool) -> Self {
        Reply {
            redraw,
            ..Reply::default()
        }
    }

    pub fn close() -> Self {
        Reply {
            close: true,
            redraw: true,
            ..Reply::default()
        }
    }

    pub fn effect(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }

    pub fn open(mut self, layer: impl Into<Layer>) -> Self {
        self.open = Some(layer.into());
        self.redraw = true;
        self
    }

    pub fn toast(mut self, toast: Toast) -> Self {
        self.toast = Some(toast);
        self.redraw = true;
        self
    }

    pub fn ask(mut self, ask: Ask) -> Self {
        self.ask = Some(ask);
        self
    }
}

/// One overlay: state, keys and drawing in one place.
pub trait Overlay {
    /// The keymap contexts looked up while this overlay is on top, most specific first.
    /// An overlay that takes text lists `Input` or `Form` only: every other key is text.
    fn contexts(&self) -> &'static [Context];

    /// A key (with its action in [`Overlay::contexts`], if bound) while this overlay is on
    /// top. The overlay owns every key but Ctrl-C while it is open.
    fn on_key(&mut self, key: KeyEvent, action: Option<Action>, env: &Env) -> Reply;

    /// A bracketed paste while this overlay is on top: one edit, never a key sequence.
    fn on_paste(&mut self, _text: &str, _env: &Env) -> Reply {
        Reply::stay(false)
    }

    fn render(&self, frame: &mut Frame, canvas: &Canvas);

    /// Drawn alone on the whole terminal (nothing else around it).
    fn full_screen(&self) -> bool {
        false
    }

    /// Draws in the footer line (which then shows no key hints).
    fn uses_footer(&self) -> bool {
        false
    }
}

/// The contexts of a text to read (help, raw view, diagnosis): scrolling and Esc.
pub const TEXT_CONTEXTS: &[Context] = &[Context::List, Context::Nav, Context::Always];

/// A key in a text to read that is `rows` screen rows high (as last drawn): Esc closes, the
/// list keys scroll.
pub fn read_text(scroll: &mut ListCursor, rows: usize, action: Option<Action>) -> Reply {
    match action {
        Some(Action::Back) => Reply::close(),
        Some(a) => Reply::stay(scroll.scroll(a, rows)),
        None => Reply::stay(false),
    }
}

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

/// Limits what a paste may put into a one-line text input: line breaks, tabs and other
/// control characters become nothing (a TAB in a paste must not act as a key), and the
/// text is cut at `room` characters. Returns the text to insert and, when something was
/// cut or dropped, a message for the operator. Reads at most `room` characters of `text`
/// past the dropped ones, so a huge paste costs no more than a short one.
pub fn paste_for_field(text: &str, room: usize) -> (String, Option<String>) {
    let mut kept = String::new();
    let mut count = 0usize;
    let mut dropped = false;
    let mut cut = false;
    for c in text.chars() {
        if c.is_control() {
            dropped = true;
            continue;
        }
        if count == room {
            cut = true;
            break;
        }
        kept.push(c);
        count += 1;
    }
    // A copied line usually ends in a line break: nothing worth saying.
    let dropped = dropped
        && text
            .trim_end_matches(['\r', '\n'])
            .chars()
            .any(char::is_control);
    let note = match (cut, dropped) {
        (true, _) => Some(format!(
            "paste cut to {room} characters (the field's limit)"
        )),
        (false, true) => Some("line breaks and tabs in the paste were left out".to_owned()),
        (false, false) => None,
    };
    (kept, note)
}

/// The most characters a one-line text input takes (names are far shorter; a path can be
/// this long).
pub const INPUT_LIMIT: usize = 4096;

/// Pastes into a one-line input holding at most `limit` characters, as one edit; returns
/// the note for the operator when the paste was cut or cleaned.
pub fn paste_into(input: &mut TextArea<'static>, text: &str, limit: usize) -> Option<String> {
    let used = input.lines().first().map_or(0, |l| l.chars().count());
    let (kept, note) = paste_for_field(text, limit.saturating_sub(used));
    input.insert_str(kept);
    note
}

/// Declares the overlays: the module of each (`in name`: the file `name.rs` of this folder), the
/// [`Layer`] enum (one variant per overlay) and its dispatch to [`Overlay`]. Tests match on
/// the variants to see which overlay is open.
macro_rules! overlays {
    ($($variant:ident($ty:ty) $(in $module:ident)?),* $(,)?) => {
        $($(pub mod $module;)?)*

        /// An overlay on the stack; Esc closes the top one.
        pub enum Layer {
            $($variant($ty)),*
        }

        impl Layer {
            pub fn overlay(&self) -> &dyn Overlay {
                match self {
                    $(Layer::$variant(o) => o),*
                }
            }

            pub fn overlay_mut(&mut self) -> &mut dyn Overlay {
                match self {
                    $(Layer::$variant(o) => o),*
                }
            }
        }

        $(impl From<$ty> for Layer {
            fn from(o: $ty) -> Self {
                Layer::$variant(o)
            }
        })*
    };
}

overlays! {
    Help(help::HelpView) in help,
    Form(Form),
    Confirm(confirm::Confirmation) in confirm,
    Command(command::CommandLine) in command,
    Script(script::ScriptView) in script,
    Qr(qr::QrView) in qr,
    Raw(raw::RawView) in raw,
    Save(save::SaveDialog) in save,
    Diagnosis(diagnosis::DiagnosisView) in diagnosis,
    Detail(detail::DetailView) in detail,
    Events(events::EventsView) in events,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paste_is_cut_at_the_limit_and_loses_its_control_characters() {
        assert_eq!(paste_for_field("acme\n", 10), ("acme".into(), None));
        let (text, note) = paste_for_field("a\tb", 10);
        assert_eq!(text, "ab");
        assert!(note.unwrap().contains("tabs"));
        let big = "x".repeat(100_000);
        let (text, note) = paste_for_field(&big, 64);
        assert_eq!(text.len(), 64);
        assert!(note.unwrap().contains("cut to 64"));
    }
}
