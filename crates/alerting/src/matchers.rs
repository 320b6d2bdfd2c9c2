//! Alertmanager's label matchers: `name="value"`, `!=`, `=~`, `!~`.
//!
//! Two parsers, as Alertmanager 0.34 has them:
//!
//! - [`parse_matchers_utf8`]: the UTF-8-aware parser (`matcher/parse`):
//!   label names and values may be any UTF-8 text, quoted with Go string
//!   syntax when they contain reserved characters; braces are optional.
//! - [`parse_matchers_classic`]: the classic parser (`pkg/labels`): a
//!   regular expression per comma-separated item, values optionally quoted.
//!
//! [`parse_matchers`] and [`parse_matcher`] behave like Alertmanager's default
//! mode (no feature flag): the UTF-8 parser first, the classic parser when
//! the UTF-8 parser rejects the input or the two disagree. This is what
//! `matchers:` in `alertmanager.yml` and amtool use.
//!
//! Regular expressions are fully anchored (`^(?:…)$`) with Go RE2 syntax;
//! unlike PromQL's, `.` does not match a newline.

use std::cmp::Ordering;
use std::fmt;

use bongsu_model::Labels;

/// The four match operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchType {
    Equal,
    NotEqual,
    Regexp,
    NotRegexp,
}

impl MatchType {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regexp => "=~",
            MatchType::NotRegexp => "!~",
        }
    }
}

impl fmt::Display for MatchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A matcher could not be parsed or its regular expression is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MatcherError(pub String);

/// One label matcher.
#[derive(Clone)]
pub struct Matcher {
    pub name: String,
    pub match_type: MatchType,
    pub value: String,
    re: Option<regex::Regex>,
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Self) -> bool {
        self.match_type == o.match_type && self.name == o.name && self.value == o.value
    }
}
impl Eq for Matcher {}

impl PartialOrd for Matcher {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Alertmanager's order: by name, then value, then operator.
impl Ord for Matcher {
    fn cmp(&self, o: &Self) -> Ordering {
        self.name
            .cmp(&o.name)
            .then_with(|| self.value.cmp(&o.value))
            .then_with(|| self.match_type.cmp(&o.match_type))
    }
}

impl Matcher {
    /// A matcher; regex operators compile `^(?:value)$`.
    pub fn new(
        match_type: MatchType,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, MatcherError> {
        let value = value.into();
        let re = match match_type {
            MatchType::Regexp | MatchType::NotRegexp => Some(compile_anchored(&value)?),
            _ => None,
        };
        Ok(Matcher {
            name: name.into(),
            match_type,
            value,
            re,
        })
    }

    /// Does `value` (the label's value, empty when absent) match?
    pub fn matches(&self, value: &str) -> bool {
        match self.match_type {
            MatchType::Equal => value == self.value,
            MatchType::NotEqual => value != self.value,
            MatchType::Regexp => self.re.as_ref().is_some_and(|r| r.is_match(value)),
            MatchType::NotRegexp => !self.re.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    /// Does the label set match? A missing label has the empty value.
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get_or_empty(&self.name))
    }
}

/// Compiles an Alertmanager regex: `^(?:pattern)$`, Go RE2 flavour.
pub fn compile_anchored(pattern: &str) -> Result<regex::Regex, MatcherError> {
    bongsu_model::matcher::compile_go_regex(&format!("^(?:{pattern})$"))
        .map_err(|e| MatcherError(format!("error parsing regexp: {}", e.message)))
}

fn is_reserved(c: char) -> bool {
    c.is_whitespace() || "{}!=~,\\\"'`".contains(c)
}

/// As Alertmanager prints a matcher: `name="value"`, both quoted when the
/// name has reserved characters.
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.chars().any(is_reserved) {
            return write!(
                f,
                "{}{}{}",
                bongsu_model::labels::quote_go(&self.name),
                self.match_type,
                bongsu_model::labels::quote_go(&self.value)
            );
        }
        let mut v = String::with_capacity(self.value.len());
        for c in self.value.chars() {
            match c {
                '\\' => v.push_str("\\\\"),
                '\n' => v.push_str("\\n"),
                '"' => v.push_str("\\\""),
                c => v.push(c),
            }
        }
        write!(f, "{}{}\"{}\"", self.name, self.match_type, v)
    }
}

/// A conjunction of matchers (all must hold), kept sorted when it comes
/// from configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    pub fn new(mut v: Vec<Matcher>) -> Self {
        v.sort();
        Matchers(v)
    }
    pub fn matches(&self, labels: &Labels) -> bool {
        self.0.iter().all(|m| m.matches_labels(labels))
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, Matcher> {
        self.0.iter()
    }
}

/// `{a="b",c=~"d"}`, as in route keys.
impl fmt::Display for Matchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

// ---------------------------------------------------------------------------
// Default mode: UTF-8 parser with classic fallback

/// Parses a list of matchers as Alertmanager's default mode does.
pub fn parse_matchers(input: &str) -> Result<Vec<Matcher>, MatcherError> {
    let utf8 = parse_matchers_utf8(input);
    let classic = parse_matchers_classic(input);
    match (utf8, classic) {
        (Err(_), Err(c)) => Err(c),
        (Err(_), Ok(c)) => Ok(c),
        (Ok(n), Ok(c)) if n != c => Ok(c),
        (Ok(n), _) => Ok(n),
    }
}

/// Parses exactly one matcher (no braces) as Alertmanager's default mode does.
pub fn parse_matcher(input: &str) -> Result<Matcher, MatcherError> {
    if input.starts_with('{') || input.ends_with('}') {
        return Err(MatcherError(format!(
            "unexpected open or close brace: {input}"
        )));
    }
    let utf8 = parse_matcher_utf8(input);
    let classic = parse_matcher_classic(input);
    match (utf8, classic) {
        (Err(_), Err(c)) => Err(c),
        (Err(_), Ok(c)) => Ok(c),
        (Ok(n), Ok(c)) if n != c => Ok(c),
        (Ok(n), _) => Ok(n),
    }
}

// ---------------------------------------------------------------------------
// The classic parser

fn classic_re() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        // Go's `\s` is ASCII whitespace.
        regex::Regex::new(
            r"^[\t\n\x0C\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\x0C\r ]*(=~|=|!=|!~)[\t\n\x0C\r ]*((?s).*?)[\t\n\x0C\r ]*$",
        )
        .expect("static regex")
    })
}

/// The classic list parser: optional braces, comma-separated items (commas
/// inside double quotes do not split).
pub fn parse_matchers_classic(input: &str) -> Result<Vec<Matcher>, MatcherError> {
    let s = input.strip_prefix('{').unwrap_or(input);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut tokens: Vec<String> = Vec::new();
    let mut token = String::new();
    let (mut inside_quotes, mut escaped) = (false, false);
    for c in s.chars() {
        match c {
            ',' if !inside_quotes => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            ',' => {}
            '"' => {
                if !escaped {
                    inside_quotes = !inside_quotes;
                } else {
                    escaped = false;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    let last = token.trim();
    if !last.is_empty() {
        tokens.push(last.to_string());
    }
    tokens.iter().map(|t| parse_matcher_classic(t)).collect()
}

/// The classic single-matcher parser.
pub fn parse_matcher_classic(s: &str) -> Result<Matcher, MatcherError> {
    let caps = classic_re()
        .captures(s)
        .ok_or_else(|| MatcherError(format!("bad matcher format: {s}")))?;
    let name = &caps[1];
    let op = match &caps[2] {
        "=" => MatchType::Equal,
        "!=" => MatchType::NotEqual,
        "=~" => MatchType::Regexp,
        _ => MatchType::NotRegexp,
    };
    let raw_all = &caps[3];
    let (raw, mut expect_trailing_quote) = match raw_all.strip_prefix('"') {
        Some(r) => (r, true),
        None => (raw_all, false),
    };
    let mut value = String::with_capacity(raw.len());
    let mut escaped = false;
    for (i, c) in raw.char_indices() {
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                c => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        match c {
            '\\' => {
                if i + 1 < raw.len() {
                    escaped = true;
                    continue;
                }
                value.push('\\');
            }
            '"' => {
                if !expect_trailing_quote || i + 1 < raw.len() {
                    return Err(MatcherError(format!(
                        "matcher value contains unescaped double quote: {raw_all}"
                    )));
                }
                expect_trailing_quote = false;
            }
            c => value.push(c),
        }
    }
    if expect_trailing_quote {
        return Err(MatcherError(format!(
            "matcher value contains unescaped double quote: {raw_all}"
        )));
    }
    Matcher::new(op, name, value)
}

// ---------------------------------------------------------------------------
// The UTF-8 parser

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eof,
    OpenBrace,
    CloseBrace,
    Comma,
    Equals,
    NotEquals,
    Matches,
    NotMatches,
    Quoted,
    Unquoted,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    value: &'a str,
    col_start: usize,
    col_end: usize,
}

const EOF_TOKEN: Token<'static> = Token {
    kind: Kind::Eof,
    value: "",
    col_start: 0,
    col_end: 0,
};

/// Errors inside the parser: the end of input is told apart so the parser
/// can treat it as the end of a list.
#[derive(Debug, Clone)]
enum PErr {
    Eof,
    Msg(String),
}

impl fmt::Display for PErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PErr::Eof => f.write_str("end of input"),
            PErr::Msg(m) => f.write_str(m),
        }
    }
}

struct Lexer<'a> {
    input: &'a str,
    err: Option<String>,
    start: usize,
    pos: usize,
    width: usize,
    column: usize,
    cols: usize,
}

impl<'a> Lexer<'a> {
    fn next(&mut self) -> Option<char> {
        match self.input[self.pos..].chars().next() {
            None => {
                self.width = 0;
                None
            }
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                self.cols += 1;
                Some(c)
            }
        }
    }
    fn rewind(&mut self) {
        self.pos -= self.width;
        if self.width > 0 {
            self.cols -= 1;
        }
    }
    fn skip(&mut self) {
        self.start = self.pos;
        self.column = self.cols;
    }
    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(c) if valid.contains(c) => true,
            _ => {
                self.rewind();
                false
            }
        }
    }
    fn emit(&mut self, kind: Kind) -> Token<'a> {
        let t = Token {
            kind,
            value: &self.input[self.start..self.pos],
            col_start: self.column,
            col_end: self.cols,
        };
        self.start = self.pos;
        self.column = self.cols;
        t
    }
    fn expected(&self, expected: &str) -> String {
        if self.pos >= self.input.len() {
            format!(
                "{}:{}: unexpected end of input, expected one of '{expected}'",
                self.column, self.cols
            )
        } else {
            format!(
                "{}:{}: {}: expected one of '{expected}'",
                self.column,
                self.cols,
                &self.input[self.start..self.pos]
            )
        }
    }

    fn scan(&mut self) -> Result<Token<'a>, String> {
        if let Some(e) = &self.err {
            return Err(e.clone());
        }
        let r = self.scan_inner();
        if let Err(e) = &r {
            self.err = Some(e.clone());
        }
        r
    }

    fn scan_inner(&mut self) -> Result<Token<'a>, String> {
        while let Some(c) = self.next() {
            match c {
                '{' => return Ok(self.emit(Kind::OpenBrace)),
                '}' => return Ok(self.emit(Kind::CloseBrace)),
                ',' => return Ok(self.emit(Kind::Comma)),
                '=' | '!' => {
                    self.rewind();
                    return self.scan_operator();
                }
                '"' => {
                    self.rewind();
                    return self.scan_quoted();
                }
                c if !is_reserved(c) => {
                    self.rewind();
                    while let Some(c) = self.next() {
                        if is_reserved(c) {
                            self.rewind();
                            break;
                        }
                    }
                    return Ok(self.emit(Kind::Unquoted));
                }
                c if c.is_whitespace() => self.skip(),
                _ => {
                    return Err(format!(
                        "{}:{}: {}: invalid input",
                        self.column,
                        self.cols,
                        &self.input[self.start..self.pos]
                    ))
                }
            }
        }
        Ok(EOF_TOKEN)
    }

    fn scan_operator(&mut self) -> Result<Token<'a>, String> {
        if self.accept("!") {
            if self.accept("=") {
                return Ok(self.emit(Kind::NotEquals));
            }
            if self.accept("~") {
                return Ok(self.emit(Kind::NotMatches));
            }
            return Err(self.expected("=~"));
        }
        if self.accept("=") {
            if self.accept("~") {
                return Ok(self.emit(Kind::Matches));
            }
            return Ok(self.emit(Kind::Equals));
        }
        Err(self.expected("!="))
    }

    fn scan_quoted(&mut self) -> Result<Token<'a>, String> {
        if !self.accept("\"") {
            return Err(self.expected("\""));
        }
        let mut escaped = false;
        while let Some(c) = self.next() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                self.rewind();
                break;
            }
        }
        if !self.accept("\"") {
            return Err(format!(
                "{}:{}: {}: missing end \"",
                self.column,
                self.cols,
                &self.input[self.start..self.pos]
            ));
        }
        Ok(self.emit(Kind::Quoted))
    }

    fn peek(&mut self) -> Result<Token<'a>, String> {
        let saved = (self.start, self.pos, self.width, self.column, self.cols);
        let r = self.scan();
        (self.start, self.pos, self.width, self.column, self.cols) = saved;
        r
    }
}

impl Token<'_> {
    fn unquote(&self) -> Result<String, String> {
        if self.kind != Kind::Quoted {
            return Ok(self.value.to_string());
        }
        let s = unquote_go(self.value).ok_or_else(|| "invalid syntax".to_string())?;
        String::from_utf8(s).map_err(|_| "quoted string contains invalid UTF-8 code points".into())
    }
}

/// Go's `strconv.Unquote` for a double-quoted string, as bytes (`\x` escapes
/// may produce invalid UTF-8).
fn unquote_go(s: &str) -> Option<Vec<u8>> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = Vec::with_capacity(inner.len());
    let mut it = inner.chars().peekable();
    let hex = |it: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            v = v * 16 + it.next()?.to_digit(16)?;
        }
        Some(v)
    };
    while let Some(c) = it.next() {
        match c {
            '"' | '\n' => return None,
            '\\' => {
                let e = it.next()?;
                match e {
                    'a' => out.push(7),
                    'b' => out.push(8),
                    'f' => out.push(12),
                    'n' => out.push(b'\n'),
                    'r' => out.push(b'\r'),
                    't' => out.push(b'\t'),
                    'v' => out.push(11),
                    '\\' => out.push(b'\\'),
                    '"' => out.push(b'"'),
                    'x' => out.push(hex(&mut it, 2)? as u8),
                    'u' | 'U' => {
                        let v = hex(&mut it, if e == 'u' { 4 } else { 8 })?;
                        let ch = char::from_u32(v)?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    '0'..='7' => {
                        let mut v = e.to_digit(8)?;
                        for _ in 0..2 {
                            v = v * 8 + it.next()?.to_digit(8)?;
                        }
                        if v > 255 {
                            return None;
                        }
                        out.push(v as u8);
                    }
                    _ => return None,
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Some(out)
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    matchers: Vec<Matcher>,
    has_open_brace: bool,
}

#[derive(Clone, Copy)]
enum State {
    OpenBrace,
    CloseBrace,
    Matcher,
    EndOfMatcher,
    Comma,
    Eof,
}

impl<'a> Parser<'a> {
    fn peek_kind(&mut self, kinds: &[Kind]) -> Result<(Token<'a>, bool), PErr> {
        let t = self.lexer.peek().map_err(PErr::Msg)?;
        if t.kind == Kind::Eof {
            return Err(PErr::Eof);
        }
        Ok((t, kinds.contains(&t.kind)))
    }
    fn accept(&mut self, kinds: &[Kind]) -> Result<bool, PErr> {
        let (_, ok) = self.peek_kind(kinds)?;
        if ok {
            self.lexer.scan().map_err(PErr::Msg)?;
        }
        Ok(ok)
    }
    fn expect_peek(&mut self, kinds: &[Kind]) -> Result<Token<'a>, PErr> {
        let (t, ok) = self.peek_kind(kinds)?;
        if !ok {
            return Err(PErr::Msg(format!(
                "{}:{}: unexpected {}",
                t.col_start, t.col_end, t.value
            )));
        }
        Ok(t)
    }
    fn expect(&mut self, kinds: &[Kind]) -> Result<Token<'a>, PErr> {
        let t = self.expect_peek(kinds)?;
        self.lexer.scan().map_err(PErr::Msg)?;
        Ok(t)
    }

    fn step(&mut self, state: State) -> Result<Option<State>, String> {
        let wrap = |e: PErr, what: &str| format!("{e}: {what}");
        match state {
            State::OpenBrace => {
                match self.accept(&[Kind::OpenBrace]) {
                    Ok(b) => self.has_open_brace = b,
                    Err(PErr::Eof) => return Ok(Some(State::Eof)),
                    Err(e) => return Err(e.to_string()),
                }
                match self.peek_kind(&[Kind::CloseBrace]) {
                    Ok((_, true)) => Ok(Some(State::CloseBrace)),
                    Ok((_, false)) => Ok(Some(State::Matcher)),
                    Err(PErr::Eof) => Ok(Some(State::CloseBrace)),
                    Err(e) => Err(e.to_string()),
                }
            }
            State::CloseBrace => {
                let r = self.expect(&[Kind::CloseBrace]);
                if self.has_open_brace {
                    if let Err(e) = r {
                        return Err(format!("0:{}: {e}: expected close brace", self.lexer.cols));
                    }
                } else if r.is_ok() {
                    return Err(format!("0:{}: }}: expected opening brace", self.lexer.cols));
                }
                Ok(Some(State::Eof))
            }
            State::Matcher => {
                let t = self
                    .expect(&[Kind::Quoted, Kind::Unquoted])
                    .map_err(|e| wrap(e, "expected label name"))?;
                let name = t.unquote().map_err(|_| {
                    format!("{}:{}: {}: invalid input", t.col_start, t.col_end, t.value)
                })?;
                let op = self
                    .expect(&[
                        Kind::Equals,
                        Kind::NotEquals,
                        Kind::Matches,
                        Kind::NotMatches,
                    ])
                    .map_err(|e| wrap(e, "expected an operator such as '=', '!=', '=~' or '!~'"))?;
                let match_type = match op.kind {
                    Kind::Equals => MatchType::Equal,
                    Kind::NotEquals => MatchType::NotEqual,
                    Kind::Matches => MatchType::Regexp,
                    _ => MatchType::NotRegexp,
                };
                let t = self
                    .expect(&[Kind::Unquoted, Kind::Quoted])
                    .map_err(|e| wrap(e, "expected label value"))?;
                let value = t.unquote().map_err(|_| {
                    format!("{}:{}: {}: invalid input", t.col_start, t.col_end, t.value)
                })?;
                let m = Matcher::new(match_type, name, value)
                    .map_err(|e| format!("failed to create matcher: {e}"))?;
                self.matchers.push(m);
                Ok(Some(State::EndOfMatcher))
            }
            State::EndOfMatcher => match self.expect_peek(&[Kind::Comma, Kind::CloseBrace]) {
                Err(PErr::Eof) => Ok(Some(State::CloseBrace)),
                Err(e) => Err(wrap(e, "expected a comma or close brace")),
                Ok(t) if t.kind == Kind::Comma => Ok(Some(State::Comma)),
                Ok(_) => Ok(Some(State::CloseBrace)),
            },
            State::Comma => {
                self.expect(&[Kind::Comma])
                    .map_err(|e| wrap(e, "expected a comma"))?;
                match self.expect_peek(&[Kind::CloseBrace, Kind::Unquoted, Kind::Quoted]) {
                    Err(PErr::Eof) => Ok(Some(State::CloseBrace)),
                    Err(e) => Err(wrap(e, "expected a matcher or close brace after comma")),
                    Ok(t) if t.kind == Kind::CloseBrace => Ok(Some(State::CloseBrace)),
                    Ok(_) => Ok(Some(State::Matcher)),
                }
            }
            State::Eof => {
                let t = self
                    .lexer
                    .scan()
                    .map_err(|e| format!("{e}: expected end of input"))?;
                if t.kind != Kind::Eof {
                    return Err(format!(
                        "{}:{}: {}: expected end of input",
                        t.col_start, t.col_end, t.value
                    ));
                }
                Ok(None)
            }
        }
    }
}

/// The UTF-8 matchers parser (Alertmanager's `matcher/parse.Matchers`).
pub fn parse_matchers_utf8(input: &str) -> Result<Vec<Matcher>, MatcherError> {
    let mut p = Parser {
        lexer: Lexer {
            input,
            err: None,
            start: 0,
            pos: 0,
            width: 0,
            column: 0,
            cols: 0,
        },
        matchers: Vec::new(),
        has_open_brace: false,
    };
    let mut state = State::OpenBrace;
    loop {
        match p.step(state).map_err(MatcherError)? {
            Some(s) => state = s,
            None => return Ok(p.matchers),
        }
    }
}

/// The UTF-8 parser for exactly one matcher.
pub fn parse_matcher_utf8(input: &str) -> Result<Matcher, MatcherError> {
    let mut m = parse_matchers_utf8(input)?;
    match m.len() {
        1 => Ok(m.remove(0)),
        0 => Err(MatcherError("no matchers".into())),
        n => Err(MatcherError(format!("expected 1 matcher, found {n}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: MatchType, n: &str, v: &str) -> Matcher {
        Matcher::new(t, n, v).expect("valid")
    }
    use MatchType::*;

    // Cases from Alertmanager's matcher/parse tests (our own table).
    #[test]
    fn utf8_parser() {
        let ok: Vec<(&str, Vec<Matcher>)> = vec![
            ("{}", vec![]),
            ("", vec![]),
            ("foo=bar", vec![m(Equal, "foo", "bar")]),
            ("{foo=bar}", vec![m(Equal, "foo", "bar")]),
            ("{foo=\"bar\"}", vec![m(Equal, "foo", "bar")]),
            ("{foo=bar,}", vec![m(Equal, "foo", "bar")]),
            ("foo=bar,", vec![m(Equal, "foo", "bar")]),
            ("{foo!=bar}", vec![m(NotEqual, "foo", "bar")]),
            ("{foo=~[a-z]+}", vec![m(Regexp, "foo", "[a-z]+")]),
            ("{foo!~\"[a-z]+\"}", vec![m(NotRegexp, "foo", "[a-z]+")]),
            (
                "{foo=bar,bar=baz}",
                vec![m(Equal, "foo", "bar"), m(Equal, "bar", "baz")],
            ),
            (
                "{ foo = bar , bar = baz }",
                vec![m(Equal, "foo", "bar"), m(Equal, "bar", "baz")],
            ),
            ("{foo=\"bar,baz\"}", vec![m(Equal, "foo", "bar,baz")]),
            ("{foo=\"\\\"bar\\\"\"}", vec![m(Equal, "foo", "\"bar\"")]),
            ("{\"foo bar\"=baz}", vec![m(Equal, "foo bar", "baz")]),
            ("{foo=🙂}", vec![m(Equal, "foo", "🙂")]),
            ("{🙂=bar}", vec![m(Equal, "🙂", "bar")]),
            ("{foo=\"\"}", vec![m(Equal, "foo", "")]),
            ("{foo=\"\\u00e9\"}", vec![m(Equal, "foo", "é")]),
            ("{foo=bar\u{3000}}", vec![m(Equal, "foo", "bar")]),
        ];
        for (input, want) in ok {
            let got = parse_matchers_utf8(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got, want, "{input}");
        }
        let bad = [
            (",", "0:1: unexpected ,: expected label name"),
            ("{,}", "1:2: unexpected ,: expected label name"),
            ("{", "0:1: end of input: expected close brace"),
            ("}", "0:1: }: expected opening brace"),
            ("foo=bar}", "0:8: }: expected opening brace"),
            ("{foo=bar", "0:8: end of input: expected close brace"),
            (
                "{foo=:\"bar\"}",
                "6:11: unexpected \"bar\": expected a comma or close brace",
            ),
            ("{foo=\"bar\\w\"}", "5:12: \"bar\\w\": invalid input"),
            ("{\"foo\"=~\"\\d+\"}", "8:13: \"\\d+\": invalid input"),
            (
                "{foo=bar\\n}",
                "8:9: \\: invalid input: expected a comma or close brace",
            ),
            (
                "{\"foo\"=\"\\xf0\\x9f\"}",
                "7:17: \"\\xf0\\x9f\": invalid input",
            ),
            ("{foo=~\"[a-z\"}", "failed to create matcher"),
        ];
        for (input, want) in bad {
            let e = parse_matchers_utf8(input).expect_err(input).to_string();
            if want.starts_with("failed") {
                assert!(e.starts_with(want), "{input}: got {e:?}, want {want:?}");
            } else {
                assert_eq!(e, want, "{input}");
            }
        }
    }

    // Cases from Alertmanager's pkg/labels parse tests (our own table).
    #[test]
    fn classic_parser() {
        let ok: Vec<(&str, Vec<Matcher>)> = vec![
            ("{foo=\"bar\"}", vec![m(Equal, "foo", "bar")]),
            ("{foo=~\"bar.*\"}", vec![m(Regexp, "foo", "bar.*")]),
            ("{foo!=\"bar\"}", vec![m(NotEqual, "foo", "bar")]),
            ("{foo!~\"bar.*\"}", vec![m(NotRegexp, "foo", "bar.*")]),
            (
                "{foo=\"bar\", baz!=\"quux\"}",
                vec![m(Equal, "foo", "bar"), m(NotEqual, "baz", "quux")],
            ),
            (
                "{foo=\"bar,quux\", job=\"job1\"}",
                vec![m(Equal, "foo", "bar,quux"), m(Equal, "job", "job1")],
            ),
            (
                "{foo = \"bar\", dings != \"bums\", }",
                vec![m(Equal, "foo", "bar"), m(NotEqual, "dings", "bums")],
            ),
            (
                "foo=bar,dings!=bums",
                vec![m(Equal, "foo", "bar"), m(NotEqual, "dings", "bums")],
            ),
            (
                "{quote=\"She said: \\\"Hi, ladies! That's gender-neutral…\\\"\"}",
                vec![m(
                    Equal,
                    "quote",
                    "She said: \"Hi, ladies! That's gender-neutral…\"",
                )],
            ),
            ("statuscode=~\"5..\"", vec![m(Regexp, "statuscode", "5..")]),
            ("tags=~\"^(?=.*value)\"", vec![]),
            ("{foo=\"bar}\"}", vec![m(Equal, "foo", "bar}")]),
            ("{foo=\"bar\\\\\"}", vec![m(Equal, "foo", "bar\\")]),
            ("{foo=\"\\n\"}", vec![m(Equal, "foo", "\n")]),
            ("{foo=bar\\}", vec![m(Equal, "foo", "bar\\")]),
            (
                "trickier==\\\\=\\=\\\"",
                vec![m(Equal, "trickier", "=\\=\\=\"")],
            ),
            (
                "contains_quote != \"\\\"\" , contains_comma !~ \"foo,bar\" , ",
                vec![
                    m(NotEqual, "contains_quote", "\""),
                    m(NotRegexp, "contains_comma", "foo,bar"),
                ],
            ),
            ("foo=", vec![m(Equal, "foo", "")]),
        ];
        for (input, want) in ok {
            let r = parse_matchers_classic(input);
            if input.contains("?=") {
                // Lookahead is not RE2: an error, as in Go.
                assert!(r.is_err(), "{input}");
                continue;
            }
            assert_eq!(
                r.unwrap_or_else(|e| panic!("{input}: {e}")),
                want,
                "{input}"
            );
        }
        for (input, want) in [
            ("job=", None),
            (
                "{foo=\"bar\"\"}",
                Some("matcher value contains unescaped double quote: \"bar\"\""),
            ),
            (
                "{foo=\"bar}",
                Some("matcher value contains unescaped double quote: \"bar"),
            ),
            (
                "{foo=bar\"}",
                Some("matcher value contains unescaped double quote: bar\""),
            ),
            ("{,foo=bar}", Some("bad matcher format: ")),
            ("{foo=bar,,baz=quux}", Some("bad matcher format: ")),
            ("{1foo=bar}", Some("bad matcher format: 1foo=bar")),
        ] {
            let r = parse_matchers_classic(input);
            match want {
                None => assert!(r.is_ok(), "{input}"),
                Some(w) => assert_eq!(r.expect_err(input).to_string(), w, "{input}"),
            }
        }
    }

    #[test]
    fn fallback_and_display() {
        // Classic-only input: unquoted regex with a comma-free special char.
        let v = parse_matchers("{foo=~bar.*}").expect("fallback");
        assert_eq!(v, vec![m(Regexp, "foo", "bar.*")]);
        // Disagreement: the classic result wins (the classic parser keeps
        // `\d` as written; the UTF-8 one rejects `\` in unquoted text).
        let v = parse_matchers("foo=~\\d+").expect("fallback");
        assert_eq!(v, vec![m(Regexp, "foo", "\\d+")]);
        let v = parse_matchers("{\"foo bar\"=\"baz\"}").expect("utf8");
        assert_eq!(v[0].to_string(), "\"foo bar\"=\"baz\"");
        assert_eq!(
            m(Equal, "a", "x\"y\\z\n").to_string(),
            "a=\"x\\\"y\\\\z\\n\""
        );
        assert!(parse_matcher("{a=b}").is_err());
        assert_eq!(parse_matcher("a=b").expect("one").to_string(), "a=\"b\"");
        let ms = Matchers::new(vec![m(Equal, "b", "1"), m(NotEqual, "a", "2")]);
        assert_eq!(ms.to_string(), "{a!=\"2\",b=\"1\"}");
    }

    #[test]
    fn matching() {
        let l = Labels::from_pairs([("a", "1"), ("b", "x\ny")]);
        assert!(m(Equal, "a", "1").matches_labels(&l));
        assert!(m(NotEqual, "c", "1").matches_labels(&l));
        assert!(m(Equal, "c", "").matches_labels(&l));
        assert!(m(Regexp, "a", "1|2").matches_labels(&l));
        assert!(!m(Regexp, "a", "").matches_labels(&l));
        // anchored: no partial match
        assert!(!m(Regexp, "a", "").matches("11"));
        // `.` does not match a newline in Alertmanager (no `s` flag)
        assert!(!m(Regexp, "b", "x.y").matches_labels(&l));
        assert!(m(NotRegexp, "b", "x.y").matches_labels(&l));
    }

    // Alertmanager's matcher compliance cases (our own table): input, the
    // matchers, the classic parser's error, and whether the case is one
    // where only the classic parser gives that result.
    type Case = (
        &'static str,
        &'static [(MatchType, &'static str, &'static str)],
        &'static str,
        bool,
    );
    #[rustfmt::skip]
    const COMPLIANCE: &[Case] = &[
        ("{}", &[], "", false),
        ("{foo='}", &[(Equal, "foo", "'")], "", true),
        ("{foo=`}", &[(Equal, "foo", "`")], "", true),
        ("{foo=\\n}", &[(Equal, "foo", "\n")], "", true),
        ("{foo=bar\\n}", &[(Equal, "foo", "bar\n")], "", true),
        ("{foo=\\t}", &[(Equal, "foo", "\\t")], "", true),
        ("{foo=bar\\t}", &[(Equal, "foo", "bar\\t")], "", true),
        ("{foo=bar\\}", &[(Equal, "foo", "bar\\")], "", true),
        ("{foo=bar\\\\}", &[(Equal, "foo", "bar\\")], "", true),
        ("{foo=\\\"}", &[(Equal, "foo", "\"")], "", true),
        ("{foo=bar\\\"}", &[(Equal, "foo", "bar\"")], "", true),
        ("{foo=bar}", &[(Equal, "foo", "bar")], "", false),
        ("{foo=\"bar\"}", &[(Equal, "foo", "bar")], "", false),
        ("{foo=~bar.*}", &[(Regexp, "foo", "bar.*")], "", false),
        ("{foo=~\"bar.*\"}", &[(Regexp, "foo", "bar.*")], "", false),
        ("{foo!=bar}", &[(NotEqual, "foo", "bar")], "", false),
        ("{foo!=\"bar\"}", &[(NotEqual, "foo", "bar")], "", false),
        ("{foo!~bar.*}", &[(NotRegexp, "foo", "bar.*")], "", false),
        ("{foo!~\"bar.*\"}", &[(NotRegexp, "foo", "bar.*")], "", false),
        ("{foo=\"bar\", baz!=\"quux\"}", &[(Equal, "foo", "bar"), (NotEqual, "baz", "quux")], "", false),
        ("{foo=\"bar\", baz!~\"quux.*\"}", &[(Equal, "foo", "bar"), (NotRegexp, "baz", "quux.*")], "", false),
        ("{foo=\"bar\",baz!~\".*quux\", derp=\"wat\"}", &[(Equal, "foo", "bar"), (NotRegexp, "baz", ".*quux"), (Equal, "derp", "wat")], "", false),
        ("{foo=\"bar\", baz!=\"quux\", derp=\"wat\"}", &[(Equal, "foo", "bar"), (NotEqual, "baz", "quux"), (Equal, "derp", "wat")], "", false),
        ("{foo=\"bar\", baz!~\".*quux.*\", derp=\"wat\"}", &[(Equal, "foo", "bar"), (NotRegexp, "baz", ".*quux.*"), (Equal, "derp", "wat")], "", false),
        ("{foo=\"bar\", instance=~\"some-api.*\"}", &[(Equal, "foo", "bar"), (Regexp, "instance", "some-api.*")], "", false),
        ("{foo=\"\"}", &[(Equal, "foo", "")], "", false),
        ("{foo=\"bar,quux\", job=\"job1\"}", &[(Equal, "foo", "bar,quux"), (Equal, "job", "job1")], "", false),
        ("{foo = \"bar\", dings != \"bums\", }", &[(Equal, "foo", "bar"), (NotEqual, "dings", "bums")], "", false),
        ("foo=bar,dings!=bums", &[(Equal, "foo", "bar"), (NotEqual, "dings", "bums")], "", false),
        ("{quote=\"She said: \\\"Hi, ladies! That's gender-neutral…\\\"\"}", &[(Equal, "quote", "She said: \"Hi, ladies! That's gender-neutral…\"")], "", false),
        ("statuscode=~\"5..\"", &[(Regexp, "statuscode", "5..")], "", false),
        ("tricky=~~~", &[(Regexp, "tricky", "~~")], "", true),
        ("trickier==\\\\=\\=\\\"", &[(Equal, "trickier", "=\\=\\=\"")], "", true),
        ("contains_quote != \"\\\"\" , contains_comma !~ \"foo,bar\" , ", &[(NotEqual, "contains_quote", "\""), (NotRegexp, "contains_comma", "foo,bar")], "", false),
        ("{foo=bar}}", &[(Equal, "foo", "bar}")], "", true),
        ("{foo=bar}},}", &[(Equal, "foo", "bar}}")], "", true),
        ("{foo=,bar=}}", &[(Equal, "foo", ""), (Equal, "bar", "}")], "", true),
        ("job=", &[(Equal, "job", "")], "", true),
        ("{name-with-dashes = \"bar\"}", &[(Equal, "name-with-dashes", "bar")], "", false),
        ("{,}", &[], "bad matcher format: ", false),
        ("job=\"value", &[], "matcher value contains unescaped double quote: \"value", false),
        ("job=value\"", &[], "matcher value contains unescaped double quote: value\"", false),
        ("trickier==\\\\=\\=\\\"\"", &[], "matcher value contains unescaped double quote: =\\\\=\\=\\\"\"", false),
        ("contains_unescaped_quote = foo\"bar", &[], "matcher value contains unescaped double quote: foo\"bar", false),
        ("{foo=~\"invalid[regexp\"}", &[], "error parsing regexp: missing closing ]: `[regexp)$`", false),
        ("\"{foo=\\\"bar\"}", &[], "bad matcher format: \"{foo=\\\"bar\"", false),
        ("\"foo=\\\"bar\"", &[], "bad matcher format: \"foo=\\\"bar\"", false),
        ("\"foo=\\\"bar\\\"\"", &[], "bad matcher format: \"foo=\\\"bar\\\"\"", false),
        ("\"foo=\\\"bar\\\"", &[], "bad matcher format: \"foo=\\\"bar\\\"", false),
        ("\"{foo=\\\"bar\\\"}\"", &[], "bad matcher format: \"{foo=\\\"bar\\\"}\"", false),
        ("\"foo=\"bar\"\"", &[], "bad matcher format: \"foo=\"bar\"\"", false),
        ("{{foo=", &[], "bad matcher format: {foo=", false),
        ("{foo=", &[(Equal, "foo", "")], "", true),
        ("{foo=}b", &[(Equal, "foo", "}b")], "", true),
    ];

    #[test]
    fn compliance() {
        for (input, want, err, classic_only) in COMPLIANCE {
            let want: Vec<Matcher> = want.iter().map(|(t, n, v)| m(*t, n, v)).collect();
            if !*classic_only {
                // The UTF-8 parser: same matchers, or an error.
                let got = parse_matchers_utf8(input);
                if err.is_empty() {
                    assert_eq!(
                        got.unwrap_or_else(|e| panic!("{input}: {e}")),
                        want,
                        "{input}"
                    );
                    assert_eq!(parse_matchers(input).expect("fallback"), want, "{input}");
                } else {
                    assert!(got.is_err(), "{input}");
                }
            }
            // The classic parser, whose results and messages these are.
            let got = parse_matchers_classic(input);
            if err.is_empty() {
                if input.contains("name-with-dashes") {
                    assert!(got.is_err(), "{input}");
                    continue;
                }
                assert_eq!(
                    got.unwrap_or_else(|e| panic!("{input}: {e}")),
                    want,
                    "{input}"
                );
                if *classic_only {
                    // what the default mode falls back to
                    assert_eq!(parse_matchers(input).expect("fallback"), want, "{input}");
                }
            } else {
                let e = got.expect_err(input).to_string();
                if err.starts_with("error parsing regexp") {
                    assert!(e.starts_with("error parsing regexp"), "{input}: {e}");
                } else {
                    assert_eq!(&e, err, "{input}");
                }
            }
        }
    }

    /// Random inputs from an alphabet of reserved, quoting, escape and
    /// multi-byte characters: no parser panics, and the default mode
    /// accepts whatever either parser accepts.
    #[test]
    fn no_panics_on_odd_input() {
        let alphabet: Vec<char> = "ab_:{}=!~,\\\"'` \t\n.*()[]xé🙂\u{3000}0".chars().collect();
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 14) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let u = parse_matchers_utf8(&s);
            let c = parse_matchers_classic(&s);
            let f = parse_matchers(&s);
            assert_eq!(f.is_ok(), u.is_ok() || c.is_ok(), "{s:?}");
            let _ = parse_matcher(&s);
        }
    }
}
