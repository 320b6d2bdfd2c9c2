//! incident.io (`notify/incidentio`): Alertmanager's webhook message
//! (version "1") POSTed to the alert source URL with the alert source token
//! as bearer; over 512 KiB only the first alert is kept.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::IncidentioConfig;
use serde_json::{json, Value};

const MAX_PAYLOAD_SIZE: usize = 512 * 1024;

pub struct Incidentio {
    conf: IncidentioConfig,
    http: common::Http,
}

impl Incidentio {
    pub fn new(c: &IncidentioConfig) -> Result<Incidentio, String> {
        Ok(Incidentio { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    /// The message: Alertmanager's template data with version, group key
    /// and the number of alerts left out by `max_alerts`.
    pub fn message(&self, n: &Notification, t: &Tmpl) -> Value {
        let mut m = super::webhook::message(n, self.conf.max_alerts as usize);
        m["version"] = json!("1");
        m["notification_reason"] = json!(t.data.notification_reason);
        m["routeLabels"] = json!(t.data.route_labels);
        if m.to_string().len() > MAX_PAYLOAD_SIZE {
            if let Some(a) = m["alerts"].as_array_mut() {
                a.truncate(1);
            }
            tracing::warn!(integration = "incidentio", "truncated alerts: the payload exceeds 512 KiB");
        }
        m
    }
}

impl Integration for Incidentio {
    fn name(&self) -> &'static str {
        "incidentio"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let c = &self.conf;
            let t = Tmpl::new(n, cx);
            let body = self.message(n, &t);
            let url = match &c.url {
                Some(u) => u.as_str().to_string(),
                None => common::read_file_trimmed(&c.url_file, "url_file")?,
            };
            let token = common::secret_or_file(c.alert_source_token.expose(), &c.alert_source_token_file, "alert_source_token_file")?;
            let mut req = self.http.post(&url).await?.header(reqwest::header::CONTENT_TYPE, "application/json");
            if !token.is_empty() {
                req = req.header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"));
            }
            let (status, _, text) = common::send(req.body(body.to_string()), common::timeout(&c.timeout)).await?;
            if status.is_success() {
                return Ok(());
            }
            // incident.io's error body: message, error, errors.
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let mut parts: Vec<String> = Vec::new();
            for k in ["message", "error"] {
                if let Some(s) = v[k].as_str().filter(|s| !s.is_empty()) {
                    parts.push(s.to_string());
                }
            }
            if let Some(a) = v["errors"].as_array().filter(|a| !a.is_empty()) {
                parts.push(a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "));
            }
            let details = if parts.is_empty() { text } else { parts.join(": ") };
            Err(NotifyError::from_status(status, &details))
        })
    }
}
