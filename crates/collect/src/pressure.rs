//! `pressure`: total stall times from /proc/pressure/{cpu,io,memory} (PSI,
//! Linux 4.20+ with CONFIG_PSI). A kernel without them gives no data, like
//! node_exporter: `node_scrape_collector_success{collector="pressure"} 0`.

use crate::expo::{Families, Kind};
use crate::util::parse_error;
use crate::{CollectError, HostPaths, Result};

/// The `total=` microseconds of the `some` and `full` lines.
#[derive(Debug, Default, PartialEq)]
struct Psi {
    some: Option<u64>,
    full: Option<u64>,
}

/// One exported total: whether it is the `full` line's, metric, HELP.
type Total = (bool, &'static str, &'static str);

/// `(resource, totals)` in node_exporter's order.
const RESOURCES: [(&str, &[Total]); 3] = [
    (
        "cpu",
        &[(false, "node_pressure_cpu_waiting_seconds_total", "Total time in seconds that processes have waited for CPU time")],
    ),
    (
        "io",
        &[
            (false, "node_pressure_io_waiting_seconds_total", "Total time in seconds that processes have waited due to IO congestion"),
            (true, "node_pressure_io_stalled_seconds_total", "Total time in seconds no process could make progress due to IO congestion"),
        ],
    ),
    (
        "memory",
        &[
            (false, "node_pressure_memory_waiting_seconds_total", "Total time in seconds that processes have waited for memory"),
            (true, "node_pressure_memory_stalled_seconds_total", "Total time in seconds no process could make progress due to memory congestion"),
        ],
    ),
];

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    for (resource, metrics) in RESOURCES {
        let path = paths.proc(&format!("pressure/{resource}"));
        let text = match crate::util::read_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CollectError::NoData(
                    "pressure information is unavailable, you need a Linux kernel >= 4.20 and/or CONFIG_PSI enabled for your kernel".into(),
                ));
            }
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
                return Err(CollectError::NoData(
                    "pressure information is disabled, add psi=1 kernel command line to enable it".into(),
                ));
            }
            Err(source) => return Err(CollectError::Read { path, source }),
        };
        let psi = parse(&text).map_err(|what| parse_error(&path, what))?;
        for &(full, name, help) in metrics {
            let total = if full { psi.full } else { psi.some };
            let Some(total) = total else {
                return Err(parse_error(&path, format!("no {} line", if full { "full" } else { "some" })));
            };
            out.single(name, help, Kind::Counter, total as f64 / 1000.0 / 1000.0);
        }
    }
    Ok(())
}

/// `some avg10=0.00 avg60=0.00 avg300=0.00 total=123` and the `full` line;
/// other lines are ignored, a malformed some/full line is an error.
fn parse(text: &str) -> std::result::Result<Psi, String> {
    let mut psi = Psi::default();
    for line in text.lines() {
        let mut fields = line.split(' ');
        let slot = match fields.next() {
            Some("some") => &mut psi.some,
            Some("full") => &mut psi.full,
            _ => continue,
        };
        let mut total = None;
        for (i, key) in ["avg10=", "avg60=", "avg300=", "total="].iter().enumerate() {
            let field = fields.next().ok_or_else(|| format!("short line {line:?}"))?;
            let value = field.strip_prefix(key).ok_or_else(|| format!("expected {key} in {line:?}"))?;
            if i < 3 {
                value.parse::<f64>().map_err(|_| format!("invalid {key} in {line:?}"))?;
            } else {
                total = Some(value.parse::<u64>().map_err(|_| format!("invalid total in {line:?}"))?);
            }
        }
        *slot = total;
    }
    Ok(psi)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IO: &str = "some avg10=0.18 avg60=0.10 avg300=0.05 total=139202905\nfull avg10=0.00 avg60=0.01 avg300=0.02 total=83005191\n";

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled(IO) {
            let _ = parse(&t);
        }
    }

    #[test]
    fn parses_psi() {
        assert_eq!(
            parse(IO),
            Ok(Psi {
                some: Some(139202905),
                full: Some(83005191),
            })
        );
        assert_eq!(parse("some avg10=1 avg60=2 avg300=3 total=4\n").map(|p| p.full), Ok(None));
        assert!(parse("some avg10=x avg60=2 avg300=3 total=4\n").is_err());
        assert!(parse("full avg10=1 avg60=2 avg300=3\n").is_err());
    }
}
