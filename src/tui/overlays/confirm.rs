//! Confirmation before deleting. A router is confirmed with Enter; a tenant (irreversible:
//! all its routers and its subnet go) only after its name is typed exactly.

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

#[derive(Debug, Clone, PartialEq)]
pub enum DeleteTarget {
    Router { tenant: String, name: String },
    Tenant { name: String, routers: i64 },
}

pub struct ConfirmDelete {
    pub target: DeleteTarget,
    /// The name typed so far (tenants only).
    pub typed: Option<TextArea<'static>>,
}

impl ConfirmDelete {
    pub fn new(target: DeleteTarget) -> Self {
        let typed = matches!(target, DeleteTarget::Tenant { .. }).then(TextArea::default);
        ConfirmDelete { target, typed }
    }

    /// A key typed into the name; true when the text changed.
    pub fn input(&mut self, key: KeyEvent) -> bool {
        self.typed.as_mut().is_some_and(|t| t.input(key))
    }

    /// True once the operator has done what this deletion asks for.
    pub fn confirmed(&self) -> bool {
        match (&self.target, &self.typed) {
            (DeleteTarget::Tenant { name, .. }, Some(t)) => {
                t.lines().first().is_some_and(|l| l == name)
            }
            (DeleteTarget::Tenant { .. }, None) => false,
            (DeleteTarget::Router { .. }, _) => true,
        }
    }
}

impl Overlay for ConfirmDelete {
    fn contexts(&self) -> &'static [Context] {
        &[Context::Confirm, Context::Always]
    }

    fn on_key(&mut self, key: KeyEvent, action: Option<Action>, _env: &Env) -> Reply {
        match action {
            Some(Action::Back) => Reply::close(),
            Some(Action::Confirm) if self.confirmed() => {
                let effect = match &self.target {
                    DeleteTarget::Router { tenant, name } => Effect::DeleteRouter {
                        tenant: tenant.clone(),
                        name: name.clone(),
                    },
                    DeleteTarget::Tenant { name, .. } => {
                        Effect::DeleteTenant { name: name.clone() }
                    }
                };
                Reply::close().effect(effect)
            }
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

pub fn render(c: &ConfirmDelete, frame: &mut Frame, area: Rect, theme: &Theme) {
    let popup = centered(area, 66, if c.typed.is_some() { 9 } else { 7 });
    frame.render_widget(Clear, popup);
    let (title, mut text) = match &c.target {
        DeleteTarget::Router { tenant, name } => (
            " Delete router ",
            vec![
                Line::from(vec![
                    Span::raw("Delete router "),
                    Span::styled(format!("{tenant}/{name}"), theme.accent),
                    Span::raw("?"),
                ]),
                Line::from("Its address is released and the hub drops its peer."),
                Line::from(Span::styled(
                    "To keep it but cut it off, disable it instead (e).",
                    theme.muted,
                )),
            ],
        ),
        DeleteTarget::Tenant { name, routers } => (
            " Delete tenant ",
            vec![
                Line::from(vec![
                    Span::raw("Delete tenant "),
                    Span::styled(name.clone(), theme.accent),
                    Span::raw(format!(", its {routers} router(s) and its subnet?")),
                ]),
                Line::from(Span::styled("This cannot be undone.", theme.error)),
                Line::from(format!("Type {name} and press enter:")),
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
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.error)
        .title(Span::styled(title, theme.error))
        .title_bottom(super::key_hints(
            &[("enter", "delete"), ("esc", "cancel")],
            theme,
        ));
    frame.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
        popup,
    );
}
