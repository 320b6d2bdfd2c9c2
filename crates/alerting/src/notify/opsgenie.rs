//! OpsGenie (`notify/opsgenie`): creates an alert (`POST v2/alerts`, alias =
//! SHA-256 of the group key) while any alert fires, closes it
//! (`POST v2/alerts/{alias}/close?identifierType=alias`) once all resolved;
//! with `update_alerts` also updates message and description.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::OpsGenieConfig;
use serde_json::{json, Map, Value};

const MAX_MESSAGE_LEN_RUNES: usize = 130;

pub struct OpsGenie {
    conf: OpsGenieConfig,
    http: common::Http,
}

/// One API call: method, URL, JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: reqwest::Method,
    pub url: String,
    pub body: Value,
}

fn safe_split(s: &str) -> Vec<String> {
    s.trim().split(',').filter(|x| !x.is_empty()).map(str::to_string).collect()
}

impl OpsGenie {
    pub fn new(c: &OpsGenieConfig) -> Result<OpsGenie, String> {
        Ok(OpsGenie { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    fn base(&self) -> String {
        self.conf.api_url.as_ref().map(|u| u.url().to_string()).unwrap_or_default()
    }

    fn alias_url(&self, alias: &str, what: &str) -> String {
        format!("{}v2/alerts/{alias}/{what}?identifierType=alias", self.base())
    }

    /// The calls for a notification, in order.
    pub fn calls(&self, n: &Notification, t: &Tmpl) -> Result<Vec<Call>, NotifyError> {
        let c = &self.conf;
        let alias = common::group_key_hash(&n.group_key);
        if common::resolved(n) {
            return Ok(vec![Call {
                method: reqwest::Method::POST,
                url: self.alias_url(&alias, "close"),
                body: json!({"source": t.text(&c.source)?}),
            }]);
        }
        let mut details: Map<String, Value> = t.data.common_labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        for (k, v) in &c.details {
            details.insert(k.clone(), json!(t.text(v)?));
        }
        let (message, _) = common::truncate_in_runes(&t.text(&c.message)?, MAX_MESSAGE_LEN_RUNES);
        let mut responders = Vec::new();
        for r in &c.responders {
            let (id, name, username, kind) = (t.text(&r.id)?, t.text(&r.name)?, t.text(&r.username)?, t.text(&r.kind)?);
            if id.is_empty() && name.is_empty() && username.is_empty() && kind.is_empty() {
                continue;
            }
            if kind == "teams" {
                for team in safe_split(&name) {
                    responders.push(json!({"name": t.text(&team)?, "type": "team"}));
                }
                continue;
            }
            let mut o = Map::new();
            for (k, v) in [("id", id), ("name", name), ("username", username)] {
                if !v.is_empty() {
                    o.insert(k.into(), json!(v));
                }
            }
            o.insert("type".into(), json!(kind));
            responders.push(Value::Object(o));
        }
        let description = t.text(&c.description)?;
        let mut m = Map::new();
        m.insert("alias".into(), json!(alias));
        m.insert("message".into(), json!(message));
        if !description.is_empty() {
            m.insert("description".into(), json!(description));
        }
        m.insert("details".into(), Value::Object(details));
        m.insert("source".into(), json!(t.text(&c.source)?));
        if !responders.is_empty() {
            m.insert("responders".into(), Value::Array(responders));
        }
        let tags = safe_split(&t.text(&c.tags)?);
        if !tags.is_empty() {
            m.insert("tags".into(), json!(tags));
        }
        for (k, v) in [("note", &c.note), ("priority", &c.priority), ("entity", &c.entity)] {
            let v = t.text(v)?;
            if !v.is_empty() {
                m.insert(k.into(), json!(v));
            }
        }
        let actions = safe_split(&t.text(&c.actions)?);
        if !actions.is_empty() {
            m.insert("actions".into(), json!(actions));
        }
        let mut calls = vec![Call { method: reqwest::Method::POST, url: format!("{}v2/alerts", self.base()), body: Value::Object(m) }];
        if c.update_alerts {
            let omit = |k: &str, v: &str| if v.is_empty() { json!({}) } else { json!({ k: v }) };
            calls.push(Call { method: reqwest::Method::PUT, url: self.alias_url(&alias, "message"), body: omit("message", &message) });
            calls.push(Call {
                method: reqwest::Method::PUT,
                url: self.alias_url(&alias, "description"),
                body: omit("description", &description),
            });
        }
        Ok(calls)
    }

    fn api_key(&self, t: &Tmpl) -> Result<String, NotifyError> {
        if !self.conf.api_key.is_empty() {
            return t.text(self.conf.api_key.expose());
        }
        let raw = std::fs::read_to_string(&self.conf.api_key_file)
            .map_err(|e| NotifyError::fatal(format!("read key_file error: {e}")))?;
        Ok(t.text(&raw)?.trim().to_string())
    }
}

impl Integration for OpsGenie {
    fn name(&self) -> &'static str {
        "opsgenie"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let t = Tmpl::new(n, cx);
            let calls = self.calls(n, &t)?;
            let key = self.api_key(&t)?;
            for call in calls {
                let req = self.http.request(call.method, &call.url).await?
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(reqwest::header::AUTHORIZATION, format!("GenieKey {key}"))
                    .body(call.body.to_string());
                let (status, _, body) = common::send(req, None).await?;
                common::check(status, &body)?;
            }
            Ok(())
        })
    }
}
