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

/// Whether label `name` is part of the group key.
#[inline]
fn in_key(name: &str, grouping: &[String], without: bool) -> bool {
    if without {
        name != METRIC_NAME && !grouping.iter().any(|g| g == name)
    } else {
        grouping.iter().any(|g| g == name)
    }
}

/// Finds the group of each series without building its group labels: a
/// series is hashed over the labels of its group key, the hash looked up,
/// the group's labels compared in place; group labels are built once per
/// new group (and for the rare hash collision).
pub(crate) struct GroupIndex<'g> {
    grouping: &'g [String],
    without: bool,
    by_hash: HashMap<u64, usize, std::hash::BuildHasherDefault<KeyHasher>>,
    collided: HashMap<Labels, usize>,
    scratch: Vec<u8>,
    /// Each group's labels, in order of first appearance.
    pub groups: Vec<Labels>,
}

impl<'g> GroupIndex<'g> {
    pub fn new(grouping: &'g [String], without: bool) -> Self {
        GroupIndex {
            grouping,
            without,
            by_hash: HashMap::default(),
            collided: HashMap::new(),
            scratch: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// The group of `l`, and whether it is new.
    pub fn group(&mut self, l: &Labels) -> (usize, bool) {
        let (grouping, without) = (self.grouping, self.without);
        let h = self.key_hash(l);
        match self.by_hash.get(&h) {
            Some(&g) if self.key_equals(l, g) => (g, false),
            Some(_) => {
                let gl = group_labels(l, grouping, without);
                if let Some(&g) = self.collided.get(&gl) {
                    return (g, false);
                }
                self.collided.insert(gl.clone(), self.groups.len());
                self.groups.push(gl);
                (self.groups.len() - 1, true)
            }
            None => {
                self.by_hash.insert(h, self.groups.len());
                self.groups.push(group_labels(l, grouping, without));
                (self.groups.len() - 1, true)
            }
        }
    }

    /// xxh3 of the key labels' names and values, each followed by 0xff.
    fn key_hash(&mut self, l: &Labels) -> u64 {
        self.scratch.clear();
        for x in l.iter().filter(|x| in_key(&x.name, self.grouping, self.without)) {
            self.scratch.extend_from_slice(x.name.as_bytes());
            self.scratch.push(0xff);
            self.scratch.extend_from_slice(x.value.as_bytes());
            self.scratch.push(0xff);
        }
        xxhash_rust::xxh3::xxh3_64(&self.scratch)
    }

    fn key_equals(&self, l: &Labels, g: usize) -> bool {
        let mut key = l.iter().filter(|x| in_key(&x.name, self.grouping, self.without));
        let mut group = self.groups[g].iter();
        loop {
            match (key.next(), group.next()) {
                (None, None) => return true,
                (Some(a), Some(b)) if a == b => {}
                _ => return false,
            }
        }
    }
}

/// The hasher of [`GroupIndex`]'s map, whose keys are already xxh3 hashes.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b) ^ (self.0 >> 56);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

pub(crate) fn group_labels(l: &Labels, grouping: &[String], without: bool) -> Labels {
    if without {
        let mut b = l.builder();
        b.retain(|x| x.name != METRIC_NAME && !grouping.iter().any(|g| *g == x.name));
        b.into_labels()
    } else {
        let mut b = LabelsBuilder::new();
        for x in l.iter() {
            if grouping.iter().any(|g| *g == x.name) {
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
            AggregateOp::CountValues => {
                if let Some(s) = super::funcs::not_utf8_literal(a.param.as_deref()) {
                    return Err(exec_err(format!("invalid label name {}", bongsu_model::labels::quote_go_bytes(s.as_bytes()))));
                }
            }
            _ => {}
        }

        // Group the input.
        let mut groups: Vec<Group> = Vec::new();
        let mut index = GroupIndex::new(&a.grouping, a.without);
        for (i, e) in input.iter().enumerate() {
            let (gi, new) = index.group(&e.labels);
            if new {
                groups.push(Group { labels: index.groups[gi].clone(), ..Default::default() });
            }
            groups[gi].members.push(i);
        }

        let mut out: Vec<Elem> = Vec::new();
        match op {
            AggregateOp::Topk | AggregateOp::Bottomk => {
                let k = param_f as i64 as usize;
                for g in &groups {
                    for i in heap_select(&input, &g.members, k, op == AggregateOp::Topk) {
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
                // As Prometheus does it: the value label is set first and
                // the series grouped afterwards, `by` keeping the value label
                // too — so a `without` list that names the value label drops
                // it again.
                let mut grouping = a.grouping.clone();
                if !a.without {
                    grouping.push(param_s.clone());
                }
                let mut counts: Vec<(Labels, f64)> = Vec::new();
                let mut idx: HashMap<Labels, usize> = HashMap::new();
                for e in &input {
                    let mut b = e.labels.builder();
                    b.set(param_s.clone(), fmt_float(e.v));
                    let l = group_labels(&b.into_labels(), &grouping, a.without);
                    match idx.get(&l) {
                        Some(&j) => counts[j].1 += 1.0,
                        None => {
                            idx.insert(l.clone(), counts.len());
                            counts.push((l, 1.0));
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

/// `topk`/`bottomk` of one group exactly as Prometheus 3 selects it, so
/// that ties pick the same series: a binary heap (Go's `container/heap`)
/// of up to `k` members with the smallest (topk) or largest (bottomk) value
/// on top, NaN below everything; a later member replaces the top only when
/// strictly better (or the top is NaN and it is not). Then the heap is
/// sorted best first with `sort.Reverse` — Go sorts up to 12 elements by
/// insertion, which this does for any size (the order only shows in
/// instant results). Returns indexes into `input`.
pub(crate) fn heap_select(input: &[Elem], members: &[usize], k: usize, top: bool) -> Vec<usize> {
    // Less of Prometheus' vectorByValueHeap (topk) and
    // vectorByReverseValueHeap (bottomk).
    let less = |h: &[usize], i: usize, j: usize| {
        let (a, b) = (input[h[i]].v, input[h[j]].v);
        a.is_nan() || if top { a < b } else { a > b }
    };
    fn up(h: &mut [usize], mut j: usize, less: &dyn Fn(&[usize], usize, usize) -> bool) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !less(h, j, i) {
                break;
            }
            h.swap(i, j);
            j = i;
        }
    }
    fn down(h: &mut [usize], i0: usize, less: &dyn Fn(&[usize], usize, usize) -> bool) -> bool {
        let n = h.len();
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            if j1 + 1 < n && less(h, j1 + 1, j1) {
                j = j1 + 1;
            }
            if !less(h, j, i) {
                break;
            }
            h.swap(i, j);
            i = j;
        }
        i > i0
    }
    let mut h: Vec<usize> = Vec::with_capacity(k.min(members.len()));
    for &m in members {
        let v = input[m].v;
        if h.len() < k {
            h.push(m);
            let last = h.len() - 1;
            up(&mut h, last, &less);
            continue;
        }
        let t = input[h[0]].v;
        let better = if top { t < v } else { t > v };
        if better || (t.is_nan() && !v.is_nan()) {
            h[0] = m;
            if k > 1 && !down(&mut h, 0, &less) {
                up(&mut h, 0, &less);
            }
        }
    }
    // sort.Sort(sort.Reverse(heap)): Less(j, j-1) of the reverse is
    // Less(j-1, j) of the heap.
    for i in 1..h.len() {
        let mut j = i;
        while j > 0 && less(&h, j - 1, j) {
            h.swap(j, j - 1);
            j -= 1;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use crate::engine::{Engine, EngineOptions, Value};
    use crate::memstore::MemStore;

    /// Series `x="a"`, `x="b"`, … with the given values, in that order.
    fn vector_of(values: &[&str]) -> String {
        let parts: Vec<String> =
            values.iter().enumerate().map(|(i, v)| format!("label_replace(vector({v}), \"x\", \"{}\", \"\", \"\")", (b'a' + i as u8) as char)).collect();
        parts.join(" or ")
    }

    fn picked(query: &str) -> Vec<String> {
        let r = Engine::new(EngineOptions::default()).instant_query(&MemStore::new(), query, 1000).expect("query");
        match r.value {
            Value::Vector(v) => v.iter().map(|s| format!("{}={}", s.labels.get("x").unwrap_or(""), s.v)).collect(),
            other => panic!("not a vector: {other:?}"),
        }
    }

    /// Ties pick the series Prometheus picks (its heap), not the first
    /// seen: found by the differential test against Prometheus 2.42
    /// (`crates/bongsu/tests/promql_diff.rs`), whose answers these are; 3.x
    /// replaces the heap top in place instead of pop+push, which gives the
    /// same picks here.
    /// `count_values` sets the value label before grouping: a `without`
    /// list naming it drops it again (Prometheus 2.42's answers, found by
    /// crates/bongsu/tests/promql_diff.rs; 3.x groups the same way).
    #[test]
    fn count_values_groups_after_setting_the_value_label() {
        let two = "label_replace(vector(1), \"code\", \"200\", \"\", \"\") or label_replace(vector(2), \"code\", \"500\", \"\", \"\")";
        let counts = |q: &str| -> Vec<String> {
            let r = Engine::new(EngineOptions::default()).instant_query(&MemStore::new(), q, 1000).expect("query");
            let Value::Vector(v) = r.value else { panic!("not a vector") };
            let mut out: Vec<String> = v.iter().map(|s| format!("{}={}", s.labels, s.v)).collect();
            out.sort();
            out
        };
        assert_eq!(counts(&format!("count_values without (code) (\"code\", {two})")), ["{}=2"]);
        assert_eq!(counts(&format!("count_values (\"code\", {two})")), ["{code=\"1\"}=1", "{code=\"2\"}=1"]);
        assert_eq!(counts(&format!("count_values by (code) (\"code\", {two})")), ["{code=\"1\"}=1", "{code=\"2\"}=1"]);
        assert_eq!(
            counts(&format!("count_values without (x) (\"v\", {})", vector_of(&["1", "1", "3"]))),
            ["{v=\"1\"}=2", "{v=\"3\"}=1"]
        );
    }

    #[test]
    fn topk_and_bottomk_break_ties_like_prometheus() {
        assert_eq!(picked(&format!("topk(2, {})", vector_of(&["1", "1", "2", "1"]))), ["c=2", "b=1"]);
        assert_eq!(picked(&format!("bottomk(2, {})", vector_of(&["1", "1", "0", "1"]))), ["c=0", "b=1"]);
        // Without ties: best first.
        assert_eq!(picked(&format!("topk(3, {})", vector_of(&["5", "9", "1", "7", "3"]))), ["b=9", "d=7", "a=5"]);
        assert_eq!(picked(&format!("bottomk(2, {})", vector_of(&["5", "9", "1", "7", "3"]))), ["c=1", "e=3"]);
        // NaN ranks below every number; a NaN top stays against a later NaN
        // (3.x: replaced only by a number).
        assert_eq!(picked(&format!("topk(2, {})", vector_of(&["NaN", "5", "NaN"]))), ["b=5", "a=NaN"]);
        assert_eq!(picked(&format!("bottomk(1, {})", vector_of(&["NaN", "NaN", "4"]))), ["c=4"]);
        // k = 1 keeps the first of equal values.
        assert_eq!(picked(&format!("topk(1, {})", vector_of(&["3", "3", "1"]))), ["a=3"]);
        // Here 2.42 (pop + push) answers g, d, b; 3.x replaces the top in
        // place and sifts it down, which keeps c (traced by hand through
        // 3.14's aggregationK and Go's container/heap).
        assert_eq!(picked(&format!("topk(3, {})", vector_of(&["1", "1", "1", "2", "1", "1", "3", "1"]))), ["g=3", "d=2", "c=1"]);
        // k larger than the group: everything, best first.
        assert_eq!(picked(&format!("topk(9, {})", vector_of(&["1", "3", "2"]))), ["b=3", "c=2", "a=1"]);
    }
}

#[cfg(test)]
mod group_index_tests {
    use super::*;

    #[test]
    fn groups_by_key_labels_and_survives_hash_collisions() {
        let by = vec!["region".to_string()];
        let l = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs.iter().copied());
        let a = l(&[("__name__", "x"), ("node", "1"), ("region", "eu")]);
        let a2 = l(&[("__name__", "y"), ("node", "2"), ("region", "eu")]);
        let b = l(&[("__name__", "x"), ("node", "1"), ("region", "us")]);
        let c = l(&[("__name__", "x"), ("node", "1")]);
        let mut ix = GroupIndex::new(&by, false);
        assert_eq!(ix.group(&a), (0, true));
        assert_eq!(ix.group(&a2), (0, false));
        assert_eq!(ix.group(&c), (1, true));
        // b's hash made to collide with a's group: b still gets its own group.
        let hb = ix.key_hash(&b);
        ix.by_hash.insert(hb, 0);
        assert_eq!(ix.group(&b), (2, true));
        assert_eq!(ix.group(&b), (2, false));
        assert_eq!(ix.group(&a), (0, false));
        let want: Vec<Labels> = vec![l(&[("region", "eu")]), Labels::empty(), l(&[("region", "us")])];
        assert_eq!(ix.groups, want);
        // without: the name and the listed labels leave the key.
        let wo = vec!["node".to_string()];
        let mut ix = GroupIndex::new(&wo, true);
        assert_eq!(ix.group(&a), (0, true));
        assert_eq!(ix.group(&a2), (0, false));
        assert_eq!(ix.group(&b), (1, true));
        assert_eq!(ix.groups[0], l(&[("region", "eu")]));
    }
}
