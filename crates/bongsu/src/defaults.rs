//! The embedded default configuration used when `--config.file` is not given:
//! Bongsu scrapes itself and its built-in host collector (node_exporter's
//! metric names, served at `/collect/node`) and cgroup collector (cAdvisor's
//! names, `/collect/containers`), so a newcomer sees their machine within one
//! scrape interval.

/// Scrape interval of the embedded default.
pub const DEFAULT_INTERVAL: &str = "15s";

/// The address Bongsu scrapes itself on, derived from `--web.listen-address`
/// (a wildcard listen address becomes loopback).
pub fn self_target(listen: &str) -> String {
    let (host, port) = match listen.rsplit_once(':') {
        Some((h, p)) => (h, p),
        None => ("", listen),
    };
    let host = match host {
        "" | "0.0.0.0" => "127.0.0.1",
        "[::]" | "::" => "[::1]",
        h => h,
    };
    format!("{host}:{port}")
}

/// The default `prometheus.yml` text for a given listen address.
pub fn default_config_yaml(listen: &str) -> String {
    default_config_with(listen, DEFAULT_INTERVAL, "10s")
}

/// The default jobs (Bongsu itself and its host collector) with the given
/// global scrape interval and timeout: `bongsu agent` adds them to a
/// configuration that has a `remote_write` but no `scrape_configs`.
pub fn default_config_with(listen: &str, interval: &str, timeout: &str) -> String {
    let target = self_target(listen);
    let host = host_name();
    format!(
        r#"# Bongsu's embedded default configuration (no --config.file given).
# Copy it to a file, edit it, and start with --config.file=that-file.
global:
  scrape_interval: {interval}
  scrape_timeout: {timeout}
  evaluation_interval: {interval}
scrape_configs:
  # Bongsu's own metrics (prometheus_tsdb_*, prometheus_target_*, process_*).
  - job_name: bongsu
    static_configs:
      - targets: ['{target}']
  # The built-in host collector: node_exporter's names and labels.
  - job_name: node
    metrics_path: /collect/node
    static_configs:
      - targets: ['{target}']
    relabel_configs:
      - target_label: instance
        replacement: '{host}'
  # The built-in cgroup collector: cAdvisor's container_* names, one
  # "container" per control group (Docker containers, systemd services).
  - job_name: cadvisor
    metrics_path: /collect/containers
    static_configs:
      - targets: ['{target}']
    relabel_configs:
      - target_label: instance
        replacement: '{host}'
"#
    )
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty() && !s.contains('\''))
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_becomes_loopback() {
        assert_eq!(self_target("0.0.0.0:9090"), "127.0.0.1:9090");
        assert_eq!(self_target(":9090"), "127.0.0.1:9090");
        assert_eq!(self_target("127.0.0.1:19091"), "127.0.0.1:19091");
    }

    #[test]
    fn default_config_parses() {
        let text = default_config_yaml("0.0.0.0:9090");
        let cfg = bongsu_scrape::config::load_str(&text, "<default>").expect("default config must parse");
        assert_eq!(cfg.scrape_configs.len(), 3);
    }
}
