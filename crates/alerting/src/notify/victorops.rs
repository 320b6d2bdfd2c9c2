//! VictorOps / Splunk On-Call (`notify/victorops`): the REST endpoint
//! `{api_url}{api_key}/{routing_key}` with one flat JSON object per group
//! (`entity_id` = SHA-256 of the group key; `CRITICAL`/`WARNING`/`INFO`
//! while firing, `RECOVERY` once resolved).

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::VictorOpsConfig;
use serde_json::{json, Map, Value};

const MAX_MESSAGE_LEN_RUNES: usize = 20480;

pub struct VictorOps {
    conf: VictorOpsConfig,
    http: common::Http,
}

impl VictorOps {
    pub fn new(c: &VictorOpsConfig) -> Result<VictorOps, String> {
        Ok(VictorOps { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    /// The message for a notification.
    pub fn message(&self, n: &Notification, t: &Tmpl) -> Result<Value, NotifyError> {
        let c = &self.conf;
        let mut message_type = t.text(&c.message_type)?;
        if common::resolved(n) {
            message_type = "RECOVERY".into();
        } else if !matches!(message_type.as_str(), "INFO" | "WARNING" | "CRITICAL") {
            message_type = "CRITICAL".into();
        }
        let (state_message, _) = common::truncate_in_runes(&t.text(&c.state_message)?, MAX_MESSAGE_LEN_RUNES);
        let mut m = Map::new();
        m.insert("message_type".into(), json!(message_type));
        m.insert("entity_id".into(), json!(common::group_key_hash(&n.group_key)));
        m.insert("entity_display_name".into(), json!(t.text(&c.entity_display_name)?));
        m.insert("state_message".into(), json!(state_message));
        m.insert("monitoring_tool".into(), json!(t.text(&c.monitoring_tool)?));
        for (k, v) in &c.custom_fields {
            m.insert(k.clone(), json!(t.text(v)?));
        }
        Ok(Value::Object(m))
    }
}

impl Integration for VictorOps {
    fn name(&self) -> &'static str {
        "victorops"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let t = Tmpl::new(n, cx);
            let key = common::secret_or_file(self.conf.api_key.expose(), &self.conf.api_key_file, "api_key_file")?;
            let routing = t.text(&self.conf.routing_key)?;
            let base = self.conf.api_url.as_ref().map(|u| u.url().to_string()).unwrap_or_default();
            let url = format!("{base}{key}/{routing}");
            let body = self.message(n, &t)?;
            common::post_json(&self.http, &url, &body, None).await.map(|_| ())
        })
    }
}
