//! Rocket.Chat (`notify/rocketchat`): `POST {api_url}/api/v1/chat.postMessage`
//! with `X-Auth-Token` / `X-User-Id`, one attachment; Rocket.Chat answers
//! `{"success":false,…}` for errors, which is an error.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::RocketchatConfig;
use serde_json::{json, Map, Value};

const MAX_TITLE_LEN_RUNES: usize = 1024;

pub struct Rocketchat {
    conf: RocketchatConfig,
    http: common::Http,
}

fn put(m: &mut Map<String, Value>, k: &str, v: String) {
    if !v.is_empty() {
        m.insert(k.into(), json!(v));
    }
}

impl Rocketchat {
    pub fn new(c: &RocketchatConfig) -> Result<Rocketchat, String> {
        Ok(Rocketchat { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    /// The message for a notification.
    pub fn message(&self, t: &Tmpl) -> Result<Value, NotifyError> {
        let c = &self.conf;
        let mut att = Map::new();
        put(&mut att, "title", common::truncate_in_runes(&t.text(&c.title)?, MAX_TITLE_LEN_RUNES).0);
        put(&mut att, "title_link", t.text(&c.title_link)?);
        put(&mut att, "text", t.text(&c.text)?);
        put(&mut att, "image_url", t.text(&c.image_url)?);
        put(&mut att, "thumb_url", t.text(&c.thumb_url)?);
        put(&mut att, "color", t.text(&c.color)?);
        if !c.fields.is_empty() {
            let mut fields = Vec::new();
            for f in &c.fields {
                let mut o = Map::new();
                o.insert("short".into(), json!(f.short.unwrap_or(c.short_fields)));
                put(&mut o, "title", t.text(&f.title)?);
                put(&mut o, "value", t.text(&f.value)?);
                fields.push(Value::Object(o));
            }
            att.insert("fields".into(), Value::Array(fields));
        }
        if !c.actions.is_empty() {
            let mut actions = Vec::new();
            for a in &c.actions {
                // Only buttons, as in Alertmanager.
                let mut o = Map::new();
                o.insert("type".into(), json!("button"));
                put(&mut o, "text", t.text(&a.text)?);
                put(&mut o, "url", t.text(&a.url)?);
                o.insert("is_webview".into(), json!(false));
                put(&mut o, "msg", t.text(&a.msg)?);
                o.insert("msg_in_chat_window".into(), json!(false));
                actions.push(Value::Object(o));
            }
            att.insert("actions".into(), Value::Array(actions));
        }
        let mut m = Map::new();
        put(&mut m, "channel", t.text(&c.channel)?);
        put(&mut m, "emoji", t.text(&c.emoji)?);
        put(&mut m, "avatar", t.text(&c.icon_url)?);
        m.insert("attachments".into(), json!([Value::Object(att)]));
        Ok(Value::Object(m))
    }
}

impl Integration for Rocketchat {
    fn name(&self) -> &'static str {
        "rocketchat"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let c = &self.conf;
            let token = common::secret_or_file(c.token.as_ref().map(|s| s.expose()).unwrap_or(""), &c.token_file, "token_file")?;
            let token_id =
                common::secret_or_file(c.token_id.as_ref().map(|s| s.expose()).unwrap_or(""), &c.token_id_file, "token_id_file")?;
            let t = Tmpl::new(n, cx);
            let body = self.message(&t)?;
            let channel = body["channel"].as_str().unwrap_or("").to_string();
            let mut u = c.api_url.as_ref().map(|u| u.url().clone()).ok_or_else(|| NotifyError::fatal("no api_url"))?;
            let path = format!("{}/api/v1/chat.postMessage", u.path().trim_end_matches('/'));
            u.set_path(&path);
            let req = self
                .http
                .post(u.as_str())
                .await?
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("X-Auth-Token", token)
                .header("X-User-Id", token_id)
                .body(body.to_string());
            let (status, _, text) = common::send(req, None).await?;
            let ctx = |e: NotifyError| NotifyError { retry: e.retry, message: format!("channel {channel:?}: {}", e.message) };
            common::check(status, &text).map_err(ctx)?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| ctx(NotifyError::retry(format!("could not unmarshal JSON response {text:?}: {e}"))))?;
            if v["success"].as_bool() != Some(true) {
                let err = v["error"].as_str().unwrap_or("").to_string();
                return Err(ctx(NotifyError::fatal(format!("error response from Rocketchat: {err}"))));
            }
            Ok(())
        })
    }
}
