//! `time`: the system clock, the local time zone's offset, and the kernel's
//! clock sources from /sys/devices/system/clocksource.

use crate::expo::{Families, Kind};
use crate::sys;
use crate::util::{dir_names, is_prefix_digits, read_trimmed};
use crate::{HostPaths, Result};

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let clocksource_dir = paths.sys("devices/system/clocksource");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    out.single(
        "node_time_seconds",
        "System time in seconds since epoch (1970).",
        Kind::Gauge,
        now,
    );
    if let Some((zone, offset)) = sys::local_zone(now as i64) {
        out.family(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
            Kind::Gauge,
            &["time_zone"],
        )
        .push(&[zone], offset as f64);
    }

    // node_exporter labels each clock source device by its index in the
    // sorted list of clocksource<N> directories.
    let devices: Vec<String> = dir_names(&clocksource_dir)
        .into_iter()
        .filter(|n| is_prefix_digits(n, "clocksource"))
        .collect();
    for (i, dev) in devices.iter().enumerate() {
        let idx = i.to_string();
        let base = format!("{clocksource_dir}/{dev}");
        if let Some(avail) = read_trimmed(&format!("{base}/available_clocksource")) {
            let fam = out.family(
                "node_time_clocksource_available_info",
                "Available clocksources read from '/sys/devices/system/clocksource'.",
                Kind::Gauge,
                &["device", "clocksource"],
            );
            for cs in avail.split_whitespace() {
                fam.push(&[idx.as_str(), cs], 1.0);
            }
        }
        if let Some(current) = read_trimmed(&format!("{base}/current_clocksource")) {
            out.family(
                "node_time_clocksource_current_info",
                "Current clocksource read from '/sys/devices/system/clocksource'.",
                Kind::Gauge,
                &["device", "clocksource"],
            )
            .push(&[idx.as_str(), current.as_str()], 1.0);
        }
    }
    Ok(())
}
