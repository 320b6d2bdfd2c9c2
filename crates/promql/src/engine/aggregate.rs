//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, `limitk`, …).
use super::{exec_err, kahan_inc, Elem, Evaluator, QueryError, Val};
use crate::ast::{Aggregate, AggregateOp};
use bongsu_model::{fmt_float, Labels, LabelsBuilder, METRIC_NAME};
use std::collections::HashMap;

/// Prometheus' `quantile` over a set of values (sorts `values`).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Formats a float like Go's `%g`.
pub(crate) fn fmt_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e21).contains(&a) {
        let s = format!("{v:e}");
        // Rust prints 1e-5 / 1.5e21; Go prints 1e-05 / 1.5e+21.
        if let Some((m, e)) = s.split_once('e') {
            let (sign, digits) = if let Some(d) = e.strip_prefix('-') { ('-', d) } else { ('+', e) };
            let digits = if digits.len() < 2 { format!("0{digits}") } else { digits.to_string() };
            return format!("{m}e{sign}{digits}");
        }
        return s;
    }
    format!("{v}")
}

/// Running state of one aggregation group at one evaluation time, for the
/// operators that fold values (`sum`, `avg`, `min`, `max`, `count`, `group`,
/// `stddev`, `stdvar`, `quantile`). Shared by the step-at-a-time and the
/// series-at-a-time (range) evaluation so both add in the same order.
#[derive(Default, Clone)]
pub(crate) struct Acc {
    value: f64,
    c: f64,
    mean: f64,
    count: f64,
    incremental: bool,
    pub(crate) drop: bool,
    values: Vec<f64>,
    n: usize,
}

impl Acc {
    /// Whether no value was added yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Adds one input value.
    pub(crate) fn add(&mut self, op: AggregateOp, f: f64, drop: bool) {
        if drop {
            self.drop = true;
        }
        self.n += 1;
        if self.n == 1 {
            self.value = f;
            self.mean = f;
            self.count = 1.0;
            self.c = 0.0;
            match op {
                AggregateOp::Stddev | AggregateOp::Stdvar => {
                    self.value = if f.is_nan() || f.is_infinite() { f64::NAN } else { 0.0 };
                }
                AggregateOp::Quantile => self.values.push(f),
                AggregateOp::Group => self.value = 1.0,
                _ => {}
            }
            return;
        }
        match op {
            AggregateOp::Sum => {
                let (v, c) = kahan_inc(f, self.value, self.c);
                self.value = v;
                self.c = c;
            }
            AggregateOp::Avg => {
                self.count += 1.0;
                if !self.incremental {
                    let (v, c) = kahan_inc(f, self.value, self.c);
                    if !v.is_infinite() {
                        self.value = v;
                        self.c = c;
                        return;
                    }
                    self.incremental = true;
                    self.mean = self.value / (self.count - 1.0);
                    self.c /= self.count - 1.0;
                }
                let q = (self.count - 1.0) / self.count;
                let (m, c) = kahan_inc(f / self.count, q * self.mean, q * self.c);
                self.mean = m;
                self.c = c;
            }
            AggregateOp::Group => {}
            AggregateOp::Max if self.value < f || self.value.is_nan() => self.value = f,
            AggregateOp::Min if self.value > f || self.value.is_nan() => self.value = f,
            AggregateOp::Max | AggregateOp::Min => {}
            AggregateOp::Count => self.count += 1.0,
            AggregateOp::Stddev | AggregateOp::Stdvar => {
                self.count += 1.0;
                let delta = f - self.mean;
                self.mean += delta / self.count;
                self.value += delta * (f - self.mean);
            }
            AggregateOp::Quantile => self.values.push(f),
            _ => {}
        }
    }

    /// The aggregated value (`param` is `quantile`'s φ).
    pub(crate) fn finish(&mut self, op: AggregateOp, param: f64) -> f64 {
        match op {
            AggregateOp::Avg => {
                if self.count == 1.0 {
                    self.value
                } else if self.incremental {
                    self.mean + self.c
                } else {
                    self.value / self.count + self.c / self.count
                }
            }
            AggregateOp::Count => self.count,
            AggregateOp::Stdvar => self.value / self.count,
            AggregateOp::Stddev => (self.value / self.count).sqrt(),
            AggregateOp::Quantile => quantile(param, &mut self.values),
            AggregateOp::Sum => {
                if self.value.is_infinite() {
                    self.value
                } else {
                    self.value + self.c
                }
            }
            _ => self.value,
        }
    }
}

#[derive(Default)]
struct Group {
    labels: Labels,
    acc: Acc,
    members: Vec<usize>,
}

pub(crate) fn group_labels(l: &Labels, grouping: &[String], without: bool) -> Labels {
    if without {
        let mut b = l.builder();
        b.retain(|x| x.name != METRIC_NAME && !grouping.iter().any(|g| g == &x.name));
        b.into_labels()
    } else {
        let mut b = LabelsBuilder::new();
        for x in l.iter() {
            if grouping.iter().any(|g| g == &x.name) {
                b.set(x.name.clone(), x.value.clone());
            }
        }
        b.into_labels()
    }
}

impl<'a> Evaluator<'a> {
    pub(crate) fn eval_aggregate(&mut self, a: &Aggregate, ts: i64) -> Result<Val, QueryError> {
        let op = a.op;
        let mut param_f = f64::NAN;
        let mut param_s = String::new();
        if let Some(p) = &a.param {
            match self.eval(p, ts)? {
                Val::Scalar(v) => param_f = v,
                Val::Str(s) => param_s = s,
                other => return Err(exec_err(format!("expected scalar parameter, got {}", other.type_name()))),
            }
        }
        let input = self.eval_vector(&a.expr, ts)?;
        match op {
            AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk => {
                if param_f.is_nan() {
                    return Err(exec_err("Parameter value is NaN"));
                }
                if param_f < 1.0 {
                    return Ok(Val::Vec(vec![]));
                }
                if param_f <= i64::MIN as f64 {
                    return Err(exec_err(format!("Scalar value {} underflows int64", fmt_g(param_f))));
                }
                if param_f >= i64::MAX as f64 {
                    return Err(exec_err(format!("Scalar value {} overflows int64", fmt_g(param_f))));
                }
            }
            AggregateOp::LimitRatio => {
                if param_f == 0.0 {
                    return Ok(Val::Vec(vec![]));
                }
                if param_f.is_nan() {
                    return Err(exec_err("Ratio value is NaN"));
                }
                if param_f > 1.0 {
                    self.warn(format!("PromQL warning: ratio value should be between -1 and 1, got {}, capping to 1", fmt_g(param_f)));
                    param_f = 1.0;
                }
                if param_f < -1.0 {
                    self.warn(format!("PromQL warning: ratio value should be between -1 and 1, got {}, capping to -1", fmt_g(param_f)));
                    param_f = -1.0;
                }
            }
            AggregateOp::Quantile if param_f.is_nan() || !(0.0..=1.0).contains(&param_f) => {
                self.warn(format!("PromQL warning: quantile value should be between 0 and 1, got {}", fmt_g(param_f)));
            }
            AggregateOp::CountValues if !valid_label_name(&param_s) => {
                return Err(exec_err(format!("invalid label name {}", bongsu_model::labels::quote_go(&param_s))));
            }
            _ => {}
        }

        // Group the input.
        let mut groups: Vec<Group> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        for (i, e) in input.iter().enumerate() {
            let gl = group_labels(&e.labels, &a.grouping, a.without);
            let gi = match index.get(&gl) {
                Some(g) => *g,
                None => {
                    groups.push(Group { labels: gl.clone(), ..Default::default() });
                    index.insert(gl, groups.len() - 1);
                    groups.len() - 1
                }
            };
            groups[gi].members.push(i);
        }

        let mut out: Vec<Elem> = Vec::new();
        match op {
            AggregateOp::Topk | AggregateOp::Bottomk => {
                let k = param_f as i64 as usize;
                for g in &groups {
                    let mut m: Vec<usize> = g.members.clone();
                    // Stable sort: ties keep input order, like the heap keeps the first seen.
                    m.sort_by(|&x, &y| {
                        let (a, b) = (input[x].v, input[y].v);
                        match (a.is_nan(), b.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ => {
                                if op == AggregateOp::Topk {
                                    b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal)
                                } else {
                                    a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
                                }
                            }
                        }
                    });
                    for &i in m.iter().take(k) {
                        out.push(input[i].clone());
                    }
                }
                return Ok(Val::Vec(out));
            }
            AggregateOp::Limitk => {
                let k = param_f as i64 as usize;
                for g in &groups {
                    for &i in g.members.iter().take(k) {
                        out.push(input[i].clone());
                    }
                }
                return Ok(Val::Vec(out));
            }
            AggregateOp::LimitRatio => {
                for g in &groups {
                    for &i in &g.members {
                        let off = ratio_offset(&input[i].labels);
                        let keep = if param_f >= 0.0 { off < param_f } else { off >= 1.0 + param_f };
                        if keep {
                            out.push(input[i].clone());
                        }
                    }
                }
                return Ok(Val::Vec(out));
            }
            AggregateOp::CountValues => {
                let mut counts: Vec<(Labels, f64)> = Vec::new();
                let mut idx: HashMap<Labels, usize> = HashMap::new();
                for g in &groups {
                    for &i in &g.members {
                        let mut b = g.labels.builder();
                        b.set(param_s.clone(), fmt_float(input[i].v));
                        let l = b.into_labels();
                        match idx.get(&l) {
                            Some(&j) => counts[j].1 += 1.0,
                            None => {
                                idx.insert(l.clone(), counts.len());
                                counts.push((l, 1.0));
                            }
                        }
                    }
                }
                return Ok(Val::Vec(counts.into_iter().map(|(labels, v)| Elem { labels, v, drop: false }).collect()));
            }
            _ => {}
        }

        for g in groups.iter_mut() {
            for &i in &g.members {
                g.acc.add(op, input[i].v, input[i].drop);
            }
            let v = g.acc.finish(op, param_f);
            out.push(Elem { labels: std::mem::take(&mut g.labels), v, drop: g.acc.drop });
        }
        Ok(Val::Vec(out))
    }
}

fn ratio_offset(l: &Labels) -> f64 {
    l.stable_hash() as f64 / u64::MAX as f64
}

pub(crate) fn valid_label_name(s: &str) -> bool {
    !s.is_empty() && std::str::from_utf8(s.as_bytes()).is_ok()
}
