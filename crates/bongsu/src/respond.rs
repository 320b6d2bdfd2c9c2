//! Wiring of the automated responder (`bongsu-respond`): runbooks named by
//! `alertmanager.yml`, PromQL over the local TSDB for guards and
//! verification, and the Alertmanager configuration built with the
//! `runbook_configs` integrations.

use bongsu_promql::engine::{Engine, Value};
use bongsu_model::storage::Queryable;
use bongsu_respond::{Querier, Responder, Runbooks, Settings};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Instant queries against the local storage.
pub struct EngineQuerier {
    pub engine: Arc<Engine>,
    pub queryable: Arc<dyn Queryable>,
}

impl Querier for EngineQuerier {
    fn query(&self, expr: &str, ts: i64) -> Result<Vec<(BTreeMap<String, String>, f64)>, String> {
        let r = self.engine.instant_query(&*self.queryable, expr, ts).map_err(|e| e.to_string())?;
        let map = |l: &bongsu_model::Labels| l.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect();
        match r.value {
            Value::Vector(v) => Ok(v.iter().map(|s| (map(&s.labels), s.v)).collect()),
            Value::Scalar { v, .. } => Ok(vec![(BTreeMap::new(), v)]),
            _ => Err(format!("{expr}: not an instant vector or scalar")),
        }
    }
}

/// The runbooks and responder settings an Alertmanager configuration names.
pub fn load(cfg: &bongsu_alerting::Config) -> Result<(Runbooks, Settings), String> {
    let runbooks = Runbooks::load(&cfg.runbook_files).map_err(|e| format!("runbook files:\n  {}", e.join("\n  ")))?;
    let receivers: std::collections::HashSet<&str> = cfg.receivers.iter().map(|r| r.name.value.as_str()).collect();
    for rb in runbooks.by_name.values() {
        let notify = rb.steps.iter().chain(&rb.rollback).filter_map(|s| match &s.action {
            bongsu_respond::runbook::Action::Notify { receiver } => Some(receiver.as_str()),
            _ => None,
        });
        for r in rb.escalate.as_deref().into_iter().chain(notify) {
            if !receivers.contains(r) {
                return Err(format!("{}: runbook {:?} names receiver {r:?}, which alertmanager.yml does not define", rb.source, rb.name));
            }
        }
    }
    let settings = Settings::from_config(&cfg.responder)?;
    Ok((runbooks, settings))
}

/// Builds the Alertmanager configuration with `runbook_configs` delivering
/// to `responder` (which already holds the runbooks of `cfg`).
pub fn loaded(cfg: bongsu_alerting::Config, dir: &std::path::Path, responder: &Responder) -> Result<bongsu_alerting::dispatch::Loaded, String> {
    bongsu_alerting::dispatch::Loaded::with_runbooks(cfg, dir, &|r| bongsu_respond::integration::integrations(responder, r))
}

/// Checks an Alertmanager configuration with its runbooks, as `check config` does.
pub fn check(cfg: bongsu_alerting::Config, dir: &std::path::Path) -> Result<(bongsu_alerting::dispatch::Loaded, usize), String> {
    let (runbooks, _) = load(&cfg)?;
    let n = runbooks.by_name.len();
    let names = runbooks.by_name.clone();
    bongsu_alerting::dispatch::Loaded::with_runbooks(cfg, dir, &|r| {
        for c in &r.runbook_configs {
            if !names.contains_key(&c.runbook) {
                return Err(format!("receiver {:?}: runbook_configs: no runbook named {:?} in runbook_files", r.name.value, c.runbook));
            }
        }
        Ok(Vec::new())
    })
    .map(|l| (l, n))
}

/// The responder's series on `/metrics`: executions by outcome, guard
/// blocks by kind, side effects, duplicate deliveries, trigger-to-step latency.
pub fn metrics(r: &Responder, m: &mut crate::selfmetrics::MetricsText) {
    use std::sync::atomic::Ordering;
    let mt = r.metrics();
    let pairs = |v: &BTreeMap<(String, String), u64>, b: &'static str| -> Vec<(Vec<(&'static str, String)>, f64)> {
        v.iter().map(|((x, y), n)| (vec![("runbook", x.clone()), (b, y.clone())], *n as f64)).collect()
    };
    m.family("bongsu_respond_executions_total", "counter", "Executions that ended, by runbook and final state.", &pairs(&mt.executions.lock(), "state"));
    m.family("bongsu_respond_guard_blocks_total", "counter", "Executions stopped by a guard, by runbook and guard.", &pairs(&mt.guard_blocks.lock(), "guard"));
    m.family("bongsu_respond_side_effects_total", "counter", "Side effects started (claimed), by runbook and action kind.", &pairs(&mt.side_effects.lock(), "kind"));
    m.counter("bongsu_respond_duplicate_deliveries_total", "Deliveries that named an execution that already exists (nothing ran again).", mt.duplicates.load(Ordering::Relaxed) as f64);
    m.counter("bongsu_respond_triggers_total", "Alert groups handed to the responder.", mt.triggers.load(Ordering::Relaxed) as f64);
    m.gauge("bongsu_respond_kill_switch", "1 while the responder's kill switch is on.", if r.kill_switch().is_some() { 1.0 } else { 0.0 });
    m.gauge("bongsu_respond_circuit_breakers_open", "Runbooks disabled by their circuit breaker.", r.breakers().len() as f64);
    m.family(
        "bongsu_respond_recurrences_total",
        "counter",
        "Incidents that fired again within a day of a runbook remediating them, by runbook.",
        &mt.recurrences.lock().iter().map(|(k, n)| (vec![("runbook", k.clone())], *n as f64)).collect::<Vec<_>>(),
    );
    let (wsum, wn) = *mt.approval_wait.lock();
    m.counter("bongsu_respond_approval_wait_seconds_sum", "Time humans took to approve or reject executions.", wsum as f64 / 1000.0);
    m.counter("bongsu_respond_approval_wait_seconds_count", "Approval decisions made.", wn as f64);
    let mut lat = mt.trigger_to_step_ms.lock().clone();
    lat.sort_unstable();
    let q = |p: f64| lat.get(((lat.len() as f64 - 1.0) * p).round() as usize).map_or(f64::NAN, |v| *v as f64 / 1000.0);
    m.family(
        "bongsu_respond_trigger_to_first_step_seconds",
        "gauge",
        "From an alert group reaching the responder to its execution's first step (recent executions).",
        &[0.5, 0.99, 1.0].iter().map(|p| (vec![("quantile", p.to_string())], q(*p))).collect::<Vec<_>>(),
    );
    // Incidents of the last 30 days by who resolved them, with MTTA and MTTR.
    let since = bongsu_model::now_ms() - 30 * 86_400_000;
    let stats = r.store().incident_stats(since).unwrap_or_default();
    let lbl = |s: &bongsu_store::IncidentStats| vec![("resolved_by", s.by.clone())];
    m.family("bongsu_incidents", "gauge", "Incidents opened in the last 30 days, by who resolved them (automation, human, self) or open.", &stats.iter().map(|s| (lbl(s), s.count as f64)).collect::<Vec<_>>());
    m.family(
        "bongsu_incident_mtta_seconds",
        "gauge",
        "Mean time to acknowledge over the last 30 days' acknowledged incidents.",
        &stats.iter().filter(|s| s.acked > 0).map(|s| (lbl(s), s.tta_sum as f64 / s.acked as f64 / 1000.0)).collect::<Vec<_>>(),
    );
    m.family(
        "bongsu_incident_mttr_seconds",
        "gauge",
        "Mean time to resolve over the last 30 days' resolved incidents.",
        &stats.iter().filter(|s| s.resolved > 0).map(|s| (lbl(s), s.ttr_sum as f64 / s.resolved as f64 / 1000.0)).collect::<Vec<_>>(),
    );
}
