//! Saving a script to a file: the path is asked for (a sensible name prefilled). The file
//! holds a private key, so it is created new with mode 0600 and never written through a
//! link; an existing file is replaced only after the operator said so, by writing a new
//! file beside it and renaming that over it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui_textarea::{CursorMove, TextArea};
use zeroize::Zeroizing;

use super::toast::Toast;
use super::{Canvas, Env, INPUT_LIMIT, Overlay, Reply, paste_into};
use crate::error::{Error, Result};
use crate::tui::app::Effect;
use crate::tui::data::ScriptKind;
use crate::tui::forms::centered;
use crate::tui::keymap::{Action, Context};
use crate::tui::theme::Theme;

pub struct SaveDialog {
    pub input: TextArea<'static>,
    pub kind: ScriptKind,
    pub text: Zeroizing<String>,
    /// The file at the path exists and Enter replaces it (any edit of the path asks again).
    pub replace: bool,
}

impl SaveDialog {
    pub fn new(tenant: &str, router: &str, kind: ScriptKind, text: Zeroizing<String>) -> Self {
        Self::with_path(
            &format!("{tenant}-{router}.{}", kind.file_extension()),
            kind,
            text,
        )
    }

    /// Back after the save found a file at `path`: Enter now replaces it.
    pub fn replacing(path: &Path, kind: ScriptKind, text: Zeroizing<String>) -> Self {
        let mut dialog = Self::with_path(&path.to_string_lossy(), kind, text);
        dialog.replace = true;
        dialog
    }

    fn with_path(path: &str, kind: ScriptKind, text: Zeroizing<String>) -> Self {
        let mut input = TextArea::new(vec![path.to_owned()]);
        input.move_cursor(CursorMove::End);
        SaveDialog {
            input,
            kind,
            text,
            replace: false,
        }
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(
            self.input
                .lines()
                .first()
                .map(String::as_str)
                .unwrap_or("")
                .trim(),
        )
    }
}

impl Overlay for SaveDialog {
    fn contexts(&self) -> &'static [Context] {
        &[Context::Input, Context::Always]
    }

    fn on_key(&mut self, key: KeyEvent, action: Option<Action>, _env: &Env) -> Reply {
        match action {
            Some(Action::Back) => Reply::close(),
            Some(Action::Submit) => Reply::close().effect(Effect::Save {
                path: self.path(),
                text: self.text.clone(),
                kind: self.kind,
                replace: self.replace,
            }),
            _ => {
                let edited = self.input.input(key);
                if edited {
                    self.replace = false;
                }
                Reply::stay(edited)
            }
        }
    }

    fn on_paste(&mut self, text: &str, env: &Env) -> Reply {
        self.replace = false;
        match paste_into(&mut self.input, text, INPUT_LIMIT) {
            Some(note) => Reply::stay(true).toast(Toast::info(note, env.now)),
            None => Reply::stay(true),
        }
    }

    fn render(&self, frame: &mut Frame, canvas: &Canvas) {
        render(self, frame, canvas.body, canvas.theme);
    }
}

/// What a save did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Saved,
    /// Something is at the path already and replacing was not asked for: nothing written.
    Exists,
}

/// Writes `text` to `path`, readable by the owner only. Without `replace` the file must be
/// new (`O_CREAT|O_EXCL|O_NOFOLLOW`: a link or a file someone planted there is not
/// touched). With `replace`, a new file is written in the same directory and renamed over
/// the path, so a link there is replaced itself and its target stays as it was.
pub fn write_private(path: &Path, text: &str, replace: bool) -> Result<Written> {
    if path.as_os_str().is_empty() {
        return Err(Error::Other("no file name given".into()));
    }
    let ctx = || format!("saving {}", path.display());
    if !replace {
        return match create_new(path) {
            Ok(file) => {
                fill(file, text).map_err(|e| Error::io(ctx(), e))?;
                Ok(Written::Saved)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Written::Exists),
            Err(e) => Err(Error::io(ctx(), e)),
        };
    }
    let temp = temp_beside(path);
    let written = create_new(&temp)
        .and_then(|file| fill(file, text))
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(Error::io(ctx(), e));
    }
    Ok(Written::Saved)
}

fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

fn fill(mut file: std::fs::File, text: &str) -> std::io::Result<()> {
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// A name for the new file in the same directory as `path` (rename only works there).
fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u64 = rand::random();
    path.with_file_name(format!(".{name}.{}-{nonce:016x}.tmp", std::process::id()))
}

pub fn render(d: &SaveDialog, frame: &mut Frame, area: Rect, theme: &Theme) {
    let popup = centered(area, 70, 6);
    frame.render_widget(Clear, popup);
    let path = d.input.lines().first().cloned().unwrap_or_default();
    let (question, hints): (Line, &[(&str, &str)]) = if d.replace {
        (
            Line::from(Span::styled(
                "A file is there already. Replace it (mode 0600)?",
                theme.error,
            )),
            &[("enter", "replace"), ("esc", "cancel")],
        )
    } else {
        (
            Line::from(format!(
                "Save the {} to (mode 0600, it holds the private key):",
                d.kind.title()
            )),
            &[("enter", "save"), ("esc", "cancel")],
        )
    };
    let text = vec![
        question,
        Line::from(vec![
            Span::styled("> ", theme.key),
            Span::styled(
                crate::format::escape_control(&path).into_owned(),
                theme.input,
            ),
            Span::styled("█", theme.key),
        ]),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(" Save to file ", theme.title))
        .title_bottom(super::key_hints(hints, theme));
    frame.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tikwire-save-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        dir
    }

    #[test]
    fn a_new_file_is_owner_only() {
        let dir = scratch("new");
        let path = dir.join("a.rsc");
        assert_eq!(
            write_private(&path, "script", false).unwrap(),
            Written::Saved
        );
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "script");
        assert!(write_private(Path::new(""), "x", false).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_existing_file_is_left_alone_until_replacing_was_asked_for() {
        let dir = scratch("exists");
        let path = dir.join("a.rsc");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(write_private(&path, "key", false).unwrap(), Written::Exists);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(write_private(&path, "key", true).unwrap(), Written::Saved);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "key");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "a new file, not the old one"
        );
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_link_at_the_path_never_has_its_target_written() {
        let dir = scratch("link");
        let target = dir.join("victim");
        std::fs::write(&target, "precious").unwrap();
        let link = dir.join("a.rsc");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(write_private(&link, "key", false).unwrap(), Written::Exists);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        // Replacing replaces the link itself.
        assert_eq!(write_private(&link, "key", true).unwrap(), Written::Saved);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "key");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
