//! PLACEHOLDER — replaced by the parser implementation.
use crate::ast::Expr;

/// A syntax error with its position (byte offsets into the query and the
/// 1-based line/column Prometheus prints as `1:5:`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{line}:{col}: parse error: {message}")]
pub struct ParseError {
    pub message: String,
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub col: usize,
}

pub fn parse(_input: &str) -> Result<Expr, ParseError> {
    Err(ParseError { message: "parser not implemented".into(), start: 0, end: 0, line: 1, col: 1 })
}
