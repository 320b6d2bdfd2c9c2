//! What the responder receives (a trigger: one alert group for one
//! runbook) and what it records (an execution: one runbook run on one
//! target, with every guard decision, step, verification and escalation).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One alert of a trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerAlert {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// ms
    pub starts_at: i64,
    /// ms, 0 when unknown
    #[serde(default)]
    pub ends_at: i64,
    #[serde(default)]
    pub generator_url: String,
    /// Alertmanager's fingerprint of the labels (16 hex digits).
    pub fingerprint: String,
    pub firing: bool,
}

/// One alert group handed to one runbook: by a `runbook_configs` receiver
/// or by an external Alertmanager's webhook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trigger {
    pub runbook: String,
    /// `receiver/<name>` (in process) or `webhook` (external Alertmanager).
    pub source: String,
    pub receiver: String,
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    pub alerts: Vec<TriggerAlert>,
    pub external_url: String,
}

impl Trigger {
    pub fn firing(&self) -> impl Iterator<Item = &TriggerAlert> {
        self.alerts.iter().filter(|a| a.firing)
    }

    /// The group as Alertmanager's webhook payload (version 4): what an
    /// `exec` step reads on its standard input.
    pub fn payload(&self) -> serde_json::Value {
        let common = |f: &dyn Fn(&TriggerAlert) -> &BTreeMap<String, String>| {
            let mut it = self.alerts.iter().map(f);
            let mut acc = it.next().cloned().unwrap_or_default();
            for m in it {
                acc.retain(|k, v| m.get(k) == Some(v));
            }
            acc
        };
        let time = |ms: i64| {
            if ms == 0 {
                "0001-01-01T00:00:00Z".to_string()
            } else {
                bongsu_model::timefmt::rfc3339_ms(ms)
            }
        };
        serde_json::json!({
            "version": "4",
            "groupKey": self.group_key,
            "truncatedAlerts": 0,
            "status": if self.firing().next().is_some() { "firing" } else { "resolved" },
            "receiver": self.receiver,
            "groupLabels": self.group_labels,
            "commonLabels": common(&|a| &a.labels),
            "commonAnnotations": common(&|a| &a.annotations),
            "externalURL": self.external_url,
            "alerts": self.alerts.iter().map(|a| serde_json::json!({
                "status": if a.firing { "firing" } else { "resolved" },
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": time(a.starts_at),
                "endsAt": time(a.ends_at),
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint,
            })).collect::<Vec<_>>(),
        })
    }

    /// Reads Alertmanager's webhook payload (what an external Alertmanager
    /// posts to the responder's webhook endpoint). Errors name the field.
    pub fn from_payload(runbook: &str, body: &[u8]) -> Result<Trigger, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct P {
            #[serde(default)]
            receiver: String,
            #[serde(default)]
            group_key: String,
            #[serde(default)]
            group_labels: BTreeMap<String, String>,
            #[serde(default, rename = "externalURL")]
            external_url: String,
            alerts: Vec<A>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct A {
            status: String,
            labels: BTreeMap<String, String>,
            #[serde(default)]
            annotations: BTreeMap<String, String>,
            starts_at: String,
            #[serde(default)]
            ends_at: String,
            #[serde(default, rename = "generatorURL")]
            generator_url: String,
            #[serde(default)]
            fingerprint: String,
        }
        let p: P = serde_json::from_slice(body).map_err(|e| format!("invalid webhook payload: {e}"))?;
        let time = |s: &str, what: &str, i: usize| -> Result<i64, String> {
            if s.is_empty() || s.starts_with("0001-01-01") {
                return Ok(0);
            }
            bongsu_model::timefmt::parse_rfc3339_ms(s).ok_or_else(|| format!("alerts[{i}].{what}: invalid time {s:?}"))
        };
        let mut alerts = Vec::new();
        for (i, a) in p.alerts.into_iter().enumerate() {
            let firing = match a.status.as_str() {
                "firing" => true,
                "resolved" => false,
                s => return Err(format!("alerts[{i}].status: {s:?} is neither firing nor resolved")),
            };
            if a.labels.is_empty() {
                return Err(format!("alerts[{i}].labels: an alert needs labels"));
            }
            let fingerprint = if a.fingerprint.is_empty() { fingerprint_of(&a.labels) } else { a.fingerprint };
            alerts.push(TriggerAlert {
                starts_at: time(&a.starts_at, "startsAt", i)?,
                ends_at: time(&a.ends_at, "endsAt", i)?,
                labels: a.labels,
                annotations: a.annotations,
                generator_url: a.generator_url,
                fingerprint,
                firing,
            });
        }
        Ok(Trigger {
            runbook: runbook.to_string(),
            source: "webhook".into(),
            receiver: p.receiver,
            group_key: p.group_key,
            group_labels: p.group_labels,
            alerts,
            external_url: p.external_url,
        })
    }
}

/// Alertmanager's fingerprint (FNV-1a over sorted labels) as 16 hex digits.
pub fn fingerprint_of(labels: &BTreeMap<String, String>) -> String {
    let l = bongsu_model::Labels::from_pairs(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    bongsu_alerting::alert::fingerprint_hex(bongsu_alerting::alert::fingerprint(&l))
}

/// Guard decision, recorded when it is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardDecision {
    pub guard: String,
    pub allowed: bool,
    pub detail: String,
    /// ms
    pub ts: i64,
}

/// One step as run (or, in shadow mode, as it would have run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StepRecord {
    /// `steps` or `rollback`
    pub phase: String,
    pub name: String,
    pub kind: String,
    /// What the templates rendered to (secrets left out).
    pub rendered: serde_json::Value,
    pub started: i64,
    pub finished: i64,
    pub ok: bool,
    pub summary: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// Why it did not run (`dry run`, `already claimed`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct VerifyRecord {
    pub expr: String,
    pub started: i64,
    pub finished: i64,
    pub ok: bool,
    pub polls: u64,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub approved: bool,
    pub by: String,
    /// ms
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationRecord {
    pub receiver: String,
    pub at: i64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// Execution states. Terminal: everything but `pending`,
/// `awaiting_approval`, `running`, `verifying` and `rolling_back`.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const AWAITING_APPROVAL: &str = "awaiting_approval";
    pub const RUNNING: &str = "running";
    pub const VERIFYING: &str = "verifying";
    pub const ROLLING_BACK: &str = "rolling_back";
    /// Steps ran and verification showed the problem gone.
    pub const REMEDIATED: &str = "remediated";
    /// Steps ran; verification was turned off.
    pub const DONE: &str = "done";
    /// Failed (rolled back when it has rollback steps), no escalation receiver.
    pub const FAILED: &str = "failed";
    /// Failed (rolled back when it has rollback steps) and a human was told.
    pub const ESCALATED: &str = "escalated";
    pub const BLOCKED: &str = "blocked";
    pub const DENIED: &str = "denied";
    pub const CANCELLED: &str = "cancelled";
    /// Found in flight after a restart: never re-run, escalated.
    pub const ABANDONED: &str = "abandoned";
    /// Shadow mode: rendered and guarded, nothing acted.
    pub const SHADOW: &str = "shadow";

    pub fn is_terminal(s: &str) -> bool {
        !matches!(s, PENDING | AWAITING_APPROVAL | RUNNING | VERIFYING | ROLLING_BACK)
    }

    /// States whose execution acted (counted by rate limits, cooldowns and
    /// blast radius).
    pub fn acted(s: &str) -> bool {
        matches!(s, RUNNING | VERIFYING | ROLLING_BACK | REMEDIATED | DONE | FAILED | ESCALATED | ABANDONED | CANCELLED)
    }
}

/// The whole record of one execution (stored as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub id: String,
    pub incident: String,
    pub runbook: String,
    pub runbook_url: String,
    pub target: String,
    pub state: String,
    pub dry_run: bool,
    pub source: String,
    pub group_key: String,
    pub alert: TriggerAlert,
    /// ms
    pub created: i64,
    pub updated: i64,
    #[serde(default)]
    pub finished: Option<i64>,
    #[serde(default)]
    pub guards: Vec<GuardDecision>,
    #[serde(default)]
    pub steps: Vec<StepRecord>,
    #[serde(default)]
    pub verification: Option<VerifyRecord>,
    #[serde(default)]
    pub approval: Option<Decision>,
    #[serde(default)]
    pub escalation: Option<EscalationRecord>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

impl Execution {
    /// A short text of what happened, for escalations and the CLI.
    pub fn summary(&self) -> String {
        let mut s = format!("runbook {} on {}: {}", self.runbook, self.target, self.state);
        if !self.error.is_empty() {
            s.push_str(&format!(" ({})", self.error));
        }
        for st in &self.steps {
            let how = match &st.skipped {
                Some(w) => format!("skipped: {w}"),
                None if st.ok => format!("ok: {}", st.summary),
                None => format!("FAILED: {}", st.summary),
            };
            s.push_str(&format!("\n- {} {} ({}) {how}", st.phase, st.name, st.kind));
        }
        if let Some(v) = &self.verification {
            s.push_str(&format!("\n- verify `{}`: {} after {} polls ({})", v.expr, if v.ok { "cleared" } else { "NOT cleared" }, v.polls, v.detail));
        }
        for g in self.guards.iter().filter(|g| !g.allowed) {
            s.push_str(&format!("\n- guard {} blocked: {}", g.guard, g.detail));
        }
        s
    }
}
