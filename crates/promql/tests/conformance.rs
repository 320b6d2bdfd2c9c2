//! Upstream Prometheus PromQL test-script conformance runner.
//!
//! Runs every `*.test` file of `promql/testdata` in the shared conformance data
//! (env `BONGSU_CONFORMANCE_DIR`, default `<workspace>/../shared/conformance`)
//! and compares per-file pass counts against `tests/conformance-baseline.tsv`.
//! `BONGSU_CONFORMANCE_UPDATE=1` rewrites the baseline; `BONGSU_CONFORMANCE_FILE=name`
//! runs one file; `BONGSU_CONFORMANCE_VERBOSE=1` prints every failure.
//! See `docs/conformance.md`.

use bongsu_model::duration::parse_duration;
use bongsu_model::{is_stale_nan, Labels};
use bongsu_promql::ast::{AtModifier, Expr};
use bongsu_promql::engine::{Engine, EngineOptions, QueryError, QueryResult, Value};
use bongsu_promql::memstore::MemStore;
use bongsu_promql::seriesdesc::{parse_go_string, parse_number, parse_series_labels, parse_values, Point};
use regex::Regex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

// ------------------------------------------------------------------ script model

#[derive(Debug, Clone, Default)]
struct Expectations {
    fail: bool,
    fail_msg: Option<String>,
    fail_regex: Option<String>,
    warn: bool,
    warn_msgs: Vec<String>,
    no_warn: bool,
    info: bool,
    info_msgs: Vec<String>,
    no_info: bool,
    ordered: bool,
    range_vector: Option<(i64, i64, i64)>,
    string: Option<String>,
}


#[derive(Debug, Clone)]
struct ExpSeries {
    labels: Labels,
    vals: Vec<Point>,
}

#[derive(Debug, Clone)]
struct EvalCmd {
    line: usize,
    expr: String,
    instant: bool,
    at: i64,
    start: i64,
    end: i64,
    step: i64,
    exp: Expectations,
    series: Vec<ExpSeries>,
    scalar: Option<f64>,
    needs_histograms: bool,
}

/// A loaded point: time, value and start timestamp (`0`: none).
type LoadPoint = (i64, Point, i64);

#[derive(Debug)]
enum Cmd {
    Clear,
    Load { series: Vec<(Labels, Vec<LoadPoint>)>, nhcb: bool },
    Eval(Box<EvalCmd>),
    Bad { line: usize, msg: String },
}

// ------------------------------------------------------------------ lexing helpers

fn dur(s: &str) -> Result<i64, String> {
    parse_duration(s.trim()).map_err(|e| e.to_string())
}

/// Upstream's `parseDurationPrefix`: an optionally signed duration (one
/// number and unit; `x` is never part of the unit) at the start of `s`, in
/// ms, and the rest.
fn duration_prefix(s: &str) -> Result<(i64, &str), String> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        Some(_) => (false, s),
        None => return Err("empty duration".into()),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("expected digits in duration {s:?}"));
    }
    let unit = body[digits..].bytes().take_while(|b| b.is_ascii_alphabetic() && *b != b'x').count();
    let ms = dur(&body[..digits + unit])?;
    Ok((if neg { -ms } else { ms }, &body[digits + unit..]))
}

/// The value sequence of an `@st` line (upstream's `parseSTSequence`): start
/// timestamp offsets from each sample's time in ms, `None` where omitted.
/// Items: `_`, `_xN`, `<dur>`, `<dur>xN`, `<dur>+<dur>xN`, `<dur>-<dur>xN`.
fn parse_st_sequence(s: &str) -> Result<Vec<Option<i64>>, String> {
    let mut out = vec![];
    for item in s.split_whitespace() {
        let bad = |e: String| format!("invalid ST item {item:?}: {e}");
        if item == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = item.strip_prefix("_x") {
            let n: usize = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| bad("invalid repeat count".into()))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        let (base, rest) = duration_prefix(item).map_err(bad)?;
        let count = |r: &str| -> Result<usize, String> { r.parse::<usize>().map_err(|_| bad("invalid repeat count".into())) };
        if rest.is_empty() {
            out.push(Some(base));
        } else if let Some(n) = rest.strip_prefix('x') {
            out.extend(std::iter::repeat_n(Some(base), count(n)? + 1));
        } else if rest.starts_with(['+', '-']) {
            let (delta, rest) = duration_prefix(rest).map_err(bad)?;
            let n = rest.strip_prefix('x').ok_or_else(|| bad("expected 'x<count>' after step duration".into()))?;
            out.extend((0..=count(n)? as i64).map(|k| Some(base + k * delta)));
        } else {
            return Err(bad(format!("unexpected character {:?} after duration", &rest[..1])));
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------ script parsing

fn parse_script(text: &str) -> Vec<Cmd> {
    let lines: Vec<&str> = text.split('\n').collect();
    let pat_instant = Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$").expect("regex");
    let pat_range = Regex::new(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$").expect("regex");
    let pat_load = Regex::new(r"^(load(?:_with_nhcb)?)\s+(.+?)$").expect("regex");
    let is_blank = |l: &str| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    };
    let mut cmds = vec![];
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].trim();
        if is_blank(l) {
            i += 1;
            continue;
        }
        let lineno = i + 1;
        let word = l.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        if word == "clear" {
            cmds.push(Cmd::Clear);
            i += 1;
        } else if word.starts_with("load") {
            let Some(c) = pat_load.captures(l) else {
                cmds.push(Cmd::Bad { line: lineno, msg: format!("bad load: {l}") });
                i += 1;
                continue;
            };
            let nhcb = &c[1] == "load_with_nhcb";
            let step = match dur(&c[2]) {
                Ok(s) => s,
                Err(e) => {
                    cmds.push(Cmd::Bad { line: lineno, msg: e });
                    i += 1;
                    continue;
                }
            };
            i += 1;
            let mut series: Vec<(Labels, Vec<LoadPoint>)> = vec![];
            let mut bad = None;
            // An `@st` line's labels and offsets, for the sample line after it.
            let mut pending_st: Option<(Labels, Vec<Option<i64>>)> = None;
            while i < lines.len() && !is_blank(lines[i]) {
                let d = lines[i].trim();
                i += 1;
                match parse_series_labels(d) {
                    Ok((labels, rest)) => {
                        if let Some(seq) = rest.strip_prefix("@st") {
                            if pending_st.is_some() {
                                bad = Some("@st line has no following sample line".to_string());
                            }
                            match parse_st_sequence(seq) {
                                Ok(v) => pending_st = Some((labels, v)),
                                Err(e) => bad = Some(e),
                            }
                            continue;
                        }
                        match parse_values(rest) {
                            Ok(vals) => {
                                let st = match pending_st.take() {
                                    Some((l, _)) if l != labels => {
                                        bad = Some("@st metric does not match the following sample line metric".into());
                                        None
                                    }
                                    Some((_, st)) if st.len() != vals.len() => {
                                        bad = Some(format!("@st line has {} values but sample line has {}", st.len(), vals.len()));
                                        None
                                    }
                                    other => other.map(|(_, st)| st),
                                };
                                let pts: Vec<LoadPoint> = vals
                                    .into_iter()
                                    .enumerate()
                                    .map(|(k, p)| {
                                        let t = k as i64 * step;
                                        let off = st.as_ref().and_then(|s| s[k]);
                                        (t, p, off.map_or(0, |o| t + o))
                                    })
                                    .collect();
                                series.retain(|(l, _)| l != &labels);
                                series.push((labels, pts));
                            }
                            Err(e) => bad = Some(e),
                        }
                    }
                    Err(e) => bad = Some(e),
                }
            }
            if pending_st.is_some() {
                bad = Some("@st line has no following sample line".into());
            }
            match bad {
                Some(msg) => cmds.push(Cmd::Bad { line: lineno, msg }),
                None => cmds.push(Cmd::Load { series, nhcb }),
            }
        } else if word.starts_with("eval") {
            let res = parse_eval(&lines, &mut i, &pat_instant, &pat_range, &is_blank);
            match res {
                Ok(e) => cmds.push(Cmd::Eval(Box::new(e))),
                Err(msg) => {
                    cmds.push(Cmd::Bad { line: lineno, msg });
                    while i < lines.len() && !is_blank(lines[i]) {
                        i += 1;
                    }
                }
            }
        } else {
            cmds.push(Cmd::Bad { line: lineno, msg: format!("unknown command {l:?}") });
            i += 1;
        }
    }
    cmds
}

fn range_vector_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^vector\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)$").expect("regex"))
}

fn parse_eval(
    lines: &[&str],
    i: &mut usize,
    pat_instant: &Regex,
    pat_range: &Regex,
    is_blank: &dyn Fn(&str) -> bool,
) -> Result<EvalCmd, String> {
    let l = lines[*i].trim();
    let line = *i + 1;
    *i += 1;
    let mut exp = Expectations::default();
    let mut cmd = if let Some(c) = pat_instant.captures(l) {
        let at = match c.get(2) {
            Some(m) => dur(m.as_str())?,
            None => 0,
        };
        match c.get(1).map(|m| m.as_str()) {
            Some("fail") => exp.fail = true,
            Some("warn") => exp.warn = true,
            Some("info") => exp.info = true,
            Some("ordered") => exp.ordered = true,
            _ => {}
        }
        EvalCmd {
            line,
            expr: c[3].to_string(),
            instant: true,
            at,
            start: at,
            end: at,
            step: 0,
            exp: Expectations::default(),
            series: vec![],
            scalar: None,
            needs_histograms: false,
        }
    } else if let Some(c) = pat_range.captures(l) {
        let start = dur(&c[2])?;
        let end = dur(&c[3])?;
        let step = dur(&c[4])?;
        if end < start {
            return Err("invalid test definition, end timestamp is before start timestamp".into());
        }
        match c.get(1).map(|m| m.as_str()) {
            Some("fail") => exp.fail = true,
            Some("warn") => exp.warn = true,
            Some("info") => exp.info = true,
            _ => {}
        }
        EvalCmd {
            line,
            expr: c[5].to_string(),
            instant: false,
            at: 0,
            start,
            end,
            step,
            exp: Expectations::default(),
            series: vec![],
            scalar: None,
            needs_histograms: false,
        }
    } else {
        return Err(format!("invalid eval command {l:?}"));
    };
    while *i < lines.len() && !is_blank(lines[*i]) {
        let d = lines[*i].trim();
        *i += 1;
        if let Some(m) = d.strip_prefix("expected_fail_message") {
            exp.fail = true;
            exp.fail_msg = Some(m.trim().to_string());
            break;
        }
        if let Some(m) = d.strip_prefix("expected_fail_regexp") {
            exp.fail = true;
            exp.fail_regex = Some(m.trim().to_string());
            break;
        }
        if d.starts_with("expect ") || d == "expect" {
            let rest = d["expect".len()..].trim();
            let (kind, tail) = match rest.split_once(char::is_whitespace) {
                Some((k, t)) => (k, t.trim()),
                None => (rest, ""),
            };
            let (mode, text) = if let Some(t) = tail.strip_prefix("msg:") {
                (Some("msg"), t.trim().to_string())
            } else if let Some(t) = tail.strip_prefix("regex:") {
                (Some("regex"), t.trim().to_string())
            } else {
                (None, tail.to_string())
            };
            match kind {
                "fail" => {
                    exp.fail = true;
                    match mode {
                        Some("msg") => exp.fail_msg = Some(text),
                        Some("regex") => exp.fail_regex = Some(text),
                        _ => {}
                    }
                }
                "warn" => {
                    exp.warn = true;
                    if mode.is_some() {
                        exp.warn_msgs.push(text);
                    }
                }
                "info" => {
                    exp.info = true;
                    if mode.is_some() {
                        exp.info_msgs.push(text);
                    }
                }
                "no_warn" => exp.no_warn = true,
                "no_info" => exp.no_info = true,
                "ordered" => exp.ordered = true,
                "range" => {
                    // expect range vector from S to E step D
                    let c = range_vector_re().captures(tail).ok_or_else(|| format!("bad expect range line {d:?}"))?;
                    exp.range_vector = Some((dur(&c[1])?, dur(&c[2])?, dur(&c[3])?));
                }
                "string" => {
                    let (s, _) = parse_go_string(tail).ok_or_else(|| format!("bad expect string {d:?}"))?;
                    exp.string = Some(s);
                }
                other => return Err(format!("unknown expectation {other:?}")),
            }
            continue;
        }
        if let Some(v) = parse_number(d) {
            cmd.scalar = Some(v);
            break;
        }
        let (labels, rest) = parse_series_labels(d)?;
        let vals = parse_values(rest)?;
        if vals.iter().any(|p| matches!(p, Point::Hist)) {
            cmd.needs_histograms = true;
        }
        cmd.series.push(ExpSeries { labels, vals });
    }
    cmd.exp = exp;
    Ok(cmd)
}

// ------------------------------------------------------------------ comparison

fn almost_equal(a: f64, b: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let eps = 1e-6;
    let min_normal = f64::from_bits(0x0010000000000000);
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < eps * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

fn check_fail(exp: &Expectations, err: &str) -> Result<(), String> {
    if let Some(m) = &exp.fail_msg {
        if err.trim() != m.trim() {
            return Err(format!("expected error {m:?}, got {err:?}"));
        }
    }
    if let Some(r) = &exp.fail_regex {
        let re = Regex::new(r).map_err(|e| e.to_string())?;
        if !re.is_match(err) {
            return Err(format!("expected error matching {r:?}, got {err:?}"));
        }
    }
    Ok(())
}

fn check_annotations(exp: &Expectations, res: &QueryResult) -> Result<(), String> {
    let check = |want: bool, msgs: &[String], no: bool, got: &[String], kind: &str| -> Result<(), String> {
        if no && !got.is_empty() {
            return Err(format!("unexpected {kind} annotations: {got:?}"));
        }
        if want {
            if got.is_empty() {
                return Err(format!("expected {kind} annotations, got none"));
            }
            if !msgs.is_empty() {
                for m in msgs {
                    if !got.iter().any(|g| g == m) {
                        return Err(format!("expected {kind} {m:?}, got {got:?}"));
                    }
                }
                for g in got {
                    if !msgs.iter().any(|m| m == g) {
                        return Err(format!("unexpected {kind} {g:?}"));
                    }
                }
            }
        }
        Ok(())
    };
    check(exp.warn, &exp.warn_msgs, exp.no_warn, &res.warnings, "warn")?;
    check(exp.info, &exp.info_msgs, exp.no_info, &res.infos, "info")?;
    Ok(())
}

/// Compares a vector (or a scalar as one value) against the expected lines.
fn compare_vector(cmd: &EvalCmd, got: &[(Labels, f64)]) -> Result<(), String> {
    if cmd.exp.range_vector.is_some() {
        return Err("expected range vector, got instant vector".into());
    }
    if cmd.scalar.is_some() {
        return Err(format!("expected scalar, got vector {got:?}"));
    }
    if got.len() != cmd.series.len() {
        return Err(format!("expected {} samples, got {}: {:?}", cmd.series.len(), got.len(), got));
    }
    for (pos, (l, v)) in got.iter().enumerate() {
        let Some((ei, e)) = cmd.series.iter().enumerate().find(|(_, e)| &e.labels == l) else {
            return Err(format!("unexpected series {l} {v}"));
        };
        if cmd.exp.ordered && ei != pos {
            return Err(format!("series {l} at position {pos}, expected {ei}"));
        }
        match e.vals.first() {
            Some(Point::Float(x)) => {
                if !almost_equal(*x, *v) {
                    return Err(format!("{l}: expected {x}, got {v}"));
                }
            }
            other => return Err(format!("{l}: expected {other:?}, got {v}")),
        }
    }
    Ok(())
}

fn compare_matrix(cmd: &EvalCmd, got: &[bongsu_promql::engine::MatrixSeries], start: i64, end: i64, step: i64) -> Result<(), String> {
    for w in got.windows(2) {
        if w[0].labels >= w[1].labels {
            return Err(format!("matrix not sorted: {} before {}", w[0].labels, w[1].labels));
        }
    }
    if got.len() != cmd.series.len() {
        let g: Vec<String> = got.iter().map(|s| format!("{} {:?}", s.labels, s.samples)).collect();
        return Err(format!("expected {} series, got {}: {:?}", cmd.series.len(), got.len(), g));
    }
    for s in got {
        let Some(e) = cmd.series.iter().find(|e| e.labels == s.labels) else {
            return Err(format!("unexpected series {}", s.labels));
        };
        let mut want = vec![];
        for (i, p) in e.vals.iter().enumerate() {
            let t = start + i as i64 * step;
            if step > 0 && t > end {
                return Err("more values than steps".into());
            }
            if let Point::Float(v) = p {
                want.push((t, *v));
            }
        }
        if want.len() != s.samples.len() {
            return Err(format!("{}: expected points {:?}, got {:?}", s.labels, want, s.samples));
        }
        for (w, g) in want.iter().zip(&s.samples) {
            if w.0 != g.t || !almost_equal(w.1, g.v) {
                return Err(format!("{}: expected points {:?}, got {:?}", s.labels, want, s.samples));
            }
        }
    }
    Ok(())
}

fn compare_result(cmd: &EvalCmd, v: &Value) -> Result<(), String> {
    match v {
        Value::Scalar { v, .. } => {
            if let Some(x) = cmd.scalar {
                if !almost_equal(x, *v) {
                    return Err(format!("expected scalar {x}, got {v}"));
                }
                return Ok(());
            }
            if cmd.series.len() == 1 {
                if let Some(Point::Float(x)) = cmd.series[0].vals.first() {
                    if almost_equal(*x, *v) {
                        return Ok(());
                    }
                }
            }
            Err(format!("expected vector or matrix result, got scalar {v}"))
        }
        Value::String { s, .. } => match &cmd.exp.string {
            Some(x) if x == s => Ok(()),
            other => Err(format!("expected string {other:?}, got {s:?}")),
        },
        Value::Vector(vec) => {
            if cmd.exp.string.is_some() {
                return Err("expected string, got vector".into());
            }
            let got: Vec<(Labels, f64)> = vec.iter().map(|s| (s.labels.clone(), s.v)).collect();
            compare_vector(cmd, &got)
        }
        Value::Matrix(m) => {
            if cmd.instant {
                match cmd.exp.range_vector {
                    Some((s, e, st)) => compare_matrix(cmd, m, s, e, st),
                    None => Err("received range result on instant evaluation".into()),
                }
            } else {
                compare_matrix(cmd, m, cmd.start, cmd.end, cmd.step)
            }
        }
    }
}

// ------------------------------------------------------------------ execution

const AT_UNSAFE: &[&str] = &[
    "time",
    "timestamp",
    "predict_linear",
    "start",
    "end",
    "range",
    "step",
    "minute",
    "hour",
    "day_of_week",
    "day_of_month",
    "day_of_year",
    "days_in_month",
    "month",
    "year",
];

fn has_unsafe_call(e: &Expr) -> bool {
    match e {
        Expr::Call(c) => AT_UNSAFE.contains(&c.func.as_str()) || c.args.iter().any(has_unsafe_call),
        Expr::Aggregate(a) => has_unsafe_call(&a.expr) || a.param.as_deref().is_some_and(has_unsafe_call),
        Expr::Binary(b) => has_unsafe_call(&b.lhs) || has_unsafe_call(&b.rhs),
        Expr::Neg(e, _) | Expr::Paren(e, _) => has_unsafe_call(e),
        Expr::Subquery(s) => has_unsafe_call(&s.expr),
        _ => false,
    }
}

/// Adds `@ t` to every selector and subquery without one (not inside subqueries).
fn set_at(e: &mut Expr, t: i64) {
    match e {
        Expr::VectorSelector(vs) => {
            if vs.at.is_none() {
                vs.at = Some(AtModifier::Timestamp(t));
            }
        }
        Expr::MatrixSelector(ms) => {
            if ms.selector.at.is_none() {
                ms.selector.at = Some(AtModifier::Timestamp(t));
            }
        }
        Expr::Subquery(sq) => {
            if sq.at.is_none() {
                sq.at = Some(AtModifier::Timestamp(t));
            }
        }
        Expr::Call(c) => c.args.iter_mut().for_each(|a| set_at(a, t)),
        Expr::Aggregate(a) => {
            set_at(&mut a.expr, t);
            if let Some(p) = a.param.as_deref_mut() {
                set_at(p, t);
            }
        }
        Expr::Binary(b) => {
            set_at(&mut b.lhs, t);
            set_at(&mut b.rhs, t);
        }
        Expr::Neg(e, _) | Expr::Paren(e, _) => set_at(e, t),
        Expr::Number(..) | Expr::String(..) => {}
    }
}

fn collect_matchers(e: &Expr, out: &mut Vec<Vec<bongsu_model::Matcher>>) {
    match e {
        Expr::VectorSelector(vs) => out.push(vs.matchers.clone()),
        Expr::MatrixSelector(ms) => out.push(ms.selector.matchers.clone()),
        Expr::Subquery(sq) => collect_matchers(&sq.expr, out),
        Expr::Call(c) => c.args.iter().for_each(|a| collect_matchers(a, out)),
        Expr::Aggregate(a) => {
            collect_matchers(&a.expr, out);
            if let Some(p) = &a.param {
                collect_matchers(p, out);
            }
        }
        Expr::Binary(b) => {
            collect_matchers(&b.lhs, out);
            collect_matchers(&b.rhs, out);
        }
        Expr::Neg(e, _) | Expr::Paren(e, _) => collect_matchers(e, out),
        Expr::Number(..) | Expr::String(..) => {}
    }
}

struct Runner {
    engine: Engine,
    store: MemStore,
    hist_series: Vec<Labels>,
}

fn err_text(e: &QueryError) -> String {
    e.to_string()
}

impl Runner {
    fn run_instant_case(&self, cmd: &EvalCmd, expr: &Expr, t: i64) -> Result<(), String> {
        let res = self.engine.instant_query_expr(&self.store, expr, t);
        let res = match res {
            Err(e) => {
                if cmd.exp.fail {
                    return check_fail(&cmd.exp, &err_text(&e));
                }
                return Err(format!("error evaluating query: {e}"));
            }
            Ok(r) => r,
        };
        if cmd.exp.fail {
            return Err("expected error but got none".into());
        }
        check_annotations(&cmd.exp, &res)?;
        compare_result(cmd, &res.value)?;
        if cmd.exp.range_vector.is_some() || cmd.exp.string.is_some() {
            return Ok(());
        }
        let ctx = Regex::new(r"(start|end|range|step)\(\)").expect("regex");
        if ctx.is_match(&cmd.expr) {
            return Ok(());
        }
        let rr = self
            .engine
            .range_query_expr(&self.store, expr, t - 60_000, t + 60_000, 60_000)
            .map_err(|e| format!("error evaluating query in range mode: {e}"))?;
        if cmd.exp.ordered {
            return Ok(());
        }
        let Value::Matrix(m) = &rr.value else {
            return Err("range query did not return a matrix".into());
        };
        for w in m.windows(2) {
            if w[0].labels >= w[1].labels {
                return Err("range mode: matrix not sorted".into());
            }
        }
        let mut vec = vec![];
        for s in m {
            if let Some(p) = s.samples.iter().find(|p| p.t == t) {
                vec.push((s.labels.clone(), p.v));
            }
        }
        let r = if let Value::Scalar { .. } = res.value {
            match vec.first() {
                Some((_, v)) => compare_result(cmd, &Value::Scalar { t, v: *v }),
                None => Err("range mode: no scalar point".into()),
            }
        } else {
            compare_vector(cmd, &vec)
        };
        r.map_err(|e| format!("range mode: {e}"))
    }

    fn run_eval(&self, cmd: &EvalCmd) -> Result<(), String> {
        let expr = match bongsu_promql::parse(&cmd.expr) {
            Ok(e) => e,
            Err(e) => {
                // Upstream refuses the script on a syntax error; count as failure.
                return Err(format!("parse error: {e}"));
            }
        };
        if cmd.instant {
            self.run_instant_case(cmd, &expr, cmd.at)?;
            if has_unsafe_call(&expr) {
                return Ok(());
            }
            let t = cmd.at;
            let mut at_expr = expr.clone();
            set_at(&mut at_expr, t);
            // Like upstream, go through the printer: print and re-parse.
            let printed = at_expr.to_string();
            let at_expr = bongsu_promql::parse(&printed).map_err(|e| format!("@ rewrite {printed:?} does not parse: {e}"))?;
            let times: Vec<i64> = if t == 0 { vec![-1000, 0, 1000] } else { vec![-10 * t, 0, t / 5, t, 10 * t] };
            for et in times {
                self.run_instant_case(cmd, &at_expr, et).map_err(|e| format!("@ invariance at {et}ms: {e}"))?;
            }
            Ok(())
        } else {
            let res = self.engine.range_query_expr(&self.store, &expr, cmd.start, cmd.end, cmd.step);
            let res = match res {
                Err(e) => {
                    if cmd.exp.fail {
                        return check_fail(&cmd.exp, &err_text(&e));
                    }
                    return Err(format!("error evaluating query: {e}"));
                }
                Ok(r) => r,
            };
            if cmd.exp.fail {
                return Err("expected error but got none".into());
            }
            check_annotations(&cmd.exp, &res)?;
            compare_result(cmd, &res.value)
        }
    }

    fn needs_histograms(&self, cmd: &EvalCmd) -> bool {
        if cmd.needs_histograms {
            return true;
        }
        // Any selector that matches a (not loaded) native histogram series.
        match bongsu_promql::parse(&cmd.expr) {
            Ok(e) => {
                let mut sels = vec![];
                collect_matchers(&e, &mut sels);
                sels.iter().any(|ms| self.hist_series.iter().any(|l| ms.iter().all(|m| m.matches(l.get_or_empty(&m.name)))))
            }
            Err(_) => false,
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Counts {
    passed: usize,
    failed: usize,
    skipped: usize,
}

fn run_file(path: &Path, verbose: bool) -> Counts {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", path.display());
            return Counts { failed: 1, ..Default::default() };
        }
    };
    let opts = EngineOptions {
        lookback_delta: 300_000,
        timeout: Duration::from_secs(10),
        max_samples: 10_000,
        features: [
            "promql-experimental-functions",
            "promql-duration-expr",
            "promql-extended-range-selectors",
            "promql-delayed-name-removal",
            "promql-binop-fill-modifiers",
            "use-start-timestamps",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        ..Default::default()
    };
    let mut r = Runner { engine: Engine::new(opts), store: MemStore::new(), hist_series: vec![] };
    let mut c = Counts::default();
    let fname = path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
    for cmd in parse_script(&text) {
        match cmd {
            Cmd::Clear => {
                r.store.clear();
                r.hist_series.clear();
            }
            Cmd::Bad { line, msg } => {
                c.failed += 1;
                if verbose {
                    eprintln!("{fname}:{line}: script error: {msg}");
                }
            }
            Cmd::Load { series, nhcb } => {
                for (labels, pts) in &series {
                    let mut has_hist = false;
                    for (t, p, st) in pts {
                        match p {
                            Point::Float(v) => r.store.add_with_st(labels.clone(), *st, *t, *v),
                            Point::Hist => has_hist = true,
                            Point::Missing => {}
                        }
                    }
                    if has_hist {
                        r.hist_series.push(labels.clone());
                    }
                    if nhcb {
                        if let Some(base) = labels.metric_name().and_then(|n| n.strip_suffix("_bucket")) {
                            let mut b = labels.builder();
                            b.del("le");
                            b.set("__name__", base);
                            r.hist_series.push(b.into_labels());
                        }
                    }
                }
            }
            Cmd::Eval(e) => {
                if r.needs_histograms(&e) {
                    c.skipped += 1;
                    continue;
                }
                let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.run_eval(&e)));
                match res {
                    Ok(Ok(())) => c.passed += 1,
                    Ok(Err(msg)) => {
                        c.failed += 1;
                        if verbose {
                            eprintln!("{fname}:{}: {}\n    {msg}", e.line, e.expr);
                        }
                    }
                    Err(_) => {
                        c.failed += 1;
                        if verbose {
                            eprintln!("{fname}:{}: {}\n    PANIC", e.line, e.expr);
                        }
                    }
                }
            }
        }
    }
    c
}

fn data_dir() -> PathBuf {
    match std::env::var("BONGSU_CONFORMANCE_DIR") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    }
}

fn baseline_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance-baseline.tsv")
}

fn read_baseline() -> BTreeMap<String, Counts> {
    let mut m = BTreeMap::new();
    if let Ok(t) = std::fs::read_to_string(baseline_path()) {
        for l in t.lines().skip(1) {
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() >= 4 {
                let n = |s: &str| s.trim().parse().unwrap_or(0);
                m.insert(f[0].to_string(), Counts { passed: n(f[1]), failed: n(f[2]), skipped: n(f[3]) });
            }
        }
    }
    m
}

#[test]
fn promql_conformance() {
    let dir = data_dir().join("promql/testdata");
    if !dir.is_dir() {
        let msg = format!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !! PromQL conformance data not found at {}\n\
             !! set BONGSU_CONFORMANCE_DIR to the shared conformance directory\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
            dir.display()
        );
        eprintln!("{msg}");
        if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
            panic!("conformance data missing in CI");
        }
        return;
    }
    let only = std::env::var("BONGSU_CONFORMANCE_FILE").ok();
    let verbose = std::env::var("BONGSU_CONFORMANCE_VERBOSE").map(|v| v == "1").unwrap_or(false);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "test"));
    files.sort();
    let baseline = read_baseline();
    let mut results: BTreeMap<String, Counts> = BTreeMap::new();
    let mut total = Counts::default();
    for f in &files {
        let name = f.file_name().map(|x| x.to_string_lossy().to_string()).unwrap_or_default();
        if let Some(o) = &only {
            if !name.contains(o.as_str()) {
                continue;
            }
        }
        let c = run_file(f, verbose);
        println!("{name}: passed {}, failed {}, skipped {}", c.passed, c.failed, c.skipped);
        total.passed += c.passed;
        total.failed += c.failed;
        total.skipped += c.skipped;
        results.insert(name, c);
    }
    println!("total: passed {}, failed {}, skipped {}", total.passed, total.failed, total.skipped);

    if std::env::var("BONGSU_CONFORMANCE_UPDATE").map(|v| v == "1").unwrap_or(false) {
        let mut merged = baseline.clone();
        for (k, v) in &results {
            merged.insert(k.clone(), *v);
        }
        let mut out = String::from("file\tpassed\tfailed\tskipped\n");
        for (k, v) in &merged {
            out.push_str(&format!("{k}\t{}\t{}\t{}\n", v.passed, v.failed, v.skipped));
        }
        if let Err(e) = std::fs::write(baseline_path(), out) {
            panic!("cannot write baseline: {e}");
        }
        println!("baseline updated: {}", baseline_path().display());
        return;
    }
    let mut regressions = vec![];
    for (k, v) in &results {
        if let Some(b) = baseline.get(k) {
            if v.passed < b.passed {
                regressions.push(format!("{k}: passed {} < baseline {}", v.passed, b.passed));
            }
        }
    }
    assert!(regressions.is_empty(), "conformance regressions:\n{}", regressions.join("\n"));
}
