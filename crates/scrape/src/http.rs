//! HTTP clients for scraping and HTTP service discovery: rustls on `ring`,
//! CA / client certificates, `insecure_skip_verify`, proxies, redirects and
//! the authentication headers of Prometheus' HTTP client configuration.

use std::sync::Arc;

use crate::config::HttpClientConfig;

/// Builds a client for one HTTP client configuration, with rustls on the
/// `ring` provider (never a second provider: two make rustls panic).
pub fn build_client(http: &HttpClientConfig, gzip: bool) -> Result<reqwest::Client, String> {
    let alpn = if http.enable_http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    let config = rustls_client_config(&http.tls_config, alpn)?;
    let mut b = reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .gzip(gzip)
        .user_agent(concat!("Bongsu/", env!("CARGO_PKG_VERSION")))
        .redirect(if http.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        });
    if !http.enable_http2 {
        b = b.http1_only();
    }
    match &http.proxy_url {
        Some(p) if !p.is_empty() => {
            let mut proxy = reqwest::Proxy::all(p).map_err(|e| format!("proxy_url: {e}"))?;
            if let Some(np) = http.no_proxy.as_deref().filter(|s| !s.is_empty()) {
                proxy = proxy.no_proxy(reqwest::NoProxy::from_string(np));
            }
            b = b.proxy(proxy);
        }
        // reqwest reads HTTP(S)_PROXY / NO_PROXY itself unless told not to.
        _ if http.proxy_from_environment => {}
        _ => b = b.no_proxy(),
    }
    b.build().map_err(|e| e.to_string())
}

/// The rustls client configuration of a `tls_config` section, on the `ring`
/// provider, offering `alpn` (the scrape client, and the probers, which
/// drive their own connections to time each phase).
pub fn rustls_client_config(
    tls: &crate::config::TlsConfig,
    alpn: Vec<Vec<u8>>,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = match tls.min_version.as_deref()
    {
        Some("TLS13") => vec![&rustls::version::TLS13],
        Some("TLS12") | None | Some("") => vec![&rustls::version::TLS12, &rustls::version::TLS13],
        Some("TLS10") | Some("TLS11") => vec![&rustls::version::TLS12, &rustls::version::TLS13],
        Some(o) => return Err(format!("unknown TLS version {o:?}: use TLS12 or TLS13")),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let ca_pem: Vec<u8> = match (&tls.ca_file, &tls.ca) {
            (Some(f), _) => std::fs::read(f)
                .map_err(|e| format!("unable to load specified CA cert {f}: {e}"))?,
            (None, Some(inline)) => inline.as_bytes().to_vec(),
            (None, None) => system_roots(),
        };
        for c in rustls_pemfile::certs(&mut ca_pem.as_slice()).flatten() {
            let _ = roots.add(c);
        }
        match tls.server_name.as_deref().filter(|n| !n.is_empty()) {
            // Verify the certificate against `server_name` instead of the
            // URL's host (scraping by IP with a named certificate).
            Some(name) => {
                let name = rustls::pki_types::ServerName::try_from(name.to_string())
                    .map_err(|e| format!("tls_config server_name {name:?}: {e}"))?;
                let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider.clone(),
                )
                .build()
                .map_err(|e| e.to_string())?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(NameOverride { inner, name }))
            }
            None => builder.with_root_certificates(roots),
        }
    };
    let mut config = match (&tls.cert_file, &tls.key_file) {
        (Some(cf), Some(kf)) => {
            let certs: Vec<_> = rustls_pemfile::certs(
                &mut std::fs::read(cf)
                    .map_err(|e| format!("{cf}: {e}"))?
                    .as_slice(),
            )
            .flatten()
            .collect();
            let key = rustls_pemfile::private_key(
                &mut std::fs::read(kf)
                    .map_err(|e| format!("{kf}: {e}"))?
                    .as_slice(),
            )
            .map_err(|e| format!("{kf}: {e}"))?
            .ok_or_else(|| format!("{kf}: no private key found"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| e.to_string())?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("tls_config needs both cert_file and key_file".into()),
    };
    config.alpn_protocols = alpn;
    Ok(config)
}

fn system_roots() -> Vec<u8> {
    for p in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ] {
        if let Ok(b) = std::fs::read(p) {
            return b;
        }
    }
    Vec::new()
}

/// Verifies with WebPKI against a fixed name.
#[derive(Debug)]
struct NameOverride {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    name: rustls::pki_types::ServerName<'static>,
}

impl rustls::client::danger::ServerCertVerifier for NameOverride {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Adds basic auth, authorization / bearer token and `http_headers`.
pub fn apply_auth(
    mut req: reqwest::RequestBuilder,
    http: &HttpClientConfig,
) -> Result<reqwest::RequestBuilder, String> {
    if let Some(b) = &http.basic_auth {
        let user = match &b.username_file {
            Some(f) => read_secret_file(f)?,
            None => b.username.clone(),
        };
        let pass = match (&b.password, &b.password_file) {
            (Some(p), _) => Some(p.expose().to_string()),
            (None, Some(f)) => Some(read_secret_file(f)?),
            _ => None,
        };
        req = req.basic_auth(user, pass);
    }
    let bearer = |kind: &str, cred: String| format!("{} {}", kind, cred);
    if let Some(a) = &http.authorization {
        let kind = a
            .kind
            .clone()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "Bearer".into());
        let cred = match (&a.credentials, &a.credentials_file) {
            (Some(c), _) => c.expose().to_string(),
            (None, Some(f)) => read_secret_file(f)?,
            _ => String::new(),
        };
        req = req.header(reqwest::header::AUTHORIZATION, bearer(&kind, cred));
    } else if let Some(t) = &http.bearer_token {
        req = req.header(
            reqwest::header::AUTHORIZATION,
            bearer("Bearer", t.expose().to_string()),
        );
    } else if let Some(f) = &http.bearer_token_file {
        req = req.header(
            reqwest::header::AUTHORIZATION,
            bearer("Bearer", read_secret_file(f)?),
        );
    }
    for (k, h) in &http.http_headers {
        for val in &h.values {
            req = req.header(k.as_str(), val.as_str());
        }
        for val in &h.secrets {
            req = req.header(k.as_str(), val.expose());
        }
        for f in &h.files {
            req = req.header(k.as_str(), read_secret_file(f)?);
        }
    }
    Ok(req)
}

/// Reads a credentials file, trimming the trailing newline.
pub fn read_secret_file(f: &str) -> Result<String, String> {
    std::fs::read_to_string(f)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("unable to read {f}: {e}"))
}

/// A cached OAuth2 client-credentials token.
#[derive(Default)]
pub struct OAuth2Tokens {
    cached: tokio::sync::Mutex<Option<(String, std::time::Instant)>>,
}

impl OAuth2Tokens {
    /// A valid access token: the cached one, or a new one from `token_url`
    /// (client credentials grant, as Prometheus' oauth2 config does).
    pub async fn token(
        &self,
        client: &reqwest::Client,
        cfg: &crate::config::OAuth2,
    ) -> Result<String, String> {
        let mut cached = self.cached.lock().await;
        if let Some((tok, until)) = cached.as_ref() {
            if std::time::Instant::now() < *until {
                return Ok(tok.clone());
            }
        }
        let secret = match (&cfg.client_secret, &cfg.client_secret_file) {
            (Some(s), _) => s.expose().to_string(),
            (None, Some(f)) => read_secret_file(f)?,
            _ => String::new(),
        };
        let mut form: Vec<(String, String)> =
            vec![("grant_type".into(), "client_credentials".into())];
        if !cfg.scopes.is_empty() {
            form.push(("scope".into(), cfg.scopes.join(" ")));
        }
        for (k, v) in &cfg.endpoint_params {
            form.push((k.clone(), v.clone()));
        }
        let resp = client
            .post(&cfg.token_url)
            .basic_auth(&cfg.client_id, Some(&secret))
            .form(&form)
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("oauth2: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!(
                "oauth2: token endpoint returned HTTP status {}",
                resp.status()
            ));
        }
        let body: serde_json::Value = resp.json().await.map_err(|e| format!("oauth2: {e}"))?;
        let tok = body
            .get("access_token")
            .and_then(|t| t.as_str())
            .ok_or("oauth2: no access_token in the token response")?
            .to_string();
        // Refresh a little before the token expires.
        let ttl = body
            .get("expires_in")
            .and_then(|v| v.as_u64())
            .unwrap_or(300)
            .saturating_sub(10)
            .max(1);
        *cached = Some((
            tok.clone(),
            std::time::Instant::now() + std::time::Duration::from_secs(ttl),
        ));
        Ok(tok)
    }
}
