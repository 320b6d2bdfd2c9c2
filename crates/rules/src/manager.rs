//! The rule manager: loads rule files, runs each group on its own timer,
//! carries state across reloads, restores `for` state after a restart, and
//! renders `/api/v1/rules` and `/api/v1/alerts` (`rules/manager.go`).

use crate::file::{load_rules, ParseOptions, RuleFile, RuleFileErrors};
use crate::group::{EvalContext, Group, Notifier};
use crate::rule::{format_float_e, QuerySample, RuleEnv, Templater};
use bongsu_model::storage::{Appendable, Queryable};
use bongsu_model::timefmt::rfc3339_ms;
use bongsu_model::Labels;
use bongsu_promql::engine::{Engine, Value};
use parking_lot::Mutex;
use serde_json::{json, Map, Value as Json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Everything the manager evaluates with.
pub struct ManagerOptions {
    pub engine: Arc<Engine>,
    pub queryable: Arc<dyn Queryable>,
    pub appendable: Arc<dyn Appendable>,
    pub templater: Arc<dyn Templater>,
    pub notifier: Option<Arc<dyn Notifier>>,
    pub external_url: String,
    /// `--rules.alert.resend-delay`, ms (default 1m).
    pub resend_delay: i64,
    /// `--rules.alert.for-outage-tolerance`, ms (default 1h).
    pub outage_tolerance: i64,
    /// `--rules.alert.for-grace-period`, ms (default 10m).
    pub for_grace_period: i64,
}

/// What changes with each configuration load.
#[derive(Clone, Default)]
pub struct RulesConfig {
    /// Rule files, globs already expanded, in order.
    pub files: Vec<PathBuf>,
    /// ms
    pub evaluation_interval: i64,
    /// ms
    pub query_offset: i64,
    pub external_labels: BTreeMap<String, String>,
}

struct Running {
    group: Arc<Group>,
    stop: Arc<tokio::sync::Notify>,
}

struct Inner {
    opts: ManagerOptions,
    external_labels: Mutex<BTreeMap<String, String>>,
}

/// Owns the rule groups and their evaluation tasks.
pub struct Manager {
    inner: Arc<Inner>,
    groups: Mutex<Vec<Running>>,
    /// `for` state is restored only for the groups of the first load.
    started: Mutex<bool>,
}

impl Manager {
    pub fn new(opts: ManagerOptions) -> Manager {
        Manager {
            inner: Arc::new(Inner { opts, external_labels: Mutex::new(BTreeMap::new()) }),
            groups: Mutex::new(Vec::new()),
            started: Mutex::new(false),
        }
    }

    /// Parses every file; all errors of all files, or the parsed files.
    pub fn load_files(files: &[PathBuf], opts: &ParseOptions) -> Result<Vec<RuleFile>, RuleFileErrors> {
        let mut out = Vec::new();
        let mut errs = Vec::new();
        for f in files {
            match load_rules(f, opts) {
                Ok(rf) => out.push(rf),
                Err(e) => errs.extend(e.0),
            }
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            Err(RuleFileErrors(errs))
        }
    }

    /// Replaces the running groups with those of `files` (already parsed
    /// and valid). Groups with the same file and name keep their state.
    /// Must be called inside a tokio runtime.
    pub fn update(&self, cfg: &RulesConfig, files: Vec<RuleFile>) {
        *self.inner.external_labels.lock() = cfg.external_labels.clone();
        let first = {
            let mut s = self.started.lock();
            !std::mem::replace(&mut *s, true)
        };
        let mut running = self.groups.lock();
        let mut old: BTreeMap<String, Running> = running.drain(..).map(|r| (r.group.key(), r)).collect();
        for rf in &files {
            for spec in &rf.groups {
                let g = Group::new(&rf.path, spec, cfg.evaluation_interval, cfg.query_offset, !first);
                if let Some(o) = old.remove(&g.key()) {
                    o.stop.notify_one();
                    g.copy_state(&o.group);
                }
                let g = Arc::new(g);
                let stop = Arc::new(tokio::sync::Notify::new());
                tokio::spawn(run_group(self.inner.clone(), g.clone(), stop.clone(), first));
                running.push(Running { group: g, stop });
            }
        }
        // Groups that are gone: stop, and mark their series stale.
        for (_, o) in old {
            o.stop.notify_one();
            let inner = self.inner.clone();
            tokio::spawn(async move {
                let wait = std::time::Duration::from_millis(o.group.interval.max(0) as u64 * 2);
                tokio::time::sleep(wait).await;
                o.group.mark_all_stale(bongsu_model::now_ms(), &*inner.opts.appendable);
            });
        }
    }

    /// Stops every group.
    pub fn stop(&self) {
        for r in self.groups.lock().drain(..) {
            r.stop.notify_one();
        }
    }

    /// The running groups, in file order.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        self.groups.lock().iter().map(|r| r.group.clone()).collect()
    }

    /// `/api/v1/rules` data, filtered as Prometheus filters it.
    pub fn rules_json(&self, f: &RulesFilter) -> Json {
        rules_json(&self.groups(), f)
    }

    /// `/api/v1/alerts` data.
    pub fn alerts_json(&self) -> Json {
        let mut alerts = Vec::new();
        for g in self.groups() {
            for r in &g.rules {
                let r = r.lock();
                for a in r.active_alerts() {
                    alerts.push(alert_json(a));
                }
            }
        }
        json!({ "alerts": alerts })
    }

    /// The rule engine's own metrics (Prometheus' names), text format.
    pub fn metrics_text(&self) -> String {
        let groups = self.groups();
        let mut s = String::new();
        let fam = |s: &mut String, name: &str, help: &str, kind: &str, f: &dyn Fn(&Group) -> String| {
            s.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for g in &groups {
                s.push_str(&format!("{name}{{rule_group=\"{}\"}} {}\n", escape(&g.key()), f(g)));
            }
        };
        fam(&mut s, "prometheus_rule_evaluations_total", "The total number of rule evaluations.", "counter", &|g| {
            (g.counters.evaluations.load(Ordering::Relaxed) * g.rules.len() as u64).to_string()
        });
        fam(&mut s, "prometheus_rule_evaluation_failures_total", "The total number of rule evaluation failures.", "counter", &|g| {
            g.counters.failures.load(Ordering::Relaxed).to_string()
        });
        fam(&mut s, "prometheus_rule_group_iterations_missed_total", "The total number of rule group evaluations missed due to slow rule group evaluation.", "counter", &|g| {
            g.counters.missed.load(Ordering::Relaxed).to_string()
        });
        fam(&mut s, "prometheus_rule_group_interval_seconds", "The interval of a rule group.", "gauge", &|g| {
            bongsu_model::fmt_float(g.interval as f64 / 1000.0)
        });
        fam(&mut s, "prometheus_rule_group_last_duration_seconds", "The duration of the last rule group evaluation.", "gauge", &|g| {
            bongsu_model::fmt_float(g.last_eval().1)
        });
        fam(&mut s, "prometheus_rule_group_rules", "The number of rules.", "gauge", &|g| g.rules.len().to_string());
        s.push_str("# HELP bongsu_rule_alerts_fired_total Alert instances of an alerting rule that went to firing.\n# TYPE bongsu_rule_alerts_fired_total counter\n");
        for g in &groups {
            for r in &g.rules {
                let r = r.lock();
                if r.is_alerting() {
                    s.push_str(&format!(
                        "bongsu_rule_alerts_fired_total{{rule_group=\"{}\",alertname=\"{}\"}} {}\n",
                        escape(&g.key()),
                        escape(r.name()),
                        r.fired_total
                    ));
                }
            }
        }
        s
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Runs one group: waits for its slot, evaluates every interval, restores
/// `for` state after the second evaluation of the first load.
async fn run_group(inner: Arc<Inner>, g: Arc<Group>, stop: Arc<tokio::sync::Notify>, restore: bool) {
    let iv = g.interval.max(1);
    let mut next = g.eval_timestamp(bongsu_model::now_ms()) + iv;
    let mut evals = 0u64;
    loop {
        let wait = (next - bongsu_model::now_ms()).max(0) as u64;
        tokio::select! {
            _ = stop.notified() => return,
            _ = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
        }
        let (i2, g2) = (inner.clone(), g.clone());
        let ts = next;
        let done = tokio::task::spawn_blocking(move || eval_group(&i2, &g2, ts)).await;
        if done.is_err() {
            tracing::error!(group = %g.name, "rule group evaluation panicked");
        }
        evals += 1;
        if restore && evals == 2 {
            let (i2, g2) = (inner.clone(), g.clone());
            let _ = tokio::task::spawn_blocking(move || {
                let o = &i2.opts;
                g2.restore_for_state(bongsu_model::now_ms(), o.outage_tolerance, o.for_grace_period, &*o.queryable)
            })
            .await;
        }
        let now = bongsu_model::now_ms();
        let missed = ((now - next) / iv - 1).max(0);
        if missed > 0 {
            g.counters.missed.fetch_add(missed as u64, Ordering::Relaxed);
        }
        next += (missed + 1) * iv;
    }
}

/// One evaluation of `g` at `ts` with the manager's engine and storage.
fn eval_group(inner: &Inner, g: &Group, ts: i64) {
    let o = &inner.opts;
    let query = |e: &bongsu_promql::ast::Expr, t: i64| -> Result<Vec<QuerySample>, String> {
        engine_query(&o.engine, &*o.queryable, e, t)
    };
    let ext = inner.external_labels.lock().clone();
    let cx = EvalContext {
        query: &query,
        appendable: &*o.appendable,
        env: RuleEnv { external_labels: &ext, external_url: &o.external_url, templater: &*o.templater },
        notifier: o.notifier.as_deref(),
        resend_delay: o.resend_delay,
    };
    g.eval(ts, &cx);
}

/// Runs `e` at `t` and returns a vector (a scalar becomes one sample with
/// no labels), as Prometheus' `EngineQueryFunc`.
pub fn engine_query(engine: &Engine, q: &dyn Queryable, e: &bongsu_promql::ast::Expr, t: i64) -> Result<Vec<QuerySample>, String> {
    let r = engine.instant_query_expr(q, e, t).map_err(|e| e.to_string())?;
    match r.value {
        Value::Vector(v) => Ok(v.into_iter().map(|s| QuerySample { labels: s.labels, v: s.v }).collect()),
        Value::Scalar { v, .. } => Ok(vec![QuerySample { labels: Labels::empty(), v }]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

/// `/api/v1/rules` query parameters.
#[derive(Debug, Default, Clone)]
pub struct RulesFilter {
    /// `type=alert` or `type=record`.
    pub kind: Option<String>,
    pub rule_names: Vec<String>,
    pub group_names: Vec<String>,
    pub files: Vec<String>,
    pub exclude_alerts: bool,
}

fn labels_json(l: &Labels) -> Json {
    Json::Object(l.iter().map(|l| (l.name.to_string(), Json::String(l.value.to_string()))).collect::<Map<_, _>>())
}

fn map_json(m: &BTreeMap<String, String>) -> Json {
    Json::Object(m.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect::<Map<_, _>>())
}

fn alert_json(a: &crate::rule::Alert) -> Json {
    let mut m = Map::new();
    m.insert("labels".into(), labels_json(&a.labels));
    m.insert("annotations".into(), labels_json(&a.annotations));
    m.insert("state".into(), json!(a.state.as_str()));
    m.insert("activeAt".into(), json!(rfc3339_ms(a.active_at)));
    if let Some(k) = a.keep_firing_since {
        m.insert("keepFiringSince".into(), json!(rfc3339_ms(k)));
    }
    m.insert("value".into(), json!(format_float_e(a.value)));
    Json::Object(m)
}

fn last_eval_json(t: Option<i64>) -> Json {
    json!(t.map(rfc3339_ms).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()))
}

fn rules_json(groups: &[Arc<Group>], f: &RulesFilter) -> Json {
    let want_alert = f.kind.as_deref() != Some("record");
    let want_record = f.kind.as_deref() != Some("alert");
    let mut out = Vec::new();
    for g in groups {
        if !f.group_names.is_empty() && !f.group_names.contains(&g.name) {
            continue;
        }
        if !f.files.is_empty() && !f.files.contains(&g.file) {
            continue;
        }
        let mut rules = Vec::new();
        for r in &g.rules {
            let r = r.lock();
            if !f.rule_names.is_empty() && !f.rule_names.iter().any(|n| n == r.name()) {
                continue;
            }
            let mut m = Map::new();
            if r.is_alerting() {
                if !want_alert {
                    continue;
                }
                m.insert("state".into(), json!(r.state().as_str()));
                m.insert("name".into(), json!(r.name()));
                m.insert("query".into(), json!(r.query));
                m.insert("duration".into(), json!(r.spec.for_ms as f64 / 1000.0));
                m.insert("keepFiringFor".into(), json!(r.spec.keep_firing_for_ms as f64 / 1000.0));
                m.insert("labels".into(), map_json(&r.spec.labels));
                m.insert("annotations".into(), map_json(&r.spec.annotations));
                if !f.exclude_alerts {
                    m.insert("alerts".into(), Json::Array(r.active_alerts().into_iter().map(alert_json).collect()));
                }
            } else {
                if !want_record {
                    continue;
                }
                m.insert("name".into(), json!(r.name()));
                m.insert("query".into(), json!(r.query));
                m.insert("labels".into(), map_json(&r.spec.labels));
            }
            m.insert("health".into(), json!(r.status.health.as_str()));
            if let Some(e) = &r.status.last_error {
                m.insert("lastError".into(), json!(e));
            }
            m.insert("evaluationTime".into(), json!(r.status.evaluation_time));
            m.insert("lastEvaluation".into(), last_eval_json(r.status.last_evaluation));
            m.insert("type".into(), json!(if r.is_alerting() { "alerting" } else { "recording" }));
            rules.push(Json::Object(m));
        }
        if rules.is_empty() && (f.kind.is_some() || !f.rule_names.is_empty()) {
            continue;
        }
        let (last, dur) = g.last_eval();
        out.push(json!({
            "name": g.name,
            "file": g.file,
            "rules": rules,
            "interval": g.interval as f64 / 1000.0,
            "limit": g.limit,
            "evaluationTime": dur,
            "lastEvaluation": last_eval_json(last),
        }));
    }
    json!({ "groups": out })
}
