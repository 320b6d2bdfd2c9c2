//! The PromQL abstract syntax tree (Prometheus 3.14 grammar, including the
//! feature-flagged syntax: duration expressions, `anchored`/`smoothed`,
//! `fill*` modifiers, trim operators). Shared by the parser, the printer and
//! the evaluator.

use bongsu_model::Matcher;

/// Byte offsets into the query text, for error positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// The type of an expression's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Scalar,
    String,
    Vector,
    Matrix,
}

impl ValueType {
    /// The name Prometheus uses in errors and the API (`"scalar"`, `"vector"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
        }
    }
}

/// A duration in a selector range, offset or subquery step: a literal, or
/// (with duration expressions) an arithmetic expression evaluated to seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationExpr {
    /// Milliseconds; may be negative for offsets.
    Millis(i64),
    /// A duration expression such as `5m * 2`, `step()`, `range()`; evaluates
    /// to a number of seconds.
    Expr(Box<Expr>),
}

/// The `@` modifier.
#[derive(Debug, Clone, PartialEq)]
pub enum AtModifier {
    /// `@ <timestamp>` in milliseconds.
    Timestamp(i64),
    /// `@ start()`.
    Start,
    /// `@ end()`.
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VectorSelector {
    /// The metric name as written before the braces (or in a quoted
    /// `{"name"}`); also present as a `__name__` matcher in `matchers`.
    pub name: Option<String>,
    /// All matchers, including the `__name__` one derived from `name`.
    pub matchers: Vec<Matcher>,
    pub offset: Option<DurationExpr>,
    pub at: Option<AtModifier>,
    /// `anchored` modifier (experimental extended range selectors).
    pub anchored: bool,
    /// `smoothed` modifier (experimental extended range selectors).
    pub smoothed: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSelector {
    pub selector: VectorSelector,
    pub range: DurationExpr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subquery {
    pub expr: Box<Expr>,
    pub range: DurationExpr,
    /// `None` means the default (the rule evaluation interval / query step
    /// default of 1m as Prometheus' `noStepSubqueryIntervalFn`).
    pub step: Option<DurationExpr>,
    pub offset: Option<DurationExpr>,
    pub at: Option<AtModifier>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
    Limitk,
    LimitRatio,
}

impl AggregateOp {
    pub fn as_str(self) -> &'static str {
        use AggregateOp::*;
        match self {
            Sum => "sum",
            Avg => "avg",
            Count => "count",
            Min => "min",
            Max => "max",
            Group => "group",
            Stddev => "stddev",
            Stdvar => "stdvar",
            Topk => "topk",
            Bottomk => "bottomk",
            CountValues => "count_values",
            Quantile => "quantile",
            Limitk => "limitk",
            LimitRatio => "limit_ratio",
        }
    }

    /// Does this aggregation take a parameter (`topk(k, …)`)?
    pub fn has_param(self) -> bool {
        use AggregateOp::*;
        matches!(self, Topk | Bottomk | CountValues | Quantile | Limitk | LimitRatio)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub op: AggregateOp,
    pub expr: Box<Expr>,
    pub param: Option<Box<Expr>>,
    /// Labels in `by (…)` or `without (…)`.
    pub grouping: Vec<String>,
    /// `without` rather than `by`.
    pub without: bool,
    /// Whether a `by`/`without` clause was written at all (for printing).
    pub has_grouping_clause: bool,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eql,
    Neq,
    Gtr,
    Lss,
    Gte,
    Lte,
    And,
    Or,
    Unless,
    /// `</` trim-upper (native histograms).
    TrimUpper,
    /// `>/` trim-lower (native histograms).
    TrimLower,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Pow => "^",
            Atan2 => "atan2",
            Eql => "==",
            Neq => "!=",
            Gtr => ">",
            Lss => "<",
            Gte => ">=",
            Lte => "<=",
            And => "and",
            Or => "or",
            Unless => "unless",
            TrimUpper => "</",
            TrimLower => ">/",
        }
    }

    pub fn is_comparison(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eql | Neq | Gtr | Lss | Gte | Lte)
    }

    pub fn is_set(self) -> bool {
        use BinaryOp::*;
        matches!(self, And | Or | Unless)
    }

    /// Precedence, higher binds tighter (Prometheus' grammar):
    /// `or` < `and unless` < comparisons < `+ -` < `* / % atan2` < `^`.
    pub fn precedence(self) -> u8 {
        use BinaryOp::*;
        match self {
            Or => 1,
            And | Unless => 2,
            Eql | Neq | Gtr | Lss | Gte | Lte => 3,
            Add | Sub => 4,
            Mul | Div | Mod | Atan2 | TrimUpper | TrimLower => 5,
            Pow => 6,
        }
    }

    /// `^` is right-associative; everything else left.
    pub fn right_assoc(self) -> bool {
        self == BinaryOp::Pow
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// `fill(v)`, `fill_left(v)`, `fill_right(v)` modifiers: values used for a
/// missing match on that side.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FillModifier {
    pub lhs: Option<f64>,
    pub rhs: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatching {
    pub card: Cardinality,
    /// Labels in `on(…)` / `ignoring(…)`.
    pub labels: Vec<String>,
    /// `on` rather than `ignoring`.
    pub on: bool,
    /// Labels in `group_left(…)` / `group_right(…)`.
    pub include: Vec<String>,
    pub fill: FillModifier,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    pub op: BinaryOp,
    pub lhs: Box<Expr>,
    pub rhs: Box<Expr>,
    /// `bool` modifier on a comparison.
    pub return_bool: bool,
    /// Present when both sides are vectors (set ops default to many-to-many).
    pub matching: Option<VectorMatching>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Function name as in Prometheus (`rate`, `label_replace`, …).
    pub func: String,
    pub args: Vec<Expr>,
    pub span: Span,
}

/// A string literal's value. PromQL strings are Go strings, i.e. bytes: an
/// escape such as `"\xff"` can make one that is not UTF-8, which a Rust
/// `String` cannot hold. The text is the value with U+FFFD for such bytes
/// (what Go's JSON encoder shows too); the exact bytes are kept when they
/// are not UTF-8, so the printer writes the literal back as it was and a
/// label name made of them is refused as Prometheus refuses it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StrLit {
    text: String,
    /// The decoded bytes, only when they are not valid UTF-8.
    not_utf8: Option<Box<[u8]>>,
}

impl StrLit {
    /// The literal's decoded bytes.
    pub fn from_bytes(b: Vec<u8>) -> StrLit {
        match String::from_utf8(b) {
            Ok(text) => StrLit { text, not_utf8: None },
            Err(e) => {
                let b = e.into_bytes();
                StrLit { text: String::from_utf8_lossy(&b).into_owned(), not_utf8: Some(b.into_boxed_slice()) }
            }
        }
    }

    /// The value as text (U+FFFD where the bytes are not UTF-8).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The exact bytes of the value.
    pub fn as_bytes(&self) -> &[u8] {
        self.not_utf8.as_deref().unwrap_or(self.text.as_bytes())
    }

    /// Whether the value is valid UTF-8 (Go's `utf8.ValidString`).
    pub fn is_utf8(&self) -> bool {
        self.not_utf8.is_none()
    }
}

impl From<&str> for StrLit {
    fn from(s: &str) -> StrLit {
        StrLit { text: s.to_string(), not_utf8: None }
    }
}

impl From<String> for StrLit {
    fn from(text: String) -> StrLit {
        StrLit { text, not_utf8: None }
    }
}

impl std::ops::Deref for StrLit {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64, Span),
    String(StrLit, Span),
    VectorSelector(VectorSelector),
    MatrixSelector(MatrixSelector),
    Subquery(Subquery),
    Call(Call),
    Aggregate(Aggregate),
    Binary(Binary),
    /// Unary minus (`-x`); unary plus is dropped by the parser.
    Neg(Box<Expr>, Span),
    Paren(Box<Expr>, Span),
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Number(_, s) | Expr::String(_, s) | Expr::Neg(_, s) | Expr::Paren(_, s) => *s,
            Expr::VectorSelector(v) => v.span,
            Expr::MatrixSelector(m) => m.span,
            Expr::Subquery(s) => s.span,
            Expr::Call(c) => c.span,
            Expr::Aggregate(a) => a.span,
            Expr::Binary(b) => b.span,
        }
    }

    /// The static type of the expression, as the parser checks it.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(..) => ValueType::Scalar,
            Expr::String(..) => ValueType::String,
            Expr::VectorSelector(_) => ValueType::Vector,
            Expr::MatrixSelector(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Call(c) => crate::functions::return_type(&c.func).unwrap_or(ValueType::Vector),
            Expr::Aggregate(_) => ValueType::Vector,
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar && b.rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Neg(e, _) | Expr::Paren(e, _) => e.value_type(),
        }
    }
}
