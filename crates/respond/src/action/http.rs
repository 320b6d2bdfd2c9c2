//! One HTTP call as a remediation/notification step, plus the HMAC signing
//! scheme shared with Bongsu's inbound webhook endpoint.
//!
//! Signing scheme: `X-Bongsu-Timestamp: <unix seconds>` and
//! `X-Bongsu-Signature: sha256=<hex(HMAC-SHA256(secret, "<ts>." ++ body))>`.
//! Binding the timestamp into the MAC lets the receiver reject old requests;
//! [`ReplayGuard`] rejects re-sent ones inside the allowed window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use ring::hmac;

use super::BoundedBuf;

/// Header carrying `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Bongsu-Signature";
/// Header carrying the signing time in unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Bongsu-Timestamp";

const SIGNATURE_PREFIX: &str = "sha256=";

/// A fully templated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSpec {
    pub method: String,
    pub url: String,
    /// Sent in order; a repeated name produces several header lines.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Whole exchange: connect, send, and reading the response body.
    pub timeout: Duration,
    /// When set, the request is signed (see module docs). The signature
    /// headers replace any same-named headers from `headers`.
    pub hmac_secret: Option<Vec<u8>>,
    /// Response body bytes kept; the rest is drained and counted.
    pub max_response: usize,
}

/// The response, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOutcome {
    pub status: u16,
    /// Lossy UTF-8 of the first `max_response` bytes, plus
    /// `"\n…[truncated N bytes]"` when cut.
    pub body: String,
    pub duration: Duration,
}

impl HttpOutcome {
    /// 2xx.
    pub fn success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A request that produced no HTTP response.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    /// Worth retrying later (connect failure, timeout); false for requests
    /// that can never succeed as written (invalid method, URL, header).
    pub retry: bool,
    pub message: String,
}

impl HttpError {
    fn invalid(message: String) -> Self {
        HttpError {
            retry: false,
            message,
        }
    }
}

/// Sends the request described by `spec`; `now_unix` is the signing time.
///
/// A non-2xx status is `Ok` (check [`HttpOutcome::success`]). `Err` means no
/// response: invalid input (`retry == false`, message names the bad field) or
/// a transport failure (`retry == true` for connect errors and timeouts).
/// Error messages never contain the URL or header values, which often carry
/// tokens.
pub async fn send(
    client: &reqwest::Client,
    spec: &HttpSpec,
    now_unix: i64,
) -> Result<HttpOutcome, HttpError> {
    let method = Method::from_bytes(spec.method.as_bytes())
        .map_err(|_| HttpError::invalid(format!("invalid HTTP method {:?}", spec.method)))?;
    let url = Url::parse(&spec.url).map_err(|e| HttpError::invalid(format!("invalid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(HttpError::invalid(format!(
            "invalid URL: scheme {:?} is not http or https",
            url.scheme()
        )));
    }

    let mut headers = HeaderMap::new();
    for (name, value) in &spec.headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HttpError::invalid(format!("invalid header name {name:?}")))?;
        let header_value = HeaderValue::from_str(value)
            .map_err(|_| HttpError::invalid(format!("invalid value for header {name:?}")))?;
        headers.append(header_name, header_value);
    }

    let body = spec.body.clone().unwrap_or_default();
    if let Some(secret) = &spec.hmac_secret {
        // Signed over exactly the bytes sent below (empty when no body).
        let signature = sign(secret, now_unix, &body);
        // Both values are ASCII digits / hex, so these conversions can't fail.
        let ts =
            HeaderValue::from_str(&now_unix.to_string()).expect("digits are a valid header value");
        let sig = HeaderValue::from_str(&signature).expect("hex is a valid header value");
        headers.insert(HeaderName::from_static("x-bongsu-timestamp"), ts);
        headers.insert(HeaderName::from_static("x-bongsu-signature"), sig);
    }

    let mut request = reqwest::Request::new(method, url);
    *request.headers_mut() = headers;
    if spec.body.is_some() {
        *request.body_mut() = Some(body.into());
    }
    *request.timeout_mut() = Some(spec.timeout);

    let start = Instant::now();
    let mut response = client.execute(request).await.map_err(transport_error)?;
    let status = response.status().as_u16();

    let mut buf = BoundedBuf::new(spec.max_response);
    let body = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => buf.push(&chunk),
            Ok(None) => break buf.to_text(),
            // The status arrived, so the server did act on the request: report
            // it as a response, noting that the body is incomplete.
            Err(e) => {
                break format!(
                    "{}\n…[response body incomplete: {}]",
                    buf.to_text(),
                    error_chain(&e)
                )
            }
        }
    };

    Ok(HttpOutcome {
        status,
        body,
        duration: start.elapsed(),
    })
}

fn transport_error(e: reqwest::Error) -> HttpError {
    HttpError {
        retry: e.is_connect() || e.is_timeout(),
        message: error_chain(&e),
    }
}

/// "error sending request: client error (Connect): tcp connect error: Connection refused"
/// — reqwest's top-level message alone hides the cause. The URL is stripped.
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = source {
        parts.push(err.to_string());
        source = err.source();
    }
    // Rebuild the top-level message without the URL (it may contain tokens).
    let top = if e.is_timeout() {
        "request timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_body() || e.is_decode() {
        "error reading response body".to_string()
    } else {
        "error sending request".to_string()
    };
    parts.dedup();
    if parts.is_empty() {
        top
    } else {
        format!("{top}: {}", parts.join(": "))
    }
}

fn signing_key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

fn signed_message(ts_unix: i64, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{ts_unix}.").into_bytes();
    message.extend_from_slice(body);
    message
}

/// `"sha256=" + lowercase hex(HMAC-SHA256(secret, "<ts>." ++ body))`.
pub fn sign(secret: &[u8], ts_unix: i64, body: &[u8]) -> String {
    let tag = hmac::sign(&signing_key(secret), &signed_message(ts_unix, body));
    let mut out = String::with_capacity(SIGNATURE_PREFIX.len() + 64);
    out.push_str(SIGNATURE_PREFIX);
    for byte in tag.as_ref() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    // `is_multiple_of` needs Rust 1.87; the workspace supports 1.85.
    #[allow(clippy::manual_is_multiple_of)]
    let odd = hex.len() % 2 != 0;
    if odd {
        return None;
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// Checks an inbound signed request. `max_skew_secs` bounds how far the
/// timestamp may be from `now_unix` in either direction.
///
/// The MAC comparison is constant-time (`ring::hmac::verify`). A valid
/// signature can still be replayed inside the window: pair this with a
/// [`ReplayGuard`].
pub fn verify(
    secret: &[u8],
    ts_header: Option<&str>,
    sig_header: Option<&str>,
    body: &[u8],
    now_unix: i64,
    max_skew_secs: i64,
) -> Result<(), String> {
    let ts_header = ts_header.ok_or_else(|| format!("missing {TIMESTAMP_HEADER} header"))?;
    let sig_header = sig_header.ok_or_else(|| format!("missing {SIGNATURE_HEADER} header"))?;

    // Digits only: "+5", " 5" or "05" would parse to the same number as the
    // signed text but are not what a Bongsu sender produces.
    let ts: i64 = ts_header
        .parse()
        .ok()
        .filter(|ts: &i64| {
            ts_header.bytes().all(|b| b.is_ascii_digit()) && ts.to_string() == ts_header
        })
        .ok_or_else(|| format!("malformed {TIMESTAMP_HEADER} header"))?;

    if now_unix.abs_diff(ts) > max_skew_secs.max(0).unsigned_abs() {
        return Err("timestamp outside the allowed window".to_string());
    }

    let tag = sig_header
        .strip_prefix(SIGNATURE_PREFIX)
        .and_then(decode_hex)
        .ok_or_else(|| "signature mismatch (malformed signature header)".to_string())?;
    hmac::verify(&signing_key(secret), &signed_message(ts, body), &tag)
        .map_err(|_| "signature mismatch".to_string())
}

/// Remembers signatures accepted within the skew window so that a captured
/// request cannot be re-sent while its timestamp is still acceptable.
///
/// Use after [`verify`] succeeded, with the same window. Memory is bounded by
/// `max_entries`; when full of still-valid entries, new requests are refused
/// (fail closed) rather than evicting entries and reopening a replay hole.
#[derive(Debug)]
pub struct ReplayGuard {
    window_secs: i64,
    max_entries: usize,
    /// signature -> its timestamp
    seen: Mutex<HashMap<String, i64>>,
}

impl ReplayGuard {
    pub fn new(window_secs: i64, max_entries: usize) -> Self {
        ReplayGuard {
            window_secs: window_secs.max(0),
            max_entries,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// `Err("replayed request")` when `sig` was already accepted; otherwise
    /// remembers it. Entries whose timestamp has left the window are pruned
    /// (a replay of those is refused by `verify`'s window check).
    pub fn check_and_remember(&self, sig: &str, ts_unix: i64, now_unix: i64) -> Result<(), String> {
        // Outside the window we could not remember it long enough to be
        // useful; `verify` would refuse it anyway.
        if now_unix.abs_diff(ts_unix) > self.window_secs.unsigned_abs() {
            return Err("timestamp outside the allowed window".to_string());
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let window = self.window_secs;
        seen.retain(|_, ts| now_unix.saturating_sub(*ts) <= window);
        if seen.contains_key(sig) {
            return Err("replayed request".to_string());
        }
        if seen.len() >= self.max_entries {
            return Err("too many recent signed requests (replay cache full)".to_string());
        }
        seen.insert(sig.to_string(), ts_unix);
        Ok(())
    }

    /// Number of remembered signatures (including not yet pruned ones).
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    const SECRET: &[u8] = b"s3cret-key";
    const NOW: i64 = 1_750_000_000;

    #[derive(Debug, Clone)]
    struct Recorded {
        method: String,
        target: String,
        /// Lowercased names, in arrival order.
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Recorded {
        fn header(&self, name: &str) -> Option<&str> {
            let name = name.to_ascii_lowercase();
            self.headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    /// Minimal HTTP/1.1 server: records each request and answers with a fixed
    /// status and body, then closes the connection.
    struct TestServer {
        addr: std::net::SocketAddr,
        requests: Arc<Mutex<Vec<Recorded>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl TestServer {
        async fn start(status: u16, body: Vec<u8>) -> TestServer {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let requests = Arc::new(Mutex::new(Vec::new()));
            let recorded = Arc::clone(&requests);
            let body = Arc::new(body);
            let task = tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let recorded = Arc::clone(&recorded);
                    let body = Arc::clone(&body);
                    tokio::spawn(async move {
                        if let Some(req) = read_request(stream, status, &body).await {
                            recorded.lock().unwrap().push(req);
                        }
                    });
                }
            });
            TestServer {
                addr,
                requests,
                task,
            }
        }

        fn url(&self, path_and_query: &str) -> String {
            format!("http://{}{}", self.addr, path_and_query)
        }

        fn requests(&self) -> Vec<Recorded> {
            self.requests.lock().unwrap().clone()
        }
    }

    async fn read_request(mut stream: TcpStream, status: u16, body: &[u8]) -> Option<Recorded> {
        let mut data = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos;
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            data.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(data[..head_end].to_vec()).ok()?;
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next()?.split(' ');
        let method = request_line.next()?.to_string();
        let target = request_line.next()?.to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut req_body = data[head_end + 4..].to_vec();
        while req_body.len() < len {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            req_body.extend_from_slice(&chunk[..n]);
        }
        let head = format!(
            "HTTP/1.1 {status} Test\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.ok()?;
        stream.write_all(body).await.ok()?;
        stream.shutdown().await.ok()?;
        Some(Recorded {
            method,
            target,
            headers,
            body: req_body,
        })
    }

    fn client() -> reqwest::Client {
        let _ = rustls::crypto::CryptoProvider::install_default(
            rustls::crypto::ring::default_provider(),
        );
        // no_proxy: a proxy configured in the environment must not intercept
        // requests to the local test server.
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    fn spec(method: &str, url: String) -> HttpSpec {
        HttpSpec {
            method: method.to_string(),
            url,
            headers: Vec::new(),
            body: None,
            timeout: Duration::from_secs(5),
            hmac_secret: None,
            max_response: 64 * 1024,
        }
    }

    /// Sends a signed request and returns what the server received.
    async fn signed_request(body: &[u8]) -> Recorded {
        let server = TestServer::start(200, b"ok".to_vec()).await;
        let mut s = spec("POST", server.url("/hook"));
        s.body = Some(body.to_vec());
        s.hmac_secret = Some(SECRET.to_vec());
        let out = send(&client(), &s, NOW).await.unwrap();
        assert!(out.success());
        server.requests().pop().unwrap()
    }

    #[tokio::test]
    async fn request_arrives_intact_and_signed() {
        let server = TestServer::start(201, b"created".to_vec()).await;
        let body = br#"{"alert":"disk full","value":97.5}"#.to_vec();
        let mut s = spec(
            "PUT",
            server.url("/api/v1/hook?host=web-1&severity=crit%20x"),
        );
        s.headers = vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Custom".into(), "value with spaces".into()),
            ("Authorization".into(), "Bearer abc.def".into()),
        ];
        s.body = Some(body.clone());
        s.hmac_secret = Some(SECRET.to_vec());

        let out = send(&client(), &s, NOW).await.unwrap();
        assert_eq!(out.status, 201);
        assert!(out.success());
        assert_eq!(out.body, "created");

        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        let req = &reqs[0];
        assert_eq!(req.method, "PUT");
        assert_eq!(req.target, "/api/v1/hook?host=web-1&severity=crit%20x");
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.header("x-custom"), Some("value with spaces"));
        assert_eq!(req.header("authorization"), Some("Bearer abc.def"));
        assert_eq!(req.body, body);

        let ts = req.header(TIMESTAMP_HEADER);
        let sig = req.header(SIGNATURE_HEADER);
        assert_eq!(ts, Some(NOW.to_string().as_str()));
        assert_eq!(sig, Some(sign(SECRET, NOW, &body).as_str()));
        assert_eq!(verify(SECRET, ts, sig, &req.body, NOW + 3, 300), Ok(()));
    }

    #[tokio::test]
    async fn unsigned_request_has_no_signature_headers() {
        let server = TestServer::start(204, Vec::new()).await;
        let out = send(&client(), &spec("GET", server.url("/x")), NOW)
            .await
            .unwrap();
        assert_eq!(out.status, 204);
        let req = server.requests().pop().unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.header(SIGNATURE_HEADER), None);
        assert_eq!(req.header(TIMESTAMP_HEADER), None);
        assert!(req.body.is_empty());
    }

    #[tokio::test]
    async fn signature_headers_replace_user_supplied_ones() {
        let server = TestServer::start(200, Vec::new()).await;
        let mut s = spec("POST", server.url("/"));
        s.headers = vec![(SIGNATURE_HEADER.into(), "sha256=forged".into())];
        s.hmac_secret = Some(SECRET.to_vec());
        send(&client(), &s, NOW).await.unwrap();
        let req = server.requests().pop().unwrap();
        let sigs: Vec<_> = req
            .headers
            .iter()
            .filter(|(n, _)| n == "x-bongsu-signature")
            .collect();
        assert_eq!(sigs.len(), 1);
        // No body: the signature covers the empty body.
        assert_eq!(
            verify(
                SECRET,
                req.header(TIMESTAMP_HEADER),
                req.header(SIGNATURE_HEADER),
                b"",
                NOW,
                60
            ),
            Ok(())
        );
    }

    #[tokio::test]
    async fn tampered_body_wrong_secret_old_timestamp_are_refused() {
        let req = signed_request(b"restart nginx").await;
        let ts = req.header(TIMESTAMP_HEADER);
        let sig = req.header(SIGNATURE_HEADER);
        assert_eq!(verify(SECRET, ts, sig, b"restart nginx", NOW, 300), Ok(()));

        let err = verify(SECRET, ts, sig, b"restart nginy", NOW, 300).unwrap_err();
        assert_eq!(err, "signature mismatch");
        let err = verify(b"other-secret", ts, sig, &req.body, NOW, 300).unwrap_err();
        assert_eq!(err, "signature mismatch");
        // Ten minutes later, with a five-minute window; and from the future.
        let err = verify(SECRET, ts, sig, &req.body, NOW + 600, 300).unwrap_err();
        assert_eq!(err, "timestamp outside the allowed window");
        let err = verify(SECRET, ts, sig, &req.body, NOW - 600, 300).unwrap_err();
        assert_eq!(err, "timestamp outside the allowed window");
        // Edge of the window is still accepted.
        assert_eq!(verify(SECRET, ts, sig, &req.body, NOW + 300, 300), Ok(()));
        // Moving the timestamp header (to dodge the window) breaks the MAC.
        let moved = (NOW + 600).to_string();
        let err = verify(SECRET, Some(&moved), sig, &req.body, NOW + 600, 300).unwrap_err();
        assert_eq!(err, "signature mismatch");
    }

    #[tokio::test]
    async fn replay_is_refused() {
        let req = signed_request(b"{\"action\":\"ack\"}").await;
        let ts_str = req.header(TIMESTAMP_HEADER).unwrap();
        let sig = req.header(SIGNATURE_HEADER).unwrap();
        let ts: i64 = ts_str.parse().unwrap();
        let guard = ReplayGuard::new(300, 100);

        // First delivery: verifies and is remembered.
        verify(SECRET, Some(ts_str), Some(sig), &req.body, NOW + 1, 300).unwrap();
        assert_eq!(guard.check_and_remember(sig, ts, NOW + 1), Ok(()));
        // Same request again, still inside the window: signature is valid,
        // but the guard refuses it.
        verify(SECRET, Some(ts_str), Some(sig), &req.body, NOW + 20, 300).unwrap();
        assert_eq!(
            guard.check_and_remember(sig, ts, NOW + 20),
            Err("replayed request".to_string())
        );
        // Once outside the window it is refused by the time checks and the
        // entry is pruned.
        assert_eq!(
            guard.check_and_remember(sig, ts, NOW + 301),
            Err("timestamp outside the allowed window".to_string())
        );
        let other = sign(SECRET, NOW + 301, b"x");
        assert_eq!(
            guard.check_and_remember(&other, NOW + 301, NOW + 301),
            Ok(())
        );
        assert_eq!(guard.len(), 1, "expired entry should have been pruned");
    }

    #[test]
    fn replay_guard_is_bounded_and_fails_closed() {
        let guard = ReplayGuard::new(60, 2);
        assert!(guard.is_empty());
        assert_eq!(guard.check_and_remember("a", 100, 100), Ok(()));
        assert_eq!(guard.check_and_remember("b", 100, 100), Ok(()));
        assert!(guard
            .check_and_remember("c", 100, 100)
            .unwrap_err()
            .contains("full"));
        // After the window the old entries are pruned and room is available.
        assert_eq!(guard.check_and_remember("c", 161, 161), Ok(()));
        assert_eq!(guard.len(), 1);
        assert_eq!(guard.check_and_remember("a", 161, 161), Ok(()));
    }

    #[test]
    fn verify_reports_missing_and_malformed_headers() {
        let sig = sign(SECRET, NOW, b"b");
        let ts = NOW.to_string();
        assert_eq!(
            verify(SECRET, None, Some(&sig), b"b", NOW, 60),
            Err("missing X-Bongsu-Timestamp header".to_string())
        );
        assert_eq!(
            verify(SECRET, Some(&ts), None, b"b", NOW, 60),
            Err("missing X-Bongsu-Signature header".to_string())
        );
        for bad in [
            "",
            "abc",
            "+1750000000",
            " 1750000000",
            "01750000000",
            "-5",
            "1.5",
            "99999999999999999999",
        ] {
            assert_eq!(
                verify(SECRET, Some(bad), Some(&sig), b"b", NOW, 60),
                Err("malformed X-Bongsu-Timestamp header".to_string()),
                "timestamp {bad:?}"
            );
        }
        for bad in [
            "",
            "sha256=",
            "sha256=zz",
            "md5=00",
            &sig[7..],
            &sig[..sig.len() - 1],
        ] {
            let err = verify(SECRET, Some(&ts), Some(bad), b"b", NOW, 60).unwrap_err();
            assert!(err.starts_with("signature mismatch"), "{bad:?}: {err}");
        }
        // Uppercase hex is the same MAC.
        let upper = format!("sha256={}", sig[7..].to_uppercase());
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&upper), b"b", NOW, 60),
            Ok(())
        );
    }

    #[test]
    fn sign_matches_known_vector() {
        // python3: hmac.new(b"secret", b"1700000000.hello", hashlib.sha256).hexdigest()
        assert_eq!(
            sign(b"secret", 1_700_000_000, b"hello"),
            "sha256=47b1df0ab12338b2685470b0d2b37033add7c3b2bc8172f313e77413f1bb78c8"
        );
    }

    #[tokio::test]
    async fn server_error_is_ok_but_not_success() {
        let server = TestServer::start(500, b"internal error".to_vec()).await;
        let out = send(&client(), &spec("POST", server.url("/fail")), NOW)
            .await
            .unwrap();
        assert_eq!(out.status, 500);
        assert!(!out.success());
        assert_eq!(out.body, "internal error");
    }

    #[tokio::test]
    async fn connection_refused_is_retryable() {
        // Grab a free port, then close it so nothing listens there.
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = send(
            &client(),
            &spec("POST", format!("http://127.0.0.1:{port}/secret-token")),
            NOW,
        )
        .await
        .unwrap_err();
        assert!(err.retry, "{err}");
        assert!(err.message.to_lowercase().contains("refused"), "{err}");
        assert!(
            !err.message.contains("secret-token"),
            "URL leaked into error: {err}"
        );
    }

    #[tokio::test]
    async fn timeout_is_retryable() {
        // Accepts connections but never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((c, _)) = listener.accept().await {
                conns.push(c);
            }
        });
        let mut s = spec("GET", format!("http://{addr}/slow"));
        s.timeout = Duration::from_millis(300);
        let started = Instant::now();
        let err = send(&client(), &s, NOW).await.unwrap_err();
        hold.abort();
        assert!(err.retry, "{err}");
        assert!(err.message.contains("timed out"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn invalid_input_is_not_retryable_and_names_the_field() {
        let c = client();
        let err = send(&c, &spec("GE T", "http://127.0.0.1:9/".into()), NOW)
            .await
            .unwrap_err();
        assert!(!err.retry);
        assert!(
            err.message.contains("method") && err.message.contains("GE T"),
            "{err}"
        );

        let err = send(&c, &spec("GET", "not a url".into()), NOW)
            .await
            .unwrap_err();
        assert!(!err.retry);
        assert!(err.message.contains("URL"), "{err}");

        let err = send(&c, &spec("GET", "file:///etc/passwd".into()), NOW)
            .await
            .unwrap_err();
        assert!(!err.retry);
        assert!(
            err.message.contains("URL") && err.message.contains("file"),
            "{err}"
        );

        let mut s = spec("GET", "http://127.0.0.1:9/".into());
        s.headers = vec![("Bad Name".into(), "v".into())];
        let err = send(&c, &s, NOW).await.unwrap_err();
        assert!(!err.retry);
        assert!(
            err.message.contains("header") && err.message.contains("Bad Name"),
            "{err}"
        );

        let mut s = spec("GET", "http://127.0.0.1:9/".into());
        s.headers = vec![("X-Injected".into(), "v\r\nEvil: 1".into())];
        let err = send(&c, &s, NOW).await.unwrap_err();
        assert!(!err.retry);
        assert!(err.message.contains("X-Injected"), "{err}");
        assert!(!err.message.contains("Evil"), "header value leaked: {err}");
    }

    #[tokio::test]
    async fn response_body_is_bounded() {
        let server = TestServer::start(200, vec![b'z'; 100_000]).await;
        let mut s = spec("GET", server.url("/big"));
        s.max_response = 1000;
        let out = send(&client(), &s, NOW).await.unwrap();
        assert_eq!(out.status, 200);
        assert_eq!(
            out.body,
            format!("{}\n…[truncated 99000 bytes]", "z".repeat(1000))
        );
    }
}
