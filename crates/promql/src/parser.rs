//! The PromQL parser: a hand-written lexer ([`lexer`]) and a
//! precedence-climbing parser that follows Prometheus 3.14's grammar
//! (`generated_parser.y`) with every feature-flagged syntax enabled
//! (duration expressions, `anchored`/`smoothed`, `fill*` modifiers,
//! experimental functions), followed by Prometheus' type checks
//! (`checkAST`). Error messages and positions follow Prometheus.
//!
//! Constant folding is not done here: `-1` becomes `Number(-1)` (as in
//! Prometheus), everything else keeps its shape.

mod lexer;

use crate::ast::*;
use crate::functions;
use bongsu_model::{MatchOp, Matcher};
use lexer::{describe, Token, T};

/// A syntax error with its position (byte offsets into the query and the
/// 1-based line/column Prometheus prints as `1:5:`). For an empty query
/// `line` and `col` are 0 and the position prints as `unknown position`,
/// as in Prometheus.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: parse error: {message}", position(*.line, *.col))]
pub struct ParseError {
    pub message: String,
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub col: usize,
}

fn position(line: usize, col: usize) -> String {
    if line == 0 {
        "unknown position".into()
    } else {
        format!("{line}:{col}")
    }
}

impl ParseError {
    /// Builds an error for the byte range `start..end` of `input`, computing
    /// the line and column of `start` as Prometheus does (byte columns).
    pub fn new(input: &str, start: usize, end: usize, message: impl Into<String>) -> Self {
        if input.is_empty() {
            return ParseError { message: message.into(), start: 0, end: 0, line: 0, col: 0 };
        }
        let start = start.min(input.len());
        let end = end.clamp(start, input.len());
        let before = input.get(..start).unwrap_or(input);
        let line = before.matches('\n').count() + 1;
        let col = match before.rfind('\n') {
            Some(i) => start - i,
            None => start + 1,
        };
        ParseError { message: message.into(), start, end, line, col }
    }
}

type PResult<T> = Result<T, ParseError>;

/// Parses a PromQL expression.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let (mut toks, lex_err) = lexer::lex(input);
    let err_idx = lex_err.as_ref().map(|e| {
        toks.push(Token { t: T::Eof, start: e.start, end: input.len() });
        toks.len() - 1
    });
    let mut p = Parser { input, toks, pos: 0, lex_err, err_idx, last_closing: 0, depth: 0 };
    if p.peek().t == T::Eof {
        if let Some(e) = p.lex_error() {
            return Err(e);
        }
        return Err(ParseError::new(input, 0, 0, "no expression found in input"));
    }
    let mut expr = p.expr(0)?;
    if p.peek().t != T::Eof {
        return Err(p.unexpected("", ""));
    }
    if let Some(e) = p.lex_error() {
        return Err(e);
    }
    Checker { input }.check(&mut expr, false)?;
    Ok(expr)
}

/// Parses a series selector such as the API's `match[]` parameter
/// (`foo{job="x"}`, `{__name__=~"a.*"}`): Prometheus' `ParseMetricSelector`.
/// Unlike [`parse`], modifiers are not allowed and empty selectors (`{}`)
/// are not rejected here.
pub fn parse_metric_selector(input: &str) -> Result<Vec<Matcher>, ParseError> {
    let (mut toks, lex_err) = lexer::lex(input);
    let err_idx = lex_err.as_ref().map(|e| {
        toks.push(Token { t: T::Eof, start: e.start, end: input.len() });
        toks.len() - 1
    });
    let mut p = Parser { input, toks, pos: 0, lex_err, err_idx, last_closing: 0, depth: 0 };
    let t = p.peek();
    let sel = match t.t {
        T::LBrace => p.vector_selector(None)?,
        tt if is_metric_identifier(tt) => {
            p.next();
            p.vector_selector(Some(t))?
        }
        _ => return Err(p.unexpected("", "")),
    };
    if p.peek().t != T::Eof {
        return Err(p.unexpected("", ""));
    }
    if let Some(e) = p.lex_error() {
        return Err(e);
    }
    match sel {
        Expr::VectorSelector(vs) => Ok(vs.matchers),
        _ => Err(ParseError::new(input, 0, input.len(), "not a vector selector")),
    }
}

/// The `ValueType` names Prometheus uses in type errors.
fn documented(t: ValueType) -> &'static str {
    match t {
        ValueType::Scalar => "scalar",
        ValueType::String => "string",
        ValueType::Vector => "instant vector",
        ValueType::Matrix => "range vector",
    }
}

struct Parser<'a> {
    input: &'a str,
    toks: Vec<Token>,
    pos: usize,
    lex_err: Option<lexer::LexError>,
    /// Index of the synthetic token standing for the lexing error.
    err_idx: Option<usize>,
    /// End of the last closing token (`)`, `}`, `]`, number, duration).
    last_closing: usize,
    /// Current nesting depth of the expression being built.
    depth: usize,
}

/// Deepest expression nesting accepted. Prometheus has no limit, but the
/// checker, printer and evaluator recurse over the tree, so an unbounded
/// depth would let one query overflow a thread's stack.
pub const MAX_NESTING_DEPTH: usize = 256;

/// Binary operator for a token, if it is one.
fn binop(t: T) -> Option<BinaryOp> {
    Some(match t {
        T::Add => BinaryOp::Add,
        T::Sub => BinaryOp::Sub,
        T::Mul => BinaryOp::Mul,
        T::Div => BinaryOp::Div,
        T::Mod => BinaryOp::Mod,
        T::Pow => BinaryOp::Pow,
        T::Atan2 => BinaryOp::Atan2,
        T::Eqlc => BinaryOp::Eql,
        T::Neq => BinaryOp::Neq,
        T::Gtr => BinaryOp::Gtr,
        T::Lss => BinaryOp::Lss,
        T::Gte => BinaryOp::Gte,
        T::Lte => BinaryOp::Lte,
        T::And => BinaryOp::And,
        T::Or => BinaryOp::Or,
        T::Unless => BinaryOp::Unless,
        T::TrimUpper => BinaryOp::TrimUpper,
        T::TrimLower => BinaryOp::TrimLower,
        _ => return None,
    })
}

/// Tokens that may name a metric (`metric_identifier` in the grammar).
fn is_metric_identifier(t: T) -> bool {
    use T::*;
    matches!(
        t,
        Ident | MetricIdent | By | Fill | FillLeft | FillRight | And | Or | Unless | Offset | Without | Start | End
            | Step | Range | Anchored | Smoothed | MaxOf | MinOf | Agg(_)
    )
}

/// Tokens that may be a label name in grouping clauses (`maybe_label`):
/// the `metric_identifier` keywords except `without`, plus a few more.
fn is_maybe_label(t: T) -> bool {
    use T::*;
    (is_metric_identifier(t) && t != Without) || matches!(t, Bool | GroupLeft | GroupRight | Ignoring | On | Atan2)
}

const DUR_EXPECTED: &str = "number, duration, step(), or range()";

impl<'a> Parser<'a> {
    fn peek(&self) -> Token {
        self.toks.get(self.pos).copied().unwrap_or(Token { t: T::Eof, start: self.input.len(), end: self.input.len() })
    }

    fn peek_at(&self, n: usize) -> Token {
        self.toks
            .get(self.pos + n)
            .copied()
            .unwrap_or(Token { t: T::Eof, start: self.input.len(), end: self.input.len() })
    }

    fn next(&mut self) -> Token {
        let t = self.peek();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        if matches!(t.t, T::RBrace | T::RParen | T::RBracket | T::Duration | T::Number) {
            self.last_closing = t.end;
        }
        t
    }

    fn text(&self, t: Token) -> &'a str {
        &self.input[t.start..t.end]
    }

    #[inline(never)]
    fn err(&self, start: usize, end: usize, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.input, start, end, msg)
    }

    #[inline(never)]
    fn lex_error(&self) -> Option<ParseError> {
        self.lex_err.as_ref().map(|e| self.err(e.start, self.input.len(), e.message.clone()))
    }

    /// "unexpected <token> in <context>, expected <expected>" at the current token.
    #[inline(never)]
    fn unexpected(&self, context: &str, expected: &str) -> ParseError {
        if self.err_idx == Some(self.pos) {
            if let Some(e) = self.lex_error() {
                return e;
            }
        }
        let t = self.peek();
        let mut msg = format!("unexpected {}", describe(t.t, self.text(t)));
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        self.err(t.start, t.end, msg)
    }

    fn expect(&mut self, t: T, context: &str, expected: &str) -> PResult<Token> {
        if self.peek().t == t {
            Ok(self.next())
        } else {
            Err(self.unexpected(context, expected))
        }
    }

    // ---- expressions -------------------------------------------------

    fn expr(&mut self, min_prec: u8) -> PResult<Expr> {
        self.enter()?;
        let lhs = self.unary();
        let r = match lhs {
            Ok(lhs) => self.binary_rest(lhs, min_prec),
            Err(e) => Err(e),
        };
        self.depth -= 1;
        r
    }

    /// One level deeper; fails past [`MAX_NESTING_DEPTH`]. The caller
    /// decrements `depth` when done.
    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return Err(self.too_deep());
        }
        Ok(())
    }

    #[inline(never)]
    fn too_deep(&self) -> ParseError {
        let t = self.peek();
        self.err(t.start, t.end, format!("expression nesting too deep (more than {MAX_NESTING_DEPTH} levels)"))
    }

    fn binary_rest(&mut self, mut lhs: Expr, min_prec: u8) -> PResult<Expr> {
        let base = self.depth;
        let mut chain = 0;
        let r = loop {
            let Some(op) = binop(self.peek().t) else { break Ok(lhs) };
            let prec = op.precedence();
            if prec < min_prec {
                break Ok(lhs);
            }
            // Each operator of a chain adds a level to the tree.
            chain += 1;
            if base + chain > MAX_NESTING_DEPTH {
                break Err(self.too_deep());
            }
            // The right operand is parsed one level below this operator.
            self.depth = base + chain - 1;
            self.next();
            let rhs = match self.bin_modifiers() {
                Ok((return_bool, matching)) => {
                    match self.expr(if op.right_assoc() { prec } else { prec + 1 }) {
                        Ok(rhs) => (rhs, return_bool, matching),
                        Err(e) => break Err(e),
                    }
                }
                Err(e) => break Err(e),
            };
            let (rhs, return_bool, matching) = rhs;
            let span = Span { start: lhs.span().start, end: rhs.span().end };
            lhs = Expr::Binary(Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                return_bool,
                matching: Some(matching),
                span,
            });
        };
        self.depth = base;
        r
    }

    #[inline(never)]
    fn bin_modifiers(&mut self) -> PResult<(bool, VectorMatching)> {
        let mut m = VectorMatching {
            card: Cardinality::OneToOne,
            labels: Vec::new(),
            on: false,
            include: Vec::new(),
            fill: FillModifier::default(),
        };
        let mut return_bool = false;
        if self.peek().t == T::Bool {
            self.next();
            return_bool = true;
        }
        if matches!(self.peek().t, T::On | T::Ignoring) {
            m.on = self.next().t == T::On;
            m.labels = self.grouping_labels()?;
            if matches!(self.peek().t, T::GroupLeft | T::GroupRight) {
                m.card = if self.next().t == T::GroupLeft { Cardinality::ManyToOne } else { Cardinality::OneToMany };
                if self.peek().t == T::LParen {
                    m.include = self.grouping_labels()?;
                }
            }
        }
        match self.peek().t {
            T::Fill => {
                self.next();
                let v = self.fill_value()?;
                m.fill = FillModifier { lhs: Some(v), rhs: Some(v) };
            }
            T::FillLeft => {
                self.next();
                m.fill.lhs = Some(self.fill_value()?);
                if self.peek().t == T::FillRight {
                    self.next();
                    m.fill.rhs = Some(self.fill_value()?);
                }
            }
            T::FillRight => {
                self.next();
                m.fill.rhs = Some(self.fill_value()?);
                if self.peek().t == T::FillLeft {
                    self.next();
                    m.fill.lhs = Some(self.fill_value()?);
                }
            }
            _ => {}
        }
        Ok((return_bool, m))
    }

    #[inline(never)]
    fn fill_value(&mut self) -> PResult<f64> {
        self.expect(T::LParen, "", "")?;
        let mut neg = false;
        if matches!(self.peek().t, T::Add | T::Sub) {
            neg = self.next().t == T::Sub;
        }
        let v = match self.peek().t {
            T::Number | T::Duration => {
                let t = self.next();
                self.number_value(t)?
            }
            _ => return Err(self.unexpected("", "")),
        };
        self.expect(T::RParen, "", "")?;
        Ok(if neg { -v } else { v })
    }

    fn unary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        if matches!(t.t, T::Add | T::Sub) {
            self.next();
            // Unary operators bind like `*`: only `^` (and postfix
            // modifiers) bind tighter.
            let operand = self.expr(BinaryOp::Pow.precedence())?;
            return self.finish_unary(t, operand);
        }
        let e = self.primary()?;
        self.postfix(e)
    }

    #[inline(never)]
    fn finish_unary(&self, t: Token, operand: Expr) -> PResult<Expr> {
        let end = operand.span().end;
        Ok(match (t.t, operand) {
            (T::Sub, Expr::Number(v, _)) => Expr::Number(-v, Span { start: t.start, end }),
            (T::Add, Expr::Number(v, _)) => Expr::Number(v, Span { start: t.start, end }),
            (T::Sub, e) => Expr::Neg(Box::new(e), Span { start: t.start, end }),
            (_, e) => {
                let ty = e.value_type();
                if ty != ValueType::Scalar && ty != ValueType::Vector {
                    return Err(self.err(
                        t.start,
                        end,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                            documented(ty)
                        ),
                    ));
                }
                e
            }
        })
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        match t.t {
            T::Number | T::Duration | T::Str => self.literal(),
            T::LParen => self.paren(),
            T::LBrace => self.vector_selector(None),
            T::Agg(op) if matches!(self.peek_at(1).t, T::LParen | T::By | T::Without) => self.aggregate(op),
            T::Ident | T::Start | T::End | T::Step | T::Range | T::MaxOf | T::MinOf
                if self.peek_at(1).t == T::LParen =>
            {
                self.call()
            }
            tt if is_metric_identifier(tt) => {
                self.next();
                self.vector_selector(Some(t))
            }
            _ => Err(self.unexpected("", "")),
        }
    }

    #[inline(never)]
    fn literal(&mut self) -> PResult<Expr> {
        let t = self.next();
        let span = Span { start: t.start, end: t.end };
        if t.t == T::Str {
            return Ok(Expr::String(StrLit::from_bytes(unquote_bytes(self.text(t))), span));
        }
        Ok(Expr::Number(self.number_value(t)?, span))
    }

    fn paren(&mut self) -> PResult<Expr> {
        let open = self.next();
        let inner = self.expr(0)?;
        let close = self.expect(T::RParen, "", "")?;
        Ok(Expr::Paren(Box::new(inner), Span { start: open.start, end: close.end }))
    }

    #[inline(never)]
    fn number_value(&self, t: Token) -> PResult<f64> {
        let text = self.text(t);
        if t.t == T::Duration {
            return parse_duration_ms(text)
                .map(|ms| ms as f64 / 1000.0)
                .map_err(|m| self.err(t.start, t.end, m));
        }
        parse_number(text).map_err(|m| self.err(t.start, t.end, format!("error parsing number: {m}")))
    }

    #[inline(never)]
    fn call(&mut self) -> PResult<Expr> {
        let name_tok = self.next();
        let name = self.text(name_tok).to_string();
        if functions::lookup(&name).is_none() {
            return Err(self.err(name_tok.start, name_tok.end, format!("unknown function with name {name:?}")));
        }
        let args = self.call_body()?;
        Ok(Expr::Call(Call { func: name, args, span: Span { start: name_tok.start, end: self.last_closing } }))
    }

    /// `( args )` of a function call or aggregation.
    fn call_body(&mut self) -> PResult<Vec<Expr>> {
        self.expect(T::LParen, "", "")?;
        let mut args = Vec::new();
        if self.peek().t == T::RParen {
            self.next();
            return Ok(args);
        }
        loop {
            args.push(self.expr(0)?);
            match self.peek().t {
                T::Comma => {
                    let c = self.next();
                    if self.peek().t == T::RParen {
                        return Err(self.err(c.start, c.end, "trailing commas not allowed in function call args"));
                    }
                }
                T::RParen => {
                    self.next();
                    return Ok(args);
                }
                _ => return Err(self.unexpected("", "")),
            }
        }
    }

    fn aggregate(&mut self, op: AggregateOp) -> PResult<Expr> {
        let op_tok = self.next();
        let mut clause = None;
        if matches!(self.peek().t, T::By | T::Without) {
            clause = Some(self.aggregate_modifier()?);
            if self.peek().t != T::LParen {
                return Err(self.unexpected("aggregation", ""));
            }
        }
        let args = self.call_body()?;
        if clause.is_none() && matches!(self.peek().t, T::By | T::Without) {
            clause = Some(self.aggregate_modifier()?);
        }
        self.finish_aggregate(op, op_tok, args, clause)
    }

    /// `by (…)` / `without (…)`: (without, labels).
    #[inline(never)]
    fn aggregate_modifier(&mut self) -> PResult<(bool, Vec<String>)> {
        let without = self.next().t == T::Without;
        Ok((without, self.grouping_labels()?))
    }

    #[inline(never)]
    fn finish_aggregate(
        &self,
        op: AggregateOp,
        op_tok: Token,
        args: Vec<Expr>,
        clause: Option<(bool, Vec<String>)>,
    ) -> PResult<Expr> {
        let span = Span { start: op_tok.start, end: self.last_closing };
        if args.is_empty() {
            return Err(self.err(span.start, span.end, "no arguments for aggregate expression provided"));
        }
        let desired = if op.has_param() { 2 } else { 1 };
        if args.len() != desired {
            return Err(self.err(
                span.start,
                span.end,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {desired}, got {}",
                    args.len()
                ),
            ));
        }
        let mut args = args.into_iter();
        let param = if op.has_param() { args.next().map(Box::new) } else { None };
        let Some(expr) = args.next() else {
            return Err(self.err(span.start, span.end, "no arguments for aggregate expression provided"));
        };
        let has_grouping_clause = clause.is_some();
        let (without, grouping) = clause.unwrap_or_default();
        Ok(Expr::Aggregate(Aggregate { op, expr: Box::new(expr), param, grouping, without, has_grouping_clause, span }))
    }

    #[inline(never)]
    fn grouping_labels(&mut self) -> PResult<Vec<String>> {
        self.expect(T::LParen, "grouping opts", "\"(\"")?;
        let mut labels = Vec::new();
        loop {
            if self.peek().t == T::RParen {
                self.next();
                return Ok(labels);
            }
            let t = self.peek();
            let label = if is_maybe_label(t.t) {
                self.next();
                self.text(t).to_string()
            } else if t.t == T::Str {
                self.next();
                let b = unquote_bytes(self.text(t));
                match String::from_utf8(b) {
                    Ok(s) => s,
                    // Prometheus: not a valid (UTF-8) label name.
                    Err(e) => {
                        let q = bongsu_model::labels::quote_go_bytes(e.as_bytes());
                        return Err(self.err(t.start, t.end, format!("invalid label name for grouping: {q}")));
                    }
                }
            } else {
                return Err(self.unexpected("grouping opts", "label"));
            };
            if label.is_empty() {
                return Err(self.err(t.start, t.end, format!("invalid label name for grouping: {label:?}")));
            }
            labels.push(label);
            match self.peek().t {
                T::Comma => {
                    self.next();
                }
                T::RParen => {}
                _ => return Err(self.unexpected("grouping opts", "\",\" or \")\"")),
            }
        }
    }

    // ---- selectors ---------------------------------------------------

    #[inline(never)]
    fn vector_selector(&mut self, name_tok: Option<Token>) -> PResult<Expr> {
        let name = name_tok.map(|t| self.text(t).to_string());
        let start = match name_tok {
            Some(t) => t.start,
            None => self.peek().start,
        };
        let mut end = name_tok.map(|t| t.end).unwrap_or(start);
        let mut matchers = Vec::new();
        // Index in `matchers` of a bare quoted metric name (`{"name"}`).
        let mut quoted_names = Vec::new();
        if self.peek().t == T::LBrace {
            self.next();
            loop {
                let t = self.peek();
                match t.t {
                    T::RBrace => {
                        end = self.next().end;
                        break;
                    }
                    T::Ident | T::Str => {
                        self.next();
                        let label = if t.t == T::Str { unquote(self.text(t)) } else { self.text(t).to_string() };
                        let op = match self.peek().t {
                            T::Eql => Some(MatchOp::Equal),
                            T::Neq => Some(MatchOp::NotEqual),
                            T::EqlRegex => Some(MatchOp::Regex),
                            T::NeqRegex => Some(MatchOp::NotRegex),
                            _ => None,
                        };
                        match op {
                            Some(op) => {
                                self.next();
                                let v = self.expect(T::Str, "label matching", "string")?;
                                let value = unquote(self.text(v));
                                let m = Matcher::new(op, label, value)
                                    .map_err(|e| self.err(t.start, v.end, regex_error_message(&e)))?;
                                matchers.push(m);
                            }
                            None if t.t == T::Str => {
                                quoted_names.push(matchers.len());
                                matchers.push(Matcher::equal(bongsu_model::METRIC_NAME, label));
                            }
                            None => return Err(self.unexpected("label matching", "label matching operator")),
                        }
                    }
                    _ => return Err(self.unexpected("label matching", "identifier or \"}\"")),
                }
                match self.peek().t {
                    T::Comma => {
                        self.next();
                        if self.peek().t == T::RBrace {
                            end = self.next().end;
                            break;
                        }
                    }
                    T::RBrace => {
                        end = self.next().end;
                        break;
                    }
                    _ => return Err(self.unexpected("label matching", "\",\" or \"}\"")),
                }
            }
        }
        let span = Span { start, end };
        let name = match name {
            Some(n) => {
                if let Some(m) = matchers.iter().find(|m| m.name == bongsu_model::METRIC_NAME) {
                    return Err(self.err(
                        span.start,
                        span.end,
                        format!("metric name must not be set twice: {:?} or {:?}", n, m.value),
                    ));
                }
                matchers.push(Matcher::equal(bongsu_model::METRIC_NAME, n.clone()));
                Some(n)
            }
            None if quoted_names.len() == 1
                && matchers.iter().filter(|m| m.name == bongsu_model::METRIC_NAME).count() == 1 =>
            {
                // Canonical order: the name matcher last, as for `name{…}`.
                let m = matchers.remove(quoted_names[0]);
                let n = m.value.clone();
                matchers.push(m);
                Some(n)
            }
            None => None,
        };
        Ok(Expr::VectorSelector(VectorSelector {
            name,
            matchers,
            offset: None,
            at: None,
            anchored: false,
            smoothed: false,
            span,
        }))
    }

    /// Ranges, subqueries, `offset`, `@`, `anchored`, `smoothed`.
    fn postfix(&mut self, mut e: Expr) -> PResult<Expr> {
        loop {
            match self.peek().t {
                T::LBracket => e = self.range_or_subquery(e)?,
                T::Offset => {
                    self.next();
                    let d = self.offset_duration()?;
                    e = self.set_offset(e, d)?;
                }
                T::At => {
                    self.next();
                    e = self.at_modifier(e)?;
                }
                T::Anchored | T::Smoothed => {
                    let anchored = self.next().t == T::Anchored;
                    e = self.set_extended(e, anchored)?;
                }
                _ => return Ok(e),
            }
        }
    }

    #[inline(never)]
    fn range_or_subquery(&mut self, e: Expr) -> PResult<Expr> {
        let open = self.next();
        let range_ctx = "subquery or range selector";
        if !self.starts_duration() {
            return Err(self.unexpected(range_ctx, DUR_EXPECTED));
        }
        let range = self.dur_expr(0, range_ctx, DUR_EXPECTED)?;
        let range = self.to_duration(range, true)?;
        match self.peek().t {
            T::RBracket => {
                let close = self.next();
                let vs = match e {
                    Expr::VectorSelector(vs) => vs,
                    _ => return Err(self.err(open.start, close.end, "ranges only allowed for vector selectors")),
                };
                if vs.offset.is_some() {
                    return Err(self.err(open.start, close.end, "no offset modifiers allowed before range"));
                }
                if vs.at.is_some() {
                    return Err(self.err(open.start, close.end, "no @ modifiers allowed before range"));
                }
                let span = Span { start: vs.span.start, end: close.end };
                Ok(Expr::MatrixSelector(MatrixSelector { selector: vs, range, span }))
            }
            T::Colon => {
                self.next();
                let step = if self.peek().t == T::RBracket {
                    None
                } else if self.starts_duration() {
                    let s = self.dur_expr(0, "subquery selector", "\"]\"")?;
                    Some(self.to_duration(s, true)?)
                } else {
                    return Err(self.unexpected("subquery selector", "number, duration, step(), range(), or \"]\""));
                };
                let close = self.expect(T::RBracket, "subquery selector", "\"]\"")?;
                let span = Span { start: e.span().start, end: close.end };
                Ok(Expr::Subquery(Subquery { expr: Box::new(e), range, step, offset: None, at: None, span }))
            }
            _ => Err(self.unexpected("subquery or range", "\":\" or \"]\"")),
        }
    }

    fn starts_duration(&self) -> bool {
        matches!(
            self.peek().t,
            T::Number | T::Duration | T::Add | T::Sub | T::LParen | T::Step | T::Range | T::MinOf | T::MaxOf
        )
    }

    /// Converts a parsed duration expression to the AST form: a literal
    /// number of seconds becomes milliseconds.
    #[inline(never)]
    fn to_duration(&self, e: Expr, positive: bool) -> PResult<DurationExpr> {
        match e {
            Expr::Number(v, span) => {
                if positive && v <= 0.0 {
                    return Err(self.err(span.start, span.end, "duration must be greater than 0"));
                }
                Ok(DurationExpr::Millis((v * 1000.0).round() as i64))
            }
            e => Ok(DurationExpr::Expr(Box::new(e))),
        }
    }

    #[inline(never)]
    fn set_offset(&self, mut e: Expr, d: DurationExpr) -> PResult<Expr> {
        let zero = d == DurationExpr::Millis(0);
        let span = e.span();
        let end = self.last_closing.max(span.end);
        let (slot, span_end) = match &mut e {
            Expr::VectorSelector(vs) => (&mut vs.offset, &mut vs.span.end),
            Expr::MatrixSelector(ms) => (&mut ms.selector.offset, &mut ms.span.end),
            Expr::Subquery(sq) => (&mut sq.offset, &mut sq.span.end),
            _ => {
                return Err(self.err(
                    span.start,
                    span.end,
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ))
            }
        };
        if slot.is_some() {
            return Err(self.err(span.start, span.end, "offset may not be set multiple times"));
        }
        // `offset 0` is no offset, as in Prometheus.
        if !zero {
            *slot = Some(d);
        }
        *span_end = end;
        Ok(e)
    }

    #[inline(never)]
    fn at_modifier(&mut self, mut e: Expr) -> PResult<Expr> {
        let t = self.peek();
        let at = match t.t {
            T::Add | T::Sub | T::Number | T::Duration => {
                let mut neg = false;
                if matches!(t.t, T::Add | T::Sub) {
                    if !matches!(self.peek_at(1).t, T::Number | T::Duration) {
                        self.next();
                        return Err(self.unexpected("@", "timestamp"));
                    }
                    neg = self.next().t == T::Sub;
                }
                let n = self.next();
                let mut v = self.number_value(n)?;
                if neg {
                    v = -v;
                }
                if !v.is_finite() || v >= i64::MAX as f64 || v <= i64::MIN as f64 {
                    let span = e.span();
                    return Err(self.err(
                        span.start,
                        span.end,
                        format!("timestamp out of bounds for @ modifier: {}", go_f(v)),
                    ));
                }
                AtModifier::Timestamp((v * 1000.0).round() as i64)
            }
            T::Start | T::End => {
                let which = self.next().t;
                self.expect(T::LParen, "@", "timestamp")?;
                self.expect(T::RParen, "@", "timestamp")?;
                if which == T::Start {
                    AtModifier::Start
                } else {
                    AtModifier::End
                }
            }
            _ => return Err(self.unexpected("@", "timestamp")),
        };
        let span = e.span();
        let end = self.last_closing.max(span.end);
        let (slot, span_end) = match &mut e {
            Expr::VectorSelector(vs) => (&mut vs.at, &mut vs.span.end),
            Expr::MatrixSelector(ms) => (&mut ms.selector.at, &mut ms.span.end),
            Expr::Subquery(sq) => (&mut sq.at, &mut sq.span.end),
            _ => {
                return Err(self.err(
                    span.start,
                    span.end,
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ))
            }
        };
        if slot.is_some() {
            return Err(self.err(span.start, span.end, "@ <timestamp> may not be set multiple times"));
        }
        *slot = Some(at);
        *span_end = end;
        Ok(e)
    }

    #[inline(never)]
    fn set_extended(&self, mut e: Expr, anchored: bool) -> PResult<Expr> {
        let name = if anchored { "anchored" } else { "smoothed" };
        let span = e.span();
        let vs = match &mut e {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &mut ms.selector,
            Expr::Subquery(_) => {
                return Err(self.err(span.start, span.end, format!("{name} modifier is not supported for subqueries")))
            }
            _ => return Err(self.err(span.start, span.end, format!("{name} modifier not implemented"))),
        };
        if anchored {
            vs.anchored = true;
        } else {
            vs.smoothed = true;
        }
        if vs.anchored && vs.smoothed {
            return Err(self.err(span.start, span.end, "anchored and smoothed modifiers cannot be used together"));
        }
        Ok(e)
    }

    // ---- duration expressions -----------------------------------------

    /// The operand of `offset`: a signed literal, `step()`, `range()`,
    /// `min_of(…)`/`max_of(…)` or a parenthesised duration expression (which
    /// may continue with arithmetic, as Prometheus' grammar shifts there).
    #[inline(never)]
    fn offset_duration(&mut self) -> PResult<DurationExpr> {
        const CTX: &str = "offset";
        let t = self.peek();
        let e = match t.t {
            T::Add | T::Sub => {
                self.next();
                let neg = t.t == T::Sub;
                let n = self.peek();
                match n.t {
                    T::Number | T::Duration => {
                        self.next();
                        let mut v = self.number_value(n)?;
                        if neg {
                            v = -v;
                        }
                        if duration_out_of_range(v) {
                            return Err(self.err(t.start, t.end, "duration out of range"));
                        }
                        Expr::Number(v, Span { start: t.start, end: n.end })
                    }
                    T::Step | T::Range | T::MinOf | T::MaxOf | T::LParen => {
                        let inner = self.dur_atom(CTX, DUR_EXPECTED)?;
                        let end = inner.span().end;
                        match (neg, inner) {
                            (true, Expr::Number(v, _)) => Expr::Number(-v, Span { start: t.start, end }),
                            (false, Expr::Number(v, _)) => Expr::Number(v, Span { start: t.start, end }),
                            (true, e) => Expr::Neg(Box::new(e), Span { start: t.start, end }),
                            (false, e) => e,
                        }
                    }
                    _ => return Err(self.unexpected(CTX, DUR_EXPECTED)),
                }
            }
            T::Number | T::Duration | T::Step | T::Range | T::MinOf | T::MaxOf => self.dur_atom(CTX, DUR_EXPECTED)?,
            T::LParen => {
                let atom = self.dur_atom(CTX, DUR_EXPECTED)?;
                self.dur_binary_rest(atom, 0, CTX, DUR_EXPECTED)?
            }
            _ => return Err(self.unexpected(CTX, DUR_EXPECTED)),
        };
        self.to_duration(e, false)
    }

    fn dur_expr(&mut self, min_prec: u8, ctx: &str, expected: &str) -> PResult<Expr> {
        self.enter()?;
        let r = match self.dur_unary(ctx, expected) {
            Ok(lhs) => self.dur_binary_rest(lhs, min_prec, ctx, expected),
            Err(e) => Err(e),
        };
        self.depth -= 1;
        r
    }

    fn dur_binary_rest(&mut self, mut lhs: Expr, min_prec: u8, ctx: &str, expected: &str) -> PResult<Expr> {
        let mut chain = 0;
        loop {
            chain += 1;
            if self.depth + chain > MAX_NESTING_DEPTH {
                return Err(self.too_deep());
            }
            let op = match self.peek().t {
                T::Add => BinaryOp::Add,
                T::Sub => BinaryOp::Sub,
                T::Mul => BinaryOp::Mul,
                T::Div => BinaryOp::Div,
                T::Mod => BinaryOp::Mod,
                T::Pow => BinaryOp::Pow,
                _ => break,
            };
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            let op_tok = self.next();
            let rhs = self.dur_expr(if op.right_assoc() { prec } else { prec + 1 }, ctx, expected)?;
            if let Expr::Number(v, _) = rhs {
                if v == 0.0 && op == BinaryOp::Div {
                    return Err(self.err(op_tok.start, op_tok.end, "division by zero"));
                }
                if v == 0.0 && op == BinaryOp::Mod {
                    return Err(self.err(op_tok.start, op_tok.end, "modulo by zero"));
                }
            }
            let span = Span { start: lhs.span().start, end: rhs.span().end };
            lhs = Expr::Binary(Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                return_bool: false,
                matching: None,
                span,
            });
        }
        Ok(lhs)
    }

    fn dur_unary(&mut self, ctx: &str, expected: &str) -> PResult<Expr> {
        let t = self.peek();
        if matches!(t.t, T::Add | T::Sub) {
            self.next();
            let operand = self.dur_expr(BinaryOp::Pow.precedence(), ctx, expected)?;
            return self.finish_dur_unary(t, operand);
        }
        self.dur_atom(ctx, expected)
    }

    #[inline(never)]
    fn finish_dur_unary(&self, t: Token, operand: Expr) -> PResult<Expr> {
        let end = operand.span().end;
        Ok(match (t.t, operand) {
            (T::Sub, Expr::Number(v, _)) => {
                if duration_out_of_range(-v) {
                    return Err(self.err(t.start, t.end, "duration out of range"));
                }
                Expr::Number(-v, Span { start: t.start, end })
            }
            (T::Add, Expr::Number(v, _)) => Expr::Number(v, Span { start: t.start, end }),
            (T::Sub, e) => Expr::Neg(Box::new(e), Span { start: t.start, end }),
            (_, e) => e,
        })
    }

    fn dur_atom(&mut self, ctx: &str, expected: &str) -> PResult<Expr> {
        match self.peek().t {
            T::Number | T::Duration => self.dur_literal(),
            T::Step | T::Range => self.dur_step_or_range(ctx, expected),
            T::MinOf | T::MaxOf => self.dur_min_max(ctx, expected),
            T::LParen => self.dur_paren(ctx, expected),
            _ => Err(self.unexpected(ctx, expected)),
        }
    }

    #[inline(never)]
    fn dur_literal(&mut self) -> PResult<Expr> {
        let t = self.next();
        let v = self.number_value(t)?;
        if duration_out_of_range(v) {
            return Err(self.err(t.start, t.end, "duration out of range"));
        }
        Ok(Expr::Number(v, Span { start: t.start, end: t.end }))
    }

    #[inline(never)]
    fn dur_step_or_range(&mut self, ctx: &str, expected: &str) -> PResult<Expr> {
        let t = self.next();
        self.expect(T::LParen, ctx, expected)?;
        let close = self.expect(T::RParen, ctx, expected)?;
        let func = if t.t == T::Step { "step" } else { "range" };
        Ok(Expr::Call(Call { func: func.into(), args: vec![], span: Span { start: t.start, end: close.end } }))
    }

    fn dur_min_max(&mut self, ctx: &str, expected: &str) -> PResult<Expr> {
        let t = self.next();
        self.expect(T::LParen, ctx, expected)?;
        let a = self.dur_expr(0, ctx, expected)?;
        self.expect(T::Comma, ctx, expected)?;
        let b = self.dur_expr(0, ctx, expected)?;
        let close = self.expect(T::RParen, ctx, expected)?;
        let func = if t.t == T::MinOf { "min_of" } else { "max_of" };
        Ok(Expr::Call(Call { func: func.into(), args: vec![a, b], span: Span { start: t.start, end: close.end } }))
    }

    fn dur_paren(&mut self, ctx: &str, expected: &str) -> PResult<Expr> {
        let open = self.next();
        let inner = self.dur_expr(0, ctx, expected)?;
        let close = self.expect(T::RParen, ctx, expected)?;
        Ok(match inner {
            // A parenthesised literal is just the literal.
            Expr::Number(v, s) => Expr::Number(v, s),
            e => Expr::Paren(Box::new(e), Span { start: open.start, end: close.end }),
        })
    }
}

/// A regex error in Go's words (`error parsing regexp: missing closing ):
/// `^(?s:()$``), as Prometheus reports it for the anchored pattern.
fn regex_error_message(e: &bongsu_model::MatcherError) -> String {
    let anchored = format!("^(?s:{})$", e.pattern);
    let last = e.message.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let what = last.strip_prefix("error: ").unwrap_or(last);
    let go = match what {
        "unclosed group" => "missing closing )",
        "unopened group" => "unexpected )",
        "unclosed character class" => "missing closing ]",
        "repetition operator missing expression" => "missing argument to repetition operator",
        "invalid escape sequence" | "unrecognized escape sequence" => "invalid escape sequence",
        "invalid character class range" => "invalid character class range",
        "repetition quantifier expects a valid decimal" | "decimal literal invalid" => "invalid repeat count",
        other => other,
    };
    format!("error parsing regexp: {go}: `{anchored}`")
}

fn duration_out_of_range(v: f64) -> bool {
    const LIMIT: f64 = 9_223_372_036.854_776; // 1<<63 ns in seconds
    !(-LIMIT..=LIMIT).contains(&v)
}

/// Go's `%f` for the values Prometheus formats that way.
fn go_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:.6}")
    }
}

// ---- type checks (Prometheus' checkAST) ---------------------------------

struct Checker<'a> {
    input: &'a str,
}

impl Checker<'_> {
    fn err(&self, span: Span, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.input, span.start, span.end, msg)
    }

    fn expect_type(&self, e: &mut Expr, want: ValueType, context: &str) -> PResult<()> {
        self.check(e, false)?;
        let t = e.value_type();
        if t != want {
            return Err(self.err(
                e.span(),
                format!("expected type {} in {context}, got {}", documented(want), documented(t)),
            ));
        }
        Ok(())
    }

    /// The operator's range: from the end of the LHS to the start of the RHS,
    /// trimmed of spaces.
    fn op_range(&self, b: &Binary) -> Span {
        let bytes = self.input.as_bytes();
        let mut start = b.lhs.span().end;
        while start < bytes.len() && matches!(bytes[start], b' ' | b'\t' | b'\n' | b'\r') {
            start += 1;
        }
        let mut end = b.rhs.span().start.saturating_sub(1);
        while end > start && end < bytes.len() && matches!(bytes[end], b' ' | b'\t' | b'\n' | b'\r') {
            end -= 1;
        }
        Span { start, end }
    }

    fn check(&self, e: &mut Expr, bypass_empty_matcher: bool) -> PResult<()> {
        match e {
            Expr::Aggregate(a) => {
                self.expect_type(&mut a.expr, ValueType::Vector, "aggregation expression")?;
                if let Some(p) = a.param.as_deref_mut() {
                    match a.op {
                        AggregateOp::CountValues => self.expect_type(p, ValueType::String, "aggregation parameter")?,
                        _ => self.expect_type(p, ValueType::Scalar, "aggregation parameter")?,
                    }
                }
            }
            Expr::Binary(b) => self.check_binary(b)?,
            Expr::Call(c) => self.check_call(c)?,
            Expr::Paren(inner, _) => self.check(inner, false)?,
            Expr::Neg(inner, span) => {
                self.check(inner, false)?;
                let t = inner.value_type();
                if t != ValueType::Scalar && t != ValueType::Vector {
                    return Err(self.err(
                        *span,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                            documented(t)
                        ),
                    ));
                }
            }
            Expr::Subquery(sq) => {
                self.check(&mut sq.expr, false)?;
                let t = sq.expr.value_type();
                if t != ValueType::Vector {
                    return Err(self.err(
                        sq.span,
                        format!("subquery is only allowed on instant vector, got {} instead", t.as_str()),
                    ));
                }
            }
            Expr::MatrixSelector(ms) => self.check_selector(&ms.selector, false)?,
            Expr::VectorSelector(vs) => self.check_selector(vs, bypass_empty_matcher)?,
            Expr::Number(..) | Expr::String(..) => {}
        }
        Ok(())
    }

    #[inline(never)]
    fn check_binary(&self, b: &mut Binary) -> PResult<()> {
        self.check(&mut b.lhs, false)?;
        self.check(&mut b.rhs, false)?;
        let lt = b.lhs.value_type();
        let rt = b.rhs.value_type();
        let op = b.op;
        if b.return_bool && !op.is_comparison() {
            return Err(self.err(self.op_range(b), "bool modifier can only be used on comparison operators"));
        }
        if op.is_comparison() && !b.return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar {
            return Err(self.err(self.op_range(b), "comparisons between scalars must use BOOL modifier"));
        }
        let op_range = self.op_range(b);
        if let Some(m) = b.matching.as_mut() {
            if op.is_set() && m.card == Cardinality::OneToOne {
                m.card = Cardinality::ManyToMany;
            }
            if m.on {
                for l in &m.labels {
                    if m.include.contains(l) {
                        return Err(self.err(
                            op_range,
                            format!("label {l:?} must not occur in ON and GROUP clause at once"),
                        ));
                    }
                }
            }
        }
        let span = b.span;
        if lt != ValueType::Scalar && lt != ValueType::Vector {
            return Err(self.err(
                b.lhs.span(),
                "binary expression must contain only scalar and instant vector types",
            ));
        }
        if rt != ValueType::Scalar && rt != ValueType::Vector {
            return Err(self.err(
                b.rhs.span(),
                "binary expression must contain only scalar and instant vector types",
            ));
        }
        let has_fill = |m: &VectorMatching| m.fill.lhs.is_some() || m.fill.rhs.is_some();
        if lt != ValueType::Vector || rt != ValueType::Vector {
            if let Some(m) = &b.matching {
                if !m.labels.is_empty() {
                    return Err(self.err(span, "vector matching only allowed between instant vectors"));
                }
                if has_fill(m) {
                    return Err(
                        self.err(span, "filling in missing series only allowed between instant vectors")
                    );
                }
            }
            b.matching = None;
        } else if op.is_set() {
            if let Some(m) = &b.matching {
                if matches!(m.card, Cardinality::OneToMany | Cardinality::ManyToOne) {
                    return Err(self.err(span, format!("no grouping allowed for {:?} operation", op.as_str())));
                }
                if m.card != Cardinality::ManyToMany {
                    return Err(self.err(span, "set operations must always be many-to-many"));
                }
                if has_fill(m) {
                    return Err(self.err(span, "filling in missing series not allowed for set operators"));
                }
            }
        }
        if (lt == ValueType::Scalar || rt == ValueType::Scalar) && op.is_set() {
            return Err(self.err(
                span,
                format!("set operator {:?} not allowed in binary scalar expression", op.as_str()),
            ));
        }
        Ok(())
    }

    #[inline(never)]
    fn check_call(&self, c: &mut Call) -> PResult<()> {
        let Some(sig) = functions::lookup(&c.func) else {
            return Err(self.err(c.span, format!("unknown function with name {:?}", c.func)));
        };
        let nargs = sig.arg_types.len();
        let got = c.args.len();
        if sig.variadic == 0 {
            if nargs != got {
                return Err(self.err(
                    c.span,
                    format!("expected {nargs} argument(s) in call to {:?}, got {got}", sig.name),
                ));
            }
        } else {
            let na = nargs.saturating_sub(1);
            if na > got {
                return Err(self.err(
                    c.span,
                    format!("expected at least {na} argument(s) in call to {:?}, got {got}", sig.name),
                ));
            }
            if sig.variadic > 0 {
                let max = na + sig.variadic as usize;
                if max < got {
                    return Err(self.err(
                        c.span,
                        format!("expected at most {max} argument(s) in call to {:?}, got {got}", sig.name),
                    ));
                }
            }
        }
        let mut info_bypass = false;
        if sig.name == "info" && got > 1 {
            let a = &c.args[1];
            let t = a.value_type();
            if t != ValueType::Vector {
                return Err(self.err(
                    c.span,
                    format!(
                        "expected type {} in call to function {:?}, got {}",
                        documented(ValueType::Vector),
                        sig.name,
                        documented(t)
                    ),
                ));
            }
            match a {
                Expr::VectorSelector(vs) if vs.name.is_some() => {
                    return Err(
                        self.err(a.span(), "expected label selectors only, got vector selector instead")
                    )
                }
                Expr::VectorSelector(_) => info_bypass = true,
                _ => return Err(self.err(a.span(), "expected label selectors only")),
            }
        }
        for (i, arg) in c.args.iter_mut().enumerate() {
            let idx = if i >= nargs {
                if sig.variadic == 0 {
                    break;
                }
                nargs - 1
            } else {
                i
            };
            self.check(arg, info_bypass && i == 1)?;
            let t = arg.value_type();
            if t != sig.arg_types[idx] {
                return Err(self.err(
                    arg.span(),
                    format!(
                        "expected type {} in call to function {:?}, got {}",
                        documented(sig.arg_types[idx]),
                        sig.name,
                        documented(t)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_selector(&self, vs: &VectorSelector, bypass_empty_matcher: bool) -> PResult<()> {
        if vs.name.is_some() || bypass_empty_matcher {
            return Ok(());
        }
        if !vs.matchers.iter().any(|m| !m.matches_empty()) {
            return Err(self.err(vs.span, "vector selector must contain at least one non-empty matcher"));
        }
        Ok(())
    }
}

// ---- literals ----------------------------------------------------------

/// Unquotes a string token (`"…"`, `'…'` with Go escapes, or `` `…` ``).
/// The lexer has validated the escapes. Bytes that are not UTF-8 (`"\xff"`)
/// become U+FFFD; [`unquote_bytes`] keeps them.
pub(crate) fn unquote(s: &str) -> String {
    match String::from_utf8(unquote_bytes(s)) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// The bytes of a string token, as Go's `strconv.Unquote` makes them.
pub(crate) fn unquote_bytes(s: &str) -> Vec<u8> {
    let Some(q) = s.chars().next() else { return Vec::new() };
    let body = if s.len() >= 2 { &s[1..s.len() - 1] } else { "" };
    if q == '`' {
        return body.as_bytes().to_vec();
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    let mut buf = [0u8; 4];
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some(e) = chars.next() else { break };
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '\'' => Some(b'\''),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let (n, base, is_byte) = match e {
            '0'..='7' => (2, 8, true),
            'x' => (2, 16, true),
            'u' => (4, 16, false),
            'U' => (8, 16, false),
            _ => {
                out.extend_from_slice(e.encode_utf8(&mut buf).as_bytes());
                continue;
            }
        };
        let mut v: u32 = if base == 8 { e.to_digit(8).unwrap_or(0) } else { 0 };
        for _ in 0..n {
            match chars.peek().and_then(|c| c.to_digit(base)) {
                Some(d) => {
                    v = v * base + d;
                    chars.next();
                }
                None => break,
            }
        }
        if is_byte {
            out.push((v & 0xff) as u8);
        } else if let Some(ch) = char::from_u32(v) {
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1] | 0x20 == b'x';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Parses a number literal as Prometheus does: `strconv.ParseInt(s, 0, 64)`
/// first (hex, octal with a leading 0, underscores), then `ParseFloat`.
pub(crate) fn parse_number(s: &str) -> Result<f64, String> {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "+inf" | "infinity" => return Ok(f64::INFINITY),
        "-inf" | "-infinity" => return Ok(f64::NEG_INFINITY),
        "nan" => return Ok(f64::NAN),
        _ => {}
    }
    let has_us = s.contains('_');
    if has_us && !underscore_ok(s) {
        return Err(format!("strconv.ParseFloat: parsing {}: invalid syntax", bongsu_model::labels::quote_go(s)));
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    // ParseInt with base 0.
    let int = if let Some(h) = clean.strip_prefix("0x").or_else(|| clean.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if clean.len() > 1 && clean.starts_with('0') && clean.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        i64::from_str_radix(&clean[1..], 8).ok()
    } else if !has_us || !clean.contains(['.', 'e', 'E']) {
        clean.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Ok(i as f64);
    }
    let is_hex = clean.starts_with("0x") || clean.starts_with("0X");
    if is_hex {
        // Go accepts hex floats only with a 'p' exponent, which the lexer
        // never produces: a hex literal beyond i64 (`0xffffffffffffffff`) is
        // an error in Prometheus.
        return Err(format!("strconv.ParseFloat: parsing {}: invalid syntax", bongsu_model::labels::quote_go(s)));
    }
    match clean.parse::<f64>() {
        Ok(v) if v.is_infinite() => {
            Err(format!("strconv.ParseFloat: parsing {}: value out of range", bongsu_model::labels::quote_go(s)))
        }
        Ok(v) => Ok(v),
        Err(_) => Err(format!("strconv.ParseFloat: parsing {}: invalid syntax", bongsu_model::labels::quote_go(s))),
    }
}

/// Prometheus' `model.ParseDuration` with its error messages; milliseconds.
pub(crate) fn parse_duration_ms(s: &str) -> Result<i64, String> {
    const UNITS: [(&str, u128, u8); 7] = [
        ("y", 365 * 24 * 3_600_000_000_000, 1),
        ("w", 7 * 24 * 3_600_000_000_000, 2),
        ("d", 24 * 3_600_000_000_000, 3),
        ("h", 3_600_000_000_000, 4),
        ("m", 60_000_000_000, 5),
        ("s", 1_000_000_000, 6),
        ("ms", 1_000_000, 7),
    ];
    let invalid = || format!("not a valid duration string: {}", bongsu_model::labels::quote_go(s));
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: u128 = 0;
    let mut last = 0u8;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            return Err(invalid());
        }
        let ds = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let v: u128 = s[ds..i].parse::<u64>().map_err(|_| invalid())?.into();
        let us = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        if us == i {
            return Err(invalid());
        }
        let u = &s[us..i];
        let Some(&(_, mult, rank)) = UNITS.iter().find(|(n, _, _)| *n == u) else {
            return Err(format!(
                "unknown unit {} in duration {}",
                bongsu_model::labels::quote_go(u),
                bongsu_model::labels::quote_go(s)
            ));
        };
        if rank <= last {
            return Err(invalid());
        }
        last = rank;
        total += v * mult;
        if total > i64::MAX as u128 {
            return Err("duration out of range".into());
        }
    }
    Ok((total / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> ParseError {
        match parse(s) {
            Ok(e) => panic!("{s}: expected an error, got {e:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x1f"), Ok(31.0));
        assert_eq!(parse_number("0x7fffffffffffffff"), Ok(i64::MAX as f64));
        assert!(parse_number("0xffffffffffffffff").is_err());
        assert_eq!(parse_number("1_000"), Ok(1000.0));
        assert_eq!(parse_number("010"), Ok(8.0));
        assert_eq!(parse_number("1e3"), Ok(1000.0));
        assert_eq!(parse_number(".5"), Ok(0.5));
        assert!(matches!(p("5m"), Expr::Number(v, _) if v == 300.0));
        assert!(matches!(p("-Inf"), Expr::Number(v, _) if v == f64::NEG_INFINITY));
        assert!(matches!(p("NaN"), Expr::Number(v, _) if v.is_nan()));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("5m1h"), Err("not a valid duration string: \"5m1h\"".into()));
        assert_eq!(parse_duration_ms("5y1hs"), Err("unknown unit \"hs\" in duration \"5y1hs\"".into()));
    }

    #[test]
    fn precedence() {
        // -2^2 = -(2^2)
        match p("-2^2") {
            Expr::Neg(inner, _) => assert!(matches!(*inner, Expr::Binary(Binary { op: BinaryOp::Pow, .. }))),
            e => panic!("{e:?}"),
        }
        // ^ is right-associative
        match p("2^3^2") {
            Expr::Binary(b) => assert!(matches!(*b.rhs, Expr::Binary(Binary { op: BinaryOp::Pow, .. }))),
            e => panic!("{e:?}"),
        }
        // a - b - c is left-associative
        match p("a - b - c") {
            Expr::Binary(b) => assert!(matches!(*b.lhs, Expr::Binary(Binary { op: BinaryOp::Sub, .. }))),
            e => panic!("{e:?}"),
        }
        // or < and < comparison < + < *
        match p("a or b and c == d + e * f") {
            Expr::Binary(b) => assert_eq!(b.op, BinaryOp::Or),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn offsets_bind_to_the_atom() {
        match p("metric1_total offset 100 + 2") {
            Expr::Binary(b) => {
                let Expr::VectorSelector(vs) = *b.lhs else { panic!() };
                assert_eq!(vs.offset, Some(DurationExpr::Millis(100_000)));
            }
            e => panic!("{e:?}"),
        }
        match p("metric1_total offset (100 + 2)") {
            Expr::VectorSelector(vs) => assert!(matches!(vs.offset, Some(DurationExpr::Expr(_)))),
            e => panic!("{e:?}"),
        }
        match p("foo offset -5m") {
            Expr::VectorSelector(vs) => assert_eq!(vs.offset, Some(DurationExpr::Millis(-300_000))),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn selectors() {
        match p(r#"{"my.metric", "a.b"="x",}"#) {
            Expr::VectorSelector(vs) => {
                assert_eq!(vs.name.as_deref(), Some("my.metric"));
                assert_eq!(vs.matchers.len(), 2);
                assert_eq!(vs.matchers[1].name, "__name__");
            }
            e => panic!("{e:?}"),
        }
        match p("foo[5m:1m] @ start() offset 1m") {
            Expr::Subquery(sq) => {
                assert_eq!(sq.range, DurationExpr::Millis(300_000));
                assert_eq!(sq.step, Some(DurationExpr::Millis(60_000)));
                assert_eq!(sq.at, Some(AtModifier::Start));
            }
            e => panic!("{e:?}"),
        }
        match p("foo @ 100") {
            Expr::VectorSelector(vs) => assert_eq!(vs.at, Some(AtModifier::Timestamp(100_000))),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn binary_matching() {
        match p("a and b") {
            Expr::Binary(b) => assert_eq!(b.matching.map(|m| m.card), Some(Cardinality::ManyToMany)),
            e => panic!("{e:?}"),
        }
        match p("a + 1") {
            Expr::Binary(b) => assert!(b.matching.is_none()),
            e => panic!("{e:?}"),
        }
        match p("a * on(x) group_left(y) fill_left(1) fill_right(-2) b") {
            Expr::Binary(b) => {
                let m = b.matching.unwrap();
                assert_eq!(m.card, Cardinality::ManyToOne);
                assert_eq!(m.include, vec!["y".to_string()]);
                assert_eq!(m.fill, FillModifier { lhs: Some(1.0), rhs: Some(-2.0) });
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn regex_errors_read_like_go() {
        assert_eq!(err(r#"foo{a=~"("}"#).message, "error parsing regexp: missing closing ): `^(?s:()$`");
        assert_eq!(err(r#"foo{a!~")"}"#).message, "error parsing regexp: unexpected ): `^(?s:))$`");
    }

    #[test]
    fn metric_selectors() {
        let ms = parse_metric_selector(r#"up{job="a", "x.y"=~"b.*"}"#).unwrap();
        assert_eq!(ms.len(), 3);
        assert_eq!(ms[2].name, "__name__");
        assert!(parse_metric_selector("{}").unwrap().is_empty());
        assert!(parse_metric_selector("up offset 5m").is_err());
        assert!(parse_metric_selector("up + 1").is_err());
    }

    #[test]
    fn errors() {
        let e = err("rate(foo)");
        assert_eq!(e.to_string(), "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector");
        let e = err(r#"foo{__name__="bar"}"#);
        assert_eq!(e.message, "metric name must not be set twice: \"foo\" or \"bar\"");
        let e = err("{}");
        assert_eq!(e.message, "vector selector must contain at least one non-empty matcher");
        let e = err("foo +\n  bar baz");
        assert_eq!((e.line, e.col), (2, 7));
        // `without` is a metric name but not a grouping label (`maybe_label`).
        let e = err("sum without (without) (foo)");
        assert_eq!((e.message.as_str(), e.start), ("unexpected <without> in grouping opts, expected label", 13));
        assert!(matches!(p("sum by (by, on, bool, offset) (without)"), Expr::Aggregate(_)));
        // A quoted grouping label must be UTF-8 (Prometheus' `IsValidLabelName`).
        let e = err(r#"sum by ("\xff") (foo)"#);
        assert_eq!(e.message, r#"invalid label name for grouping: "\xff""#);
        assert!(matches!(p(r#"sum by ("\xc3\xbf") (foo)"#), Expr::Aggregate(a) if a.grouping == ["ÿ"]));
    }

    #[test]
    fn string_literals_keep_bytes_that_are_not_utf8() {
        let Expr::String(s, _) = p(r#""a\xff\101""#) else { panic!() };
        assert!(!s.is_utf8());
        assert_eq!(s.as_bytes(), b"a\xffA");
        assert_eq!(s.as_str(), "a\u{fffd}A");
        let Expr::String(s, _) = p(r#""\xc3\xbf\u00ff""#) else { panic!() };
        assert!(s.is_utf8());
        assert_eq!(s.as_str(), "ÿÿ");
    }
}
