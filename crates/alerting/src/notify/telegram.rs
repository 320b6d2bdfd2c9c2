//! Telegram (`notify/telegram`): `sendMessage` of the Bot API
//! (`{api_url}/bot{token}/sendMessage`), with the parameters as telebot
//! sends them (JSON strings). With `parse_mode: HTML` the message is
//! rendered with HTML escaping and, when longer than Telegram allows,
//! replaced by a notice (cutting HTML would break its tags); otherwise it
//! is truncated to 4096 characters.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::TelegramConfig;
use serde_json::{json, Map, Value};

const MAX_MESSAGE_LEN_RUNES: usize = 4096;
const TOO_LONG: &str = "Alertmanager notification could not be sent: message length exceeds Telegram limits.\n\t\t\tPlease check the template used for producing the message content.";

pub struct Telegram {
    conf: TelegramConfig,
    http: common::Http,
}

impl Telegram {
    pub fn new(c: &TelegramConfig) -> Result<Telegram, String> {
        Ok(Telegram { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    fn chat_id(&self) -> Result<i64, NotifyError> {
        if self.conf.chat_id_file.is_empty() {
            return Ok(self.conf.chat_id);
        }
        let s = common::read_file_trimmed(&self.conf.chat_id_file, "chat_id_file")?;
        s.parse().map_err(|e| NotifyError::fatal(format!("could not parse chat_id from {}: {e}", self.conf.chat_id_file)))
    }

    /// The `sendMessage` parameters for a notification.
    pub fn message(&self, t: &Tmpl) -> Result<Value, NotifyError> {
        let c = &self.conf;
        let text = if c.parse_mode == "HTML" {
            let m = t.html(&c.message)?;
            if m.chars().count() > MAX_MESSAGE_LEN_RUNES {
                TOO_LONG.to_string()
            } else {
                m
            }
        } else {
            common::truncate_in_runes(&t.text(&c.message)?, MAX_MESSAGE_LEN_RUNES).0
        };
        let mut p = Map::new();
        p.insert("chat_id".into(), json!(self.chat_id()?.to_string()));
        p.insert("text".into(), json!(text));
        p.insert("disable_web_page_preview".into(), json!("true"));
        if c.disable_notifications {
            p.insert("disable_notification".into(), json!("true"));
        }
        if !c.parse_mode.is_empty() {
            p.insert("parse_mode".into(), json!(c.parse_mode));
        }
        if c.message_thread_id != 0 {
            p.insert("message_thread_id".into(), json!(c.message_thread_id.to_string()));
        }
        Ok(Value::Object(p))
    }
}

/// The Bot API answers `{"ok":false,"error_code":N,"description":…}`.
fn check_answer(status: reqwest::StatusCode, body: &str) -> Result<(), NotifyError> {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if status.is_success() && v.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    let code = v.get("error_code").and_then(Value::as_u64).unwrap_or(status.as_u16() as u64);
    let desc = v.get("description").and_then(Value::as_str).unwrap_or(body);
    let retry = !(400..500).contains(&code) || code == 429;
    Err(NotifyError { retry, message: format!("telegram: {desc} ({code})") })
}

impl Integration for Telegram {
    fn name(&self) -> &'static str {
        "telegram"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let t = Tmpl::new(n, cx);
            let body = self.message(&t)?;
            let token = common::secret_or_file(self.conf.bot_token.expose(), &self.conf.bot_token_file, "bot_token_file")?;
            let base = self.conf.api_url.as_ref().map(|u| u.as_str()).unwrap_or("https://api.telegram.org");
            let url = format!("{base}/bot{token}/sendMessage");
            let req = self.http.post(&url).await?
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
            let (status, _, text) = common::send(req, None).await?;
            check_answer(status, &text)
        })
    }
}
