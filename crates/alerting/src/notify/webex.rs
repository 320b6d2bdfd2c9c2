//! Webex (`notify/webex`): a Markdown message to a room, POSTed to the
//! messages API with the `http_config.authorization` bot token.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyFuture};
use crate::receivers::WebexConfig;
use serde_json::{json, Value};

/// Webex's message size limit (bytes).
const MAX_MESSAGE_SIZE: usize = 7439;

pub struct Webex {
    conf: WebexConfig,
    http: common::Http,
}

impl Webex {
    pub fn new(c: &WebexConfig) -> Result<Webex, String> {
        Ok(Webex { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    /// The message for a notification.
    pub fn message(&self, t: &Tmpl) -> Result<Value, super::NotifyError> {
        let (markdown, _) = common::truncate_in_bytes(&t.text(&self.conf.message)?, MAX_MESSAGE_SIZE);
        let room = t.text(&self.conf.room_id)?;
        let mut m = json!({"markdown": markdown});
        if !room.is_empty() {
            m["roomId"] = json!(room);
        }
        Ok(m)
    }
}

impl Integration for Webex {
    fn name(&self) -> &'static str {
        "webex"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let t = Tmpl::new(n, cx);
            let body = self.message(&t)?;
            let url = self.conf.api_url.as_ref().map(|u| u.as_str().to_string()).unwrap_or_default();
            common::post_json(&self.http, &url, &body, None).await.map(|_| ())
        })
    }
}
