//! `sockstat`: socket counts per protocol from /proc/net/sockstat and
//! /proc/net/sockstat6 (`TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1`), named
//! `node_sockstat_<PROTO>_<field>`, plus `_mem_bytes` for page counts.

use crate::expo::{Families, Kind};
use crate::util::parse_error;
use crate::{sys, CollectError, HostPaths, Result};

/// One protocol line: its name and `(field, value)` pairs in the order
/// node_exporter exports them.
#[derive(Debug, PartialEq)]
struct Protocol {
    name: String,
    fields: Vec<(&'static str, i64)>,
}

#[derive(Debug, PartialEq, Default)]
struct Sockstat {
    used: Option<i64>,
    protocols: Vec<Protocol>,
}

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    // A kernel without IPv4 or IPv6 lacks the file: skipped silently.
    let v4 = read_optional(&paths.proc("net/sockstat"))?;
    let v6 = read_optional(&paths.proc("net/sockstat6"))?;
    let page = sys::page_size() as i64;
    for (is_v6, stat) in [(false, v4), (true, v6)] {
        let Some(stat) = stat else { continue };
        if let (false, Some(used)) = (is_v6, stat.used) {
            out.single(
                "node_sockstat_sockets_used",
                "Number of IPv4 sockets in use.",
                Kind::Gauge,
                used as f64,
            );
        }
        for p in &stat.protocols {
            let mem = p.fields.iter().find(|(k, _)| *k == "mem").map(|&(_, v)| v);
            let bytes = mem.map(|m| ("mem_bytes", m.saturating_mul(page)));
            for (field, value) in p.fields.iter().copied().chain(bytes) {
                out.single(
                    &format!("node_sockstat_{}_{field}", p.name),
                    &format!("Number of {} sockets in state {field}.", p.name),
                    Kind::Gauge,
                    value as f64,
                );
            }
        }
    }
    Ok(())
}

fn read_optional(path: &str) -> Result<Option<Sockstat>> {
    match crate::util::read_string(path) {
        Ok(text) => parse(&text).map(Some).map_err(|what| parse_error(path, what)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::debug!("{path} not found, skipping");
            Ok(None)
        }
        Err(source) => Err(CollectError::Read {
            path: path.to_string(),
            source,
        }),
    }
}

/// The fields node_exporter knows, in its export order; `inuse` is always
/// exported (0 when absent).
const KNOWN: [&str; 6] = ["inuse", "orphan", "tw", "alloc", "mem", "memory"];

fn parse(text: &str) -> std::result::Result<Sockstat, String> {
    let mut stat = Sockstat::default();
    for line in text.lines() {
        // procfs splits on single spaces and wants a name and one pair at least.
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 3 {
            return Err(format!("malformed sockstat line: {line:?}"));
        }
        let kvs = &fields[1..];
        if !kvs.len().is_multiple_of(2) {
            return Err(format!("odd number of fields in key/value pairs: {line:?}"));
        }
        let mut pairs: Vec<(&str, i64)> = Vec::with_capacity(kvs.len() / 2);
        for kv in kvs.chunks(2) {
            let v: i64 = kv[1].parse().map_err(|_| format!("invalid value {:?} in {line:?}", kv[1]))?;
            match pairs.iter_mut().find(|(k, _)| *k == kv[0]) {
                Some(p) => p.1 = v,
                None => pairs.push((kv[0], v)),
            }
        }
        let proto = fields[0].strip_suffix(':').unwrap_or(fields[0]);
        if proto == "sockets" {
            stat.used = Some(pairs.iter().find(|(k, _)| *k == "used").map_or(0, |p| p.1));
            continue;
        }
        if !proto.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || proto.is_empty() {
            return Err(format!("invalid protocol name in {line:?}"));
        }
        let mut out = Vec::new();
        for known in KNOWN {
            match pairs.iter().find(|(k, _)| *k == known) {
                Some(&(_, v)) => out.push((known, v)),
                None if known == "inuse" => out.push((known, 0)),
                None => {}
            }
        }
        stat.protocols.push(Protocol {
            name: proto.to_string(),
            fields: out,
        });
    }
    Ok(stat)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: &str = "sockets: used 229\nTCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1\nUDP: inuse 0 mem 0\n\
                      UDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n";

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled(V4) {
            let _ = parse(&t);
        }
    }

    #[test]
    fn parses_sockstat() {
        let s = parse(V4).expect("parse");
        assert_eq!(s.used, Some(229));
        assert_eq!(s.protocols.len(), 5);
        assert_eq!(
            s.protocols[0],
            Protocol {
                name: "TCP".into(),
                fields: vec![("inuse", 4), ("orphan", 0), ("tw", 4), ("alloc", 17), ("mem", 1)],
            }
        );
        assert_eq!(s.protocols[4].fields, vec![("inuse", 0), ("memory", 0)]);
        assert!(parse("TCP: inuse\n").is_err());
        assert!(parse("TCP: inuse x\n").is_err());
        assert!(parse("\n").is_err());
        let v6 = parse("TCP6: inuse 2\nUDP6: inuse 1\n").expect("v6");
        assert_eq!(v6.used, None);
        assert_eq!(v6.protocols[1].name, "UDP6");
    }
}
