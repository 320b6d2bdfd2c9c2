//! The PromQL evaluator (Prometheus 3 semantics) over any [`Queryable`].
//!
//! Evaluation is step based: an instant query is one step, a range query
//! evaluates the expression at every step. Storage is read once per selector
//! per query: a planning pass computes the time range each selector needs over
//! the whole query, and the evaluator slices the loaded samples per step.
use crate::ast::{AtModifier, DurationExpr, Expr, MatrixSelector, VectorSelector};
use bongsu_model::storage::{Queryable, SelectHints, Series};
use bongsu_model::{is_stale_nan, Labels, Sample};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

mod aggregate;
mod binary;
mod funcs;
mod range;

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Lookback delta in ms (default 5m).
    pub lookback_delta: i64,
    /// Max samples a query may hold in memory at once (Prometheus' `--query.max-samples`, default 50_000_000).
    pub max_samples: usize,
    /// Query timeout (default 2m).
    pub timeout: Duration,
    /// `--enable-feature` names that change PromQL (e.g. "promql-experimental-functions",
    /// "promql-delayed-name-removal", "type-and-unit-labels", "use-start-timestamps").
    pub features: Vec<String>,
    /// Range queries: evaluate the common shapes a series at a time
    /// (`engine/range.rs`); off = every step through the step evaluator.
    /// On by default; `BONGSU_PROMQL_STEPWISE=1` turns it off for comparison.
    pub series_at_a_time: bool,
    /// Range functions over at least this many series are computed on
    /// several threads (default 2048; tests lower it to cover that path).
    pub parallel_min_series: usize,
    /// Step (ms) of a subquery written without one (`x[10m:]`): Prometheus
    /// uses the global `evaluation_interval`, so the server sets this at
    /// start and on every reload (default 1m).
    pub subquery_step: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: 300_000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            features: vec![],
            series_at_a_time: std::env::var_os("BONGSU_PROMQL_STEPWISE").is_none(),
            parallel_min_series: 2048,
            subquery_step: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(60_000)),
        }
    }
}

impl EngineOptions {
    /// Is the `--enable-feature` name `f` on?
    pub fn feature(&self, f: &str) -> bool {
        self.features.iter().any(|x| x == f)
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

pub(crate) fn exec_err(s: impl Into<String>) -> QueryError {
    QueryError::Execution(s.into())
}

pub struct Engine {
    pub opts: EngineOptions,
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Self {
        Engine { opts }
    }

    /// Evaluates `query` at `t` (ms).
    pub fn instant_query(&self, q: &dyn Queryable, query: &str, t: i64) -> Result<QueryResult, QueryError> {
        let expr = crate::parser::parse(query)?;
        self.instant_query_expr(q, &expr, t)
    }

    /// Evaluates `query` at every `step` (ms) from `start` to `end` inclusive.
    pub fn range_query(&self, q: &dyn Queryable, query: &str, start: i64, end: i64, step: i64) -> Result<QueryResult, QueryError> {
        let expr = crate::parser::parse(query)?;
        self.range_query_expr(q, &expr, start, end, step)
    }

    /// Evaluates an already parsed expression at `t` (ms). Used by the rules engine.
    pub fn instant_query_expr(&self, q: &dyn Queryable, expr: &Expr, t: i64) -> Result<QueryResult, QueryError> {
        let t = clamp_time(t);
        let mut ev = Evaluator::new(q, &self.opts, t, t, 1, false);
        ev.plan(expr)?;
        let val = if self.opts.series_at_a_time && expr.value_type() == crate::ast::ValueType::Vector && ev.streamable(expr) {
            // One step: the same series-at-a-time evaluation as a range query.
            let series = ev.stream_result(expr)?;
            Val::Vec(
                series
                    .into_iter()
                    .filter_map(|s| s.pts.first().map(|p| Elem { labels: s.labels, v: p.v, drop: s.drop }))
                    .collect(),
            )
        } else {
            if self.opts.series_at_a_time {
                ev.precompute(expr)?;
            }
            ev.eval(expr, t)?
        };
        let value = match val {
            Val::Scalar(v) => Value::Scalar { t, v },
            Val::Str(s) => Value::String { t, s },
            Val::Vec(v) => {
                let mut v = v;
                ev.cleanup_vector(&mut v)?;
                Value::Vector(v.into_iter().map(|e| VectorSample { labels: e.labels, t, v: e.v }).collect())
            }
            Val::Mat(m) => {
                let m = ev.cleanup_matrix(m)?;
                Value::Matrix(m.into_iter().map(|s| MatrixSeries { labels: s.labels, samples: s.pts }).collect())
            }
        };
        Ok(QueryResult { value, warnings: ev.warnings, infos: ev.infos })
    }

    /// Evaluates an already parsed expression as a range query.
    pub fn range_query_expr(&self, q: &dyn Queryable, expr: &Expr, start: i64, end: i64, step: i64) -> Result<QueryResult, QueryError> {
        let (start, end, step) = (clamp_time(start), clamp_time(end), clamp_time(step));
        if step <= 0 {
            return Err(QueryError::Execution(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(exec_err("end timestamp must not be before start time"));
        }
        match expr.value_type() {
            crate::ast::ValueType::Scalar | crate::ast::ValueType::Vector => {}
            other => {
                return Err(exec_err(format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    documented_type(other)
                )))
            }
        }
        let mut ev = Evaluator::new(q, &self.opts, start, end, step, true);
        ev.plan(expr)?;
        if self.opts.series_at_a_time && expr.value_type() == crate::ast::ValueType::Vector && ev.streamable(expr) {
            let series = ev.stream_result(expr)?;
            let mut m = ev.cleanup_matrix(series)?;
            m.sort_by(|a, b| a.labels.cmp(&b.labels));
            return Ok(QueryResult {
                value: Value::Matrix(m.into_iter().map(|s| MatrixSeries { labels: s.labels, samples: s.pts }).collect()),
                warnings: ev.warnings,
                infos: ev.infos,
            });
        }
        if self.opts.series_at_a_time {
            ev.precompute(expr)?;
        }
        let mut out: HashMap<Labels, usize> = HashMap::new();
        let mut series: Vec<Ser> = Vec::new();
        let mut total = 0usize;
        let mut ts = start;
        while ts <= end {
            ev.check_timeout()?;
            let val = ev.eval(expr, ts)?;
            match val {
                Val::Scalar(v) => {
                    let idx = *out.entry(Labels::empty()).or_insert_with(|| {
                        series.push(Ser { labels: Labels::empty(), pts: vec![], drop: false });
                        series.len() - 1
                    });
                    series[idx].pts.push(Sample { t: ts, v });
                    total += 1;
                }
                Val::Vec(v) => {
                    for e in v {
                        let idx = match out.get(&e.labels) {
                            Some(i) => *i,
                            None => {
                                series.push(Ser { labels: e.labels.clone(), pts: vec![], drop: e.drop });
                                out.insert(e.labels, series.len() - 1);
                                series.len() - 1
                            }
                        };
                        if series[idx].pts.last().map(|p| p.t) == Some(ts) {
                            return Err(exec_err("vector cannot contain metrics with the same labelset"));
                        }
                        series[idx].pts.push(Sample { t: ts, v: e.v });
                        total += 1;
                    }
                }
                _ => return Err(exec_err("invalid expression type for range query, must be Scalar or instant Vector")),
            }
            if total > ev.opts.max_samples {
                return Err(QueryError::TooManySamples("query execution".into()));
            }
            ts += step;
        }
        let mut m = ev.cleanup_matrix(series)?;
        m.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(QueryResult {
            value: Value::Matrix(m.into_iter().map(|s| MatrixSeries { labels: s.labels, samples: s.pts }).collect()),
            warnings: ev.warnings,
            infos: ev.infos,
        })
    }
}

/// Bound for every timestamp and duration entering the evaluator (about
/// ±31,000 years), so that sums of a few of them never overflow `i64`.
pub(crate) const TIME_BOUND: i64 = 1_000_000_000_000_000;

pub(crate) fn clamp_time(t: i64) -> i64 {
    t.clamp(-TIME_BOUND, TIME_BOUND)
}

fn documented_type(t: crate::ast::ValueType) -> &'static str {
    match t {
        crate::ast::ValueType::Matrix => "range vector",
        crate::ast::ValueType::Vector => "instant vector",
        other => other.as_str(),
    }
}

/// One element of an instant vector during evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Elem {
    pub labels: Labels,
    pub v: f64,
    /// Drop `__name__` (and `__type__`/`__unit__`) at the end (delayed name removal).
    pub drop: bool,
}

/// Matrix selection at one step: the series' windows, their start
/// timestamps when asked for (`None`: a series without), and the window
/// `(start, end]`.
pub(crate) type Windows = (Vec<Ser>, Vec<Option<Vec<i64>>>, i64, i64);

/// One series of a range vector during evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Ser {
    pub labels: Labels,
    pub pts: Vec<Sample>,
    pub drop: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(f64),
    Str(String),
    Vec(Vec<Elem>),
    Mat(Vec<Ser>),
}

impl Val {
    fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Str(_) => "string",
            Val::Vec(_) => "vector",
            Val::Mat(_) => "matrix",
        }
    }
}

pub(crate) const METADATA_LABELS: [&str; 3] = ["__name__", "__type__", "__unit__"];

pub(crate) struct Evaluator<'a> {
    q: &'a dyn Queryable,
    pub(crate) opts: &'a EngineOptions,
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) interval: i64,
    pub(crate) is_range: bool,
    pub(crate) delayed: bool,
    pub(crate) type_and_unit: bool,
    /// `use-start-timestamps`: `rate`, `increase`, `irate` and `resets` over
    /// a matrix selector read the samples' start timestamps (see `funcs.rs`),
    /// `start_timestamp()` answers them.
    pub(crate) use_st: bool,
    ranges: HashMap<usize, (i64, i64)>,
    data: HashMap<usize, Rc<Vec<Series>>>,
    /// Subquery inner results by (subquery node, inner step time): each inner
    /// step is evaluated once per query even when outer steps overlap.
    sub_memo: HashMap<(usize, i64), Rc<Val>>,
    /// Range queries: nodes already evaluated for every step (see `range.rs`).
    pre: HashMap<usize, Rc<range::Pre>>,
    /// The steps `range.rs` evaluates at: first time, step, count (the
    /// query's steps, or a subquery's inner steps while it is evaluated).
    grid: (i64, i64, usize),
    pub(crate) warnings: Vec<String>,
    pub(crate) infos: Vec<String>,
    deadline: Instant,
    ops: u64,
}

impl<'a> Evaluator<'a> {
    fn new(q: &'a dyn Queryable, opts: &'a EngineOptions, start: i64, end: i64, interval: i64, is_range: bool) -> Self {
        Evaluator {
            q,
            opts,
            start,
            end,
            interval,
            is_range,
            delayed: opts.feature("promql-delayed-name-removal"),
            type_and_unit: opts.feature("type-and-unit-labels"),
            use_st: opts.feature("use-start-timestamps"),
            ranges: HashMap::new(),
            data: HashMap::new(),
            sub_memo: HashMap::new(),
            pre: HashMap::new(),
            grid: (start, interval.max(1), ((end - start) / interval.max(1) + 1).max(1) as usize),
            warnings: vec![],
            infos: vec![],
            deadline: Instant::now().checked_add(opts.timeout).unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365)),
            ops: 0,
        }
    }

    pub(crate) fn warn(&mut self, s: String) {
        if !self.warnings.contains(&s) {
            self.warnings.push(s);
        }
    }

    pub(crate) fn info(&mut self, s: String) {
        if !self.infos.contains(&s) {
            self.infos.push(s);
        }
    }

    /// The lookback delta (Prometheus uses 5m when it is not positive).
    pub(crate) fn lookback(&self) -> i64 {
        if self.opts.lookback_delta <= 0 {
            300_000
        } else {
            clamp_time(self.opts.lookback_delta)
        }
    }

    pub(crate) fn check_timeout(&mut self) -> Result<(), QueryError> {
        self.ops += 1;
        if self.ops & 63 == 0 && Instant::now() > self.deadline {
            return Err(QueryError::Timeout("expression evaluation".into()));
        }
        Ok(())
    }

    /// The timeout, checked at every call (for loops doing much work per call).
    pub(crate) fn check_deadline(&self) -> Result<(), QueryError> {
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout("expression evaluation".into()));
        }
        Ok(())
    }

    pub(crate) fn check_samples(&self, n: usize) -> Result<(), QueryError> {
        if n > self.opts.max_samples {
            return Err(QueryError::TooManySamples("query execution".into()));
        }
        Ok(())
    }

    /// Drops the metric name now unless name removal is delayed.
    pub(crate) fn drop_name_now(&self, l: Labels) -> Labels {
        if self.delayed {
            l
        } else {
            l.without(&METADATA_LABELS)
        }
    }

    fn cleanup_vector(&mut self, v: &mut [Elem]) -> Result<(), QueryError> {
        for e in v.iter_mut() {
            if e.drop {
                e.labels = e.labels.without(&METADATA_LABELS);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for e in v.iter() {
            if !seen.insert(&e.labels) {
                return Err(exec_err("vector cannot contain metrics with the same labelset"));
            }
        }
        Ok(())
    }

    fn cleanup_matrix(&mut self, m: Vec<Ser>) -> Result<Vec<Ser>, QueryError> {
        let mut out: Vec<Ser> = Vec::with_capacity(m.len());
        let mut idx: HashMap<Labels, usize> = HashMap::new();
        for mut s in m {
            if s.drop {
                s.labels = s.labels.without(&METADATA_LABELS);
            }
            match idx.get(&s.labels) {
                Some(&i) => {
                    let tgt = &mut out[i];
                    for p in s.pts {
                        match tgt.pts.binary_search_by(|x| x.t.cmp(&p.t)) {
                            Ok(_) => return Err(exec_err("vector cannot contain metrics with the same labelset")),
                            Err(j) => tgt.pts.insert(j, p),
                        }
                    }
                }
                None => {
                    idx.insert(s.labels.clone(), out.len());
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- time helpers

    pub(crate) fn at_time(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(AtModifier::Timestamp(t)) => Some(clamp_time(*t)),
            Some(AtModifier::Start) => Some(self.start),
            Some(AtModifier::End) => Some(self.end),
        }
    }

    pub(crate) fn duration(&self, d: &DurationExpr) -> Result<i64, QueryError> {
        match d {
            DurationExpr::Millis(ms) => Ok(clamp_time(*ms)),
            DurationExpr::Expr(e) => {
                let secs = self.duration_expr(e)?;
                if !secs.is_finite() {
                    return Err(exec_err(format!("duration expression evaluated to invalid value {secs}")));
                }
                Ok(clamp_time((secs * 1000.0).round() as i64))
            }
        }
    }

    fn opt_duration(&self, d: &Option<DurationExpr>) -> Result<i64, QueryError> {
        match d {
            None => Ok(0),
            Some(d) => self.duration(d),
        }
    }

    /// Evaluates a duration expression to seconds.
    fn duration_expr(&self, e: &Expr) -> Result<f64, QueryError> {
        use crate::ast::BinaryOp::*;
        Ok(match e {
            Expr::Number(n, _) => *n,
            Expr::Paren(e, _) => self.duration_expr(e)?,
            Expr::Neg(e, _) => -self.duration_expr(e)?,
            Expr::Binary(b) => {
                let l = self.duration_expr(&b.lhs)?;
                let r = self.duration_expr(&b.rhs)?;
                match b.op {
                    Add => l + r,
                    Sub => l - r,
                    Mul => l * r,
                    Div => l / r,
                    Mod => l % r,
                    Pow => l.powf(r),
                    _ => return Err(exec_err(format!("unsupported operator {} in duration expression", b.op.as_str()))),
                }
            }
            Expr::Call(c) => match c.func.to_ascii_lowercase().as_str() {
                "step" => if self.is_range { self.interval as f64 / 1000.0 } else { 0.0 },
                "range" => (self.end - self.start) as f64 / 1000.0,
                "min_of" | "max_of" => {
                    let mut acc: Option<f64> = None;
                    for a in &c.args {
                        let v = self.duration_expr(a)?;
                        acc = Some(match acc {
                            None => v,
                            Some(x) if c.func.eq_ignore_ascii_case("min_of") => x.min(v),
                            Some(x) => x.max(v),
                        });
                    }
                    acc.unwrap_or(0.0)
                }
                other => return Err(exec_err(format!("unsupported function {other} in duration expression"))),
            },
            _ => return Err(exec_err("unsupported duration expression")),
        })
    }

    // ---------------------------------------------------------------- planning

    fn plan(&mut self, e: &Expr) -> Result<(), QueryError> {
        let (s, en) = (self.start, self.end);
        self.plan_node(e, s, en)?;
        // Load every selector once.
        let mut sels: Vec<(usize, i64, i64)> = self.ranges.iter().map(|(k, (a, b))| (*k, *a, *b)).collect();
        sels.sort();
        let mut by_ptr: HashMap<usize, &VectorSelector> = HashMap::new();
        collect_selectors(e, &mut by_ptr);
        for (ptr, mint, maxt) in sels {
            if let Some(vs) = by_ptr.get(&ptr) {
                let series = self
                    .q
                    .select(SelectHints { mint, maxt }, &vs.matchers)
                    .map_err(|e| QueryError::Storage(e.to_string()))?;
                let n: usize = series.iter().map(|s| s.samples.len()).sum();
                self.check_samples(n)?;
                self.data.insert(ptr, Rc::new(series));
            }
        }
        Ok(())
    }

    fn add_range(&mut self, vs: &VectorSelector, mint: i64, maxt: i64) {
        let k = vs as *const VectorSelector as usize;
        let e = self.ranges.entry(k).or_insert((mint, maxt));
        e.0 = e.0.min(mint);
        e.1 = e.1.max(maxt);
    }

    fn plan_node(&mut self, e: &Expr, start: i64, end: i64) -> Result<(), QueryError> {
        let lb = self.lookback();
        match e {
            Expr::Number(..) | Expr::String(..) => {}
            Expr::VectorSelector(vs) => {
                let (s, en) = self.at_time(&vs.at).map(|t| (t, t)).unwrap_or((start, end));
                let off = self.opt_duration(&vs.offset)?;
                let extra = if vs.smoothed { lb } else { 0 };
                self.add_range(vs, s - off - lb, en - off + extra);
            }
            Expr::MatrixSelector(ms) => {
                let vs = &ms.selector;
                let (s, en) = self.at_time(&vs.at).map(|t| (t, t)).unwrap_or((start, end));
                let off = self.opt_duration(&vs.offset)?;
                let range = self.duration(&ms.range)?;
                let pre = if vs.anchored || vs.smoothed { lb } else { 0 };
                let post = if vs.smoothed { lb } else { 0 };
                self.add_range(vs, s - off - range - pre, en - off + post);
            }
            Expr::Subquery(sq) => {
                let (s, en) = self.at_time(&sq.at).map(|t| (t, t)).unwrap_or((start, end));
                let off = self.opt_duration(&sq.offset)?;
                let range = self.duration(&sq.range)?;
                self.plan_node(&sq.expr, s - off - range, en - off)?;
            }
            Expr::Call(c) => {
                // info()'s second argument is a label selector for info
                // series, fetched on demand, never evaluated as a selector.
                let n = if c.func == "info" { 1 } else { c.args.len() };
                for a in c.args.iter().take(n) {
                    self.plan_node(a, start, end)?;
                }
            }
            Expr::Aggregate(a) => {
                if let Some(p) = &a.param {
                    self.plan_node(p, start, end)?;
                }
                self.plan_node(&a.expr, start, end)?;
            }
            Expr::Binary(b) => {
                self.plan_node(&b.lhs, start, end)?;
                self.plan_node(&b.rhs, start, end)?;
            }
            Expr::Neg(e, _) | Expr::Paren(e, _) => self.plan_node(e, start, end)?,
        }
        Ok(())
    }

    fn series_for(&mut self, vs: &VectorSelector, mint: i64, maxt: i64) -> Result<Rc<Vec<Series>>, QueryError> {
        let k = vs as *const VectorSelector as usize;
        if let Some(d) = self.data.get(&k) {
            if let Some((a, b)) = self.ranges.get(&k) {
                if *a <= mint && *b >= maxt {
                    return Ok(d.clone());
                }
            }
        }
        // Not planned (or outside the planned range): load on demand.
        let (a, b) = match self.ranges.get(&k) {
            Some((a, b)) => ((*a).min(mint), (*b).max(maxt)),
            None => (mint, maxt),
        };
        let series = self
            .q
            .select(SelectHints { mint: a, maxt: b }, &vs.matchers)
            .map_err(|e| QueryError::Storage(e.to_string()))?;
        let d = Rc::new(series);
        self.ranges.insert(k, (a, b));
        self.data.insert(k, d.clone());
        Ok(d)
    }

    /// The series of `vs` for a streamed node, owned: the series-at-a-time
    /// evaluator reads each selector once, so the loaded data leaves the
    /// cache and its labels move into the results instead of being copied
    /// (a copy is made only if something else still holds the data).
    pub(crate) fn take_series(&mut self, vs: &VectorSelector, mint: i64, maxt: i64) -> Result<Vec<Series>, QueryError> {
        let d = self.series_for(vs, mint, maxt)?;
        self.data.remove(&(vs as *const VectorSelector as usize));
        Ok(Rc::try_unwrap(d).unwrap_or_else(|d| (*d).clone()))
    }

    // ---------------------------------------------------------------- evaluation

    pub(crate) fn eval(&mut self, e: &Expr, ts: i64) -> Result<Val, QueryError> {
        self.check_timeout()?;
        if !self.pre.is_empty() {
            if let Some(p) = self.pre.get(&(e as *const Expr as usize)) {
                if let Some(i) = p.index(ts) {
                    return Ok(Val::Vec(p.at(i)));
                }
            }
        }
        match e {
            Expr::Number(n, _) => Ok(Val::Scalar(*n)),
            Expr::String(s, _) => Ok(Val::Str(s.to_string())),
            Expr::Paren(e, _) => self.eval(e, ts),
            Expr::Neg(inner, _) => {
                let v = self.eval(inner, ts)?;
                Ok(match v {
                    Val::Scalar(x) => Val::Scalar(-x),
                    Val::Vec(v) => Val::Vec(
                        v.into_iter()
                            .map(|mut el| {
                                el.v = -el.v;
                                el.labels = self.drop_name_now(el.labels);
                                el.drop = true;
                                el
                            })
                            .collect(),
                    ),
                    Val::Mat(m) => Val::Mat(
                        m.into_iter()
                            .map(|mut s| {
                                for p in s.pts.iter_mut() {
                                    p.v = -p.v;
                                }
                                s.labels = self.drop_name_now(s.labels);
                                s.drop = true;
                                s
                            })
                            .collect(),
                    ),
                    other => return Err(exec_err(format!("unary minus not allowed on {}", other.type_name()))),
                })
            }
            Expr::VectorSelector(vs) => Ok(Val::Vec(self.eval_vector_selector(vs, ts, false)?)),
            Expr::MatrixSelector(ms) => Ok(Val::Mat(self.eval_matrix_selector(ms, ts)?.0)),
            Expr::Subquery(sq) => Ok(Val::Mat(self.eval_subquery(sq, ts)?.0)),
            Expr::Call(c) => self.eval_call(c, ts),
            Expr::Aggregate(a) => self.eval_aggregate(a, ts),
            Expr::Binary(b) => self.eval_binary(b, ts),
        }
    }

    pub(crate) fn eval_scalar(&mut self, e: &Expr, ts: i64) -> Result<f64, QueryError> {
        match self.eval(e, ts)? {
            Val::Scalar(v) => Ok(v),
            other => Err(exec_err(format!("expected scalar, got {}", other.type_name()))),
        }
    }

    pub(crate) fn eval_vector(&mut self, e: &Expr, ts: i64) -> Result<Vec<Elem>, QueryError> {
        match self.eval(e, ts)? {
            Val::Vec(v) => Ok(v),
            other => Err(exec_err(format!("expected instant vector, got {}", other.type_name()))),
        }
    }

    /// Instant vector selection at `ts`. With `with_ts`, the value is the
    /// sample's timestamp in seconds (for `timestamp()`).
    pub(crate) fn eval_vector_selector(&mut self, vs: &VectorSelector, ts: i64, with_ts: bool) -> Result<Vec<Elem>, QueryError> {
        let t = self.at_time(&vs.at).unwrap_or(ts) - self.opt_duration(&vs.offset)?;
        let lb = self.lookback();
        if vs.smoothed {
            let data = self.series_for(vs, t - lb, t + lb)?;
            let mut out = Vec::new();
            for s in data.iter() {
                let f: Vec<Sample> =
                    s.samples.iter().filter(|p| p.t > t - lb && p.t <= t + lb && !is_stale_nan(p.v)).copied().collect();
                let i = f.partition_point(|p| p.t < t);
                let v = if i < f.len() && f[i].t == t {
                    f[i].v
                } else if i > 0 && i < f.len() {
                    let (p, n) = (f[i - 1], f[i]);
                    p.v + (n.v - p.v) * (t - p.t) as f64 / (n.t - p.t) as f64
                } else if i > 0 {
                    f[i - 1].v
                } else {
                    continue;
                };
                out.push(Elem { labels: s.labels.clone(), v, drop: false });
            }
            return Ok(out);
        }
        self.select_at(vs, t, |s, i| if with_ts { s.samples[i].t as f64 / 1000.0 } else { s.samples[i].v })
    }

    /// The sample each series of `vs` has at `t` (the latest within the
    /// lookback, not stale), as `value(series, index of that sample)`.
    fn select_at(&mut self, vs: &VectorSelector, t: i64, value: impl Fn(&Series, usize) -> f64) -> Result<Vec<Elem>, QueryError> {
        let lb = self.lookback();
        let data = self.series_for(vs, t - lb, t)?;
        let mut out = Vec::new();
        for s in data.iter() {
            let i = s.samples.partition_point(|x| x.t <= t);
            if i == 0 {
                continue;
            }
            let smp = s.samples[i - 1];
            if smp.t <= t - lb || is_stale_nan(smp.v) {
                continue;
            }
            out.push(Elem { labels: s.labels.clone(), v: value(s, i - 1), drop: false });
        }
        self.check_samples(out.len())?;
        Ok(out)
    }

    /// `start_timestamp(vs)` at `ts`: the start timestamp (in seconds, `0`
    /// when unknown) of the sample each series has at `ts`, found as an
    /// instant selection finds it (Prometheus' `vectorSelectorSingle`).
    pub(crate) fn eval_start_timestamps(&mut self, vs: &VectorSelector, ts: i64) -> Result<Vec<Elem>, QueryError> {
        let t = self.at_time(&vs.at).unwrap_or(ts) - self.opt_duration(&vs.offset)?;
        self.select_at(vs, t, |s, i| s.st_at(i) as f64 / 1000.0)
    }

    /// Range selection for `ms` at `ts`: samples in `(t-range, t]`. Returns the
    /// series and the window `(start, end]` used.
    pub(crate) fn eval_matrix_selector(&mut self, ms: &MatrixSelector, ts: i64) -> Result<(Vec<Ser>, i64, i64), QueryError> {
        let (out, _, start, end) = self.matrix_windows(ms, ts, false)?;
        Ok((out, start, end))
    }

    /// [`Self::eval_matrix_selector`]; with `with_st` (a plain selector, not
    /// `anchored`/`smoothed`) also each series' start timestamps aligned
    /// with its points, `None` for a series without them.
    pub(crate) fn matrix_windows(&mut self, ms: &MatrixSelector, ts: i64, with_st: bool) -> Result<Windows, QueryError> {
        let vs = &ms.selector;
        let t = self.at_time(&vs.at).unwrap_or(ts) - self.opt_duration(&vs.offset)?;
        let range = self.duration(&ms.range)?;
        if vs.anchored || vs.smoothed {
            let lb = self.lookback();
            let maxt = if vs.smoothed { t + lb } else { t };
            let data = self.series_for(vs, t - range - lb, maxt)?;
            let mut out = Vec::new();
            for s in data.iter() {
                let f: Vec<Sample> =
                    s.samples.iter().filter(|p| p.t > t - range - lb && p.t <= maxt && !is_stale_nan(p.v)).copied().collect();
                let pts = funcs::extend_floats(&f, t - range, t, vs.smoothed);
                if !pts.is_empty() {
                    out.push(Ser { labels: s.labels.clone(), pts, drop: false });
                }
            }
            return Ok((out, vec![], t - range, t));
        }
        let data = self.series_for(vs, t - range, t)?;
        let mut out = Vec::new();
        let mut sts = Vec::new();
        let mut n = 0;
        for s in data.iter() {
            let lo = s.samples.partition_point(|x| x.t <= t - range);
            let hi = s.samples.partition_point(|x| x.t <= t).max(lo);
            let pts: Vec<Sample> = s.samples[lo..hi].iter().filter(|x| !is_stale_nan(x.v)).copied().collect();
            if pts.is_empty() {
                continue;
            }
            n += pts.len();
            if with_st {
                sts.push(s.st.as_ref().map(|c| (lo..hi).filter(|&i| !is_stale_nan(s.samples[i].v)).map(|i| c[i]).collect()));
            }
            out.push(Ser { labels: s.labels.clone(), pts, drop: false });
        }
        self.check_samples(n)?;
        Ok((out, sts, t - range, t))
    }

    /// Direct storage select (not planned), for `info()`.
    pub(crate) fn select_direct(&self, mint: i64, maxt: i64, matchers: &[bongsu_model::Matcher]) -> Result<Vec<Series>, QueryError> {
        self.q.select(SelectHints { mint, maxt }, matchers).map_err(|e| QueryError::Storage(e.to_string()))
    }

    /// Raw samples (stale markers included) of a selector's series around the
    /// window, for the extended range selectors.
    pub(crate) fn raw_series(&mut self, vs: &VectorSelector, mint: i64, maxt: i64) -> Result<Rc<Vec<Series>>, QueryError> {
        self.series_for(vs, mint, maxt)
    }

    /// A subquery's offset, range and step (ms); without a step, the global
    /// evaluation interval.
    pub(crate) fn subquery_params(&self, sq: &crate::ast::Subquery) -> Result<(i64, i64, i64), QueryError> {
        let off = self.opt_duration(&sq.offset)?;
        let range = self.duration(&sq.range)?;
        let step = match &sq.step {
            Some(d) => self.duration(d)?,
            None => self.opts.subquery_step.load(std::sync::atomic::Ordering::Relaxed),
        };
        if step <= 0 {
            return Err(exec_err("zero or negative subquery step"));
        }
        Ok((off, range, step))
    }

    /// Evaluates a subquery at `ts`. Returns the series and the window.
    pub(crate) fn eval_subquery(&mut self, sq: &crate::ast::Subquery, ts: i64) -> Result<(Vec<Ser>, i64, i64), QueryError> {
        let (off, range, step) = self.subquery_params(sq)?;
        let base = self.at_time(&sq.at).unwrap_or(ts) - off;
        let lo = base - range;
        let mut t = first_inner_step(lo, step);
        let mut idx: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<Ser> = Vec::new();
        let mut n = 0usize;
        let key = sq as *const crate::ast::Subquery as usize;
        while t <= base {
            let val = match self.sub_memo.get(&(key, t)) {
                Some(v) => v.clone(),
                None => {
                    let v = Rc::new(self.eval(&sq.expr, t)?);
                    self.sub_memo.insert((key, t), v.clone());
                    v
                }
            };
            match &*val {
                Val::Scalar(v) => {
                    let v = *v;
                    let i = *idx.entry(Labels::empty()).or_insert_with(|| {
                        out.push(Ser { labels: Labels::empty(), pts: vec![], drop: false });
                        out.len() - 1
                    });
                    out[i].pts.push(Sample { t, v });
                    n += 1;
                }
                Val::Vec(v) => {
                    for e in v {
                        let i = match idx.get(&e.labels) {
                            Some(i) => *i,
                            None => {
                                out.push(Ser { labels: e.labels.clone(), pts: vec![], drop: e.drop });
                                idx.insert(e.labels.clone(), out.len() - 1);
                                out.len() - 1
                            }
                        };
                        if out[i].pts.last().map(|p| p.t) == Some(t) {
                            return Err(exec_err("vector cannot contain metrics with the same labelset"));
                        }
                        out[i].pts.push(Sample { t, v: e.v });
                        n += 1;
                    }
                }
                other => return Err(exec_err(format!("subquery of {} not allowed", other.type_name()))),
            }
            self.check_samples(n)?;
            t += step;
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok((out, lo, base))
    }
}

/// A subquery's first inner step for a window starting (exclusive) at
/// `lo`: the first multiple of `step` after it (Go's integer division
/// truncates toward zero, as Rust's does).
pub(crate) fn first_inner_step(lo: i64, step: i64) -> i64 {
    let t = step * (lo / step);
    if t <= lo {
        t + step
    } else {
        t
    }
}

fn collect_selectors<'e>(e: &'e Expr, out: &mut HashMap<usize, &'e VectorSelector>) {
    match e {
        Expr::VectorSelector(vs) => {
            out.insert(vs as *const VectorSelector as usize, vs);
        }
        Expr::MatrixSelector(ms) => {
            out.insert(&ms.selector as *const VectorSelector as usize, &ms.selector);
        }
        Expr::Subquery(sq) => collect_selectors(&sq.expr, out),
        Expr::Call(c) => c.args.iter().for_each(|a| collect_selectors(a, out)),
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                collect_selectors(p, out);
            }
            collect_selectors(&a.expr, out);
        }
        Expr::Binary(b) => {
            collect_selectors(&b.lhs, out);
            collect_selectors(&b.rhs, out);
        }
        Expr::Neg(e, _) | Expr::Paren(e, _) => collect_selectors(e, out),
        Expr::Number(..) | Expr::String(..) => {}
    }
}

/// Neumaier-compensated increment, as Prometheus' `kahansum.Inc`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

#[cfg(test)]
mod tests;
