//! A small HTTP service (Python's `http.server`) the responder tests kill
//! and restart, and the configuration around it (rules, alertmanager.yml
//! with runbooks), shared by the responder and UI tests.

use super::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A service that serves `metrics.txt`, started by the test; a restart
/// script may start it again detached, recording its pid in `svc.pid`.
pub struct Service {
    pub dir: PathBuf,
    pub port: u16,
    pub proc: Option<Proc>,
}

impl Service {
    pub fn start(dir: &Path) -> Service {
        let www = dir.join("www");
        std::fs::create_dir_all(&www).expect("mkdir");
        std::fs::write(www.join("metrics.txt"), "# TYPE svc_ok gauge\nsvc_ok 1\n").expect("write");
        let port = free_port();
        let proc = Proc::spawn(
            "svc",
            Command::new("python3").args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"]).arg(&www),
            dir,
        );
        let addr = format!("127.0.0.1:{port}");
        wait_for("service up", Duration::from_secs(20), || http("GET", &addr, "/metrics.txt", None).ok().filter(|r| r.status == 200));
        // The restart script the runbooks run: starts the service detached
        // (its own session, stdio closed), waits until it answers.
        std::fs::write(
            dir.join("restart.sh"),
            format!(
                "#!/bin/sh\necho \"restart $1 $BONGSU_EXECUTION\" >> '{d}/restarts.log'\nport=${{1##*:}}\nsetsid python3 -m http.server \"$port\" --bind 127.0.0.1 --directory '{d}/www' >/dev/null 2>&1 < /dev/null &\necho $! > '{d}/svc.pid'\npython3 -c \"import socket,time,sys\nfor i in range(100):\n    try:\n        socket.create_connection(('127.0.0.1', $port), 0.2).close(); sys.exit(0)\n    except OSError: time.sleep(0.1)\nsys.exit(1)\"\n",
                d = dir.display()
            ),
        )
        .expect("write");
        Service { dir: dir.to_path_buf(), port, proc: Some(proc) }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    pub fn answers(&self) -> bool {
        http("GET", &self.addr(), "/metrics.txt", None).is_ok_and(|r| r.status == 200)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("svc.pid")) {
            let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
        }
    }
}

pub fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p).map(|s| s.lines().count()).unwrap_or(0)
}

pub const RULES: &str = "groups:\n  - name: svc\n    interval: 1s\n    rules:\n      - alert: ServiceDown\n        expr: up{job=\"svc\"} == 0\n        labels: {severity: page}\n        annotations: {runbook_url: 'https://wiki.example/svc-down', summary: '{{ $labels.instance }} is down'}\n";

/// Writes prometheus.yml, the rules, alertmanager.yml and the runbooks;
/// returns Bongsu's arguments.
pub fn configure(dir: &Path, svc: &Service, hook: &str, runbook: &str, runbooks: &str) -> Vec<String> {
    std::fs::write(dir.join("rules.yml"), RULES).expect("write");
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files: ['rules.yml']\nscrape_configs:\n  - job_name: svc\n    metrics_path: /metrics.txt\n    static_configs:\n      - targets: ['{}']\n",
            svc.addr()
        ),
    )
    .expect("write");
    std::fs::write(dir.join("runbooks.yml"), runbooks).expect("write");
    std::fs::write(
        dir.join("alertmanager.yml"),
        format!(
            "runbook_files: ['runbooks.yml']\nroute:\n  receiver: humans\n  group_by: [alertname, instance]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n  routes:\n    - matchers: ['alertname=\"ServiceDown\"']\n      receiver: auto\n      continue: true\nreceivers:\n  - name: humans\n    webhook_configs:\n      - url: http://{hook}/hook\n  - name: auto\n    runbook_configs:\n      - runbook: {runbook}\n"
        ),
    )
    .expect("write");
    vec![
        format!("--config.file={}", dir.join("prometheus.yml").display()),
        format!("--alertmanager.config.file={}", dir.join("alertmanager.yml").display()),
    ]
}

pub fn executions(addr: &str, runbook: &str) -> Vec<serde_json::Value> {
    let j = get(addr, &format!("/api/bongsu/v1/respond/executions?runbook={runbook}")).json();
    j["data"].as_array().cloned().unwrap_or_default()
}

pub fn wait_execution(addr: &str, runbook: &str, state: &str, timeout: Duration) -> serde_json::Value {
    let mut last = Vec::new();
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for(&format!("an execution of {runbook} in state {state}"), timeout, || {
            last = executions(addr, runbook);
            last.iter().find(|x| x["state"] == state).cloned()
        })
    }));
    found.unwrap_or_else(|_| panic!("no execution of {runbook} reached {state}; executions: {}", serde_json::to_string_pretty(&last).unwrap_or_default()))
}

pub fn up_is(addr: &str, v: f64) -> bool {
    let d = query(addr, "up{job=\"svc\"}");
    vector_values(&d).first().is_some_and(|(_, x)| *x == v)
}

pub fn runbook(name: &str, dir: &Path, extra: &str) -> String {
    format!(
        "runbooks:\n  - name: {name}\n    description: Restart the service when it stops answering.\n    target: '{{{{ $labels.instance }}}}'\n    steps:\n      - name: restart\n        exec: {{argv: [sh, '{}/restart.sh', '{{{{ $labels.instance }}}}'], timeout: 20s}}\n{extra}",
        dir.display()
    )
}

