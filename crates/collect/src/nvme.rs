//! `nvme`: one `node_nvme_info` series per controller in /sys/class/nvme.
//! Without that directory the collector has no data (success 0), like
//! node_exporter.

use crate::expo::{Families, Kind};
use crate::{CollectError, HostPaths, Result};

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let base = paths.sys("class/nvme");
    let mut names: Vec<String> = match std::fs::read_dir(&base) {
        Ok(rd) => rd.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CollectError::NoData("nvme statistics not found, skipping".into()))
        }
        Err(source) => return Err(CollectError::Read { path: base, source }),
    };
    names.sort();
    // All devices are read before any is exported: one unreadable attribute
    // fails the collector, as in procfs.
    let mut devices = Vec::with_capacity(names.len());
    for name in names {
        let mut attrs = Vec::with_capacity(4);
        for file in ["firmware_rev", "model", "serial", "state"] {
            let path = format!("{base}/{name}/{file}");
            let bytes = std::fs::read(&path).map_err(|source| CollectError::Read { path, source })?;
            attrs.push(clean(&bytes));
        }
        devices.push((name, attrs));
    }
    for (name, a) in devices {
        out.family(
            "node_nvme_info",
            "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
            Kind::Gauge,
            &["device", "firmware_revision", "model", "serial", "state"],
        )
        .push(&[name.as_str(), &a[0], &a[1], &a[2], &a[3]], 1.0);
    }
    Ok(())
}

/// procfs' SysReadFile: the first 128 bytes, surrounding whitespace trimmed.
fn clean(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(128)]).trim().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("Samsung SSD 970 EVO Plus 1TB           \n") {
            let _ = super::clean(t.as_bytes());
        }
    }

    #[test]
    fn trims_padding() {
        assert_eq!(super::clean(b"S4EWNX0R123456      \n"), "S4EWNX0R123456");
    }
}
