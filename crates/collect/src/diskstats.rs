//! `diskstats`: per-block-device I/O counters from /proc/diskstats, plus
//! node_disk_info and the udev-derived info families, with node_exporter's
//! default device exclude `^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`
//! (partitions, RAM and loop devices).

use std::collections::HashMap;

use crate::expo::{Families, Kind};
use crate::util::{read, read_trimmed};
use crate::{HostPaths, Result};

/// /proc/diskstats counts "standard UNIX 512-byte sectors".
const SECTOR_BYTES: f64 = 512.0;
/// Times are in milliseconds.
const MS: f64 = 0.001;

/// The counters after `major minor name`, in /proc/diskstats order:
/// (metric name, help, type, scale).
const STATS: [(&str, &str, Kind, f64); 17] = [
    (
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        Kind::Counter,
        SECTOR_BYTES,
    ),
    (
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        Kind::Counter,
        MS,
    ),
    (
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        Kind::Counter,
        SECTOR_BYTES,
    ),
    (
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        Kind::Counter,
        MS,
    ),
    (
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        Kind::Gauge,
        1.0,
    ),
    (
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        Kind::Counter,
        MS,
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        Kind::Counter,
        MS,
    ),
    (
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        Kind::Counter,
        MS,
    ),
    (
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        Kind::Counter,
        MS,
    ),
];

/// udev properties exported as `node_disk_ata_*` gauges when `ID_ATA` is set.
const ATA: [(&str, &str, &str); 3] = [
    (
        "ID_ATA_WRITE_CACHE",
        "node_disk_ata_write_cache",
        "ATA disk has a write cache.",
    ),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        "node_disk_ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
    (
        "ID_ATA_ROTATION_RATE_RPM",
        "node_disk_ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
];

#[derive(Debug, PartialEq)]
struct Disk {
    major: String,
    minor: String,
    name: String,
    stats: Vec<f64>,
}

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    for disk in parse(&read(&paths.proc("diskstats"))?) {
        if excluded(&disk.name) {
            continue;
        }
        let dev = disk.name.as_str();
        let udev = udev_properties(&paths.udev_data, &disk.major, &disk.minor);
        let prop = |k: &str| udev.get(k).map(String::as_str).unwrap_or("");
        // Serial as printed on the label, else udev's short or full serial.
        let serial = [
            prop("SCSI_IDENT_SERIAL"),
            prop("ID_SERIAL_SHORT"),
            prop("ID_SERIAL"),
        ]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("");
        out.family(
            "node_disk_info",
            "Info of /sys/block/<block_device>.",
            Kind::Gauge,
            &[
                "device", "major", "minor", "path", "wwn", "model", "serial", "revision",
            ],
        )
        .push(
            &[
                dev,
                &disk.major,
                &disk.minor,
                prop("ID_PATH"),
                prop("ID_WWN"),
                prop("ID_MODEL"),
                serial,
                prop("ID_REVISION"),
            ],
            1.0,
        );
        for ((name, help, kind, scale), v) in STATS.iter().zip(&disk.stats) {
            out.family(name, help, *kind, &["device"])
                .push(&[dev], v * scale);
        }
        if !prop("ID_FS_TYPE").is_empty() {
            out.family(
                "node_disk_filesystem_info",
                "Info about disk filesystem.",
                Kind::Gauge,
                &["device", "type", "usage", "uuid", "version"],
            )
            .push(
                &[
                    dev,
                    prop("ID_FS_TYPE"),
                    prop("ID_FS_USAGE"),
                    prop("ID_FS_UUID"),
                    prop("ID_FS_VERSION"),
                ],
                1.0,
            );
        }
        if !prop("DM_NAME").is_empty() {
            out.family(
                "node_disk_device_mapper_info",
                "Info about disk device mapper.",
                Kind::Gauge,
                &["device", "name", "uuid", "vg_name", "lv_name", "lv_layer"],
            )
            .push(
                &[
                    dev,
                    prop("DM_NAME"),
                    prop("DM_UUID"),
                    prop("DM_VG_NAME"),
                    prop("DM_LV_NAME"),
                    prop("DM_LV_LAYER"),
                ],
                1.0,
            );
        }
        if !prop("ID_ATA").is_empty() {
            for (key, name, help) in ATA {
                if let Some(v) = udev.get(key).and_then(|s| s.parse::<f64>().ok()) {
                    out.family(name, help, Kind::Gauge, &["device"])
                        .push(&[dev], v);
                }
            }
        }
    }
    Ok(())
}

fn parse(text: &str) -> Vec<Disk> {
    let mut disks = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(major), Some(minor), Some(name)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let stats: Option<Vec<f64>> = fields.map(|f| f.parse::<f64>().ok()).collect();
        let Some(stats) = stats else {
            continue;
        };
        disks.push(Disk {
            major: major.to_string(),
            minor: minor.to_string(),
            name: name.to_string(),
            stats,
        });
    }
    disks
}

/// node_exporter's default `^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`.
fn excluded(name: &str) -> bool {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if base.len() == name.len() {
        return false;
    }
    let b = base.as_bytes();
    let sd_like = |prefix: &[u8]| {
        b.len() == prefix.len() + 2
            && b.starts_with(prefix)
            && b[prefix.len()] == b'd'
            && b[prefix.len() + 1].is_ascii_lowercase()
    };
    matches!(base, "ram" | "zram" | "loop" | "fd")
        || sd_like(b"h")
        || sd_like(b"s")
        || sd_like(b"v")
        || sd_like(b"xv")
        || is_nvme_partition_prefix(base)
}

/// `nvme\d+n\d+p`.
fn is_nvme_partition_prefix(base: &str) -> bool {
    let Some(rest) = base.strip_prefix("nvme").and_then(|r| r.strip_suffix('p')) else {
        return false;
    };
    let Some((ctrl, ns)) = rest.split_once('n') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    digits(ctrl) && digits(ns)
}

/// The `E:KEY=VALUE` properties of udev's database entry for a block device.
fn udev_properties(udev_data: &str, major: &str, minor: &str) -> HashMap<String, String> {
    let dir = udev_data.trim_end_matches('/');
    let Some(text) = read_trimmed(&format!("{dir}/b{major}:{minor}")) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|l| l.strip_prefix("E:"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled(" 254 0 vda 73406 8822 7851618 81003 20310 44938 13482880 54299 0 10608 137201\n 259 1 nvme0n1p1 1 2 3\n") {
            for d in parse(&t) {
                let _ = excluded(&d.name);
            }
            let _ = excluded(&t);
        }
    }

    #[test]
    fn default_excludes() {
        for name in [
            "sda1",
            "vda2",
            "xvdb3",
            "hda1",
            "nvme0n1p1",
            "nvme10n2p13",
            "loop0",
            "ram1",
            "zram0",
            "fd0",
        ] {
            assert!(excluded(name), "{name} should be excluded");
        }
        for name in [
            "sda",
            "vda",
            "nvme0n1",
            "dm-0",
            "md0",
            "mmcblk0",
            "mmcblk0p1",
            "sr0",
            "zram",
            "xvda",
            "sdaa1",
        ] {
            assert!(!excluded(name), "{name} should be kept");
        }
    }

    #[test]
    fn parses_short_and_long_lines() {
        let disks = parse(
            " 254       0 vda 73406 8822 7851618 81003 20310 44938 13482880 54299 0 10608 137201 11583 21 5029672 1739 2056 158\n\
               8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n bad\n",
        );
        assert_eq!(disks.len(), 2);
        assert_eq!(disks[0].name, "vda");
        assert_eq!(disks[0].stats.len(), 17);
        assert_eq!(disks[1].stats.len(), 11);
    }
}
