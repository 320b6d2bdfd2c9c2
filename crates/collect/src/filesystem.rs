//! `filesystem`: size, free space and inodes of every mounted file system,
//! from /proc/1/mountinfo (falling back to /proc/self/mountinfo) and
//! statvfs(3), with node_exporter's default mount-point and fs-type excludes.
//!
//! statvfs on a dead network mount can hang forever, so each call runs on
//! its own short-lived thread and the gather waits at most
//! [`STATFS_DEADLINE`] for all of them; a mount that did not answer reports
//! `node_filesystem_device_error 1`. While such a call is still stuck, later
//! gathers report the error at once instead of piling up more threads.
//!
//! Defaults follow upstream node_exporter (1.9+): Debian's package patches
//! the mount-point exclude to also drop `/run`, `/mnt` and `/media`. Labels
//! are node_exporter 1.5's `{device, fstype, mountpoint}`; upstream 1.9 adds
//! a `device_error` label carrying the error text, which we leave out so a
//! series keeps its identity when a mount starts failing.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::expo::{Families, Kind};
use crate::sys::{self, FsStats};
use crate::util::read;
use crate::{HostPaths, Result};

/// How long one gather waits for all statvfs calls together.
pub(crate) const STATFS_DEADLINE: Duration = Duration::from_millis(1000);


/// node_exporter's default `--collector.filesystem.fs-types-exclude`.
const EXCLUDED_FS_TYPES: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "fusectl",
    "hugetlbfs",
    "iso9660",
    "mqueue",
    "nsfs",
    "overlay",
    "proc",
    "procfs",
    "pstore",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "erofs",
    "sysfs",
    "tracefs",
];

const LABELS: &[&str] = &["device", "fstype", "mountpoint"];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    device: String,
    mountpoint: String,
    fstype: String,
    major: String,
    minor: String,
    readonly: bool,
}

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    // PID 1's view is the host's; /proc/1 may be hidden (hidepid).
    let text = match read(&paths.proc("1/mountinfo")) {
        Ok(t) => t,
        Err(_) => read(&paths.proc("self/mountinfo"))?,
    };
    let rootfs = paths.rootfs.trim_end_matches('/');
    let mut seen = HashSet::new();
    let mounts: Vec<Mount> = parse_mountinfo(&text)
        .into_iter()
        .map(|mut m| {
            m.mountpoint = strip_rootfs(rootfs, &m.mountpoint);
            m
        })
        .filter(|m| {
            !mount_point_excluded(&m.mountpoint) && !EXCLUDED_FS_TYPES.contains(&m.fstype.as_str())
        })
        .filter(|m| seen.insert((m.device.clone(), m.mountpoint.clone(), m.fstype.clone())))
        .collect();
    let stats = stat_all(rootfs, &mounts, STATFS_DEADLINE);

    for (m, st) in mounts.iter().zip(stats) {
        let labels = [m.device.as_str(), m.fstype.as_str(), m.mountpoint.as_str()];
        let gauge = |out: &mut Families, name: &str, help: &str, v: f64| {
            out.family(name, help, Kind::Gauge, LABELS).push(&labels, v);
        };
        gauge(
            out,
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
            if st.is_some() { 0.0 } else { 1.0 },
        );
        gauge(
            out,
            "node_filesystem_readonly",
            "Filesystem read-only status.",
            if m.readonly { 1.0 } else { 0.0 },
        );
        let Some(st) = st else {
            continue;
        };
        gauge(
            out,
            "node_filesystem_size_bytes",
            "Filesystem size in bytes.",
            st.size_bytes,
        );
        gauge(
            out,
            "node_filesystem_free_bytes",
            "Filesystem free space in bytes.",
            st.free_bytes,
        );
        gauge(
            out,
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            st.avail_bytes,
        );
        gauge(
            out,
            "node_filesystem_files",
            "Filesystem total file nodes.",
            st.files,
        );
        gauge(
            out,
            "node_filesystem_files_free",
            "Filesystem total free file nodes.",
            st.files_free,
        );
        out.family(
            "node_filesystem_mount_info",
            "Filesystem mount information.",
            Kind::Gauge,
            &["device", "major", "minor", "mountpoint"],
        )
        .push(&[&m.device, &m.major, &m.minor, &m.mountpoint], 1.0);
    }
    Ok(())
}

/// Paths with a statvfs call still running: when it started and how
/// many calls are in flight.
fn in_flight() -> &'static Mutex<HashMap<String, (Instant, u32)>> {
    static IN_FLIGHT: OnceLock<Mutex<HashMap<String, (Instant, u32)>>> = OnceLock::new();
    IN_FLIGHT.get_or_init(Default::default)
}

/// statvfs for every mount, in parallel, waiting at most `deadline` in
/// total; `None` for a mount that failed, timed out or is known stuck.
fn stat_all(rootfs: &str, mounts: &[Mount], deadline: Duration) -> Vec<Option<FsStats>> {
    let start = Instant::now();
    let mut results: Vec<Option<FsStats>> = vec![None; mounts.len()];
    let (tx, rx) = mpsc::channel::<(usize, Option<FsStats>)>();
    let mut waiting = 0usize;
    for (i, m) in mounts.iter().enumerate() {
        // statvfs through the host root when the host's / is mounted elsewhere.
        let path = format!("{rootfs}{}", m.mountpoint);
        if !begin(&path, deadline) {
            tracing::debug!(mountpoint = %m.mountpoint, "mount point is unresponsive, skipping statvfs");
            continue;
        }
        let tx = tx.clone();
        let thread_path = path.clone();
        let spawned = std::thread::Builder::new()
            .name("bongsu-statvfs".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                let r = sys::statvfs(&thread_path);
                if let Err(e) = &r {
                    tracing::debug!(path = %thread_path, error = %e, "statvfs failed");
                }
                finish(&thread_path);
                // The gather may have given up on us; a closed channel is fine.
                let _ = tx.send((i, r.ok()));
            });
        match spawned {
            Ok(_) => waiting += 1,
            Err(e) => {
                tracing::debug!(error = %e, "cannot spawn a statvfs thread");
                finish(&path);
            }
        }
    }
    drop(tx);
    while waiting > 0 {
        let Some(left) = deadline.checked_sub(start.elapsed()) else {
            break;
        };
        match rx.recv_timeout(left) {
            Ok((i, r)) => {
                if let Some(slot) = results.get_mut(i) {
                    *slot = r;
                }
                waiting -= 1;
            }
            Err(_) => break,
        }
    }
    results
}

/// A mount point as seen from the host root `rootfs` (no trailing `/`,
/// empty for `/`), like node_exporter's `rootfsStripPrefix`.
fn strip_rootfs(rootfs: &str, mountpoint: &str) -> String {
    if rootfs.is_empty() {
        return mountpoint.to_string();
    }
    match mountpoint.strip_prefix(rootfs) {
        Some("") => "/".to_string(),
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => mountpoint.to_string(),
    }
}

/// Registers a statvfs call on `path`; false when an earlier call has
/// been stuck there for longer than `deadline`.
fn begin(path: &str, deadline: Duration) -> bool {
    let Ok(mut map) = in_flight().lock() else {
        return true;
    };
    match map.get_mut(path) {
        Some((since, _)) if since.elapsed() >= deadline => false,
        Some((_, n)) => {
            *n += 1;
            true
        }
        None => {
            map.insert(path.to_string(), (Instant::now(), 1));
            true
        }
    }
}

fn finish(path: &str) {
    let Ok(mut map) = in_flight().lock() else {
        return;
    };
    if let Some((since, n)) = map.get_mut(path) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(path);
        } else {
            // The mount answered; overlapping calls are not stuck yet.
            *since = Instant::now();
        }
    }
}

/// node_exporter's default `--collector.filesystem.mount-points-exclude`:
/// `^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)`.
fn mount_point_excluded(mp: &str) -> bool {
    let Some(rest) = mp.strip_prefix('/') else {
        return false;
    };
    let exact_or_below = |p: &str| {
        rest.strip_prefix(p)
            .is_some_and(|r| r.is_empty() || r.starts_with('/'))
    };
    let strictly_below = |p: &str| rest.strip_prefix(p).is_some_and(|r| !r.is_empty());
    exact_or_below("dev")
        || exact_or_below("proc")
        || exact_or_below("sys")
        || strictly_below("run/credentials/")
        || strictly_below("var/lib/docker/")
        || strictly_below("var/lib/containers/storage/")
}

/// proc(5) mountinfo lines:
/// `id parent major:minor root mountpoint options [optional…] - fstype source super-options`.
fn parse_mountinfo(text: &str) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if sep < 6 || fields.len() < sep + 3 {
            continue;
        }
        let (major, minor) = fields[2].split_once(':').unwrap_or((fields[2], ""));
        let options = fields[5];
        let super_options = fields.get(sep + 3).copied().unwrap_or("");
        let readonly = options.split(',').any(|o| o == "ro")
            || super_options
                .split(',')
                .any(|o| o == "ro" || o == "emergency_ro");
        mounts.push(Mount {
            device: unescape(fields[sep + 2]),
            mountpoint: unescape(fields[4]),
            fstype: unescape(fields[sep + 1]),
            major: major.to_string(),
            minor: minor.to_string(),
            readonly,
        });
    }
    mounts
}

/// Decodes the kernel's `\ooo` octal escapes (space, tab, newline, backslash).
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = (oct[0] - b'0') as u32 * 64
                    + (oct[1] - b'0') as u32 * 8
                    + (oct[2] - b'0') as u32;
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_input_never_panics() {
        let text = "28 27 0:25 / /mnt/with\\040space ro,nosuid shared:1 - tmpfs some\\134dev rw,size=4k\n";
        for t in crate::util::mangled(text) {
            let _ = parse_mountinfo(&t);
            let _ = unescape(&t);
            let _ = mount_point_excluded(&t);
        }
    }

    #[test]
    fn parses_mountinfo() {
        let text = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n\
                    28 27 0:25 / /mnt/with\\040space ro,nosuid shared:1 master:2 - tmpfs some\\134dev rw,size=4k\n\
                    29 27 0:26 / /x rw - ext4 /dev/sdb ro\n\
                    garbage\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[0],
            Mount {
                device: "/dev/vda".into(),
                mountpoint: "/".into(),
                fstype: "ext4".into(),
                major: "254".into(),
                minor: "0".into(),
                readonly: false,
            }
        );
        assert_eq!(m[1].mountpoint, "/mnt/with space");
        assert_eq!(m[1].device, "some\\dev");
        assert_eq!(m[1].fstype, "tmpfs");
        assert!(m[1].readonly);
        assert!(m[2].readonly, "super options ro");
    }

    #[test]
    fn default_mount_point_excludes() {
        for mp in [
            "/dev",
            "/dev/shm",
            "/proc",
            "/sys/fs/cgroup",
            "/run/credentials/x.service",
            "/var/lib/docker/overlay2/a",
        ] {
            assert!(mount_point_excluded(mp), "{mp}");
        }
        for mp in [
            "/",
            "/devices",
            "/run",
            "/run/credentials",
            "/var/lib/docker",
            "/home",
            "/system",
        ] {
            assert!(!mount_point_excluded(mp), "{mp}");
        }
    }

    #[test]
    fn unescapes() {
        assert_eq!(unescape("a\\040b\\011c\\134"), "a b\tc\\");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
        assert_eq!(unescape("\\999"), "\\999");
    }

    #[test]
    fn stuck_mount_is_reported_without_waiting() {
        let m = Mount {
            device: "d".into(),
            mountpoint: "/__bongsu_test_stuck__".into(),
            fstype: "nfs".into(),
            major: "0".into(),
            minor: "1".into(),
            readonly: false,
        };
        // Pretend a call on this mount point has been hanging for a minute.
        if let Ok(mut map) = in_flight().lock() {
            map.insert(
                m.mountpoint.clone(),
                (Instant::now() - Duration::from_secs(60), 1),
            );
        }
        let root = Mount {
            mountpoint: "/".into(),
            ..m.clone()
        };
        let start = Instant::now();
        let r = stat_all("", &[m.clone(), root], Duration::from_millis(500));
        assert!(start.elapsed() < Duration::from_millis(400));
        assert!(r[0].is_none());
        assert!(r[1].is_some());
        finish(&m.mountpoint);
    }

    #[test]
    fn deadline_bounds_the_wait() {
        // A zero deadline gives up at once; late answers go nowhere.
        let root = Mount {
            device: "d".into(),
            mountpoint: "/".into(),
            fstype: "ext4".into(),
            major: "0".into(),
            minor: "1".into(),
            readonly: false,
        };
        let r = stat_all("", &[root], Duration::ZERO);
        assert_eq!(r, vec![None]);
    }
}
