//! A rule group: rules evaluated in order at one interval, their output
//! appended to storage, staleness markers for series a rule stopped
//! producing, alerts handed to the notifier (`rules/group.go`).

use crate::file::GroupSpec;
use crate::rule::{Alert, QueryFn, QuerySample, Rule, RuleEnv};
use bongsu_model::storage::{Appendable, AppendError};
use bongsu_model::{Labels, STALE_NAN};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// An alert as it leaves the rules engine for an Alertmanager (Prometheus'
/// `notifier.Alert`). Times are ms.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingAlert {
    pub labels: Labels,
    pub annotations: Labels,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    pub generator_url: String,
}

/// Where alerts go: the in-process Alertmanager and/or external ones.
pub trait Notifier: Send + Sync {
    fn send(&self, alerts: Vec<OutgoingAlert>);
}

/// What a group evaluation needs from its surroundings.
pub struct EvalContext<'a> {
    pub query: QueryFn<'a>,
    pub appendable: &'a dyn Appendable,
    pub env: RuleEnv<'a>,
    pub notifier: Option<&'a dyn Notifier>,
    /// Prometheus' `--rules.alert.resend-delay` (ms).
    pub resend_delay: i64,
}

#[derive(Default)]
pub struct GroupCounters {
    pub evaluations: AtomicU64,
    pub failures: AtomicU64,
    pub missed: AtomicU64,
}

#[derive(Default)]
pub(crate) struct GroupState {
    /// Series each rule wrote at the last evaluation, by label hash.
    pub prev: Vec<HashMap<u64, Labels>>,
    /// Wall time of the last evaluation, ms.
    pub last_evaluation: Option<i64>,
    pub evaluation_time: f64,
    /// Evaluation timestamp of the last evaluation, ms.
    pub last_ts: Option<i64>,
}

pub struct Group {
    pub file: String,
    pub name: String,
    /// ms
    pub interval: i64,
    /// ms
    pub query_offset: i64,
    pub limit: usize,
    pub rules: Vec<Mutex<Rule>>,
    pub(crate) state: Mutex<GroupState>,
    pub counters: GroupCounters,
}

impl Group {
    /// A group from its file entry; `restored`: rules start with their
    /// `for` state settled (no restore pending).
    pub fn new(file: &str, spec: &GroupSpec, default_interval: i64, default_offset: i64, restored: bool) -> Group {
        let rules: Vec<Mutex<Rule>> = spec
            .rules
            .iter()
            .map(|r| {
                let mut rule = Rule::new(r.clone());
                rule.restored = restored;
                Mutex::new(rule)
            })
            .collect();
        let n = rules.len();
        Group {
            file: file.to_string(),
            name: spec.name.clone(),
            interval: spec.interval.unwrap_or(default_interval),
            query_offset: spec.query_offset.unwrap_or(default_offset),
            limit: spec.limit,
            rules,
            state: Mutex::new(GroupState { prev: vec![HashMap::new(); n], ..Default::default() }),
            counters: GroupCounters::default(),
        }
    }

    /// `file;name`, Prometheus' group key.
    pub fn key(&self) -> String {
        format!("{};{}", self.file, self.name)
    }

    /// The first evaluation time at or before `now` (ms) in this group's
    /// slot: groups are spread over the interval by a hash of their key, so
    /// they do not all run at once (Prometheus' `EvalTimestamp`).
    pub fn eval_timestamp(&self, now: i64) -> i64 {
        let iv = self.interval.max(1);
        let offset = (xxhash_rust::xxh3::xxh3_64(self.key().as_bytes()) % iv as u64) as i64;
        let adj = now - offset;
        adj - adj.rem_euclid(iv) + offset
    }

    /// Last evaluation's wall time (ms) and duration (s).
    pub fn last_eval(&self) -> (Option<i64>, f64) {
        let s = self.state.lock();
        (s.last_evaluation, s.evaluation_time)
    }

    /// Evaluates every rule at `ts` (ms), stores the results and sends due alerts.
    pub fn eval(&self, ts: i64, cx: &EvalContext) {
        let started = std::time::Instant::now();
        let wall = bongsu_model::now_ms();
        self.counters.evaluations.fetch_add(1, Ordering::Relaxed);
        let mut st = self.state.lock();
        for (i, rule) in self.rules.iter().enumerate() {
            let mut r = rule.lock();
            let rstart = std::time::Instant::now();
            let res = r.eval(ts, self.query_offset, self.limit, cx.query, &cx.env);
            r.status.last_evaluation = Some(wall);
            match res {
                Err(e) => {
                    tracing::warn!(group = %self.name, file = %self.file, rule = r.name(), err = %e, "evaluating rule failed");
                    self.counters.failures.fetch_add(1, Ordering::Relaxed);
                    r.status.health = crate::rule::Health::Err;
                    r.status.last_error = Some(e);
                }
                Ok(samples) => {
                    r.status.health = crate::rule::Health::Ok;
                    r.status.last_error = None;
                    let t = ts - self.query_offset;
                    if let Err(e) = self.store(&samples, t, &mut st.prev[i], cx.appendable) {
                        r.status.health = crate::rule::Health::Err;
                        r.status.last_error = Some(e);
                    }
                }
            }
            if r.is_alerting() {
                if let Some(n) = cx.notifier {
                    let due = r.alerts_to_send(ts, cx.resend_delay, self.interval);
                    if !due.is_empty() {
                        n.send(due.iter().map(|a| outgoing(a, &r.query, cx.env.external_url)).collect());
                    }
                }
            }
            r.status.evaluation_time = rstart.elapsed().as_secs_f64();
        }
        st.last_evaluation = Some(wall);
        st.last_ts = Some(ts);
        st.evaluation_time = started.elapsed().as_secs_f64();
    }

    /// Appends `samples` at `t`, and staleness markers for the series of
    /// the previous evaluation that are gone.
    fn store(
        &self,
        samples: &[QuerySample],
        t: i64,
        prev: &mut HashMap<u64, Labels>,
        appendable: &dyn Appendable,
    ) -> Result<(), String> {
        let mut app = appendable.appender();
        let mut now: HashMap<u64, Labels> = HashMap::with_capacity(samples.len());
        let (mut ooo, mut dup) = (0usize, 0usize);
        for s in samples {
            match app.append(&s.labels, t, s.v) {
                Ok(()) => {}
                Err(AppendError::OutOfOrder) => ooo += 1,
                Err(AppendError::DuplicateTimestamp) => dup += 1,
                Err(e) => tracing::warn!(group = %self.name, err = %e, "rule result sample discarded"),
            }
            now.insert(s.labels.stable_hash(), s.labels.clone());
        }
        if ooo + dup > 0 {
            tracing::warn!(group = %self.name, out_of_order = ooo, duplicate = dup, "rule evaluation result discarded");
        }
        for (h, l) in prev.iter() {
            if !now.contains_key(h) {
                // Out-of-order here means the series moved on: nothing to mark.
                let _ = app.append(l, t, STALE_NAN);
            }
        }
        *prev = now;
        app.commit().map_err(|e| e.to_string())
    }

    /// Writes staleness markers for every series of the last evaluation (a
    /// group that was removed or renamed). Prometheus does this two
    /// intervals after the group stopped.
    pub fn mark_all_stale(&self, t: i64, appendable: &dyn Appendable) {
        let st = self.state.lock();
        let mut app = appendable.appender();
        for prev in &st.prev {
            for l in prev.values() {
                let _ = app.append(l, t, STALE_NAN);
            }
        }
        let _ = app.commit();
    }

    /// Takes over the state of the same group before a reload: alert
    /// instances, `for` state and the series written last time (so
    /// staleness works across reloads), matched rule by rule by name.
    pub fn copy_state(&self, old: &Group) {
        let old_st = old.state.lock();
        let mut st = self.state.lock();
        st.last_evaluation = old_st.last_evaluation;
        st.evaluation_time = old_st.evaluation_time;
        st.last_ts = old_st.last_ts;
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in old.rules.iter().enumerate() {
            by_name.entry(r.lock().name().to_string()).or_default().push(i);
        }
        for (i, r) in self.rules.iter().enumerate() {
            let mut r = r.lock();
            let Some(idx) = by_name.get_mut(r.name()).and_then(|v| if v.is_empty() { None } else { Some(v.remove(0)) })
            else {
                continue;
            };
            let o = old.rules[idx].lock();
            if o.is_alerting() != r.is_alerting() {
                continue;
            }
            st.prev[i] = old_st.prev.get(idx).cloned().unwrap_or_default();
            r.status = o.status.clone();
            if r.is_alerting() {
                r.active = o.active.clone();
                // `restored` stays the new group's own (true after a
                // reload), as Prometheus' CopyState leaves it: a reload
                // before the first load's restore must not keep the rule
                // from writing ALERTS for good.
            }
        }
    }

    /// Restores `for` state from `ALERTS_FOR_STATE` (see [`Rule::restore_for_state`]).
    pub fn restore_for_state(
        &self,
        ts: i64,
        outage_tolerance: i64,
        grace: i64,
        queryable: &dyn bongsu_model::storage::Queryable,
    ) {
        for rule in &self.rules {
            let mut r = rule.lock();
            if !r.is_alerting() || r.restored {
                continue;
            }
            if r.spec.for_ms < grace {
                r.restored = true;
                continue;
            }
            let mut ms = vec![
                bongsu_model::Matcher::new(bongsu_model::MatchOp::Equal, "__name__", "ALERTS_FOR_STATE"),
                bongsu_model::Matcher::new(bongsu_model::MatchOp::Equal, "alertname", r.name()),
            ];
            for (k, v) in &r.spec.labels {
                ms.push(bongsu_model::Matcher::new(bongsu_model::MatchOp::Equal, k.as_str(), v.as_str()));
            }
            let ms: Vec<bongsu_model::Matcher> = ms.into_iter().filter_map(|m| m.ok()).collect();
            let hints = bongsu_model::storage::SelectHints { mint: ts - outage_tolerance, maxt: ts };
            let series = match queryable.select(hints, &ms) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(alert = r.name(), err = %e, "failed to restore 'for' state");
                    r.restored = true;
                    continue;
                }
            };
            let last: HashMap<Labels, (i64, f64)> = series
                .into_iter()
                .filter_map(|s| s.samples.last().map(|x| (s.labels.without_metric_name(), (x.t, x.v))))
                .collect();
            r.restore_for_state(ts, grace, &|l| last.get(l).copied());
        }
    }
}

fn outgoing(a: &Alert, expr: &str, external_url: &str) -> OutgoingAlert {
    OutgoingAlert {
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        starts_at: a.fired_at.unwrap_or(a.active_at),
        ends_at: Some(a.resolved_at.unwrap_or(a.valid_until)),
        generator_url: format!(
            "{}/graph?g0.expr={}&g0.tab=1",
            external_url.trim_end_matches('/'),
            query_escape(expr)
        ),
    }
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
