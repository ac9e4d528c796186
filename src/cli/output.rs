//! Printing for the command line: aligned tables for people, one JSON document for scripts.
//!
//! Values can come from anywhere (a row written with psql, a file name), so text for people
//! goes out with control characters escaped ([`print`]), JSON with them as `\u` escapes
//! ([`json`]); only generated documents (scripts, configs) go out as they are ([`document`]).

use std::io::Write as _;

use serde::Serialize;

use crate::format::escape_control;
use crate::{Error, Result};

/// Prints one JSON document.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let text = json_text(value)?;
    write_stdout(&format!("{text}\n"))
}

/// Pretty JSON in which no control character is left raw: serde escapes C0, and DEL and C1
/// (which serde passes through) become `\u007f`-style escapes, which mean the same.
pub fn json_text<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| Error::Other(format!("JSON: {e}")))?;
    if !text.chars().any(raw_in_json) {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if raw_in_json(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// DEL and C1: serde_json leaves them raw (line breaks between tokens are only layout).
fn raw_in_json(c: char) -> bool {
    c.is_control() && u32::from(c) >= 0x7f
}

/// Prints text for people: every control character but the line breaks is shown escaped.
pub fn print(text: &str) -> Result<()> {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return write_stdout(text);
    }
    let escaped: Vec<_> = text.split('\n').map(escape_control).collect();
    write_stdout(&escaped.join("\n"))
}

/// One column of a listing: its header and how an item fills its cell.
pub type Column<T> = (&'static str, fn(&T) -> String);

/// What a `list` command prints: the items as JSON, or `empty` (what to do first) when there
/// are none, or their table.
pub fn listing<T: Serialize>(
    items: &[T],
    json: bool,
    empty: &str,
    columns: &[Column<T>],
) -> Result<()> {
    if json {
        return self::json(items);
    }
    if items.is_empty() {
        return print(&format!("{empty}\n"));
    }
    print(&Table::of(items, columns).render())
}

/// Prints a generated document (script, config, ruleset) as it is: its generator checked it.
pub fn document(text: &str) -> Result<()> {
    write_stdout(text)
}

/// Writes to stdout; a closed pipe (`| head`) ends quietly.
fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("writing to stdout", err))
        }
        _ => Ok(()),
    }
}

/// A plain table: a header row and left-aligned columns separated by two spaces.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// A table of `items`, defined one column at a time: its header and how an item fills
    /// its cell.
    pub fn of<'a, T: 'a>(items: impl IntoIterator<Item = &'a T>, columns: &[Column<T>]) -> Self {
        let header: Vec<&'static str> = columns.iter().map(|(header, _)| *header).collect();
        let mut table = Self::new(&header);
        for item in items {
            table.row(columns.iter().map(|(_, cell)| cell(item)).collect());
        }
        table
    }

    /// Adds a row; cells are escaped here so the widths match what is printed.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| match escape_control(&c) {
                    std::borrow::Cow::Borrowed(_) => c,
                    std::borrow::Cow::Owned(escaped) => escaped,
                })
                .collect(),
        );
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Column widths that fit the header and every row so far.
    pub fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        widths
    }

    pub fn render(&self) -> String {
        self.render_with(&self.widths(), true)
    }

    /// Renders with given widths (cells longer than their column just push the line).
    pub fn render_with(&self, widths: &[usize], header: bool) -> String {
        let mut out = String::new();
        let mut line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut text = String::new();
            for (i, (cell, width)) in cells.zip(widths).enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                text.extend(std::iter::repeat_n(
                    ' ',
                    width.saturating_sub(cell.chars().count()),
                ));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        if header {
            line(&mut self.header.iter().copied());
        }
        for row in &self.rows {
            line(&mut row.iter().map(String::as_str));
        }
        out
    }
}

/// A table printed as rows arrive: the first `SAMPLE` rows set the column widths, so memory
/// stays flat for listings of any size.
pub struct StreamTable {
    table: Table,
    widths: Option<Vec<usize>>,
}

impl StreamTable {
    const SAMPLE: usize = 1000;

    pub fn new(header: &[&'static str]) -> Self {
        Self {
            table: Table::new(header),
            widths: None,
        }
    }

    pub fn row(&mut self, cells: Vec<String>) -> Result<()> {
        self.table.row(cells);
        if self.table.len() >= Self::SAMPLE {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let first = self.widths.is_none();
        let widths = self.widths.get_or_insert_with(|| self.table.widths());
        let text = self.table.render_with(widths, first);
        self.table.rows.clear();
        print(&text)
    }

    /// Prints what is left; false when there were no rows at all.
    pub fn finish(mut self) -> Result<bool> {
        if self.widths.is_none() && self.table.is_empty() {
            return Ok(false);
        }
        self.flush()?;
        Ok(true)
    }
}

/// `key: value` lines with aligned values.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k:<width$}  {}\n", escape_control(v)))
        .collect()
}

pub use crate::format::count as thousands;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let mut t = Table::new(&["NAME", "IP"]);
        t.row(vec!["a-long-name".into(), "10.100.1.1".into()]);
        t.row(vec!["b".into(), "10.100.1.2".into()]);
        assert_eq!(
            t.render(),
            "NAME         IP\na-long-name  10.100.1.1\nb            10.100.1.2\n"
        );
    }
}
