//! Slack (`notify/slack`): one message with one attachment, POSTed as JSON
//! to an incoming webhook (`api_url`, `api_url_file`) or, with an app token,
//! to `chat.postMessage` with `Authorization: Bearer` (set up at load).
//! Slack answers 200 with `{"ok":false,…}` for errors: that is an error.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::SlackConfig;
use serde_json::{json, Map, Value};

/// Slack's limit on an attachment title (runes).
const MAX_TITLE_LEN_RUNES: usize = 1024;

pub struct Slack {
    conf: SlackConfig,
    http: common::Http,
}

impl Slack {
    pub fn new(c: &SlackConfig) -> Result<Slack, String> {
        if c.update_message {
            // Updating needs the message's ts and channel kept per group in
            // the notification log, which Bongsu does not keep yet.
            tracing::warn!(
                integration = "slack",
                "update_message is not supported yet: each notification posts a new message"
            );
        }
        Ok(Slack { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    /// The request body for a notification (`request` in Alertmanager).
    pub fn message(&self, t: &Tmpl) -> Result<Value, NotifyError> {
        let c = &self.conf;
        let mrkdwn_in: Vec<String> = if c.mrkdwn_in.is_empty() {
            vec!["fallback".into(), "pretext".into(), "text".into()]
        } else {
            c.mrkdwn_in.clone()
        };
        let (title, _) = common::truncate_in_runes(&t.text(&c.title)?, MAX_TITLE_LEN_RUNES);
        let mut att = Map::new();
        let opt = |m: &mut Map<String, Value>, k: &str, v: String| {
            if !v.is_empty() {
                m.insert(k.into(), json!(v));
            }
        };
        opt(&mut att, "title", title);
        opt(&mut att, "title_link", t.text(&c.title_link)?);
        opt(&mut att, "pretext", t.text(&c.pretext)?);
        att.insert("text".into(), json!(t.text(&c.text)?));
        att.insert("fallback".into(), json!(t.text(&c.fallback)?));
        att.insert("callback_id".into(), json!(t.text(&c.callback_id)?));
        if !c.fields.is_empty() {
            let mut fields = Vec::new();
            for f in &c.fields {
                let mut o = Map::new();
                opt(&mut o, "title", t.text(&f.title)?);
                opt(&mut o, "value", t.text(&f.value)?);
                o.insert("short".into(), json!(f.short.unwrap_or(c.short_fields)));
                fields.push(Value::Object(o));
            }
            att.insert("fields".into(), Value::Array(fields));
        }
        if !c.actions.is_empty() {
            let mut actions = Vec::new();
            for a in &c.actions {
                let mut o = Map::new();
                opt(&mut o, "type", t.text(&a.kind)?);
                opt(&mut o, "text", t.text(&a.text)?);
                opt(&mut o, "url", t.text(&a.url)?);
                opt(&mut o, "style", t.text(&a.style)?);
                opt(&mut o, "name", t.text(&a.name)?);
                opt(&mut o, "value", t.text(&a.value)?);
                if let Some(cf) = &a.confirm {
                    let mut co = Map::new();
                    opt(&mut co, "text", t.text(&cf.text)?);
                    opt(&mut co, "title", t.text(&cf.title)?);
                    opt(&mut co, "ok_text", t.text(&cf.ok_text)?);
                    opt(&mut co, "dismiss_text", t.text(&cf.dismiss_text)?);
                    o.insert("confirm".into(), Value::Object(co));
                }
                actions.push(Value::Object(o));
            }
            att.insert("actions".into(), Value::Array(actions));
        }
        opt(&mut att, "image_url", t.text(&c.image_url)?);
        opt(&mut att, "thumb_url", t.text(&c.thumb_url)?);
        att.insert("footer".into(), json!(t.text(&c.footer)?));
        opt(&mut att, "color", t.text(&c.color)?);
        att.insert("mrkdwn_in".into(), json!(mrkdwn_in));

        let mut req = Map::new();
        opt(&mut req, "channel", t.text(&c.channel)?);
        opt(&mut req, "username", t.text(&c.username)?);
        opt(&mut req, "icon_emoji", t.text(&c.icon_emoji)?);
        opt(&mut req, "icon_url", t.text(&c.icon_url)?);
        if c.link_names {
            req.insert("link_names".into(), json!(true));
        }
        opt(&mut req, "text", t.text(&c.message_text)?);
        req.insert("attachments".into(), json!([Value::Object(att)]));
        Ok(Value::Object(req))
    }
}

/// Slack's answer: JSON (`chat.postMessage`: `ok` must be true) or the
/// plain text `ok` (incoming webhooks).
fn check_answer(content_type: &str, body: &str) -> Result<(), NotifyError> {
    if !content_type.starts_with("application/json") {
        if body == "ok" {
            return Ok(());
        }
        return Err(NotifyError::fatal(format!("received an error response from Slack: {body}")));
    }
    let v: Value = serde_json::from_str(body)
        .map_err(|e| NotifyError::retry(format!("could not unmarshal JSON response {body:?}: {e}")))?;
    if v.get("ok").and_then(Value::as_bool) != Some(true) {
        let err = v.get("error").and_then(Value::as_str).unwrap_or("");
        return Err(NotifyError::fatal(format!("error response from Slack: {err}")));
    }
    Ok(())
}

impl Integration for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let t = Tmpl::new(n, cx);
            let body = self.message(&t)?;
            let url = match &self.conf.api_url {
                Some(u) => u.expose().to_string(),
                None => common::read_file_trimmed(&self.conf.api_url_file, "api_url_file")?,
            };
            let channel = body.get("channel").and_then(Value::as_str).unwrap_or("").to_string();
            let req = self.http.post(&url).await?
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
            let (status, headers, text) = common::send(req, common::timeout(&self.conf.timeout)).await?;
            let ctx = |e: NotifyError| NotifyError { retry: e.retry, message: format!("channel {channel:?}: {}", e.message) };
            common::check(status, &text).map_err(ctx)?;
            let ct = headers.get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            check_answer(ct, &text).map_err(ctx)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert!(check_answer("text/html", "ok").is_ok());
        assert!(!check_answer("text/html", "invalid_token").unwrap_err().retry);
        assert!(check_answer("application/json; charset=utf-8", r#"{"ok":true}"#).is_ok());
        let e = check_answer("application/json", r#"{"ok":false,"error":"channel_not_found"}"#).unwrap_err();
        assert!(!e.retry);
        assert!(e.message.contains("channel_not_found"));
        assert!(check_answer("application/json", "{").unwrap_err().retry);
    }
}
