//! `prometheus.yml`: the typed configuration, parsed strictly like Prometheus
//! (an unknown field is an error) and validated with Prometheus' messages.
//!
//! [`load_file`] / [`load_str`] return a [`Config`] whose defaults are filled
//! in (a job without `scrape_interval` carries the global one), so the
//! serialised form ([`to_yaml`]) is what `/api/v1/status/config` shows.
//! Secrets serialise as `<secret>`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use bongsu_model::duration::{format_duration, parse_duration};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::relabel::RelabelConfig;

/// A configuration error, with the place it was found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// Syntax or type error reported by the YAML parser, with a position.
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: u64,
        column: u64,
        message: String,
    },
    /// A semantic error (duplicate job, timeout > interval, …). `line` is 0
    /// when no position is known.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: u64,
        column: u64,
        message: String,
    },
}

// ---------------------------------------------------------------------------
// Scalar helper types

/// A Prometheus duration (`30s`, `1m30s`), held in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub i64);

impl Duration {
    pub const fn from_secs(s: i64) -> Self {
        Duration(s * 1000)
    }
    pub fn as_millis(self) -> i64 {
        self.0
    }
    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0.max(0) as u64)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map(Duration).map_err(|_| {
            serde::de::Error::custom(format!(
                "not a valid duration string: {s:?} (use e.g. 15s, 1m, 1h30m)"
            ))
        })
    }
}

/// A secret string: usable in code, serialised as `<secret>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret value itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<secret>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// A byte size as Go's `units.Base2Bytes` parses it (`10MB`, `512KiB`, `0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(s: &str) -> Option<u64> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().ok()?;
        let mult: u64 = match unit {
            "" if n == 0 => 1,
            "B" => 1,
            "KB" | "KiB" | "K" => 1 << 10,
            "MB" | "MiB" | "M" => 1 << 20,
            "GB" | "GiB" | "G" => 1 << 30,
            "TB" | "TiB" | "T" => 1 << 40,
            "PB" | "PiB" | "P" => 1 << 50,
            "EB" | "EiB" | "E" => 1 << 60,
            _ => return None,
        };
        n.checked_mul(mult)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        let text = if v == 0 {
            "0B".to_string()
        } else {
            let units = [
                ("EiB", 60),
                ("PiB", 50),
                ("TiB", 40),
                ("GiB", 30),
                ("MiB", 20),
                ("KiB", 10),
            ];
            // `is_multiple_of` needs Rust 1.87; the workspace supports 1.85.
            #[allow(clippy::manual_is_multiple_of)]
            let found = units.iter().find(|(_, sh)| v % (1u64 << sh) == 0);
            found
                .map(|(u, sh)| format!("{}{}", v >> sh, u))
                .unwrap_or_else(|| format!("{v}B"))
        };
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(0) => Ok(ByteSize(0)),
            Raw::N(n) => Err(serde::de::Error::custom(format!(
                "invalid size {n}: a unit is required (e.g. {n}B, {n}KB, {n}MB)"
            ))),
            Raw::S(s) => ByteSize::parse(&s).map(ByteSize).ok_or_else(|| {
                serde::de::Error::custom(format!("invalid size {s:?} (use e.g. 10MB, 512KiB, 0)"))
            }),
        }
    }
}

/// A configuration section Bongsu accepts without interpreting it (service
/// discovery mechanisms it does not run yet). Serialises with every value
/// whose key looks secret (`password`, `secret`, `token`, `credentials`,
/// `key`) replaced by `<secret>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Opaque(pub serde_json::Value);

fn redact(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let lk = k.to_ascii_lowercase();
                    let secret = !lk.ends_with("_file")
                        && ["password", "secret", "token", "credentials", "key"]
                            .iter()
                            .any(|w| lk.contains(w));
                    let val = if secret && !x.is_object() && !x.is_array() {
                        serde_json::Value::String("<secret>".into())
                    } else {
                        redact(x)
                    };
                    (k.clone(), val)
                })
                .collect(),
        ),
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(redact).collect()),
        o => o.clone(),
    }
}

impl Serialize for Opaque {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        redact(&self.0).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Opaque {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(d).map(Opaque)
    }
}

/// One of `http_headers`' entries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHeader {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// One of the scrape protocols Prometheus negotiates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScrapeProtocol {
    PrometheusProto,
    #[serde(rename = "OpenMetricsText0.0.1")]
    OpenMetricsText001,
    #[serde(rename = "OpenMetricsText1.0.0")]
    OpenMetricsText100,
    #[serde(rename = "PrometheusText0.0.4")]
    PrometheusText004,
    #[serde(rename = "PrometheusText1.0.0")]
    PrometheusText100,
}

impl ScrapeProtocol {
    /// Prometheus 3's default order.
    pub fn defaults() -> Vec<ScrapeProtocol> {
        vec![
            ScrapeProtocol::OpenMetricsText100,
            ScrapeProtocol::OpenMetricsText001,
            ScrapeProtocol::PrometheusText100,
            ScrapeProtocol::PrometheusText004,
        ]
    }

    /// The media type offered in the Accept header.
    pub fn header_value(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::OpenMetricsText001 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText100 => "application/openmetrics-text;version=1.0.0",
            ScrapeProtocol::PrometheusText004 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText100 => "text/plain;version=1.0.0",
        }
    }
}

// ---------------------------------------------------------------------------
// HTTP client settings shared by scrape configs, alertmanagers and remote write/read

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default)]
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    pub token_url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoint_params: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
}

/// The common HTTP client settings, gathered from any config that has them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpClientConfig {
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub oauth2: Option<OAuth2>,
    pub bearer_token: Option<Secret>,
    pub bearer_token_file: Option<String>,
    pub tls_config: TlsConfig,
    pub proxy_url: Option<String>,
    pub no_proxy: Option<String>,
    pub proxy_from_environment: bool,
    pub follow_redirects: bool,
    pub enable_http2: bool,
    pub http_headers: BTreeMap<String, HttpHeader>,
}

fn default_true() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Adds Prometheus' common HTTP client fields to a struct (serde's
/// `flatten` cannot be combined with `deny_unknown_fields`).
macro_rules! with_http_client {
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        pub struct $name {
            $($body)*
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub basic_auth: Option<BasicAuth>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub authorization: Option<Authorization>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub oauth2: Option<OAuth2>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub bearer_token: Option<Secret>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub bearer_token_file: Option<String>,
            #[serde(default)]
            pub tls_config: TlsConfig,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub proxy_url: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub no_proxy: Option<String>,
            #[serde(default)]
            pub proxy_from_environment: bool,
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
            #[serde(default = "default_true")]
            pub follow_redirects: bool,
            #[serde(default = "default_true")]
            pub enable_http2: bool,
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub http_headers: BTreeMap<String, HttpHeader>,
        }

        impl $name {
            /// The HTTP client settings of this section.
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

            fn validate_http(&self) -> Result<(), String> {
                let mut n = 0;
                if self.basic_auth.is_some() { n += 1; }
                if self.authorization.is_some() { n += 1; }
                if self.oauth2.is_some() { n += 1; }
                if self.bearer_token.is_some() || self.bearer_token_file.is_some() { n += 1; }
                if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
                    return Err("at most one of bearer_token & bearer_token_file must be configured".into());
                }
                if n > 1 {
                    return Err("at most one of basic_auth, oauth2, bearer_token & bearer_token_file, authorization must be configured".into());
                }
                for v in [&self.tls_config.min_version, &self.tls_config.max_version].into_iter().flatten() {
                    if !matches!(v.as_str(), "" | "TLS10" | "TLS11" | "TLS12" | "TLS13") {
                        return Err(format!("unknown TLS version: {v}"));
                    }
                }
                if let Some(b) = &self.basic_auth {
                    if b.password.is_some() && b.password_file.is_some() {
                        return Err("at most one of basic_auth password & password_file must be configured".into());
                    }
                }
                if let Some(a) = &self.authorization {
                    if a.credentials.is_some() && a.credentials_file.is_some() {
                        return Err("at most one of authorization credentials & credentials_file must be configured".into());
                    }
                    if a.kind.as_deref().map(|t| t.eq_ignore_ascii_case("basic")).unwrap_or(false) {
                        return Err("authorization type cannot be set to \"basic\", use \"basic_auth\" instead".into());
                    }
                }
                Ok(())
            }

            #[allow(dead_code)]
            fn resolve_http_paths(&mut self, dir: &Path) {
                if let Some(b) = &mut self.basic_auth {
                    resolve(&mut b.password_file, dir);
                    resolve(&mut b.username_file, dir);
                }
                if let Some(a) = &mut self.authorization {
                    resolve(&mut a.credentials_file, dir);
                }
                resolve(&mut self.bearer_token_file, dir);
                resolve(&mut self.tls_config.ca_file, dir);
                resolve(&mut self.tls_config.cert_file, dir);
                resolve(&mut self.tls_config.key_file, dir);
                for h in self.http_headers.values_mut() {
                    for f in h.files.iter_mut() {
                        let mut o = Some(std::mem::take(f));
                        resolve(&mut o, dir);
                        *f = o.unwrap_or_default();
                    }
                }
            }
        }
    };
}

/// Resolves every `*_file` string inside an opaque section against `dir`.
fn resolve_opaque_paths(v: &mut serde_json::Value, dir: &Path) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k.ends_with("_file") {
                    if let serde_json::Value::String(p) = x {
                        let mut o = Some(std::mem::take(p));
                        resolve(&mut o, dir);
                        *p = o.unwrap_or_default();
                    }
                } else {
                    resolve_opaque_paths(x, dir);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| resolve_opaque_paths(x, dir)),
        _ => {}
    }
}

fn resolve_scrape_paths(sc: &mut ScrapeConfig, dir: &Path) {
    sc.resolve_http_paths(dir);
    for o in sc.http_sd_configs.iter_mut() {
        resolve_opaque_paths(&mut o.0, dir);
    }
    for f in &mut sc.file_sd_configs {
        for p in &mut f.files {
            let mut o = Some(std::mem::take(p));
            resolve(&mut o, dir);
            *p = o.unwrap_or_default();
        }
    }
}

fn resolve(p: &mut Option<String>, dir: &Path) {
    if let Some(s) = p {
        if !s.is_empty() && Path::new(s).is_relative() {
            *s = dir.join(&*s).to_string_lossy().into_owned();
        }
    }
}

// ---------------------------------------------------------------------------
// The file

/// The whole `prometheus.yml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, deserialize_with = "null_as_default")]
    pub global: GlobalConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerting: Option<AlertingConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scrape_config_files: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub scrape_configs: Vec<ScrapeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<TracingConfig>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub remote_write: Vec<RemoteWriteConfig>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub remote_read: Vec<RemoteReadConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp: Option<serde_json::Value>,
}

/// An explicit `scrape_protocols` list must not be empty.
fn non_empty_protocols<'de, D>(d: D) -> Result<Vec<ScrapeProtocol>, D::Error>
where
    D: Deserializer<'de>,
{
    let v = Vec::<ScrapeProtocol>::deserialize(d)?;
    if v.is_empty() {
        return Err(serde::de::Error::custom("scrape_protocols cannot be empty"));
    }
    Ok(v)
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    #[serde(default = "default_interval")]
    pub scrape_interval: Duration,
    /// Filled in after parsing: 10s, or the interval when that is shorter.
    #[serde(default)]
    pub scrape_timeout: Duration,
    #[serde(default = "default_interval")]
    pub evaluation_interval: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_query_offset: Option<Duration>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_empty_protocols"
    )]
    pub scrape_protocols: Vec<ScrapeProtocol>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_log_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_failure_log_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_size_limit: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_name_length_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_value_length_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_dropped_targets: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name_validation_scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name_escaping_scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_scrape_classic_histograms: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_native_histograms: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_scrape_metrics: Option<bool>,
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: default_interval(),
            scrape_timeout: Duration::from_secs(10),
            evaluation_interval: default_interval(),
            rule_query_offset: None,
            scrape_protocols: ScrapeProtocol::defaults(),
            external_labels: BTreeMap::new(),
            query_log_file: None,
            scrape_failure_log_file: None,
            body_size_limit: None,
            sample_limit: None,
            target_limit: None,
            label_limit: None,
            label_name_length_limit: None,
            label_value_length_limit: None,
            keep_dropped_targets: None,
            metric_name_validation_scheme: None,
            metric_name_escaping_scheme: None,
            always_scrape_classic_histograms: None,
            convert_classic_histograms_to_nhcb: None,
            scrape_native_histograms: None,
            extra_scrape_metrics: None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gogc: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsdb: Option<TsdbConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exemplars: Option<ExemplarsConfig>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsdbConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_order_time_window: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_series_compaction_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_encoding: Option<ChunkEncodingConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionConfig>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkEncodingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floats: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExemplarsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_exemplars: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_fraction: Option<f64>,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
}

/// One static target group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    pub files: Vec<String>,
    #[serde(default = "default_file_sd_refresh")]
    pub refresh_interval: Duration,
}

fn default_file_sd_refresh() -> Duration {
    Duration::from_secs(300)
}

/// Adds `static_configs`, every service discovery list Prometheus has and
/// `relabel_configs` between a struct's `head` and `tail` fields, then the
/// HTTP client fields ([`with_http_client!`]). Discovery kinds Bongsu does
/// not run are kept as [`Opaque`] and named by `unsupported_discovery()`.
macro_rules! with_discovery {
    ($(#[$m:meta])* pub struct $name:ident { $($head:tt)* } then { $($tail:tt)* }) => {
        with_discovery!(@emit [$(#[$m])*] $name [$($head)*] [$($tail)*] [
            aws_sd_configs,
            azure_sd_configs,
            consul_sd_configs,
            digitalocean_sd_configs,
            docker_sd_configs,
            dockerswarm_sd_configs,
            ec2_sd_configs,
            ecs_sd_configs,
            elasticache_sd_configs,
            eureka_sd_configs,
            gce_sd_configs,
            hetzner_sd_configs,
            ionos_sd_configs,
            kubernetes_sd_configs,
            kuma_sd_configs,
            lightsail_sd_configs,
            linode_sd_configs,
            marathon_sd_configs,
            msk_sd_configs,
            nerve_sd_configs,
            nomad_sd_configs,
            oci_sd_configs,
            openstack_sd_configs,
            outscale_sd_configs,
            ovhcloud_sd_configs,
            puppetdb_sd_configs,
            rds_sd_configs,
            scaleway_sd_configs,
            serverset_sd_configs,
            stackit_sd_configs,
            triton_sd_configs,
            uyuni_sd_configs,
            vultr_sd_configs
        ]);
    };
    (@emit [$($m:tt)*] $name:ident [$($head:tt)*] [$($tail:tt)*] [$($sd:ident),*]) => {
        with_http_client! {
            $($m)*
            pub struct $name {
                $($head)*
                #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
                pub static_configs: Vec<StaticConfig>,
                #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
                pub dns_sd_configs: Vec<Opaque>,
                #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
                pub http_sd_configs: Vec<Opaque>,
                $(
                    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
                    pub $sd: Vec<Opaque>,
                )*
                #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
                pub file_sd_configs: Vec<FileSdConfig>,
                #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
                pub relabel_configs: Vec<RelabelConfig>,
                $($tail)*
            }
        }

        impl $name {
            /// Names of the service discovery mechanisms configured here that
            /// Bongsu accepts but does not run yet (e.g. `kubernetes_sd_configs`).
            pub fn unsupported_discovery(&self) -> Vec<&'static str> {
                let mut v = Vec::new();
                $(
                    if !self.$sd.is_empty() {
                        v.push(stringify!($sd));
                    }
                )*
                v
            }
        }
    };
}

with_discovery! {
    /// One `scrape_configs` entry (a job).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ScrapeConfig {
        #[serde(default)]
        pub job_name: String,
        #[serde(default)]
        pub honor_labels: bool,
        #[serde(default = "default_true")]
        pub honor_timestamps: bool,
        #[serde(default = "default_true", skip_serializing_if = "is_true")]
        pub track_timestamps_staleness_default: bool,
        #[serde(default)]
        pub track_timestamps_staleness: bool,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub params: BTreeMap<String, Vec<String>>,
        /// Filled in after parsing from the global section when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub scrape_interval: Option<Duration>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub scrape_timeout: Option<Duration>,
        #[serde(
            default,
            skip_serializing_if = "Vec::is_empty",
            deserialize_with = "non_empty_protocols"
        )]
        pub scrape_protocols: Vec<ScrapeProtocol>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fallback_scrape_protocol: Option<ScrapeProtocol>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub scrape_native_histograms: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub always_scrape_classic_histograms: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub convert_classic_histograms_to_nhcb: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub scrape_classic_histograms: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub scrape_failure_log_file: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enable_compression: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub extra_scrape_metrics: Option<bool>,
        #[serde(default = "default_metrics_path")]
        pub metrics_path: String,
        #[serde(default = "default_scheme")]
        pub scheme: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub body_size_limit: Option<ByteSize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub sample_limit: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub target_limit: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub label_limit: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub label_name_length_limit: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub label_value_length_limit: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub native_histogram_bucket_limit: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub native_histogram_min_bucket_factor: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub keep_dropped_targets: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metric_name_validation_scheme: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metric_name_escaping_scheme: Option<String>,
    } then {
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
        pub metric_relabel_configs: Vec<RelabelConfig>,
    }
}

with_http_client! {
    /// One `http_sd_configs` entry: a URL answering with JSON target groups.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct HttpSdConfig {
        pub url: String,
        #[serde(default = "default_http_sd_refresh")]
        pub refresh_interval: Duration,
    }
}

fn default_http_sd_refresh() -> Duration {
    Duration::from_secs(60)
}

impl HttpSdConfig {
    fn validate(&self) -> Result<(), String> {
        if self.url.is_empty() {
            return Err("URL is missing".into());
        }
        let u =
            url::Url::parse(&self.url).map_err(|e| format!("invalid URL {:?}: {e}", self.url))?;
        if u.scheme() != "http" && u.scheme() != "https" {
            return Err("URL scheme must be 'http' or 'https'".into());
        }
        if u.host_str().unwrap_or("").is_empty() {
            return Err("host is missing in URL".into());
        }
        self.validate_http()
    }
}

fn default_metrics_path() -> String {
    "/metrics".into()
}

fn default_scheme() -> String {
    "http".into()
}

impl ScrapeConfig {

    /// The job's `http_sd_configs`, typed.
    pub fn http_sd(&self) -> Result<Vec<HttpSdConfig>, String> {
        self.http_sd_configs
            .iter()
            .map(|o| {
                serde_json::from_value::<HttpSdConfig>(o.0.clone())
                    .map_err(|e| format!("http_sd_configs: {e}"))
            })
            .collect()
    }

    /// The job's `dns_sd_configs`, typed.
    pub fn dns_sd(&self) -> Result<Vec<crate::dns::DnsSdConfig>, String> {
        self.dns_sd_configs
            .iter()
            .map(|o| {
                serde_json::from_value::<crate::dns::DnsSdConfig>(o.0.clone())
                    .map_err(|e| format!("dns_sd_configs: {e}"))
            })
            .collect()
    }

    /// The effective interval (always set after loading).
    pub fn interval(&self) -> Duration {
        self.scrape_interval.unwrap_or_else(default_interval)
    }

    /// The effective timeout (always set after loading).
    pub fn timeout(&self) -> Duration {
        self.scrape_timeout.unwrap_or(Duration::from_secs(10))
    }

    /// The effective protocols, in preference order.
    pub fn protocols(&self) -> Vec<ScrapeProtocol> {
        if self.scrape_protocols.is_empty() {
            ScrapeProtocol::defaults()
        } else {
            self.scrape_protocols.clone()
        }
    }
}

with_discovery! {
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct AlertmanagerConfig {
        #[serde(default = "default_am_api")]
        pub api_version: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub path_prefix: Option<String>,
        #[serde(default = "default_scheme")]
        pub scheme: String,
        #[serde(default = "default_am_timeout")]
        pub timeout: Duration,
    } then {
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
        pub alert_relabel_configs: Vec<RelabelConfig>,
    }
}

fn default_am_api() -> String {
    "v2".into()
}

fn default_am_timeout() -> Duration {
    Duration::from_secs(10)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_shards: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_shards: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_samples_per_send: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_send_deadline: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_backoff: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on_http_429: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_age_limit: Option<Duration>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_samples_per_send: Option<u64>,
}

with_http_client! {
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RemoteWriteConfig {
        pub url: String,
        #[serde(default = "default_rw_timeout")]
        pub remote_timeout: Duration,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub headers: BTreeMap<String, Secret>,
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
        pub write_relabel_configs: Vec<RelabelConfig>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub send_exemplars: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub send_native_histograms: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub round_robin_dns: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub protobuf_message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub queue_config: Option<QueueConfig>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata_config: Option<MetadataConfig>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub sigv4: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub azuread: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub google_iam: Option<serde_json::Value>,
    }
}

fn default_rw_timeout() -> Duration {
    Duration::from_secs(30)
}

with_http_client! {
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RemoteReadConfig {
        pub url: String,
        #[serde(default = "default_rr_timeout")]
        pub remote_timeout: Duration,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub headers: BTreeMap<String, Secret>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub required_matchers: BTreeMap<String, String>,
        #[serde(default)]
        pub read_recent: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub filter_external_labels: Option<bool>,
    }
}

fn default_rr_timeout() -> Duration {
    Duration::from_secs(60)
}

// ---------------------------------------------------------------------------
// Loading

/// Reads and validates a `prometheus.yml`. Relative file paths inside it
/// (rule files, file_sd files, credential files, TLS files) are resolved
/// against the file's directory, as Prometheus does.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let mut cfg = load_str(&text, &path.display().to_string())?;
    let dir: PathBuf = path.parent().map(Path::to_path_buf).unwrap_or_default();
    // Jobs from `scrape_config_files`, validated against their own file.
    let mut seen: HashSet<String> = cfg
        .scrape_configs
        .iter()
        .map(|s| s.job_name.clone())
        .collect();
    let global = cfg.global.clone();
    for pat in cfg.scrape_config_files.clone() {
        let mut p = Some(pat);
        resolve(&mut p, &dir);
        let pat = p.unwrap_or_default();
        for f in crate::discovery::expand_pattern(&pat) {
            let fname = f.display().to_string();
            let t = std::fs::read_to_string(&f).map_err(|e| ConfigError::Io {
                path: fname.clone(),
                source: e,
            })?;
            let parsed: ScrapeConfigFile =
                match serde_saphyr::from_str::<Option<ScrapeConfigFile>>(&t) {
                    Ok(c) => c.unwrap_or(ScrapeConfigFile {
                        scrape_configs: Vec::new(),
                    }),
                    Err(e) => {
                        let (line, column) = e
                            .location()
                            .map(|l| (l.line(), l.column()))
                            .unwrap_or((0, 0));
                        return Err(ConfigError::Parse {
                            file: fname,
                            line,
                            column,
                            message: first_line(&e.without_snippet().to_string()),
                        });
                    }
                };
            for mut sc in parsed.scrape_configs {
                prepare_scrape_config(&mut sc, &global, &t, &fname, &mut seen)?;
                // Paths inside an included file are relative to that file.
                let fdir = f.parent().map(Path::to_path_buf).unwrap_or_default();
                resolve_scrape_paths(&mut sc, &fdir);
                cfg.scrape_configs.push(sc);
            }
        }
    }
    cfg.resolve_paths(&dir);
    Ok(cfg)
}

/// Parses and validates configuration text; `filename` is used in errors.
pub fn load_str(text: &str, filename: &str) -> Result<Config, ConfigError> {
    let mut cfg: Config = if text.trim().is_empty() {
        Config::default()
    } else {
        match serde_saphyr::from_str::<Option<Config>>(text) {
            Ok(c) => c.unwrap_or_default(),
            Err(e) => {
                let (line, column) = e
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((0, 0));
                return Err(ConfigError::Parse {
                    file: filename.to_string(),
                    line,
                    column,
                    message: first_line(&e.without_snippet().to_string()),
                });
            }
        }
    };
    cfg.fill_defaults_and_validate(text, filename)?;
    Ok(cfg)
}

fn first_line(s: &str) -> String {
    // The parser's message may carry its own "at line X column Y" suffix and a
    // snippet; our prefix has the position already.
    let l = s.lines().next().unwrap_or("").trim();
    l.to_string()
}

/// The position of `key: value` for a job, found in the text (1-based), used
/// for semantic errors the YAML parser cannot place.
/// For a semantic error without a recorded position: the first place the
/// message's quoted value (a URL, a name, a path) appears in the text, or
/// else the section or key the message is about.
fn guess_position(text: &str, message: &str) -> (u64, u64) {
    let find = |needle: &str| -> Option<(u64, u64)> {
        if needle.is_empty() {
            return None;
        }
        text.lines()
            .enumerate()
            .find_map(|(i, l)| l.find(needle).map(|c| ((i + 1) as u64, (c + 1) as u64)))
    };
    let mut parts = message.split('"');
    if let (Some(_), Some(q)) = (parts.next(), parts.next()) {
        if let Some(p) = find(q) {
            return p;
        }
    }
    let keys = [
        "scrape_timeout",
        "metric_name_validation_scheme",
        "metric_name_escaping_scheme",
        "scrape_protocols",
        "chunk_encoding",
        "retention",
        "queue_config",
        "headers",
        "protobuf_message",
        "api_version",
        "alert_relabel_configs",
        "remote_write",
        "remote_read",
        "alerting",
        "tracing",
        "rule_files",
        "scrape_config_files",
        "external_labels",
        "global",
    ];
    for k in keys {
        if message.contains(k) || message.contains(&k.replace('_', " ")) {
            if let Some(p) = find(&format!("{k}:")) {
                return p;
            }
        }
    }
    (0, 0)
}

fn locate_job(text: &str, job: &str) -> (u64, u64) {
    for (i, line) in text.lines().enumerate() {
        if let Some(pos) = line.find("job_name") {
            let rest = line[pos + "job_name".len()..].trim_start();
            if let Some(v) = rest.strip_prefix(':') {
                let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                if v == job {
                    return ((i + 1) as u64, (pos + 1) as u64);
                }
            }
        }
    }
    (0, 0)
}

impl Config {
    fn fill_defaults_and_validate(&mut self, text: &str, file: &str) -> Result<(), ConfigError> {
        let invalid = |line: u64, column: u64, message: String| {
            let (line, column) = if line == 0 {
                guess_position(text, &message)
            } else {
                (line, column)
            };
            ConfigError::Invalid {
                file: file.to_string(),
                line,
                column,
                message,
            }
        };
        let g = &mut self.global;
        if g.scrape_timeout.0 == 0 {
            g.scrape_timeout = if Duration::from_secs(10) > g.scrape_interval {
                g.scrape_interval
            } else {
                Duration::from_secs(10)
            };
        }
        if g.scrape_timeout > g.scrape_interval {
            return Err(invalid(
                0,
                0,
                "global scrape timeout greater than scrape interval".into(),
            ));
        }
        check_name_schemes(
            g.metric_name_validation_scheme.as_deref(),
            g.metric_name_escaping_scheme.as_deref(),
        )
        .map_err(|m| invalid(0, 0, m))?;
        if g.scrape_protocols.is_empty() {
            g.scrape_protocols = ScrapeProtocol::defaults();
        }
        check_protocols(&g.scrape_protocols).map_err(|m| invalid(0, 0, format!("global: {m}")))?;
        for name in g.external_labels.keys() {
            if name.is_empty() {
                return Err(invalid(
                    0,
                    0,
                    "external label name must not be empty".into(),
                ));
            }
        }
        let global = self.global.clone();
        let mut seen = HashSet::new();
        for sc in &mut self.scrape_configs {
            prepare_scrape_config(sc, &global, text, file, &mut seen)?;
        }
        if let Some(al) = &self.alerting {
            for rc in &al.alert_relabel_configs {
                rc.validate()
                    .map_err(|m| invalid(0, 0, format!("alerting: {m}")))?;
            }
            for am in &al.alertmanagers {
                am.validate_http()
                    .map_err(|m| invalid(0, 0, format!("alertmanager: {m}")))?;
                if am.api_version != "v2" {
                    return Err(invalid(
                        0,
                        0,
                        format!(
                            "expected Alertmanager api version to be one of [v2] but got {}",
                            am.api_version
                        ),
                    ));
                }
                for rc in am.relabel_configs.iter().chain(&am.alert_relabel_configs) {
                    rc.validate()
                        .map_err(|m| invalid(0, 0, format!("alertmanager: {m}")))?;
                }
            }
        }
        let mut names = HashSet::new();
        for rw in &self.remote_write {
            rw.validate_http()
                .map_err(|m| invalid(0, 0, format!("remote_write {}: {m}", rw.url)))?;
            if url::Url::parse(&rw.url).is_err() {
                return Err(invalid(
                    0,
                    0,
                    format!("remote_write: invalid url {:?}", rw.url),
                ));
            }
            if let Some(n) = &rw.name {
                if !names.insert(n.clone()) {
                    return Err(invalid(
                        0,
                        0,
                        format!("found multiple remote write configs with job name {n:?}"),
                    ));
                }
            }
            check_headers(&rw.headers).map_err(|m| invalid(0, 0, format!("remote_write: {m}")))?;
            if let Some(m) = &rw.protobuf_message {
                if m != "prometheus.WriteRequest" && m != "io.prometheus.write.v2.Request" {
                    return Err(invalid(0, 0, format!(
                        "invalid protobuf_message value: unknown remote write protobuf message {m}, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request"
                    )));
                }
            }
            if let Some(q) = &rw.queue_config {
                q.validate().map_err(|m| invalid(0, 0, m))?;
            }
            for rc in &rw.write_relabel_configs {
                rc.validate()
                    .map_err(|m| invalid(0, 0, format!("remote_write: {m}")))?;
            }
        }
        let mut rnames = HashSet::new();
        for rr in &self.remote_read {
            rr.validate_http()
                .map_err(|m| invalid(0, 0, format!("remote_read {}: {m}", rr.url)))?;
            check_headers(&rr.headers).map_err(|m| invalid(0, 0, format!("remote_read: {m}")))?;
            if let Some(n) = &rr.name {
                if !rnames.insert(n.clone()) {
                    return Err(invalid(
                        0,
                        0,
                        format!("found multiple remote read configs with job name {n:?}"),
                    ));
                }
            }
            if url::Url::parse(&rr.url).is_err() {
                return Err(invalid(
                    0,
                    0,
                    format!("remote_read: invalid url {:?}", rr.url),
                ));
            }
        }
        let pat =
            regex::Regex::new(r"^[^*]*(\*[^/]*)?$").map_err(|e| invalid(0, 0, e.to_string()))?;
        for rf in &self.rule_files {
            if rf.is_empty() || !pat.is_match(rf) {
                return Err(invalid(0, 0, format!("invalid rule file path {rf:?}")));
            }
        }
        for sf in &self.scrape_config_files {
            if !pat.is_match(sf) {
                return Err(invalid(
                    0,
                    0,
                    format!("invalid scrape config file path {sf:?}"),
                ));
            }
        }
        if let Some(t) = &self.tracing {
            t.validate().map_err(|m| invalid(0, 0, m))?;
        }
        if let Some(tsdb) = self.storage.as_ref().and_then(|s| s.tsdb.as_ref()) {
            if let Some(f) = tsdb
                .chunk_encoding
                .as_ref()
                .and_then(|c| c.floats.as_deref())
            {
                if !matches!(f, "" | "xor" | "xor2") {
                    return Err(invalid(0, 0, format!("'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be omitted entirely, got {f:?}")));
                }
            }
            if let Some(p) = tsdb.retention.as_ref().and_then(|r| r.percentage) {
                if !(0.0..=100.0).contains(&p) {
                    return Err(invalid(0, 0, format!("'storage.tsdb.retention.percentage' must be in the range [0, 100], got {p}")));
                }
            }
        }
        Ok(())
    }

    fn resolve_paths(&mut self, dir: &Path) {
        for rf in &mut self.rule_files {
            let mut o = Some(std::mem::take(rf));
            resolve(&mut o, dir);
            *rf = o.unwrap_or_default();
        }
        for sc in &mut self.scrape_configs {
            resolve_scrape_paths(sc, dir);
        }
        if let Some(al) = &mut self.alerting {
            for am in &mut al.alertmanagers {
                am.resolve_http_paths(dir);
            }
        }
        for rw in &mut self.remote_write {
            rw.resolve_http_paths(dir);
        }
        for rr in &mut self.remote_read {
            rr.resolve_http_paths(dir);
        }
    }

    /// The scrape config for a job.
    pub fn job(&self, name: &str) -> Option<&ScrapeConfig> {
        self.scrape_configs.iter().find(|s| s.job_name == name)
    }
}

/// Fills a job's defaults from the global section and validates it.
fn prepare_scrape_config(
    sc: &mut ScrapeConfig,
    global: &GlobalConfig,
    text: &str,
    file: &str,
    seen: &mut HashSet<String>,
) -> Result<(), ConfigError> {
    let (line, col) = locate_job(text, &sc.job_name);
    let jerr = |m: String| ConfigError::Invalid {
        file: file.to_string(),
        line,
        column: col,
        message: m,
    };
    if sc.job_name.is_empty() {
        return Err(jerr("job_name is empty".into()));
    }
    if !seen.insert(sc.job_name.clone()) {
        return Err(jerr(format!(
            "found multiple scrape configs with job name {:?}",
            sc.job_name
        )));
    }
    // A zero duration means "unset", as Go's zero value does.
    if sc.scrape_interval.map(|d| d.0 == 0).unwrap_or(false) {
        sc.scrape_interval = None;
    }
    if sc.scrape_timeout.map(|d| d.0 == 0).unwrap_or(false) {
        sc.scrape_timeout = None;
    }
    let interval = *sc.scrape_interval.get_or_insert(global.scrape_interval);
    if sc.scrape_timeout.is_none() {
        sc.scrape_timeout = Some(if global.scrape_timeout > interval {
            interval
        } else {
            global.scrape_timeout
        });
    }
    if sc.timeout() > interval {
        return Err(jerr(format!(
            "scrape timeout greater than scrape interval for scrape config with job name {:?}",
            sc.job_name
        )));
    }
    if sc.scrape_protocols.is_empty() {
        sc.scrape_protocols = global.scrape_protocols.clone();
    }
    check_protocols(&sc.scrape_protocols).map_err(|m| {
        jerr(format!(
            "{m} for scrape config with job name {:?}",
            sc.job_name
        ))
    })?;
    // Like Prometheus, scheme and metrics_path are not checked here: a bad
    // scheme fails at scrape time, and a path without '/' gets one.
    check_name_schemes(
        sc.metric_name_validation_scheme
            .as_deref()
            .or(global.metric_name_validation_scheme.as_deref()),
        sc.metric_name_escaping_scheme
            .as_deref()
            .or(global.metric_name_escaping_scheme.as_deref()),
    )
    .map_err(|m| jerr(format!("{m} (job {:?})", sc.job_name)))?;
    sc.validate_http()
        .map_err(|m| jerr(format!("job {:?}: {m}", sc.job_name)))?;
    macro_rules! inherit {
        ($f:ident) => {
            if sc.$f.is_none() {
                sc.$f = global.$f;
            }
        };
    }
    inherit!(body_size_limit);
    inherit!(sample_limit);
    inherit!(target_limit);
    inherit!(label_limit);
    inherit!(label_name_length_limit);
    inherit!(label_value_length_limit);
    inherit!(keep_dropped_targets);
    if sc.metric_name_validation_scheme.is_none() {
        sc.metric_name_validation_scheme = Some(
            global
                .metric_name_validation_scheme
                .clone()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "utf8".into()),
        );
    }
    if sc.metric_name_escaping_scheme.is_none() {
        let legacy = sc.metric_name_validation_scheme.as_deref() == Some("legacy");
        sc.metric_name_escaping_scheme = Some(
            global
                .metric_name_escaping_scheme
                .clone()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| {
                    if legacy {
                        "underscores".into()
                    } else {
                        "allow-utf-8".into()
                    }
                }),
        );
    }
    for rc in sc.relabel_configs.iter().chain(&sc.metric_relabel_configs) {
        rc.validate()
            .map_err(|m| jerr(format!("job {:?}: {m}", sc.job_name)))?;
    }
    for (gi, st) in sc.static_configs.iter().enumerate() {
        for t in &st.targets {
            if t.contains('/') {
                return Err(jerr(format!(
                        "job {:?}: static_configs[{gi}]: {t:?} is not a valid hostname (host:port without scheme or path)",
                        sc.job_name
                    )));
            }
        }
    }
    for h in sc
        .http_sd()
        .map_err(|m| jerr(format!("job {:?}: {m}", sc.job_name)))?
    {
        h.validate()
            .map_err(|m| jerr(format!("job {:?}: http_sd_configs: {m}", sc.job_name)))?;
    }
    for d in sc
        .dns_sd()
        .map_err(|m| jerr(format!("job {:?}: {m}", sc.job_name)))?
    {
        d.validate()
            .map_err(|m| jerr(format!("job {:?}: dns_sd_configs: {m}", sc.job_name)))?;
    }
    for fsd in &sc.file_sd_configs {
        for f in &fsd.files {
            check_sd_file_pattern(f).map_err(|m| jerr(format!("job {:?}: {m}", sc.job_name)))?;
        }
    }
    Ok(())
}

fn check_name_schemes(validation: Option<&str>, escaping: Option<&str>) -> Result<(), String> {
    let v = validation.unwrap_or("");
    if !matches!(v, "" | "utf8" | "legacy") {
        return Err(format!("unknown name validation method specified, must be either '', 'legacy' or 'utf8', got {v}"));
    }
    let e = escaping.unwrap_or("");
    if !matches!(e, "" | "allow-utf-8" | "underscores" | "dots" | "values") {
        return Err(format!("unknown name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got {e:?}"));
    }
    if v == "legacy" && e == "allow-utf-8" {
        return Err("utf8 metric names requested but validation scheme is not set to UTF8".into());
    }
    Ok(())
}

/// Headers remote write/read and tracing must not override.
const RESERVED_HEADERS: [&str; 15] = [
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
];

fn check_headers(h: &BTreeMap<String, Secret>) -> Result<(), String> {
    for k in h.keys() {
        let l = k.to_ascii_lowercase();
        if l == "authorization" {
            return Err("authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter".into());
        }
        if RESERVED_HEADERS.contains(&l.as_str()) {
            return Err(format!("{k} is a reserved header. It must not be changed"));
        }
    }
    Ok(())
}

impl QueueConfig {
    fn validate(&self) -> Result<(), String> {
        if self.max_shards == Some(0) {
            return Err("remote write queue max_shards must be positive".into());
        }
        if self.min_shards == Some(0) {
            return Err("remote write queue min_shards must be positive".into());
        }
        if let (Some(a), Some(b)) = (self.min_shards, self.max_shards) {
            if a > b {
                return Err(
                    "remote write queue min_shards must not be greater than max_shards".into(),
                );
            }
        }
        if self.max_samples_per_send == Some(0) {
            return Err("remote write queue max_samples_per_send must be positive".into());
        }
        if self.capacity == Some(0) {
            return Err("remote write queue capacity must be positive".into());
        }
        if let (Some(a), Some(b)) = (self.min_backoff, self.max_backoff) {
            if b < a {
                return Err(
                    "remote write queue max_backoff must not be less than min_backoff".into(),
                );
            }
        }
        Ok(())
    }
}

impl TracingConfig {
    fn validate(&self) -> Result<(), String> {
        check_headers(&self.headers).map_err(|m| format!("tracing: {m}"))?;
        if let Some(ct) = self.client_type.as_deref() {
            if ct != "http" && ct != "grpc" {
                return Err(format!(
                    "expected tracing client type to be to be http or grpc, but got {ct}"
                ));
            }
        }
        if self.endpoint.as_deref().unwrap_or("").is_empty() {
            return Err("tracing endpoint must be set".into());
        }
        if let Some(c) = self.compression.as_deref() {
            if !c.is_empty() && c != "gzip" {
                return Err(format!(
                    "invalid compression type {c} provided, valid options: gzip"
                ));
            }
        }
        Ok(())
    }
}

/// A file named by `scrape_config_files`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScrapeConfigFile {
    #[serde(default, deserialize_with = "null_as_empty")]
    scrape_configs: Vec<ScrapeConfig>,
}

fn check_protocols(ps: &[ScrapeProtocol]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for p in ps {
        if !seen.insert(*p) {
            return Err(format!(
                "duplicated protocol in scrape_protocols, got {ps:?}"
            ));
        }
    }
    Ok(())
}

fn check_sd_file_pattern(f: &str) -> Result<(), String> {
    let base = Path::new(f)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ok = [".json", ".yml", ".yaml"].iter().any(|ext| {
        base.ends_with(ext) || base.ends_with(&format!("{ext}*")) || base.ends_with('*')
    });
    if !ok {
        return Err(format!(
            "path {f:?} is not valid for file discovery: use .json, .yml or .yaml"
        ));
    }
    Ok(())
}

/// Renders the configuration as YAML with secrets hidden.
pub fn to_yaml(cfg: &Config) -> String {
    serde_saphyr::to_string(cfg)
        .unwrap_or_else(|e| format!("# could not render configuration: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
global:
  scrape_interval: 15s
  external_labels:
    region: eu
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]
        labels: {env: prod}
  - job_name: node
    scrape_interval: 5s
    basic_auth:
      username: u
      password: hunter2
    relabel_configs:
      - source_labels: [__address__]
        regex: "(.*):.*"
        target_label: host
    file_sd_configs:
      - files: ["targets/*.json"]
rule_files: ["rules/*.yml"]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["am:9093"]
remote_write:
  - url: http://mimir/api/v1/push
    authorization:
      credentials: tok
"#;

    #[test]
    fn parses_and_fills_defaults() {
        let c = load_str(GOOD, "p.yml").expect("valid");
        assert_eq!(c.global.scrape_interval, Duration::from_secs(15));
        assert_eq!(c.global.scrape_timeout, Duration::from_secs(10));
        assert_eq!(c.global.evaluation_interval, Duration::from_secs(60));
        let p = c.job("prometheus").expect("job");
        assert_eq!(p.interval(), Duration::from_secs(15));
        assert_eq!(p.metrics_path, "/metrics");
        let n = c.job("node").expect("job");
        assert_eq!(n.interval(), Duration::from_secs(5));
        assert_eq!(n.timeout(), Duration::from_secs(5));
        assert_eq!(
            n.basic_auth
                .as_ref()
                .and_then(|b| b.password.as_ref())
                .map(|s| s.expose()),
            Some("hunter2")
        );
        let y = to_yaml(&c);
        assert!(!y.contains("hunter2"), "{y}");
        assert!(!y.contains("tok\n"), "{y}");
        assert!(y.contains("<secret>"), "{y}");
        // The rendered form parses back.
        let back = load_str(&y.replace("<secret>", "x"), "r.yml");
        assert!(back.is_ok(), "{back:?}\n{y}");
    }

    #[test]
    fn empty_file_is_default() {
        let c = load_str("", "e.yml").expect("ok");
        assert_eq!(c.global.scrape_interval, Duration::from_secs(60));
        assert!(c.scrape_configs.is_empty());
    }

    fn err(text: &str) -> String {
        load_str(text, "p.yml").expect_err("must fail").to_string()
    }

    #[test]
    fn unknown_field_has_position() {
        let e = err("global:\n  scrape_interval: 15s\n  scrap_timeout: 5s\n");
        assert!(e.starts_with("p.yml:3:"), "{e}");
        assert!(e.contains("scrap_timeout"), "{e}");
    }

    #[test]
    fn bad_duration_has_position() {
        let e = err("scrape_configs:\n  - job_name: a\n    scrape_interval: 5x\n");
        assert!(e.starts_with("p.yml:3:"), "{e}");
        assert!(e.contains("5x"), "{e}");
    }

    #[test]
    fn bad_regex_has_position() {
        let e = err("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - regex: \"(\"\n        action: drop\n");
        assert!(e.starts_with("p.yml:4:"), "{e}");
    }

    #[test]
    fn duplicate_job() {
        let e = err("scrape_configs:\n  - job_name: a\n  - job_name: a\n");
        assert!(
            e.contains("found multiple scrape configs with job name \"a\""),
            "{e}"
        );
        assert!(e.starts_with("p.yml:2:"), "{e}");
    }

    #[test]
    fn timeout_over_interval() {
        let e = err(
            "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
        );
        assert!(
            e.contains("scrape timeout greater than scrape interval"),
            "{e}"
        );
    }

    #[test]
    fn missing_job_name() {
        let e = err("scrape_configs:\n  - scrape_interval: 5s\n");
        assert!(e.contains("job_name is empty"), "{e}");
    }

    #[test]
    fn global_timeout_defaults_to_short_interval() {
        let c = load_str(
            "global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: a\n",
            "p",
        )
        .expect("ok");
        assert_eq!(c.global.scrape_timeout, Duration::from_secs(5));
        assert_eq!(c.scrape_configs[0].timeout(), Duration::from_secs(5));
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(ByteSize::parse("10MB"), Some(10 << 20));
        assert_eq!(ByteSize::parse("0"), Some(0));
        assert_eq!(ByteSize::parse("1KiB"), Some(1024));
        assert_eq!(ByteSize::parse("1x"), None);
    }
}

/// Prometheus' own `config/testdata` (not vendored): set
/// `BONGSU_PROM_CONFIG_TESTDATA` to a checkout's `config/testdata` to run.
/// Every `*.good.yml` must load; every `*.bad.yml` must be rejected.
#[cfg(test)]
mod upstream_testdata {
    use super::*;

    #[test]
    fn prometheus_config_testdata() {
        let Some(dir) = std::env::var_os("BONGSU_PROM_CONFIG_TESTDATA") else {
            eprintln!("BONGSU_PROM_CONFIG_TESTDATA not set; skipping Prometheus config testdata");
            return;
        };
        let dir = PathBuf::from(dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        let (mut good_ok, mut good_n, mut bad_ok, mut bad_n) = (0, 0, 0, 0);
        for f in files {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let res = load_file(&f);
            if name.ends_with(".good.yml") {
                good_n += 1;
                match res {
                    Ok(c) => {
                        // The rendered form (secrets hidden) loads again.
                        let y = to_yaml(&c).replace("<secret>", "x");
                        match load_str(&y, "rendered") {
                            Ok(_) => good_ok += 1,
                            Err(e) => eprintln!("RENDERED {name} does not load: {e}\n{y}"),
                        }
                    }
                    Err(e) => eprintln!("GOOD REJECTED {name}: {e}"),
                }
            } else if name.ends_with(".bad.yml") {
                bad_n += 1;
                match res {
                    Err(_) => bad_ok += 1,
                    Ok(_) => eprintln!("BAD ACCEPTED {name}"),
                }
            }
        }
        eprintln!("Prometheus config testdata: good {good_ok}/{good_n} load, bad {bad_ok}/{bad_n} rejected");
    }
}

#[cfg(test)]
mod render_preview {
    /// `cargo test -p bongsu-scrape render_preview -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn preview() {
        let p = std::env::var("BONGSU_PREVIEW_CONFIG").unwrap_or_default();
        let c = super::load_file(std::path::Path::new(&p)).expect("load");
        println!("{}", super::to_yaml(&c));
    }
}

#[cfg(test)]
mod positions {
    use super::*;

    #[test]
    fn semantic_errors_point_at_the_place() {
        let e = load_str(
            "global:\n  scrape_interval: 15s\nremote_write:\n  - url: http://a/push\n    name: x\n  - url: http://b/push\n    name: x\n",
            "p.yml",
        )
        .expect_err("dup");
        assert!(e.to_string().starts_with("p.yml:5:"), "{e}");
        let e = load_str("rule_files:\n  - ok.yml\n  - 'a/*/b.yml'\n", "p.yml").expect_err("glob");
        assert!(e.to_string().starts_with("p.yml:3:"), "{e}");
        let e = load_str(
            "global:\n  scrape_interval: 5s\n  scrape_timeout: 10s\n",
            "p.yml",
        )
        .expect_err("timeout");
        assert!(e.to_string().starts_with("p.yml:3:"), "{e}");
    }
}

#[cfg(test)]
mod messages {
    use super::*;

    #[test]
    fn parser_messages_are_one_line_with_position() {
        for (text, want) in [
            ("scrape_configs:\n  - job_name: a\n    sample_limit: abc\n", "p.yml:3:"),
            ("global:\n  scrape_interval: [1]\n", "p.yml:2:"),
            ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: nope\n", "p.yml:4:"),
            ("global: {a: 1\n", "p.yml:"),
        ] {
            let e = load_str(text, "p.yml").expect_err("invalid").to_string();
            assert!(e.starts_with(want), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
