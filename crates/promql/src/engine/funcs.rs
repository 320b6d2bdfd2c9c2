//! Function calls (float semantics of Prometheus' `functions.go`).
use super::aggregate::{fmt_g, quantile};
use super::binary::check_dups;
use super::{exec_err, kahan_inc, Elem, Evaluator, QueryError, Ser, Val};
use crate::ast::{Call, Expr, VectorSelector};
use bongsu_model::{Labels, LabelsBuilder, MatchOp, Sample, METRIC_NAME};

/// Classic histogram buckets of one series: labels without `le`, drop flag, (upper bound, count).
type BucketGroup = (Labels, bool, Vec<(f64, f64)>);

fn unwrap_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(inner, _) => unwrap_parens(inner),
        other => other,
    }
}

/// Window of a range argument: series, window start (exclusive), end (inclusive) and the selector when it is one.
struct RangeArg<'e> {
    series: Vec<Ser>,
    start: i64,
    end: i64,
    range: i64,
    _sel: std::marker::PhantomData<&'e ()>,
}

pub(crate) const MATRIX_FUNCS: &[&str] = &[
    "rate",
    "increase",
    "delta",
    "irate",
    "idelta",
    "deriv",
    "predict_linear",
    "resets",
    "changes",
    "avg_over_time",
    "sum_over_time",
    "min_over_time",
    "max_over_time",
    "count_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
    "first_over_time",
    "present_over_time",
    "absent_over_time",
    "quantile_over_time",
    "mad_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
    "ts_of_last_over_time",
    "ts_of_first_over_time",
    "double_exponential_smoothing",
    "holt_winters",
];

fn anchored_ok(f: &str) -> bool {
    matches!(f, "changes" | "delta" | "increase" | "rate" | "resets")
}

fn smoothed_ok(f: &str) -> bool {
    matches!(f, "delta" | "increase" | "rate")
}

impl<'a> Evaluator<'a> {
    fn eval_range_arg<'e>(&mut self, e: &'e Expr, ts: i64) -> Result<RangeArg<'e>, QueryError> {
        match unwrap_parens(e) {
            Expr::MatrixSelector(ms) => {
                let range = self.duration(&ms.range)?;
                let (series, start, end) = self.eval_matrix_selector(ms, ts)?;
                Ok(RangeArg { series, start, end, range, _sel: std::marker::PhantomData })
            }
            Expr::Subquery(sq) => {
                let range = self.duration(&sq.range)?;
                let (series, start, end) = self.eval_subquery(sq, ts)?;
                Ok(RangeArg { series, start, end, range, _sel: std::marker::PhantomData })
            }
            other => match self.eval(other, ts)? {
                Val::Mat(m) => Ok(RangeArg { series: m, start: ts, end: ts, range: 0, _sel: std::marker::PhantomData }),
                v => Err(exec_err(format!("expected range vector, got {}", v.type_name()))),
            },
        }
    }

    fn scalar_arg(&mut self, c: &Call, i: usize, ts: i64, default: f64) -> Result<f64, QueryError> {
        match c.args.get(i) {
            None => Ok(default),
            Some(a) => self.eval_scalar(a, ts),
        }
    }

    fn string_arg(&mut self, c: &Call, i: usize, ts: i64) -> Result<String, QueryError> {
        match c.args.get(i) {
            None => Err(exec_err(format!("missing argument {} to {}", i + 1, c.func))),
            Some(a) => match self.eval(a, ts)? {
                Val::Str(s) => Ok(s),
                v => Err(exec_err(format!("expected string argument, got {}", v.type_name()))),
            },
        }
    }

    fn vector_arg(&mut self, c: &Call, i: usize, ts: i64) -> Result<Vec<Elem>, QueryError> {
        match c.args.get(i) {
            None => Err(exec_err(format!("missing argument {} to {}", i + 1, c.func))),
            Some(a) => self.eval_vector(a, ts),
        }
    }

    fn map_vector(&mut self, v: Vec<Elem>, f: impl Fn(f64) -> f64) -> Vec<Elem> {
        v.into_iter()
            .map(|e| Elem { labels: self.drop_name_now(e.labels), v: f(e.v), drop: true })
            .collect()
    }

    pub(crate) fn eval_call(&mut self, c: &Call, ts: i64) -> Result<Val, QueryError> {
        let name = c.func.as_str();
        if MATRIX_FUNCS.contains(&name) {
            return self.eval_matrix_call(c, ts);
        }
        if matches!(name, "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc") && self.is_range {
            self.warn("PromQL warning: sort is ineffective for range queries since results are always ordered by labels".into());
        }
        let out = match name {
            "time" => return Ok(Val::Scalar(ts as f64 / 1000.0)),
            "start" => return Ok(Val::Scalar(self.start as f64 / 1000.0)),
            "end" => return Ok(Val::Scalar(self.end as f64 / 1000.0)),
            "step" => return Ok(Val::Scalar(if self.is_range { self.interval as f64 / 1000.0 } else { 0.0 })),
            "range" => return Ok(Val::Scalar((self.end - self.start) as f64 / 1000.0)),
            "min_of" | "max_of" => {
                let mut acc: Option<f64> = None;
                for i in 0..c.args.len() {
                    let v = self.scalar_arg(c, i, ts, f64::NAN)?;
                    acc = Some(match acc {
                        None => v,
                        Some(x) if name == "min_of" => go_min(x, v),
                        Some(x) => go_max(x, v),
                    });
                }
                return Ok(Val::Scalar(acc.unwrap_or(f64::NAN)));
            }
            "pi" => return Ok(Val::Scalar(std::f64::consts::PI)),
            "vector" => {
                let v = self.scalar_arg(c, 0, ts, f64::NAN)?;
                return Ok(Val::Vec(vec![Elem { labels: Labels::empty(), v, drop: false }]));
            }
            "scalar" => {
                let v = self.vector_arg(c, 0, ts)?;
                return Ok(Val::Scalar(if v.len() == 1 { v[0].v } else { f64::NAN }));
            }
            "timestamp" => {
                let arg = c.args.first().map(unwrap_parens);
                let v = match arg {
                    Some(Expr::VectorSelector(vs)) => self.eval_vector_selector(vs, ts, true)?,
                    _ => {
                        let v = self.vector_arg(c, 0, ts)?;
                        v.into_iter().map(|mut e| {
                            e.v = ts as f64 / 1000.0;
                            e
                        }).collect()
                    }
                };
                self.map_vector(v, |x| x)
            }
            "start_timestamp" => {
                // Only a selector carries start timestamps, and only with
                // `use-start-timestamps`; otherwise nothing (as Prometheus).
                match c.args.first().map(unwrap_parens) {
                    Some(Expr::VectorSelector(vs)) if self.use_st => {
                        let v = self.eval_start_timestamps(vs, ts)?;
                        self.map_vector(v, |x| x)
                    }
                    _ => {
                        let _ = self.vector_arg(c, 0, ts)?;
                        vec![]
                    }
                }
            }
            "abs" | "ceil" | "floor" | "exp" | "sqrt" | "ln" | "log2" | "log10" | "sin" | "cos" | "tan" | "asin" | "acos"
            | "atan" | "sinh" | "cosh" | "tanh" | "asinh" | "acosh" | "atanh" | "deg" | "rad" | "sgn" => {
                let f: fn(f64) -> f64 = match name {
                    "abs" => f64::abs,
                    "ceil" => f64::ceil,
                    "floor" => f64::floor,
                    "exp" => f64::exp,
                    "sqrt" => f64::sqrt,
                    "ln" => f64::ln,
                    "log2" => go_log2,
                    "log10" => go_log10,
                    "sin" => f64::sin,
                    "cos" => f64::cos,
                    "tan" => f64::tan,
                    "asin" => f64::asin,
                    "acos" => f64::acos,
                    "atan" => f64::atan,
                    "sinh" => f64::sinh,
                    "cosh" => f64::cosh,
                    "tanh" => f64::tanh,
                    "asinh" => f64::asinh,
                    "acosh" => f64::acosh,
                    "atanh" => f64::atanh,
                    "deg" => |x: f64| x * 180.0 / std::f64::consts::PI,
                    "rad" => |x: f64| x * std::f64::consts::PI / 180.0,
                    _ => |x: f64| {
                        if x > 0.0 {
                            1.0
                        } else if x < 0.0 {
                            -1.0
                        } else {
                            x
                        }
                    },
                };
                let v = self.vector_arg(c, 0, ts)?;
                self.map_vector(v, f)
            }
            "round" => {
                let v = self.vector_arg(c, 0, ts)?;
                let to = self.scalar_arg(c, 1, ts, 1.0)?;
                let inv = 1.0 / to;
                self.map_vector(v, |x| (x * inv + 0.5).floor() / inv)
            }
            "clamp" => {
                let v = self.vector_arg(c, 0, ts)?;
                let lo = self.scalar_arg(c, 1, ts, f64::NAN)?;
                let hi = self.scalar_arg(c, 2, ts, f64::NAN)?;
                if hi < lo {
                    vec![]
                } else {
                    self.map_vector(v, |x| go_max(lo, go_min(hi, x)))
                }
            }
            "clamp_max" => {
                let v = self.vector_arg(c, 0, ts)?;
                let hi = self.scalar_arg(c, 1, ts, f64::NAN)?;
                self.map_vector(v, |x| go_min(hi, x))
            }
            "clamp_min" => {
                let v = self.vector_arg(c, 0, ts)?;
                let lo = self.scalar_arg(c, 1, ts, f64::NAN)?;
                self.map_vector(v, |x| go_max(lo, x))
            }
            "minute" | "hour" | "day_of_week" | "day_of_month" | "day_of_year" | "days_in_month" | "month" | "year" => {
                let f = |secs: f64| -> f64 { date_part(name, secs) };
                if c.args.is_empty() {
                    vec![Elem { labels: Labels::empty(), v: f((ts / 1000) as f64), drop: false }]
                } else {
                    let v = self.vector_arg(c, 0, ts)?;
                    self.map_vector(v, f)
                }
            }
            "absent" => {
                let v = self.vector_arg(c, 0, ts)?;
                if v.is_empty() {
                    vec![Elem { labels: absent_labels(c.args.first()), v: 1.0, drop: false }]
                } else {
                    vec![]
                }
            }
            "label_replace" => self.label_replace(c, ts)?,
            "label_join" => self.label_join(c, ts)?,
            "sort" | "sort_desc" => {
                let mut v = self.vector_arg(c, 0, ts)?;
                let desc = name == "sort_desc";
                v.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ => {
                        let o = a.v.partial_cmp(&b.v).unwrap_or(std::cmp::Ordering::Equal);
                        if desc {
                            o.reverse()
                        } else {
                            o
                        }
                    }
                });
                v
            }
            "sort_by_label" | "sort_by_label_desc" => {
                let mut v = self.vector_arg(c, 0, ts)?;
                let mut names = vec![];
                for i in 1..c.args.len() {
                    names.push(self.string_arg(c, i, ts)?);
                }
                let desc = name == "sort_by_label_desc";
                v.sort_by(|a, b| {
                    for n in &names {
                        let (x, y) = (a.labels.get_or_empty(n), b.labels.get_or_empty(n));
                        if x == y {
                            continue;
                        }
                        let o = natural_cmp(x, y);
                        return if desc { o.reverse() } else { o };
                    }
                    let o = a.labels.cmp(&b.labels);
                    if desc {
                        o.reverse()
                    } else {
                        o
                    }
                });
                v
            }
            "histogram_quantile" => self.histogram_quantile(c, ts)?,
            "histogram_fraction" => self.histogram_fraction(c, ts)?,
            "histogram_quantiles" => self.histogram_quantiles(c, ts)?,
            "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev" | "histogram_stdvar" => {
                // Native histograms only: floats are ignored.
                let _ = self.vector_arg(c, 0, ts)?;
                vec![]
            }
            "info" => self.info_func(c, ts)?,
            other => return Err(exec_err(format!("function \"{other}\" is not supported"))),
        };
        if self.is_range || !self.delayed {
            check_dups(&out)?;
        }
        Ok(Val::Vec(out))
    }

    fn label_replace(&mut self, c: &Call, ts: i64) -> Result<Vec<Elem>, QueryError> {
        let v = self.vector_arg(c, 0, ts)?;
        let dst = self.string_arg(c, 1, ts)?;
        let repl = self.string_arg(c, 2, ts)?;
        let src = self.string_arg(c, 3, ts)?;
        let re_s = self.string_arg(c, 4, ts)?;
        let re = bongsu_model::matcher::compile_anchored(&re_s)
            .map_err(|_| exec_err(format!("invalid regular expression in label_replace(): {re_s}")))?;
        if !valid_label_name(&dst) || not_utf8_literal(c.args.get(1)).is_some() {
            return Err(exec_err(format!("invalid destination label name in label_replace(): {dst}")));
        }
        let mut out = Vec::with_capacity(v.len());
        for mut e in v {
            let sv = e.labels.get_or_empty(&src).to_string();
            if let Some(caps) = re.captures(&sv) {
                let mut res = String::new();
                caps.expand(&repl, &mut res);
                let mut b = e.labels.builder();
                b.set(dst.clone(), res);
                e.labels = b.into_labels();
                if dst == METRIC_NAME {
                    e.drop = false;
                }
            }
            out.push(e);
        }
        Ok(out)
    }

    fn label_join(&mut self, c: &Call, ts: i64) -> Result<Vec<Elem>, QueryError> {
        let v = self.vector_arg(c, 0, ts)?;
        let dst = self.string_arg(c, 1, ts)?;
        let sep = self.string_arg(c, 2, ts)?;
        let mut srcs = vec![];
        for i in 3..c.args.len() {
            let s = self.string_arg(c, i, ts)?;
            if !valid_label_name(&s) || not_utf8_literal(c.args.get(i)).is_some() {
                return Err(exec_err(format!("invalid source label name in label_join(): {s}")));
            }
            srcs.push(s);
        }
        if !valid_label_name(&dst) || not_utf8_literal(c.args.get(1)).is_some() {
            return Err(exec_err(format!("invalid destination label name in label_join(): {dst}")));
        }
        let mut out = Vec::with_capacity(v.len());
        for mut e in v {
            let joined: Vec<&str> = srcs.iter().map(|s| e.labels.get_or_empty(s)).collect();
            let joined = joined.join(&sep);
            let mut b = e.labels.builder();
            b.set(dst.clone(), joined);
            e.labels = b.into_labels();
            if dst == METRIC_NAME {
                e.drop = false;
            }
            out.push(e);
        }
        Ok(out)
    }

    /// Classic buckets grouped by labels without `le`.
    fn classic_buckets(&mut self, v: Vec<Elem>) -> Vec<BucketGroup> {
        let mut groups: Vec<BucketGroup> = Vec::new();
        let mut idx: std::collections::HashMap<Labels, usize> = std::collections::HashMap::new();
        for e in v {
            let le = e.labels.get_or_empty("le");
            let ub = match parse_le(le) {
                Some(x) => x,
                None => {
                    let name = if self.delayed { e.labels.get_or_empty(METRIC_NAME).to_string() } else { String::new() };
                    let mut msg = format!(
                        "PromQL warning: bucket label \"le\" is missing or has a malformed value of {}",
                        bongsu_model::labels::quote_go(le)
                    );
                    if !name.is_empty() {
                        msg.push_str(&format!(" for metric name {}", bongsu_model::labels::quote_go(&name)));
                    }
                    self.warn(msg);
                    continue;
                }
            };
            let key = e.labels.without(&["le"]);
            match idx.get(&key) {
                Some(&i) => {
                    groups[i].2.push((ub, e.v));
                    groups[i].1 |= e.drop;
                }
                None => {
                    idx.insert(key.clone(), groups.len());
                    groups.push((key, e.drop, vec![(ub, e.v)]));
                }
            }
        }
        groups
    }

    fn histogram_quantile(&mut self, c: &Call, ts: i64) -> Result<Vec<Elem>, QueryError> {
        let q = self.scalar_arg(c, 0, ts, f64::NAN)?;
        let v = self.vector_arg(c, 1, ts)?;
        if q.is_nan() || !(0.0..=1.0).contains(&q) {
            self.warn(format!("PromQL warning: quantile value should be between 0 and 1, got {}", fmt_g(q)));
        }
        let groups = self.classic_buckets(v);
        let mut out = vec![];
        for (labels, _drop, mut buckets) in groups {
            let (res, forced) = bucket_quantile(q, &mut buckets);
            if forced {
                let mut msg = "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_string();
                if self.delayed {
                    if let Some(n) = labels.get(METRIC_NAME) {
                        msg.push_str(&format!(" for metric name {}", bongsu_model::labels::quote_go(n)));
                    }
                }
                self.info(msg);
            }
            out.push(Elem { labels: self.drop_name_now(labels), v: res, drop: true });
        }
        Ok(out)
    }

    fn info_func(&mut self, c: &Call, ts: i64) -> Result<Vec<Elem>, QueryError> {
        use bongsu_model::Matcher;
        use std::collections::{BTreeMap, BTreeSet, HashMap};
        let base = self.vector_arg(c, 0, ts)?;
        // Timestamp and offset of the first vector selector in the argument.
        let (node_at, offset) = first_selector_time(c.args.first());
        let node_at = match node_at {
            Some(a) => self.at_time(&Some(a)),
            None => None,
        };
        let offset = match offset {
            Some(d) => self.duration(&d)?,
            None => 0,
        };
        let mut data_matchers: BTreeMap<String, Vec<Matcher>> = BTreeMap::new();
        let mut name_matchers: Vec<Matcher> = vec![];
        match c.args.get(1).map(unwrap_parens) {
            Some(Expr::VectorSelector(vs)) => {
                for m in &vs.matchers {
                    data_matchers.entry(m.name.clone()).or_default().push(m.clone());
                    if m.name == METRIC_NAME {
                        name_matchers.push(m.clone());
                    }
                }
            }
            _ => name_matchers.push(Matcher::equal(METRIC_NAME, "target_info")),
        }
        let effective = |ms: &[Matcher]| -> Vec<Matcher> {
            if ms.iter().any(|m| matches!(m.op, MatchOp::Equal | MatchOp::Regex)) {
                return ms.to_vec();
            }
            if !ms.is_empty() {
                let mut v = vec![Matcher::new(MatchOp::Regex, METRIC_NAME, ".+_info").unwrap_or_else(|_| Matcher::equal(METRIC_NAME, ""))];
                v.extend_from_slice(ms);
                return v;
            }
            vec![Matcher::equal(METRIC_NAME, "target_info")]
        };
        let eff = effective(&name_matchers);
        let ignored: Vec<bool> = base
            .iter()
            .map(|e| {
                let n = e.labels.get_or_empty(METRIC_NAME);
                eff.iter().all(|m| m.matches(n))
            })
            .collect();
        let id_labels = ["instance", "job"];
        let mut id_vals: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (e, ign) in base.iter().zip(&ignored) {
            if *ign {
                continue;
            }
            for l in id_labels {
                if let Some(v) = e.labels.get(l) {
                    id_vals.entry(l).or_default().insert(v.to_string());
                }
            }
        }
        let data_name_matchers: Vec<Matcher> = data_matchers.get(METRIC_NAME).cloned().unwrap_or_default();
        data_matchers.remove(METRIC_NAME);
        // Info samples: (labels, value, original timestamp).
        let mut info: Vec<(Labels, i64)> = vec![];
        if !id_vals.is_empty() {
            let mut ms: Vec<Matcher> = vec![];
            for (name, vals) in &id_vals {
                let re = vals.iter().map(|v| regex::escape(v)).collect::<Vec<_>>().join("|");
                ms.push(Matcher::new(MatchOp::Regex, *name, re).map_err(|e| exec_err(e.to_string()))?);
            }
            for v in data_matchers.values() {
                ms.extend(v.iter().cloned());
            }
            ms.extend(effective(&data_name_matchers));
            let lt = node_at.unwrap_or(ts) - offset;
            let lb = self.lookback();
            for s in self.select_direct(lt - lb + 1, lt, &ms)? {
                let i = s.samples.partition_point(|p| p.t <= lt);
                if i == 0 {
                    continue;
                }
                let p = s.samples[i - 1];
                if p.t <= lt - lb || bongsu_model::is_stale_nan(p.v) {
                    continue;
                }
                info.push((s.labels, p.t));
            }
        }
        let sig = |name: &str, l: &Labels| -> String {
            let mut s = name.to_string();
            for id in id_labels {
                s.push('\u{ff}');
                s.push_str(l.get_or_empty(id));
            }
            s
        };
        let names: BTreeSet<String> = info.iter().map(|(l, _)| l.get_or_empty(METRIC_NAME).to_string()).collect();
        let mut by_sig: HashMap<String, (Labels, i64)> = HashMap::new();
        for (l, t) in info {
            let k = sig(l.get_or_empty(METRIC_NAME), &l);
            match by_sig.get(&k) {
                Some((el, et)) => {
                    if *et < t {
                        by_sig.insert(k, (l, t));
                    } else if *et == t {
                        return Err(exec_err(format!(
                            "found duplicate series for info metric: existing {el} @ {et}, new {l} @ {t}"
                        )));
                    }
                }
                None => {
                    by_sig.insert(k, (l, t));
                }
            }
        }
        let mut out = vec![];
        for (e, ign) in base.into_iter().zip(ignored) {
            if ign {
                out.push(e);
                continue;
            }
            let mut add = LabelsBuilder::new();
            let mut seen = 0;
            for n in &names {
                let Some((il, _)) = by_sig.get(&sig(n, &e.labels)) else { continue };
                for l in il.iter() {
                    if l.name == METRIC_NAME {
                        continue;
                    }
                    if !data_matchers.is_empty() && !data_matchers.contains_key(l.name.as_str()) {
                        continue;
                    }
                    if let Some(v) = add.get(&l.name) {
                        if v != l.value {
                            return Err(exec_err(format!("conflicting label: {}", l.name)));
                        }
                    }
                    if e.labels.has(&l.name) {
                        continue;
                    }
                    add.set(l.name.to_string(), l.value.to_string());
                }
                seen += 1;
            }
            if seen == 0 {
                let all_empty = data_matchers.values().flatten().all(|m| m.matches(""));
                if !all_empty {
                    continue;
                }
            }
            let mut b = e.labels.builder();
            for l in add.build().iter() {
                b.set(l.name.to_string(), l.value.to_string());
            }
            out.push(Elem { labels: b.into_labels(), v: e.v, drop: e.drop });
        }
        Ok(out)
    }

    fn histogram_quantiles(&mut self, c: &Call, ts: i64) -> Result<Vec<Elem>, QueryError> {
        let v = self.vector_arg(c, 0, ts)?;
        let label = self.string_arg(c, 1, ts)?;
        let mut qs = vec![];
        for i in 2..c.args.len() {
            let q = self.scalar_arg(c, i, ts, f64::NAN)?;
            if q.is_nan() || !(0.0..=1.0).contains(&q) {
                self.warn(format!("PromQL warning: quantile value should be between 0 and 1, got {}", fmt_g(q)));
            }
            qs.push(q);
        }
        let groups = self.classic_buckets(v);
        let mut out = vec![];
        for q in qs {
            for (labels, _drop, buckets) in &groups {
                let mut b = buckets.clone();
                let (res, forced) = bucket_quantile(q, &mut b);
                if forced {
                    let mut msg = "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_string();
                    if self.delayed {
                        if let Some(n) = labels.get(METRIC_NAME) {
                            msg.push_str(&format!(" for metric name {}", bongsu_model::labels::quote_go(n)));
                        }
                    }
                    self.info(msg);
                }
                let mut lb = self.drop_name_now(labels.clone()).builder();
                lb.set(label.clone(), openmetrics_float(q));
                out.push(Elem { labels: lb.into_labels(), v: res, drop: true });
            }
        }
        Ok(out)
    }

    fn histogram_fraction(&mut self, c: &Call, ts: i64) -> Result<Vec<Elem>, QueryError> {
        let lower = self.scalar_arg(c, 0, ts, f64::NAN)?;
        let upper = self.scalar_arg(c, 1, ts, f64::NAN)?;
        let v = self.vector_arg(c, 2, ts)?;
        let groups = self.classic_buckets(v);
        let mut out = vec![];
        for (labels, _drop, mut buckets) in groups {
            let res = bucket_fraction(lower, upper, &mut buckets);
            out.push(Elem { labels: self.drop_name_now(labels), v: res, drop: true });
        }
        Ok(out)
    }

    fn eval_matrix_call(&mut self, c: &Call, ts: i64) -> Result<Val, QueryError> {
        let name = c.func.as_str();
        let arg0 = c.args.first().ok_or_else(|| exec_err(format!("missing argument to {name}")))?;
        // Extended range selector modifiers.
        if let Expr::MatrixSelector(ms) = unwrap_parens(arg0) {
            if ms.selector.anchored && !anchored_ok(name) {
                return Err(exec_err(format!(
                    "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with {name}"
                )));
            }
            if ms.selector.smoothed && !smoothed_ok(name) {
                return Err(exec_err(format!(
                    "smoothed modifier can only be used with: delta, increase, rate - not with {name}"
                )));
            }
        }
        // Scalar parameters (evaluated before the range argument, as Prometheus does).
        let param = match name {
            "quantile_over_time" => {
                let q = self.eval_scalar(arg0, ts)?;
                Some(q)
            }
            "predict_linear" => Some(self.scalar_arg(c, 1, ts, f64::NAN)?),
            _ => None,
        };
        let (range_expr, extra) = match name {
            "quantile_over_time" => (c.args.get(1).ok_or_else(|| exec_err("missing argument"))?, None),
            "double_exponential_smoothing" | "holt_winters" => {
                let sf = self.scalar_arg(c, 1, ts, f64::NAN)?;
                let tf = self.scalar_arg(c, 2, ts, f64::NAN)?;
                (arg0, Some((sf, tf)))
            }
            _ => (arg0, None),
        };
        if let Some((sf, tf)) = extra {
            if sf <= 0.0 || sf >= 1.0 {
                return Err(exec_err(format!("invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}")));
            }
            if tf <= 0.0 || tf >= 1.0 {
                return Err(exec_err(format!("invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}")));
            }
        }
        let sel_ext = match unwrap_parens(range_expr) {
            Expr::MatrixSelector(ms) if ms.selector.anchored || ms.selector.smoothed => Some(ms),
            _ => None,
        };
        if let Some(ms) = sel_ext {
            return self.extended_rate(c, ms, ts);
        }
        // Start timestamps reach rate/increase/irate/resets over a selector
        // only (a subquery's points have none).
        let (ra, sts) = match unwrap_parens(range_expr) {
            Expr::MatrixSelector(ms) if self.use_st && uses_st(name) => {
                let range = self.duration(&ms.range)?;
                let (series, sts, start, end) = self.matrix_windows(ms, ts, true)?;
                (RangeArg { series, start, end, range, _sel: std::marker::PhantomData }, sts)
            }
            _ => (self.eval_range_arg(range_expr, ts)?, vec![]),
        };
        let keep_name = matches!(name, "last_over_time" | "first_over_time");
        if name == "absent_over_time" {
            if ra.series.iter().any(|s| !s.pts.is_empty()) {
                return Ok(Val::Vec(vec![]));
            }
            let labels = match unwrap_parens(range_expr) {
                Expr::MatrixSelector(ms) => absent_labels_sel(&ms.selector),
                _ => Labels::empty(),
            };
            return Ok(Val::Vec(vec![Elem { labels, v: 1.0, drop: true }]));
        }
        if name == "quantile_over_time" {
            let q = param.unwrap_or(f64::NAN);
            if (q.is_nan() || !(0.0..=1.0).contains(&q)) && ra.series.iter().any(|s| !s.pts.is_empty()) {
                self.warn(format!("PromQL warning: quantile value should be between 0 and 1, got {}", fmt_g(q)));
            }
        }
        let mut out = Vec::with_capacity(ra.series.len());
        for (k, s) in ra.series.into_iter().enumerate() {
            let pts = &s.pts;
            if pts.is_empty() {
                continue;
            }
            let st = sts.get(k).and_then(|x| x.as_deref());
            if st.is_some_and(|st| st_overlap_in(name, pts, st)) {
                self.warn(st_overlap_warning(&s.labels));
            }
            let v = window_value(name, pts, st, ra.start, ra.end, ra.range, param, extra, ts)?;
            let Some(v) = v else { continue };
            self.counter_info(name, &s.labels);
            let (labels, drop) = if keep_name { (s.labels, s.drop) } else { (self.drop_name_now(s.labels), true) };
            out.push(Elem { labels, v, drop });
        }
        if self.is_range || !self.delayed {
            check_dups(&out)?;
        }
        Ok(Val::Vec(out))
    }

    /// Prometheus' "metric might not be a counter" info for `rate`/`increase` over `labels`.
    pub(crate) fn counter_info(&mut self, name: &str, labels: &Labels) {
        if matches!(name, "rate" | "increase") {
            if let Some(mn) = labels.get(METRIC_NAME) {
                if self.type_and_unit {
                    let tl = labels.get_or_empty("__type__");
                    if tl != "counter" && tl != "histogram" {
                        self.info(format!(
                            "PromQL info: metric might not be a counter, __type__ label is not set to \"counter\" or \"histogram\", got {}: {}",
                            bongsu_model::labels::quote_go(tl),
                            bongsu_model::labels::quote_go(mn)
                        ));
                    }
                } else if !(mn.ends_with("_total") || mn.ends_with("_sum") || mn.ends_with("_count") || mn.ends_with("_bucket")) {
                    self.info(format!(
                        "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {}",
                        bongsu_model::labels::quote_go(mn)
                    ));
                }
            }
        }
    }

    /// rate/increase/delta (and changes/resets) with `anchored` or `smoothed`.
    fn extended_rate(&mut self, c: &Call, ms: &crate::ast::MatrixSelector, ts: i64) -> Result<Val, QueryError> {
        let name = c.func.as_str();
        let vs = &ms.selector;
        let t = self.at_time(&vs.at).unwrap_or(ts) - match &vs.offset {
            Some(d) => self.duration(d)?,
            None => 0,
        };
        let range = self.duration(&ms.range)?;
        let lb = self.lookback();
        let data = self.raw_series(vs, t - range - lb, t + lb)?;
        let start = t - range;
        let maxt = if vs.smoothed { t + lb } else { t };
        let mut out = vec![];
        let keep = |p: &Sample| p.t > start - lb && p.t <= maxt && !bongsu_model::is_stale_nan(p.v);
        for s in data.iter() {
            let f: Vec<Sample> = s.samples.iter().filter(|p| keep(p)).copied().collect();
            if f.is_empty() {
                continue;
            }
            // resets (not rate/increase: Prometheus' extendedRate ignores them) reads start timestamps.
            let fst: Option<Vec<i64>> = match &s.st {
                Some(c) if self.use_st && name == "resets" => {
                    Some(s.samples.iter().zip(c).filter(|(p, _)| keep(p)).map(|(_, st)| *st).collect())
                }
                _ => None,
            };
            let v = match name {
                "rate" | "increase" | "delta" => extended_rate_value(&f, start, t, range, vs.smoothed, name != "delta", name == "rate"),
                "changes" | "resets" => {
                    // Anchored: start from the last sample at or before the range start.
                    let le = f.partition_point(|p| p.t <= start) as isize - 1;
                    if (le + 1) as usize >= f.len() {
                        None
                    } else {
                        let first = if le < 0 { 0 } else { le as usize };
                        let w = &f[first..];
                        let n = if name == "changes" {
                            w.windows(2).filter(|p| p[1].v != p[0].v && !(p[1].v.is_nan() && p[0].v.is_nan())).count()
                        } else {
                            resets(w, fst.as_deref().map(|c| &c[first..]))
                        };
                        Some(n as f64)
                    }
                }
                _ => None,
            };
            if let Some(v) = v {
                out.push(Elem { labels: self.drop_name_now(s.labels.clone()), v, drop: true });
            }
        }
        if self.is_range || !self.delayed {
            check_dups(&out)?;
        }
        Ok(Val::Vec(out))
    }
}

/// The value of a range function over one window of float samples `pts`
/// (non-empty, stale markers removed) in `(start, end]`; `ts` is the
/// evaluation time (for `predict_linear`). `st`: the samples' start
/// timestamps, for the functions that use them (see [`uses_st`]) when the
/// feature is on and the series has them. `None`: no output for this series.
#[allow(clippy::too_many_arguments)]
pub(crate) fn window_value(
    name: &str,
    pts: &[Sample],
    st: Option<&[i64]>,
    start: i64,
    end: i64,
    range: i64,
    param: Option<f64>,
    extra: Option<(f64, f64)>,
    ts: i64,
) -> Result<Option<f64>, QueryError> {
    let v: Option<f64> = match name {
        "rate" | "increase" | "delta" => extrapolated_rate(pts, st, start, end, range, name != "delta", name == "rate"),
        "irate" | "idelta" => instant_value(pts, st, name == "irate"),
        "deriv" => {
            if pts.len() < 2 {
                None
            } else {
                Some(linear_regression(pts, pts[0].t).0)
            }
        }
        "predict_linear" => {
            if pts.len() < 2 {
                None
            } else {
                let (slope, icpt) = linear_regression(pts, ts);
                Some(slope * param.unwrap_or(f64::NAN) + icpt)
            }
        }
        "resets" => Some(resets(pts, st) as f64),
        "changes" => Some(
            pts.windows(2)
                .filter(|w| w[1].v != w[0].v && !(w[1].v.is_nan() && w[0].v.is_nan()))
                .count() as f64,
        ),
        "avg_over_time" => Some(avg_over_time(pts)),
        "sum_over_time" => {
            let (mut s, mut c) = (0.0, 0.0);
            for p in pts {
                (s, c) = kahan_inc(p.v, s, c);
            }
            Some(if s.is_infinite() { s } else { s + c })
        }
        "min_over_time" => {
            let mut m = pts[0].v;
            for p in pts {
                if p.v < m || m.is_nan() {
                    m = p.v;
                }
            }
            Some(m)
        }
        "max_over_time" => {
            let mut m = pts[0].v;
            for p in pts {
                if p.v > m || m.is_nan() {
                    m = p.v;
                }
            }
            Some(m)
        }
        "count_over_time" => Some(pts.len() as f64),
        "present_over_time" => Some(1.0),
        "last_over_time" => pts.last().map(|p| p.v),
        "first_over_time" => pts.first().map(|p| p.v),
        "ts_of_last_over_time" => pts.last().map(|p| p.t as f64 / 1000.0),
        "ts_of_first_over_time" => pts.first().map(|p| p.t as f64 / 1000.0),
        "ts_of_max_over_time" | "ts_of_min_over_time" => {
            let max = name == "ts_of_max_over_time";
            let mut best = pts[0];
            for p in pts.iter().skip(1) {
                let better = if max { p.v >= best.v || best.v.is_nan() } else { p.v <= best.v || best.v.is_nan() };
                if better && !p.v.is_nan() {
                    best = *p;
                }
            }
            Some(best.t as f64 / 1000.0)
        }
        "stddev_over_time" | "stdvar_over_time" => {
            let (mut count, mut mean, mut cm, mut aux, mut ca) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for p in pts {
                count += 1.0;
                let delta = p.v - (mean + cm);
                (mean, cm) = kahan_inc(delta / count, mean, cm);
                (aux, ca) = kahan_inc(delta * (p.v - (mean + cm)), aux, ca);
            }
            let var = (aux + ca) / count;
            Some(if name == "stddev_over_time" { var.sqrt() } else { var })
        }
        "quantile_over_time" => {
            let q = param.unwrap_or(f64::NAN);
            let mut vals: Vec<f64> = pts.iter().map(|p| p.v).collect();
            Some(quantile(q, &mut vals))
        }
        "mad_over_time" => {
            let mut vals: Vec<f64> = pts.iter().map(|p| p.v).collect();
            if vals.iter().any(|x| x.is_nan()) {
                Some(f64::NAN)
            } else {
                let med = quantile(0.5, &mut vals);
                let mut dev: Vec<f64> = vals.iter().map(|x| (x - med).abs()).collect();
                Some(quantile(0.5, &mut dev))
            }
        }
        "double_exponential_smoothing" | "holt_winters" => {
            let (sf, tf) = extra.unwrap_or((0.5, 0.5));
            holt_winters(pts, sf, tf)
        }
        _ => return Err(exec_err(format!("function \"{name}\" is not supported"))),
    };
    Ok(v)
}

fn interpolate(p1: Sample, p2: Sample, t: i64, counter: bool) -> f64 {
    let mut y1 = p1.v;
    let y2 = p2.v;
    if counter && y2 < y1 {
        y1 = 0.0;
    }
    y1 + (y2 - y1) * (t - p1.t) as f64 / (p2.t - p1.t) as f64
}

/// Index of the first `i` in `[0, n)` with `pred(f[i])`, or `n`.
fn search(n: usize, f: &[Sample], pred: impl Fn(&Sample) -> bool) -> usize {
    f[..n].iter().position(pred).unwrap_or(n)
}

/// Prometheus' `extendedRate` for anchored/smoothed float windows.
fn extended_rate_value(f: &[Sample], range_start: i64, range_end: i64, range: i64, smoothed: bool, counter: bool, is_rate: bool) -> Option<f64> {
    let mut last = f.len() - 1;
    let mut first = search(last, f, |p| p.t > range_start).saturating_sub(1);
    if smoothed {
        last = search(last, f, |p| p.t >= range_end);
    }
    if f[last].t <= range_start {
        return None;
    }
    if smoothed && f[first].t > range_end {
        return None;
    }
    let left = if smoothed && f[first].t < range_start && first + 1 < f.len() {
        interpolate(f[first], f[first + 1], range_start, counter)
    } else {
        f[first].v
    };
    let right = if smoothed && last > 0 && f[last].t > range_end {
        interpolate(f[last - 1], f[last], range_end, counter)
    } else {
        f[last].v
    };
    let mut res = right - left;
    if counter {
        if f[first].t <= range_start {
            first += 1;
        }
        let mut end = last as isize;
        if f[last].t >= range_end {
            end -= 1;
        }
        let pts: &[Sample] = if (first as isize) <= end { &f[first..=(end as usize)] } else { &[] };
        let mut corr = 0.0;
        let mut prev = left;
        for p in pts {
            if p.v < prev {
                corr += prev;
            }
            prev = p.v;
        }
        if right < prev {
            corr += prev;
        }
        res += corr;
    }
    if is_rate {
        res /= range as f64 / 1000.0;
    }
    Some(res)
}

/// Prometheus' `extendFloats`: a window `(mint, maxt]` extended with boundary points.
pub(crate) fn extend_floats(f: &[Sample], mint: i64, maxt: i64, smoothed: bool) -> Vec<Sample> {
    if f.is_empty() {
        return vec![];
    }
    let mut last = f.len() - 1;
    let mut first = search(last, f, |p| p.t > mint).saturating_sub(1);
    if smoothed {
        last = search(last, f, |p| p.t >= maxt);
    }
    if f[last].t <= mint {
        return vec![];
    }
    let left = if smoothed && f[first].t < mint && first + 1 < f.len() { interpolate(f[first], f[first + 1], mint, false) } else { f[first].v };
    let right = if smoothed && last > 0 && f[last].t > maxt { interpolate(f[last - 1], f[last], maxt, false) } else { f[last].v };
    if f[first].t <= mint {
        first += 1;
    }
    let mut end = last as isize;
    if f[last].t >= maxt {
        end -= 1;
    }
    let mut out = vec![Sample { t: mint, v: left }];
    if (first as isize) <= end {
        out.extend_from_slice(&f[first..=(end as usize)]);
    }
    out.push(Sample { t: maxt, v: right });
    out
}

/// Go's `labels.FormatOpenMetricsFloat`.
fn openmetrics_float(v: f64) -> String {
    let s = fmt_g(v);
    if v.is_finite() && !s.contains('.') && !s.contains('e') {
        return format!("{s}.0");
    }
    s
}

/// Go's `math.Log2`: exact for powers of two, otherwise `ln(frac)/ln 2 +
/// exp` over the binary fraction — not libm's `log2`, whose last bit
/// differs (`log2(579)`: Prometheus 9.177419537989238, libm
/// 9.177419537989236). `ln` is still libm's, which can differ from Go's
/// `math.Log` in the last bit.
pub(crate) fn go_log2(x: f64) -> f64 {
    let (frac, exp) = super::binary::frexp(x);
    if frac == 0.5 {
        return (exp - 1) as f64;
    }
    frac.ln() * std::f64::consts::LOG2_E + exp as f64
}

/// Go's `math.Log10`: `ln(x) · (1 / ln 10)`, not libm's `log10` (so
/// `log10(0.1)` is -0.9999999999999999 in Prometheus).
pub(crate) fn go_log10(x: f64) -> f64 {
    x.ln() * std::f64::consts::LOG10_E
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn parse_le(s: &str) -> Option<f64> {
    let v = bongsu_model::parse_go_float(s)?;
    if v.is_nan() {
        return None;
    }
    Some(v)
}

pub(crate) fn valid_label_name(s: &str) -> bool {
    !s.is_empty()
}

/// `e` when it is a string literal (in parentheses or not) whose bytes are
/// not UTF-8 — never a valid label name in Prometheus (`utf8.ValidString`),
/// though its text here (with U+FFFD) would pass [`valid_label_name`].
pub(crate) fn not_utf8_literal(e: Option<&Expr>) -> Option<&crate::ast::StrLit> {
    match e.map(unwrap_parens) {
        Some(Expr::String(s, _)) if !s.is_utf8() => Some(s),
        _ => None,
    }
}

fn first_selector_time(e: Option<&Expr>) -> (Option<crate::ast::AtModifier>, Option<crate::ast::DurationExpr>) {
    type AtOff = (Option<crate::ast::AtModifier>, Option<crate::ast::DurationExpr>);
    fn walk(e: &Expr) -> Option<AtOff> {
        match e {
            Expr::VectorSelector(vs) => Some((vs.at.clone(), vs.offset.clone())),
            Expr::MatrixSelector(ms) => Some((ms.selector.at.clone(), ms.selector.offset.clone())),
            Expr::Subquery(sq) => {
                let r = walk(&sq.expr)?;
                if r.0.is_none() && sq.at.is_some() {
                    return Some((sq.at.clone(), sq.offset.clone().or(r.1)));
                }
                Some(r)
            }
            Expr::Call(c) => c.args.iter().find_map(walk),
            Expr::Aggregate(a) => walk(&a.expr),
            Expr::Binary(b) => walk(&b.lhs).or_else(|| walk(&b.rhs)),
            Expr::Neg(e, _) | Expr::Paren(e, _) => walk(e),
            _ => None,
        }
    }
    e.and_then(walk).unwrap_or((None, None))
}

fn absent_labels(arg: Option<&Expr>) -> Labels {
    match arg.map(unwrap_parens) {
        Some(Expr::VectorSelector(vs)) => absent_labels_sel(vs),
        Some(Expr::MatrixSelector(ms)) => absent_labels_sel(&ms.selector),
        _ => Labels::empty(),
    }
}

fn absent_labels_sel(vs: &VectorSelector) -> Labels {
    let mut b = LabelsBuilder::new();
    let mut has: Vec<&str> = vec![];
    for m in &vs.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == MatchOp::Equal && !has.contains(&m.name.as_str()) {
            b.set(m.name.clone(), m.value.clone());
            has.push(&m.name);
        } else {
            b.del(&m.name);
        }
    }
    b.into_labels()
}

/// The range functions that read start timestamps (Prometheus' engine
/// collects them for these four only, and only over a matrix selector).
pub(crate) fn uses_st(name: &str) -> bool {
    matches!(name, "rate" | "increase" | "irate" | "resets")
}

/// Prometheus' `isStartTimestampReset`: does the current sample's start
/// timestamp say the counter restarted after the previous sample? `0` is
/// "unknown"; a start at or after the sample's own time is ignored (invalid,
/// or OTel's unknown start); a start equal to the previous sample's time is
/// a delta sample — a reset — unless the previous start was unknown, equal
/// to its own time, or invalid (a cumulative series of unknown start).
pub(crate) fn st_reset(prev_st: i64, prev_t: i64, cur_st: i64, cur_t: i64) -> bool {
    if cur_st == 0 || cur_st >= cur_t || cur_st < prev_t {
        return false;
    }
    if cur_st > prev_t {
        return true;
    }
    if prev_st > prev_t {
        return false;
    }
    prev_st != 0 && prev_st != prev_t
}

/// Prometheus' `checkStartTimeOverlap`: a start time before the previous
/// sample that is not the previous sample's start time.
fn st_overlap(prev_st: i64, prev_t: i64, cur_st: i64) -> bool {
    cur_st != 0 && cur_st < prev_t && cur_st != prev_st
}

/// Whether `rate`/`increase` warn about overlapping start times in this window.
pub(crate) fn st_overlap_in(name: &str, pts: &[Sample], st: &[i64]) -> bool {
    matches!(name, "rate" | "increase") && pts.windows(2).enumerate().any(|(i, w)| st_overlap(st[i], w[0].t, st[i + 1]))
}

/// Prometheus' start-time overlap warning for the series `labels`.
pub(crate) fn st_overlap_warning(labels: &Labels) -> String {
    format!(
        "PromQL warning: sample has start time that overlaps with previous sample timestamp for metric {}",
        bongsu_model::labels::quote_go(labels.get_or_empty(METRIC_NAME))
    )
}

/// `resets` over a window: a value below the previous one, or (with start
/// timestamps) a start-timestamp reset.
fn resets(pts: &[Sample], st: Option<&[i64]>) -> usize {
    pts.windows(2)
        .enumerate()
        .filter(|(i, w)| w[1].v < w[0].v || st.is_some_and(|s| st_reset(s[*i], w[0].t, s[i + 1], w[1].t)))
        .count()
}

/// Prometheus' `extrapolatedRate` over floats. With start timestamps
/// (counters only): a start timestamp after the previous sample's time is a
/// reset ([`st_reset`]), and when the first sample's start time lies inside
/// the window the counter is taken to be 0 then, instead of extrapolating
/// to the left — which also gives a value for a single sample.
fn extrapolated_rate(pts: &[Sample], st: Option<&[i64]>, range_start: i64, range_end: i64, range: i64, counter: bool, is_rate: bool) -> Option<f64> {
    let st = if counter { st } else { None };
    let (first, last) = (*pts.first()?, *pts.last()?);
    let n1 = pts.len() - 1;
    let mut result = last.v - first.v;
    if counter {
        for (i, w) in pts.windows(2).enumerate() {
            if w[1].v < w[0].v || st.is_some_and(|s| st_reset(s[i], w[0].t, s[i + 1], w[1].t)) {
                result += w[0].v;
            }
        }
    }
    let mut to_start = (first.t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last.t) as f64 / 1000.0;
    let mut sampled = (last.t - first.t) as f64 / 1000.0;
    let avg = if n1 > 0 { sampled / n1 as f64 } else { 0.0 };
    let threshold = avg * 1.1;
    let st0 = st.map_or(0, |s| s[0]);
    if st0 != 0 && st0 > range_start && st0 < first.t {
        // A zero at the first sample's start time (the range start is exclusive).
        to_start = 0.0;
        sampled = (last.t - st0) as f64 / 1000.0;
        result += first.v;
    } else if n1 == 0 {
        return None;
    } else {
        if to_start >= threshold {
            to_start = avg / 2.0;
        }
        if counter && result > 0.0 && first.v >= 0.0 {
            let to_zero = sampled * (first.v / result);
            if to_zero < to_start {
                to_start = to_zero;
            }
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = if sampled != 0.0 { (sampled + to_start + to_end) / sampled } else { 1.0 };
    if is_rate {
        factor /= range as f64 / 1000.0;
    }
    Some(result * factor)
}

/// Prometheus' `instantValue` over floats (`irate`, `idelta`); for `irate`
/// a start-timestamp reset between the last two samples counts as a reset.
fn instant_value(pts: &[Sample], st: Option<&[i64]>, is_rate: bool) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len();
    let last = pts[n - 1];
    let prev = pts[n - 2];
    let mut r = last.v - prev.v;
    if is_rate && (last.v < prev.v || st.is_some_and(|s| st_reset(s[n - 2], prev.t, s[n - 1], last.t))) {
        r = last.v;
    }
    let iv = last.t - prev.t;
    if iv == 0 {
        return None;
    }
    if is_rate {
        r /= iv as f64 / 1000.0;
    }
    Some(r)
}

fn linear_regression(pts: &[Sample], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = pts[0].v;
    let mut const_y = true;
    for (i, p) in pts.iter().enumerate() {
        if const_y && i > 0 && p.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

fn avg_over_time(pts: &[Sample]) -> f64 {
    let (mut sum, mut mean, mut count, mut c) = (pts[0].v, 0.0f64, 1.0f64, 0.0f64);
    let mut incremental = false;
    for (i, p) in pts.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(p.v, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

fn holt_winters(pts: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let mut s0 = 0.0;
    let mut s1 = pts[0].v;
    let mut b = pts[1].v - pts[0].v;
    for (i, p) in pts.iter().enumerate().skip(1) {
        let x = sf * p.v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let min_normal = f64::from_bits(0x0010000000000000);
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < eps * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

/// Sorts, coalesces and fixes buckets; returns `false` when there are none usable.
fn prepare_buckets(buckets: &mut Vec<(f64, f64)>) -> bool {
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(ub, c) in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == ub => last.1 += c,
            _ => merged.push((ub, c)),
        }
    }
    *buckets = merged;
    !buckets.is_empty()
}

fn ensure_monotonic(buckets: &mut [(f64, f64)]) -> bool {
    let mut forced = false;
    if buckets.is_empty() {
        return false;
    }
    let mut prev = buckets[0].1;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.1;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, 1e-12) {
            b.1 = prev;
            continue;
        }
        if curr < prev {
            b.1 = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

/// Prometheus' `BucketQuantile`: (quantile, forced monotonicity).
fn bucket_quantile(q: f64, buckets: &mut Vec<(f64, f64)>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    if !prepare_buckets(buckets) {
        return (f64::NAN, false);
    }
    if buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
        return (f64::NAN, false);
    }
    let forced = ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return (f64::NAN, forced);
    }
    let obs = buckets[buckets.len() - 1].1;
    if obs == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * obs;
    let n = buckets.len() - 1;
    let b = buckets[..n].partition_point(|x| x.1 < rank);
    let res = if b == n {
        buckets[n - 1].0
    } else if b == 0 && buckets[0].0 <= 0.0 {
        buckets[0].0
    } else {
        let mut start = 0.0;
        let end = buckets[b].0;
        let mut count = buckets[b].1;
        if b > 0 {
            start = buckets[b - 1].0;
            count -= buckets[b - 1].1;
            rank -= buckets[b - 1].1;
        }
        start + (end - start) * (rank / count)
    };
    (res, forced)
}

/// Prometheus' `BucketFraction` for classic buckets.
fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<(f64, f64)>) -> f64 {
    if !prepare_buckets(buckets) {
        return f64::NAN;
    }
    if buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
        return f64::NAN;
    }
    let count = buckets[buckets.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].0 <= 0.0 { f64::NEG_INFINITY } else { 0.0 };
    for i in 0..buckets.len() {
        if i > 0 {
            lower_bound = buckets[i - 1].0;
        }
        let (upper_bound, bcount) = buckets[i];
        let interp = |v: f64| -> f64 {
            if lower_bound == f64::NEG_INFINITY {
                return bcount;
            }
            rank + (bcount - rank) * (v - lower_bound) / (upper_bound - lower_bound)
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = bcount;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// Natural ("human") ordering of strings with digit runs compared numerically.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = a[si..i].trim_start_matches('0');
            let nb = b[sj..j].trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        } else {
            if ab[i] != bb[j] {
                return ab[i].cmp(&bb[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

/// Civil date from days since the epoch (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn date_part(which: &str, secs: f64) -> f64 {
    if secs.is_nan() || secs.is_infinite() {
        return f64::NAN;
    }
    let s = secs as i64;
    let days = s.div_euclid(86_400);
    let sod = s.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    match which {
        "minute" => ((sod / 60) % 60) as f64,
        "hour" => (sod / 3600) as f64,
        "day_of_week" => ((days + 4).rem_euclid(7)) as f64,
        "day_of_month" => d as f64,
        "day_of_year" => {
            let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
            let mut doy = cum[(m - 1) as usize] + d as i64;
            if m > 2 && is_leap(y) {
                doy += 1;
            }
            doy as f64
        }
        "days_in_month" => {
            let dim = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            let mut n = dim[(m - 1) as usize];
            if m == 2 && is_leap(y) {
                n = 29;
            }
            n as f64
        }
        "month" => m as f64,
        "year" => y as f64,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date_part("year", 0.0), 1970.0);
        assert_eq!(date_part("day_of_week", 0.0), 4.0);
        // 2016-02-29
        assert_eq!(date_part("day_of_month", 1_456_704_000.0), 29.0);
        assert_eq!(date_part("days_in_month", 1_456_704_000.0), 29.0);
        assert_eq!(date_part("day_of_year", 1_456_704_000.0), 60.0);
    }

    /// Values from Prometheus 2.42's API (`log2(vector(x))`,
    /// `log10(vector(x))`), found by the differential test
    /// (`crates/bongsu/tests/promql_diff.rs`).
    #[test]
    fn log2_and_log10_compute_like_go() {
        let f = bongsu_model::fmt_float;
        assert_eq!(f(go_log2(579.0)), "9.177419537989238");
        assert_eq!(f(go_log2(3.0)), "1.5849625007211563");
        assert_eq!(f(go_log2(1024.0)), "10");
        assert_eq!(f(go_log2(0.125)), "-3");
        assert_eq!(f(go_log10(579.0)), "2.7626785637274365");
        assert_eq!(f(go_log10(7.0)), "0.8450980400142568");
        assert_eq!(f(go_log10(0.1)), "-0.9999999999999999");
        assert_eq!(f(go_log10(1e-5)), "-5");
        assert_eq!(go_log2(0.0), f64::NEG_INFINITY);
        assert_eq!(go_log2(f64::INFINITY), f64::INFINITY);
        assert!(go_log2(-1.0).is_nan() && go_log10(f64::NAN).is_nan());
        assert_eq!(f(go_log2(5e-324)), "-1074");
    }

    #[test]
    fn natural() {
        assert_eq!(natural_cmp("a10", "a9"), std::cmp::Ordering::Greater);
        assert_eq!(natural_cmp("a1", "a1b"), std::cmp::Ordering::Less);
    }
}
