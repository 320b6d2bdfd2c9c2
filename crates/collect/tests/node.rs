//! End-to-end checks of `gather_node_text()`: valid exposition, the
//! families this machine must have, the time bound, and a side-by-side
//! comparison with Debian's `prometheus-node-exporter` when installed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Tree;

use bongsu_collect::gather_node_text;

/// One family as read back from an exposition.
#[derive(Debug, Default)]
struct Fam {
    help: Option<String>,
    kind: Option<String>,
    /// Union of label names over the family's series.
    label_names: BTreeSet<String>,
    series: usize,
    /// Every sample by `name{sorted labels}` (histogram and summary lines
    /// keep their own suffixed names).
    values: BTreeMap<String, f64>,
}

/// A strict reader for text format 0.0.4 as node_exporter writes it. Panics
/// (fails the test) on any line that is not HELP, TYPE or `name{labels} value`,
/// on a repeated HELP/TYPE, a TYPE after samples, interleaved families and
/// duplicate series.
fn read_exposition(text: &str) -> BTreeMap<String, Fam> {
    let mut fams: BTreeMap<String, Fam> = BTreeMap::new();
    let mut series = BTreeSet::new();
    let mut finished = BTreeSet::new();
    let mut current = String::new();
    for (n, line) in text.lines().enumerate() {
        let at = format!("line {}: {line:?}", n + 1);
        assert!(!line.is_empty(), "{at}: empty line");
        let name_of_sample;
        if let Some(rest) = line.strip_prefix("# ") {
            let (kw, rest) = rest.split_once(' ').unwrap_or_else(|| panic!("{at}: bad comment"));
            let (name, val) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(valid_metric_name(name), "{at}: bad metric name");
            let fam = fams.entry(name.to_string()).or_default();
            assert_eq!(fam.series, 0, "{at}: metadata after samples");
            match kw {
                "HELP" => {
                    assert!(fam.help.is_none(), "{at}: second HELP");
                    fam.help = Some(val.to_string());
                }
                "TYPE" => {
                    assert!(fam.kind.is_none(), "{at}: second TYPE");
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&val),
                        "{at}: bad type"
                    );
                    fam.kind = Some(val.to_string());
                }
                _ => panic!("{at}: unknown comment"),
            }
            name_of_sample = name.to_string();
        } else {
            let (name, mut labels, value) = split_sample(line).unwrap_or_else(|| panic!("{at}: bad sample line"));
            assert!(valid_metric_name(&name), "{at}: bad metric name");
            assert!(parse_value(value), "{at}: bad value");
            labels.sort();
            let key = format!("{name}{{{}}}", labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(","));
            assert!(series.insert(key.clone()), "{at}: duplicate series");
            // `x_bucket`, `x_sum`, `x_count` (and `x{quantile}`) belong to a
            // histogram or summary `x` declared before them.
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|suffix| name.strip_suffix(suffix))
                .find(|base| {
                    fams.get(*base)
                        .is_some_and(|f| matches!(f.kind.as_deref(), Some("histogram" | "summary")))
                })
                .map_or(name.clone(), str::to_string);
            let mut seen = BTreeSet::new();
            for (k, _) in &labels {
                assert!(valid_label_name(k), "{at}: bad label name {k}");
                assert!(seen.insert(k.clone()), "{at}: repeated label {k}");
            }
            let fam = fams.entry(family.clone()).or_default();
            fam.series += 1;
            fam.label_names.extend(seen);
            fam.values.insert(key, value_of(value));
            name_of_sample = family;
        }
        if name_of_sample != current {
            assert!(!finished.contains(&name_of_sample), "{at}: family {name_of_sample} is not contiguous");
            finished.insert(std::mem::replace(&mut current, name_of_sample));
        }
    }
    fams
}

fn valid_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(v: &str) -> bool {
    matches!(v, "NaN" | "+Inf" | "-Inf") || v.parse::<f64>().is_ok()
}

fn value_of(v: &str) -> f64 {
    match v {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => v.parse().unwrap_or(f64::NAN),
    }
}

/// A sample line's metric name, `(label, unescaped value)` pairs and value.
type SampleParts<'a> = (String, Vec<(String, String)>, &'a str);

/// `name{k="v",…} value` → (name, [(k, unescaped v)], value).
fn split_sample(line: &str) -> Option<SampleParts<'_>> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(mut r) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = r.strip_prefix('}') {
                r = after;
                break;
            }
            let (k, after) = r.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                let (i, c) = chars.next()?;
                match c {
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        _ => return None,
                    },
                    '"' => break i,
                    '\n' => return None,
                    c => value.push(c),
                }
            };
            labels.push((k.to_string(), value));
            r = &after[end + 1..];
            if let Some(after) = r.strip_prefix(',') {
                r = after;
            } else if !r.starts_with('}') {
                return None;
            }
        }
        rest = r;
    }
    let value = rest.strip_prefix(' ')?;
    if value.is_empty() || value.contains(' ') {
        return None;
    }
    Some((name, labels, value))
}

#[test]
fn exposition_is_valid_and_complete() {
    let start = Instant::now();
    let text = gather_node_text();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "gather took {took:?}");
    assert!(text.ends_with('\n'));

    let fams = read_exposition(&text);
    for (name, f) in &fams {
        assert!(f.help.is_some() && f.kind.is_some(), "{name}: missing HELP or TYPE");
        assert!(f.series > 0, "{name}: metadata without samples");
    }
    // The project's own parser accepts it too.
    let parsed = bongsu_scrape::exposition::parse_text(&text).expect("bongsu-scrape parses the exposition");
    assert_eq!(parsed.samples.len(), fams.values().map(|f| f.series).sum::<usize>());

    let mut required = vec![
        "node_cpu_seconds_total",
        "node_cpu_guest_seconds_total",
        "node_memory_MemTotal_bytes",
        "node_memory_MemFree_bytes",
        "node_load1",
        "node_load5",
        "node_load15",
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        "node_network_receive_nohandler_total",
        "node_boot_time_seconds",
        "node_context_switches_total",
        "node_forks_total",
        "node_intr_total",
        "node_procs_running",
        "node_procs_blocked",
        "node_time_seconds",
        "node_time_zone_offset_seconds",
        "node_uname_info",
        "node_scrape_collector_success",
        "node_scrape_collector_duration_seconds",
    ];
    if std::path::Path::new("/etc/os-release").exists() || std::path::Path::new("/usr/lib/os-release").exists() {
        required.push("node_os_info");
    }
    if root_fs_is_reported() {
        required.extend([
            "node_filesystem_size_bytes",
            "node_filesystem_free_bytes",
            "node_filesystem_avail_bytes",
            "node_filesystem_files",
            "node_filesystem_files_free",
            "node_filesystem_readonly",
            "node_filesystem_device_error",
        ]);
    }
    if has_whole_disk() {
        required.extend([
            "node_disk_info",
            "node_disk_reads_completed_total",
            "node_disk_reads_merged_total",
            "node_disk_read_bytes_total",
            "node_disk_read_time_seconds_total",
            "node_disk_writes_completed_total",
            "node_disk_writes_merged_total",
            "node_disk_written_bytes_total",
            "node_disk_write_time_seconds_total",
            "node_disk_io_now",
            "node_disk_io_time_seconds_total",
            "node_disk_io_time_weighted_seconds_total",
        ]);
    }
    required.extend([
        "node_filefd_allocated",
        "node_filefd_maximum",
        "node_entropy_available_bits",
        "node_entropy_pool_size_bits",
        "node_netstat_Tcp_InSegs",
        "node_netstat_Udp_InDatagrams",
        "node_netstat_IpExt_InOctets",
        "node_sockstat_sockets_used",
        "node_sockstat_TCP_inuse",
        "node_vmstat_pgfault",
        "node_vmstat_pgpgin",
        "node_timex_sync_status",
        "node_timex_tick_seconds",
        "node_textfile_scrape_error",
    ]);
    if std::fs::read_to_string("/proc/pressure/io").is_ok() {
        required.extend(["node_pressure_cpu_waiting_seconds_total", "node_pressure_io_stalled_seconds_total"]);
    }
    if std::path::Path::new("/proc/schedstat").exists() {
        required.push("node_schedstat_running_seconds_total");
    }
    let missing: Vec<&str> = required.iter().copied().filter(|n| !fams.contains_key(*n)).collect();
    assert!(missing.is_empty(), "missing families: {missing:?}");

    for (collector, expect) in expected_success() {
        let line = format!("node_scrape_collector_success{{collector=\"{collector}\"}} {expect}\n");
        assert!(text.contains(&line), "expected {line:?}");
    }
    assert_eq!(fams["node_cpu_seconds_total"].label_names, set(&["cpu", "mode"]));
    assert_eq!(fams["node_cpu_seconds_total"].kind.as_deref(), Some("counter"));
    assert!(text.contains("mode=\"idle\""));
    assert!(text.contains("node_uname_info{domainname=\""));
}

#[test]
fn concurrent_gathers_stay_fast_and_consistent() {
    let start = Instant::now();
    let handles: Vec<_> = (0..4).map(|_| std::thread::spawn(gather_node_text)).collect();
    for h in handles {
        let text = h.join().expect("gather must not panic");
        read_exposition(&text);
    }
    assert!(start.elapsed() < Duration::from_secs(3));
}

/// node_exporter's flag names of every collector Bongsu implements.
const COLLECTORS: &[&str] = &[
    "cpu", "cpufreq", "diskstats", "entropy", "filefd", "filesystem", "hwmon", "loadavg", "meminfo", "netdev",
    "netstat", "nvme", "os", "pressure", "schedstat", "sockstat", "stat", "textfile", "thermal_zone", "time",
    "timex", "uname", "vmstat",
];

/// `node_scrape_collector_success` this machine must show per collector:
/// node_exporter answers "no data" (0) for hwmon, nvme and schedstat when
/// their kernel interface is absent, and for pressure without PSI.
fn expected_success() -> Vec<(&'static str, u8)> {
    let exists = |p: &str| std::path::Path::new(p).exists();
    COLLECTORS
        .iter()
        .map(|&c| {
            let ok = match c {
                "hwmon" => exists("/sys/class/hwmon"),
                "nvme" => exists("/sys/class/nvme"),
                "schedstat" => exists("/proc/schedstat"),
                "pressure" => ["cpu", "io", "memory"]
                    .iter()
                    .all(|r| std::fs::read_to_string(format!("/proc/pressure/{r}")).is_ok()),
                _ => true,
            };
            (c, ok as u8)
        })
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Whether `/` is a file system node_exporter's default fs-type exclude keeps.
fn root_fs_is_reported() -> bool {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines().any(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        let Some(sep) = f.iter().position(|x| *x == "-") else { return false };
        f.get(4) == Some(&"/") && f.get(sep + 1).is_some_and(|t| !["overlay", "squashfs", "erofs", "rootfs"].contains(t))
    })
}

/// Whether /proc/diskstats lists a device the default exclude keeps.
fn has_whole_disk() -> bool {
    let text = std::fs::read_to_string("/proc/diskstats").unwrap_or_default();
    text.lines().filter_map(|l| l.split_whitespace().nth(2)).any(|d| {
        let base = d.trim_end_matches(|c: char| c.is_ascii_digit());
        !(["loop", "ram", "zram", "fd"].contains(&base) || (base != d && base.len() <= 4 && base.ends_with(|c: char| c.is_ascii_lowercase()) && (base.starts_with("sd") || base.starts_with("vd") || base.starts_with("hd") || base.starts_with("xvd"))))
    })
}

/// Kills and reaps the exporter however the test ends.
struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_node_exporter() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["prometheus-node-exporter", "node_exporter"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// node_exporter's binary, or `None` after a loud SKIPPING message (a panic
/// when `CI=true`).
fn node_exporter_or_skip(what: &str) -> Option<std::path::PathBuf> {
    let bin = find_node_exporter();
    if bin.is_none() {
        let msg = format!(
            "prometheus-node-exporter is not installed: SKIPPING {what} (apt-get install prometheus-node-exporter)"
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}; CI=true requires it");
        }
        eprintln!("\n!!!!!!!! {msg} !!!!!!!!\n");
    }
    bin
}

/// Starts node_exporter with `args` on a free 127.0.0.1 port and waits (at
/// most 3 s) until it answers; returns the guard, the port and a first body.
fn start_node_exporter(bin: &std::path::Path, args: &[String]) -> (Exporter, u16, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let exporter = Exporter(cmd.spawn().expect("start node_exporter"));
    let started = Instant::now();
    let body = loop {
        if let Some(body) = http_get(port, "/metrics") {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "node_exporter did not answer on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    };
    (exporter, port, body)
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain;version=0.0.4\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    let (head, body) = body.split_once("\r\n\r\n")?;
    (head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200")).then(|| body.to_string())
}

/// Families node_exporter emits with these collectors that we deliberately
/// do not, with the reason. Empty today.
const NOT_EMITTED: &[(&str, &str)] = &[];

/// Families whose HELP text differs on purpose, with the reason. Empty today.
const HELP_DIFFERS: &[(&str, &str)] = &[];

/// Series present on one side only, on purpose: (family prefix, text in the
/// series' labels, reason).
const SERIES_DIFFER: &[(&str, &str, &str)] = &[
    (
        "node_network_",
        "device=\"lo\"",
        "Debian patches netdev's default device exclude to ^lo$; Bongsu keeps upstream's (none)",
    ),
    (
        "node_disk_",
        "device=\"zram",
        "Bongsu excludes zram disks like current upstream; 1.5's default exclude does not",
    ),
    (
        "node_filesystem_",
        "mountpoint=\"/run",
        "Debian patches the mount-point exclude to add /run, /mnt, /media; Bongsu keeps upstream 1.5's",
    ),
    ("node_filesystem_", "mountpoint=\"/mnt", "as above (Debian's mount-point exclude patch)"),
    ("node_filesystem_", "mountpoint=\"/media", "as above (Debian's mount-point exclude patch)"),
];

/// How one family's values must agree between node_exporter and Bongsu.
/// Every check reads Bongsu at `o1`, node_exporter at `t`, Bongsu at `o2`,
/// in that order within a few milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Check {
    /// The same value (relative difference ≤ 1e-9) as one of our reads.
    Exact,
    /// A counter: `o1 ≤ o2 + abs` (monotonic), and `t` within
    /// `[o1 − rel·o1 − abs, o2 + rel·o2 + abs]`: read in between, it cannot
    /// be outside our two reads by more than the slack.
    Counter { rel: f64, abs: f64 },
    /// A gauge: `t` within `[min(o1,o2), max(o1,o2)]` widened by
    /// `rel·|value| + abs`.
    Gauge { rel: f64, abs: f64 },
    /// Not compared.
    Skip,
}

const MIB: f64 = 1024.0 * 1024.0;

/// The tolerance of each family, first match wins (`prefix*` or an exact
/// name), with the reason. Families not listed: counters are
/// `Counter { rel: 0, abs: 0 }` (strictly between our reads), everything
/// else `Exact`.
const VALUE_CHECKS: &[(&str, Check, &str)] = &[
    ("node_scrape_collector_duration_seconds", Check::Skip, "each exporter's own timing"),
    ("node_time_seconds", Check::Gauge { rel: 0.0, abs: 5.0 }, "the wall clock, read at three instants"),
    ("node_boot_time_seconds", Check::Gauge { rel: 0.0, abs: 1.0 }, "btime is whole seconds; stable"),
    ("node_load*", Check::Gauge { rel: 0.5, abs: 1.0 }, "smoothed run queue, recomputed every 5 s; the test and two exporters run on 2 shared cores"),
    ("node_procs_running", Check::Gauge { rel: 1.0, abs: 32.0 }, "instantaneous run queue, including the readers themselves"),
    ("node_procs_blocked", Check::Gauge { rel: 1.0, abs: 32.0 }, "instantaneous, like procs_running"),
    ("node_memory_MemTotal_bytes", Check::Exact, "fixed at boot"),
    ("node_memory_SwapTotal_bytes", Check::Exact, "changes only with swapon"),
    ("node_memory_VmallocTotal_bytes", Check::Exact, "fixed address-space size"),
    ("node_memory_Hugepagesize_bytes", Check::Exact, "fixed"),
    ("node_memory_CommitLimit_bytes", Check::Exact, "derived from RAM and swap sizes"),
    ("node_memory_HugePages_Total", Check::Exact, "changes only by sysctl"),
    ("node_memory_*", Check::Gauge { rel: 0.1, abs: 256.0 * MIB }, "page cache, anon and slab move as this machine's builds and both exporters allocate"),
    ("node_filesystem_size_bytes", Check::Exact, "fixed at mkfs"),
    ("node_filesystem_files", Check::Exact, "fixed at mkfs"),
    ("node_filesystem_avail_bytes", Check::Gauge { rel: 0.01, abs: 256.0 * MIB }, "other processes write to the same disks"),
    ("node_filesystem_free_bytes", Check::Gauge { rel: 0.01, abs: 256.0 * MIB }, "other processes write to the same disks"),
    ("node_filesystem_files_free", Check::Gauge { rel: 0.01, abs: 10_000.0 }, "files are created and removed meanwhile"),
    ("node_filefd_maximum", Check::Exact, "fs.file-max, fixed"),
    ("node_filefd_allocated", Check::Gauge { rel: 0.2, abs: 500.0 }, "open files of every process, node_exporter's own included"),
    ("node_entropy_pool_size_bits", Check::Exact, "fixed"),
    ("node_entropy_available_bits", Check::Gauge { rel: 0.0, abs: 256.0 }, "fills and drains (always 256 on 5.18+ kernels)"),
    ("node_sockstat_*", Check::Gauge { rel: 0.25, abs: 16.0 }, "sockets open and close with each HTTP connection (the scrape's own included) and TIME_WAIT ages out; mem in pages moves with buffers"),
    ("node_netstat_Tcp_CurrEstab", Check::Gauge { rel: 0.0, abs: 16.0 }, "established connections, the scrape's own included"),
    ("node_netstat_*", Check::Counter { rel: 0.0, abs: 0.0 }, "untyped in node_exporter but monotonic protocol counters"),
    ("node_vmstat_*", Check::Counter { rel: 0.0, abs: 0.0 }, "untyped in node_exporter but monotonic event counters"),
    ("node_cpu_seconds_total", Check::Counter { rel: 0.0, abs: 0.1 }, "idle and iowait of a tickless CPU may step back by a tick (proc(5))"),
    ("node_cpu_frequency_hertz", Check::Gauge { rel: 1.0, abs: 0.0 }, "current frequency follows load"),
    ("node_cpu_scaling_frequency_hertz", Check::Gauge { rel: 1.0, abs: 0.0 }, "current frequency follows load"),
    ("node_disk_io_now", Check::Gauge { rel: 0.0, abs: 64.0 }, "requests in flight"),
    ("node_timex_*", Check::Gauge { rel: 1e-3, abs: 0.05 }, "the kernel's NTP state moves between reads (maxerror grows 500 µs/s)"),
    ("node_thermal_zone_temp", Check::Gauge { rel: 0.0, abs: 5.0 }, "°C, sensors move"),
    ("node_cooling_device_cur_state", Check::Gauge { rel: 0.0, abs: 1.0 }, "throttling steps follow temperature"),
    ("node_hwmon_*", Check::Gauge { rel: 0.5, abs: 5.0 }, "temperatures, fan speeds, voltages and power move"),
];

fn value_check(name: &str, kind: Option<&str>) -> Check {
    for &(pattern, check, _) in VALUE_CHECKS {
        let hit = match pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == pattern,
        };
        if hit {
            return check;
        }
    }
    match kind {
        Some("counter") => Check::Counter { rel: 0.0, abs: 0.0 },
        _ => Check::Exact,
    }
}

/// `name{a="x",b=""}` → `name{a="x"}`: Prometheus treats an empty label
/// as absent, and node_exporter prints a textfile family's missing labels
/// as "" only within one file.
fn normalize_key(key: &str) -> String {
    let Some((name, labels)) = key.split_once('{') else { return key.to_string() };
    let labels = labels.strip_suffix('}').unwrap_or(labels);
    let mut kept = Vec::new();
    let mut rest = labels;
    while let Some((k, after)) = rest.split_once("=\"") {
        // Values are Debug-quoted: find the closing quote, skipping escapes.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        if end > 0 {
            kept.push(format!("{k}=\"{}\"", &after[..end]));
        }
        rest = after[end + 1..].trim_start_matches(',');
    }
    format!("{name}{{{}}}", kept.join(","))
}

/// Compares every series both sides have, family by family, with
/// [`VALUE_CHECKS`]. Returns the number of values compared and the problems.
fn compare_values(
    o1: &BTreeMap<String, Fam>,
    theirs: &BTreeMap<String, Fam>,
    o2: &BTreeMap<String, Fam>,
) -> (usize, Vec<String>) {
    let norm = |f: &Fam| -> BTreeMap<String, f64> { f.values.iter().map(|(k, v)| (normalize_key(k), *v)).collect() };
    let mut problems = Vec::new();
    let mut compared = 0;
    for (name, t) in theirs {
        let (Some(a), Some(b)) = (o1.get(name), o2.get(name)) else { continue };
        let check = value_check(name, t.kind.as_deref());
        if check == Check::Skip {
            continue;
        }
        let (a, b) = (norm(a), norm(b));
        for (key, &tv) in &norm(t) {
            let (Some(&v1), Some(&v2)) = (a.get(key), b.get(key)) else { continue };
            compared += 1;
            if tv.is_nan() && v1.is_nan() {
                continue;
            }
            let close = |x: f64, y: f64| x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs());
            let ok = match check {
                Check::Exact => close(v1, tv) || close(v2, tv),
                Check::Counter { rel, abs } => {
                    if v2 < v1 - abs {
                        problems.push(format!("{key}: counter went back between our reads: {v1} then {v2}"));
                        continue;
                    }
                    tv >= v1 - rel * v1.abs() - abs && tv <= v2 + rel * v2.abs() + abs
                }
                Check::Gauge { rel, abs } => {
                    let (lo, hi) = (v1.min(v2), v1.max(v2));
                    tv >= lo - rel * lo.abs() - abs && tv <= hi + rel * hi.abs() + abs
                }
                Check::Skip => true,
            };
            if !ok {
                problems.push(format!("{key}: node_exporter {tv}, Bongsu {v1} then {v2} ({check:?})"));
            }
        }
    }
    (compared, problems)
}

/// Writes a textfile directory both exporters read in the comparison:
/// typed and untyped families, a histogram, a summary, one family spread
/// over two files, and a malformed file (→ node_textfile_scrape_error 1).
fn textfile_dir(t: &Tree) -> String {
    t.file(
        "textfile/good.prom",
        "# HELP bongsu_test_jobs_total Jobs run by the test.\n# TYPE bongsu_test_jobs_total counter\n\
         bongsu_test_jobs_total{job=\"a\"} 3\nbongsu_test_jobs_total{job=\"b\",shard=\"1\"} 4\n\
         bongsu_test_last_run 1.7e9\n\
         # TYPE bongsu_test_latency_seconds histogram\nbongsu_test_latency_seconds_bucket{le=\"0.5\"} 1\n\
         bongsu_test_latency_seconds_bucket{le=\"1000000\"} 2\nbongsu_test_latency_seconds_sum 3.5\n\
         bongsu_test_latency_seconds_count 2\n\
         # HELP bongsu_test_rpc_seconds RPC latency \\\\ quantiles.\n# TYPE bongsu_test_rpc_seconds summary\n\
         bongsu_test_rpc_seconds{quantile=\"0.9\",svc=\"x\"} 0.25\nbongsu_test_rpc_seconds_sum{svc=\"x\"} 10\n\
         bongsu_test_rpc_seconds_count{svc=\"x\"} 40\n",
    );
    t.file("textfile/other.prom", "bongsu_test_last_run{host=\"h\"} 5\n");
    t.file("textfile/zz_bad.prom", "# TYPE bongsu_test_bad gauge\nbongsu_test_bad{ 1\n");
    t.file("textfile/ignored.txt", "not a prom file\n");
    t.path("textfile")
}

#[test]
fn matches_node_exporter() {
    let Some(bin) = node_exporter_or_skip("the node_exporter comparison") else { return };
    let t = Tree::new("compare");
    let dir = textfile_dir(&t);
    let mut args = vec!["--collector.disable-defaults".to_string(), format!("--collector.textfile.directory={dir}")];
    args.extend(COLLECTORS.iter().map(|c| format!("--collector.{c}")));
    let (_exporter, port, _) = start_node_exporter(&bin, &args);
    let opts = bongsu_collect::NodeOptions {
        paths: bongsu_collect::HostPaths::default(),
        textfile_dir: Some(dir.clone()),
        only: None,
    };

    // Bongsu, node_exporter, Bongsu: node_exporter's values fall in between.
    let ours1 = read_exposition(&bongsu_collect::gather_node_text_with(&opts));
    let theirs = http_get(port, "/metrics").expect("node_exporter scrape");
    let ours2 = read_exposition(&bongsu_collect::gather_node_text_with(&opts));
    let theirs = read_exposition(&theirs);

    let mut problems = Vec::new();
    let mut compared = 0;
    for (name, t) in &theirs {
        // The exporter's own process and Go runtime metrics are not host metrics.
        if ["go_", "process_", "promhttp_", "node_exporter_build_info"].iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let Some(o) = ours1.get(name) else {
            if !NOT_EMITTED.iter().any(|(n, _)| n == name) {
                problems.push(format!("{name}: emitted by node_exporter, missing here"));
            }
            continue;
        };
        compared += 1;
        if o.kind != t.kind {
            problems.push(format!("{name}: TYPE {:?} here, {:?} in node_exporter", o.kind, t.kind));
        }
        if o.label_names != t.label_names {
            problems.push(format!("{name}: labels {:?} here, {:?} in node_exporter", o.label_names, t.label_names));
        }
        if o.help != t.help && !HELP_DIFFERS.iter().any(|(n, _)| n == name) {
            problems.push(format!("{name}: HELP {:?} here, {:?} in node_exporter", o.help, t.help));
        }
        // The same series on both sides, but for the listed deliberate differences.
        let keys = |f: &Fam| -> BTreeSet<String> { f.values.keys().map(|k| normalize_key(k)).collect() };
        let (ok, tk) = (keys(o), keys(t));
        let allowed = |k: &str| SERIES_DIFFER.iter().any(|(p, l, _)| name.starts_with(p) && k.contains(l));
        for k in tk.difference(&ok).filter(|k| !allowed(k)) {
            problems.push(format!("{k}: series emitted by node_exporter, missing here"));
        }
        for k in ok.difference(&tk).filter(|k| !allowed(k)) {
            problems.push(format!("{k}: series emitted here, not by node_exporter"));
        }
    }
    let (values, value_problems) = compare_values(&ours1, &theirs, &ours2);
    problems.extend(value_problems);
    assert!(problems.is_empty(), "differences from node_exporter:\n{}", problems.join("\n"));
    // Guard against comparing two empty sets: the host has at least cpu,
    // memory, load, stat, time and uname families.
    assert!(compared >= 30, "only {compared} families compared");
    assert!(values >= 200, "only {values} values compared");
    assert!(ours1.contains_key("bongsu_test_latency_seconds") && theirs.contains_key("bongsu_test_rpc_seconds"));
    eprintln!("matches_node_exporter: {compared} families, {values} values compared");
}

/// Builds one-family expositions for the comparator's own test.
fn expo(series: &[(&str, &str, f64)]) -> BTreeMap<String, Fam> {
    let mut text = String::new();
    let mut seen = BTreeSet::new();
    for &(name, kind, v) in series {
        let family = name.split('{').next().unwrap_or(name);
        if seen.insert(family.to_string()) {
            text.push_str(&format!("# HELP {family} x\n# TYPE {family} {kind}\n"));
        }
        text.push_str(&format!("{name} {v}\n"));
    }
    read_exposition(&text)
}

#[test]
fn value_comparator_can_fail() {
    let mem = 16.0 * 1024.0 * MIB;
    let base = [
        ("node_memory_MemTotal_bytes", "gauge", mem),
        ("node_memory_MemFree_bytes", "gauge", 4.0 * 1024.0 * MIB),
        ("node_filefd_maximum", "gauge", 9_223_372_036_854_775_807.0),
        ("node_sockstat_TCP_tw", "gauge", 300.0),
        ("node_netstat_Tcp_InSegs", "untyped", 1000.0),
        ("node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}", "counter", 50.0),
    ];
    let o1 = expo(&base);
    let mut later = base;
    later[4].2 = 1010.0;
    later[5].2 = 50.5;
    let o2 = expo(&later);
    // node_exporter read in between: everything agrees.
    let mut between = base;
    between[4].2 = 1005.0;
    between[5].2 = 50.2;
    let (n, problems) = compare_values(&o1, &expo(&between), &o2);
    assert_eq!(n, 6);
    assert!(problems.is_empty(), "{problems:?}");

    // A value off by the kB → bytes factor, in each family kind, is caught.
    for (i, _) in base.iter().enumerate() {
        let mut scaled = between;
        scaled[i].2 *= 1024.0;
        let (_, problems) = compare_values(&o1, &expo(&scaled), &o2);
        assert_eq!(problems.len(), 1, "scaling {} by 1024 went unnoticed", base[i].0);
        let mut divided = between;
        divided[i].2 /= 1024.0;
        let (_, problems) = compare_values(&o1, &expo(&divided), &o2);
        assert_eq!(problems.len(), 1, "dividing {} by 1024 went unnoticed", base[i].0);
    }
    // A counter outside our two reads, and one that went back, are caught.
    let mut ahead = between;
    ahead[4].2 = 1011.0;
    assert_eq!(compare_values(&o1, &expo(&ahead), &o2).1.len(), 1);
    let (_, problems) = compare_values(&o2, &expo(&between), &o1);
    assert!(problems.iter().any(|p| p.contains("went back")), "{problems:?}");
    // A skipped family is never compared.
    let d = expo(&[("node_scrape_collector_duration_seconds{collector=\"cpu\"}", "gauge", 1.0)]);
    let d2 = expo(&[("node_scrape_collector_duration_seconds{collector=\"cpu\"}", "gauge", 1e9)]);
    assert_eq!(compare_values(&d, &d2, &d).0, 0);
    assert_eq!(normalize_key("x{a=\"1\",b=\"\",c=\"q\\\"\"}"), "x{a=\"1\",c=\"q\\\"\"}");
}

#[test]
fn fixture_tree_gives_node_exporter_series() {
    let t = Tree::new("fixture");
    let root = t.path("root");
    t.file("proc/stat", "cpu  10 20 30 40 50 60 70 80 90 100\ncpu0 100 200 300 400 500 600 700 800 900 1000\n\
                         cpu1 1 2 3 4 5 6 7 8\nintr 12345 1 2 3\nctxt 678\nbtime 1700000000\nprocesses 99\n\
                         procs_running 2\nprocs_blocked 1\n");
    t.file("proc/meminfo", "MemTotal:       1000 kB\nActive(anon):     2 kB\nHugePages_Total:       3\nNFS_Unstable:  0 kB\n");
    t.file("proc/loadavg", "0.25 0.50 1.00 1/100 4242\n");
    t.file(
        "proc/net/dev",
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
         lo:  100 2 0 0 0 0 0 0 100 2 0 0 0 0 0 0\n  \
         eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
    );
    t.file(
        "proc/diskstats",
        "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11\n \
         253       0 dm-0 1 2 3 4 5 6 7 8 9 10 11\n   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0\n",
    );
    t.file(
        "proc/1/mountinfo",
        &format!(
            "1 0 8:0 / {root} rw,relatime - ext4 /dev/sda rw\n\
             2 1 0:5 / {root}/proc rw - proc proc rw\n\
             3 1 0:6 / {root}/dev/shm rw - tmpfs tmpfs rw\n\
             4 1 0:7 / {root}/srv/gone ro - nfs server:/export rw\n\
             5 1 0:8 / {root}/srv/gone ro - nfs server:/export rw\n"
        ),
    );
    t.file("root/etc/os-release", "NAME=\"Fixture OS\"\nID=fixture\nID_LIKE=debian\nVERSION_ID=\"22.04\"\nSUPPORT_END=1970-01-02\n");
    t.file("sys/devices/system/cpu/cpu0/topology/physical_package_id", "0\n");
    t.file("sys/devices/system/cpu/cpu0/topology/core_id", "0\n");
    t.file("sys/devices/system/cpu/cpu0/thermal_throttle/core_throttle_count", "5\n");
    t.file("sys/devices/system/cpu/cpu0/thermal_throttle/package_throttle_count", "6\n");
    t.file("sys/devices/system/cpu/cpu0/online", "1\n");
    t.file("sys/devices/system/cpu/cpu1/online", "0\n");
    t.file("sys/devices/system/cpu/isolated", "1\n");
    t.file("sys/devices/system/clocksource/clocksource0/available_clocksource", "tsc hpet acpi_pm \n");
    t.file("sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n");
    t.file("sys/class/net/eth0/statistics/rx_nohandler", "17\n");
    t.file(
        "udev/b8:0",
        "S:disk/by-id/ata-X\nE:ID_PATH=pci-0000:00:1f.2-ata-1\nE:ID_WWN=0x5000\nE:ID_MODEL=Disk\nE:ID_SERIAL_SHORT=SN1\n\
         E:ID_REVISION=1.0\nE:ID_ATA=1\nE:ID_ATA_ROTATION_RATE_RPM=7200\nE:ID_ATA_WRITE_CACHE=1\n",
    );
    t.file("udev/b253:0", "E:DM_NAME=vg-lv\nE:DM_UUID=LVM-x\nE:DM_VG_NAME=vg\nE:DM_LV_NAME=lv\nE:ID_FS_TYPE=ext4\nE:ID_FS_USAGE=filesystem\nE:ID_FS_UUID=u\nE:ID_FS_VERSION=1.0\n");

    let paths = bongsu_collect::HostPaths { rootfs: root.clone(), ..t.paths() };
    let text = bongsu_collect::gather_node_text_from(&paths);
    read_exposition(&text);

    let expected = r#"node_boot_time_seconds 1700000000
node_context_switches_total 678
node_cpu_core_throttles_total{core="0",package="0"} 5
node_cpu_guest_seconds_total{cpu="0",mode="nice"} 10
node_cpu_guest_seconds_total{cpu="0",mode="user"} 9
node_cpu_guest_seconds_total{cpu="1",mode="nice"} 0
node_cpu_isolated{cpu="1"} 1
node_cpu_online{cpu="0"} 1
node_cpu_online{cpu="1"} 0
node_cpu_package_throttles_total{package="0"} 6
node_cpu_seconds_total{cpu="0",mode="idle"} 4
node_cpu_seconds_total{cpu="0",mode="iowait"} 5
node_cpu_seconds_total{cpu="0",mode="irq"} 6
node_cpu_seconds_total{cpu="0",mode="nice"} 2
node_cpu_seconds_total{cpu="0",mode="softirq"} 7
node_cpu_seconds_total{cpu="0",mode="steal"} 8
node_cpu_seconds_total{cpu="0",mode="system"} 3
node_cpu_seconds_total{cpu="0",mode="user"} 1
node_cpu_seconds_total{cpu="1",mode="user"} 0.01
node_disk_ata_rotation_rate_rpm{device="sda"} 7200
node_disk_ata_write_cache{device="sda"} 1
node_disk_device_mapper_info{device="dm-0",lv_layer="",lv_name="lv",name="vg-lv",uuid="LVM-x",vg_name="vg"} 1
node_disk_discard_time_seconds_total{device="sda"} 0.015
node_disk_discarded_sectors_total{device="sda"} 14
node_disk_filesystem_info{device="dm-0",type="ext4",usage="filesystem",uuid="u",version="1.0"} 1
node_disk_flush_requests_time_seconds_total{device="sda"} 0.017
node_disk_flush_requests_total{device="sda"} 16
node_disk_info{device="dm-0",major="253",minor="0",model="",path="",revision="",serial="",wwn=""} 1
node_disk_info{device="sda",major="8",minor="0",model="Disk",path="pci-0000:00:1f.2-ata-1",revision="1.0",serial="SN1",wwn="0x5000"} 1
node_disk_io_now{device="sda"} 9
node_disk_io_time_seconds_total{device="sda"} 0.01
node_disk_io_time_weighted_seconds_total{device="dm-0"} 0.011
node_disk_read_bytes_total{device="sda"} 1536
node_disk_read_time_seconds_total{device="sda"} 0.004
node_disk_reads_completed_total{device="sda"} 1
node_disk_reads_merged_total{device="sda"} 2
node_disk_write_time_seconds_total{device="sda"} 0.008
node_disk_writes_completed_total{device="sda"} 5
node_disk_writes_merged_total{device="sda"} 6
node_disk_written_bytes_total{device="sda"} 3584
node_filesystem_device_error{device="/dev/sda",fstype="ext4",mountpoint="/"} 0
node_filesystem_device_error{device="server:/export",fstype="nfs",mountpoint="/srv/gone"} 1
node_filesystem_readonly{device="/dev/sda",fstype="ext4",mountpoint="/"} 0
node_filesystem_readonly{device="server:/export",fstype="nfs",mountpoint="/srv/gone"} 1
node_forks_total 99
node_intr_total 12345
node_load1 0.25
node_load15 1
node_load5 0.5
node_memory_Active_anon_bytes 2048
node_memory_HugePages_Total 3
node_memory_MemTotal_bytes 1024000
node_memory_NFS_Unstable_bytes 0
node_network_receive_bytes_total{device="eth0"} 1
node_network_receive_bytes_total{device="lo"} 100
node_network_receive_compressed_total{device="eth0"} 7
node_network_receive_drop_total{device="eth0"} 4
node_network_receive_errs_total{device="eth0"} 3
node_network_receive_fifo_total{device="eth0"} 5
node_network_receive_frame_total{device="eth0"} 6
node_network_receive_multicast_total{device="eth0"} 8
node_network_receive_nohandler_total{device="eth0"} 17
node_network_receive_nohandler_total{device="lo"} 0
node_network_receive_packets_total{device="eth0"} 2
node_network_transmit_bytes_total{device="eth0"} 9
node_network_transmit_carrier_total{device="eth0"} 15
node_network_transmit_colls_total{device="eth0"} 14
node_network_transmit_compressed_total{device="eth0"} 16
node_network_transmit_drop_total{device="eth0"} 12
node_network_transmit_errs_total{device="eth0"} 11
node_network_transmit_fifo_total{device="eth0"} 13
node_network_transmit_packets_total{device="eth0"} 10
node_os_info{build_id="",id="fixture",id_like="debian",image_id="",image_version="",name="Fixture OS",pretty_name="",variant="",variant_id="",version="",version_codename="",version_id="22.04"} 1
node_os_support_end_timestamp_seconds 86400
node_os_version{id="fixture",id_like="debian",name="Fixture OS"} 22.04
node_procs_blocked 1
node_procs_running 2
node_time_clocksource_available_info{clocksource="acpi_pm",device="0"} 1
node_time_clocksource_available_info{clocksource="hpet",device="0"} 1
node_time_clocksource_available_info{clocksource="tsc",device="0"} 1
node_time_clocksource_current_info{clocksource="tsc",device="0"} 1
"#;
    let lines: BTreeSet<&str> = text.lines().collect();
    let missing: Vec<&str> = expected.lines().filter(|l| !lines.contains(l)).collect();
    assert!(missing.is_empty(), "missing lines:\n{}\n--- got:\n{text}", missing.join("\n"));

    for absent in ["device=\"sda1\"", "device=\"loop0\"", "mountpoint=\"/proc\"", "mountpoint=\"/dev/shm\"", "node_filesystem_size_bytes{device=\"server"] {
        assert!(!text.contains(absent), "{absent} should not be reported");
    }
    // The root mount was statvfs'd through the rootfs prefix.
    assert!(text.contains("node_filesystem_size_bytes{device=\"/dev/sda\",fstype=\"ext4\",mountpoint=\"/\"}"));
    assert!(text.contains("node_scrape_collector_success{collector=\"filesystem\"} 1\n"));
}

/// Collectors whose success on an empty `--path.*` tree differs from
/// node_exporter's, with node_exporter's value and the reason.
const EMPTY_TREE_SUCCESS_DIFFERS: &[(&str, f64, &str)] = &[(
    "netdev",
    1.0,
    "node_exporter 1.5 reads interface statistics over netlink (--collector.netdev.netlink), which ignores \
     --path.procfs; Bongsu reads <procfs>/net/dev",
)];

#[test]
fn missing_files_fail_only_their_collector() {
    let t = Tree::new("empty");
    t.file("proc/loadavg", "0.25 0.50 1.00 1/100 4242\n");
    // node_exporter refuses to start without the sysfs directory itself.
    std::fs::create_dir_all(t.path("sys")).expect("sys dir");
    t.file("proc/meminfo", "MemTotal: x kB\n");
    let paths = t.paths();
    let text = bongsu_collect::gather_node_text_from(&paths);
    read_exposition(&text);
    let expected = [
        ("cpu", 0),
        ("cpufreq", 1),
        ("diskstats", 0),
        ("entropy", 0),
        ("filefd", 0),
        ("filesystem", 0),
        ("hwmon", 0),
        ("loadavg", 1),
        ("meminfo", 0),
        ("netdev", 0),
        ("netstat", 0),
        ("nvme", 0),
        ("os", 0),
        ("pressure", 0),
        ("schedstat", 0),
        ("sockstat", 1),
        ("stat", 0),
        ("textfile", 1),
        ("thermal_zone", 1),
        ("time", 1),
        ("timex", 1),
        ("uname", 1),
        ("vmstat", 0),
    ];
    for (collector, ok) in expected {
        let line = format!("node_scrape_collector_success{{collector=\"{collector}\"}} {ok}\n");
        assert!(text.contains(&line), "expected {line:?} in:\n{text}");
    }
    assert!(text.contains("node_textfile_scrape_error 0\n"));
    // node_exporter on the same tree agrees on which collectors succeed.
    if let Some(bin) = node_exporter_or_skip("the empty-tree comparison") {
        let mut args = vec![
            "--collector.disable-defaults".to_string(),
            "--collector.textfile.directory=".to_string(),
            format!("--path.procfs={}", t.path("proc")),
            format!("--path.sysfs={}", t.path("sys")),
            format!("--path.rootfs={}", t.path("root")),
            format!("--path.udev.data={}", t.path("udev")),
        ];
        args.extend(COLLECTORS.iter().map(|c| format!("--collector.{c}")));
        let (_exporter, _, theirs) = start_node_exporter(&bin, &args);
        let theirs = read_exposition(&theirs);
        let success = &theirs["node_scrape_collector_success"].values;
        for (collector, ok) in expected {
            let key = format!("node_scrape_collector_success{{collector={collector:?}}}");
            let want = EMPTY_TREE_SUCCESS_DIFFERS
                .iter()
                .find(|(c, _, _)| *c == collector)
                .map_or(ok as f64, |&(_, theirs, _)| theirs);
            assert_eq!(success.get(&key), Some(&want), "node_exporter's {key}");
        }
    }
    assert!(text.contains("node_load1 0.25\n"));
    assert!(!text.contains("node_memory_"));
}

/// A /proc and /sys with the files of the collectors that came after the
/// first ten, shaped like node_exporter's own fixtures (collector/fixtures/
/// proc and sys.ttar): hwmon chips behind class symlinks, a thermal zone and
/// cooling device, an NVMe controller, two CPUs with cpufreq and one without.
fn new_collectors_tree(t: &Tree) {
    t.file(
        "proc/net/netstat",
        "TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts ListenOverflows ListenDrops TCPTimeouts TCPSynRetrans DelayedACKs\n\
         TcpExt: 0 0 2 0 3 4 115 102 1000\n\
         IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InOctets OutOctets InCsumErrors\n\
         IpExt: 0 0 0 0 6286396970 2786264347 0\n",
    );
    t.file(
        "proc/net/snmp",
        "Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors\nIp: 1 64 57740232 0 25\n\
         Icmp: InMsgs InErrors InCsumErrors OutMsgs OutErrors\nIcmp: 45 1 0 50 0\n\
         Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n\
         Tcp: 1 200 120000 -1 3556 230 341 161 0 57252008 54915039 227 5 1003 0\n\
         Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti\n\
         Udp: 88542 120 7 53028 9 8 0 0\n\
         UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti\n\
         UdpLite: 0 0 0 0 0 0 0 0\n",
    );
    t.file(
        "proc/net/snmp6",
        "Ip6InReceives                   \t92425\nIp6InOctets                     \t8878963\nIp6OutOctets                    \t4421133\n\
         Icmp6InMsgs                     \t142\nIcmp6InErrors                   \t0\nIcmp6OutMsgs                    \t84\n\
         Udp6InDatagrams                 \t2\nUdp6NoPorts                     \t1\nUdp6InErrors                    \t3\nUdpLite6InErrors                \t4\n",
    );
    t.file(
        "proc/net/sockstat",
        "sockets: used 229\nTCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1\nUDP: inuse 0 mem 0\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n",
    );
    t.file("proc/net/sockstat6", "TCP6: inuse 17\nUDP6: inuse 9\nUDPLITE6: inuse 0\nRAW6: inuse 1\nFRAG6: inuse 0 memory 0\n");
    t.file(
        "proc/vmstat",
        "nr_free_pages 977769\nnr_zone_inactive_anon 44\npgpgin 7344136\npgpgout 1541180581\npswpin 1476\npswpout 932\n\
         pgalloc_dma 1\npgfault 2340553093\npgmajfault 507162\npgfree 3\noom_kill 0\nthp_fault_alloc 7\n",
    );
    t.file("proc/sys/fs/file-nr", "1024\t0\t1631329\n");
    t.file("proc/sys/kernel/random/entropy_avail", "1337\n");
    t.file("proc/sys/kernel/random/poolsize", "4096\n");
    t.file("proc/sys/kernel/random/urandom_min_reseed_secs", "60\n");
    t.file("proc/pressure/cpu", "some avg10=0.10 avg60=2.00 avg300=3.85 total=15000\n");
    t.file(
        "proc/pressure/io",
        "some avg10=0.18 avg60=1.00 avg300=3.00 total=159886802\nfull avg10=0.18 avg60=1.00 avg300=3.00 total=159229614\n",
    );
    t.file(
        "proc/pressure/memory",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    );
    t.file(
        "proc/schedstat",
        "version 15\ntimestamp 15819019232\n\
         cpu0 498494191 0 499 0 0 0 2133342924924 15441180960 48456453\n\
         domain0 00000000,00000003 212499247 210112015 1861015 1860405436 536440 369895 32599 210079416 25368550 24241256 384652 927363878 807233 6366 1647 4072 0 0 0\n\
         cpu1 518377256 0 4155211 0 0 0 2167338913 43102780 49016262\n",
    );

    let cpufreq = |cpu: &str, cur: Option<&str>, scaling: &str| {
        let d = format!("sys/devices/system/cpu/{cpu}/cpufreq");
        if let Some(cur) = cur {
            t.file(&format!("{d}/cpuinfo_cur_freq"), cur);
        }
        t.file(&format!("{d}/cpuinfo_max_freq"), "3700000\n");
        t.file(&format!("{d}/cpuinfo_min_freq"), "800000\n");
        t.file(&format!("{d}/cpuinfo_transition_latency"), "4294967295\n");
        t.file(&format!("{d}/related_cpus"), &format!("{}\n", &cpu[3..]));
        t.file(&format!("{d}/scaling_available_governors"), "performance powersave\n");
        t.file(&format!("{d}/scaling_cur_freq"), scaling);
        t.file(&format!("{d}/scaling_driver"), "intel_pstate\n");
        t.file(&format!("{d}/scaling_governor"), "powersave\n");
        t.file(&format!("{d}/scaling_max_freq"), "4200000\n");
        t.file(&format!("{d}/scaling_min_freq"), "800000\n");
        t.file(&format!("{d}/scaling_setspeed"), "<unsupported>\n");
    };
    cpufreq("cpu0", Some("1200195\n"), "1219917\n");
    cpufreq("cpu1", None, "1200000\n");
    t.file("sys/devices/system/cpu/cpu2/online", "1\n");

    // hwmon0: a class symlink to a platform device's hwmon directory.
    t.link("sys/class/hwmon/hwmon0", "../../devices/platform/coretemp.0/hwmon/hwmon0");
    let h0 = "sys/devices/platform/coretemp.0/hwmon/hwmon0";
    t.link(&format!("{h0}/device"), "../../../coretemp.0");
    t.file(&format!("{h0}/name"), "coretemp\n");
    for (f, v) in [
        ("temp1_crit", "100000"),
        ("temp1_crit_alarm", "0"),
        ("temp1_input", "55000"),
        ("temp1_label", "Physical id 0"),
        ("temp1_max", "84000"),
        ("temp2_input", "54000"),
        ("temp2_label", "Core 0"),
    ] {
        t.file(&format!("{h0}/{f}"), &format!("{v}\n"));
    }
    // hwmon1: the readings live in the device directory (applesmc).
    t.link("sys/class/hwmon/hwmon1", "../../devices/platform/applesmc.768/hwmon/hwmon1");
    t.link("sys/devices/platform/applesmc.768/hwmon/hwmon1/device", "../../../applesmc.768");
    let apple = "sys/devices/platform/applesmc.768";
    t.file(&format!("{apple}/name"), "applesmc\n");
    for (f, v) in [("fan1_input", "0"), ("fan1_label", "Left side  "), ("fan1_manual", "0"), ("fan1_max", "6156"), ("fan1_min", "2160"), ("fan1_output", "2160"), ("fan1_safe", "0")] {
        t.file(&format!("{apple}/{f}"), &format!("{v}\n"));
    }
    // hwmon2: a plain directory without a device link, every sensor kind.
    let h2 = "sys/class/hwmon/hwmon2";
    t.file(&format!("{h2}/name"), "nct6779\n");
    for (f, v) in [
        ("beep_enable", "1"),
        ("update_interval", "1000"),
        ("vrm", "9.0"),
        ("in0_input", "792"),
        ("in0_min", "0"),
        ("in0_alarm", "0"),
        ("in0_beep", "0"),
        ("cpu0_vid", "900"),
        ("fan2_input", "1098"),
        ("fan2_target", "1100"),
        ("fan2_pulses", "2"),
        ("pwm1", "153"),
        ("pwm1_enable", "5"),
        ("curr1_input", "2500"),
        ("power1_average", "345000000"),
        ("power1_average_interval", "1000"),
        ("power1_accuracy", "2000"),
        ("energy1_input", "2500000"),
        ("humidity1_input", "456000"),
        ("intrusion0_alarm", "1"),
        ("temp3_input", "36000"),
        ("temp3_type", "4"),
        ("temp4", "31000"),
        ("temp5_input", "not a number"),
    ] {
        t.file(&format!("{h2}/{f}"), &format!("{v}\n"));
    }

    t.link("sys/class/thermal/thermal_zone0", "../../devices/virtual/thermal/thermal_zone0");
    let z = "sys/devices/virtual/thermal/thermal_zone0";
    t.file(&format!("{z}/type"), "bcm2835_thermal\n");
    t.file(&format!("{z}/policy"), "step_wise\n");
    t.file(&format!("{z}/temp"), "49925\n");
    t.file(&format!("{z}/mode"), "enabled\n");
    t.link("sys/class/thermal/cooling_device0", "../../devices/virtual/thermal/cooling_device0");
    let c = "sys/devices/virtual/thermal/cooling_device0";
    t.file(&format!("{c}/type"), "Processor\n");
    t.file(&format!("{c}/max_state"), "50\n");
    t.file(&format!("{c}/cur_state"), "0\n");

    t.link("sys/class/nvme/nvme0", "../../devices/pci0000:00/0000:00:06.0/nvme/nvme0");
    let n = "sys/devices/pci0000:00/0000:00:06.0/nvme/nvme0";
    t.file(&format!("{n}/firmware_rev"), "1B2QEXP7\n");
    t.file(&format!("{n}/model"), "Samsung SSD 970 PRO 512GB               \n");
    t.file(&format!("{n}/serial"), "S680HF8N190894I     \n");
    t.file(&format!("{n}/state"), "live\n");
}

/// The collectors the new fixture tree feeds (timex reads the live kernel).
const TREE_COLLECTORS: &[&str] = &[
    "cpufreq", "entropy", "filefd", "hwmon", "netstat", "nvme", "pressure", "schedstat", "sockstat", "textfile",
    "thermal_zone", "vmstat",
];

#[test]
fn fixture_tree_gives_new_collector_series() {
    let t = Tree::new("new");
    new_collectors_tree(&t);
    let dir = textfile_dir(&t);
    let opts = bongsu_collect::NodeOptions {
        paths: t.paths(),
        textfile_dir: Some(dir.clone()),
        only: None,
    };
    let text = bongsu_collect::gather_node_text_with(&opts);
    let fams = read_exposition(&text);
    let page = 4096; // sockstat mem is in pages; x86-64 and arm64 Debian use 4 KiB
    let expected = format!(
        r#"bongsu_test_jobs_total{{job="a",shard=""}} 3
bongsu_test_last_run 1.7e+09
bongsu_test_last_run{{host="h"}} 5
bongsu_test_latency_seconds_bucket{{le="+Inf"}} 2
bongsu_test_latency_seconds_bucket{{le="0.5"}} 1
bongsu_test_latency_seconds_bucket{{le="1e+06"}} 2
bongsu_test_latency_seconds_count 2
bongsu_test_rpc_seconds_count{{svc="x"}} 40
bongsu_test_rpc_seconds{{svc="x",quantile="0.9"}} 0.25
node_cooling_device_cur_state{{name="0",type="Processor"}} 0
node_cooling_device_max_state{{name="0",type="Processor"}} 50
node_cpu_frequency_hertz{{cpu="0"}} 1200195000
node_cpu_frequency_max_hertz{{cpu="1"}} 3700000000
node_cpu_frequency_min_hertz{{cpu="0"}} 800000000
node_cpu_scaling_frequency_hertz{{cpu="1"}} 1200000000
node_cpu_scaling_frequency_max_hertz{{cpu="0"}} 4200000000
node_cpu_scaling_frequency_min_hertz{{cpu="0"}} 800000000
node_entropy_available_bits 1337
node_entropy_pool_size_bits 4096
node_filefd_allocated 1024
node_filefd_maximum 1631329
node_hwmon_beep_enabled{{chip="nct6779",sensor="beep_enable0"}} 1
node_hwmon_chip_names{{chip="nct6779",chip_name="nct6779"}} 1
node_hwmon_chip_names{{chip="platform_coretemp_0",chip_name="coretemp"}} 1
node_hwmon_cpu_vid_volts{{chip="nct6779",sensor="cpu0"}} 0.9
node_hwmon_curr_amps{{chip="nct6779",sensor="curr1"}} 2.5
node_hwmon_energy_joule_total{{chip="nct6779",sensor="energy1"}} 2.5
node_hwmon_fan_manual{{chip="platform_applesmc_768",sensor="fan1"}} 0
node_hwmon_fan_max_rpm{{chip="platform_applesmc_768",sensor="fan1"}} 6156
node_hwmon_fan_min_rpm{{chip="platform_applesmc_768",sensor="fan1"}} 2160
node_hwmon_fan_pulses{{chip="nct6779",sensor="fan2"}} 2
node_hwmon_fan_rpm{{chip="nct6779",sensor="fan2"}} 1098
node_hwmon_fan_rpm{{chip="platform_applesmc_768",sensor="fan1"}} 0
node_hwmon_fan_target_rpm{{chip="nct6779",sensor="fan2"}} 1100
node_hwmon_humidity{{chip="nct6779",sensor="humidity1"}} 0.456
node_hwmon_in_alarm{{chip="nct6779",sensor="in0"}} 0
node_hwmon_in_beep_enabled{{chip="nct6779",sensor="in0"}} 0
node_hwmon_in_min_volts{{chip="nct6779",sensor="in0"}} 0
node_hwmon_in_volts{{chip="nct6779",sensor="in0"}} 0.792
node_hwmon_intrusion_alarm{{chip="nct6779",sensor="intrusion0"}} 1
node_hwmon_power_accuracy{{chip="nct6779",sensor="power1"}} 0.002
node_hwmon_power_average_interval_seconds{{chip="nct6779",sensor="power1"}} 1
node_hwmon_power_average_watt{{chip="nct6779",sensor="power1"}} 345
node_hwmon_pwm{{chip="nct6779",sensor="pwm1"}} 153
node_hwmon_pwm_enable{{chip="nct6779",sensor="pwm1"}} 5
node_hwmon_sensor_label{{chip="platform_applesmc_768",label="Left side  ",sensor="fan1"}} 1
node_hwmon_sensor_label{{chip="platform_coretemp_0",label="Core 0",sensor="temp2"}} 1
node_hwmon_sensor_label{{chip="platform_coretemp_0",label="Physical id 0",sensor="temp1"}} 1
node_hwmon_temp_celsius{{chip="nct6779",sensor="temp3"}} 36
node_hwmon_temp_celsius{{chip="nct6779",sensor="temp4"}} 31
node_hwmon_temp_celsius{{chip="platform_coretemp_0",sensor="temp1"}} 55
node_hwmon_temp_crit_alarm_celsius{{chip="platform_coretemp_0",sensor="temp1"}} 0
node_hwmon_temp_crit_celsius{{chip="platform_coretemp_0",sensor="temp1"}} 100
node_hwmon_temp_max_celsius{{chip="platform_coretemp_0",sensor="temp1"}} 84
node_hwmon_temp_type{{chip="nct6779",sensor="temp3"}} 4
node_hwmon_update_interval_seconds{{chip="nct6779",sensor="update_interval0"}} 1
node_hwmon_voltage_regulator_version{{chip="nct6779",sensor="vrm0"}} 9
node_netstat_Icmp6_InMsgs 142
node_netstat_Icmp6_OutMsgs 84
node_netstat_Icmp_InMsgs 45
node_netstat_Icmp_OutMsgs 50
node_netstat_Ip6_InOctets 8878963
node_netstat_Ip6_OutOctets 4421133
node_netstat_IpExt_InOctets 6286396970
node_netstat_IpExt_OutOctets 2786264347
node_netstat_Ip_Forwarding 1
node_netstat_TcpExt_ListenDrops 4
node_netstat_TcpExt_ListenOverflows 3
node_netstat_TcpExt_SyncookiesFailed 2
node_netstat_TcpExt_SyncookiesRecv 0
node_netstat_TcpExt_SyncookiesSent 0
node_netstat_TcpExt_TCPSynRetrans 102
node_netstat_TcpExt_TCPTimeouts 115
node_netstat_Tcp_ActiveOpens 3556
node_netstat_Tcp_CurrEstab 0
node_netstat_Tcp_InErrs 5
node_netstat_Tcp_InSegs 57252008
node_netstat_Tcp_OutRsts 1003
node_netstat_Tcp_OutSegs 54915039
node_netstat_Tcp_PassiveOpens 230
node_netstat_Tcp_RetransSegs 227
node_netstat_Udp6_InDatagrams 2
node_netstat_Udp6_InErrors 3
node_netstat_Udp6_NoPorts 1
node_netstat_UdpLite6_InErrors 4
node_netstat_UdpLite_InErrors 0
node_netstat_Udp_InDatagrams 88542
node_netstat_Udp_InErrors 7
node_netstat_Udp_NoPorts 120
node_netstat_Udp_OutDatagrams 53028
node_netstat_Udp_RcvbufErrors 9
node_netstat_Udp_SndbufErrors 8
node_nvme_info{{device="nvme0",firmware_revision="1B2QEXP7",model="Samsung SSD 970 PRO 512GB",serial="S680HF8N190894I",state="live"}} 1
node_pressure_cpu_waiting_seconds_total 0.015
node_pressure_io_stalled_seconds_total 159.229614
node_pressure_io_waiting_seconds_total 159.886802
node_pressure_memory_stalled_seconds_total 0
node_pressure_memory_waiting_seconds_total 0
node_schedstat_running_seconds_total{{cpu="0"}} 2133.342924924
node_schedstat_running_seconds_total{{cpu="1"}} 2.167338913
node_schedstat_timeslices_total{{cpu="0"}} 48456453
node_schedstat_waiting_seconds_total{{cpu="1"}} 0.04310278
node_sockstat_FRAG6_inuse 0
node_sockstat_FRAG6_memory 0
node_sockstat_FRAG_memory 0
node_sockstat_RAW6_inuse 1
node_sockstat_TCP6_inuse 17
node_sockstat_TCP_alloc 17
node_sockstat_TCP_inuse 4
node_sockstat_TCP_mem 1
node_sockstat_TCP_mem_bytes {page}
node_sockstat_TCP_orphan 0
node_sockstat_TCP_tw 4
node_sockstat_UDP6_inuse 9
node_sockstat_UDP_mem_bytes 0
node_sockstat_sockets_used 229
node_textfile_scrape_error 1
node_thermal_zone_temp{{type="bcm2835_thermal",zone="0"}} 49.925
node_vmstat_oom_kill 0
node_vmstat_pgfault 2340553093
node_vmstat_pgmajfault 507162
node_vmstat_pgpgin 7344136
node_vmstat_pgpgout 1541180581
node_vmstat_pswpin 1476
node_vmstat_pswpout 932
"#
    );
    // Values may print in another float notation than the listing; compare parsed.
    let got: BTreeMap<String, f64> = fams
        .values()
        .flat_map(|f| f.values.iter().map(|(k, v)| (normalize_key(k), *v)))
        .collect();
    let mut missing = Vec::new();
    for line in expected.lines() {
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let (name, mut labels, _) = split_sample(&format!("{series} 0")).expect("expected line parses");
        labels.sort();
        let key = format!("{name}{{{}}}", labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(","));
        match got.get(&normalize_key(&key)) {
            Some(v) if *v == value_of(value) => {}
            other => missing.push(format!("{line}   (got {other:?})")),
        }
    }
    assert!(missing.is_empty(), "missing or different:\n{}\n--- got:\n{text}", missing.join("\n"));
    for absent in [
        "node_vmstat_nr_free_pages",
        "node_vmstat_pgfree",
        "node_vmstat_thp_fault_alloc",
        "node_netstat_Tcp_MaxConn",
        "node_netstat_Ip6_InReceives",
        "node_sockstat_RAW6_mem",
        "cpu=\"2\"",
        "node_cpu_frequency_hertz{cpu=\"1\"}",
        "sensor=\"temp5\"",
        "node_sockstat_sockets6",
        "bongsu_test_bad",
    ] {
        assert!(!text.contains(absent), "{absent} should not be reported:\n{text}");
    }
    assert!(text.contains(&format!("# HELP bongsu_test_last_run Metric read from {dir}/good.prom, {dir}/other.prom\n")));
    assert!(text.contains("# TYPE node_netstat_Tcp_InSegs untyped\n# HELP") || text.contains("# HELP node_netstat_Tcp_InSegs Statistic TcpInSegs.\n# TYPE node_netstat_Tcp_InSegs untyped\n"));
    assert!(text.contains(&format!("node_textfile_mtime_seconds{{file=\"{dir}/good.prom\"}} ")));
    assert!(!text.contains("zz_bad.prom\"}"));
    for c in TREE_COLLECTORS {
        assert!(
            text.contains(&format!("node_scrape_collector_success{{collector=\"{c}\"}} 1\n")),
            "{c} should succeed on the fixture tree"
        );
    }

    // node_exporter reading the same tree prints the same series, values
    // and metadata.
    let Some(bin) = node_exporter_or_skip("the fixture-tree comparison") else { return };
    let mut args = vec![
        "--collector.disable-defaults".to_string(),
        format!("--collector.textfile.directory={dir}"),
        format!("--path.procfs={}", t.path("proc")),
        format!("--path.sysfs={}", t.path("sys")),
        format!("--path.rootfs={}", t.path("root")),
    ];
    args.extend(TREE_COLLECTORS.iter().map(|c| format!("--collector.{c}")));
    let (_exporter, _, theirs) = start_node_exporter(&bin, &args);
    let theirs = read_exposition(&theirs);
    let mut problems = Vec::new();
    for (name, tf) in &theirs {
        if ["go_", "process_", "promhttp_", "node_exporter_build_info", "node_scrape_collector_duration"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            continue;
        }
        let Some(of) = fams.get(name) else {
            problems.push(format!("{name}: missing here"));
            continue;
        };
        if (&of.help, &of.kind, &of.label_names) != (&tf.help, &tf.kind, &tf.label_names) {
            problems.push(format!(
                "{name}: {:?} here, {:?} in node_exporter",
                (&of.help, &of.kind, &of.label_names),
                (&tf.help, &tf.kind, &tf.label_names)
            ));
        }
        let norm = |f: &Fam| -> BTreeMap<String, f64> { f.values.iter().map(|(k, v)| (normalize_key(k), *v)).collect() };
        let (mut ov, tv) = (norm(of), norm(tf));
        // We ran every collector, node_exporter only the tree's.
        if name == "node_scrape_collector_success" {
            ov.retain(|k, _| tv.contains_key(k));
        }
        if ov != tv {
            problems.push(format!("{name}: values {:?} here, {:?} in node_exporter", of.values, tf.values));
        }
    }
    let tree_families = [
        "node_cpu_frequency", "node_cpu_scaling_frequency", "node_entropy_", "node_filefd_", "node_hwmon_",
        "node_netstat_", "node_nvme_", "node_pressure_", "node_schedstat_", "node_sockstat_", "node_textfile_",
        "node_thermal_zone_", "node_cooling_device_", "node_vmstat_", "bongsu_test_",
    ];
    for name in fams.keys().filter(|n| tree_families.iter().any(|p| n.starts_with(p))) {
        if !theirs.contains_key(name) {
            problems.push(format!("{name}: emitted here, not by node_exporter"));
        }
    }
    assert!(problems.is_empty(), "differences from node_exporter on the fixture tree:\n{}", problems.join("\n"));
}

#[test]
fn textfile_clashes_and_globs() {
    let t = Tree::new("clash");
    t.file("proc/loadavg", "0.25 0.50 1.00 1/100 4242\n");
    // Another HELP for a collector's family: dropped, no scrape error.
    t.file("tf/a/clash.prom", "# HELP node_load1 Overridden.\n# TYPE node_load1 gauge\nnode_load1 99\n");
    // Same HELP and TYPE: admitted next to the collector's series.
    t.file("tf/a/join.prom", "# HELP node_load5 5m load average.\n# TYPE node_load5 gauge\nnode_load5{source=\"file\"} 7\n");
    // A family in a later file with another TYPE than an earlier one: dropped.
    t.file("tf/b/first.prom", "# TYPE app_up gauge\napp_up 1\n");
    t.file("tf/b/second.prom", "# TYPE app_up counter\napp_up{x=\"y\"} 2\nsecond_ok 1\n");
    let opts = bongsu_collect::NodeOptions {
        paths: t.paths(),
        textfile_dir: Some(t.path("tf/*")),
        only: None,
    };
    let text = bongsu_collect::gather_node_text_with(&opts);
    read_exposition(&text);
    for want in [
        "# HELP node_load1 1m load average.\n",
        "node_load1 0.25\n",
        "node_load5{source=\"\"} 0.5\n",
        "node_load5{source=\"file\"} 7\n",
        "# TYPE app_up gauge\n",
        "app_up 1\n",
        "second_ok 1\n",
        "node_textfile_scrape_error 0\n",
        "node_scrape_collector_success{collector=\"textfile\"} 1\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(!text.contains("node_load1 99") && !text.contains("Overridden") && !text.contains("x=\"y\""), "{text}");
    for f in ["a/clash.prom", "a/join.prom", "b/first.prom", "b/second.prom"] {
        assert!(text.contains(&format!("node_textfile_mtime_seconds{{file=\"{}\"}} ", t.path(&format!("tf/{f}")))), "{f}");
    }
    // A directory that does not exist is an error.
    let missing = bongsu_collect::NodeOptions {
        textfile_dir: Some(t.path("nowhere")),
        ..opts
    };
    assert!(bongsu_collect::gather_node_text_with(&missing).contains("node_textfile_scrape_error 1\n"));
}
