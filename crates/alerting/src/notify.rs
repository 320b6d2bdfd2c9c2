//! Delivering a notification to one integration (a `*_configs` entry of a
//! receiver): the [`Integration`] trait, the template data every
//! integration renders from, and the integrations themselves (one module
//! each). [`build_integrations`] turns a receiver's configuration into
//! integrations; a kind Bongsu cannot deliver yet is refused there, at load,
//! never dropped silently.

use crate::alert::{fingerprint_hex, Alert};
use crate::config::Receiver;
use bongsu_model::Labels;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub mod common;
pub mod discord;
pub mod email;
pub mod incidentio;
pub mod jira;
pub mod mattermost;
pub mod msteams;
pub mod msteamsv2;
pub mod opsgenie;
pub mod pagerduty;
pub mod pushover;
pub mod rocketchat;
pub mod slack;
pub mod sns;
pub mod telegram;
pub mod victorops;
pub mod webex;
pub mod webhook;
pub mod wechat;

/// One notification for one integration: a group's alerts at a moment.
#[derive(Debug, Clone)]
pub struct Notification {
    pub receiver: String,
    pub group_key: String,
    pub group_labels: Labels,
    /// Firing and (if the integration sends them) resolved alerts.
    pub alerts: Vec<Alert>,
    /// ms
    pub now: i64,
    pub external_url: String,
    /// The route's `labels` (templates), for `routeLabels`.
    pub route_labels: BTreeMap<String, String>,
}

impl Notification {
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| !a.resolved_at(self.now))
    }

    /// `firing` when any alert fires, else `resolved`.
    pub fn status(&self) -> &'static str {
        if self.firing().next().is_some() {
            "firing"
        } else {
            "resolved"
        }
    }

    /// Alertmanager's template data for this notification.
    pub fn template_data(&self) -> bongsu_template::NotificationData {
        let map = |l: &Labels| l.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect::<BTreeMap<_, _>>();
        let common = |f: &dyn Fn(&Alert) -> BTreeMap<String, String>| -> BTreeMap<String, String> {
            let mut it = self.alerts.iter().map(f);
            let Some(mut acc) = it.next() else { return BTreeMap::new() };
            for m in it {
                acc.retain(|k, v| m.get(k) == Some(v));
            }
            acc
        };
        bongsu_template::NotificationData {
            receiver: self.receiver.clone(),
            status: self.status().to_string(),
            alerts: self
                .alerts
                .iter()
                .map(|a| bongsu_template::AlertData {
                    status: if a.resolved_at(self.now) { "resolved" } else { "firing" }.to_string(),
                    labels: map(&a.labels),
                    annotations: map(&a.annotations),
                    starts_at: system_time(a.starts_at),
                    ends_at: system_time(a.ends_at),
                    generator_url: a.generator_url.clone(),
                    fingerprint: fingerprint_hex(a.fingerprint()),
                })
                .collect(),
            group_labels: map(&self.group_labels),
            common_labels: common(&|a| map(&a.labels)),
            common_annotations: common(&|a| map(&a.annotations)),
            external_url: self.external_url.clone(),
            notification_reason: String::new(),
            route_labels: self.route_labels.clone(),
        }
    }
}

fn system_time(ms: i64) -> SystemTime {
    if ms == 0 {
        return bongsu_template::go_zero_time();
    }
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// Why a delivery failed, and whether trying again can help (a 5xx or a
/// network error can; a 4xx or a template error cannot).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct NotifyError {
    pub retry: bool,
    pub message: String,
}

impl NotifyError {
    pub fn retry(m: impl Into<String>) -> Self {
        NotifyError { retry: true, message: m.into() }
    }
    pub fn fatal(m: impl Into<String>) -> Self {
        NotifyError { retry: false, message: m.into() }
    }
    /// From an HTTP status: 5xx and 429 are retried.
    pub fn from_status(status: reqwest::StatusCode, body: &str) -> Self {
        let retry = status.is_server_error() || status.as_u16() == 429;
        NotifyError { retry, message: format!("unexpected status code {}: {}", status.as_u16(), body.trim()) }
    }
}

/// What integrations share: templates and the external URL.
pub struct NotifyContext {
    pub templates: Arc<bongsu_template::Templates>,
}

pub type NotifyFuture<'a> = Pin<Box<dyn Future<Output = Result<(), NotifyError>> + Send + 'a>>;

/// One way of delivering notifications.
pub trait Integration: Send + Sync {
    /// `webhook`, `email`, … (Alertmanager's integration names).
    fn name(&self) -> &'static str;
    /// Whether resolved alerts are sent.
    fn send_resolved(&self) -> bool;
    /// Delivers one notification.
    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a>;
}

/// The integrations of a receiver, in Alertmanager's order, or why one
/// cannot be built. Every kind of Alertmanager 0.34 delivers; an option
/// Bongsu cannot honour yet is refused here, at load, with "not supported
/// yet" (SNS `sigv4.profile`/`role_arn`, an SMTP client certificate).
pub fn build_integrations(r: &Receiver) -> Result<Vec<Arc<dyn Integration>>, String> {
    fn add<C, I: Integration + 'static>(
        out: &mut Vec<Arc<dyn Integration>>,
        cs: &[C],
        new: impl Fn(&C) -> Result<I, String>,
    ) -> Result<(), String> {
        for c in cs {
            out.push(Arc::new(new(c)?));
        }
        Ok(())
    }
    let mut out: Vec<Arc<dyn Integration>> = Vec::new();
    let build = |o: &mut Vec<Arc<dyn Integration>>| -> Result<(), String> {
        add(o, &r.webhook_configs, webhook::Webhook::new)?;
        add(o, &r.email_configs, email::Email::new)?;
        add(o, &r.pagerduty_configs, pagerduty::PagerDuty::new)?;
        add(o, &r.opsgenie_configs, opsgenie::OpsGenie::new)?;
        add(o, &r.wechat_configs, wechat::Wechat::new)?;
        add(o, &r.slack_configs, slack::Slack::new)?;
        add(o, &r.victorops_configs, victorops::VictorOps::new)?;
        add(o, &r.pushover_configs, pushover::Pushover::new)?;
        add(o, &r.sns_configs, sns::Sns::new)?;
        add(o, &r.telegram_configs, telegram::Telegram::new)?;
        add(o, &r.discord_configs, discord::Discord::new)?;
        add(o, &r.webex_configs, webex::Webex::new)?;
        add(o, &r.msteams_configs, msteams::MsTeams::new)?;
        add(o, &r.msteamsv2_configs, msteamsv2::MsTeamsV2::new)?;
        add(o, &r.jira_configs, jira::Jira::new)?;
        add(o, &r.incidentio_configs, incidentio::Incidentio::new)?;
        add(o, &r.rocketchat_configs, rocketchat::Rocketchat::new)?;
        add(o, &r.mattermost_configs, mattermost::Mattermost::new)?;
        Ok(())
    };
    build(&mut out).map_err(|e| format!("receiver {:?}: {e}", r.name.value))?;
    Ok(out)
}
