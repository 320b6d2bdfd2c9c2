//! `filefd`: allocated and maximum file handles from /proc/sys/fs/file-nr
//! (three tab-separated numbers; the middle one is always 0 since 2.6).

use crate::expo::{Families, Kind};
use crate::util::{parse_error, read};
use crate::{HostPaths, Result};

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let path = paths.proc("sys/fs/file-nr");
    let (allocated, maximum) = parse(&read(&path)?).map_err(|what| parse_error(&path, what))?;
    out.single(
        "node_filefd_allocated",
        "File descriptor statistics: allocated.",
        Kind::Gauge,
        allocated,
    );
    out.single(
        "node_filefd_maximum",
        "File descriptor statistics: maximum.",
        Kind::Gauge,
        maximum,
    );
    Ok(())
}

/// `(allocated, maximum)`. node_exporter splits on tabs only.
fn parse(text: &str) -> std::result::Result<(f64, f64), String> {
    let parts: Vec<&str> = text.trim().split('\t').collect();
    if parts.len() < 3 {
        return Err("expected three tab-separated numbers".into());
    }
    let num = |s: &str| {
        bongsu_model::parse_go_float(s)
            .filter(|_| !s.is_empty() && s.trim() == s)
            .ok_or_else(|| format!("invalid value {s:?}"))
    };
    Ok((num(parts[0])?, num(parts[2])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("1024\t0\t1631329\n") {
            let _ = parse(&t);
        }
    }

    #[test]
    fn parses_file_nr() {
        assert_eq!(parse("1024\t0\t1631329\n"), Ok((1024.0, 1631329.0)));
        assert!(parse("1024 0 1631329\n").is_err());
        assert!(parse("x\t0\t1\n").is_err());
        assert!(parse("").is_err());
    }
}
