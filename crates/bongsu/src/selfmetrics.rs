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

/// Remote write: the sender's queues (`prometheus_remote_storage_*`, with
/// Prometheus' `remote_name` and `url` labels), its append log, and the
/// receiver's counters.
pub fn remote_metrics(
    m: &mut MetricsText,
    remote: &bongsu_remote::RemoteStorage,
    receiver: Option<&bongsu_remote::receiver::ReceiverStats>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let views = remote.views();
    let log = remote.log();
    m.gauge("prometheus_remote_storage_highest_timestamp_in_seconds", "Highest timestamp that has come into the remote storage via the Appender interface, in seconds since epoch.", (log.stats.highest_timestamp_ms.load(Relaxed).max(0) / 1000) as f64);
    m.counter("prometheus_remote_storage_samples_in_total", "Samples in to remote storage, compare to samples out for queue managers.", log.stats.samples_in.load(Relaxed) as f64);
    m.gauge("bongsu_remote_log_size_bytes", "Bytes of the remote write append log on disk.", log.size_bytes() as f64);
    m.gauge("bongsu_remote_log_series", "Series the remote write append log knows.", log.stats.series.load(Relaxed) as f64);
    m.counter("bongsu_remote_log_segments_deleted_total", "Append log segments deleted after every queue sent them.", log.stats.segments_deleted.load(Relaxed) as f64);
    m.counter("bongsu_remote_log_write_errors_total", "Failed writes to the remote write append log (the commit failed).", log.stats.write_errors.load(Relaxed) as f64);
    let fam = |m: &mut MetricsText, name: &str, kind: &str, help: &str, f: &dyn Fn(&bongsu_remote::QueueView) -> f64| {
        let samples: Vec<(Vec<(&str, String)>, f64)> =
            views.iter().map(|v| (vec![("remote_name", v.settings.name.clone()), ("url", v.settings.url.clone())], f(v))).collect();
        m.family(name, kind, help, &samples);
    };
    fam(m, "prometheus_remote_storage_samples_total", "counter", "Total number of samples sent to remote storage.", &|v| v.stats.samples_total.load(Relaxed) as f64);
    fam(m, "prometheus_remote_storage_samples_failed_total", "counter", "Total number of samples which failed on send to remote storage, non-recoverable errors.", &|v| v.stats.samples_failed.load(Relaxed) as f64);
    fam(m, "prometheus_remote_storage_samples_retried_total", "counter", "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.", &|v| v.stats.samples_retried.load(Relaxed) as f64);
    fam(m, "prometheus_remote_storage_samples_dropped_total", "counter", "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling or unintentionally because of an unknown reference ID.", &|v| v.stats.samples_dropped.load(Relaxed) as f64);
    fam(m, "prometheus_remote_storage_samples_pending", "gauge", "The number of samples pending in the queues shards to be sent to the remote storage.", &|v| v.stats.pending.load(Relaxed).max(0) as f64);
    fam(m, "prometheus_remote_storage_bytes_total", "counter", "The total number of bytes of data (not metadata) sent by the queue after compression.", &|v| v.stats.bytes_total.load(Relaxed) as f64);
    fam(m, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds", "gauge", "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.", &|v| (v.stats.highest_sent_ms.load(Relaxed).max(0) / 1000) as f64);
    fam(m, "prometheus_remote_storage_shards", "gauge", "The number of shards used for parallel sending to the remote storage.", &|v| v.stats.shards.load(Relaxed) as f64);
    fam(m, "prometheus_remote_storage_shards_min", "gauge", "The minimum number of shards that the queue is allowed to run.", &|v| v.settings.min_shards as f64);
    fam(m, "prometheus_remote_storage_shards_max", "gauge", "The maximum number of shards that the queue is allowed to run.", &|v| v.settings.max_shards as f64);
    fam(m, "prometheus_remote_storage_shards_desired", "gauge", "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.", &|v| v.stats.shards_desired.load(Relaxed) as f64);
    fam(m, "prometheus_remote_storage_shard_capacity", "gauge", "The capacity of each shard of the queue used for parallel sending to the remote storage.", &|v| v.settings.capacity as f64);
    fam(m, "prometheus_remote_storage_max_samples_per_send", "gauge", "The maximum number of samples to be sent, in a single request, to the remote storage.", &|v| v.settings.max_samples_per_send as f64);
    fam(m, "bongsu_remote_storage_batches_sent_total", "counter", "Batches the remote answered with success.", &|v| v.stats.batches_sent.load(Relaxed) as f64);
    if let Some(r) = receiver {
        m.family("bongsu_remote_write_requests_total", "counter", "Remote write requests received, by answer.", &[
            (vec![("code", "204".to_string())], r.requests_ok.load(Relaxed) as f64),
            (vec![("code", "400".to_string())], r.requests_bad.load(Relaxed) as f64),
            (vec![("code", "500".to_string())], r.requests_failed.load(Relaxed) as f64),
        ]);
        m.counter("bongsu_remote_write_samples_written_total", "Samples committed from remote write requests.", r.samples_written.load(Relaxed) as f64);
        m.counter("bongsu_remote_write_samples_refused_total", "Remote write requests refused for an out-of-order, duplicate or out-of-bounds sample (the whole request is refused).", r.samples_refused.load(Relaxed) as f64);
        m.counter("bongsu_remote_write_invalid_label_requests_total", "Remote write requests refused for invalid labels.", r.invalid_label_requests.load(Relaxed) as f64);
        m.counter("bongsu_remote_write_histograms_ignored_total", "Native histogram samples received and not stored (Bongsu stores float samples).", r.histograms_ignored.load(Relaxed) as f64);
        m.counter("bongsu_remote_write_exemplars_ignored_total", "Exemplars received and not stored.", r.exemplars_ignored.load(Relaxed) as f64);
    }
}
