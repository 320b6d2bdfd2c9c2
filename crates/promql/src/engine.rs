//! PLACEHOLDER — replaced by the evaluator. The public API below is the
//! contract the web API, rules and responder code against.
use bongsu_model::storage::Queryable;
use bongsu_model::{Labels, Sample};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Lookback delta in ms (default 5m).
    pub lookback_delta: i64,
    /// Max samples a query may hold in memory at once (Prometheus' `--query.max-samples`, default 50_000_000).
    pub max_samples: usize,
    /// Query timeout (default 2m).
    pub timeout: Duration,
    /// `--enable-feature` names that change PromQL (e.g. "promql-experimental-functions").
    pub features: Vec<String>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { lookback_delta: 300_000, max_samples: 50_000_000, timeout: Duration::from_secs(120), features: vec![] }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSeries {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar { t: i64, v: f64 },
    String { t: i64, s: String },
    Vector(Vec<VectorSample>),
    Matrix(Vec<MatrixSeries>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub value: Value,
    /// Annotations at warning level, full text ("PromQL warning: …").
    pub warnings: Vec<String>,
    /// Annotations at info level ("PromQL info: …").
    pub infos: Vec<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Parse(#[from] crate::parser::ParseError),
    #[error("query timed out in {0}")]
    Timeout(String),
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(String),
    #[error("{0}")]
    Execution(String),
    #[error("{0}")]
    Storage(String),
}

impl QueryError {
    /// Prometheus' API `errorType` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::Parse(_) => "bad_data",
            QueryError::Timeout(_) => "timeout",
            QueryError::TooManySamples(_) | QueryError::Execution(_) | QueryError::Storage(_) => "execution",
        }
    }
}

pub struct Engine {
    pub opts: EngineOptions,
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Self {
        Engine { opts }
    }

    /// Evaluates `query` at `t` (ms).
    pub fn instant_query(&self, _q: &dyn Queryable, query: &str, _t: i64) -> Result<QueryResult, QueryError> {
        crate::parser::parse(query)?;
        Err(QueryError::Execution("engine not implemented".into()))
    }

    /// Evaluates `query` at every `step` (ms) from `start` to `end` inclusive.
    pub fn range_query(&self, _q: &dyn Queryable, query: &str, _start: i64, _end: i64, _step: i64) -> Result<QueryResult, QueryError> {
        crate::parser::parse(query)?;
        Err(QueryError::Execution("engine not implemented".into()))
    }
}
