//! Binary operators: scalar/scalar, vector/scalar, vector/vector with vector
//! matching, set operators and fill modifiers.
use super::{exec_err, Elem, Evaluator, QueryError, Val, METADATA_LABELS};
use crate::ast::{Binary, BinaryOp, Cardinality, FillModifier, VectorMatching};
use bongsu_model::{Labels, LabelsBuilder, METRIC_NAME};
use std::collections::{HashMap, HashSet};

pub(crate) fn scalar_op(op: BinaryOp, l: f64, r: f64) -> f64 {
    use BinaryOp::*;
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    match op {
        Add => l + r,
        Sub => l - r,
        Mul => l * r,
        Div => l / r,
        Mod => go_mod(l, r),
        Pow => go_pow(l, r),
        Atan2 => l.atan2(r),
        Eql => b(l == r),
        Neq => b(l != r),
        Gtr => b(l > r),
        Lss => b(l < r),
        Gte => b(l >= r),
        Lte => b(l <= r),
        And | Or | Unless | TrimUpper | TrimLower => f64::NAN,
    }
}

/// Go's `math.Mod` (result has the sign of x), same as Rust's `%` on floats.
fn go_mod(x: f64, y: f64) -> f64 {
    x % y
}

/// Go's `math.Pow` special cases differ from `powf` only in corner cases.
fn go_pow(x: f64, y: f64) -> f64 {
    if y == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 1.0;
    }
    x.powf(y)
}

/// Applies `op` to two floats: (value, keep).
pub(crate) fn elem_op(op: BinaryOp, l: f64, r: f64) -> (f64, bool) {
    use BinaryOp::*;
    match op {
        Eql => (l, l == r),
        Neq => (l, l != r),
        Gtr => (l, l > r),
        Lss => (l, l < r),
        Gte => (l, l >= r),
        Lte => (l, l <= r),
        TrimUpper | TrimLower => (0.0, false),
        _ => (scalar_op(op, l, r), true),
    }
}

/// The value of one vector element `v` against the scalar `s` (`swap`: the
/// scalar is on the left); `None` when a comparison filters it out.
pub(crate) fn vector_scalar_value(b: &Binary, v: f64, s: f64, swap: bool) -> Option<f64> {
    let (lf, rf) = if swap { (s, v) } else { (v, s) };
    let (mut val, mut keep) = elem_op(b.op, lf, rf);
    if b.op.is_comparison() && swap {
        val = rf;
    }
    if b.return_bool {
        val = if keep { 1.0 } else { 0.0 };
        keep = true;
    }
    keep.then_some(val)
}

pub(crate) fn changes_schema(op: BinaryOp) -> bool {
    use BinaryOp::*;
    matches!(op, Add | Sub | Mul | Div | Pow | Mod | Atan2)
}

/// Join signature of a series under the matching.
pub(crate) fn signature(l: &Labels, on: bool, names: &[String]) -> String {
    let mut s = String::new();
    for lb in l.iter() {
        let named = names.iter().any(|n| n == &lb.name);
        let include = if on { named } else { !named && lb.name != METRIC_NAME };
        if include {
            s.push_str(&lb.name);
            s.push('\u{ff}');
            s.push_str(&lb.value);
            s.push('\u{ff}');
        }
    }
    s
}

fn match_labels(l: &Labels, on: bool, names: &[String]) -> Labels {
    let mut b = LabelsBuilder::new();
    for lb in l.iter() {
        let named = names.iter().any(|n| n == &lb.name);
        let include = if on { named } else { !named && lb.name != METRIC_NAME };
        if include {
            b.set(lb.name.clone(), lb.value.clone());
        }
    }
    b.into_labels()
}

impl<'a> Evaluator<'a> {
    pub(crate) fn eval_binary(&mut self, b: &Binary, ts: i64) -> Result<Val, QueryError> {
        let l = self.eval(&b.lhs, ts)?;
        let r = self.eval(&b.rhs, ts)?;
        match (l, r) {
            (Val::Scalar(x), Val::Scalar(y)) => Ok(Val::Scalar(scalar_op(b.op, x, y))),
            (Val::Vec(v), Val::Scalar(s)) => self.vector_scalar(b, v, s, false),
            (Val::Scalar(s), Val::Vec(v)) => self.vector_scalar(b, v, s, true),
            (Val::Vec(l), Val::Vec(r)) => {
                let default = VectorMatching {
                    card: if b.op.is_set() { Cardinality::ManyToMany } else { Cardinality::OneToOne },
                    labels: vec![],
                    on: false,
                    include: vec![],
                    fill: FillModifier::default(),
                };
                let m = b.matching.clone().unwrap_or(default);
                let out = match b.op {
                    BinaryOp::And => set_and(l, r, &m),
                    BinaryOp::Or => set_or(l, r, &m),
                    BinaryOp::Unless => set_unless(l, r, &m),
                    _ => self.vector_binop(b, l, r, &m)?,
                };
                if self.is_range || !self.delayed {
                    check_dups(&out)?;
                }
                Ok(Val::Vec(out))
            }
            (l, r) => Err(exec_err(format!(
                "binary expression between {} and {} is not supported",
                l.type_name(),
                r.type_name()
            ))),
        }
    }

    fn vector_scalar(&mut self, b: &Binary, v: Vec<Elem>, s: f64, swap: bool) -> Result<Val, QueryError> {
        if matches!(b.op, BinaryOp::TrimUpper | BinaryOp::TrimLower) {
            let _ = swap;
            if !v.is_empty() {
                self.info(format!(
                    "PromQL info: incompatible sample types encountered for binary operator \"{}\": float {} float",
                    b.op.as_str(),
                    b.op.as_str()
                ));
            }
            return Ok(Val::Vec(vec![]));
        }
        let mut out = Vec::with_capacity(v.len());
        for mut e in v {
            if let Some(val) = vector_scalar_value(b, e.v, s, swap) {
                e.v = val;
                if changes_schema(b.op) || b.return_bool {
                    e.labels = self.drop_name_now(e.labels);
                    e.drop = true;
                }
                out.push(e);
            }
        }
        if self.is_range || !self.delayed {
            check_dups(&out)?;
        }
        Ok(Val::Vec(out))
    }

    fn vector_binop(&mut self, b: &Binary, lhs: Vec<Elem>, rhs: Vec<Elem>, m: &VectorMatching) -> Result<Vec<Elem>, QueryError> {
        if m.card == Cardinality::ManyToMany {
            return Err(exec_err("many-to-many only allowed for set operators"));
        }
        let fill = m.fill;
        if (lhs.is_empty() && rhs.is_empty()) || ((lhs.is_empty() || rhs.is_empty()) && fill.lhs.is_none() && fill.rhs.is_none()) {
            return Ok(vec![]);
        }
        let one_to_many = m.card == Cardinality::OneToMany;
        // After a possible swap, `many` is the left and `one` the right side.
        // As upstream, the fill values are not swapped with the sides.
        let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
        let (fill_many, fill_one) = (fill.lhs, fill.rhs);
        let mut right: HashMap<String, usize> = HashMap::new();
        for (i, rs) in one.iter().enumerate() {
            let sig = signature(&rs.labels, m.on, &m.labels);
            if let Some(&j) = right.get(&sig) {
                let side = if one_to_many { "left" } else { "right" };
                let matched = match_labels(&rs.labels, m.on, &m.labels);
                let (mut d1, mut d2) = (rs.labels.to_string(), one[j].labels.to_string());
                if d1 > d2 {
                    std::mem::swap(&mut d1, &mut d2);
                }
                return Err(exec_err(format!(
                    "found duplicate series for the match group {matched} on the {side} hand-side of the operation: [{d1}, {d2}];many-to-many matching not allowed: matching labels must be unique on one side"
                )));
            }
            right.insert(sig, i);
        }
        let mut out = Vec::new();
        let mut st = MatchState::default();
        let do_op = |ev: &mut Self, st: &mut MatchState, ls: &Elem, rs: &Elem, sig: &str, out: &mut Vec<Elem>| -> Result<(), QueryError> {
            let MatchState { matched_one, matched_many, result_cache } = st;
            let (fl, fr) = if one_to_many { (rs.v, ls.v) } else { (ls.v, rs.v) };
            let (mut val, keep) = elem_op(b.op, fl, fr);
            if matches!(b.op, BinaryOp::TrimUpper | BinaryOp::TrimLower) {
                ev.info(format!(
                    "PromQL info: incompatible sample types encountered for binary operator \"{}\": float {} float",
                    b.op.as_str(),
                    b.op.as_str()
                ));
                return Ok(());
            }
            if b.return_bool {
                val = if keep { 1.0 } else { 0.0 };
            }
            let key = (ls.labels.clone(), rs.labels.clone());
            let metric = match result_cache.get(&key) {
                Some(l) => l.clone(),
                None => {
                    let l = result_metric(&ls.labels, &rs.labels, b.op, m, b.return_bool && !ev.delayed);
                    result_cache.insert(key, l.clone());
                    l
                }
            };
            if m.card == Cardinality::OneToOne {
                if !matched_one.insert(sig.to_string()) {
                    return Err(exec_err(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
            } else {
                let set = matched_many.entry(sig.to_string()).or_default();
                if !set.insert(metric.clone()) {
                    return Err(exec_err("multiple matches for labels: grouping labels must ensure unique matches"));
                }
            }
            if !keep && !b.return_bool {
                return Ok(());
            }
            out.push(Elem { labels: metric, v: val, drop: b.return_bool });
            Ok(())
        };
        for ls in many.iter() {
            let sig = signature(&ls.labels, m.on, &m.labels);
            match right.get(&sig) {
                Some(&j) => do_op(self, &mut st, ls, &one[j], &sig, &mut out)?,
                None => {
                    if let Some(f) = fill_one {
                        let rs = Elem { labels: match_labels(&ls.labels, m.on, &m.labels), v: f, drop: false };
                        do_op(self, &mut st, ls, &rs, &sig, &mut out)?;
                    }
                }
            }
        }
        if let Some(f) = fill_many {
            for rs in one.iter() {
                let sig = signature(&rs.labels, m.on, &m.labels);
                let done = if m.card == Cardinality::OneToOne {
                    st.matched_one.contains(&sig)
                } else {
                    st.matched_many.get(&sig).map(|s| !s.is_empty()).unwrap_or(false)
                };
                if done {
                    continue;
                }
                let ls = Elem { labels: match_labels(&rs.labels, m.on, &m.labels), v: f, drop: false };
                do_op(self, &mut st, &ls, rs, &sig, &mut out)?;
            }
        }
        Ok(out)
    }
}

#[derive(Default)]
struct MatchState {
    matched_one: HashSet<String>,
    matched_many: HashMap<String, HashSet<Labels>>,
    result_cache: HashMap<(Labels, Labels), Labels>,
}

pub(crate) fn result_metric(lhs: &Labels, rhs: &Labels, op: BinaryOp, m: &VectorMatching, drop_name: bool) -> Labels {
    let mut b = lhs.builder();
    if drop_name || changes_schema(op) {
        for n in METADATA_LABELS {
            b.del(n);
        }
    }
    if m.card == Cardinality::OneToOne {
        if m.on {
            b.retain(|l| m.labels.iter().any(|n| n == &l.name));
        } else {
            b.retain(|l| !m.labels.iter().any(|n| n == &l.name));
        }
    }
    for ln in &m.include {
        match rhs.get(ln) {
            Some(v) => {
                b.set(ln.clone(), v.to_string());
            }
            None => {
                b.del(ln);
            }
        }
    }
    b.into_labels()
}

pub(crate) fn check_dups(v: &[Elem]) -> Result<(), QueryError> {
    if v.len() < 2 {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(v.len());
    for e in v {
        if !seen.insert(&e.labels) {
            return Err(exec_err("vector cannot contain metrics with the same labelset"));
        }
    }
    Ok(())
}

fn set_and(l: Vec<Elem>, r: Vec<Elem>, m: &VectorMatching) -> Vec<Elem> {
    if l.is_empty() || r.is_empty() {
        return vec![];
    }
    let rs: HashSet<String> = r.iter().map(|e| signature(&e.labels, m.on, &m.labels)).collect();
    l.into_iter().filter(|e| rs.contains(&signature(&e.labels, m.on, &m.labels))).collect()
}

fn set_or(l: Vec<Elem>, r: Vec<Elem>, m: &VectorMatching) -> Vec<Elem> {
    if l.is_empty() {
        return r;
    }
    if r.is_empty() {
        return l;
    }
    let ls: HashSet<String> = l.iter().map(|e| signature(&e.labels, m.on, &m.labels)).collect();
    let mut out = l;
    out.extend(r.into_iter().filter(|e| !ls.contains(&signature(&e.labels, m.on, &m.labels))));
    out
}

fn set_unless(l: Vec<Elem>, r: Vec<Elem>, m: &VectorMatching) -> Vec<Elem> {
    if l.is_empty() || r.is_empty() {
        return l;
    }
    let rs: HashSet<String> = r.iter().map(|e| signature(&e.labels, m.on, &m.labels)).collect();
    l.into_iter().filter(|e| !rs.contains(&signature(&e.labels, m.on, &m.labels))).collect()
}
