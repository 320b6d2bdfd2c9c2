//! Remote write end to end with the real `bongsu` binary and real peers:
//! Debian's Prometheus 2.42 (`--web.enable-remote-write-receiver`, and as a
//! sender) and VictoriaMetrics. Every sample is checked by count and value:
//! the targets serve `demo_seq N` where N counts the answered scrapes, so
//! `count_over_time` must be N and `sum_over_time` N(N+1)/2.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

/// A scrape target serving `demo_seq N`, N = 1, 2, 3… per answered scrape;
/// after `fail()` it answers 500 (the scrape fails, the series goes stale).
struct CountingTarget {
    addr: String,
    served: Arc<AtomicU64>,
    failing: Arc<AtomicBool>,
}

impl CountingTarget {
    fn start() -> CountingTarget {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        let served = Arc::new(AtomicU64::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let (s2, f2) = (served.clone(), failing.clone());
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 4096];
                let mut req = Vec::new();
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                // One connection at a time: the count and the answer agree.
                let resp = if f2.load(Ordering::SeqCst) {
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
                } else {
                    let n = s2.load(Ordering::SeqCst) + 1;
                    let body = format!("# TYPE demo_seq gauge\ndemo_seq {n}\n");
                    let r = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                    s2.store(n, Ordering::SeqCst);
                    r
                };
                let _ = c.write_all(resp.as_bytes());
            }
        });
        CountingTarget { addr, served, failing }
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }

    /// Stops answering with data; returns how many scrapes got data.
    fn fail(&self) -> u64 {
        self.failing.store(true, Ordering::SeqCst);
        self.served()
    }
}

fn start_prometheus_receiver(prom: &str, dir: &std::path::Path, name: &str) -> (Proc, String) {
    let port = free_port();
    let cfg = dir.join(format!("{name}.yml"));
    std::fs::write(&cfg, "global:\n  scrape_interval: 1m\n").expect("write");
    start_prometheus(prom, dir, name, port, &cfg, &["--web.enable-remote-write-receiver"])
}

fn start_prometheus(prom: &str, dir: &std::path::Path, name: &str, port: u16, cfg: &std::path::Path, extra: &[&str]) -> (Proc, String) {
    let addr = format!("127.0.0.1:{port}");
    let p = Proc::spawn(
        name,
        Command::new(prom)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join(format!("{name}-data")).display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-lifecycle")
            .args(extra),
        dir,
    );
    wait_for(&format!("{name} ready"), Duration::from_secs(30), || http("GET", &addr, "/-/ready", None).ok().filter(|r| r.status == 200).map(|_| ()));
    (p, addr)
}

fn start_victoria(vm: &str, dir: &std::path::Path) -> (Proc, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let p = Proc::spawn(
        "victoria-metrics",
        Command::new(vm)
            .arg(format!("-storageDataPath={}", dir.join("vm-data").display()))
            .arg(format!("-httpListenAddr={addr}"))
            .arg("-search.latencyOffset=0s")
            .arg("-search.disableCache")
            .arg("-retentionPeriod=1d"),
        dir,
    );
    wait_for("victoria-metrics ready", Duration::from_secs(30), || http("GET", &addr, "/health", None).ok().filter(|r| r.status == 200).map(|_| ()));
    (p, addr)
}

/// One number from an instant query against any Prometheus-API server; None
/// for an empty result or an error.
fn scalar(addr: &str, q: &str) -> Option<f64> {
    let r = http("POST", addr, "/api/v1/query", Some(&format!("query={}", enc(q)))).ok()?;
    let j: serde_json::Value = serde_json::from_str(&r.body).ok()?;
    j["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Waits until `addr` holds exactly `n` samples 1..=n of `demo_seq{sel}`.
fn wait_all_samples(what: &str, addr: &str, sel: &str, n: u64, timeout: Duration) {
    let count_q = format!("count_over_time(demo_seq{{{sel}}}[1h])");
    let sum_q = format!("sum_over_time(demo_seq{{{sel}}}[1h])");
    let want_sum = (n * (n + 1) / 2) as f64;
    let deadline = Instant::now() + timeout;
    loop {
        let (c, s) = (scalar(addr, &count_q), scalar(addr, &sum_q));
        if c == Some(n as f64) && s == Some(want_sum) {
            return;
        }
        if Instant::now() > deadline {
            panic!("{what}: want count {n} and sum {want_sum} of demo_seq{{{sel}}}, have count {c:?} sum {s:?}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn metric(addr: &str, name: &str) -> f64 {
    let body = get(addr, "/metrics").body;
    body.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn sender_config(target: &str, sender: &str, urls: &[(&str, String)]) -> String {
    let mut s = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  external_labels:\n    sender: {sender}\nscrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['{target}']\nremote_write:\n"
    );
    for (name, url) in urls {
        s.push_str(&format!(
            "  - url: {url}\n    name: {name}\n    queue_config:\n      batch_send_deadline: 200ms\n      min_backoff: 50ms\n      max_backoff: 500ms\n"
        ));
    }
    s
}

#[test]
fn agent_and_run_forward_every_sample_to_prometheus_and_victoria_metrics() {
    let Some(prom) = tool("prometheus") else { return };
    let Some(vm) = tool("victoria-metrics") else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let (_p, paddr) = start_prometheus_receiver(&prom, dir.path(), "prom-receiver");
    let (_v, vaddr) = start_victoria(&vm, dir.path());
    let urls = [("prom", format!("http://{paddr}/api/v1/write")), ("vm", format!("http://{vaddr}/api/v1/write"))];

    let ta = CountingTarget::start();
    let tr = CountingTarget::start();
    let acfg = dir.path().join("agent.yml");
    std::fs::write(&acfg, sender_config(&ta.addr, "agent", &urls)).expect("write");
    let rcfg = dir.path().join("run.yml");
    std::fs::write(&rcfg, sender_config(&tr.addr, "run", &urls)).expect("write");
    let agent_data = dir.path().join("agent-data");
    let (_a, aaddr) = start_bongsu_cmd(
        dir.path(),
        "agent",
        &["agent".into(), format!("--config.file={}", acfg.display()), format!("--storage.agent.path={}", agent_data.display())],
    );
    let (_r, raddr) = start_bongsu_cmd(
        dir.path(),
        "run",
        &["run".into(), format!("--config.file={}", rcfg.display()), format!("--storage.tsdb.path={}", dir.path().join("run-data").display())],
    );
    // Agent mode has no queries.
    let q = http("POST", &aaddr, "/api/v1/query", Some("query=up")).expect("query");
    assert_eq!(q.status, 503, "{}", q.body);
    assert!(q.body.contains("unavailable with Bongsu agent"));
    assert_eq!(get(&aaddr, "/api/v1/targets").json()["data"]["activeTargets"][0]["labels"]["job"], "demo");

    wait_for("8 scrapes of each target", Duration::from_secs(30), || (ta.served() >= 8 && tr.served() >= 8).then_some(()));
    let (na, nr) = (ta.fail(), tr.fail());
    let started = Instant::now();
    wait_all_samples("bongsu run itself", &raddr, "", nr, Duration::from_secs(20));
    for (what, addr) in [("prometheus", &paddr), ("victoria-metrics", &vaddr)] {
        wait_all_samples(&format!("{what} from the agent"), addr, "sender=\"agent\",job=\"demo\"", na, Duration::from_secs(20));
        wait_all_samples(&format!("{what} from run"), addr, "sender=\"run\",job=\"demo\"", nr, Duration::from_secs(20));
    }
    eprintln!("all {} + {} samples at both receivers {:?} after the last scrape", na, nr, started.elapsed());
    for addr in [&aaddr, &raddr] {
        assert_eq!(metric(addr, "prometheus_remote_storage_samples_failed_total"), 0.0);
        assert!(metric(addr, "prometheus_remote_storage_samples_total") >= (2 * na.min(nr)) as f64);
        assert_eq!(metric(addr, "prometheus_remote_storage_shards"), 2.0, "one shard per queue");
    }
    // Every sample is sent; the agent's log is truncated once both remotes passed a segment.
    assert!(metric(&aaddr, "prometheus_remote_storage_highest_timestamp_in_seconds") > 0.0);
}

#[test]
fn agent_truncates_its_log_once_every_remote_has_sent_a_segment() {
    let Some(prom) = tool("prometheus") else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let (_p, paddr) = start_prometheus_receiver(&prom, dir.path(), "prom-receiver");
    let t = CountingTarget::start();
    let cfg = dir.path().join("agent.yml");
    std::fs::write(&cfg, sender_config(&t.addr, "agent", &[("prom", format!("http://{paddr}/api/v1/write"))])).expect("write");
    let data = dir.path().join("agent-data");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _a = Proc::spawn(
        "agent",
        Command::new(bongsu_bin())
            .env("BONGSU_REMOTE_SEGMENT_BYTES", "600")
            .arg("agent")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.agent.path={}", data.display()))
            .arg(format!("--web.listen-address={addr}")),
        dir.path(),
    );
    let segments = || std::fs::read_dir(data.join("wal")).map(|d| d.count()).unwrap_or(0);
    wait_for("segments cut and deleted", Duration::from_secs(40), || {
        (metric_opt(&addr, "bongsu_remote_log_segments_deleted_total") >= 2.0).then_some(())
    });
    assert!(segments() <= 3, "at most the segment being written and one or two not yet confirmed: {}", segments());
    let n = t.fail();
    wait_all_samples("prometheus", &paddr, "job=\"demo\"", n, Duration::from_secs(20));
}

fn metric_opt(addr: &str, name: &str) -> f64 {
    http("GET", addr, "/metrics", None)
        .ok()
        .map(|r| {
            r.body
                .lines()
                .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        })
        .unwrap_or(0.0)
}

#[test]
fn receiver_outage_and_kill9_of_bongsu_lose_no_sample() {
    let Some(prom) = tool("prometheus") else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let pport = free_port();
    let pcfg = dir.path().join("prom.yml");
    std::fs::write(&pcfg, "global:\n  scrape_interval: 1m\n").expect("write");
    let (mut p, paddr) = start_prometheus(&prom, dir.path(), "prom-receiver", pport, &pcfg, &["--web.enable-remote-write-receiver"]);
    let t = CountingTarget::start();
    let cfg = dir.path().join("bongsu.yml");
    std::fs::write(&cfg, sender_config(&t.addr, "run", &[("prom", format!("http://{paddr}/api/v1/write"))])).expect("write");
    let data = dir.path().join("data");
    let args = vec!["run".to_string(), format!("--config.file={}", cfg.display()), format!("--storage.tsdb.path={}", data.display())];
    let (mut b, baddr) = start_bongsu_cmd(dir.path(), "bongsu", &args);
    wait_for("3 scrapes", Duration::from_secs(20), || (t.served() >= 3).then_some(()));
    wait_for("first samples at prometheus", Duration::from_secs(20), || scalar(&paddr, "count_over_time(demo_seq[1h])").filter(|&c| c >= 2.0));
    // The receiver goes away; scraping goes on.
    p.stop();
    let at_outage = t.served();
    wait_for("4 scrapes during the outage", Duration::from_secs(20), || (t.served() >= at_outage + 4).then_some(()));
    assert!(metric(&baddr, "prometheus_remote_storage_samples_retried_total") > 0.0, "sends were retried");
    // Bongsu dies during the outage and comes back.
    b.kill9();
    let (_b2, baddr2) = start_bongsu_cmd(dir.path(), "bongsu2", &args);
    let at_restart = t.served();
    wait_for("3 scrapes after the restart", Duration::from_secs(20), || (t.served() >= at_restart + 3).then_some(()));
    // The receiver comes back on the same port and data.
    let (_p2, paddr2) = start_prometheus(&prom, dir.path(), "prom-receiver", pport, &pcfg, &["--web.enable-remote-write-receiver"]);
    t.fail();
    // What Bongsu acknowledged (committed) is what it has: compare with the receiver.
    let local = wait_for("bongsu's own count settles", Duration::from_secs(10), || {
        let c = scalar(&baddr2, "count_over_time(demo_seq[1h])")?;
        std::thread::sleep(Duration::from_millis(1500));
        (scalar(&baddr2, "count_over_time(demo_seq[1h])")? == c).then_some(c)
    });
    let n = t.served();
    assert!(local >= (n - 2) as f64, "bongsu kept what it scraped (at most the scrape in flight at kill -9 lost): {local} of {n}");
    let sum_local = scalar(&baddr2, "sum_over_time(demo_seq[1h])").expect("sum");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = scalar(&paddr2, "count_over_time(demo_seq[1h])");
        let s = scalar(&paddr2, "sum_over_time(demo_seq[1h])");
        if c == Some(local) && s == Some(sum_local) {
            break;
        }
        if Instant::now() > deadline {
            let raw = |a: &str| http("POST", a, "/api/v1/query", Some(&format!("query={}", enc("demo_seq[1h]")))).map(|r| r.body).unwrap_or_default();
            let m = get(&baddr2, "/metrics").body.lines().filter(|l| l.starts_with("prometheus_remote_storage")).collect::<Vec<_>>().join("\n");
            panic!("receiver has count {c:?} sum {s:?}, bongsu has {local} / {sum_local}\nreceiver: {}\nbongsu: {}\n{m}", raw(&paddr2), raw(&baddr2));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    eprintln!("{local} samples (of {n} scrapes) at the receiver after its outage and a kill -9 of bongsu");
    assert_eq!(metric(&baddr2, "prometheus_remote_storage_samples_failed_total"), 0.0);
}

/// A remote write receiver that keeps every request body (bytes).
fn capture_server() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let b2 = bodies.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let b = b2.clone();
            std::thread::spawn(move || {
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                // Keep-alive: one request after another on a connection.
                let mut req = Vec::new();
                while let Some((_, body)) = read_request(&mut c, &mut req) {
                    if let Ok(mut g) = b.lock() {
                        g.push(body);
                    }
                    if c.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, bodies)
}

#[test]
fn prometheus_remote_writes_into_bongsu_and_bad_requests_are_refused() {
    let Some(prom) = tool("prometheus") else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let bcfg = dir.path().join("bongsu.yml");
    std::fs::write(&bcfg, "global:\n  scrape_interval: 1m\n").expect("write");
    let (_b, baddr) = start_bongsu_cmd(
        dir.path(),
        "bongsu",
        &[
            "run".into(),
            format!("--config.file={}", bcfg.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            "--web.enable-remote-write-receiver".into(),
        ],
    );
    let (caddr, bodies) = capture_server();
    let t = CountingTarget::start();
    let pcfg = dir.path().join("prom.yml");
    std::fs::write(
        &pcfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['{}']\nremote_write:\n  - url: http://{baddr}/api/v1/write\n    queue_config:\n      batch_send_deadline: 200ms\n      max_backoff: 500ms\n  - url: http://{caddr}/api/v1/write\n    queue_config:\n      batch_send_deadline: 200ms\n",
            t.addr
        ),
    )
    .expect("write");
    let (_p, paddr) = start_prometheus(&prom, dir.path(), "prometheus", free_port(), &pcfg, &[]);
    wait_for("8 scrapes", Duration::from_secs(30), || (t.served() >= 8).then_some(()));
    let n = t.fail();
    wait_all_samples("prometheus' own tsdb", &paddr, "job=\"demo\"", n, Duration::from_secs(10));
    wait_all_samples("bongsu (received)", &baddr, "job=\"demo\"", n, Duration::from_secs(20));
    // Same answers on both for the rest of what Prometheus scraped (up, scrape_* series).
    for q in ["count_over_time(up{job=\"demo\"}[1h])", "sum_over_time(up{job=\"demo\"}[1h])", "count(count_over_time({job=\"demo\"}[1h]))"] {
        let pv = scalar(&paddr, q);
        wait_for(&format!("bongsu agrees on {q} ({pv:?})"), Duration::from_secs(10), || (scalar(&baddr, q) == pv).then_some(()));
    }
    // What Prometheus sent decodes with our codec to the same samples. The capture
    // receiver is a second queue of Prometheus' and may lag the first by a batch: wait
    // until it holds n values (or time out and compare what it has).
    let decode_seq = || -> (Vec<Vec<u8>>, Vec<f64>) {
        let got = bodies.lock().map(|g| g.clone()).unwrap_or_default();
        let mut seq: Vec<(i64, f64)> = Vec::new();
        for body in &got {
            let req = bongsu_remote::codec::decode(body, bongsu_remote::codec::MAX_DECODED_BYTES).expect("prometheus' body decodes");
            for ts in req.timeseries {
                if ts.labels.iter().any(|l| l.name == "__name__" && l.value == "demo_seq") {
                    assert!(ts.labels.windows(2).all(|w| w[0].name < w[1].name), "labels sorted: {:?}", ts.labels);
                    seq.extend(ts.samples.iter().map(|s| (s.timestamp, s.value)));
                }
            }
        }
        (got, seq.iter().map(|s| s.1).filter(|v| !v.is_nan()).collect())
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (got, values) = loop {
        let (got, values) = decode_seq();
        if values.len() >= n as usize || std::time::Instant::now() > deadline {
            break (got, values);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!got.is_empty(), "the capture receiver got requests");
    assert_eq!(values, (1..=n).map(|i| i as f64).collect::<Vec<_>>(), "every value, in order");
    if let Ok(p) = std::env::var("BONGSU_CAPTURE_REMOTE_WRITE") {
        let _ = std::fs::write(p, &got[0]);
    }

    // Bad requests: 400 with the reason, nothing stored.
    let hdrs = [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy")];
    let post = |body: &[u8]| http_bytes("POST", &baddr, "/api/v1/write", &hdrs, body).expect("post");
    let r = post(b"this is not snappy");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("snappy"), "{}", r.body);
    let r = post(&bongsu_remote::codec::compress(b"\x0a\xff\xff\xff\xff\x0f garbage"));
    assert_eq!(r.status, 400);
    assert!(r.body.contains("protobuf"), "{}", r.body);
    // A snappy header claiming 40 MiB decoded: refused before allocating.
    let mut big = Vec::new();
    let mut v: u64 = 40 << 20;
    while v >= 0x80 {
        big.push((v as u8) | 0x80);
        v >>= 7;
    }
    big.push(v as u8);
    big.extend_from_slice(&[0; 16]);
    let r = post(&big);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("exceeds limit"), "{}", r.body);
    use bongsu_remote::prompb::{Label, Sample, TimeSeries, WriteRequest};
    let series = |name: &str, extra: &[(&str, &str)], samples: &[(i64, f64)]| TimeSeries {
        labels: std::iter::once(Label::new("__name__", name)).chain(extra.iter().map(|(k, v)| Label::new(*k, *v))).collect(),
        samples: samples.iter().map(|&(t, v)| Sample { timestamp: t, value: v }).collect(),
        ..Default::default()
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis() as i64;
    let r = post(&bongsu_remote::codec::encode(&WriteRequest {
        timeseries: vec![series("bad_one", &[], &[(now, 1.0)]), series("bad_two", &[("a", "1"), ("a", "2")], &[(now, 1.0)])],
        metadata: vec![],
    }));
    assert_eq!(r.status, 400);
    assert!(r.body.contains("duplicate label name \"a\""), "{}", r.body);
    // Out of order: the newest demo_seq sample is at least a second old; one older is refused with the rest.
    let r = post(&bongsu_remote::codec::encode(&WriteRequest {
        timeseries: vec![
            series("bad_three", &[], &[(now, 1.0)]),
            series("demo_seq", &[("instance", &t.addr), ("job", "demo")], &[(now - 3_600_000 / 2, 1.0)]),
        ],
        metadata: vec![],
    }));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("out of order sample") || r.body.contains("out of bounds"), "{}", r.body);
    let r = http_bytes("POST", &baddr, "/api/v1/write", &[("Content-Encoding", "gzip")], b"x").expect("post");
    assert_eq!(r.status, 415);
    let stored = scalar(&baddr, "count({__name__=~\"bad_.*\"})");
    assert_eq!(stored, None, "nothing of a refused request is stored");
    // A good one is 204 and visible.
    let r = post(&bongsu_remote::codec::encode(&WriteRequest { timeseries: vec![series("good_one", &[("x", "y")], &[(now, 42.0)])], metadata: vec![] }));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(scalar(&baddr, "good_one{x=\"y\"}"), Some(42.0));
    assert!(metric(&baddr, "bongsu_remote_write_requests_total") >= 5.0);
}

#[test]
fn receiver_is_off_without_the_flag() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("b.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1m\n").expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&format!("--config.file={}", cfg.display())]);
    let r = http_bytes("POST", &b.addr, "/api/v1/write", &[], b"x").expect("post");
    assert_eq!(r.status, 404);
    assert!(r.body.contains("--web.enable-remote-write-receiver"), "{}", r.body);
}

#[test]
fn agent_without_remote_write_explains_itself() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(bongsu_bin()).arg("agent").arg(format!("--storage.agent.path={}", dir.path().join("a").display())).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("remote_write"), "{err}");
    let cfg = dir.path().join("a.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1s\n").expect("write");
    let out = Command::new(bongsu_bin()).arg("agent").arg(format!("--config.file={}", cfg.display())).arg(format!("--storage.agent.path={}", dir.path().join("a").display())).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no remote_write") && err.contains("url"), "{err}");
}

/// Figures for the docs (ignored: run with `--ignored --nocapture`):
/// receiver ingest (requests of 2000 series × 1 sample, as Prometheus sends)
/// and sender drain rate (a backlog built while the receiver was down).
#[test]
#[ignore]
fn throughput() {
    use bongsu_remote::prompb::{Label, Sample, TimeSeries, WriteRequest};
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("b.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1m\n").expect("write");
    let (_b, baddr) = start_bongsu_cmd(
        dir.path(),
        "bongsu",
        &["run".into(), format!("--config.file={}", cfg.display()), format!("--storage.tsdb.path={}", dir.path().join("data").display()), "--web.enable-remote-write-receiver".into()],
    );
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis() as i64 - 600_000;
    let bodies: Vec<Vec<u8>> = (0..200)
        .map(|i| {
            bongsu_remote::codec::encode(&WriteRequest {
                timeseries: (0..2000)
                    .map(|s| TimeSeries {
                        labels: vec![Label::new("__name__", "bench_metric"), Label::new("instance", format!("host-{}", s % 100)), Label::new("series", s.to_string())],
                        samples: vec![Sample { timestamp: now + i * 1000, value: (i * s) as f64 }],
                        ..Default::default()
                    })
                    .collect(),
                metadata: vec![],
            })
        })
        .collect();
    let hdrs = [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy")];
    let t0 = Instant::now();
    for b in &bodies {
        let r = http_bytes("POST", &baddr, "/api/v1/write", &hdrs, b).expect("post");
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let el = t0.elapsed().as_secs_f64();
    eprintln!("receiver: {} samples in {el:.2}s = {:.0} samples/s (one connection, sequential)", 200 * 2000, 400_000.0 / el);

    // Sender: bongsu (remote_write to a dead port) builds a backlog from a
    // 5000-series target, then a receiver appears.
    let body: String = (0..5000).map(|i| format!("bench_gauge{{i=\"{i}\"}} {i}\n")).collect();
    let target = ExpositionServer::start(&body);
    let rport = free_port();
    let scfg = dir.path().join("s.yml");
    std::fs::write(
        &scfg,
        format!("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: big\n    static_configs:\n      - targets: ['{}']\nremote_write:\n  - url: http://127.0.0.1:{rport}/api/v1/write\n    queue_config:\n      max_backoff: 200ms\n", target.addr),
    )
    .expect("write");
    let (_s, saddr) = start_bongsu_cmd(dir.path(), "sender", &["run".into(), format!("--config.file={}", scfg.display()), format!("--storage.tsdb.path={}", dir.path().join("sdata").display())]);
    std::thread::sleep(Duration::from_secs(10));
    let backlog = metric(&saddr, "prometheus_remote_storage_samples_in_total");
    let (caddr_tx, caddr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let l = TcpListener::bind(format!("127.0.0.1:{rport}")).expect("bind");
        let _ = caddr_tx.send(());
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                let mut req = Vec::new();
                loop {
                    let Some(head_end) = req.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) else {
                        match c.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&req[..head_end]).to_ascii_lowercase();
                    let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))).unwrap_or(0);
                    while req.len() < head_end + len {
                        match c.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    req.drain(..head_end + len);
                    if c.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").is_err() {
                        return;
                    }
                }
            });
        }
    });
    let _ = caddr_rx.recv();
    let t0 = Instant::now();
    wait_for("backlog sent", Duration::from_secs(120), || {
        let sent = metric(&saddr, "prometheus_remote_storage_samples_total") - metric(&saddr, "prometheus_remote_storage_samples_retried_total");
        (sent >= backlog).then_some(())
    });
    let el = t0.elapsed().as_secs_f64();
    eprintln!("sender: backlog of {backlog} samples drained in {el:.2}s = {:.0} samples/s (while scraping 5000 series/s); shards {}", backlog / el, metric(&saddr, "prometheus_remote_storage_shards"));
}

#[test]
fn reload_adds_and_changes_a_remote_write_queue() {
    let Some(prom) = tool("prometheus") else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let (_p, paddr) = start_prometheus_receiver(&prom, dir.path(), "prom-receiver");
    let t = CountingTarget::start();
    let cfg = dir.path().join("bongsu.yml");
    let without = sender_config(&t.addr, "run", &[]).replace("remote_write:\n", "");
    std::fs::write(&cfg, &without).expect("write");
    let (_b, baddr) = start_bongsu_cmd(
        dir.path(),
        "bongsu",
        &["run".into(), format!("--config.file={}", cfg.display()), format!("--storage.tsdb.path={}", dir.path().join("data").display())],
    );
    wait_for("3 scrapes", Duration::from_secs(20), || (t.served() >= 3).then_some(()));
    // Switch remote write on: series the scrape already knows are logged from now on.
    let url = format!("http://{paddr}/api/v1/write");
    std::fs::write(&cfg, sender_config(&t.addr, "run", &[("prom", url.clone())])).expect("write");
    assert_eq!(post(&baddr, "/-/reload", "").status, 200);
    let first = t.served();
    wait_for("3 more scrapes", Duration::from_secs(20), || (t.served() >= first + 3).then_some(()));
    // A changed queue (a header added) restarts from its saved position.
    std::fs::write(&cfg, sender_config(&t.addr, "run", &[("prom", url)]).replace("    queue_config:", "    headers:\n      X-Scope-OrgID: test\n    queue_config:")).expect("write");
    assert_eq!(post(&baddr, "/-/reload", "").status, 200);
    let second = t.served();
    wait_for("3 more scrapes", Duration::from_secs(20), || (t.served() >= second + 3).then_some(()));
    let n = t.fail();
    // Every sample from the first scrape after the reload on, without a gap.
    wait_for("receiver has every sample since the reload", Duration::from_secs(20), || {
        let c = scalar(&paddr, "count_over_time(demo_seq[1h])")? as u64;
        let s = scalar(&paddr, "sum_over_time(demo_seq[1h])")? as u64;
        let lo = n + 1 - c;
        (c >= n - first && s == (lo..=n).sum::<u64>()).then_some(())
    });
}
