//! End-to-end checks of `gather_node_text()`: valid exposition, the
//! families this machine must have, the time bound, and a side-by-side
//! comparison with Debian's `prometheus-node-exporter` when installed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bongsu_collect::gather_node_text;

/// One family as read back from an exposition.
#[derive(Debug, Default)]
struct Fam {
    help: Option<String>,
    kind: Option<String>,
    /// Union of label names over the family's series.
    label_names: BTreeSet<String>,
    series: usize,
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
            let (name, labels, value) = split_sample(line).unwrap_or_else(|| panic!("{at}: bad sample line"));
            assert!(valid_metric_name(&name), "{at}: bad metric name");
            assert!(parse_value(value), "{at}: bad value");
            let key = format!("{name}{{{}}}", labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(","));
            assert!(series.insert(key), "{at}: duplicate series");
            let mut seen = BTreeSet::new();
            for (k, _) in &labels {
                assert!(valid_label_name(k), "{at}: bad label name {k}");
                assert!(seen.insert(k.clone()), "{at}: repeated label {k}");
            }
            let fam = fams.entry(name.clone()).or_default();
            fam.series += 1;
            fam.label_names.extend(seen);
            name_of_sample = name;
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
    let missing: Vec<&str> = required.iter().copied().filter(|n| !fams.contains_key(*n)).collect();
    assert!(missing.is_empty(), "missing families: {missing:?}");

    for collector in ["cpu", "diskstats", "filesystem", "loadavg", "meminfo", "netdev", "os", "stat", "time", "uname"] {
        let line = format!("node_scrape_collector_success{{collector=\"{collector}\"}} 1\n");
        assert!(text.contains(&line), "collector {collector} did not succeed");
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

#[test]
fn matches_node_exporter() {
    let Some(bin) = find_node_exporter() else {
        let msg = "prometheus-node-exporter is not installed: SKIPPING the node_exporter comparison \
                   (apt-get install prometheus-node-exporter)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}; CI=true requires it");
        }
        eprintln!("\n!!!!!!!! {msg} !!!!!!!!\n");
        return;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let collectors = ["cpu", "diskstats", "filesystem", "loadavg", "meminfo", "netdev", "os", "stat", "time", "uname"];
    let mut cmd = Command::new(&bin);
    cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--collector.disable-defaults")
        .args(collectors.iter().map(|c| format!("--collector.{c}")))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _exporter = Exporter(cmd.spawn().expect("start node_exporter"));
    let started = Instant::now();
    let theirs = loop {
        if let Some(body) = http_get(port, "/metrics") {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "node_exporter did not answer on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let ours = read_exposition(&gather_node_text());
    let theirs = read_exposition(&theirs);

    let mut problems = Vec::new();
    let mut compared = 0;
    for (name, t) in &theirs {
        // The exporter's own process and Go runtime metrics are not host metrics.
        if ["go_", "process_", "promhttp_", "node_exporter_build_info"].iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let Some(o) = ours.get(name) else {
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
    }
    assert!(problems.is_empty(), "differences from node_exporter:\n{}", problems.join("\n"));
    // Guard against comparing two empty sets: the host has at least cpu,
    // memory, load, stat, time and uname families.
    assert!(compared >= 30, "only {compared} families compared");
}
