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

/// `x ^ y` as Go's `math.Pow` computes it, so results match Prometheus to
/// the bit: its special cases, `y = ±0.5` through `sqrt`, and an integer
/// exponent by repeated squaring of the normalised fraction (libm's `pow`
/// rounds once, correctly; Go's rounds at each step, so e.g. `0.3 ^ 11` is
/// 1.7714699999999997e-06 in Prometheus and 1.7714699999999993e-06 with
/// `powf`). A fractional exponent needs `exp(yf·ln x)`, which still comes
/// from libm here rather than from Go's `math.Exp`/`math.Log` (they can
/// differ in the last bit).
pub(crate) fn go_pow(x: f64, y: f64) -> f64 {
    let is_odd_int = |v: f64| {
        if v.abs() >= (1u64 << 53) as f64 {
            return false;
        }
        v.fract() == 0.0 && (v as i64) & 1 == 1
    };
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 {
        return if y < 0.0 {
            if x.is_sign_negative() && is_odd_int(y) {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        } else if x.is_sign_negative() && is_odd_int(y) {
            x
        } else {
            0.0
        };
    }
    if y.is_infinite() {
        return pow_overflow(x, y);
    }
    if x.is_infinite() {
        if x < 0.0 {
            return go_pow(1.0 / x, -y); // Pow(-0, -y)
        }
        return if y < 0.0 { 0.0 } else { f64::INFINITY };
    }
    if y == 0.5 {
        return x.sqrt();
    }
    if y == -0.5 {
        return 1.0 / x.sqrt();
    }
    let mut yi = y.abs().trunc();
    let mut yf = y.abs() - yi;
    if yf != 0.0 && x < 0.0 {
        return f64::NAN;
    }
    if yi >= (1u64 << 63) as f64 {
        // A huge even integer: overflow or underflow for every x but -1.
        return pow_overflow(x, y);
    }
    // ans = a1 · 2^ae
    let mut a1 = 1.0;
    let mut ae: i64 = 0;
    if yf != 0.0 {
        if yf > 0.5 {
            yf -= 1.0;
            yi += 1.0;
        }
        a1 = (yf * x.ln()).exp();
    }
    let (mut x1, xe) = frexp(x);
    let mut xe = xe as i64;
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            // Certain overflow or underflow: ldexp sorts it out.
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

/// `x ^ y` for an infinite or huge even `y`: 1 for x = -1, else 0 or +Inf
/// by whether |x| < 1 and the sign of y (Go's special cases).
fn pow_overflow(x: f64, y: f64) -> f64 {
    if x == -1.0 {
        1.0
    } else if (x.abs() < 1.0) == (y > 0.0) {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Splits `x` into a fraction in [0.5, 1) and a power of two (Go's
/// `math.Frexp`); zero, infinities and NaN come back unchanged with 0.
pub(crate) fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let (mut x, mut e) = (x, 0);
    if x.abs() < f64::MIN_POSITIVE {
        x *= (1u64 << 52) as f64;
        e = -52;
    }
    let bits = x.to_bits();
    e += ((bits >> 52) & 0x7ff) as i32 - 1022;
    (f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52)), e)
}

/// `frac · 2^exp`, rounded once (Go's `math.Ldexp`).
fn ldexp(frac: f64, exp: i64) -> f64 {
    if frac == 0.0 || !frac.is_finite() {
        return frac;
    }
    let (f, e) = frexp(frac);
    // f = 1.m · 2^-1, so the result is 1.m · 2^(exp + e - 1).
    let mut ue = exp.saturating_add(e as i64) - 1;
    if ue < -1075 {
        return 0.0f64.copysign(frac);
    }
    if ue > 1023 {
        return f64::INFINITY.copysign(frac);
    }
    let mut m = 1.0;
    if ue < -1022 {
        // Subnormal: build it 2^53 larger and scale once.
        ue += 53;
        m = 1.0 / (1u64 << 53) as f64;
    }
    m * f64::from_bits((f.to_bits() & !(0x7ff << 52)) | (((ue + 1023) as u64) << 52))
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
        let named = names.iter().any(|n| *n == lb.name);
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
        let named = names.iter().any(|n| *n == lb.name);
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
            b.retain(|l| m.labels.iter().any(|n| *n == l.name));
        } else {
            b.retain(|l| !m.labels.iter().any(|n| *n == l.name));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `x ^ y` against Prometheus 2.42's API answers (found by the
    /// differential test, `crates/bongsu/tests/promql_diff.rs`): integer
    /// exponents go through Go's repeated squaring, not libm's `pow`.
    #[test]
    fn pow_computes_like_go() {
        let f = |x: f64, y: f64| bongsu_model::fmt_float(go_pow(x, y));
        assert_eq!(f(0.3, 11.0), "0.0000017714699999999997");
        assert_eq!(f(1.0000001, 1000.0), "1.000100004995219");
        assert_eq!(f(1.7, -7.0), "0.024370113416046467");
        assert_eq!(f(1.1, 3.0), "1.3310000000000004");
        assert_eq!(f(-2.2, 3.0), "-10.648000000000003");
        assert_eq!(f(2.5, -3.0), "0.064");
        assert_eq!(f(12345.678, 3.0), "1881675960266.5586");
        assert_eq!(f(7.1, 0.5), "2.6645825188948455");
        assert_eq!(f(7.1, -0.5), "0.37529331252040077");
        // Go's special cases.
        assert_eq!(go_pow(f64::NAN, 0.0), 1.0);
        assert_eq!(go_pow(1.0, f64::NAN), 1.0);
        assert!(go_pow(-8.0, 1.0 / 3.0).is_nan());
        assert_eq!(go_pow(-0.0, -3.0), f64::NEG_INFINITY);
        assert_eq!(go_pow(0.0, -3.0), f64::INFINITY);
        assert_eq!(go_pow(-0.0, -2.0), f64::INFINITY);
        assert!(go_pow(-0.0, 3.0) == 0.0 && go_pow(-0.0, 3.0).is_sign_negative());
        assert_eq!(go_pow(-1.0, f64::INFINITY), 1.0);
        assert_eq!(go_pow(0.5, f64::INFINITY), 0.0);
        assert_eq!(go_pow(2.0, f64::NEG_INFINITY), 0.0);
        assert_eq!(go_pow(f64::NEG_INFINITY, 3.0), f64::NEG_INFINITY);
        assert_eq!(go_pow(f64::NEG_INFINITY, -3.0), 0.0);
        assert_eq!(go_pow(10.0, 400.0), f64::INFINITY);
        assert_eq!(go_pow(10.0, -400.0), 0.0);
        assert_eq!(go_pow(2.0, -1074.0), 5e-324);
        assert_eq!(go_pow(2.0, 1023.0), 2f64.powi(1023));
        assert_eq!(go_pow(-1.0, 1e19), 1.0);
        assert_eq!(go_pow(1.5, 1e19), f64::INFINITY);
    }

    #[test]
    fn frexp_like_go() {
        assert_eq!(frexp(8.0), (0.5, 4));
        assert_eq!(frexp(-3.0), (-0.75, 2));
        assert_eq!(frexp(5e-324), (0.5, -1073));
        assert_eq!(frexp(0.0), (0.0, 0));
    }
}
