//! The built-in collectors' HTTP endpoints, shared by `bongsu run` and
//! `bongsu agent`: `/collect/node` (node_exporter's names, with its
//! `collect[]`/`exclude[]` filter), `/collect/containers` (cAdvisor's),
//! `/collect/processes` (process-exporter's, with a config file) and
//! `/probe` (blackbox_exporter's). Each is scraped like any target.

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::cli::CollectorArgs;

/// The collectors' state: options, the stateful process tracker, and the
/// probe modules (swapped on reload).
#[derive(Clone)]
pub struct Collectors {
    node: Arc<bongsu_collect::NodeOptions>,
    processes: Option<Arc<Mutex<bongsu_collect::ProcessCollector>>>,
    probes: Arc<RwLock<Arc<bongsu_probe::ProbeConfig>>>,
    probe_timeout_offset: f64,
    probe_file: Option<std::path::PathBuf>,
}

/// The probe modules: `--probe.config.file`, or blackbox_exporter's defaults.
pub fn load_probe_config(file: Option<&std::path::Path>) -> Result<bongsu_probe::ProbeConfig, String> {
    match file {
        Some(p) => bongsu_probe::ProbeConfig::load_file(p).map_err(|e| e.to_string()),
        None => Ok(bongsu_probe::ProbeConfig::embedded()),
    }
}

impl Collectors {
    /// Reads the collectors' files; an error names the flag and the position.
    pub fn load(a: &CollectorArgs) -> anyhow::Result<Collectors> {
        let probes = load_probe_config(a.probe_config_file.as_deref()).map_err(|e| anyhow::anyhow!("--probe.config.file: {e}"))?;
        let processes = match &a.processes_config {
            Some(p) => {
                let cfg = bongsu_collect::ProcessConfig::load(p).map_err(|e| anyhow::anyhow!("--collector.processes.config: {e}"))?;
                tracing::info!(file = %p.display(), entries = cfg.len(), "process collector serving /collect/processes");
                Some(Arc::new(Mutex::new(bongsu_collect::ProcessCollector::new(cfg))))
            }
            None => None,
        };
        Ok(Collectors {
            node: Arc::new(bongsu_collect::NodeOptions { textfile_dir: a.textfile_directory.clone(), ..Default::default() }),
            processes,
            probes: Arc::new(RwLock::new(Arc::new(probes))),
            probe_timeout_offset: a.probe_timeout_offset,
            probe_file: a.probe_config_file.clone(),
        })
    }

    /// Reads the probe module file again (for a reload); the running modules
    /// stay when it is bad. Returns the new modules to install with
    /// [`Collectors::install_probes`] once the whole reload succeeded.
    pub fn reread_probes(&self) -> Result<bongsu_probe::ProbeConfig, String> {
        load_probe_config(self.probe_file.as_deref()).map_err(|e| format!("loading the probe modules: {e}"))
    }

    pub fn install_probes(&self, modules: bongsu_probe::ProbeConfig) {
        *self.probes.write() = Arc::new(modules);
    }

    /// The four endpoints.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        use axum::http::{header::CONTENT_TYPE, StatusCode};
        const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
        let node = self.node.clone();
        let processes = self.processes.clone();
        let probes = self.probes.clone();
        let offset = self.probe_timeout_offset;
        axum::Router::new()
            .route(
                "/collect/node",
                // node_exporter's collector filter: ?collect[]=cpu&collect[]=meminfo
                // or ?exclude[]=filesystem (the scrape job's `params:`).
                axum::routing::get(move |q: axum::extract::Query<Vec<(String, String)>>| async move {
                    let pick = |k: &str| q.0.iter().filter(|(n, _)| n == k).map(|(_, v)| v.clone()).collect::<Vec<_>>();
                    let only = match bongsu_collect::node_collector_filter(&pick("collect[]"), &pick("exclude[]")) {
                        Ok(only) => only,
                        Err(msg) => return (StatusCode::BAD_REQUEST, [(CONTENT_TYPE, "text/plain; charset=utf-8")], msg + "\n"),
                    };
                    let opts = bongsu_collect::NodeOptions { only, ..(*node).clone() };
                    let body = tokio::task::spawn_blocking(move || bongsu_collect::gather_node_text_with(&opts)).await.unwrap_or_default();
                    (StatusCode::OK, [(CONTENT_TYPE, TEXT)], body)
                }),
            )
            .route(
                "/collect/containers",
                axum::routing::get(|| async {
                    let body = tokio::task::spawn_blocking(bongsu_collect::gather_container_text).await.unwrap_or_default();
                    ([(CONTENT_TYPE, TEXT)], body)
                }),
            )
            .route(
                "/collect/processes",
                axum::routing::get(move || async move {
                    let Some(p) = processes else {
                        let msg = "the process collector is off: start bongsu with --collector.processes.config=FILE (a process-exporter config file)\n";
                        return (StatusCode::NOT_FOUND, [(CONTENT_TYPE, "text/plain; charset=utf-8")], msg.to_string());
                    };
                    let body = tokio::task::spawn_blocking(move || p.lock().gather()).await.unwrap_or_default();
                    (StatusCode::OK, [(CONTENT_TYPE, TEXT)], body)
                }),
            )
            .route(
                "/probe",
                // blackbox_exporter's /probe?target=…&module=…[&debug=true]
                axum::routing::any(move |q: axum::extract::RawQuery, headers: axum::http::HeaderMap| {
                    let cfg = probes.read().clone();
                    async move {
                        let mut req = bongsu_probe::ProbeRequest::from_query(q.0.as_deref().unwrap_or(""));
                        req.timeout_offset = offset;
                        req.scrape_timeout = headers.get("X-Prometheus-Scrape-Timeout-Seconds").and_then(|v| v.to_str().ok()).map(str::to_string);
                        let r = bongsu_probe::probe(&cfg, &req).await;
                        let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                        (status, [(CONTENT_TYPE, r.content_type)], r.body)
                    }
                }),
            )
    }
}

/// The paths [`Collectors::router`] serves (the agent's allow-list).
pub fn is_collector_path(p: &str) -> bool {
    matches!(p, "/collect/node" | "/collect/containers" | "/collect/processes" | "/probe")
}
