//! The `http` prober (blackbox_exporter's `ProbeHTTP`).
//!
//! It drives each connection itself — resolve, TCP connect, TLS handshake
//! (tokio-rustls), then hyper's connection-level HTTP/1.1 or HTTP/2 client —
//! so every phase of `probe_http_duration_seconds` (resolve, connect, tls,
//! processing, transfer; summed over redirects) is timed where Go's
//! `httptrace` hooks time it. Keep-alives are off, as in blackbox_exporter:
//! every request of a redirect chain gets its own connection.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::net::TcpStream;

use crate::config::{HeaderMatch, HttpProbe, Module};
use crate::resolve::choose_protocol;
use crate::tls::{register_tls_series, TlsState};
use crate::{ProbeLog, Registry};

const USER_AGENT: &str = concat!("Bongsu/", env!("CARGO_PKG_VERSION"), " (blackbox_exporter compatible)");

/// Timestamps of one round trip (blackbox_exporter's `roundTripTrace`).
#[derive(Debug, Default, Clone)]
struct Trace {
    tls: bool,
    start: Option<Instant>,
    dns_done: Option<Instant>,
    connect_done: Option<Instant>,
    got_conn: Option<Instant>,
    response_start: Option<Instant>,
    end: Option<Instant>,
    tls_start: Option<Instant>,
    tls_done: Option<Instant>,
}

fn secs(a: Option<Instant>, b: Option<Instant>) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
        _ => 0.0,
    }
}

/// A response as far as it was received.
struct Response {
    status: u16,
    version: hyper::Version,
    headers: HeaderMap,
    body: hyper::body::Incoming,
    tls: Option<TlsState>,
    /// Keeps the connection task alive while the body is read.
    _conn: ConnGuard,
}

/// Aborts a connection's driver task when dropped.
struct ConnGuard(Option<tokio::task::JoinHandle<()>>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

/// One request of a redirect chain.
struct Hop {
    url: url::Url,
    /// The Host header (and HTTP/2 authority).
    host: String,
    method: hyper::Method,
    body: Bytes,
}

fn host_port(u: &url::Url) -> String {
    match (u.host_str(), u.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

fn bare_host(u: &url::Url) -> String {
    u.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']').to_string()
}

/// The request headers every hop sends (configured headers, auth, user agent).
async fn base_headers(h: &HttpProbe, log: &mut ProbeLog) -> Result<HeaderMap, String> {
    let mut out = HeaderMap::new();
    let mut put = |k: &str, v: &str, append: bool| -> Result<(), String> {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("header {k:?}: {e}"))?;
        let val = HeaderValue::from_str(v).map_err(|e| format!("header {k:?}: {e}"))?;
        if append {
            out.append(name, val);
        } else {
            out.insert(name, val);
        }
        Ok(())
    };
    if let Some(b) = &h.basic_auth {
        use base64::Engine as _;
        let user = match &b.username_file {
            Some(f) => bongsu_scrape::http::read_secret_file(f)?,
            None => b.username.clone(),
        };
        let pass = match (&b.password, &b.password_file) {
            (Some(p), _) => p.expose().to_string(),
            (None, Some(f)) => bongsu_scrape::http::read_secret_file(f)?,
            _ => String::new(),
        };
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        put("authorization", &format!("Basic {enc}"), false)?;
    }
    if let Some(a) = &h.authorization {
        let kind = a.kind.clone().filter(|k| !k.is_empty()).unwrap_or_else(|| "Bearer".into());
        let cred = match (&a.credentials, &a.credentials_file) {
            (Some(c), _) => c.expose().to_string(),
            (None, Some(f)) => bongsu_scrape::http::read_secret_file(f)?,
            _ => String::new(),
        };
        put("authorization", &format!("{kind} {cred}"), false)?;
    } else if let Some(t) = &h.bearer_token {
        put("authorization", &format!("Bearer {}", t.expose()), false)?;
    } else if let Some(f) = &h.bearer_token_file {
        put("authorization", &format!("Bearer {}", bongsu_scrape::http::read_secret_file(f)?), false)?;
    }
    if let Some(o) = &h.oauth2 {
        let client_cfg = bongsu_scrape::config::HttpClientConfig {
            tls_config: h.tls_config.clone(),
            follow_redirects: true,
            enable_http2: h.enable_http2,
            ..Default::default()
        };
        let client = bongsu_scrape::http::build_client(&client_cfg, false)?;
        let tok = bongsu_scrape::http::OAuth2Tokens::default().token(&client, o).await?;
        put("authorization", &format!("Bearer {tok}"), false)?;
    }
    for (k, hh) in &h.http_headers {
        for v in &hh.values {
            put(k, v, true)?;
        }
        for v in &hh.secrets {
            put(k, v.expose(), true)?;
        }
        for f in &hh.files {
            put(k, &bongsu_scrape::http::read_secret_file(f)?, true)?;
        }
    }
    for (k, v) in &h.headers {
        if k.eq_ignore_ascii_case("host") {
            continue;
        }
        put(k, v, false)?;
    }
    let has_ua = h.headers.keys().chain(h.http_headers.keys()).any(|k| k.eq_ignore_ascii_case("user-agent"));
    if !has_ua {
        put("user-agent", USER_AGENT, false)?;
    }
    log.debug("Request headers prepared", &[("count", &out.len())]);
    Ok(out)
}

/// Connects (TCP, then TLS for https) and performs one request.
#[allow(clippy::too_many_arguments)]
async fn round_trip(
    hop: &Hop,
    addr: SocketAddr,
    sni: &str,
    h: &HttpProbe,
    headers: &HeaderMap,
    trace: &mut Trace,
    deadline: Instant,
    log: &mut ProbeLog,
) -> Result<Response, String> {
    let dl: tokio::time::Instant = deadline.into();
    let tcp = match tokio::time::timeout_at(dl, TcpStream::connect(addr)).await {
        Err(_) => {
            trace.connect_done = Some(Instant::now());
            return Err(format!("dial tcp {addr}: i/o timeout"));
        }
        Ok(Err(e)) => {
            trace.connect_done = Some(Instant::now());
            return Err(format!("dial tcp {addr}: connect: {e}"));
        }
        Ok(Ok(s)) => s,
    };
    trace.connect_done = Some(Instant::now());
    let _ = tcp.set_nodelay(true);
    let exec = hyper_util::rt::TokioExecutor::new();
    let (sender, conn_task, tls_state) = if trace.tls {
        let alpn: &[&[u8]] = if h.enable_http2 { &[b"h2", b"http/1.1"] } else { &[b"http/1.1"] };
        let cfg = crate::tls::client_config(&h.tls_config, alpn)?;
        let name = crate::tls::server_name(&h.tls_config, sni)?;
        trace.tls_start = Some(Instant::now());
        let connector = tokio_rustls::TlsConnector::from(cfg);
        let res = tokio::time::timeout_at(dl, connector.connect(name, tcp)).await;
        trace.tls_done = Some(Instant::now());
        let stream = match res {
            Err(_) => return Err("TLS handshake timeout".into()),
            Ok(Err(e)) => return Err(format!("tls: {e}")),
            Ok(Ok(s)) => s,
        };
        let state = TlsState::from_conn(stream.get_ref().1, !h.tls_config.insecure_skip_verify);
        trace.got_conn = Some(Instant::now());
        let io = hyper_util::rt::TokioIo::new(stream);
        if state.alpn.as_deref() == Some(b"h2") {
            let (s, c) = tokio::time::timeout_at(dl, hyper::client::conn::http2::handshake(exec, io))
                .await
                .map_err(|_| "HTTP/2 handshake timeout".to_string())?
                .map_err(|e| format!("http2: {e}"))?;
            (Sender::H2(s), tokio::spawn(async move { let _ = c.await; }), Some(state))
        } else {
            let (s, c) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
            (Sender::H1(s), tokio::spawn(async move { let _ = c.await; }), Some(state))
        }
    } else {
        trace.got_conn = Some(Instant::now());
        let io = hyper_util::rt::TokioIo::new(tcp);
        let (s, c) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
        (Sender::H1(s), tokio::spawn(async move { let _ = c.await; }), None)
    };
    let guard = ConnGuard(Some(conn_task));
    let path = match hop.url.query() {
        Some(q) => format!("{}?{}", hop.url.path(), q),
        None => hop.url.path().to_string(),
    };
    let mut b = hyper::Request::builder().method(hop.method.clone());
    b = match &sender {
        Sender::H1(_) => b.uri(&path).header(hyper::header::HOST, &hop.host),
        Sender::H2(_) => b.uri(format!("{}://{}{}", hop.url.scheme(), hop.host, path)),
    };
    let mut req = b.body(Full::new(hop.body.clone())).map_err(|e| format!("Error creating request: {e}"))?;
    for (k, v) in headers {
        req.headers_mut().append(k, v.clone());
    }
    if !hop.body.is_empty() || matches!(hop.method, hyper::Method::POST | hyper::Method::PUT | hyper::Method::PATCH) {
        req.headers_mut().insert(hyper::header::CONTENT_LENGTH, HeaderValue::from(hop.body.len()));
    }
    log.info("Making HTTP request", &[("url", &hop.url), ("host", &hop.host)]);
    let fut = async {
        match sender {
            Sender::H1(mut s) => s.send_request(req).await,
            Sender::H2(mut s) => s.send_request(req).await,
        }
    };
    let resp = match tokio::time::timeout_at(dl, fut).await {
        Err(_) => return Err("context deadline exceeded".into()),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(r)) => r,
    };
    trace.response_start = Some(Instant::now());
    let (parts, body) = resp.into_parts();
    Ok(Response { status: parts.status.as_u16(), version: parts.version, headers: parts.headers, body, tls: tls_state, _conn: guard })
}

/// Reads a body (decompressing, counting, keeping it when `keep`), up to
/// `limit` bytes after decompression (0: no limit).
async fn read_body(
    body: &mut hyper::body::Incoming,
    compression: &str,
    limit: u64,
    keep: bool,
    deadline: Instant,
) -> (u64, Vec<u8>, Result<(), String>) {
    use std::io::Write as _;
    /// Counts (and optionally keeps) decompressed bytes; fails past the limit.
    struct Sink {
        n: u64,
        limit: u64,
        keep: bool,
        buf: Vec<u8>,
    }
    impl std::io::Write for Sink {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            let room = if self.limit == 0 { data.len() as u64 } else { self.limit.saturating_sub(self.n) };
            let take = (data.len() as u64).min(room) as usize;
            self.n += take as u64;
            if self.keep {
                self.buf.extend_from_slice(&data[..take]);
            }
            if take < data.len() {
                return Err(std::io::Error::other("http: request body too large"));
            }
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    enum Dec {
        Plain(Sink),
        Gzip(Box<flate2::write::GzDecoder<Sink>>),
        Deflate(Box<flate2::write::DeflateDecoder<Sink>>),
    }
    let sink = Sink { n: 0, limit, keep, buf: Vec::new() };
    let mut dec = match compression.to_ascii_lowercase().as_str() {
        "gzip" => Dec::Gzip(Box::new(flate2::write::GzDecoder::new(sink))),
        "deflate" => Dec::Deflate(Box::new(flate2::write::DeflateDecoder::new(sink))),
        _ => Dec::Plain(sink),
    };
    let dl: tokio::time::Instant = deadline.into();
    let mut result = Ok(());
    loop {
        let frame = match tokio::time::timeout_at(dl, body.frame()).await {
            Err(_) => {
                result = Err("context deadline exceeded (Client.Timeout or context cancellation while reading body)".into());
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                result = Err(e.to_string());
                break;
            }
            Ok(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else { continue };
        let w = match &mut dec {
            Dec::Plain(s) => s.write_all(&data),
            Dec::Gzip(d) => d.write_all(&data),
            Dec::Deflate(d) => d.write_all(&data),
        };
        if let Err(e) = w {
            result = Err(e.to_string());
            break;
        }
    }
    let sink = match dec {
        Dec::Plain(s) => s,
        Dec::Gzip(d) => match d.finish() {
            Ok(s) => s,
            Err(e) => {
                return (0, Vec::new(), Err(e.to_string()));
            }
        },
        Dec::Deflate(d) => match d.finish() {
            Ok(s) => s,
            Err(e) => return (0, Vec::new(), Err(e.to_string())),
        },
    };
    (sink.n, sink.buf, result)
}

fn match_headers(headers: &HeaderMap, h: &HttpProbe, log: &mut ProbeLog) -> bool {
    let values = |m: &HeaderMatch| -> Vec<String> {
        headers.get_all(m.header.as_str()).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect()
    };
    for m in &h.fail_if_header_matches {
        let vals = values(m);
        if vals.is_empty() {
            if !m.allow_missing {
                log.error("Missing required header", &[("header", &m.header)]);
                return false;
            }
            continue;
        }
        if vals.iter().any(|v| m.regexp.re.is_match(v)) {
            log.error("Header matched regular expression", &[("header", &m.header), ("regexp", &m.regexp), ("value_count", &vals.len())]);
            return false;
        }
    }
    for m in &h.fail_if_header_not_matches {
        let vals = values(m);
        if vals.is_empty() {
            if !m.allow_missing {
                log.error("Missing required header", &[("header", &m.header)]);
                return false;
            }
            continue;
        }
        if !vals.iter().any(|v| m.regexp.re.is_match(v)) {
            log.error("Header did not match regular expression", &[("header", &m.header), ("regexp", &m.regexp), ("value_count", &vals.len())]);
            return false;
        }
    }
    true
}

fn match_body(body: &[u8], h: &HttpProbe, log: &mut ProbeLog) -> bool {
    for re in &h.fail_if_body_matches_regexp {
        if re.bytes.is_match(body) {
            log.error("Body matched regular expression", &[("regexp", re)]);
            return false;
        }
    }
    for re in &h.fail_if_body_not_matches_regexp {
        if !re.bytes.is_match(body) {
            log.error("Body did not match regular expression", &[("regexp", re)]);
            return false;
        }
    }
    true
}

/// Go's `Response.ContentLength`: the header's value, 0 for bodiless
/// statuses, else -1 (unknown).
fn content_length(status: u16, version: hyper::Version, headers: &HeaderMap, body_ended: bool) -> f64 {
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return 0.0;
    }
    let chunked = headers
        .get_all(hyper::header::TRANSFER_ENCODING)
        .iter()
        .any(|v| v.to_str().map(|s| s.to_ascii_lowercase().contains("chunked")).unwrap_or(false));
    if !chunked || version == hyper::Version::HTTP_2 {
        if let Some(n) = headers.get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|s| s.trim().parse::<i64>().ok()) {
            return n as f64;
        }
    }
    if version == hyper::Version::HTTP_2 && body_ended {
        return 0.0;
    }
    -1.0
}

fn version_parts(v: hyper::Version) -> (&'static str, f64) {
    match v {
        hyper::Version::HTTP_09 => ("HTTP/0.9", 0.9),
        hyper::Version::HTTP_10 => ("HTTP/1.0", 1.0),
        hyper::Version::HTTP_11 => ("HTTP/1.1", 1.1),
        hyper::Version::HTTP_2 => ("HTTP/2.0", 2.0),
        hyper::Version::HTTP_3 => ("HTTP/3.0", 3.0),
        _ => ("", 0.0),
    }
}

/// Probes `target` (a URL; `http://` is assumed without a scheme).
pub async fn probe_http(target: &str, module: &Module, deadline: Instant, reg: &mut Registry, log: &mut ProbeLog) -> bool {
    const PH: &str = "probe_http_duration_seconds";
    reg.gauge_vec(PH, "Duration of http request by phase, summed over all redirects", &["phase"]);
    reg.gauge("probe_http_content_length", "Length of http content response");
    reg.gauge("probe_http_uncompressed_body_length", "Length of uncompressed response body");
    reg.gauge("probe_http_redirects", "The number of redirects");
    reg.gauge("probe_http_ssl", "Indicates if SSL was used for the final redirect");
    reg.gauge("probe_http_status_code", "Response HTTP status code");
    reg.gauge("probe_http_version", "Returns the version of HTTP of the probe response");
    reg.gauge("probe_failed_due_to_regex", "Indicates if probe failed due to regex");
    let h = &module.http;

    let target = if target.starts_with("http://") || target.starts_with("https://") { target.to_string() } else { format!("http://{target}") };
    let target_url = match url::Url::parse(&target) {
        Ok(u) if u.host_str().is_some() => u,
        Ok(_) => {
            log.error("Could not parse target URL", &[("err", &"missing host")]);
            return false;
        }
        Err(e) => {
            log.error("Could not parse target URL", &[("err", &e)]);
            return false;
        }
    };
    let target_host = bare_host(&target_url);
    let res = choose_protocol(&h.ip_protocol, h.ip_protocol_fallback, &target_host, deadline, reg, log).await;
    reg.add_with(PH, &["resolve"], res.lookup_time);
    let ip = match res.ip {
        Ok(ip) => ip,
        Err(e) => {
            log.error("Error resolving address", &[("err", &e)]);
            return false;
        }
    };
    // The name TLS sends and verifies for the first host: server_name, the Host header, or the target's host.
    let mut first_sni = target_host.clone();
    for (k, v) in &h.headers {
        if k.eq_ignore_ascii_case("host") {
            first_sni = v.split(':').next().unwrap_or(v).to_string();
        }
    }
    let headers = match base_headers(h, log).await {
        Ok(x) => x,
        Err(e) => {
            log.error("Error generating HTTP client", &[("err", &e)]);
            return false;
        }
    };
    let method = if h.method.is_empty() { "GET" } else { h.method.as_str() };
    let method = match hyper::Method::from_bytes(method.as_bytes()) {
        Ok(m) => m,
        Err(e) => {
            log.error("Error creating request", &[("err", &e)]);
            return false;
        }
    };
    // Connect to the resolved address; keep the name for Host.
    let orig_host = host_port(&target_url);
    let mut url = target_url.clone();
    let ip_text = match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    if url.set_host(Some(&ip_text)).is_err() {
        log.error("Error creating request", &[("err", &"cannot set the resolved address")]);
        return false;
    }
    let host_header = h.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("host")).map(|(_, v)| v.clone()).unwrap_or(orig_host);
    let first_key = host_port(&url);
    let mut hop = Hop { url, host: host_header, method, body: Bytes::from(h.body.clone().into_bytes()) };
    for ph in ["connect", "tls", "processing", "transfer"] {
        reg.touch(PH, &[ph]);
    }

    let mut traces: Vec<Trace> = Vec::new();
    let mut redirects = 0usize;
    let mut request_errored = false;
    let mut final_resp: Option<Response> = None;
    loop {
        let mut trace = Trace { tls: hop.url.scheme() == "https", ..Default::default() };
        // A hop to the first address connects there; another host is resolved first.
        let key = host_port(&hop.url);
        let hop_host = bare_host(&hop.url);
        let sni = if key == first_key { first_sni.clone() } else { hop_host.clone() };
        let port = hop.url.port_or_known_default().unwrap_or(80);
        let addr_ip = match hop_host.parse::<IpAddr>() {
            Ok(ip) => {
                let now = Instant::now();
                trace.start = Some(now);
                trace.dns_done = Some(now);
                Some(ip)
            }
            Err(_) => {
                trace.start = Some(Instant::now());
                let r = tokio::time::timeout_at(deadline.into(), tokio::net::lookup_host((hop_host.clone(), port))).await;
                trace.dns_done = Some(Instant::now());
                match r {
                    Ok(Ok(mut it)) => it.next().map(|a| a.ip()),
                    _ => None,
                }
            }
        };
        let Some(addr_ip) = addr_ip else {
            log.error("Error for HTTP request", &[("err", &format!("lookup {hop_host}: no such host"))]);
            traces.push(trace);
            break;
        };
        let result = round_trip(&hop, SocketAddr::new(addr_ip, port), &sni, h, &headers, &mut trace, deadline, log).await;
        traces.push(trace);
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                log.error("Error for HTTP request", &[("err", &e)]);
                break;
            }
        };
        let location = resp.headers.get(hyper::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        let is_redirect = matches!(resp.status, 301 | 302 | 303 | 307 | 308);
        let Some(loc) = location.filter(|_| is_redirect) else {
            final_resp = Some(resp);
            break;
        };
        log.info("Received redirect", &[("location", &loc)]);
        redirects = traces.len();
        if redirects > 10 || !h.follow_redirects {
            log.info("Not following redirect", &[]);
            request_errored = true;
            final_resp = Some(resp);
            break;
        }
        let next = match hop.url.join(&loc) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => {
                log.error("Error for HTTP request", &[("err", &format!("failed to parse Location header {loc:?}"))]);
                request_errored = true;
                final_resp = Some(resp);
                break;
            }
        };
        let status = resp.status;
        drop(resp);
        let relative = url::Url::parse(&loc).is_err();
        // A relative Location keeps a custom Host header (Go's client).
        let host = if relative { hop.host.clone() } else { host_port(&next) };
        // 301/302/303 drop the body and turn other methods into GET (Go's redirectBehavior).
        let (method, body) = if matches!(status, 301..=303) {
            let m = if matches!(hop.method, hyper::Method::GET | hyper::Method::HEAD) { hop.method.clone() } else { hyper::Method::GET };
            (m, Bytes::new())
        } else {
            (hop.method.clone(), hop.body.clone())
        };
        hop = Hop { url: next, host, method, body };
    }

    let mut success = false;
    let mut status = 0u16;
    let mut clen = 0.0;
    let mut body_bytes = 0u64;
    let mut version_num = 0.0;
    let mut tls: Option<TlsState> = None;
    if let Some(mut resp) = final_resp {
        status = resp.status;
        log.info("Received HTTP response", &[("status_code", &status)]);
        if !h.valid_status_codes.is_empty() {
            success = h.valid_status_codes.contains(&(status as i64));
            if !success {
                log.info("Invalid HTTP response status code", &[("status_code", &status), ("valid_status_codes", &format!("{:?}", h.valid_status_codes))]);
            }
        } else if (200..300).contains(&status) {
            success = true;
        } else {
            log.info("Invalid HTTP response status code, wanted 2xx", &[("status_code", &status)]);
        }
        if success && (!h.fail_if_header_matches.is_empty() || !h.fail_if_header_not_matches.is_empty()) {
            success = match_headers(&resp.headers, h, log);
            reg.set("probe_failed_due_to_regex", if success { 0.0 } else { 1.0 });
        }
        clen = content_length(status, resp.version, &resp.headers, hyper::body::Body::is_end_stream(&resp.body));
        let want_body = success && (!h.fail_if_body_matches_regexp.is_empty() || !h.fail_if_body_not_matches_regexp.is_empty());
        if request_errored {
            // Go closed the body of a redirect it did not follow.
            if want_body {
                log.error("Error reading HTTP body", &[("err", &"http: read on closed response body")]);
                success = false;
                reg.set("probe_failed_due_to_regex", 1.0);
            }
        } else {
            let (n, buf, res) = read_body(&mut resp.body, &h.compression, h.body_size_limit.0, want_body, deadline).await;
            if want_body {
                if let Err(e) = &res {
                    log.error("Error reading HTTP body", &[("err", e)]);
                    success = false;
                    reg.set("probe_failed_due_to_regex", 1.0);
                } else {
                    success = match_body(&buf, h, log);
                    reg.set("probe_failed_due_to_regex", if success { 0.0 } else { 1.0 });
                }
            }
            if let Err(e) = res {
                log.info("Failed to read HTTP response body", &[("err", &e)]);
                success = false;
            }
            body_bytes = n;
        }
        if let Some(t) = traces.last_mut() {
            t.end = Some(Instant::now());
        }
        if let Some(lm) = resp.headers.get(hyper::header::LAST_MODIFIED).and_then(|v| v.to_str().ok()) {
            if let Ok(t) = httpdate::parse_http_date(lm) {
                let secs = match t.duration_since(std::time::UNIX_EPOCH) {
                    Ok(d) => d.as_secs() as f64,
                    Err(e) => -(e.duration().as_secs() as f64),
                };
                reg.gauge("probe_http_last_modified_timestamp_seconds", "Returns the Last-Modified HTTP response header in unixtime");
                reg.set("probe_http_last_modified_timestamp_seconds", secs);
            }
        }
        let (proto, num) = version_parts(resp.version);
        version_num = num;
        if !h.valid_http_versions.is_empty() && !h.valid_http_versions.iter().any(|v| v == proto) {
            log.error("Invalid HTTP version number", &[("version", &proto)]);
            success = false;
        }
        tls = resp.tls.take();
    }
    reg.set("probe_http_version", version_num);

    for (i, t) in traces.iter().enumerate() {
        log.info("Response timings for roundtrip", &[("roundtrip", &i)]);
        if i != 0 {
            reg.add_with(PH, &["resolve"], secs(t.start, t.dns_done));
        }
        if t.got_conn.is_none() {
            continue;
        }
        if t.tls {
            reg.add_with(PH, &["connect"], secs(t.dns_done, t.connect_done));
            reg.add_with(PH, &["tls"], secs(t.tls_start, t.tls_done));
        } else {
            reg.add_with(PH, &["connect"], secs(t.dns_done, t.got_conn));
        }
        if t.response_start.is_none() {
            continue;
        }
        reg.add_with(PH, &["processing"], secs(t.got_conn, t.response_start));
        if t.end.is_none() {
            continue;
        }
        reg.add_with(PH, &["transfer"], secs(t.response_start, t.end));
    }

    if let Some(state) = &tls {
        reg.set("probe_http_ssl", 1.0);
        register_tls_series(reg, state);
        if h.fail_if_ssl {
            log.error("Final request was over SSL", &[]);
            success = false;
        }
    } else if h.fail_if_not_ssl {
        log.error("Final request was not over SSL", &[]);
        success = false;
    }
    reg.set("probe_http_status_code", status as f64);
    reg.set("probe_http_content_length", clen);
    reg.set("probe_http_uncompressed_body_length", body_bytes as f64);
    reg.set("probe_http_redirects", redirects as f64);
    success
}
