//! `entropy`: the kernel's available entropy and pool size from
//! /proc/sys/kernel/random.

use crate::expo::{Families, Kind};
use crate::util::parse_error;
use crate::{CollectError, HostPaths, Result};

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    // node_exporter (procfs' KernelRandom) treats a missing file as "not
    // reported" and fails with "couldn't get …" only when it needs it.
    let avail = read_uint(&paths.proc("sys/kernel/random/entropy_avail"))?;
    let Some(avail) = avail else {
        return Err(parse_error(&paths.proc("sys/kernel/random/entropy_avail"), "couldn't get entropy_avail"));
    };
    out.single(
        "node_entropy_available_bits",
        "Bits of available entropy.",
        Kind::Gauge,
        avail as f64,
    );
    let Some(pool) = read_uint(&paths.proc("sys/kernel/random/poolsize"))? else {
        return Err(parse_error(&paths.proc("sys/kernel/random/poolsize"), "couldn't get entropy poolsize"));
    };
    out.single(
        "node_entropy_pool_size_bits",
        "Bits of entropy pool.",
        Kind::Gauge,
        pool as f64,
    );
    Ok(())
}

/// The file as one unsigned integer; `None` when it does not exist, an
/// error when it cannot be read or is not a number.
fn read_uint(path: &str) -> Result<Option<u64>> {
    match crate::util::read_string(path) {
        Ok(text) => crate::util::parse_trimmed::<u64>(&text)
            .map(Some)
            .ok_or_else(|| parse_error(path, format!("not an unsigned integer: {:?}", text.trim()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CollectError::Read {
            path: path.to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("256\n") {
            let _ = crate::util::parse_trimmed::<u64>(&t);
        }
    }

    #[test]
    fn parses() {
        assert_eq!(crate::util::parse_trimmed::<u64>("3754\n"), Some(3754));
        assert_eq!(crate::util::parse_trimmed::<u64>("-1\n"), None);
    }
}
