//! The `:` command line: jumps and a few commands, parsed here, carried out by the app.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui_textarea::TextArea;

use super::toast::Toast;
use super::{Ask, Canvas, Env, INPUT_LIMIT, Overlay, Reply, paste_into};
use crate::tui::keymap::{Action, Context};
use crate::tui::theme::Theme;

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Tenant(String),
    /// `:router NAME` or `:router TENANT/NAME`.
    Router {
        tenant: Option<String>,
        name: String,
    },
    AllTenants,
    Quit,
    Help,
}

pub const USAGE: &str = ":tenant NAME · :router [TENANT/]NAME · :all · :help · :q";

pub fn parse(line: &str) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or("");
    let arg = words.next();
    if words.next().is_some() {
        return Err(format!("too many words in :{line}; commands are {USAGE}"));
    }
    let need = |what: &str| {
        arg.map(str::to_owned)
            .ok_or_else(|| format!(":{verb} needs a {what}"))
    };
    match verb {
        "tenant" | "t" => Ok(Command::Tenant(need("tenant name")?)),
        "router" | "r" => {
            let arg = need("router name")?;
            Ok(match arg.split_once('/') {
                Some((t, n)) => Command::Router {
                    tenant: Some(t.to_owned()),
                    name: n.to_owned(),
                },
                None => Command::Router {
                    tenant: None,
                    name: arg,
                },
            })
        }
        "all" => Ok(Command::AllTenants),
        "q" | "quit" => Ok(Command::Quit),
        "help" | "h" => Ok(Command::Help),
        "" => Err(format!("commands are {USAGE}")),
        other => Err(format!("unknown command :{other}; commands are {USAGE}")),
    }
}

#[derive(Default)]
pub struct CommandLine {
    pub input: TextArea<'static>,
}

impl CommandLine {
    pub fn text(&self) -> &str {
        self.input.lines().first().map(String::as_str).unwrap_or("")
    }
}

impl Overlay for CommandLine {
    fn contexts(&self) -> &'static [Context] {
        &[Context::Input, Context::Always]
    }

    fn on_key(&mut self, key: KeyEvent, action: Option<Action>, env: &Env) -> Reply {
        match action {
            Some(Action::Back) => Reply::close(),
            Some(Action::Submit) => match parse(self.text()) {
                Ok(cmd) => Reply::close().ask(Ask::Command(cmd)),
                Err(e) => Reply::close().toast(Toast::error(e, env.now)),
            },
            _ => Reply::stay(self.input.input(key)),
        }
    }

    fn on_paste(&mut self, text: &str, env: &Env) -> Reply {
        match paste_into(&mut self.input, text, INPUT_LIMIT) {
            Some(note) => Reply::stay(true).toast(Toast::info(note, env.now)),
            None => Reply::stay(true),
        }
    }

    fn render(&self, frame: &mut Frame, canvas: &Canvas) {
        render(self, frame, canvas.footer, canvas.theme);
    }

    fn uses_footer(&self) -> bool {
        true
    }
}

/// One line: `:` and what has been typed, with the usage to its right.
pub fn render(c: &CommandLine, frame: &mut Frame, area: Rect, theme: &Theme) {
    let line = Line::from(vec![
        Span::styled(":", theme.key),
        Span::styled(c.text().to_owned(), theme.input),
        Span::styled("█", theme.key),
        Span::styled(format!("   {USAGE}"), theme.muted),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(parse("tenant acme"), Ok(Command::Tenant("acme".into())));
        assert_eq!(
            parse("router acme/hq-1"),
            Ok(Command::Router {
                tenant: Some("acme".into()),
                name: "hq-1".into()
            })
        );
        assert_eq!(
            parse("r hq-1"),
            Ok(Command::Router {
                tenant: None,
                name: "hq-1".into()
            })
        );
        assert_eq!(parse("q"), Ok(Command::Quit));
        assert!(parse("tenant").unwrap_err().contains("needs a tenant name"));
        assert!(
            parse("launch rockets")
                .unwrap_err()
                .contains("unknown command")
        );
    }
}
