//! Named process groups with process-exporter's (0.7.10) metric names:
//! processes are picked and named by a [`ProcessConfig`] (process-exporter's
//! config file), tracked across scrapes by (pid, start time), and reported
//! per group as `namedprocess_namegroup_*`.
//!
//! The collector is stateful like process-exporter's Grouper and Tracker:
//! - a process is classified once, when first seen: the first matching
//!   `process_names` entry names it; otherwise, with `children` (always on,
//!   process-exporter's default), it joins the group of its nearest tracked
//!   ancestor; otherwise it is ignored for the rest of its life;
//! - group counters add what each tracked process consumed since the
//!   previous scrape (a process started after the collector's first scan
//!   counts from its start, older ones from that scan), so they never go
//!   backwards when a process exits, and a group whose processes are all
//!   gone keeps reporting its counters with zero gauges;
//! - threads of multi-threaded processes are read too: context switches and
//!   states are summed over them, and the `thread_*` families break groups
//!   down by thread name (process-exporter's `-threads`, on by default);
//! - proportional memory from `smaps_rollup` is read (`-gather-smaps`, on by
//!   default).

mod config;
mod read;

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::DirEntryExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use config::{ProcessConfig, ProcessConfigError};

use crate::expo::{Families, Kind};
use crate::HostPaths;
use config::Attrs;
use crate::util::FileReader;
use read::{Counts, Memory, Metrics, ReadFail, ReadOpts, Reading, Sched, States, Stat};

/// Kernel clock ticks per second (`USER_HZ`), as process-exporter assumes.
const USER_HZ: u64 = 100;

/// Go's zero `time.Time` in Unix seconds: process-exporter's oldest start
/// time of a group without processes.
const GO_ZERO_TIME_UNIX: f64 = -62_135_596_800.0;

/// What is remembered of one process between scrapes.
#[derive(Debug)]
struct Tracked {
    starttime: u64,
    /// The inode of its /proc directory when last seen (0: unknown).
    ino: u64,
    /// The scrape that last saw it.
    seen: u64,
    /// Its group; `None` once it was classified as not wanted.
    group: Option<Arc<str>>,
    /// Its main thread's `schedstat` when `stat` was last read.
    leader: Option<Sched>,
    /// Its `schedstat`, kept open while it is tracked and single-threaded:
    /// reading it again costs one `pread` instead of a path lookup, an
    /// `open` and a `close`, and fails once the process is gone.
    sched_file: Option<std::fs::File>,
    /// Counters at the last successful read; `None` before the first.
    last: Option<Counts>,
    /// Thread counters at the last read, by (tid, start time).
    threads: HashMap<(u32, u64), Counts>,
    /// The last reading, for reading the process cheaply while it is idle.
    prev: Option<Reading>,
    /// This scrape's reading, when it succeeded.
    now: Option<Current>,
}

impl Tracked {
    /// Its main thread's `schedstat` now; `None` when unreadable, gone, or
    /// not needed (a multi-threaded process reads its threads'). Keeps the
    /// file open while fewer than `hold_max` are held.
    fn leader_sched(&mut self, rd: &mut FileReader, dir: &str, held: &mut usize, hold_max: usize) -> Option<Sched> {
        let ignored = self.group.is_none();
        if ignored || self.prev.as_ref().is_some_and(|r| r.metrics.num_threads >= 2) {
            if self.sched_file.take().is_some() {
                *held -= 1;
            }
            // An ignored process' schedstat only says whether it is still the same process.
            return if ignored { read::read_sched(rd, dir) } else { None };
        }
        if let Some(f) = &self.sched_file {
            let sched = rd.text_at(f).ok().and_then(read::parse_schedstat);
            if sched.is_none() {
                self.sched_file = None;
                *held -= 1;
            }
            return sched;
        }
        let f = std::fs::File::open(format!("{dir}/schedstat")).ok()?;
        let sched = rd.text_at(&f).ok().and_then(read::parse_schedstat)?;
        if *held < hold_max {
            self.sched_file = Some(f);
            *held += 1;
        }
        Some(sched)
    }

    /// Whether, its main thread not having run, the process can be taken
    /// as unchanged without reading even its `stat`: an ignored process
    /// (only its identity matters, and a new process under the same pid
    /// would have another schedstat), or a single-threaded one whose last
    /// full reading is younger than [`read::REUSE_FOR`] (which bounds how
    /// stale its resident size can get should the kernel reclaim pages).
    fn idle(&self, o: &ReadOpts) -> bool {
        match (&self.group, &self.prev) {
            (None, _) => true,
            (Some(_), Some(r)) => r.metrics.num_threads < 2 && o.now.duration_since(r.full_at) < read::REUSE_FOR,
            (Some(_), None) => false,
        }
    }
}

/// One scrape's view of a tracked process.
#[derive(Debug)]
struct Current {
    delta: Counts,
    metrics: Metrics,
    /// Start time in seconds since the epoch.
    start: f64,
    /// `(thread name, counter growth)` of each thread (only for processes
    /// with two threads or more).
    thread_deltas: Vec<(String, Counts)>,
}

/// A process seen for the first time in this scrape.
struct NewProc {
    pid: u32,
    ino: u64,
    stat: Stat,
    leader: Option<Sched>,
    /// `Some(Some(g))`: goes to group g; `Some(None)`: ignored; `None`: not decided yet.
    class: Option<Option<Arc<str>>>,
}

/// Per-group history: the counters (and per-thread-name counters) so far.
#[derive(Debug, Default)]
struct GroupHistory {
    counts: Counts,
    threads: BTreeMap<String, Counts>,
}

/// One group's figures for the current scrape.
#[derive(Debug, Default)]
struct GroupNow {
    procs: u64,
    memory: Memory,
    open_fds: u64,
    worst_fd_ratio: f64,
    oldest_start: Option<f64>,
    num_threads: u64,
    states: States,
    wchans: BTreeMap<String, u64>,
    /// thread name → (threads, counters including history).
    threads: BTreeMap<String, (u64, Counts)>,
}

/// The process collector: a configuration plus what it remembers of the
/// host's processes between scrapes. Create it once and call
/// [`ProcessCollector::gather`] for every scrape (hold it behind a mutex
/// when scrapes may overlap).
pub struct ProcessCollector {
    config: ProcessConfig,
    paths: HostPaths,
    smaps: bool,
    threads: bool,
    procs: HashMap<u32, Tracked>,
    groups: BTreeMap<String, GroupHistory>,
    /// When the first scan started (seconds since the epoch).
    first_update: Option<f64>,
    boot_time: Option<u64>,
    users: HashMap<u32, String>,
    generation: u64,
    scrape_errors: u64,
    read_errors: u64,
    partial_errors: u64,
    page_size: u64,
    /// `paths.procfs` is a real procfs (see [`ReadOpts::fd_size`]).
    fd_size: bool,
    /// How many `schedstat` files may be kept open: a quarter of the open
    /// files limit, at most 16384.
    hold_max: usize,
    reader: FileReader,
}

impl std::fmt::Debug for ProcessCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessCollector")
            .field("entries", &self.config.len())
            .field("procfs", &self.paths.procfs)
            .field("tracked", &self.procs.values().filter(|p| p.group.is_some()).count())
            .field("groups", &self.groups.len())
            .finish()
    }
}

impl ProcessCollector {
    /// A collector over the host's `/proc`. Like process-exporter it scans
    /// once right away: processes already running count from now on.
    pub fn new(config: ProcessConfig) -> Self {
        Self::with_paths(config, HostPaths::default())
    }

    /// [`ProcessCollector::new`] reading `paths.procfs` (and user names
    /// from `paths.rootfs`'s `/etc/passwd`).
    pub fn with_paths(config: ProcessConfig, paths: HostPaths) -> Self {
        let mut c = ProcessCollector {
            config,
            fd_size: crate::sys::is_procfs(&paths.procfs),
            hold_max: crate::sys::open_files_limit().map_or(0, |n| (n / 4).min(16384) as usize),
            paths,
            smaps: true,
            threads: true,
            procs: HashMap::new(),
            groups: BTreeMap::new(),
            first_update: None,
            boot_time: None,
            users: HashMap::new(),
            generation: 0,
            scrape_errors: 0,
            read_errors: 0,
            partial_errors: 0,
            page_size: crate::sys::page_size(),
            reader: FileReader::default(),
        };
        let _ = catch_unwind(AssertUnwindSafe(|| c.update()));
        c
    }

    /// Scans the processes and renders the exposition (text format 0.0.4).
    /// Never panics.
    pub fn gather(&mut self) -> String {
        let updated = catch_unwind(AssertUnwindSafe(|| self.update())).unwrap_or_else(|_| {
            tracing::error!("process collector panicked");
            None
        });
        let mut out = Families::new();
        match updated {
            Some(now) => self.render(&mut out, &now),
            None => self.scrape_errors += 1,
        }
        self.render_errors(&mut out);
        catch_unwind(AssertUnwindSafe(|| out.render())).unwrap_or_default()
    }

    fn boot_time(&mut self) -> Option<u64> {
        if self.boot_time.is_none() {
            self.boot_time = self.reader.text(&self.paths.proc("stat")).ok().and_then(read::parse_btime);
        }
        self.boot_time
    }

    fn start_of(&self, starttime: u64) -> (i64, u32) {
        let boot = self.boot_time.unwrap_or(0) as i64;
        let secs = boot + (starttime / USER_HZ) as i64;
        let nanos = ((starttime % USER_HZ) * (1_000_000_000 / USER_HZ)) as u32;
        (secs, nanos)
    }

    fn username(&mut self, uid: u32) -> String {
        if let Some(n) = self.users.get(&uid) {
            return n.clone();
        }
        let passwd = crate::util::read_string(self.paths.root("etc/passwd")).unwrap_or_default();
        let name = read::parse_passwd(&passwd).remove(&uid).unwrap_or_else(|| uid.to_string());
        self.users.insert(uid, name.clone());
        name
    }

    /// One scan of every process: updates the group counters and returns
    /// this scan's figures per group. `None` when the process list itself
    /// was unreadable (process-exporter's scrape error).
    fn update(&mut self) -> Option<BTreeMap<String, GroupNow>> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let first_update = *self.first_update.get_or_insert(now);
        let Ok(rd) = std::fs::read_dir(&self.paths.procfs) else {
            tracing::debug!(procfs = %self.paths.procfs, "process collector: cannot list processes");
            return None;
        };
        if self.boot_time().is_none() {
            tracing::debug!("process collector: no btime in {}", self.paths.proc("stat"));
            return None;
        }
        self.generation += 1;
        let generation = self.generation;
        // With each pid the inode of its /proc directory: procfs gives a
        // directory a new inode when the pid names another process.
        let pids: Vec<(u32, u64)> = rd.flatten().filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.ino()))).collect();

        let opts = ReadOpts { paths: &self.paths, smaps: self.smaps, page_size: self.page_size, fd_size: self.fd_size, now: Instant::now() };
        let mut fresh: Vec<(u32, u64, Stat, Option<Sched>)> = Vec::new();
        let mut held = self.procs.values().filter(|t| t.sched_file.is_some()).count();
        let hold_max = self.hold_max;
        for (pid, ino) in pids {
            if let Some(t) = self.procs.get_mut(&pid).filter(|t| t.group.is_none() && t.ino == ino && ino != 0) {
                // Ignored, and still the same process.
                t.seen = generation;
                continue;
            }
            let dir = opts.paths.proc(&pid.to_string());
            // An unchanged main-thread schedstat means the same process that
            // has not run: `stat` need not be read to tell (see `idle`).
            let leader = match self.procs.get_mut(&pid) {
                Some(t) => t.leader_sched(&mut self.reader, &dir, &mut held, hold_max),
                None => read::read_sched(&mut self.reader, &dir),
            };
            if let Some(t) = self.procs.get_mut(&pid) {
                if leader.is_some() && leader == t.leader && t.idle(&opts) {
                    t.seen = generation;
                    t.now = None;
                    t.ino = ino;
                    if let Some(r) = t.prev.clone().filter(|_| t.group.is_some()) {
                        self.partial_errors += advance(t, r, self.boot_time, first_update);
                    }
                    continue;
                }
            }
            let Some(stat) = self.reader.text(&format!("{dir}/stat")).ok().and_then(read::parse_stat) else {
                continue;
            };
            match self.procs.get_mut(&pid) {
                Some(t) if t.starttime == stat.starttime => {
                    t.seen = generation;
                    t.now = None;
                    t.leader = leader;
                    t.ino = ino;
                    if t.group.is_some() {
                        match read::read_metrics(&opts, &mut self.reader, pid, &stat, leader, t.prev.as_ref()) {
                            Ok(r) => self.partial_errors += advance(t, r, self.boot_time, first_update),
                            Err(ReadFail::Error) => self.read_errors += 1,
                            Err(ReadFail::Gone) => {}
                        }
                    }
                }
                _ => fresh.push((pid, ino, stat, leader)),
            }
        }
        // Exited processes leave; their past consumption stays in the groups.
        self.procs.retain(|_, t| t.seen == generation);

        let needs_user = self.config.needs_username();
        let mut news: HashMap<u32, NewProc> = HashMap::with_capacity(fresh.len());
        for (pid, ino, stat, leader) in fresh {
            let st = match read::read_static(&self.paths, &mut self.reader, pid) {
                Ok(s) => s,
                Err(fail) => {
                    if fail == ReadFail::Error {
                        self.read_errors += 1;
                    }
                    continue;
                }
            };
            let (start_secs, start_nanos) = self.start_of(stat.starttime);
            let username = if needs_user { self.username(st.euid) } else { String::new() };
            let attrs = Attrs {
                comm: stat.comm.clone(),
                cmdline: st.cmdline,
                cgroups: st.cgroups,
                username,
                pid,
                start_secs,
                start_nanos,
            };
            let class = self.config.match_and_name(&attrs).map(|g| Some(Arc::<str>::from(g)));
            news.insert(pid, NewProc { pid, ino, stat, leader, class });
        }
        // Children of tracked processes join their ancestor's group.
        let undecided: Vec<u32> = news.iter().filter(|(_, n)| n.class.is_none()).map(|(&p, _)| p).collect();
        for pid in undecided {
            self.resolve_ancestry(pid, &mut news);
        }
        for n in news.into_values() {
            let group = n.class.flatten();
            let mut t = Tracked { starttime: n.stat.starttime, ino: n.ino, seen: generation, group, leader: n.leader, sched_file: None, last: None, threads: HashMap::new(), prev: None, now: None };
            if t.group.is_some() {
                let opts = ReadOpts { paths: &self.paths, smaps: self.smaps, page_size: self.page_size, fd_size: self.fd_size, now: Instant::now() };
                match read::read_metrics(&opts, &mut self.reader, n.pid, &n.stat, n.leader, None) {
                    Ok(r) => self.partial_errors += advance(&mut t, r, self.boot_time, first_update),
                    Err(ReadFail::Error) => self.read_errors += 1,
                    Err(ReadFail::Gone) => continue,
                }
            }
            self.procs.insert(n.pid, t);
        }
        Some(self.aggregate())
    }

    /// Decides the group of new process `pid` from its ancestors: the
    /// nearest tracked one's group, or ignored when the chain reaches a
    /// process that is ignored, unknown, or the root.
    fn resolve_ancestry(&self, pid: u32, news: &mut HashMap<u32, NewProc>) {
        let mut chain = Vec::new();
        let mut cur = pid;
        let verdict: Option<Arc<str>> = loop {
            match news.get(&cur) {
                Some(n) => match &n.class {
                    Some(c) => break c.clone(),
                    None => {
                        if chain.contains(&cur) || chain.len() > 4096 {
                            break None;
                        }
                        chain.push(cur);
                        cur = n.stat.ppid;
                    }
                },
                None => break self.procs.get(&cur).and_then(|t| t.group.clone()),
            }
            if cur == 0 {
                break None;
            }
        };
        for p in chain {
            if let Some(n) = news.get_mut(&p) {
                n.class = Some(verdict.clone());
            }
        }
    }

    /// Adds this scan's growth to the groups' counters and sums the gauges.
    fn aggregate(&mut self) -> BTreeMap<String, GroupNow> {
        let mut now: BTreeMap<String, GroupNow> = BTreeMap::new();
        let mut thread_deltas: BTreeMap<String, Vec<(String, Counts)>> = BTreeMap::new();
        for t in self.procs.values_mut() {
            let (Some(group), Some(cur)) = (&t.group, t.now.take()) else { continue };
            let hist = self.groups.entry(group.to_string()).or_default();
            hist.counts.add(&cur.delta);
            let g = now.entry(group.to_string()).or_default();
            let m = &cur.metrics;
            g.procs += 1;
            g.memory.add(&m.memory);
            if let Some(fds) = m.open_fds {
                g.open_fds += fds;
                let ratio = fds as f64 / m.fd_limit as f64;
                if ratio > g.worst_fd_ratio {
                    g.worst_fd_ratio = ratio;
                }
            }
            g.num_threads += m.num_threads;
            g.states.add(&m.states);
            if g.oldest_start.is_none_or(|o| cur.start < o) {
                g.oldest_start = Some(cur.start);
            }
            if !m.wchan.is_empty() {
                *g.wchans.entry(m.wchan.clone()).or_default() += 1;
            }
            for th in &m.threads {
                if !th.wchan.is_empty() {
                    *g.wchans.entry(th.wchan.clone()).or_default() += 1;
                }
            }
            if !cur.thread_deltas.is_empty() {
                thread_deltas.entry(group.to_string()).or_default().extend(cur.thread_deltas);
            }
        }
        // Thread names: this scrape's growth plus the name's history; names
        // not seen now are forgotten (as process-exporter does).
        for (name, hist) in self.groups.iter_mut() {
            let Some(deltas) = thread_deltas.remove(name) else {
                hist.threads.clear();
                continue;
            };
            let mut by_name: BTreeMap<String, (u64, Counts)> = BTreeMap::new();
            for (tname, d) in deltas {
                let e = by_name.entry(tname).or_default();
                e.0 += 1;
                e.1.add(&d);
            }
            for (tname, (_, c)) in by_name.iter_mut() {
                if let Some(old) = hist.threads.get(tname) {
                    c.add(old);
                }
            }
            hist.threads = by_name.iter().map(|(k, (_, c))| (k.clone(), *c)).collect();
            if let Some(g) = now.get_mut(name) {
                g.threads = by_name;
            }
        }
        now
    }

    fn render(&self, out: &mut Families, now: &BTreeMap<String, GroupNow>) {
        let empty = GroupNow::default();
        for (name, hist) in &self.groups {
            let g = now.get(name).unwrap_or(&empty);
            emit_group(out, name, hist, g, self.smaps, self.threads);
        }
    }

    fn render_errors(&self, out: &mut Families) {
        out.single("namedprocess_scrape_errors", "general scrape errors: no proc metrics collected during a cycle", Kind::Counter, self.scrape_errors as f64);
        out.single("namedprocess_scrape_procread_errors", "incremented each time a proc's metrics collection fails", Kind::Counter, self.read_errors as f64);
        out.single(
            "namedprocess_scrape_partial_errors",
            "incremented each time a tracked proc's metrics collection fails partially, e.g. unreadable I/O stats",
            Kind::Counter,
            self.partial_errors as f64,
        );
    }
}

fn start_secs(boot: Option<u64>, starttime: u64) -> f64 {
    boot.unwrap_or(0) as f64 + starttime as f64 / USER_HZ as f64
}

/// Records a successful read of `t`: the counters' growth since the last
/// read, or at the first read all of it when the process started after our
/// first scan (`first_update`) and none otherwise; and the threads' growth.
/// Returns 1 when the reading is partial (for the partial-errors count).
fn advance(t: &mut Tracked, r: Reading, boot: Option<u64>, first_update: f64) -> u64 {
    let start = start_secs(boot, t.starttime);
    let count_all = start > first_update;
    let partial = u64::from(r.metrics.partial);
    let mut m = r.metrics.clone();
    t.prev = Some(r);
    let delta = match &t.last {
        Some(last) => {
            if !m.io_read {
                // Unreadable I/O keeps the last known values instead of dropping to 0.
                m.counts.read_bytes = last.read_bytes;
                m.counts.write_bytes = last.write_bytes;
            }
            m.counts.since(last)
        }
        None if count_all => m.counts,
        None => Counts::default(),
    };
    t.last = Some(m.counts);
    // A thread seen for the first time contributes from its next reading.
    let mut thread_deltas = Vec::with_capacity(m.threads.len());
    let mut threads = HashMap::with_capacity(m.threads.len());
    for th in &m.threads {
        let key = (th.tid, th.starttime);
        let d = t.threads.get(&key).map(|old| th.counts.since(old)).unwrap_or_default();
        thread_deltas.push((th.name.clone(), d));
        threads.insert(key, th.counts);
    }
    t.threads = threads;
    t.now = Some(Current { delta, metrics: m, start, thread_deltas });
    partial
}

fn emit_group(out: &mut Families, name: &str, hist: &GroupHistory, g: &GroupNow, smaps: bool, threads: bool) {
    let gn = [name];
    let secs = |ticks: u64| ticks as f64 / USER_HZ as f64;
    let c = &hist.counts;
    out.family("namedprocess_namegroup_num_procs", "number of processes in this group", Kind::Gauge, &["groupname"]).push(&gn, g.procs as f64);
    let cpu = out.family("namedprocess_namegroup_cpu_seconds_total", "Cpu user usage in seconds", Kind::Counter, &["groupname", "mode"]);
    cpu.push(&[name, "user"], secs(c.utime));
    cpu.push(&[name, "system"], secs(c.stime));
    out.family("namedprocess_namegroup_read_bytes_total", "number of bytes read by this group", Kind::Counter, &["groupname"]).push(&gn, c.read_bytes as f64);
    out.family("namedprocess_namegroup_write_bytes_total", "number of bytes written by this group", Kind::Counter, &["groupname"]).push(&gn, c.write_bytes as f64);
    out.family("namedprocess_namegroup_major_page_faults_total", "Major page faults", Kind::Counter, &["groupname"]).push(&gn, c.majflt as f64);
    out.family("namedprocess_namegroup_minor_page_faults_total", "Minor page faults", Kind::Counter, &["groupname"]).push(&gn, c.minflt as f64);
    let ctx = out.family("namedprocess_namegroup_context_switches_total", "Context switches", Kind::Counter, &["groupname", "ctxswitchtype"]);
    ctx.push(&[name, "voluntary"], c.ctx_voluntary as f64);
    ctx.push(&[name, "nonvoluntary"], c.ctx_nonvoluntary as f64);
    let mem = out.family("namedprocess_namegroup_memory_bytes", "number of bytes of memory in use", Kind::Gauge, &["groupname", "memtype"]);
    mem.push(&[name, "resident"], g.memory.resident as f64);
    mem.push(&[name, "virtual"], g.memory.virtual_ as f64);
    mem.push(&[name, "swapped"], g.memory.swapped as f64);
    if smaps {
        mem.push(&[name, "proportionalResident"], g.memory.proportional_resident as f64);
        mem.push(&[name, "proportionalSwapped"], g.memory.proportional_swapped as f64);
    }
    out.family("namedprocess_namegroup_open_filedesc", "number of open file descriptors for this group", Kind::Gauge, &["groupname"]).push(&gn, g.open_fds as f64);
    out.family(
        "namedprocess_namegroup_worst_fd_ratio",
        "the worst (closest to 1) ratio between open fds and max fds among all procs in this group",
        Kind::Gauge,
        &["groupname"],
    )
    .push(&gn, g.worst_fd_ratio);
    // Whole seconds, like Go's Time.Unix(); Go's zero time for an empty group.
    let oldest = g.oldest_start.map_or(GO_ZERO_TIME_UNIX, f64::floor);
    out.family(
        "namedprocess_namegroup_oldest_start_time_seconds",
        "start time in seconds since 1970/01/01 of oldest process in group",
        Kind::Gauge,
        &["groupname"],
    )
    .push(&gn, oldest);
    out.family("namedprocess_namegroup_num_threads", "Number of threads", Kind::Gauge, &["groupname"]).push(&gn, g.num_threads as f64);
    let st = out.family(
        "namedprocess_namegroup_states",
        "Number of processes in states Running, Sleeping, Waiting, Zombie, or Other",
        Kind::Gauge,
        &["groupname", "state"],
    );
    for (state, v) in [("Running", g.states.running), ("Sleeping", g.states.sleeping), ("Waiting", g.states.waiting), ("Zombie", g.states.zombie), ("Other", g.states.other)] {
        st.push(&[name, state], v as f64);
    }
    let wc = out.family("namedprocess_namegroup_threads_wchan", "Number of threads in this group waiting on each wchan", Kind::Gauge, &["groupname", "wchan"]);
    for (w, n) in &g.wchans {
        wc.push(&[name, w.as_str()], *n as f64);
    }
    if !threads {
        return;
    }
    for (tname, (count, c)) in &g.threads {
        let t = tname.as_str();
        out.family("namedprocess_namegroup_thread_count", "Number of threads in this group with same threadname", Kind::Gauge, &["groupname", "threadname"])
            .push(&[name, t], *count as f64);
        let cpu = out.family("namedprocess_namegroup_thread_cpu_seconds_total", "Cpu user/system usage in seconds", Kind::Counter, &["groupname", "threadname", "mode"]);
        cpu.push(&[name, t, "user"], secs(c.utime));
        cpu.push(&[name, t, "system"], secs(c.stime));
        let io = out.family("namedprocess_namegroup_thread_io_bytes_total", "number of bytes read/written by these threads", Kind::Counter, &["groupname", "threadname", "iomode"]);
        io.push(&[name, t, "read"], c.read_bytes as f64);
        io.push(&[name, t, "write"], c.write_bytes as f64);
        out.family("namedprocess_namegroup_thread_major_page_faults_total", "Major page faults for these threads", Kind::Counter, &["groupname", "threadname"])
            .push(&[name, t], c.majflt as f64);
        out.family("namedprocess_namegroup_thread_minor_page_faults_total", "Minor page faults for these threads", Kind::Counter, &["groupname", "threadname"])
            .push(&[name, t], c.minflt as f64);
        let ctx = out.family(
            "namedprocess_namegroup_thread_context_switches_total",
            "Context switches for these threads",
            Kind::Counter,
            &["groupname", "threadname", "ctxswitchtype"],
        );
        ctx.push(&[name, t, "voluntary"], c.ctx_voluntary as f64);
        ctx.push(&[name, t, "nonvoluntary"], c.ctx_nonvoluntary as f64);
    }
}
