//! Text shaping for the console; the figures themselves live in `crate::format`.

pub use crate::format::{age, age_changes_in, bytes, bytes_short, count};

/// Shortens text to `width` characters with an ellipsis.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let keep = width.saturating_sub(1);
    let mut out: String = text.chars().take(keep).collect();
    if width > 0 {
        out.push('…');
    }
    out
}

/// Text from the database as the console draws it: control characters shown escaped
/// (`\x1b`), the same way the command line prints them.
pub fn escaped(text: &str) -> String {
    crate::format::escape_control(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_with_an_ellipsis() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate("abc", 0), "");
    }
}
