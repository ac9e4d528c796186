//! Forms (ratatui-textarea single-line fields) with validation as you type: every change
//! re-checks the field with the same validators as the command line, and the error is drawn
//! beside the field. One file per form describes its fields, checks and request.

pub mod hub;
pub mod router;
pub mod tenant;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui_textarea::TextArea;

use crate::model::{Hub, Tenant};
use crate::provision::{NewHub, NewRouter};
use crate::tui::data::RouterTable;
use crate::tui::keymap::{Action, Context};
use crate::tui::overlays::toast::Toast;
use crate::tui::overlays::{Ask, Canvas, Env, INPUT_LIMIT, Overlay, Reply, paste_into};
use crate::tui::theme::Theme;

/// What the forms may look at while checking input (names already taken, tenants that exist).
pub struct FormContext<'a> {
    pub tenants: &'a [Tenant],
    pub hubs: &'a [Hub],
    pub routers: &'a RouterTable,
}

/// A submitted form, checked and typed as the core takes it.
#[derive(Debug, Clone)]
pub enum Request {
    AddTenant(crate::model::TenantName),
    AddHub(NewHub),
    Provision(NewRouter),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Tenant,
    Hub,
    Router,
}

impl FormKind {
    fn title(self) -> &'static str {
        match self {
            Self::Tenant => "Add a tenant",
            Self::Hub => "Add a hub",
            Self::Router => "Provision a router",
        }
    }
}

pub struct Field {
    pub label: &'static str,
    pub hint: &'static str,
    pub input: TextArea<'static>,
    pub error: Option<String>,
}

impl Field {
    pub fn new(label: &'static str, hint: &'static str, value: &str) -> Self {
        let mut input = TextArea::new(vec![value.to_owned()]);
        input.move_cursor(ratatui_textarea::CursorMove::End);
        input.set_cursor_line_style(Style::default());
        Field {
            label,
            hint,
            input,
            error: None,
        }
    }

    pub fn value(&self) -> &str {
        self.input.lines().first().map(String::as_str).unwrap_or("")
    }
}

pub struct Form {
    pub kind: FormKind,
    pub fields: Vec<Field>,
    pub focus: usize,
}

impl Form {
    pub fn tenant() -> Self {
        Form {
            kind: FormKind::Tenant,
            fields: tenant::fields(),
            focus: 0,
        }
    }

    pub fn hub() -> Self {
        Form {
            kind: FormKind::Hub,
            fields: hub::fields(),
            focus: 0,
        }
    }

    /// The provisioning form, tenant prefilled with the one being looked at.
    pub fn router(tenant: Option<&str>) -> Self {
        let fields = router::fields(tenant);
        // Start on the router name: the tenant is usually right already.
        Form {
            kind: FormKind::Router,
            fields,
            focus: 0,
        }
    }

    pub fn values(&self) -> Vec<&str> {
        self.fields.iter().map(Field::value).collect()
    }

    fn check(&self, index: usize, ctx: &FormContext) -> Result<(), String> {
        let values = self.values();
        match self.kind {
            FormKind::Tenant => tenant::check(index, &values, ctx),
            FormKind::Hub => hub::check(index, &values, ctx),
            FormKind::Router => router::check(index, &values, ctx),
        }
    }

    /// A key typed into the focused field; the field is checked again at once. True when
    /// the text changed.
    pub fn input(&mut self, key: KeyEvent, ctx: &FormContext) -> bool {
        let Some(field) = self.fields.get_mut(self.focus) else {
            return false;
        };
        let changed = field.input.input(key);
        if changed {
            self.recheck(ctx);
        }
        changed
    }

    /// A paste into the focused field, as one edit: cut at the field's limit, focus kept.
    /// Returns the note for the operator when the paste was cut or cleaned.
    pub fn paste(&mut self, text: &str, ctx: &FormContext) -> Option<String> {
        let field = self.fields.get_mut(self.focus)?;
        let note = paste_into(&mut field.input, text, INPUT_LIMIT);
        self.recheck(ctx);
        note
    }

    /// The focused field checked again, and the fields that depend on it (router name vs
    /// tenant) that were in error.
    fn recheck(&mut self, ctx: &FormContext) {
        let checked = self.check(self.focus, ctx);
        self.fields[self.focus].error = checked.err();
        for i in 0..self.fields.len() {
            if i != self.focus && self.fields[i].error.is_some() {
                self.fields[i].error = self.check(i, ctx).err();
            }
        }
    }

    pub fn next_field(&mut self) {
        self.focus = (self.focus + 1) % self.fields.len().max(1);
    }

    pub fn prev_field(&mut self) {
        let n = self.fields.len().max(1);
        self.focus = (self.focus + n - 1) % n;
    }

    /// Checks every field; on success the typed request, otherwise focus moves to the
    /// first field in error.
    pub fn submit(&mut self, ctx: &FormContext) -> Option<Request> {
        for i in 0..self.fields.len() {
            self.fields[i].error = self.check(i, ctx).err();
        }
        if let Some(bad) = self.fields.iter().position(|f| f.error.is_some()) {
            self.focus = bad;
            return None;
        }
        let values = self.values();
        let request = match self.kind {
            FormKind::Tenant => tenant::request(&values),
            FormKind::Hub => hub::request(&values),
            FormKind::Router => router::request(&values),
        };
        match request {
            Ok(r) => Some(r),
            Err(e) => {
                self.fields[0].error = Some(e);
                self.focus = 0;
                None
            }
        }
    }
}

impl Overlay for Form {
    fn contexts(&self) -> &'static [Context] {
        &[Context::Form, Context::Always]
    }

    fn on_key(&mut self, key: KeyEvent, action: Option<Action>, env: &Env) -> Reply {
        match action {
            Some(Action::Back) => Reply::close(),
            Some(Action::NextField) => {
                self.next_field();
                Reply::stay(true)
            }
            Some(Action::PrevField) => {
                self.prev_field();
                Reply::stay(true)
            }
            Some(Action::Submit) => match self.submit(&env.form) {
                Some(request) => Reply::close().ask(Ask::Submit(request)),
                // The errors and the focus on the first of them are new on screen.
                None => Reply::stay(true),
            },
            _ => Reply::stay(self.input(key, &env.form)),
        }
    }

    fn on_paste(&mut self, text: &str, env: &Env) -> Reply {
        match self.paste(text, &env.form) {
            Some(note) => Reply::stay(true).toast(Toast::info(note, env.now)),
            None => Reply::stay(true),
        }
    }

    fn render(&self, frame: &mut Frame, canvas: &Canvas) {
        render(self, frame, canvas.body, canvas.theme, Line::default());
    }
}

const LABEL_WIDTH: u16 = 17;

/// Draws the form as a centred popup: label, input, and under it the error or a hint.
pub fn render(form: &Form, frame: &mut Frame, area: Rect, theme: &Theme, footer: Line) {
    let height = (form.fields.len() as u16 * 3 + 3).min(area.height);
    let width = 76.min(area.width);
    let popup = centered(area, width, height);
    frame.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(
            format!(" {} ", form.kind.title()),
            theme.title,
        ))
        .title_bottom(footer);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let rows = Layout::vertical(form.fields.iter().map(|_| Constraint::Length(3))).split(inner);
    for (i, (field, row)) in form.fields.iter().zip(rows.iter()).enumerate() {
        let focused = i == form.focus;
        let [label_area, input_area] =
            Layout::horizontal([Constraint::Length(LABEL_WIDTH), Constraint::Min(1)]).areas(*row);
        let label_style = if focused { theme.key } else { theme.text };
        let marker = if focused { "▶ " } else { "  " };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(marker, theme.key),
                Span::styled(field.label, label_style),
            ])),
            label_area,
        );
        let [line_area, note_area] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(2)]).areas(input_area);
        let mut input = field.input.clone();
        input.set_style(theme.input);
        if focused {
            input.set_cursor_style(theme.selected);
        } else {
            input.set_cursor_style(theme.input);
        }
        frame.render_widget(Paragraph::new("").style(theme.muted), line_area);
        frame.render_widget(&input, line_area);
        let note = match &field.error {
            Some(err) => Line::from(Span::styled(format!("✗ {err}"), theme.error)),
            None if !field.value().is_empty() => Line::from(vec![
                Span::styled("✓ ", theme.ok),
                Span::styled(field.hint, theme.muted),
            ]),
            None => Line::from(Span::styled(field.hint, theme.muted)),
        };
        frame.render_widget(
            Paragraph::new(note).wrap(ratatui::widgets::Wrap { trim: true }),
            note_area,
        );
    }
}

/// A `width` x `height` rectangle in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}
