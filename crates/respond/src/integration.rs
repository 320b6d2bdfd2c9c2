//! The seam with the built-in Alertmanager: the `runbook` integration that
//! hands a notification to the responder, and escalation through the
//! Alertmanager's receivers.

use crate::engine::{BoxFuture, Escalator, Responder};
use crate::model::{Trigger, TriggerAlert};
use bongsu_alerting::alert::{fingerprint_hex, Alert};
use bongsu_alerting::dispatch::Alertmanager;
use bongsu_alerting::notify::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use bongsu_model::Labels;
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// One `runbook_configs` entry.
pub struct RunbookIntegration {
    responder: Responder,
    runbook: String,
    send_resolved: bool,
}

fn map(l: &Labels) -> BTreeMap<String, String> {
    l.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect()
}

impl Integration for RunbookIntegration {
    fn name(&self) -> &'static str {
        "runbook"
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, _cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let t = Trigger {
                runbook: self.runbook.clone(),
                source: format!("receiver/{}", n.receiver),
                receiver: n.receiver.clone(),
                group_key: n.group_key.clone(),
                group_labels: map(&n.group_labels),
                alerts: n
                    .alerts
                    .iter()
                    .map(|a| TriggerAlert {
                        labels: map(&a.labels),
                        annotations: map(&a.annotations),
                        starts_at: a.starts_at,
                        ends_at: a.ends_at,
                        generator_url: a.generator_url.clone(),
                        fingerprint: fingerprint_hex(a.fingerprint()),
                        firing: !a.resolved_at(n.now),
                    })
                    .collect(),
                external_url: n.external_url.clone(),
            };
            // The responder records the executions durably before this
            // returns; a store error is worth a retry (the ids make the
            // retry harmless), an unknown runbook is not.
            self.responder.submit(t).map(|_| ()).map_err(|e| {
                if e.starts_with("no runbook named") {
                    NotifyError::fatal(e)
                } else {
                    NotifyError::retry(e)
                }
            })
        })
    }
}

/// Builds the `runbook` integrations of a receiver; a runbook name that
/// is not loaded is an error naming the receiver.
pub fn integrations(responder: &Responder, r: &bongsu_alerting::config::Receiver) -> Result<Vec<Arc<dyn Integration>>, String> {
    let rbs = responder.runbooks();
    r.runbook_configs
        .iter()
        .map(|c| {
            if rbs.get(&c.runbook).is_none() {
                return Err(format!("receiver {:?}: runbook_configs: no runbook named {:?} in runbook_files", r.name.value, c.runbook));
            }
            Ok(Arc::new(RunbookIntegration { responder: responder.clone(), runbook: c.runbook.clone(), send_resolved: c.send_resolved }) as Arc<dyn Integration>)
        })
        .collect()
}

/// Escalations and `notify` steps through the built-in Alertmanager's
/// receivers (held weakly: the Alertmanager owns the responder's integrations).
pub struct AlertmanagerEscalator(pub Weak<Alertmanager>);

impl Escalator for AlertmanagerEscalator {
    fn notify<'a>(&'a self, receiver: &'a str, group_key: &'a str, alerts: Vec<TriggerAlert>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let am = self.0.upgrade().ok_or("the Alertmanager has stopped")?;
            let lab = |m: &BTreeMap<String, String>| -> Labels { Labels::from_pairs(m.iter().map(|(k, v)| (k.as_str(), v.as_str()))) };
            let alerts: Vec<Alert> = alerts
                .iter()
                .map(|a| Alert {
                    labels: lab(&a.labels),
                    annotations: lab(&a.annotations),
                    starts_at: a.starts_at,
                    ends_at: 0,
                    generator_url: a.generator_url.clone(),
                    updated_at: 0,
                    timeout: false,
                })
                .collect();
            let gl = alerts.first().map(|a| a.labels.clone()).unwrap_or_default();
            am.notify_receiver(receiver, group_key, gl, alerts, Duration::from_secs(60)).await
        })
    }

    fn firing(&self, fingerprint: &str) -> Option<bool> {
        let fp = u64::from_str_radix(fingerprint, 16).ok()?;
        self.0.upgrade()?.alert_firing(fp)
    }
}
