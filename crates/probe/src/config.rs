//! blackbox_exporter's module file (`blackbox.yml`): `modules: name:
//! {prober, timeout, http, tcp, icmp, dns, grpc}`, with blackbox_exporter
//! 0.23's defaults. Parsing is strict: an unknown field is an error naming
//! file:line:column, and so is a value the prober could not use (an unknown
//! prober, query type or rcode, a regexp that does not compile, a feature
//! Bongsu's probers do not have yet) — blackbox_exporter 0.23 accepts some
//! of those and fails every probe instead.

use std::collections::BTreeMap;
use std::path::Path;

use bongsu_scrape::config::{Authorization, BasicAuth, ByteSize, HttpHeader, OAuth2, Secret, TlsConfig};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A module-file error, with the place it was found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// A syntax or type error (or an unknown field) from the YAML parser.
    #[error("{file}:{line}:{column}: {message}")]
    Parse { file: String, line: u64, column: u64, message: String },
    /// A value the probers cannot use; the position is the module's key.
    #[error("{file}:{line}:{column}: module {module:?}: {message}")]
    Invalid { file: String, line: u64, column: u64, module: String, message: String },
}

/// blackbox_exporter's default `blackbox.yml` (0.23, as Debian ships it in
/// `/etc/prometheus/blackbox.yml`): the modules Bongsu serves without
/// `--probe.config.file`.
pub const EMBEDDED_MODULES: &str = r#"modules:
  http_2xx:
    prober: http
  http_post_2xx:
    prober: http
    http:
      method: POST
  tcp_connect:
    prober: tcp
  pop3s_banner:
    prober: tcp
    tcp:
      query_response:
      - expect: "^+OK"
      tls: true
      tls_config:
        insecure_skip_verify: false
  grpc:
    prober: grpc
    grpc:
      tls: true
      preferred_ip_protocol: "ip4"
  grpc_plain:
    prober: grpc
    grpc:
      tls: false
      service: "service1"
  ssh_banner:
    prober: tcp
    tcp:
      query_response:
      - expect: "^SSH-2.0-"
      - send: "SSH-2.0-blackbox-ssh-check"
  irc_banner:
    prober: tcp
    tcp:
      query_response:
      - send: "NICK prober"
      - send: "USER prober prober prober :prober"
      - expect: "PING :([^ ]+)"
        send: "PONG ${1}"
      - expect: "^:[^ ]+ 001"
  icmp:
    prober: icmp
  icmp_ttl5:
    prober: icmp
    timeout: 5s
    icmp:
      ttl: 5
"#;

/// The whole module file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    #[serde(default)]
    pub modules: BTreeMap<String, Module>,
}

/// One module: which prober, its timeout, and the prober's settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Module {
    /// `http`, `tcp`, `icmp`, `dns` or `grpc`.
    pub prober: String,
    /// The probe's timeout; 0 (unset) means the scrape's timeout minus the offset.
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub timeout: GoDuration,
    pub http: HttpProbe,
    pub tcp: TcpProbe,
    pub icmp: IcmpProbe,
    pub dns: DnsProbe,
    pub grpc: GrpcProbe,
}

/// A Go `time.Duration` as YAML spells it (`5s`, `1.5s`, `500ms`, `1m30s`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GoDuration(pub std::time::Duration);

impl GoDuration {
    fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

/// Parses Go's `time.ParseDuration` syntax (non-negative values only).
pub fn parse_go_duration(s: &str) -> Result<std::time::Duration, String> {
    let orig = s;
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return Err(format!("invalid duration {orig:?}"));
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_end == 0 {
            return Err(format!("invalid duration {orig:?}"));
        }
        let n: f64 = rest[..num_end].parse().map_err(|_| format!("invalid duration {orig:?}"))?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("missing unit in duration {orig:?}")),
            u => return Err(format!("unknown unit {u:?} in duration {orig:?}")),
        };
        rest = &rest[unit_end..];
        total += n * mult;
    }
    if !total.is_finite() || total > 1e10 {
        return Err(format!("invalid duration {orig:?}"));
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            // yaml.v3 decodes a bare integer into a Duration as nanoseconds.
            Raw::N(n) => Ok(GoDuration(std::time::Duration::from_nanos(n))),
            Raw::S(s) => parse_go_duration(&s).map(GoDuration).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:?}", self.0))
    }
}

/// A regular expression in Go's RE2 syntax, unanchored (blackbox_exporter's
/// `config.Regexp`); serialises as written.
#[derive(Debug, Clone)]
pub struct GoRegex {
    original: String,
    pub re: regex::Regex,
    pub bytes: regex::bytes::Regex,
}

impl GoRegex {
    pub fn new(s: &str) -> Result<Self, String> {
        // Go accepts a repeated empty-width assertion (`^+OK`, in the default
        // pop3s_banner module); Rust's regex does not: `^+` means `^`.
        let pattern = s.replace("^+", "^").replace("^*", "^");
        let re = bongsu_model::matcher::compile_go_regex(&pattern)
            .map_err(|e| format!("\"Could not compile regular expression\" regexp=\"{s}\": {}", e.message))?;
        let bytes = regex::bytes::Regex::new(re.as_str())
            .map_err(|e| format!("\"Could not compile regular expression\" regexp=\"{s}\": {e}"))?;
        Ok(GoRegex { original: s.to_string(), re, bytes })
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }
}

impl std::fmt::Display for GoRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.original)
    }
}

impl<'de> Deserialize<'de> for GoRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        GoRegex::new(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for GoRegex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.original)
    }
}

fn default_true() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The `http` prober's settings, with Prometheus' HTTP client fields inline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpProbe {
    /// Accepted status codes; empty means 2xx.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub valid_status_codes: Vec<i64>,
    /// Accepted protocol versions (`HTTP/1.1`, `HTTP/2.0`); empty means any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub valid_http_versions: Vec<String>,
    /// `ip4` or `ip6` (the default).
    #[serde(rename = "preferred_ip_protocol", skip_serializing_if = "String::is_empty")]
    pub ip_protocol: String,
    #[serde(default = "default_true")]
    pub ip_protocol_fallback: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub skip_resolve_phase_with_proxy: bool,
    /// Deprecated spelling of `follow_redirects: false`.
    #[serde(skip_serializing)]
    pub no_follow_redirects: Option<bool>,
    #[serde(skip_serializing_if = "is_false")]
    pub fail_if_ssl: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub fail_if_not_ssl: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fail_if_body_matches_regexp: Vec<GoRegex>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fail_if_body_not_matches_regexp: Vec<GoRegex>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fail_if_header_matches: Vec<HeaderMatch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fail_if_header_not_matches: Vec<HeaderMatch>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Decompress the body before matching: `gzip`, `deflate`, `identity`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
    /// Largest body read; more fails the probe. 0 means no limit.
    pub body_size_limit: ByteSize,
    // Prometheus' HTTP client configuration, inline.
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
    #[serde(skip_serializing_if = "is_false")]
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

impl Default for HttpProbe {
    fn default() -> Self {
        HttpProbe {
            valid_status_codes: Vec::new(),
            valid_http_versions: Vec::new(),
            ip_protocol: String::new(),
            ip_protocol_fallback: true,
            skip_resolve_phase_with_proxy: false,
            no_follow_redirects: None,
            fail_if_ssl: false,
            fail_if_not_ssl: false,
            method: String::new(),
            headers: BTreeMap::new(),
            fail_if_body_matches_regexp: Vec::new(),
            fail_if_body_not_matches_regexp: Vec::new(),
            fail_if_header_matches: Vec::new(),
            fail_if_header_not_matches: Vec::new(),
            body: String::new(),
            compression: String::new(),
            body_size_limit: ByteSize(0),
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

/// One `fail_if_header_matches` / `fail_if_header_not_matches` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    pub header: String,
    pub regexp: GoRegex,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_missing: bool,
}

/// One step of a TCP conversation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<GoRegex>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub send: String,
    #[serde(skip_serializing_if = "is_false")]
    pub starttls: bool,
}

/// The `tcp` prober's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpProbe {
    #[serde(rename = "preferred_ip_protocol", skip_serializing_if = "String::is_empty")]
    pub ip_protocol: String,
    pub ip_protocol_fallback: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source_ip_address: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query_response: Vec<QueryResponse>,
    #[serde(skip_serializing_if = "is_false")]
    pub tls: bool,
    pub tls_config: TlsConfig,
}

impl Default for TcpProbe {
    fn default() -> Self {
        TcpProbe {
            ip_protocol: String::new(),
            ip_protocol_fallback: true,
            source_ip_address: String::new(),
            query_response: Vec::new(),
            tls: false,
            tls_config: TlsConfig::default(),
        }
    }
}

/// The `icmp` prober's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IcmpProbe {
    #[serde(rename = "preferred_ip_protocol", skip_serializing_if = "String::is_empty")]
    pub ip_protocol: String,
    pub ip_protocol_fallback: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source_ip_address: String,
    pub payload_size: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub dont_fragment: bool,
    pub ttl: i64,
}

impl Default for IcmpProbe {
    fn default() -> Self {
        IcmpProbe {
            ip_protocol: String::new(),
            ip_protocol_fallback: true,
            source_ip_address: String::new(),
            payload_size: 0,
            dont_fragment: false,
            ttl: 64,
        }
    }
}

/// Regexps a section of a DNS answer is validated with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsRrValidator {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fail_if_matches_regexp: Vec<GoRegex>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fail_if_all_match_regexp: Vec<GoRegex>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fail_if_not_matches_regexp: Vec<GoRegex>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fail_if_none_matches_regexp: Vec<GoRegex>,
}

/// The `dns` prober's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsProbe {
    #[serde(rename = "preferred_ip_protocol", skip_serializing_if = "String::is_empty")]
    pub ip_protocol: String,
    pub ip_protocol_fallback: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub dns_over_tls: bool,
    pub tls_config: TlsConfig,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source_ip_address: String,
    /// `udp` (the default) or `tcp`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub transport_protocol: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query_class: String,
    pub query_name: String,
    /// Defaults to ANY.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query_type: String,
    #[serde(rename = "recursion_desired")]
    pub recursion: bool,
    /// Defaults to NOERROR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_rcodes: Option<Vec<String>>,
    #[serde(rename = "validate_answer_rrs")]
    pub validate_answer: DnsRrValidator,
    #[serde(rename = "validate_authority_rrs")]
    pub validate_authority: DnsRrValidator,
    #[serde(rename = "validate_additional_rrs")]
    pub validate_additional: DnsRrValidator,
}

impl Default for DnsProbe {
    fn default() -> Self {
        DnsProbe {
            ip_protocol: String::new(),
            ip_protocol_fallback: true,
            dns_over_tls: false,
            tls_config: TlsConfig::default(),
            source_ip_address: String::new(),
            transport_protocol: String::new(),
            query_class: String::new(),
            query_name: String::new(),
            query_type: String::new(),
            recursion: true,
            valid_rcodes: None,
            validate_answer: DnsRrValidator::default(),
            validate_authority: DnsRrValidator::default(),
            validate_additional: DnsRrValidator::default(),
        }
    }
}

/// The `grpc` prober's settings (the standard health-check protocol).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcProbe {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(skip_serializing_if = "is_false")]
    pub tls: bool,
    pub tls_config: TlsConfig,
    pub ip_protocol_fallback: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub preferred_ip_protocol: String,
}

impl Default for GrpcProbe {
    fn default() -> Self {
        GrpcProbe {
            service: String::new(),
            tls: false,
            tls_config: TlsConfig::default(),
            ip_protocol_fallback: true,
            preferred_ip_protocol: String::new(),
        }
    }
}

impl ProbeConfig {
    /// blackbox_exporter's default modules ([`EMBEDDED_MODULES`]).
    pub fn embedded() -> ProbeConfig {
        // Tested below: the embedded text always parses.
        Self::load_str(EMBEDDED_MODULES, "<embedded blackbox.yml>").unwrap_or_default()
    }

    /// Reads and validates a module file.
    pub fn load_file(path: &Path) -> Result<ProbeConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Io { path: path.display().to_string(), source: e })?;
        Self::load_str(&text, &path.display().to_string())
    }

    /// Parses and validates module-file text; `file` is used in errors.
    pub fn load_str(text: &str, file: &str) -> Result<ProbeConfig, ConfigError> {
        let mut cfg: ProbeConfig = if text.trim().is_empty() {
            ProbeConfig::default()
        } else {
            match serde_saphyr::from_str::<Option<ProbeConfig>>(text) {
                Ok(c) => c.unwrap_or_default(),
                Err(e) => {
                    let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
                    let msg = e.without_snippet().to_string();
                    return Err(ConfigError::Parse {
                        file: file.to_string(),
                        line,
                        column,
                        message: msg.lines().next().unwrap_or("").trim().to_string(),
                    });
                }
            }
        };
        for (name, m) in cfg.modules.iter_mut() {
            if let Err(message) = m.validate() {
                let (line, column) = locate_module(text, name);
                return Err(ConfigError::Invalid { file: file.to_string(), line, column, module: name.clone(), message });
            }
        }
        Ok(cfg)
    }
}

/// The line and column of a module's key (`  name:` under `modules:`), or 0:0.
fn locate_module(text: &str, name: &str) -> (u64, u64) {
    let mut in_modules = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("modules:") {
            in_modules = true;
            continue;
        }
        if !in_modules {
            continue;
        }
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent == 0 && !trimmed.is_empty() && !trimmed.starts_with('#') {
            in_modules = false;
            continue;
        }
        let key = trimmed.trim_end().strip_suffix(':').map(|k| k.trim_matches(|c| c == '"' || c == '\''));
        if indent > 0 && key == Some(name) {
            return ((i + 1) as u64, (indent + 1) as u64);
        }
    }
    (0, 0)
}

fn check_ip_protocol(field: &str, v: &str) -> Result<(), String> {
    match v {
        "" | "ip4" | "ip6" => Ok(()),
        o => Err(format!("{field}: {o:?} is not valid: use ip4 or ip6")),
    }
}

impl Module {
    /// blackbox_exporter's checks, and Bongsu's refusals of what its
    /// probers cannot do yet (so a module never silently does less).
    fn validate(&mut self) -> Result<(), String> {
        match self.prober.as_str() {
            "http" | "tcp" | "icmp" | "dns" | "grpc" => {}
            "" => return Err("prober is missing: use http, tcp, icmp, dns or grpc".into()),
            o => return Err(format!("unknown prober {o:?}: use http, tcp, icmp, dns or grpc")),
        }
        let h = &mut self.http;
        if let Some(nf) = h.no_follow_redirects.take() {
            tracing::warn!("no_follow_redirects is deprecated and will be removed in the next release. It is replaced by follow_redirects.");
            h.follow_redirects = !nf;
        }
        check_ip_protocol("http.preferred_ip_protocol", &h.ip_protocol)?;
        for m in h.fail_if_header_matches.iter().chain(&h.fail_if_header_not_matches) {
            if m.header.is_empty() {
                return Err("header name must be set for HTTP header matchers".into());
            }
            if m.regexp.as_str().is_empty() {
                return Err("regexp must be set for HTTP header matchers".into());
            }
        }
        match h.compression.to_ascii_lowercase().as_str() {
            "" | "identity" | "gzip" | "deflate" => {}
            "br" => return Err("http.compression: br (brotli) is not supported by Bongsu's http prober yet".into()),
            o => return Err(format!("http.compression: unsupported compression algorithm {o:?}")),
        }
        for (k, v) in &h.headers {
            if k.eq_ignore_ascii_case("accept-encoding") && !compression_accepted(&h.compression, v) {
                return Err(format!("invalid configuration \"{k}: {v}\", \"compression: {}\"", h.compression));
            }
        }
        if h.proxy_url.as_deref().is_some_and(|p| !p.is_empty()) || h.proxy_from_environment {
            return Err("http.proxy_url / proxy_from_environment are not supported by Bongsu's http prober yet".into());
        }
        let mut n = 0;
        n += h.basic_auth.is_some() as u32;
        n += h.authorization.is_some() as u32;
        n += h.oauth2.is_some() as u32;
        n += (h.bearer_token.is_some() || h.bearer_token_file.is_some()) as u32;
        if n > 1 {
            return Err("at most one of basic_auth, oauth2, bearer_token & bearer_token_file, authorization must be configured".into());
        }
        for t in [&h.tls_config, &self.tcp.tls_config, &self.dns.tls_config, &self.grpc.tls_config] {
            for v in [&t.min_version, &t.max_version].into_iter().flatten() {
                if !matches!(v.as_str(), "" | "TLS10" | "TLS11" | "TLS12" | "TLS13") {
                    return Err(format!("unknown TLS version: {v}"));
                }
            }
        }
        check_ip_protocol("tcp.preferred_ip_protocol", &self.tcp.ip_protocol)?;
        check_ip_protocol("icmp.preferred_ip_protocol", &self.icmp.ip_protocol)?;
        check_ip_protocol("dns.preferred_ip_protocol", &self.dns.ip_protocol)?;
        check_ip_protocol("grpc.preferred_ip_protocol", &self.grpc.preferred_ip_protocol)?;
        if self.icmp.ttl < 0 {
            return Err("\"ttl\" cannot be negative".into());
        }
        if self.icmp.ttl > 255 {
            return Err("\"ttl\" cannot exceed 255".into());
        }
        if self.icmp.payload_size < 0 || self.icmp.payload_size > 65000 {
            return Err("icmp.payload_size must be between 0 and 65000".into());
        }
        let d = &self.dns;
        if self.prober == "dns" && d.query_name.is_empty() {
            return Err("query name must be set for DNS module".into());
        }
        if !d.query_class.is_empty() && crate::dns::class_from_str(&d.query_class).is_none() {
            return Err(format!("query class '{}' is not valid", d.query_class));
        }
        if !d.query_type.is_empty() && crate::dns::type_from_str(&d.query_type).is_none() {
            return Err(format!("query type '{}' is not valid", d.query_type));
        }
        if !matches!(d.transport_protocol.as_str(), "" | "udp" | "tcp") {
            return Err(format!("dns.transport_protocol {:?}: use udp or tcp", d.transport_protocol));
        }
        if d.dns_over_tls && d.transport_protocol != "tcp" {
            return Err("dns.dns_over_tls needs transport_protocol: tcp".into());
        }
        for rc in d.valid_rcodes.iter().flatten() {
            if crate::dns::rcode_from_str(rc).is_none() {
                return Err(format!("dns.valid_rcodes: unknown rcode {rc:?}"));
            }
        }
        for ip in [&self.tcp.source_ip_address, &self.icmp.source_ip_address, &d.source_ip_address] {
            if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
                return Err(format!("error parsing source ip address: {ip}"));
            }
        }
        if self.icmp.dont_fragment {
            return Err("icmp.dont_fragment is not supported by Bongsu's icmp prober yet".into());
        }
        Ok(())
    }
}

/// blackbox_exporter's check that `compression` is one of the encodings the
/// module's `Accept-Encoding` header accepts (with a quality above 0).
fn compression_accepted(encoding: &str, accept: &str) -> bool {
    if encoding.is_empty() || accept.is_empty() {
        return true;
    }
    let mut encs: Vec<(String, f32)> = accept
        .split(',')
        .map(|part| match part.rfind(';') {
            None => (part.trim().to_string(), 1.0),
            Some(i) => {
                let q = part[i + 1..].trim();
                let q = q.strip_prefix("q=").unwrap_or(q);
                let q: f32 = q.parse::<f64>().map(|q| ((q * 1000.0).round() / 1000.0) as f32).unwrap_or(0.0);
                (part[..i].trim().to_string(), q)
            }
        })
        .collect();
    encs.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    for (e, q) in encs {
        if e == encoding || e == "*" {
            return q > 0.0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_modules_parse() {
        let c = ProbeConfig::load_str(EMBEDDED_MODULES, "x").expect("embedded parses");
        assert_eq!(c.modules.len(), 10);
        let m = &c.modules["http_2xx"];
        assert_eq!(m.prober, "http");
        assert!(m.http.ip_protocol_fallback && m.http.follow_redirects && m.http.enable_http2);
        assert_eq!(c.modules["icmp_ttl5"].timeout.0, std::time::Duration::from_secs(5));
        assert_eq!(c.modules["icmp_ttl5"].icmp.ttl, 5);
        assert_eq!(c.modules["icmp"].icmp.ttl, 64);
        let pop = &c.modules["pop3s_banner"].tcp.query_response[0];
        // Go reads `^+OK` as a repeated `^` then `OK` (upstream's module never matches "+OK").
        let re = &pop.expect.as_ref().expect("expect").re;
        assert!(re.is_match("OK ready") && !re.is_match("+OK ready"));
    }

    #[test]
    fn unknown_field_names_its_place() {
        let text = "modules:\n  a:\n    prober: http\n    http:\n      valid_status_code: [200]\n";
        let e = ProbeConfig::load_str(text, "bb.yml").expect_err("unknown field");
        let s = e.to_string();
        assert!(s.starts_with("bb.yml:5:"), "{s}");
        assert!(s.contains("valid_status_code"), "{s}");
    }

    #[test]
    fn semantic_errors_name_the_module() {
        let text = "modules:\n  ok:\n    prober: tcp\n  bad:\n    prober: dns\n    dns:\n      query_type: NOPE\n      query_name: x\n";
        let e = ProbeConfig::load_str(text, "bb.yml").expect_err("bad type").to_string();
        assert_eq!(e, "bb.yml:4:3: module \"bad\": query type 'NOPE' is not valid");
        let e = ProbeConfig::load_str("modules:\n  x:\n    prober: dns\n", "f").expect_err("no name").to_string();
        assert!(e.contains("query name must be set"), "{e}");
        let e = ProbeConfig::load_str("modules:\n  x:\n    prober: http\n    http:\n      fail_if_body_matches_regexp: ['(']\n", "f")
            .expect_err("bad regexp")
            .to_string();
        assert!(e.contains("Could not compile regular expression"), "{e}");
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1.5s"), Ok(std::time::Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("1m30s"), Ok(std::time::Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Ok(std::time::Duration::from_millis(500)));
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("-1s").is_err());
    }

    #[test]
    fn compression_vs_accept_encoding() {
        assert!(compression_accepted("gzip", "gzip, deflate"));
        assert!(compression_accepted("gzip", "*"));
        assert!(!compression_accepted("gzip", "gzip;q=0, br"));
        assert!(!compression_accepted("gzip", "br"));
    }
}
