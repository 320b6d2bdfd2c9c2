//! Recording and alerting rules: one evaluation turns a query result into
//! samples to store (and, for alerts, into alert state), with Prometheus'
//! semantics (`rules/recording.go`, `rules/alerting.go`).

use crate::file::{RuleKind, RuleSpec};
use bongsu_model::{Labels, LabelsBuilder};
use std::collections::{BTreeMap, HashMap};

/// A resolved alert is kept (and re-sent as resolved) this long.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// One sample of a query result.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    pub labels: Labels,
    pub v: f64,
}

/// Evaluates an expression at a time (ms); a scalar result is one sample
/// with no labels, as Prometheus' `EngineQueryFunc` does.
pub type QueryFn<'a> = &'a dyn Fn(&bongsu_promql::ast::Expr, i64) -> Result<Vec<QuerySample>, String>;

/// What an alert's label and annotation templates see.
pub struct TemplateContext<'a> {
    pub labels: &'a BTreeMap<String, String>,
    pub external_labels: &'a BTreeMap<String, String>,
    pub external_url: &'a str,
    pub value: f64,
    /// Evaluation time, ms.
    pub ts: i64,
}

/// Go text/template expansion for alert labels and annotations, supplied by
/// the binary (`bongsu-template`); the rules engine only needs this seam.
pub trait Templater: Send + Sync {
    /// Expands `text` (template name `name`); `query` runs PromQL at the
    /// evaluation time for the template's `query` function.
    fn expand(
        &self,
        name: &str,
        text: &str,
        ctx: &TemplateContext,
        query: &dyn Fn(&str) -> Result<Vec<QuerySample>, String>,
    ) -> Result<String, String>;
    /// Parses `text` without running it (`check rules`).
    fn check(&self, name: &str, text: &str) -> Result<(), String>;
}

/// Rule health as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Ok,
    Err,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert instance of an alerting rule. Times are ms; `None` is Go's zero time.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub state: AlertState,
    pub labels: Labels,
    pub annotations: Labels,
    pub value: f64,
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub last_sent_at: Option<i64>,
    pub valid_until: i64,
    pub keep_firing_since: Option<i64>,
}

impl Alert {
    fn needs_sending(&self, ts: i64, resend_delay: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if let Some(r) = self.resolved_at {
            if self.last_sent_at.is_none_or(|s| r > s) {
                return true;
            }
        }
        self.last_sent_at.is_none_or(|s| s + resend_delay < ts)
    }
}

/// Per-rule evaluation bookkeeping shown by `/api/v1/rules`.
#[derive(Debug, Clone)]
pub struct RuleStatus {
    pub health: Health,
    pub last_error: Option<String>,
    /// Wall time of the last evaluation, ms.
    pub last_evaluation: Option<i64>,
    /// Seconds the last evaluation took.
    pub evaluation_time: f64,
}

impl Default for RuleStatus {
    fn default() -> Self {
        RuleStatus { health: Health::Unknown, last_error: None, last_evaluation: None, evaluation_time: 0.0 }
    }
}

/// Settings shared by all rules of a manager.
pub struct RuleEnv<'a> {
    pub external_labels: &'a BTreeMap<String, String>,
    pub external_url: &'a str,
    pub templater: &'a dyn Templater,
}

/// A rule with its state.
#[derive(Debug, Clone)]
pub struct Rule {
    pub spec: RuleSpec,
    /// The query as Prometheus prints it (`/api/v1/rules` `query`).
    pub query: String,
    pub status: RuleStatus,
    /// Alert instances by label hash (alerting rules only).
    pub active: HashMap<u64, Alert>,
    /// Whether the `for` state was restored (or needs none): until then an
    /// alerting rule writes no `ALERTS` series.
    pub restored: bool,
    /// Alert instances that went to firing since start (an operations-quality figure).
    pub fired_total: u64,
}

impl Rule {
    pub fn new(spec: RuleSpec) -> Rule {
        let query = spec.expr.to_string();
        Rule { spec, query, status: RuleStatus::default(), active: HashMap::new(), restored: false, fired_total: 0 }
    }

    pub fn is_alerting(&self) -> bool {
        matches!(self.spec.kind, RuleKind::Alert(_))
    }

    pub fn name(&self) -> &str {
        self.spec.name()
    }

    /// The rule's overall state: the most severe of its alerts.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .filter(|a| a.resolved_at.is_none())
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// Alerts that are pending or firing, sorted by labels.
    pub fn active_alerts(&self) -> Vec<&Alert> {
        let mut v: Vec<&Alert> = self.active.values().filter(|a| a.resolved_at.is_none()).collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// Evaluates at `ts` (ms); returns the samples to store (recorded
    /// series, or `ALERTS` / `ALERTS_FOR_STATE`), stamped `ts - query_offset`.
    pub fn eval(
        &mut self,
        ts: i64,
        query_offset: i64,
        limit: usize,
        query: QueryFn,
        env: &RuleEnv,
    ) -> Result<Vec<QuerySample>, String> {
        match self.spec.kind.clone() {
            RuleKind::Record(name) => self.eval_recording(&name, ts - query_offset, limit, query),
            RuleKind::Alert(name) => self.eval_alerting(&name, ts, query_offset, limit, query, env),
        }
    }

    fn eval_recording(&self, name: &str, t: i64, limit: usize, query: QueryFn) -> Result<Vec<QuerySample>, String> {
        let res = query(&self.spec.expr, t)?;
        let mut out = Vec::with_capacity(res.len());
        let mut seen = std::collections::HashSet::with_capacity(res.len());
        for s in res {
            let mut b = s.labels.builder();
            b.set("__name__", name);
            for (k, v) in &self.spec.labels {
                if v.is_empty() {
                    b.del(k);
                } else {
                    b.set(k.as_str(), v.as_str());
                }
            }
            let labels = b.into_labels();
            if !seen.insert(labels.stable_hash()) {
                return Err("vector contains metrics with the same labelset after applying rule labels".into());
            }
            out.push(QuerySample { labels, v: s.v });
        }
        if limit > 0 && out.len() > limit {
            return Err(format!("exceeded limit {limit} with {} series", out.len()));
        }
        Ok(out)
    }

    fn eval_alerting(
        &mut self,
        name: &str,
        ts: i64,
        query_offset: i64,
        limit: usize,
        query: QueryFn,
        env: &RuleEnv,
    ) -> Result<Vec<QuerySample>, String> {
        let res = query(&self.spec.expr, ts - query_offset)?;
        let tname = format!("__alert_{name}");
        let mut fresh: HashMap<u64, Alert> = HashMap::with_capacity(res.len());
        for s in res {
            let lmap: BTreeMap<String, String> = s.labels.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect();
            let ctx = TemplateContext {
                labels: &lmap,
                external_labels: env.external_labels,
                external_url: env.external_url,
                value: s.v,
                ts,
            };
            let tq = |q: &str| -> Result<Vec<QuerySample>, String> {
                let e = bongsu_promql::parser::parse(q).map_err(|e| e.to_string())?;
                query(&e, ts)
            };
            let expand = |text: &str| -> String {
                match env.templater.expand(&tname, text, &ctx, &tq) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(alert = name, err = %e, "expanding alert template failed");
                        format!("<error expanding template: {e}>")
                    }
                }
            };
            let mut b = s.labels.builder();
            b.del("__name__");
            for (k, v) in &self.spec.labels {
                let v = expand(v);
                if v.is_empty() {
                    b.del(k);
                } else {
                    b.set(k.as_str(), v);
                }
            }
            b.set("alertname", name);
            let mut ab = LabelsBuilder::new();
            for (k, v) in &self.spec.annotations {
                ab.set(k.as_str(), expand(v));
            }
            let labels = b.into_labels();
            let h = labels.stable_hash();
            if fresh.contains_key(&h) {
                return Err("vector contains metrics with the same labelset after applying alert labels".into());
            }
            fresh.insert(
                h,
                Alert {
                    state: AlertState::Pending,
                    labels,
                    annotations: ab.into_labels(),
                    value: s.v,
                    active_at: ts,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: 0,
                    keep_firing_since: None,
                },
            );
        }
        let result: std::collections::HashSet<u64> = fresh.keys().copied().collect();
        for (h, a) in fresh {
            match self.active.get_mut(&h) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations = a.annotations;
                }
                _ => {
                    self.active.insert(h, a);
                }
            }
        }
        let hold = self.spec.for_ms;
        let keep_for = self.spec.keep_firing_for_ms;
        let mut out = Vec::new();
        let mut n_active = 0usize;
        let mut remove = Vec::new();
        let mut fired = 0u64;
        for (h, a) in self.active.iter_mut() {
            if !result.contains(h) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep_for > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts - since < keep_for;
                }
                if a.state == AlertState::Pending || a.resolved_at.is_some_and(|r| ts - r > RESOLVED_RETENTION_MS) {
                    remove.push(*h);
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = None;
            }
            n_active += 1;
            if a.state == AlertState::Pending && ts - a.active_at >= hold {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts);
                fired += 1;
            }
            if a.state == AlertState::Firing && ts - a.active_at < hold {
                a.state = AlertState::Pending;
                a.fired_at = None;
                a.last_sent_at = None;
                a.keep_firing_since = None;
            }
            if self.restored {
                out.push(QuerySample { labels: alerts_series(&self.spec.labels, name, a, Some(a.state)), v: 1.0 });
                out.push(QuerySample {
                    labels: alerts_series(&self.spec.labels, name, a, None),
                    v: (a.active_at.div_euclid(1000)) as f64,
                });
            }
        }
        self.fired_total += fired;
        for h in remove {
            self.active.remove(&h);
        }
        if limit > 0 && n_active > limit {
            self.active.clear();
            return Err(format!("exceeded limit of {limit} with {n_active} alerts"));
        }
        Ok(out)
    }

    /// Alerts due to be sent at `ts` (Prometheus' `sendAlerts`): firing ones
    /// every `resend_delay`, resolved ones once more after they resolve.
    pub fn alerts_to_send(&mut self, ts: i64, resend_delay: i64, interval: i64) -> Vec<Alert> {
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if a.needs_sending(ts, resend_delay) {
                a.last_sent_at = Some(ts);
                a.valid_until = ts + 4 * interval.max(resend_delay);
                out.push(a.clone());
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// Restores `for` state from the `ALERTS_FOR_STATE` samples found for
    /// this rule: `found(labels)` gives the last (time ms, value) of the
    /// series with the alert's labels. Prometheus' `RestoreForState`.
    pub fn restore_for_state(&mut self, ts: i64, grace_ms: i64, found: &dyn Fn(&Labels) -> Option<(i64, f64)>) {
        let hold = self.spec.for_ms;
        if hold < grace_ms {
            self.restored = true;
            return;
        }
        for a in self.active.values_mut() {
            let Some((t, v)) = found(&a.labels) else { continue };
            if bongsu_model::is_stale_nan(v) {
                continue;
            }
            let down_at = t.div_euclid(1000) * 1000;
            let mut restored_active_at = (v as i64) * 1000;
            let remaining = hold - (down_at - restored_active_at);
            if remaining <= 0 {
                // It was firing when the process stopped; the next eval decides.
            } else if remaining < grace_ms {
                restored_active_at = ts + grace_ms - hold;
            } else {
                restored_active_at += ts - down_at;
            }
            a.active_at = restored_active_at;
        }
        self.restored = true;
    }
}

/// `ALERTS{alertstate=…}` (with a state) or `ALERTS_FOR_STATE` labels of an alert.
fn alerts_series(rule_labels: &BTreeMap<String, String>, name: &str, a: &Alert, state: Option<AlertState>) -> Labels {
    let mut b = LabelsBuilder::new();
    for (k, v) in rule_labels {
        b.set(k.as_str(), v.as_str());
    }
    for l in a.labels.iter() {
        b.set(l.name.as_str(), l.value.as_str());
    }
    match state {
        Some(s) => {
            b.set("__name__", "ALERTS");
            b.set("alertstate", s.as_str());
        }
        None => {
            b.set("__name__", "ALERTS_FOR_STATE");
        }
    }
    b.set("alertname", name);
    b.into_labels()
}


/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`, the form `/api/v1/alerts` uses for values.
pub fn format_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = exp.parse().unwrap_or(0);
    format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_e_like_go() {
        assert_eq!(format_float_e(1.0), "1e+00");
        assert_eq!(format_float_e(0.5), "5e-01");
        assert_eq!(format_float_e(1234.5), "1.2345e+03");
        assert_eq!(format_float_e(-2e-300), "-2e-300");
        assert_eq!(format_float_e(0.0), "0e+00");
        assert_eq!(format_float_e(f64::INFINITY), "+Inf");
    }
}
