//! Range queries a series at a time.
//!
//! The step-at-a-time evaluator (`Evaluator::eval`) computes the whole
//! expression once per output step: at every step each selected series is
//! cut to its window, its labels copied, the name dropped, the group key of
//! an aggregation rebuilt and hashed. Over 300k series and 60 steps that label
//! work, not the arithmetic, is the cost.
//!
//! Here the common shapes are evaluated once per *series* for all steps:
//! a vector selector, a range function over a matrix selector (`rate`,
//! `*_over_time`, …), unary minus, a vector/scalar operator, a one-to-one
//! vector/vector operator, `and`/`unless`, and the folding aggregations
//! (`sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`, `stdvar`,
//! `quantile`). Each produces a stream of [`StepSer`] — one series' values at
//! every step — and aggregations fold that stream into per-group, per-step
//! accumulators ([`Acc`], shared with the step evaluator so both add in the
//! same order and agree to the bit).
//!
//! Everything else keeps the step evaluator; the largest streamable parts
//! under it are computed here first and handed to it step by step
//! ([`Evaluator::precompute`]), so `histogram_quantile(0.99, sum by (le)
//! (rate(x[1m])))` runs the `sum`/`rate` part here and only the small
//! `histogram_quantile` part per step. The semantics checks are the same as
//! the step evaluator's: the per-step sample limit, "vector cannot contain
//! metrics with the same labelset" (a streamed node whose output could collide
//! after dropping the metric name is not streamed), one-to-one matching
//! errors, annotations.
use super::aggregate::{Acc, GroupIndex};
use super::binary::{changes_schema, elem_op, result_metric, signature, vector_scalar_value};
use super::funcs::{st_overlap_in, st_overlap_warning, uses_st, window_value};
use super::{exec_err, Elem, Evaluator, QueryError, Ser};
use crate::ast::{
    AggregateOp, AtModifier, Binary, BinaryOp, Call, Cardinality, Expr, MatrixSelector, Subquery, ValueType,
    VectorMatching, VectorSelector,
};
use bongsu_model::{is_stale_nan, Labels, MatchOp, Sample, METRIC_NAME};
use std::collections::HashMap;
use std::rc::Rc;

/// A node evaluated at every step of a grid, for the step evaluator to read.
#[derive(Debug)]
pub(crate) struct Pre {
    start: i64,
    step: i64,
    n: usize,
    series: Vec<StepSer>,
}

impl Pre {
    /// The step index of `ts` when it is on the grid.
    pub(crate) fn index(&self, ts: i64) -> Option<usize> {
        if ts < self.start || (ts - self.start) % self.step != 0 {
            return None;
        }
        let i = ((ts - self.start) / self.step) as usize;
        (i < self.n).then_some(i)
    }

    /// The elements present at step `i`.
    pub(crate) fn at(&self, i: usize) -> Vec<Elem> {
        self.series.iter().filter(|s| s.ok[i]).map(|s| Elem { labels: s.labels.clone(), v: s.vals[i], drop: s.drop }).collect()
    }
}

/// One series' values at every step of the range query.
#[derive(Debug, Clone)]
pub(crate) struct StepSer {
    pub labels: Labels,
    pub drop: bool,
    pub vals: Vec<f64>,
    /// Whether the series has a value at the step.
    pub ok: Vec<bool>,
}

type Sink<'s> = dyn FnMut(StepSer) -> Result<(), QueryError> + 's;

/// Range functions evaluated here: every matrix function but
/// `absent_over_time` (an absence check, not a per-series value) and
/// `double_exponential_smoothing`/`holt_winters` (their parameters are
/// validated per evaluation).
fn is_window_func(name: &str) -> bool {
    super::funcs::MATRIX_FUNCS.contains(&name)
        && !matches!(name, "absent_over_time" | "double_exponential_smoothing" | "holt_winters")
}

/// Subqueries with more inner steps than this over the whole query are
/// left to the step evaluator.
const MAX_SUBQUERY_GRID: usize = 100_000;

/// Series per block of the parallel window computation.
const BLOCK: usize = 4096;
fn workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// A window function's work for every step, shareable across threads.
struct Window<'w> {
    name: &'w str,
    /// The window end (selector time) at each step.
    times: &'w [i64],
    /// The evaluation time at each step (for `predict_linear`).
    step_times: &'w [i64],
    range: i64,
    params: Option<&'w [f64]>,
    /// Read the series' start timestamps (`use-start-timestamps` and a
    /// function that uses them).
    st: bool,
}

/// One part's results: values and presence per series (`None`: no value at
/// any step), the samples in the windows at each step, and per series
/// whether a window had overlapping start times (the warning).
struct WindowPart {
    out: Vec<Option<(Vec<f64>, Vec<bool>)>>,
    per_step: Vec<usize>,
    st_overlap: Vec<bool>,
}

impl Window<'_> {
    fn series(&self, series: &[bongsu_model::storage::Series]) -> Result<WindowPart, QueryError> {
        let n = self.times.len();
        let mut per_step = vec![0usize; n];
        let mut out = Vec::with_capacity(series.len());
        let mut st_overlap = Vec::with_capacity(series.len());
        let mut f: Vec<Sample> = Vec::new();
        // The start timestamps of `f`, when the series has them and they are read.
        let mut fst: Vec<i64> = Vec::new();
        for s in series {
            f.clear();
            let st_col = if self.st { s.st.as_deref() } else { None };
            match st_col {
                None => f.extend(s.samples.iter().filter(|p| !is_stale_nan(p.v))),
                Some(c) => {
                    fst.clear();
                    for (p, st) in s.samples.iter().zip(c) {
                        if !is_stale_nan(p.v) {
                            f.push(*p);
                            fst.push(*st);
                        }
                    }
                }
            }
            let mut overlap = false;
            let mut vals = vec![0.0; n];
            let mut ok = vec![false; n];
            let mut any = false;
            let (mut lo, mut hi) = (0usize, 0usize);
            for (i, &t) in self.times.iter().enumerate() {
                if i > 0 && t < self.times[i - 1] {
                    (lo, hi) = (0, 0);
                }
                while lo < f.len() && f[lo].t <= t - self.range {
                    lo += 1;
                }
                hi = hi.max(lo);
                while hi < f.len() && f[hi].t <= t {
                    hi += 1;
                }
                if hi == lo {
                    continue;
                }
                per_step[i] += hi - lo;
                let param = self.params.map(|p| p[i]);
                let st = st_col.map(|_| &fst[lo..hi]);
                if let Some(st) = st {
                    overlap = overlap || st_overlap_in(self.name, &f[lo..hi], st);
                }
                if let Some(v) = window_value(
                    self.name,
                    &f[lo..hi],
                    st,
                    t - self.range,
                    t,
                    self.range,
                    param,
                    None,
                    self.step_times[i],
                )? {
                    vals[i] = v;
                    ok[i] = true;
                    any = true;
                }
            }
            out.push(any.then_some((vals, ok)));
            st_overlap.push(overlap);
        }
        Ok(WindowPart { out, per_step, st_overlap })
    }
}

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(inner, _) => unparen(inner),
        other => other,
    }
}

fn ptr(e: &Expr) -> usize {
    e as *const Expr as usize
}

/// The range argument (unparenthesised) and the scalar parameter of a window function call.
fn range_arg(c: &Call) -> Option<(&Expr, Option<&Expr>)> {
    let (range, param) = match c.func.as_str() {
        "quantile_over_time" => (c.args.get(1)?, Some(c.args.first()?)),
        "predict_linear" => (c.args.first()?, Some(c.args.get(1)?)),
        _ if c.args.len() == 1 => (&c.args[0], None),
        _ => return None,
    };
    Some((unparen(range), param))
}

/// A window function over a plain matrix selector: the selector and the parameter.
fn window_args(c: &Call) -> Option<(&MatrixSelector, Option<&Expr>)> {
    match range_arg(c)? {
        (Expr::MatrixSelector(ms), param) if !ms.selector.anchored && !ms.selector.smoothed => Some((ms, param)),
        _ => None,
    }
}

/// A window function over a subquery: the subquery and the parameter.
fn subquery_args(c: &Call) -> Option<(&Subquery, Option<&Expr>)> {
    match range_arg(c)? {
        (Expr::Subquery(sq), param) => Some((sq, param)),
        _ => None,
    }
}

fn is_fold(op: AggregateOp) -> bool {
    use AggregateOp::*;
    matches!(
        op,
        Sum | Avg | Min | Max | Count | Group | Stddev | Stdvar | Quantile
    )
}

/// One-to-one (or set-operator) matching without `group_*`/`fill*`.
fn plain_matching(b: &Binary) -> Option<VectorMatching> {
    let m = b.matching.clone().unwrap_or(VectorMatching {
        card: if b.op.is_set() {
            Cardinality::ManyToMany
        } else {
            Cardinality::OneToOne
        },
        labels: vec![],
        on: false,
        include: vec![],
        fill: Default::default(),
    });
    let card_ok = if b.op.is_set() {
        m.card == Cardinality::ManyToMany
    } else {
        m.card == Cardinality::OneToOne
    };
    (card_ok && m.include.is_empty() && m.fill.lhs.is_none() && m.fill.rhs.is_none()).then_some(m)
}

impl<'a> Evaluator<'a> {
    fn nsteps(&self) -> usize {
        self.grid.2
    }

    fn step_time(&self, i: usize) -> i64 {
        self.grid.0 + i as i64 * self.grid.1
    }

    /// The selection time at every step (`@` or the step, minus the
    /// offset), with its minimum and maximum.
    fn window_ends(&self, at: &Option<AtModifier>, off: i64) -> (Vec<i64>, i64, i64) {
        let at = self.at_time(at);
        let times: Vec<i64> = (0..self.nsteps()).map(|i| at.unwrap_or(self.step_time(i)) - off).collect();
        let (min, max) = (times.iter().min().copied().unwrap_or(0), times.iter().max().copied().unwrap_or(0));
        (times, min, max)
    }

    fn same_grid(&self, p: &Pre) -> bool {
        (p.start, p.step, p.n) == self.grid
    }

    fn pre_of(&self, series: Vec<StepSer>) -> Pre {
        Pre { start: self.grid.0, step: self.grid.1, n: self.grid.2, series }
    }

    /// Whether the series of `e` stay distinct when the metric name (and
    /// type/unit) labels are dropped now.
    fn distinct_after_drop(&self, e: &Expr) -> bool {
        if self.delayed {
            return true;
        }
        if self.type_and_unit {
            return false;
        }
        self.names_distinct(e)
    }

    fn names_distinct(&self, e: &Expr) -> bool {
        match e {
            Expr::Paren(inner, _) | Expr::Neg(inner, _) => self.names_distinct(inner),
            Expr::VectorSelector(vs) => one_name(vs),
            Expr::Call(c) => match (window_args(c), subquery_args(c)) {
                (Some((ms, _)), _) => one_name(&ms.selector),
                (_, Some((sq, _))) => self.names_distinct(&sq.expr),
                _ => false,
            },
            Expr::Aggregate(a) => a.without || !a.grouping.iter().any(|g| g == METRIC_NAME),
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar {
                    self.names_distinct(&b.rhs)
                } else if b.rhs.value_type() == ValueType::Scalar
                    || b.op.is_set()
                    || !(changes_schema(b.op) || b.return_bool)
                {
                    self.names_distinct(&b.lhs)
                } else {
                    true
                }
            }
            _ => false,
        }
    }

    /// Whether `e` (an instant vector) is evaluated here a series at a time.
    pub(crate) fn streamable(&self, e: &Expr) -> bool {
        match e {
            Expr::Paren(inner, _) => self.streamable(inner),
            Expr::VectorSelector(vs) => !vs.smoothed && !vs.anchored,
            Expr::Neg(inner, _) => {
                inner.value_type() == ValueType::Vector
                    && self.streamable(inner)
                    && self.distinct_after_drop(inner)
            }
            Expr::Call(c) => {
                if !is_window_func(&c.func) {
                    return false;
                }
                let keep_name = matches!(c.func.as_str(), "last_over_time" | "first_over_time");
                match (window_args(c), subquery_args(c)) {
                    (Some((ms, _)), _) => {
                        keep_name || self.delayed || (!self.type_and_unit && one_name(&ms.selector))
                    }
                    (_, Some((sq, _))) => {
                        sq.expr.value_type() == ValueType::Vector
                            && self.streamable(&sq.expr)
                            && (keep_name || self.distinct_after_drop(&sq.expr))
                    }
                    _ => false,
                }
            }
            Expr::Aggregate(a) => {
                // topk/bottomk keep their per-step output order in an instant query.
                let topk = matches!(a.op, AggregateOp::Topk | AggregateOp::Bottomk) && self.is_range;
                (is_fold(a.op) || topk) && self.streamable(&a.expr)
            }
            Expr::Binary(b) => {
                let (lt, rt) = (b.lhs.value_type(), b.rhs.value_type());
                if matches!(
                    b.op,
                    BinaryOp::TrimUpper | BinaryOp::TrimLower | BinaryOp::Or
                ) {
                    return false;
                }
                let drops = changes_schema(b.op) || b.return_bool;
                match (lt, rt) {
                    (ValueType::Vector, ValueType::Scalar) => {
                        self.streamable(&b.lhs) && (!drops || self.distinct_after_drop(&b.lhs))
                    }
                    (ValueType::Scalar, ValueType::Vector) => {
                        self.streamable(&b.rhs) && (!drops || self.distinct_after_drop(&b.rhs))
                    }
                    (ValueType::Vector, ValueType::Vector) => {
                        plain_matching(b).is_some()
                            && self.streamable(&b.lhs)
                            && self.streamable(&b.rhs)
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }

    /// Evaluates the largest streamable parts of `e` for every step and keeps
    /// them for the step evaluator (see the module docs).
    pub(crate) fn precompute(&mut self, e: &Expr) -> Result<(), QueryError> {
        if e.value_type() == ValueType::Vector && self.streamable(e) {
            if !self.pre.get(&ptr(e)).is_some_and(|p| self.same_grid(p)) {
                let m = self.materialize(e)?;
                let p = self.pre_of(m);
                self.pre.insert(ptr(e), Rc::new(p));
            }
            return Ok(());
        }
        match e {
            Expr::Paren(inner, _) | Expr::Neg(inner, _) => self.precompute(inner),
            Expr::Call(c) => {
                let n = if c.func == "info" { 1 } else { c.args.len() };
                for (i, a) in c.args.iter().take(n).enumerate() {
                    // timestamp() and start_timestamp() read a selector's
                    // samples themselves.
                    if i == 0
                        && matches!(c.func.as_str(), "timestamp" | "start_timestamp")
                        && matches!(unparen(a), Expr::VectorSelector(_))
                    {
                        continue;
                    }
                    self.precompute(a)?;
                }
                Ok(())
            }
            Expr::Aggregate(a) => {
                if let Some(p) = &a.param {
                    self.precompute(p)?;
                }
                self.precompute(&a.expr)
            }
            Expr::Binary(b) => {
                self.precompute(&b.lhs)?;
                self.precompute(&b.rhs)
            }
            // A subquery's inner steps are not the query's steps.
            _ => Ok(()),
        }
    }

    fn materialize(&mut self, e: &Expr) -> Result<Vec<StepSer>, QueryError> {
        let mut out = Vec::new();
        let mut n = 0usize;
        let max = self.opts.max_samples;
        self.stream(e, &mut |s: StepSer| {
            n += s.ok.iter().filter(|x| **x).count();
            if n > max {
                return Err(QueryError::TooManySamples("query execution".into()));
            }
            out.push(s);
            Ok(())
        })?;
        Ok(out)
    }

    /// The range query's result for a streamable `e`, before name cleanup.
    pub(crate) fn stream_result(&mut self, e: &Expr) -> Result<Vec<Ser>, QueryError> {
        let mut out = Vec::new();
        let mut total = 0usize;
        let (start, step, max) = (self.grid.0, self.grid.1, self.opts.max_samples);
        self.stream(e, &mut |s: StepSer| {
            let pts: Vec<Sample> =
                s.ok.iter()
                    .zip(&s.vals)
                    .enumerate()
                    .filter(|(_, (ok, _))| **ok)
                    .map(|(i, (_, v))| Sample {
                        t: start + i as i64 * step,
                        v: *v,
                    })
                    .collect();
            total += pts.len();
            if total > max {
                return Err(QueryError::TooManySamples("query execution".into()));
            }
            out.push(Ser {
                labels: s.labels,
                pts,
                drop: s.drop,
            });
            Ok(())
        })?;
        Ok(out)
    }

    fn stream(&mut self, e: &Expr, sink: &mut Sink) -> Result<(), QueryError> {
        if let Some(p) = self.pre.get(&ptr(e)).cloned() {
            if self.same_grid(&p) {
                for s in p.series.iter() {
                    sink(s.clone())?;
                }
                return Ok(());
            }
        }
        match e {
            Expr::Paren(inner, _) => self.stream(inner, sink),
            Expr::VectorSelector(vs) => self.stream_selector(vs, sink),
            Expr::Neg(inner, _) => {
                let delayed = self.delayed;
                self.stream(inner, &mut |mut s: StepSer| {
                    for v in s.vals.iter_mut() {
                        *v = -*v;
                    }
                    if !delayed {
                        s.labels = s.labels.without(&super::METADATA_LABELS);
                    }
                    s.drop = true;
                    sink(s)
                })
            }
            Expr::Call(c) => self.stream_window(c, sink),
            Expr::Aggregate(a) => self.stream_aggregate(a, sink),
            Expr::Binary(b) => match (b.lhs.value_type(), b.rhs.value_type()) {
                (ValueType::Vector, ValueType::Scalar) => {
                    self.stream_vector_scalar(b, &b.lhs, &b.rhs, false, sink)
                }
                (ValueType::Scalar, ValueType::Vector) => {
                    self.stream_vector_scalar(b, &b.rhs, &b.lhs, true, sink)
                }
                _ => self.stream_vector_vector(b, sink),
            },
            _ => Err(exec_err("internal error: expression is not streamable")),
        }
    }

    /// A scalar expression's value at every step.
    fn scalar_steps(&mut self, e: &Expr) -> Result<Vec<f64>, QueryError> {
        if let Expr::Number(v, _) = unparen(e) {
            return Ok(vec![*v; self.nsteps()]);
        }
        self.precompute(e)?;
        (0..self.nsteps())
            .map(|i| self.eval_scalar(e, self.step_time(i)))
            .collect()
    }

    fn stream_selector(&mut self, vs: &VectorSelector, sink: &mut Sink) -> Result<(), QueryError> {
        let n = self.nsteps();
        let off = self.opt_duration(&vs.offset)?;
        let lb = self.lookback();
        let (times, mint, maxt) = self.window_ends(&vs.at, off);
        let data = self.take_series(vs, mint - lb, maxt)?;
        let mut per_step = vec![0usize; n];
        for s in data {
            self.check_deadline()?;
            let mut vals = vec![0.0; n];
            let mut ok = vec![false; n];
            let mut any = false;
            let mut j = 0usize;
            for (i, &t) in times.iter().enumerate() {
                if i > 0 && t < times[i - 1] {
                    j = 0;
                }
                while j < s.samples.len() && s.samples[j].t <= t {
                    j += 1;
                }
                if j == 0 {
                    continue;
                }
                let smp = s.samples[j - 1];
                if smp.t <= t - lb || is_stale_nan(smp.v) {
                    continue;
                }
                vals[i] = smp.v;
                ok[i] = true;
                per_step[i] += 1;
                any = true;
            }
            if any {
                sink(StepSer {
                    labels: s.labels,
                    drop: false,
                    vals,
                    ok,
                })?;
            }
        }
        for c in per_step {
            self.check_samples(c)?;
        }
        Ok(())
    }

    fn stream_window(&mut self, c: &Call, sink: &mut Sink) -> Result<(), QueryError> {
        let name = c.func.as_str();
        if let Some((sq, param_expr)) = subquery_args(c) {
            return self.stream_subquery_window(c, sq, param_expr, sink);
        }
        let (ms, param_expr) =
            window_args(c).ok_or_else(|| exec_err("internal error: not a window function"))?;
        let params = match param_expr {
            Some(p) => Some(self.scalar_steps(p)?),
            None => None,
        };
        let n = self.nsteps();
        let vs = &ms.selector;
        let off = self.opt_duration(&vs.offset)?;
        let range = self.duration(&ms.range)?;
        let (times, mint, maxt) = self.window_ends(&vs.at, off);
        let mut data = self.take_series(vs, mint - range, maxt)?;
        let keep_name = matches!(name, "last_over_time" | "first_over_time");
        let step_times: Vec<i64> = (0..n).map(|i| self.step_time(i)).collect();
        let w = Window {
            name,
            times: &times,
            step_times: &step_times,
            range,
            params: params.as_deref(),
            st: self.use_st && uses_st(name),
        };
        let mut per_step = vec![0usize; n];
        // Series are computed in blocks, a block split over the cores; the
        // results are handed on in series order so sums stay reproducible.
        let threads = if data.len() >= self.opts.parallel_min_series.max(2) {
            workers()
        } else {
            1
        };
        let one_name_checked = one_name(vs);
        let mut info_done = false;
        for block in data.chunks_mut(BLOCK) {
            self.check_deadline()?;
            let results = if threads > 1 {
                let part = block.len().div_ceil(threads);
                let w = &w;
                std::thread::scope(|sc| {
                    let handles: Vec<_> = block
                        .chunks(part)
                        .map(|c| sc.spawn(move || w.series(c)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join().unwrap_or_else(|_| {
                                Err(exec_err("internal error: a query worker panicked"))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })?
            } else {
                vec![w.series(block)?]
            };
            let mut it = block.iter_mut();
            for part in results {
                for k in 0..part.per_step.len() {
                    per_step[k] += part.per_step[k];
                }
                for (out, overlap) in part.out.into_iter().zip(part.st_overlap) {
                    let Some(s) = it.next() else { break };
                    if overlap {
                        self.warn(st_overlap_warning(&s.labels));
                    }
                    let Some((vals, ok)) = out else { continue };
                    if !(one_name_checked && info_done) {
                        self.counter_info(name, &s.labels);
                        info_done = true;
                    }
                    let labels = std::mem::take(&mut s.labels);
                    let (labels, drop) = if keep_name {
                        (labels, false)
                    } else if self.delayed {
                        (labels, true)
                    } else {
                        (labels.into_without(&super::METADATA_LABELS), true)
                    };
                    sink(StepSer {
                        labels,
                        drop,
                        vals,
                        ok,
                    })?;
                }
            }
        }
        for &c in &per_step {
            self.check_samples(c)?;
        }
        self.quantile_warning(name, params.as_deref(), &per_step);
        Ok(())
    }

    /// A window function over a subquery: the subquery's expression is
    /// evaluated once on the grid of its inner steps (multiples of its step),
    /// each outer step reads its window `(t - range, t]` from that.
    fn stream_subquery_window(&mut self, c: &Call, sq: &Subquery, param_expr: Option<&Expr>, sink: &mut Sink) -> Result<(), QueryError> {
        let name = c.func.as_str();
        let params = match param_expr {
            Some(p) => Some(self.scalar_steps(p)?),
            None => None,
        };
        let n = self.nsteps();
        let (off, range, step) = self.subquery_params(sq)?;
        let (bases, min_base, max_base) = self.window_ends(&sq.at, off);
        let first = super::first_inner_step(min_base - range, step);
        if first > max_base {
            return Ok(());
        }
        let grid_n = ((max_base - first) / step + 1) as usize;
        if grid_n > MAX_SUBQUERY_GRID {
            // Millions of inner steps: the step evaluator walks them with
            // its timeout and sample checks instead of allocating them here.
            return self.collect_steps(&mut |ev: &mut Self, ts| ev.eval_call(c, ts), sink);
        }
        let saved = self.grid;
        self.grid = (first, step, grid_n);
        let inner = self.materialize(&sq.expr);
        self.grid = saved;
        let mut inner = inner?;
        // The step evaluator hands a subquery's series on sorted by labels.
        inner.sort_by(|a, b| a.labels.cmp(&b.labels));
        let keep_name = matches!(name, "last_over_time" | "first_over_time");
        let mut per_step = vec![0usize; n];
        let mut pts: Vec<Sample> = Vec::new();
        // The grid indices where the series has a point: a window reads only
        // those (a sparse series over a long window skips the empty steps).
        let mut present: Vec<usize> = Vec::new();
        for s in inner {
            self.check_deadline()?;
            let mut vals = vec![0.0; n];
            let mut ok = vec![false; n];
            let mut any = false;
            present.clear();
            present.extend((0..grid_n.min(s.ok.len())).filter(|&k| s.ok[k]));
            for (i, &base) in bases.iter().enumerate() {
                pts.clear();
                // grid indices k with first + k*step in (base - range, base]
                let lo_t = base - range;
                let k0 = if lo_t < first { 0 } else { ((lo_t - first) / step + 1) as usize };
                let from = present.partition_point(|&k| k < k0);
                for &k in &present[from..] {
                    if first + k as i64 * step > base {
                        break;
                    }
                    pts.push(Sample { t: first + k as i64 * step, v: s.vals[k] });
                }
                if pts.is_empty() {
                    continue;
                }
                per_step[i] += pts.len();
                let param = params.as_ref().map(|p| p[i]);
                if let Some(v) = window_value(name, &pts, None, lo_t, base, range, param, None, self.step_time(i))? {
                    vals[i] = v;
                    ok[i] = true;
                    any = true;
                }
            }
            if any {
                self.counter_info(name, &s.labels);
                let (labels, drop) = if keep_name {
                    (s.labels, s.drop)
                } else if self.delayed {
                    (s.labels, true)
                } else {
                    (s.labels.into_without(&super::METADATA_LABELS), true)
                };
                sink(StepSer { labels, drop, vals, ok })?;
            }
        }
        for &c in &per_step {
            self.check_samples(c)?;
        }
        self.quantile_warning(name, params.as_deref(), &per_step);
        Ok(())
    }

    /// quantile_over_time's warning for a φ outside [0, 1] at a step with
    /// data (`per_step`: samples in the windows at each step).
    fn quantile_warning(&mut self, name: &str, params: Option<&[f64]>, per_step: &[usize]) {
        if name != "quantile_over_time" {
            return;
        }
        for (q, _) in params.unwrap_or(&[]).iter().zip(per_step).filter(|(_, n)| **n > 0) {
            if q.is_nan() || !(0.0..=1.0).contains(q) {
                self.warn(format!("PromQL warning: quantile value should be between 0 and 1, got {}", super::aggregate::fmt_g(*q)));
            }
        }
    }

    fn stream_aggregate(
        &mut self,
        a: &crate::ast::Aggregate,
        sink: &mut Sink,
    ) -> Result<(), QueryError> {
        if matches!(a.op, AggregateOp::Topk | AggregateOp::Bottomk) {
            return self.stream_topk(a, sink);
        }
        let n = self.nsteps();
        let op = a.op;
        let params = match &a.param {
            Some(p) => self.scalar_steps(p)?,
            None => vec![f64::NAN; n],
        };
        if op == AggregateOp::Quantile {
            for q in &params {
                if q.is_nan() || !(0.0..=1.0).contains(q) {
                    self.warn(format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}",
                        super::aggregate::fmt_g(*q)
                    ));
                }
            }
        }
        let mut index = GroupIndex::new(&a.grouping, a.without);
        let mut accs: Vec<Acc> = Vec::new();
        self.stream(&a.expr, &mut |s: StepSer| {
            let (gi, new) = index.group(&s.labels);
            if new {
                accs.resize(accs.len() + n, Acc::default());
            }
            let row = &mut accs[gi * n..(gi + 1) * n];
            for ((acc, ok), v) in row.iter_mut().zip(&s.ok).zip(&s.vals) {
                if *ok {
                    acc.add(op, *v, s.drop);
                }
            }
            Ok(())
        })?;
        for (gi, labels) in index.groups.into_iter().enumerate() {
            let row = &mut accs[gi * n..(gi + 1) * n];
            let mut vals = vec![0.0; n];
            let mut ok = vec![false; n];
            let mut drop = false;
            for (i, acc) in row.iter_mut().enumerate() {
                if acc.is_empty() {
                    continue;
                }
                vals[i] = acc.finish(op, params[i]);
                ok[i] = true;
                drop |= acc.drop;
            }
            sink(StepSer {
                labels,
                drop,
                vals,
                ok,
            })?;
        }
        Ok(())
    }

    /// `topk`/`bottomk`: at each step the k largest (smallest) present
    /// members of each group, picked by the step evaluator's heap (so ties
    /// go the same way); each input series keeps its values at the steps
    /// where it is picked.
    fn stream_topk(&mut self, a: &crate::ast::Aggregate, sink: &mut Sink) -> Result<(), QueryError> {
        let n = self.nsteps();
        let param = a.param.as_deref().ok_or_else(|| exec_err("topk/bottomk need a parameter"))?;
        let mut ks = Vec::with_capacity(n);
        for p in self.scalar_steps(param)? {
            if p.is_nan() {
                return Err(exec_err("Parameter value is NaN"));
            }
            if p < 1.0 {
                ks.push(0usize);
                continue;
            }
            if p >= i64::MAX as f64 {
                return Err(exec_err(format!("Scalar value {} overflows int64", super::aggregate::fmt_g(p))));
            }
            ks.push(p as i64 as usize);
        }
        let mut input = self.materialize(&a.expr)?;
        let mut index = GroupIndex::new(&a.grouping, a.without);
        let mut members: Vec<Vec<usize>> = Vec::new();
        for (i, s) in input.iter().enumerate() {
            let (g, new) = index.group(&s.labels);
            if new {
                members.push(Vec::new());
            }
            members[g].push(i);
        }
        let top = a.op == AggregateOp::Topk;
        let mut picked: Vec<Vec<bool>> = vec![vec![false; n]; input.len()];
        let mut present: Vec<usize> = Vec::new();
        let mut vals: Vec<Elem> = Vec::new();
        let mut idx: Vec<usize> = Vec::new();
        for (step, &k) in ks.iter().enumerate() {
            if k == 0 {
                continue;
            }
            self.check_deadline()?;
            for m in &members {
                // The step's present members as the step evaluator sees
                // them (values only), picked by the same heap.
                present.clear();
                present.extend(m.iter().copied().filter(|&i| input[i].ok[step]));
                vals.clear();
                vals.extend(present.iter().map(|&i| Elem { labels: Labels::empty(), v: input[i].vals[step], drop: false }));
                idx.clear();
                idx.extend(0..present.len());
                for j in super::aggregate::heap_select(&vals, &idx, k, top) {
                    picked[present[j]][step] = true;
                }
            }
        }
        for (s, ok) in input.iter_mut().zip(picked) {
            if ok.iter().any(|x| *x) {
                sink(StepSer { labels: std::mem::take(&mut s.labels), drop: s.drop, vals: std::mem::take(&mut s.vals), ok })?;
            }
        }
        Ok(())
    }

    fn stream_vector_scalar(
        &mut self,
        b: &Binary,
        vec_side: &Expr,
        scalar_side: &Expr,
        swap: bool,
        sink: &mut Sink,
    ) -> Result<(), QueryError> {
        let svals = self.scalar_steps(scalar_side)?;
        let drops = changes_schema(b.op) || b.return_bool;
        let delayed = self.delayed;
        self.stream(vec_side, &mut |mut s: StepSer| {
            let mut any = false;
            for ((v, ok), sv) in s.vals.iter_mut().zip(s.ok.iter_mut()).zip(&svals) {
                if !*ok {
                    continue;
                }
                match vector_scalar_value(b, *v, *sv, swap) {
                    Some(x) => {
                        *v = x;
                        any = true;
                    }
                    None => *ok = false,
                }
            }
            if !any {
                return Ok(());
            }
            if drops {
                if !delayed {
                    s.labels = s.labels.without(&super::METADATA_LABELS);
                }
                s.drop = true;
            }
            sink(s)
        })
    }

    fn stream_vector_vector(&mut self, b: &Binary, sink: &mut Sink) -> Result<(), QueryError> {
        let m = plain_matching(b)
            .ok_or_else(|| exec_err("internal error: matching is not streamable"))?;
        let rhs = self.materialize(&b.rhs)?;
        let n = self.nsteps();
        if matches!(b.op, BinaryOp::And | BinaryOp::Unless) {
            let mut masks: HashMap<String, Vec<bool>> = HashMap::new();
            for r in &rhs {
                let mask = masks
                    .entry(signature(&r.labels, m.on, &m.labels))
                    .or_insert_with(|| vec![false; n]);
                for (x, y) in mask.iter_mut().zip(&r.ok) {
                    *x |= *y;
                }
            }
            let and = b.op == BinaryOp::And;
            return self.stream(&b.lhs, &mut |mut s: StepSer| {
                let mask = masks.get(&signature(&s.labels, m.on, &m.labels));
                let mut any = false;
                for i in 0..n {
                    let hit = mask.map(|mk| mk[i]).unwrap_or(false);
                    s.ok[i] &= if and { hit } else { !hit };
                    any |= s.ok[i];
                }
                if any {
                    sink(s)
                } else {
                    Ok(())
                }
            });
        }
        let mut index: HashMap<String, usize> = HashMap::with_capacity(rhs.len());
        let mut duplicate = false;
        for (j, r) in rhs.iter().enumerate() {
            if index
                .insert(signature(&r.labels, m.on, &m.labels), j)
                .is_some()
            {
                duplicate = true;
            }
        }
        if duplicate {
            // Duplicate right-hand match groups are an error only at the steps
            // where both are present: let the step evaluator decide.
            return self.stream_by_steps(b, rhs, sink);
        }
        let mut used: Vec<Vec<bool>> = vec![Vec::new(); rhs.len()];
        let drop_name = b.return_bool && !self.delayed;
        self.stream(&b.lhs, &mut |ls: StepSer| {
            let Some(&j) = index.get(&signature(&ls.labels, m.on, &m.labels)) else {
                return Ok(());
            };
            let rs = &rhs[j];
            let mut vals = vec![0.0; n];
            let mut ok = vec![false; n];
            let mut any = false;
            for i in 0..n {
                if !(ls.ok[i] && rs.ok[i]) {
                    continue;
                }
                let u = &mut used[j];
                if u.is_empty() {
                    u.resize(n, false);
                }
                if u[i] {
                    return Err(exec_err(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
                u[i] = true;
                let (mut val, keep) = elem_op(b.op, ls.vals[i], rs.vals[i]);
                if b.return_bool {
                    val = if keep { 1.0 } else { 0.0 };
                } else if !keep {
                    continue;
                }
                vals[i] = val;
                ok[i] = true;
                any = true;
            }
            if any {
                let labels = result_metric(&ls.labels, &rs.labels, b.op, &m, drop_name);
                sink(StepSer { labels, drop: b.return_bool, vals, ok })?;
            }
            Ok(())
        })
    }

    /// `b` evaluated by the step evaluator over precomputed sides, collected
    /// into series.
    fn stream_by_steps(
        &mut self,
        b: &Binary,
        rhs: Vec<StepSer>,
        sink: &mut Sink,
    ) -> Result<(), QueryError> {
        let p = self.pre_of(rhs);
        self.pre.insert(ptr(&b.rhs), Rc::new(p));
        let lhs = self.materialize(&b.lhs)?;
        let p = self.pre_of(lhs);
        self.pre.insert(ptr(&b.lhs), Rc::new(p));
        self.collect_steps(&mut |ev: &mut Self, ts| ev.eval_binary(b, ts), sink)
    }

    /// A node evaluated by the step evaluator at every step, collected into
    /// series.
    fn collect_steps(
        &mut self,
        eval: &mut dyn FnMut(&mut Self, i64) -> Result<super::Val, QueryError>,
        sink: &mut Sink,
    ) -> Result<(), QueryError> {
        let n = self.nsteps();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<StepSer> = Vec::new();
        for i in 0..n {
            let ts = self.step_time(i);
            let v = match eval(self, ts)? {
                super::Val::Vec(v) => v,
                _ => return Err(exec_err("internal error: expected a vector")),
            };
            for e in v {
                let k = match index.get(&e.labels) {
                    Some(&k) => k,
                    None => {
                        out.push(StepSer {
                            labels: e.labels.clone(),
                            drop: e.drop,
                            vals: vec![0.0; n],
                            ok: vec![false; n],
                        });
                        index.insert(e.labels, out.len() - 1);
                        out.len() - 1
                    }
                };
                out[k].vals[i] = e.v;
                out[k].ok[i] = true;
            }
        }
        for s in out {
            sink(s)?;
        }
        Ok(())
    }
}

/// Whether a selector can only match one metric name.
fn one_name(vs: &VectorSelector) -> bool {
    vs.matchers
        .iter()
        .any(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal)
}
