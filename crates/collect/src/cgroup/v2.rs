//! cgroup v2: one unified hierarchy, every controller's files in the
//! cgroup's own directory.

use std::collections::BTreeMap;

use super::{first_pid, key_values, mtime, read_limit, Cpu, CpuSpec, Io, Mem, MemSpec, Psi, Stats};
use crate::util::read_u64;
use crate::HostPaths;

/// Reads cgroup `id` of the unified hierarchy mounted at `base`.
pub(crate) fn read(paths: &HostPaths, base: &str, id: &str) -> Stats {
    let d = format!("{base}{}", if id == "/" { "" } else { id });
    let file = |name: &str| format!("{d}/{name}");
    let text = |name: &str| crate::util::read_string(file(name)).ok();
    let mut s = Stats {
        creation: [mtime(&d), mtime(&file("cgroup.events"))].into_iter().flatten().reduce(f64::min),
        // The root's network is the host's (pid 1): its cgroup.procs, every
        // process of the host, is not worth reading.
        first_pid: if id == "/" { None } else { first_pid(&file("cgroup.procs")) },
        ..Stats::default()
    };
    // The root cgroup has no cpu.max/cpu.weight, but cAdvisor still treats
    // it as having a cpu controller.
    if let Some(max) = text("cpu.max") {
        let (quota, period) = cpu_max(&max);
        s.cpu_spec = Some(CpuSpec {
            period,
            quota,
            shares: read_u64(&file("cpu.weight")).map(weight_to_shares).unwrap_or(0),
        });
    }
    if let Some(stat) = text("cpu.stat") {
        s.cpu = Some(cpu(&stat));
    }
    let events = text("memory.events").unwrap_or_default();
    let stat = text("memory.stat");
    if let Some(current) = read_u64(&file("memory.current")) {
        s.mem_spec = Some(MemSpec {
            limit: read_limit(&file("memory.max")).unwrap_or(0),
            swap_limit: read_limit(&file("memory.swap.max")).unwrap_or(0),
            reservation: read_limit(&file("memory.min")).unwrap_or(0),
        });
        let swap = read_u64(&file("memory.swap.current")).unwrap_or(0);
        let peak = read_u64(&file("memory.peak")).unwrap_or(0);
        s.mem = Some(memory(&stat.unwrap_or_default(), current, swap, peak, &events));
    } else if id == "/" {
        // The root has no memory.current: usage from /proc/meminfo like runc.
        let meminfo = crate::util::read_string(paths.proc("meminfo")).unwrap_or_default();
        let kb = |k: &str| {
            meminfo
                .lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(':')?.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        let usage = kb("MemTotal").saturating_sub(kb("MemFree"));
        let swap = kb("SwapTotal").saturating_sub(kb("SwapFree"));
        s.mem = Some(memory(&stat.unwrap_or_default(), usage, swap, 0, &events));
    }
    if let Some(io) = text("io.stat") {
        s.io = io_stat(&io);
    }
    let psi = |name: &str| text(name).map(|t| pressure(&t));
    if let (Some(c), Some(m), Some(i)) = (psi("cpu.pressure"), psi("memory.pressure"), psi("io.pressure")) {
        s.psi = Some(Psi { cpu_some: c.0, cpu_full: c.1, mem_some: m.0, mem_full: m.1, io_some: i.0, io_full: i.1 });
    }
    s
}

/// `cpu.max` → (quota µs, 0 when "max"; period µs).
pub(crate) fn cpu_max(text: &str) -> (u64, u64) {
    let mut it = text.split_whitespace();
    let quota = it.next().and_then(|q| q.parse().ok()).unwrap_or(0);
    let period = it.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (quota, period)
}

/// cgroup v2's `cpu.weight` (1–10000) as v1 shares (2–262144), cAdvisor's
/// conversion; out of range is 0.
pub(crate) fn weight_to_shares(w: u64) -> u64 {
    if !(1..=10000).contains(&w) {
        return 0;
    }
    2 + ((w - 1) * 262142) / 9999
}

/// `cpu.stat` (microseconds) as nanoseconds.
pub(crate) fn cpu(stat: &str) -> Cpu {
    let mut c = Cpu::default();
    for (k, v) in key_values(stat) {
        let ns = v.saturating_mul(1000);
        match k {
            "usage_usec" => c.total = ns,
            "user_usec" => c.user = ns,
            "system_usec" => c.system = ns,
            "nr_periods" => c.periods = v,
            "nr_throttled" => c.throttled_periods = v,
            "throttled_usec" => c.throttled = ns,
            _ => {}
        }
    }
    c
}

/// Memory from `memory.stat`, `memory.current`, `memory.swap.current`,
/// `memory.peak` and `memory.events`, with runc's v2 mapping (failcnt is
/// the `max` event count).
pub(crate) fn memory(stat: &str, current: u64, swap: u64, peak: u64, events: &str) -> Mem {
    let stats: BTreeMap<&str, u64> = key_values(stat).collect();
    let get = |k: &str| stats.get(k).copied().unwrap_or(0);
    let ev: BTreeMap<&str, u64> = key_values(events).collect();
    let event = |k: &str| ev.get(k).copied().unwrap_or(0);
    Mem {
        usage: current,
        max_usage: peak,
        failcnt: event("max"),
        kernel: get("kernel"),
        cache: get("file"),
        rss: get("anon"),
        swap,
        mapped_file: get("file_mapped"),
        pgfault: get("pgfault"),
        pgmajfault: get("pgmajfault"),
        file_dirty: get("file_dirty"),
        file_writeback: get("file_writeback"),
        pgscan: get("pgscan"),
        pgsteal: get("pgsteal"),
        refault_file: get("workingset_refault_file"),
        refault_anon: get("workingset_refault_anon"),
        active_file: get("active_file"),
        inactive_file: get("inactive_file"),
        events_high: event("high"),
        events_max: event("max"),
        oom_kills: event("oom_kill"),
    }
}

/// `io.stat`: `MAJ:MIN rbytes=… wbytes=… rios=… wios=… …` per device.
pub(crate) fn io_stat(text: &str) -> Vec<Io> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some((ma, mi)) = f.next().and_then(|d| d.split_once(':')) else { continue };
        let (Ok(major), Ok(minor)) = (ma.parse(), mi.parse()) else { continue };
        let mut io = Io { major, minor, ..Io::default() };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else { continue };
            let Ok(v) = v.parse() else { continue };
            match k {
                "rbytes" => io.read_bytes = v,
                "wbytes" => io.write_bytes = v,
                "rios" => io.reads = v,
                "wios" => io.writes = v,
                _ => {}
            }
        }
        out.push(io);
    }
    out
}

/// A `*.pressure` file → (some total µs, full total µs).
pub(crate) fn pressure(text: &str) -> (u64, u64) {
    let total = |kind: &str| {
        text.lines()
            .find(|l| l.starts_with(kind))
            .and_then(|l| l.split_whitespace().find_map(|f| f.strip_prefix("total=")?.parse().ok()))
            .unwrap_or(0)
    };
    (total("some"), total("full"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_max_and_weight() {
        assert_eq!(cpu_max("max 100000\n"), (0, 100000));
        assert_eq!(cpu_max("50000 100000\n"), (50000, 100000));
        assert_eq!(weight_to_shares(100), 2597);
        assert_eq!(weight_to_shares(1), 2);
        assert_eq!(weight_to_shares(10000), 262144);
        assert_eq!(weight_to_shares(0), 0);
    }

    #[test]
    fn parses_cpu_stat_in_nanoseconds() {
        let c = cpu("usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 3\nthrottled_usec 250\n");
        assert_eq!((c.total, c.user, c.system, c.periods, c.throttled_periods, c.throttled), (1_500_000, 1_000_000, 500_000, 10, 3, 250_000));
        assert!(c.per_cpu.is_empty());
    }

    #[test]
    fn maps_memory_like_runc() {
        let m = memory(
            "anon 100\nfile 200\nkernel 5\nfile_mapped 7\ninactive_file 50\nactive_file 60\npgfault 9\nworkingset_refault_anon 2\n",
            1000,
            30,
            1200,
            "low 0\nhigh 4\nmax 6\noom 1\noom_kill 1\n",
        );
        assert_eq!((m.rss, m.cache, m.kernel, m.mapped_file, m.swap), (100, 200, 5, 7, 30));
        assert_eq!((m.failcnt, m.events_high, m.events_max, m.oom_kills), (6, 4, 6, 1));
        assert_eq!((m.working_set(), m.max_usage, m.refault_anon), (950, 1200, 2));
    }

    #[test]
    fn parses_io_stat_and_pressure() {
        let io = io_stat("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=1\n");
        assert_eq!(io.len(), 2);
        assert_eq!((io[0].read_bytes, io[0].write_bytes, io[0].reads, io[0].writes), (4096, 8192, 1, 2));
        let p = pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=1234\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=56\n");
        assert_eq!(p, (1234, 56));
    }

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("8:0 rbytes=4096 wbytes=8192\nsome avg10=0.00 total=1234\nusage_usec 1500\nmax 100000\n") {
            let _ = (io_stat(&t), pressure(&t), cpu(&t), cpu_max(&t), memory(&t, 1, 1, 1, &t));
        }
    }
}
