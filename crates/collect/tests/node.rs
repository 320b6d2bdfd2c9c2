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

/// A throwaway directory tree, removed on drop.
struct Tree(std::path::PathBuf);

impl Tree {
    fn new(tag: &str) -> Tree {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("bongsu-collect-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create fixture dir");
        Tree(dir)
    }

    fn file(&self, rel: &str, content: &str) {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create fixture parent");
        }
        std::fs::write(p, content).expect("write fixture");
    }

    fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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

    let paths = bongsu_collect::HostPaths {
        procfs: t.path("proc"),
        sysfs: t.path("sys"),
        rootfs: root.clone(),
        udev_data: t.path("udev"),
    };
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

#[test]
fn missing_files_fail_only_their_collector() {
    let t = Tree::new("empty");
    t.file("proc/loadavg", "0.25 0.50 1.00 1/100 4242\n");
    t.file("proc/meminfo", "MemTotal: x kB\n");
    let paths = bongsu_collect::HostPaths {
        procfs: t.path("proc"),
        sysfs: t.path("sys"),
        rootfs: t.path("root"),
        udev_data: t.path("udev"),
    };
    let text = bongsu_collect::gather_node_text_from(&paths);
    read_exposition(&text);
    for (collector, ok) in [
        ("cpu", 0),
        ("diskstats", 0),
        ("filesystem", 0),
        ("loadavg", 1),
        ("meminfo", 0),
        ("netdev", 0),
        ("os", 0),
        ("stat", 0),
        ("time", 1),
        ("uname", 1),
    ] {
        let line = format!("node_scrape_collector_success{{collector=\"{collector}\"}} {ok}\n");
        assert!(text.contains(&line), "expected {line:?} in:\n{text}");
    }
    assert!(text.contains("node_load1 0.25\n"));
    assert!(!text.contains("node_memory_"));
}
