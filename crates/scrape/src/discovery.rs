//! Service discovery: `static_configs` and `file_sd_configs`.
//!
//! A discovery run yields [`TargetGroup`]s. File discovery re-reads its
//! files when `notify` reports a change and every `refresh_interval`; a file
//! that fails to read or parse keeps the groups it produced last time, and
//! the error is logged and counted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bongsu_model::{Labels, LabelsBuilder};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::config::{FileSdConfig, ScrapeConfig, StaticConfig};

/// `__address__`.
pub const ADDRESS_LABEL: &str = "__address__";
/// The file a file_sd target came from.
pub const META_FILEPATH: &str = "__meta_filepath";

/// A set of targets sharing labels, from one source.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TargetGroup {
    /// Identifies the group within its provider (`file.json:0`, `static:1`).
    pub source: String,
    /// One label set per target; each has `__address__`.
    pub targets: Vec<Labels>,
    /// Labels common to all targets of the group.
    pub labels: Labels,
}

impl TargetGroup {
    fn from_static(source: String, sc: &StaticConfig, extra: &[(&str, &str)]) -> Self {
        let mut lb = LabelsBuilder::new();
        for (k, v) in &sc.labels {
            lb.set(k.clone(), v.clone());
        }
        for (k, v) in extra {
            lb.set(*k, *v);
        }
        TargetGroup {
            source,
            targets: sc
                .targets
                .iter()
                .map(|t| Labels::from_pairs([(ADDRESS_LABEL, t.as_str())]))
                .collect(),
            labels: lb.into_labels(),
        }
    }
}

/// Counters of file discovery, as Prometheus names them.
#[derive(Debug, Default)]
pub struct DiscoveryStats {
    /// `prometheus_sd_file_read_errors_total`
    pub file_read_errors: AtomicU64,
    /// `prometheus_sd_file_scan_duration_seconds_count`
    pub file_scans: AtomicU64,
    /// `prometheus_sd_http_failures_total`
    pub http_failures: AtomicU64,
    /// `prometheus_sd_dns_lookup_failures_total`
    pub dns_failures: AtomicU64,
}

/// The groups of a job's static configs.
pub fn static_groups(static_configs: &[StaticConfig]) -> Vec<TargetGroup> {
    static_configs
        .iter()
        .enumerate()
        .map(|(i, sc)| TargetGroup::from_static(i.to_string(), sc, &[]))
        .collect()
}

/// The file format of a target group file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Parses one file_sd file (JSON by `.json` extension, YAML otherwise).
pub fn parse_sd_file(path: &Path, text: &str) -> Result<Vec<TargetGroup>, String> {
    let is_json = path.extension().map(|e| e == "json").unwrap_or(false);
    let groups: Vec<FileGroup> = if is_json {
        serde_json::from_str(text).map_err(|e| format!("{}: {e}", path.display()))?
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_saphyr::from_str::<Option<Vec<FileGroup>>>(text)
            .map_err(|e| {
                let pos = e
                    .location()
                    .map(|l| format!(":{}:{}", l.line(), l.column()))
                    .unwrap_or_default();
                let msg = e.without_snippet().to_string();
                format!(
                    "{}{pos}: {}",
                    path.display(),
                    msg.lines().next().unwrap_or("")
                )
            })?
            .unwrap_or_default()
    };
    let p = path.display().to_string();
    let mut out = Vec::with_capacity(groups.len());
    for (i, g) in groups.into_iter().enumerate() {
        for t in &g.targets {
            if t.contains('/') {
                return Err(format!(
                    "{p}: group {i}: {t:?} is not a valid target address (host:port)"
                ));
            }
        }
        for k in g.labels.keys() {
            if k.is_empty() {
                return Err(format!("{p}: group {i}: empty label name"));
            }
        }
        let sc = StaticConfig {
            targets: g.targets,
            labels: g.labels,
        };
        out.push(TargetGroup::from_static(
            format!("{p}:{i}"),
            &sc,
            &[(META_FILEPATH, &p)],
        ));
    }
    Ok(out)
}

/// Matches a shell glob (`*`, `?`) against a file name.
fn glob_match(pat: &str, name: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The files a pattern names now (a glob in the last path element).
pub fn expand_pattern(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let Some(file) = path.file_name().map(|f| f.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    if !file.contains(['*', '?']) {
        return if path.exists() {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| glob_match(&file, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// File discovery state: the last good groups of each file.
pub struct FileDiscovery {
    patterns: Vec<String>,
    last: HashMap<PathBuf, Vec<TargetGroup>>,
    stats: Arc<DiscoveryStats>,
}

impl FileDiscovery {
    pub fn new(cfg: &FileSdConfig, stats: Arc<DiscoveryStats>) -> Self {
        FileDiscovery {
            patterns: cfg.files.clone(),
            last: HashMap::new(),
            stats,
        }
    }

    /// Re-reads all files. A file that fails keeps its previous groups; a
    /// file that disappeared loses them.
    pub fn refresh(&mut self) -> Vec<TargetGroup> {
        self.stats.file_scans.fetch_add(1, Ordering::Relaxed);
        let mut now: HashMap<PathBuf, Vec<TargetGroup>> = HashMap::new();
        for pat in &self.patterns {
            for f in expand_pattern(pat) {
                let res = std::fs::read_to_string(&f)
                    .map_err(|e| format!("{}: {e}", f.display()))
                    .and_then(|t| parse_sd_file(&f, &t));
                match res {
                    Ok(groups) => {
                        now.insert(f, groups);
                    }
                    Err(e) => {
                        self.stats.file_read_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(file = %f.display(), err = %e, "Error reading file, keeping its previous targets");
                        let prev = self.last.get(&f).cloned().unwrap_or_default();
                        now.insert(f, prev);
                    }
                }
            }
        }
        self.last = now;
        let mut files: Vec<_> = self.last.keys().cloned().collect();
        files.sort();
        files.iter().flat_map(|f| self.last[f].clone()).collect()
    }

    /// The directories to watch.
    fn watch_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .patterns
            .iter()
            .map(|p| {
                Path::new(p)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf()
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }
}

/// Runs discovery for a job until `tx` has no receivers, publishing the full
/// list of groups on every change. Static groups are published once.
pub async fn run_job_discovery(
    cfg: Arc<ScrapeConfig>,
    tx: watch::Sender<Vec<TargetGroup>>,
    stats: Arc<DiscoveryStats>,
) {
    let statics = static_groups(&cfg.static_configs);
    let http_cfgs = cfg.http_sd().unwrap_or_else(|e| {
        tracing::error!(scrape_pool = %cfg.job_name, err = %e, "invalid http_sd_configs");
        Vec::new()
    });
    let dns_cfgs = cfg.dns_sd().unwrap_or_else(|e| {
        tracing::error!(scrape_pool = %cfg.job_name, err = %e, "invalid dns_sd_configs");
        Vec::new()
    });
    if cfg.file_sd_configs.is_empty() && http_cfgs.is_empty() && dns_cfgs.is_empty() {
        let _ = tx.send(statics);
        tx.closed().await;
        return;
    }
    // HTTP providers run on their own intervals and publish into slots.
    let (ev_tx, mut ev_rx) = mpsc::channel::<()>(16);
    let http_slots: Vec<Arc<parking_lot::Mutex<Vec<TargetGroup>>>> =
        http_cfgs.iter().map(|_| Arc::default()).collect();
    let dns_slots: Vec<Arc<parking_lot::Mutex<Vec<TargetGroup>>>> =
        dns_cfgs.iter().map(|_| Arc::default()).collect();
    struct AbortAll(Vec<tokio::task::JoinHandle<()>>);
    impl Drop for AbortAll {
        fn drop(&mut self) {
            for h in &self.0 {
                h.abort();
            }
        }
    }
    let _http_tasks = AbortAll(
        http_cfgs
            .into_iter()
            .zip(http_slots.iter().cloned())
            .map(|(h, slot)| tokio::spawn(run_http_sd(h, slot, ev_tx.clone(), stats.clone())))
            .chain(
                dns_cfgs
                    .into_iter()
                    .zip(dns_slots.iter().cloned())
                    .map(|(d, slot)| {
                        tokio::spawn(run_dns_sd(d, slot, ev_tx.clone(), stats.clone()))
                    }),
            )
            .collect(),
    );
    let mut providers: Vec<FileDiscovery> = cfg
        .file_sd_configs
        .iter()
        .map(|f| FileDiscovery::new(f, stats.clone()))
        .collect();
    // Keep the watcher alive for the lifetime of this task.
    let _watcher = {
        use notify::Watcher;
        let ev_tx = ev_tx.clone();
        match notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if res.is_ok() {
                let _ = ev_tx.try_send(());
            }
        }) {
            Ok(mut w) => {
                for p in &providers {
                    for d in p.watch_dirs() {
                        if let Err(e) = w.watch(&d, notify::RecursiveMode::NonRecursive) {
                            tracing::warn!(dir = %d.display(), err = %e, "cannot watch file_sd directory; relying on refresh_interval");
                        }
                    }
                }
                Some(w)
            }
            Err(e) => {
                tracing::warn!(err = %e, "cannot start file watcher; relying on refresh_interval");
                None
            }
        }
    };
    let refresh = cfg
        .file_sd_configs
        .iter()
        .map(|f| f.refresh_interval.as_std())
        .min()
        .unwrap_or(std::time::Duration::from_secs(300))
        .max(std::time::Duration::from_millis(100));
    let mut tick = tokio::time::interval(refresh);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sent: Option<Vec<TargetGroup>> = None;
    loop {
        let mut all = statics.clone();
        for p in &mut providers {
            all.extend(p.refresh());
        }
        for slot in http_slots.iter().chain(&dns_slots) {
            all.extend(slot.lock().iter().cloned());
        }
        if last_sent.as_ref() != Some(&all) {
            if tx.send(all.clone()).is_err() {
                return;
            }
            last_sent = Some(all);
        }
        tokio::select! {
            _ = tick.tick() => {}
            Some(()) = ev_rx.recv() => {
                // Let a burst of events (editor writes) settle.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                while ev_rx.try_recv().is_ok() {}
            }
            _ = tx.closed() => return,
        }
    }
}

/// Polls one DNS SD config; a failed lookup keeps the previous groups.
async fn run_dns_sd(
    cfg: crate::dns::DnsSdConfig,
    slot: Arc<parking_lot::Mutex<Vec<TargetGroup>>>,
    changed: mpsc::Sender<()>,
    stats: Arc<DiscoveryStats>,
) {
    let servers = crate::dns::system_nameservers();
    let every = cfg
        .refresh_interval
        .as_std()
        .max(std::time::Duration::from_millis(100));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match crate::dns::lookup_groups(&cfg, &servers).await {
            Ok(groups) => {
                let differs = *slot.lock() != groups;
                if differs {
                    *slot.lock() = groups;
                    let _ = changed.try_send(());
                }
            }
            Err(e) => {
                stats.dns_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(err = %e, "Error refreshing DNS targets");
            }
        }
    }
}

/// Polls one HTTP SD endpoint; a failed poll keeps the previous groups.
async fn run_http_sd(
    cfg: crate::config::HttpSdConfig,
    slot: Arc<parking_lot::Mutex<Vec<TargetGroup>>>,
    changed: mpsc::Sender<()>,
    stats: Arc<DiscoveryStats>,
) {
    let http = cfg.http_client();
    let client = match crate::http::build_client(&http, true) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(url = %cfg.url, err = %e, "http_sd: cannot build client");
            return;
        }
    };
    let tokens = crate::http::OAuth2Tokens::default();
    let every = cfg
        .refresh_interval
        .as_std()
        .max(std::time::Duration::from_millis(100));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match fetch_http_sd(&tokens, &client, &http, &cfg, every).await {
            Ok(groups) => {
                let differs = *slot.lock() != groups;
                if differs {
                    *slot.lock() = groups;
                    let _ = changed.try_send(());
                }
            }
            Err(e) => {
                stats.http_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(url = %cfg.url, err = %e, "Unable to refresh target groups");
            }
        }
    }
}

async fn fetch_http_sd(
    tokens: &crate::http::OAuth2Tokens,
    client: &reqwest::Client,
    http: &crate::config::HttpClientConfig,
    cfg: &crate::config::HttpSdConfig,
    every: std::time::Duration,
) -> Result<Vec<TargetGroup>, String> {
    let req = client
        .get(&cfg.url)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            "X-Prometheus-Refresh-Interval-Seconds",
            every.as_secs().to_string(),
        )
        .timeout(every.max(std::time::Duration::from_secs(1)));
    let mut req = crate::http::apply_auth(req, http)?;
    if let Some(o) = &http.oauth2 {
        req = req.bearer_auth(tokens.token(client, o).await?);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("server returned HTTP status {}", resp.status()));
    }
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let media = ct.split(';').next().unwrap_or("").trim();
    if media != "application/json" {
        return Err(format!("unsupported content type {ct:?}"));
    }
    // Cap the body: target lists are small; 64 MiB is far beyond any real one.
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    if body.len() > 64 << 20 {
        return Err("response too large".into());
    }
    let groups: Vec<FileGroup> = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(groups.len());
    for (i, g) in groups.into_iter().enumerate() {
        let sc = StaticConfig {
            targets: g.targets,
            labels: g.labels,
        };
        out.push(TargetGroup::from_static(
            format!("{}:{i}", cfg.url),
            &sc,
            &[("__meta_url", cfg.url.as_str())],
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob_match("*.json", "a.json"));
        assert!(!glob_match("*.json", "a.yml"));
        assert!(glob_match("t?.y*", "t1.yaml"));
    }

    #[test]
    fn json_and_yaml_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let j = dir.path().join("a.json");
        std::fs::write(
            &j,
            r#"[{"targets": ["h1:9100", "h2:9100"], "labels": {"env": "prod"}}]"#,
        )
        .expect("w");
        let y = dir.path().join("b.yml");
        std::fs::write(&y, "- targets: [h3:9100]\n").expect("w");
        let cfg = FileSdConfig {
            files: vec![
                format!("{}/*.json", dir.path().display()),
                format!("{}/*.yml", dir.path().display()),
            ],
            refresh_interval: crate::config::Duration::from_secs(1),
        };
        let mut d = FileDiscovery::new(&cfg, Arc::default());
        let g = d.refresh();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].targets.len(), 2);
        assert_eq!(g[0].labels.get("env"), Some("prod"));
        assert_eq!(
            g[0].labels.get(META_FILEPATH),
            Some(j.display().to_string().as_str())
        );
        // A broken file keeps its previous groups.
        std::fs::write(&j, "[{").expect("w");
        let g2 = d.refresh();
        assert_eq!(g2, g);
        // An unknown field is an error (strict like Prometheus).
        assert!(parse_sd_file(Path::new("x.yml"), "- targets: [a:1]\n  lables: {}\n").is_err());
        // A removed file drops its groups.
        std::fs::remove_file(&y).expect("rm");
        assert_eq!(d.refresh().len(), 1);
    }
}
