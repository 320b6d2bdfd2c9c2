//! Microsoft Teams through Power Automate / Flows (`notify/msteamsv2`): an
//! Adaptive Card (version 1.2) in a `message` POSTed to the flow's URL.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyFuture};
use crate::receivers::MsTeamsV2Config;
use serde_json::{json, Value};

pub struct MsTeamsV2 {
    conf: MsTeamsV2Config,
    http: common::Http,
}

impl MsTeamsV2 {
    pub fn new(c: &MsTeamsV2Config) -> Result<MsTeamsV2, String> {
        Ok(MsTeamsV2 { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    /// The message for a notification.
    pub fn message(&self, n: &Notification, t: &Tmpl) -> Result<Value, super::NotifyError> {
        let color = if common::resolved(n) { "Good" } else { "Attention" };
        let title = t.text(&self.conf.title)?;
        let text = t.text(&self.conf.text)?;
        let text_block = json!({"type": "TextBlock", "text": text, "wrap": true});
        Ok(json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.2",
                    "body": [
                        {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true, "style": "heading", "color": color},
                        text_block,
                    ],
                    "msteams": {"width": "full"},
                },
            }],
        }))
    }
}

impl Integration for MsTeamsV2 {
    fn name(&self) -> &'static str {
        "msteamsv2"
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
