//! `alertmanager.yml`, read as Alertmanager 0.34 reads it: strict (an unknown
//! field is an error with file:line:column), with Alertmanager's defaults,
//! its global-to-receiver inheritance and its validation messages.
//!
//! [`Config::load`] / [`Config::parse`] return a [`Config`] whose receivers
//! already carry what they inherit from `global` (SMTP settings, API URLs
//! and keys, the HTTP client settings), as Alertmanager's loaded config does.
//! Secrets are [`Secret`]s: they print as `<secret>`.
//!
//! Validation happens where Alertmanager does it: each section checks itself
//! while it is read (so its error points at the section), and the checks
//! that need the whole file (global defaults, receiver references, time
//! interval references, the root route) run afterwards and point at the
//! receiver, route or key concerned.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use bongsu_scrape::config::{
    Authorization, BasicAuth, Duration, HttpClientConfig, HttpHeader, OAuth2, Opaque, Secret,
    TlsConfig,
};

use crate::matchers::{compile_anchored, parse_matchers, Matcher};
use crate::timeinterval::TimeInterval;

/// A configuration error, with the place it was found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A syntax, type or section-level error reported while reading.
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: u64,
        column: u64,
        message: String,
    },
    /// A whole-file check (references, inherited defaults, root route).
    /// `line` is 0 when no position is known.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: u64,
        column: u64,
        message: String,
    },
}

impl ConfigError {
    /// The message without the file and position.
    pub fn message(&self) -> String {
        match self {
            ConfigError::Io { source, .. } => source.to_string(),
            ConfigError::Parse { message, .. } | ConfigError::Invalid { message, .. } => {
                message.clone()
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers

/// A value with the position (1-based line and column) it was read from;
/// line 0 when it was not read from a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub line: u64,
    pub column: u64,
}

impl<T> Located<T> {
    pub fn new(value: T) -> Self {
        Located {
            value,
            line: 0,
            column: 0,
        }
    }
}

impl<T: Serialize> Serialize for Located<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Located {
            value: s.value,
            line: s.referenced.line(),
            column: s.referenced.column(),
        })
    }
}

/// Gives a struct Alertmanager's "unmarshal, then check" behaviour: the
/// struct derives `Deserialize` with `remote = "Self"`, and this wraps it
/// with its `check()`. A failed check points at the section.
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

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

pub(crate) fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn default_true() -> bool {
    true
}

/// Prometheus' classic label name rule (`model.LabelNameRE`).
pub fn is_classic_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch == '_' || ch.is_ascii_alphabetic())
        && c.all(|ch| ch == '_' || ch.is_ascii_alphanumeric())
}

/// Alertmanager's default-mode label name rule: any non-empty UTF-8 text.
pub fn is_valid_label_name(s: &str) -> bool {
    !s.is_empty()
}

/// A `string → string` map whose values may be YAML scalars of any type
/// (Go's yaml.v2 hands `1` or `true` to a string as written).
fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let m: Option<BTreeMap<String, Option<String>>> = Option::deserialize(d)?;
    Ok(m.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// A URL as Alertmanager's `config.URL`: `http` or `https` with a host.
/// It prints as written (`https://api.telegram.org` stays without a
/// trailing slash, as Go's `url.URL` prints it).
#[derive(Clone, PartialEq, Eq)]
pub struct Url {
    parsed: url::Url,
    text: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let u = match url::Url::parse(s) {
            Ok(u) => u,
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                return Err("unsupported scheme \"\" for URL".into())
            }
            Err(e) => return Err(format!("parse {s:?}: {e}")),
        };
        if u.scheme() != "http" && u.scheme() != "https" {
            return Err(format!("unsupported scheme {:?} for URL", u.scheme()));
        }
        if u.host_str().unwrap_or("").is_empty() {
            return Err("missing host for URL".into());
        }
        Ok(Url {
            parsed: u,
            text: s.to_string(),
        })
    }
    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
    /// The parsed URL (normalised by the `url` crate).
    pub fn url(&self) -> &url::Url {
        &self.parsed
    }
    /// Appends `/` to the path when missing (OpsGenie, VictorOps and WeChat
    /// API URLs are bases).
    fn with_trailing_slash(&self) -> Url {
        if self.parsed.path().ends_with('/')
            && !self.parsed.path().is_empty()
            && self.text.ends_with('/')
        {
            return self.clone();
        }
        let mut u = self.parsed.clone();
        if !u.path().ends_with('/') {
            let p = format!("{}/", u.path());
            u.set_path(&p);
        }
        Url {
            text: u.as_str().to_string(),
            parsed: u,
        }
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Url {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Url {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Url::parse(&s).map_err(D::Error::custom)
    }
}

/// A URL that is a secret (Slack and Mattermost webhooks): prints as
/// `<secret>`. The literal `<secret>` reads as an empty placeholder, as in
/// Alertmanager.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Option<Url>);

impl SecretUrl {
    /// The URL; `None` for the `<secret>` placeholder.
    pub fn url(&self) -> Option<&Url> {
        self.0.as_ref()
    }
    pub fn expose(&self) -> &str {
        self.0.as_ref().map(|u| u.as_str()).unwrap_or("")
    }
}

impl From<Url> for SecretUrl {
    fn from(u: Url) -> Self {
        SecretUrl(Some(u))
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<secret>")
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "<secret>" {
            return Ok(SecretUrl(None));
        }
        Url::parse(&s)
            .map(|u| SecretUrl(Some(u)))
            .map_err(D::Error::custom)
    }
}

/// The webhook URL: a secret that may be a Go template (`{{ … }}`); only a
/// URL without template syntax is checked as a URL.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretTemplateUrl(pub Secret);

impl fmt::Debug for SecretTemplateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl SecretTemplateUrl {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for SecretTemplateUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<secret>")
    }
}

impl<'de> Deserialize<'de> for SecretTemplateUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if !s.is_empty() && s != "<secret>" && !s.contains("{{") {
            Url::parse(&s).map_err(|e| D::Error::custom(format!("invalid URL: {e}")))?;
        }
        Ok(SecretTemplateUrl(Secret::new(s)))
    }
}

/// A Go `time.Duration` (`10s`, `1m30s`, `1.5h`, `300ms`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GoDuration(pub std::time::Duration);

impl GoDuration {
    pub fn parse(s: &str) -> Result<GoDuration, String> {
        let bad = || format!("time: invalid duration {s:?}");
        let t = s.strip_prefix('+').unwrap_or(s);
        if t == "0" {
            return Ok(GoDuration::default());
        }
        if t.is_empty() || t.starts_with('-') {
            return Err(bad());
        }
        let mut rest = t;
        let mut nanos: f64 = 0.0;
        while !rest.is_empty() {
            let n = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
            let num: f64 = rest[..n].parse().map_err(|_| bad())?;
            rest = &rest[n..];
            let u = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let mult = match &rest[..u] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                other => return Err(format!("time: unknown unit {other:?} in duration {s:?}")),
            };
            nanos += num * mult;
            rest = &rest[u..];
        }
        Ok(GoDuration(std::time::Duration::from_nanos(nanos as u64)))
    }
}

impl GoDuration {
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

/// Go's `time.Duration.String()`: `1h2m3s`, `1m30s`, `300ms`, `0s`.
impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        if ns == 0 {
            return f.write_str("0s");
        }
        if ns < 1_000_000_000 {
            let (unit, div) = if ns < 1_000 {
                ("ns", 1u128)
            } else if ns < 1_000_000 {
                ("µs", 1_000)
            } else {
                ("ms", 1_000_000)
            };
            let whole = ns / div;
            let frac = ns % div;
            if frac == 0 {
                return write!(f, "{whole}{unit}");
            }
            let digits = format!("{:0width$}", frac, width = (div as f64).log10() as usize);
            return write!(f, "{whole}.{}{unit}", digits.trim_end_matches('0'));
        }
        let secs = ns / 1_000_000_000;
        let sub = ns % 1_000_000_000;
        let (h, m, sec) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if h > 0 || m > 0 {
            write!(f, "{m}m")?;
        }
        if sub == 0 {
            write!(f, "{sec}s")
        } else {
            let digits = format!("{sub:09}");
            write!(f, "{sec}.{}s", digits.trim_end_matches('0'))
        }
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        GoDuration::parse(&s).map_err(D::Error::custom)
    }
}

/// `host:port` (the SMTP smarthost).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: String,
}

impl HostPort {
    pub fn is_empty(&self) -> bool {
        self.host.is_empty() && self.port.is_empty()
    }
    /// Go's `net.SplitHostPort` plus Alertmanager's "port cannot be empty".
    pub fn parse(s: &str) -> Result<HostPort, String> {
        if s.is_empty() {
            return Ok(HostPort::default());
        }
        let (host, port) = if let Some(r) = s.strip_prefix('[') {
            let end = r
                .find(']')
                .ok_or_else(|| format!("address {s}: missing ']' in address"))?;
            let after = &r[end + 1..];
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| format!("address {s}: missing port in address"))?;
            (&r[..end], port)
        } else {
            let i = s
                .rfind(':')
                .ok_or_else(|| format!("address {s}: missing port in address"))?;
            if s[..i].contains(':') {
                return Err(format!("address {s}: too many colons in address"));
            }
            (&s[..i], &s[i + 1..])
        };
        if port.is_empty() {
            return Err(format!("address {s:?}: port cannot be empty"));
        }
        Ok(HostPort {
            host: host.into(),
            port: port.into(),
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            Ok(())
        } else if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Serialize for HostPort {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HostPort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        HostPort::parse(&s).map_err(D::Error::custom)
    }
}

// ---------------------------------------------------------------------------
// HTTP client settings (`http_config:`), Prometheus' common HTTP client config

/// `http_config`, nested (unlike in `prometheus.yml`, where the same fields
/// sit in the scrape config itself).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct HttpConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    pub tls_config: TlsConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub proxy_from_environment: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    #[serde(default = "default_true")]
    pub enable_http2: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub http_headers: BTreeMap<String, HttpHeader>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: None,
            bearer_token_file: None,
            tls_config: TlsConfig::default(),
            proxy_url: None,
            no_proxy: None,
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
            follow_redirects: true,
            enable_http2: true,
            http_headers: BTreeMap::new(),
        }
    }
}

/// Headers `http_headers` may not set (prometheus/common).
const RESERVED_HEADERS: &[&str] = &[
    "Authorization",
    "Host",
    "Content-Encoding",
    "Content-Length",
    "Content-Type",
    "User-Agent",
    "Connection",
    "Keep-Alive",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Www-Authenticate",
    "Accept-Encoding",
    "X-Prometheus-Remote-Write-Version",
    "X-Prometheus-Remote-Read-Version",
    "X-Prometheus-Scrape-Timeout-Seconds",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
];

/// Prometheus' common TLS checks, plus the version names.
pub(crate) fn check_tls(t: &TlsConfig) -> Result<(), String> {
    let set = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.is_empty());
    let key = t.key.as_ref().is_some_and(|k| !k.is_empty());
    if set(&t.ca) && set(&t.ca_file) {
        return Err("at most one of ca, ca_file & ca_ref must be configured".into());
    }
    if set(&t.cert) && set(&t.cert_file) {
        return Err("at most one of cert, cert_file & cert_ref must be configured".into());
    }
    if key && set(&t.key_file) {
        return Err("at most one of key and key_file must be configured".into());
    }
    let using_cert = set(&t.cert) || set(&t.cert_file);
    let using_key = key || set(&t.key_file);
    if using_cert && !using_key {
        return Err("exactly one of key or key_file must be configured when a client certificate is configured".into());
    }
    if using_key && !using_cert {
        return Err(
            "exactly one of cert or cert_file must be configured when a client key is configured"
                .into(),
        );
    }
    for v in [&t.min_version, &t.max_version].into_iter().flatten() {
        if !matches!(v.as_str(), "" | "TLS10" | "TLS11" | "TLS12" | "TLS13") {
            return Err(format!("unknown TLS version: {v}"));
        }
    }
    Ok(())
}

impl HttpConfig {
    /// The settings in the form the HTTP client builder of `bongsu-scrape`
    /// takes.
    pub fn http_client(&self) -> HttpClientConfig {
        HttpClientConfig {
            basic_auth: self.basic_auth.clone(),
            authorization: self.authorization.clone(),
            oauth2: self.oauth2.clone(),
            bearer_token: self.bearer_token.clone(),
            bearer_token_file: self.bearer_token_file.clone(),
            tls_config: self.tls_config.clone(),
            proxy_url: self.proxy_url.clone(),
            no_proxy: self.no_proxy.clone(),
            proxy_from_environment: self.proxy_from_environment,
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
            http_headers: self.http_headers.clone(),
        }
    }

    /// Prometheus' common HTTP client checks (prometheus/common 0.70), in
    /// their order. As there, `bearer_token(_file)` becomes an
    /// `authorization` of type `Bearer`, and an authorization without a
    /// type gets `Bearer`.
    fn check(&mut self) -> Result<(), String> {
        let some = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.is_empty());
        let some_secret = |o: &Option<Secret>| o.as_ref().is_some_and(|s| !s.is_empty());
        let has_bearer = some_secret(&self.bearer_token) || some(&self.bearer_token_file);
        if some_secret(&self.bearer_token) && some(&self.bearer_token_file) {
            return Err(
                "at most one of bearer_token & bearer_token_file must be configured".into(),
            );
        }
        if (self.basic_auth.is_some() || self.oauth2.is_some()) && has_bearer {
            return Err("at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured".into());
        }
        if let Some(b) = &self.basic_auth {
            if !b.username.is_empty() && some(&b.username_file) {
                return Err("at most one of basic_auth username, username_file & username_ref must be configured".into());
            }
            if some_secret(&b.password) && some(&b.password_file) {
                return Err("at most one of basic_auth password, password_file & password_ref must be configured".into());
            }
        }
        if let Some(a) = &mut self.authorization {
            if has_bearer {
                return Err(
                    "authorization is not compatible with bearer_token & bearer_token_file".into(),
                );
            }
            if some_secret(&a.credentials) && some(&a.credentials_file) {
                return Err("at most one of authorization credentials & credentials_file must be configured".into());
            }
            let t = a.kind.as_deref().unwrap_or("").trim().to_string();
            a.kind = Some(if t.is_empty() { "Bearer".into() } else { t });
            if a.kind
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("basic"))
            {
                return Err(
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                        .into(),
                );
            }
            if self.basic_auth.is_some() || self.oauth2.is_some() {
                return Err(
                    "at most one of basic_auth, oauth2 & authorization must be configured".into(),
                );
            }
        } else if has_bearer {
            self.authorization = Some(Authorization {
                kind: Some("Bearer".into()),
                credentials: self.bearer_token.take().filter(|s| !s.is_empty()),
                credentials_file: self.bearer_token_file.take().filter(|s| !s.is_empty()),
            });
        }
        if let Some(o) = &self.oauth2 {
            if self.basic_auth.is_some() {
                return Err(
                    "at most one of basic_auth, oauth2 & authorization must be configured".into(),
                );
            }
            if o.client_id.is_empty() {
                return Err("oauth2 client_id must be configured".into());
            }
            if o.token_url.is_empty() {
                return Err("oauth2 token_url must be configured".into());
            }
            if some_secret(&o.client_secret) && some(&o.client_secret_file) {
                return Err("at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured using grant-type=client_credentials".into());
            }
        }
        let has_proxy = some(&self.proxy_url);
        if !self.proxy_connect_header.is_empty() && !self.proxy_from_environment && !has_proxy {
            return Err("if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured".into());
        }
        if self.proxy_from_environment && has_proxy {
            return Err(
                "if proxy_from_environment is configured, proxy_url must not be configured".into(),
            );
        }
        let has_no_proxy = some(&self.no_proxy);
        if self.proxy_from_environment && has_no_proxy {
            return Err(
                "if proxy_from_environment is configured, no_proxy must not be configured".into(),
            );
        }
        if self.proxy_url.is_none() && has_no_proxy {
            return Err("if no_proxy is configured, proxy_url must also be configured".into());
        }
        for name in self.http_headers.keys() {
            let canon = crate::receivers::canonical_header_key(name);
            if RESERVED_HEADERS.contains(&canon.as_str()) {
                return Err(format!("setting header {canon:?} is not allowed"));
            }
        }
        check_tls(&self.tls_config)?;
        if let Some(t) = self.oauth2.as_ref().and_then(|o| o.tls_config.as_ref()) {
            check_tls(t)?;
        }
        Ok(())
    }

    fn resolve_paths(&mut self, dir: &Path) {
        let join = |p: &mut Option<String>| {
            if let Some(s) = p {
                if !s.is_empty() && Path::new(s.as_str()).is_relative() {
                    *s = dir.join(s.as_str()).display().to_string();
                }
            }
        };
        if let Some(b) = &mut self.basic_auth {
            join(&mut b.password_file);
            join(&mut b.username_file);
        }
        if let Some(a) = &mut self.authorization {
            join(&mut a.credentials_file);
        }
        if let Some(o) = &mut self.oauth2 {
            join(&mut o.client_secret_file);
        }
        join(&mut self.bearer_token_file);
        join(&mut self.tls_config.ca_file);
        join(&mut self.tls_config.cert_file);
        join(&mut self.tls_config.key_file);
    }
}

// ---------------------------------------------------------------------------
// global

/// `global:`: defaults every receiver inherits unless it sets its own.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// After this long without an update an alert is considered resolved.
    pub resolve_timeout: Duration,
    pub http_config: HttpConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jira_api_url: Option<Url>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub smtp_from: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub smtp_hello: String,
    #[serde(skip_serializing_if = "HostPort::is_empty")]
    pub smtp_smarthost: HostPort,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub smtp_auth_username: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub smtp_auth_password: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub smtp_auth_password_file: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub smtp_auth_secret: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub smtp_auth_secret_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub smtp_auth_identity: String,
    pub smtp_require_tls: bool,
    pub smtp_tls_config: TlsConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_force_implicit_tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_api_url: Option<SecretUrl>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub slack_api_url_file: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub slack_app_token: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub slack_app_token_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_app_url: Option<Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagerduty_url: Option<Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opsgenie_api_url: Option<Url>,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub opsgenie_api_key: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub opsgenie_api_key_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wechat_api_url: Option<Url>,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub wechat_api_secret: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub wechat_api_secret_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub wechat_api_corp_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub victorops_api_url: Option<Url>,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub victorops_api_key: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub victorops_api_key_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telegram_api_url: Option<Url>,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub telegram_bot_token: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub telegram_bot_token_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webex_api_url: Option<Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rocketchat_api_url: Option<Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rocketchat_token: Option<Secret>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rocketchat_token_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rocketchat_token_id: Option<Secret>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rocketchat_token_id_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mattermost_webhook_url: Option<SecretUrl>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mattermost_webhook_url_file: String,
}

fn must_url(s: &str) -> Option<Url> {
    Url::parse(s).ok()
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            resolve_timeout: Duration::from_secs(300),
            http_config: HttpConfig::default(),
            jira_api_url: None,
            smtp_from: String::new(),
            smtp_hello: "localhost".into(),
            smtp_smarthost: HostPort::default(),
            smtp_auth_username: String::new(),
            smtp_auth_password: Secret::default(),
            smtp_auth_password_file: String::new(),
            smtp_auth_secret: Secret::default(),
            smtp_auth_secret_file: String::new(),
            smtp_auth_identity: String::new(),
            smtp_require_tls: true,
            smtp_tls_config: TlsConfig::default(),
            smtp_force_implicit_tls: None,
            slack_api_url: None,
            slack_api_url_file: String::new(),
            slack_app_token: Secret::default(),
            slack_app_token_file: String::new(),
            slack_app_url: must_url("https://slack.com/api/chat.postMessage"),
            pagerduty_url: must_url("https://events.pagerduty.com/v2/enqueue"),
            opsgenie_api_url: must_url("https://api.opsgenie.com/"),
            opsgenie_api_key: Secret::default(),
            opsgenie_api_key_file: String::new(),
            wechat_api_url: must_url("https://qyapi.weixin.qq.com/cgi-bin/"),
            wechat_api_secret: Secret::default(),
            wechat_api_secret_file: String::new(),
            wechat_api_corp_id: String::new(),
            victorops_api_url: must_url(
                "https://alert.victorops.com/integrations/generic/20131114/alert/",
            ),
            victorops_api_key: Secret::default(),
            victorops_api_key_file: String::new(),
            telegram_api_url: must_url("https://api.telegram.org"),
            telegram_bot_token: Secret::default(),
            telegram_bot_token_file: String::new(),
            webex_api_url: must_url("https://webexapis.com/v1/messages"),
            rocketchat_api_url: must_url("https://open.rocket.chat/"),
            rocketchat_token: None,
            rocketchat_token_file: String::new(),
            rocketchat_token_id: None,
            rocketchat_token_id_file: String::new(),
            mattermost_webhook_url: None,
            mattermost_webhook_url_file: String::new(),
        }
    }
}

impl GlobalConfig {
    /// The "at most one of" checks, with the key each error is about.
    fn check(&self) -> Result<(), (&'static str, String)> {
        check_tls(&self.smtp_tls_config).map_err(|m| ("smtp_tls_config", m))?;
        let both =
            |a: &'static str, b: &str| (a, format!("at most one of {a} & {b} must be configured"));
        if !self.slack_app_token.is_empty() && !self.slack_app_token_file.is_empty() {
            return Err(both("slack_app_token", "slack_app_token_file"));
        }
        if self.slack_api_url.is_some() && !self.slack_api_url_file.is_empty() {
            return Err(both("slack_api_url", "slack_api_url_file"));
        }
        let has_token = !self.slack_app_token.is_empty() || !self.slack_app_token_file.is_empty();
        let has_url = self.slack_api_url.is_some() || !self.slack_api_url_file.is_empty();
        if has_token && has_url {
            let api = self
                .slack_api_url
                .as_ref()
                .map(|u| u.expose())
                .unwrap_or("");
            let app = self
                .slack_app_url
                .as_ref()
                .map(|u| u.as_str())
                .unwrap_or("");
            if api != app {
                return Err(("slack_app_token", "at most one of slack_app_token/slack_app_token_file & slack_api_url/slack_api_url_file must be configured".into()));
            }
        }
        if !self.opsgenie_api_key.is_empty() && !self.opsgenie_api_key_file.is_empty() {
            return Err(both("opsgenie_api_key", "opsgenie_api_key_file"));
        }
        if !self.victorops_api_key.is_empty() && !self.victorops_api_key_file.is_empty() {
            return Err(both("victorops_api_key", "victorops_api_key_file"));
        }
        if !self.telegram_bot_token.is_empty() && !self.telegram_bot_token_file.is_empty() {
            return Err(both("telegram_bot_token", "telegram_bot_token_file"));
        }
        if !self.smtp_auth_password.is_empty() && !self.smtp_auth_password_file.is_empty() {
            return Err(both("smtp_auth_password", "smtp_auth_password_file"));
        }
        if self.rocketchat_token.is_some() && !self.rocketchat_token_file.is_empty() {
            return Err(both("rocketchat_token", "rocketchat_token_file"));
        }
        if self.rocketchat_token_id.is_some() && !self.rocketchat_token_id_file.is_empty() {
            return Err(both("rocketchat_token_id", "rocketchat_token_id_file"));
        }
        if !self.smtp_auth_secret.is_empty() && !self.smtp_auth_secret_file.is_empty() {
            return Err(both("smtp_auth_secret", "smtp_auth_secret_file"));
        }
        if !self.wechat_api_secret.is_empty() && !self.wechat_api_secret_file.is_empty() {
            return Err(both("wechat_api_secret", "wechat_api_secret_file"));
        }
        if self.mattermost_webhook_url.is_some() && !self.mattermost_webhook_url_file.is_empty() {
            return Err(both(
                "mattermost_webhook_url",
                "mattermost_webhook_url_file",
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Matchers in configuration

/// A legacy `match_re` value: the regex as written, compiled anchored.
#[derive(Clone)]
pub struct Regexp {
    pub original: String,
    pub regex: regex::Regex,
}

impl Regexp {
    /// The compiled pattern's text, `^(?:original)$` (what Alertmanager
    /// builds the route matcher from, and therefore prints in route keys).
    pub fn anchored(&self) -> String {
        format!("^(?:{})$", self.original)
    }
}

impl fmt::Debug for Regexp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.original)
    }
}

impl PartialEq for Regexp {
    fn eq(&self, o: &Self) -> bool {
        self.original == o.original
    }
}

/// `match_re:` / `source_match_re:` / `target_match_re:`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchRegexps(pub BTreeMap<String, Regexp>);

impl MatchRegexps {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for MatchRegexps {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, &v.original)))
    }
}

impl<'de> Deserialize<'de> for MatchRegexps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m: Option<BTreeMap<String, Option<String>>> = Option::deserialize(d)?;
        let mut out = BTreeMap::new();
        for (k, v) in m.unwrap_or_default() {
            if !is_classic_label_name(&k) {
                return Err(D::Error::custom(format!("invalid label name {k:?}")));
            }
            let Some(v) = v else {
                return Err(D::Error::custom(format!("invalid regexp value for {k:?}")));
            };
            let regex = compile_anchored(&v).map_err(|e| D::Error::custom(e.to_string()))?;
            out.insert(k, Regexp { original: v, regex });
        }
        Ok(MatchRegexps(out))
    }
}

/// A `matchers:` list: each entry is parsed as Alertmanager's default mode
/// does (UTF-8 parser, classic fallback); the result is sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigMatchers(pub Vec<Matcher>);

impl ConfigMatchers {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for ConfigMatchers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|m| m.to_string()))
    }
}

impl<'de> Deserialize<'de> for ConfigMatchers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let lines: Option<Vec<String>> = Option::deserialize(d)?;
        let mut out = Vec::new();
        for line in lines.unwrap_or_default() {
            out.extend(parse_matchers(&line).map_err(|e| D::Error::custom(e.to_string()))?);
        }
        out.sort();
        Ok(ConfigMatchers(out))
    }
}

/// Builds one matcher list from the legacy maps and the new list, as
/// Alertmanager does (`match` as equality, `match_re` from the anchored
/// pattern), sorted.
pub fn combined_matchers(
    eq: &BTreeMap<String, String>,
    re: &MatchRegexps,
    new: &ConfigMatchers,
) -> Vec<Matcher> {
    use crate::matchers::MatchType;
    let mut out = Vec::new();
    for (k, v) in eq {
        if let Ok(m) = Matcher::new(MatchType::Equal, k.clone(), v.clone()) {
            out.push(m);
        }
    }
    for (k, v) in &re.0 {
        if let Ok(m) = Matcher::new(MatchType::Regexp, k.clone(), v.anchored()) {
            out.push(m);
        }
    }
    out.extend(new.0.iter().cloned());
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// route

/// A `route:` node as written. The effective tree is [`crate::route::Route`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct RouteConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver: Option<Located<String>>,
    /// `group_by` as written (`None` when absent).
    #[serde(rename = "group_by")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by_str: Option<Vec<String>>,
    /// The grouping labels (`...` excluded); `None` when `group_by` is absent.
    #[serde(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    /// `group_by: ['...']`: group by all labels.
    #[serde(skip)]
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub group_by_all: bool,
    /// Legacy equality matchers.
    #[serde(rename = "match", deserialize_with = "string_map")]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub match_eq: BTreeMap<String, String>,
    /// Legacy regex matchers (anchored).
    #[serde(skip_serializing_if = "MatchRegexps::is_empty")]
    pub match_re: MatchRegexps,
    #[serde(skip_serializing_if = "ConfigMatchers::is_empty")]
    pub matchers: ConfigMatchers,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<Located<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub active_time_intervals: Vec<Located<String>>,
    #[serde(rename = "continue")]
    pub continue_matching: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<Duration>,
    /// Route labels (values are templates), inherited and overlaid.
    #[serde(deserialize_with = "string_map")]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Bongsu extension: a receiver that also gets the group's
    /// notifications once deliveries to `receiver` have failed for
    /// `fallback_after` (channel redundancy). Inherited like `receiver`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_receiver: Option<Located<String>>,
    /// How long the primary receiver must keep failing (default 5m).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_after: Option<Duration>,
    /// Bongsu extension (flap damping): a resolved alert is reported as
    /// still firing for this long; firing again within it counts a flap
    /// instead of a resolve and a new notification. Inherited; default 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_hold: Option<Duration>,
}

impl RouteConfig {
    fn check(&mut self) -> Result<(), String> {
        if self.receiver.as_ref().is_some_and(|r| r.value.is_empty()) {
            self.receiver = None;
        }
        for k in self.match_eq.keys() {
            if !is_classic_label_name(k) {
                return Err(format!("invalid label name {k:?}"));
            }
        }
        for k in self.labels.keys() {
            if !is_valid_label_name(k) {
                return Err(format!("invalid label name {k:?} in route labels"));
            }
        }
        if let Some(gb) = &self.group_by_str {
            let mut labels = Vec::new();
            for l in gb {
                if l == "..." {
                    self.group_by_all = true;
                } else {
                    if !is_valid_label_name(l) {
                        return Err(format!("invalid label name {l:?} in group_by list"));
                    }
                    labels.push(l.clone());
                }
            }
            if !labels.is_empty() && self.group_by_all {
                return Err(
                    "cannot have wildcard group_by (`...`) and other labels at the same time"
                        .into(),
                );
            }
            let mut seen = HashSet::new();
            for l in &labels {
                if !seen.insert(l) {
                    return Err(format!("duplicated label {l:?} in group_by"));
                }
            }
            // As in Alertmanager, `['...']` alone leaves the explicit list
            // unset, so children still see "not set" and inherit.
            self.group_by = if labels.is_empty() && self.group_by_all {
                None
            } else {
                Some(labels)
            };
        }
        if self.group_interval.is_some_and(|d| d.0 == 0) {
            return Err("group_interval cannot be zero".into());
        }
        if self.repeat_interval.is_some_and(|d| d.0 == 0) {
            return Err("repeat_interval cannot be zero".into());
        }
        Ok(())
    }

    /// This node's own matchers (legacy forms included), sorted.
    pub fn all_matchers(&self) -> Vec<Matcher> {
        combined_matchers(&self.match_eq, &self.match_re, &self.matchers)
    }

    fn has_matchers(&self) -> bool {
        !self.match_eq.is_empty() || !self.match_re.0.is_empty() || !self.matchers.0.is_empty()
    }
}

// ---------------------------------------------------------------------------
// inhibit_rules

/// An `inhibit_rules` entry as written. The evaluator is
/// [`crate::inhibit::InhibitRule`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct InhibitRuleConfig {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(deserialize_with = "string_map")]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub source_match: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "MatchRegexps::is_empty")]
    pub source_match_re: MatchRegexps,
    #[serde(skip_serializing_if = "ConfigMatchers::is_empty")]
    pub source_matchers: ConfigMatchers,
    #[serde(deserialize_with = "string_map")]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub target_match: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "MatchRegexps::is_empty")]
    pub target_match_re: MatchRegexps,
    #[serde(skip_serializing_if = "ConfigMatchers::is_empty")]
    pub target_matchers: ConfigMatchers,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub equal: Vec<String>,
}

impl InhibitRuleConfig {
    fn check(&mut self) -> Result<(), String> {
        for k in self.source_match.keys().chain(self.target_match.keys()) {
            if !is_classic_label_name(k) {
                return Err(format!("invalid label name {k:?}"));
            }
        }
        for l in &self.equal {
            if !is_valid_label_name(l) {
                return Err(format!("invalid label name {l:?} in equal list"));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// time intervals

/// A named list of time intervals (`time_intervals:` entry, or a legacy
/// `mute_time_intervals:` entry).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NamedTimeInterval {
    pub name: Located<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_intervals: Vec<TimeInterval>,
}

impl NamedTimeInterval {
    /// Is the instant inside any of the intervals?
    pub fn contains(&self, ts: jiff::Timestamp) -> bool {
        self.time_intervals.iter().any(|t| t.contains(ts))
    }

    fn read<'de, D: Deserializer<'de>>(d: D, what: &str) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields, default)]
        struct Raw {
            name: Option<Located<String>>,
            time_intervals: Vec<TimeInterval>,
        }
        let r = Raw::deserialize(d)?;
        match r.name {
            Some(name) if !name.value.is_empty() => Ok(NamedTimeInterval {
                name,
                time_intervals: r.time_intervals,
            }),
            _ => Err(D::Error::custom(format!("missing name in {what}"))),
        }
    }
}

struct TimeIntervalItem(NamedTimeInterval);
struct MuteTimeIntervalItem(NamedTimeInterval);

impl<'de> Deserialize<'de> for TimeIntervalItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NamedTimeInterval::read(d, "time interval").map(TimeIntervalItem)
    }
}

impl<'de> Deserialize<'de> for MuteTimeIntervalItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NamedTimeInterval::read(d, "mute time interval").map(MuteTimeIntervalItem)
    }
}

// ---------------------------------------------------------------------------
// tracing

/// `tracing:` (OpenTelemetry export of Alertmanager's own traces).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct TracingConfig {
    /// `grpc` (default) or `http`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
    pub sampling_fraction: f64,
    #[serde(skip_serializing_if = "crate::config::is_false")]
    pub insecure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, HttpHeader>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            client_type: "grpc".into(),
            endpoint: String::new(),
            sampling_fraction: 0.0,
            insecure: false,
            tls_config: None,
            headers: BTreeMap::new(),
            compression: String::new(),
            timeout: None,
        }
    }
}

impl TracingConfig {
    fn is_unset(&self) -> bool {
        self.endpoint.is_empty()
    }

    fn check(&mut self) -> Result<(), String> {
        if !matches!(self.client_type.as_str(), "grpc" | "http") {
            return Err(format!(
                "expected tracing client type to be to be http or grpc, but got {}",
                self.client_type
            ));
        }
        if self.endpoint.is_empty() {
            return Err("tracing endpoint must be set".into());
        }
        if !matches!(self.compression.as_str(), "" | "gzip") {
            return Err(format!(
                "invalid compression type {} provided, valid options: gzip",
                self.compression
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// receivers

pub use crate::receivers::*;

/// `receivers:` entry: a name and any number of integrations of each kind.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct Receiver {
    pub name: Located<String>,
    /// Labels for querying receivers; always carries `name`.
    #[serde(deserialize_with = "string_map")]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub discord_configs: Vec<DiscordConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_configs: Vec<EmailConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incidentio_configs: Vec<IncidentioConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<SlackConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhook_configs: Vec<WebhookConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub opsgenie_configs: Vec<OpsGenieConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wechat_configs: Vec<WechatConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pushover_configs: Vec<PushoverConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub victorops_configs: Vec<VictorOpsConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sns_configs: Vec<SnsConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub telegram_configs: Vec<TelegramConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webex_configs: Vec<WebexConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub msteams_configs: Vec<MsTeamsConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub msteamsv2_configs: Vec<MsTeamsV2Config>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jira_configs: Vec<JiraConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rocketchat_configs: Vec<RocketchatConfig>,
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mattermost_configs: Vec<MattermostConfig>,
    /// Bongsu extension: hand the group to a runbook (`crates/respond`).
    #[serde(deserialize_with = "items")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runbook_configs: Vec<crate::receivers::RunbookConfig>,
    // Receiver kinds Bongsu will add beyond Alertmanager. Named here so a
    // file written for a later Bongsu fails with a clear message instead of
    // "unknown field".
    #[serde(deserialize_with = "reserved_http")]
    #[doc(hidden)]
    #[serde(skip_serializing)]
    pub http_configs: (),
}

/// An integration list entry. A null entry (`- ` with nothing after it) is
/// an error for most kinds; Slack, OpsGenie, WeChat and Rocket.Chat read it
/// as an entry with every field at its default, as Alertmanager does (the
/// global checks then report what is missing).
trait ListItem: Default {
    const MISSING: Option<&'static str>;
}

impl ListItem for DiscordConfig {
    const MISSING: Option<&'static str> = Some("missing discord config");
}
impl ListItem for EmailConfig {
    const MISSING: Option<&'static str> = Some("missing email config");
}
impl ListItem for IncidentioConfig {
    const MISSING: Option<&'static str> = Some("missing incidentio config");
}
impl ListItem for PagerdutyConfig {
    const MISSING: Option<&'static str> = Some("missing pagerduty config");
}
impl ListItem for SlackConfig {
    const MISSING: Option<&'static str> = None;
}
impl ListItem for crate::receivers::RunbookConfig {
    const MISSING: Option<&'static str> = Some("missing runbook config");
}
impl ListItem for WebhookConfig {
    const MISSING: Option<&'static str> = Some("missing webhook config");
}
impl ListItem for OpsGenieConfig {
    const MISSING: Option<&'static str> = None;
}
impl ListItem for WechatConfig {
    const MISSING: Option<&'static str> = None;
}
impl ListItem for PushoverConfig {
    const MISSING: Option<&'static str> = Some("missing pushover config");
}
impl ListItem for VictorOpsConfig {
    const MISSING: Option<&'static str> = Some("missing victorops config");
}
impl ListItem for SnsConfig {
    const MISSING: Option<&'static str> = Some("missing sns config");
}
impl ListItem for TelegramConfig {
    const MISSING: Option<&'static str> = Some("missing telegram config");
}
impl ListItem for WebexConfig {
    const MISSING: Option<&'static str> = Some("missing webex config");
}
impl ListItem for MsTeamsConfig {
    const MISSING: Option<&'static str> = Some("missing msteams config");
}
impl ListItem for MsTeamsV2Config {
    const MISSING: Option<&'static str> = Some("missing msteamsv2 config");
}
impl ListItem for JiraConfig {
    const MISSING: Option<&'static str> = Some("missing jira config");
}
impl ListItem for RocketchatConfig {
    const MISSING: Option<&'static str> = None;
}
impl ListItem for MattermostConfig {
    const MISSING: Option<&'static str> = Some("missing mattermost config");
}

fn items<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + ListItem,
{
    let v: Option<Vec<Option<T>>> = Option::deserialize(d)?;
    v.unwrap_or_default()
        .into_iter()
        .map(|x| match (x, T::MISSING) {
            (Some(x), _) => Ok(x),
            (None, Some(m)) => Err(D::Error::custom(m)),
            (None, None) => Ok(T::default()),
        })
        .collect()
}

/// Receiver kinds of Alertmanager 0.34, as their `*_configs` keys.
pub const ALERTMANAGER_RECEIVER_KINDS: &[&str] = &[
    "discord_configs",
    "email_configs",
    "incidentio_configs",
    "pagerduty_configs",
    "slack_configs",
    "webhook_configs",
    "opsgenie_configs",
    "wechat_configs",
    "pushover_configs",
    "victorops_configs",
    "sns_configs",
    "telegram_configs",
    "webex_configs",
    "msteams_configs",
    "msteamsv2_configs",
    "jira_configs",
    "rocketchat_configs",
    "mattermost_configs",
];

/// Bongsu-only receiver kinds that are planned but not implemented yet: a
/// file using one is refused with "not supported yet".
pub const BONGSU_RESERVED_RECEIVER_KINDS: &[&str] = &["http_configs"];

fn reserved<'de, D: Deserializer<'de>>(d: D, kind: &str) -> Result<(), D::Error> {
    let _ = serde::de::IgnoredAny::deserialize(d)?;
    Err(D::Error::custom(format!(
        "receiver kind {kind} is a Bongsu extension that is not supported yet"
    )))
}
fn reserved_http<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    reserved(d, "http_configs")
}

impl Receiver {
    fn check(&mut self) -> Result<(), String> {
        if self.name.value.is_empty() {
            return Err("missing name in receiver".into());
        }
        if let Some(v) = self.labels.get("name") {
            if *v != self.name.value {
                return Err(format!(
                    "receiver label \"name\" must match receiver name {:?}, got {v:?}",
                    self.name.value
                ));
            }
        }
        self.labels.insert("name".into(), self.name.value.clone());
        if self.runbook_configs.iter().any(|r| r.runbook.is_empty()) {
            return Err("runbook_configs: missing runbook name".into());
        }
        Ok(())
    }

    /// The integration kinds this receiver has (`email`, `slack`, …), in
    /// Alertmanager's order, one entry per configured integration.
    pub fn integrations(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut add = |n: usize, k: &'static str| v.extend(std::iter::repeat_n(k, n));
        add(self.discord_configs.len(), "discord");
        add(self.email_configs.len(), "email");
        add(self.incidentio_configs.len(), "incidentio");
        add(self.pagerduty_configs.len(), "pagerduty");
        add(self.slack_configs.len(), "slack");
        add(self.webhook_configs.len(), "webhook");
        add(self.opsgenie_configs.len(), "opsgenie");
        add(self.wechat_configs.len(), "wechat");
        add(self.pushover_configs.len(), "pushover");
        add(self.victorops_configs.len(), "victorops");
        add(self.sns_configs.len(), "sns");
        add(self.telegram_configs.len(), "telegram");
        add(self.webex_configs.len(), "webex");
        add(self.msteams_configs.len(), "msteams");
        add(self.msteamsv2_configs.len(), "msteamsv2");
        add(self.jira_configs.len(), "jira");
        add(self.rocketchat_configs.len(), "rocketchat");
        add(self.mattermost_configs.len(), "mattermost");
        add(self.runbook_configs.len(), "runbook");
        v
    }

    fn resolve_paths(&mut self, dir: &Path) {
        macro_rules! each {
            ($($f:ident),*) => {$(
                for c in &mut self.$f {
                    if let Some(h) = &mut c.http_config { h.resolve_paths(dir); }
                }
            )*};
        }
        each!(
            discord_configs,
            incidentio_configs,
            pagerduty_configs,
            slack_configs,
            webhook_configs,
            opsgenie_configs,
            wechat_configs,
            pushover_configs,
            victorops_configs,
            sns_configs,
            telegram_configs,
            webex_configs,
            msteams_configs,
            msteamsv2_configs,
            jira_configs,
            rocketchat_configs,
            mattermost_configs
        );
    }
}

validated!(
    HttpConfig,
    RouteConfig,
    InhibitRuleConfig,
    TracingConfig,
    Receiver
);

// ---------------------------------------------------------------------------
// The file

/// `alertmanager.yml`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    pub global: GlobalConfig,
    /// The root route as written (see [`Config::route_tree`]).
    pub route: RouteConfig,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub receivers: Vec<Receiver>,
    /// Template file globs, resolved against the file's directory by
    /// [`Config::load`].
    pub templates: Vec<String>,
    /// Deprecated spelling of `time_intervals`; both lists share one name space.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<NamedTimeInterval>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_intervals: Vec<NamedTimeInterval>,
    #[serde(skip_serializing_if = "TracingConfig::is_unset")]
    pub tracing: TracingConfig,
    /// `event_recorder:` is read (its four output lists, strictly) and kept;
    /// the outputs themselves are not interpreted yet.
    #[serde(skip_serializing_if = "EventRecorderConfig::is_unset")]
    pub event_recorder: EventRecorderConfig,
    /// Bongsu extension: runbook file globs (`crates/respond`), resolved
    /// against the file's directory by [`Config::load`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runbook_files: Vec<String>,
    /// Bongsu extension: the responder's settings.
    #[serde(skip_serializing_if = "ResponderConfig::is_unset")]
    pub responder: ResponderConfig,
}

/// `responder:` (Bongsu extension): how the automated responder is reached
/// and when it holds back. File paths are resolved against the
/// configuration file's directory.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponderConfig {
    /// A bearer token accepted on the responder's endpoints (webhook,
    /// approvals, administration), besides the web config's basic auth.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_token_file: String,
    /// Secret for HMAC-signed webhook deliveries (`X-Bongsu-Signature`
    /// over `X-Bongsu-Timestamp` and the body).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub webhook_hmac_secret_file: String,
    /// Every runbook in shadow mode: guards and rendering run, nothing acts.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Automation pauses while monitoring itself looks unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_when: Option<PauseWhen>,
}

/// Thresholds beyond which telemetry is not trusted enough to act on.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PauseWhen {
    /// Share of scrape targets down (`up == 0`) above which automation
    /// pauses; 0 disables the check. `up` absent always pauses.
    pub targets_down_fraction: f64,
    /// Firing alerts above which automation pauses (an alert storm); 0
    /// disables the check.
    pub firing_alerts: u64,
}

impl ResponderConfig {
    fn is_unset(&self) -> bool {
        *self == ResponderConfig::default()
    }
}

/// `event_recorder:` (Alertmanager 0.34): where alerting events are
/// recorded. The entries are kept as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventRecorderConfig {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_outputs: Vec<Opaque>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhook_outputs: Vec<Opaque>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kafka_outputs: Vec<Opaque>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stdout_outputs: Vec<Opaque>,
}

impl EventRecorderConfig {
    fn is_unset(&self) -> bool {
        *self == EventRecorderConfig::default()
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    global: Option<Located<Option<GlobalConfig>>>,
    route: Option<Located<RouteConfig>>,
    inhibit_rules: Vec<InhibitRuleConfig>,
    receivers: Vec<Receiver>,
    templates: Vec<String>,
    mute_time_intervals: Vec<MuteTimeIntervalItem>,
    time_intervals: Vec<TimeIntervalItem>,
    tracing: TracingConfig,
    event_recorder: EventRecorderConfig,
    runbook_files: Vec<String>,
    responder: ResponderConfig,
}

/// Strips the parser's own " at line N, column M" suffix and snippet; our
/// prefix carries the position.
fn clean_parser_message(s: &str) -> String {
    let l = s.lines().next().unwrap_or("").trim();
    match l.rfind(" at line ") {
        Some(i) if l[i..].contains(", column ") => l[..i].to_string(),
        _ => l.to_string(),
    }
}

/// The 1-based position of the first `key:` in the text (for whole-file
/// errors about a global key).
fn find_key(text: &str, key: &str) -> (u64, u64) {
    let pat = format!("{key}:");
    for (i, line) in text.lines().enumerate() {
        if let Some(c) = line.find(&pat) {
            let before = &line[..c];
            if before.trim().is_empty() || before.trim_end().ends_with(['{', ',']) {
                return ((i + 1) as u64, (c + 1) as u64);
            }
        }
    }
    (0, 0)
}

impl Config {
    /// Reads and validates an `alertmanager.yml`. Template globs and the
    /// HTTP client settings' file paths are resolved against the file's
    /// directory, as Alertmanager does.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let mut cfg = Config::parse(&text, &path.display().to_string())?;
        let dir: PathBuf = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let rel = |t: &mut String| {
            if !t.is_empty() && Path::new(t.as_str()).is_relative() {
                *t = dir.join(t.as_str()).display().to_string();
            }
        };
        cfg.templates.iter_mut().for_each(rel);
        cfg.runbook_files.iter_mut().for_each(rel);
        rel(&mut cfg.responder.api_token_file);
        rel(&mut cfg.responder.webhook_hmac_secret_file);
        cfg.global.http_config.resolve_paths(&dir);
        for r in &mut cfg.receivers {
            r.resolve_paths(&dir);
        }
        Ok(cfg)
    }

    /// Parses and validates configuration text; `file_name` is used in errors.
    pub fn parse(text: &str, file_name: &str) -> Result<Config, ConfigError> {
        let invalid = |(line, column): (u64, u64), message: String| ConfigError::Invalid {
            file: file_name.to_string(),
            line,
            column,
            message,
        };
        let raw: Option<RawConfig> = if text.trim().is_empty() {
            None
        } else {
            serde_saphyr::from_str::<Option<RawConfig>>(text).map_err(|e| {
                let (line, column) = e
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((0, 0));
                ConfigError::Parse {
                    file: file_name.to_string(),
                    line,
                    column,
                    message: clean_parser_message(&e.without_snippet().to_string()),
                }
            })?
        };
        let Some(raw) = raw else {
            return Err(invalid((0, 0), "no route provided in config".into()));
        };
        let global_pos = raw
            .global
            .as_ref()
            .map(|g| (g.line, g.column))
            .unwrap_or((0, 0));
        let global = raw.global.and_then(|g| g.value).unwrap_or_default();
        if let Err((key, msg)) = global.check() {
            let p = find_key(text, key);
            return Err(invalid(if p.0 == 0 { global_pos } else { p }, msg));
        }
        let mut receivers = raw.receivers;
        let mut names = HashSet::new();
        for r in &mut receivers {
            let pos = (r.name.line, r.name.column);
            if !names.insert(r.name.value.clone()) {
                return Err(invalid(
                    pos,
                    format!("notification config name {:?} is not unique", r.name.value),
                ));
            }
            inherit_globals(r, &global).map_err(|m| invalid(pos, m))?;
        }
        let Some(route) = raw.route else {
            return Err(invalid((0, 0), "no routes provided".into()));
        };
        let route_pos = (route.line, route.column);
        let route = route.value;
        if route.receiver.is_none() {
            return Err(invalid(
                route_pos,
                "root route must specify a default receiver".into(),
            ));
        }
        if route.has_matchers() {
            return Err(invalid(
                route_pos,
                "root route must not have any matchers".into(),
            ));
        }
        if !route.mute_time_intervals.is_empty() {
            return Err(invalid(
                route_pos,
                "root route must not have any mute time intervals".into(),
            ));
        }
        if !route.active_time_intervals.is_empty() {
            return Err(invalid(
                route_pos,
                "root route must not have any active time intervals".into(),
            ));
        }
        check_receivers(&route, &names).map_err(|(p, m)| invalid(p, m))?;
        let mute_time_intervals: Vec<NamedTimeInterval> =
            raw.mute_time_intervals.into_iter().map(|t| t.0).collect();
        let time_intervals: Vec<NamedTimeInterval> =
            raw.time_intervals.into_iter().map(|t| t.0).collect();
        let mut ti_names = HashSet::new();
        for (list, what) in [
            (&mute_time_intervals, "mute time interval"),
            (&time_intervals, "time interval"),
        ] {
            for t in list {
                let pos = (t.name.line, t.name.column);
                if !ti_names.insert(t.name.value.clone()) {
                    return Err(invalid(
                        pos,
                        format!("{what} {:?} is not unique", t.name.value),
                    ));
                }
            }
        }
        check_time_intervals(&route, &ti_names).map_err(|(p, m)| invalid(p, m))?;
        if route.continue_matching {
            return Err(invalid(
                route_pos,
                "cannot have continue in root route".into(),
            ));
        }
        Ok(Config {
            global,
            route,
            inhibit_rules: raw.inhibit_rules,
            receivers,
            templates: raw.templates,
            mute_time_intervals,
            time_intervals,
            tracing: raw.tracing,
            event_recorder: raw.event_recorder,
            runbook_files: raw.runbook_files,
            responder: raw.responder,
        })
    }

    /// The configuration as YAML, defaults and inherited settings filled
    /// in, every secret shown as `<secret>` (what Alertmanager's status API
    /// shows).
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self)
            .unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }

    /// The effective routing tree.
    pub fn route_tree(&self) -> crate::route::Route {
        crate::route::Route::new(&self.route)
    }

    /// The inhibition rules, ready to evaluate.
    pub fn inhibit_rules(&self) -> Vec<crate::inhibit::InhibitRule> {
        self.inhibit_rules
            .iter()
            .map(crate::inhibit::InhibitRule::new)
            .collect()
    }

    /// Every named time interval (`time_intervals` and the legacy
    /// `mute_time_intervals`), by name.
    pub fn time_intervals_by_name(&self) -> BTreeMap<String, Vec<TimeInterval>> {
        self.mute_time_intervals
            .iter()
            .chain(&self.time_intervals)
            .map(|t| (t.name.value.clone(), t.time_intervals.clone()))
            .collect()
    }

    /// The receiver with this name.
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name.value == name)
    }
}

type Pos = (u64, u64);

fn check_receivers(r: &RouteConfig, names: &HashSet<String>) -> Result<(), (Pos, String)> {
    for c in &r.routes {
        check_receivers(c, names)?;
    }
    for rcv in r.receiver.iter().chain(&r.fallback_receiver) {
        if !names.contains(&rcv.value) {
            return Err((
                (rcv.line, rcv.column),
                format!("undefined receiver {:?} used in route", rcv.value),
            ));
        }
    }
    Ok(())
}

fn check_time_intervals(r: &RouteConfig, names: &HashSet<String>) -> Result<(), (Pos, String)> {
    for c in &r.routes {
        check_time_intervals(c, names)?;
    }
    for t in r.active_time_intervals.iter().chain(&r.mute_time_intervals) {
        if !names.contains(&t.value) {
            return Err((
                (t.line, t.column),
                format!("undefined time interval {:?} used in route", t.value),
            ));
        }
    }
    Ok(())
}

fn or_secret(local: &mut Secret, global: &Secret) {
    if local.is_empty() {
        *local = global.clone();
    }
}
fn or_string(local: &mut String, global: &str) {
    if local.is_empty() {
        *local = global.to_string();
    }
}
fn or_http(local: &mut Option<HttpConfig>, global: &HttpConfig) {
    if local.is_none() {
        *local = Some(global.clone());
    }
}

/// Alertmanager's global-to-receiver inheritance and the checks that need
/// it, in Alertmanager's order.
fn inherit_globals(rcv: &mut Receiver, g: &GlobalConfig) -> Result<(), String> {
    for c in &mut rcv.webhook_configs {
        or_http(&mut c.http_config, &g.http_config);
    }
    for ec in &mut rcv.email_configs {
        if ec.tls_config.is_none() {
            ec.tls_config = Some(g.smtp_tls_config.clone());
        }
        if ec.smarthost.is_empty() {
            ec.smarthost = g.smtp_smarthost.clone();
        }
        if ec.smarthost.is_empty() {
            return Err("no global SMTP smarthost set".into());
        }
        or_string(&mut ec.from, &g.smtp_from);
        if ec.from.is_empty() {
            return Err("no global SMTP from set".into());
        }
        or_string(&mut ec.hello, &g.smtp_hello);
        or_string(&mut ec.auth_username, &g.smtp_auth_username);
        if ec.auth_password.is_empty() && ec.auth_password_file.is_empty() {
            ec.auth_password = g.smtp_auth_password.clone();
            ec.auth_password_file = g.smtp_auth_password_file.clone();
        }
        or_secret(&mut ec.auth_secret, &g.smtp_auth_secret);
        or_string(&mut ec.auth_secret_file, &g.smtp_auth_secret_file);
        or_string(&mut ec.auth_identity, &g.smtp_auth_identity);
        if ec.require_tls.is_none() {
            ec.require_tls = Some(g.smtp_require_tls);
        }
        if ec.force_implicit_tls.is_none() {
            ec.force_implicit_tls = g.smtp_force_implicit_tls;
        }
    }
    for sc in &mut rcv.slack_configs {
        if sc.app_url.is_none() {
            sc.app_url = g.slack_app_url.clone();
        }
        if sc.app_url.is_none() {
            return Err("no global Slack App URL set".into());
        }
        let local_auth = sc
            .http_config
            .as_ref()
            .is_some_and(|h| h.authorization.is_some());
        if sc.app_token.is_empty()
            && sc.app_token_file.is_empty()
            && !local_auth
            && sc.api_url.is_none()
        {
            sc.app_token = g.slack_app_token.clone();
            sc.app_token_file = g.slack_app_token_file.clone();
        }
        if sc.api_url.is_none() && sc.api_url_file.is_empty() {
            sc.api_url = g.slack_api_url.clone();
            sc.api_url_file = g.slack_api_url_file.clone();
        }
        if sc.api_url.is_none()
            && sc.api_url_file.is_empty()
            && sc.app_token.is_empty()
            && sc.app_token_file.is_empty()
        {
            return Err("no Slack API URL nor App token set either inline or in a file".into());
        }
        or_http(&mut sc.http_config, &g.http_config);
        if !sc.app_token.is_empty() || !sc.app_token_file.is_empty() {
            let h = sc.http_config.get_or_insert_with(HttpConfig::default);
            if h.authorization.is_some() {
                return Err("http authorization can't be set when using Slack App tokens".into());
            }
            h.authorization = Some(Authorization {
                kind: Some("Bearer".into()),
                credentials: (!sc.app_token.is_empty()).then(|| sc.app_token.clone()),
                credentials_file: (!sc.app_token_file.is_empty())
                    .then(|| sc.app_token_file.clone()),
            });
            sc.api_url = sc.app_url.clone().map(SecretUrl::from);
        }
    }
    for c in &mut rcv.pushover_configs {
        or_http(&mut c.http_config, &g.http_config);
    }
    for c in &mut rcv.pagerduty_configs {
        or_http(&mut c.http_config, &g.http_config);
        if c.url.is_none() {
            c.url = g.pagerduty_url.clone();
        }
        if c.url.is_none() {
            return Err("no global PagerDuty URL set".into());
        }
    }
    for c in &mut rcv.incidentio_configs {
        or_http(&mut c.http_config, &g.http_config);
    }
    for c in &mut rcv.opsgenie_configs {
        or_http(&mut c.http_config, &g.http_config);
        if c.api_url.is_none() {
            c.api_url = g.opsgenie_api_url.clone();
        }
        let Some(u) = &c.api_url else {
            return Err("no global OpsGenie URL set".into());
        };
        c.api_url = Some(u.with_trailing_slash());
        or_secret(&mut c.api_key, &g.opsgenie_api_key);
        or_string(&mut c.api_key_file, &g.opsgenie_api_key_file);
        if c.api_key.is_empty() && c.api_key_file.is_empty() {
            return Err("no global OpsGenie API Key set either inline or in a file".into());
        }
    }
    for c in &mut rcv.wechat_configs {
        or_http(&mut c.http_config, &g.http_config);
        if c.api_url.is_none() {
            c.api_url = g.wechat_api_url.clone();
        }
        let Some(u) = &c.api_url else {
            return Err("no global Wechat URL set".into());
        };
        let u = u.with_trailing_slash();
        if c.api_secret.is_empty() && c.api_secret_file.is_empty() {
            if g.wechat_api_secret.is_empty() && g.wechat_api_secret_file.is_empty() {
                return Err("no global Wechat Api Secret set either inline or in a file".into());
            }
            c.api_secret = g.wechat_api_secret.clone();
            c.api_secret_file = g.wechat_api_secret_file.clone();
        }
        or_string(&mut c.corp_id, &g.wechat_api_corp_id);
        if c.corp_id.is_empty() {
            return Err("no global Wechat CorpID set".into());
        }
        c.api_url = Some(u);
    }
    for c in &mut rcv.victorops_configs {
        or_http(&mut c.http_config, &g.http_config);
        if c.api_url.is_none() {
            c.api_url = g.victorops_api_url.clone();
        }
        let Some(u) = &c.api_url else {
            return Err("no global VictorOps URL set".into());
        };
        c.api_url = Some(u.with_trailing_slash());
        or_secret(&mut c.api_key, &g.victorops_api_key);
        or_string(&mut c.api_key_file, &g.victorops_api_key_file);
        if c.api_key.is_empty() && c.api_key_file.is_empty() {
            return Err("no global VictorOps API Key set".into());
        }
    }
    for c in &mut rcv.sns_configs {
        or_http(&mut c.http_config, &g.http_config);
    }
    for c in &mut rcv.telegram_configs {
        or_http(&mut c.http_config, &g.http_config);
        if c.api_url.is_none() {
            c.api_url = g.telegram_api_url.clone();
        }
        if c.bot_token.is_empty() && c.bot_token_file.is_empty() {
            if g.telegram_bot_token.is_empty() && g.telegram_bot_token_file.is_empty() {
                return Err("missing bot_token or bot_token_file on telegram_config".into());
            }
            c.bot_token = g.telegram_bot_token.clone();
            c.bot_token_file = g.telegram_bot_token_file.clone();
        }
    }
    for c in &mut rcv.discord_configs {
        or_http(&mut c.http_config, &g.http_config);
    }
    for c in &mut rcv.webex_configs {
        or_http(&mut c.http_config, &g.http_config);
        if c.api_url.is_none() {
            c.api_url = g.webex_api_url.clone();
        }
        if c.api_url.is_none() {
            return Err("no global Webex URL set".into());
        }
    }
    for c in &mut rcv.msteams_configs {
        or_http(&mut c.http_config, &g.http_config);
    }
    for c in &mut rcv.msteamsv2_configs {
        match &mut c.http_config {
            None => c.http_config = Some(g.http_config.clone()),
            Some(h) if h.proxy_url.is_none() => h.proxy_url = g.http_config.proxy_url.clone(),
            Some(_) => {}
        }
    }
    for c in &mut rcv.jira_configs {
        or_http(&mut c.http_config, &g.http_config);
        if c.api_url.is_none() {
            c.api_url = g.jira_api_url.clone();
        }
        if c.api_url.is_none() {
            return Err("no global Jira Cloud URL set".into());
        }
    }
    for c in &mut rcv.rocketchat_configs {
        or_http(&mut c.http_config, &g.http_config);
        if c.api_url.is_none() {
            c.api_url = g.rocketchat_api_url.clone();
        }
        if c.token_id.is_none() {
            c.token_id = g.rocketchat_token_id.clone();
        }
        or_string(&mut c.token_id_file, &g.rocketchat_token_id_file);
        if c.token_id.is_none() && c.token_id_file.is_empty() {
            return Err("no global Rocketchat TokenID set either inline or in a file".into());
        }
        if c.token.is_none() {
            c.token = g.rocketchat_token.clone();
        }
        or_string(&mut c.token_file, &g.rocketchat_token_file);
        if c.token.is_none() && c.token_file.is_empty() {
            return Err("no global Rocketchat Token set either inline or in a file".into());
        }
    }
    for c in &mut rcv.mattermost_configs {
        or_http(&mut c.http_config, &g.http_config);
        if c.webhook_url.is_none() && c.webhook_url_file.is_empty() {
            if g.mattermost_webhook_url.is_none() && g.mattermost_webhook_url_file.is_empty() {
                return Err("missing webhook_url or webhook_url_file on mattermost_config".into());
            }
            c.webhook_url = g.mattermost_webhook_url.clone();
            c.webhook_url_file = g.mattermost_webhook_url_file.clone();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RCV: &str = "receivers:\n  - name: a\n  - name: b\n";

    fn err(text: &str) -> String {
        Config::parse(text, "am.yml").expect_err(text).to_string()
    }

    #[test]
    fn whole_file_checks_point_at_the_place() {
        for (text, want) in [
            ("", "am.yml:0:0: no route provided in config"),
            (RCV, "am.yml:0:0: no routes provided"),
            (&format!("route:\n  group_by: [a]\n{RCV}"), "am.yml:2:3: root route must specify a default receiver"),
            (&format!("route:\n  receiver: a\n  matchers: [x=y]\n{RCV}"), "am.yml:2:3: root route must not have any matchers"),
            (&format!("route:\n  receiver: a\n  match: {{x: y}}\n{RCV}"), "root route must not have any matchers"),
            (&format!("route:\n  receiver: a\n  continue: true\n{RCV}"), "am.yml:2:3: cannot have continue in root route"),
            (&format!("route:\n  receiver: a\n  routes:\n    - receiver: nope\n{RCV}"), "am.yml:4:17: undefined receiver \"nope\" used in route"),
            (&format!("route:\n  receiver: a\n  fallback_receiver: gone\n{RCV}"), "am.yml:3:22: undefined receiver \"gone\" used in route"),
            (&format!("route:\n  receiver: a\n{RCV}  - name: a\n"), "am.yml:6:11: notification config name \"a\" is not unique"),
            (&format!("route:\n  receiver: a\n  routes:\n    - receiver: b\n      mute_time_intervals: [night]\n{RCV}"), "am.yml:5:29: undefined time interval \"night\" used in route"),
            (&format!("route:\n  receiver: a\n  mute_time_intervals: [x]\n{RCV}"), "root route must not have any mute time intervals"),
            (&format!("route:\n  receiver: a\n  active_time_intervals: [x]\n{RCV}"), "root route must not have any active time intervals"),
            (&format!("route:\n  receiver: a\n{RCV}time_intervals:\n  - name: t\n  - name: t\n"), "am.yml:8:11: time interval \"t\" is not unique"),
            (&format!("route:\n  receiver: a\n{RCV}mute_time_intervals:\n  - name: t\ntime_intervals:\n  - name: t\n"), "time interval \"t\" is not unique"),
            (&format!("route:\n  receiver: a\n{RCV}time_intervals:\n  - time_intervals: []\n"), "am.yml:7:5: missing name in time interval"),
            (&format!("route:\n  receiver: a\n{RCV}mute_time_intervals:\n  - name:\n"), "am.yml:7:5: missing name in mute time interval"),
            (&format!("global:\n  smtp_from: x@y\n  opsgenie_api_key: k\n  opsgenie_api_key_file: f\nroute:\n  receiver: a\n{RCV}"), "am.yml:3:3: at most one of opsgenie_api_key & opsgenie_api_key_file must be configured"),
            (&format!("route:\n  receiver: a\n{RCV}    email_configs:\n      - to: x@y\n"), "am.yml:5:11: no global SMTP smarthost set"),
            (&format!("global:\n  smtp_smarthost: h:25\nroute:\n  receiver: a\n{RCV}    email_configs:\n      - to: x@y\n"), "no global SMTP from set"),
            (&format!("route:\n  receiver: a\n{RCV}    jira_configs:\n      - project: P\n        issue_type: Bug\n"), "no global Jira Cloud URL set"),
        ] {
            let e = err(text);
            assert!(e.contains(want), "{text}\n got: {e}\nwant: {want}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn strict_and_section_errors_have_positions() {
        for (text, want) in [
            ("route:\n  receiver: a\n  recevier: b\nreceivers:\n  - name: a\n", "am.yml:3:3: unknown field `recevier`"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    email_configs:\n      - to: x\n        smarthost: h:25\n        from: f\n        tls: {}\n", "am.yml:9:9: unknown field `tls`"),
            ("globl: {}\n", "am.yml:1:1: unknown field `globl`"),
            ("route:\n  receiver: a\n  group_wait: 5 minutes\nreceivers:\n  - name: a\n", "am.yml:3:15:"),
            ("route:\n  receiver: a\n  routes:\n    - group_interval: 0s\nreceivers:\n  - name: a\n", "am.yml:4:7: group_interval cannot be zero"),
            ("route:\n  receiver: a\n  routes:\n    - repeat_interval: 0s\nreceivers:\n  - name: a\n", "repeat_interval cannot be zero"),
            ("route:\n  receiver: a\n  group_by: ['...', a]\nreceivers:\n  - name: a\n", "cannot have wildcard group_by (`...`) and other labels at the same time"),
            ("route:\n  receiver: a\n  group_by: [a, a]\nreceivers:\n  - name: a\n", "duplicated label \"a\" in group_by"),
            ("route:\n  receiver: a\n  routes:\n    - match: {'a-b': c}\nreceivers:\n  - name: a\n", "invalid label name \"a-b\""),
            ("route:\n  receiver: a\n  routes:\n    - matchers: ['a=~\"(\"']\nreceivers:\n  - name: a\n", "am.yml:4:"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    webhook_configs:\n      - {}\n", "am.yml:6:9: one of url or url_file must be configured"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    webhook_configs:\n      - url: ftp://x\n", "invalid URL: unsupported scheme \"ftp\" for URL"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    pagerduty_configs:\n      - severity: x\n", "missing service or routing key in PagerDuty config"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    telegram_configs:\n      - bot_token: x\n", "missing chat_id or chat_id_file on telegram_config"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    webex_configs:\n      - room_id: r\n", "missing webex_configs.http_config.authorization"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    discord_configs:\n      - {}\n", "one of webhook_url or webhook_url_file must be configured"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    pushover_configs:\n      - user_key: u\n", "one of token or token_file must be configured"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    victorops_configs:\n      - api_key: k\n", "missing Routing key in VictorOps config"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    wechat_configs:\n      - message_type: html\n", "weChat message type \"html\" does not match valid options"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    email_configs:\n      - to: x\n        headers: {subject: a, Subject: b}\n", "duplicate header \"Subject\" in email config"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    opsgenie_configs:\n      - api_key: k\n        responders: [{name: x, type: crowd}]\n", "type does not match valid options"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    slack_configs:\n      - api_url: http://x/\n        actions: [{type: button, text: t}]\n", "missing name or url in Slack action configuration"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    incidentio_configs:\n      - url: http://x/\n        http_config: {}\n", "at least one of alert_source_token"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    http_config: {}\n", "unknown field `http_config`"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    http_configs: [{}]\n", "receiver kind http_configs is a Bongsu extension that is not supported yet"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    runbook_configs: [{}]\n", "runbook_configs: missing runbook name"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    sms_configs: [{}]\n", "unknown field `sms_configs`"),
            ("route:\n  receiver: a\nreceivers:\n  - {}\n", "missing name in receiver"),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    labels: {name: b}\n", "receiver label \"name\" must match receiver name \"a\", got \"b\""),
            ("route:\n  receiver: a\nreceivers:\n  - name: a\n    webhook_configs:\n      - url: http://x/\n        http_config:\n          basic_auth: {username: u}\n          bearer_token: t\n", "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"),
            ("route:\n  receiver: a\ntracing: {insecure: true}\nreceivers:\n  - name: a\n", "am.yml:3:10: tracing endpoint must be set"),
            ("route:\n  receiver: a\ntracing: {endpoint: 'x:4317', client_type: udp}\nreceivers:\n  - name: a\n", "expected tracing client type to be to be http or grpc, but got udp"),
            ("route:\n  receiver: a\ninhibit_rules:\n  - equal: ['']\nreceivers:\n  - name: a\n", "invalid label name \"\" in equal list"),
            ("route:\n  receiver: a\ntime_intervals:\n  - name: t\n    time_intervals:\n      - weekdays: [funday]\nreceivers:\n  - name: a\n", "am.yml:6:"),
        ] {
            let e = err(text);
            assert!(e.contains(want), "{text}\n got: {e}\nwant: {want}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    // Alertmanager's TestEmptyConfigOfIntegration (our own table).
    #[test]
    fn null_integration_entries() {
        for (kind, want) in [
            ("discord_configs", "missing discord config"),
            ("email_configs", "missing email config"),
            ("incidentio_configs", "missing incidentio config"),
            ("pagerduty_configs", "missing pagerduty config"),
            ("webhook_configs", "missing webhook config"),
            ("pushover_configs", "missing pushover config"),
            ("victorops_configs", "missing victorops config"),
            ("sns_configs", "missing sns config"),
            ("telegram_configs", "missing telegram config"),
            ("webex_configs", "missing webex config"),
            ("msteams_configs", "missing msteams config"),
            ("msteamsv2_configs", "missing msteamsv2 config"),
            ("jira_configs", "missing jira config"),
            ("mattermost_configs", "missing mattermost config"),
            (
                "slack_configs",
                "no Slack API URL nor App token set either inline or in a file",
            ),
            (
                "opsgenie_configs",
                "no global OpsGenie API Key set either inline or in a file",
            ),
            (
                "wechat_configs",
                "no global Wechat Api Secret set either inline or in a file",
            ),
            (
                "rocketchat_configs",
                "no global Rocketchat TokenID set either inline or in a file",
            ),
        ] {
            let text = format!(
                "global:\nroute:\n  receiver: 'test-receiver'\nreceivers:\n- name: 'test-receiver'\n  {kind}:\n  -\n"
            );
            let e = err(&text);
            assert!(e.contains(want), "{kind}: {e}");
        }
    }

    // Cases of Alertmanager's config tests (our own table).
    #[test]
    fn upstream_config_cases() {
        // group_by and route label names follow the default (UTF-8) mode of
        // the 0.34 binary: any non-empty name is valid.
        assert!(Config::parse("route:\n  group_by: ['-x-']\n  receiver: a\n  labels: {'-y-': v}\nreceivers:\n- name: a\n", "am.yml").is_ok());
        let c = Config::parse(
            "route:\n  receiver: team-X-slack\nreceivers:\n- name: 'team-X-slack'\n  labels:\n    owning-team: team-X-slack\n    kind: heartbeat\n",
            "am.yml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.receivers[0].labels.get("owning-team").map(String::as_str),
            Some("team-X-slack")
        );
        assert_eq!(
            c.receivers[0].labels.get("name").map(String::as_str),
            Some("team-X-slack")
        );
        // an empty group_by overrides the parent's
        let c = Config::parse(
            "route:\n  receiver: a\n  group_by: [alertname]\n  routes:\n  - group_by: []\nreceivers:\n- name: a\n",
            "am.yml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.route.routes[0].group_by, Some(vec![]));
        assert!(c.route_tree().routes[0].opts.group_by.is_empty());
        // HostPort forms
        assert_eq!(
            HostPort::parse(":25").map(|h| (h.host, h.port)),
            Ok((String::new(), "25".into()))
        );
        assert_eq!(
            HostPort::parse("[fd12:3456:789a::1]:25").map(|h| h.host),
            Ok("fd12:3456:789a::1".to_string())
        );
        // templated webhook URLs are not checked as URLs
        for (url, ok) in [
            ("http://example.com/webhook", true),
            ("https://{{ .GroupLabels.env }}.example.com/hook", true),
            ("not a url", false),
            ("<secret>", true),
        ] {
            let text = format!("route:\n  receiver: a\nreceivers:\n- name: a\n  webhook_configs:\n  - url: '{url}'\n");
            assert_eq!(Config::parse(&text, "am.yml").is_ok(), ok, "{url}");
        }
    }

    #[test]
    fn http_client_checks() {
        let rcv = |http: &str| {
            format!("route:\n  receiver: a\nreceivers:\n  - name: a\n    webhook_configs:\n      - url: http://x/\n        http_config: {http}\n")
        };
        for (http, want) in [
            ("{bearer_token: a, bearer_token_file: b}", "at most one of bearer_token & bearer_token_file must be configured"),
            ("{authorization: {credentials: a}, bearer_token: b}", "authorization is not compatible with bearer_token & bearer_token_file"),
            ("{authorization: {type: Basic}}", "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"),
            ("{authorization: {credentials: a}, basic_auth: {username: u}}", "at most one of basic_auth, oauth2 & authorization must be configured"),
            ("{basic_auth: {password: a, password_file: b}}", "at most one of basic_auth password, password_file & password_ref must be configured"),
            ("{oauth2: {client_id: '', token_url: 'http://t/'}}", "oauth2 client_id must be configured"),
            ("{no_proxy: localhost}", "if no_proxy is configured, proxy_url must also be configured"),
            ("{proxy_from_environment: true, proxy_url: 'http://p/'}", "if proxy_from_environment is configured, proxy_url must not be configured"),
            ("{http_headers: {user-agent: {values: [x]}}}", "setting header \"User-Agent\" is not allowed"),
            ("{tls_config: {cert_file: c}}", "exactly one of key or key_file must be configured when a client certificate is configured"),
            ("{tls_config: {ca: a, ca_file: b}}", "at most one of ca, ca_file & ca_ref must be configured"),
            ("{tls_config: {min_version: TLS14}}", "unknown TLS version: TLS14"),
        ] {
            let e = err(&rcv(http));
            assert!(e.contains(want), "{http}\n got: {e}\nwant: {want}");
            assert!(e.starts_with("am.yml:7:22: "), "{e}");
        }
        // bearer_token becomes an authorization, which webex accepts
        let c = Config::parse(
            "route:\n  receiver: a\nreceivers:\n  - name: a\n    webex_configs:\n      - room_id: r\n        http_config: {bearer_token: t}\n",
            "am.yml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let h = c.receivers[0].webex_configs[0]
            .http_config
            .as_ref()
            .expect("http");
        assert_eq!(h.bearer_token, None);
        let a = h.authorization.as_ref().expect("authorization");
        assert_eq!(
            (
                a.kind.as_deref(),
                a.credentials.as_ref().map(|s| s.expose())
            ),
            (Some("Bearer"), Some("t"))
        );
        let e = err("global:\n  smtp_tls_config: {key_file: k}\nroute:\n  receiver: a\nreceivers:\n  - name: a\n");
        assert!(
            e.starts_with("am.yml:2:3: exactly one of cert or cert_file"),
            "{e}"
        );
    }

    #[test]
    fn defaults_and_inheritance() {
        let c = Config::parse(
            "global:\n  smtp_smarthost: 'mail:25'\n  smtp_from: am@x\n  opsgenie_api_key: k\n  victorops_api_key: v\n  wechat_api_secret: s\n  wechat_api_corp_id: c\n  telegram_bot_token: t\n  rocketchat_token: rt\n  rocketchat_token_id: rid\n  jira_api_url: https://jira.example/\n  mattermost_webhook_url: https://mm.example/hook\n\
route:\n  receiver: a\n\
receivers:\n  - name: a\n    email_configs: [{to: x@y, require_tls: false}]\n    opsgenie_configs: [{}]\n    victorops_configs: [{routing_key: r}]\n    wechat_configs: [{}]\n    telegram_configs: [{chat_id: 42}]\n    rocketchat_configs: [{}]\n    jira_configs: [{project: P, issue_type: Bug}]\n    mattermost_configs: [{}]\n    pagerduty_configs: [{routing_key: k, client: c}]\n    webex_configs: [{room_id: r, http_config: {authorization: {credentials: x}}}]\n    msteamsv2_configs: [{webhook_url: 'https://x.example/'}]\n",
            "am.yml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.global.resolve_timeout, Duration::from_secs(300));
        let r = &c.receivers[0];
        assert_eq!(r.labels.get("name").map(String::as_str), Some("a"));
        let e = &r.email_configs[0];
        assert_eq!(e.smarthost.to_string(), "mail:25");
        assert_eq!(e.from, "am@x");
        assert_eq!(e.hello, "localhost");
        assert_eq!(e.require_tls, Some(false));
        assert!(!e.send_resolved);
        assert_eq!(e.html, "{{ template \"email.default.html\" . }}");
        let o = &r.opsgenie_configs[0];
        assert_eq!(o.api_key.expose(), "k");
        assert_eq!(
            o.api_url.as_ref().map(|u| u.as_str()),
            Some("https://api.opsgenie.com/")
        );
        assert!(o.send_resolved);
        let v = &r.victorops_configs[0];
        assert_eq!(
            v.api_url.as_ref().map(|u| u.as_str()),
            Some("https://alert.victorops.com/integrations/generic/20131114/alert/")
        );
        assert_eq!(v.message_type, "CRITICAL");
        let w = &r.wechat_configs[0];
        assert_eq!((w.corp_id.as_str(), w.message_type.as_str()), ("c", "text"));
        let t = &r.telegram_configs[0];
        assert_eq!((t.bot_token.expose(), t.parse_mode.as_str()), ("t", "HTML"));
        assert_eq!(
            t.api_url.as_ref().map(|u| u.as_str()),
            Some("https://api.telegram.org")
        );
        let rc = &r.rocketchat_configs[0];
        assert_eq!(rc.token.as_ref().map(|s| s.expose()), Some("rt"));
        assert_eq!(
            rc.api_url.as_ref().map(|u| u.as_str()),
            Some("https://open.rocket.chat/")
        );
        assert_eq!(r.jira_configs[0].api_type, "auto");
        assert_eq!(
            r.mattermost_configs[0]
                .webhook_url
                .as_ref()
                .map(|u| u.expose()),
            Some("https://mm.example/hook")
        );
        let p = &r.pagerduty_configs[0];
        assert_eq!(p.source, "c");
        assert_eq!(
            p.url.as_ref().map(|u| u.as_str()),
            Some("https://events.pagerduty.com/v2/enqueue")
        );
        assert_eq!(p.details.len(), 4);
        let wx = &r.webex_configs[0];
        assert_eq!(
            wx.api_url.as_ref().map(|u| u.as_str()),
            Some("https://webexapis.com/v1/messages")
        );
        assert!(r.msteamsv2_configs[0].http_config.is_some());
        assert_eq!(r.integrations().len(), 11);
        // every integration has an HTTP client config after loading
        assert!(r.opsgenie_configs[0]
            .http_config
            .as_ref()
            .is_some_and(|h| h.follow_redirects));
        // the rendering shows defaults and inherited values, no secrets
        let y = c.to_yaml();
        assert!(y.contains("smarthost: mail:25"), "{y}");
        assert!(y.contains("resolve_timeout: 5m"), "{y}");
        assert!(y.contains("<secret>"), "{y}");
        // secrets never print
        let dbg = format!("{c:?}");
        for s in ["\"k\"", "\"rt\"", "mm.example"] {
            assert!(!dbg.contains(s), "{s} leaked");
        }
    }

    #[test]
    fn durations_hostports_urls() {
        assert_eq!(GoDuration::parse("1m30s").map(|d| d.0.as_secs()), Ok(90));
        assert_eq!(GoDuration::parse("1.5h").map(|d| d.0.as_secs()), Ok(5400));
        assert_eq!(GoDuration::parse("300ms").map(|d| d.0.as_millis()), Ok(300));
        assert!(GoDuration::parse("1d").is_err());
        assert!(GoDuration::parse("10").is_err());
        assert_eq!(
            HostPort::parse("[::1]:25").map(|h| h.to_string()),
            Ok("[::1]:25".into())
        );
        assert!(HostPort::parse("localhost").is_err());
        assert!(HostPort::parse("localhost:")
            .expect_err("empty port")
            .contains("port cannot be empty"));
        assert!(Url::parse("http://").is_err());
        assert_eq!(
            Url::parse("foo").expect_err("relative"),
            "unsupported scheme \"\" for URL"
        );
        assert_eq!(canonical_header_key("x-foo-BAR"), "X-Foo-Bar");
        let u = Url::parse("https://api.opsgenie.com").expect("url");
        assert_eq!(u.as_str(), "https://api.opsgenie.com");
        assert_eq!(
            u.with_trailing_slash().as_str(),
            "https://api.opsgenie.com/"
        );
        let u = Url::parse("https://x.example/v2?a=1").expect("url");
        assert_eq!(
            u.with_trailing_slash().as_str(),
            "https://x.example/v2/?a=1"
        );
        for (text, shown) in [
            ("0", "0s"),
            ("90s", "1m30s"),
            ("1h", "1h0m0s"),
            ("1.5s", "1.5s"),
            ("300ms", "300ms"),
            ("2h3m4s", "2h3m4s"),
        ] {
            assert_eq!(
                GoDuration::parse(text).map(|d| d.to_string()),
                Ok(shown.to_string()),
                "{text}"
            );
        }
    }
}
