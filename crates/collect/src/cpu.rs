//! `cpu`: per-CPU time by mode from /proc/stat, guest time, thermal throttle
//! counts and isolated CPUs from /sys/devices/system/cpu.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use crate::expo::{Families, Kind};
use crate::util::{dir_names, is_prefix_digits, parse_error, read, read_trimmed, read_u64};
use crate::{HostPaths, Result};

/// Kernel clock ticks per second (`USER_HZ`): 100 on every Linux ABI.
const USER_HZ: f64 = 100.0;
/// /proc/stat's per-CPU columns, in order.
const COLUMNS: usize = 10;
/// An idle counter dropping by this many seconds or more is a CPU hot-plug
/// (node_exporter's `jumpBackSeconds`); smaller drops are kernel jitter.
const JUMP_BACK_SECONDS: f64 = 3.0;

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let stat = paths.proc("stat");
    let text = read(&stat)?;
    let cpus = parse_stat(&text);
    if cpus.is_empty() {
        return Err(parse_error(&stat, "no cpuN lines"));
    }
    let cpus = monotonic(&paths.procfs, cpus);

    let seconds = out.family(
        "node_cpu_seconds_total",
        "Seconds the CPUs spent in each mode.",
        Kind::Counter,
        &["cpu", "mode"],
    );
    for (cpu, t) in &cpus {
        let cpu = cpu.to_string();
        for (mode, i) in [
            ("user", 0),
            ("nice", 1),
            ("system", 2),
            ("idle", 3),
            ("iowait", 4),
            ("irq", 5),
            ("softirq", 6),
            ("steal", 7),
        ] {
            seconds.push(&[cpu.as_str(), mode], t[i]);
        }
    }
    let guest = out.family(
        "node_cpu_guest_seconds_total",
        "Seconds the CPUs spent in guests (VMs) for each mode.",
        Kind::Counter,
        &["cpu", "mode"],
    );
    for (cpu, t) in &cpus {
        let cpu = cpu.to_string();
        guest.push(&[cpu.as_str(), "user"], t[8]);
        guest.push(&[cpu.as_str(), "nice"], t[9]);
    }

    let sys_cpu = paths.sys("devices/system/cpu");
    thermal_throttles(&sys_cpu, out);
    isolated(&sys_cpu, out);
    online(&sys_cpu, out);
    Ok(())
}

/// `cpuN` lines as seconds per column (missing trailing columns are 0).
fn parse_stat(text: &str) -> BTreeMap<u32, [f64; COLUMNS]> {
    let mut cpus = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(id) = fields
            .next()
            .and_then(|k| k.strip_prefix("cpu"))
            .filter(|n| !n.is_empty())
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let mut t = [0.0; COLUMNS];
        for (slot, f) in t.iter_mut().zip(fields) {
            *slot = f.parse::<f64>().unwrap_or(0.0) / USER_HZ;
        }
        cpus.insert(id, t);
    }
    cpus
}

/// Keeps counters from stepping back between gathers, as node_exporter
/// does: a counter that decreased keeps its last value, except that idle
/// dropping by [`JUMP_BACK_SECONDS`] or more means the CPU was hot-plugged,
/// and then all its counters restart from the new values.
/// State is kept per procfs root, so gathers of different hosts never mix.
fn monotonic(procfs: &str, cpus: BTreeMap<u32, [f64; COLUMNS]>) -> BTreeMap<u32, [f64; COLUMNS]> {
    type Last = HashMap<(String, u32), [f64; COLUMNS]>;
    static LAST: OnceLock<Mutex<Last>> = OnceLock::new();
    let Ok(mut last) = LAST.get_or_init(Default::default).lock() else {
        return cpus;
    };
    let mut result = BTreeMap::new();
    for (id, now) in cpus {
        let key = (procfs.to_string(), id);
        let kept = match last.get(&key) {
            Some(prev) => clamp(prev, &now),
            None => now,
        };
        last.insert(key, kept);
        result.insert(id, kept);
    }
    result
}

fn clamp(prev: &[f64; COLUMNS], now: &[f64; COLUMNS]) -> [f64; COLUMNS] {
    const IDLE: usize = 3;
    if prev[IDLE] - now[IDLE] >= JUMP_BACK_SECONDS {
        return *now;
    }
    let mut kept = *now;
    for (k, p) in kept.iter_mut().zip(prev) {
        if *k < *p {
            *k = *p;
        }
    }
    kept
}

/// node_cpu_core_throttles_total{package,core} and
/// node_cpu_package_throttles_total{package}, when the kernel exposes them.
fn thermal_throttles(sys_cpu: &str, out: &mut Families) {
    let mut package: BTreeMap<u64, u64> = BTreeMap::new();
    let mut core: BTreeMap<(u64, u64), Option<u64>> = BTreeMap::new();
    for dir in dir_names(sys_cpu)
        .into_iter()
        .filter(|n| is_prefix_digits(n, "cpu"))
    {
        let base = format!("{sys_cpu}/{dir}");
        let (Some(pkg), Some(core_id)) = (
            read_u64(&format!("{base}/topology/physical_package_id")),
            read_u64(&format!("{base}/topology/core_id")),
        ) else {
            continue;
        };
        core.entry((pkg, core_id))
            .or_insert_with(|| read_u64(&format!("{base}/thermal_throttle/core_throttle_count")));
        if let std::collections::btree_map::Entry::Vacant(e) = package.entry(pkg) {
            if let Some(n) = read_u64(&format!("{base}/thermal_throttle/package_throttle_count")) {
                e.insert(n);
            }
        }
    }
    let fam = out.family(
        "node_cpu_package_throttles_total",
        "Number of times this CPU package has been throttled.",
        Kind::Counter,
        &["package"],
    );
    for (pkg, n) in &package {
        fam.push(&[pkg.to_string()], *n as f64);
    }
    let fam = out.family(
        "node_cpu_core_throttles_total",
        "Number of times this CPU core has been throttled.",
        Kind::Counter,
        &["package", "core"],
    );
    for ((pkg, c), n) in &core {
        if let Some(n) = n {
            fam.push(&[pkg.to_string(), c.to_string()], *n as f64);
        }
    }
}

/// node_cpu_isolated{cpu} for every CPU in /sys/devices/system/cpu/isolated.
fn isolated(sys_cpu: &str, out: &mut Families) {
    let Some(list) = read_trimmed(&format!("{sys_cpu}/isolated")) else {
        return;
    };
    let fam = out.family(
        "node_cpu_isolated",
        "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
        Kind::Gauge,
        &["cpu"],
    );
    for cpu in parse_cpu_list(&list) {
        fam.push(&[cpu.to_string()], 1.0);
    }
}

/// node_cpu_online{cpu}: 1 when /sys/devices/system/cpu/cpuN/online says so.
/// Like node_exporter, nothing when cpu0 has no `online` file (the kernel
/// cannot offline it on most architectures, or lacks CPU hot-plug).
fn online(sys_cpu: &str, out: &mut Families) {
    if read_trimmed(&format!("{sys_cpu}/cpu0/online")).is_none() {
        return;
    }
    let fam = out.family("node_cpu_online", "CPUs that are online and being scheduled.", Kind::Gauge, &["cpu"]);
    for dir in dir_names(sys_cpu).into_iter().filter(|n| is_prefix_digits(n, "cpu")) {
        let on = read_trimmed(&format!("{sys_cpu}/{dir}/online")).is_some_and(|v| v == "1");
        fam.push(&[&dir["cpu".len()..]], if on { 1.0 } else { 0.0 });
    }
}

/// A kernel CPU list such as `0-3,8,10-11`; malformed parts are skipped and
/// ranges are capped so a corrupt file cannot allocate without bound.
fn parse_cpu_list(list: &str) -> Vec<u32> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    if a <= b && b - a < 65_536 {
                        cpus.extend(a..=b);
                    }
                }
            }
            None => {
                if let Ok(a) = part.parse() {
                    cpus.push(a);
                }
            }
        }
    }
    cpus
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 100 0 50 1000 3 0 1 2 5 6\nintr 5\n") {
            let _ = parse_stat(&t);
        }
        for t in crate::util::mangled("0-3,8,10-11\n") {
            let _ = parse_cpu_list(&t);
        }
    }

    #[test]
    fn parses_cpu_lines() {
        let cpus = parse_stat(
            "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 100 0 50 1000 3 0 1 2 5 6\ncpu1 1 2\nintr 5\n",
        );
        assert_eq!(cpus.len(), 2);
        assert_eq!(
            cpus[&0],
            [1.0, 0.0, 0.5, 10.0, 0.03, 0.0, 0.01, 0.02, 0.05, 0.06]
        );
        assert_eq!(cpus[&1][..3], [0.01, 0.02, 0.0]);
    }

    #[test]
    fn counters_never_step_back_unless_hotplugged() {
        let prev = [10.0, 1.0, 5.0, 100.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let mut jitter = prev;
        jitter[4] = 1.99;
        jitter[0] = 11.0;
        assert_eq!(clamp(&prev, &jitter)[4], 2.0);
        assert_eq!(clamp(&prev, &jitter)[0], 11.0);
        let mut replugged = [0.5; COLUMNS];
        replugged[3] = 1.0;
        assert_eq!(clamp(&prev, &replugged), replugged);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n"), vec![0, 1, 2, 3, 8, 10, 11]);
        assert_eq!(parse_cpu_list(""), Vec::<u32>::new());
        assert_eq!(parse_cpu_list("x,3-1,0-4294967295,5"), vec![5]);
    }
}
