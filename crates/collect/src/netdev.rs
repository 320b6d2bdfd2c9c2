//! `netdev`: per-interface counters with node_exporter's (legacy, default)
//! names, from /proc/net/dev plus `rx_nohandler` from
//! /sys/class/net/<dev>/statistics (node_exporter reads both through
//! netlink; /proc/net/dev already folds the detailed error counters the way
//! node_exporter's legacy mapping does).
//!
//! Like upstream node_exporter, no device is excluded by default (Debian's
//! package patches in `^lo$`).

use crate::expo::{Families, Kind};
use crate::util::{read, read_u64};
use crate::{HostPaths, Result};

/// /proc/net/dev's columns after `iface:`, named as node_exporter names the
/// metrics (`node_network_<name>_total`).
const COLUMNS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let devices = parse(&read(&paths.proc("net/dev"))?);
    for (dev, values) in &devices {
        for (key, v) in COLUMNS.iter().zip(values) {
            push(out, key, dev, *v);
        }
        // netlink reports 0 where the kernel keeps no such counter.
        let nohandler =
            read_u64(&paths.sys(&format!("class/net/{dev}/statistics/rx_nohandler"))).unwrap_or(0);
        push(out, "receive_nohandler", dev, nohandler as f64);
    }
    Ok(())
}

fn push(out: &mut Families, key: &str, dev: &str, value: f64) {
    out.family(
        &format!("node_network_{key}_total"),
        &format!("Network device statistic {key}."),
        Kind::Counter,
        &["device"],
    )
    .push(&[dev], value);
}

/// `(device, 16 counters)` for every well-formed interface line.
fn parse(text: &str) -> Vec<(String, [f64; 16])> {
    let mut devices = Vec::new();
    for line in text.lines() {
        // Interface names cannot contain ':', so the first one ends the name.
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.contains('|') {
            continue;
        }
        let parsed: Vec<f64> = rest
            .split_whitespace()
            .filter_map(|f| f.parse::<f64>().ok())
            .collect();
        let Ok(values) = <[f64; 16]>::try_from(parsed) else {
            continue;
        };
        devices.push((name.to_string(), values));
    }
    devices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_input_never_panics() {
        let text = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
        for t in crate::util::mangled(text) {
            let _ = parse(&t);
        }
    }

    #[test]
    fn parses_proc_net_dev() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
                    face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
                    lo:  111866     492    0    0    0     0          0         0   111866     492    0    0    0     0       0          0\n  \
                    eth0:173120251    7596    1    2    3     4          5         6   427554    4458    7    8    9    10      11         12\n";
        let devs = parse(text);
        assert_eq!(devs.len(), 2);
        assert_eq!(devs[0].0, "lo");
        assert_eq!(devs[1].0, "eth0");
        assert_eq!(devs[1].1[0], 173120251.0);
        assert_eq!(devs[1].1[5], 4.0);
        assert_eq!(devs[1].1[15], 12.0);
    }
}
