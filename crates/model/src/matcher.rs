//! Label matchers (`=`, `!=`, `=~`, `!~`) with Prometheus 3 regex semantics:
//! the pattern is anchored as `^(?s:…)$`, so `.` matches newlines.

use crate::Labels;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("invalid regular expression {pattern:?}: {message}")]
pub struct MatcherError {
    pub pattern: String,
    pub message: String,
}

/// One label matcher.
#[derive(Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    re: Option<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name && self.op == o.op && self.value == o.value
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op.as_str(), crate::labels::quote_go(&self.value))
    }
}

/// Compiles a Prometheus regex (anchored, dot matches newline).
pub fn compile_anchored(pattern: &str) -> Result<regex::Regex, MatcherError> {
    let translated = translate_go_regex(pattern);
    regex::Regex::new(&format!("^(?s:{translated})$"))
        .map_err(|e| MatcherError { pattern: pattern.to_string(), message: e.to_string() })
}

/// Compiles a regex with Go RE2 differences papered over (unanchored).
pub fn compile_go_regex(pattern: &str) -> Result<regex::Regex, MatcherError> {
    regex::Regex::new(&translate_go_regex(pattern))
        .map_err(|e| MatcherError { pattern: pattern.to_string(), message: e.to_string() })
}

/// Rewrites the RE2 syntax Rust's `regex` spells differently: `\d \w \s` and
/// their negations are ASCII in Go; `\Q…\E` quotes literally.
fn translate_go_regex(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('d') => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                Some('D') => out.push_str(if in_class { "\\D" } else { "[^0-9]" }),
                Some('w') => out.push_str(if in_class { "0-9A-Za-z_" } else { "[0-9A-Za-z_]" }),
                Some('W') => out.push_str(if in_class { "\\W" } else { "[^0-9A-Za-z_]" }),
                Some('s') => out.push_str(if in_class { "\\t\\n\\x0C\\r " } else { "[\\t\\n\\x0C\\r ]" }),
                Some('S') => out.push_str(if in_class { "\\S" } else { "[^\\t\\n\\x0C\\r ]" }),
                Some('Q') => {
                    // literal until \E
                    let mut lit = String::new();
                    loop {
                        match chars.next() {
                            None => break,
                            Some('\\') if chars.peek() == Some(&'E') => {
                                chars.next();
                                break;
                            }
                            Some(ch) => lit.push(ch),
                        }
                    }
                    out.push_str(&regex::escape(&lit));
                }
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
            continue;
        }
        if c == '[' && !in_class {
            in_class = true;
            out.push(c);
            // a leading ']' or '^]' is literal inside a class
            if chars.peek() == Some(&'^') {
                out.push('^');
                chars.next();
            }
            if chars.peek() == Some(&']') {
                out.push_str("\\]");
                chars.next();
            }
            continue;
        }
        if c == ']' && in_class {
            in_class = false;
        }
        out.push(c);
    }
    out
}

impl Matcher {
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Self, MatcherError> {
        let value = value.into();
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(compile_anchored(&value)?),
            _ => None,
        };
        Ok(Matcher { name: name.into(), op, value, re })
    }

    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher { name: name.into(), op: MatchOp::Equal, value: value.into(), re: None }
    }

    /// Does `value` (the label's value, "" when absent) satisfy the matcher?
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Equal => value == self.value,
            MatchOp::NotEqual => value != self.value,
            MatchOp::Regex => self.re.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::NotRegex => !self.re.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    /// Does the label set satisfy the matcher?
    pub fn matches_labels(&self, l: &Labels) -> bool {
        self.matches(l.get_or_empty(&self.name))
    }

    /// True when the matcher matches the empty string (so it also selects
    /// series without the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For `=~` with a plain alternation of literals (`a|b|c`), the literals.
    pub fn set_matches(&self) -> Option<Vec<String>> {
        if self.op != MatchOp::Regex {
            return None;
        }
        let v = &self.value;
        if v.is_empty() || v.chars().any(|c| "\\.+*?()[]{}^$".contains(c)) {
            return None;
        }
        Some(v.split('|').map(str::to_string).collect())
    }
}

/// Do all matchers match the label set?
pub fn matches_all(ms: &[Matcher], l: &Labels) -> bool {
    ms.iter().all(|m| m.matches_labels(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored_and_dotall() {
        let m = Matcher::new(MatchOp::Regex, "a", "fo.").unwrap();
        assert!(m.matches("foo"));
        assert!(m.matches("fo\n"));
        assert!(!m.matches("xfoo"));
    }

    #[test]
    fn go_classes_are_ascii() {
        let m = Matcher::new(MatchOp::Regex, "a", r"\d+").unwrap();
        assert!(m.matches("123"));
        assert!(!m.matches("١٢٣"));
        let q = Matcher::new(MatchOp::Regex, "a", r"\Qa.b\E").unwrap();
        assert!(q.matches("a.b"));
        assert!(!q.matches("axb"));
    }

    #[test]
    fn not_regex_matches_absent() {
        let m = Matcher::new(MatchOp::NotRegex, "a", "x").unwrap();
        assert!(m.matches_labels(&Labels::empty()));
    }
}
