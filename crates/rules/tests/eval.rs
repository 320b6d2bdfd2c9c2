//! Alert state machine, recording rules and group storage semantics,
//! evaluated in simulated time over an in-memory store.

use bongsu_model::storage::{Queryable, SelectHints};
use bongsu_model::{is_stale_nan, Labels, MatchOp, Matcher};
use bongsu_promql::engine::{Engine, EngineOptions};
use bongsu_promql::memstore::MemStore;
use bongsu_rules::file::{parse_rules, ParseOptions};
use bongsu_rules::group::{EvalContext, Group, Notifier, OutgoingAlert};
use bongsu_rules::manager::engine_query;
use bongsu_rules::rule::{AlertState, QuerySample, RuleEnv, TemplateContext, Templater};
use parking_lot::Mutex;
use std::collections::BTreeMap;

/// Rules in these tests use no template actions, so the text is the result.
struct Verbatim;
impl Templater for Verbatim {
    fn expand(&self, _: &str, text: &str, _: &TemplateContext, _: &dyn Fn(&str) -> Result<Vec<QuerySample>, String>) -> Result<String, String> {
        if text.contains("{{") {
            return Err("templates are not expanded in this test".into());
        }
        Ok(text.to_string())
    }
    fn check(&self, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}

#[derive(Default)]
struct Sink(Mutex<Vec<OutgoingAlert>>);
impl Notifier for Sink {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        self.0.lock().extend(alerts);
    }
}

fn group(yaml: &str) -> Group {
    let f = parse_rules(yaml, "t.yml", &ParseOptions::default()).expect("valid rules");
    Group::new("t.yml", &f.groups[0], 60_000, 0, true)
}

struct Env {
    store: MemStore,
    engine: Engine,
    sink: Sink,
    ext: BTreeMap<String, String>,
}

impl Env {
    fn new() -> Env {
        Env { store: MemStore::new(), engine: Engine::new(EngineOptions::default()), sink: Sink::default(), ext: BTreeMap::new() }
    }
    fn eval(&self, g: &Group, ts: i64) {
        let q = |e: &bongsu_promql::ast::Expr, t: i64| engine_query(&self.engine, &self.store, e, t);
        let cx = EvalContext {
            query: &q,
            appendable: &self.store,
            env: RuleEnv { external_labels: &self.ext, external_url: "http://bongsu:9090", templater: &Verbatim },
            notifier: Some(&self.sink),
            resend_delay: 60_000,
        };
        g.eval(ts, &cx);
    }
    fn series(&self, name: &str, t: i64) -> Vec<(Labels, f64)> {
        let m = [Matcher::new(MatchOp::Equal, "__name__", name).unwrap()];
        self.store
            .select(SelectHints { mint: t, maxt: t }, &m)
            .unwrap()
            .into_iter()
            .filter_map(|s| s.samples.iter().find(|x| x.t == t).map(|x| (s.labels.clone(), x.v)))
            .collect()
    }
}

fn lbl(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())))
}

const MIN: i64 = 60_000;

#[test]
fn pending_then_firing_then_resolved_with_alerts_series() {
    let env = Env::new();
    let g = group(
        "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 2m\n    labels: {severity: page}\n    annotations: {summary: down}\n",
    );
    for m in 0..=10 {
        let v = if (1..=5).contains(&m) { 0.0 } else { 1.0 };
        env.store.add(lbl(&[("__name__", "up"), ("job", "a")]), m * MIN, v);
    }
    env.eval(&g, 0);
    assert_eq!(g.rules[0].lock().state(), AlertState::Inactive);
    env.eval(&g, MIN);
    {
        let r = g.rules[0].lock();
        assert_eq!(r.state(), AlertState::Pending);
        let a = r.active_alerts()[0].clone();
        assert_eq!(a.labels, lbl(&[("alertname", "Down"), ("job", "a"), ("severity", "page")]));
        assert_eq!(a.active_at, MIN);
    }
    let alerts = env.series("ALERTS", MIN);
    assert_eq!(alerts, vec![(lbl(&[("__name__", "ALERTS"), ("alertname", "Down"), ("alertstate", "pending"), ("job", "a"), ("severity", "page")]), 1.0)]);
    let fs = env.series("ALERTS_FOR_STATE", MIN);
    assert_eq!(fs[0].1, 60.0, "ALERTS_FOR_STATE holds activeAt in seconds");
    assert!(env.sink.0.lock().is_empty(), "pending alerts are not sent");
    env.eval(&g, 2 * MIN);
    assert_eq!(g.rules[0].lock().state(), AlertState::Pending, "1m of 2m");
    env.eval(&g, 3 * MIN);
    assert_eq!(g.rules[0].lock().state(), AlertState::Firing);
    assert_eq!(g.rules[0].lock().fired_total, 1);
    {
        let sent = env.sink.0.lock();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].starts_at, 3 * MIN);
        assert_eq!(sent[0].ends_at, Some(3 * MIN + 4 * MIN), "valid for 4 × max(interval, resend delay)");
        assert_eq!(sent[0].generator_url, "http://bongsu:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1");
    }
    // The pending series went stale when the state changed.
    let stale: Vec<_> = env.series("ALERTS", 3 * MIN).into_iter().filter(|(_, v)| is_stale_nan(*v)).collect();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].0.get("alertstate"), Some("pending"));
    env.eval(&g, 4 * MIN); // not resent within the resend delay
    assert_eq!(env.sink.0.lock().len(), 1);
    env.eval(&g, 6 * MIN);
    assert_eq!(g.rules[0].lock().state(), AlertState::Inactive);
    let sent = env.sink.0.lock();
    let last = sent.last().unwrap();
    assert_eq!(last.ends_at, Some(6 * MIN), "resolved alerts are sent with endsAt = resolution time");
    assert!(env.series("ALERTS", 6 * MIN).iter().all(|(_, v)| is_stale_nan(*v)));
}

#[test]
fn keep_firing_for_holds_a_resolved_condition() {
    let env = Env::new();
    let g = group("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x > 0\n    keep_firing_for: 3m\n");
    for m in 0..=10 {
        env.store.add(lbl(&[("__name__", "x")]), m * MIN, if m < 2 { 1.0 } else { 0.0 });
    }
    env.eval(&g, 0);
    assert_eq!(g.rules[0].lock().state(), AlertState::Firing, "no `for`: fires at once");
    env.eval(&g, 2 * MIN);
    assert_eq!(g.rules[0].lock().state(), AlertState::Firing);
    assert_eq!(g.rules[0].lock().active_alerts()[0].keep_firing_since, Some(2 * MIN));
    env.eval(&g, 4 * MIN);
    assert_eq!(g.rules[0].lock().state(), AlertState::Firing);
    env.eval(&g, 5 * MIN);
    assert_eq!(g.rules[0].lock().state(), AlertState::Inactive, "3m after the condition cleared");
}

#[test]
fn recording_rule_writes_series_and_marks_vanished_ones_stale() {
    let env = Env::new();
    let g = group("groups:\n- name: g\n  rules:\n  - record: job:x:sum\n    expr: sum by (job) (x)\n    labels: {team: db}\n");
    env.store.add(lbl(&[("__name__", "x"), ("job", "a")]), 0, 1.0);
    env.store.add(lbl(&[("__name__", "x"), ("job", "b")]), 0, 2.0);
    env.store.add(lbl(&[("__name__", "x"), ("job", "a")]), MIN, 3.0);
    env.eval(&g, 0);
    assert_eq!(
        env.series("job:x:sum", 0),
        vec![
            (lbl(&[("__name__", "job:x:sum"), ("job", "a"), ("team", "db")]), 1.0),
            (lbl(&[("__name__", "job:x:sum"), ("job", "b"), ("team", "db")]), 2.0)
        ]
    );
    // b's input is gone after 5m of lookback: at 6m only a remains, b is marked stale.
    env.store.add(lbl(&[("__name__", "x"), ("job", "a")]), 6 * MIN, 4.0);
    env.eval(&g, 6 * MIN);
    let got = env.series("job:x:sum", 6 * MIN);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, 4.0);
    assert!(is_stale_nan(got[1].1));
}

#[test]
fn errors_are_reported_on_the_rule() {
    let env = Env::new();
    let g = group(
        "groups:\n- name: g\n  limit: 1\n  rules:\n  - record: r\n    expr: x\n  - alert: Dup\n    expr: x\n    labels: {job: same}\n  - record: s\n    expr: '\"a string\"'\n",
    );
    env.store.add(lbl(&[("__name__", "x"), ("job", "a")]), 0, 1.0);
    env.store.add(lbl(&[("__name__", "x"), ("job", "b")]), 0, 1.0);
    env.eval(&g, 0);
    let err = |i: usize| g.rules[i].lock().status.last_error.clone().unwrap_or_default();
    assert_eq!(err(0), "exceeded limit 1 with 2 series");
    assert_eq!(err(1), "vector contains metrics with the same labelset after applying alert labels");
    assert_eq!(err(2), "rule result is not a vector or scalar");
    assert!(env.series("r", 0).is_empty(), "a failed rule stores nothing");
}

#[test]
fn for_state_is_restored_from_alerts_for_state() {
    let env = Env::new();
    let yaml = "groups:\n- name: g\n  rules:\n  - alert: Slow\n    expr: x > 0\n    for: 30m\n";
    for m in 0..=60 {
        env.store.add(lbl(&[("__name__", "x")]), m * MIN, 1.0);
    }
    let g = group(yaml);
    env.eval(&g, 0);
    env.eval(&g, 10 * MIN); // pending for 10m, ALERTS_FOR_STATE = 0
    // "Restart" at 20m: a fresh group whose rules still need restoring.
    let f = parse_rules(yaml, "t.yml", &ParseOptions::default()).unwrap();
    let g2 = Group::new("t.yml", &f.groups[0], 60_000, 0, false);
    env.eval(&g2, 20 * MIN);
    assert_eq!(g2.rules[0].lock().active_alerts()[0].active_at, 20 * MIN);
    assert!(env.series("ALERTS", 20 * MIN).is_empty(), "no ALERTS before the restore");
    g2.restore_for_state(20 * MIN, 3_600_000, 10 * MIN, &env.store);
    // Down from 10m to 20m: the 10m already pending count, shifted by the downtime.
    assert_eq!(g2.rules[0].lock().active_alerts()[0].active_at, 10 * MIN);
    env.eval(&g2, 30 * MIN);
    assert_eq!(g2.rules[0].lock().state(), AlertState::Pending);
    env.eval(&g2, 40 * MIN);
    assert_eq!(g2.rules[0].lock().state(), AlertState::Firing, "30m after the shifted activeAt");
}

#[test]
fn a_reload_before_the_first_restore_still_writes_alerts() {
    // First load: rules wait for the `for` restore (restored = false); a
    // reload replaces the group before that restore ran. The new group
    // must write ALERTS (Prometheus creates reloaded rules as restored and
    // CopyState does not copy the flag).
    let env = Env::new();
    let yaml = "groups:\n- name: g\n  rules:\n  - alert: Hot\n    expr: t > 20\n";
    let f = parse_rules(yaml, "t.yml", &ParseOptions::default()).expect("valid rules");
    let first = Group::new("t.yml", &f.groups[0], 60_000, 0, false);
    for m in 0..=3 {
        env.store.add(lbl(&[("__name__", "t")]), m * MIN, 21.0);
    }
    env.eval(&first, 0);
    assert!(env.series("ALERTS", 0).is_empty(), "not restored yet: no ALERTS");
    let reloaded = Group::new("t.yml", &f.groups[0], 60_000, 0, true);
    reloaded.copy_state(&first);
    env.eval(&reloaded, MIN);
    let alerts = env.series("ALERTS", MIN);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].0.get("alertstate"), Some("firing"));
}
