//! Copying text for the operator, the way that works where they sit:
//! inside tmux, into tmux's buffer (`tmux load-buffer -w -`, which tmux also forwards to the
//! outer terminal); in a local graphical session, the native clipboard (arboard), kept alive
//! for the whole run because on X11 the clipboard content lives in the owning process;
//! otherwise (SSH, console), OSC 52 to the terminal. The caller tells the operator which.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Tmux,
    Native,
    Osc52,
}

impl Method {
    /// For the toast: what was done.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Tmux => "sent to the tmux buffer (tmux load-buffer -w)",
            Self::Native => "copied to the system clipboard",
            Self::Osc52 => "sent to the terminal clipboard (OSC 52)",
        }
    }
}

/// The environment facts the choice depends on.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub tmux: bool,
    pub display: bool,
    pub ssh: bool,
}

impl Environment {
    pub fn current() -> Self {
        let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
        Environment {
            tmux: set("TMUX"),
            display: set("DISPLAY") || set("WAYLAND_DISPLAY"),
            ssh: set("SSH_CONNECTION") || set("SSH_TTY"),
        }
    }

    /// The preferred method here.
    pub fn preferred(&self) -> Method {
        if self.tmux {
            Method::Tmux
        } else if self.display && !self.ssh {
            Method::Native
        } else {
            Method::Osc52
        }
    }
}

pub struct Clipboard {
    env: Environment,
    /// Created once: dropping it would take the copied text with it on X11.
    native: Option<arboard::Clipboard>,
}

impl Clipboard {
    pub fn new(env: Environment) -> Self {
        let native = (env.preferred() == Method::Native)
            .then(|| arboard::Clipboard::new().ok())
            .flatten();
        Clipboard { env, native }
    }

    pub fn detect() -> Self {
        Self::new(Environment::current())
    }

    /// Copies `text`; `terminal` is where OSC 52 goes (the console's stdout). Falls back to
    /// OSC 52 when tmux or the native clipboard fail.
    pub fn copy(&mut self, text: &str, terminal: &mut impl Write) -> Result<Method> {
        match self.env.preferred() {
            Method::Tmux if tmux_load_buffer(text).is_ok() => return Ok(Method::Tmux),
            Method::Native => {
                if let Some(cb) = &mut self.native
                    && cb.set_text(text.to_owned()).is_ok()
                {
                    return Ok(Method::Native);
                }
            }
            _ => {}
        }
        osc52(text, terminal)?;
        Ok(Method::Osc52)
    }
}

fn tmux_load_buffer(text: &str) -> Result<()> {
    let mut child = Command::new("tmux")
        .args(["load-buffer", "-w", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::io("running tmux load-buffer", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| Error::io("writing to tmux", e))?;
    }
    let status = child.wait().map_err(|e| Error::io("waiting for tmux", e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Other(format!("tmux load-buffer failed ({status})")))
    }
}

fn osc52(text: &str, terminal: &mut impl Write) -> Result<()> {
    use crossterm::clipboard::CopyToClipboard;
    crossterm::execute!(terminal, CopyToClipboard::to_clipboard_from(text))
        .map_err(|e| Error::io("sending OSC 52 to the terminal", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_follows_the_environment() {
        let env = |tmux, display, ssh| Environment { tmux, display, ssh };
        assert_eq!(env(true, true, false).preferred(), Method::Tmux);
        assert_eq!(env(false, true, false).preferred(), Method::Native);
        assert_eq!(
            env(false, true, true).preferred(),
            Method::Osc52,
            "X forwarding over SSH"
        );
        assert_eq!(env(false, false, false).preferred(), Method::Osc52);
    }

    #[test]
    fn osc52_writes_the_base64_sequence() {
        let mut c = Clipboard::new(Environment::default());
        let mut out = Vec::new();
        assert_eq!(c.copy("hello", &mut out).unwrap(), Method::Osc52);
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("\x1b]52;c;aGVsbG8="), "{s:?}");
    }
}
