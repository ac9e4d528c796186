//! A small reader of RouterOS script syntax, enough to take apart what tikwire generates:
//! comment lines, `"..."` strings with their escapes, `[ ]`, `{ }` and `( )` groups, words, and
//! statements separated by newlines or `;`. Used to check scripts against the command tree and
//! to prove that quoted values stay single inert strings.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A run of characters outside strings and groups, e.g. `/ip/address/set`, `comment=$tag`,
    /// `do=` (a value that follows as the next node).
    Word(String),
    /// A double-quoted string, unescaped to its bytes.
    Str(Vec<u8>),
    /// `[` ... `]` or `{` ... `}`: statements. `(` ... `)`: one expression.
    Group(char, Vec<Vec<Node>>),
}

/// The script's statements, with comment lines (first non-blank character `#`) dropped.
pub fn parse(script: &str) -> Result<Vec<Vec<Node>>, String> {
    let code: String = script
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect();
    let mut reader = Reader {
        chars: code.chars().collect(),
        pos: 0,
    };
    let statements = reader.statements(None)?;
    if reader.pos != reader.chars.len() {
        return Err(format!("stray closing bracket at {}", reader.pos));
    }
    Ok(statements)
}

struct Reader {
    chars: Vec<char>,
    pos: usize,
}

fn closing(open: char) -> char {
    match open {
        '[' => ']',
        '{' => '}',
        _ => ')',
    }
}

impl Reader {
    fn statements(&mut self, close: Option<char>) -> Result<Vec<Vec<Node>>, String> {
        let mut statements = Vec::new();
        let mut current = Vec::new();
        loop {
            let Some(&c) = self.chars.get(self.pos) else {
                return match close {
                    None => {
                        statements.push(current);
                        Ok(statements
                            .into_iter()
                            .filter(|s: &Vec<Node>| !s.is_empty())
                            .collect())
                    }
                    Some(close) => Err(format!("missing {close}")),
                };
            };
            match c {
                '\n' | ';' => {
                    self.pos += 1;
                    // Inside ( ) a newline does not end the expression.
                    if close != Some(')') {
                        statements.push(std::mem::take(&mut current));
                    }
                }
                ' ' => self.pos += 1,
                '\\' if self.chars.get(self.pos + 1) == Some(&'\n') => self.pos += 2,
                '"' => current.push(Node::Str(self.string()?)),
                '[' | '{' | '(' => {
                    self.pos += 1;
                    let inner = self.statements(Some(closing(c)))?;
                    current.push(Node::Group(c, inner));
                }
                ']' | '}' | ')' => {
                    if close != Some(c) {
                        return Err(format!("unexpected {c} at {}", self.pos));
                    }
                    self.pos += 1;
                    statements.push(current);
                    return Ok(statements.into_iter().filter(|s| !s.is_empty()).collect());
                }
                _ => current.push(Node::Word(self.word())),
            }
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while let Some(&c) = self.chars.get(self.pos) {
            if matches!(
                c,
                ' ' | '\n' | ';' | '"' | '[' | ']' | '{' | '}' | '(' | ')'
            ) {
                break;
            }
            self.pos += 1;
            // `key=` is a word of its own when a string or group follows.
            if c == '=' && matches!(self.chars.get(self.pos), Some('"' | '[' | '{' | '(')) {
                break;
            }
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// RouterOS string escapes: `\"` `\\` `\$` `\?` `\_` `\n` `\r` `\t` `\a` `\b` `\f` `\v`
    /// and `\XX` (two upper-case hex digits).
    fn string(&mut self) -> Result<Vec<u8>, String> {
        self.pos += 1;
        let mut bytes = Vec::new();
        loop {
            let c = *self.chars.get(self.pos).ok_or("unterminated string")?;
            self.pos += 1;
            match c {
                '"' => return Ok(bytes),
                '\n' => return Err("newline inside a string".into()),
                '$' => return Err("unescaped $ inside a string (variable substitution)".into()),
                '\\' => {
                    let e = *self.chars.get(self.pos).ok_or("dangling backslash")?;
                    self.pos += 1;
                    let simple = match e {
                        '"' => Some(b'"'),
                        '\\' => Some(b'\\'),
                        '$' => Some(b'$'),
                        '?' => Some(b'?'),
                        '_' => Some(b' '),
                        'n' => Some(b'\n'),
                        'r' => Some(b'\r'),
                        't' => Some(b'\t'),
                        'a' => Some(7),
                        'b' => Some(8),
                        'f' => Some(12),
                        'v' => Some(11),
                        _ => None,
                    };
                    match simple {
                        Some(b) => bytes.push(b),
                        None => {
                            let hex: String = [Some(e), self.chars.get(self.pos).copied()]
                                .into_iter()
                                .flatten()
                                .collect();
                            let valid = hex.len() == 2
                                && hex
                                    .chars()
                                    .all(|h| h.is_ascii_digit() || ('A'..='F').contains(&h));
                            if !valid {
                                return Err(format!("bad escape \\{hex}"));
                            }
                            self.pos += 1;
                            bytes.push(u8::from_str_radix(&hex, 16).map_err(|e| e.to_string())?);
                        }
                    }
                }
                c if c.is_ascii() => bytes.push(c as u8),
                c => return Err(format!("non-ASCII {c:?} inside a string")),
            }
        }
    }
}

/// The script with every string's content replaced by `S`: two scripts with the same skeleton
/// run the same commands with the same structure, whatever their quoted values.
pub fn skeleton(statements: &[Vec<Node>]) -> String {
    fn node(out: &mut String, n: &Node) {
        match n {
            Node::Word(w) => out.push_str(w),
            Node::Str(_) => out.push_str("\"S\""),
            Node::Group(open, inner) => {
                out.push(*open);
                for statement in inner {
                    for n in statement {
                        node(out, n);
                        out.push(' ');
                    }
                    out.push(';');
                }
                out.push(closing(*open));
            }
        }
    }
    let mut out = String::new();
    for statement in statements {
        for n in statement {
            node(&mut out, n);
            out.push(' ');
        }
        out.push('\n');
    }
    out
}

/// Every string literal of the script, unescaped.
pub fn strings(statements: &[Vec<Node>]) -> Vec<Vec<u8>> {
    fn walk(out: &mut Vec<Vec<u8>>, nodes: &[Node]) {
        for n in nodes {
            match n {
                Node::Str(s) => out.push(s.clone()),
                Node::Group(_, inner) => inner.iter().for_each(|s| walk(out, s)),
                Node::Word(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    statements.iter().for_each(|s| walk(&mut out, s));
    out
}

/// The paste-safety rules for a RouterOS script, as one error per broken rule.
pub fn paste_problems(script: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !script.is_ascii() {
        problems.push("non-ASCII text".to_string());
    }
    if !script.ends_with('\n') {
        problems.push("no final newline".to_string());
    }
    for (n, line) in script.split('\n').enumerate() {
        let n = n + 1;
        let checks = [
            (line.contains('\r'), "a carriage return"),
            (line.contains('\t'), "a TAB"),
            (line.contains('?'), "a '?' (the terminal's help key)"),
            (line.len() > 119, "a line of 120 characters or more"),
            (line.trim_end().ends_with('\\'), "a trailing backslash"),
            (line != line.trim_end(), "trailing blanks"),
            (
                line.contains('#') && !line.trim_start().starts_with('#'),
                "a '#' after a command",
            ),
            (
                line.chars().any(|c| c.is_ascii_control()),
                "a control character",
            ),
        ];
        for (bad, what) in checks {
            if bad {
                problems.push(format!("line {n} has {what}: {line}"));
            }
        }
    }
    if let Err(e) = parse(script) {
        problems.push(format!("does not parse: {e}"));
    }
    problems
}
