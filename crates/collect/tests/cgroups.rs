//! The cgroup collector against control groups this test creates itself:
//! a child process with a CPU quota and a memory limit burns CPU and holds
//! 64 MiB, and `gather_container_text()` must report its limits, usage and
//! throttling under cAdvisor's names. Plus a cgroup v2 fixture tree, so both
//! layouts are covered whichever one this machine has.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Tree;

use bongsu_collect::{gather_container_text, gather_container_text_from};

const MIB: f64 = 1024.0 * 1024.0;

/// `(metric name, labels, value)` of one sample.
type Sample = (String, Vec<(String, String)>, f64);

/// Every sample of an exposition whose `id` label is `id`.
fn samples_of(text: &str, id: &str) -> Vec<Sample> {
    let parsed = bongsu_scrape::exposition::parse_text(text).expect("the container exposition parses");
    parsed
        .samples
        .into_iter()
        .filter(|s| s.labels.get("id") == Some(id))
        .map(|s| {
            let name = s.labels.metric_name().unwrap_or_default().to_string();
            let labels = s.labels.iter().filter(|l| l.name != "__name__").map(|l| (l.name.to_string(), l.value.to_string())).collect();
            (name, labels, s.value)
        })
        .collect()
}

/// The sum of family `name` over the samples (0 when absent).
fn sum(samples: &[Sample], name: &str) -> f64 {
    samples.iter().filter(|s| s.0 == name).map(|s| s.2).sum()
}

fn has(samples: &[Sample], name: &str) -> bool {
    samples.iter().any(|s| s.0 == name)
}

/// Control groups made for the test, removed (after the child is killed)
/// on drop.
struct TestCgroup {
    dirs: Vec<String>,
    child: Option<Child>,
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for d in &self.dirs {
            // The kernel frees the group a moment after its last task exits.
            for _ in 0..50 {
                if std::fs::remove_dir(d).is_ok() || !std::path::Path::new(d).exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Creates `name` in every controller we read (v1) or in the unified
/// hierarchy (v2) with a 50% CPU quota and a 256 MiB memory limit. `Err`
/// says why this host does not allow it.
fn make_cgroup(name: &str) -> Result<TestCgroup, String> {
    let base = "/sys/fs/cgroup";
    let write = |path: &str, v: &str| std::fs::write(path, v).map_err(|e| format!("writing {path}: {e}"));
    if std::path::Path::new(&format!("{base}/cgroup.controllers")).exists() {
        let dir = format!("{base}/{name}");
        // Controllers must be enabled for children of the root.
        write(&format!("{base}/cgroup.subtree_control"), "+cpu +memory +io")?;
        std::fs::create_dir(&dir).map_err(|e| format!("creating {dir}: {e}"))?;
        let cg = TestCgroup { dirs: vec![dir.clone()], child: None };
        write(&format!("{dir}/cpu.max"), "50000 100000")?;
        write(&format!("{dir}/memory.max"), "268435456")?;
        return Ok(cg);
    }
    let mut cg = TestCgroup { dirs: Vec::new(), child: None };
    for ctrl in ["cpu", "cpuacct", "memory", "blkio"] {
        let root = format!("{base}/{ctrl}");
        if !std::path::Path::new(&root).is_dir() {
            return Err(format!("no cgroup v1 controller {root}"));
        }
        let dir = format!("{root}/{name}");
        match std::fs::create_dir(&dir) {
            Ok(()) => cg.dirs.push(dir),
            // cpu and cpuacct are often one hierarchy behind two symlinks.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && !cg.dirs.is_empty() => {}
            Err(e) => return Err(format!("creating {dir}: {e}")),
        }
    }
    write(&format!("{base}/cpu/{name}/cpu.cfs_period_us"), "100000")?;
    write(&format!("{base}/cpu/{name}/cpu.cfs_quota_us"), "50000")?;
    write(&format!("{base}/memory/{name}/memory.limit_in_bytes"), "268435456")?;
    Ok(cg)
}

#[test]
fn reports_a_cgroup_the_test_creates() {
    let name = format!("bongsu-test-{}", std::process::id());
    let mut cg = match make_cgroup(&name) {
        Ok(cg) => cg,
        Err(why) => {
            let msg = format!("cannot create a test cgroup ({why}): SKIPPING the live cgroup test (needs root and a writable /sys/fs/cgroup)");
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{msg}; CI=true requires it");
            }
            eprintln!("\n!!!!!!!! {msg} !!!!!!!!\n");
            return;
        }
    };
    // The child waits for a line on stdin (so it is in the group before it
    // allocates: v1 does not move memory charges), then holds 64 MiB of
    // anonymous memory and spins.
    let mut child = Command::new("python3")
        .args(["-c", "import sys,time\nsys.stdin.readline()\nb=b'x'*(64<<20)\nt=time.time()\nwhile time.time()-t<30: pass\n"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("start python3");
    let pid = child.id().to_string();
    for dir in &cg.dirs {
        std::fs::write(format!("{dir}/cgroup.procs"), &pid).unwrap_or_else(|e| panic!("moving the child into {dir}: {e}"));
    }
    child.stdin.take().expect("stdin").write_all(b"go\n").expect("signal the child");
    cg.child = Some(child);
    let id = format!("/{name}");
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(2500));

    let text = gather_container_text();
    let first = samples_of(&text, &id);
    let elapsed = started.elapsed().as_secs_f64();
    assert!(!first.is_empty(), "no series with id={id:?} in:\n{text}");
    assert!(text.contains("container_scrape_error 0\n"));

    assert_eq!(sum(&first, "container_spec_cpu_quota"), 50000.0);
    assert_eq!(sum(&first, "container_spec_cpu_period"), 100000.0);
    assert_eq!(sum(&first, "container_spec_memory_limit_bytes"), 268435456.0);

    // 64 MiB of anonymous memory, charged to the group.
    let usage = sum(&first, "container_memory_usage_bytes");
    let rss = sum(&first, "container_memory_rss");
    let ws = sum(&first, "container_memory_working_set_bytes");
    assert!((64.0 * MIB..256.0 * MIB).contains(&usage), "usage {usage}");
    assert!(rss >= 60.0 * MIB, "rss {rss}");
    assert!(ws >= 60.0 * MIB && ws <= usage, "working set {ws}, usage {usage}");

    // A spinning child under a 50% quota: clearly busy, never above half a
    // CPU (plus a small allowance for the quota's granularity), throttled.
    let cpu = sum(&first, "container_cpu_usage_seconds_total");
    assert!(cpu > 0.3, "cpu {cpu} s in {elapsed:.1} s");
    assert!(cpu < elapsed * 0.5 + 0.3, "cpu {cpu} s in {elapsed:.1} s exceeds the 50% quota");
    assert!(sum(&first, "container_cpu_cfs_throttled_periods_total") > 0.0);
    assert!(sum(&first, "container_cpu_cfs_periods_total") >= sum(&first, "container_cpu_cfs_throttled_periods_total"));
    let user_sys = sum(&first, "container_cpu_user_seconds_total") + sum(&first, "container_cpu_system_seconds_total");
    assert!((user_sys - cpu).abs() < 0.5, "user+system {user_sys} vs usage {cpu}");

    let seen = sum(&first, "container_last_seen");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
    assert!((now - seen).abs() < 5.0, "last_seen {seen} vs now {now}");
    let created = sum(&first, "container_start_time_seconds");
    assert!(created <= now + 1.0 && created > now - 60.0, "start time {created} vs now {now}");
    // A plain cgroup shares the host's network namespace: no network series.
    assert!(!has(&first, "container_network_receive_bytes_total"));

    std::thread::sleep(Duration::from_millis(1000));
    let second = samples_of(&gather_container_text(), &id);
    let cpu2 = sum(&second, "container_cpu_usage_seconds_total");
    assert!(cpu2 > cpu + 0.2, "cpu did not advance: {cpu} → {cpu2}");
}

#[test]
fn cgroup_v2_tree_with_a_docker_container() {
    let t = Tree::new("v2");
    let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let cg = format!("sys/fs/cgroup/system.slice/docker-{id}.scope");
    t.file("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
    t.file("sys/fs/cgroup/cpu.stat", "usage_usec 9000000\nuser_usec 6000000\nsystem_usec 3000000\n");
    t.file("sys/fs/cgroup/system.slice/cpu.stat", "usage_usec 5\n");
    t.file(&format!("{cg}/cgroup.procs"), "4242\n");
    t.file(&format!("{cg}/cpu.max"), "25000 100000\n");
    t.file(&format!("{cg}/cpu.weight"), "100\n");
    t.file(&format!("{cg}/cpu.stat"), "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 40\nnr_throttled 7\nthrottled_usec 1200000\n");
    t.file(&format!("{cg}/memory.current"), "104857600\n");
    t.file(&format!("{cg}/memory.max"), "max\n");
    t.file(&format!("{cg}/memory.min"), "0\n");
    t.file(&format!("{cg}/memory.swap.max"), "max\n");
    t.file(&format!("{cg}/memory.swap.current"), "4096\n");
    t.file(&format!("{cg}/memory.stat"), "anon 52428800\nfile 41943040\nkernel 1048576\nfile_mapped 8192\nactive_file 20971520\ninactive_file 20971520\npgfault 1000\npgmajfault 3\n");
    t.file(&format!("{cg}/memory.events"), "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n");
    t.file(&format!("{cg}/io.stat"), "8:0 rbytes=4096 wbytes=12288 rios=1 wios=3 dbytes=0 dios=0\n");
    for res in ["cpu", "memory", "io"] {
        t.file(&format!("{cg}/{res}.pressure"), "some avg10=0.00 avg60=0.00 avg300=0.00 total=2000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=500000\n");
    }
    t.file("sys/dev/block/8:0/uevent", "MAJOR=8\nMINOR=0\nDEVNAME=sda\nDEVTYPE=disk\n");
    // The container lives in its own network namespace.
    t.file("proc/4242/net/dev", "Inter-|\n face |\n    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n  eth0: 1000 10 1 2 0 0 0 0 2000 20 3 4 0 0 0 0\n");
    std::fs::create_dir_all(t.path("proc/1/ns")).expect("ns dir");
    std::fs::create_dir_all(t.path("proc/4242/ns")).expect("ns dir");
    std::os::unix::fs::symlink("net:[4026531840]", t.path("proc/1/ns/net")).expect("symlink");
    std::os::unix::fs::symlink("net:[4026532000]", t.path("proc/4242/ns/net")).expect("symlink");
    t.file("proc/meminfo", "MemTotal: 1000 kB\nMemFree: 400 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n");
    t.file(
        &format!("root/var/lib/docker/containers/{id}/config.v2.json"),
        r#"{"Name":"/web-1","Config":{"Image":"nginx:1.27","Labels":{"com.docker.compose.service":"web"}}}"#,
    );
    let paths = t.paths();
    let text = gather_container_text_from(&paths);
    let cid = format!("/system.slice/docker-{id}.scope");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(&cid)).collect();
    let got = |prefix: &str| -> Vec<String> {
        lines.iter().filter(|l| l.starts_with(prefix)).map(|l| l.replace(&cid, "ID")).collect()
    };
    // The expected line of `name` with the container's labels plus `extra`,
    // labels sorted by name as the exposition prints them.
    let expect = |name: &str, extra: &[(&str, &str)], value: &str| -> Vec<String> {
        let mut labels = vec![
            ("container_label_com_docker_compose_service", "web"),
            ("id", "ID"),
            ("image", "nginx:1.27"),
            ("name", "web-1"),
        ];
        labels.extend_from_slice(extra);
        labels.sort();
        let body: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        vec![format!("{name}{{{}}} {value}", body.join(","))]
    };
    for (name, extra, value) in [
        ("container_cpu_usage_seconds_total", &[("cpu", "total")][..], "2.5"),
        ("container_spec_cpu_quota", &[], "25000"),
        ("container_spec_cpu_shares", &[], "2597"),
        ("container_spec_memory_limit_bytes", &[], "0"),
        ("container_cpu_cfs_throttled_seconds_total", &[], "1.2"),
        ("container_memory_working_set_bytes", &[], "83886080"),
        ("container_memory_failcnt", &[], "2"),
        ("container_oom_events_total", &[], "1"),
        ("container_fs_writes_bytes_total", &[("device", "/dev/sda")], "12288"),
        ("container_pressure_io_stalled_seconds_total", &[], "0.5"),
        // lo is left out like cAdvisor does.
        ("container_network_transmit_bytes_total", &[("interface", "eth0")], "2000"),
    ] {
        assert_eq!(got(&format!("{name}{{")), expect(name, extra, value), "{name}");
    }
    // The root cgroup: memory from /proc/meminfo, CPU from its cpu.stat.
    assert!(text.contains(r#"container_memory_usage_bytes{container_label_com_docker_compose_service="",id="/",image="",name=""} 614400"#), "{text}");
    assert!(text.contains(r#"container_cpu_usage_seconds_total{container_label_com_docker_compose_service="",cpu="total",id="/",image="",name=""} 9"#));
    // An intermediate group without limits has no quota series.
    assert!(!text.contains(r#"container_spec_cpu_quota{container_label_com_docker_compose_service="",id="/system.slice""#));
}

#[test]
fn host_without_cgroups_reports_a_scrape_error() {
    let t = Tree::new("none");
    t.file("sys/fs/nothing", "");
    let paths = t.paths();
    let text = gather_container_text_from(&paths);
    assert!(text.ends_with("container_scrape_error 1\n"), "{text}");
}
