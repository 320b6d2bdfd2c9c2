//! Microsoft Teams through an Office 365 connector (`notify/msteams`): a
//! legacy `MessageCard` POSTed to the webhook URL.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyFuture};
use crate::receivers::MsTeamsConfig;
use serde_json::{json, Value};

pub struct MsTeams {
    conf: MsTeamsConfig,
    http: common::Http,
}

impl MsTeams {
    pub fn new(c: &MsTeamsConfig) -> Result<MsTeams, String> {
        Ok(MsTeams { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    /// The card for a notification.
    pub fn message(&self, n: &Notification, t: &Tmpl) -> Result<Value, super::NotifyError> {
        let color = if common::resolved(n) { "2DC72D" } else { "8C1A1A" };
        Ok(json!({
            "@context": "http://schema.org/extensions",
            "type": "MessageCard",
            "title": t.text(&self.conf.title)?,
            "summary": t.text(&self.conf.summary)?,
            "text": t.text(&self.conf.text)?,
            "themeColor": color,
        }))
    }
}

impl Integration for MsTeams {
    fn name(&self) -> &'static str {
        "msteams"
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
