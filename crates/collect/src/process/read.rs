//! Parsers for the `/proc/<pid>/…` files the process collector reads, and
//! the readers that put them together for one process. Parsers are pure and
//! never panic; readers go through [`HostPaths::procfs`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::util::FileReader;
use crate::HostPaths;

/// `/proc/<pid>/stat` fields the collector uses (proc(5) numbering in
/// comments).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stat {
    /// (2) between the first `(` and the last `)`.
    pub comm: String,
    /// (3) one letter.
    pub state: char,
    /// (4)
    pub ppid: u32,
    /// (10) (12)
    pub minflt: u64,
    pub majflt: u64,
    /// (14) (15) in clock ticks.
    pub utime: u64,
    pub stime: u64,
    /// (20)
    pub num_threads: u64,
    /// (22) clock ticks after boot.
    pub starttime: u64,
    /// (23) bytes.
    pub vsize: u64,
    /// (24) pages.
    pub rss: u64,
}

pub(crate) fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let comm = text[open + 1..close].to_string();
    let f: Vec<&str> = text[close + 1..].split_whitespace().collect();
    if f.len() < 22 {
        return None;
    }
    let n = |i: usize| f[i].parse::<u64>().ok();
    Some(Stat {
        comm,
        state: f[0].chars().next()?,
        ppid: f[1].parse().ok()?,
        minflt: n(7)?,
        majflt: n(9)?,
        utime: n(11)?,
        stime: n(12)?,
        num_threads: n(17)?,
        starttime: n(19)?,
        vsize: n(20)?,
        // A negative RSS (never seen, but a signed field) counts as 0.
        rss: f[21].parse::<i64>().ok()?.max(0) as u64,
    })
}

/// `/proc/<pid>/status` fields the collector uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Status {
    /// The second `Uid:` field, when present.
    pub euid: Option<u32>,
    pub vm_swap_bytes: u64,
    pub voluntary_ctxt_switches: u64,
    pub nonvoluntary_ctxt_switches: u64,
}

pub(crate) fn parse_status(text: &str) -> Status {
    let mut s = Status::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let mut words = v.split_whitespace();
        match k {
            "Uid" => s.euid = words.nth(1).and_then(|w| w.parse().ok()),
            "VmSwap" => s.vm_swap_bytes = words.next().and_then(|w| w.parse::<u64>().ok()).unwrap_or(0).saturating_mul(1024),
            "voluntary_ctxt_switches" => s.voluntary_ctxt_switches = words.next().and_then(|w| w.parse().ok()).unwrap_or(0),
            "nonvoluntary_ctxt_switches" => s.nonvoluntary_ctxt_switches = words.next().and_then(|w| w.parse().ok()).unwrap_or(0),
            _ => {}
        }
    }
    s
}

/// `(read_bytes, write_bytes)` of `/proc/<pid>/io`.
pub(crate) fn parse_io(text: &str) -> Option<(u64, u64)> {
    let (mut r, mut w) = (None, None);
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        match k.trim() {
            "read_bytes" => r = v.trim().parse().ok(),
            "write_bytes" => w = v.trim().parse().ok(),
            _ => {}
        }
    }
    Some((r?, w?))
}

/// argv from `/proc/<pid>/cmdline`: NUL-separated, trailing NULs dropped;
/// empty for kernel threads and zombies.
pub(crate) fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if end == 0 {
        return Vec::new();
    }
    bytes[..end].split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

/// The paths of `/proc/<pid>/cgroup`'s `id:controllers:path` lines in file
/// order; `None` when a line is malformed (then, like process-exporter, the
/// process has no cgroups).
pub(crate) fn parse_cgroup(text: &str) -> Option<Vec<String>> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut it = l.splitn(3, ':');
            let (_, _, path) = (it.next()?, it.next()?, it.next()?);
            Some(path.to_string())
        })
        .collect()
}

/// The soft "Max open files" limit of `/proc/<pid>/limits`; `u64::MAX`
/// when unlimited.
pub(crate) fn parse_open_files_limit(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(u64::MAX);
    }
    soft.parse().ok()
}

/// `(Pss, SwapPss)` in bytes, summed over `smaps_rollup` (one block) or
/// `smaps` (one block per mapping).
pub(crate) fn parse_smaps(text: &str) -> (u64, u64) {
    let (mut pss, mut swap_pss) = (0u64, 0u64);
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let kb = || v.split_whitespace().next().and_then(|w| w.parse::<u64>().ok()).unwrap_or(0).saturating_mul(1024);
        match k {
            "Pss" => pss = pss.saturating_add(kb()),
            "SwapPss" => swap_pss = swap_pss.saturating_add(kb()),
            _ => {}
        }
    }
    (pss, swap_pss)
}

/// `btime` of `/proc/stat`: boot time in seconds since the epoch.
pub(crate) fn parse_btime(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

/// uid → user name from `/etc/passwd`.
pub(crate) fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) else { continue };
        if let Ok(uid) = uid.parse::<u32>() {
            out.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    out
}

/// The kernel's wait channel as process-exporter reports it: empty for "0"
/// (not waiting).
pub(crate) fn parse_wchan(text: &str) -> String {
    let w = text.trim();
    if w == "0" {
        String::new()
    } else {
        w.to_string()
    }
}

/// Process-exporter's five state buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct States {
    pub running: u64,
    pub sleeping: u64,
    pub waiting: u64,
    pub zombie: u64,
    pub other: u64,
}

impl States {
    pub(crate) fn count(&mut self, state: char) {
        match state {
            'R' => self.running += 1,
            'S' => self.sleeping += 1,
            'D' => self.waiting += 1,
            'Z' => self.zombie += 1,
            _ => self.other += 1,
        }
    }

    pub(crate) fn add(&mut self, o: &States) {
        self.running += o.running;
        self.sleeping += o.sleeping;
        self.waiting += o.waiting;
        self.zombie += o.zombie;
        self.other += o.other;
    }
}

/// The counters kept per process, per thread and per group (CPU in clock
/// ticks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub utime: u64,
    pub stime: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub majflt: u64,
    pub minflt: u64,
    pub ctx_voluntary: u64,
    pub ctx_nonvoluntary: u64,
}

impl Counts {
    /// How much each counter grew since `old`; a counter that went down
    /// (a thread exited, so a per-thread sum shrank) grew by 0.
    pub(crate) fn since(&self, old: &Counts) -> Counts {
        Counts {
            utime: self.utime.saturating_sub(old.utime),
            stime: self.stime.saturating_sub(old.stime),
            read_bytes: self.read_bytes.saturating_sub(old.read_bytes),
            write_bytes: self.write_bytes.saturating_sub(old.write_bytes),
            majflt: self.majflt.saturating_sub(old.majflt),
            minflt: self.minflt.saturating_sub(old.minflt),
            ctx_voluntary: self.ctx_voluntary.saturating_sub(old.ctx_voluntary),
            ctx_nonvoluntary: self.ctx_nonvoluntary.saturating_sub(old.ctx_nonvoluntary),
        }
    }

    pub(crate) fn add(&mut self, d: &Counts) {
        self.utime = self.utime.saturating_add(d.utime);
        self.stime = self.stime.saturating_add(d.stime);
        self.read_bytes = self.read_bytes.saturating_add(d.read_bytes);
        self.write_bytes = self.write_bytes.saturating_add(d.write_bytes);
        self.majflt = self.majflt.saturating_add(d.majflt);
        self.minflt = self.minflt.saturating_add(d.minflt);
        self.ctx_voluntary = self.ctx_voluntary.saturating_add(d.ctx_voluntary);
        self.ctx_nonvoluntary = self.ctx_nonvoluntary.saturating_add(d.ctx_nonvoluntary);
    }
}

/// Memory figures in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Memory {
    pub resident: u64,
    pub virtual_: u64,
    pub swapped: u64,
    pub proportional_resident: u64,
    pub proportional_swapped: u64,
}

impl Memory {
    pub(crate) fn add(&mut self, o: &Memory) {
        self.resident = self.resident.saturating_add(o.resident);
        self.virtual_ = self.virtual_.saturating_add(o.virtual_);
        self.swapped = self.swapped.saturating_add(o.swapped);
        self.proportional_resident = self.proportional_resident.saturating_add(o.proportional_resident);
        self.proportional_swapped = self.proportional_swapped.saturating_add(o.proportional_swapped);
    }
}

/// One thread of a multi-threaded process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Thread {
    pub tid: u32,
    pub starttime: u64,
    pub name: String,
    pub counts: Counts,
    pub wchan: String,
    pub state: char,
    /// Its `schedstat` when read.
    pub sched: Option<Sched>,
}

/// What one scrape reads of a tracked process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Metrics {
    /// `None` counters of `/proc/<pid>/io` mean it was unreadable.
    pub counts: Counts,
    pub io_read: bool,
    pub memory: Memory,
    /// Entries of `/proc/<pid>/fd`; `None` when unreadable.
    pub open_fds: Option<u64>,
    pub fd_limit: u64,
    pub num_threads: u64,
    pub states: States,
    pub wchan: String,
    /// Every thread, when the process has at least two and `task/` was
    /// readable; empty otherwise.
    pub threads: Vec<Thread>,
    /// `schedstat` of a single-threaded process, when readable.
    pub sched: Option<Sched>,
    /// Something optional was unreadable (I/O, fds, wchan, smaps, threads).
    pub partial: bool,
}

/// Why a process could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadFail {
    /// The process exited while we read it: not an error.
    Gone,
    /// A required file (`status`, `limits`) was unreadable or malformed.
    Error,
}

fn fail_of(err: &std::io::Error) -> ReadFail {
    // ENOENT/ESRCH: the process is gone.
    if err.kind() == std::io::ErrorKind::NotFound || err.raw_os_error() == Some(3) {
        ReadFail::Gone
    } else {
        ReadFail::Error
    }
}

/// The static facts read once when a process is first seen: argv, the
/// effective uid and the cgroup paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Static {
    pub cmdline: Vec<String>,
    pub euid: u32,
    pub cgroups: Vec<String>,
}

pub(crate) fn read_static(paths: &HostPaths, rd: &mut FileReader, pid: u32) -> Result<Static, ReadFail> {
    let cmdline = parse_cmdline(rd.bytes(&paths.proc(&format!("{pid}/cmdline"))).map_err(|e| fail_of(&e))?);
    let euid = parse_status(rd.text(&paths.proc(&format!("{pid}/status"))).map_err(|e| fail_of(&e))?).euid.ok_or(ReadFail::Error)?;
    let cgroups = rd.text(&paths.proc(&format!("{pid}/cgroup"))).ok().and_then(parse_cgroup).unwrap_or_default();
    Ok(Static { cmdline, euid, cgroups })
}

/// `(run time in ns, times scheduled)` of a task's `schedstat`: when both
/// are unchanged the task has not run since, so nothing it does itself
/// (I/O, faults, context switches, opening files) can have changed.
pub(crate) type Sched = (u64, u64);

pub(crate) fn parse_schedstat(text: &str) -> Option<Sched> {
    let mut f = text.split_whitespace();
    let run = f.next()?.parse().ok()?;
    let _wait = f.next()?;
    Some((run, f.next()?.parse().ok()?))
}

pub(crate) fn read_sched(rd: &mut FileReader, dir: &str) -> Option<Sched> {
    rd.text(&format!("{dir}/schedstat")).ok().and_then(parse_schedstat)
}

/// Counts of one process or thread directory from its `stat` (already
/// parsed), `status` and `io`; the bool says whether `io` was readable.
fn counts_of(rd: &mut FileReader, dir: &str, stat: &Stat) -> Result<(Counts, Status, bool), ReadFail> {
    let status = parse_status(rd.text(&format!("{dir}/status")).map_err(|e| fail_of(&e))?);
    let io = rd.text(&format!("{dir}/io")).ok().and_then(parse_io);
    let (read_bytes, write_bytes) = io.unwrap_or((0, 0));
    Ok((
        Counts {
            utime: stat.utime,
            stime: stat.stime,
            read_bytes,
            write_bytes,
            majflt: stat.majflt,
            minflt: stat.minflt,
            ctx_voluntary: status.voluntary_ctxt_switches,
            ctx_nonvoluntary: status.nonvoluntary_ctxt_switches,
        },
        status,
        io.is_some(),
    ))
}

/// How long a reading of a process may be reused while the process does
/// not run and its resident size stays put; also how long proportional
/// memory (`smaps_rollup`, the costliest file) and the fd limit are reused
/// while the resident size stays put. What a process that does not run can
/// still see change is its memory (the kernel reclaims or swaps its pages,
/// sharers of its pages come and go): this bounds how stale that gets. At
/// scrape intervals of 30 s and more every scrape reads everything, as
/// process-exporter does.
pub(crate) const REUSE_FOR: Duration = Duration::from_secs(30);

/// A reading of one process and when its parts were read.
#[derive(Debug, Clone)]
pub(crate) struct Reading {
    pub metrics: Metrics,
    pub full_at: Instant,
    smaps_at: Instant,
    limits_at: Instant,
}

/// What a read of process `pid` whose `stat` is `stat` needs besides.
pub(crate) struct ReadOpts<'a> {
    pub paths: &'a HostPaths,
    /// Read proportional memory too.
    pub smaps: bool,
    pub page_size: u64,
    /// `paths.procfs` is a real procfs, whose `fd` directories report
    /// their number of entries as their size (Linux 6.2 and later).
    pub fd_size: bool,
    pub now: Instant,
}

/// Everything one scrape knows of process `pid` whose `stat` is `stat`.
///
/// With the previous reading `prev`, only what can have changed is read
/// again: each thread's `schedstat` says whether it ran; threads that did
/// not keep their figures; a process none of whose threads ran and whose
/// resident size is unchanged keeps its whole reading (but for `stat`'s
/// fields) for up to [`REUSE_FOR`]. Without `schedstat` (a kernel without
/// `CONFIG_SCHED_INFO`) everything is read every time.
/// `leader` is the `schedstat` of the process' main thread, read just
/// before `stat`.
pub(crate) fn read_metrics(o: &ReadOpts, rd: &mut FileReader, pid: u32, stat: &Stat, leader: Option<Sched>, prev: Option<&Reading>) -> Result<Reading, ReadFail> {
    let dir = o.paths.proc(&pid.to_string());
    let old = prev.map(|p| &p.metrics);
    let resident = stat.rss.saturating_mul(o.page_size);
    let (threads, sched, ran, threads_ok) = if stat.num_threads >= 2 {
        match read_threads(rd, &dir, old.map_or(&[][..], |m| &m.threads)) {
            Some((t, ran)) => (t, None, ran, true),
            None => (Vec::new(), None, true, false),
        }
    } else {
        let ran = leader.is_none() || old.is_none_or(|m| m.sched != leader || !m.threads.is_empty());
        (Vec::new(), leader, ran, true)
    };
    let states = |threads: &[Thread]| {
        let mut states = States::default();
        states.count(stat.state);
        for t in threads {
            states.count(t.state);
        }
        states
    };

    if let Some(p) = prev {
        let m = &p.metrics;
        if !ran && threads_ok && m.memory.resident == resident && o.now.duration_since(p.full_at) < REUSE_FOR {
            let mut metrics = m.clone();
            (metrics.counts.utime, metrics.counts.stime) = (stat.utime, stat.stime);
            (metrics.counts.minflt, metrics.counts.majflt) = (stat.minflt, stat.majflt);
            metrics.memory.virtual_ = stat.vsize;
            metrics.num_threads = stat.num_threads;
            metrics.states = states(&threads);
            metrics.threads = threads;
            metrics.sched = sched;
            return Ok(Reading { metrics, ..p.clone() });
        }
    }

    let (mut counts, status, io_read) = counts_of(rd, &dir, stat)?;
    let mut partial = !io_read || !threads_ok;
    let keep = |at: fn(&Reading) -> Instant| prev.filter(|p| p.metrics.memory.resident == resident && o.now.duration_since(at(p)) < REUSE_FOR);
    let (fd_limit, limits_at) = match keep(|p| p.limits_at) {
        Some(p) => (p.metrics.fd_limit, p.limits_at),
        None => (parse_open_files_limit(rd.text(&format!("{dir}/limits")).map_err(|e| fail_of(&e))?).ok_or(ReadFail::Error)?, o.now),
    };
    let open_fds = count_fds(&format!("{dir}/fd"), o.fd_size);
    partial |= open_fds.is_none();
    let wchan = match rd.text(&format!("{dir}/wchan")) {
        Ok(t) => parse_wchan(t),
        Err(_) => {
            partial = true;
            String::new()
        }
    };
    let mut memory = Memory { resident, virtual_: stat.vsize, swapped: status.vm_swap_bytes, ..Memory::default() };
    let mut smaps_at = o.now;
    if o.smaps {
        match keep(|p| p.smaps_at) {
            Some(p) => {
                (memory.proportional_resident, memory.proportional_swapped) = (p.metrics.memory.proportional_resident, p.metrics.memory.proportional_swapped);
                smaps_at = p.smaps_at;
            }
            None => {
                let text = match rd.text(&format!("{dir}/smaps_rollup")) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => rd.text(&format!("{dir}/smaps")),
                    other => other,
                };
                match text {
                    Ok(t) => (memory.proportional_resident, memory.proportional_swapped) = parse_smaps(t),
                    Err(_) => partial = true,
                }
            }
        }
    }
    if !threads.is_empty() {
        // /proc/<pid>/status counts the main thread's switches only.
        counts.ctx_voluntary = threads.iter().map(|t| t.counts.ctx_voluntary).sum();
        counts.ctx_nonvoluntary = threads.iter().map(|t| t.counts.ctx_nonvoluntary).sum();
    }
    let metrics = Metrics {
        counts,
        io_read,
        memory,
        open_fds,
        fd_limit,
        num_threads: stat.num_threads,
        states: states(&threads),
        wchan,
        threads,
        sched,
        partial,
    };
    Ok(Reading { metrics, full_at: o.now, smaps_at, limits_at })
}

/// Open descriptors in `/proc/<pid>/fd`: with `size`, its size when not 0
/// (Linux 6.2 and later, one `statx` instead of listing it), else its
/// entries; `None` when unreadable.
fn count_fds(dir: &str, size: bool) -> Option<u64> {
    if size {
        match std::fs::metadata(dir) {
            Ok(md) if md.len() > 0 => return Some(md.len()),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    std::fs::read_dir(dir).ok().map(|rd| rd.count() as u64)
}

/// The threads under `<dir>/task` and whether any of them ran since `old`
/// (or appeared or left): `None` when the directory is unreadable, no
/// threads for a single-threaded process. A thread whose `schedstat` is
/// unchanged keeps its old figures; threads that vanish while being read
/// are left out.
fn read_threads(rd: &mut FileReader, dir: &str, old: &[Thread]) -> Option<(Vec<Thread>, bool)> {
    let entries = std::fs::read_dir(format!("{dir}/task")).ok()?;
    let mut out = Vec::with_capacity(old.len());
    let mut ran = false;
    for (i, entry) in entries.flatten().enumerate() {
        let Some(tid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let tdir = format!("{dir}/task/{tid}");
        let sched = read_sched(rd, &tdir);
        // `task/` lists threads in the same order every time: look where
        // the thread was before searching (no quadratic scan of a process
        // with thousands of threads).
        let same = |t: &&Thread| t.tid == tid;
        let was = old.get(i).filter(same).or_else(|| old.iter().find(same));
        if let Some(t) = was.filter(|t| sched.is_some() && t.sched == sched) {
            out.push(t.clone());
            continue;
        }
        ran = true;
        let Some(stat) = rd.text(&format!("{tdir}/stat")).ok().and_then(parse_stat) else { continue };
        let Ok((counts, _, _)) = counts_of(rd, &tdir, &stat) else { continue };
        let wchan = rd.text(&format!("{tdir}/wchan")).map(parse_wchan).unwrap_or_default();
        out.push(Thread { tid, starttime: stat.starttime, name: stat.comm, counts, wchan, state: stat.state, sched });
    }
    ran |= out.len() != old.len();
    if out.len() < 2 {
        out.clear();
    }
    Some((out, ran))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 1500 0 7 0 250 50 0 0 20 0 3 0 12345 10485760 512 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
    const STATUS: &str = "Name:\tpython3\nState:\tS (sleeping)\nUid:\t1000\t1001\t1000\t1000\nVmSwap:\t     12 kB\nThreads:\t3\nvoluntary_ctxt_switches:\t40\nnonvoluntary_ctxt_switches:\t2\n";
    const LIMITS: &str = "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            1024                 524288               files     \n";
    const SMAPS: &str = "55c1-7ffc ---p 00000000 00:00 0 [rollup]\nRss:  1760 kB\nPss:  259 kB\nPss_Dirty: 112 kB\nSwap: 0 kB\nSwapPss: 3 kB\n";

    #[test]
    fn parses_stat_with_parens_in_comm() {
        let s = parse_stat(STAT).expect("stat");
        assert_eq!(s.comm, "my (odd) proc");
        assert_eq!((s.state, s.ppid, s.minflt, s.majflt, s.utime, s.stime), ('S', 1, 1500, 7, 250, 50));
        assert_eq!((s.num_threads, s.starttime, s.vsize, s.rss), (3, 12345, 10485760, 512));
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn parses_status_io_limits_smaps() {
        let s = parse_status(STATUS);
        assert_eq!(s, Status { euid: Some(1001), vm_swap_bytes: 12 * 1024, voluntary_ctxt_switches: 40, nonvoluntary_ctxt_switches: 2 });
        assert_eq!(parse_io("rchar: 1\nwchar: 2\nsyscr: 3\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n"), Some((4096, 8192)));
        assert_eq!(parse_io("rchar: 1\n"), None);
        assert_eq!(parse_open_files_limit(LIMITS), Some(1024));
        assert_eq!(parse_open_files_limit("Max open files            unlimited            unlimited            files\n"), Some(u64::MAX));
        assert_eq!(parse_smaps(SMAPS), (259 * 1024, 3 * 1024));
        assert_eq!(parse_btime("cpu 1 2\nbtime 1700000000\nprocesses 5\n"), Some(1_700_000_000));
        assert_eq!(parse_wchan("0"), "");
        assert_eq!(parse_wchan("hrtimer_nanosleep"), "hrtimer_nanosleep");
    }

    #[test]
    fn parses_cmdline_cgroup_passwd() {
        assert_eq!(parse_cmdline(b"sleep\x00100\x00\x00"), vec!["sleep", "100"]);
        assert_eq!(parse_cmdline(b""), Vec::<String>::new());
        assert_eq!(parse_cmdline(b"a\x00\x00b\x00"), vec!["a", "", "b"]);
        assert_eq!(parse_cgroup("0::/system.slice/nginx.service\n"), Some(vec!["/system.slice/nginx.service".into()]));
        assert_eq!(parse_cgroup("4:memory:/a:b\n0::/\n"), Some(vec!["/a:b".into(), "/".into()]));
        assert_eq!(parse_cgroup("garbage\n"), None);
        let p = parse_passwd("root:x:0:0:root:/root:/bin/bash\nbad line\npostgres:x:105:110::/var/lib/postgresql:/bin/bash\n");
        assert_eq!(p.get(&0).map(String::as_str), Some("root"));
        assert_eq!(p.get(&105).map(String::as_str), Some("postgres"));
    }

    #[test]
    fn counts_never_go_backwards() {
        let old = Counts { utime: 10, ctx_voluntary: 50, ..Counts::default() };
        let new = Counts { utime: 15, ctx_voluntary: 20, ..Counts::default() };
        assert_eq!(new.since(&old), Counts { utime: 5, ..Counts::default() });
    }

    #[test]
    fn mangled_input_never_panics() {
        for text in [STAT, STATUS, LIMITS, SMAPS, "0::/system.slice/x.service\n1:cpu:/\n", "root:x:0:0::/:/bin/sh\n", "read_bytes: 1\nwrite_bytes: 2\n"] {
            for t in crate::util::mangled(text) {
                let _ = parse_stat(&t);
                let _ = parse_status(&t);
                let _ = parse_io(&t);
                let _ = parse_cmdline(t.as_bytes());
                let _ = parse_cgroup(&t);
                let _ = parse_open_files_limit(&t);
                let _ = parse_smaps(&t);
                let _ = parse_btime(&t);
                let _ = parse_passwd(&t);
                let _ = parse_wchan(&t);
                let _ = parse_schedstat(&t);
            }
        }
    }

    /// A one-process fixture `/proc` in a throwaway directory.
    struct Fixture(std::path::PathBuf);

    impl Fixture {
        fn new(tag: &str) -> Fixture {
            let dir = std::env::temp_dir().join(format!("bongsu-read-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("proc/42/fd")).expect("fixture");
            Fixture(dir)
        }
        fn file(&self, rel: &str, text: &str) {
            let p = self.0.join("proc/42").join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("fixture");
            std::fs::write(p, text).expect("fixture");
        }
        fn process(&self, vol: u64, pss_kb: u64, sched: &str) {
            self.file("status", &format!("Uid:\t1\t1\t1\t1\nvoluntary_ctxt_switches:\t{vol}\nnonvoluntary_ctxt_switches:\t1\n"));
            self.file("io", "read_bytes: 1\nwrite_bytes: 2\n");
            self.file("limits", LIMITS);
            self.file("wchan", "0");
            self.file("smaps_rollup", &format!("Pss: {pss_kb} kB\n"));
            self.file("schedstat", sched);
        }
        fn paths(&self) -> HostPaths {
            HostPaths { procfs: self.0.join("proc").to_string_lossy().into_owned(), ..HostPaths::default() }
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn read_at(f: &Fixture, stat: &Stat, at: Instant, prev: Option<&Reading>) -> Reading {
        let paths = f.paths();
        let o = ReadOpts { paths: &paths, smaps: true, page_size: 4096, fd_size: false, now: at };
        let mut rd = FileReader::default();
        let leader = read_sched(&mut rd, &paths.proc("42"));
        read_metrics(&o, &mut rd, 42, stat, leader, prev).expect("read")
    }

    #[test]
    fn idle_processes_keep_their_reading_until_they_run_or_it_ages() {
        let f = Fixture::new("idle");
        let stat = parse_stat(STAT.replace(" 3 0 12345", " 1 0 12345").as_str()).expect("stat");
        let t0 = Instant::now();
        f.process(10, 100, "500 0 7\n");
        let r0 = read_at(&f, &stat, t0, None);
        assert_eq!((r0.metrics.counts.ctx_voluntary, r0.metrics.memory.proportional_resident, r0.metrics.sched), (10, 100 * 1024, Some((500, 7))));

        // Files change but schedstat does not: the process did not run.
        f.process(20, 200, "500 0 7\n");
        let r1 = read_at(&f, &stat, t0 + Duration::from_secs(1), Some(&r0));
        assert_eq!((r1.metrics.counts.ctx_voluntary, r1.metrics.memory.proportional_resident), (10, 100 * 1024));

        // It ran: counters are read again; PSS waits for a resident-size change.
        f.process(20, 200, "900 0 9\n");
        let r2 = read_at(&f, &stat, t0 + Duration::from_secs(2), Some(&r1));
        assert_eq!((r2.metrics.counts.ctx_voluntary, r2.metrics.memory.proportional_resident), (20, 100 * 1024));
        let mut grown = stat.clone();
        grown.rss += 1;
        let r3 = read_at(&f, &grown, t0 + Duration::from_secs(3), Some(&r2));
        assert_eq!(r3.metrics.memory.proportional_resident, 200 * 1024);

        // Idle but old: read again.
        f.process(30, 300, "900 0 9\n");
        let r4 = read_at(&f, &grown, t0 + Duration::from_secs(3) + REUSE_FOR, Some(&r3));
        assert_eq!((r4.metrics.counts.ctx_voluntary, r4.metrics.memory.proportional_resident), (30, 300 * 1024));

        // No schedstat (kernel without CONFIG_SCHED_INFO): always read.
        std::fs::remove_file(f.0.join("proc/42/schedstat")).expect("rm");
        f.file("status", "Uid:\t1\t1\t1\t1\nvoluntary_ctxt_switches:\t40\n");
        let r5 = read_at(&f, &grown, t0 + Duration::from_secs(14), Some(&r4));
        assert_eq!(r5.metrics.counts.ctx_voluntary, 40);
    }

    #[test]
    fn only_threads_that_ran_are_read_again() {
        let f = Fixture::new("threads");
        let stat = parse_stat(STAT).expect("stat");
        assert_eq!(stat.num_threads, 3);
        f.process(1, 100, "1 0 1\n");
        let thread = |tid: u32, vol: u64, sched: &str| {
            f.file(&format!("task/{tid}/stat"), &STAT.replacen("4242", &tid.to_string(), 1));
            f.file(&format!("task/{tid}/status"), &format!("voluntary_ctxt_switches:\t{vol}\nnonvoluntary_ctxt_switches:\t0\n"));
            f.file(&format!("task/{tid}/schedstat"), sched);
        };
        thread(42, 5, "10 0 1\n");
        thread(43, 7, "10 0 1\n");
        let t0 = Instant::now();
        let r0 = read_at(&f, &stat, t0, None);
        assert_eq!((r0.metrics.threads.len(), r0.metrics.counts.ctx_voluntary), (2, 12));

        thread(42, 50, "10 0 1\n");
        thread(43, 70, "20 0 2\n");
        let r1 = read_at(&f, &stat, t0 + Duration::from_secs(1), Some(&r0));
        assert_eq!(r1.metrics.counts.ctx_voluntary, 5 + 70, "thread 42 did not run, 43 did");

        // A third thread appears: it is read, the others keep theirs.
        thread(44, 3, "1 0 1\n");
        let r2 = read_at(&f, &stat, t0 + Duration::from_secs(2), Some(&r1));
        assert_eq!((r2.metrics.threads.len(), r2.metrics.counts.ctx_voluntary), (3, 5 + 70 + 3));
    }

}
