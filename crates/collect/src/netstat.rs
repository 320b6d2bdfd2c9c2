//! `netstat`: protocol counters from /proc/net/netstat, /proc/net/snmp and
//! /proc/net/snmp6, filtered by node_exporter's default
//! `--collector.netstat.fields` regexp and exported untyped as
//! `node_netstat_<Protocol>_<Field>`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::expo::{Families, Kind};
use crate::util::{parse_error, read};
use crate::{CollectError, HostPaths, Result};

/// node_exporter 1.5's default `--collector.netstat.fields`.
pub(crate) const DEFAULT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

static FIELDS: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(DEFAULT_FIELDS).ok());

/// protocol → field → raw value.
type Stats = BTreeMap<String, BTreeMap<String, String>>;

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let netstat_path = paths.proc("net/netstat");
    let mut stats = parse_pairs(&read(&netstat_path)?).map_err(|w| parse_error(&netstat_path, w))?;
    let snmp_path = paths.proc("net/snmp");
    let snmp = parse_pairs(&read(&snmp_path)?).map_err(|w| parse_error(&snmp_path, w))?;
    // snmp6 is absent when IPv6 is disabled; node_exporter carries on.
    let snmp6_path = paths.proc("net/snmp6");
    let snmp6 = match crate::util::read_string(&snmp6_path) {
        Ok(text) => parse_snmp6(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stats::new(),
        Err(source) => {
            return Err(CollectError::Read {
                path: snmp6_path,
                source,
            })
        }
    };
    // Later files replace a protocol's whole table, as node_exporter merges.
    stats.extend(snmp);
    stats.extend(snmp6);
    let Some(filter) = FIELDS.as_ref() else {
        return Err(parse_error(&netstat_path, "invalid field filter"));
    };
    let mut selected = Vec::new();
    for (protocol, fields) in &stats {
        for (name, raw) in fields {
            let key = format!("{protocol}_{name}");
            // Every value must parse, selected or not (node_exporter fails the scrape).
            let value = bongsu_model::parse_go_float(raw)
                .filter(|_| raw.trim() == raw)
                .ok_or_else(|| parse_error(&netstat_path, format!("invalid value {raw:?} in netstats")))?;
            if filter.is_match(&key) && valid_name(&key) {
                selected.push((key, format!("Statistic {protocol}{name}."), value));
            }
        }
    }
    for (key, help, value) in selected {
        out.single(&format!("node_netstat_{key}"), &help, Kind::Untyped, value);
    }
    Ok(())
}

fn valid_name(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// /proc/net/netstat and /proc/net/snmp: a line of names (`Tcp: RtoAlgorithm
/// …`) followed by a line of values (`Tcp: 1 …`), fields separated by single
/// spaces.
fn parse_pairs(text: &str) -> std::result::Result<Stats, String> {
    let mut stats = Stats::new();
    let mut lines = text.lines();
    while let Some(names) = lines.next() {
        let values = lines.next().unwrap_or("");
        let names: Vec<&str> = names.split(' ').collect();
        let values: Vec<&str> = values.split(' ').collect();
        let Some(protocol) = names[0].strip_suffix(':').or_else(|| {
            // node_exporter drops the last character whatever it is.
            let mut chars = names[0].chars();
            chars.next_back().map(|_| chars.as_str())
        }) else {
            return Err("empty protocol name".into());
        };
        if names.len() != values.len() {
            return Err(format!("mismatch field count mismatch: {protocol}"));
        }
        let table = stats.entry(protocol.to_string()).or_default();
        table.clear();
        for (n, v) in names.iter().zip(&values).skip(1) {
            table.insert(n.to_string(), v.to_string());
        }
    }
    Ok(stats)
}

/// /proc/net/snmp6: `Ip6InReceives 123` per line; the protocol ends at the
/// first `6` of the name. Lines without one are skipped.
fn parse_snmp6(text: &str) -> Stats {
    let mut stats = Stats::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 2 {
            continue;
        }
        if let Some(six) = fields[0].find('6') {
            let (protocol, name) = fields[0].split_at(six + 1);
            stats
                .entry(protocol.to_string())
                .or_default()
                .insert(name.to_string(), fields[1].to_string());
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    const NETSTAT: &str = "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPTimeouts TCPSynRetrans DelayedACKs\n\
                           TcpExt: 0 1 2 3 4 5 6\n\
                           IpExt: InNoRoutes InOctets OutOctets\n\
                           IpExt: 0 100 200\n";
    const SNMP: &str = "Ip: Forwarding DefaultTTL InReceives InHdrErrors\nIp: 1 64 1000 7\n\
                        Tcp: RtoAlgorithm ActiveOpens PassiveOpens InSegs OutSegs RetransSegs InErrs OutRsts CurrEstab\n\
                        Tcp: 1 10 11 12 13 14 15 16 17\n\
                        Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors\n\
                        Udp: 20 21 22 23 24 25 26\n";
    const SNMP6: &str = "Ip6InReceives                   \t5\nIp6InOctets 300\nIcmp6InMsgs 30\nUdp6InDatagrams 40\nUdpLite6InErrors 0\nNoSix 1\n";

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled(NETSTAT) {
            let _ = parse_pairs(&t);
        }
        for t in crate::util::mangled(SNMP6) {
            let _ = parse_snmp6(&t);
        }
    }

    #[test]
    fn parses_and_filters() {
        let mut stats = parse_pairs(NETSTAT).expect("netstat");
        stats.extend(parse_pairs(SNMP).expect("snmp"));
        stats.extend(parse_snmp6(SNMP6));
        assert_eq!(stats["Tcp"]["CurrEstab"], "17");
        assert_eq!(stats["UdpLite6"]["InErrors"], "0");
        assert!(!stats.contains_key("NoSix"));
        let filter = FIELDS.as_ref().expect("regexp");
        let mut kept = Vec::new();
        for (p, fields) in &stats {
            for n in fields.keys() {
                let key = format!("{p}_{n}");
                if filter.is_match(&key) {
                    kept.push(key);
                }
            }
        }
        kept.sort();
        assert_eq!(
            kept,
            [
                "Icmp6_InMsgs", "Ip6_InOctets", "IpExt_InOctets", "IpExt_OutOctets", "Ip_Forwarding",
                "TcpExt_ListenDrops", "TcpExt_ListenOverflows", "TcpExt_SyncookiesRecv",
                "TcpExt_SyncookiesSent", "TcpExt_TCPSynRetrans", "TcpExt_TCPTimeouts", "Tcp_ActiveOpens",
                "Tcp_CurrEstab", "Tcp_InErrs", "Tcp_InSegs", "Tcp_OutRsts", "Tcp_OutSegs", "Tcp_PassiveOpens",
                "Tcp_RetransSegs", "Udp6_InDatagrams", "UdpLite6_InErrors", "Udp_InDatagrams", "Udp_InErrors",
                "Udp_NoPorts", "Udp_OutDatagrams", "Udp_RcvbufErrors", "Udp_SndbufErrors",
            ]
        );
        assert!(parse_pairs("Tcp: A B\nTcp: 1\n").is_err());
        assert!(parse_pairs("Tcp: A B\n").is_err());
    }
}
