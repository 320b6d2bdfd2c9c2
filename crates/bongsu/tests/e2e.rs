//! End-to-end tests: the real `bongsu` binary, real HTTP, and the real
//! Prometheus tools from Debian (`promtool`, `prometheus`,
//! `prometheus-node-exporter`) where installed by `scripts/test.sh`.

mod support;

use std::process::Command;
use std::time::Duration;
use support::*;

const EXPOSITION: &str = "# HELP demo_requests_total Requests.\n# TYPE demo_requests_total counter\ndemo_requests_total{code=\"200\"} 10\ndemo_requests_total{code=\"500\"} 2\n# TYPE demo_temperature gauge\ndemo_temperature 21.5\n";

fn config_for(target: &str, interval: &str) -> String {
    format!(
        "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n  external_labels:\n    site: test\nscrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['{target}']\n"
    )
}

#[test]
fn version_and_help_explain_themselves() {
    let out = Command::new(bongsu_bin()).arg("--version").output().expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("bongsu, version"));
    let out = Command::new(bongsu_bin()).args(["run", "--help"]).output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--config.file", "--storage.tsdb.path", "--storage.tsdb.retention.time", "--storage.tsdb.retention.size", "--web.listen-address", "--log.level", "--log.format"] {
        assert!(help.contains(flag), "run --help lacks {flag}");
    }
}

#[test]
fn check_config_names_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("good.yml");
    std::fs::write(&good, config_for("127.0.0.1:1", "1s")).expect("write");
    let out = Command::new(bongsu_bin()).args(["check", "config"]).arg(&good).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let k8s = dir.path().join("k8s.yml");
    std::fs::write(&k8s, "scrape_configs:\n  - job_name: pods\n    kubernetes_sd_configs:\n      - role: pod\n").expect("write");
    let out = Command::new(bongsu_bin()).args(["check", "config"]).arg(&k8s).output().expect("run");
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("WARNING") && s.contains("kubernetes_sd_configs"), "unsupported discovery must be named: {s}");

    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: x\n    scrape_intervall: 5s\n").expect("write");
    let out = Command::new(bongsu_bin()).args(["check", "config"]).arg(&bad).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yml:5:"), "error must name file:line:column, got: {err}");
    assert!(err.contains("scrape_intervall"), "error must name the field, got: {err}");
}

#[test]
fn scrapes_stores_and_answers_promql_and_promtool() {
    let dir = tempfile::tempdir().expect("tmp");
    let target = ExpositionServer::start(EXPOSITION);
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, config_for(&target.addr, "1s")).expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&format!("--config.file={}", cfg.display())]);

    // up, the synthetic series and the scraped samples arrive.
    wait_for("demo series", Duration::from_secs(30), || {
        let d = query(&b.addr, "demo_requests_total");
        (vector_values(&d).len() == 2).then_some(())
    });
    let up = vector_values(&query(&b.addr, "up{job=\"demo\"}"));
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].1, 1.0);
    assert_eq!(up[0].0["instance"], target.addr.as_str());
    for s in ["scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"] {
        assert_eq!(vector_values(&query(&b.addr, s)).len(), 1, "{s} missing");
    }
    let scraped = vector_values(&query(&b.addr, "scrape_samples_scraped"));
    assert_eq!(scraped[0].1, 3.0);
    let sum = vector_values(&query(&b.addr, "sum(demo_requests_total) by (job)"));
    assert_eq!(sum[0].1, 12.0);

    // targets API shows health.
    let t = get(&b.addr, "/api/v1/targets").json();
    assert_eq!(t["data"]["activeTargets"][0]["health"], "up");

    // A malformed exposition fails the scrape: up = 0, error visible, no samples stored.
    target.set("demo_temperature 22\nthis is { not valid\n");
    wait_for("up == 0", Duration::from_secs(20), || {
        let v = vector_values(&query(&b.addr, "up{job=\"demo\"}"));
        (v.first().map(|x| x.1) == Some(0.0)).then_some(())
    });
    let t = get(&b.addr, "/api/v1/targets").json();
    assert_eq!(t["data"]["activeTargets"][0]["health"], "down");
    assert_ne!(t["data"]["activeTargets"][0]["lastError"], "");
    let temps = query(&b.addr, "max_over_time(demo_temperature[1m])");
    assert_eq!(vector_values(&temps)[0].1, 21.5, "no sample of the malformed body may be stored");

    // The target recovers (a failed scrape marked its series stale; they come back).
    target.set(EXPOSITION);
    wait_for("demo_temperature back", Duration::from_secs(20), || (!vector_values(&query(&b.addr, "demo_temperature")).is_empty()).then_some(()));

    // `bongsu query` prints a table, or the API's JSON.
    let url = format!("http://{}", b.addr);
    let out = Command::new(bongsu_bin()).args(["query", "--server", &url, "instant", "demo_temperature"]).output().expect("run");
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && s.starts_with("SERIES") && s.contains("demo_temperature{") && s.contains("21.5"), "bongsu query table: {s}");
    let out = Command::new(bongsu_bin()).args(["query", "--server", &url, "-o", "json", "range", "--step", "1s", "--start", &(bongsu_model_now() - 30).to_string(), "up"]).output().expect("run");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bongsu query -o json: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(j["resultType"], "matrix");
    let out = Command::new(bongsu_bin()).args(["query", "--server", &url, "instant", "sum(("]).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad_data"), "syntax errors report bad_data: {}", String::from_utf8_lossy(&out.stderr));

    // Real promtool against Bongsu.
    if let Some(promtool) = tool("promtool") {
        let url = format!("http://{}", b.addr);
        let out = Command::new(&promtool).args(["query", "instant", &url, "demo_temperature"]).output().expect("promtool");
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "promtool instant failed: {s} {}", String::from_utf8_lossy(&out.stderr));
        assert!(s.contains("demo_temperature{") && s.contains("=> 21.5"), "promtool instant output: {s}");
        let out = Command::new(&promtool).args(["query", "series", &url, "--match=demo_requests_total"]).output().expect("promtool");
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(s.contains("code=\"200\"") && s.contains("code=\"500\""), "promtool series output: {s}");
        let out = Command::new(&promtool).args(["query", "labels", &url, "code"]).output().expect("promtool");
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(s.lines().any(|l| l.trim() == "200") && s.lines().any(|l| l.trim() == "500"), "promtool labels output: {s}");
        let now = bongsu_model_now();
        let out = Command::new(&promtool)
            .args(["query", "range", &url, "--start", &(now - 60).to_string(), "--end", &now.to_string(), "--step", "5s", "up"])
            .output()
            .expect("promtool");
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && s.contains("up{"), "promtool range output: {s}");
    }
}

fn bongsu_model_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[test]
fn bad_reload_keeps_old_config_and_reports() {
    let dir = tempfile::tempdir().expect("tmp");
    let target = ExpositionServer::start(EXPOSITION);
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, config_for(&target.addr, "1s")).expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&format!("--config.file={}", cfg.display())]);
    wait_for("demo scraped", Duration::from_secs(30), || (!vector_values(&query(&b.addr, "demo_temperature")).is_empty()).then_some(()));

    std::fs::write(&cfg, "scrape_configs:\n  - job_name: demo\n    scrape_interval: notaduration\n").expect("write");
    let r = post(&b.addr, "/-/reload", "");
    assert_eq!(r.status, 500, "a bad config must fail the reload: {}", r.body);
    assert!(r.body.contains("prometheus.yml:3:"), "reload error must name file:line: {}", r.body);
    let m = get(&b.addr, "/metrics").body;
    assert!(m.lines().any(|l| l == "prometheus_config_last_reload_successful 0"), "metrics: {m}");
    // the old config keeps running
    let t = get(&b.addr, "/api/v1/targets").json();
    assert_eq!(t["data"]["activeTargets"].as_array().map(|a| a.len()), Some(1));

    // a good config applies, also through SIGHUP
    std::fs::write(&cfg, config_for(&target.addr, "2s").replace("job_name: demo", "job_name: demo2")).expect("write");
    Command::new("kill").arg("-HUP").arg(b.proc.pid().to_string()).status().expect("kill");
    wait_for("reloaded", Duration::from_secs(20), || {
        let m = get(&b.addr, "/metrics").body;
        m.lines().any(|l| l == "prometheus_config_last_reload_successful 1").then_some(())
    });
    wait_for("demo2 target", Duration::from_secs(20), || {
        let t = get(&b.addr, "/api/v1/targets").json();
        (t["data"]["activeTargets"][0]["labels"]["job"] == "demo2").then_some(())
    });
}

#[test]
fn kill9_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tmp");
    let target = ExpositionServer::start(EXPOSITION);
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, config_for(&target.addr, "1s")).expect("write");
    let data = dir.path().join("data");
    let cfg_arg = format!("--config.file={}", cfg.display());
    let mut b = Bongsu::start(dir.path(), &data, &[&cfg_arg]);
    wait_for("5 scrapes", Duration::from_secs(30), || {
        let v = vector_values(&query(&b.addr, "count_over_time(up[1h])"));
        (v.first().map(|x| x.1).unwrap_or(0.0) >= 5.0).then_some(())
    });
    // Everything a query saw was committed; kill -9 right after.
    let before = vector_values(&query(&b.addr, "count_over_time(demo_temperature[1h])"))[0].1;
    b.proc.kill9();
    let b2 = Bongsu::start(dir.path(), &data, &[&cfg_arg]);
    let after = vector_values(&query(&b2.addr, "count_over_time(demo_temperature[1h])"));
    assert!(!after.is_empty(), "no data after restart");
    assert!(after[0].1 >= before, "lost samples across kill -9: before {before}, after {}", after[0].1);
}

#[test]
fn default_config_monitors_this_machine() {
    let dir = tempfile::tempdir().expect("tmp");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[]);
    // The embedded default scrapes every 15 s; the first scrape lands within one interval.
    wait_for("host metrics", Duration::from_secs(45), || {
        let v = vector_values(&query(&b.addr, "count(node_cpu_seconds_total)"));
        (v.first().map(|x| x.1).unwrap_or(0.0) > 0.0).then_some(())
    });
    for q in ["node_memory_MemTotal_bytes", "node_load1", "up{job=\"bongsu\"}", "prometheus_tsdb_head_series"] {
        wait_for(q, Duration::from_secs(30), || (!vector_values(&query(&b.addr, q)).is_empty()).then_some(()));
    }
    // The cgroup collector: the root cgroup is always there, with CPU time.
    wait_for("containers scraped", Duration::from_secs(30), || {
        let up = vector_values(&query(&b.addr, "up{job=\"cadvisor\"}"));
        let cpu = vector_values(&query(&b.addr, "sum(container_cpu_usage_seconds_total{id=\"/\"})"));
        (up.first().map(|x| x.1) == Some(1.0) && cpu.first().is_some_and(|x| x.1 > 0.0)).then_some(())
    });
}

#[test]
fn scrapes_real_node_exporter() {
    let Some(ne) = tool("prometheus-node-exporter") else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let _ne = Proc::spawn(
        "node_exporter",
        Command::new(ne).arg(format!("--web.listen-address=127.0.0.1:{port}")),
        dir.path(),
    );
    wait_for("node_exporter", Duration::from_secs(20), || {
        http("GET", &format!("127.0.0.1:{port}"), "/metrics", None).ok().filter(|r| r.status == 200).map(|_| ())
    });
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, config_for(&format!("127.0.0.1:{port}"), "1s").replace("job_name: demo", "job_name: node")).expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&format!("--config.file={}", cfg.display())]);
    wait_for("node_exporter scraped", Duration::from_secs(30), || {
        let v = vector_values(&query(&b.addr, "up{job=\"node\"}"));
        (v.first().map(|x| x.1) == Some(1.0)).then_some(())
    });
    let cpus = vector_values(&query(&b.addr, "count(count by (cpu) (node_cpu_seconds_total))"));
    assert!(cpus[0].1 >= 1.0);
    wait_for("rate over node_exporter data", Duration::from_secs(30), || {
        let v = vector_values(&query(&b.addr, "sum(rate(node_cpu_seconds_total[10s]))"));
        v.first().filter(|x| x.1 > 0.0).map(|_| ())
    });
}

#[test]
fn real_prometheus_federates_from_bongsu() {
    let Some(prom) = tool("prometheus") else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let target = ExpositionServer::start(EXPOSITION);
    let cfg = dir.path().join("bongsu.yml");
    std::fs::write(&cfg, config_for(&target.addr, "1s")).expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&format!("--config.file={}", cfg.display())]);
    wait_for("demo scraped", Duration::from_secs(30), || (!vector_values(&query(&b.addr, "demo_temperature")).is_empty()).then_some(()));

    let pport = free_port();
    let pcfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &pcfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: federate\n    honor_labels: true\n    metrics_path: /federate\n    params:\n      'match[]': ['{{job=\"demo\"}}']\n    static_configs:\n      - targets: ['{}']\n",
            b.addr
        ),
    )
    .expect("write");
    let _p = Proc::spawn(
        "prometheus",
        Command::new(prom)
            .arg(format!("--config.file={}", pcfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("prom-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{pport}")),
        dir.path(),
    );
    let paddr = format!("127.0.0.1:{pport}");
    wait_for("prometheus federated demo_requests_total", Duration::from_secs(60), || {
        let r = http("POST", &paddr, "/api/v1/query", Some(&format!("query={}", enc("demo_requests_total{job=\"demo\",site=\"test\"}")))).ok()?;
        let j: serde_json::Value = serde_json::from_str(&r.body).ok()?;
        (j["data"]["result"].as_array().map(|a| a.len()) == Some(2)).then_some(())
    });
}

#[test]
fn backfill_openmetrics_like_promtool_then_query() {
    let dir = tempfile::tempdir().expect("tmp");
    let now = bongsu_model_now();
    let start = now - 3 * 3600;
    let mut om = String::from("# HELP backfilled A backfilled counter.\n# TYPE backfilled counter\n");
    for i in 0..(3 * 60) {
        om.push_str(&format!("backfilled_total{{host=\"a\"}} {} {}\n", i * 10, start + i * 60));
    }
    om.push_str("# EOF\n");
    let input = dir.path().join("in.om");
    std::fs::write(&input, om).expect("write");
    let data = dir.path().join("data");
    let out = Command::new(bongsu_bin())
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&data)
        .output()
        .expect("run");
    assert!(out.status.success(), "backfill failed: {}", String::from_utf8_lossy(&out.stderr));
    let blocks = std::fs::read_dir(&data).expect("data").filter(|e| e.as_ref().map(|e| e.path().join("meta.json").exists()).unwrap_or(false)).count();
    assert!((2..=3).contains(&blocks), "3 h of data must make 2-3 blocks aligned to 2 h, got {blocks}");

    // A sample without a timestamp is refused, as promtool refuses it.
    let bad = dir.path().join("bad.om");
    std::fs::write(&bad, "# TYPE x gauge\nx 1\n# EOF\n").expect("write");
    let out = Command::new(bongsu_bin()).args(["tsdb", "create-blocks-from", "openmetrics"]).arg(&bad).arg(dir.path().join("d2")).output().expect("run");
    assert!(!out.status.success());

    let cfg = dir.path().join("empty.yml");
    std::fs::write(&cfg, "scrape_configs: []\n").expect("write");
    let b = Bongsu::start(dir.path(), &data, &[&format!("--config.file={}", cfg.display())]);
    let v = vector_values(&query(&b.addr, "count_over_time(backfilled_total[4h])"));
    assert_eq!(v.len(), 1, "backfilled series not visible");
    assert_eq!(v[0].1, 180.0);
    let v = vector_values(&query(&b.addr, "increase(backfilled_total[1h])"));
    assert!((v[0].1 - 600.0).abs() < 1e-6, "increase over backfilled data: {}", v[0].1);
}

fn proc_status_kib(pid: u32, field: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Prometheus' most-hated failure is a WAL replay that needs far more memory
/// than the steady state it restores. Bongsu's replay streams: the peak
/// memory of a restart stays within the steady-state memory before it.
#[test]
fn wal_replay_memory_stays_within_steady_state() {
    const SERIES: usize = 40_000;
    let dir = tempfile::tempdir().expect("tmp");
    let mut body = String::from("# TYPE replay_metric gauge\n");
    for i in 0..SERIES {
        body.push_str(&format!("replay_metric{{instance_id=\"host-{i:06}\",region=\"r{}\"}} {}\n", i % 7, i % 100));
    }
    let target = ExpositionServer::start(&body);
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, config_for(&target.addr, "1s")).expect("write");
    let data = dir.path().join("data");
    let mut b = Bongsu::start(dir.path(), &data, &[&format!("--config.file={}", cfg.display())]);
    wait_for("10 scrapes of all series", Duration::from_secs(60), || {
        let v = vector_values(&query(&b.addr, "count_over_time(up[1h])"));
        let n = vector_values(&query(&b.addr, "count(replay_metric)"));
        (v.first().map(|x| x.1).unwrap_or(0.0) >= 10.0 && n.first().map(|x| x.1) == Some(SERIES as f64)).then_some(())
    });
    let steady_kib = proc_status_kib(b.proc.pid(), "VmRSS:");
    b.proc.kill9();

    // Restart with nothing to scrape: the peak is the replay's own.
    let empty = dir.path().join("empty.yml");
    std::fs::write(&empty, "scrape_configs: []\n").expect("write");
    let b2 = Bongsu::start(dir.path(), &data, &[&format!("--config.file={}", empty.display())]);
    let n = vector_values(&query(&b2.addr, "count(last_over_time(replay_metric[1h]))"));
    assert_eq!(n.first().map(|x| x.1), Some(SERIES as f64), "all series replayed");
    let peak_kib = proc_status_kib(b2.proc.pid(), "VmHWM:");
    eprintln!("steady RSS before kill: {steady_kib} KiB; peak during restart: {peak_kib} KiB");
    assert!(steady_kib > 0.0 && peak_kib > 0.0);
    assert!(peak_kib <= steady_kib * 1.2, "WAL replay peak {peak_kib} KiB exceeds steady state {steady_kib} KiB by more than 20%");
}

/// `--web.config.file` protects every endpoint with bcrypt basic auth, and
/// promtool with an HTTP client config still queries it.
#[test]
fn web_config_basic_auth_protects_everything() {
    let dir = tempfile::tempdir().expect("tmp");
    let hash = bcrypt::hash("s3cret", 4).expect("bcrypt");
    let web = dir.path().join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  admin: {hash}\n")).expect("write");
    let cfg = dir.path().join("prometheus.yml");
    let target = ExpositionServer::start(EXPOSITION);
    std::fs::write(&cfg, config_for(&target.addr, "1s")).expect("write");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(bongsu_bin());
    cmd.arg("run")
        .arg(format!("--web.listen-address={addr}"))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--web.config.file={}", web.display()));
    let _p = Proc::spawn("bongsu-auth", &mut cmd, dir.path());
    let r = wait_for("listening", Duration::from_secs(60), || http("GET", &addr, "/-/ready", None).ok());
    assert_eq!(r.status, 401, "unauthenticated requests are refused");
    assert!(r.headers.to_ascii_lowercase().contains("www-authenticate: basic"));
    for path in ["/api/v1/query?query=up", "/metrics", "/federate?match[]=up", "/api/v1/targets"] {
        assert_eq!(get(&addr, path).status, 401, "{path} must need auth");
    }
    // Authenticated: a raw request with the header.
    let auth = "YWRtaW46czNjcmV0"; // base64("admin:s3cret")
    let authed = |path: &str| -> Response {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        use std::io::{Read, Write};
        s.set_read_timeout(Some(Duration::from_secs(20))).ok();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n").expect("write");
        let mut raw = String::new();
        s.read_to_string(&mut raw).ok();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        Response { status: head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), headers: head.into(), body: body.into() }
    };
    wait_for("ready with auth", Duration::from_secs(30), || (authed("/-/ready").status == 200).then_some(()));
    assert_eq!(authed("/-/healthy").status, 200);

    if let Some(promtool) = tool("promtool") {
        // The same web config file is valid for Prometheus' own checker.
        let out = Command::new(&promtool).args(["check", "web-config"]).arg(&web).output().expect("promtool");
        assert!(out.status.success(), "promtool check web-config: {}", String::from_utf8_lossy(&out.stderr));
        // promtool 2.42 takes credentials in the URL.
        wait_for("demo scraped", Duration::from_secs(30), || {
            let out = Command::new(&promtool).args(["query", "instant", &format!("http://admin:s3cret@{addr}"), "demo_temperature"]).output().ok()?;
            String::from_utf8_lossy(&out.stdout).contains("=> 21.5").then_some(())
        });
        let out = Command::new(&promtool).args(["query", "instant", &format!("http://admin:wrong@{addr}"), "up"]).output().expect("promtool");
        assert!(!out.status.success(), "a wrong password must be refused");
    }
}

/// file_sd_configs: targets come from a JSON file and follow its edits
/// without a reload; a broken edit keeps the previous targets.
#[test]
fn file_sd_follows_edits() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = ExpositionServer::start(EXPOSITION);
    let bsrv = ExpositionServer::start(EXPOSITION);
    let sd = dir.path().join("targets.json");
    std::fs::write(&sd, format!("[{{\"targets\": [\"{}\"], \"labels\": {{\"team\": \"a\"}}}}]", a.addr)).expect("write");
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: fsd\n    file_sd_configs:\n      - files: ['{}']\n        refresh_interval: 1s\n", sd.display()),
    )
    .expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&format!("--config.file={}", cfg.display())]);
    wait_for("team a up", Duration::from_secs(30), || {
        let v = vector_values(&query(&b.addr, "up{job=\"fsd\",team=\"a\"}"));
        (v.first().map(|x| x.1) == Some(1.0)).then_some(())
    });
    std::fs::write(&sd, format!("[{{\"targets\": [\"{}\", \"{}\"], \"labels\": {{\"team\": \"b\"}}}}]", a.addr, bsrv.addr)).expect("write");
    wait_for("two team b targets", Duration::from_secs(30), || {
        let v = vector_values(&query(&b.addr, "up{job=\"fsd\",team=\"b\"} == 1"));
        (v.len() == 2).then_some(())
    });
    std::fs::write(&sd, "[{ this is not json").expect("write");
    std::thread::sleep(Duration::from_secs(3));
    let t = get(&b.addr, "/api/v1/targets").json();
    assert_eq!(t["data"]["activeTargets"].as_array().map(|a| a.len()), Some(2), "a broken file keeps the previous targets");
}

const RULES: &str = r#"groups:
  - name: demo
    interval: 1s
    rules:
      - record: job:demo_requests:sum
        expr: sum by (job) (demo_requests_total)
      - alert: DemoErrors
        expr: demo_requests_total{code="500"} > 1
        for: 2s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.code }} errors on {{ $labels.job }}: {{ $value }} ({{ $externalLabels.site }})"
"#;

#[test]
fn rules_record_alert_and_reload_like_prometheus() {
    let dir = tempfile::tempdir().expect("tmp");
    let target = ExpositionServer::start(EXPOSITION);
    let cfg = dir.path().join("prometheus.yml");
    let rules = dir.path().join("demo.rules.yml");
    std::fs::write(&rules, RULES).expect("write");
    std::fs::write(&cfg, format!("{}rule_files: ['*.rules.yml']\n", config_for(&target.addr, "1s"))).expect("write");

    // `check config` follows rule_files; `check rules` agrees with promtool.
    let out = Command::new(bongsu_bin()).args(["check", "config"]).arg(&cfg).output().expect("check");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("SUCCESS: 2 rules found"));

    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&format!("--config.file={}", cfg.display())]);
    let recorded = wait_for("recording rule output", Duration::from_secs(30), || {
        let v = vector_values(&query(&b.addr, "job:demo_requests:sum"));
        (!v.is_empty()).then_some(v)
    });
    assert_eq!(recorded[0].0, serde_json::json!({"__name__": "job:demo_requests:sum", "job": "demo"}));
    assert_eq!(recorded[0].1, 12.0);

    let alert = wait_for("alert firing", Duration::from_secs(30), || {
        let a = get(&b.addr, "/api/v1/alerts").json();
        let first = a["data"]["alerts"][0].clone();
        (first["state"] == "firing").then_some(first)
    });
    assert_eq!(alert["labels"], serde_json::json!({"alertname": "DemoErrors", "code": "500", "instance": target.addr, "job": "demo", "severity": "page"}));
    assert_eq!(alert["annotations"]["summary"], "500 errors on demo: 2 (test)");
    assert_eq!(alert["value"], "2e+00");
    let firing = vector_values(&query(&b.addr, "ALERTS{alertstate=\"firing\"}"));
    assert_eq!(firing.len(), 1);
    assert!(vector_values(&query(&b.addr, "ALERTS_FOR_STATE"))[0].1 > 1.0e9, "activeAt in unix seconds");

    let r = get(&b.addr, "/api/v1/rules").json();
    let g = &r["data"]["groups"][0];
    assert_eq!((g["name"].as_str(), g["interval"].as_f64()), (Some("demo"), Some(1.0)));
    assert_eq!(g["rules"][0]["type"], "recording");
    assert_eq!(g["rules"][0]["health"], "ok");
    assert_eq!(g["rules"][1]["state"], "firing");
    assert_eq!(g["rules"][1]["duration"], 2.0);
    assert_eq!(g["rules"][1]["query"], "demo_requests_total{code=\"500\"} > 1");
    let only_alerts = get(&b.addr, "/api/v1/rules?type=alert&exclude_alerts=true").json();
    let rs = only_alerts["data"]["groups"][0]["rules"].as_array().cloned().unwrap_or_default();
    assert_eq!(rs.len(), 1);
    assert!(rs[0].get("alerts").is_none());
    assert_eq!(get(&b.addr, "/api/v1/rules?type=bogus").status, 400);

    // The condition clears: the alert resolves and its ALERTS series goes stale.
    target.set("# TYPE demo_requests_total counter\ndemo_requests_total{code=\"200\"} 10\ndemo_requests_total{code=\"500\"} 0\n");
    wait_for("alert resolved", Duration::from_secs(30), || {
        let a = get(&b.addr, "/api/v1/alerts").json();
        a["data"]["alerts"].as_array().is_some_and(|v| v.is_empty()).then_some(())
    });
    wait_for("ALERTS stale", Duration::from_secs(10), || vector_values(&query(&b.addr, "ALERTS")).is_empty().then_some(()));

    // A broken rule file fails the reload and keeps the running rules.
    std::fs::write(&rules, RULES.replace("sum by (job) (demo_requests_total)", "sum by (job) (")).expect("write");
    let r = post(&b.addr, "/-/reload", "");
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.body.contains("demo.rules.yml:6:"), "the error names file:line: {}", r.body);
    assert!(r.body.contains("could not parse expression"), "{}", r.body);
    let m = get(&b.addr, "/metrics").body;
    assert!(m.lines().any(|l| l == "prometheus_config_last_reload_successful 0"));
    let r = get(&b.addr, "/api/v1/rules").json();
    assert_eq!(r["data"]["groups"][0]["rules"].as_array().map(|v| v.len()), Some(2));
    // A good one replaces them.
    std::fs::write(&rules, "groups:\n  - name: other\n    rules:\n      - record: one\n        expr: vector(1)\n").expect("write");
    assert_eq!(post(&b.addr, "/-/reload", "").status, 200);
    let r = get(&b.addr, "/api/v1/rules").json();
    assert_eq!(r["data"]["groups"][0]["name"], "other");
    assert!(m.contains("prometheus_rule_evaluations_total{rule_group="), "rule metrics exported");
    assert!(m.contains("alertname=\"DemoErrors\"} 1"), "alerts fired per rule: {m}");
}

#[test]
fn check_and_test_rules_agree_with_promtool() {
    let Some(dir) = std::env::var_os("BONGSU_CONFORMANCE_DIR").map(std::path::PathBuf::from) else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "BONGSU_CONFORMANCE_DIR is required under CI=true");
        eprintln!("!! BONGSU_CONFORMANCE_DIR not set: skipping");
        return;
    };
    let promtool = tool("promtool");
    let code = |cmd: &mut Command| cmd.output().expect("run").status.code();
    // Files on which Prometheus 2.42's promtool and 3.14 agree (3.x-only
    // syntax such as keep_firing_for or UTF-8 names is left out).
    let rulefmt = dir.join("rules/rulefmt");
    let promtool_dir = dir.join("rules/promtool");
    let files = [
        (rulefmt.join("test.yaml"), 0),
        (rulefmt.join("bad_expr.bad.yaml"), 1),
        (rulefmt.join("duplicate_grp.bad.yaml"), 1),
        (rulefmt.join("noexpr.bad.yaml"), 1),
        (rulefmt.join("bad_field.bad.yaml"), 1),
        (rulefmt.join("record_and_for.bad.yaml"), 1),
        (promtool_dir.join("rules.yml"), 0),
        (promtool_dir.join("rules-bad.yml"), 1),
    ];
    for (f, want) in &files {
        let ours = code(Command::new(bongsu_bin()).args(["check", "rules"]).arg(f));
        assert_eq!(ours, Some(*want), "bongsu check rules {}", f.display());
        if let Some(p) = &promtool {
            assert_eq!(code(Command::new(p).args(["check", "rules"]).arg(f)), ours, "promtool disagrees on {}", f.display());
        }
    }
    let lint = promtool_dir.join("prometheus-rules.lint.yml");
    assert_eq!(code(Command::new(bongsu_bin()).args(["check", "rules", "--lint-fatal"]).arg(&lint)), Some(3));
    // Unit tests: pass and fail as upstream asserts, with promtool's report.
    let out = Command::new(bongsu_bin()).args(["test", "rules"]).arg(promtool_dir.join("failing.yml")).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FAILED:"));
    let out = Command::new(bongsu_bin()).args(["test", "rules", "--run", "correct"]).arg(promtool_dir.join("rules_run.yml")).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("SUCCESS"));
    if let Some(p) = &promtool {
        // Both tools on a test file that 2.42 understands.
        let f = promtool_dir.join("long-period.yml");
        assert_eq!(code(Command::new(p).args(["test", "rules"]).arg(&f)), Some(0));
        assert_eq!(code(Command::new(bongsu_bin()).args(["test", "rules"]).arg(&f)), Some(0));
    }
}

#[test]
fn alerts_reach_a_real_alertmanager_and_its_webhook() {
    let Some(am_bin) = tool("prometheus-alertmanager") else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let hook = CaptureServer::start();
    let am_port = free_port();
    let am_cfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am_cfg,
        format!(
            "route:\n  receiver: hook\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: http://{}/hook\n",
            hook.addr
        ),
    )
    .expect("write");
    let mut am = Proc::spawn(
        "alertmanager",
        Command::new(am_bin)
            .arg(format!("--config.file={}", am_cfg.display()))
            .arg(format!("--storage.path={}", dir.path().join("am").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address="),
        dir.path(),
    );
    let am_addr = format!("127.0.0.1:{am_port}");
    wait_for("alertmanager ready", Duration::from_secs(30), || http("GET", &am_addr, "/-/ready", None).ok().filter(|r| r.status == 200));

    let target = ExpositionServer::start(EXPOSITION);
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(dir.path().join("a.rules.yml"), "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: DemoHot\n        expr: demo_temperature > 20\n        labels: {severity: warn}\n        annotations: {summary: 'hot: {{ $value }}'}\n").expect("write");
    std::fs::write(
        &cfg,
        format!(
            "{}rule_files: ['a.rules.yml']\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_addr}']\n",
            config_for(&target.addr, "1s")
        ),
    )
    .expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&format!("--config.file={}", cfg.display())]);
    let body = wait_for("webhook notified through Alertmanager", Duration::from_secs(40), || hook.bodies().into_iter().next());
    let v: serde_json::Value = serde_json::from_str(&body).expect("webhook JSON");
    assert_eq!(v["status"], "firing");
    let a = &v["alerts"][0];
    assert_eq!(a["labels"]["alertname"], "DemoHot");
    assert_eq!(a["labels"]["severity"], "warn");
    assert_eq!(a["labels"]["site"], "test", "external labels are added to sent alerts");
    assert_eq!(a["annotations"]["summary"], "hot: 21.5");
    assert!(a["generatorURL"].as_str().unwrap_or("").contains("/graph?g0.expr=demo_temperature+%3E+20"));
    let ams = get(&b.addr, "/api/v1/alertmanagers").json();
    assert_eq!(ams["data"]["activeAlertmanagers"][0]["url"], format!("http://{am_addr}/api/v2/alerts"));
    let m = get(&b.addr, "/metrics").body;
    assert!(m.contains(&format!("prometheus_notifications_sent_total{{alertmanager=\"http://{am_addr}/api/v2/alerts\"}}")), "{m}");
    // Alertmanager's own API shows the alert as Bongsu sent it.
    let got = get(&am_addr, "/api/v2/alerts").json();
    assert_eq!(got[0]["labels"]["alertname"], "DemoHot");
    am.stop();
}

fn amtool(args: &[&str], url: &str) -> (bool, String) {
    let p = tool("amtool").expect("amtool");
    let out = Command::new(p).args(args).arg(format!("--alertmanager.url=http://{url}")).output().expect("amtool");
    if !out.status.success() {
        return (false, format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    }
    (true, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn builtin_alertmanager_routes_silences_and_notifies_with_amtool() {
    if tool("amtool").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let hook = CaptureServer::start();
    let target = ExpositionServer::start(EXPOSITION);
    let cfg = dir.path().join("prometheus.yml");
    let amcfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        dir.path().join("a.rules.yml"),
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: DemoHot\n        expr: demo_temperature > 20\n        labels: {severity: page}\n        annotations: {summary: 'hot: {{ $value }}'}\n      - alert: DemoWarm\n        expr: demo_temperature > 10\n        labels: {severity: info}\n",
    )
    .expect("write");
    std::fs::write(&cfg, format!("{}rule_files: ['a.rules.yml']\n", config_for(&target.addr, "1s"))).expect("write");
    std::fs::write(
        &amcfg,
        format!(
            "route:\n  receiver: hook\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: http://{}/hook\ninhibit_rules:\n  - source_matchers: [severity=page]\n    target_matchers: [severity=info]\n    equal: [job]\n",
            hook.addr
        ),
    )
    .expect("write");
    let out = Command::new(bongsu_bin()).args(["check", "config"]).arg(&amcfg).output().expect("check");
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid alertmanager config"), "{:?}", out);
    let args = [format!("--config.file={}", cfg.display()), format!("--alertmanager.config.file={}", amcfg.display())];
    let mut b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&args[0], &args[1]]);

    // The rule's alert reaches the webhook through the in-process dispatcher.
    let first = wait_for("webhook notified", Duration::from_secs(40), || hook.bodies().into_iter().next());
    let v: serde_json::Value = serde_json::from_str(&first).expect("json");
    assert_eq!((v["version"].as_str(), v["status"].as_str(), v["receiver"].as_str()), (Some("4"), Some("firing"), Some("hook")));
    assert_eq!(v["groupKey"], "{}:{alertname=\"DemoHot\"}");
    assert_eq!(v["groupLabels"], serde_json::json!({"alertname": "DemoHot"}));
    assert_eq!(v["alerts"][0]["annotations"]["summary"], "hot: 21.5");
    assert_eq!(v["alerts"][0]["fingerprint"].as_str().map(str::len), Some(16));
    // DemoWarm is inhibited by DemoHot (same job): never notified.
    std::thread::sleep(Duration::from_secs(3));
    assert!(hook.bodies().iter().all(|b| !b.contains("DemoWarm")), "inhibited alert was notified");
    let warm = get(&b.addr, "/api/v2/alerts?filter=alertname%3D%22DemoWarm%22").json();
    assert_eq!(warm[0]["status"]["state"], "suppressed");
    assert_eq!(warm[0]["status"]["inhibitedBy"].as_array().map(|a| a.len()), Some(1));
    let n_before = hook.bodies().len();

    // amtool against Bongsu: query, silence add / query / expire.
    let (ok, out) = amtool(&["alert", "query", "alertname=DemoHot"], &b.addr);
    assert!(ok && out.contains("DemoHot"), "{out}");
    let (ok, id) = amtool(&["silence", "add", "alertname=DemoHot", "--comment=maintenance", "--author=ops", "--duration=1h"], &b.addr);
    assert!(ok, "{id}");
    let id = id.trim().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let (ok, out) = amtool(&["silence", "query", "-q"], &b.addr);
    assert!(ok && out.contains(&id), "{out}");
    let hot = get(&b.addr, "/api/v2/alerts?filter=alertname%3D%22DemoHot%22").json();
    assert_eq!(hot[0]["status"]["silencedBy"][0], id.as_str());
    let (ok, out) = amtool(&["alert", "query", "--silenced", "alertname=DemoHot"], &b.addr);
    assert!(ok && out.contains("DemoHot"), "{out}");

    // Invalid input is refused with the field named.
    let r = http("POST", &b.addr, "/api/v2/alerts", Some("[{\"labels\":{}}]")).expect("post");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("labels"), "{}", r.body);
    let r = http("POST", &b.addr, "/api/v2/silences", Some("{\"matchers\":[],\"startsAt\":\"2026-01-01T00:00:00Z\",\"endsAt\":\"2026-01-02T00:00:00Z\",\"createdBy\":\"a\",\"comment\":\"b\"}")).expect("post");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("matchers"), "{}", r.body);

    // Silences and the notification log survive a restart: no duplicate.
    b.proc.stop();
    let b2 = Bongsu::start(dir.path(), &dir.path().join("data"), &[&args[0], &args[1]]);
    let (ok, out) = amtool(&["silence", "query", "-q"], &b2.addr);
    assert!(ok && out.contains(&id), "silence lost over restart: {out}");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(hook.bodies().len(), n_before, "a restart must not resend what was delivered");

    // Expiring the silence and clearing the condition: resolved notification.
    let (ok, out) = amtool(&["silence", "expire", &id], &b2.addr);
    assert!(ok, "{out}");
    target.set("# TYPE demo_temperature gauge\ndemo_temperature 5\n");
    let resolved = wait_for("resolved notification", Duration::from_secs(40), || {
        hook.bodies().into_iter().skip(n_before).find(|b| b.contains("\"status\":\"resolved\""))
    });
    assert!(resolved.contains("DemoHot"));
    let hist = get(&b2.addr, "/api/bongsu/v1/notifications").json();
    assert!(hist.as_array().is_some_and(|a| !a.is_empty() && a[0]["ok"] == true), "{hist}");
    // The history of DemoHot, across the restart, through the CLI.
    let out = Command::new(bongsu_bin())
        .args(["alerts", "history", "--alertname=DemoHot", "-o", "json", &format!("--server=http://{}", b2.addr)])
        .output()
        .expect("bongsu alerts history");
    let events: serde_json::Value = serde_json::from_slice(&out.stdout).expect("history JSON");
    let kinds: Vec<&str> = events.as_array().map(|a| a.iter().filter_map(|e| e["event"].as_str()).collect()).unwrap_or_default();
    for k in ["firing", "silenced", "resolved"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let warm = get(&b2.addr, "/api/bongsu/v1/alerts/history?alertname=DemoWarm").json();
    assert!(warm.as_array().is_some_and(|a| a.iter().any(|e| e["event"] == "inhibited")), "{warm}");
    let m = get(&b2.addr, "/metrics").body;
    assert!(m.contains("alertmanager_notifications_total{integration=\"webhook\",receiver_name=\"hook\"}"), "{m}");
}

#[test]
fn real_prometheus_uses_bongsu_as_its_alertmanager() {
    let Some(prom) = tool("prometheus") else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let hook = CaptureServer::start();
    let amcfg = dir.path().join("alertmanager.yml");
    std::fs::write(&amcfg, format!("route:\n  receiver: hook\n  group_wait: 1s\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: http://{}/\n", hook.addr)).expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&format!("--alertmanager.config.file={}", amcfg.display())]);
    let pdir = dir.path().join("prom");
    std::fs::create_dir_all(&pdir).expect("mkdir");
    std::fs::write(pdir.join("r.yml"), "groups:\n  - name: p\n    interval: 1s\n    rules:\n      - alert: FromPrometheus\n        expr: vector(1)\n").expect("write");
    std::fs::write(
        pdir.join("prometheus.yml"),
        format!("global:\n  evaluation_interval: 1s\nrule_files: ['r.yml']\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{}']\n", b.addr),
    )
    .expect("write");
    let port = free_port();
    let mut p = Proc::spawn(
        "prometheus",
        Command::new(prom)
            .arg(format!("--config.file={}", pdir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", pdir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Its first alerts go out before Alertmanager discovery has run;
            // resend soon instead of after the default minute.
            .arg("--rules.alert.resend-delay=1s"),
        dir.path(),
    );
    let body = wait_for("Prometheus' alert delivered by Bongsu", Duration::from_secs(60), || {
        hook.bodies().into_iter().find(|b| b.contains("FromPrometheus"))
    });
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["alerts"][0]["labels"]["alertname"], "FromPrometheus");
    assert!(v["alerts"][0]["generatorURL"].as_str().unwrap_or("").contains("/graph?g0.expr="));
    p.stop();
}

#[test]
fn shipped_examples_are_valid() {
    let ex = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let run = |args: &[&str]| {
        let out = Command::new(bongsu_bin()).args(args).current_dir(&ex).output().expect("run");
        assert!(out.status.success(), "bongsu {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    };
    run(&["check", "config", "prometheus.yml", "alertmanager.yml", "docker-compose/prometheus.yml"]);
    run(&["check", "rules", "rules/host.rules.yml"]);
    run(&["test", "rules", "rules/host.rules.test.yml"]);
    let runbooks: Vec<String> = std::fs::read_dir(ex.join("runbooks")).expect("examples/runbooks").filter_map(|e| e.ok()).map(|e| format!("runbooks/{}", e.file_name().to_string_lossy())).collect();
    let (tests, files): (Vec<String>, Vec<String>) = runbooks.into_iter().partition(|f| f.ends_with(".test.yml"));
    assert!(tests.len() >= 4 && files.len() >= 4, "{tests:?} {files:?}");
    run(&[&["check", "runbooks"][..], &files.iter().map(String::as_str).collect::<Vec<_>>()].concat());
    run(&[&["test", "runbooks"][..], &tests.iter().map(String::as_str).collect::<Vec<_>>()].concat());
    if let Some(p) = tool("promtool") {
        let out = Command::new(p).args(["test", "rules", "rules/host.rules.test.yml"]).current_dir(&ex).output().expect("promtool");
        assert!(out.status.success(), "promtool disagrees: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn fallback_receiver_takes_over_when_the_primary_keeps_failing() {
    let dir = tempfile::tempdir().expect("tmp");
    // The primary answers 500 to everything.
    let broken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let broken_addr = broken.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for c in broken.incoming().flatten() {
            let mut c = c;
            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 65536];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom");
        }
    });
    let backup = CaptureServer::start();
    let amcfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        &amcfg,
        format!(
            "route:\n  receiver: primary\n  fallback_receiver: backup\n  fallback_after: 2s\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: primary\n    webhook_configs:\n      - url: http://{broken_addr}/\n  - name: backup\n    webhook_configs:\n      - url: http://{}/\n",
            backup.addr
        ),
    )
    .expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&format!("--alertmanager.config.file={}", amcfg.display())]);
    let r = http("POST", &b.addr, "/api/v2/alerts", Some("[{\"labels\":{\"alertname\":\"Pager\",\"team\":\"db\"}}]")).expect("post");
    assert_eq!(r.status, 200, "{}", r.body);
    let body = wait_for("the fallback receiver is notified", Duration::from_secs(40), || backup.bodies().into_iter().next());
    assert!(body.contains("\"receiver\":\"backup\""), "{body}");
    assert!(body.contains("Pager"));
    // Acknowledging: owner required, recorded in the history, shown on the alert.
    let fp = get(&b.addr, "/api/v2/alerts").json()[0]["fingerprint"].as_str().unwrap_or("").to_string();
    let r = http("POST", &b.addr, &format!("/api/bongsu/v1/alerts/{fp}/ack"), Some("{\"comment\":\"looking\"}")).expect("ack");
    assert_eq!(r.status, 400, "{}", r.body);
    let r = http("POST", &b.addr, &format!("/api/bongsu/v1/alerts/{fp}/ack"), Some("{\"owner\":\"kim\",\"comment\":\"looking\"}")).expect("ack");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(get(&b.addr, "/api/v2/alerts").json()[0]["acknowledged"]["owner"], "kim");
    let h = get(&b.addr, "/api/bongsu/v1/alerts/history?alertname=Pager").json();
    assert!(h.as_array().is_some_and(|a| a.iter().any(|e| e["event"] == "acknowledged" && e["detail"] == "kim: looking")), "{h}");
    assert_eq!(http("POST", &b.addr, "/api/bongsu/v1/alerts/00000000000000ff/ack", Some("{\"owner\":\"kim\"}")).expect("ack").status, 404);
    let n = get(&b.addr, "/api/bongsu/v1/notifications").json();
    let failed = n.as_array().map(|a| a.iter().filter(|x| x["receiver"] == "primary" && x["ok"] == false).count()).unwrap_or(0);
    assert!(failed >= 1, "the primary's failures are recorded: {n}");
    assert!(n.as_array().is_some_and(|a| a.iter().any(|x| x["receiver"] == "primary" && x["error"].as_str().unwrap_or("").contains("500"))));
}

#[test]
fn flap_damping_and_silences_that_expire_when_resolved() {
    let dir = tempfile::tempdir().expect("tmp");
    let hook = CaptureServer::start();
    let amcfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        &amcfg,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  resolve_hold: 6s\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: http://{}/\n",
            hook.addr
        ),
    )
    .expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&format!("--alertmanager.config.file={}", amcfg.display())]);
    let post = |body: &str| {
        let r = http("POST", &b.addr, "/api/v2/alerts", Some(body)).expect("post");
        assert_eq!(r.status, 200, "{}", r.body);
    };
    let iso = |ms: i64| humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(ms as u64)).to_string();
    post(r#"[{"labels":{"alertname":"Flappy"}}]"#);
    wait_for("firing notification", Duration::from_secs(20), || hook.bodies().iter().any(|b| b.contains("Flappy")).then_some(()));
    // Resolves, then fires again 2s later: within the 6s hold.
    post(&format!(r#"[{{"labels":{{"alertname":"Flappy"}},"endsAt":"{}"}}]"#, iso(bongsu_model_now() * 1000)));
    std::thread::sleep(Duration::from_secs(2));
    post(r#"[{"labels":{"alertname":"Flappy"}}]"#);
    std::thread::sleep(Duration::from_secs(3));
    assert!(hook.bodies().iter().all(|b| !b.contains("\"status\":\"resolved\"")), "the flap must not be notified as a resolve");
    let h = get(&b.addr, "/api/bongsu/v1/alerts/history?alertname=Flappy").json();
    assert!(h.as_array().is_some_and(|a| a.iter().any(|e| e["event"] == "flapped")), "{h}");
    assert!(get(&b.addr, "/metrics").body.lines().any(|l| l == "bongsu_alert_flaps_total 1"));

    // A silence that expires by itself once what it silenced has resolved.
    post(r#"[{"labels":{"alertname":"Maint","host":"db-1"}}]"#);
    let now = bongsu_model_now() * 1000;
    let sil = format!(
        r#"{{"matchers":[{{"name":"alertname","value":"Maint","isRegex":false,"isEqual":true}}],"startsAt":"{}","endsAt":"{}","createdBy":"ops","comment":"reboot","expireWhenResolved":true}}"#,
        iso(now),
        iso(now + 3_600_000)
    );
    let r = http("POST", &b.addr, "/api/v2/silences", Some(&sil)).expect("silence");
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["silenceID"].as_str().unwrap_or("").to_string();
    std::thread::sleep(Duration::from_secs(3)); // a flush sees the silenced alert
    assert_eq!(get(&b.addr, &format!("/api/v2/silence/{id}")).json()["status"]["state"], "active");
    post(&format!(r#"[{{"labels":{{"alertname":"Maint","host":"db-1"}},"endsAt":"{}"}}]"#, iso(bongsu_model_now() * 1000)));
    wait_for("silence expired by itself", Duration::from_secs(30), || {
        (get(&b.addr, &format!("/api/v2/silence/{id}")).json()["status"]["state"] == "expired").then_some(())
    });
    assert!(hook.bodies().iter().all(|b| !b.contains("Maint")), "a silenced alert was notified");
}

#[test]
fn for_state_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let target = ExpositionServer::start(EXPOSITION);
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(dir.path().join("r.yml"), "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Slow\n        expr: demo_temperature > 20\n        for: 10m\n").expect("write");
    std::fs::write(&cfg, format!("{}rule_files: ['r.yml']\n", config_for(&target.addr, "1s"))).expect("write");
    let args = [format!("--config.file={}", cfg.display()), "--rules.alert.for-grace-period=1s".to_string()];
    let active_at = |addr: &str| -> Option<String> {
        let a = get(addr, "/api/v1/alerts").json();
        a["data"]["alerts"][0]["activeAt"].as_str().map(str::to_string)
    };
    let mut b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&args[0], &args[1]]);
    let first = wait_for("pending alert", Duration::from_secs(30), || active_at(&b.addr));
    // Let ALERTS_FOR_STATE be written a few times, then restart.
    wait_for("ALERTS_FOR_STATE stored", Duration::from_secs(30), || (!vector_values(&query(&b.addr, "ALERTS_FOR_STATE")).is_empty()).then_some(()));
    // Pending for a while before the restart: without a restore the new
    // activeAt would be the restart time, at least these 6 s later.
    std::thread::sleep(Duration::from_secs(6));
    b.proc.stop();
    let down = std::time::Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let b2 = Bongsu::start(dir.path(), &dir.path().join("data"), &[&args[0], &args[1]]);
    let downtime = down.elapsed().as_secs_f64();
    // After the second evaluation the restored activeAt is the old one
    // moved forward by the downtime, not the restart time.
    let parse = |s: &str| humantime::parse_rfc3339_weak(s).expect("time").duration_since(std::time::UNIX_EPOCH).expect("epoch").as_secs_f64();
    let restored = wait_for("restored activeAt", Duration::from_secs(30), || {
        let t = parse(&active_at(&b2.addr)?);
        // The first evaluation after the restart sets activeAt to "now"; the
        // restore after the second moves it back.
        let shift = t - parse(&first);
        (shift > 2.0 && shift < downtime + 3.0).then_some(t)
    });
    let shift = restored - parse(&first);
    assert!(shift > 2.0 && shift < downtime + 3.0, "activeAt moved by {shift:.1}s for {downtime:.1}s down");
    assert_eq!(get(&b2.addr, "/api/v1/alerts").json()["data"]["alerts"][0]["state"], "pending");
}

#[test]
fn host_collectors_are_chosen_per_scrape_job_like_node_exporter() {
    let dir = tempfile::tempdir().expect("tmp");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[]);
    // node_exporter's URL filter: only the named collectors run.
    let r = get(&b.addr, "/collect/node?collect[]=loadavg&collect[]=time");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("node_load1 ") && r.body.contains("node_time_seconds "), "{}", r.body);
    assert!(!r.body.contains("node_cpu_seconds_total") && !r.body.contains("collector=\"cpu\""));
    let r = get(&b.addr, "/collect/node?exclude[]=cpu");
    assert!(r.body.contains("node_load1 ") && !r.body.contains("node_cpu_seconds_total"));
    let r = get(&b.addr, "/collect/node?collect[]=nope");
    assert_eq!((r.status, r.body.trim()), (400, "Couldn't create filtered metrics handler: missing collector: nope"));
    // The same through a scrape job's `params:`.
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: load-only\n    metrics_path: /collect/node\n    params:\n      'collect[]': [loadavg]\n    static_configs:\n      - targets: ['{}']\n",
            b.addr
        ),
    )
    .expect("write");
    // A second server scrapes the first one's host collector through the job.
    let b2 = Bongsu::start(dir.path(), &dir.path().join("data2"), &[&format!("--config.file={}", cfg.display())]);
    wait_for("load-only scraped", Duration::from_secs(30), || {
        (!vector_values(&query(&b2.addr, "node_load1{job=\"load-only\"}")).is_empty()).then_some(())
    });
    assert!(vector_values(&query(&b2.addr, "node_cpu_seconds_total{job=\"load-only\"}")).is_empty());
    drop(b);
}

#[test]
fn agent_serves_the_same_collectors_and_its_default_jobs_are_up() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("agent.yml");
    // A receiver that is never there: the agent keeps what it cannot send.
    std::fs::write(&cfg, "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nremote_write:\n  - url: http://127.0.0.1:9/api/v1/write\n").expect("write");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(bongsu_bin());
    cmd.args(["agent", &format!("--config.file={}", cfg.display()), &format!("--web.listen-address={addr}")])
        .arg(format!("--storage.agent.path={}", dir.path().join("agent").display()));
    let _agent = Proc::spawn("agent", &mut cmd, dir.path());
    wait_for("agent ready", Duration::from_secs(30), || http("GET", &addr, "/-/ready", None).ok().filter(|r| r.status == 200).map(|_| ()));
    assert!(get(&addr, "/collect/node?collect[]=loadavg").body.contains("node_load1 "));
    assert!(get(&addr, "/collect/containers").body.contains("container_scrape_error 0"));
    assert_eq!(get(&addr, "/collect/processes").status, 404, "off without --collector.processes.config");
    let probe = get(&addr, &format!("/probe?target={addr}&module=tcp_connect"));
    assert!(probe.body.contains("probe_success 1"), "{}", probe.body);
    // The default jobs (host, cgroups, itself) scrape the agent's own endpoints.
    wait_for("every default job up", Duration::from_secs(30), || {
        let t = get(&addr, "/api/v1/targets").json();
        let ts = t["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
        (ts.len() >= 3 && ts.iter().all(|x| x["health"] == "up")).then_some(())
    });
}
