//! `meminfo`: one gauge per /proc/meminfo field, named as node_exporter
//! names them: `Active(anon)` becomes `node_memory_Active_anon_bytes`, kB
//! values are multiplied by 1024 and get `_bytes`, unitless fields
//! (`HugePages_Total`) keep their bare name.

use crate::expo::{Families, Kind};
use crate::util::{parse_error, read};
use crate::{HostPaths, Result};

const PATH: &str = "/proc/meminfo";

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    for (key, value) in parse(&read(&paths.proc("meminfo"))?)? {
        let name = format!("node_memory_{key}");
        // node_exporter types a field ending in _total as a counter.
        let kind = if key.ends_with("_total") {
            Kind::Counter
        } else {
            Kind::Gauge
        };
        let help = format!("Memory information field {key}.");
        out.single(&name, &help, kind, value);
    }
    Ok(())
}

fn parse(text: &str) -> Result<Vec<(String, f64)>> {
    let mut fields = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.is_empty() {
            continue;
        }
        let (Some(raw_key), Some(raw_value)) = (parts.first(), parts.get(1)) else {
            return Err(parse_error(PATH, format!("invalid line {line:?}")));
        };
        let mut value: f64 = raw_value
            .parse()
            .map_err(|_| parse_error(PATH, format!("invalid value in line {line:?}")))?;
        let mut key = rename(raw_key.strip_suffix(':').unwrap_or(raw_key));
        match parts.len() {
            2 => {}
            3 => {
                value *= 1024.0;
                key.push_str("_bytes");
            }
            _ => return Err(parse_error(PATH, format!("invalid line {line:?}"))),
        }
        fields.push((key, value));
    }
    Ok(fields)
}

/// `Active(anon)` → `Active_anon` (node_exporter's `\((.*)\)` → `_$1`), and
/// any character a metric name cannot hold becomes `_`.
fn rename(key: &str) -> String {
    let key = match (key.find('('), key.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            format!(
                "{}_{}{}",
                &key[..open],
                &key[open + 1..close],
                &key[close + 1..]
            )
        }
        _ => key.to_string(),
    };
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("MemTotal:       16384 kB\nActive(anon):     100 kB\nHugePages_Total:       0\n") {
            let _ = parse(&t);
        }
    }

    #[test]
    fn names_like_node_exporter() {
        let text =
            "MemTotal:       16384 kB\nActive(anon):     100 kB\nHugePages_Total:       0\n\n\
                    Hugepagesize:       2048 kB\nDirectMap4k:  10 kB\n";
        let got = parse(text).expect("parse");
        assert_eq!(
            got,
            vec![
                ("MemTotal_bytes".to_string(), 16384.0 * 1024.0),
                ("Active_anon_bytes".to_string(), 102400.0),
                ("HugePages_Total".to_string(), 0.0),
                ("Hugepagesize_bytes".to_string(), 2048.0 * 1024.0),
                ("DirectMap4k_bytes".to_string(), 10240.0),
            ]
        );
        assert!(parse("Bad: x kB\n").is_err());
        assert!(parse("Bad: 1 kB extra\n").is_err());
    }
}
