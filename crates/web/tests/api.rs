//! HTTP API v1 tests: envelopes, parameter errors, series/labels, federate,
//! lifecycle endpoints, basic auth and TLS over a real socket.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use bongsu_model::{now_ms, Labels, Matcher};
use bongsu_promql::memstore::MemStore;
use bongsu_promql::{Engine, EngineOptions};
use bongsu_web::{
    router, serve, ActiveTarget, AppState, DroppedTarget, MetricMetadata, RuntimeView, TargetsView, TsdbAdmin, WebConfig,
};
use futures::FutureExt;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tower::ServiceExt;

struct Targets;

impl TargetsView for Targets {
    fn active(&self) -> Vec<ActiveTarget> {
        vec![ActiveTarget {
            discovered_labels: Labels::from_pairs([("__address__", "localhost:9100"), ("job", "node")]),
            labels: Labels::from_pairs([("instance", "localhost:9100"), ("job", "node")]),
            scrape_pool: "node".into(),
            scrape_url: "http://localhost:9100/metrics".into(),
            global_url: "http://host:9100/metrics".into(),
            last_error: String::new(),
            last_scrape: Some(UNIX_EPOCH + Duration::from_millis(1_435_781_451_781)),
            last_scrape_duration: 0.0123,
            health: "up".into(),
            scrape_interval: "15s".into(),
            scrape_timeout: "10s".into(),
        }]
    }
    fn dropped(&self) -> Vec<DroppedTarget> {
        vec![DroppedTarget {
            discovered_labels: Labels::from_pairs([("__address__", "x:1"), ("job", "node")]),
            scrape_pool: "node".into(),
        }]
    }
    fn metadata(&self) -> Vec<MetricMetadata> {
        let t = Labels::from_pairs([("instance", "localhost:9100"), ("job", "node")]);
        vec![
            MetricMetadata {
                target: t.clone(),
                metric: "node_cpu_seconds_total".into(),
                metric_type: "counter".into(),
                help: "Seconds the CPUs spent in each mode.".into(),
                unit: String::new(),
            },
            MetricMetadata {
                target: t,
                metric: "node_load1".into(),
                metric_type: "gauge".into(),
                help: "1m load average.".into(),
                unit: String::new(),
            },
        ]
    }
}

#[derive(Default)]
struct Tsdb {
    deleted: Mutex<Vec<(Vec<Matcher>, i64, i64)>>,
}

impl TsdbAdmin for Tsdb {
    fn status(&self, limit: usize) -> serde_json::Value {
        serde_json::json!({ "limit": limit })
    }
    fn snapshot(&self, skip_head: bool) -> Result<String, String> {
        Ok(format!("20260101T000000Z-{}", if skip_head { "nohead" } else { "head" }))
    }
    fn delete_series(&self, matchers: &[Matcher], start: i64, end: i64) -> Result<(), String> {
        self.deleted.lock().push((matchers.to_vec(), start, end));
        Ok(())
    }
    fn clean_tombstones(&self) -> Result<(), String> {
        Err("disk on fire".into())
    }
}

struct Runtime;

impl RuntimeView for Runtime {
    fn config_yaml(&self) -> String {
        "global:\n  scrape_interval: 15s\n".into()
    }
    fn flags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("web.listen-address".to_string(), ":9090".to_string())])
    }
    fn runtime_info(&self) -> serde_json::Value {
        serde_json::json!({ "goroutineCount": 1 })
    }
    fn build_info(&self) -> serde_json::Value {
        serde_json::json!({ "version": "0.1.0" })
    }
    fn metrics_text(&self) -> String {
        "# TYPE up gauge\nup 1\n".into()
    }
}

struct Fixture {
    app: Router,
    store: Arc<MemStore>,
    tsdb: Arc<Tsdb>,
    ready: Arc<AtomicBool>,
}

fn fixture(admin: bool) -> Fixture {
    fixture_with(admin, true)
}

fn fixture_with(admin: bool, lifecycle: bool) -> Fixture {
    let store = Arc::new(MemStore::new());
    let tsdb = Arc::new(Tsdb::default());
    let ready = Arc::new(AtomicBool::new(true));
    let state = AppState {
        queryable: store.clone(),
        engine: Arc::new(Engine::new(EngineOptions::default())),
        targets: Arc::new(Targets),
        tsdb: tsdb.clone(),
        runtime: Arc::new(Runtime),
        enable_admin_api: admin,
        enable_lifecycle: lifecycle,
        ready: ready.clone(),
        reload: Arc::new(|| async { Err::<(), String>("bad config".into()) }.boxed()),
        external_labels: Arc::new(|| Labels::from_pairs([("region", "eu")])),
        remote_write: None,
    };
    Fixture { app: router(state), store, tsdb, ready }
}

async fn call(app: &Router, method: &str, uri: &str, body: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut b = Request::builder().method(method).uri(uri);
    if body.is_some() {
        b = b.header("content-type", "application/x-www-form-urlencoded");
    }
    let req = b.body(Body::from(body.unwrap_or("").to_string())).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, headers, String::from_utf8_lossy(&bytes).into_owned())
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String) {
    let (s, _, b) = call(app, "GET", uri, None).await;
    (s, b)
}

fn seed(store: &MemStore) {
    let t = 1_435_781_451_781;
    store.add(Labels::from_pairs([("__name__", "up"), ("job", "node"), ("instance", "a:1")]), t, 1.0);
    store.add(Labels::from_pairs([("__name__", "up"), ("job", "prom"), ("instance", "b:2")]), t, 0.0);
    store.add(Labels::from_pairs([("__name__", "http_requests_total"), ("job", "node"), ("path", "/<x>")]), t, 5.0);
}

#[tokio::test]
async fn series_and_labels() {
    let f = fixture(false);
    seed(&f.store);
    let (s, b) = get(&f.app, "/api/v1/series?match[]=up").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b,
        r#"{"status":"success","data":[{"__name__":"up","instance":"a:1","job":"node"},{"__name__":"up","instance":"b:2","job":"prom"}]}"#
    );
    // Two selectors are merged and sorted; the limit truncates with a warning.
    let (_, b) = get(&f.app, "/api/v1/series?match[]=up&match[]=http_requests_total&limit=1").await;
    assert_eq!(
        b,
        r#"{"status":"success","data":[{"__name__":"http_requests_total","job":"node","path":"/<x>"}],"warnings":["results truncated due to limit"]}"#
    );
    let (_, b) = get(&f.app, "/api/v1/labels").await;
    assert_eq!(b, r#"{"status":"success","data":["__name__","instance","job","path"]}"#);
    let (_, b) = get(&f.app, "/api/v1/labels?match[]=up").await;
    assert_eq!(b, r#"{"status":"success","data":["__name__","instance","job"]}"#);
    let (_, b) = get(&f.app, "/api/v1/label/job/values").await;
    assert_eq!(b, r#"{"status":"success","data":["node","prom"]}"#);
    // Label values outside label sets are HTML-escaped as Go's encoder does.
    let (_, b) = get(&f.app, "/api/v1/label/path/values").await;
    assert_eq!(b, r#"{"status":"success","data":["/\u003cx\u003e"]}"#);
    let (_, b) = get(&f.app, "/api/v1/label/job/values?start=0&end=1").await;
    assert_eq!(b, r#"{"status":"success","data":[]}"#);
    // POST form bodies work like query strings.
    let (s, _, b) = call(&f.app, "POST", "/api/v1/series", Some("match%5B%5D=up%7Bjob%3D%22prom%22%7D")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, r#"{"status":"success","data":[{"__name__":"up","instance":"b:2","job":"prom"}]}"#);
}

#[tokio::test]
async fn parameter_errors() {
    let f = fixture(false);
    let cases = [
        ("/api/v1/series", 400, "bad_data", "no match[] parameter provided"),
        ("/api/v1/series?match[]=up&limit=x", 400, "bad_data", r#"invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax"#),
        ("/api/v1/series?match[]=up&limit=-1", 400, "bad_data", r#"invalid parameter \"limit\": limit must be non-negative"#),
        (
            "/api/v1/series?match[]=up&start=yesterday",
            400,
            "bad_data",
            r#"invalid parameter \"start\": invalid time value for 'start': cannot parse \"yesterday\" to a valid timestamp"#,
        ),
        ("/api/v1/series?match[]=%7Bjob%3D~%22.*%22%7D", 400, "bad_data", r#"invalid parameter \"match[]\": match[] must contain at least one non-empty matcher"#),
        (
            "/api/v1/query_range?query=up&start=10&end=5&step=1",
            400,
            "bad_data",
            r#"invalid parameter \"end\": end timestamp must not be before start time"#,
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=5&step=0",
            400,
            "bad_data",
            r#"invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"#,
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=100000&step=1",
            400,
            "bad_data",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
        ("/api/v1/query_range?query=up&start=0&end=10&step=x", 400, "bad_data", r#"invalid parameter \"step\": cannot parse \"x\" to a valid duration"#),
        ("/api/v1/query_range?query=up&end=10&step=1", 400, "bad_data", r#"invalid parameter \"start\": cannot parse \"\" to a valid timestamp"#),
        (
            "/api/v1/query?query=up&time=x",
            400,
            "bad_data",
            r#"invalid parameter \"time\": invalid time value for 'time': cannot parse \"x\" to a valid timestamp"#,
        ),
        ("/api/v1/query?query=up&timeout=x", 400, "bad_data", r#"invalid parameter \"timeout\": cannot parse \"x\" to a valid duration"#),
        ("/api/v1/metadata?limit=x", 400, "bad_data", "limit must be a number"),
        (
            "/api/v1/query_range?query=up%5B5m%5D&start=0&end=10&step=1",
            400,
            "bad_data",
            r#"invalid parameter \"query\": invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"#,
        ),
        ("/api/v1/query?query=up&lookback_delta=x", 400, "bad_data", r#"error parsing lookback delta duration: cannot parse \"x\" to a valid duration"#),
        ("/api/v1/status/tsdb?limit=0", 400, "bad_data", "limit must be a positive number"),
        ("/api/v1/status/tsdb?limit=10001", 400, "bad_data", "limit must not exceed 10000"),
    ];
    for (uri, code, typ, msg) in cases {
        let (s, h, b) = call(&f.app, "GET", uri, None).await;
        assert_eq!(s.as_u16(), code, "{uri}: {b}");
        assert_eq!(h.get("content-type").unwrap(), "application/json");
        assert_eq!(b, format!(r#"{{"status":"error","errorType":"{typ}","error":"{msg}"}}"#), "{uri}");
    }
    // The same checks apply to POST form bodies.
    let (s, _, b) = call(&f.app, "POST", "/api/v1/query_range", Some("query=up&start=10&end=5&step=1")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.contains("end timestamp must not be before start time"), "{b}");
}

#[tokio::test]
async fn query_parse_error_is_bad_data() {
    let f = fixture(false);
    let (s, b) = get(&f.app, "/api/v1/query?query=sum(").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b.starts_with(r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:"#), "{b}");
    assert!(b.contains("parse error"), "{b}");
}

#[tokio::test]
async fn admin_api_disabled() {
    let f = fixture(false);
    for uri in ["/api/v1/admin/tsdb/snapshot", "/api/v1/admin/tsdb/delete_series?match[]=up", "/api/v1/admin/tsdb/clean_tombstones"] {
        let (s, _, b) = call(&f.app, "POST", uri, None).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        assert_eq!(b, r#"{"status":"error","errorType":"unavailable","error":"admin APIs disabled"}"#);
    }
}

#[tokio::test]
async fn admin_api_enabled() {
    let f = fixture(true);
    let (s, _, b) = call(&f.app, "POST", "/api/v1/admin/tsdb/snapshot?skip_head=true", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, r#"{"status":"success","data":{"name":"20260101T000000Z-nohead"}}"#);
    let (s, _, b) = call(&f.app, "POST", "/api/v1/admin/tsdb/snapshot?skip_head=maybe", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        b,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"skip_head\": unable to parse boolean: strconv.ParseBool: parsing \"maybe\": invalid syntax"}"#
    );
    let (s, _, b) = call(&f.app, "PUT", "/api/v1/admin/tsdb/delete_series?match[]=up&start=1&end=2", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    assert_eq!(b, "");
    {
        let d = f.tsdb.deleted.lock();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, vec![Matcher::equal("__name__", "up")]);
        assert_eq!((d[0].1, d[0].2), (1000, 2000));
    }
    let (s, _, b) = call(&f.app, "POST", "/api/v1/admin/tsdb/delete_series", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.contains("no match[] parameter provided"));
    let (s, _, b) = call(&f.app, "POST", "/api/v1/admin/tsdb/clean_tombstones", None).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(b, r#"{"status":"error","errorType":"internal","error":"disk on fire"}"#);
}

#[tokio::test]
async fn status_targets_metadata() {
    let f = fixture(false);
    let (_, b) = get(&f.app, "/api/v1/status/config").await;
    assert_eq!(b, r#"{"status":"success","data":{"yaml":"global:\n  scrape_interval: 15s\n"}}"#);
    let (_, b) = get(&f.app, "/api/v1/status/flags").await;
    assert_eq!(b, r#"{"status":"success","data":{"web.listen-address":":9090"}}"#);
    let (_, b) = get(&f.app, "/api/v1/status/buildinfo").await;
    assert_eq!(b, r#"{"status":"success","data":{"version":"0.1.0"}}"#);
    let (_, b) = get(&f.app, "/api/v1/status/tsdb?limit=3").await;
    assert_eq!(b, r#"{"status":"success","data":{"limit":3}}"#);
    let (_, b) = get(&f.app, "/api/v1/rules").await;
    assert_eq!(b, r#"{"status":"success","data":{"groups":[]}}"#);
    let (_, b) = get(&f.app, "/api/v1/alerts").await;
    assert_eq!(b, r#"{"status":"success","data":{"alerts":[]}}"#);
    let (_, b) = get(&f.app, "/api/v1/targets").await;
    assert_eq!(
        b,
        concat!(
            r#"{"status":"success","data":{"activeTargets":[{"discoveredLabels":{"__address__":"localhost:9100","job":"node"},"#,
            r#""labels":{"instance":"localhost:9100","job":"node"},"scrapePool":"node","scrapeUrl":"http://localhost:9100/metrics","#,
            r#""globalUrl":"http://host:9100/metrics","lastError":"","lastScrape":"2015-07-01T20:10:51.781Z","lastScrapeDuration":0.0123,"#,
            r#""health":"up","scrapeInterval":"15s","scrapeTimeout":"10s"}],"#,
            r#""droppedTargets":[{"discoveredLabels":{"__address__":"x:1","job":"node"},"scrapePool":"node"}],"droppedTargetCounts":{"node":1}}}"#
        )
    );
    let (_, b) = get(&f.app, "/api/v1/targets?state=active").await;
    assert!(b.ends_with(r#""droppedTargets":[],"droppedTargetCounts":null}}"#), "{b}");
    let (_, b) = get(&f.app, "/api/v1/targets?state=dropped").await;
    assert!(b.starts_with(r#"{"status":"success","data":{"activeTargets":[],"droppedTargets":[{"#), "{b}");
    let (_, b) = get(&f.app, "/api/v1/metadata").await;
    assert_eq!(
        b,
        concat!(
            r#"{"status":"success","data":{"node_cpu_seconds_total":[{"type":"counter","unit":"","help":"Seconds the CPUs spent in each mode."}],"#,
            r#""node_load1":[{"type":"gauge","unit":"","help":"1m load average."}]}}"#
        )
    );
    let (_, b) = get(&f.app, "/api/v1/metadata?metric=node_load1").await;
    assert_eq!(b, r#"{"status":"success","data":{"node_load1":[{"type":"gauge","unit":"","help":"1m load average."}]}}"#);
    let (_, b) = get(&f.app, "/api/v1/targets/metadata?metric=node_load1").await;
    assert_eq!(
        b,
        r#"{"status":"success","data":[{"target":{"instance":"localhost:9100","job":"node"},"type":"gauge","help":"1m load average.","unit":""}]}"#
    );
    let (_, b) = get(&f.app, "/api/v1/targets/metadata?limit=1").await;
    assert_eq!(
        b,
        r#"{"status":"success","data":[{"target":{"instance":"localhost:9100","job":"node"},"metric":"node_cpu_seconds_total","type":"counter","help":"Seconds the CPUs spent in each mode.","unit":""}]}"#
    );
}

#[tokio::test]
async fn federate_text() {
    let f = fixture(false);
    let now = now_ms();
    f.store.add(Labels::from_pairs([("__name__", "up"), ("job", "node"), ("instance", "a:1")]), now - 10_000, 1.0);
    f.store.add(Labels::from_pairs([("__name__", "up"), ("job", "node"), ("instance", "a:1")]), now - 5_000, 1.0);
    f.store.add(Labels::from_pairs([("__name__", "go_goroutines"), ("job", "node")]), now - 5_000, 1234567.0);
    // Stale and too old series are left out.
    f.store.add(Labels::from_pairs([("__name__", "up"), ("job", "gone")]), now - 4_000, bongsu_model::STALE_NAN);
    f.store.add(Labels::from_pairs([("__name__", "up"), ("job", "old")]), now - 3_600_000, 1.0);
    let (s, h, b) = call(&f.app, "GET", "/federate?match[]=up&match[]=go_goroutines", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h.get("content-type").unwrap(), "text/plain; version=0.0.4; charset=utf-8; escaping=underscores");
    assert_eq!(
        b,
        format!(
            "# TYPE go_goroutines untyped\ngo_goroutines{{job=\"node\",instance=\"\",region=\"eu\"}} 1.234567e+06 {}\n\
             # TYPE up untyped\nup{{instance=\"a:1\",job=\"node\",region=\"eu\"}} 1 {}\n",
            now - 5_000,
            now - 5_000
        )
    );
    let (s, _, b) = call(&f.app, "GET", "/federate?match[]=sum(up)", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
}

#[tokio::test]
async fn lifecycle_endpoints() {
    let f = fixture(false);
    let (s, b) = get(&f.app, "/-/healthy").await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, "Prometheus Server is Healthy.\n"));
    let (s, b) = get(&f.app, "/-/ready").await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, "Prometheus Server is Ready.\n"));
    let (s, _, b) = call(&f.app, "POST", "/-/reload", None).await;
    assert_eq!((s, b.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "failed to reload config: bad config\n"));
    let (s, _) = get(&f.app, "/-/reload").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    let (s, h, b) = call(&f.app, "GET", "/metrics", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h.get("content-type").unwrap().to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    assert_eq!(b, "# TYPE up gauge\nup 1\n");
    // `/` is the embedded web UI (ui/dist).
    let (s, b) = get(&f.app, "/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("<div id=\"app\">"), "{b}");
    let (s, b) = get(&f.app, "/api/v1/nope").await;
    assert_eq!((s, b.as_str()), (StatusCode::NOT_FOUND, "404 page not found\n"));
    let (s, _) = get(&f.app, "/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = get(&f.app, "/api/v1/admin/tsdb/snapshot").await;
    assert_eq!((s, b.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n"));

    f.ready.store(false, Ordering::Release);
    let (s, b) = get(&f.app, "/-/ready").await;
    assert_eq!((s, b.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"));
    let (s, _) = get(&f.app, "/api/v1/labels").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _) = get(&f.app, "/federate?match[]=up").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _) = get(&f.app, "/-/healthy").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = get(&f.app, "/api/v1/status/walreplay").await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn gzip_when_asked() {
    let f = fixture(false);
    seed(&f.store);
    let req = Request::builder()
        .uri("/api/v1/label/__name__/values")
        .header("accept-encoding", "gzip")
        .body(Body::empty())
        .unwrap();
    let resp = f.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.headers().get("content-encoding").unwrap(), "gzip");
}

// ---- real sockets: basic auth and TLS ------------------------------------------------

/// A minimal HTTP/1.1 exchange over any stream.
async fn http1<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, path: &str, auth: Option<(&str, &str)>) -> (u16, String, String) {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some((u, p)) = auth {
        req.push_str(&format!("Authorization: Basic {}\r\n", b64(&format!("{u}:{p}"))));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, head.to_string(), body.to_string())
}

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &x)| acc | (x as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn start(cfg: Option<WebConfig>) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let f = fixture(false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, f.app, cfg, async move {
        let _ = rx.await;
    }));
    (addr, tx)
}

#[tokio::test]
async fn basic_auth() {
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let cfg = WebConfig::parse(&format!(
        "basic_auth_users:\n  alice: '{hash}'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
    ))
    .unwrap();
    let (addr, stop) = start(Some(cfg)).await;
    let conn = || async { tokio::net::TcpStream::connect(addr).await.unwrap() };

    let (code, head, body) = http1(conn().await, "/-/healthy", None).await;
    assert_eq!(code, 401, "{head}");
    assert!(head.to_ascii_lowercase().contains("www-authenticate: basic"), "{head}");
    assert!(head.to_ascii_lowercase().contains("x-frame-options: deny"), "{head}");
    assert_eq!(body, "Unauthorized\n");

    let (code, _, _) = http1(conn().await, "/-/healthy", Some(("alice", "wrong"))).await;
    assert_eq!(code, 401);
    let (code, _, _) = http1(conn().await, "/-/healthy", Some(("mallory", "s3cret"))).await;
    assert_eq!(code, 401);
    let (code, _, body) = http1(conn().await, "/-/healthy", Some(("alice", "s3cret"))).await;
    assert_eq!(code, 200);
    assert_eq!(body, "Prometheus Server is Healthy.\n");
    // Cached result, same answer.
    let (code, _, _) = http1(conn().await, "/api/v1/labels", Some(("alice", "s3cret"))).await;
    assert_eq!(code, 200);
    let _ = stop.send(());
}

#[tokio::test]
async fn plain_serve_without_config() {
    let (addr, stop) = start(None).await;
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (code, _, body) = http1(s, "/-/healthy", None).await;
    assert_eq!((code, body.as_str()), (200, "Prometheus Server is Healthy.\n"));
    let _ = stop.send(());
}

fn testdata(name: &str) -> String {
    format!("{}/tests/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn tls_client(with_cert: bool) -> tokio_rustls::TlsConnector {
    tls_client_alpn(with_cert, vec![])
}

fn tls_client_alpn(with_cert: bool, alpn: Vec<Vec<u8>>) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::CertificateDer;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(testdata("ca.crt")).unwrap();
    for c in rustls_pemfile::certs(&mut ca.as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = if with_cert {
        let pem = std::fs::read(testdata("client.crt")).unwrap();
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_slice()).map(|c| c.unwrap()).collect();
        let key = std::fs::read(testdata("client.key")).unwrap();
        let key = rustls_pemfile::private_key(&mut key.as_slice()).unwrap().unwrap();
        b.with_client_auth_cert(certs, key).unwrap()
    } else {
        b.with_no_client_auth()
    };
    cfg.alpn_protocols = alpn;
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

#[tokio::test]
async fn tls_with_client_certificates() {
    let dir = std::env::temp_dir().join(format!("bongsu-web-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["server.crt", "server.key", "ca.crt"] {
        std::fs::copy(testdata(f), dir.join(f)).unwrap();
    }
    // Relative paths resolve against the config file's directory.
    let path = dir.join("web.yml");
    std::fs::write(
        &path,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
    )
    .unwrap();
    let cfg = WebConfig::load(&path).unwrap();
    let (addr, stop) = start(Some(cfg)).await;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tls_client(true).connect(name.clone(), tcp).await.unwrap();
    let (code, _, body) = http1(tls, "/-/healthy", None).await;
    assert_eq!((code, body.as_str()), (200, "Prometheus Server is Healthy.\n"));

    // Without a client certificate the handshake (or the first read) fails.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    match tls_client(false).connect(name, tcp).await {
        Err(_) => {}
        Ok(tls) => {
            let (code, _, _) = http1(tls, "/-/healthy", None).await;
            assert_eq!(code, 0, "request without client certificate must fail");
        }
    }
    let _ = stop.send(());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn web_config_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("bongsu-web-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("web.yml");
    std::fs::write(&path, "basic_auth_users:\n  alice: x\nbogus: 1\n").unwrap();
    let e = WebConfig::load(&path).unwrap_err();
    assert!(e.starts_with(&format!("{}:3:1: unknown field `bogus`", path.display())), "{e}");
    std::fs::write(&path, "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n").unwrap();
    let e = WebConfig::load(&path).unwrap_err();
    assert!(e.contains("failed to read cert_file"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn query_results() {
    let f = fixture(false);
    seed(&f.store);
    let (s, b) = get(&f.app, "/api/v1/query?query=up&time=1435781451.781").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b,
        concat!(
            r#"{"status":"success","data":{"resultType":"vector","result":["#,
            r#"{"metric":{"__name__":"up","instance":"a:1","job":"node"},"value":[1435781451.781,"1"]},"#,
            r#"{"metric":{"__name__":"up","instance":"b:2","job":"prom"},"value":[1435781451.781,"0"]}]}}"#
        )
    );
    let (_, b) = get(&f.app, "/api/v1/query?query=up&time=1435781451.781&limit=1").await;
    assert!(b.ends_with(r#""value":[1435781451.781,"1"]}]},"warnings":["results truncated due to limit"]}"#), "{b}");
    let (_, b) = get(&f.app, "/api/v1/query?query=1%2B1&time=1.5").await;
    assert_eq!(b, r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"2"]}}"#);
    let (_, b) = get(&f.app, "/api/v1/query?query=%22a%3Cb%22&time=2").await;
    assert_eq!(b, r#"{"status":"success","data":{"resultType":"string","result":[2,"a\u003cb"]}}"#);
    let (_, b) = get(&f.app, "/api/v1/query?query=1e-7&time=2").await;
    assert_eq!(b, r#"{"status":"success","data":{"resultType":"scalar","result":[2,"0.0000001"]}}"#);
    let (_, b) = get(&f.app, "/api/v1/query?query=vector(1e-7)&time=2").await;
    assert_eq!(b, r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[2,"1e-07"]}]}}"#);

    let (_, _, b) = call(
        &f.app,
        "POST",
        "/api/v1/query_range",
        Some("query=up%7Bjob%3D%22node%22%7D&start=1435781451.781&end=1435781511.781&step=30s"),
    )
    .await;
    assert_eq!(
        b,
        concat!(
            r#"{"status":"success","data":{"resultType":"matrix","result":["#,
            r#"{"metric":{"__name__":"up","instance":"a:1","job":"node"},"values":[[1435781451.781,"1"],[1435781481.781,"1"],[1435781511.781,"1"]]}]}}"#
        )
    );
}

#[tokio::test]
async fn format_and_parse_query() {
    let f = fixture(false);
    let (_, b) = get(&f.app, "/api/v1/format_query?query=sum(rate(x%5B5m%5D))by(job)").await;
    assert_eq!(b, r#"{"status":"success","data":"sum by (job) (rate(x[5m]))"}"#);
    let (_, b) = get(&f.app, "/api/v1/parse_query?query=up%7Bjob%3D%22a%22%7D").await;
    assert_eq!(
        b,
        concat!(
            r#"{"status":"success","data":{"anchored":false,"matchers":[{"name":"job","type":"=","value":"a"},"#,
            r#"{"name":"__name__","type":"=","value":"up"}],"name":"up","offset":0,"offsetExpr":null,"smoothed":false,"#,
            r#""startOrEnd":null,"timestamp":null,"type":"vectorSelector"}}"#
        )
    );
    let (_, b) = get(&f.app, "/api/v1/parse_query?query=rate(x%5B5m%5D)").await;
    assert!(b.contains(r#""func":{"argTypes":["matrix"],"name":"rate","returnType":"vector","variadic":0}"#), "{b}");
    let (s, b) = get(&f.app, "/api/v1/format_query?query=sum(").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.contains(r#"invalid parameter \"query\": 1:"#), "{b}");
}

#[tokio::test]
async fn auxiliary_endpoints() {
    let f = fixture(false);
    let (_, b) = get(&f.app, "/api/v1/scrape_pools").await;
    assert_eq!(b, r#"{"status":"success","data":{"scrapePools":["node"]}}"#);
    let (_, b) = get(&f.app, "/api/v1/alertmanagers").await;
    assert_eq!(b, r#"{"status":"success","data":{"activeAlertmanagers":[],"droppedAlertmanagers":[]}}"#);
    let (_, b) = get(&f.app, "/api/v1/query_exemplars?query=up").await;
    assert_eq!(b, r#"{"status":"success","data":[]}"#);
    let (s, b) = get(&f.app, "/api/v1/query_exemplars?query=up&start=10&end=5").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b, r#"{"status":"error","errorType":"bad_data","error":"end timestamp must not be before start timestamp"}"#);
    let (_, b) = get(&f.app, "/api/v1/status/walreplay").await;
    assert_eq!(b, r#"{"status":"success","data":{"min":0,"max":0,"current":0}}"#);
    // CORS headers as with Prometheus' default --web.cors.origin=.*.
    let req = Request::builder().uri("/api/v1/labels").header("origin", "http://grafana:3000").body(Body::empty()).unwrap();
    let resp = f.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.headers().get("access-control-allow-origin").unwrap(), "*");
    let (s, _, _) = call(&f.app, "OPTIONS", "/api/v1/query", None).await;
    assert!(s.is_success(), "{s}");
}

#[tokio::test]
async fn web_config_file_changes_apply_without_restart() {
    let dir = std::env::temp_dir().join(format!("bongsu-web-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("web.yml");
    let write = |pass: &str| {
        let hash = bcrypt::hash(pass, 4).unwrap();
        std::fs::write(&path, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
    };
    write("one");
    let (addr, stop) = start(Some(WebConfig::load(&path).unwrap())).await;
    let conn = || async { tokio::net::TcpStream::connect(addr).await.unwrap() };
    assert_eq!(http1(conn().await, "/-/healthy", Some(("alice", "one"))).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    write("two-longer");
    assert_eq!(http1(conn().await, "/-/healthy", Some(("alice", "two-longer"))).await.0, 200);
    assert_eq!(http1(conn().await, "/-/healthy", Some(("alice", "one"))).await.0, 401);
    // An invalid file keeps the previous settings.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    std::fs::write(&path, "basic_auth_users: [\n").unwrap();
    assert_eq!(http1(conn().await, "/-/healthy", Some(("alice", "two-longer"))).await.0, 200);
    let _ = stop.send(());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Side-by-side check against a real Prometheus loaded with the same data:
/// `PROM_ADDR=127.0.0.1:19090 PROM_DATA=data.om cargo test -- --ignored`.
/// Prints every request whose status or body differ.
#[tokio::test]
#[ignore]
async fn compare_with_prometheus() {
    let (Ok(addr), Ok(data)) = (std::env::var("PROM_ADDR"), std::env::var("PROM_DATA")) else {
        return;
    };
    let f = fixture_with(false, false);
    for line in std::fs::read_to_string(data).unwrap().lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, rest) = line.rsplit_once('}').map(|(a, b)| (format!("{a}}}"), b)).unwrap();
        let (name, labels) = series.split_once('{').unwrap();
        let mut pairs = vec![("__name__".to_string(), name.to_string())];
        for kv in labels.trim_end_matches('}').split(',').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap();
            pairs.push((k.to_string(), v.trim_matches('"').to_string()));
        }
        let mut it = rest.split_whitespace();
        let v: f64 = it.next().unwrap().parse().unwrap();
        let t: f64 = it.next().unwrap().parse().unwrap();
        f.store.add(Labels::from_pairs(pairs), (t * 1000.0) as i64, v);
    }
    let paths: Vec<String> = std::fs::read_to_string(std::env::var("PROM_PATHS").unwrap())
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    let mut diffs = 0;
    for p in paths {
        let (method, path) = p.split_once(' ').unwrap_or(("GET", &p));
        let theirs = {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
            s.write_all(req.as_bytes()).await.unwrap();
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.unwrap();
            let text = String::from_utf8_lossy(&buf).into_owned();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            (head.split(' ').nth(1).unwrap().parse::<u16>().unwrap(), body.to_string())
        };
        let (s, _, b) = call(&f.app, method, path, None).await;
        let ours = (s.as_u16(), b);
        if ours != theirs {
            diffs += 1;
            println!("DIFF {method} {path}\n  prom: {} {}\n  ours: {} {}", theirs.0, theirs.1, ours.0, ours.1);
        } else {
            println!("same {method} {path}");
        }
    }
    println!("{diffs} differences");
}

/// The output of Prometheus 2.42's /federate for the same data (recorded
/// from the real binary), timestamps made relative.
#[tokio::test]
async fn federate_matches_prometheus_output() {
    let f = fixture(false);
    let t = now_ms() - 60_000;
    let l = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs.iter().copied());
    f.store.add(l(&[("__name__", "up"), ("instance", "a:1"), ("job", "node")]), t - 60_000, 1.0);
    f.store.add(l(&[("__name__", "up"), ("instance", "a:1"), ("job", "node")]), t, 1.0);
    f.store.add(l(&[("__name__", "up"), ("job", "prom")]), t, 0.0);
    for (q, v) in [("a\"b\\c", 12345678.5), ("x", 0.0000123), ("y", 100000.0), ("z", 1e21), ("n", -0.5), ("i", f64::INFINITY)] {
        f.store.add(l(&[("__name__", "big"), ("job", "node"), ("quote", q)]), t, v);
    }
    f.store.add(l(&[("__name__", "Abc"), ("job", "node")]), t, 3.0);
    let (_, b) = get(&f.app, "/federate?match[]=%7Bjob%3D~%22.%2B%22%7D").await;
    let expected = r#"# TYPE Abc untyped
Abc{job="node",instance="",region="eu"} 3 @T
# TYPE big untyped
big{job="node",quote="a\"b\\c",instance="",region="eu"} 1.23456785e+07 @T
big{job="node",quote="i",instance="",region="eu"} +Inf @T
big{job="node",quote="n",instance="",region="eu"} -0.5 @T
big{job="node",quote="x",instance="",region="eu"} 1.23e-05 @T
big{job="node",quote="y",instance="",region="eu"} 100000 @T
big{job="node",quote="z",instance="",region="eu"} 1e+21 @T
# TYPE up untyped
up{instance="a:1",job="node",region="eu"} 1 @T
up{job="prom",instance="",region="eu"} 0 @T
"#;
    assert_eq!(b, expected.replace("@T", &t.to_string()));
}

#[tokio::test]
async fn rate_limit_and_tls_options() {
    let cfg = WebConfig::parse("rate_limit:\n  burst: 1\n  interval: 1h\n").unwrap();
    let (addr, stop) = start(Some(cfg)).await;
    let conn = || async { tokio::net::TcpStream::connect(addr).await.unwrap() };
    assert_eq!(http1(conn().await, "/-/healthy", None).await.0, 200);
    let (code, _, body) = http1(conn().await, "/-/healthy", None).await;
    assert_eq!((code, body.as_str()), (429, "Too Many Requests\n"));
    let _ = stop.send(());

    let base = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
        testdata("server.crt"),
        testdata("server.key")
    );
    let ok = WebConfig::parse(&format!(
        "{base}  min_version: TLS12\n  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [X25519, CurveP256]\n"
    ))
    .unwrap();
    assert_eq!(ok.validate(), Ok(()));
    let bad = WebConfig::parse(&format!("{base}  cipher_suites: [TLS_NOPE]\n")).unwrap();
    assert_eq!(bad.validate().unwrap_err(), "unknown cipher: TLS_NOPE");
    let bad = WebConfig::parse(&format!("{base}  client_ca_file: {}\n", testdata("ca.crt"))).unwrap();
    assert_eq!(bad.validate().unwrap_err(), "client CA's have been configured without a Client Auth Policy");

    // TLS 1.2 only, served with the restricted suite.
    let (addr, stop) = start(Some(ok)).await;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tls_client(false).connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
    let (code, _, _) = http1(tls, "/-/healthy", None).await;
    assert_eq!(code, 200);
    // HTTP/2 is offered through ALPN, HTTP/1.1 still negotiable.
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tls_client_alpn(false, vec![b"h2".to_vec(), b"http/1.1".to_vec()]).connect(name.clone(), tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tls_client_alpn(false, vec![b"http/1.1".to_vec()]).connect(name, tcp).await.unwrap();
    assert_eq!(http1(tls, "/-/healthy", None).await.0, 200);
    // A real HTTP/2 exchange when curl is available.
    let out = tokio::process::Command::new("curl")
        .args(["-s", "--http2", "--cacert", &testdata("ca.crt"), "-w", "%{http_version}"])
        .arg("--resolve")
        .arg(format!("localhost:{}:127.0.0.1", addr.port()))
        .arg(format!("https://localhost:{}/-/healthy", addr.port()))
        .output()
        .await;
    if let Ok(out) = out {
        assert_eq!(String::from_utf8_lossy(&out.stdout), "Prometheus Server is Healthy.\n2");
    }
    let _ = stop.send(());
}
