//! The PromQL lexer: turns a query into tokens with byte positions. Mirrors
//! the states of Prometheus' `lex.go` (top level, inside braces, inside a
//! range/subquery bracket) so that errors carry the same messages and
//! positions.

use crate::ast::AggregateOp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum T {
    Eof,
    Comma,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Colon,
    At,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eqlc,
    Neq,
    Lte,
    Lss,
    Gte,
    Gtr,
    TrimUpper,
    TrimLower,
    Eql,
    EqlRegex,
    NeqRegex,
    Number,
    Duration,
    Str,
    Ident,
    MetricIdent,
    // Operator keywords.
    And,
    Or,
    Unless,
    Atan2,
    Agg(AggregateOp),
    // Keywords.
    Offset,
    Smoothed,
    Anchored,
    By,
    Without,
    On,
    Ignoring,
    GroupLeft,
    GroupRight,
    Fill,
    FillLeft,
    FillRight,
    Bool,
    // "Preprocessors".
    Start,
    End,
    Step,
    Range,
    MaxOf,
    MinOf,
}

impl T {
    fn is_operator(self) -> bool {
        use T::*;
        matches!(
            self,
            Add | Div | Eqlc | EqlRegex | Gte | Gtr | TrimUpper | TrimLower | And | Or | Lss | Lte | Unless | Mod | Mul | Neq | NeqRegex | Pow | Sub | At | Atan2
        )
    }

    fn is_keyword(self) -> bool {
        use T::*;
        matches!(
            self,
            Bool | By | GroupLeft | GroupRight | Fill | FillLeft | FillRight | Ignoring | Offset | Smoothed | Anchored | On | Without
        )
    }

    /// Token types Prometheus lists in `ItemTypeStr` (described by their text).
    fn has_type_str(self) -> bool {
        !matches!(self, T::Eof | T::Number | T::Duration | T::Str | T::Ident | T::MetricIdent)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Token {
    pub t: T,
    pub start: usize,
    pub end: usize,
}

/// A lexing error: message and the start position Prometheus reports (the
/// error range always ends at the end of the input).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LexError {
    pub message: String,
    pub start: usize,
}

fn keyword(word: &str) -> Option<T> {
    let lower = word.to_ascii_lowercase();
    Some(match lower.as_str() {
        "and" => T::And,
        "or" => T::Or,
        "unless" => T::Unless,
        "atan2" => T::Atan2,
        "sum" => T::Agg(AggregateOp::Sum),
        "avg" => T::Agg(AggregateOp::Avg),
        "count" => T::Agg(AggregateOp::Count),
        "min" => T::Agg(AggregateOp::Min),
        "max" => T::Agg(AggregateOp::Max),
        "group" => T::Agg(AggregateOp::Group),
        "stddev" => T::Agg(AggregateOp::Stddev),
        "stdvar" => T::Agg(AggregateOp::Stdvar),
        "topk" => T::Agg(AggregateOp::Topk),
        "bottomk" => T::Agg(AggregateOp::Bottomk),
        "count_values" => T::Agg(AggregateOp::CountValues),
        "quantile" => T::Agg(AggregateOp::Quantile),
        "limitk" => T::Agg(AggregateOp::Limitk),
        "limit_ratio" => T::Agg(AggregateOp::LimitRatio),
        "offset" => T::Offset,
        "smoothed" => T::Smoothed,
        "anchored" => T::Anchored,
        "by" => T::By,
        "without" => T::Without,
        "on" => T::On,
        "ignoring" => T::Ignoring,
        "group_left" => T::GroupLeft,
        "group_right" => T::GroupRight,
        "fill" => T::Fill,
        "fill_left" => T::FillLeft,
        "fill_right" => T::FillRight,
        "bool" => T::Bool,
        "start" => T::Start,
        "end" => T::End,
        "step" => T::Step,
        "range" => T::Range,
        "max_of" => T::MaxOf,
        "min_of" => T::MinOf,
        "inf" | "nan" => T::Number,
        _ => return None,
    })
}

fn duration_keyword(word: &str) -> Option<T> {
    match word.to_ascii_lowercase().as_str() {
        "step" => Some(T::Step),
        "range" => Some(T::Range),
        "max_of" => Some(T::MaxOf),
        "min_of" => Some(T::MinOf),
        _ => None,
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}
fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}
fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}
fn is_alnum(c: char) -> bool {
    is_alpha(c) || is_digit(c)
}

/// Go's `%q` for a rune.
pub(crate) fn quote_rune(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '\\' => "'\\\\'".into(),
        '\n' => "'\\n'".into(),
        '\r' => "'\\r'".into(),
        '\t' => "'\\t'".into(),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!("'\\x{:02x}'", c as u32),
        c => format!("'{c}'"),
    }
}

/// Go's `%#U` for a rune: `U+0063 'c'`.
fn fmt_u(c: char) -> String {
    if (c as u32) < 0x20 || c as u32 == 0x7f {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{}'", c as u32, c)
    }
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    /// Width of the last rune read (0 at EOF), for `backup`.
    width: usize,
    paren_depth: i32,
    brace_open: bool,
    bracket_open: bool,
    /// Inside `[`, before the first number (Prometheus' `lexDurationExpr`).
    dur_mode: bool,
    got_colon: bool,
    got_duration: bool,
    toks: Vec<Token>,
}

const EOF: char = '\u{FFFF}'; // sentinel; never a valid PromQL character we branch on

impl<'a> Lexer<'a> {
    fn next(&mut self) -> char {
        match self.input[self.pos..].chars().next() {
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                c
            }
            None => {
                self.width = 0;
                EOF
            }
        }
    }
    fn at_eof(&self) -> bool {
        self.pos >= self.input.len()
    }
    fn peek(&mut self) -> char {
        let c = self.next();
        self.backup();
        c
    }
    fn backup(&mut self) {
        self.pos -= self.width;
        self.width = 0;
    }
    fn accept(&mut self, valid: &str) -> bool {
        let c = self.next();
        if c != EOF && valid.contains(c) {
            return true;
        }
        self.backup();
        false
    }
    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }
    fn emit(&mut self, t: T) {
        self.toks.push(Token { t, start: self.start, end: self.pos });
        self.start = self.pos;
    }
    fn ignore(&mut self) {
        self.start = self.pos;
    }
    fn err(&self, message: impl Into<String>) -> LexError {
        LexError { message: message.into(), start: self.start }
    }
    fn skip_spaces(&mut self) {
        while !self.at_eof() && is_space(self.peek()) {
            self.next();
        }
        self.ignore();
    }

    fn run(&mut self) -> Result<(), LexError> {
        loop {
            if self.brace_open {
                if !self.inside_braces()? {
                    continue;
                }
            } else if self.dur_mode {
                self.duration_expr()?;
            } else if self.statements()? {
                return Ok(());
            }
        }
    }

    /// One step of `lexStatements`; returns true at EOF.
    fn statements(&mut self) -> Result<bool, LexError> {
        if self.input[self.pos..].starts_with('#') {
            self.line_comment();
            return Ok(false);
        }
        let r = self.next();
        if r == EOF && self.at_eof() && self.width == 0 {
            if self.paren_depth != 0 {
                return Err(self.err("unclosed left parenthesis"));
            }
            if self.bracket_open {
                return Err(self.err("unclosed left bracket"));
            }
            self.emit(T::Eof);
            return Ok(true);
        }
        match r {
            ',' => self.emit(T::Comma),
            c if is_space(c) => self.skip_spaces(),
            '*' => self.emit(T::Mul),
            '/' => self.emit(T::Div),
            '%' => self.emit(T::Mod),
            '+' => self.emit(T::Add),
            '-' => self.emit(T::Sub),
            '^' => self.emit(T::Pow),
            '=' => match self.peek() {
                '=' => {
                    self.next();
                    self.emit(T::Eqlc)
                }
                '~' => return Err(self.err(format!("unexpected character after '=': {}", quote_rune('~')))),
                _ => self.emit(T::Eql),
            },
            '!' => {
                let t = self.next();
                if t != '=' {
                    let shown = if t == EOF && self.width == 0 { "'�'".to_string() } else { quote_rune(t) };
                    return Err(self.err(format!("unexpected character after '!': {shown}")));
                }
                self.emit(T::Neq)
            }
            '<' => match self.peek() {
                '=' => {
                    self.next();
                    self.emit(T::Lte)
                }
                '/' => {
                    self.next();
                    self.emit(T::TrimUpper)
                }
                _ => self.emit(T::Lss),
            },
            '>' => match self.peek() {
                '=' => {
                    self.next();
                    self.emit(T::Gte)
                }
                '/' => {
                    self.next();
                    self.emit(T::TrimLower)
                }
                _ => self.emit(T::Gtr),
            },
            c if is_digit(c) || (c == '.' && is_digit(self.peek())) => {
                self.backup();
                self.number_or_duration()?;
            }
            '"' | '\'' => self.string(r)?,
            '`' => self.raw_string()?,
            c if is_alpha(c) || c == ':' => {
                if !self.bracket_open {
                    self.backup();
                    self.keyword_or_identifier();
                    return Ok(false);
                }
                if c == ':' {
                    if self.got_colon {
                        return Err(self.err(format!("unexpected colon {}", quote_rune(':'))));
                    }
                    self.emit(T::Colon);
                    self.got_colon = true;
                    return Ok(false);
                }
                if self.duration_keyword() {
                    return Ok(false);
                }
                return Err(self.err(format!("unexpected character: {}, expected {}", quote_rune(c), quote_rune(':'))));
            }
            '(' => {
                self.emit(T::LParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(T::RParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    self.toks.pop();
                    return Err(self.err(format!("unexpected right parenthesis {}", quote_rune(')'))));
                }
            }
            '{' => {
                self.emit(T::LBrace);
                self.brace_open = true;
            }
            '[' => {
                if self.bracket_open {
                    return Err(self.err(format!("unexpected left bracket {}", quote_rune('['))));
                }
                self.got_colon = false;
                self.got_duration = false;
                self.emit(T::LBracket);
                self.skip_spaces();
                self.bracket_open = true;
                self.dur_mode = true;
            }
            ']' => {
                if !self.bracket_open {
                    return Err(self.err(format!("unexpected right bracket {}", quote_rune(']'))));
                }
                self.emit(T::RBracket);
                self.bracket_open = false;
            }
            '@' => self.emit(T::At),
            c => return Err(self.err(format!("unexpected character: {}", quote_rune(c)))),
        }
        Ok(false)
    }

    /// One step of `lexDurationExpr` (right after `[` until the first number).
    fn duration_expr(&mut self) -> Result<(), LexError> {
        let r = self.next();
        if r == EOF && self.width == 0 {
            return Err(self.err("unexpected end of input in duration expression"));
        }
        match r {
            ']' => {
                self.emit(T::RBracket);
                self.bracket_open = false;
                self.got_colon = false;
                self.dur_mode = false;
            }
            ':' => {
                self.emit(T::Colon);
                if !self.got_duration || self.got_colon {
                    self.toks.pop();
                }
                if !self.got_duration {
                    return Err(self.err("unexpected colon before duration in duration expression"));
                }
                if self.got_colon {
                    return Err(self.err("unexpected repeated colon in duration expression"));
                }
                self.got_colon = true;
            }
            '(' => {
                self.emit(T::LParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(T::RParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    self.toks.pop();
                    return Err(self.err(format!("unexpected right parenthesis {}", quote_rune(')'))));
                }
            }
            c if is_space(c) => self.skip_spaces(),
            '+' => self.emit(T::Add),
            '-' => self.emit(T::Sub),
            '*' => self.emit(T::Mul),
            '/' => self.emit(T::Div),
            '%' => self.emit(T::Mod),
            '^' => self.emit(T::Pow),
            ',' => self.emit(T::Comma),
            c if matches!(c.to_ascii_lowercase(), 's' | 'r' | 'm') => {
                if !self.duration_keyword() {
                    return Err(self.err(format!("unexpected character in duration expression: {}", quote_rune(c))));
                }
            }
            c if is_digit(c) || (c == '.' && is_digit(self.peek())) => {
                self.backup();
                self.got_duration = true;
                self.dur_mode = false;
                self.number_or_duration()?;
            }
            c => return Err(self.err(format!("unexpected character in duration expression: {}", quote_rune(c)))),
        }
        Ok(())
    }

    /// Scans a duration keyword (`step`, `range`, `min_of`, `max_of`); the
    /// first letter has been read.
    fn duration_keyword(&mut self) -> bool {
        loop {
            let r = self.next();
            if r != EOF && is_alpha(r) {
                continue;
            }
            self.backup();
            let word = &self.input[self.start..self.pos];
            if let Some(t) = duration_keyword(word) {
                self.emit(t);
                return true;
            }
            return false;
        }
    }

    /// `lexInsideBraces`; returns false when the brace closed.
    fn inside_braces(&mut self) -> Result<bool, LexError> {
        if self.input[self.pos..].starts_with('#') {
            self.line_comment();
            return Ok(true);
        }
        let r = self.next();
        if r == EOF && self.width == 0 {
            return Err(self.err("unexpected end of input inside braces"));
        }
        match r {
            c if is_space(c) => self.skip_spaces(),
            c if is_alpha(c) => {
                while {
                    let c = self.next();
                    c != EOF && is_alnum(c)
                } {}
                self.backup();
                self.emit(T::Ident);
            }
            ',' => self.emit(T::Comma),
            '"' | '\'' => self.string(r)?,
            '`' => self.raw_string()?,
            '=' => {
                if self.next() == '~' {
                    self.emit(T::EqlRegex);
                } else {
                    self.backup();
                    self.emit(T::Eql);
                }
            }
            '!' => {
                let nr = self.next();
                match nr {
                    '~' => self.emit(T::NeqRegex),
                    '=' => self.emit(T::Neq),
                    _ => {
                        return Err(self.err(format!(
                            "unexpected character after '!' inside braces: {}",
                            quote_rune(nr)
                        )))
                    }
                }
            }
            '{' => return Err(self.err(format!("unexpected left brace {}", quote_rune('{')))),
            '}' => {
                self.emit(T::RBrace);
                self.brace_open = false;
                return Ok(false);
            }
            c => return Err(self.err(format!("unexpected character inside braces: {}", quote_rune(c)))),
        }
        Ok(true)
    }

    fn line_comment(&mut self) {
        self.pos += 1;
        while !self.at_eof() {
            let c = self.next();
            if c == '\n' || c == '\r' {
                self.backup();
                break;
            }
        }
        // Comments are dropped.
        self.ignore();
    }

    fn string(&mut self, quote: char) -> Result<(), LexError> {
        loop {
            let c = self.next();
            if c == EOF && self.width == 0 || c == '\n' {
                return Err(self.err("unterminated quoted string"));
            }
            if c == '\\' {
                self.escape(quote)?;
                continue;
            }
            if c == quote {
                break;
            }
        }
        self.emit(T::Str);
        Ok(())
    }

    fn escape(&mut self, quote: char) -> Result<(), LexError> {
        let mut ch = self.next();
        let eof = |l: &Self, c: char| c == EOF && l.width == 0;
        let (mut n, base, max): (u32, u32, u32) = match ch {
            'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' => return Ok(()),
            c if c == quote => return Ok(()),
            '0'..='7' => (3, 8, 255),
            'x' => {
                ch = self.next();
                (2, 16, 255)
            }
            'u' => {
                ch = self.next();
                (4, 16, 0x10FFFF)
            }
            'U' => {
                ch = self.next();
                (8, 16, 0x10FFFF)
            }
            c if eof(self, c) => return Err(self.err("escape sequence not terminated")),
            c => return Err(self.err(format!("unknown escape sequence {}", fmt_u(c)))),
        };
        let mut x: u32 = 0;
        while n > 0 {
            let d = if eof(self, ch) { 16 } else { ch.to_digit(16).unwrap_or(16) };
            if d >= base {
                if eof(self, ch) {
                    return Err(self.err("escape sequence not terminated"));
                }
                return Err(self.err(format!("illegal character {} in escape sequence", fmt_u(ch))));
            }
            x = x.wrapping_mul(base).wrapping_add(d);
            n -= 1;
            if n > 0 {
                ch = self.next();
            }
        }
        if x > max || (0xD800..0xE000).contains(&x) {
            return Err(self.err("escape sequence is an invalid Unicode code point"));
        }
        Ok(())
    }

    fn raw_string(&mut self) -> Result<(), LexError> {
        loop {
            let c = self.next();
            if c == EOF && self.width == 0 {
                return Err(self.err("unterminated raw string"));
            }
            if c == '`' {
                break;
            }
        }
        self.emit(T::Str);
        Ok(())
    }

    fn number_or_duration(&mut self) -> Result<(), LexError> {
        if self.scan_number() {
            self.emit(T::Number);
            return Ok(());
        }
        if self.accept_remaining_duration() {
            self.backup();
            self.emit(T::Duration);
            return Ok(());
        }
        Err(self.err(format!(
            "bad number or duration syntax: {}",
            bongsu_model::labels::quote_go(&self.input[self.start..self.pos])
        )))
    }

    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        let c = self.next();
        !(c != EOF && is_alnum(c))
    }

    fn scan_number(&mut self) -> bool {
        let initial = self.pos;
        let mut digits = "0123456789";
        let hex = "0123456789abcdefABCDEF";
        if self.accept("0") && self.accept("xX") {
            self.accept("_");
            digits = hex;
        }
        self.accept(".");
        self.accept(digits);
        let mut dot = false;
        let mut exp = false;
        loop {
            let c = self.peek();
            if c == EOF || !(digits.contains(c) || c == '.' || c == '_' || c == 'e' || c == 'E') {
                break;
            }
            if c == '.' && dot {
                self.accept(".");
                return false;
            }
            if (c == 'e' || c == 'E') && exp {
                self.accept("eE");
                return false;
            }
            if self.accept(".") {
                dot = true;
                if self.accept("_.") {
                    return false;
                }
                if digits.len() > 10 {
                    return false;
                }
                continue;
            }
            if self.accept("eE") {
                exp = true;
                self.accept("+-");
                if self.accept("._eE") || self.at_eof() {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.at_eof() {
                    return false;
                }
                continue;
            }
            self.accept_run(digits);
        }
        if self.pos == initial {
            return false;
        }
        let c = self.peek();
        !(c != EOF && is_alnum(c))
    }

    fn keyword_or_identifier(&mut self) {
        loop {
            let c = self.next();
            if c != EOF && (is_alnum(c) || c == ':') {
                continue;
            }
            self.backup();
            break;
        }
        let word = &self.input[self.start..self.pos];
        match keyword(word) {
            Some(t @ (T::Fill | T::FillLeft | T::FillRight)) => {
                let rest = &self.input[self.pos..];
                if rest.trim_start_matches(is_space).starts_with('(') {
                    self.emit(t);
                } else {
                    self.emit(T::Ident);
                }
            }
            Some(t) => self.emit(t),
            None if !word.contains(':') => self.emit(T::Ident),
            None => self.emit(T::MetricIdent),
        }
    }
}

/// Tokenizes the whole input. On a lexing error, the tokens before it are
/// returned along with the error.
pub(crate) fn lex(input: &str) -> (Vec<Token>, Option<LexError>) {
    let mut l = Lexer {
        input,
        pos: 0,
        start: 0,
        width: 0,
        paren_depth: 0,
        brace_open: false,
        bracket_open: false,
        dur_mode: false,
        got_colon: false,
        got_duration: false,
        toks: Vec::new(),
    };
    match l.run() {
        Ok(()) => (l.toks, None),
        Err(e) => (l.toks, Some(e)),
    }
}

/// Describes a token for "unexpected …" messages, as Prometheus' `Item.desc`.
pub(crate) fn describe(t: T, text: &str) -> String {
    let q = |s: &str| bongsu_model::labels::quote_go(s);
    if t == T::Eof {
        return "end of input".into();
    }
    let item_str = || -> String {
        if t.is_keyword() {
            return format!("<{text}>");
        }
        if t.is_operator() {
            return format!("<op:{text}>");
        }
        if matches!(t, T::Agg(_)) {
            return format!("<aggr:{text}>");
        }
        if matches!(t, T::Ident | T::MetricIdent) {
            return q(text);
        }
        if text.chars().count() > 10 {
            let short: String = text.chars().take(10).collect();
            return format!("{}...", q(&short));
        }
        q(text)
    };
    if t.has_type_str() {
        return item_str();
    }
    let kind = match t {
        T::Ident => "identifier",
        T::MetricIdent => "metric identifier",
        T::Str => "string",
        T::Number => "number",
        T::Duration => "duration",
        _ => "",
    };
    format!("{kind} {}", item_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<T> {
        let (toks, err) = lex(s);
        assert!(err.is_none(), "{s}: {err:?}");
        toks.into_iter().map(|t| t.t).collect()
    }

    #[test]
    fn lexes_basic() {
        assert_eq!(kinds("foo{a=\"b\"}[5m]"), vec![T::Ident, T::LBrace, T::Ident, T::Eql, T::Str, T::RBrace, T::LBracket, T::Duration, T::RBracket, T::Eof]);
        assert_eq!(kinds("0x1f 1e3 .5 Inf nan 1_000"), vec![T::Number; 6].into_iter().chain([T::Eof]).collect::<Vec<_>>());
        assert_eq!(kinds("a </ b >/ c"), vec![T::Ident, T::TrimUpper, T::Ident, T::TrimLower, T::Ident, T::Eof]);
        assert_eq!(kinds("fill + fill(1)"), vec![T::Ident, T::Add, T::Fill, T::LParen, T::Number, T::RParen, T::Eof]);
        assert_eq!(kinds("x[step()+1:]"), vec![T::Ident, T::LBracket, T::Step, T::LParen, T::RParen, T::Add, T::Number, T::Colon, T::RBracket, T::Eof]);
        assert_eq!(kinds("a:b # comment\n"), vec![T::MetricIdent, T::Eof]);
    }

    #[test]
    fn lex_errors() {
        let e = lex("0deadbeef").1.unwrap();
        assert_eq!(e.message, "bad number or duration syntax: \"0de\"");
        let e = lex("1 !~ 1").1.unwrap();
        assert_eq!((e.message.as_str(), e.start), ("unexpected character after '!': '~'", 2));
        let e = lex("\"\\c\"").1.unwrap();
        assert_eq!(e.message, "unknown escape sequence U+0063 'c'");
    }
}
