//! `vmstat`: the /proc/vmstat fields node_exporter's default
//! `--collector.vmstat.fields` regexp selects, as untyped metrics.

use std::sync::LazyLock;

use regex::Regex;

use crate::expo::{Families, Kind};
use crate::util::{parse_error, read};
use crate::{HostPaths, Result};

/// node_exporter 1.5's default `--collector.vmstat.fields`.
pub(crate) const DEFAULT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

static FIELDS: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(DEFAULT_FIELDS).ok());

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let path = paths.proc("vmstat");
    let fields = parse(&read(&path)?).map_err(|what| parse_error(&path, what))?;
    let Some(filter) = FIELDS.as_ref() else {
        return Err(parse_error(&path, "invalid field filter"));
    };
    for (key, value) in fields {
        // A name no metric can carry is skipped (node_exporter would panic).
        if !filter.is_match(&key) || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        out.single(
            &format!("node_vmstat_{key}"),
            &format!("/proc/vmstat information field {key}."),
            Kind::Untyped,
            value,
        );
    }
    Ok(())
}

/// Every `name value` line. Like node_exporter, any unparsable value fails
/// the whole file, selected or not.
fn parse(text: &str) -> std::result::Result<Vec<(String, f64)>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (Some(key), Some(value)) = (parts.first(), parts.get(1)) else {
            return Err(format!("invalid line {line:?}"));
        };
        let value = bongsu_model::parse_go_float(value).ok_or_else(|| format!("invalid value in line {line:?}"))?;
        out.push((key.to_string(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("nr_free_pages 1234\npgfault 99\noom_kill 0\n") {
            let _ = parse(&t);
        }
    }

    #[test]
    fn filters_like_node_exporter() {
        let text = "nr_free_pages 1234\npgpgin 1\npgpgout 2\npswpin 3\npgfault 4\npgmajfault 5\noom_kill 6\n\
                    pgfree 7\nthp_fault_alloc 8\npgsteal_kswapd 9\n";
        let filter = FIELDS.as_ref().expect("valid regexp");
        let kept: Vec<String> = parse(text)
            .expect("parse")
            .into_iter()
            .filter(|(k, _)| filter.is_match(k))
            .map(|(k, _)| k)
            .collect();
        assert_eq!(kept, ["pgpgin", "pgpgout", "pswpin", "pgfault", "pgmajfault", "oom_kill"]);
        assert!(parse("pgfault x\n").is_err());
        assert!(parse("pgfault\n").is_err());
    }
}
