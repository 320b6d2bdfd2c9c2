//! The responder: turns triggers into executions and runs them — guards,
//! approval, steps, verification, rollback, escalation — recording every
//! decision durably as it is made.
//!
//! Exactly once: an execution's id is a hash of (runbook, target, alert
//! fingerprint, startsAt); it is created with `INSERT OR IGNORE` before
//! anything runs, so the same alert delivered again — a retry, the second
//! Alertmanager of an HA pair, a webhook replayed after a timeout — finds
//! it and does nothing. Each side effect is claimed under
//! (execution, phase, step) before it starts; a claim is never granted
//! twice. After a crash, executions found in flight are marked
//! `abandoned` and escalated, never re-run.

use crate::model::{state, Decision, EscalationRecord, Execution, GuardDecision, StepRecord, Trigger, TriggerAlert, VerifyRecord};
use crate::runbook::{Action, Runbook, Runbooks, Step, Ticket, TicketRequest, Tier};
use bongsu_store::{ExecutionFilter, ExecutionRow, IncidentEvent, IncidentRow, Store};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// An instant query's result: each series' labels and value.
pub type QueryResult = Vec<(BTreeMap<String, String>, f64)>;

/// Instant PromQL queries for guards and verification.
pub trait Querier: Send + Sync {
    /// The series (labels, value) `expr` returns at `ts` (ms).
    fn query(&self, expr: &str, ts: i64) -> Result<QueryResult, String>;
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where escalations and `notify` steps go: a receiver of the built-in
/// Alertmanager.
pub trait Escalator: Send + Sync {
    fn notify<'a>(&'a self, receiver: &'a str, group_key: &'a str, alerts: Vec<TriggerAlert>) -> BoxFuture<'a, Result<(), String>>;
    /// Whether the alert with this fingerprint fires now (`None`: unknown).
    fn firing(&self, fingerprint: &str) -> Option<bool>;
}

/// Settings from `alertmanager.yml`'s `responder:`.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub dry_run: bool,
    pub api_token: Option<String>,
    pub hmac_secret: Option<Vec<u8>>,
    /// (share of targets down, firing alerts); 0 disables each.
    pub pause_when: Option<(f64, u64)>,
}

impl Settings {
    /// From the configuration; secret files are read here.
    pub fn from_config(c: &bongsu_alerting::config::ResponderConfig) -> Result<Settings, String> {
        let read = |p: &str, what: &str| -> Result<Option<String>, String> {
            if p.is_empty() {
                return Ok(None);
            }
            let s = std::fs::read_to_string(p).map_err(|e| format!("responder.{what}: {p}: {e}"))?;
            let s = s.trim().to_string();
            if s.is_empty() {
                return Err(format!("responder.{what}: {p} is empty"));
            }
            Ok(Some(s))
        };
        Ok(Settings {
            dry_run: c.dry_run,
            api_token: read(&c.api_token_file, "api_token_file")?,
            hmac_secret: read(&c.webhook_hmac_secret_file, "webhook_hmac_secret_file")?.map(String::into_bytes),
            pause_when: c.pause_when.as_ref().map(|p| (p.targets_down_fraction, p.firing_alerts)),
        })
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    /// (runbook, final state) → count
    pub executions: Mutex<BTreeMap<(String, String), u64>>,
    /// (runbook, guard) → blocks
    pub guard_blocks: Mutex<BTreeMap<(String, String), u64>>,
    /// (runbook, kind) → side effects started
    pub side_effects: Mutex<BTreeMap<(String, String), u64>>,
    pub duplicates: AtomicU64,
    pub triggers: AtomicU64,
    /// Milliseconds from the trigger's arrival to the first step's start (recent).
    pub trigger_to_step_ms: Mutex<Vec<i64>>,
    /// runbook → incidents that fired again within a day of being remediated
    pub recurrences: Mutex<BTreeMap<String, u64>>,
    /// (sum ms, count) of waits for a human's approval decision
    pub approval_wait: Mutex<(i64, u64)>,
}

struct Lease {
    execution: String,
    expires: i64,
}

#[derive(Default)]
struct Live {
    leases: HashMap<String, Lease>,
    running: HashMap<String, u64>,
    /// fingerprint → when a resolved notification said so (ms)
    resolved: HashMap<String, i64>,
    /// group key → open incident id
    incidents: HashMap<String, String>,
    approvals: HashMap<String, tokio::sync::oneshot::Sender<Decision>>,
    cancelled: HashSet<String>,
    /// Executions that hold a concurrency slot (only these give one back).
    admitted: HashSet<String>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<Store>,
    pub(crate) runbooks: RwLock<Arc<Runbooks>>,
    pub(crate) settings: RwLock<Settings>,
    querier: Arc<dyn Querier>,
    escalator: OnceLock<Arc<dyn Escalator>>,
    live: Mutex<Live>,
    pub(crate) metrics: Metrics,
    http: reqwest::Client,
    pub(crate) external_url: String,
    pub(crate) link_secret: Vec<u8>,
    clock: Clock,
    /// Guards of different executions are decided one at a time, and an
    /// allowed execution is recorded as running before the next is decided
    /// (so a burst of alerts cannot slip past a blast-radius budget).
    guard_lock: tokio::sync::Mutex<()>,
    /// Simulation (runbook tests, replay): steps are not performed; each
    /// ends as this map says (default: ok).
    simulate: Option<HashMap<String, bool>>,
}

/// The automated responder. Cheap to clone.
#[derive(Clone)]
pub struct Responder {
    pub(crate) inner: Arc<Inner>,
}

/// Where "now" comes from: the wall clock, or a virtual clock that
/// advances with tokio's paused time (runbook tests and replay).
#[derive(Clone, Copy)]
pub enum Clock {
    Wall,
    Virtual { base_ms: i64, start: tokio::time::Instant },
}

impl Clock {
    pub fn now(&self) -> i64 {
        match self {
            Clock::Wall => bongsu_model::now_ms(),
            Clock::Virtual { base_ms, start } => base_ms + start.elapsed().as_millis() as i64,
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha(parts: &[&str]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(p.as_bytes());
        ctx.update(&[0]);
    }
    hex(&ctx.finish().as_ref()[..10])
}

const KILL_SWITCH: &str = "respond.kill_switch";

fn breaker_key(runbook: &str) -> String {
    format!("respond.breaker.{runbook}")
}

impl Responder {
    /// A responder over `store` (shared with the Alertmanager). Executions
    /// left in flight by a previous process are marked abandoned (and
    /// escalated once an escalator is set, see [`Responder::start`]).
    pub fn new(store: Arc<Store>, runbooks: Runbooks, settings: Settings, querier: Arc<dyn Querier>, external_url: String) -> Result<Responder, String> {
        let link_secret = match store.setting("respond.link_secret").map_err(|e| e.to_string())? {
            Some(s) => s.into_bytes(),
            None => {
                let mut b = [0u8; 32];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).map_err(|_| "no randomness".to_string())?;
                let s = hex(&b);
                store.put_setting("respond.link_secret", Some(&s)).map_err(|e| e.to_string())?;
                s.into_bytes()
            }
        };
        let mut live = Live::default();
        for i in store.incidents(true, None, 100_000).map_err(|e| e.to_string())? {
            live.incidents.insert(i.group_key, i.id);
        }
        // The process may not have chosen a TLS crypto provider (CLI tools).
        let _ = rustls::crypto::CryptoProvider::install_default(rustls::crypto::ring::default_provider());
        let http = reqwest::Client::builder().build().map_err(|e| e.to_string())?;
        Ok(Responder {
            inner: Arc::new(Inner {
                store,
                runbooks: RwLock::new(Arc::new(runbooks)),
                settings: RwLock::new(settings),
                querier,
                escalator: OnceLock::new(),
                live: Mutex::new(live),
                metrics: Metrics::default(),
                http,
                external_url,
                link_secret,
                clock: Clock::Wall,
                guard_lock: tokio::sync::Mutex::new(()),
                simulate: None,
            }),
        })
    }

    /// A responder that performs nothing: every step ends as `step_results`
    /// says (default ok), time is `clock`, state lives in memory. For
    /// `bongsu test runbooks` and `bongsu respond replay`.
    pub fn simulated(runbooks: Runbooks, settings: Settings, querier: Arc<dyn Querier>, clock: Clock, step_results: HashMap<String, bool>) -> Result<Responder, String> {
        let store = Arc::new(Store::in_memory().map_err(|e| e.to_string())?);
        let mut r = Responder::new(store, runbooks, settings, querier, "http://bongsu".into())?;
        let inner = Arc::get_mut(&mut r.inner).ok_or("responder shared too early")?;
        inner.clock = clock;
        inner.simulate = Some(step_results);
        Ok(r)
    }

    /// Now, by the responder's clock.
    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// Connects the escalator and recovers executions a previous process
    /// left in flight: each is marked `abandoned` and escalated.
    pub fn start(&self, escalator: Arc<dyn Escalator>) -> Result<usize, String> {
        let _ = self.inner.escalator.set(escalator);
        let mut n = 0;
        for st in [state::PENDING, state::AWAITING_APPROVAL, state::RUNNING, state::VERIFYING, state::ROLLING_BACK] {
            let rows = self
                .inner
                .store
                .executions(&ExecutionFilter { state: Some(st.into()), limit: 100_000, ..Default::default() })
                .map_err(|e| e.to_string())?;
            for row in rows {
                let Ok(mut x) = serde_json::from_str::<Execution>(&row.body) else { continue };
                n += 1;
                x.error = format!("found {} after a restart: not re-run", x.state);
                tracing::warn!(execution = %x.id, runbook = %x.runbook, target = %x.target, "execution was in flight when the previous process stopped: abandoned");
                let me = self.clone();
                tokio::spawn(async move {
                    me.event(&x.incident, "abandoned", serde_json::json!({"execution": x.id, "was": x.state}));
                    let rb = me.inner.runbooks.read().get(&x.runbook).cloned();
                    me.finish(&mut x, state::ABANDONED, rb.as_ref()).await;
                });
            }
        }
        Ok(n)
    }

    /// Replaces the runbooks and settings (configuration reload).
    pub fn apply(&self, runbooks: Runbooks, settings: Settings) {
        *self.inner.runbooks.write() = Arc::new(runbooks);
        *self.inner.settings.write() = settings;
    }

    pub fn runbooks(&self) -> Arc<Runbooks> {
        self.inner.runbooks.read().clone()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn settings(&self) -> Settings {
        self.inner.settings.read().clone()
    }

    /// Takes one alert group for one runbook. Returns once every execution
    /// it starts is durably recorded (the caller may then acknowledge the
    /// delivery); the executions run in the background.
    pub fn submit(&self, t: Trigger) -> Result<Vec<String>, String> {
        let received = self.now();
        self.inner.metrics.triggers.fetch_add(1, Ordering::Relaxed);
        let Some(rb) = self.inner.runbooks.read().get(&t.runbook).cloned() else {
            return Err(format!("no runbook named {:?}", t.runbook));
        };
        let incident = self.incident_for(&t, received)?;
        {
            let mut live = self.inner.live.lock();
            for a in &t.alerts {
                if a.firing {
                    live.resolved.remove(&a.fingerprint);
                } else {
                    live.resolved.insert(a.fingerprint.clone(), received);
                }
            }
            if live.resolved.len() > 100_000 {
                let cut = received - 24 * 3_600_000;
                live.resolved.retain(|_, t| *t > cut);
            }
        }
        if t.firing().next().is_none() {
            // A RESOLVED notification never runs a remediation step; it
            // closes the incident and the tickets opened for it.
            self.close_incident(&t, &incident, received);
            if rb.steps.iter().any(|s| matches!(&s.action, Action::Ticket(tk) if tk.close.is_some())) {
                let me = self.clone();
                tokio::spawn(async move { me.close_tickets(rb, incident, t).await });
            }
            return Ok(Vec::new());
        }
        let dry_run = rb.dry_run || self.inner.settings.read().dry_run;
        // One execution per target, keyed by the earliest alert rendering it.
        let mut by_target: BTreeMap<String, &TriggerAlert> = BTreeMap::new();
        let mut alerts: Vec<&TriggerAlert> = t.firing().collect();
        alerts.sort_by(|a, b| (a.starts_at, &a.fingerprint).cmp(&(b.starts_at, &b.fingerprint)));
        for a in alerts {
            if let Some(missing) = rb.requires.iter().find(|l| a.labels.get(*l).is_none_or(|v| v.is_empty())) {
                self.guard_block(&rb, "requires", &incident, format!("alert {} lacks label {missing:?}: not acted on", a.fingerprint));
                continue;
            }
            let target = match crate::render::render("target", &rb.target, &a.labels, "") {
                Ok(s) => s.trim().to_string(),
                Err(e) => {
                    self.guard_block(&rb, "target", &incident, format!("target template failed for alert {}: {e}", a.fingerprint));
                    continue;
                }
            };
            if target.is_empty() {
                self.guard_block(&rb, "target", &incident, format!("target rendered empty for alert {}", a.fingerprint));
                continue;
            }
            if let Some(why) = crate::render::names_everything(&target) {
                self.guard_block(&rb, "target", &incident, format!("target {target:?} {why}"));
                continue;
            }
            by_target.entry(target).or_insert(a);
        }
        let mut started = Vec::new();
        for (target, a) in by_target {
            let id = sha(&[&rb.name, &target, &a.fingerprint, &a.starts_at.to_string()]);
            let x = Execution {
                id: id.clone(),
                incident: incident.clone(),
                runbook: rb.name.clone(),
                runbook_url: if rb.runbook_url.is_empty() { a.annotations.get("runbook_url").cloned().unwrap_or_default() } else { rb.runbook_url.clone() },
                target: target.clone(),
                state: state::PENDING.into(),
                dry_run,
                source: t.source.clone(),
                group_key: t.group_key.clone(),
                alert: a.clone(),
                created: received,
                updated: received,
                finished: None,
                guards: Vec::new(),
                steps: Vec::new(),
                verification: None,
                approval: None,
                escalation: None,
                error: String::new(),
            };
            let row = ExecutionRow {
                id: id.clone(),
                incident: incident.clone(),
                runbook: rb.name.clone(),
                target,
                state: x.state.clone(),
                created: received,
                updated: received,
                body: serde_json::to_string(&x).unwrap_or_default(),
            };
            if !self.inner.store.create_execution(&row).map_err(|e| e.to_string())? {
                self.inner.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(execution = %id, "duplicate delivery: execution exists");
                continue;
            }
            self.event(&incident, "execution_created", serde_json::json!({"execution": id, "runbook": rb.name, "target": x.target, "dry_run": dry_run}));
            started.push(id);
            let me = self.clone();
            let rb = rb.clone();
            let trig = t.clone();
            tokio::spawn(async move { me.run(x, rb, trig, received).await });
        }
        Ok(started)
    }

    fn guard_block(&self, rb: &Runbook, guard: &str, incident: &str, detail: String) {
        tracing::warn!(runbook = %rb.name, guard, %detail, "guard blocked");
        *self.inner.metrics.guard_blocks.lock().entry((rb.name.clone(), guard.to_string())).or_default() += 1;
        self.event(incident, "guard_blocked", serde_json::json!({"runbook": rb.name, "guard": guard, "detail": detail}));
    }

    /// The open incident of the trigger's group, or a new one.
    fn incident_for(&self, t: &Trigger, now: i64) -> Result<String, String> {
        let key = incident_key(t);
        let mut live = self.inner.live.lock();
        if let Some(id) = live.incidents.get(&key) {
            return Ok(id.clone());
        }
        let first = t.alerts.iter().map(|a| a.starts_at).min().unwrap_or(now);
        let id = sha(&[&key, &first.to_string()]);
        let row = IncidentRow {
            id: id.clone(),
            group_key: key.clone(),
            state: "open".into(),
            opened: now,
            acknowledged: None,
            resolved: None,
            body: serde_json::json!({"group_key": t.group_key, "group_labels": t.group_labels, "source": t.source, "receiver": t.receiver,
                "alerts": t.alerts.iter().map(|a| &a.labels).collect::<Vec<_>>()}).to_string(),
        };
        // Fired again within a day of automation fixing it: a recurrence.
        let prev = self.inner.store.last_resolved_incident(&key).ok().flatten().filter(|p| p.resolved.is_some_and(|r| now - r < 24 * 3_600_000));
        self.inner.store.put_incident(&row).map_err(|e| e.to_string())?;
        live.incidents.insert(key, id.clone());
        drop(live);
        if let Some(p) = prev {
            let fixed = self
                .inner
                .store
                .executions(&ExecutionFilter { incident: Some(p.id.clone()), state: Some(state::REMEDIATED.into()), limit: 10, ..Default::default() })
                .unwrap_or_default();
            for rbname in fixed.iter().map(|e| e.runbook.clone()).collect::<std::collections::BTreeSet<_>>() {
                *self.inner.metrics.recurrences.lock().entry(rbname.clone()).or_default() += 1;
                self.event(&id, "recurrence", serde_json::json!({"previous_incident": p.id, "remediated_by": rbname}));
            }
        }
        self.event(&id, "fired", serde_json::json!({"alerts": t.alerts.iter().map(|a| serde_json::json!({"labels": a.labels, "startsAt": a.starts_at, "generatorURL": a.generator_url})).collect::<Vec<_>>()}));
        Ok(id)
    }

    fn close_incident(&self, t: &Trigger, id: &str, now: i64) {
        let key = incident_key(t);
        self.inner.live.lock().incidents.remove(&key);
        if let Ok(Some(mut row)) = self.inner.store.incident(id) {
            if row.resolved.is_none() {
                row.resolved = Some(now);
                row.state = "resolved".into();
                let _ = self.inner.store.put_incident(&row);
                self.event(id, "resolved", serde_json::json!({"alerts": t.alerts.len()}));
            }
        }
    }

    pub(crate) fn event(&self, incident: &str, kind: &str, detail: serde_json::Value) {
        let e = IncidentEvent { incident: incident.to_string(), ts: self.now(), kind: kind.to_string(), detail };
        if let Err(e) = self.inner.store.record_incident_event(&e) {
            tracing::error!(err = %e, "recording an incident event failed");
        }
    }

    fn save(&self, x: &mut Execution) {
        x.updated = self.now();
        let body = serde_json::to_string(&x).unwrap_or_default();
        if let Err(e) = self.inner.store.update_execution(&x.id, &x.state, x.updated, &body) {
            tracing::error!(err = %e, execution = %x.id, "recording an execution failed");
        }
    }

    fn decide(&self, x: &mut Execution, guard: &str, allowed: bool, detail: String) -> bool {
        x.guards.push(GuardDecision { guard: guard.into(), allowed, detail: detail.clone(), ts: self.now() });
        if !allowed {
            *self.inner.metrics.guard_blocks.lock().entry((x.runbook.clone(), guard.to_string())).or_default() += 1;
            self.event(&x.incident, "guard_blocked", serde_json::json!({"execution": x.id, "guard": guard, "detail": detail}));
        }
        allowed
    }

    /// Whether the execution's alert still fires.
    fn still_firing(&self, a: &TriggerAlert) -> bool {
        if let Some(esc) = self.inner.escalator.get() {
            if let Some(f) = esc.firing(&a.fingerprint) {
                return f;
            }
        }
        !self.inner.live.lock().resolved.contains_key(&a.fingerprint)
    }

    /// Executions of this runbook that acted since `since`, other than `me`.
    fn acted_since(&self, rb: &str, since: i64, me: &str) -> Vec<ExecutionRow> {
        self.inner
            .store
            .executions(&ExecutionFilter { runbook: Some(rb.into()), since: Some(since), limit: 100_000, ..Default::default() })
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.id != me && (state::acted(&r.state) || r.state == state::AWAITING_APPROVAL))
            .collect()
    }

    /// Runs the guards in order; `true` when all allow (the target's lease
    /// is then held and the concurrency slot taken).
    fn guards(&self, rb: &Runbook, x: &mut Execution, queued_ms: i64) -> bool {
        let now = self.now();
        let kill = self.inner.store.setting(KILL_SWITCH).ok().flatten();
        if !self.decide(x, "kill_switch", kill.is_none(), kill.map_or("off".into(), |v| format!("automation is switched off ({v})"))) {
            return false;
        }
        if !self.decide(x, "tier", rb.tier != Tier::Forbid, format!("tier {:?}", rb.tier).to_lowercase()) {
            return false;
        }
        let breaker = self.inner.store.setting(&breaker_key(&rb.name)).ok().flatten();
        if !self.decide(x, "circuit_breaker", breaker.is_none(), breaker.map_or("closed".into(), |b| format!("open: {b}; re-arm with `bongsu respond arm {}`", rb.name))) {
            return false;
        }
        let pause = self.inner.settings.read().pause_when;
        if let Some((frac, firing)) = pause {
            if let Some(why) = self.monitoring_unhealthy(frac, firing, now) {
                if !self.decide(x, "monitoring_health", false, why) {
                    return false;
                }
            } else {
                self.decide(x, "monitoring_health", true, "healthy".into());
            }
        }
        if let Some((max, window)) = rb.guards.rate_limit {
            let n = self.acted_since(&rb.name, now - window, &x.id).len() as u64;
            if !self.decide(x, "rate_limit", n < max, format!("{n} executions in the last {}, limit {max}", fmt_ms(window))) {
                return false;
            }
        }
        if rb.guards.cooldown > 0 {
            let last = self
                .acted_since(&rb.name, now - rb.guards.cooldown - 24 * 3_600_000, &x.id)
                .into_iter()
                .filter(|r| r.target == x.target)
                .map(|r| r.updated)
                .max();
            let ok = last.is_none_or(|t| now - t >= rb.guards.cooldown);
            let detail = match last {
                Some(t) => format!("last execution on {} ended {} ago, cooldown {}", x.target, fmt_ms(now - t), fmt_ms(rb.guards.cooldown)),
                None => format!("no recent execution on {}", x.target),
            };
            if !self.decide(x, "cooldown", ok, detail) {
                return false;
            }
        }
        if let Some(b) = &rb.guards.blast_radius {
            let mut targets: HashSet<String> = self.acted_since(&rb.name, now - b.window, &x.id).into_iter().map(|r| r.target).collect();
            targets.insert(x.target.clone());
            let n = targets.len() as u64;
            if b.max_targets > 0 && !self.decide(x, "blast_radius", n <= b.max_targets, format!("{n} distinct targets in {}, limit {}", fmt_ms(b.window), b.max_targets)) {
                return false;
            }
            if let (Some(fleet), true) = (&b.fleet, b.max_fraction > 0.0) {
                let size = self.inner.querier.query(fleet, now).ok().and_then(|v| v.first().map(|s| s.1));
                let (ok, detail) = match size {
                    Some(s) if s > 0.0 => (n as f64 / s <= b.max_fraction, format!("{n} of a fleet of {s} in {}, limit {}", fmt_ms(b.window), b.max_fraction)),
                    _ => (false, format!("fleet size unknown ({fleet} returned nothing): not acting")),
                };
                if !self.decide(x, "blast_radius", ok, detail) {
                    return false;
                }
            }
        }
        let mut live = self.inner.live.lock();
        let running = live.running.get(&rb.name).copied().unwrap_or(0);
        if running >= rb.guards.max_concurrent {
            drop(live);
            return self.decide(x, "concurrency", false, format!("{running} executions of {} running, limit {}; waited {} for a slot", rb.name, rb.guards.max_concurrent, fmt_ms(queued_ms)));
        }
        if let Some(l) = live.leases.get(&x.target) {
            if l.expires > now && l.execution != x.id {
                let d = format!("{} is locked by execution {} for {} more", x.target, l.execution, fmt_ms(l.expires - now));
                drop(live);
                return self.decide(x, "lock", false, d);
            }
        }
        live.leases.insert(x.target.clone(), Lease { execution: x.id.clone(), expires: now + rb.guards.lock_lease });
        *live.running.entry(rb.name.clone()).or_default() += 1;
        live.admitted.insert(x.id.clone());
        drop(live);
        self.decide(x, "lock", true, format!("lease on {} until +{}", x.target, fmt_ms(rb.guards.lock_lease)))
    }

    fn monitoring_unhealthy(&self, frac: f64, firing: u64, now: i64) -> Option<String> {
        let q = |e: &str| self.inner.querier.query(e, now);
        match q("count(up)") {
            Ok(v) if v.is_empty() => return Some("no `up` series: monitoring sees nothing, not acting on its telemetry".into()),
            Err(e) => return Some(format!("cannot query up: {e}")),
            _ => {}
        }
        if frac > 0.0 {
            let down = q("count(up == 0) / count(up)").ok().and_then(|v| v.first().map(|s| s.1)).unwrap_or(0.0);
            if down > frac {
                return Some(format!("{:.0}% of targets are down (limit {:.0}%): telemetry is suspect", down * 100.0, frac * 100.0));
            }
        }
        if firing > 0 {
            let n = q("count(ALERTS{alertstate=\"firing\"})").ok().and_then(|v| v.first().map(|s| s.1)).unwrap_or(0.0);
            if n > firing as f64 {
                return Some(format!("{n} alerts firing (limit {firing}): an alert storm, not acting"));
            }
        }
        None
    }

    fn release(&self, x: &Execution) {
        let mut live = self.inner.live.lock();
        if live.leases.get(&x.target).is_some_and(|l| l.execution == x.id) {
            live.leases.remove(&x.target);
        }
        if live.admitted.remove(&x.id) {
            if let Some(n) = live.running.get_mut(&x.runbook) {
                *n = n.saturating_sub(1);
            }
        }
        live.cancelled.remove(&x.id);
        live.approvals.remove(&x.id);
    }

    fn is_cancelled(&self, id: &str) -> bool {
        self.inner.live.lock().cancelled.contains(id)
    }

    async fn run(self, mut x: Execution, rb: Runbook, t: Trigger, received: i64) {
        // Concurrency queues: wait for a slot (bounded), then decide.
        let queued = self.now();
        while self.inner.live.lock().running.get(&rb.name).copied().unwrap_or(0) >= rb.guards.max_concurrent && self.now() - queued < rb.guards.queue_timeout {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let approve = rb.tier == Tier::Approve && !x.dry_run;
        let lock = self.inner.guard_lock.lock().await;
        if !self.guards(&rb, &mut x, self.now() - queued) {
            drop(lock);
            x.error = x.guards.iter().rev().find(|g| !g.allowed).map(|g| format!("{}: {}", g.guard, g.detail)).unwrap_or_default();
            self.record_end(&mut x, state::BLOCKED);
            return;
        }
        x.state = if approve { state::AWAITING_APPROVAL } else { state::RUNNING }.into();
        self.save(&mut x);
        drop(lock);
        if approve {
            match self.await_approval(&mut x, &rb).await {
                Some(d) if d.approved => {
                    self.event(&x.incident, "approved", serde_json::json!({"execution": x.id, "by": d.by}));
                    x.approval = Some(d);
                }
                other => {
                    let why = match &other {
                        Some(d) => format!("rejected by {}", d.by),
                        None => format!("no approval within {}", fmt_ms(rb.approval_timeout)),
                    };
                    self.event(&x.incident, "denied", serde_json::json!({"execution": x.id, "why": why}));
                    x.approval = other;
                    x.error = why;
                    self.finish(&mut x, state::DENIED, Some(&rb)).await;
                    return;
                }
            }
        }
        if approve {
            // Recorded as running when the guards passed, unless it waited for approval.
            x.state = state::RUNNING.into();
            self.save(&mut x);
        }
        self.event(&x.incident, "steps_started", serde_json::json!({"execution": x.id, "runbook": rb.name, "target": x.target}));
        let mut failed = false;
        let mut first = true;
        for step in &rb.steps {
            if self.is_cancelled(&x.id) {
                x.error = "cancelled by a human".into();
                self.finish(&mut x, state::CANCELLED, Some(&rb)).await;
                return;
            }
            if rb.guards.require_firing && !self.still_firing(&x.alert) {
                self.decide(&mut x, "require_firing", false, format!("the alert resolved before step {}", step.name));
                x.error = format!("the alert resolved before step {}", step.name);
                self.finish(&mut x, state::CANCELLED, Some(&rb)).await;
                return;
            }
            if first {
                first = false;
                let mut v = self.inner.metrics.trigger_to_step_ms.lock();
                v.push(self.now() - received);
                if v.len() > 10_000 {
                    v.drain(..5_000);
                }
            }
            let rec = self.step(&x, step, "steps", &t).await;
            let ok = rec.ok;
            self.event(&x.incident, "step_finished", serde_json::json!({"execution": x.id, "step": rec.name, "ok": ok, "summary": rec.summary, "skipped": rec.skipped}));
            x.steps.push(rec);
            self.save(&mut x);
            if !ok && !step.continue_on_failure {
                x.error = format!("step {} failed", step.name);
                failed = true;
                break;
            }
        }
        if x.dry_run {
            self.finish(&mut x, state::SHADOW, Some(&rb)).await;
            return;
        }
        if !failed {
            if !rb.verify.enabled {
                self.finish(&mut x, state::DONE, Some(&rb)).await;
                return;
            }
            x.state = state::VERIFYING.into();
            self.save(&mut x);
            let v = self.verify(&x, &rb).await;
            let ok = v.ok;
            self.event(&x.incident, if ok { "verified" } else { "verification_failed" }, serde_json::json!({"execution": x.id, "expr": v.expr, "detail": v.detail}));
            x.verification = Some(v);
            if ok {
                self.finish(&mut x, state::REMEDIATED, Some(&rb)).await;
                return;
            }
            x.error = "verification failed: the problem is still there".into();
        }
        if !rb.rollback.is_empty() {
            x.state = state::ROLLING_BACK.into();
            self.save(&mut x);
            self.event(&x.incident, "rollback_started", serde_json::json!({"execution": x.id}));
            for step in &rb.rollback {
                let rec = self.step(&x, step, "rollback", &t).await;
                let ok = rec.ok;
                x.steps.push(rec);
                self.save(&mut x);
                if !ok && !step.continue_on_failure {
                    break;
                }
            }
            self.event(&x.incident, "rolled_back", serde_json::json!({"execution": x.id}));
        }
        self.finish(&mut x, state::FAILED, Some(&rb)).await;
    }

    async fn await_approval(&self, x: &mut Execution, rb: &Runbook) -> Option<Decision> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner.live.lock().approvals.insert(x.id.clone(), tx);
        self.event(&x.incident, "approval_requested", serde_json::json!({"execution": x.id, "timeout_ms": rb.approval_timeout}));
        if let (Some(recv), Some(esc)) = (&rb.escalate, self.inner.escalator.get()) {
            let mut a = x.alert.clone();
            let expires = (self.now() + rb.approval_timeout) / 1000;
            a.annotations.insert("bongsu_approve_url".into(), self.signed_link(&x.id, "approve", expires));
            a.annotations.insert("bongsu_reject_url".into(), self.signed_link(&x.id, "reject", expires));
            a.annotations.insert("bongsu_execution".into(), x.id.clone());
            a.annotations.insert("bongsu_summary".into(), format!("runbook {} wants to act on {}: approve or reject", rb.name, x.target));
            if let Err(e) = esc.notify(recv, &format!("bongsu-approval/{}", x.id), vec![a]).await {
                tracing::warn!(err = %e, "sending the approval request failed");
            }
        }
        let asked = self.now();
        let d = match tokio::time::timeout(Duration::from_millis(rb.approval_timeout as u64), rx).await {
            Ok(Ok(d)) => Some(d),
            _ => None,
        };
        if d.is_some() {
            let mut w = self.inner.metrics.approval_wait.lock();
            w.0 += self.now() - asked;
            w.1 += 1;
        }
        d
    }

    /// A link that approves or rejects without other credentials, valid
    /// until `expires` (Unix seconds).
    pub fn signed_link(&self, id: &str, decision: &str, expires: i64) -> String {
        let sig = self.link_signature(id, decision, expires);
        format!(
            "{}/api/bongsu/v1/respond/executions/{id}/{decision}?expires={expires}&sig={sig}",
            self.inner.external_url.trim_end_matches('/')
        )
    }

    pub(crate) fn link_signature(&self, id: &str, decision: &str, expires: i64) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.inner.link_secret);
        hex(ring::hmac::sign(&key, format!("{id}\u{0}{decision}\u{0}{expires}").as_bytes()).as_ref())
    }

    /// Approves or rejects an execution waiting for approval.
    pub fn decide_approval(&self, id: &str, approved: bool, by: &str) -> Result<(), String> {
        let tx = self.inner.live.lock().approvals.remove(id);
        match tx {
            Some(tx) => tx.send(Decision { approved, by: by.to_string(), at: self.now() }).map_err(|_| "the execution stopped waiting".to_string()),
            None => Err(format!("execution {id} is not waiting for approval")),
        }
    }

    /// Cancels a running execution before its next step (or rejects it
    /// if it awaits approval).
    pub fn cancel(&self, id: &str, by: &str) -> Result<(), String> {
        let row = self.inner.store.execution(id).map_err(|e| e.to_string())?.ok_or_else(|| format!("no execution {id}"))?;
        if state::is_terminal(&row.state) {
            return Err(format!("execution {id} has already ended ({})", row.state));
        }
        if row.state == state::AWAITING_APPROVAL {
            return self.decide_approval(id, false, by);
        }
        self.inner.live.lock().cancelled.insert(id.to_string());
        Ok(())
    }

    /// Re-arms a runbook whose circuit breaker opened.
    pub fn arm(&self, runbook: &str) -> Result<bool, String> {
        if self.inner.runbooks.read().get(runbook).is_none() {
            return Err(format!("no runbook named {runbook:?}"));
        }
        let was = self.inner.store.setting(&breaker_key(runbook)).map_err(|e| e.to_string())?.is_some();
        self.inner.store.put_setting(&breaker_key(runbook), None).map_err(|e| e.to_string())?;
        self.inner.store.put_setting(&format!("respond.failures.{runbook}"), None).map_err(|e| e.to_string())?;
        Ok(was)
    }

    /// The global kill switch: while on, no runbook acts.
    pub fn set_kill_switch(&self, on: bool, by: &str) -> Result<(), String> {
        let v = format!("switched on by {by} at {}", bongsu_model::timefmt::rfc3339_ms(self.now()));
        self.inner.store.put_setting(KILL_SWITCH, if on { Some(&v) } else { None }).map_err(|e| e.to_string())
    }

    pub fn kill_switch(&self) -> Option<String> {
        self.inner.store.setting(KILL_SWITCH).ok().flatten()
    }

    /// Open circuit breakers: runbook → why.
    pub fn breakers(&self) -> BTreeMap<String, String> {
        let rbs = self.inner.runbooks.read().clone();
        rbs.by_name.keys().filter_map(|n| self.inner.store.setting(&breaker_key(n)).ok().flatten().map(|v| (n.clone(), v))).collect()
    }

    /// Records the final state (without giving back a lease or slot).
    fn record_end(&self, x: &mut Execution, st: &str) {
        x.state = st.into();
        x.finished = Some(self.now());
        self.save(x);
        *self.inner.metrics.executions.lock().entry((x.runbook.clone(), st.to_string())).or_default() += 1;
        self.event(&x.incident, "execution_finished", serde_json::json!({"execution": x.id, "state": st, "error": x.error}));
    }

    /// Ends an execution: escalates a failure, updates the circuit breaker,
    /// releases the lease.
    async fn finish(&self, x: &mut Execution, st: &str, rb: Option<&Runbook>) {
        let failure = matches!(st, state::FAILED | state::DENIED | state::ABANDONED);
        let mut st = st;
        if failure {
            if let (Some(recv), Some(esc)) = (rb.and_then(|r| r.escalate.clone()), self.inner.escalator.get().cloned()) {
                x.state = st.into();
                let mut a = x.alert.clone();
                a.annotations.insert("bongsu_execution".into(), x.id.clone());
                a.annotations.insert("bongsu_execution_state".into(), st.into());
                a.annotations.insert("bongsu_execution_url".into(), format!("{}/api/bongsu/v1/respond/executions/{}", self.inner.external_url.trim_end_matches('/'), x.id));
                a.annotations.insert("bongsu_summary".into(), x.summary());
                if !x.runbook_url.is_empty() {
                    a.annotations.insert("runbook_url".into(), x.runbook_url.clone());
                }
                let res = esc.notify(&recv, &format!("bongsu-escalation/{}", x.id), vec![a]).await;
                let ok = res.is_ok();
                self.event(&x.incident, "escalated", serde_json::json!({"execution": x.id, "receiver": recv, "ok": ok, "error": res.as_ref().err()}));
                x.escalation = Some(EscalationRecord { receiver: recv, at: self.now(), ok, error: res.err().unwrap_or_default() });
                if ok && st == state::FAILED {
                    st = state::ESCALATED;
                }
            }
        }
        if let Some(rb) = rb {
            if matches!(st, state::FAILED | state::ESCALATED) && rb.guards.circuit_breaker > 0 {
                let k = format!("respond.failures.{}", rb.name);
                let n = self.inner.store.setting(&k).ok().flatten().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + 1;
                let _ = self.inner.store.put_setting(&k, Some(&n.to_string()));
                if n >= rb.guards.circuit_breaker {
                    let why = format!("{n} consecutive failed executions (last {})", x.id);
                    let _ = self.inner.store.put_setting(&breaker_key(&rb.name), Some(&why));
                    tracing::error!(runbook = %rb.name, %why, "circuit breaker opened: the runbook is disabled until re-armed");
                    self.event(&x.incident, "circuit_opened", serde_json::json!({"runbook": rb.name, "why": why}));
                }
            } else if matches!(st, state::REMEDIATED | state::DONE) {
                let _ = self.inner.store.put_setting(&format!("respond.failures.{}", rb.name), None);
            }
        }
        self.release(x);
        match rb {
            Some(_) => self.record_end(x, st),
            None => {
                x.state = st.into();
                x.finished = Some(self.now());
                self.save(x);
            }
        }
    }

    async fn verify(&self, x: &Execution, rb: &Runbook) -> VerifyRecord {
        let started = self.now();
        let (expr, default) = match &rb.verify.expr {
            Some(e) => match crate::render::render("verify.expr", e, &x.alert.labels, &x.target) {
                Ok(s) => (s, false),
                Err(e) => return VerifyRecord { expr: String::new(), started, finished: self.now(), ok: false, polls: 0, detail: format!("verify.expr: {e}") },
            },
            None => match expr_from_generator_url(&x.alert.generator_url) {
                Some(e) => (e, true),
                None => {
                    return VerifyRecord {
                        expr: String::new(),
                        started,
                        finished: self.now(),
                        ok: false,
                        polls: 0,
                        detail: "no verify.expr and the alert's generator URL holds no expression".into(),
                    }
                }
            },
        };
        let deadline = started + rb.verify.timeout;
        let mut polls = 0;
        let mut clear_since: Option<i64> = None;
        let mut last;
        loop {
            tokio::time::sleep(Duration::from_millis(rb.verify.interval as u64)).await;
            let now = self.now();
            polls += 1;
            let still = match self.inner.querier.query(&expr, now) {
                Ok(v) => {
                    let hits = if default { v.iter().filter(|(l, _)| matches_alert(l, &x.alert.labels)).count() } else { v.len() };
                    last = format!("{hits} series still returned");
                    hits > 0
                }
                Err(e) => {
                    last = format!("query failed: {e}");
                    true
                }
            };
            if still {
                clear_since = None;
            } else {
                let since = *clear_since.get_or_insert(now);
                if now - since >= rb.verify.hold {
                    return VerifyRecord { expr, started, finished: now, ok: true, polls, detail: format!("cleared after {}", fmt_ms(now - started)) };
                }
            }
            if now >= deadline {
                return VerifyRecord { expr, started, finished: now, ok: false, polls, detail: format!("not cleared within {}: {last}", fmt_ms(rb.verify.timeout)) };
            }
        }
    }

    /// Runs one step under its claim.
    async fn step(&self, x: &Execution, step: &Step, phase: &str, t: &Trigger) -> StepRecord {
        let mut rec = StepRecord { phase: phase.into(), name: step.name.clone(), kind: step.action.kind().into(), started: self.now(), ..Default::default() };
        if let Action::Ticket(tk) = &step.action {
            return self.ticket_step(x, step, tk, phase, rec).await;
        }
        let labels = &x.alert.labels;
        let r = |what: &str, s: &str| crate::render::render(what, s, labels, &x.target);
        // Render everything first: a template error acts on nothing.
        let plan = match plan(step, &r, self.inner.simulate.is_some()) {
            Ok(p) => p,
            Err(e) => {
                rec.finished = self.now();
                rec.summary = e;
                return rec;
            }
        };
        rec.rendered = plan.rendered();
        if x.dry_run {
            rec.finished = self.now();
            rec.ok = true;
            rec.skipped = Some("dry run".into());
            rec.summary = "would run".into();
            return rec;
        }
        let key = sha(&[&x.id, phase, &step.name]);
        match self.inner.store.claim(&key, &x.id, &format!("{phase}/{}", step.name), self.now()) {
            Ok(true) => {}
            Ok(false) => {
                rec.finished = self.now();
                rec.skipped = Some("already claimed: this side effect was started before".into());
                rec.summary = "not run twice".into();
                return rec;
            }
            Err(e) => {
                rec.finished = self.now();
                rec.summary = format!("cannot record the claim, not acting: {e}");
                return rec;
            }
        }
        *self.inner.metrics.side_effects.lock().entry((x.runbook.clone(), rec.kind.clone())).or_default() += 1;
        let (ok, summary, output) = self.act(x, &step.name, plan, t).await;
        rec.ok = ok;
        rec.summary = summary;
        rec.output = output;
        rec.finished = self.now();
        let _ = self.inner.store.finish_claim(&key, if ok { "ok" } else { "failed" });
        rec
    }

    async fn act(&self, x: &Execution, step: &str, plan: Plan, t: &Trigger) -> (bool, String, String) {
        if let Some(sim) = &self.inner.simulate {
            let _ = (x, t);
            if let Plan::Wait { ms } = plan {
                tokio::time::sleep(Duration::from_millis(ms as u64)).await;
            }
            let ok = sim.get(step).copied().unwrap_or(true);
            return (ok, if ok { "simulated: ok".into() } else { "simulated: failed".into() }, String::new());
        }
        match plan {
            Plan::Exec { argv, env, timeout } => {
                let mut vars: Vec<(String, String)> = vec![
                    ("BONGSU_RUNBOOK".into(), x.runbook.clone()),
                    ("BONGSU_TARGET".into(), x.target.clone()),
                    ("BONGSU_EXECUTION".into(), x.id.clone()),
                    ("BONGSU_INCIDENT".into(), x.incident.clone()),
                    ("BONGSU_ALERT_FINGERPRINT".into(), x.alert.fingerprint.clone()),
                ];
                for (k, v) in &x.alert.labels {
                    let name: String = k.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
                    vars.push((format!("BONGSU_LABEL_{name}"), v.clone()));
                }
                vars.extend(env);
                let spec = crate::action::exec::ExecSpec {
                    argv,
                    env: vars,
                    stdin: serde_json::to_vec(&t.payload()).unwrap_or_default(),
                    timeout: Duration::from_millis(timeout as u64),
                    max_output: 64 * 1024,
                    cwd: None,
                };
                match crate::action::exec::run(&spec).await {
                    Ok(o) => {
                        let out = if o.stderr.is_empty() { o.stdout.clone() } else { format!("{}\n[stderr]\n{}", o.stdout, o.stderr) };
                        (o.success(), o.summary(), out)
                    }
                    Err(e) => (false, e, String::new()),
                }
            }
            Plan::Http { spec } => match crate::action::http::send(&self.inner.http, &spec, self.now() / 1000).await {
                Ok(o) => (o.success(), format!("HTTP {}", o.status), o.body),
                Err(e) => (false, e.message, String::new()),
            },
            Plan::Notify { receiver } => match self.inner.escalator.get() {
                Some(esc) => {
                    let mut a = x.alert.clone();
                    a.annotations.insert("bongsu_execution".into(), x.id.clone());
                    match esc.notify(&receiver, &format!("bongsu-notify/{}", x.id), vec![a]).await {
                        Ok(()) => (true, format!("notified {receiver}"), String::new()),
                        Err(e) => (false, e, String::new()),
                    }
                }
                None => (false, "no Alertmanager to notify through".into(), String::new()),
            },
            Plan::Wait { ms } => {
                tokio::time::sleep(Duration::from_millis(ms as u64)).await;
                (true, format!("waited {}", fmt_ms(ms)), String::new())
            }
        }
    }

    /// A ticket step: open the incident's ticket the first time, update it
    /// on later executions, each call claimed so it happens at most once.
    async fn ticket_step(&self, x: &Execution, step: &Step, tk: &Ticket, phase: &str, mut rec: StepRecord) -> StepRecord {
        let key = ticket_setting(&x.runbook, &x.incident, &step.name);
        let existing = self.inner.store.setting(&key).ok().flatten();
        let (which, req, claim) = match (&existing, &tk.update) {
            (None, _) => ("open", &tk.open, sha(&[&x.incident, &x.runbook, &step.name, "open"])),
            (Some(_), Some(u)) => ("update", u, sha(&[&x.id, phase, &step.name, "update"])),
            (Some(id), None) => {
                rec.finished = self.now();
                rec.ok = true;
                rec.skipped = Some(format!("ticket {id} is already open for this incident"));
                return rec;
            }
        };
        let ticket = existing.clone().unwrap_or_default();
        let spec = match ticket_spec(tk, req, &x.alert.labels, &x.target, &ticket, self.inner.simulate.is_some()) {
            Ok(s) => s,
            Err(e) => {
                rec.finished = self.now();
                rec.summary = e;
                return rec;
            }
        };
        rec.rendered = serde_json::json!({"call": which, "ticket": ticket, "method": spec.method, "url": redact_url(&spec.url)});
        if x.dry_run {
            rec.finished = self.now();
            rec.ok = true;
            rec.skipped = Some("dry run".into());
            rec.summary = format!("would {which} the ticket");
            return rec;
        }
        match self.inner.store.claim(&claim, &x.id, &format!("{phase}/{}/{which}", step.name), self.now()) {
            Ok(true) => {}
            Ok(false) => {
                rec.finished = self.now();
                rec.ok = true;
                rec.skipped = Some(format!("the ticket {which} was already made for this incident"));
                return rec;
            }
            Err(e) => {
                rec.finished = self.now();
                rec.summary = format!("cannot record the claim, not acting: {e}");
                return rec;
            }
        }
        *self.inner.metrics.side_effects.lock().entry((x.runbook.clone(), "ticket".into())).or_default() += 1;
        if let Some(sim) = &self.inner.simulate {
            rec.ok = sim.get(&step.name).copied().unwrap_or(true);
            rec.summary = format!("simulated: {which}");
            rec.finished = self.now();
            if rec.ok && which == "open" {
                let _ = self.inner.store.put_setting(&key, Some("SIMULATED-1"));
            }
            return rec;
        }
        let res = crate::action::http::send(&self.inner.http, &spec, self.now() / 1000).await;
        rec.finished = self.now();
        match res {
            Ok(o) if o.success() => {
                rec.ok = true;
                if which == "open" {
                    let id = serde_json::from_str::<serde_json::Value>(&o.body)
                        .ok()
                        .and_then(|v| v.pointer(&tk.id_from).map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string())));
                    match id {
                        Some(id) => {
                            let _ = self.inner.store.put_setting(&key, Some(&id));
                            rec.summary = format!("opened ticket {id}");
                            self.event(&x.incident, "ticket_opened", serde_json::json!({"execution": x.id, "ticket": id}));
                        }
                        None => {
                            rec.ok = false;
                            rec.summary = format!("HTTP {} but no ticket id at {} in the response", o.status, tk.id_from);
                        }
                    }
                } else {
                    rec.summary = format!("updated ticket {ticket}");
                }
                rec.output = o.body;
            }
            Ok(o) => {
                rec.summary = format!("HTTP {}", o.status);
                rec.output = o.body;
            }
            Err(e) => rec.summary = e.message,
        }
        let _ = self.inner.store.finish_claim(&claim, if rec.ok { "ok" } else { "failed" });
        rec
    }

    /// Closes the tickets a runbook opened for an incident that resolved
    /// (a resolved notification runs no remediation, but it closes tickets).
    async fn close_tickets(&self, rb: Runbook, incident: String, t: Trigger) {
        let labels = t.alerts.first().map(|a| a.labels.clone()).unwrap_or_default();
        for step in &rb.steps {
            let Action::Ticket(tk) = &step.action else { continue };
            let Some(close) = &tk.close else { continue };
            let key = ticket_setting(&rb.name, &incident, &step.name);
            let Some(id) = self.inner.store.setting(&key).ok().flatten() else { continue };
            let claim = sha(&[&incident, &rb.name, &step.name, "close"]);
            if !self.inner.store.claim(&claim, &incident, &format!("close/{}", step.name), self.now()).unwrap_or(false) {
                continue;
            }
            if self.inner.simulate.is_some() {
                let _ = self.inner.store.put_setting(&key, None);
                continue;
            }
            let res = match ticket_spec(tk, close, &labels, "", &id, false) {
                Ok(spec) => crate::action::http::send(&self.inner.http, &spec, self.now() / 1000).await.map_err(|e| e.message).and_then(|o| if o.success() { Ok(()) } else { Err(format!("HTTP {}", o.status)) }),
                Err(e) => Err(e),
            };
            let ok = res.is_ok();
            let _ = self.inner.store.finish_claim(&claim, if ok { "ok" } else { "failed" });
            if ok {
                let _ = self.inner.store.put_setting(&key, None);
            }
            self.event(&incident, "ticket_closed", serde_json::json!({"runbook": rb.name, "ticket": id, "ok": ok, "error": res.err()}));
        }
    }

    /// Records a human's acknowledgement of an incident.
    pub fn acknowledge(&self, incident: &str, by: &str) -> Result<(), String> {
        let mut row = self.inner.store.incident(incident).map_err(|e| e.to_string())?.ok_or_else(|| format!("no incident {incident}"))?;
        if row.acknowledged.is_none() {
            row.acknowledged = Some(self.now());
            self.inner.store.put_incident(&row).map_err(|e| e.to_string())?;
        }
        self.event(incident, "acknowledged", serde_json::json!({"by": by}));
        Ok(())
    }
}

/// Incidents are per trigger source and alert group.
fn incident_key(t: &Trigger) -> String {
    format!("{}\u{0}{}", t.source, t.group_key)
}

/// A step with every template rendered.
enum Plan {
    Exec { argv: Vec<String>, env: Vec<(String, String)>, timeout: i64 },
    Http { spec: crate::action::http::HttpSpec },
    Notify { receiver: String },
    Wait { ms: i64 },
}

impl Plan {
    fn rendered(&self) -> serde_json::Value {
        match self {
            Plan::Exec { argv, env, timeout } => serde_json::json!({"argv": argv, "env": env.iter().map(|(k, _)| k).collect::<Vec<_>>(), "timeout_ms": timeout}),
            Plan::Http { spec } => serde_json::json!({
                "method": spec.method, "url": redact_url(&spec.url),
                "headers": spec.headers.iter().map(|(k, v)| (k.clone(), if is_secret_header(k) { "<secret>".to_string() } else { v.clone() })).collect::<BTreeMap<_, _>>(),
                "signed": spec.hmac_secret.is_some(),
            }),
            Plan::Notify { receiver } => serde_json::json!({"receiver": receiver}),
            Plan::Wait { ms } => serde_json::json!({"ms": ms}),
        }
    }
}

fn is_secret_header(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k == "authorization" || k.contains("token") || k.contains("secret") || k.contains("key") || k == "cookie"
}

/// A URL without its password and with secret-looking query values hidden.
fn redact_url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut p) => {
            if p.password().is_some() {
                let _ = p.set_password(Some("<secret>"));
            }
            let pairs: Vec<(String, String)> = p.query_pairs().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            if pairs.iter().any(|(k, _)| is_secret_header(k)) {
                let mut q = p.query_pairs_mut();
                q.clear();
                for (k, v) in &pairs {
                    q.append_pair(k, if is_secret_header(k) { "<secret>" } else { v });
                }
            }
            p.to_string()
        }
        Err(_) => u.to_string(),
    }
}

/// Unit names systemd accepts, and never an option.
fn valid_unit(u: &str) -> bool {
    !u.is_empty() && !u.starts_with('-') && u.chars().all(|c| c.is_ascii_alphanumeric() || ":_.@-\\".contains(c))
}

/// `simulating`: secret files are not read (a test machine has none).
fn plan(step: &Step, r: &dyn Fn(&str, &str) -> Result<String, String>, simulating: bool) -> Result<Plan, String> {
    Ok(match &step.action {
        Action::Exec { argv, env, timeout } => Plan::Exec {
            argv: argv.iter().enumerate().map(|(i, a)| r(&format!("argv[{i}]"), a)).collect::<Result<_, _>>()?,
            env: env.iter().map(|(k, v)| Ok((k.clone(), r(k, v)?))).collect::<Result<_, String>>()?,
            timeout: *timeout,
        },
        Action::Systemd { unit, action, user, timeout } => {
            let unit = r("unit", unit)?;
            if !valid_unit(&unit) {
                return Err(format!("unit {unit:?} is not a valid systemd unit name: not acting"));
            }
            let mut argv = vec!["systemctl".to_string()];
            if *user {
                argv.push("--user".into());
            }
            argv.push(action.clone());
            argv.push("--".into());
            argv.push(unit);
            Plan::Exec { argv, env: Vec::new(), timeout: *timeout }
        }
        Action::Http { method, url, headers, body, timeout, hmac_secret_file } => {
            let url = r("url", url)?;
            url::Url::parse(&url).map_err(|e| format!("url {url:?}: {e}"))?;
            let hmac_secret = match hmac_secret_file.as_ref().filter(|_| !simulating) {
                Some(f) => Some(std::fs::read_to_string(f).map_err(|e| format!("hmac_secret_file {f}: {e}"))?.trim().as_bytes().to_vec()),
                None => None,
            };
            Plan::Http {
                spec: crate::action::http::HttpSpec {
                    method: method.clone(),
                    url,
                    headers: headers.iter().map(|(k, v)| Ok((k.clone(), r(k, v)?))).collect::<Result<_, String>>()?,
                    body: match body {
                        Some(b) => Some(r("body", b)?.into_bytes()),
                        None => None,
                    },
                    timeout: Duration::from_millis(*timeout as u64),
                    hmac_secret,
                    max_response: 64 * 1024,
                },
            }
        }
        Action::Notify { receiver } => Plan::Notify { receiver: receiver.clone() },
        Action::Wait { duration } => Plan::Wait { ms: *duration },
        Action::Ticket(_) => return Err("ticket steps are planned by ticket_step".into()),
    })
}

/// One ticket call, rendered (`$ticket` = the id known so far).
fn ticket_spec(tk: &Ticket, req: &TicketRequest, labels: &BTreeMap<String, String>, target: &str, ticket: &str, simulating: bool) -> Result<crate::action::http::HttpSpec, String> {
    let r = |what: &str, s: &str| crate::render::render_with(what, s, labels, target, ticket);
    let url = r("url", &req.url)?;
    url::Url::parse(&url).map_err(|e| format!("url {url:?}: {e}"))?;
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in tk.headers.iter().chain(req.headers.iter()) {
        headers.insert(k.clone(), r(k, v)?);
    }
    let hmac_secret = match tk.hmac_secret_file.as_ref().filter(|_| !simulating) {
        Some(f) => Some(std::fs::read_to_string(f).map_err(|e| format!("hmac_secret_file {f}: {e}"))?.trim().as_bytes().to_vec()),
        None => None,
    };
    Ok(crate::action::http::HttpSpec {
        method: req.method.clone(),
        url,
        headers: headers.into_iter().collect(),
        body: match &req.body {
            Some(b) => Some(r("body", b)?.into_bytes()),
            None => None,
        },
        timeout: Duration::from_millis(tk.timeout as u64),
        hmac_secret,
        max_response: 64 * 1024,
    })
}

fn ticket_setting(runbook: &str, incident: &str, step: &str) -> String {
    format!("respond.ticket.{runbook}.{incident}.{step}")
}

/// The expression of a Prometheus generator URL (`…/graph?g0.expr=…`).
pub fn expr_from_generator_url(u: &str) -> Option<String> {
    let p = url::Url::parse(u).ok()?;
    let e = p.query_pairs().find(|(k, _)| k == "g0.expr").map(|(_, v)| v.to_string())?;
    (!e.trim().is_empty()).then_some(e)
}

/// A result series is the alert's when every label it has (but the metric
/// name) has the alert's value: an alert's labels are its series' labels
/// plus the rule's.
fn matches_alert(series: &BTreeMap<String, String>, alert: &BTreeMap<String, String>) -> bool {
    series.iter().filter(|(k, _)| *k != "__name__").all(|(k, v)| alert.get(k) == Some(v))
}

pub fn fmt_ms(ms: i64) -> String {
    bongsu_model::duration::format_duration(ms.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_url_expression() {
        assert_eq!(
            expr_from_generator_url("http://h:9090/graph?g0.expr=up%7Bjob%3D%22web%22%7D+%3D%3D+0&g0.tab=1").as_deref(),
            Some("up{job=\"web\"} == 0")
        );
        assert_eq!(expr_from_generator_url("http://h/graph?g0.tab=1"), None);
        assert_eq!(expr_from_generator_url(""), None);
    }

    #[test]
    fn alert_matching_ignores_the_name_and_rule_labels() {
        let s: BTreeMap<String, String> = [("__name__", "up"), ("job", "web")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let a: BTreeMap<String, String> = [("alertname", "Down"), ("job", "web"), ("severity", "page")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert!(matches_alert(&s, &a));
        let other: BTreeMap<String, String> = [("job", "db")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert!(!matches_alert(&other, &a));
    }

    #[test]
    fn units_and_redaction() {
        assert!(valid_unit("web@1.service"));
        assert!(!valid_unit("--all"));
        assert!(!valid_unit("a b"));
        assert!(!valid_unit("x;reboot"));
        assert_eq!(redact_url("http://u:pw@h/x?token=abc&n=1"), "http://u:%3Csecret%3E@h/x?token=%3Csecret%3E&n=1");
    }
}
