//! `uname`: node_uname_info with the six uname(2) fields as labels.

use crate::expo::{Families, Kind};
use crate::{sys, CollectError, HostPaths, Result};

/// uname(2) describes the running kernel whatever the configured paths.
pub(crate) fn collect(_paths: &HostPaths, out: &mut Families) -> Result {
    let u = sys::uname().ok_or_else(|| CollectError::Read {
        path: "uname(2)".to_string(),
        source: std::io::Error::last_os_error(),
    })?;
    out.family(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        Kind::Gauge,
        &[
            "sysname",
            "release",
            "version",
            "machine",
            "nodename",
            "domainname",
        ],
    )
    .push(
        &[
            &u.sysname,
            &u.release,
            &u.version,
            &u.machine,
            &u.nodename,
            &u.domainname,
        ],
        1.0,
    );
    Ok(())
}
