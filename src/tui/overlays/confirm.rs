//! Confirmation before an action on a router or a tenant. Deleting a router and staging or
//! aborting a key rotation are confirmed with Enter; deleting a tenant (irreversible: all its
//! routers and its subnet go) only after its name is typed exactly.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui_textarea::TextArea;

use super::{Canvas, Env, INPUT_LIMIT, Overlay, Reply, paste_into};
use crate::tui::app::Effect;
use crate::tui::forms::centered;
use crate::tui::keymap::{Action, Context};
use crate::tui::theme::Theme;

/// What is to be confirmed.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfirmTarget {
    DeleteRouter { tenant: String, name: String },
    DeleteTenant { name: String, routers: i64 },
    /// New keys beside the router's current ones.
    StageRotation { tenant: String, name: String },
    /// Drop the staged keys; the router keeps its current ones.
    AbortRotation { tenant: String, name: String },
}

pub struct Confirmation {
    pub target: ConfirmTarget,
    /// The name typed so far (tenants only).
    pub typed: Option<TextArea<'static>>,
}

impl Confirmation {
    pub fn new(target: ConfirmTarget) -> Self {
        let typed = matches!(target, ConfirmTarget::DeleteTenant { .. }).then(TextArea::default);
        Confirmation { target, typed }
    }

    /// A key typed into the name; true when the text changed.
    pub fn input(&mut self, key: KeyEvent) -> bool {
        self.typed.as_mut().is_some_and(|t| t.input(key))
    }

    /// True once the operator has done what this confirmation asks for.
    pub fn confirmed(&self) -> bool {
        match (&self.target, &self.typed) {
            (ConfirmTarget::DeleteTenant { name, .. }, Some(t)) => {
                t.lines().first().is_some_and(|l| l == name)
            }
            (ConfirmTarget::DeleteTenant { .. }, None) => false,
            (
                ConfirmTarget::DeleteRouter { .. }
                | ConfirmTarget::StageRotation { .. }
                | ConfirmTarget::AbortRotation { .. },
                _,
            ) => true,
        }
    }

    /// The work confirming asks for.
    fn effect(&self) -> Effect {
        match &self.target {
            ConfirmTarget::DeleteRouter { tenant, name } => Effect::DeleteRouter {
                tenant: tenant.clone(),
                name: name.clone(),
            },
            ConfirmTarget::DeleteTenant { name, .. } => Effect::DeleteTenant { name: name.clone() },
            ConfirmTarget::StageRotation { tenant, name } => Effect::StageRotation {
                tenant: tenant.clone(),
                name: name.clone(),
            },
            ConfirmTarget::AbortRotation { tenant, name } => Effect::AbortRotation {
                tenant: tenant.clone(),
                name: name.clone(),
            },
        }
    }
}

impl Overlay for Confirmation {
    fn contexts(&self) -> &'static [Context] {
        &[Context::Confirm, Context::Always]
    }

    fn on_key(&mut self, key: KeyEvent, action: Option<Action>, _env: &Env) -> Reply {
        match action {
            Some(Action::Back) => Reply::close(),
            Some(Action::Confirm) if self.confirmed() => Reply::close().effect(self.effect()),
            Some(Action::Confirm) => Reply::stay(false),
            _ => Reply::stay(self.input(key)),
        }
    }

    fn on_paste(&mut self, text: &str, env: &Env) -> Reply {
        let Some(typed) = &mut self.typed else {
            return Reply::stay(false);
        };
        match paste_into(typed, text, INPUT_LIMIT) {
            Some(note) => Reply::stay(true).toast(super::toast::Toast::info(note, env.now)),
            None => Reply::stay(true),
        }
    }

    fn render(&self, frame: &mut Frame, canvas: &Canvas) {
        render(self, frame, canvas.body, canvas.theme);
    }
}

pub fn render(c: &Confirmation, frame: &mut Frame, area: Rect, theme: &Theme) {
    let height = if c.typed.is_some() { 9 } else { 7 };
    let popup = centered(area, 66, height);
    frame.render_widget(Clear, popup);
    let question = |ask: &str, what: String, rest: &str| {
        Line::from(vec![
            Span::raw(ask.to_owned()),
            Span::styled(what, theme.accent),
            Span::raw(rest.to_owned()),
        ])
    };
    // Deleting is drawn as a danger; a rotation is reversible (it can be aborted until the
    // cut-over), so it is not.
    let (title, verb, danger, mut text) = match &c.target {
        ConfirmTarget::DeleteRouter { tenant, name } => (
            " Delete router ",
            "delete",
            true,
            vec![
                question("Delete router ", format!("{tenant}/{name}"), "?"),
                Line::from("Its address is released and the hub drops its peer."),
                Line::from(Span::styled(
                    "To keep it but cut it off, disable it instead (e).",
                    theme.muted,
                )),
            ],
        ),
        ConfirmTarget::DeleteTenant { name, routers } => (
            " Delete tenant ",
            "delete",
            true,
            vec![
                question(
                    "Delete tenant ",
                    name.clone(),
                    &format!(", its {routers} router(s) and its subnet?"),
                ),
                Line::from(Span::styled("This cannot be undone.", theme.error)),
                Line::from(format!("Type {name} and press enter:")),
            ],
        ),
        ConfirmTarget::StageRotation { tenant, name } => (
            " Stage new keys ",
            "stage",
            false,
            vec![
                question("Stage new keys for router ", format!("{tenant}/{name}"), "?"),
                Line::from(
                    "The router keeps its current keys until it runs its script again; \
                     the hub cuts over on the first handshake with the new ones.",
                ),
            ],
        ),
        ConfirmTarget::AbortRotation { tenant, name } => (
            " Abort key rotation ",
            "abort it",
            false,
            vec![
                question(
                    "Abort the key rotation staged for router ",
                    format!("{tenant}/{name}"),
                    "?",
                ),
                Line::from(
                    "Its staged keys are dropped; it keeps its current keys. \
                     If it already ran the new script, run its script again.",
                ),
            ],
        ),
    };
    if let Some(t) = &c.typed {
        let typed = t.lines().first().cloned().unwrap_or_default();
        let ok = c.confirmed();
        text.push(Line::from(vec![
            Span::styled("> ", theme.key),
            Span::styled(typed, theme.input),
            Span::styled("█", theme.key),
            Span::styled(if ok { "  ✓ enter deletes" } else { "" }, theme.ok),
        ]));
    }
    let frame_style = if danger { theme.error } else { theme.border_focused };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(frame_style)
        .title(Span::styled(title, if danger { theme.error } else { theme.title }))
        .title_bottom(super::key_hints(&[("enter", verb), ("esc", "cancel")], theme));
    frame.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
        popup,
    );
}
