//! What the HTTP integrations share (Alertmanager's `notify/util.go`):
//! truncation with `…`, the group key hash, secrets read from files,
//! templating with the first error kept, JSON posting and the status check
//! that decides retry from the status code.

use super::{Notification, NotifyContext, NotifyError};
use crate::config::HttpConfig;
use serde_json::Value;
use std::time::Duration;

const TRUNCATION_MARKER: &str = "…";

/// The `User-Agent` every integration sends.
pub const USER_AGENT: &str = concat!("Bongsu/", env!("CARGO_PKG_VERSION"));

/// `notify.TruncateInRunes`: at most `n` characters, the last one `…` when cut.
pub fn truncate_in_runes(s: &str, n: usize) -> (String, bool) {
    let count = s.chars().count();
    if count <= n {
        return (s.to_string(), false);
    }
    if n <= 3 {
        return (s.chars().take(n).collect(), true);
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push_str(TRUNCATION_MARKER);
    (out, true)
}

/// `notify.TruncateInBytes`: at most `n` bytes of UTF-8, never splitting a
/// character, ending in `…` (3 bytes) when cut.
pub fn truncate_in_bytes(s: &str, n: usize) -> (String, bool) {
    if s.len() <= n {
        return (s.to_string(), false);
    }
    if n <= 3 {
        return (if n == 3 { TRUNCATION_MARKER.to_string() } else { ".".repeat(n) }, true);
    }
    let target = n - 3;
    let mut end = target;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (format!("{}{TRUNCATION_MARKER}", &s[..end]), true)
}

/// `notify.Key.Hash`: the hex SHA-256 of the group key (PagerDuty's
/// `dedup_key`, OpsGenie's `alias`, Jira's `ALERT{…}` label).
pub fn group_key_hash(key: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A secret read from a file at notification time (so rotation needs no
/// reload), trimmed as Alertmanager trims it.
pub fn read_file_trimmed(path: &str, what: &str) -> Result<String, NotifyError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| NotifyError::fatal(format!("read {what} {path}: {e}")))
}

/// The inline secret, else the file's content.
pub fn secret_or_file(inline: &str, file: &str, what: &str) -> Result<String, NotifyError> {
    if !inline.is_empty() || file.is_empty() {
        Ok(inline.to_string())
    } else {
        read_file_trimmed(file, what)
    }
}

/// Renders a notification's templates: one data value, every field through
/// `text` (or `html`); a template error fails the notification (not retried).
pub struct Tmpl<'a> {
    cx: &'a NotifyContext,
    pub data: bongsu_template::NotificationData,
}

impl<'a> Tmpl<'a> {
    pub fn new(n: &Notification, cx: &'a NotifyContext) -> Tmpl<'a> {
        Tmpl { cx, data: n.template_data() }
    }
    pub fn text(&self, s: &str) -> Result<String, NotifyError> {
        self.cx
            .templates
            .execute_text(s, &self.data)
            .map_err(|e| NotifyError::fatal(format!("template {s:?}: {e}")))
    }
    pub fn html(&self, s: &str) -> Result<String, NotifyError> {
        self.cx
            .templates
            .execute_html(s, &self.data)
            .map_err(|e| NotifyError::fatal(format!("template {s:?}: {e}")))
    }

    /// `template.DeepCopyWithTemplate`: every string in a JSON value is a
    /// template; a rendered string that reads as YAML structure (a list, a
    /// map, a number, a boolean) becomes that structure.
    pub fn deep(&self, v: &Value) -> Result<Value, NotifyError> {
        Ok(match v {
            Value::String(s) => {
                let out = self.text(s)?;
                match serde_saphyr::from_str::<Value>(&out) {
                    Ok(Value::String(_)) | Err(_) => Value::String(out),
                    Ok(parsed) => parsed,
                }
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| self.deep(x)).collect::<Result<_, _>>()?),
            Value::Object(m) => Value::Object(
                m.iter().map(|(k, x)| Ok((k.clone(), self.deep(x)?))).collect::<Result<_, NotifyError>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// The HTTP client of an integration's `http_config` (the global one was
/// filled in at load), which also applies its authentication (basic auth,
/// `authorization`, bearer token, OAuth2 client credentials) and
/// `http_headers` to every request.
pub struct Http {
    pub client: reqwest::Client,
    cfg: bongsu_scrape::config::HttpClientConfig,
    oauth: bongsu_scrape::http::OAuth2Tokens,
}

impl Http {
    pub fn new(http: &Option<HttpConfig>) -> Result<Http, String> {
        let cfg = http.as_ref().map(|h| h.http_client()).unwrap_or_default();
        let client = bongsu_scrape::http::build_client(&cfg, false)?;
        Ok(Http { client, cfg, oauth: Default::default() })
    }

    pub async fn request(&self, method: reqwest::Method, url: &str) -> Result<reqwest::RequestBuilder, NotifyError> {
        let mut req = bongsu_scrape::http::apply_auth(self.client.request(method, url), &self.cfg)
            .map_err(NotifyError::fatal)?;
        if let Some(o) = &self.cfg.oauth2 {
            let tok = self.oauth.token(&self.client, o).await.map_err(NotifyError::retry)?;
            req = req.bearer_auth(tok);
        }
        Ok(req)
    }

    pub async fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, NotifyError> {
        self.request(reqwest::Method::POST, url).await
    }
}

/// Whether every alert of the notification has resolved.
pub fn resolved(n: &Notification) -> bool {
    n.status() == "resolved"
}

/// Sends a request and reads the answer; a transport error is retried.
pub async fn send(
    req: reqwest::RequestBuilder,
    timeout: Option<Duration>,
) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, String), NotifyError> {
    let mut req = req.header(reqwest::header::USER_AGENT, USER_AGENT);
    if let Some(t) = timeout {
        req = req.timeout(t);
    }
    let resp = req.send().await.map_err(|e| NotifyError::retry(redact(e)))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap_or_default();
    Ok((status, headers, body))
}

/// POSTs a JSON body; `Ok` on 2xx, else the status decides the retry
/// (5xx and 429 are retried, the rest is final).
pub async fn post_json(
    http: &Http,
    url: &str,
    body: &Value,
    timeout: Option<Duration>,
) -> Result<String, NotifyError> {
    let req = http
        .post(url)
        .await?
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    let (status, _, text) = send(req, timeout).await?;
    check(status, &text)?;
    Ok(text)
}

/// `notify.Retrier.Check` with 429 among the retried codes.
pub fn check(status: reqwest::StatusCode, body: &str) -> Result<(), NotifyError> {
    if status.is_success() {
        Ok(())
    } else {
        Err(NotifyError::from_status(status, body))
    }
}

/// A transport error without the URL (webhook URLs carry secrets).
fn redact(e: reqwest::Error) -> String {
    e.without_url().to_string()
}

/// `optional`: the timeout of a `timeout:` field (0 = none).
pub fn timeout(d: &crate::config::GoDuration) -> Option<Duration> {
    (!d.is_zero()).then_some(d.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_matches_alertmanager() {
        assert_eq!(truncate_in_runes("abcdef", 4), ("abc…".into(), true));
        assert_eq!(truncate_in_runes("abcdef", 6), ("abcdef".into(), false));
        assert_eq!(truncate_in_runes("abcdef", 3), ("abc".into(), true));
        assert_eq!(truncate_in_runes("äöüß", 3), ("äöü".into(), true));
        assert_eq!(truncate_in_bytes("abcdef", 5), ("ab…".into(), true));
        assert_eq!(truncate_in_bytes("aéé", 5), ("aéé".into(), false));
        assert_eq!(truncate_in_bytes("äöüß", 6), ("ä…".into(), true));
        assert_eq!(truncate_in_bytes("abcdef", 2), ("..".into(), true));
        assert_eq!(truncate_in_bytes("abcdef", 3), ("…".into(), true));
    }

    #[test]
    fn group_key_hash_is_sha256_hex() {
        assert_eq!(group_key_hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
