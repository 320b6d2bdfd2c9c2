//! cgroup v1: the legacy controllers `cpu`, `cpuacct`, `memory` and
//! `blkio`, each a hierarchy of its own (or `cpu,cpuacct` behind symlinks).

use std::collections::BTreeMap;

use super::{first_pid, key_values, mtime, read_limit, Cpu, CpuSpec, Io, Mem, MemSpec, Stats};
use crate::util::read_u64;

/// USER_HZ: `cpuacct.stat` counts clock ticks of 1/100 s on Linux.
const TICKS_PER_SECOND: u64 = 100;

/// Reads cgroup `id` from every controller directory in `ctrls`.
pub(crate) fn read(ctrls: &[(&'static str, String)], id: &str) -> Stats {
    let dir = |c: &str| -> Option<String> {
        ctrls.iter().find(|(n, _)| *n == c).map(|(_, d)| format!("{}{}", d, if id == "/" { "" } else { id }))
    };
    let exists = |d: &Option<String>| d.as_deref().is_some_and(|d| std::path::Path::new(d).is_dir());
    let mut s = Stats::default();
    let mut dirs: Vec<String> = Vec::new();
    for (c, _) in ctrls {
        if let Some(d) = dir(c).filter(|d| std::path::Path::new(d).is_dir()) {
            dirs.push(d);
        }
    }
    s.creation = dirs
        .iter()
        .flat_map(|d| [mtime(d), mtime(&format!("{d}/cgroup.clone_children"))])
        .flatten()
        .reduce(f64::min);
    // The root's network is the host's (pid 1); its cgroup.procs lists
    // every process of the host, sorted by the kernel: not worth reading.
    if id != "/" {
        s.first_pid = dirs.iter().find_map(|d| first_pid(&format!("{d}/cgroup.procs")));
    }

    let cpu_dir = dir("cpu");
    if exists(&cpu_dir) {
        let d = cpu_dir.as_deref().unwrap_or_default();
        let quota = crate::util::read_string(format!("{d}/cpu.cfs_quota_us")).unwrap_or_default();
        s.cpu_spec = Some(CpuSpec {
            period: read_u64(&format!("{d}/cpu.cfs_period_us")).unwrap_or(0),
            quota: quota.trim().parse().unwrap_or(0),
            shares: read_u64(&format!("{d}/cpu.shares")).unwrap_or(0),
        });
    }
    let acct_dir = dir("cpuacct");
    if exists(&acct_dir) {
        let d = acct_dir.as_deref().unwrap_or_default();
        let mut cpu = Cpu {
            total: read_u64(&format!("{d}/cpuacct.usage")).unwrap_or(0),
            per_cpu: crate::util::read_string(format!("{d}/cpuacct.usage_percpu"))
                .map(|t| t.split_whitespace().filter_map(|x| x.parse().ok()).collect())
                .unwrap_or_default(),
            ..Cpu::default()
        };
        let stat = crate::util::read_string(format!("{d}/cpuacct.stat")).unwrap_or_default();
        for (k, v) in key_values(&stat) {
            let ns = v.saturating_mul(1_000_000_000 / TICKS_PER_SECOND);
            match k {
                "user" => cpu.user = ns,
                "system" => cpu.system = ns,
                _ => {}
            }
        }
        if let Some(cd) = cpu_dir.as_deref() {
            let stat = crate::util::read_string(format!("{cd}/cpu.stat")).unwrap_or_default();
            for (k, v) in key_values(&stat) {
                match k {
                    "nr_periods" => cpu.periods = v,
                    "nr_throttled" => cpu.throttled_periods = v,
                    "throttled_time" => cpu.throttled = v,
                    _ => {}
                }
            }
        }
        s.cpu = Some(cpu);
    }
    let mem_dir = dir("memory");
    if exists(&mem_dir) {
        let d = mem_dir.as_deref().unwrap_or_default();
        s.mem_spec = Some(MemSpec {
            limit: read_limit(&format!("{d}/memory.limit_in_bytes")).unwrap_or(0),
            swap_limit: read_limit(&format!("{d}/memory.memsw.limit_in_bytes")).unwrap_or(0),
            reservation: read_limit(&format!("{d}/memory.soft_limit_in_bytes")).unwrap_or(0),
        });
        let stat_text = crate::util::read_string(format!("{d}/memory.stat")).unwrap_or_default();
        let oom = crate::util::read_string(format!("{d}/memory.oom_control")).unwrap_or_default();
        s.mem = Some(memory(
            &stat_text,
            read_u64(&format!("{d}/memory.use_hierarchy")) == Some(1),
            [
                read_u64(&format!("{d}/memory.usage_in_bytes")).unwrap_or(0),
                read_u64(&format!("{d}/memory.max_usage_in_bytes")).unwrap_or(0),
                read_u64(&format!("{d}/memory.failcnt")).unwrap_or(0),
                read_u64(&format!("{d}/memory.kmem.usage_in_bytes")).unwrap_or(0),
            ],
            &oom,
        ));
    }
    let blkio_dir = dir("blkio");
    if exists(&blkio_dir) {
        let d = blkio_dir.as_deref().unwrap_or_default();
        let bytes = crate::util::read_string(format!("{d}/blkio.throttle.io_service_bytes")).unwrap_or_default();
        let ops = crate::util::read_string(format!("{d}/blkio.throttle.io_serviced")).unwrap_or_default();
        s.io = blkio(&bytes, &ops);
    }
    s
}

/// Memory from `memory.stat` (the `total_*` keys when the hierarchy is
/// accounted, like runc), the four usage files `[usage, max_usage,
/// failcnt, kmem usage]` and `memory.oom_control`.
pub(crate) fn memory(stat: &str, hierarchy: bool, usage: [u64; 4], oom_control: &str) -> Mem {
    let stats: BTreeMap<&str, u64> = key_values(stat).collect();
    let get = |k: &str| stats.get(k).copied().unwrap_or(0);
    let pre = if hierarchy { "total_" } else { "" };
    Mem {
        usage: usage[0],
        max_usage: usage[1],
        failcnt: usage[2],
        kernel: usage[3],
        cache: get(&format!("{pre}cache")),
        rss: get(&format!("{pre}rss")),
        swap: get(&format!("{pre}swap")),
        mapped_file: get(&format!("{pre}mapped_file")),
        pgfault: get("pgfault"),
        pgmajfault: get("pgmajfault"),
        active_file: get("total_active_file"),
        inactive_file: get("total_inactive_file"),
        oom_kills: key_values(oom_control).find(|(k, _)| *k == "oom_kill").map_or(0, |(_, v)| v),
        ..Mem::default()
    }
}

/// Per-device I/O from `blkio.throttle.io_service_bytes` and
/// `io_serviced` (`MAJ:MIN Read N` lines; `Total` lines ignored).
pub(crate) fn blkio(bytes: &str, ops: &str) -> Vec<Io> {
    let mut devs: BTreeMap<(u32, u32), Io> = BTreeMap::new();
    for (text, is_bytes) in [(bytes, true), (ops, false)] {
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [dev, op, v] = f[..] else { continue };
            let Some((ma, mi)) = dev.split_once(':') else { continue };
            let (Ok(ma), Ok(mi), Ok(v)) = (ma.parse::<u32>(), mi.parse::<u32>(), v.parse::<u64>()) else { continue };
            let io = devs.entry((ma, mi)).or_insert_with(|| Io { major: ma, minor: mi, ..Io::default() });
            match (op, is_bytes) {
                ("Read", true) => io.read_bytes = v,
                ("Write", true) => io.write_bytes = v,
                ("Read", false) => io.reads = v,
                ("Write", false) => io.writes = v,
                _ => {}
            }
        }
    }
    devs.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_uses_total_keys_with_hierarchy() {
        let stat = "cache 10\nrss 20\ntotal_cache 100\ntotal_rss 200\ntotal_swap 5\ntotal_mapped_file 7\n\
                    pgfault 9\npgmajfault 1\ntotal_active_file 30\ntotal_inactive_file 40\n";
        let m = memory(stat, true, [1000, 2000, 3, 4], "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
        assert_eq!((m.cache, m.rss, m.swap, m.mapped_file), (100, 200, 5, 7));
        assert_eq!((m.pgfault, m.pgmajfault, m.oom_kills), (9, 1, 2));
        assert_eq!(m.working_set(), 960);
        let flat = memory(stat, false, [10, 0, 0, 0], "");
        assert_eq!((flat.cache, flat.rss), (10, 20));
        assert_eq!(flat.working_set(), 0, "usage below inactive file floors at 0");
    }

    #[test]
    fn blkio_pairs_bytes_and_ops_per_device() {
        let bytes = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 1\n8:0 Total 12288\n253:0 Read 1\nTotal 12289\n";
        let ops = "8:0 Read 1\n8:0 Write 2\n";
        let io = blkio(bytes, ops);
        assert_eq!(io.len(), 2);
        assert_eq!((io[0].major, io[0].read_bytes, io[0].write_bytes, io[0].reads, io[0].writes), (8, 4096, 8192, 1, 2));
        assert_eq!((io[1].major, io[1].read_bytes), (253, 1));
    }

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("8:0 Read 4096\n8:0 Write 8192\ntotal_cache 100\noom_kill 2\n") {
            let _ = blkio(&t, &t);
            let _ = memory(&t, true, [0; 4], &t);
        }
    }
}
