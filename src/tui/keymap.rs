//! The one table of key bindings. The help overlay, the footer and key dispatch all read it,
//! so what the screen says is what the keys do. Operators override keys per action in the
//! config file (`[ui.keys] quit = "ctrl-q"`, several keys separated by spaces).

use std::collections::BTreeMap;
use std::fmt;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::error::{Error, Result};

/// Where a binding applies. The application asks with a list of contexts, most specific
/// first, so a pane's `s` (sort) and the script view's `s` (save) do not collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// Everywhere, even inside forms: Ctrl-C.
    Always,
    /// The main screen, no overlay open.
    Global,
    /// Any view with a way back (every overlay and the main screen).
    Nav,
    /// Moving in a list or scrolling a text.
    List,
    Tenants,
    Routers,
    Peers,
    Script,
    /// A router's detail view (status, availability, traffic, history).
    Detail,
    /// The fleet's recent events.
    Events,
    Form,
    Confirm,
    /// Typing a filter or a `:` command.
    Input,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::Global => "Main screen",
            Self::Nav => "Navigation",
            Self::List => "Lists and text",
            Self::Tenants => "Tenants pane",
            Self::Routers => "Routers pane",
            Self::Peers => "Peer status pane",
            Self::Script => "Script view",
            Self::Detail => "Router detail view",
            Self::Events => "Events view",
            Self::Form => "Forms",
            Self::Confirm => "Confirmation",
            Self::Input => "Filter and command line",
        }
    }
}

/// Everything a key can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ForceQuit,
    Quit,
    Help,
    Back,
    CommandLine,
    NextPane,
    PrevPane,
    Pane1,
    Pane2,
    Pane3,
    Pane4,
    AddHub,
    AddTenant,
    Provision,
    Reload,
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    Open,
    /// A router's scripts (Enter opens its detail view).
    Scripts,
    /// The fleet's recent events.
    Events,
    /// The next tenant to filter by (all tenants, then each).
    NextTenant,
    Filter,
    Sort,
    ReverseSort,
    Delete,
    ToggleEnabled,
    Diagnose,
    /// Stage new keys for a router, or abort the rotation staged.
    Rotate,
    Freeze,
    Copy,
    Save,
    Reveal,
    Qr,
    Raw,
    NextScript,
    PrevScript,
    Submit,
    NextField,
    PrevField,
    Confirm,
}

/// One row of the table: the action, its default keys, what it does, where it applies.
pub struct Binding {
    pub action: Action,
    pub name: &'static str,
    pub keys: &'static str,
    pub description: &'static str,
    pub context: Context,
}

/// Builds the table one context at a time, one binding a line: `Action "name" "keys"
/// "what it does";` under the context it applies in.
macro_rules! bindings {
    ($($context:ident { $($action:ident $name:literal $keys:literal $description:literal;)* })*) => {
        &[$($(Binding {
            action: Action::$action,
            name: $name,
            keys: $keys,
            description: $description,
            context: Context::$context,
        },)*)*]
    };
}

/// The default keymap. Order is the order of the help overlay and the footer.
pub const DEFAULT_BINDINGS: &[Binding] = bindings! {
    Always {
        ForceQuit "force_quit" "ctrl-c" "quit now";
    }
    Nav {
        Back "back" "esc" "back";
    }
    Global {
        Quit "quit" "q" "quit";
        Help "help" "?" "help";
        CommandLine "command" ":" "command (:tenant NAME, :router NAME)";
        NextPane "next_pane" "tab" "next pane";
        PrevPane "prev_pane" "backtab" "previous pane";
        Pane1 "pane_tenants" "1" "tenants pane";
        Pane2 "pane_subnets" "2" "subnet usage pane";
        Pane3 "pane_routers" "3" "routers pane";
        Pane4 "pane_peers" "4" "peer status pane";
        Provision "provision" "n" "provision a router";
        AddTenant "add_tenant" "t" "add a tenant";
        AddHub "add_hub" "H" "add a hub";
        Events "events" "E" "fleet events (live)";
        Reload "reload" "ctrl-r" "reload from the database";
    }
    Tenants {
        Open "open_tenant" "enter" "show its routers";
        Delete "delete_tenant" "d" "delete tenant";
    }
    Routers {
        Open "open_router" "enter" "details (status, traffic, history)";
        Scripts "scripts" "c" "scripts";
        Filter "filter" "/" "filter";
        Sort "sort" "s" "sort by next column";
        ReverseSort "reverse_sort" "S" "reverse sort";
        ToggleEnabled "toggle_enabled" "e" "enable/disable";
        Delete "delete_router" "d" "delete router";
        Diagnose "diagnose" "D" "diagnose (in the background)";
        Rotate "rotate_keys" "K" "rotate (stage new keys, or abort a staged rotation)";
    }
    Peers {
        Freeze "freeze" "f" "freeze/unfreeze";
        Filter "filter_peers" "/" "filter";
    }
    Script {
        Copy "copy" "c y" "copy";
        Save "save" "s" "save to file";
        Reveal "reveal" "p" "show/hide private key";
        Qr "qr" "Q" "QR code (wg-quick)";
        Rotate "rotate_router_keys" "K" "rotate (stage new keys, or abort a staged rotation)";
        Raw "raw" "R" "raw view for mouse copy";
        NextScript "next_script" "right ]" "next script";
        PrevScript "prev_script" "left [" "previous script";
        Diagnose "diagnose_router" "D" "diagnose this router";
    }
    Detail {
        Scripts "detail_scripts" "s" "scripts";
        Diagnose "detail_diagnose" "D" "diagnose this router";
    }
    Events {
        NextTenant "events_tenant" "t" "tenant filter (all, then each tenant)";
    }
    List {
        Up "up" "up k" "up";
        Down "down" "down j" "down";
        Top "top" "home g" "first";
        Bottom "bottom" "end G" "last";
        PageUp "page_up" "pgup ctrl-b" "page up";
        PageDown "page_down" "pgdn ctrl-f" "page down";
    }
    Form {
        Submit "submit" "enter" "submit";
        NextField "next_field" "tab down" "next field";
        PrevField "prev_field" "backtab up" "previous field";
        Back "cancel_form" "esc" "cancel";
    }
    Confirm {
        Confirm "confirm" "enter" "confirm";
        Back "cancel_confirm" "esc" "cancel";
    }
    Input {
        Submit "apply_input" "enter" "apply";
        Back "cancel_input" "esc" "cancel";
    }
};

/// A key with its modifiers, as typed in the config file: `q`, `G`, `ctrl-c`, `enter`,
/// `backtab`, `pgdn`, `f5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    pub fn parse(text: &str) -> Result<Key> {
        let bad = || {
            Error::Config(format!(
                "key {text:?} is not a key; use e.g. q, G, ctrl-r, alt-x, enter, esc, tab, backtab, up, pgdn, f5"
            ))
        };
        let mut rest = text;
        let (mut ctrl, mut alt) = (false, false);
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" | "shift-tab" => KeyCode::BackTab,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pgup" => KeyCode::PageUp,
            "pgdn" => KeyCode::PageDown,
            "backspace" => KeyCode::Backspace,
            "delete" => KeyCode::Delete,
            "space" => KeyCode::Char(' '),
            f if f.len() > 1 && f.starts_with('f') => {
                KeyCode::F(f[1..].parse().map_err(|_| bad())?)
            }
            c => {
                let mut chars = c.chars();
                match (chars.next(), chars.next()) {
                    (Some(ch), None) if !ch.is_control() => KeyCode::Char(ch),
                    _ => return Err(bad()),
                }
            }
        };
        Ok(Key { code, ctrl, alt })
    }

    /// Shift is part of the character ('G') or of the key code (BackTab); terminals differ
    /// in whether they also report the modifier, so it is ignored.
    pub fn matches(&self, event: &KeyEvent) -> bool {
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        let alt = event.modifiers.contains(KeyModifiers::ALT);
        self.code == event.code && self.ctrl == ctrl && self.alt == alt
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A binding with its keys resolved (defaults or the operator's overrides).
#[derive(Debug)]
pub struct Entry {
    pub action: Action,
    pub name: &'static str,
    pub keys: Vec<Key>,
    pub description: &'static str,
    pub context: Context,
}

impl Entry {
    /// Keys as shown to the operator: "↑/k".
    pub fn keys_label(&self) -> String {
        self.keys
            .iter()
            .map(Key::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// The live keymap: defaults with overrides applied.
#[derive(Debug)]
pub struct Keymap {
    entries: Vec<Entry>,
}

impl Default for Keymap {
    fn default() -> Self {
        // Default keys are tested to parse.
        Self::new(&BTreeMap::new()).unwrap_or(Keymap {
            entries: Vec::new(),
        })
    }
}

impl Keymap {
    /// Builds the keymap; `overrides` maps a binding name (or an action used in several
    /// contexts by its name in any of them) to space-separated keys.
    pub fn new(overrides: &BTreeMap<String, String>) -> Result<Self> {
        for name in overrides.keys() {
            if !DEFAULT_BINDINGS.iter().any(|b| b.name == name) {
                let known: Vec<&str> = DEFAULT_BINDINGS.iter().map(|b| b.name).collect();
                return Err(Error::Config(format!(
                    "[ui.keys]: unknown action {name:?}; actions are {}",
                    known.join(", ")
                )));
            }
        }
        let entries = DEFAULT_BINDINGS
            .iter()
            .map(|b| {
                let keys = overrides.get(b.name).map(String::as_str).unwrap_or(b.keys);
                let keys = keys
                    .split_whitespace()
                    .map(Key::parse)
                    .collect::<Result<Vec<_>>>()?;
                if keys.is_empty() {
                    return Err(Error::Config(format!("[ui.keys]: {} has no key", b.name)));
                }
                Ok(Entry {
                    action: b.action,
                    name: b.name,
                    keys,
                    description: b.description,
                    context: b.context,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Keymap { entries })
    }

    /// The action a key asks for, trying contexts in the order given.
    pub fn action(&self, event: &KeyEvent, contexts: &[Context]) -> Option<Action> {
        contexts.iter().find_map(|ctx| {
            self.entries
                .iter()
                .find(|e| e.context == *ctx && e.keys.iter().any(|k| k.matches(event)))
                .map(|e| e.action)
        })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Entries of the given contexts, in table order: the footer and help read this.
    pub fn in_contexts<'a>(&'a self, contexts: &'a [Context]) -> impl Iterator<Item = &'a Entry> {
        self.entries
            .iter()
            .filter(move |e| contexts.contains(&e.context))
    }

    /// The first key of an action in a context, for hints like "press n to provision".
    pub fn key_for(&self, action: Action, context: Context) -> String {
        self.entries
            .iter()
            .find(|e| e.action == action && e.context == context)
            .and_then(|e| e.keys.first())
            .map(Key::to_string)
            .unwrap_or_else(|| "?".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action as A;
    use Context as C;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_parse_and_resolve_by_context() {
        let km = Keymap::new(&BTreeMap::new()).unwrap();
        assert_eq!(km.entries().len(), DEFAULT_BINDINGS.len());
        let s = key(KeyCode::Char('s'), KeyModifiers::NONE);
        assert_eq!(km.action(&s, &[C::Routers, C::Global]), Some(A::Sort));
        assert_eq!(km.action(&s, &[C::Script, C::List]), Some(A::Save));
        let shift_g = key(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(km.action(&shift_g, &[C::List]), Some(A::Bottom));
        let ctrl_c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(
            km.action(&ctrl_c, &[C::Script, C::Always]),
            Some(A::ForceQuit)
        );
        assert_eq!(
            km.action(&key(KeyCode::Char('c'), KeyModifiers::NONE), &[C::Always]),
            None
        );
    }

    #[test]
    fn overrides_replace_keys_and_unknowns_are_refused() {
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), "ctrl-q x".to_string());
        let km = Keymap::new(&o).unwrap();
        let q = key(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(km.action(&q, &[C::Global]), None);
        let ctrl_q = key(KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert_eq!(km.action(&ctrl_q, &[C::Global]), Some(A::Quit));
        assert_eq!(km.key_for(A::Quit, C::Global), "ctrl-q");

        o.insert("explode".to_string(), "x".to_string());
        assert!(Keymap::new(&o).unwrap_err().to_string().contains("explode"));
        let mut bad = BTreeMap::new();
        bad.insert("quit".to_string(), "ctrl-".to_string());
        assert!(Keymap::new(&bad).is_err());
    }

    #[test]
    fn key_syntax_round_trips() {
        for (text, shown) in [
            ("ctrl-r", "ctrl-r"),
            ("pgdn", "pgdn"),
            ("f5", "f5"),
            ("G", "G"),
            ("space", "space"),
        ] {
            assert_eq!(Key::parse(text).unwrap().to_string(), shown);
        }
        assert!(Key::parse("ab").is_err());
        assert!(Key::parse("").is_err());
    }
}
