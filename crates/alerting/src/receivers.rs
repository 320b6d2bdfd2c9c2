//! The integration configs of a receiver (`email_configs`, `slack_configs`,
//! …), with Alertmanager 0.34's fields, defaults and per-integration checks.
//! Defaults that are templates name Alertmanager's default templates
//! (`{{ template "slack.default.title" . }}`).
//!
//! `http_config` is `None` only while reading: after [`crate::Config::parse`]
//! every integration that has one carries its own or the global one.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::{
    Duration, GoDuration, HostPort, HttpConfig, Secret, SecretTemplateUrl, SecretUrl, TlsConfig,
    Url,
};

fn tmpl(name: &str) -> String {
    format!("{{{{ template \"{name}\" . }}}}")
}

/// Does the text use Go template syntax? (Alertmanager parses it; we only
/// look for the delimiters, the template engine checks the rest.)
fn is_templated(s: &str) -> bool {
    s.contains("{{")
}

macro_rules! validated {
    ($($t:ty),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let mut v = <$t>::deserialize(d)?;
                v.check().map_err(D::Error::custom)?;
                Ok(v)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }
    )*};
}

fn at_most_one(a: bool, b: bool, an: &str, bn: &str) -> Result<(), String> {
    if a && b {
        return Err(format!("at most one of {an} & {bn} must be configured"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// email

/// `email_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct EmailConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub to: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hello: String,
    #[serde(skip_serializing_if = "HostPort::is_empty")]
    pub smarthost: HostPort,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_username: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub auth_password: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_password_file: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub auth_secret: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_secret_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_identity: String,
    /// Header names canonicalised (`x-foo` → `X-Foo`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub html: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_implicit_tls: Option<bool>,
    pub threading: ThreadingConfig,
}

/// Email threading (`threading:`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThreadingConfig {
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub enabled: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub thread_by_date: String,
}

/// Alertmanager's default subject, used when `headers` has no `Subject`.
pub const DEFAULT_EMAIL_SUBJECT: &str = "{{ template \"email.default.subject\" . }}";

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            send_resolved: false,
            to: String::new(),
            from: String::new(),
            hello: String::new(),
            smarthost: HostPort::default(),
            auth_username: String::new(),
            auth_password: Secret::default(),
            auth_password_file: String::new(),
            auth_secret: Secret::default(),
            auth_secret_file: String::new(),
            auth_identity: String::new(),
            headers: BTreeMap::new(),
            html: tmpl("email.default.html"),
            text: String::new(),
            require_tls: None,
            tls_config: None,
            force_implicit_tls: None,
            threading: ThreadingConfig::default(),
        }
    }
}

/// Go's `textproto.CanonicalMIMEHeaderKey`.
pub fn canonical_header_key(s: &str) -> String {
    let valid = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return s.to_string();
    }
    let mut upper = true;
    s.chars()
        .map(|c| {
            let o = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            o
        })
        .collect()
}

impl EmailConfig {
    fn check(&mut self) -> Result<(), String> {
        if self.to.is_empty() {
            return Err("missing to address in email config".into());
        }
        if let Some(t) = &self.tls_config {
            crate::config::check_tls(t)?;
        }
        let mut norm = BTreeMap::new();
        for (h, v) in &self.headers {
            let k = canonical_header_key(h);
            if norm.insert(k.clone(), v.clone()).is_some() {
                return Err(format!("duplicate header {k:?} in email config"));
            }
        }
        self.headers = norm;
        if self.threading.enabled {
            if self.headers.contains_key("References") {
                return Err("conflicting configuration: threading.enabled conflicts with custom References header".into());
            }
            if self.headers.contains_key("In-Reply-To") {
                return Err("conflicting configuration: threading.enabled conflicts with custom In-Reply-To header".into());
            }
            if !matches!(self.threading.thread_by_date.as_str(), "none" | "daily") {
                return Err("threading.thread_by_date must be either 'none' or 'daily'".into());
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// webhook

/// `runbook_configs` entry (Bongsu extension).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunbookConfig {
    /// Whether resolved notifications reach the responder (they close
    /// tickets and incidents; they never run a remediation step).
    pub send_resolved: bool,
    /// The runbook's name, from the files `runbook_files` lists.
    pub runbook: String,
}

impl Default for RunbookConfig {
    fn default() -> Self {
        RunbookConfig { send_resolved: true, runbook: String::new() }
    }
}

/// `webhook_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct WebhookConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    /// May be a template.
    #[serde(skip_serializing_if = "SecretTemplateUrl::is_empty")]
    pub url: SecretTemplateUrl,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url_file: String,
    /// 0 means all alerts.
    #[serde(skip_serializing_if = "crate::config::is_zero")]
    pub max_alerts: u64,
    /// 0 means no timeout beyond the notification's.
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub timeout: GoDuration,
    /// A custom payload (templated values), instead of Alertmanager's JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            send_resolved: true,
            http_config: None,
            url: SecretTemplateUrl::default(),
            url_file: String::new(),
            max_alerts: 0,
            timeout: GoDuration::default(),
            payload: None,
        }
    }
}

impl WebhookConfig {
    fn check(&mut self) -> Result<(), String> {
        let has_url = !self.url.0.is_empty();
        if !has_url && self.url_file.is_empty() {
            return Err("one of url or url_file must be configured".into());
        }
        at_most_one(has_url, !self.url_file.is_empty(), "url", "url_file")
    }
}

// ---------------------------------------------------------------------------
// slack

/// `slack_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct SlackConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<SecretUrl>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_url_file: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub app_token: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub app_token_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_url: Option<Url>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub color: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title_link: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pretext: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message_text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<SlackField>,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub short_fields: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub footer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fallback: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub callback_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_emoji: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub thumb_url: String,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub link_names: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mrkdwn_in: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<SlackAction>,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub update_message: bool,
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub timeout: GoDuration,
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            send_resolved: false,
            http_config: None,
            api_url: None,
            api_url_file: String::new(),
            app_token: Secret::default(),
            app_token_file: String::new(),
            app_url: None,
            channel: String::new(),
            username: tmpl("slack.default.username"),
            color: tmpl("slack.default.color"),
            title: tmpl("slack.default.title"),
            title_link: tmpl("slack.default.titlelink"),
            pretext: tmpl("slack.default.pretext"),
            text: tmpl("slack.default.text"),
            message_text: String::new(),
            fields: Vec::new(),
            short_fields: false,
            footer: tmpl("slack.default.footer"),
            fallback: tmpl("slack.default.fallback"),
            callback_id: tmpl("slack.default.callbackid"),
            icon_emoji: tmpl("slack.default.iconemoji"),
            icon_url: tmpl("slack.default.iconurl"),
            image_url: String::new(),
            thumb_url: String::new(),
            link_names: false,
            mrkdwn_in: Vec::new(),
            actions: Vec::new(),
            update_message: false,
            timeout: GoDuration::default(),
        }
    }
}

impl SlackConfig {
    fn check(&mut self) -> Result<(), String> {
        let has_url = self.api_url.is_some() || !self.api_url_file.is_empty();
        let has_token = !self.app_token.is_empty() || !self.app_token_file.is_empty();
        at_most_one(
            self.api_url.is_some(),
            !self.api_url_file.is_empty(),
            "api_url",
            "api_url_file",
        )?;
        at_most_one(
            !self.app_token.is_empty(),
            !self.app_token_file.is_empty(),
            "app_token",
            "app_token_file",
        )?;
        if has_url && has_token {
            return Err(
                "at most one of api_url/api_url_file & app_token/app_token_file must be configured"
                    .into(),
            );
        }
        if self.update_message {
            if let Some(u) = &self.api_url {
                if u.expose() != "https://slack.com/api/chat.postMessage" {
                    return Err("update_message can only be used with bot tokens. api_url must be set to https://slack.com/api/chat.postMessage".into());
                }
            }
        }
        Ok(())
    }
}

/// A Slack attachment field.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct SlackField {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short: Option<bool>,
}

impl SlackField {
    fn check(&mut self) -> Result<(), String> {
        if self.title.is_empty() {
            return Err("missing title in Slack field configuration".into());
        }
        if self.value.is_empty() {
            return Err("missing value in Slack field configuration".into());
        }
        Ok(())
    }
}

/// A Slack message action (button).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct SlackAction {
    #[serde(rename = "type")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub style: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(rename = "confirm")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<SlackConfirmationField>,
}

impl SlackAction {
    fn check(&mut self) -> Result<(), String> {
        if self.kind.is_empty() {
            return Err("missing type in Slack action configuration".into());
        }
        if self.text.is_empty() {
            return Err("missing text in Slack action configuration".into());
        }
        if !self.url.is_empty() {
            self.name.clear();
            self.value.clear();
            self.confirm = None;
        } else if self.name.is_empty() {
            return Err("missing name or url in Slack action configuration".into());
        }
        Ok(())
    }
}

/// A Slack action's confirmation dialog.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct SlackConfirmationField {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ok_text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dismiss_text: String,
}

impl SlackConfirmationField {
    fn check(&mut self) -> Result<(), String> {
        if self.text.is_empty() {
            return Err("missing text in Slack confirmation configuration".into());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// pagerduty

/// `pagerduty_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct PagerdutyConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub service_key: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_key_file: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub routing_key: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub routing_key_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<PagerdutyImage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<PagerdutyLink>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub severity: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub class: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub component: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub timeout: GoDuration,
}

/// A PagerDuty link.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerdutyLink {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub href: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// A PagerDuty image.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerdutyImage {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub src: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub href: String,
}

impl Default for PagerdutyConfig {
    fn default() -> Self {
        PagerdutyConfig {
            send_resolved: true,
            http_config: None,
            service_key: Secret::default(),
            service_key_file: String::new(),
            routing_key: Secret::default(),
            routing_key_file: String::new(),
            url: None,
            client: tmpl("pagerduty.default.client"),
            client_url: tmpl("pagerduty.default.clientURL"),
            description: "{{ template \"pagerduty.default.description\" .}}".into(),
            details: BTreeMap::new(),
            images: Vec::new(),
            links: Vec::new(),
            source: String::new(),
            severity: String::new(),
            class: String::new(),
            component: String::new(),
            group: String::new(),
            timeout: GoDuration::default(),
        }
    }
}

impl PagerdutyConfig {
    fn check(&mut self) -> Result<(), String> {
        if self.routing_key.is_empty()
            && self.service_key.is_empty()
            && self.routing_key_file.is_empty()
            && self.service_key_file.is_empty()
        {
            return Err("missing service or routing key in PagerDuty config".into());
        }
        at_most_one(
            !self.routing_key.is_empty(),
            !self.routing_key_file.is_empty(),
            "routing_key",
            "routing_key_file",
        )?;
        at_most_one(
            !self.service_key.is_empty(),
            !self.service_key_file.is_empty(),
            "service_key",
            "service_key_file",
        )?;
        if self.source.is_empty() {
            self.source = self.client.clone();
        }
        for (k, v) in [
            ("firing", "{{ .Alerts.Firing | toJson }}"),
            ("resolved", "{{ .Alerts.Resolved | toJson }}"),
            ("num_firing", "{{ .Alerts.Firing | len }}"),
            ("num_resolved", "{{ .Alerts.Resolved | len }}"),
        ] {
            self.details
                .entry(k.to_string())
                .or_insert_with(|| serde_json::Value::String(v.to_string()));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// opsgenie

/// `opsgenie_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct OpsGenieConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub api_key: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_key_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Url>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(deserialize_with = "crate::receivers::str_map")]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub entity: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub responders: Vec<OpsGenieResponder>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub actions: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tags: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub priority: String,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub update_alerts: bool,
}

/// An OpsGenie responder.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsGenieResponder {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(rename = "type")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

impl Default for OpsGenieConfig {
    fn default() -> Self {
        OpsGenieConfig {
            send_resolved: true,
            http_config: None,
            api_key: Secret::default(),
            api_key_file: String::new(),
            api_url: None,
            message: tmpl("opsgenie.default.message"),
            description: tmpl("opsgenie.default.description"),
            source: tmpl("opsgenie.default.source"),
            details: BTreeMap::new(),
            entity: String::new(),
            responders: Vec::new(),
            actions: String::new(),
            tags: String::new(),
            note: String::new(),
            priority: String::new(),
            update_alerts: false,
        }
    }
}

impl OpsGenieConfig {
    fn check(&mut self) -> Result<(), String> {
        at_most_one(
            !self.api_key.is_empty(),
            !self.api_key_file.is_empty(),
            "api_key",
            "api_key_file",
        )?;
        for r in &mut self.responders {
            let show = format!("{{{} {} {} {}}}", r.id, r.name, r.username, r.kind);
            if r.id.is_empty() && r.username.is_empty() && r.name.is_empty() {
                return Err(format!("opsGenieConfig responder {show} has to have at least one of id, username or name specified"));
            }
            if !is_templated(&r.kind) {
                r.kind = r.kind.to_lowercase();
                if !matches!(
                    r.kind.as_str(),
                    "team" | "teams" | "user" | "escalation" | "schedule"
                ) {
                    return Err(format!("opsGenieConfig responder {show} type does not match valid options ^(team|teams|user|escalation|schedule)$"));
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn str_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let m: Option<BTreeMap<String, Option<String>>> = Option::deserialize(d)?;
    Ok(m.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

// ---------------------------------------------------------------------------
// wechat

/// `wechat_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct WechatConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub api_secret: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_secret_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub corp_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Url>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub to_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub to_party: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub to_tag: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub agent_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message_type: String,
}

impl Default for WechatConfig {
    fn default() -> Self {
        WechatConfig {
            send_resolved: false,
            http_config: None,
            api_secret: Secret::default(),
            api_secret_file: String::new(),
            corp_id: String::new(),
            message: tmpl("wechat.default.message"),
            api_url: None,
            to_user: tmpl("wechat.default.to_user"),
            to_party: tmpl("wechat.default.to_party"),
            to_tag: tmpl("wechat.default.to_tag"),
            agent_id: tmpl("wechat.default.agent_id"),
            message_type: String::new(),
        }
    }
}

impl WechatConfig {
    fn check(&mut self) -> Result<(), String> {
        if self.message_type.is_empty() {
            self.message_type = "text".into();
        }
        if !matches!(self.message_type.as_str(), "text" | "markdown") {
            return Err(format!(
                "weChat message type {:?} does not match valid options ^(text|markdown)$",
                self.message_type
            ));
        }
        at_most_one(
            !self.api_secret.is_empty(),
            !self.api_secret_file.is_empty(),
            "api_secret",
            "api_secret_file",
        )
    }
}

// ---------------------------------------------------------------------------
// victorops

/// `victorops_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct VictorOpsConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub api_key: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_key_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Url>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub routing_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state_message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub entity_display_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub monitoring_tool: String,
    #[serde(deserialize_with = "crate::receivers::str_map")]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, String>,
}

impl Default for VictorOpsConfig {
    fn default() -> Self {
        VictorOpsConfig {
            send_resolved: true,
            http_config: None,
            api_key: Secret::default(),
            api_key_file: String::new(),
            api_url: None,
            routing_key: String::new(),
            message_type: "CRITICAL".into(),
            state_message: tmpl("victorops.default.state_message"),
            entity_display_name: tmpl("victorops.default.entity_display_name"),
            monitoring_tool: tmpl("victorops.default.monitoring_tool"),
            custom_fields: BTreeMap::new(),
        }
    }
}

impl VictorOpsConfig {
    fn check(&mut self) -> Result<(), String> {
        if self.routing_key.is_empty() {
            return Err("missing Routing key in VictorOps config".into());
        }
        at_most_one(
            !self.api_key.is_empty(),
            !self.api_key_file.is_empty(),
            "api_key",
            "api_key_file",
        )?;
        for f in [
            "routing_key",
            "message_type",
            "state_message",
            "entity_display_name",
            "monitoring_tool",
            "entity_id",
            "entity_state",
        ] {
            if self.custom_fields.contains_key(f) {
                return Err(format!("victorOps config contains custom field {f} which cannot be used as it conflicts with the fixed/static fields"));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// pushover

/// `pushover_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct PushoverConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub user_key: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user_key_file: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub token: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url_title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub device: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sound: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub priority: String,
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub retry: GoDuration,
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub expire: GoDuration,
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub ttl: GoDuration,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub html: bool,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub monospace: bool,
}

impl Default for PushoverConfig {
    fn default() -> Self {
        PushoverConfig {
            send_resolved: true,
            http_config: None,
            user_key: Secret::default(),
            user_key_file: String::new(),
            token: Secret::default(),
            token_file: String::new(),
            title: tmpl("pushover.default.title"),
            message: tmpl("pushover.default.message"),
            url: tmpl("pushover.default.url"),
            url_title: String::new(),
            device: String::new(),
            sound: String::new(),
            priority: "{{ if eq .Status \"firing\" }}2{{ else }}0{{ end }}".into(),
            retry: GoDuration(std::time::Duration::from_secs(60)),
            expire: GoDuration(std::time::Duration::from_secs(3600)),
            ttl: GoDuration::default(),
            html: false,
            monospace: false,
        }
    }
}

impl PushoverConfig {
    fn check(&mut self) -> Result<(), String> {
        if self.user_key.is_empty() && self.user_key_file.is_empty() {
            return Err("one of user_key or user_key_file must be configured".into());
        }
        at_most_one(
            !self.user_key.is_empty(),
            !self.user_key_file.is_empty(),
            "user_key",
            "user_key_file",
        )?;
        if self.token.is_empty() && self.token_file.is_empty() {
            return Err("one of token or token_file must be configured".into());
        }
        at_most_one(
            !self.token.is_empty(),
            !self.token_file.is_empty(),
            "token",
            "token_file",
        )?;
        at_most_one(self.html, self.monospace, "monospace", "html")
    }
}

// ---------------------------------------------------------------------------
// sns

/// `sns_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct SnsConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_url: String,
    pub sigv4: SigV4Config,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub topic_arn: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub phone_number: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target_arn: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(deserialize_with = "crate::receivers::str_map")]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub use_aws_http_client: bool,
}

/// AWS Signature V4 settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct SigV4Config {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub access_key: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub secret_key: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub profile: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub role_arn: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub external_id: String,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub use_fips_sts_endpoint: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_name: String,
}

impl SigV4Config {
    fn check(&mut self) -> Result<(), String> {
        if self.access_key.is_empty() != self.secret_key.is_empty() {
            return Err("must provide a AWS SigV4 Access key and Secret Key if credentials are specified in the SigV4 config".into());
        }
        Ok(())
    }
}

impl Default for SnsConfig {
    fn default() -> Self {
        SnsConfig {
            send_resolved: true,
            http_config: None,
            api_url: String::new(),
            sigv4: SigV4Config::default(),
            topic_arn: String::new(),
            phone_number: String::new(),
            target_arn: String::new(),
            subject: tmpl("sns.default.subject"),
            message: tmpl("sns.default.message"),
            attributes: BTreeMap::new(),
            use_aws_http_client: false,
        }
    }
}

impl SnsConfig {
    fn check(&mut self) -> Result<(), String> {
        // Alertmanager's condition, kept as is: an odd number of the three
        // targets being unset is an error.
        let (a, b, c) = (
            self.target_arn.is_empty(),
            self.topic_arn.is_empty(),
            self.phone_number.is_empty(),
        );
        if (a != b) != c {
            return Err(
                "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config"
                    .into(),
            );
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// telegram

/// `telegram_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct TelegramConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Url>,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub bot_token: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub bot_token_file: String,
    #[serde(skip_serializing_if = "crate::config::is_zero")]
    pub chat_id: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub chat_id_file: String,
    #[serde(skip_serializing_if = "crate::config::is_zero")]
    pub message_thread_id: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub disable_notifications: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub parse_mode: String,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            send_resolved: true,
            http_config: None,
            api_url: None,
            bot_token: Secret::default(),
            bot_token_file: String::new(),
            chat_id: 0,
            chat_id_file: String::new(),
            message_thread_id: 0,
            message: tmpl("telegram.default.message"),
            disable_notifications: false,
            parse_mode: "HTML".into(),
        }
    }
}

impl TelegramConfig {
    fn check(&mut self) -> Result<(), String> {
        at_most_one(
            !self.bot_token.is_empty(),
            !self.bot_token_file.is_empty(),
            "bot_token",
            "bot_token_file",
        )?;
        if self.chat_id == 0 && self.chat_id_file.is_empty() {
            return Err("missing chat_id or chat_id_file on telegram_config".into());
        }
        at_most_one(
            self.chat_id != 0,
            !self.chat_id_file.is_empty(),
            "chat_id",
            "chat_id_file",
        )?;
        if !matches!(
            self.parse_mode.as_str(),
            "" | "Markdown" | "MarkdownV2" | "HTML"
        ) {
            return Err("unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string".into());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// discord, msteams, msteamsv2, webex

/// `discord_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct DiscordConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<SecretUrl>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub webhook_url_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub avatar_url: String,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            send_resolved: true,
            http_config: None,
            webhook_url: None,
            webhook_url_file: String::new(),
            content: String::new(),
            title: tmpl("discord.default.title"),
            message: tmpl("discord.default.message"),
            username: String::new(),
            avatar_url: String::new(),
        }
    }
}

fn webhook_url_check(url: bool, file: bool) -> Result<(), String> {
    if !url && !file {
        return Err("one of webhook_url or webhook_url_file must be configured".into());
    }
    at_most_one(url, file, "webhook_url", "webhook_url_file")
}

impl DiscordConfig {
    fn check(&mut self) -> Result<(), String> {
        webhook_url_check(
            self.webhook_url.is_some(),
            !self.webhook_url_file.is_empty(),
        )
    }
}

/// `msteams_configs` entry (Office 365 connectors).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct MsTeamsConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<SecretUrl>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub webhook_url_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub summary: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
}

impl Default for MsTeamsConfig {
    fn default() -> Self {
        MsTeamsConfig {
            send_resolved: true,
            http_config: None,
            webhook_url: None,
            webhook_url_file: String::new(),
            title: tmpl("msteams.default.title"),
            summary: tmpl("msteams.default.summary"),
            text: tmpl("msteams.default.text"),
        }
    }
}

impl MsTeamsConfig {
    fn check(&mut self) -> Result<(), String> {
        webhook_url_check(
            self.webhook_url.is_some(),
            !self.webhook_url_file.is_empty(),
        )
    }
}

/// `msteamsv2_configs` entry (Power Automate / Flows).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct MsTeamsV2Config {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<SecretUrl>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub webhook_url_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
}

impl Default for MsTeamsV2Config {
    fn default() -> Self {
        MsTeamsV2Config {
            send_resolved: true,
            http_config: None,
            webhook_url: None,
            webhook_url_file: String::new(),
            title: tmpl("msteamsv2.default.title"),
            text: tmpl("msteamsv2.default.text"),
        }
    }
}

impl MsTeamsV2Config {
    fn check(&mut self) -> Result<(), String> {
        webhook_url_check(
            self.webhook_url.is_some(),
            !self.webhook_url_file.is_empty(),
        )
    }
}

/// `webex_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct WebexConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Url>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub room_id: String,
}

impl Default for WebexConfig {
    fn default() -> Self {
        WebexConfig {
            send_resolved: true,
            http_config: None,
            api_url: None,
            message: tmpl("webex.default.message"),
            room_id: String::new(),
        }
    }
}

impl WebexConfig {
    fn check(&mut self) -> Result<(), String> {
        if self.room_id.is_empty() {
            return Err("missing room_id on webex_config".into());
        }
        let has_auth = self
            .http_config
            .as_ref()
            .is_some_and(|h| h.authorization.is_some());
        if !has_auth {
            return Err("missing webex_configs.http_config.authorization".into());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// jira

/// `jira_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct JiraConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Url>,
    /// `auto`, `cloud` or `datacenter`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    pub summary: JiraFieldConfig,
    pub description: JiraFieldConfig,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub priority: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issue_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reopen_transition: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resolve_transition: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub wont_fix_resolution: String,
    pub reopen_duration: Duration,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// A Jira text field: a template string, or `{template, enable_update}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JiraFieldConfig {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub template: String,
    /// Update the field on existing issues (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_update: Option<bool>,
}

impl JiraFieldConfig {
    pub fn enable_update(&self) -> bool {
        self.enable_update.unwrap_or(true)
    }
}

impl<'de> Deserialize<'de> for JiraFieldConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            #[serde(default)]
            template: String,
            #[serde(default)]
            enable_update: Option<bool>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            F(Full),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::S(template) => JiraFieldConfig {
                template,
                enable_update: None,
            },
            Raw::F(f) => JiraFieldConfig {
                template: f.template,
                enable_update: f.enable_update,
            },
        })
    }
}

impl Default for JiraConfig {
    fn default() -> Self {
        JiraConfig {
            send_resolved: true,
            http_config: None,
            api_url: None,
            api_type: "auto".into(),
            project: String::new(),
            summary: JiraFieldConfig {
                template: tmpl("jira.default.summary"),
                enable_update: None,
            },
            description: JiraFieldConfig {
                template: tmpl("jira.default.description"),
                enable_update: None,
            },
            labels: Vec::new(),
            priority: tmpl("jira.default.priority"),
            issue_type: String::new(),
            reopen_transition: String::new(),
            resolve_transition: String::new(),
            wont_fix_resolution: String::new(),
            reopen_duration: Duration::default(),
            fields: BTreeMap::new(),
        }
    }
}

impl JiraConfig {
    fn check(&mut self) -> Result<(), String> {
        if self.project.is_empty() {
            return Err("missing project in jira_config".into());
        }
        if self.issue_type.is_empty() {
            return Err("missing issue_type in jira_config".into());
        }
        if !matches!(self.api_type.as_str(), "auto" | "cloud" | "datacenter") {
            return Err(
                "unknown api_type on jira_config, must be auto, cloud or datacenter".into(),
            );
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// rocketchat

/// `rocketchat_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct RocketchatConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<Secret>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token_id_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub color: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title_link: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<RocketchatAttachmentField>,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub short_fields: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub emoji: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub thumb_url: String,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub link_names: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<RocketchatAttachmentAction>,
}

/// A Rocket.Chat attachment field (Alertmanager reads these keys in
/// lower case without underscores).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RocketchatAttachmentField {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short: Option<bool>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// A Rocket.Chat attachment action (keys as Alertmanager reads them:
/// lower case, no underscores).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RocketchatAttachmentAction {
    #[serde(rename = "type")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(rename = "imageurl")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_url: String,
    #[serde(rename = "iswebview")]
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub is_webview: bool,
    #[serde(rename = "webviewheightratio")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub webview_height_ratio: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub msg: String,
    #[serde(rename = "msginchatwindow")]
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub msg_in_chat_window: bool,
    #[serde(rename = "msgprocessingtype")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub msg_processing_type: String,
}

impl Default for RocketchatConfig {
    fn default() -> Self {
        RocketchatConfig {
            send_resolved: false,
            http_config: None,
            api_url: None,
            token_id: None,
            token_id_file: String::new(),
            token: None,
            token_file: String::new(),
            channel: String::new(),
            color: "{{ if eq .Status \"firing\" }}red{{ else }}green{{ end }}".into(),
            title: tmpl("rocketchat.default.title"),
            title_link: tmpl("rocketchat.default.titlelink"),
            text: tmpl("rocketchat.default.text"),
            fields: Vec::new(),
            short_fields: false,
            emoji: tmpl("rocketchat.default.emoji"),
            icon_url: tmpl("rocketchat.default.iconurl"),
            image_url: String::new(),
            thumb_url: String::new(),
            link_names: false,
            actions: Vec::new(),
        }
    }
}

impl RocketchatConfig {
    fn check(&mut self) -> Result<(), String> {
        at_most_one(
            self.token.is_some(),
            !self.token_file.is_empty(),
            "token",
            "token_file",
        )?;
        at_most_one(
            self.token_id.is_some(),
            !self.token_id_file.is_empty(),
            "token_id",
            "token_id_file",
        )
    }
}

// ---------------------------------------------------------------------------
// mattermost

/// `mattermost_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct MattermostConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<SecretUrl>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub webhook_url_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fallback: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub color: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pretext: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author_link: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author_icon: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title_link: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<MattermostField>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub thumb_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub footer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub footer_icon: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_emoji: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<MattermostAttachment>,
    #[serde(rename = "type")]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub props: Option<MattermostProps>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<MattermostPriority>,
}

/// A Mattermost field.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct MattermostField {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short: Option<bool>,
}

impl MattermostField {
    fn check(&mut self) -> Result<(), String> {
        if self.title.is_empty() {
            return Err("missing title in Mattermost field configuration".into());
        }
        if self.value.is_empty() {
            return Err("missing value in Mattermost field configuration".into());
        }
        Ok(())
    }
}

/// A Mattermost attachment.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MattermostAttachment {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fallback: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub color: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pretext: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author_link: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author_icon: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title_link: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<MattermostField>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub thumb_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub footer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub footer_icon: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_url: String,
}

/// Mattermost message props.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MattermostProps {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub card: String,
}

/// Mattermost message priority.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MattermostPriority {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub priority: String,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub requested_ack: bool,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub persistent_notifications: bool,
}

impl Default for MattermostConfig {
    fn default() -> Self {
        MattermostConfig {
            send_resolved: true,
            http_config: None,
            webhook_url: None,
            webhook_url_file: String::new(),
            channel: String::new(),
            username: tmpl("mattermost.default.username"),
            text: tmpl("mattermost.default.text"),
            fallback: tmpl("mattermost.default.fallback"),
            color: tmpl("mattermost.default.color"),
            pretext: String::new(),
            author_name: String::new(),
            author_link: String::new(),
            author_icon: String::new(),
            title: tmpl("mattermost.default.title"),
            title_link: tmpl("mattermost.default.titlelink"),
            fields: Vec::new(),
            thumb_url: String::new(),
            footer: String::new(),
            footer_icon: String::new(),
            image_url: String::new(),
            icon_url: String::new(),
            icon_emoji: String::new(),
            attachments: Vec::new(),
            kind: String::new(),
            props: None,
            priority: None,
        }
    }
}

impl MattermostConfig {
    fn check(&mut self) -> Result<(), String> {
        at_most_one(
            self.webhook_url.is_some(),
            !self.webhook_url_file.is_empty(),
            "webhook_url",
            "webhook_url_file",
        )
    }
}

// ---------------------------------------------------------------------------
// incident.io

/// `incidentio_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct IncidentioConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url_file: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub alert_source_token: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alert_source_token_file: String,
    #[serde(skip_serializing_if = "crate::config::is_zero")]
    pub max_alerts: u64,
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub timeout: GoDuration,
}

impl Default for IncidentioConfig {
    fn default() -> Self {
        IncidentioConfig {
            send_resolved: true,
            http_config: None,
            url: None,
            url_file: String::new(),
            alert_source_token: Secret::default(),
            alert_source_token_file: String::new(),
            max_alerts: 0,
            timeout: GoDuration::default(),
        }
    }
}

impl IncidentioConfig {
    fn check(&mut self) -> Result<(), String> {
        if self.url.is_none() && self.url_file.is_empty() {
            return Err("one of url or url_file must be configured".into());
        }
        at_most_one(
            self.url.is_some(),
            !self.url_file.is_empty(),
            "url",
            "url_file",
        )?;
        let has_token =
            !self.alert_source_token.is_empty() || !self.alert_source_token_file.is_empty();
        at_most_one(
            !self.alert_source_token.is_empty(),
            !self.alert_source_token_file.is_empty(),
            "alert_source_token",
            "alert_source_token_file",
        )?;
        let auth = self.http_config.as_ref().map(|h| h.authorization.is_some());
        if auth == Some(true) && has_token {
            return Err("cannot specify alert_source_token or alert_source_token_file when using http_config.authorization".into());
        }
        if auth == Some(false) && !has_token {
            return Err("at least one of alert_source_token, alert_source_token_file or http_config.authorization must be configured".into());
        }
        Ok(())
    }
}

validated!(
    EmailConfig,
    WebhookConfig,
    SlackConfig,
    SlackField,
    SlackAction,
    SlackConfirmationField,
    PagerdutyConfig,
    OpsGenieConfig,
    WechatConfig,
    VictorOpsConfig,
    PushoverConfig,
    SnsConfig,
    SigV4Config,
    TelegramConfig,
    DiscordConfig,
    MsTeamsConfig,
    MsTeamsV2Config,
    WebexConfig,
    JiraConfig,
    RocketchatConfig,
    MattermostField,
    MattermostConfig,
    IncidentioConfig,
);
