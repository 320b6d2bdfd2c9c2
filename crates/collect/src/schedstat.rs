//! `schedstat`: per-CPU run time, wait time and timeslices from
//! /proc/schedstat (kernels with CONFIG_SCHEDSTATS; otherwise no data).

use std::sync::LazyLock;

use regex::Regex;

use crate::expo::{Families, Kind};
use crate::util::parse_error;
use crate::{CollectError, HostPaths, Result};

/// procfs' line pattern: `cpuN` and nine numbers; the last three are the
/// running time (ns), the waiting time (ns) and the timeslices.
static CPU_LINE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"cpu(\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)").ok()
});

#[derive(Debug, PartialEq)]
struct Cpu {
    cpu: String,
    running_ns: u64,
    waiting_ns: u64,
    timeslices: u64,
}

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let path = paths.proc("schedstat");
    let text = match crate::util::read_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CollectError::NoData("schedstat file does not exist".into()))
        }
        Err(source) => return Err(CollectError::Read { path, source }),
    };
    let cpus = parse(&text).ok_or_else(|| parse_error(&path, "invalid line pattern"))?;
    for c in cpus {
        out.family(
            "node_schedstat_running_seconds_total",
            "Number of seconds CPU spent running a process.",
            Kind::Counter,
            &["cpu"],
        )
        .push(&[&c.cpu], c.running_ns as f64 / 1e9);
        out.family(
            "node_schedstat_waiting_seconds_total",
            "Number of seconds spent by processing waiting for this CPU.",
            Kind::Counter,
            &["cpu"],
        )
        .push(&[&c.cpu], c.waiting_ns as f64 / 1e9);
        out.family(
            "node_schedstat_timeslices_total",
            "Number of timeslices executed by CPU.",
            Kind::Counter,
            &["cpu"],
        )
        .push(&[&c.cpu], c.timeslices as f64);
    }
    Ok(())
}

/// The cpu lines; lines that do not match, or whose numbers overflow, are
/// skipped like procfs skips them.
fn parse(text: &str) -> Option<Vec<Cpu>> {
    let re = CPU_LINE.as_ref()?;
    let mut cpus = Vec::new();
    for line in text.lines() {
        let Some(m) = re.captures(line) else { continue };
        let num = |i: usize| m.get(i).and_then(|g| g.as_str().parse::<u64>().ok());
        let (Some(running_ns), Some(waiting_ns), Some(timeslices)) = (num(8), num(9), num(10)) else {
            continue;
        };
        cpus.push(Cpu {
            cpu: m.get(1).map_or("", |g| g.as_str()).to_string(),
            running_ns,
            waiting_ns,
            timeslices,
        });
    }
    Some(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "version 15\ntimestamp 15819019232\n\
                        cpu0 498494191 0 499 0 0 0 2133342924924 15441180960 48456453\n\
                        domain0 00000000,00000003 212499247 210112015 1861015 1860405436 536440 369895 32599 210079416 25368550 24241256 384652 927363878 807233 6366 1647 4072 0 0 0\n\
                        cpu1 518377256 0 4155211 0 0 0 2167338913 43102780 49016262\n";

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled(TEXT) {
            let _ = parse(&t);
        }
    }

    #[test]
    fn parses_cpu_lines() {
        let cpus = parse(TEXT).expect("regexp");
        assert_eq!(cpus.len(), 2);
        assert_eq!(
            cpus[0],
            Cpu {
                cpu: "0".into(),
                running_ns: 2133342924924,
                waiting_ns: 15441180960,
                timeslices: 48456453,
            }
        );
        assert_eq!(cpus[1].cpu, "1");
    }
}
