//! Serving a router over plain TCP or TLS, with the web config's basic auth,
//! extra headers and rate limit applied to every request.

use crate::webconfig::WebConfig;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Serves `router` on `listener` until `shutdown` completes, then drains
/// open requests. With a web config: TLS when `tls_server_config` enables
/// it, basic auth when users are configured, extra headers and rate limit.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    web_config: Option<WebConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let Some(cfg) = web_config else {
        tracing::info!(address = ?listener.local_addr().ok(), "TLS is disabled.");
        return axum::serve(listener, router).with_graceful_shutdown(shutdown).await;
    };
    let live = Arc::new(Live::new(cfg).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?);
    let router = router.layer(middleware::from_fn_with_state(live.clone(), guard_request));
    if !live.tls {
        tracing::info!(address = ?listener.local_addr().ok(), "TLS is disabled.");
        return axum::serve(listener, router).with_graceful_shutdown(shutdown).await;
    }
    tracing::info!(address = ?listener.local_addr().ok(), "TLS is enabled.");
    let tls_listener = TlsListener::new(listener, live)?;
    axum::serve(tls_listener, router).with_graceful_shutdown(shutdown).await
}

// ---- the web config, re-read when its files change ------------------------------

/// The active guard and TLS acceptor, rebuilt when the web config file or
/// its certificate files change (checked at most once a second).
struct Live {
    tls: bool,
    files: Vec<PathBuf>,
    state: RwLock<LiveState>,
}

struct LiveState {
    stamp: Vec<Option<(SystemTime, u64)>>,
    checked: Instant,
    guard: Arc<Guard>,
    acceptor: Option<TlsAcceptor>,
}

const RECHECK: Duration = Duration::from_secs(1);

fn stamp(files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).ok().and_then(|m| Some((m.modified().ok()?, m.len()))))
        .collect()
}

fn build(cfg: &WebConfig) -> Result<(Arc<Guard>, Option<TlsAcceptor>), String> {
    let guard = Arc::new(Guard::new(cfg)?);
    let acceptor = if cfg.tls_server_config.is_enabled() {
        let mut tls = cfg.tls_server_config.server_config()?;
        if cfg.http_server_config.http2 {
            tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        }
        Some(TlsAcceptor::from(Arc::new(tls)))
    } else {
        None
    };
    Ok((guard, acceptor))
}

impl Live {
    fn new(cfg: WebConfig) -> Result<Live, String> {
        let (guard, acceptor) = build(&cfg)?;
        let files = if cfg.source.is_some() { cfg.watched_files() } else { vec![] };
        Ok(Live {
            tls: acceptor.is_some(),
            state: RwLock::new(LiveState { stamp: stamp(&files), checked: Instant::now(), guard, acceptor }),
            files,
        })
    }

    fn current(&self) -> (Arc<Guard>, Option<TlsAcceptor>) {
        self.refresh();
        let s = self.state.read();
        (s.guard.clone(), s.acceptor.clone())
    }

    fn refresh(&self) {
        if self.files.is_empty() || self.state.read().checked.elapsed() < RECHECK {
            return;
        }
        let mut s = self.state.write();
        if s.checked.elapsed() < RECHECK {
            return;
        }
        s.checked = Instant::now();
        let now = stamp(&self.files);
        if now == s.stamp {
            return;
        }
        s.stamp = now;
        let reloaded = WebConfig::load(&self.files[0]).and_then(|cfg| {
            if cfg.tls_server_config.is_enabled() != self.tls {
                return Err("enabling or disabling TLS needs a restart".to_string());
            }
            build(&cfg)
        });
        match reloaded {
            Ok((guard, acceptor)) => {
                tracing::info!(file = %self.files[0].display(), "Reloaded web config");
                s.guard = guard;
                s.acceptor = acceptor;
            }
            Err(e) => tracing::error!(err = %e, "Unable to reload web config; keeping the previous settings"),
        }
    }
}

// ---- request guard: headers, rate limit, basic auth ----------------------------

struct Guard {
    headers: Vec<(HeaderName, HeaderValue)>,
    users: HashMap<String, String>,
    limiter: Option<Mutex<Bucket>>,
    /// Results of recent bcrypt comparisons: (user, hash, password) → ok.
    cache: Mutex<HashMap<(String, String, String), bool>>,
    /// bcrypt is expensive: one comparison at a time, as exporter-toolkit does.
    bcrypt: Semaphore,
}

struct Bucket {
    tokens: f64,
    burst: f64,
    per_token: Duration,
    last: Instant,
}

impl Bucket {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed / self.per_token.as_secs_f64()).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A bcrypt hash of "fakepassword", compared against for unknown users so
/// timing does not reveal which users exist.
const FAKE_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
const CACHE_MAX: usize = 100;

impl Guard {
    fn new(cfg: &WebConfig) -> Result<Guard, String> {
        cfg.validate()?;
        let mut headers = vec![];
        for (k, v) in &cfg.http_server_config.headers {
            let name = HeaderName::try_from(k.as_str()).map_err(|e| format!("header {k:?}: {e}"))?;
            let value = HeaderValue::try_from(v.as_str()).map_err(|e| format!("header {k:?}: {e}"))?;
            headers.push((name, value));
        }
        let limiter = (!cfg.rate_limit.interval.is_zero()).then(|| {
            Mutex::new(Bucket {
                tokens: cfg.rate_limit.burst as f64,
                burst: cfg.rate_limit.burst as f64,
                per_token: cfg.rate_limit.interval,
                last: Instant::now(),
            })
        });
        Ok(Guard {
            headers,
            users: cfg.basic_auth_users.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            limiter,
            cache: Mutex::new(HashMap::new()),
            bcrypt: Semaphore::new(1),
        })
    }

    async fn check(&self, user: String, pass: String) -> bool {
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.clone(), true),
            None => (FAKE_HASH.to_string(), false),
        };
        let key = (user, hash.clone(), pass.clone());
        if let Some(ok) = self.cache.lock().get(&key) {
            return *ok && known;
        }
        let ok = {
            let _permit = self.bcrypt.acquire().await;
            tokio::task::spawn_blocking(move || bcrypt::verify(pass, &hash).unwrap_or(false)).await.unwrap_or(false)
        };
        let ok = ok && known;
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, ok);
        ok
    }
}

fn plain(code: StatusCode, text: &str) -> Response {
    crate::params::http_error(code, text)
}

fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_decode(rest.trim())?;
    let s = String::from_utf8(decoded).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a' + 26) as u32),
            b'0'..=b'9' => Some((c - b'0' + 52) as u32),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in s {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

async fn guard_request(State(live): State<Arc<Live>>, req: Request, next: Next) -> Response {
    let (g, _) = live.current();
    let mut resp = guarded(&g, req, next).await;
    for (k, v) in &g.headers {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    resp
}

async fn guarded(g: &Guard, req: Request, next: Next) -> Response {
    if let Some(l) = &g.limiter {
        if !l.lock().allow() {
            return plain(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        }
    }
    if g.users.is_empty() {
        return next.run(req).await;
    }
    if let Some((user, pass)) = basic_credentials(&req) {
        if g.check(user, pass).await {
            return next.run(req).await;
        }
    }
    let mut resp = plain(StatusCode::UNAUTHORIZED, "Unauthorized");
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
    resp.into_response()
}

// ---- TLS listener ------------------------------------------------------------------

/// Accepts TCP connections and completes TLS handshakes in the background,
/// so a slow or hostile client cannot stall other connections.
struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsListener {
    fn new(listener: TcpListener, live: Arc<Live>) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = tx.closed() => return,
                    r = listener.accept() => r,
                };
                let (tcp, addr) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::debug!(err = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(acceptor) = live.current().1 else {
                    continue;
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(remote = %addr, err = %e, "TLS handshake error"),
                        Err(_) => tracing::debug!(remote = %addr, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { rx, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task only ends once this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("YWxpY2U6c2VjcmV0").as_deref(), Some(&b"alice:secret"[..]));
        assert_eq!(base64_decode("YQ==").as_deref(), Some(&b"a"[..]));
        assert!(base64_decode("!!").is_none());
    }
}
