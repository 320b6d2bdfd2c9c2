//! `cpufreq`: per-CPU frequencies from
//! /sys/devices/system/cpu/cpu<N>/cpufreq (kHz in sysfs, Hz exported). A CPU
//! without a cpufreq directory is skipped; a machine with none reports
//! nothing and succeeds, like node_exporter.

use crate::expo::{Families, Kind};
use crate::util::{dir_names, parse_error};
use crate::{CollectError, HostPaths, Result};

/// `(sysfs file, metric, HELP)` in node_exporter's order.
const FILES: [(&str, &str, &str); 6] = [
    ("cpuinfo_cur_freq", "node_cpu_frequency_hertz", "Current cpu thread frequency in hertz."),
    ("cpuinfo_min_freq", "node_cpu_frequency_min_hertz", "Minimum cpu thread frequency in hertz."),
    ("cpuinfo_max_freq", "node_cpu_frequency_max_hertz", "Maximum cpu thread frequency in hertz."),
    ("scaling_cur_freq", "node_cpu_scaling_frequency_hertz", "Current scaled CPU thread frequency in hertz."),
    ("scaling_min_freq", "node_cpu_scaling_frequency_min_hertz", "Minimum scaled CPU thread frequency in hertz."),
    ("scaling_max_freq", "node_cpu_scaling_frequency_max_hertz", "Maximum scaled CPU thread frequency in hertz."),
];

/// Files procfs reads as numbers but node_exporter does not export; a
/// malformed one still fails the collector.
const OTHER_UINT: [&str; 1] = ["cpuinfo_transition_latency"];

/// Files procfs requires (any read error fails the collector).
const REQUIRED: [&str; 5] = [
    "scaling_available_governors",
    "scaling_driver",
    "scaling_governor",
    "related_cpus",
    "scaling_setspeed",
];

type CpuFreqs = (String, Vec<(usize, u64)>);

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let base = paths.sys("devices/system/cpu");
    let cpus: Vec<String> = dir_names(&base)
        .into_iter()
        .filter(|n| n.strip_prefix("cpu").is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit())))
        .collect();
    let mut dirs = Vec::new();
    for cpu in &cpus {
        let dir = format!("{base}/{cpu}/cpufreq");
        match std::fs::metadata(&dir) {
            Ok(_) => dirs.push((cpu["cpu".len()..].to_string(), dir)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(CollectError::Read { path: dir, source }),
        }
    }
    // The kernel may make each CPU's cur_freq read wait (it samples the
    // counters), so CPUs are read in parallel like procfs does.
    let results: Vec<Result<CpuFreqs>> = std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .chunks(dirs.len().div_ceil(8).max(1))
            .map(|chunk| s.spawn(move || chunk.iter().map(|(cpu, dir)| read_cpu(dir).map(|v| (cpu.clone(), v))).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| vec![Err(parse_error(&base, "cpufreq reader panicked"))]))
            .collect()
    });
    let mut cpus = Vec::with_capacity(results.len());
    for r in results {
        cpus.push(r?);
    }
    for (cpu, values) in cpus {
        for (i, khz) in values {
            let (_, name, help) = FILES[i];
            out.family(name, help, Kind::Gauge, &["cpu"]).push(&[&cpu], khz as f64 * 1000.0);
        }
    }
    Ok(())
}

/// `(index into FILES, kHz)` for the files present and readable.
fn read_cpu(dir: &str) -> Result<Vec<(usize, u64)>> {
    let mut values = Vec::new();
    let files = FILES.iter().map(|f| f.0).chain(OTHER_UINT);
    for (i, file) in files.enumerate() {
        let path = format!("{dir}/{file}");
        match crate::util::read_string(&path) {
            Ok(text) => {
                let v = crate::util::parse_trimmed::<u64>(&text).ok_or_else(|| parse_error(&path, "not an unsigned integer"))?;
                if i < FILES.len() {
                    values.push((i, v));
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied) => {}
            Err(source) => return Err(CollectError::Read { path, source }),
        }
    }
    for file in REQUIRED {
        let path = format!("{dir}/{file}");
        if let Err(source) = std::fs::read(&path) {
            return Err(CollectError::Read { path, source });
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("1800000\n") {
            let _ = crate::util::parse_trimmed::<u64>(&t);
        }
    }

    #[test]
    fn parses_khz() {
        assert_eq!(crate::util::parse_trimmed::<u64>("1800000\n"), Some(1800000));
        assert_eq!(crate::util::parse_trimmed::<u64>("<unknown>\n"), None);
    }
}
