//! Testing automation itself: runbook unit tests (`bongsu test runbooks`,
//! in the style of `promtool test rules`) and replay of stored alert
//! history (`bongsu respond replay`). Both run the real engine — guards,
//! approval, verification, rollback — with nothing performed (each step
//! ends as the test says), state in memory, and a virtual clock that jumps
//! over waits, so a day of alerts replays in a moment.
//!
//! ```yaml
//! runbook_files: [restart.yml]
//! tests:
//!   - name: restarts once, then the cooldown holds
//!     deliveries:
//!       - {at: 0s, runbook: restart-web, labels: {alertname: WebDown, instance: web-1}}
//!       - {at: 0s, runbook: restart-web, labels: {alertname: WebDown, instance: web-1}, repeat: 50}  # duplicates
//!       - {at: 1m, runbook: restart-web, status: resolved, labels: {alertname: WebDown, instance: web-1}}
//!       - {at: 2m, runbook: restart-web, labels: {alertname: WebDown, instance: web-1}}
//!     expect:
//!       - {runbook: restart-web, target: web-1, state: remediated, steps: [restart]}
//!       - {runbook: restart-web, target: web-1, state: blocked, blocked_by: cooldown}
//! ```

use crate::engine::{Clock, Escalator, Querier, Responder, Settings};
use crate::model::{state, Execution, Trigger, TriggerAlert};
use crate::runbook::Runbooks;
use bongsu_model::duration::parse_duration;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The virtual clock's start: 2026-01-01T00:00:00Z.
pub const TEST_EPOCH_MS: i64 = 1_767_225_600_000;

/// One delivery of a simulation, at an absolute time (ms).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub at: i64,
    pub trigger: Trigger,
}

/// Escalations in a simulation: accepted, sent nowhere (the execution
/// record says whom it would have told).
struct NoEscalation;

impl Escalator for NoEscalation {
    fn notify<'a>(&'a self, _receiver: &'a str, _group_key: &'a str, _alerts: Vec<TriggerAlert>) -> crate::engine::BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn firing(&self, _fingerprint: &str) -> Option<bool> {
        None
    }
}

/// Runs `deliveries` (sorted by time) through a simulated responder and
/// returns every execution, oldest first. Must run inside a tokio runtime
/// whose time is paused (see [`run_paused`]).
pub async fn simulate(
    runbooks: Runbooks,
    settings: Settings,
    querier: Arc<dyn Querier>,
    mut deliveries: Vec<Delivery>,
    step_results: HashMap<String, bool>,
    setup: impl FnOnce(&Responder),
) -> Result<Vec<Execution>, String> {
    deliveries.sort_by_key(|d| d.at);
    let base = deliveries.first().map_or(TEST_EPOCH_MS, |d| d.at);
    let clock = Clock::Virtual { base_ms: base, start: tokio::time::Instant::now() };
    let r = Responder::simulated(runbooks, settings, querier, clock, step_results)?;
    r.start(Arc::new(NoEscalation))?;
    setup(&r);
    for d in deliveries {
        let wait = d.at - r.now();
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
        // Unknown runbooks and store errors are the test's failure.
        r.submit(d.trigger)?;
        tokio::task::yield_now().await;
    }
    // Let every execution finish (virtual time: waits cost nothing).
    for _ in 0..100_000 {
        let all = all_executions(&r)?;
        if all.iter().all(|x| state::is_terminal(&x.state)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut all = all_executions(&r)?;
    all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    Ok(all)
}

fn all_executions(r: &Responder) -> Result<Vec<Execution>, String> {
    let rows = r.store().executions(&bongsu_store::ExecutionFilter { limit: 100_000, ..Default::default() }).map_err(|e| e.to_string())?;
    Ok(rows.iter().filter_map(|row| serde_json::from_str(&row.body).ok()).collect())
}

/// Runs `f` on a current-thread runtime whose clock is paused (it jumps
/// whenever every task waits).
pub fn run_paused<T>(f: impl std::future::Future<Output = T>) -> Result<T, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().map_err(|e| e.to_string())?;
    Ok(rt.block_on(f))
}

// ------------------------------------------------------------ test files

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    runbook_files: Vec<String>,
    tests: Vec<TestCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCase {
    name: String,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    kill_switch: bool,
    /// Step name → `ok` or `fail` (default ok).
    #[serde(default)]
    step_results: BTreeMap<String, String>,
    #[serde(default)]
    queries: Vec<QueryFixture>,
    /// `responder.pause_when` for this test.
    #[serde(default)]
    pause_when: Option<bongsu_alerting::config::PauseWhen>,
    deliveries: Vec<RawDelivery>,
    #[serde(default)]
    expect: Vec<Expect>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct QueryFixture {
    expr: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    result: Vec<Sample>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Sample {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    at: String,
    runbook: String,
    #[serde(default)]
    status: Option<String>,
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    /// The alert rule's expression (its generator URL), for default verification.
    #[serde(default)]
    expr: Option<String>,
    #[serde(default)]
    group_key: Option<String>,
    /// The same delivery this many times (duplicates, an HA pair).
    #[serde(default)]
    repeat: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    runbook: String,
    target: String,
    state: String,
    /// Steps that ran, in order (`rollback/NAME` for rollback steps).
    #[serde(default)]
    steps: Option<Vec<String>>,
    #[serde(default)]
    blocked_by: Option<String>,
    #[serde(default)]
    escalated: Option<bool>,
}

struct Fixtures(Vec<QueryFixture>, i64);

impl Querier for Fixtures {
    fn query(&self, expr: &str, ts: i64) -> Result<Vec<(BTreeMap<String, String>, f64)>, String> {
        let rel = ts - self.1;
        let within = |f: &QueryFixture| {
            let from = f.from.as_deref().map_or(Ok(i64::MIN), parse_duration).unwrap_or(i64::MIN);
            let until = f.until.as_deref().map_or(Ok(i64::MAX), parse_duration).unwrap_or(i64::MAX);
            rel >= from && rel < until
        };
        Ok(self
            .0
            .iter()
            .filter(|f| f.expr.trim() == expr.trim() && within(f))
            .flat_map(|f| f.result.iter().map(|s| (s.labels.clone(), s.value)))
            .collect())
    }
}

/// The outcome of one test case.
#[derive(Debug)]
pub struct CaseReport {
    pub name: String,
    pub failures: Vec<String>,
    pub executions: Vec<Execution>,
}

fn generator_url(expr: &str) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("g0.expr", expr).append_pair("g0.tab", "1").finish();
    format!("http://test/graph?{q}")
}

/// Runs a runbook test file. `Err` when the file itself is wrong (with
/// `file:line:column`); per-case failures are in the reports.
pub fn run_test_file(path: &std::path::Path) -> Result<Vec<CaseReport>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = path.display().to_string();
    let tf: TestFile = serde_saphyr::from_str(&text).map_err(|e| {
        let (line, col) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        format!("{file}:{line}:{col}: {}", e.without_snippet().to_string().lines().next().unwrap_or("").trim())
    })?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let globs: Vec<String> = tf.runbook_files.iter().map(|g| if std::path::Path::new(g).is_relative() { dir.join(g).display().to_string() } else { g.clone() }).collect();
    let runbooks = Runbooks::load(&globs).map_err(|e| e.join("\n"))?;
    let mut out = Vec::new();
    for (i, tc) in tf.tests.into_iter().enumerate() {
        out.push(run_case(&runbooks, tc).map_err(|e| format!("{file}: tests[{i}]: {e}"))?);
    }
    Ok(out)
}

fn run_case(runbooks: &Runbooks, tc: TestCase) -> Result<CaseReport, String> {
    let mut deliveries = Vec::new();
    let mut starts: HashMap<String, i64> = HashMap::new();
    let mut raw: Vec<(i64, RawDelivery)> = Vec::new();
    for d in tc.deliveries {
        let at = parse_duration(&d.at).map_err(|e| format!("deliveries: at: {e}"))?;
        raw.push((at, d));
    }
    raw.sort_by_key(|(at, _)| *at);
    for (at, d) in raw {
        let firing = match d.status.as_deref().unwrap_or("firing") {
            "firing" => true,
            "resolved" => false,
            s => return Err(format!("deliveries: status {s:?} is neither firing nor resolved")),
        };
        let fp = crate::model::fingerprint_of(&d.labels);
        let abs = TEST_EPOCH_MS + at;
        // Prometheus semantics: an alert keeps its start while it fires;
        // firing again after a resolve is a new alert.
        let starts_at = if firing { *starts.entry(fp.clone()).or_insert(abs) } else { starts.remove(&fp).unwrap_or(abs) };
        let t = Trigger {
            runbook: d.runbook.clone(),
            source: "test".into(),
            receiver: "test".into(),
            group_key: d.group_key.clone().unwrap_or_else(|| format!("{{}}:{{alertname={:?}}}", d.labels.get("alertname").cloned().unwrap_or_default())),
            group_labels: BTreeMap::new(),
            alerts: vec![TriggerAlert {
                labels: d.labels.clone(),
                annotations: d.annotations.clone(),
                starts_at,
                ends_at: if firing { 0 } else { abs },
                generator_url: d.expr.as_deref().map(generator_url).unwrap_or_default(),
                fingerprint: fp,
                firing,
            }],
            external_url: String::new(),
        };
        for _ in 0..d.repeat.unwrap_or(1).max(1) {
            deliveries.push(Delivery { at: abs, trigger: t.clone() });
        }
    }
    let mut step_results = HashMap::new();
    for (k, v) in &tc.step_results {
        let ok = match v.as_str() {
            "ok" => true,
            "fail" => false,
            o => return Err(format!("step_results.{k}: {o:?} is neither ok nor fail")),
        };
        step_results.insert(k.clone(), ok);
    }
    let mut settings = Settings { dry_run: tc.dry_run, ..Default::default() };
    settings.pause_when = tc.pause_when.as_ref().map(|p| (p.targets_down_fraction, p.firing_alerts));
    let querier = Arc::new(Fixtures(tc.queries, TEST_EPOCH_MS));
    let kill = tc.kill_switch;
    let execs = run_paused(simulate(runbooks.clone(), settings, querier, deliveries, step_results, move |r| {
        if kill {
            let _ = r.set_kill_switch(true, "test");
        }
    }))??;
    let mut failures = Vec::new();
    if execs.len() != tc.expect.len() {
        failures.push(format!("expected {} executions, got {}", tc.expect.len(), execs.len()));
    }
    for (i, (e, x)) in tc.expect.iter().zip(&execs).enumerate() {
        let n = i + 1;
        if e.runbook != x.runbook || e.target != x.target {
            failures.push(format!("execution {n}: expected runbook {} on {}, got {} on {}", e.runbook, e.target, x.runbook, x.target));
        }
        if e.state != x.state {
            failures.push(format!("execution {n}: expected state {}, got {} {}", e.state, x.state, if x.error.is_empty() { String::new() } else { format!("({})", x.error) }));
        }
        if let Some(want) = &e.steps {
            let got: Vec<String> = x
                .steps
                .iter()
                .map(|s| if s.phase == "rollback" { format!("rollback/{}", s.name) } else { s.name.clone() })
                .collect();
            if *want != got {
                failures.push(format!("execution {n}: expected steps {want:?}, got {got:?}"));
            }
        }
        if let Some(g) = &e.blocked_by {
            let got = x.guards.iter().find(|d| !d.allowed).map(|d| d.guard.clone());
            if got.as_deref() != Some(g.as_str()) {
                failures.push(format!("execution {n}: expected to be blocked by {g}, got {}", got.unwrap_or_else(|| "no block".into())));
            }
        }
        if let Some(esc) = e.escalated {
            if x.escalation.is_some() != esc {
                failures.push(format!("execution {n}: expected escalated: {esc}, got {}", x.escalation.is_some()));
            }
        }
    }
    Ok(CaseReport { name: tc.name, failures, executions: execs })
}

// ------------------------------------------------------------ replay

/// One stored alert transition (from `/api/bongsu/v1/alerts/history`).
#[derive(Debug, Clone, Deserialize)]
pub struct HistoryEvent {
    pub ts: i64,
    pub event: String,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub fingerprint: String,
}

/// What a replay found.
#[derive(Debug, Default)]
pub struct ReplayReport {
    pub executions: Vec<Execution>,
    /// Targets it would have acted on, with how often.
    pub touched: BTreeMap<String, u64>,
    /// Guard → how often it would have blocked.
    pub guard_blocks: BTreeMap<String, u64>,
}

/// Runs `runbook` over stored alert history, selecting the alerts whose
/// labels contain `matchers` (name → value): every firing transition is a
/// delivery, every resolve closes it. Steps are simulated as succeeding
/// and verification is skipped; guards decide as they would have.
pub fn replay(runbooks: &Runbooks, runbook: &str, history: &[HistoryEvent], matchers: &BTreeMap<String, String>, querier: Arc<dyn Querier>) -> Result<ReplayReport, String> {
    let mut rbs = runbooks.clone();
    let rb = rbs.by_name.get_mut(runbook).ok_or_else(|| format!("no runbook named {runbook:?}"))?;
    rb.verify.enabled = false;
    rb.dry_run = false;
    if rb.tier == crate::runbook::Tier::Approve {
        // Nobody answers in a replay: count it as approved.
        rb.tier = crate::runbook::Tier::Auto;
    }
    let mut evs: Vec<&HistoryEvent> = history
        .iter()
        .filter(|e| e.event == "firing" || e.event == "resolved")
        .filter(|e| matchers.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
        .collect();
    evs.sort_by_key(|e| e.ts);
    let mut starts: HashMap<String, i64> = HashMap::new();
    let mut deliveries = Vec::new();
    for e in evs {
        let fp = crate::model::fingerprint_of(&e.labels);
        let firing = e.event == "firing";
        let starts_at = if firing { *starts.entry(fp.clone()).or_insert(e.ts) } else { starts.remove(&fp).unwrap_or(e.ts) };
        deliveries.push(Delivery {
            at: e.ts,
            trigger: Trigger {
                runbook: runbook.to_string(),
                source: "replay".into(),
                receiver: "replay".into(),
                group_key: format!("replay/{fp}"),
                group_labels: BTreeMap::new(),
                alerts: vec![TriggerAlert {
                    labels: e.labels.clone(),
                    annotations: BTreeMap::new(),
                    starts_at,
                    ends_at: if firing { 0 } else { e.ts },
                    generator_url: String::new(),
                    fingerprint: fp,
                    firing,
                }],
                external_url: String::new(),
            },
        });
    }
    let execs = run_paused(simulate(rbs, Settings::default(), querier, deliveries, HashMap::new(), |_| {}))??;
    let mut rep = ReplayReport::default();
    for x in &execs {
        if state::acted(&x.state) {
            *rep.touched.entry(x.target.clone()).or_default() += 1;
        }
        for g in x.guards.iter().filter(|g| !g.allowed) {
            *rep.guard_blocks.entry(g.guard.clone()).or_default() += 1;
        }
    }
    rep.executions = execs;
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_file_runs_with_virtual_time() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rb.yml"),
            "runbooks:\n  - name: restart\n    target: '{{ $labels.instance }}'\n    steps:\n      - name: restart\n        exec: {argv: [/bin/false]}\n      - wait: 10m\n    rollback:\n      - name: undo\n        exec: {argv: [/bin/false]}\n    verify: {timeout: 5m, interval: 30s}\n    escalate: {receiver: oncall}\n    guards: {cooldown: 1h}\n",
        )
        .unwrap();
        let t = dir.path().join("rb.test.yml");
        std::fs::write(
            &t,
            r#"runbook_files: [rb.yml]
tests:
  - name: fixed, duplicates ignored, then the cooldown holds
    queries:
      - {expr: 'up == 0', until: 12m, result: [{labels: {instance: a}, value: 0}]}
    deliveries:
      - {at: 0s, runbook: restart, labels: {alertname: Down, instance: a}, expr: 'up == 0', repeat: 100}
      - {at: 20m, runbook: restart, status: resolved, labels: {alertname: Down, instance: a}}
      - {at: 30m, runbook: restart, labels: {alertname: Down, instance: a}, expr: 'up == 0'}
    expect:
      - {runbook: restart, target: a, state: remediated, steps: [restart, wait-2]}
      - {runbook: restart, target: a, state: blocked, blocked_by: cooldown}
  - name: a failing fix is rolled back and escalated
    step_results: {restart: fail}
    deliveries:
      - {at: 0s, runbook: restart, labels: {alertname: Down, instance: b}}
    expect:
      - {runbook: restart, target: b, state: escalated, steps: [restart, rollback/undo], escalated: true}
  - name: a wrong expectation is reported
    deliveries:
      - {at: 0s, runbook: restart, labels: {alertname: Down, instance: c}}
    expect:
      - {runbook: restart, target: c, state: blocked}
"#,
        )
        .unwrap();
        let started = std::time::Instant::now();
        let reps = run_test_file(&t).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "virtual time: {:?}", started.elapsed());
        assert!(reps[0].failures.is_empty(), "{:?}", reps[0]);
        assert!(reps[1].failures.is_empty(), "{:?}", reps[1]);
        // No verify expr and no generator URL: verification fails.
        assert_eq!(reps[2].failures, ["execution 1: expected state blocked, got escalated (verification failed: the problem is still there)"]);
    }

    #[test]
    fn replay_reports_targets_and_guards() {
        let rbs = crate::runbook::parse(
            "runbooks:\n  - name: r\n    target: '{{ $labels.instance }}'\n    steps: [{exec: {argv: [x]}}]\n    guards: {rate_limit: {max: 2, window: 1d}}\n",
            "t.yml",
        )
        .unwrap();
        let runbooks = Runbooks { by_name: rbs.into_iter().map(|r| (r.name.clone(), r)).collect() };
        let ev = |ts: i64, event: &str, inst: &str| HistoryEvent {
            ts,
            event: event.into(),
            labels: [("alertname", "Down"), ("instance", inst)].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            fingerprint: String::new(),
        };
        let h = vec![ev(1_000, "firing", "a"), ev(60_000, "resolved", "a"), ev(120_000, "firing", "b"), ev(130_000, "firing", "c"), ev(140_000, "firing", "other")];
        let m: BTreeMap<String, String> = [("alertname".to_string(), "Down".to_string())].into();
        let rep = replay(&runbooks, "r", &h, &m, Arc::new(Fixtures(Vec::new(), 0))).unwrap();
        assert_eq!(rep.executions.len(), 4);
        assert_eq!(rep.touched.len(), 2, "{:?}", rep.touched);
        assert_eq!(rep.guard_blocks.get("rate_limit"), Some(&2));
    }
}
