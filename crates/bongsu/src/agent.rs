//! `bongsu agent`: scrape and forward, like `prometheus --enable-feature=agent`.
//! Scraping (with the built-in collectors: `/collect/node`, `/collect/containers`,
//! `/collect/processes`, `/probe`, as in `bongsu run`) writes to
//! the remote write append log under `--storage.agent.path`, and the
//! `remote_write` queues ship it; there is no TSDB, no PromQL, no rules, no
//! alerting and no UI. A log segment is deleted once every remote has sent
//! past it. The HTTP listener serves `/metrics`, `/-/healthy`, `/-/ready`,
//! `/-/reload`, `/api/v1/targets` and the status endpoints; query endpoints
//! answer 503 "unavailable with Bongsu agent", as Prometheus' agent does.

use crate::cli::AgentArgs;
use crate::run::{normalize_listen, unix_secs, wait_for_termination, ScrapeTargets};
use crate::selfmetrics::{process_metrics, MetricsText};
use anyhow::Context;
use bongsu_model::{Labels, Matcher};
use bongsu_promql::{Engine, EngineOptions};
use bongsu_scrape::config::Config;
use bongsu_scrape::manager::ScrapeManager;
use bongsu_web::{AppState, RuntimeView, TsdbAdmin};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const NO_REMOTE: &str = "bongsu agent keeps no queryable storage: it forwards what it scrapes with remote write, \
so its configuration needs at least one `remote_write` entry with a url, e.g.\n\n  remote_write:\n    - url: http://victoria-metrics:8428/api/v1/write\n\n\
Pass it with --config.file (without scrape_configs the agent scrapes this host's collector and itself).";

/// Loads the configuration; adds the default jobs when it has none and
/// refuses one without `remote_write`.
fn load(file: Option<&Path>, listen: &str) -> Result<(Config, String), String> {
    let Some(file) = file else { return Err(format!("no --config.file given.\n{NO_REMOTE}")) };
    let mut cfg = bongsu_scrape::config::load_file(file).map_err(|e| e.to_string())?;
    if cfg.remote_write.is_empty() {
        return Err(format!("{}: no remote_write.\n{NO_REMOTE}", file.display()));
    }
    if !cfg.rule_files.is_empty() {
        tracing::warn!("rule_files are ignored by bongsu agent (no rule evaluation in agent mode)");
    }
    if cfg.scrape_configs.is_empty() {
        let g = &cfg.global;
        let text = crate::defaults::default_config_with(
            listen,
            &format!("{}ms", g.scrape_interval.as_millis()),
            &format!("{}ms", g.scrape_timeout.as_millis()),
        );
        let d = bongsu_scrape::config::load_str(&text, "<agent default jobs>").map_err(|e| e.to_string())?;
        cfg.scrape_configs = d.scrape_configs;
    }
    let yaml = bongsu_scrape::config::to_yaml(&cfg);
    Ok((cfg, yaml))
}

struct AgentRuntime {
    scrape: Arc<ScrapeManager>,
    remote: Arc<bongsu_remote::RemoteStorage>,
    config_yaml: RwLock<String>,
    reload_ok: AtomicBool,
    last_reload: Mutex<f64>,
    flags: BTreeMap<String, String>,
    start_time: SystemTime,
    config_file: String,
}

pub fn agent(args: AgentArgs) -> anyhow::Result<()> {
    crate::logging::init(&args.log_level, args.log_format)?;
    let _ = rustls::crypto::CryptoProvider::install_default(rustls::crypto::ring::default_provider());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("bongsu-agent").build()?;
    rt.block_on(serve(args))
}

async fn serve(args: AgentArgs) -> anyhow::Result<()> {
    let listen = normalize_listen(&args.listen_address);
    let (cfg, yaml) = load(args.config_file.as_deref(), &listen).map_err(|e| anyhow::anyhow!("{e}"))?;
    let collectors = crate::collectors::Collectors::load(&args.collectors)?;
    let web_config = match &args.web_config_file {
        Some(p) => Some(bongsu_web::WebConfig::load(p).map_err(|e| anyhow::anyhow!("--web.config.file: {e}"))?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let remote = bongsu_remote::RemoteStorage::open_agent(&args.agent_path)
        .with_context(|| format!("opening the agent's storage in {}", args.agent_path.display()))?;
    remote.apply(&cfg.remote_write, &cfg.global.external_labels).await.map_err(|e| anyhow::anyhow!("remote_write: {e}"))?;
    let scrape = ScrapeManager::new(remote.appendable());
    scrape.apply_config(&cfg).await.map_err(|e| anyhow::anyhow!("applying configuration: {e}"))?;
    tracing::info!(path = %args.agent_path.display(), remotes = cfg.remote_write.len(), jobs = cfg.scrape_configs.len(), "agent started: scraping and forwarding with remote write");

    let mut flags = BTreeMap::new();
    flags.insert("config.file".to_string(), args.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
    flags.insert("storage.agent.path".to_string(), args.agent_path.display().to_string());
    flags.insert("web.listen-address".to_string(), args.listen_address.clone());
    flags.insert("collector.textfile.directory".to_string(), args.collectors.textfile_directory.clone().unwrap_or_default());
    flags.insert("collector.processes.config".to_string(), args.collectors.processes_config.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
    flags.insert("probe.config.file".to_string(), args.collectors.probe_config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
    flags.insert("agent".to_string(), "true".to_string());
    let runtime = Arc::new(AgentRuntime {
        scrape: scrape.clone(),
        remote: remote.clone(),
        config_yaml: RwLock::new(yaml),
        reload_ok: AtomicBool::new(true),
        last_reload: Mutex::new(unix_secs(SystemTime::now())),
        flags,
        start_time: SystemTime::now(),
        config_file: args.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
    });

    let reload_lock = Arc::new(tokio::sync::Mutex::new(()));
    let do_reload = {
        let file = args.config_file.clone();
        let runtime = runtime.clone();
        let listen = listen.clone();
        let collectors = collectors.clone();
        Arc::new(move || {
            let file = file.clone();
            let runtime = runtime.clone();
            let listen = listen.clone();
            let collectors = collectors.clone();
            let lock = reload_lock.clone();
            Box::pin(async move {
                let _g = lock.lock().await;
                let res = async {
                    let (cfg, yaml) = load(file.as_deref(), &listen)?;
                    bongsu_remote::RemoteStorage::check(&cfg.remote_write, &cfg.global.external_labels).map_err(|e| format!("remote_write: {e}"))?;
                    let probe_modules = collectors.reread_probes()?;
                    runtime.remote.apply(&cfg.remote_write, &cfg.global.external_labels).await.map_err(|e| format!("remote_write: {e}"))?;
                    runtime.scrape.apply_config(&cfg).await.map_err(|e| e.to_string())?;
                    collectors.install_probes(probe_modules);
                    *runtime.config_yaml.write() = yaml;
                    Ok::<(), String>(())
                }
                .await;
                runtime.reload_ok.store(res.is_ok(), Ordering::SeqCst);
                match &res {
                    Ok(()) => {
                        *runtime.last_reload.lock() = unix_secs(SystemTime::now());
                        tracing::info!("configuration reloaded");
                    }
                    Err(e) => tracing::error!(error = %e, "reloading configuration failed; the previous configuration keeps running"),
                }
                res
            }) as futures::future::BoxFuture<'static, Result<(), String>>
        })
    };

    let ready = Arc::new(AtomicBool::new(false));
    let state = AppState {
        queryable: Arc::new(bongsu_promql::memstore::MemStore::new()),
        engine: Arc::new(Engine::new(EngineOptions::default())),
        targets: Arc::new(ScrapeTargets(scrape.clone())),
        tsdb: runtime.clone(),
        runtime: runtime.clone(),
        enable_admin_api: false,
        enable_lifecycle: true,
        ready: ready.clone(),
        reload: {
            let r = do_reload.clone();
            Arc::new(move || r())
        },
        external_labels: Arc::new(Labels::empty),
        remote_write: None,
    };
    let router = bongsu_web::router(state)
        .merge(collectors.router())
        .layer(axum::middleware::from_fn(agent_only));

    let hup_reload = do_reload.clone();
    let hup = tokio::spawn(async move {
        let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while s.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading configuration");
            let _ = hup_reload().await;
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    ready.store(true, Ordering::SeqCst);
    tracing::info!(address = %listen, "Bongsu agent is ready to receive web requests");
    let server = tokio::spawn(bongsu_web::serve(listener, router, web_config, async move {
        let _ = stop_rx.await;
    }));
    wait_for_termination().await;
    tracing::info!("shutting down: stopping scrapes, flushing the remote write queues");
    ready.store(false, Ordering::SeqCst);
    let _ = stop_tx.send(());
    hup.abort();
    scrape.stop().await;
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    remote.stop(Duration::from_secs(5)).await;
    tracing::info!("bye");
    Ok(())
}

/// Paths an agent serves; everything else under the API is "unavailable".
async fn agent_only(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let p = req.uri().path();
    let served = matches!(p, "/" | "/metrics" | "/-/healthy" | "/-/ready" | "/-/reload" | "/-/quit")
        || crate::collectors::is_collector_path(p)
        || p == "/api/v1/targets"
        || p == "/api/v1/targets/metadata"
        || p == "/api/v1/scrape_pools"
        || p.starts_with("/api/v1/status/");
    if served {
        return next.run(req).await;
    }
    let body = r#"{"status":"error","errorType":"unavailable","error":"unavailable with Bongsu agent"}"#;
    (axum::http::StatusCode::SERVICE_UNAVAILABLE, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

impl TsdbAdmin for AgentRuntime {
    fn status(&self, _limit: usize) -> serde_json::Value {
        serde_json::json!({"headStats": {"numSeries": self.remote.log().stats.series.load(Ordering::Relaxed), "numLabelPairs": 0, "chunkCount": 0, "minTime": 0, "maxTime": 0},
            "seriesCountByMetricName": [], "labelValueCountByLabelName": [], "memoryInBytesByLabelName": [], "seriesCountByLabelValuePair": []})
    }
    fn snapshot(&self, _skip_head: bool) -> Result<String, String> {
        Err("unavailable with Bongsu agent".into())
    }
    fn delete_series(&self, _m: &[Matcher], _s: i64, _e: i64) -> Result<(), String> {
        Err("unavailable with Bongsu agent".into())
    }
    fn clean_tombstones(&self) -> Result<(), String> {
        Err("unavailable with Bongsu agent".into())
    }
}

impl RuntimeView for AgentRuntime {
    fn config_yaml(&self) -> String {
        self.config_yaml.read().clone()
    }
    fn flags(&self) -> BTreeMap<String, String> {
        self.flags.clone()
    }
    fn runtime_info(&self) -> serde_json::Value {
        serde_json::json!({
            "startTime": humantime::format_rfc3339_millis(self.start_time).to_string(),
            "CWD": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
            "reloadConfigSuccess": self.reload_ok.load(Ordering::SeqCst),
            "lastConfigTime": humantime::format_rfc3339_millis(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(*self.last_reload.lock())).to_string(),
            "corruptionCount": 0,
            "goroutineCount": 0,
            "GOMAXPROCS": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "GOMEMLIMIT": i64::MAX,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": "",
            "configFile": self.config_file,
        })
    }
    fn build_info(&self) -> serde_json::Value {
        serde_json::json!({"version": crate::cli::VERSION, "revision": option_env!("BONGSU_REVISION").unwrap_or("unknown"), "branch": "main", "buildUser": "bongsu", "buildDate": "", "goVersion": "rust"})
    }
    fn metrics_text(&self) -> String {
        let mut m = MetricsText::new();
        m.family(
            "prometheus_build_info",
            "gauge",
            "A metric with a constant '1' value labeled by version, revision, branch, goversion from which prometheus was built, and the goos and goarch for the build.",
            &[(vec![("version", crate::cli::VERSION.to_string()), ("goversion", "rust".into()), ("goos", std::env::consts::OS.into()), ("goarch", std::env::consts::ARCH.into())], 1.0)],
        );
        m.gauge("prometheus_agent_mode", "Whether the server runs in agent mode (1) or not.", 1.0);
        m.gauge("prometheus_config_last_reload_successful", "Whether the last configuration reload attempt was successful.", if self.reload_ok.load(Ordering::SeqCst) { 1.0 } else { 0.0 });
        m.gauge("prometheus_config_last_reload_success_timestamp_seconds", "Timestamp of the last successful configuration reload.", *self.last_reload.lock());
        m.gauge("prometheus_agent_active_series", "Number of active series being tracked by the WAL storage", self.remote.log().stats.series.load(Ordering::Relaxed) as f64);
        crate::selfmetrics::scrape_metrics(&mut m, &self.scrape);
        crate::selfmetrics::remote_metrics(&mut m, &self.remote, None);
        process_metrics(&mut m, unix_secs(self.start_time));
        m.finish()
    }
}
