//! PagerDuty (`notify/pagerduty`): Events API v2 with a `routing_key`
//! (`trigger` while any alert fires, `resolve` once all resolved, one
//! incident per group: `dedup_key` is the SHA-256 of the group key), or the
//! v1 generic API with a `service_key`.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::PagerdutyConfig;
use serde_json::{json, Map, Value};

const MAX_EVENT_SIZE: usize = 512_000;
const MAX_V1_DESCRIPTION_LEN_RUNES: usize = 1024;
const MAX_V2_SUMMARY_LEN_RUNES: usize = 1024;
/// Alertmanager's fixed v1 endpoint (not configurable there either).
pub const V1_URL: &str = "https://events.pagerduty.com/generic/2010-04-15/create_event.json";

pub struct PagerDuty {
    conf: PagerdutyConfig,
    http: common::Http,
    /// `Some` with a service key: the v1 API.
    v1_url: Option<String>,
}

impl PagerDuty {
    pub fn new(c: &PagerdutyConfig) -> Result<PagerDuty, String> {
        let v1 = !c.service_key.is_empty() || !c.service_key_file.is_empty();
        Ok(PagerDuty {
            conf: c.clone(),
            http: common::Http::new(&c.http_config)?,
            v1_url: v1.then(|| V1_URL.to_string()),
        })
    }

    /// Sends v1 events elsewhere than PagerDuty's fixed endpoint (tests).
    pub fn with_v1_url(mut self, url: &str) -> Self {
        if self.v1_url.is_some() {
            self.v1_url = Some(url.to_string());
        }
        self
    }

    fn details(&self, t: &Tmpl) -> Result<Map<String, Value>, NotifyError> {
        self.conf.details.iter().map(|(k, v)| Ok((k.clone(), t.deep(v)?))).collect()
    }

    /// The event for a notification.
    pub fn message(&self, n: &Notification, t: &Tmpl) -> Result<Value, NotifyError> {
        let c = &self.conf;
        let event = if common::resolved(n) { "resolve" } else { "trigger" };
        let key = common::group_key_hash(&n.group_key);
        let details = self.details(t)?;
        if self.v1_url.is_some() {
            let (description, _) = common::truncate_in_runes(&t.text(&c.description)?, MAX_V1_DESCRIPTION_LEN_RUNES);
            let service_key = t.text(&common::secret_or_file(c.service_key.expose(), &c.service_key_file, "service_key_file")?)?;
            if service_key.is_empty() {
                return Err(NotifyError::fatal("service key cannot be empty"));
            }
            let mut m = Map::new();
            m.insert("service_key".into(), json!(service_key));
            m.insert("incident_key".into(), json!(key));
            m.insert("event_type".into(), json!(event));
            if !description.is_empty() {
                m.insert("description".into(), json!(description));
            }
            m.insert("event_action".into(), json!(""));
            m.insert("payload".into(), Value::Null);
            if event == "trigger" {
                let client = t.text(&c.client)?;
                let client_url = t.text(&c.client_url)?;
                if !client.is_empty() {
                    m.insert("client".into(), json!(client));
                }
                if !client_url.is_empty() {
                    m.insert("client_url".into(), json!(client_url));
                }
            }
            if !details.is_empty() {
                m.insert("details".into(), Value::Object(details));
            }
            return Ok(Value::Object(m));
        }
        let severity = if c.severity.is_empty() { "error" } else { &c.severity };
        let (summary, _) = common::truncate_in_runes(&t.text(&c.description)?, MAX_V2_SUMMARY_LEN_RUNES);
        let routing_key = t.text(&common::secret_or_file(c.routing_key.expose(), &c.routing_key_file, "routing_key_file")?)?;
        let mut payload = Map::new();
        payload.insert("summary".into(), json!(summary));
        payload.insert("source".into(), json!(t.text(&c.source)?));
        payload.insert("severity".into(), json!(t.text(severity)?));
        for (k, v) in [("class", &c.class), ("component", &c.component), ("group", &c.group)] {
            let v = t.text(v)?;
            if !v.is_empty() {
                payload.insert(k.into(), json!(v));
            }
        }
        if !details.is_empty() {
            payload.insert("custom_details".into(), Value::Object(details));
        }
        let mut images = Vec::new();
        for i in &c.images {
            let src = t.text(&i.src)?;
            let (alt, href) = (t.text(&i.alt)?, t.text(&i.href)?);
            if !src.is_empty() {
                images.push(json!({"src": src, "alt": alt, "href": href}));
            }
        }
        let mut links = Vec::new();
        for l in &c.links {
            let (href, text) = (t.text(&l.href)?, t.text(&l.text)?);
            if !href.is_empty() {
                links.push(json!({"href": href, "text": text}));
            }
        }
        if routing_key.is_empty() {
            return Err(NotifyError::fatal("routing key cannot be empty"));
        }
        let mut m = Map::new();
        m.insert("routing_key".into(), json!(routing_key));
        m.insert("dedup_key".into(), json!(key));
        m.insert("event_action".into(), json!(event));
        m.insert("payload".into(), Value::Object(payload));
        for (k, v) in [("client", t.text(&c.client)?), ("client_url", t.text(&c.client_url)?)] {
            if !v.is_empty() {
                m.insert(k.into(), json!(v));
            }
        }
        if !images.is_empty() {
            m.insert("images".into(), Value::Array(images));
        }
        if !links.is_empty() {
            m.insert("links".into(), Value::Array(links));
        }
        Ok(Value::Object(m))
    }

    /// Over PagerDuty's size limit the details are replaced by a note.
    fn fit(&self, mut msg: Value) -> Value {
        if msg.to_string().len() <= MAX_EVENT_SIZE {
            return msg;
        }
        let note = json!({"error": "Custom details have been removed because the original event exceeds the maximum size of 512kB"});
        if self.v1_url.is_some() {
            msg["details"] = note;
        } else {
            msg["payload"]["custom_details"] = note;
        }
        tracing::warn!(integration = "pagerduty", "truncated details: the event exceeds 512kB");
        msg
    }
}

/// PagerDuty's 400 body names what was wrong.
fn err_details(status: reqwest::StatusCode, body: &str) -> String {
    if status != reqwest::StatusCode::BAD_REQUEST {
        return body.to_string();
    }
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let msg = v.get("message").and_then(Value::as_str).unwrap_or("");
    let errs: Vec<&str> = v.get("errors").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    format!("{msg}: {}", errs.join(","))
}

impl Integration for PagerDuty {
    fn name(&self) -> &'static str {
        "pagerduty"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let t = Tmpl::new(n, cx);
            let msg = self.fit(self.message(n, &t)?);
            let url = match &self.v1_url {
                Some(u) => u.clone(),
                None => self.conf.url.as_ref().map(|u| u.as_str().to_string()).unwrap_or_default(),
            };
            let req = self.http.post(&url).await?
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(msg.to_string());
            let (status, _, body) = common::send(req, common::timeout(&self.conf.timeout)).await?;
            if status.is_success() {
                return Ok(());
            }
            // v1 also retries 403 (its rate limit).
            let retry = status.is_server_error()
                || status.as_u16() == 429
                || (self.v1_url.is_some() && status.as_u16() == 403);
            let details = err_details(status, &body);
            Err(NotifyError { retry, message: format!("unexpected status code {}: {}", status.as_u16(), details.trim()) })
        })
    }
}
