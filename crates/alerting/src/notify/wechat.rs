//! WeChat Work (`notify/wechat`): an access token from
//! `{api_url}gettoken?corpid=…&corpsecret=…` (kept for two hours, dropped
//! when WeChat answers 42001), then `POST {api_url}message/send` with a text
//! or markdown message. WeChat answers 200 with `errcode`; non-zero is an
//! error.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::WechatConfig;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TOKEN_LIFETIME: Duration = Duration::from_secs(2 * 3600);

pub struct Wechat {
    conf: WechatConfig,
    http: common::Http,
    token: parking_lot::Mutex<Option<(String, Instant)>>,
}

impl Wechat {
    pub fn new(c: &WechatConfig) -> Result<Wechat, String> {
        Ok(Wechat { conf: c.clone(), http: common::Http::new(&c.http_config)?, token: Default::default() })
    }

    fn base(&self) -> String {
        self.conf.api_url.as_ref().map(|u| u.url().to_string()).unwrap_or_default()
    }

    /// The message for a notification. Go's `omitempty` does not omit the
    /// struct-valued `text` and `markdown`, so both are always present.
    pub fn message(&self, t: &Tmpl) -> Result<Value, NotifyError> {
        let c = &self.conf;
        let content = t.text(&c.message)?;
        let (text, markdown) = if c.message_type == "markdown" { ("", content.as_str()) } else { (content.as_str(), "") };
        let mut m = json!({"text": {"content": text}, "markdown": {"content": markdown}, "safe": "0"});
        for (k, v) in [("touser", &c.to_user), ("toparty", &c.to_party), ("totag", &c.to_tag), ("agentid", &c.agent_id)] {
            let v = t.text(v)?;
            if !v.is_empty() {
                m[k] = json!(v);
            }
        }
        if !c.message_type.is_empty() {
            m["msgtype"] = json!(c.message_type);
        }
        Ok(m)
    }

    async fn access_token(&self, t: &Tmpl<'_>) -> Result<String, NotifyError> {
        if let Some((tok, at)) = self.token.lock().clone() {
            if at.elapsed() <= TOKEN_LIFETIME {
                return Ok(tok);
            }
        }
        let secret = common::secret_or_file(self.conf.api_secret.expose(), &self.conf.api_secret_file, "api_secret_file")?;
        let mut u = url::Url::parse(&format!("{}gettoken", self.base())).map_err(|e| NotifyError::fatal(e.to_string()))?;
        u.query_pairs_mut().append_pair("corpid", &t.text(&self.conf.corp_id)?).append_pair("corpsecret", &t.text(&secret)?);
        let (_, _, body) = common::send(self.http.request(reqwest::Method::GET, u.as_str()).await?, None).await?;
        let v: Value = serde_json::from_str(&body).map_err(|e| NotifyError::fatal(format!("gettoken answer: {e}")))?;
        let tok = v["access_token"].as_str().unwrap_or("").to_string();
        if tok.is_empty() {
            return Err(NotifyError::fatal(format!("invalid APISecret for CorpID: {}", self.conf.corp_id)));
        }
        *self.token.lock() = Some((tok.clone(), Instant::now()));
        Ok(tok)
    }
}

impl Integration for Wechat {
    fn name(&self) -> &'static str {
        "wechat"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let t = Tmpl::new(n, cx);
            let token = self.access_token(&t).await?;
            let body = self.message(&t)?;
            let mut u = url::Url::parse(&format!("{}message/send", self.base())).map_err(|e| NotifyError::fatal(e.to_string()))?;
            u.query_pairs_mut().append_pair("access_token", &token);
            let req = self.http.post(u.as_str()).await?.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
            let (status, _, text) = common::send(req, None).await?;
            if status.as_u16() != 200 {
                return Err(NotifyError::from_status(status, &text));
            }
            let v: Value = serde_json::from_str(&text).map_err(|e| NotifyError::retry(format!("answer {text:?}: {e}")))?;
            match v["errcode"].as_i64().unwrap_or(0) {
                0 => Ok(()),
                42001 => {
                    *self.token.lock() = None;
                    Err(NotifyError::retry(v["errmsg"].as_str().unwrap_or("access_token expired").to_string()))
                }
                _ => Err(NotifyError::fatal(v["errmsg"].as_str().unwrap_or("").to_string())),
            }
        })
    }
}
