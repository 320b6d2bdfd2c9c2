// NOTE TO OTHER HELPERS (scrape, web, …): crates/collect/** is owned by the
// collect helper, which is writing it right now. Please do not edit files
// here; the public API is `gather_node_text()`, `gather_node_text_from()`,
// `gather_node_text_with()`, `HostPaths` and `NodeOptions`.

//! Bongsu's built-in host collector: node_exporter's metric names, label
//! names, types and HELP texts, read straight from `/proc` and `/sys`.
//!
//! The entry point is [`gather_node_text`], which renders the Prometheus
//! text exposition (0.0.4) of node_exporter 1.5's default Linux collectors
//! `cpu`, `cpufreq`, `diskstats`, `entropy`, `filefd`, `filesystem`,
//! `hwmon`, `loadavg`, `meminfo`, `netdev`, `netstat`, `nvme`, `os`,
//! `pressure`, `schedstat`, `sockstat`, `stat`, `textfile`, `thermal_zone`,
//! `time`, `timex`, `uname` and `vmstat`, plus node_exporter's
//! `node_scrape_collector_*` meta families.
//! The binary serves it at `/collect/node` and scrapes it like any target.
//! [`gather_node_text_from`] reads another `/proc`, `/sys`, root and udev
//! directory instead ([`HostPaths`], node_exporter's `--path.*` flags), for a
//! containerised Bongsu watching its host, and for fixture tests;
//! [`gather_node_text_with`] also takes the textfile collector's directory
//! ([`NodeOptions`]).
//!
//! Each collector lives in its own module and fills an `expo::Families`;
//! a collector that fails reports `node_scrape_collector_success 0` (what it
//! emitted before failing is kept, as in node_exporter; a panic discards
//! it). The only call that can block, `statvfs`, runs on helper threads with
//! a deadline, so a hung mount costs at most one second per gather.
#![deny(unsafe_code)]

mod cgroup;
mod cpu;
mod cpufreq;
mod diskstats;
mod entropy;
mod expo;
mod filefd;
mod filesystem;
mod hwmon;
mod loadavg;
mod meminfo;
mod netdev;
mod netstat;
mod nvme;
mod os;
mod process;
mod pressure;
mod schedstat;
mod sockstat;
mod stat;
mod sys;
mod textfile;
mod thermal_zone;
mod time;
mod timex;
mod uname;
mod util;
mod vmstat;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use expo::{Families, Kind};
pub use process::{ProcessCollector, ProcessConfig, ProcessConfigError};
pub use sys::raise_open_files_limit;

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
    /// node_exporter's `ErrNoData`: the kernel interface is absent. The
    /// collector reports success 0, logged at debug level only.
    #[error("no data: {0}")]
    NoData(String),
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

/// What to gather: where the kernel interfaces are, and node_exporter's
/// `--collector.textfile.directory`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeOptions {
    /// Where `/proc`, `/sys`, the root and udev's database are.
    pub paths: HostPaths,
    /// A directory (or a glob of directories) of `*.prom` files in the text
    /// exposition format, whose metrics are served with the host's. `None`
    /// reads no files but still reports `node_textfile_scrape_error 0`, as
    /// node_exporter does with an empty directory flag.
    pub textfile_dir: Option<String>,
    /// The collectors to run (node_exporter's `collect[]` / `exclude[]`
    /// filter, see [`node_collector_filter`]); `None` runs all of them.
    pub only: Option<Vec<&'static str>>,
}

/// Every host collector's name (node_exporter's), `textfile` included.
pub fn node_collector_names() -> Vec<&'static str> {
    COLLECTORS.iter().map(|(n, _)| *n).chain(["textfile"]).collect()
}

/// The collectors a scrape asks for with node_exporter's URL parameters:
/// `collect[]=cpu&collect[]=meminfo` runs only those, `exclude[]=…` all
/// but those. `Err` carries node_exporter's message for an unknown name or
/// for both parameters at once (answered with 400).
pub fn node_collector_filter(collect: &[String], exclude: &[String]) -> std::result::Result<Option<Vec<&'static str>>, String> {
    if collect.is_empty() && exclude.is_empty() {
        return Ok(None);
    }
    if !collect.is_empty() && !exclude.is_empty() {
        return Err("Combined collect and exclude queries are not allowed.".into());
    }
    let names = node_collector_names();
    for n in collect.iter().chain(exclude) {
        if !names.contains(&n.as_str()) {
            return Err(format!("Couldn't create filtered metrics handler: missing collector: {n}"));
        }
    }
    Ok(Some(if collect.is_empty() {
        names.into_iter().filter(|n| !exclude.iter().any(|e| e == n)).collect()
    } else {
        names.into_iter().filter(|n| collect.iter().any(|c| c == n)).collect()
    }))
}

/// node_exporter's collector names, in the order they run. `textfile` runs
/// after these (it needs their family names to reject clashes).
const COLLECTORS: &[(&str, CollectFn)] = &[
    ("cpu", cpu::collect),
    ("cpufreq", cpufreq::collect),
    ("diskstats", diskstats::collect),
    ("entropy", entropy::collect),
    ("filefd", filefd::collect),
    ("filesystem", filesystem::collect),
    ("hwmon", hwmon::collect),
    ("loadavg", loadavg::collect),
    ("meminfo", meminfo::collect),
    ("netdev", netdev::collect),
    ("netstat", netstat::collect),
    ("nvme", nvme::collect),
    ("os", os::collect),
    ("pressure", pressure::collect),
    ("schedstat", schedstat::collect),
    ("sockstat", sockstat::collect),
    ("stat", stat::collect),
    ("thermal_zone", thermal_zone::collect),
    ("time", time::collect),
    ("timex", timex::collect),
    ("uname", uname::collect),
    ("vmstat", vmstat::collect),
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
    gather_node_text_with(&NodeOptions {
        paths: paths.clone(),
        textfile_dir: None,
        only: None,
    })
}

/// [`gather_node_text`] with every option: the host's interfaces under
/// `opts.paths`, plus the textfile collector's directory.
pub fn gather_node_text_with(opts: &NodeOptions) -> String {
    let paths = &opts.paths;
    let mut all = Families::new();
    let mut meta: Vec<(&str, bool, f64)> = Vec::with_capacity(COLLECTORS.len() + 1);
    let wanted = |name: &str| opts.only.as_ref().is_none_or(|o| o.contains(&name));
    for &(name, collect) in COLLECTORS {
        if !wanted(name) {
            continue;
        }
        let start = Instant::now();
        let ok = run_one(name, &mut all, |fams| collect(paths, fams));
        meta.push((name, ok, start.elapsed().as_secs_f64()));
    }
    // The textfile collector never fails (node_exporter reports problems in
    // node_textfile_scrape_error instead).
    let start = Instant::now();
    let mut files = Families::new();
    if wanted("textfile") {
        let ok = run_one("textfile", &mut files, |fams| {
            textfile::collect(opts.textfile_dir.as_deref(), fams);
            Ok(())
        });
        meta.push(("textfile", ok, start.elapsed().as_secs_f64()));
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
    textfile::merge_into(&mut all, files);
    catch_unwind(AssertUnwindSafe(|| all.render())).unwrap_or_default()
}

/// Runs one collector into a fresh [`Families`] and merges what it produced
/// into `all`. Like node_exporter, samples a collector emitted before it
/// failed are still served; a panic discards them. Returns success.
fn run_one(name: &str, all: &mut Families, collect: impl FnOnce(&mut Families) -> Result) -> bool {
    let mut fams = Families::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| collect(&mut fams)));
    match outcome {
        Ok(Ok(())) => {
            all.merge(fams);
            true
        }
        Ok(Err(err @ CollectError::NoData(_))) => {
            tracing::debug!(collector = name, error = %err, "collector returned no data");
            all.merge(fams);
            false
        }
        Ok(Err(err)) => {
            tracing::warn!(collector = name, error = %err, "collector failed");
            all.merge(fams);
            false
        }
        Err(_) => {
            tracing::error!(collector = name, "collector panicked");
            false
        }
    }
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn collect_and_exclude_like_node_exporter() {
        assert_eq!(node_collector_filter(&[], &[]), Ok(None));
        assert_eq!(node_collector_filter(&v(&["loadavg", "cpu"]), &[]), Ok(Some(vec!["cpu", "loadavg"])));
        let all_but = node_collector_filter(&[], &v(&["filesystem", "textfile"])).unwrap().unwrap();
        assert_eq!(all_but.len(), node_collector_names().len() - 2);
        assert!(!all_but.contains(&"filesystem"));
        assert_eq!(
            node_collector_filter(&v(&["cpu", "nope"]), &[]),
            Err("Couldn't create filtered metrics handler: missing collector: nope".into())
        );
        assert!(node_collector_filter(&v(&["cpu"]), &v(&["loadavg"])).is_err());
    }

    #[test]
    fn a_filtered_gather_runs_only_those() {
        let text = gather_node_text_with(&NodeOptions { paths: HostPaths::default(), textfile_dir: None, only: Some(vec!["loadavg"]) });
        assert!(text.contains("node_load1 "), "{text}");
        assert!(!text.contains("node_cpu_seconds_total"));
        assert!(text.contains("node_scrape_collector_success{collector=\"loadavg\"} 1"));
        assert!(!text.contains("collector=\"cpu\""));
    }
}
