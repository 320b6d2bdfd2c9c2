//! `stat`: boot time, context switches, forks, interrupts and process
//! states from /proc/stat (the CPU lines belong to the `cpu` collector).

use crate::expo::{Families, Kind};
use crate::util::{parse_error, read};
use crate::{HostPaths, Result};

#[derive(Debug, Default, PartialEq)]
struct Stat {
    intr: Option<f64>,
    ctxt: Option<f64>,
    btime: Option<f64>,
    processes: Option<f64>,
    procs_running: Option<f64>,
    procs_blocked: Option<f64>,
}

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let path = paths.proc("stat");
    let s = parse(&read(&path)?);
    let (Some(intr), Some(ctxt), Some(btime), Some(forks), Some(running), Some(blocked)) = (
        s.intr,
        s.ctxt,
        s.btime,
        s.processes,
        s.procs_running,
        s.procs_blocked,
    ) else {
        return Err(parse_error(
            &path,
            "missing intr, ctxt, btime, processes or procs_* lines",
        ));
    };
    out.single(
        "node_intr_total",
        "Total number of interrupts serviced.",
        Kind::Counter,
        intr,
    );
    out.single(
        "node_context_switches_total",
        "Total number of context switches.",
        Kind::Counter,
        ctxt,
    );
    out.single(
        "node_forks_total",
        "Total number of forks.",
        Kind::Counter,
        forks,
    );
    out.single(
        "node_boot_time_seconds",
        "Node boot time, in unixtime.",
        Kind::Gauge,
        btime,
    );
    out.single(
        "node_procs_running",
        "Number of processes in runnable state.",
        Kind::Gauge,
        running,
    );
    out.single(
        "node_procs_blocked",
        "Number of processes blocked waiting for I/O to complete.",
        Kind::Gauge,
        blocked,
    );
    Ok(())
}

fn parse(text: &str) -> Stat {
    let mut s = Stat::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(key), Some(first)) = (fields.next(), fields.next()) else {
            continue;
        };
        let v = first.parse::<f64>().ok();
        match key {
            "intr" => s.intr = v,
            "ctxt" => s.ctxt = v,
            "btime" => s.btime = v,
            "processes" => s.processes = v,
            "procs_running" => s.procs_running = v,
            "procs_blocked" => s.procs_blocked = v,
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("intr 904864 0 1\nctxt 1430533\nbtime 1795681149\nprocesses 61968\nprocs_running 3\n") {
            let _ = parse(&t);
        }
    }

    #[test]
    fn parses_proc_stat() {
        let text = "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 904864 0 0 1\n\
                    ctxt 1430533\nbtime 1795681149\nprocesses 61968\nprocs_running 3\nprocs_blocked 1\n\
                    softirq 403181 0 68059\n";
        assert_eq!(
            parse(text),
            Stat {
                intr: Some(904864.0),
                ctxt: Some(1430533.0),
                btime: Some(1795681149.0),
                processes: Some(61968.0),
                procs_running: Some(3.0),
                procs_blocked: Some(1.0),
            }
        );
    }
}
