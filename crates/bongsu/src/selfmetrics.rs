//! Bongsu's own `/metrics`, in text format 0.0.4, with Prometheus' metric
//! names where the meaning is the same so existing self-monitoring rules and
//! dashboards keep working.

use std::fmt::Write;

/// Accumulates metric families as exposition text.
#[derive(Default)]
pub struct MetricsText {
    out: String,
}

impl MetricsText {
    pub fn new() -> Self {
        Self::default()
    }

    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    pub fn gauge(&mut self, name: &str, help: &str, v: f64) -> &mut Self {
        self.header(name, "gauge", help);
        let _ = writeln!(self.out, "{name} {}", bongsu_model::fmt_float(v));
        self
    }

    pub fn counter(&mut self, name: &str, help: &str, v: f64) -> &mut Self {
        self.header(name, "counter", help);
        let _ = writeln!(self.out, "{name} {}", bongsu_model::fmt_float(v));
        self
    }

    /// A family with labelled samples: `samples` are (label pairs, value).
    pub fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(Vec<(&str, String)>, f64)]) -> &mut Self {
        self.header(name, kind, help);
        for (labels, v) in samples {
            let ls: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", bongsu_model::labels::quote_go(v))).collect();
            let _ = writeln!(self.out, "{name}{{{}}} {}", ls.join(","), bongsu_model::fmt_float(*v));
        }
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// `process_*` metrics from /proc/self, as client_golang's process collector.
pub fn process_metrics(m: &mut MetricsText, start_time_secs: f64) {
    let ticks = 100.0; // USER_HZ on Linux
    let page = 4096.0;
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // after ')': state is f[0]; utime = field 14 → f[11], stime f[12], vsize f[20], rss f[21]
            let num = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
            m.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", (num(11) + num(12)) / ticks);
            m.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", num(20));
            m.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", num(21) * page);
        }
    }
    if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
        m.gauge("process_open_fds", "Number of open file descriptors.", rd.count() as f64);
    }
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
        if let Some(line) = limits.lines().find(|l| l.starts_with("Max open files")) {
            if let Some(v) = line.split_whitespace().nth(3).and_then(|s| s.parse::<f64>().ok()) {
                m.gauge("process_max_fds", "Maximum number of open file descriptors.", v);
            }
        }
    }
    m.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", start_time_secs);
}

/// The scrape manager's counters and gauges (`prometheus_target_*`,
/// `prometheus_sd_*`), grouped into families.
pub fn scrape_metrics(m: &mut MetricsText, scrape: &bongsu_scrape::manager::ScrapeManager) {
    let stats = scrape.stats();
    let mut order: Vec<&'static str> = Vec::new();
    for s in &stats {
        if !order.contains(&s.name) {
            order.push(s.name);
        }
    }
    for name in order {
        let fam: Vec<&bongsu_scrape::manager::StatSample> = stats.iter().filter(|s| s.name == name).collect();
        let (kind, help) = (fam[0].kind, fam[0].help);
        let samples: Vec<(Vec<(&str, String)>, f64)> =
            fam.iter().map(|s| (s.labels.iter().map(|(k, v)| (k.as_str(), v.clone())).collect(), s.value)).collect();
        m.family(name, kind, help, &samples);
    }
}
