//! `promtool test rules` files: input series in the expanding notation,
//! rules evaluated every `evaluation_interval` in simulated time, then the
//! expected alerts and PromQL results compared (`cmd/promtool/unittest.go`).

use crate::file::{ParseOptions, RuleFile};
use crate::group::{EvalContext, Group};
use crate::manager::engine_query;
use crate::rule::{AlertState, RuleEnv, Templater};
use bongsu_model::duration::parse_duration;
use bongsu_model::{Labels, LabelsBuilder};
use bongsu_promql::engine::{Engine, EngineOptions};
use bongsu_promql::memstore::MemStore;
use bongsu_promql::seriesdesc::{parse_series_desc, Point};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    #[serde(default)]
    evaluation_interval: Option<String>,
    #[serde(default)]
    fuzzy_compare: bool,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    tests: Vec<TestGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    start_timestamp: Option<StartTs>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    #[serde(default)]
    external_url: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StartTs {
    Int(i64),
    Float(f64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTest {
    eval_time: String,
    #[serde(default)]
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExprTest {
    expr: String,
    eval_time: String,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    #[serde(default)]
    labels: String,
    #[serde(default)]
    value: f64,
    #[serde(default)]
    histogram: String,
}

/// How to run a test file.
pub struct TestOptions<'a> {
    /// Only test groups whose name matches one of these (promtool `--run`).
    pub run: Vec<regex::Regex>,
    pub ignore_unknown_fields: bool,
    pub templater: &'a dyn Templater,
    /// PromQL `--enable-feature` names.
    pub features: Vec<String>,
}

/// The result of one test file: the failures, each a multi-line message
/// in promtool's words. Empty means SUCCESS.
pub fn run_test_file(path: &Path, opts: &TestOptions) -> Vec<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return vec![format!("{}: {e}", path.display())],
    };
    let tf: TestFile = match serde_saphyr::from_str(&text) {
        Ok(t) => t,
        Err(e) => return vec![format!("{}: {}", path.display(), e.without_snippet())],
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let eval_interval = match tf.evaluation_interval.as_deref().map(parse_duration).transpose() {
        Ok(d) => d.unwrap_or(60_000),
        Err(e) => return vec![format!("evaluation_interval: {e}")],
    };
    if eval_interval <= 0 {
        return vec!["evaluation_interval must be positive".into()];
    }
    // Rule files, globs relative to the test file.
    let mut files: Vec<PathBuf> = Vec::new();
    for rf in &tf.rule_files {
        let p = dir.join(rf);
        let found = expand(&p);
        if found.is_empty() {
            return vec![format!("{}: no such file or directory", p.display())];
        }
        files.extend(found);
    }
    let check = |n: &str, t: &str| opts.templater.check(n, t);
    let popts = ParseOptions { ignore_unknown_fields: opts.ignore_unknown_fields, check_template: Some(&check), ..Default::default() };
    let mut parsed: Vec<RuleFile> = Vec::new();
    for f in &files {
        match crate::file::load_rules(f, &popts) {
            Ok(r) => parsed.push(r),
            Err(e) => return e.0,
        }
    }
    let mut errs = Vec::new();
    for tg in &tf.tests {
        if !opts.run.is_empty() && !opts.run.iter().any(|r| r.is_match(&tg.name)) {
            continue;
        }
        errs.extend(run_group(tg, &tf, eval_interval, &parsed, opts));
    }
    errs
}

fn expand(p: &Path) -> Vec<PathBuf> {
    let s = p.display().to_string();
    if !s.contains(['*', '?']) {
        return if p.exists() { vec![p.to_path_buf()] } else { vec![] };
    }
    let (Some(dir), Some(pat)) = (p.parent(), p.file_name().and_then(|f| f.to_str())) else { return vec![] };
    let re = regex::Regex::new(&format!(
        "^{}$",
        regex::escape(pat).replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    ));
    let Ok(re) = re else { return vec![] };
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().filter(|e| re.is_match(&e.file_name().to_string_lossy())).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn start_ms(s: &Option<StartTs>) -> Result<i64, String> {
    match s {
        None => Ok(0),
        Some(StartTs::Int(i)) => Ok(i * 1000),
        Some(StartTs::Float(f)) => Ok((f * 1000.0) as i64),
        Some(StartTs::Text(t)) => {
            if let Ok(i) = t.trim().parse::<i64>() {
                return Ok(i * 1000);
            }
            bongsu_model::timefmt::parse_rfc3339_ms(t.trim())
                .ok_or_else(|| format!("start_timestamp: cannot parse {t:?} as Unix seconds or RFC3339"))
        }
    }
}

fn fmt_dur(ms: i64) -> String {
    bongsu_model::duration::format_duration(ms)
}

fn run_group(tg: &TestGroup, tf: &TestFile, eval_interval: i64, files: &[RuleFile], opts: &TestOptions) -> Vec<String> {
    let name_line = if tg.name.is_empty() { String::new() } else { format!("    name: {},\n", tg.name) };
    let interval = match tg.interval.as_deref().map(parse_duration).transpose() {
        Ok(d) => d.unwrap_or(eval_interval),
        Err(e) => return vec![format!("{name_line}    interval: {e}")],
    };
    let mint = match start_ms(&tg.start_timestamp) {
        Ok(t) => t,
        Err(e) => return vec![format!("{name_line}    {e}")],
    };
    // Input samples, sorted by time, loaded lazily up to each evaluation.
    let mut input: Vec<(i64, Labels, f64)> = Vec::new();
    for s in &tg.input_series {
        let (labels, vals) = match parse_series_desc(&format!("{} {}", s.series, s.values)) {
            Ok(x) => x,
            Err(e) => return vec![format!("{name_line}    series {:?}: {e}", s.series)],
        };
        for (i, p) in vals.iter().enumerate() {
            match p {
                Point::Float(v) => input.push((mint + i as i64 * interval, labels.clone(), *v)),
                Point::Missing => {}
                Point::Hist => return vec![format!("{name_line}    series {:?}: native histograms are not supported yet", s.series)],
            }
        }
    }
    input.sort_by_key(|x| x.0);
    let store = MemStore::new();
    let engine = Engine::new(EngineOptions { features: opts.features.clone(), ..Default::default() });
    // Groups, in group_eval_order first, then file order.
    let mut groups: Vec<Group> = Vec::new();
    for f in files {
        for g in &f.groups {
            let group = Group::new(&f.path, g, interval, 0, true);
            groups.push(group);
        }
    }
    groups.sort_by_key(|g| tf.group_eval_order.iter().position(|n| *n == g.name).unwrap_or(usize::MAX));

    let parse_d = |s: &str| parse_duration(s).map_err(|e| e.to_string());
    let mut alert_tests: BTreeMap<i64, Vec<&AlertTest>> = BTreeMap::new();
    for a in &tg.alert_rule_test {
        let t = match parse_d(&a.eval_time) {
            Ok(t) => t,
            Err(e) => return vec![format!("{name_line}    eval_time: {e}")],
        };
        if a.alertname.is_empty() {
            let in_group = if tg.name.is_empty() { String::new() } else { format!(" (in TestGroup {})", tg.name) };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                fmt_dur(t)
            )];
        }
        alert_tests.entry(t).or_default().push(a);
    }
    let mut expr_times = Vec::new();
    for e in &tg.promql_expr_test {
        match parse_d(&e.eval_time) {
            Ok(t) => expr_times.push(t),
            Err(err) => return vec![format!("{name_line}    eval_time: {err}")],
        }
    }
    let max_eval = alert_tests.keys().copied().chain(expr_times.iter().copied()).max().unwrap_or(0);
    let fuzzy = tf.fuzzy_compare;
    let eq = |a: f64, b: f64| a == b || (fuzzy && (next_toward(a, f64::NEG_INFINITY) == b || next_toward(a, f64::INFINITY) == b));

    let query = |e: &bongsu_promql::ast::Expr, t: i64| engine_query(&engine, &store, e, t);
    let cx = EvalContext {
        query: &query,
        appendable: &store,
        env: RuleEnv { external_labels: &tg.external_labels, external_url: &tg.external_url, templater: opts.templater },
        notifier: None,
        resend_delay: 60_000,
    };
    let mut errs = Vec::new();
    let mut loaded = 0usize;
    let mut pending_alert_times: Vec<i64> = alert_tests.keys().copied().collect();
    pending_alert_times.reverse();
    let mut ts = mint;
    while ts <= mint + max_eval {
        while loaded < input.len() && input[loaded].0 <= ts {
            let (t, l, v) = &input[loaded];
            store.add(l.clone(), *t, *v);
            loaded += 1;
        }
        let mut eval_errs = Vec::new();
        for g in &groups {
            g.eval(ts, &cx);
            for r in &g.rules {
                let r = r.lock();
                if let Some(e) = &r.status.last_error {
                    eval_errs.push(format!("    rule: {}, time: {}, err: {e}", r.name(), fmt_dur(ts)));
                }
            }
        }
        if !eval_errs.is_empty() {
            errs.extend(eval_errs);
            return errs;
        }
        // Alert checks due at this evaluation: ts <= eval_time < ts + interval.
        while let Some(&t) = pending_alert_times.last() {
            if !(ts - mint <= t && t < ts + eval_interval - mint) {
                break;
            }
            pending_alert_times.pop();
            for case in &alert_tests[&t] {
                let mut got: Vec<(Labels, Labels)> = Vec::new();
                for g in &groups {
                    for r in &g.rules {
                        let r = r.lock();
                        if !r.is_alerting() || r.name() != case.alertname {
                            continue;
                        }
                        for a in r.active_alerts() {
                            if a.state == AlertState::Firing {
                                got.push((a.labels.clone(), a.annotations.clone()));
                            }
                        }
                    }
                }
                let mut exp: Vec<(Labels, Labels)> = case
                    .exp_alerts
                    .iter()
                    .map(|a| {
                        let mut b = LabelsBuilder::new();
                        for (k, v) in &a.exp_labels {
                            b.set(k.as_str(), v.as_str());
                        }
                        b.set("alertname", case.alertname.as_str());
                        (b.into_labels(), Labels::from_pairs(a.exp_annotations.clone()))
                    })
                    .collect();
                got.sort();
                exp.sort();
                if got != exp {
                    errs.push(format!(
                        "{name_line}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                        case.alertname,
                        fmt_dur(t),
                        alerts_string(&exp),
                        alerts_string(&got)
                    ));
                }
            }
        }
        ts += eval_interval;
    }
    // Make sure all input is visible to the expression tests.
    while loaded < input.len() {
        let (t, l, v) = &input[loaded];
        store.add(l.clone(), *t, *v);
        loaded += 1;
    }
    for (case, t) in tg.promql_expr_test.iter().zip(expr_times) {
        let head = format!("    expr: {:?}, time: {}", case.expr, fmt_dur(t));
        let got = bongsu_promql::parser::parse(&case.expr)
            .map_err(|e| e.to_string())
            .and_then(|e| engine_query(&engine, &store, &e, mint + t));
        let mut got = match got {
            Ok(g) => g,
            Err(e) => {
                errs.push(format!("{head}, err: {e}"));
                continue;
            }
        };
        let mut exp = Vec::new();
        let mut bad = None;
        for s in &case.exp_samples {
            if !s.histogram.is_empty() {
                bad = Some(format!("labels {:?}: native histograms are not supported yet", s.labels));
                break;
            }
            match bongsu_promql::seriesdesc::parse_series_labels(&s.labels) {
                Ok((l, rest)) if rest.trim().is_empty() => exp.push((l, s.value)),
                Ok(_) => {
                    bad = Some(format!("labels {:?}: unexpected text after the label set", s.labels));
                    break;
                }
                Err(e) if s.labels.trim().is_empty() => {
                    let _ = e;
                    exp.push((Labels::empty(), s.value))
                }
                Err(e) => {
                    bad = Some(format!("labels {:?}: {e}", s.labels));
                    break;
                }
            }
        }
        if let Some(b) = bad {
            errs.push(format!("{head}, err: {b}"));
            continue;
        }
        got.sort_by(|a, b| a.labels.cmp(&b.labels));
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        let same = got.len() == exp.len() && got.iter().zip(&exp).all(|(g, e)| g.labels == e.0 && eq(e.1, g.v));
        if !same {
            let gs: Vec<(Labels, f64)> = got.into_iter().map(|s| (s.labels, s.v)).collect();
            errs.push(format!("{head},\n        exp: {}\n        got: {}", samples_string(&exp), samples_string(&gs)));
        }
    }
    errs
}

fn next_toward(x: f64, dir: f64) -> f64 {
    if x.is_nan() || x == dir {
        return x;
    }
    if x == 0.0 {
        return if dir > 0.0 { f64::from_bits(1) } else { -f64::from_bits(1) };
    }
    let b = x.to_bits();
    let up = (dir > x) == (x > 0.0);
    f64::from_bits(if up { b + 1 } else { b - 1 })
}

fn labels_string(l: &Labels) -> String {
    let inner: Vec<String> = l.iter().map(|l| format!("{}={:?}", l.name, l.value)).collect();
    format!("{{{}}}", inner.join(", "))
}

fn alerts_string(v: &[(Labels, Labels)]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|(l, a)| format!("\n            0:\n              Labels:{}\n              Annotations:{}\n", labels_string(l), labels_string(a)))
        .collect();
    format!("[{}]", items.join(""))
}

fn samples_string(v: &[(Labels, f64)]) -> String {
    let items: Vec<String> = v.iter().map(|(l, x)| format!("{} {}", labels_string(l), bongsu_model::fmt_float(*x))).collect();
    format!("[{}]", items.join(" "))
}
