//! Container metrics with cAdvisor's names: every control group of the
//! host (cgroup v2, or the v1 controllers `cpu`, `cpuacct`, `memory`,
//! `blkio`) becomes one "container" with cAdvisor's label `id` (the cgroup
//! path), and `name`/`image`/`container_label_*` when Docker's metadata for
//! it is readable. systemd services are cgroups too, so without a container
//! runtime `id="/system.slice/nginx.service"` is the service.
//!
//! The families and their HELP texts are those cAdvisor emits with its
//! default `--disable_metrics` set (cpu, memory, disk I/O, network, OOM,
//! pressure, spec). Values are read the way cAdvisor (through runc's cgroup
//! library) reads them, e.g. the working set is usage minus inactive file
//! pages, and a limit of "max" or above 2^62 is reported as 0.

mod docker;
mod v1;
mod v2;

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::expo::{Families, Kind};
use crate::util::read_trimmed;
use crate::HostPaths;

/// How many cgroups one gather reports at most (a runaway hierarchy must
/// not turn into millions of series).
const MAX_CGROUPS: usize = 5000;

/// Network interfaces cAdvisor leaves out of container network statistics.
const IGNORED_IFACES: [&str; 4] = ["lo", "veth", "docker", "nerdctl"];

/// What one cgroup reports. Absent parts (no memory controller, no
/// `io.stat`) are `None`/empty and their families are not emitted.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Stats {
    /// Seconds since the epoch: the oldest modification time of the cgroup's
    /// directories, like cAdvisor's creation time.
    pub creation: Option<f64>,
    pub cpu_spec: Option<CpuSpec>,
    pub mem_spec: Option<MemSpec>,
    pub cpu: Option<Cpu>,
    pub mem: Option<Mem>,
    pub io: Vec<Io>,
    pub psi: Option<Psi>,
    /// Set by the walker: the first process of the cgroup, for the network
    /// namespace check.
    pub first_pid: Option<u32>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct CpuSpec {
    pub period: u64,
    /// 0 when unlimited.
    pub quota: u64,
    pub shares: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct MemSpec {
    pub limit: u64,
    pub swap_limit: u64,
    pub reservation: u64,
}

/// CPU time in nanoseconds.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Cpu {
    pub total: u64,
    /// Per-CPU usage (cgroup v1's `cpuacct.usage_percpu`); empty on v2.
    pub per_cpu: Vec<u64>,
    pub user: u64,
    pub system: u64,
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled: u64,
}

/// Memory figures in bytes, counters in events or pages.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Mem {
    pub usage: u64,
    pub max_usage: u64,
    pub failcnt: u64,
    pub kernel: u64,
    pub cache: u64,
    pub rss: u64,
    pub swap: u64,
    pub mapped_file: u64,
    pub pgfault: u64,
    pub pgmajfault: u64,
    pub file_dirty: u64,
    pub file_writeback: u64,
    pub pgscan: u64,
    pub pgsteal: u64,
    pub refault_file: u64,
    pub refault_anon: u64,
    pub active_file: u64,
    pub inactive_file: u64,
    pub events_high: u64,
    pub events_max: u64,
    pub oom_kills: u64,
}

impl Mem {
    /// cAdvisor's working set: usage minus inactive file pages, floored at 0.
    pub fn working_set(&self) -> u64 {
        self.usage.saturating_sub(self.inactive_file)
    }
}

/// Block I/O of one device.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Io {
    /// `/dev/<name>`, resolved through sysfs after reading.
    pub device: String,
    pub major: u32,
    pub minor: u32,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub reads: u64,
    pub writes: u64,
}

/// Pressure stall totals in microseconds ("some" = waiting, "full" = stalled).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Psi {
    pub cpu_some: u64,
    pub cpu_full: u64,
    pub mem_some: u64,
    pub mem_full: u64,
    pub io_some: u64,
    pub io_full: u64,
}

/// Which cgroup file system the host has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Unified hierarchy mounted at this directory.
    V2(String),
    /// Legacy controllers, each `(controller, directory)`.
    V1(Vec<(&'static str, String)>),
}

/// The cgroup layout under `<sysfs>/fs/cgroup`: v2 when that directory is
/// the unified hierarchy, v1 when the legacy controllers are mounted below
/// it (a hybrid host's `unified/` subtree has no controllers and is ignored,
/// as cAdvisor does).
pub(crate) fn layout(paths: &HostPaths) -> Option<Layout> {
    let base = paths.sys("fs/cgroup");
    if std::path::Path::new(&format!("{base}/cgroup.controllers")).exists() {
        return Some(Layout::V2(base));
    }
    let ctrls: Vec<(&'static str, String)> = ["cpu", "cpuacct", "memory", "blkio"]
        .into_iter()
        .map(|c| (c, format!("{base}/{c}")))
        .filter(|(_, d)| std::path::Path::new(d).is_dir())
        .collect();
    (!ctrls.is_empty()).then_some(Layout::V1(ctrls))
}

/// Every cgroup path (`/`, `/system.slice`, …) below the hierarchy roots,
/// sorted, at most [`MAX_CGROUPS`].
fn cgroup_ids(roots: &[&str]) -> Vec<String> {
    let mut ids = BTreeSet::new();
    ids.insert("/".to_string());
    for root in roots {
        let mut stack = vec![(root.to_string(), String::new())];
        while let Some((dir, id)) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            for entry in rd.flatten() {
                if ids.len() >= MAX_CGROUPS {
                    break;
                }
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let Ok(name) = entry.file_name().into_string() else { continue };
                let child = format!("{id}/{name}");
                ids.insert(child.clone());
                stack.push((format!("{dir}/{name}"), child));
            }
        }
    }
    if ids.len() >= MAX_CGROUPS {
        tracing::warn!("cgroups: more than {MAX_CGROUPS} control groups, reporting the first {MAX_CGROUPS}");
    }
    ids.into_iter().collect()
}

/// The modification time of `path` in seconds since the epoch.
pub(crate) fn mtime(path: &str) -> Option<f64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs() as f64)
}

/// The first PID listed in a `cgroup.procs` file.
pub(crate) fn first_pid(procs_file: &str) -> Option<u32> {
    crate::util::read_string(procs_file).ok()?.lines().next()?.trim().parse().ok()
}

/// `key value` lines (memory.stat, cpu.stat, cpuacct.stat) as pairs.
pub(crate) fn key_values(text: &str) -> impl Iterator<Item = (&str, u64)> {
    text.lines().filter_map(|l| {
        let mut it = l.split_whitespace();
        let k = it.next()?;
        let v = it.next()?.parse().ok()?;
        Some((k, v))
    })
}

/// A number from a cgroup file; "max" is `u64::MAX`, like runc.
pub(crate) fn read_limit(path: &str) -> Option<u64> {
    let s = read_trimmed(path)?;
    if s == "max" {
        return Some(u64::MAX);
    }
    s.parse().ok()
}

/// cAdvisor's limit value: anything above 2^62 means "unlimited" and is 0.
fn limit_value(v: u64) -> f64 {
    if v > 1 << 62 {
        0.0
    } else {
        v as f64
    }
}

/// Network counters of the interfaces in `/proc/<pid>/net/dev` that
/// cAdvisor keeps: `(interface, [rx bytes, rx packets, rx errs, rx drop,
/// tx bytes, tx packets, tx errs, tx drop])`.
fn net_dev(text: &str) -> Vec<(String, [u64; 8])> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else { continue };
        let name = name.trim();
        if IGNORED_IFACES.iter().any(|p| name.to_ascii_lowercase().starts_with(p)) {
            continue;
        }
        let f: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        if f.len() < 16 {
            continue;
        }
        out.push((name.to_string(), [f[0], f[1], f[2], f[3], f[8], f[9], f[10], f[11]]));
    }
    out
}

/// The interfaces a cgroup's network statistics cover: the host's for the
/// root cgroup, the container's when its first process lives in its own
/// network namespace, none otherwise (a plain service shares the host's).
fn network(paths: &HostPaths, id: &str, pid: Option<u32>) -> Vec<(String, [u64; 8])> {
    let pid = if id == "/" {
        1
    } else {
        match pid {
            Some(p) => p,
            None => return Vec::new(),
        }
    };
    if id != "/" {
        let ours = std::fs::read_link(paths.proc("1/ns/net")).ok();
        let theirs = std::fs::read_link(paths.proc(&format!("{pid}/ns/net"))).ok();
        // Unreadable namespaces (no privileges, another PID namespace)
        // prove nothing: no network statistics rather than the host's.
        if ours.is_none() || theirs.is_none() || ours == theirs {
            return Vec::new();
        }
    }
    crate::util::read_string(paths.proc(&format!("{pid}/net/dev"))).map(|t| net_dev(&t)).unwrap_or_default()
}

/// `/dev/<name>` of a block device, from sysfs (cAdvisor's `device` label).
fn device_name(paths: &HostPaths, major: u32, minor: u32) -> String {
    let uevent = crate::util::read_string(paths.sys(&format!("dev/block/{major}:{minor}/uevent"))).unwrap_or_default();
    uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .map(|n| format!("/dev/{n}"))
        .unwrap_or_default()
}

/// One cgroup ready to render: its labels and statistics.
struct Container {
    id: String,
    meta: docker::Meta,
    stats: Stats,
    net: Vec<(String, [u64; 8])>,
}

/// Gathers every cgroup and renders cAdvisor's exposition. A host without a
/// readable cgroup file system yields only `container_scrape_error 1`.
pub(crate) fn gather_text(paths: &HostPaths) -> String {
    let mut out = Families::new();
    let Some(layout) = layout(paths) else {
        tracing::debug!("cgroups: no cgroup file system under {}", paths.sys("fs/cgroup"));
        out.single("container_scrape_error", SCRAPE_ERROR_HELP, Kind::Gauge, 1.0);
        return out.render();
    };
    let ids = match &layout {
        Layout::V2(base) => cgroup_ids(&[base.as_str()]),
        Layout::V1(ctrls) => cgroup_ids(&ctrls.iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>()),
    };
    let docker = docker::Runtime::new(paths);
    let containers: Vec<Container> = ids
        .into_iter()
        .map(|id| {
            let mut stats = match &layout {
                Layout::V2(base) => v2::read(paths, base, &id),
                Layout::V1(ctrls) => v1::read(ctrls, &id),
            };
            for io in &mut stats.io {
                io.device = device_name(paths, io.major, io.minor);
            }
            let net = network(paths, &id, stats.first_pid);
            let meta = docker.meta(&id);
            Container { id, meta, stats, net }
        })
        .collect();
    render(&containers, &mut out);
    out.single("container_scrape_error", SCRAPE_ERROR_HELP, Kind::Gauge, 0.0);
    out.render()
}

const SCRAPE_ERROR_HELP: &str = "1 if there was an error while getting container metrics, 0 otherwise";

/// A label name as cAdvisor sanitises it: anything but `[a-zA-Z0-9_]` → `_`.
fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

fn render(containers: &[Container], out: &mut Families) {
    // cAdvisor gives every series the union of the base label names; a
    // container without one has it empty (= absent in Prometheus).
    let mut base: BTreeSet<String> = ["id".to_string()].into();
    for c in containers {
        if !c.meta.name.is_empty() {
            base.insert("name".into());
        }
        if !c.meta.image.is_empty() {
            base.insert("image".into());
        }
        for (k, _) in &c.meta.labels {
            base.insert(format!("container_label_{}", sanitize(k)));
        }
    }
    let base: Vec<String> = base.into_iter().collect();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as f64).unwrap_or(0.0);
    for c in containers {
        let values: Vec<String> = base
            .iter()
            .map(|n| match n.as_str() {
                "id" => c.id.clone(),
                "name" => c.meta.name.clone(),
                "image" => c.meta.image.clone(),
                other => c
                    .meta
                    .labels
                    .iter()
                    .find(|(k, _)| format!("container_label_{}", sanitize(k)) == other)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            })
            .collect();
        let mut em = Emitter { out, base: &base, values: &values };
        emit_container(&mut em, c, now);
    }
}

/// Adds samples for one container: the base labels plus per-family ones.
struct Emitter<'a> {
    out: &'a mut Families,
    base: &'a [String],
    values: &'a [String],
}

impl Emitter<'_> {
    fn put(&mut self, name: &str, help: &str, kind: Kind, extra: &[(&str, &str)], v: f64) {
        let mut names = self.base.to_vec();
        let mut vals = self.values.to_vec();
        for (k, val) in extra {
            names.push(k.to_string());
            vals.push(val.to_string());
        }
        self.out.family_dyn(name, help, kind, &names).push(&vals, v);
    }

    fn gauge(&mut self, name: &str, help: &str, v: f64) {
        self.put(name, help, Kind::Gauge, &[], v);
    }

    fn counter(&mut self, name: &str, help: &str, v: f64) {
        self.put(name, help, Kind::Counter, &[], v);
    }
}

fn emit_container(em: &mut Emitter, c: &Container, now: f64) {
    let s = &c.stats;
    if let Some(t) = s.creation {
        em.gauge("container_creation_time_seconds", "Container creation time since unix epoch in seconds.", t);
        em.gauge("container_start_time_seconds", "Start time of the container since unix epoch in seconds.", t);
    }
    em.gauge("container_last_seen", "Last time a container was seen by the exporter", now);
    if let Some(spec) = s.cpu_spec {
        em.gauge("container_spec_cpu_period", "CPU period of the container.", spec.period as f64);
        if spec.quota != 0 {
            em.gauge("container_spec_cpu_quota", "CPU quota of the container.", spec.quota as f64);
        }
        em.gauge("container_spec_cpu_shares", "CPU share of the container.", spec.shares as f64);
    }
    if let Some(spec) = s.mem_spec {
        em.gauge("container_spec_memory_limit_bytes", "Memory limit for the container.", limit_value(spec.limit));
        em.gauge("container_spec_memory_swap_limit_bytes", "Memory swap limit for the container.", limit_value(spec.swap_limit));
        em.gauge(
            "container_spec_memory_reservation_limit_bytes",
            "Memory reservation limit for the container.",
            limit_value(spec.reservation),
        );
    }
    if let Some(cpu) = &s.cpu {
        let secs = |ns: u64| ns as f64 / 1e9;
        em.counter("container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", secs(cpu.user));
        em.counter("container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", secs(cpu.system));
        const USAGE: &str = "container_cpu_usage_seconds_total";
        const USAGE_HELP: &str = "Cumulative cpu time consumed in seconds.";
        if cpu.per_cpu.is_empty() {
            if cpu.total > 0 {
                em.put(USAGE, USAGE_HELP, Kind::Counter, &[("cpu", "total")], secs(cpu.total));
            }
        } else {
            for (i, &ns) in cpu.per_cpu.iter().enumerate() {
                if ns > 0 {
                    em.put(USAGE, USAGE_HELP, Kind::Counter, &[("cpu", &format!("cpu{i:02}"))], secs(ns));
                }
            }
        }
        if s.cpu_spec.is_some_and(|spec| spec.quota != 0) {
            em.counter("container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", cpu.periods as f64);
            em.counter("container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", cpu.throttled_periods as f64);
            em.counter(
                "container_cpu_cfs_throttled_seconds_total",
                "Total time duration the container has been throttled.",
                secs(cpu.throttled),
            );
        }
    }
    if let Some(m) = &s.mem {
        emit_memory(em, m);
    }
    for io in &s.io {
        emit_io(em, io);
    }
    if let Some(p) = s.psi {
        let secs = |us: u64| us as f64 / 1e6;
        for (name, help, v) in [
            ("container_pressure_cpu_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to CPU congestion.", p.cpu_full),
            ("container_pressure_cpu_waiting_seconds_total", "Total time duration tasks in the container have waited due to CPU congestion.", p.cpu_some),
            ("container_pressure_memory_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to memory congestion.", p.mem_full),
            ("container_pressure_memory_waiting_seconds_total", "Total time duration tasks in the container have waited due to memory congestion.", p.mem_some),
            ("container_pressure_io_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to IO congestion.", p.io_full),
            ("container_pressure_io_waiting_seconds_total", "Total time duration tasks in the container have waited due to IO congestion.", p.io_some),
        ] {
            em.counter(name, help, secs(v));
        }
    }
    for (iface, v) in &c.net {
        for (i, (name, help)) in NET_FAMILIES.iter().enumerate() {
            em.put(name, help, Kind::Counter, &[("interface", iface)], v[i] as f64);
        }
    }
}

const NET_FAMILIES: [(&str, &str); 8] = [
    ("container_network_receive_bytes_total", "Cumulative count of bytes received"),
    ("container_network_receive_packets_total", "Cumulative count of packets received"),
    ("container_network_receive_errors_total", "Cumulative count of errors encountered while receiving"),
    ("container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving"),
    ("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted"),
    ("container_network_transmit_packets_total", "Cumulative count of packets transmitted"),
    ("container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting"),
    ("container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting"),
];

fn emit_memory(em: &mut Emitter, m: &Mem) {
    for (name, help, kind, v) in [
        ("container_memory_cache", "Number of bytes of page cache memory.", Kind::Gauge, m.cache),
        ("container_memory_rss", "Size of RSS in bytes.", Kind::Gauge, m.rss),
        ("container_memory_kernel_usage", "Size of kernel memory allocated in bytes.", Kind::Gauge, m.kernel),
        ("container_memory_mapped_file", "Size of memory mapped files in bytes.", Kind::Gauge, m.mapped_file),
        ("container_memory_swap", "Container swap usage in bytes.", Kind::Gauge, m.swap),
        ("container_memory_failcnt", "Number of memory usage hits limits", Kind::Counter, m.failcnt),
        (
            "container_memory_usage_bytes",
            "Current memory usage in bytes, including all memory regardless of when it was accessed",
            Kind::Gauge,
            m.usage,
        ),
        ("container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes", Kind::Gauge, m.max_usage),
        ("container_memory_working_set_bytes", "Current working set in bytes.", Kind::Gauge, m.working_set()),
        ("container_memory_total_active_file_bytes", "Current total active file in bytes.", Kind::Gauge, m.active_file),
        ("container_memory_total_inactive_file_bytes", "Current total inactive file in bytes.", Kind::Gauge, m.inactive_file),
        ("container_memory_events_high_total", "Cumulative count of memory.high throttle events for the container", Kind::Counter, m.events_high),
        ("container_memory_events_max_total", "Cumulative count of memory.max limit hit events for the container", Kind::Counter, m.events_max),
        (
            "container_memory_file_dirty_bytes",
            "Number of bytes of file cache that has been modified but not yet written back to disk.",
            Kind::Gauge,
            m.file_dirty,
        ),
        (
            "container_memory_file_writeback_bytes",
            "Number of bytes of file cache that is currently being written back to disk.",
            Kind::Gauge,
            m.file_writeback,
        ),
        ("container_memory_pgscan_total", "Cumulative number of pages scanned by the page reclaim algorithm.", Kind::Counter, m.pgscan),
        ("container_memory_pgsteal_total", "Cumulative number of pages reclaimed by the page reclaim algorithm.", Kind::Counter, m.pgsteal),
        (
            "container_memory_workingset_refault_file_total",
            "Cumulative number of refaults of previously evicted file pages.",
            Kind::Counter,
            m.refault_file,
        ),
        (
            "container_memory_workingset_refault_anon_total",
            "Cumulative number of refaults of previously evicted anonymous pages.",
            Kind::Counter,
            m.refault_anon,
        ),
        ("container_oom_events_total", "Count of out of memory events observed for the container", Kind::Counter, m.oom_kills),
    ] {
        em.put(name, help, kind, &[], v as f64);
    }
    const FAILURES: &str = "container_memory_failures_total";
    const FAILURES_HELP: &str = "Cumulative count of memory allocation failures.";
    for (kind, v) in [("pgfault", m.pgfault), ("pgmajfault", m.pgmajfault)] {
        for scope in ["container", "hierarchy"] {
            em.put(FAILURES, FAILURES_HELP, Kind::Counter, &[("failure_type", kind), ("scope", scope)], v as f64);
        }
    }
}

fn emit_io(em: &mut Emitter, io: &Io) {
    let device = io.device.as_str();
    for (name, help, v) in [
        ("container_fs_reads_bytes_total", "Cumulative count of bytes read", io.read_bytes),
        ("container_fs_writes_bytes_total", "Cumulative count of bytes written", io.write_bytes),
        ("container_fs_reads_total", "Cumulative count of reads completed", io.reads),
        ("container_fs_writes_total", "Cumulative count of writes completed", io.writes),
    ] {
        em.put(name, help, Kind::Counter, &[("device", device)], v as f64);
    }
    let (major, minor) = (io.major.to_string(), io.minor.to_string());
    for (op, v) in [("Read", io.read_bytes), ("Write", io.write_bytes)] {
        em.put(
            "container_blkio_device_usage_total",
            "Blkio Device bytes usage",
            Kind::Counter,
            &[("device", device), ("major", &major), ("minor", &minor), ("operation", op)],
            v as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_skips_cadvisor_ignored_interfaces() {
        let text = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n\
                    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n\
                    eth0: 100 2 3 4 5 6 7 8 900 10 11 12 13 14 15 16\n\
                    veth12ab: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n\
                    docker0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
        assert_eq!(net_dev(text), vec![("eth0".to_string(), [100, 2, 3, 4, 900, 10, 11, 12])]);
    }

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\neth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n") {
            let _ = net_dev(&t);
            let _ = key_values(&t).count();
        }
    }

    #[test]
    fn limits_above_2_pow_62_are_unlimited() {
        assert_eq!(limit_value(u64::MAX), 0.0);
        assert_eq!(limit_value(9223372036854771712), 0.0);
        assert_eq!(limit_value(268435456), 268435456.0);
    }

    #[test]
    fn sanitizes_label_names() {
        assert_eq!(sanitize("com.docker.compose.service"), "com_docker_compose_service");
    }
}
