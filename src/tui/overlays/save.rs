//! Saving a script to a file: the path is asked for (a sensible name prefilled), the file
//! is written with mode 0600 because it holds a private key.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui_textarea::{CursorMove, TextArea};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::tui::data::ScriptKind;
use crate::tui::forms::centered;
use crate::tui::theme::Theme;

pub struct SaveDialog {
    pub input: TextArea<'static>,
    pub kind: ScriptKind,
    pub text: Zeroizing<String>,
}

impl SaveDialog {
    pub fn new(tenant: &str, router: &str, kind: ScriptKind, text: Zeroizing<String>) -> Self {
        let name = format!("{tenant}-{router}.{}", kind.file_extension());
        let mut input = TextArea::new(vec![name]);
        input.move_cursor(CursorMove::End);
        SaveDialog { input, kind, text }
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

/// Writes `text` to `path`, readable by the owner only (also when the file existed).
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    if path.as_os_str().is_empty() {
        return Err(Error::Other("no file name given".into()));
    }
    let ctx = || format!("saving {}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(ctx(), e))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(ctx(), e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io(ctx(), e))?;
    file.sync_all().map_err(|e| Error::io(ctx(), e))
}

pub fn render(d: &SaveDialog, frame: &mut Frame, area: Rect, theme: &Theme) {
    let popup = centered(area, 70, 6);
    frame.render_widget(Clear, popup);
    let path = d.input.lines().first().cloned().unwrap_or_default();
    let text = vec![
        Line::from(format!(
            "Save the {} to (mode 0600, it holds the private key):",
            d.kind.title()
        )),
        Line::from(vec![
            Span::styled("> ", theme.key),
            Span::styled(path, theme.input),
            Span::styled("█", theme.key),
        ]),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(" Save to file ", theme.title))
        .title_bottom(super::key_hints(
            &[("enter", "save"), ("esc", "cancel")],
            theme,
        ));
    frame.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_file_is_owner_only_even_when_it_existed() {
        let path = std::env::temp_dir().join(format!("tikwire-save-{}.rsc", std::process::id()));
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "script").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "script");
        std::fs::remove_file(&path).unwrap();
        assert!(write_private(Path::new(""), "x").is_err());
    }
}
