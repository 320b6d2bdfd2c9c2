//! The exporter-toolkit web configuration file (`--web.config.file`): TLS
//! server settings, bcrypt basic-auth users, extra HTTP headers and a rate
//! limit. Parsed strictly; relative file paths resolve against the file's
//! directory, as exporter-toolkit does.

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The whole web config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    #[serde(default, deserialize_with = "null_default")]
    pub tls_server_config: TlsServerConfig,
    #[serde(default, deserialize_with = "null_default")]
    pub http_server_config: HttpServerConfig,
    #[serde(default, deserialize_with = "null_default")]
    pub rate_limit: RateLimit,
    /// User name → bcrypt hash.
    #[serde(default, deserialize_with = "null_default")]
    pub basic_auth_users: BTreeMap<String, String>,
    /// The file this was loaded from ([`WebConfig::load`]). When set,
    /// [`crate::serve`] re-reads it (and the certificate files) when they
    /// change, as exporter-toolkit does, keeping the old settings if the
    /// new ones are invalid.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `tls_server_config`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// Inline PEM certificate (alternative to `cert_file`).
    #[serde(default)]
    pub cert: String,
    /// Inline PEM key (alternative to `key_file`).
    #[serde(default)]
    pub key: String,
    /// Inline PEM client CA bundle (alternative to `client_ca_file`).
    #[serde(default)]
    pub client_ca: String,
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_file: String,
    #[serde(default)]
    pub client_auth_type: ClientAuth,
    #[serde(default)]
    pub client_ca_file: String,
    /// Go cipher-suite names; restricts the TLS 1.2 suites.
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    /// `CurveP256`, `CurveP384`, `X25519` (`CurveP521` is not available with ring).
    #[serde(default)]
    pub curve_preferences: Vec<String>,
    #[serde(default)]
    pub min_version: Option<TlsVersion>,
    #[serde(default)]
    pub max_version: Option<TlsVersion>,
    /// Accepted for compatibility; rustls always prefers the server's order.
    #[serde(default)]
    pub prefer_server_cipher_suites: Option<bool>,
    /// Not supported yet: refused at load time rather than silently ignored.
    #[serde(default)]
    pub client_allowed_sans: Option<Vec<String>>,
}

/// `client_auth_type`, with Go's `crypto/tls` names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ClientAuth {
    #[default]
    #[serde(alias = "")]
    NoClientCert,
    RequestClientCert,
    #[serde(alias = "RequireClientCert")]
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum TlsVersion {
    TLS10,
    TLS11,
    TLS12,
    TLS13,
}

/// `http_server_config`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// Offer HTTP/2 through TLS ALPN (default true).
    #[serde(default = "yes")]
    pub http2: bool,
    /// Extra security headers set on every response.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        HttpServerConfig { http2: true, headers: BTreeMap::new() }
    }
}

/// `rate_limit`: at most `burst` requests at once, refilled one per `interval`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    #[serde(default)]
    pub burst: u32,
    #[serde(default, deserialize_with = "go_duration")]
    pub interval: Duration,
}

/// The basic-auth part, shared with the request middleware.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BasicAuth {
    pub users: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn go_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = Option::<String>::deserialize(d)?.unwrap_or_default();
    if s.is_empty() {
        return Ok(Duration::ZERO);
    }
    parse_go_duration(&s).ok_or_else(|| serde::de::Error::custom(format!("time: invalid duration {s:?}")))
}

/// Go's `time.ParseDuration` for the units config files use.
fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s;
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let v: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += v * mult;
        rest = &rest[u..];
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Headers exporter-toolkit allows, with their permitted values (empty =
/// any value).
const EXTRA_HEADERS: [(&str, &[&str]); 5] = [
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

impl WebConfig {
    /// Reads and validates a web config file: unknown fields, bad bcrypt
    /// hashes, forbidden headers and unusable TLS settings are errors that
    /// name the file (and line:column for YAML errors).
    pub fn load(path: impl AsRef<Path>) -> Result<WebConfig, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut cfg = Self::parse(&text).map_err(|e| format!("{}:{e}", path.display()))?;
        let dir = path.parent().unwrap_or_else(|| Path::new(""));
        cfg.tls_server_config.set_directory(dir);
        cfg.validate().map_err(|e| format!("{}: {e}", path.display()))?;
        cfg.source = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Parses YAML text without touching the file system. Errors start
    /// with `line:column: `.
    pub fn parse(text: &str) -> Result<WebConfig, String> {
        let cfg: WebConfig = if text.trim().is_empty() {
            WebConfig::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| {
                let msg = e.without_snippet().to_string();
                match e.location() {
                    Some(l) => {
                        let suffix = format!(" at line {}, column {}", l.line(), l.column());
                        let msg = msg.strip_suffix(&suffix).unwrap_or(&msg);
                        format!("{}:{}: {}", l.line(), l.column(), msg)
                    }
                    None => format!(" {msg}"),
                }
            })?
        };
        Ok(cfg)
    }

    /// Checks users, headers and TLS settings (loads the certificates).
    pub fn validate(&self) -> Result<(), String> {
        for (user, hash) in &self.basic_auth_users {
            hash.parse::<bcrypt::HashParts>()
                .map_err(|e| format!("basic_auth_users: invalid bcrypt hash for user {user:?}: {e}"))?;
        }
        for (k, v) in &self.http_server_config.headers {
            let Some((_, allowed)) = EXTRA_HEADERS.iter().find(|(n, _)| n == k) else {
                return Err(format!("HTTP header {k:?} can not be configured"));
            };
            if !allowed.is_empty() && !allowed.contains(&v.as_str()) {
                return Err(format!("invalid value for {k}. Expected one of: {allowed:?}, but got: {v:?}"));
            }
        }
        if self.tls_server_config.is_enabled() {
            self.tls_server_config.server_config()?;
        }
        Ok(())
    }

    pub fn basic_auth(&self) -> BasicAuth {
        BasicAuth { users: self.basic_auth_users.clone() }
    }

    /// Files whose change should trigger a reload: the config itself and
    /// the TLS files it names.
    pub(crate) fn watched_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.source.iter().cloned().collect();
        let t = &self.tls_server_config;
        for f in [&t.cert_file, &t.key_file, &t.client_ca_file] {
            if !f.is_empty() {
                v.push(PathBuf::from(f));
            }
        }
        v
    }
}

fn join_dir(dir: &Path, p: &str) -> String {
    if p.is_empty() || Path::new(p).is_absolute() {
        return p.to_string();
    }
    dir.join(p).to_string_lossy().into_owned()
}

fn read_pem(what: &str, path: &str, inline: &str) -> Result<Vec<u8>, String> {
    if !path.is_empty() {
        std::fs::read(path).map_err(|e| format!("failed to read {what} ({path}): {e}"))
    } else {
        Ok(inline.as_bytes().to_vec())
    }
}

impl TlsServerConfig {
    /// exporter-toolkit: TLS is on when any certificate, key or client-auth
    /// setting is present.
    pub fn is_enabled(&self) -> bool {
        !self.cert_file.is_empty()
            || !self.cert.is_empty()
            || !self.key_file.is_empty()
            || !self.key.is_empty()
            || !self.client_ca_file.is_empty()
            || !self.client_ca.is_empty()
            || self.client_auth_type != ClientAuth::NoClientCert
    }

    fn set_directory(&mut self, dir: &Path) {
        self.cert_file = join_dir(dir, &self.cert_file);
        self.key_file = join_dir(dir, &self.key_file);
        self.client_ca_file = join_dir(dir, &self.client_ca_file);
    }

    fn certificates(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
        if self.cert_file.is_empty() && self.cert.is_empty() {
            return Err("missing one of cert or cert_file".into());
        }
        if self.key_file.is_empty() && self.key.is_empty() {
            return Err("missing one of key or key_file".into());
        }
        let cert_pem = read_pem("cert_file", &self.cert_file, &self.cert)?;
        let key_pem = read_pem("key_file", &self.key_file, &self.key)?;
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("failed to load X509KeyPair: {e}"))?;
        if certs.is_empty() {
            return Err("failed to load X509KeyPair: tls: failed to find any PEM data in certificate input".into());
        }
        let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
            .map_err(|e| format!("failed to load X509KeyPair: {e}"))?
            .ok_or_else(|| "failed to load X509KeyPair: tls: failed to find any PEM data in key input".to_string())?;
        Ok((certs, key))
    }

    fn client_roots(&self) -> Result<Option<RootCertStore>, String> {
        let pem = if !self.client_ca_file.is_empty() {
            std::fs::read(&self.client_ca_file).map_err(|e| format!("failed to read client_ca_file ({}): {e}", self.client_ca_file))?
        } else if !self.client_ca.is_empty() {
            self.client_ca.as_bytes().to_vec()
        } else {
            return Ok(None);
        };
        let mut roots = RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut pem.as_slice()) {
            let c = c.map_err(|e| format!("client CA: {e}"))?;
            roots.add(c).map_err(|e| format!("client CA: {e}"))?;
        }
        Ok(Some(roots))
    }

    /// Builds the rustls server configuration (ring provider).
    pub fn server_config(&self) -> Result<ServerConfig, String> {
        if self.client_allowed_sans.is_some() {
            return Err("client_allowed_sans is not supported by Bongsu yet".into());
        }
        let (certs, key) = self.certificates()?;
        let mut provider = rustls::crypto::ring::default_provider();
        if !self.cipher_suites.is_empty() {
            let mut keep = vec![];
            for name in &self.cipher_suites {
                let found = provider
                    .cipher_suites
                    .iter()
                    .find(|s| format!("{:?}", s.suite()) == *name)
                    .ok_or_else(|| format!("unknown cipher: {name}"))?;
                keep.push(*found);
            }
            for s in &provider.cipher_suites {
                if s.version() == &rustls::version::TLS13 {
                    keep.push(*s);
                }
            }
            provider.cipher_suites = keep;
        }
        if !self.curve_preferences.is_empty() {
            let mut groups = vec![];
            for c in &self.curve_preferences {
                let g = match c.as_str() {
                    "CurveP256" => rustls::crypto::ring::kx_group::SECP256R1,
                    "CurveP384" => rustls::crypto::ring::kx_group::SECP384R1,
                    "X25519" => rustls::crypto::ring::kx_group::X25519,
                    "CurveP521" => return Err("curve CurveP521 is not supported".into()),
                    other => return Err(format!("unknown curve: {other}")),
                };
                groups.push(g);
            }
            provider.kx_groups = groups;
        }
        let min = self.min_version.unwrap_or(TlsVersion::TLS12);
        let max = self.max_version.unwrap_or(TlsVersion::TLS13);
        let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = vec![];
        if min <= TlsVersion::TLS12 && max >= TlsVersion::TLS12 {
            versions.push(&rustls::version::TLS12);
        }
        if max >= TlsVersion::TLS13 {
            versions.push(&rustls::version::TLS13);
        }
        if versions.is_empty() {
            return Err("no TLS version between min_version and max_version is supported (TLS12, TLS13)".into());
        }
        let provider = Arc::new(provider);
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| format!("TLS configuration: {e}"))?;
        let roots = self.client_roots()?;
        if roots.is_some() && self.client_auth_type == ClientAuth::NoClientCert {
            return Err("client CA's have been configured without a Client Auth Policy".into());
        }
        let verifier: Option<Arc<dyn ClientCertVerifier>> = match self.client_auth_type {
            ClientAuth::NoClientCert => None,
            ClientAuth::RequestClientCert => Some(Arc::new(AnyClientCert { mandatory: false, provider: provider.clone() })),
            ClientAuth::RequireAnyClientCert => Some(Arc::new(AnyClientCert { mandatory: true, provider: provider.clone() })),
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
                let roots = roots.ok_or_else(|| {
                    format!("client_auth_type {:?} needs client_ca_file or client_ca", self.client_auth_type)
                })?;
                let b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let b = if self.client_auth_type == ClientAuth::VerifyClientCertIfGiven {
                    b.allow_unauthenticated()
                } else {
                    b
                };
                Some(b.build().map_err(|e| format!("client CA: {e}"))?)
            }
        };
        let builder = match verifier {
            None => builder.with_no_client_auth(),
            Some(v) => builder.with_client_cert_verifier(v),
        };
        let mut cfg = builder.with_single_cert(certs, key).map_err(|e| format!("failed to load X509KeyPair: {e}"))?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(cfg)
    }
}

/// Go's `RequestClientCert` / `RequireAnyClientCert`: a client certificate
/// is asked for (and checked for proof of key possession) but its chain is
/// not verified.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strictly() {
        let c = WebConfig::parse("basic_auth_users:\n  alice: $2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi\n").unwrap();
        assert_eq!(c.basic_auth_users.len(), 1);
        assert!(c.validate().is_ok());
        let e = WebConfig::parse("tls_server_config:\n  cert_fille: x\n").unwrap_err();
        assert!(e.starts_with("2:3:"), "{e}");
        assert!(e.contains("cert_fille"), "{e}");
        let c = WebConfig::parse("tls_server_config:\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n").unwrap();
        assert!(c.validate().is_ok());
        assert!(!c.tls_server_config.is_enabled());
        let c = WebConfig::parse("http_server_config:\n  headers:\n    Foo: bar\n").unwrap();
        assert_eq!(c.validate().unwrap_err(), "HTTP header \"Foo\" can not be configured");
        let c = WebConfig::parse("basic_auth_users:\n  bob: notahash\n").unwrap();
        assert!(c.validate().is_err());
        assert!(WebConfig::parse("rate_limit:\n  interval: 99999999999999999999999h\n").is_err());
        let c = WebConfig::parse("rate_limit:\n  burst: 5\n  interval: 1s\n").unwrap();
        assert_eq!(c.rate_limit.interval, Duration::from_secs(1));
        let c = WebConfig::parse("tls_server_config:\n  client_auth_type: Bogus\n");
        assert!(c.is_err());
    }

    #[test]
    fn tls_needs_cert_and_key() {
        let c = WebConfig::parse("tls_server_config:\n  cert_file: a.crt\n").unwrap();
        assert_eq!(c.validate().unwrap_err(), "missing one of key or key_file");
    }
}
