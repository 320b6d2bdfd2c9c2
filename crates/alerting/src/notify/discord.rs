//! Discord (`notify/discord`): a webhook message with one embed (title,
//! description, red while firing / green once resolved).

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyFuture};
use crate::receivers::DiscordConfig;
use serde_json::{json, Value};

const MAX_TITLE_LEN_RUNES: usize = 256;
const MAX_DESCRIPTION_LEN_RUNES: usize = 4096;
const MAX_CONTENT_LEN_RUNES: usize = 2000;
const COLOR_RED: u32 = 0x992D22;
const COLOR_GREEN: u32 = 0x2ECC71;

pub struct Discord {
    conf: DiscordConfig,
    http: common::Http,
}

impl Discord {
    pub fn new(c: &DiscordConfig) -> Result<Discord, String> {
        Ok(Discord { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    /// The webhook message for a notification.
    pub fn message(&self, n: &Notification, t: &Tmpl) -> Result<Value, super::NotifyError> {
        let (title, _) = common::truncate_in_runes(&t.text(&self.conf.title)?, MAX_TITLE_LEN_RUNES);
        let (description, _) = common::truncate_in_runes(&t.text(&self.conf.message)?, MAX_DESCRIPTION_LEN_RUNES);
        let (content, _) = common::truncate_in_runes(&t.text(&self.conf.content)?, MAX_CONTENT_LEN_RUNES);
        let color = if common::resolved(n) { COLOR_GREEN } else { COLOR_RED };
        let mut m = json!({
            "content": content,
            "embeds": [{"title": title, "description": description, "color": color}],
        });
        if !self.conf.username.is_empty() {
            m["username"] = json!(self.conf.username);
        }
        if !self.conf.avatar_url.is_empty() {
            if url::Url::parse(&self.conf.avatar_url).is_ok() {
                m["avatar_url"] = json!(self.conf.avatar_url);
            } else {
                tracing::warn!(integration = "discord", "bad avatar url");
            }
        }
        Ok(m)
    }
}

impl Integration for Discord {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let t = Tmpl::new(n, cx);
            let body = self.message(n, &t)?;
            let url = match &self.conf.webhook_url {
                Some(u) => u.expose().to_string(),
                None => common::read_file_trimmed(&self.conf.webhook_url_file, "webhook_url_file")?,
            };
            common::post_json(&self.http, &url, &body, None).await.map(|_| ())
        })
    }
}
