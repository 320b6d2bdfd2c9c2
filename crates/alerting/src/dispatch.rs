//! The built-in Alertmanager: alerts in, routed into aggregation groups,
//! flushed after `group_wait` / `group_interval` / `repeat_interval` through
//! the notification pipeline — inhibition, time intervals, silences,
//! deduplication against the notification log, delivery with retries — to
//! every integration of the group's receiver (`dispatch/`, `notify/`).
//!
//! The notification log, silences and history live in the SQLite store
//! (`bongsu-store`); a log entry is committed before a delivery counts as
//! done, so a restart does not resend what was delivered. Alert
//! transitions (firing, resolved, silenced, inhibited, active again) and
//! every delivery attempt are recorded there too.

use crate::alert::{fingerprint_hex, Alert};
use crate::config::Config;
use crate::inhibit::Inhibitor;
use crate::notify::{build_integrations, Integration, Notification, NotifyContext};
use crate::route::{Route, RouteOpts};
use crate::silence::Silences;
use crate::timeinterval::TimeInterval;
use bongsu_model::Labels;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use bongsu_store::{AlertEvent, HistoryQuery, NotificationRecord, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Someone took an alert (Bongsu extension): recorded in the history,
/// shown by the API, and the alert's group is not re-notified on
/// `repeat_interval` while every firing alert in it is acknowledged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ack {
    pub owner: String,
    pub comment: String,
    /// ms
    pub at: i64,
}

/// Everything built from one `alertmanager.yml`.
pub struct Loaded {
    pub config: Config,
    pub yaml: String,
    pub tree: Route,
    pub inhibitor: Inhibitor,
    pub intervals: BTreeMap<String, Vec<TimeInterval>>,
    pub integrations: HashMap<String, Vec<Arc<dyn Integration>>>,
    pub templates: Arc<bongsu_template::Templates>,
    /// ms
    pub resolve_timeout: i64,
}

/// Builds the integrations of a receiver's `runbook_configs` (the
/// responder lives in another crate and plugs in here).
pub type RunbookIntegrations<'a> = &'a dyn Fn(&crate::config::Receiver) -> Result<Vec<Arc<dyn Integration>>, String>;

impl Loaded {
    /// Builds everything a configuration needs; an error changes nothing.
    /// `runbook_configs` are refused: see [`Loaded::with_runbooks`].
    pub fn new(config: Config, base_dir: &std::path::Path) -> Result<Loaded, String> {
        Self::with_runbooks(config, base_dir, &|r| {
            if r.runbook_configs.is_empty() {
                Ok(Vec::new())
            } else {
                Err(format!("receiver {:?}: runbook_configs need the responder", r.name.value))
            }
        })
    }

    /// [`Loaded::new`] with the builder of `runbook_configs` integrations;
    /// they come after Alertmanager's kinds, as [`crate::config::Receiver::integrations`] lists them.
    pub fn with_runbooks(config: Config, base_dir: &std::path::Path, runbooks: RunbookIntegrations) -> Result<Loaded, String> {
        let templates = bongsu_template::Templates::load(&config.templates, base_dir).map_err(|e| format!("templates: {e}"))?;
        let mut integrations = HashMap::new();
        for r in &config.receivers {
            let mut v = build_integrations(r)?;
            v.extend(runbooks(r)?);
            integrations.insert(r.name.value.clone(), v);
        }
        Ok(Loaded {
            yaml: config.to_yaml(),
            tree: config.route_tree(),
            inhibitor: Inhibitor::new(config.inhibit_rules()),
            intervals: config.time_intervals_by_name(),
            resolve_timeout: config.global.resolve_timeout.as_millis(),
            integrations,
            templates: Arc::new(templates),
            config,
        })
    }
}

/// What the last notification of a group told one integration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct NflogEntry {
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
    /// ms
    timestamp: i64,
}


#[derive(Default)]
pub struct Counters {
    pub alerts_received_firing: AtomicU64,
    pub alerts_received_resolved: AtomicU64,
    pub alerts_invalid: AtomicU64,
    /// Alerts that fired again within their route's `resolve_hold`.
    pub flaps: AtomicU64,
    /// (integration, receiver) → (attempts, failures).
    pub notifications: Mutex<BTreeMap<(String, String), (u64, u64)>>,
}

struct Group {
    route_idx: usize,
    key: String,
    labels: Labels,
    opts: RouteOpts,
    alerts: Mutex<HashMap<u64, Alert>>,
    wake: tokio::sync::Notify,
}

/// The dispatcher with its state.
pub struct Alertmanager {
    loaded: RwLock<Arc<Loaded>>,
    alerts: Mutex<HashMap<u64, Alert>>,
    groups: Mutex<HashMap<(usize, String), Arc<Group>>>,
    pub silences: Silences,
    nflog: Mutex<HashMap<String, NflogEntry>>,
    store: Arc<Store>,
    /// The last recorded mute state of each alert (`active`, `silenced`, `inhibited`).
    mute_state: Mutex<HashMap<u64, &'static str>>,
    /// Acknowledged firing alerts: fingerprint → acknowledgement.
    acks: Mutex<HashMap<u64, Ack>>,
    /// Silences that have silenced a firing alert (for `expire_when_resolved`).
    silence_matched: Mutex<BTreeSet<String>>,
    /// (group key, receiver) → when its deliveries started failing (ms).
    failing_since: Mutex<HashMap<(String, String), i64>>,
    pub external_url: String,
    pub counters: Counters,
    started: i64,
}

/// Silences, log entries and history are kept this long (Alertmanager's
/// `--data.retention` default, 120h).
const RETENTION: i64 = 120 * 3600 * 1000;

fn now_ms() -> i64 {
    bongsu_model::now_ms()
}

impl Alertmanager {
    /// Starts with the state kept in `store`.
    pub fn new(loaded: Loaded, store: Arc<Store>, external_url: String) -> Result<Arc<Alertmanager>, String> {
        let silences = Silences::open(Some(store.clone()), RETENTION)?;
        let mut nflog = HashMap::new();
        for (k, body) in store.nflog().map_err(|e| e.to_string())? {
            if let Ok(e) = serde_json::from_str::<NflogEntry>(&body) {
                nflog.insert(k, e);
            }
        }
        // Acknowledgements of alerts that may still fire, from the history.
        let mut acks = HashMap::new();
        let since = now_ms() - RETENTION;
        let mut events = store
            .alert_events(&HistoryQuery { alertname: None, since: Some(since), limit: 100_000 })
            .map_err(|e| e.to_string())?;
        events.reverse(); // oldest first
        for e in events {
            let Ok(fp) = u64::from_str_radix(&e.fingerprint, 16) else { continue };
            match e.event.as_str() {
                "acknowledged" => {
                    let (owner, comment) = e.detail.split_once(": ").unwrap_or((e.detail.as_str(), ""));
                    acks.insert(fp, Ack { owner: owner.to_string(), comment: comment.to_string(), at: e.ts });
                }
                "resolved" => {
                    acks.remove(&fp);
                }
                _ => {}
            }
        }
        let am = Arc::new(Alertmanager {
            loaded: RwLock::new(Arc::new(loaded)),
            alerts: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            silences,
            nflog: Mutex::new(nflog),
            store,
            mute_state: Mutex::new(HashMap::new()),
            failing_since: Mutex::new(HashMap::new()),
            acks: Mutex::new(acks),
            silence_matched: Mutex::new(BTreeSet::new()),
            external_url,
            counters: Counters::default(),
            started: now_ms(),
        });
        let gc = Arc::downgrade(&am);
        tokio::spawn(async move {
            let mut tick = 0u64;
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let Some(am) = gc.upgrade() else { return };
                am.expire_resolved_silences(now_ms());
                if let Err(e) = am.store.checkpoint() {
                    tracing::error!(err = %e, "checkpointing the alerting state failed");
                }
                tick += 1;
                // `is_multiple_of` needs Rust 1.87; the workspace supports 1.85.
                #[allow(clippy::manual_is_multiple_of)]
                let due = tick % 12 == 0;
                if due {
                    am.gc(now_ms());
                }
            }
        });
        Ok(am)
    }

    pub fn loaded(&self) -> Arc<Loaded> {
        self.loaded.read().clone()
    }

    /// Applies a new configuration. Existing groups are re-routed: their
    /// alerts are put again under the new tree.
    pub fn apply(self: &Arc<Self>, loaded: Loaded) {
        *self.loaded.write() = Arc::new(loaded);
        let old: Vec<Arc<Group>> = self.groups.lock().drain().map(|(_, g)| g).collect();
        for g in &old {
            g.wake.notify_one(); // their tasks see they are gone and stop
        }
        let alerts: Vec<Alert> = self.alerts.lock().values().cloned().collect();
        for a in alerts {
            self.route(a, now_ms());
        }
    }

    /// Receives alerts (from the rules engine or `POST /api/v2/alerts`).
    pub fn put(self: &Arc<Self>, alerts: Vec<Alert>) {
        let now = now_ms();
        let resolve_timeout = self.loaded().resolve_timeout;
        let mut events = Vec::new();
        let mut routed = Vec::with_capacity(alerts.len());
        for mut a in alerts {
            if a.starts_at == 0 {
                a.starts_at = if a.ends_at != 0 { a.ends_at } else { now };
            }
            if a.ends_at == 0 {
                a.timeout = true;
                a.ends_at = now + resolve_timeout;
            }
            a.updated_at = now;
            if a.resolved_at(now) {
                self.counters.alerts_received_resolved.fetch_add(1, Ordering::Relaxed);
            } else {
                self.counters.alerts_received_firing.fetch_add(1, Ordering::Relaxed);
            }
            let fp = a.fingerprint();
            let (merged, event) = {
                let mut m = self.alerts.lock();
                let was_firing = m.get(&fp).map(|o| !o.resolved_at(now));
                let resolved_ago = m.get(&fp).filter(|o| o.resolved_at(now)).map(|o| now - o.ends_at);
                let merged = match m.get(&fp) {
                    Some(old) => old.merge(&a, now),
                    None => a,
                };
                m.insert(fp, merged.clone());
                let firing = !merged.resolved_at(now);
                let event = match (was_firing, firing) {
                    (None | Some(false), true) => Some("firing"),
                    (Some(true), false) => Some("resolved"),
                    _ => None,
                };
                (merged, event.map(|e| (e, resolved_ago)))
            };
            if let Some((ev, resolved_ago)) = event {
                if ev == "resolved" {
                    self.acks.lock().remove(&fp);
                }
                // Firing again within a route's resolve_hold: a flap.
                let hold = self.max_resolve_hold(&merged.labels);
                if ev == "firing" && resolved_ago.is_some_and(|ago| ago < hold) {
                    self.counters.flaps.fetch_add(1, Ordering::Relaxed);
                    events.push(event_of(&merged, "flapped", now, ""));
                } else {
                    events.push(event_of(&merged, ev, now, ""));
                }
            }
            routed.push(merged);
        }
        // History first (one transaction), then the alerts enter their groups.
        self.record_events(events);
        for a in routed {
            self.route(a, now);
        }
    }

    /// The longest `resolve_hold` of the routes these labels reach (ms).
    fn max_resolve_hold(&self, labels: &Labels) -> i64 {
        let loaded = self.loaded();
        loaded.tree.match_routes(labels).iter().map(|r| r.opts.resolve_hold.as_millis() as i64).max().unwrap_or(0)
    }

    fn route(self: &Arc<Self>, a: Alert, now: i64) {
        let loaded = self.loaded();
        for r in loaded.tree.match_routes(&a.labels) {
            let key = r.group_key(&a.labels);
            let (g, created) = {
                let mut groups = self.groups.lock();
                match groups.get(&(r.idx, key.clone())) {
                    Some(g) => (g.clone(), false),
                    None => {
                        let g = Arc::new(Group {
                            route_idx: r.idx,
                            key: key.clone(),
                            labels: r.group_labels(&a.labels),
                            opts: r.opts.clone(),
                            alerts: Mutex::new(HashMap::new()),
                            wake: tokio::sync::Notify::new(),
                        });
                        groups.insert((r.idx, key), g.clone());
                        (g, true)
                    }
                }
            };
            g.alerts.lock().insert(a.fingerprint(), a.clone());
            if created {
                // An alert older than group_wait is flushed at once.
                let wait = if a.starts_at + g.opts.group_wait.as_millis() as i64 <= now {
                    Duration::ZERO
                } else {
                    g.opts.group_wait
                };
                tokio::spawn(self.clone().run_group(g, wait));
            }
        }
    }

    fn group_alive(&self, g: &Arc<Group>) -> bool {
        self.groups.lock().get(&(g.route_idx, g.key.clone())).is_some_and(|x| Arc::ptr_eq(x, g))
    }

    async fn run_group(self: Arc<Self>, g: Arc<Group>, first_wait: Duration) {
        let mut wait = first_wait;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = g.wake.notified() => {}
            }
            if !self.group_alive(&g) {
                return;
            }
            let now = now_ms();
            let alerts: Vec<Alert> = g.alerts.lock().values().cloned().collect();
            if alerts.is_empty() {
                self.groups.lock().remove(&(g.route_idx, g.key.clone()));
                return;
            }
            let deadline = g.opts.group_interval.max(Duration::from_secs(10));
            let _ = tokio::time::timeout(deadline, self.flush(&g, alerts.clone(), now)).await;
            // Resolved alerts that were part of this flush leave the group.
            {
                let mut ga = g.alerts.lock();
                let hold = g.opts.resolve_hold.as_millis() as i64;
                for a in &alerts {
                    if a.resolved_at(now) && now - a.ends_at >= hold && ga.get(&a.fingerprint()).is_some_and(|x| x == a) {
                        ga.remove(&a.fingerprint());
                    }
                }
                if ga.is_empty() {
                    drop(ga);
                    let mut groups = self.groups.lock();
                    if groups.get(&(g.route_idx, g.key.clone())).is_some_and(|x| Arc::ptr_eq(x, &g)) {
                        groups.remove(&(g.route_idx, g.key.clone()));
                    }
                    return;
                }
            }
            wait = g.opts.group_interval;
        }
    }

    /// The firing alerts that can inhibit something: those matching a
    /// rule's source side (none without inhibition rules).
    fn inhibition_sources(&self, inhibitor: &Inhibitor, now: i64) -> Vec<Labels> {
        if inhibitor.rules.is_empty() {
            return Vec::new();
        }
        self.alerts
            .lock()
            .values()
            .filter(|a| !a.resolved_at(now) && inhibitor.rules.iter().any(|r| r.source_matchers.matches(&a.labels)))
            .map(|a| a.labels.clone())
            .collect()
    }

    /// Is this alert muted by inhibition or a silence now?
    pub fn muted(&self, a: &Alert, now: i64) -> (Vec<String>, Vec<String>) {
        let loaded = self.loaded();
        let firing = self.inhibition_sources(&loaded.inhibitor, now);
        let inhibited_by: Vec<String> = loaded
            .inhibitor
            .mutes(&a.labels, &firing)
            .map(|(_, src)| vec![fingerprint_hex(crate::alert::fingerprint(src))])
            .unwrap_or_default();
        (self.silences.silenced_by(&a.labels, now), inhibited_by)
    }

    async fn flush(self: &Arc<Self>, g: &Arc<Group>, alerts: Vec<Alert>, now: i64) {
        let loaded = self.loaded();
        // Time intervals hold the whole notification back.
        let ts = jiff::Timestamp::from_millisecond(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        if g.opts.muted_at(&loaded.intervals, ts) {
            return;
        }
        let firing_sources = self.inhibition_sources(&loaded.inhibitor, now);
        let hold = g.opts.resolve_hold.as_millis() as i64;
        let mut kept: Vec<Alert> = Vec::with_capacity(alerts.len());
        for mut a in alerts {
            if a.resolved_at(now) && now - a.ends_at < hold {
                // Flap damping: held as firing until the hold has passed.
                a.ends_at = 0;
            }
            if a.resolved_at(now) {
                kept.push(a);
                continue;
            }
            let silenced = self.silences.silenced_by(&a.labels, now);
            if !silenced.is_empty() {
                self.silence_matched.lock().extend(silenced.iter().cloned());
            }
            let state = if !silenced.is_empty() {
                "silenced"
            } else if loaded.inhibitor.mutes(&a.labels, &firing_sources).is_some() {
                "inhibited"
            } else {
                "active"
            };
            let changed = {
                let mut ms = self.mute_state.lock();
                let prev = ms.insert(a.fingerprint(), state);
                prev.unwrap_or("active") != state
            };
            if changed {
                self.record_event(&a, state, now, &silenced.join(","));
            }
            if state == "active" {
                kept.push(a);
            }
        }
        // Everything muted: the pipeline stops here, the log is untouched
        // (Alertmanager's MultiStage stops on an empty alert list).
        if kept.is_empty() {
            return;
        }
        kept.sort_by(|a, b| a.labels.cmp(&b.labels));
        let firing: BTreeSet<u64> = kept.iter().filter(|a| !a.resolved_at(now)).map(|a| a.fingerprint()).collect();
        let resolved: BTreeSet<u64> = kept.iter().filter(|a| a.resolved_at(now)).map(|a| a.fingerprint()).collect();
        // The primary receiver, plus the route's fallback once the primary
        // has been failing for `fallback_after` (a Bongsu extension).
        let mut receivers = vec![g.opts.receiver.clone()];
        if let Some(fb) = &g.opts.fallback_receiver {
            let since = self.failing_since.lock().get(&(g.key.clone(), g.opts.receiver.clone())).copied();
            if since.is_some_and(|t| now - t >= g.opts.fallback_after.as_millis() as i64) {
                tracing::warn!(group = %g.key, primary = %g.opts.receiver, fallback = %fb, "primary receiver keeps failing: notifying the fallback receiver");
                receivers.push(fb.clone());
            }
        }
        let all_acked = !firing.is_empty() && {
            let acks = self.acks.lock();
            firing.iter().all(|fp| acks.contains_key(fp))
        };
        let cx = NotifyContext { templates: loaded.templates.clone() };
        let mut sends = Vec::new();
        for receiver in receivers {
            let Some(integrations) = loaded.integrations.get(&receiver).cloned() else { continue };
            for (i, integ) in integrations.iter().enumerate() {
                let nkey = format!("{}\u{0}{}\u{0}{}\u{0}{}", g.key, receiver, integ.name(), i);
                let entry = self.nflog.lock().get(&nkey).cloned();
                // Acknowledged groups are not repeated (new or resolved alerts still notify).
                let repeat = if all_acked { i64::MAX / 2 } else { g.opts.repeat_interval.as_millis() as i64 };
                if !needs_update(entry.as_ref(), &firing, &resolved, integ.send_resolved(), repeat, now) {
                    continue;
                }
                let to_send: Vec<Alert> = if integ.send_resolved() {
                    kept.clone()
                } else {
                    kept.iter().filter(|a| !a.resolved_at(now)).cloned().collect()
                };
                let n = Notification {
                    receiver: receiver.clone(),
                    group_key: g.key.clone(),
                    group_labels: g.labels.clone(),
                    alerts: to_send,
                    now,
                    external_url: self.external_url.clone(),
                    route_labels: g.opts.labels.clone(),
                };
                let me = self.clone();
                let (firing, resolved) = (firing.clone(), resolved.clone());
                let integ = integ.clone();
                let cx = &cx;
                sends.push(async move {
                    if !n.alerts.is_empty() && !me.deliver(integ.as_ref(), &n, cx).await {
                        return;
                    }
                    let entry = NflogEntry { firing, resolved, timestamp: now };
                    if let Err(e) = me.store.put_nflog(&nkey, &serde_json::to_string(&entry).unwrap_or_default(), now) {
                        tracing::error!(err = %e, "writing the notification log failed");
                    }
                    me.nflog.lock().insert(nkey, entry);
                });
            }
        }
        futures::future::join_all(sends).await;
    }

    /// Notifies every integration of `receiver` outside routing (the
    /// responder's escalations and `notify` steps), each attempt recorded
    /// like a routed notification. `runbook` integrations are skipped, so
    /// an escalation never triggers automation. Errors name the failing
    /// integrations; a retryable failure is retried for up to `deadline`.
    pub async fn notify_receiver(&self, receiver: &str, group_key: &str, group_labels: Labels, alerts: Vec<Alert>, deadline: Duration) -> Result<(), String> {
        let loaded = self.loaded.read().clone();
        let Some(integrations) = loaded.integrations.get(receiver).cloned() else {
            return Err(format!("no receiver named {receiver:?}"));
        };
        let cx = NotifyContext { templates: loaded.templates.clone() };
        let n = Notification {
            receiver: receiver.to_string(),
            group_key: group_key.to_string(),
            group_labels,
            alerts,
            now: now_ms(),
            external_url: self.external_url.clone(),
            route_labels: BTreeMap::new(),
        };
        let mut failed = Vec::new();
        for integ in integrations.iter().filter(|i| i.name() != "runbook") {
            match tokio::time::timeout(deadline, self.deliver(integ.as_ref(), &n, &cx)).await {
                Ok(true) => {}
                _ => failed.push(integ.name()),
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(format!("receiver {receiver:?}: {} failed", failed.join(", ")))
        }
    }

    /// Whether the alert with this fingerprint is firing now (`None`: not known here).
    pub fn alert_firing(&self, fingerprint: u64) -> Option<bool> {
        self.alerts.lock().get(&fingerprint).map(|a| !a.resolved_at(now_ms()))
    }

    /// Sends with exponential backoff until delivered, a non-retryable
    /// error, or the caller's deadline. Every attempt is recorded.
    async fn deliver(&self, integ: &dyn Integration, n: &Notification, cx: &NotifyContext) -> bool {
        let mut backoff = Duration::from_millis(500);
        loop {
            let res = integ.notify(n, cx).await;
            let ok = res.is_ok();
            {
                let key = (n.group_key.clone(), n.receiver.clone());
                let mut f = self.failing_since.lock();
                if ok {
                    f.remove(&key);
                } else {
                    f.entry(key).or_insert(n.now);
                }
            }
            {
                let mut c = self.counters.notifications.lock();
                let e = c.entry((integ.name().to_string(), n.receiver.clone())).or_default();
                e.0 += 1;
                if !ok {
                    e.1 += 1;
                }
            }
            let rec = NotificationRecord {
                ts: now_ms(),
                receiver: n.receiver.clone(),
                integration: integ.name().to_string(),
                group_key: n.group_key.clone(),
                alerts: n.alerts.len() as i64,
                status: n.status().to_string(),
                ok,
                error: res.as_ref().err().map(|e| e.message.clone()),
            };
            if let Err(e) = self.store.record_notification(&rec) {
                tracing::error!(err = %e, "recording a notification attempt failed");
            }
            match res {
                Ok(()) => return true,
                Err(e) => {
                    tracing::warn!(receiver = %n.receiver, integration = integ.name(), err = %e, retry = e.retry, "notify failed");
                    if !e.retry {
                        return false;
                    }
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    fn record_event(&self, a: &Alert, event: &str, now: i64, detail: &str) {
        self.record_events(vec![event_of(a, event, now, detail)]);
    }

    /// Records transitions in one transaction (one fsync for a whole batch).
    fn record_events(&self, evs: Vec<AlertEvent>) {
        if let Err(e) = self.store.record_events(&evs) {
            tracing::error!(err = %e, "recording alert transitions failed");
        }
    }

    /// Expires `expire_when_resolved` silences that have silenced something
    /// and now match no firing alert.
    pub fn expire_resolved_silences(&self, now: i64) {
        let matched: Vec<String> = self.silence_matched.lock().iter().cloned().collect();
        for id in matched {
            let Some(s) = self.silences.get(&id) else { continue };
            if !s.expire_when_resolved || s.state(now) != crate::silence::SilenceState::Active {
                self.silence_matched.lock().remove(&id);
                continue;
            }
            let still_firing = self.alerts.lock().values().any(|a| !a.resolved_at(now) && s.matches(&a.labels));
            if still_firing {
                continue;
            }
            if self.silences.expire(&id, now).is_ok() {
                tracing::info!(silence = %id, "everything the silence matched has resolved: expired");
            }
            self.silence_matched.lock().remove(&id);
        }
    }

    /// Drops alerts resolved long ago, and old silences.
    pub fn gc(&self, now: i64) {
        let in_groups: BTreeSet<u64> = self.groups.lock().values().flat_map(|g| g.alerts.lock().keys().copied().collect::<Vec<_>>()).collect();
        self.alerts.lock().retain(|fp, a| !a.resolved_at(now) || in_groups.contains(fp) || now - a.ends_at < 15 * 60 * 1000);
        {
            let alerts = self.alerts.lock();
            self.mute_state.lock().retain(|fp, _| alerts.contains_key(fp));
        }
        self.silences.gc(now);
        self.nflog.lock().retain(|_, e| e.timestamp > now - RETENTION);
        if let Err(e) = self.store.gc(now - RETENTION) {
            tracing::error!(err = %e, "store garbage collection failed");
        }
    }

    /// All alerts known, with the receivers they route to.
    pub fn alerts(&self) -> Vec<(Alert, Vec<String>)> {
        let loaded = self.loaded();
        let mut v: Vec<(Alert, Vec<String>)> = self
            .alerts
            .lock()
            .values()
            .map(|a| {
                let mut rs: Vec<String> = loaded.tree.match_routes(&a.labels).iter().map(|r| r.opts.receiver.clone()).collect();
                rs.dedup();
                (a.clone(), rs)
            })
            .collect();
        v.sort_by(|a, b| a.0.labels.cmp(&b.0.labels));
        v
    }

    /// The aggregation groups: (group labels, receiver, alerts).
    pub fn groups(&self) -> Vec<(Labels, String, Vec<Alert>)> {
        let mut v: Vec<(Labels, String, Vec<Alert>)> = self
            .groups
            .lock()
            .values()
            .map(|g| {
                let mut a: Vec<Alert> = g.alerts.lock().values().cloned().collect();
                a.sort_by(|x, y| x.labels.cmp(&y.labels));
                (g.labels.clone(), g.opts.receiver.clone(), a)
            })
            .collect();
        v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    }

    /// Acknowledges a firing alert (by fingerprint). Fails for an unknown
    /// or resolved alert, or without an owner.
    pub fn acknowledge(&self, fp: u64, owner: &str, comment: &str) -> Result<Ack, String> {
        if owner.trim().is_empty() {
            return Err("owner: required".into());
        }
        let now = now_ms();
        let alert = self.alerts.lock().get(&fp).cloned();
        let Some(a) = alert.filter(|a| !a.resolved_at(now)) else {
            return Err(format!("no firing alert with fingerprint {}", fingerprint_hex(fp)));
        };
        let ack = Ack { owner: owner.to_string(), comment: comment.to_string(), at: now };
        let ev = AlertEvent {
            ts: now,
            fingerprint: fingerprint_hex(fp),
            alertname: a.labels.get("alertname").unwrap_or("").to_string(),
            event: "acknowledged".into(),
            labels: serde_json::Value::Object(a.labels.iter().map(|l| (l.name.to_string(), serde_json::Value::String(l.value.to_string()))).collect()),
            detail: format!("{owner}: {comment}"),
        };
        self.store.record_events(&[ev]).map_err(|e| format!("recording the acknowledgement: {e}"))?;
        self.acks.lock().insert(fp, ack.clone());
        Ok(ack)
    }

    /// The acknowledgement of an alert, if any.
    pub fn ack_of(&self, fp: u64) -> Option<Ack> {
        self.acks.lock().get(&fp).cloned()
    }

    /// Delivery attempts, newest first.
    pub fn notifications(&self, q: &HistoryQuery) -> Result<Vec<NotificationRecord>, String> {
        self.store.notifications(q).map_err(|e| e.to_string())
    }

    /// Alert transitions, newest first.
    pub fn alert_events(&self, q: &HistoryQuery) -> Result<Vec<AlertEvent>, String> {
        self.store.alert_events(q).map_err(|e| e.to_string())
    }

    /// Unix ms at start.
    pub fn started(&self) -> i64 {
        self.started
    }
}

fn event_of(a: &Alert, event: &str, now: i64, detail: &str) -> AlertEvent {
    AlertEvent {
        ts: now,
        fingerprint: fingerprint_hex(a.fingerprint()),
        alertname: a.labels.get("alertname").unwrap_or("").to_string(),
        event: event.to_string(),
        labels: serde_json::Value::Object(a.labels.iter().map(|l| (l.name.to_string(), serde_json::Value::String(l.value.to_string()))).collect()),
        detail: detail.to_string(),
    }
}

/// Alertmanager's `DedupStage.needsUpdate`.
fn needs_update(entry: Option<&NflogEntry>, firing: &BTreeSet<u64>, resolved: &BTreeSet<u64>, send_resolved: bool, repeat: i64, now: i64) -> bool {
    let Some(e) = entry else { return !firing.is_empty() };
    if !firing.is_subset(&e.firing) {
        return true;
    }
    if firing.is_empty() {
        return !e.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&e.resolved) {
        return true;
    }
    e.timestamp <= now - repeat
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[u64]) -> BTreeSet<u64> {
        v.iter().copied().collect()
    }

    #[test]
    fn dedup_like_alertmanager() {
        let e = NflogEntry { firing: set(&[1, 2]), resolved: set(&[3]), timestamp: 1000 };
        assert!(needs_update(None, &set(&[1]), &set(&[]), true, 100, 1000));
        assert!(!needs_update(None, &set(&[]), &set(&[1]), true, 100, 1000), "only resolved: nothing to say");
        assert!(needs_update(Some(&e), &set(&[1, 4]), &set(&[]), true, 100_000, 1001), "a new firing alert");
        assert!(!needs_update(Some(&e), &set(&[1]), &set(&[3]), true, 100_000, 1001), "nothing new");
        assert!(needs_update(Some(&e), &set(&[1]), &set(&[2, 3]), true, 100_000, 1001), "a newly resolved alert");
        assert!(!needs_update(Some(&e), &set(&[1]), &set(&[2, 3]), false, 100_000, 1001), "…unless resolved are not sent");
        assert!(needs_update(Some(&e), &set(&[]), &set(&[1, 2]), false, 100_000, 1001), "all resolved clears the log");
        assert!(needs_update(Some(&e), &set(&[1, 2]), &set(&[3]), true, 100, 1100), "repeat interval passed");
    }
}
