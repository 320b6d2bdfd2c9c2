//! Amazon SNS (`notify/sns`): the `Publish` action of SNS' query API, signed
//! with AWS Signature Version 4, to `api_url` or
//! `https://sns.{region}.amazonaws.com/`. Credentials: `sigv4.access_key` /
//! `secret_key`, else `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
//! (/ `AWS_SESSION_TOKEN`); a `profile` or `role_arn` is refused at load
//! (not supported yet). FIFO topics get the group key hash as message group
//! and deduplication id; a message over the limit (256 KiB, 1600 bytes for
//! SMS) is cut and marked with the attribute `truncated=true`.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::SnsConfig;
use ring::{digest, hmac};

pub struct Sns {
    conf: SnsConfig,
    http: common::Http,
}

/// AWS credentials.
#[derive(Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

impl Sns {
    pub fn new(c: &SnsConfig) -> Result<Sns, String> {
        if !c.sigv4.profile.is_empty() || !c.sigv4.role_arn.is_empty() {
            return Err("sns_configs: sigv4.profile and sigv4.role_arn are not supported yet by Bongsu's Alertmanager (use access_key/secret_key or the AWS_* environment)".into());
        }
        Ok(Sns { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    fn credentials(&self) -> Result<Credentials, NotifyError> {
        let s = &self.conf.sigv4;
        if !s.access_key.is_empty() {
            return Ok(Credentials { access_key: s.access_key.clone(), secret_key: s.secret_key.expose().to_string(), session_token: None });
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(a), Some(sk)) => Ok(Credentials { access_key: a, secret_key: sk, session_token: env("AWS_SESSION_TOKEN") }),
            _ => Err(NotifyError::fatal("no AWS credentials: set sigv4.access_key/secret_key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")),
        }
    }

    fn region(&self) -> Result<String, NotifyError> {
        if !self.conf.sigv4.region.is_empty() {
            return Ok(self.conf.sigv4.region.clone());
        }
        ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
            .ok_or_else(|| NotifyError::fatal("region not configured in sns.sigv4.region or in default credentials chain"))
    }

    /// The `Publish` parameters, in the order they are sent.
    pub fn params(&self, n: &Notification, t: &Tmpl) -> Result<Vec<(String, String)>, NotifyError> {
        let c = &self.conf;
        let mut p: Vec<(String, String)> = vec![("Action".into(), "Publish".into()), ("Version".into(), "2010-03-31".into())];
        let mut attrs: Vec<(String, String)> =
            c.attributes.iter().map(|(k, v)| Ok((t.text(k)?, t.text(v)?))).collect::<Result<_, NotifyError>>()?;
        let mut limit = 256 * 1024;
        if !c.topic_arn.is_empty() {
            let arn = t.text(&c.topic_arn)?;
            if arn.ends_with(".fifo") {
                let h = common::group_key_hash(&n.group_key);
                p.push(("MessageDeduplicationId".into(), h.clone()));
                p.push(("MessageGroupId".into(), h));
            }
            p.push(("TopicArn".into(), arn));
        }
        if !c.phone_number.is_empty() {
            p.push(("PhoneNumber".into(), t.text(&c.phone_number)?));
            limit = 1600;
        }
        if !c.target_arn.is_empty() {
            p.push(("TargetArn".into(), t.text(&c.target_arn)?));
        }
        let mut message = t.text(&c.message)?;
        if message.len() > limit {
            let mut end = limit;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            attrs.retain(|(k, _)| k != "truncated");
            attrs.push(("truncated".into(), "true".into()));
        }
        p.push(("Message".into(), message));
        attrs.sort();
        for (i, (k, v)) in attrs.into_iter().enumerate() {
            let e = format!("MessageAttributes.entry.{}", i + 1);
            p.push((format!("{e}.Name"), k));
            p.push((format!("{e}.Value.DataType"), "String".into()));
            p.push((format!("{e}.Value.StringValue"), v));
        }
        if !c.subject.is_empty() {
            p.push(("Subject".into(), t.text(&c.subject)?));
        }
        Ok(p)
    }
}

/// RFC 3986 percent-encoding (AWS' query encoding: only unreserved kept).
pub fn aws_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes()).as_ref().to_vec()
}

/// AWS Signature Version 4 for a POST with `content-type`, `host` and
/// `x-amz-date` (and `x-amz-security-token`) signed: the `Authorization`
/// header value.
#[allow(clippy::too_many_arguments)] // the request's parts, named
pub fn sign_v4(
    creds: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
    host: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> String {
    let date = &amz_date[..8];
    let mut headers = vec![("content-type", content_type.to_string()), ("host", host.to_string()), ("x-amz-date", amz_date.to_string())];
    if let Some(t) = &creds.session_token {
        headers.push(("x-amz-security-token", t.clone()));
    }
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{}\n", v.trim())).collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
    let signed = signed.join(";");
    let canonical = format!(
        "POST\n{}\n\n{canonical_headers}\n{signed}\n{}",
        if path.is_empty() { "/" } else { path },
        hex(digest::digest(&digest::SHA256, body.as_bytes()).as_ref())
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref()));
    let mut k = hmac_sha256(format!("AWS4{}", creds.secret_key).as_bytes(), date);
    for part in [region, service, "aws4_request"] {
        k = hmac_sha256(&k, part);
    }
    let sig = hex(&hmac_sha256(&k, &to_sign));
    format!("AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={sig}", creds.access_key)
}

const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

impl Integration for Sns {
    fn name(&self) -> &'static str {
        "sns"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let t = Tmpl::new(n, cx);
            let region = self.region()?;
            let creds = self.credentials()?;
            let api = t.text(&self.conf.api_url)?;
            let endpoint = if api.is_empty() { format!("https://sns.{region}.amazonaws.com/") } else { api };
            let url = url::Url::parse(&endpoint).map_err(|e| NotifyError::fatal(format!("api_url {endpoint:?}: {e}")))?;
            let host = match url.port() {
                Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
                None => url.host_str().unwrap_or("").to_string(),
            };
            let body: String =
                self.params(n, &t)?.iter().map(|(k, v)| format!("{}={}", aws_encode(k), aws_encode(v))).collect::<Vec<_>>().join("&");
            let amz_date = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
            let auth = sign_v4(&creds, &region, "sns", &amz_date, &host, url.path(), CONTENT_TYPE, &body);
            let mut req = self
                .http
                .post(url.as_str())
                .await?
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .header("X-Amz-Date", &amz_date)
                .header(reqwest::header::AUTHORIZATION, auth);
            if let Some(tok) = &creds.session_token {
                req = req.header("X-Amz-Security-Token", tok);
            }
            let (status, _, text) = common::send(req.body(body), None).await?;
            if status.is_success() {
                return Ok(());
            }
            // SNS' error body is XML: <Error><Code>…</Code><Message>…</Message>.
            let tag = |name: &str| -> Option<String> {
                let open = format!("<{name}>");
                let a = text.find(&open)? + open.len();
                let b = text[a..].find(&format!("</{name}>"))? + a;
                Some(text[a..b].to_string())
            };
            let details = match (tag("Code"), tag("Message")) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                _ => text.clone(),
            };
            Err(NotifyError::from_status(status, &details))
        })
    }
}
