//! Quoting for the formats tikwire prints. Validation already refuses dangerous names; this is
//! the second wall, so that even a value that slipped past it is printed as inert data.

use std::fmt::Write as _;

/// Longest line any generator prints (a terminal and Winbox stay happy below 120).
pub const MAX_LINE: usize = 119;
/// Comment lines wrap here, so the header reads whole in an 80-column terminal.
pub const COMMENT_WIDTH: usize = 78;

/// Characters RouterOS takes literally inside a double-quoted string. Everything else,
/// including `"`, `\`, `$` (variables), `?` (the terminal's help key), `[ ] { } ;`, controls
/// and non-ASCII bytes, is written as a `\XX` hex escape.
fn routeros_literal(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b' ' | b'-' | b'.' | b'_' | b':' | b'/' | b'+' | b'=' | b',' | b'@'
        )
}

/// `value` as a RouterOS double-quoted string: `"..."`, inert whatever it contains.
pub fn routeros_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for &byte in value.as_bytes() {
        push_routeros_byte(&mut out, byte);
    }
    out.push('"');
    out
}

/// `value` as consecutive RouterOS strings of at most `max` characters each (quotes included),
/// never splitting an escape; concatenated by RouterOS they give `value` back. At least one.
pub fn routeros_string_chunks(value: &str, max: usize) -> Vec<String> {
    let max = max.max(6);
    let mut chunks = Vec::new();
    let mut current = String::from("\"");
    for &byte in value.as_bytes() {
        let mut piece = String::new();
        push_routeros_byte(&mut piece, byte);
        if current.len() + piece.len() + 1 > max {
            current.push('"');
            chunks.push(std::mem::replace(&mut current, String::from("\"")));
        }
        current.push_str(&piece);
    }
    current.push('"');
    chunks.push(current);
    chunks
}

fn push_routeros_byte(out: &mut String, byte: u8) {
    if routeros_literal(byte) {
        out.push(byte as char);
    } else {
        // RouterOS wants upper-case hex digits in `\XX`.
        let _ = write!(out, "\\{byte:02X}");
    }
}

/// Text for a `#` comment line in any of the formats: printable ASCII only, without the
/// characters that mean something to RouterOS, its terminal or a shell (`?`, quotes, `\`, `$`,
/// brackets, braces, `;`, backtick). Anything else becomes `_`. Names are validated and never
/// need this; it keeps a comment a comment whatever it is given.
pub fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            let plain = c.is_ascii_graphic() || c == ' ';
            let special = matches!(
                c,
                '?' | '"' | '\'' | '\\' | '$' | '[' | ']' | '{' | '}' | ';' | '`'
            );
            if plain && !special { c } else { '_' }
        })
        .collect()
}

/// Appends `text` as `#` comment lines, wrapped at [`COMMENT_WIDTH`] (a single word longer
/// than that is split, and still never exceeds [`MAX_LINE`]).
/// An empty `text` gives a lone `#`.
pub fn push_comment(out: &mut String, text: &str) {
    let text = comment_text(text);
    if text.is_empty() {
        out.push_str("#\n");
        return;
    }
    let mut first = true;
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let prefix = if first { "# " } else { "#   " };
        let room = COMMENT_WIDTH - prefix.len();
        let (line, tail) = split_at_word(rest, room);
        out.push_str(prefix);
        out.push_str(line.trim_end());
        out.push('\n');
        rest = tail.trim_start();
        first = false;
    }
}

/// Splits before `room` bytes, at the last space if there is one. `text` is ASCII.
fn split_at_word(text: &str, room: usize) -> (&str, &str) {
    if text.len() <= room {
        return (text, "");
    }
    match text[..room].rfind(' ') {
        Some(space) if space > 0 => text.split_at(space),
        _ => text.split_at(room),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routeros_strings_escape_everything_active() {
        assert_eq!(routeros_string("wg-hotspot"), "\"wg-hotspot\"");
        assert_eq!(
            routeros_string("a\"b\\c$d[e]f{g}h;i?j\nk"),
            "\"a\\22b\\5Cc\\24d\\5Be\\5Df\\7Bg\\7Dh\\3Bi\\3Fj\\0Ak\""
        );
        assert_eq!(routeros_string("caf\u{e9}"), "\"caf\\C3\\A9\"");
        assert_eq!(routeros_string("k+/="), "\"k+/=\"");
    }

    #[test]
    fn long_strings_split_between_escapes() {
        let value = format!("{}\"{}", "a".repeat(70), "b".repeat(10));
        let chunks = routeros_string_chunks(&value, 40);
        assert!(
            chunks
                .iter()
                .all(|c| c.len() <= 40 && c.starts_with('"') && c.ends_with('"'))
        );
        let joined: String = chunks.iter().map(|c| &c[1..c.len() - 1]).collect();
        assert_eq!(format!("\"{joined}\""), routeros_string(&value));
        assert_eq!(routeros_string_chunks("", 40), vec!["\"\"".to_string()]);
    }

    #[test]
    fn comments_stay_comments() {
        let mut out = String::new();
        push_comment(&mut out, "router \"x\"\n/system reset; $y ? caf\u{e9}");
        assert_eq!(out, "# router _x__/system reset_ _y _ caf_\n");
    }

    #[test]
    fn long_comments_wrap_below_the_line_limit() {
        let mut out = String::new();
        let text = format!("{} {}", "word ".repeat(40), "x".repeat(300));
        push_comment(&mut out, &text);
        assert!(out.lines().count() > 3);
        for line in out.lines() {
            assert!(line.len() <= MAX_LINE, "{line}");
            assert!(line.starts_with('#'));
        }
        let joined: String = out
            .lines()
            .map(|l| l.trim_start_matches('#').trim())
            .collect();
        assert_eq!(joined.matches('x').count(), 300);
    }
}
