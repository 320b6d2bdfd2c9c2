//! The process collector over fixture `/proc` trees: grouping (first match
//! wins, name templates, the `unit:` extension, children), counters that
//! never go backwards when processes exit or pids are reused, threads, and
//! error counters. The side-by-side comparison with Debian's
//! prometheus-process-exporter is in `process_exporter.rs`.

use std::time::{SystemTime, UNIX_EPOCH};

mod common;
use common::Tree;

use bongsu_collect::{HostPaths, ProcessCollector, ProcessConfig};

/// One fixture process.
#[derive(Clone)]
struct P {
    pid: u32,
    ppid: u32,
    comm: &'static str,
    argv: Vec<&'static str>,
    uid: u32,
    /// Clock ticks after boot.
    start: u64,
    utime: u64,
    stime: u64,
    minflt: u64,
    majflt: u64,
    vsize: u64,
    rss: u64,
    cgroup: &'static str,
    read_bytes: Option<u64>,
    write_bytes: u64,
    fds: usize,
    /// Extra thread ids (besides the main thread), each with 10 ticks of user time.
    threads: Vec<u32>,
    state: char,
}

impl P {
    fn new(pid: u32, ppid: u32, comm: &'static str, argv: &[&'static str]) -> P {
        P {
            pid,
            ppid,
            comm,
            argv: argv.to_vec(),
            uid: 0,
            start: 1000 + pid as u64,
            utime: 100,
            stime: 20,
            minflt: 1000,
            majflt: 3,
            vsize: 10 << 20,
            rss: 256,
            cgroup: "0::/user.slice\n",
            read_bytes: Some(4096),
            write_bytes: 8192,
            fds: 4,
            threads: Vec::new(),
            state: 'S',
        }
    }

    fn stat_line(&self, tid: u32, comm: &str, utime: u64, state: char) -> String {
        format!(
            "{tid} ({comm}) {state} {} {} {} 0 -1 4194560 {} 0 {} 0 {utime} {} 0 0 20 0 {} 0 {} {} {} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
            self.ppid,
            self.pid,
            self.pid,
            self.minflt,
            self.majflt,
            self.stime,
            1 + self.threads.len(),
            self.start,
            self.vsize,
            self.rss,
        )
    }

    fn status(&self, vol: u64) -> String {
        format!(
            "Name:\t{}\nState:\t{}\nPid:\t{}\nPPid:\t{}\nUid:\t{u}\t{u}\t{u}\t{u}\nVmSwap:\t       8 kB\nvoluntary_ctxt_switches:\t{vol}\nnonvoluntary_ctxt_switches:\t1\n",
            self.comm, self.state, self.pid, self.ppid, u = self.uid
        )
    }

    fn write(&self, t: &Tree) {
        let d = format!("proc/{}", self.pid);
        t.file(&format!("{d}/stat"), &self.stat_line(self.pid, self.comm, self.utime, self.state));
        t.file(&format!("{d}/status"), &self.status(10));
        let mut cmdline = self.argv.join("\0");
        if !cmdline.is_empty() {
            cmdline.push('\0');
        }
        t.file(&format!("{d}/cmdline"), &cmdline);
        t.file(&format!("{d}/cgroup"), self.cgroup);
        t.file(&format!("{d}/limits"), "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1000                 4096                 files     \n");
        t.file(&format!("{d}/wchan"), "do_select");
        t.file(&format!("{d}/smaps_rollup"), "00400000-ffffffff ---p 00000000 00:00 0 [rollup]\nRss: 1024 kB\nPss: 100 kB\nSwapPss: 2 kB\n");
        let _ = std::fs::remove_file(t.0.join(format!("{d}/io")));
        if let Some(rb) = self.read_bytes {
            t.file(&format!("{d}/io"), &format!("rchar: 1\nwchar: 1\nread_bytes: {rb}\nwrite_bytes: {}\ncancelled_write_bytes: 0\n", self.write_bytes));
        }
        let _ = std::fs::remove_dir_all(t.0.join(format!("{d}/fd")));
        std::fs::create_dir_all(t.0.join(format!("{d}/fd"))).expect("fd dir");
        for i in 0..self.fds {
            t.file(&format!("{d}/fd/{i}"), "");
        }
        // task/: the main thread, plus any extra threads.
        let _ = std::fs::remove_dir_all(t.0.join(format!("{d}/task")));
        t.file(&format!("{d}/task/{}/stat", self.pid), &self.stat_line(self.pid, self.comm, self.utime, self.state));
        t.file(&format!("{d}/task/{}/status", self.pid), &self.status(10));
        t.file(&format!("{d}/task/{}/wchan", self.pid), "do_select");
        for &tid in &self.threads {
            t.file(&format!("{d}/task/{tid}/stat"), &self.stat_line(tid, "worker", 10, 'R'));
            t.file(&format!("{d}/task/{tid}/status"), &self.status(5));
            t.file(&format!("{d}/task/{tid}/wchan"), "0");
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

/// A /proc with `btime` set so that processes started at tick `start`
/// began `btime + start/100` seconds after the epoch.
fn base_tree(tag: &str, btime: u64) -> Tree {
    let t = Tree::new(tag);
    t.file("proc/stat", &format!("cpu  1 2 3 4\nbtime {btime}\nprocesses 10\n"));
    t.file("root/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\npostgres:x:105:110::/var/lib/postgresql:/bin/bash\n");
    t
}

/// The value of the series `name{labels}` (labels in any order, all given).
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let parsed = bongsu_scrape::exposition::parse_text(text).expect("the exposition parses");
    let found: Vec<f64> = parsed
        .samples
        .iter()
        .filter(|s| s.labels.metric_name() == Some(name))
        .filter(|s| s.labels.iter().filter(|l| l.name != "__name__").count() == labels.len())
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| s.value)
        .collect();
    assert!(found.len() <= 1, "{name}{labels:?} is ambiguous in:\n{text}");
    found.first().copied()
}

fn g(text: &str, name: &str, group: &str) -> f64 {
    value(text, &format!("namedprocess_namegroup_{name}"), &[("groupname", group)]).unwrap_or_else(|| panic!("no {name} for {group:?} in:\n{text}"))
}

fn cpu(text: &str, group: &str, mode: &str) -> f64 {
    value(text, "namedprocess_namegroup_cpu_seconds_total", &[("groupname", group), ("mode", mode)]).unwrap_or_else(|| panic!("no cpu for {group}"))
}

fn groups(text: &str) -> Vec<String> {
    let parsed = bongsu_scrape::exposition::parse_text(text).expect("parses");
    let mut gs: Vec<String> = parsed
        .samples
        .iter()
        .filter(|s| s.labels.metric_name() == Some("namedprocess_namegroup_num_procs"))
        .filter_map(|s| s.labels.get("groupname").map(str::to_string))
        .collect();
    gs.sort();
    gs
}

const CONFIG: &str = r#"
process_names:
  # the port from the command line
  - name: "web:{{.Matches.port}}"
    cmdline: ['--port=(?P<port>\d+)']
  - name: "{{.Comm}}"
    comm: [postgres]
  # Bongsu extension: the systemd unit
  - name: "svc-{{.Username}}"
    unit: [nginx]
  # never reached by postgres or nginx: the first match wins
  - name: catchall
    comm: [postgres, nginx, cron]
"#;

fn host(t: &Tree) -> Vec<P> {
    let mut init = P::new(1, 0, "systemd", &["/sbin/init"]);
    init.start = 1;
    let mut pg = P::new(200, 1, "postgres", &["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/pg"]);
    pg.uid = 105;
    let mut writer = P::new(201, 200, "postgres", &["postgres: writer"]);
    writer.uid = 105;
    // Not matched by name: children of a tracked process join its group.
    let sh = P::new(202, 200, "sh", &["sh", "-c", "cat"]);
    let cat = P::new(203, 202, "cat", &["cat"]);
    let mut nginx = P::new(300, 1, "nginx", &["nginx: master process"]);
    nginx.uid = 33;
    nginx.cgroup = "0::/system.slice/nginx.service\n";
    let mut web = P::new(400, 1, "python3", &["python3", "app.py", "--port=8080"]);
    web.threads = vec![401, 402];
    let other = P::new(500, 1, "python3", &["python3", "other.py"]);
    let other_child = P::new(501, 500, "sh", &["sh"]);
    let cron = P::new(600, 1, "cron", &["/usr/sbin/cron"]);
    let procs = vec![init, pg, writer, sh, cat, nginx, web, other, other_child, cron];
    for p in &procs {
        p.write(t);
    }
    procs
}

fn collector(t: &Tree) -> ProcessCollector {
    let cfg = ProcessConfig::from_yaml(CONFIG, "fixture.yml").expect("config");
    ProcessCollector::with_paths(cfg, t.paths())
}

#[test]
fn groups_children_templates_and_units() {
    // Boot time in the future: every process "started" after the collector's
    // first scan, so all it consumed counts.
    // One boot time for the fixture and the expectation (two now_secs()
    // calls may straddle a second).
    let boot = now_secs() + 100_000;
    let t = base_tree("groups", boot);
    let procs = host(&t);
    let mut c = collector(&t);
    let text = c.gather();
    assert_eq!(groups(&text), vec!["catchall", "postgres", "svc-www-data", "web:8080"], "{text}");

    // postgres: two matched by name, sh and cat as descendants.
    assert_eq!(g(&text, "num_procs", "postgres"), 4.0);
    assert_eq!(cpu(&text, "postgres", "user"), 4.0);
    assert_eq!(cpu(&text, "postgres", "system"), 0.8);
    assert_eq!(g(&text, "read_bytes_total", "postgres"), 4.0 * 4096.0);
    assert_eq!(g(&text, "write_bytes_total", "postgres"), 4.0 * 8192.0);
    assert_eq!(g(&text, "major_page_faults_total", "postgres"), 12.0);
    assert_eq!(g(&text, "minor_page_faults_total", "postgres"), 4000.0);
    assert_eq!(g(&text, "open_filedesc", "postgres"), 16.0);
    assert_eq!(g(&text, "worst_fd_ratio", "postgres"), 0.004);
    assert_eq!(g(&text, "num_threads", "postgres"), 4.0);
    let btime = boot as f64;
    assert_eq!(g(&text, "oldest_start_time_seconds", "postgres"), (btime + 12.0).floor());
    let mem = |group: &str, kind: &str| value(&text, "namedprocess_namegroup_memory_bytes", &[("groupname", group), ("memtype", kind)]).expect("memory");
    assert_eq!(mem("postgres", "virtual"), 4.0 * (10 << 20) as f64);
    assert_eq!(mem("postgres", "swapped"), 4.0 * 8192.0);
    assert_eq!(mem("postgres", "proportionalResident"), 4.0 * 100.0 * 1024.0);
    assert_eq!(mem("postgres", "proportionalSwapped"), 4.0 * 2048.0);
    let page = mem("postgres", "resident") / (4.0 * 256.0);
    assert!(page >= 4096.0 && (page as u64).is_power_of_two(), "page size {page}");
    let state = |group: &str, s: &str| value(&text, "namedprocess_namegroup_states", &[("groupname", group), ("state", s)]).expect("state");
    assert_eq!(state("postgres", "Sleeping"), 4.0);
    assert_eq!(state("postgres", "Running"), 0.0);
    assert_eq!(value(&text, "namedprocess_namegroup_threads_wchan", &[("groupname", "postgres"), ("wchan", "do_select")]), Some(4.0));

    // unit: nginx.service, named by the effective user.
    assert_eq!(g(&text, "num_procs", "svc-www-data"), 1.0);
    // cron reaches the last entry; python3 other.py and its child match nothing.
    assert_eq!(g(&text, "num_procs", "catchall"), 1.0);

    // A three-thread process: states and context switches summed over the
    // threads (plus the process' own state), thread families by thread name.
    assert_eq!(g(&text, "num_procs", "web:8080"), 1.0);
    assert_eq!(g(&text, "num_threads", "web:8080"), 3.0);
    assert_eq!(state("web:8080", "Sleeping"), 2.0);
    assert_eq!(state("web:8080", "Running"), 2.0);
    let ctx = |group: &str, kind: &str, text: &str| {
        value(text, "namedprocess_namegroup_context_switches_total", &[("groupname", group), ("ctxswitchtype", kind)]).expect("ctx")
    };
    assert_eq!(ctx("web:8080", "voluntary", &text), 20.0);
    assert_eq!(ctx("postgres", "voluntary", &text), 40.0);
    let tcount = |text: &str, tname: &str| value(text, "namedprocess_namegroup_thread_count", &[("groupname", "web:8080"), ("threadname", tname)]);
    assert_eq!(tcount(&text, "worker"), Some(2.0));
    assert_eq!(tcount(&text, "python3"), Some(1.0));
    // Threads count from their first sighting.
    let tcpu = |text: &str| {
        value(text, "namedprocess_namegroup_thread_cpu_seconds_total", &[("groupname", "web:8080"), ("threadname", "worker"), ("mode", "user")]).expect("thread cpu")
    };
    assert_eq!(tcpu(&text), 0.0);
    assert!(!text.contains("thread_count{groupname=\"postgres\""), "single-threaded processes have no thread series");
    assert_eq!(value(&text, "namedprocess_scrape_partial_errors", &[]), Some(0.0));

    // Second scrape: postgres works, cat exits, a thread works, the web
    // process exits altogether.
    let mut pg = procs[1].clone();
    pg.utime += 50;
    pg.write(&t);
    t.remove("proc/203");
    let mut web = procs[6].clone();
    web.utime += 7;
    web.write(&t);
    t.file("proc/400/task/401/stat", &web.stat_line(401, "worker", 25, 'R'));
    let text2 = c.gather();
    assert_eq!(g(&text2, "num_procs", "postgres"), 3.0);
    // cat's consumption stays in the group: 4.0 + 0.5.
    assert_eq!(cpu(&text2, "postgres", "user"), 4.5);
    assert_eq!(g(&text2, "minor_page_faults_total", "postgres"), 4000.0);
    assert_eq!(cpu(&text2, "web:8080", "user"), 1.07);
    assert_eq!(tcpu(&text2), 0.15);

    t.remove("proc/400");
    // pid 201 is reused by an unrelated process: the old writer is gone.
    let mut reused = P::new(201, 1, "bash", &["bash"]);
    reused.start = 99_999;
    reused.write(&t);
    let text3 = c.gather();
    assert_eq!(g(&text3, "num_procs", "postgres"), 2.0);
    assert_eq!(cpu(&text3, "postgres", "user"), 4.5);
    // A group whose processes are all gone keeps its counters, with zero
    // gauges and Go's zero time as its oldest start.
    assert_eq!(g(&text3, "num_procs", "web:8080"), 0.0);
    assert_eq!(cpu(&text3, "web:8080", "user"), 1.07);
    assert_eq!(g(&text3, "oldest_start_time_seconds", "web:8080"), -62135596800.0);
    assert_eq!(g(&text3, "num_threads", "web:8080"), 0.0);
    assert_eq!(tcount(&text3, "worker"), None);
    assert_eq!(value(&text3, "namedprocess_scrape_errors", &[]), Some(0.0));
}

#[test]
fn processes_older_than_the_first_scan_count_from_it() {
    // Boot in 1970: every fixture process predates the collector.
    let t = base_tree("old", 1000);
    let mut old = P::new(700, 1, "cron", &["/usr/sbin/cron"]);
    old.utime = 5000;
    old.write(&t);
    let mut c = ProcessCollector::with_paths(ProcessConfig::from_yaml("process_names:\n  - comm: [cron]\n", "c.yml").expect("config"), t.paths());
    let text = c.gather();
    assert_eq!(cpu(&text, "cron", "user"), 0.0, "{text}");
    assert_eq!(g(&text, "minor_page_faults_total", "cron"), 0.0);
    old.utime = 5100;
    old.write(&t);
    let text = c.gather();
    assert_eq!(cpu(&text, "cron", "user"), 1.0);
    // One started after the first scan counts from its start.
    let mut young = P::new(701, 1, "cron", &["/usr/sbin/cron"]);
    young.start = now_secs() * 100;
    young.utime = 300;
    young.write(&t);
    let text = c.gather();
    assert_eq!(g(&text, "num_procs", "cron"), 2.0);
    assert_eq!(cpu(&text, "cron", "user"), 4.0);
}

#[test]
fn unreadable_io_is_a_partial_error_and_keeps_counters() {
    let t = base_tree("io", now_secs() + 100_000);
    let mut p = P::new(800, 1, "worker", &["worker"]);
    p.write(&t);
    let mut c = ProcessCollector::with_paths(ProcessConfig::from_yaml("process_names:\n  - comm: [worker]\n", "c.yml").expect("config"), t.paths());
    let text = c.gather();
    assert_eq!(g(&text, "read_bytes_total", "worker"), 4096.0);
    p.read_bytes = None;
    p.write(&t);
    let text = c.gather();
    assert_eq!(g(&text, "num_procs", "worker"), 1.0);
    assert_eq!(g(&text, "read_bytes_total", "worker"), 4096.0);
    assert_eq!(value(&text, "namedprocess_scrape_partial_errors", &[]), Some(1.0));
    p.read_bytes = Some(5000);
    p.write(&t);
    let text = c.gather();
    assert_eq!(g(&text, "read_bytes_total", "worker"), 5000.0);
}

#[test]
fn missing_procfs_is_a_scrape_error_and_empty_config_tracks_nothing() {
    let t = base_tree("none", 1000);
    let mut c = ProcessCollector::with_paths(ProcessConfig::default(), HostPaths { procfs: t.path("nope"), ..t.paths() });
    let text = c.gather();
    assert_eq!(value(&text, "namedprocess_scrape_errors", &[]), Some(1.0), "{text}");
    assert!(!text.contains("namedprocess_namegroup_"));
    host(&t);
    let mut c = ProcessCollector::with_paths(ProcessConfig::default(), t.paths());
    let text = c.gather();
    assert_eq!(value(&text, "namedprocess_scrape_errors", &[]), Some(0.0));
    assert!(!text.contains("namedprocess_namegroup_"), "{text}");
}

#[test]
fn mangled_proc_files_never_panic() {
    let t = base_tree("mangled", now_secs() + 100_000);
    let procs = host(&t);
    let mut c = collector(&t);
    let stat = procs[1].stat_line(200, "postgres", 100, 'S');
    for (i, bad) in ["", "200 (postgres", "200 postgres) S", "x (y) Z 1 2 3", "\0\0\0"].iter().enumerate() {
        t.file("proc/200/stat", bad);
        t.file("proc/201/status", bad);
        t.file("proc/202/limits", bad);
        t.file("proc/203/cgroup", bad);
        t.file("proc/300/smaps_rollup", bad);
        let text = c.gather();
        assert!(text.contains("namedprocess_scrape_errors 0"), "round {i}: {text}");
        t.file("proc/200/stat", &stat);
    }
}

#[test]
fn shipped_example_config_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/processes.yml");
    let cfg = ProcessConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.len(), 3);
}

/// On the real /proc: an idle process and a busy one, started after the
/// collector's first scan. The idle one is read from its schedstat alone
/// (kept open); its exit must still be seen at once, and the busy one's
/// CPU must keep counting.
#[test]
fn real_idle_and_busy_processes_on_this_host() {
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command, Stdio};
    /// Kills the child even when an assertion fails.
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let tag = format!("bongsu-proc-test-{}", std::process::id());
    let cfg = format!("process_names:\n  - name: idle\n    cmdline: ['^{tag}-idle 30$']\n  - name: busy\n    cmdline: ['{tag}-busy']\n");
    let mut c = ProcessCollector::new(ProcessConfig::from_yaml(&cfg, "real.yml").expect("config"));
    let spawn = |cmd: &mut Command| Kill(cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("child"));
    let mut idle = spawn(Command::new("sleep").arg0(format!("{tag}-idle")).arg("30"));
    let busy = spawn(Command::new("sh").args(["-c", "while :; do :; done", &format!("{tag}-busy")]));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let first = c.gather();
    assert_eq!(g(&first, "num_procs", "idle"), 1.0, "{first}");
    assert_eq!(g(&first, "num_procs", "busy"), 1.0);
    let fds = std::fs::read_dir(format!("/proc/{}/fd", busy.0.id())).expect("fd dir").count();
    assert_eq!(g(&first, "open_filedesc", "busy"), fds as f64, "the fd directory's entries");
    let busy_cpu = |text: &str| cpu(text, "busy", "user") + cpu(text, "busy", "system");
    let mut last = busy_cpu(&first);
    for round in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(700));
        let text = c.gather();
        assert_eq!(g(&text, "num_procs", "idle"), 1.0, "round {round}");
        assert!(cpu(&text, "idle", "user") + cpu(&text, "idle", "system") < 0.1, "sleep uses no CPU: {text}");
        let now = busy_cpu(&text);
        assert!(now >= last + 0.3, "round {round}: the busy loop's CPU went {last} → {now}");
        last = now;
    }
    let _ = idle.0.kill();
    let _ = idle.0.wait();
    let text = c.gather();
    assert_eq!(g(&text, "num_procs", "idle"), 0.0, "an exited process leaves at the next scrape: {text}");
    assert_eq!(g(&text, "num_procs", "busy"), 1.0);
}
