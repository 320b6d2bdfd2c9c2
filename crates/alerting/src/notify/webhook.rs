//! The webhook integration: Alertmanager's JSON message (version 4) POSTed
//! to a URL (`notify/webhook`), or — with `payload:` — any JSON body whose
//! strings are templates, which makes it the generic templated HTTP
//! receiver for SMS gateways and ITSM tools (headers and auth come from
//! `http_config`).

use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::WebhookConfig;
use serde_json::{json, Map, Value};

pub struct Webhook {
    url: String,
    url_file: String,
    max_alerts: usize,
    send_resolved: bool,
    timeout: Option<std::time::Duration>,
    http: super::common::Http,
    /// A custom body: every string value is a template (SMS gateways, ITSM
    /// tools); `None` sends Alertmanager's message.
    payload: Option<serde_json::Value>,
}

impl Webhook {
    pub fn new(c: &WebhookConfig) -> Result<Webhook, String> {
        Ok(Webhook {
            url: c.url.0.expose().to_string(),
            url_file: c.url_file.clone(),
            max_alerts: c.max_alerts as usize,
            send_resolved: c.send_resolved,
            timeout: (!c.timeout.0.is_zero()).then_some(c.timeout.0),
            http: super::common::Http::new(&c.http_config)?,
            payload: c.payload.clone(),
        })
    }
}

/// Alertmanager's time JSON (Go `time.Time`: RFC3339Nano, zero time as such).
fn time_json(t: std::time::SystemTime) -> Value {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => json!(bongsu_model::timefmt::rfc3339_nano(d.as_secs() as i64, d.subsec_nanos())),
        Err(_) => json!("0001-01-01T00:00:00Z"),
    }
}

fn kv(m: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<_, _>>())
}

/// The webhook message for a notification (at most `max_alerts` alerts; 0 = all).
pub fn message(n: &Notification, max_alerts: usize) -> Value {
    let d = n.template_data();
    let total = d.alerts.len();
    let keep = if max_alerts > 0 { max_alerts.min(total) } else { total };
    let alerts: Vec<Value> = d.alerts[..keep]
        .iter()
        .map(|a| {
            json!({
                "status": a.status,
                "labels": kv(&a.labels),
                "annotations": kv(&a.annotations),
                "startsAt": time_json(a.starts_at),
                "endsAt": time_json(a.ends_at),
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint,
            })
        })
        .collect();
    json!({
        "receiver": d.receiver,
        "status": d.status,
        "alerts": alerts,
        "groupLabels": kv(&d.group_labels),
        "commonLabels": kv(&d.common_labels),
        "commonAnnotations": kv(&d.common_annotations),
        "externalURL": d.external_url,
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": total - keep,
    })
}

impl Integration for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let mut url = if self.url_file.is_empty() {
                self.url.clone()
            } else {
                std::fs::read_to_string(&self.url_file)
                    .map_err(|e| NotifyError::fatal(format!("reading url_file {}: {e}", self.url_file)))?
                    .trim()
                    .to_string()
            };
            if url.contains("{{") {
                url = cx
                    .templates
                    .execute_text(&url, &n.template_data())
                    .map_err(|e| NotifyError::fatal(format!("templating the webhook URL: {e}")))?;
            }
            let body = match &self.payload {
                // A template error fails this notification visibly (recorded, not retried).
                Some(p) => super::common::Tmpl::new(n, cx).deep(p)?,
                None => message(n, self.max_alerts),
            };
            // http_config's authentication and headers apply (basic auth, bearer, OAuth2).
            super::common::post_json(&self.http, &url, &body, self.timeout).await.map(|_| ())
        })
    }
}
