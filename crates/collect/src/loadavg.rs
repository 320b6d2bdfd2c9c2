//! `loadavg`: node_load1, node_load5, node_load15 from /proc/loadavg.

use crate::expo::{Families, Kind};
use crate::util::{parse_error, read};
use crate::{HostPaths, Result};

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let path = paths.proc("loadavg");
    let loads = parse(&read(&path)?).ok_or_else(|| parse_error(&path, "expected three load averages"))?;
    out.single("node_load1", "1m load average.", Kind::Gauge, loads[0]);
    out.single("node_load5", "5m load average.", Kind::Gauge, loads[1]);
    out.single("node_load15", "15m load average.", Kind::Gauge, loads[2]);
    Ok(())
}

fn parse(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

#[cfg(test)]
mod tests {
    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("0.02 1.50 2.00 1/200 300\n") {
            let _ = super::parse(&t);
        }
    }

    #[test]
    fn parses() {
        assert_eq!(
            super::parse("0.02 1.50 2.00 1/200 300\n"),
            Some([0.02, 1.5, 2.0])
        );
        assert_eq!(super::parse("0.02 x 2.00"), None);
        assert_eq!(super::parse(""), None);
    }
}
