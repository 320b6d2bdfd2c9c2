//! Parsers for the `/proc/<pid>/…` files the process collector reads, and
//! the readers that put them together for one process. Parsers are pure and
//! never panic; readers go through [`HostPaths::procfs`].

use std::collections::HashMap;

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

fn read_string(path: &str) -> std::io::Result<String> {
    std::fs::read_to_string(path)
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

pub(crate) fn read_static(paths: &HostPaths, pid: u32) -> Result<Static, ReadFail> {
    let cmdline = std::fs::read(paths.proc(&format!("{pid}/cmdline"))).map_err(|e| fail_of(&e))?;
    let status = read_string(&paths.proc(&format!("{pid}/status"))).map_err(|e| fail_of(&e))?;
    let euid = parse_status(&status).euid.ok_or(ReadFail::Error)?;
    let cgroups = read_string(&paths.proc(&format!("{pid}/cgroup"))).ok().and_then(|t| parse_cgroup(&t)).unwrap_or_default();
    Ok(Static { cmdline: parse_cmdline(&cmdline), euid, cgroups })
}

/// Counts of one process or thread directory from its `stat` (already
/// parsed), `status` and `io`; the bool says whether `io` was readable.
fn counts_of(dir: &str, stat: &Stat) -> Result<(Counts, Status, bool), ReadFail> {
    let status = parse_status(&read_string(&format!("{dir}/status")).map_err(|e| fail_of(&e))?);
    let io = read_string(&format!("{dir}/io")).ok().and_then(|t| parse_io(&t));
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

/// Everything one scrape reads of process `pid` whose `stat` is `stat`.
/// `smaps` also reads proportional memory.
pub(crate) fn read_metrics(paths: &HostPaths, pid: u32, stat: &Stat, smaps: bool, page_size: u64) -> Result<Metrics, ReadFail> {
    let dir = paths.proc(&pid.to_string());
    let (mut counts, status, io_read) = counts_of(&dir, stat)?;
    let limits = read_string(&format!("{dir}/limits")).map_err(|e| fail_of(&e))?;
    let fd_limit = parse_open_files_limit(&limits).ok_or(ReadFail::Error)?;
    let mut partial = !io_read;
    let open_fds = match std::fs::read_dir(format!("{dir}/fd")) {
        Ok(rd) => Some(rd.count() as u64),
        Err(_) => {
            partial = true;
            None
        }
    };
    let wchan = match read_string(&format!("{dir}/wchan")) {
        Ok(t) => parse_wchan(&t),
        Err(_) => {
            partial = true;
            String::new()
        }
    };
    let mut memory = Memory {
        resident: stat.rss.saturating_mul(page_size),
        virtual_: stat.vsize,
        swapped: status.vm_swap_bytes,
        ..Memory::default()
    };
    if smaps {
        let text = match read_string(&format!("{dir}/smaps_rollup")) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => read_string(&format!("{dir}/smaps")),
            other => other,
        };
        match text {
            Ok(t) => (memory.proportional_resident, memory.proportional_swapped) = parse_smaps(&t),
            Err(_) => partial = true,
        }
    }
    let mut states = States::default();
    states.count(stat.state);
    let threads = match read_threads(&dir) {
        Some(t) => t,
        None => {
            partial = true;
            Vec::new()
        }
    };
    if !threads.is_empty() {
        // /proc/<pid>/status counts the main thread's switches only.
        counts.ctx_voluntary = threads.iter().map(|t| t.counts.ctx_voluntary).sum();
        counts.ctx_nonvoluntary = threads.iter().map(|t| t.counts.ctx_nonvoluntary).sum();
        for t in &threads {
            states.count(t.state);
        }
    }
    Ok(Metrics {
        counts,
        io_read,
        memory,
        open_fds,
        fd_limit,
        num_threads: stat.num_threads,
        states,
        wchan,
        threads,
        partial,
    })
}

/// The threads under `<dir>/task`: `None` when the directory is unreadable,
/// empty for a single-threaded process. Threads that vanish while being
/// read are left out.
fn read_threads(dir: &str) -> Option<Vec<Thread>> {
    let rd = std::fs::read_dir(format!("{dir}/task")).ok()?;
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let tdir = format!("{dir}/task/{tid}");
        let Some(stat) = read_string(&format!("{tdir}/stat")).ok().and_then(|t| parse_stat(&t)) else { continue };
        let Ok((counts, _, _)) = counts_of(&tdir, &stat) else { continue };
        let wchan = read_string(&format!("{tdir}/wchan")).map(|t| parse_wchan(&t)).unwrap_or_default();
        out.push(Thread { tid, starttime: stat.starttime, name: stat.comm, counts, wchan, state: stat.state });
    }
    if out.len() < 2 {
        out.clear();
    }
    Some(out)
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
            }
        }
    }
}
