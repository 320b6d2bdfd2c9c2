//! End to end: a local HTTP target, the scrape manager, an in-memory store.

use std::sync::Arc;
use std::time::Duration;

use bongsu_model::storage::{AppendError, Appendable, Appender, StorageError};
use bongsu_model::{is_stale_nan, Labels};
use bongsu_scrape::{load_str, ScrapeManager};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Default, Clone)]
struct Store(Arc<Mutex<Vec<(Labels, i64, f64)>>>);

struct Batch {
    store: Store,
    pending: Vec<(Labels, i64, f64)>,
}

impl Appender for Batch {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
        self.pending.push((labels.clone(), t, v));
        Ok(())
    }
    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        self.store.0.lock().extend(self.pending);
        Ok(())
    }
    fn rollback(self: Box<Self>) {}
}

impl Appendable for Store {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(Batch {
            store: self.clone(),
            pending: Vec::new(),
        })
    }
}

impl Store {
    fn len(&self) -> usize {
        self.0.lock().len()
    }
    fn since(&self, from: usize) -> Vec<(Labels, i64, f64)> {
        self.0.lock()[from..].to_vec()
    }
}

/// Serves whatever body/content type is current, one response per connection.
async fn serve(resp: Arc<Mutex<(String, String)>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let resp = resp.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
                let (body, ctype) = resp.lock().clone();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

async fn wait_for(
    store: &Store,
    from: usize,
    what: &str,
    f: impl Fn(&[(Labels, i64, f64)]) -> bool,
) {
    // Generous: CI machines are shared and slow.
    for _ in 0..400 {
        if f(&store.since(from)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}; got {:?}", store.since(from));
}

fn named<'a>(s: &'a [(Labels, i64, f64)], name: &str) -> Vec<&'a (Labels, i64, f64)> {
    s.iter()
        .filter(|(l, _, _)| l.metric_name() == Some(name))
        .collect()
}

const GOOD: &str = "# HELP m A test gauge.\n# TYPE m gauge\nm{a=\"1\"} 5\nm{a=\"2\"} 6\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_malformed_and_removal() {
    let resp = Arc::new(Mutex::new((
        GOOD.to_string(),
        "text/plain; version=0.0.4".to_string(),
    )));
    let addr = serve(resp.clone()).await;
    let store = Store::default();
    let mgr = ScrapeManager::new(Arc::new(store.clone()));
    let cfg = load_str(
        &format!(
            "scrape_configs:\n  - job_name: t\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n    static_configs:\n      - targets: ['{addr}']\n        labels: {{env: test}}\n"
        ),
        "test.yml",
    )
    .expect("config");
    mgr.apply_config(&cfg).await.expect("apply");

    // 1. Samples land with target labels, up=1.
    wait_for(&store, 0, "up=1", |s| {
        named(s, "up").iter().any(|x| x.2 == 1.0)
    })
    .await;
    let all = store.since(0);
    let m = named(&all, "m");
    assert!(m.len() >= 2, "{all:?}");
    let first = &m[0].0;
    assert_eq!(first.get("job"), Some("t"));
    assert_eq!(first.get("instance"), Some(addr.as_str()));
    assert_eq!(first.get("env"), Some("test"));
    for n in [
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        assert!(!named(&all, n).is_empty(), "{n} missing");
    }
    assert_eq!(named(&all, "scrape_samples_scraped")[0].2, 2.0);
    let targets = mgr.active_targets();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].health.as_str(), "up");
    assert_eq!(targets[0].scrape_url, format!("http://{addr}/metrics"));
    let meta = mgr.metadata();
    assert!(
        meta.iter()
            .any(|m| m.metric == "m" && m.kind == "gauge" && m.help == "A test gauge."),
        "{meta:?}"
    );

    // 2. A malformed body: up=0, no samples of that body, previous series stale.
    resp.lock().0 = "m{a=\"1\" 5\nm{a=\"2\"} 7\n".to_string();
    let mark = store.len();
    wait_for(&store, mark, "up=0", |s| {
        named(s, "up").iter().any(|x| x.2 == 0.0)
    })
    .await;
    let after = store.since(mark);
    let up0 = named(&after, "up")
        .into_iter()
        .find(|x| x.2 == 0.0)
        .expect("up=0")
        .1;
    for (l, t, v) in &after {
        if l.metric_name() == Some("m") && *t >= up0 {
            assert!(
                is_stale_nan(*v),
                "sample from a malformed body was stored: {l} {v}"
            );
        }
    }
    assert!(
        named(&after, "m")
            .iter()
            .filter(|x| is_stale_nan(x.2))
            .count()
            >= 2,
        "staleness markers after the failed scrape: {after:?}"
    );
    let t = &mgr.active_targets()[0];
    assert_eq!(t.health.as_str(), "down");
    assert!(t.last_error.contains("line 1"), "{}", t.last_error);

    // 3. Recovery, then target removal writes staleness markers for every series.
    resp.lock().0 = GOOD.to_string();
    let mark = store.len();
    wait_for(&store, mark, "up=1 again", |s| {
        named(s, "up").iter().any(|x| x.2 == 1.0)
    })
    .await;
    let empty = load_str("scrape_configs: []\n", "empty.yml").expect("config");
    let mark = store.len();
    mgr.apply_config(&empty).await.expect("apply");
    let after = store.since(mark);
    let stale: Vec<String> = after
        .iter()
        .filter(|x| is_stale_nan(x.2))
        .map(|x| x.0.to_string())
        .collect();
    assert!(stale.iter().any(|l| l.contains("a=\"1\"")), "{stale:?}");
    assert!(stale.iter().any(|l| l.contains("a=\"2\"")), "{stale:?}");
    assert!(
        stale.iter().any(|l| l.contains("__name__=\"up\"")),
        "{stale:?}"
    );
    assert!(mgr.active_targets().is_empty());
    mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openmetrics_limits_and_reload_keep_loops() {
    let body = "# TYPE c counter\nc_total{x=\"1\"} 3 1.5\nc_created{x=\"1\"} 1\n# EOF\n";
    let resp = Arc::new(Mutex::new((
        body.to_string(),
        "application/openmetrics-text; version=1.0.0".to_string(),
    )));
    let addr = serve(resp.clone()).await;
    let store = Store::default();
    let mgr = ScrapeManager::new(Arc::new(store.clone()));
    let yaml = |limit: u32| {
        format!(
            "scrape_configs:\n  - job_name: om\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n    sample_limit: {limit}\n    honor_timestamps: true\n    static_configs:\n      - targets: ['{addr}']\n"
        )
    };
    mgr.apply_config(&load_str(&yaml(10), "a.yml").expect("cfg"))
        .await
        .expect("apply");
    wait_for(&store, 0, "c_total", |s| !named(s, "c_total").is_empty()).await;
    let all = store.since(0);
    let c = named(&all, "c_total")[0];
    assert_eq!(c.1, 1500, "OpenMetrics timestamps are seconds");
    // `_created` is stored as a series, as Prometheus does by default.
    assert_eq!(named(&all, "c_created")[0].2, 1.0);

    // Re-applying the same config keeps the loop (no staleness markers).
    let mark = store.len();
    mgr.apply_config(&load_str(&yaml(10), "a.yml").expect("cfg"))
        .await
        .expect("apply");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(store.since(mark).iter().all(|x| !is_stale_nan(x.2)));

    // A changed metric_relabel_configs takes effect on the running target
    // (the relabel cache of the old configuration is not reused).
    let mark = store.len();
    let relabelled = yaml(10).replace(
        "sample_limit: 10",
        "sample_limit: 10\n    metric_relabel_configs:\n      - target_label: extra\n        replacement: y",
    );
    mgr.apply_config(&load_str(&relabelled, "r.yml").expect("cfg"))
        .await
        .expect("apply");
    wait_for(&store, mark, "relabelled series", |s| {
        named(s, "c_total")
            .iter()
            .any(|x| x.0.get("extra") == Some("y"))
    })
    .await;

    // A sample limit of 0 samples… 1 is fine; lower it below the count via metric relabel.
    let mark = store.len();
    let tight = yaml(10).replace("sample_limit: 10", "sample_limit: 1\n    metric_relabel_configs:\n      - target_label: extra\n        replacement: y");
    resp.lock().0 = "# TYPE c counter\nc_total{x=\"1\"} 3\nc_total{x=\"2\"} 4\n# EOF\n".into();
    mgr.apply_config(&load_str(&tight, "b.yml").expect("cfg"))
        .await
        .expect("apply");
    wait_for(&store, mark, "sample limit failure", |s| {
        named(s, "up").iter().any(|x| x.2 == 0.0)
    })
    .await;
    let t = &mgr.active_targets()[0];
    assert_eq!(t.last_error, "sample limit exceeded");
    let st = mgr.stats();
    let lim = st
        .iter()
        .find(|s| s.name == "prometheus_target_scrapes_exceeded_sample_limit_total")
        .expect("stat");
    assert!(lim.value >= 1.0);
    mgr.stop().await;
}

/// HTTPS with a CA file, an authorization header, gzip, and the headers
/// Prometheus sends. Skipped when `openssl` is not installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_auth_gzip_headers() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:scrape.example"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("openssl not available; skipping the HTTPS scrape test");
        return;
    }
    let certs: Vec<_> = rustls_pemfile::certs(&mut std::fs::read(&cert).expect("cert").as_slice())
        .flatten()
        .collect();
    let pk = rustls_pemfile::private_key(&mut std::fs::read(&key).expect("key").as_slice())
        .expect("key")
        .expect("key present");
    let server_cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, pk)
    .expect("server cert");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen_head = Arc::new(Mutex::new(String::new()));
    let seen = seen_head.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut tmp = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
                *seen.lock() = String::from_utf8_lossy(&buf).into_owned();
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                let _ = gz.write_all(b"# TYPE z gauge\nz 42\n");
                let body = gz.finish().unwrap_or_default();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(&body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let store = Store::default();
    let mgr = ScrapeManager::new(Arc::new(store.clone()));
    let yaml = format!(
        "scrape_configs:\n  - job_name: tls\n    scheme: https\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n    authorization:\n      credentials: s3cret\n    tls_config:\n      ca_file: {cert}\n      server_name: scrape.example\n    static_configs:\n      - targets: ['{addr}']\n  - job_name: noname\n    scheme: https\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n    tls_config:\n      ca_file: {cert}\n    static_configs:\n      - targets: ['{addr}']\n",
        cert = cert.display()
    );
    mgr.apply_config(&load_str(&yaml, "tls.yml").expect("cfg"))
        .await
        .expect("apply");
    wait_for(&store, 0, "z over https", |s| {
        named(s, "z").iter().any(|x| x.2 == 42.0)
    })
    .await;
    // Without server_name the certificate (for scrape.example) does not match 127.0.0.1.
    wait_for(&store, 0, "noname fails verification", |s| {
        named(s, "up")
            .iter()
            .any(|x| x.0.get("job") == Some("noname") && x.2 == 0.0)
    })
    .await;
    assert!(named(&store.since(0), "z")
        .iter()
        .all(|x| x.0.get("job") == Some("tls")));
    let head = seen_head.lock().to_ascii_lowercase();
    assert!(head.contains("authorization: bearer s3cret"), "{head}");
    assert!(
        head.contains("x-prometheus-scrape-timeout-seconds: 0.15"),
        "{head}"
    );
    assert!(
        head.contains("accept: application/openmetrics-text;version=1.0.0"),
        "{head}"
    );
    assert!(head.contains("accept-encoding: gzip"), "{head}");
    mgr.stop().await;
}

/// Targets from http_sd_configs and file_sd_configs come and go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_file_discovery() {
    let target = Arc::new(Mutex::new((
        GOOD.to_string(),
        "text/plain; version=0.0.4".to_string(),
    )));
    let taddr = serve(target.clone()).await;
    let sd = Arc::new(Mutex::new((
        format!("[{{\"targets\": [\"{taddr}\"], \"labels\": {{\"team\": \"a\"}}}}]"),
        "application/json".to_string(),
    )));
    let sdaddr = serve(sd.clone()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let sd_file = dir.path().join("targets.yml");
    std::fs::write(&sd_file, "[]\n").expect("write");
    let store = Store::default();
    let mgr = ScrapeManager::new(Arc::new(store.clone()));
    let yaml = format!(
        "scrape_configs:\n  - job_name: h\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n    http_sd_configs:\n      - url: http://{sdaddr}/sd\n        refresh_interval: 200ms\n    relabel_configs:\n      - source_labels: [__meta_url]\n        target_label: sd_url\n  - job_name: f\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n    file_sd_configs:\n      - files: ['{}']\n        refresh_interval: 10m\n",
        sd_file.display()
    );
    mgr.apply_config(&load_str(&yaml, "sd.yml").expect("cfg"))
        .await
        .expect("apply");
    wait_for(&store, 0, "http_sd target scraped", |s| {
        named(s, "up")
            .iter()
            .any(|x| x.0.get("job") == Some("h") && x.2 == 1.0)
    })
    .await;
    let t = mgr.active_targets();
    let h = t.iter().find(|t| t.scrape_pool == "h").expect("h target");
    assert_eq!(h.labels.get("team"), Some("a"));
    assert_eq!(
        h.labels.get("sd_url"),
        Some(format!("http://{sdaddr}/sd").as_str())
    );

    // file_sd: a file change is picked up by the watcher (refresh is 10m).
    std::fs::write(
        &sd_file,
        format!("- targets: ['{taddr}']\n  labels: {{from: file}}\n"),
    )
    .expect("write");
    wait_for(&store, 0, "file_sd target scraped", |s| {
        named(s, "up")
            .iter()
            .any(|x| x.0.get("job") == Some("f") && x.2 == 1.0)
    })
    .await;

    // The HTTP SD endpoint drops the target: its series go stale.
    let mark = store.len();
    sd.lock().0 = "[]".into();
    wait_for(
        &store,
        mark,
        "stale markers for the removed http_sd target",
        |s| {
            s.iter().any(|x| {
                x.0.get("job") == Some("h") && x.0.metric_name() == Some("up") && is_stale_nan(x.2)
            })
        },
    )
    .await;
    assert!(mgr.active_targets().iter().all(|t| t.scrape_pool != "h"));
    mgr.stop().await;
}

/// Differential helper: `BONGSU_DIFF_CONFIG=prom.yml cargo test -p bongsu-scrape
/// --test scrape_loop differential -- --ignored --nocapture` prints the label
/// sets stored after a few scrapes, to compare with a real Prometheus'
/// `/api/v1/series` on the same configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn differential_series() {
    let Ok(path) = std::env::var("BONGSU_DIFF_CONFIG") else {
        return;
    };
    let cfg = bongsu_scrape::load_file(std::path::Path::new(&path)).expect("config");
    let store = Store::default();
    let mgr = ScrapeManager::new(Arc::new(store.clone()));
    mgr.apply_config(&cfg).await.expect("apply");
    tokio::time::sleep(Duration::from_secs(4)).await;
    mgr.stop().await;
    let mut seen: Vec<String> = store
        .since(0)
        .into_iter()
        .map(|(l, _, _)| {
            let m: std::collections::BTreeMap<String, String> = l
                .iter()
                .map(|x| (x.name.to_string(), x.value.to_string()))
                .collect();
            serde_json::to_string(&m).unwrap_or_default()
        })
        .collect();
    seen.sort();
    seen.dedup();
    for s in seen {
        println!("SERIES {s}");
    }
}

/// Like `serve`, and records each request head.
async fn serve_recording(
    resp: Arc<Mutex<(String, String)>>,
    heads: Arc<Mutex<Vec<String>>>,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (resp, heads) = (resp.clone(), heads.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
                heads
                    .lock()
                    .push(String::from_utf8_lossy(&buf).into_owned());
                let (body, ctype) = resp.lock().clone();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

/// `oauth2` (client credentials): the token is fetched once and sent as a bearer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_client_credentials() {
    let token_heads = Arc::new(Mutex::new(Vec::new()));
    let token_resp = Arc::new(Mutex::new((
        "{\"access_token\":\"tok-1\",\"token_type\":\"bearer\",\"expires_in\":3600}".to_string(),
        "application/json".to_string(),
    )));
    let token_addr = serve_recording(token_resp, token_heads.clone()).await;
    let heads = Arc::new(Mutex::new(Vec::new()));
    let target = Arc::new(Mutex::new((
        GOOD.to_string(),
        "text/plain; version=0.0.4".to_string(),
    )));
    let addr = serve_recording(target, heads.clone()).await;
    let store = Store::default();
    let mgr = ScrapeManager::new(Arc::new(store.clone()));
    let yaml = format!(
        "scrape_configs:\n  - job_name: o\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n    oauth2:\n      client_id: cid\n      client_secret: csecret\n      token_url: http://{token_addr}/token\n      scopes: [read]\n    static_configs:\n      - targets: ['{addr}']\n"
    );
    mgr.apply_config(&load_str(&yaml, "o.yml").expect("cfg"))
        .await
        .expect("apply");
    wait_for(&store, 0, "two scrapes", |s| {
        named(s, "up").iter().filter(|x| x.2 == 1.0).count() >= 2
    })
    .await;
    mgr.stop().await;
    let heads = heads.lock().clone();
    assert!(
        heads.iter().all(|h| h
            .to_ascii_lowercase()
            .contains("authorization: bearer tok-1")),
        "{heads:?}"
    );
    let th = token_heads.lock().clone();
    assert_eq!(th.len(), 1, "token cached: {th:?}");
    assert!(th[0].starts_with("POST /token"), "{}", th[0]);
}

/// A body above the blocking-parse threshold is scraped the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_body_parsed_off_the_runtime() {
    let mut body = String::from("# TYPE big gauge\n");
    for i in 0..10_000 {
        body.push_str(&format!(
            "big{{idx=\"{i:05}\",pad=\"xxxxxxxxxxxxxxxx\"}} {i}\n"
        ));
    }
    assert!(body.len() > 256 * 1024);
    let resp = Arc::new(Mutex::new((body, "text/plain; version=0.0.4".to_string())));
    let addr = serve(resp).await;
    let store = Store::default();
    let mgr = ScrapeManager::new(Arc::new(store.clone()));
    let yaml = format!(
        "scrape_configs:\n  - job_name: big\n    scrape_interval: 500ms\n    scrape_timeout: 400ms\n    static_configs:\n      - targets: ['{addr}']\n"
    );
    mgr.apply_config(&load_str(&yaml, "b.yml").expect("cfg"))
        .await
        .expect("apply");
    wait_for(&store, 0, "two large scrapes", |s| {
        named(s, "scrape_samples_scraped")
            .iter()
            .filter(|x| x.2 == 10_000.0)
            .count()
            >= 2
    })
    .await;
    mgr.stop().await;
    let all = store.since(0);
    let added: Vec<f64> = named(&all, "scrape_series_added")
        .iter()
        .map(|x| x.2)
        .collect();
    assert_eq!(added[0], 10_000.0);
    assert_eq!(added[1], 0.0, "the second scrape finds every series known");
}
