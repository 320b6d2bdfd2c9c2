//! PromQL for Bongsu: our own lexer and parser ([`parser::parse`]) with
//! positioned errors, the AST ([`ast`]), a printer (`Display` on [`ast::Expr`]
//! prints Prometheus' canonical form, used by `format_query`), the function
//! signature table ([`functions`]) and the evaluator ([`engine::Engine`]) over
//! any [`bongsu_model::storage::Queryable`].
#![forbid(unsafe_code)]

pub mod ast;
pub mod engine;
pub mod functions;
pub mod memstore;
pub mod parser;
pub mod printer;
pub mod seriesdesc;

pub use ast::Expr;
pub use engine::{Engine, EngineOptions, QueryError, QueryResult, Value};
pub use parser::{parse, ParseError};
