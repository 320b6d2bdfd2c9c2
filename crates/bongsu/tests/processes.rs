//! `/collect/processes` end to end: off (404 saying how to enable it)
//! without `--collector.processes.config`; with it, the documented scrape
//! job stores `namedprocess_*` series for a process this test starts.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

/// A child killed and reaped however the test ends.
struct Kid(std::process::Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn process_collector_is_off_by_default_and_scraped_when_configured() {
    let dir = tempfile::tempdir().expect("tmp");
    let b = Bongsu::start(dir.path(), &dir.path().join("data"), &[]);
    let r = get(&b.addr, "/collect/processes");
    assert_eq!(r.status, 404);
    assert!(r.body.contains("--collector.processes.config"), "{}", r.body);
    drop(b);

    let me = std::process::id();
    let _sleeper = Kid(Command::new("sleep").arg(format!("3600.{me}")).stdout(Stdio::null()).spawn().expect("start sleep"));
    let dir = tempfile::tempdir().expect("tmp");
    let procs = dir.path().join("processes.yml");
    std::fs::write(&procs, format!("process_names:\n  - name: 'sleeper'\n    cmdline: ['^sleep 3600\\.{me}$']\n")).expect("write");
    let port = free_port();
    let cfg = dir.path().join("prometheus.yml");
    // The scrape job docs/compatibility.md gives, on a short interval.
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: process-exporter\n    metrics_path: /collect/processes\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"),
    )
    .expect("write");
    let mut cmd = Command::new(bongsu_bin());
    cmd.arg("run")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--collector.processes.config={}", procs.display()));
    let _server = Proc::spawn("bongsu-processes", &mut cmd, dir.path());
    let addr = format!("127.0.0.1:{port}");
    wait_for("bongsu ready", Duration::from_secs(60), || http("GET", &addr, "/-/ready", None).ok().filter(|r| r.status == 200).map(|_| ()));
    let r = get(&addr, "/collect/processes");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("namedprocess_namegroup_num_procs{groupname=\"sleeper\"} 1\n"), "{}", r.body);
    wait_for("num_procs stored", Duration::from_secs(30), || {
        let v = vector_values(&query(&addr, "namedprocess_namegroup_num_procs{job=\"process-exporter\",groupname=\"sleeper\"}"));
        (v.first().map(|x| x.1) == Some(1.0)).then_some(())
    });

    // A bad config file is refused at start with its position.
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "process_names:\n  - name: x\n    cmdline: ['(']\n").expect("write");
    let out = Command::new(bongsu_bin())
        .arg("run")
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data2").display()))
        .arg(format!("--collector.processes.config={}", bad.display()))
        .output()
        .expect("run bongsu");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yml:3:") && err.contains("bad cmdline regex"), "{err}");
}
