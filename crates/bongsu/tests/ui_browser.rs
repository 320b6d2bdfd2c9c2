//! The web UI in a real browser: Debian's Chromium, headless, driven by
//! `ui/tests/browser.mjs` (playwright-core) against the real binary with a
//! scrape target, the built-in collectors, a firing alert, the built-in
//! Alertmanager and the shared Grafana dashboards. Screenshots
//! land in `target/test-artifacts/ui/` (or `$BONGSU_ARTIFACTS_DIR/ui`).

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::*;

const EXPOSITION: &str = "# TYPE demo_temperature gauge\ndemo_temperature{room=\"a\"} 21.5\ndemo_temperature{room=\"b\"} 19\n";

fn ui_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui")
}

/// Skips (loudly; fails under CI=true) when a prerequisite is missing.
fn require(what: &str, ok: bool) -> bool {
    if !ok {
        let msg = format!("{what} is missing: SKIPPING the browser test (./scripts/test.sh installs it)");
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}; CI=true requires it");
        }
        eprintln!("\n!!!!!!!! {msg} !!!!!!!!\n");
    }
    ok
}

/// Node, Chromium and playwright-core: what the browser scripts need.
struct Browser {
    node: String,
    chromium: String,
}

impl Browser {
    /// `None` (skipped loudly; a failure under CI=true) when one is missing.
    fn find() -> Option<Browser> {
        let node = tool("node");
        let chromium = tool("chromium");
        if !require("node", node.is_some())
            || !require("chromium (Debian package)", chromium.is_some())
            || !require("ui/node_modules/playwright-core (npm ci in ui/)", ui_dir().join("node_modules/playwright-core").is_dir())
        {
            return None;
        }
        Some(Browser { node: node?, chromium: chromium? })
    }

    /// Runs `ui/tests/<script> http://ADDR ARTIFACTS extra…` and returns its
    /// stdout; a failing run fails the test with both outputs. Screenshots
    /// go to `target/test-artifacts/ui/` (or `$BONGSU_ARTIFACTS_DIR/ui`).
    fn run(&self, script: &str, addr: &str, extra: &[&str]) -> String {
        let artifacts = std::env::var_os("BONGSU_ARTIFACTS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts"))
            .join("ui");
        let out = Command::new(&self.node)
            .arg(format!("tests/{script}"))
            .arg(format!("http://{addr}"))
            .arg(&artifacts)
            .args(extra)
            .env("CHROMIUM", &self.chromium)
            .current_dir(ui_dir())
            .output()
            .expect("run the browser script");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "browser run failed (screenshots in {}):\n{stdout}\n{}",
            artifacts.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

#[test]
fn committed_ui_build_matches_its_sources() {
    let Some(node) = tool("node") else {
        require("node", false);
        return;
    };
    let out = Command::new(node).arg("scripts/stamp.mjs").arg("--check").current_dir(ui_dir()).output().expect("run node");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ui_pages_work_in_chromium() {
    let Some(browser) = Browser::find() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let target = ExpositionServer::start(EXPOSITION);
    let hook = CaptureServer::start();
    std::fs::write(
        dir.path().join("a.rules.yml"),
        "groups:\n  - name: demo\n    interval: 1s\n    rules:\n      - alert: DemoHot\n        expr: demo_temperature > 20\n        labels: {severity: page}\n        annotations: {summary: 'hot'}\n",
    )
    .expect("write rules");
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['{}']\nrule_files: ['a.rules.yml']\n",
            target.addr
        ),
    )
    .expect("write config");
    let amcfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        &amcfg,
        format!("route:\n  receiver: hook\n  group_by: ['alertname']\n  group_wait: 1s\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: http://{}/hook\n", hook.addr),
    )
    .expect("write am config");
    let conformance = std::env::var_os("BONGSU_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"));
    let shared_dashboards = conformance.join("dashboards");
    if !shared_dashboards.is_dir() {
        let msg = format!("{} is missing: the shared Grafana dashboards cannot be checked", shared_dashboards.display());
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg} (CI=true)");
        }
        eprintln!("\n!!!!!!!! {msg} !!!!!!!!\n");
    }
    let b = Bongsu::start(
        dir.path(),
        &dir.path().join("data"),
        &[
            &format!("--config.file={}", cfg.display()),
            &format!("--alertmanager.config.file={}", amcfg.display()),
            &format!("--dashboards.dir={}", shared_dashboards.display()),
        ],
    );
    // Now that the address is known: Bongsu's own metrics (the operations
    // dashboard), the built-in collectors as two node jobs (a variable with
    // two values) and the cgroup collector.
    let own = |job: &str, path: &str| format!("  - job_name: {job}\n    metrics_path: {path}\n    static_configs:\n      - targets: ['{}']\n", b.addr);
    let text = std::fs::read_to_string(&cfg).expect("read config").replace(
        "rule_files:",
        &format!(
            "{}{}{}{}rule_files:",
            own("bongsu", "/metrics"),
            own("node", "/collect/node"),
            own("node2", "/collect/node"),
            own("cadvisor", "/collect/containers")
        ),
    );
    std::fs::write(&cfg, text).expect("rewrite config");
    assert_eq!(http("POST", &b.addr, "/-/reload", None).expect("reload").status, 200);
    wait_for("host metrics of both node jobs", Duration::from_secs(40), || {
        let v = vector_values(&query(&b.addr, "count by (job) (rate(node_cpu_seconds_total[10s]))"));
        (v.len() == 2).then_some(())
    });
    wait_for("DemoHot firing in the Alertmanager", Duration::from_secs(40), || {
        let alerts = get(&b.addr, "/api/v2/alerts?filter=alertname%3D%22DemoHot%22").json();
        (alerts.as_array().is_some_and(|a| !a.is_empty())).then_some(())
    });
    // The UI paths answer with the app; unknown API paths still 404.
    for p in ["/", "/graph", "/targets", "/alerts", "/silences", "/rules", "/status", "/dashboards", "/d/bongsu-host"] {
        let r = get(&b.addr, p);
        assert_eq!(r.status, 200, "{p}");
        assert!(r.body.contains("<div id=\"app\">"), "{p}: {}", r.body);
    }

    let stdout = browser.run("browser.mjs", &b.addr, &[]);
    let summary: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or("{}")).expect("summary JSON");
    assert!(summary["steps"].as_array().is_some_and(|s| s.len() >= 20), "{summary}");
    // Every shared dashboard was rendered (and none had a panel in error:
    // the script fails otherwise).
    for uid in ["rYdddlPWk", "blackbox-exporter-j4da", "docker_containers", "k8s_views_pods", "bongsu-host", "bongsu-containers", "bongsu-probes", "bongsu-operations"] {
        assert!(summary["dashboards"][uid]["panels"].as_u64().is_some_and(|n| n > 0), "{uid} not rendered: {summary}");
    }
    // The silence the browser created is in the Alertmanager.
    let silences = get(&b.addr, "/api/v2/silences").json();
    let found = silences.as_array().into_iter().flatten().any(|s| {
        s["status"]["state"] == "active" && s["matchers"].as_array().into_iter().flatten().any(|m| m["name"] == "alertname" && m["value"] == "DemoHot")
    });
    assert!(found, "no active silence for DemoHot: {silences}");
}

#[test]
fn ui_approves_a_pending_execution() {
    let Some(browser) = Browser::find() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let mut svc = support::service::Service::start(dir.path());
    let hook = CaptureServer::start();
    let rb = support::service::runbook("restart-svc", dir.path(), "    tier: approve\n    approval: {timeout: 5m}\n    verify: {timeout: 30s, interval: 1s}\n");
    let args = support::service::configure(dir.path(), &svc, &hook.addr, "restart-svc", &rb);
    // The responder's bearer token, which the UI sends for approvals.
    std::fs::write(dir.path().join("token.txt"), "s3cret-token\n").expect("write token");
    let am = dir.path().join("alertmanager.yml");
    let text = std::fs::read_to_string(&am).expect("read");
    std::fs::write(&am, format!("responder:\n  api_token_file: token.txt\n{text}")).expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&args[0], &args[1]]);
    wait_for("service scraped up", Duration::from_secs(30), || support::service::up_is(&b.addr, 1.0).then_some(()));
    svc.kill();
    let x = support::service::wait_execution(&b.addr, "restart-svc", "awaiting_approval", Duration::from_secs(60));
    browser.run("browser-respond.mjs", &b.addr, &["s3cret-token"]);
    // The acknowledgement from the alerts page reached the incident.
    let inc = get(&b.addr, &format!("/api/bongsu/v1/incidents/{}", x["incident"].as_str().expect("incident id"))).json();
    assert!(inc["data"]["acknowledged"].as_i64().is_some(), "not acknowledged: {inc}");
    assert!(inc["data"]["timeline"].as_array().is_some_and(|t| t.iter().any(|e| e["kind"] == "acknowledged")), "{inc}");
    // The approval went through the API with the token, and the runbook ran.
    let id = x["id"].as_str().expect("execution id").to_string();
    let done = wait_for("the approved execution finishes", Duration::from_secs(60), || {
        let v = get(&b.addr, &format!("/api/bongsu/v1/respond/executions/{id}")).json();
        (v["data"]["state"] == "remediated").then_some(v)
    });
    assert_eq!(done["data"]["approval"]["approved"], true);
    assert_eq!(done["data"]["approval"]["by"], "api-token");
    assert!(svc.answers(), "the service was restarted");
}
