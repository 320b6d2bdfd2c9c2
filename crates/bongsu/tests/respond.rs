//! End-to-end tests of the automated responder with real processes: a small
//! HTTP service (Python's `http.server`) that the test kills, the real
//! `bongsu` binary scraping it, alerting and running runbooks, a real HTTP
//! receiver for escalations, and Debian's Prometheus + Alertmanager
//! driving Bongsu through the webhook.

mod support;


use std::process::Command;
use std::time::Duration;
use support::service::*;
use support::*;

/// (a) The service is killed; Bongsu sees it down by scraping, the alert
/// fires, the runbook restarts it, verification passes, the incident
/// closes as remediated.
#[test]
fn killed_service_is_restarted_verified_and_the_incident_closes() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut svc = Service::start(dir.path());
    let hook = CaptureServer::start();
    let rb = runbook("restart-svc", dir.path(), "    verify: {timeout: 30s, interval: 1s}\n    escalate: {receiver: humans}\n");
    let args = configure(dir.path(), &svc, &hook.addr, "restart-svc", &rb);
    let out = Command::new(bongsu_bin()).args(["check", "runbooks"]).arg(dir.path().join("runbooks.yml")).output().expect("check");
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 runbooks found"), "{out:?}");
    let out = Command::new(bongsu_bin()).args(["check", "config"]).arg(dir.path().join("alertmanager.yml")).output().expect("check");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 runbooks"), "{out:?}");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&args[0], &args[1]]);
    wait_for("service scraped up", Duration::from_secs(30), || up_is(&b.addr, 1.0).then_some(()));

    svc.kill();
    assert!(!svc.answers());
    let x = wait_execution(&b.addr, "restart-svc", "remediated", Duration::from_secs(90));
    assert!(svc.answers(), "the service must answer again");
    assert_eq!(lines(&dir.path().join("restarts.log")), 1, "restarted exactly once");
    assert_eq!(x["target"], svc.addr());
    assert_eq!(x["runbook_url"], "https://wiki.example/svc-down", "taken from the alert's runbook_url");
    assert_eq!(x["steps"][0]["name"], "restart");
    assert_eq!(x["steps"][0]["ok"], true);
    assert_eq!(x["steps"][0]["rendered"]["argv"][2], svc.addr());
    assert_eq!(x["verification"]["ok"], true);
    assert_eq!(x["verification"]["expr"], "up{job=\"svc\"} == 0", "the alert's own expression");
    let guards: Vec<&str> = x["guards"].as_array().expect("guards").iter().map(|g| g["guard"].as_str().unwrap_or("")).collect();
    assert!(guards.contains(&"lock") && guards.contains(&"kill_switch"), "{guards:?}");

    // The incident closes once the alert resolves; its timeline tells the story.
    let inc = x["incident"].as_str().expect("incident").to_string();
    let i = wait_for("incident resolved", Duration::from_secs(60), || {
        let j = get(&b.addr, &format!("/api/bongsu/v1/incidents/{inc}")).json();
        (j["data"]["state"] == "resolved").then_some(j["data"].clone())
    });
    let kinds: Vec<&str> = i["timeline"].as_array().expect("timeline").iter().map(|e| e["kind"].as_str().unwrap_or("")).collect();
    for k in ["fired", "execution_created", "steps_started", "step_finished", "verified", "execution_finished", "resolved"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert_eq!(i["executions"][0]["state"], "remediated");
    let m = get(&b.addr, "/metrics").body;
    assert!(m.contains("bongsu_respond_executions_total{runbook=\"restart-svc\",state=\"remediated\"} 1"), "{m}");
    assert!(m.contains("bongsu_respond_side_effects_total{runbook=\"restart-svc\",kind=\"exec\"} 1"), "{m}");
    assert!(m.contains("bongsu_incidents{resolved_by=\"automation\"} 1"), "{m}");
    assert!(m.contains("bongsu_incident_mttr_seconds{resolved_by=\"automation\"}"), "{m}");
    assert!(m.contains("bongsu_respond_trigger_to_first_step_seconds{quantile=\"0.99\"}"), "{m}");
    // The humans got the alert too (the route continues), but no escalation.
    assert!(hook.bodies().iter().all(|b| !b.contains("bongsu_execution")), "no escalation for a remediated incident");

    // The CLI: history, incidents, the post-incident draft.
    let server = format!("--server=http://{}", b.addr);
    let out = Command::new(bongsu_bin()).args(["respond", "history", &server]).output().expect("respond history");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("restart-svc") && text.contains("remediated"), "{text}");
    let out = Command::new(bongsu_bin()).args(["incidents", &server]).output().expect("incidents");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&inc), "{out:?}");
    let out = Command::new(bongsu_bin()).args(["incident", "report", &inc, &server]).output().expect("report");
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("# Post-incident review: ServiceDown"), "{md}");
    for want in ["time to resolve", "up{job=\"svc\"} == 0", "restart-svc on", "remediated", "verification `up{job=\"svc\"} == 0`: cleared"] {
        assert!(md.contains(want), "{want} missing from:\n{md}");
    }
}

/// (b) A fix that does not work: verification fails, the rollback runs,
/// the escalation reaches a real HTTP receiver with the execution record,
/// and the circuit breaker disables the runbook until re-armed.
#[test]
fn failed_fix_rolls_back_escalates_and_opens_the_breaker() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut svc = Service::start(dir.path());
    let hook = CaptureServer::start();
    let d = dir.path().display();
    let rb = format!(
        "runbooks:\n  - name: broken-fix\n    target: '{{{{ $labels.instance }}}}'\n    steps:\n      - name: pretend\n        exec: {{argv: [sh, -c, 'echo tried >> {d}/tried.log']}}\n    verify: {{timeout: 4s, interval: 1s}}\n    rollback:\n      - name: undo\n        exec: {{argv: [sh, -c, 'echo undone >> {d}/undone.log']}}\n    escalate: {{receiver: humans}}\n    guards: {{circuit_breaker: {{failures: 1}}}}\n"
    );
    let args = configure(dir.path(), &svc, &hook.addr, "broken-fix", &rb);
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").expect("write");
    let amcfg = dir.path().join("alertmanager.yml");
    let text = std::fs::read_to_string(&amcfg).expect("read");
    std::fs::write(&amcfg, format!("{text}responder:\n  api_token_file: token\n")).expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&args[0], &args[1]]);
    wait_for("service scraped up", Duration::from_secs(30), || up_is(&b.addr, 1.0).then_some(()));
    svc.kill();

    let x = wait_execution(&b.addr, "broken-fix", "escalated", Duration::from_secs(90));
    assert_eq!(lines(&dir.path().join("tried.log")), 1);
    assert_eq!(lines(&dir.path().join("undone.log")), 1, "the rollback ran once");
    assert_eq!(x["verification"]["ok"], false);
    let phases: Vec<&str> = x["steps"].as_array().expect("steps").iter().map(|s| s["phase"].as_str().unwrap_or("")).collect();
    assert_eq!(phases, ["steps", "rollback"]);
    assert_eq!(x["escalation"]["receiver"], "humans");
    assert_eq!(x["escalation"]["ok"], true);
    let esc = wait_for("escalation delivered", Duration::from_secs(20), || hook.bodies().into_iter().find(|b| b.contains("bongsu_execution")));
    let v: serde_json::Value = serde_json::from_str(&esc).expect("json");
    let ann = &v["alerts"][0]["annotations"];
    assert_eq!(ann["bongsu_execution"], x["id"]);
    assert_eq!(ann["bongsu_execution_state"], "failed");
    assert!(ann["bongsu_summary"].as_str().unwrap_or("").contains("verify"), "{ann}");
    assert_eq!(ann["runbook_url"], "https://wiki.example/svc-down");

    // The breaker is open: the runbook is listed as disabled …
    let rbs = get(&b.addr, "/api/bongsu/v1/respond/runbooks").json();
    assert!(rbs["data"]["runbooks"][0]["circuit_breaker"].as_str().is_some_and(|s| s.contains("consecutive failed")), "{rbs}");
    // … re-arming needs authentication …
    let r = http("POST", &b.addr, "/api/bongsu/v1/respond/runbooks/broken-fix/arm", Some("")).expect("post");
    assert_eq!(r.status, 401, "{}", r.body);
    let r = http_with("POST", &b.addr, "/api/bongsu/v1/respond/runbooks/broken-fix/arm", &[("Authorization", "Bearer wrong")], Some("")).expect("post");
    assert_eq!(r.status, 401, "{}", r.body);
    let r = http_with("POST", &b.addr, "/api/bongsu/v1/respond/runbooks/broken-fix/arm", &[("Authorization", "Bearer s3cret-token")], Some("")).expect("post");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["was_open"], true);
    let m = get(&b.addr, "/metrics").body;
    assert!(m.contains("bongsu_respond_executions_total{runbook=\"broken-fix\",state=\"escalated\"} 1"), "{m}");
}

/// (c) A flapping alert triggers the action no more often than the rate limit.
#[test]
fn flapping_alert_acts_no_more_than_the_rate_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let target = ExpositionServer::start("# TYPE demo_broken gauge\ndemo_broken 0\n");
    let d = dir.path().display();
    std::fs::write(dir.path().join("rules.yml"), "groups:\n  - name: f\n    interval: 1s\n    rules:\n      - alert: Flapping\n        expr: demo_broken == 1\n").expect("write");
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files: ['rules.yml']\nscrape_configs:\n  - job_name: flap\n    static_configs:\n      - targets: ['{}']\n",
            target.addr
        ),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("runbooks.yml"),
        format!("runbooks:\n  - name: act\n    target: '{{{{ $labels.instance }}}}'\n    steps:\n      - exec: {{argv: [sh, -c, 'echo acted >> {d}/acted.log']}}\n    verify: {{disabled: true}}\n    guards: {{rate_limit: {{max: 2, window: 1h}}}}\n"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("alertmanager.yml"),
        "runbook_files: ['runbooks.yml']\nroute:\n  receiver: auto\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: auto\n    runbook_configs:\n      - runbook: act\n",
    )
    .expect("write");
    let b = Bongsu::start(
        dir.path(),
        &dir.path().join("data"),
        &[&format!("--config.file={}", dir.path().join("prometheus.yml").display()), &format!("--alertmanager.config.file={}", dir.path().join("alertmanager.yml").display())],
    );
    for round in 1..=4 {
        target.set("# TYPE demo_broken gauge\ndemo_broken 1\n");
        wait_for(&format!("round {round}: an execution decided"), Duration::from_secs(40), || {
            let xs = executions(&b.addr, "act");
            (xs.len() >= round && xs.iter().all(|x| x["state"] == "done" || x["state"] == "blocked")).then_some(())
        });
        target.set("# TYPE demo_broken gauge\ndemo_broken 0\n");
        // The resolve must reach the Alertmanager before the next flap.
        wait_for("alert resolved", Duration::from_secs(40), || {
            let a = get(&b.addr, "/api/v2/alerts?active=true").json();
            a.as_array().is_some_and(|v| v.is_empty()).then_some(())
        });
        std::thread::sleep(Duration::from_secs(2));
    }
    let xs = executions(&b.addr, "act");
    assert_eq!(xs.len(), 4, "one execution per firing: {xs:?}");
    assert_eq!(lines(&dir.path().join("acted.log")), 2, "the rate limit allows 2 per hour");
    let blocked: Vec<&serde_json::Value> = xs.iter().filter(|x| x["state"] == "blocked").collect();
    assert_eq!(blocked.len(), 2);
    for x in blocked {
        let g = x["guards"].as_array().and_then(|g| g.iter().find(|g| g["allowed"] == false)).expect("a blocking guard");
        assert_eq!(g["guard"], "rate_limit", "{x}");
    }

    // Replay: a stricter version of the runbook over the same stored
    // history says what it would have done, acting on nothing.
    std::fs::write(
        dir.path().join("stricter.yml"),
        "runbooks:\n  - name: act\n    target: '{{ $labels.instance }}'\n    steps:\n      - exec: {argv: [sh, -c, 'echo replayed >> /dev/null']}\n    guards: {rate_limit: {max: 1, window: 1h}}\n",
    )
    .expect("write");
    let out = Command::new(bongsu_bin())
        .args(["respond", "replay", "--since=1h", "--match=alertname=Flapping", "-o", "json", &format!("--server=http://{}", b.addr)])
        .arg(format!("--runbook-file={}", dir.path().join("stricter.yml").display()))
        .output()
        .expect("replay");
    assert!(out.status.success(), "{out:?}");
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).expect("replay JSON");
    assert_eq!(rep["executions"].as_array().map(|a| a.len()), Some(4), "{rep}");
    assert_eq!(rep["touched"][&target.addr], 1, "{rep}");
    assert_eq!(rep["guard_blocks"]["rate_limit"], 3, "{rep}");
    assert_eq!(lines(&dir.path().join("acted.log")), 2, "a replay acts on nothing");
}

/// (d) Debian's Prometheus + Alertmanager, with a webhook receiver pointing
/// at Bongsu, drive the same restart; duplicate deliveries act once.
#[test]
fn external_prometheus_and_alertmanager_drive_the_restart_through_the_webhook() {
    let (Some(prom), Some(am_bin)) = (tool("prometheus"), tool("prometheus-alertmanager")) else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let mut svc = Service::start(dir.path());
    // Bongsu: scrapes the service too (for verification), runs the runbook
    // on webhook deliveries only.
    std::fs::write(dir.path().join("token"), "hook-token\n").expect("write");
    std::fs::write(dir.path().join("runbooks.yml"), runbook("restart-svc", dir.path(), "    verify: {timeout: 30s, interval: 1s}\n")).expect("write");
    std::fs::write(
        dir.path().join("bongsu-am.yml"),
        "runbook_files: ['runbooks.yml']\nresponder:\n  api_token_file: token\nroute:\n  receiver: none\nreceivers:\n  - name: none\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("bongsu.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: svc\n    metrics_path: /metrics.txt\n    static_configs:\n      - targets: ['{}']\n",
            svc.addr()
        ),
    )
    .expect("write");
    let b = Bongsu::start(
        dir.path(),
        &dir.path().join("data"),
        &[&format!("--config.file={}", dir.path().join("bongsu.yml").display()), &format!("--alertmanager.config.file={}", dir.path().join("bongsu-am.yml").display())],
    );
    // The real Alertmanager posts its webhook to Bongsu with a bearer token.
    let am_port = free_port();
    let am_addr = format!("127.0.0.1:{am_port}");
    std::fs::write(
        dir.path().join("am.yml"),
        format!(
            "route:\n  receiver: bongsu\n  group_by: [alertname, instance]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: bongsu\n    webhook_configs:\n      - url: 'http://{}/api/bongsu/v1/respond/webhook?runbook=restart-svc'\n        http_config:\n          authorization:\n            credentials: hook-token\n",
            b.addr
        ),
    )
    .expect("write");
    let _am = Proc::spawn(
        "alertmanager",
        Command::new(am_bin)
            .arg(format!("--config.file={}", dir.path().join("am.yml").display()))
            .arg(format!("--storage.path={}", dir.path().join("am").display()))
            .arg(format!("--web.listen-address={am_addr}"))
            .arg("--cluster.listen-address="),
        dir.path(),
    );
    wait_for("alertmanager ready", Duration::from_secs(30), || http("GET", &am_addr, "/-/ready", None).ok().filter(|r| r.status == 200));
    let pdir = dir.path().join("prom");
    std::fs::create_dir_all(&pdir).expect("mkdir");
    std::fs::write(pdir.join("rules.yml"), RULES).expect("write");
    std::fs::write(
        pdir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files: ['rules.yml']\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_addr}']\nscrape_configs:\n  - job_name: svc\n    metrics_path: /metrics.txt\n    static_configs:\n      - targets: ['{}']\n",
            svc.addr()
        ),
    )
    .expect("write");
    let _p = Proc::spawn(
        "prometheus",
        Command::new(prom)
            .arg(format!("--config.file={}", pdir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", pdir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
            .arg("--rules.alert.resend-delay=1s"),
        dir.path(),
    );
    wait_for("Bongsu scraped the service up", Duration::from_secs(30), || up_is(&b.addr, 1.0).then_some(()));
    std::thread::sleep(Duration::from_secs(3)); // Prometheus has scraped it up too

    svc.kill();
    let x = wait_execution(&b.addr, "restart-svc", "remediated", Duration::from_secs(120));
    assert_eq!(x["source"], "webhook");
    assert!(svc.answers());
    assert_eq!(lines(&dir.path().join("restarts.log")), 1);
    assert_eq!(x["verification"]["expr"], "up{job=\"svc\"} == 0", "Prometheus' generator URL gave the expression");

    // Unauthenticated and malformed deliveries change nothing.
    let r = http("POST", &b.addr, "/api/bongsu/v1/respond/webhook?runbook=restart-svc", Some("{}")).expect("post");
    assert_eq!(r.status, 401, "{}", r.body);
    let auth = [("Authorization", "Bearer hook-token"), ("Content-Type", "application/json")];
    let r = http_with("POST", &b.addr, "/api/bongsu/v1/respond/webhook?runbook=restart-svc", &auth, Some("{\"alerts\":[{\"status\":\"firing\",\"labels\":{},\"startsAt\":\"2026-01-01T00:00:00Z\"}]}")).expect("post");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("alerts[0].labels"), "{}", r.body);

    // The same firing delivery again, many times (a retry, an HA pair): nothing runs twice.
    let payload = serde_json::json!({
        "version": "4", "groupKey": "{}:{alertname=\"ServiceDown\"}", "status": "firing", "receiver": "bongsu",
        "groupLabels": {}, "externalURL": "http://am",
        "alerts": [{"status": "firing", "labels": x["alert"]["labels"], "annotations": x["alert"]["annotations"],
            "startsAt": bongsu_model_time(x["alert"]["starts_at"].as_i64().expect("starts_at")), "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": x["alert"]["generator_url"], "fingerprint": x["alert"]["fingerprint"]}]
    })
    .to_string();
    for _ in 0..200 {
        let r = http_with("POST", &b.addr, "/api/bongsu/v1/respond/webhook?runbook=restart-svc", &auth, Some(&payload)).expect("post");
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["data"]["executions"], serde_json::json!([]), "a duplicate starts nothing");
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(lines(&dir.path().join("restarts.log")), 1, "no side effect repeated");
    assert_eq!(executions(&b.addr, "restart-svc").len(), 1);
    let m = get(&b.addr, "/metrics").body;
    let dups: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix("bongsu_respond_duplicate_deliveries_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(dups >= 200.0, "{dups}");
}

/// RFC 3339 with milliseconds, as Alertmanager writes times.
fn bongsu_model_time(ms: i64) -> String {
    let out = Command::new("date").args(["-u", "-d", &format!("@{}.{:03}", ms / 1000, ms % 1000), "+%Y-%m-%dT%H:%M:%S.%3NZ"]).output().expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Approval tier: the execution waits; the escalation receiver gets signed
/// approve/reject links; opening one shows a form (a chat tool's link
/// preview decides nothing); posting it lets the restart run.
#[test]
fn approval_through_a_signed_link() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut svc = Service::start(dir.path());
    let hook = CaptureServer::start();
    let rb = runbook("restart-svc", dir.path(), "    tier: approve\n    approval: {timeout: 2m}\n    verify: {timeout: 30s, interval: 1s}\n    escalate: {receiver: humans}\n");
    let args = configure(dir.path(), &svc, &hook.addr, "restart-svc", &rb);
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&args[0], &args[1], &format!("--web.external-url=http://{}", "bongsu.example")]);
    wait_for("service scraped up", Duration::from_secs(30), || up_is(&b.addr, 1.0).then_some(()));
    svc.kill();
    let x = wait_execution(&b.addr, "restart-svc", "awaiting_approval", Duration::from_secs(60));
    let body = wait_for("approval request delivered", Duration::from_secs(20), || hook.bodies().into_iter().find(|b| b.contains("bongsu_approve_url")));
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let url = v["alerts"][0]["annotations"]["bongsu_approve_url"].as_str().expect("approve url").to_string();
    assert!(url.starts_with(&format!("http://bongsu.example/api/bongsu/v1/respond/executions/{}/approve?expires=", x["id"].as_str().unwrap_or(""))), "{url}");
    let path = url.trim_start_matches("http://bongsu.example");
    assert_eq!(lines(&dir.path().join("restarts.log")), 0, "nothing runs before approval");
    // GET (a browser, a link preview): a confirmation form only.
    let r = get(&b.addr, path);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<form method=post"), "{}", r.body);
    assert_eq!(executions(&b.addr, "restart-svc")[0]["state"], "awaiting_approval");
    // A forged signature is refused.
    let forged = format!("{}0", path);
    assert_eq!(http("POST", &b.addr, &forged, Some("")).expect("post").status, 401);
    let r = http("POST", &b.addr, path, Some("")).expect("post");
    assert_eq!(r.status, 200, "{}", r.body);
    let x = wait_execution(&b.addr, "restart-svc", "remediated", Duration::from_secs(60));
    assert_eq!(x["approval"]["approved"], true);
    assert_eq!(x["approval"]["by"], "signed-link");
    assert_eq!(lines(&dir.path().join("restarts.log")), 1);
    assert!(svc.answers());
}

/// `kill -9` in the middle of a step: after the restart the execution is
/// marked abandoned and escalated, and the step is never run again.
#[test]
fn crash_mid_step_is_abandoned_and_escalated_never_rerun() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut svc = Service::start(dir.path());
    let hook = CaptureServer::start();
    let d = dir.path().display();
    let rb = format!("runbooks:\n  - name: slow-fix\n    target: '{{{{ $labels.instance }}}}'\n    steps:\n      - name: slow\n        exec: {{argv: [sh, -c, 'echo started >> {d}/started.log; sleep 8'], timeout: 20s}}\n    escalate: {{receiver: humans}}\n");
    let args = configure(dir.path(), &svc, &hook.addr, "slow-fix", &rb);
    let mut b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&args[0], &args[1]]);
    wait_for("service scraped up", Duration::from_secs(30), || up_is(&b.addr, 1.0).then_some(()));
    svc.kill();
    wait_for("the step started", Duration::from_secs(60), || (lines(&dir.path().join("started.log")) == 1).then_some(()));
    b.proc.kill9();
    let b2 = Bongsu::start(dir.path(), &dir.path().join("data"), &[&args[0], &args[1]]);
    let x = wait_execution(&b2.addr, "slow-fix", "abandoned", Duration::from_secs(30));
    assert!(x["error"].as_str().unwrap_or("").contains("after a restart"), "{x}");
    let esc = wait_for("abandonment escalated", Duration::from_secs(20), || hook.bodies().into_iter().find(|b| b.contains("\"bongsu_execution_state\":\"abandoned\"")));
    assert!(esc.contains(x["id"].as_str().unwrap_or("-")));
    // The alert still fires and is re-notified to the runbook receiver
    // after the restart: the same alert's execution exists, nothing re-runs.
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(lines(&dir.path().join("started.log")), 1, "a step is never run twice");
    assert_eq!(executions(&b2.addr, "slow-fix").len(), 1);
}

/// The webhook also takes HMAC-signed deliveries (for senders that can
/// sign); a bad signature, an old timestamp and a replay are refused.
#[test]
fn signed_webhook_deliveries_and_replays() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().display();
    std::fs::write(dir.path().join("hmac"), "hmac-secret\n").expect("write");
    std::fs::write(dir.path().join("runbooks.yml"), format!("runbooks:\n  - name: note\n    target: '{{{{ $labels.instance }}}}'\n    steps:\n      - exec: {{argv: [sh, -c, 'echo \"$BONGSU_TARGET\" >> {d}/noted.log']}}\n    verify: {{disabled: true}}\n")).expect("write");
    std::fs::write(dir.path().join("am.yml"), "runbook_files: ['runbooks.yml']\nresponder:\n  webhook_hmac_secret_file: hmac\nroute:\n  receiver: none\nreceivers:\n  - name: none\n").expect("write");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[&format!("--alertmanager.config.file={}", dir.path().join("am.yml").display())]);
    let body = r#"{"version":"4","groupKey":"g","status":"firing","receiver":"x","groupLabels":{},"alerts":[{"status":"firing","labels":{"alertname":"A","instance":"h1"},"startsAt":"2026-11-26T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":""}]}"#;
    let sign = |ts: i64, body: &str| -> String {
        let out = Command::new("python3")
            .args(["-c", "import hmac,hashlib,sys; print('sha256='+hmac.new(b'hmac-secret', sys.argv[1].encode()+b'.'+sys.argv[2].encode(), hashlib.sha256).hexdigest())", &ts.to_string(), body])
            .output()
            .expect("python3");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs() as i64;
    let post = |ts: i64, sig: &str, body: &str| {
        let ts = ts.to_string();
        http_with("POST", &b.addr, "/api/bongsu/v1/respond/webhook?runbook=note", &[("X-Bongsu-Timestamp", &ts), ("X-Bongsu-Signature", sig), ("Content-Type", "application/json")], Some(body)).expect("post")
    };
    let good = sign(now, body);
    let r = post(now, &good, body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["executions"].as_array().map(|a| a.len()), Some(1));
    let r = post(now, &good, body);
    assert_eq!(r.status, 401);
    assert!(r.body.contains("replayed"), "{}", r.body);
    let r = post(now, &sign(now, "{}"), body);
    assert_eq!(r.status, 401);
    assert!(r.body.contains("signature mismatch"), "{}", r.body);
    let old = now - 3600;
    let r = post(old, &sign(old, body), body);
    assert_eq!(r.status, 401);
    assert!(r.body.contains("window"), "{}", r.body);
    // Without a signature and without any other credentials: refused.
    let r = http("POST", &b.addr, "/api/bongsu/v1/respond/webhook?runbook=note", Some(body)).expect("post");
    assert_eq!(r.status, 401, "{}", r.body);
    wait_for("the one accepted delivery acted", Duration::from_secs(20), || (lines(&dir.path().join("noted.log")) == 1).then_some(()));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(std::fs::read_to_string(dir.path().join("noted.log")).expect("log"), "h1\n");
}
