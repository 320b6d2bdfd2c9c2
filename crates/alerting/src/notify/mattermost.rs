//! Mattermost (`notify/mattermost`): an incoming-webhook message with one
//! attachment built from the top-level fields, or the configured
//! `attachments` (then `text` is the message's own text). Text is cut at
//! 16383 characters; a priority is normalised as Alertmanager does.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::{MattermostConfig, MattermostField};
use serde_json::{json, Map, Value};

const MAX_TEXT_LEN_RUNES: usize = 16383;

pub struct Mattermost {
    conf: MattermostConfig,
    http: common::Http,
}

fn put(m: &mut Map<String, Value>, k: &str, v: String) {
    if !v.is_empty() {
        m.insert(k.into(), json!(v));
    }
}

impl Mattermost {
    pub fn new(c: &MattermostConfig) -> Result<Mattermost, String> {
        Ok(Mattermost { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    fn fields(t: &Tmpl, fs: &[MattermostField]) -> Result<Vec<Value>, NotifyError> {
        fs.iter()
            .map(|f| {
                let mut o = Map::new();
                put(&mut o, "title", t.text(&f.title)?);
                put(&mut o, "value", t.text(&f.value)?);
                if let Some(s) = f.short {
                    o.insert("short".into(), json!(s));
                }
                Ok(Value::Object(o))
            })
            .collect()
    }

    /// The message for a notification.
    pub fn message(&self, t: &Tmpl) -> Result<Value, NotifyError> {
        let c = &self.conf;
        let text = t.text(&c.text)?;
        let mut req = Map::new();
        let mut attachments = Vec::new();
        let mut top_text = String::new();
        if c.attachments.is_empty() {
            let mut a = Map::new();
            put(&mut a, "fallback", t.text(&c.fallback)?);
            put(&mut a, "color", t.text(&c.color)?);
            put(&mut a, "pretext", t.text(&c.pretext)?);
            put(&mut a, "text", text);
            put(&mut a, "author_name", t.text(&c.author_name)?);
            put(&mut a, "author_link", t.text(&c.author_link)?);
            put(&mut a, "author_icon", t.text(&c.author_icon)?);
            put(&mut a, "title", t.text(&c.title)?);
            put(&mut a, "title_link", t.text(&c.title_link)?);
            if !c.fields.is_empty() {
                a.insert("fields".into(), Value::Array(Self::fields(t, &c.fields)?));
            }
            put(&mut a, "thumb_url", t.text(&c.thumb_url)?);
            put(&mut a, "footer", t.text(&c.footer)?);
            put(&mut a, "footer_icon", t.text(&c.footer_icon)?);
            put(&mut a, "image_url", t.text(&c.image_url)?);
            attachments.push(Value::Object(a));
        } else {
            for ca in &c.attachments {
                let mut a = Map::new();
                put(&mut a, "fallback", t.text(&ca.fallback)?);
                put(&mut a, "color", t.text(&ca.color)?);
                put(&mut a, "pretext", t.text(&ca.pretext)?);
                put(&mut a, "text", t.text(&ca.text)?);
                put(&mut a, "author_name", t.text(&ca.author_name)?);
                put(&mut a, "author_link", t.text(&ca.author_link)?);
                put(&mut a, "author_icon", t.text(&ca.author_icon)?);
                put(&mut a, "title", t.text(&ca.title)?);
                put(&mut a, "title_link", t.text(&ca.title_link)?);
                if !ca.fields.is_empty() {
                    a.insert("fields".into(), Value::Array(Self::fields(t, &ca.fields)?));
                }
                put(&mut a, "thumb_url", t.text(&ca.thumb_url)?);
                put(&mut a, "footer", t.text(&ca.footer)?);
                put(&mut a, "footer_icon", t.text(&ca.footer_icon)?);
                put(&mut a, "image_url", t.text(&ca.image_url)?);
                attachments.push(Value::Object(a));
            }
            top_text = text;
        }
        put(&mut req, "text", common::truncate_in_runes(&top_text, MAX_TEXT_LEN_RUNES).0);
        put(&mut req, "channel", t.text(&c.channel)?);
        put(&mut req, "username", t.text(&c.username)?);
        put(&mut req, "icon_url", t.text(&c.icon_url)?);
        put(&mut req, "icon_emoji", t.text(&c.icon_emoji)?);
        req.insert("attachments".into(), Value::Array(attachments));
        put(&mut req, "type", t.text(&c.kind)?);
        if let Some(p) = c.props.as_ref().filter(|p| !p.card.is_empty()) {
            req.insert("props".into(), json!({"card": t.text(&p.card)?}));
        }
        if let Some(p) = c.priority.as_ref().filter(|p| !p.priority.is_empty()) {
            let mut prio = t.text(&p.priority)?.to_lowercase();
            if !matches!(prio.as_str(), "urgent" | "important" | "standard") {
                prio = "standard".into();
            }
            let mut o = Map::new();
            let ack = p.requested_ack && prio != "standard";
            let persistent = p.persistent_notifications && prio == "urgent";
            o.insert("priority".into(), json!(prio));
            if ack {
                o.insert("requested_ack".into(), json!(true));
            }
            if persistent {
                o.insert("persistent_notifications".into(), json!(true));
            }
            req.insert("priority".into(), Value::Object(o));
        }
        Ok(Value::Object(req))
    }
}

impl Integration for Mattermost {
    fn name(&self) -> &'static str {
        "mattermost"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let url = match &self.conf.webhook_url {
                Some(u) => u.expose().to_string(),
                None => common::read_file_trimmed(&self.conf.webhook_url_file, "webhook_url_file")?,
            };
            if url.is_empty() {
                return Err(NotifyError::fatal("webhook url missing"));
            }
            let t = Tmpl::new(n, cx);
            let body = self.message(&t)?;
            let channel = body["channel"].as_str().unwrap_or("").to_string();
            common::post_json(&self.http, &url, &body, None)
                .await
                .map(|_| ())
                .map_err(|e| NotifyError { retry: e.retry, message: format!("channel {channel:?}: {}", e.message) })
        })
    }
}
