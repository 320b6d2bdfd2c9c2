//! `bongsu run`: open storage, apply the configuration, scrape, serve the API;
//! reload on SIGHUP and `POST /-/reload`; shut down cleanly on SIGTERM/SIGINT.

use crate::cli::RunArgs;
use crate::selfmetrics::{process_metrics, MetricsText};
use anyhow::Context;
use bongsu_model::duration::parse_duration;
use bongsu_model::{Labels, Matcher};
use bongsu_promql::{Engine, EngineOptions};
use bongsu_scrape::config::Config;
use bongsu_scrape::manager::ScrapeManager;
use bongsu_tsdb::Db;
use bongsu_web::{ActiveTarget, AppState, DroppedTarget, MetricMetadata, RuntimeView, TargetsView, TsdbAdmin};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Where the running configuration came from.
#[derive(Clone)]
enum ConfigSource {
    File(PathBuf),
    Default(String),
}

impl ConfigSource {
    fn load(&self) -> Result<(Config, String), String> {
        match self {
            ConfigSource::File(p) => {
                let cfg = bongsu_scrape::config::load_file(p).map_err(|e| e.to_string())?;
                let yaml = bongsu_scrape::config::to_yaml(&cfg);
                Ok((cfg, yaml))
            }
            ConfigSource::Default(text) => {
                let cfg = bongsu_scrape::config::load_str(text, "<embedded default>").map_err(|e| e.to_string())?;
                let yaml = bongsu_scrape::config::to_yaml(&cfg);
                Ok((cfg, yaml))
            }
        }
    }
}

/// Reload bookkeeping behind `prometheus_config_last_reload_*`.
struct ReloadState {
    successful: AtomicBool,
    last_success: Mutex<f64>,
    config_yaml: RwLock<String>,
    external_labels: RwLock<Labels>,
}

struct Runtime {
    db: Arc<Db>,
    scrape: Arc<ScrapeManager>,
    reload: Arc<ReloadState>,
    flags: BTreeMap<String, String>,
    start_time: SystemTime,
    storage_path: PathBuf,
    config_file: String,
    engine: Arc<Engine>,
    rules: Arc<bongsu_rules::manager::Manager>,
    am_sender: Arc<crate::amsend::AmSender>,
    alertmanager: Arc<bongsu_alerting::dispatch::Alertmanager>,
    responder: bongsu_respond::Responder,
    remote: Arc<bongsu_remote::RemoteStorage>,
    receiver: Option<Arc<bongsu_remote::receiver::ReceiverStats>>,
}

pub(crate) fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Parses `512MB`, `10GB`, `1TiB`, plain bytes — Prometheus' units are powers of 1024.
fn parse_size(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().with_context(|| format!("invalid size {s:?}"))?;
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "KIB" => 1 << 10,
        "MB" | "MIB" => 1 << 20,
        "GB" | "GIB" => 1 << 30,
        "TB" | "TIB" => 1 << 40,
        "PB" | "PIB" => 1 << 50,
        "EB" | "EIB" => 1 << 60,
        other => anyhow::bail!("invalid size unit {other:?} in {s:?} (use B, KB, MB, GB, TB, PB, EB)"),
    };
    Ok((n * mult as f64) as u64)
}

fn flags_map(a: &RunArgs) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let p = |v: &Option<PathBuf>| v.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    m.insert("config.file".into(), p(&a.config_file));
    m.insert("storage.tsdb.path".into(), a.tsdb_path.display().to_string());
    m.insert("storage.tsdb.retention.time".into(), a.retention_time.clone().unwrap_or_default());
    m.insert("storage.tsdb.retention.size".into(), a.retention_size.clone().unwrap_or_default());
    m.insert("web.listen-address".into(), a.listen_address.clone());
    m.insert("web.config.file".into(), p(&a.web_config_file));
    m.insert("web.enable-admin-api".into(), a.enable_admin_api.to_string());
    m.insert("web.enable-lifecycle".into(), "true".into());
    m.insert("web.enable-remote-write-receiver".into(), a.enable_remote_write_receiver.to_string());
    m.insert("web.external-url".into(), a.external_url.clone().unwrap_or_default());
    m.insert("query.timeout".into(), a.query_timeout.clone());
    m.insert("query.max-samples".into(), a.query_max_samples.to_string());
    m.insert("query.max-concurrency".into(), a.query_max_concurrency.to_string());
    m.insert("query.lookback-delta".into(), a.lookback_delta.clone());
    m.insert("enable-feature".into(), a.enable_feature.join(","));
    m.insert("rules.alert.resend-delay".into(), a.rules_resend_delay.clone());
    m.insert("alertmanager.config.file".into(), p(&a.alertmanager_config_file));
    m.insert("alertmanager.storage.path".into(), p(&a.alertmanager_storage_path));
    m.insert("dashboards.dir".into(), p(&a.dashboards_dir));
    m.insert("rules.alert.for-outage-tolerance".into(), a.rules_outage_tolerance.clone());
    m.insert("rules.alert.for-grace-period".into(), a.rules_grace_period.clone());
    m.insert("probe.config.file".into(), p(&a.collectors.probe_config_file));
    m.insert("probe.timeout-offset".into(), a.collectors.probe_timeout_offset.to_string());
    m.insert("collector.processes.config".into(), p(&a.collectors.processes_config));
    m.insert("collector.textfile.directory".into(), a.collectors.textfile_directory.clone().unwrap_or_default());
    m.insert("log.level".into(), a.log_level.clone());
    m.insert("log.format".into(), format!("{:?}", a.log_format).to_lowercase());
    m
}

/// Prometheus' default `--web.external-url`: `http://<hostname>:<port>`.
fn default_external_url(listen: &str) -> String {
    let port = listen.rsplit(':').next().unwrap_or("9090");
    let host = hostname::get().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into());
    format!("http://{host}:{port}")
}

pub(crate) fn normalize_listen(addr: &str) -> String {
    if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    crate::logging::init(&args.log_level, args.log_format)?;
    let _ = rustls::crypto::CryptoProvider::install_default(rustls::crypto::ring::default_provider());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("bongsu").build()?;
    rt.block_on(serve(args))
}

async fn serve(args: RunArgs) -> anyhow::Result<()> {
    let listen = normalize_listen(&args.listen_address);
    let source = match &args.config_file {
        Some(p) => ConfigSource::File(p.clone()),
        None => ConfigSource::Default(crate::defaults::default_config_yaml(&listen)),
    };
    // A bad initial configuration is fatal, like Prometheus.
    let (cfg, yaml) = source.load().map_err(|e| anyhow::anyhow!("{e}"))?;
    match &source {
        ConfigSource::File(p) => tracing::info!(file = %p.display(), "loaded configuration"),
        ConfigSource::Default(_) => tracing::info!("no --config.file: using the embedded default (this host and Bongsu itself)"),
    }
    // The built-in collectors (host, cgroups, processes, probes).
    let collectors = crate::collectors::Collectors::load(&args.collectors)?;
    let web_config = match &args.web_config_file {
        Some(p) => Some(bongsu_web::WebConfig::load(p).map_err(|e| anyhow::anyhow!("--web.config.file: {e}"))?),
        None => None,
    };

    let retention_time_ms = match &args.retention_time {
        Some(s) => Some(parse_duration(s).with_context(|| format!("--storage.tsdb.retention.time={s}"))?),
        None => None,
    };
    let retention_size_bytes = match &args.retention_size {
        Some(s) => Some(parse_size(s).with_context(|| "--storage.tsdb.retention.size")?),
        None => None,
    };
    let query_timeout = parse_duration(&args.query_timeout).with_context(|| "--query.timeout")?;
    let lookback = parse_duration(&args.lookback_delta).with_context(|| "--query.lookback-delta")?;

    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(path = %args.tsdb_path.display(), "opening storage (replaying the WAL)");
    let started = std::time::Instant::now();
    let db_opts = bongsu_tsdb::Options {
        path: args.tsdb_path.clone(),
        retention_time_ms,
        retention_size_bytes,
        ..Default::default()
    };
    let db = tokio::task::spawn_blocking(move || Db::open(db_opts)).await??;
    tracing::info!(elapsed = ?started.elapsed(), series = db.stats().head_series, "storage ready");

    let engine = Arc::new(Engine::new(EngineOptions {
        lookback_delta: lookback,
        max_samples: args.query_max_samples,
        timeout: Duration::from_millis(query_timeout.max(1) as u64),
        features: args.enable_feature.clone(),
        ..Default::default()
    }));
    // A subquery without a step uses the global evaluation interval (Prometheus' noStepSubqueryIntervalFn).
    let subquery_step = engine.opts.subquery_step.clone();
    subquery_step.store(cfg.global.evaluation_interval.as_millis().max(1), Ordering::Relaxed);
    // Remote write: every commit (scrapes, rules, the receiver) goes through
    // the append log when a remote_write queue exists, then to the TSDB.
    let remote = bongsu_remote::RemoteStorage::open_run(&args.tsdb_path.join("remote"), db.clone())
        .with_context(|| format!("opening the remote write log in {}", args.tsdb_path.join("remote").display()))?;
    let appendable = remote.appendable();
    remote.apply(&cfg.remote_write, &cfg.global.external_labels).await.map_err(|e| anyhow::anyhow!("remote_write: {e}"))?;
    let scrape = ScrapeManager::new(appendable.clone());
    let reload = Arc::new(ReloadState {
        successful: AtomicBool::new(true),
        last_success: Mutex::new(unix_secs(SystemTime::now())),
        config_yaml: RwLock::new(yaml),
        external_labels: RwLock::new(Labels::from_pairs(cfg.global.external_labels.clone())),
    });
    let (rules_cfg, rule_files) = crate::rules::load(&cfg).map_err(|e| anyhow::anyhow!("loading rule files:\n{e}"))?;
    scrape.apply_config(&cfg).await.map_err(|e| anyhow::anyhow!("applying configuration: {e}"))?;
    let (am_cfg, am_cfg_dir) = crate::rules::load_alertmanager_config(args.alertmanager_config_file.as_deref())
        .map_err(|e| anyhow::anyhow!("loading the Alertmanager configuration: {e}"))?;
    let (runbooks, respond_settings) = crate::respond::load(&am_cfg).map_err(|e| anyhow::anyhow!("loading the Alertmanager configuration: {e}"))?;
    let am_dir = args.alertmanager_storage_path.clone().unwrap_or_else(|| args.tsdb_path.join("alertmanager"));
    let am_sender = crate::amsend::AmSender::new();
    am_sender.apply(cfg.alerting.as_ref(), &cfg.global.external_labels).await.map_err(|e| anyhow::anyhow!("alerting: {e}"))?;
    let external_url = args.external_url.clone().unwrap_or_else(|| default_external_url(&listen));
    let store = Arc::new(
        bongsu_store::Store::open(&am_dir.join("state.db")).map_err(|e| anyhow::anyhow!("opening the alerting state {}: {e}", am_dir.display()))?,
    );
    let querier = Arc::new(crate::respond::EngineQuerier { engine: engine.clone(), queryable: db.clone() });
    let nrunbooks = runbooks.by_name.len();
    let responder = bongsu_respond::Responder::new(store.clone(), runbooks, respond_settings, querier, external_url.clone())
        .map_err(|e| anyhow::anyhow!("opening the responder state: {e}"))?;
    let am_loaded = crate::respond::loaded(am_cfg, &am_cfg_dir, &responder).map_err(|e| anyhow::anyhow!("loading the Alertmanager configuration: {e}"))?;
    let dashboard_store = store.clone();
    let alertmanager = bongsu_alerting::dispatch::Alertmanager::new(am_loaded, store, external_url.clone())
        .map_err(|e| anyhow::anyhow!("opening the Alertmanager state: {e}"))?;
    let abandoned = responder
        .start(Arc::new(bongsu_respond::integration::AlertmanagerEscalator(Arc::downgrade(&alertmanager))))
        .map_err(|e| anyhow::anyhow!("recovering the responder's executions: {e}"))?;
    tracing::info!(runbooks = nrunbooks, abandoned, "responder ready");
    let rules = Arc::new(bongsu_rules::manager::Manager::new(bongsu_rules::manager::ManagerOptions {
        engine: engine.clone(),
        queryable: db.clone(),
        appendable: appendable.clone(),
        templater: Arc::new(crate::rules::GoTemplates),
        notifier: Some(Arc::new(crate::amsend::Fanout({
            let mut sinks: Vec<Arc<dyn bongsu_rules::group::Notifier>> =
                vec![Arc::new(crate::rules::InProcess(alertmanager.clone())), am_sender.clone()];
            // Without an alertmanager.yml nothing is delivered: the log shows every alert.
            if args.alertmanager_config_file.is_none() {
                sinks.push(Arc::new(crate::rules::LogNotifier));
            }
            sinks
        }))),
        external_url,
        resend_delay: parse_duration(&args.rules_resend_delay).with_context(|| "--rules.alert.resend-delay")?,
        outage_tolerance: parse_duration(&args.rules_outage_tolerance).with_context(|| "--rules.alert.for-outage-tolerance")?,
        for_grace_period: parse_duration(&args.rules_grace_period).with_context(|| "--rules.alert.for-grace-period")?,
    }));
    rules.update(&rules_cfg, rule_files);
    tracing::info!(files = rules_cfg.files.len(), groups = rules.groups().len(), "rules loaded");

    let runtime = Arc::new(Runtime {
        db: db.clone(),
        scrape: scrape.clone(),
        reload: reload.clone(),
        flags: flags_map(&args),
        start_time: SystemTime::now(),
        storage_path: args.tsdb_path.clone(),
        config_file: args.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        engine: engine.clone(),
        rules: rules.clone(),
        am_sender: am_sender.clone(),
        alertmanager: alertmanager.clone(),
        responder: responder.clone(),
        remote: remote.clone(),
        receiver: args.enable_remote_write_receiver.then(|| Arc::new(bongsu_remote::receiver::ReceiverStats::default())),
    });

    // One reload path for SIGHUP and /-/reload; serialised so two reloads never interleave.
    let reload_lock = Arc::new(tokio::sync::Mutex::new(()));
    let do_reload = {
        let source = source.clone();
        let scrape = scrape.clone();
        let reload = reload.clone();
        let rules = rules.clone();
        let am_sender = am_sender.clone();
        let alertmanager = alertmanager.clone();
        let am_file = args.alertmanager_config_file.clone();
        let responder = responder.clone();
        let subquery_step = subquery_step.clone();
        let remote = remote.clone();
        let collectors = collectors.clone();
        move || {
            let source = source.clone();
            let scrape = scrape.clone();
            let reload = reload.clone();
            let rules = rules.clone();
            let am_sender = am_sender.clone();
            let alertmanager = alertmanager.clone();
            let am_file = am_file.clone();
            let responder = responder.clone();
            let subquery_step = subquery_step.clone();
            let remote = remote.clone();
            let collectors = collectors.clone();
            let lock = reload_lock.clone();
            async move {
                let _g = lock.lock().await;
                let res = async {
                    let (cfg, yaml) = source.load()?;
                    // Everything is checked before anything changes.
                    let (rules_cfg, rule_files) = crate::rules::load(&cfg).map_err(|e| format!("loading rule files: {e}"))?;
                    let (am_cfg, am_dir) = crate::rules::load_alertmanager_config(am_file.as_deref()).map_err(|e| format!("loading the Alertmanager configuration: {e}"))?;
                    let (runbooks, settings) = crate::respond::load(&am_cfg).map_err(|e| format!("loading the Alertmanager configuration: {e}"))?;
                    bongsu_remote::RemoteStorage::check(&cfg.remote_write, &cfg.global.external_labels).map_err(|e| format!("remote_write: {e}"))?;
                    let probe_modules = collectors.reread_probes()?;
                    // Integrations are built against a responder holding the new runbooks;
                    // on any error below the old runbooks are put back.
                    let old_runbooks = responder.runbooks();
                    let old_settings = responder.settings();
                    responder.apply(runbooks, settings);
                    let am_loaded = match crate::respond::loaded(am_cfg, &am_dir, &responder) {
                        Ok(l) => l,
                        Err(e) => {
                            responder.apply((*old_runbooks).clone(), old_settings);
                            return Err(format!("loading the Alertmanager configuration: {e}"));
                        }
                    };
                    remote.apply(&cfg.remote_write, &cfg.global.external_labels).await.map_err(|e| format!("remote_write: {e}"))?;
                    scrape.apply_config(&cfg).await.map_err(|e| e.to_string())?;
                    am_sender.apply(cfg.alerting.as_ref(), &cfg.global.external_labels).await.map_err(|e| format!("alerting: {e}"))?;
                    rules.update(&rules_cfg, rule_files);
                    subquery_step.store(cfg.global.evaluation_interval.as_millis().max(1), Ordering::Relaxed);
                    alertmanager.apply(am_loaded);
                    collectors.install_probes(probe_modules);
                    *reload.config_yaml.write() = yaml;
                    *reload.external_labels.write() = Labels::from_pairs(cfg.global.external_labels.clone());
                    Ok::<(), String>(())
                }
                .await;
                match &res {
                    Ok(()) => {
                        reload.successful.store(true, Ordering::SeqCst);
                        *reload.last_success.lock() = unix_secs(SystemTime::now());
                        tracing::info!("configuration reloaded");
                    }
                    Err(e) => {
                        reload.successful.store(false, Ordering::SeqCst);
                        tracing::error!(error = %e, "reloading configuration failed; the previous configuration keeps running");
                    }
                }
                res
            }
        }
    };
    let do_reload = Arc::new(do_reload);

    bongsu_web::set_query_max_concurrency(args.query_max_concurrency);
    let ready = Arc::new(AtomicBool::new(false));
    let state = AppState {
        queryable: db.clone(),
        engine: engine.clone(),
        targets: Arc::new(ScrapeTargets(scrape.clone())),
        tsdb: runtime.clone(),
        runtime: runtime.clone(),
        enable_admin_api: args.enable_admin_api,
        enable_lifecycle: true,
        ready: ready.clone(),
        reload: {
            let r = do_reload.clone();
            Arc::new(move || {
                let r = r.clone();
                Box::pin(async move { r().await })
            })
        },
        external_labels: {
            let reload = reload.clone();
            Arc::new(move || reload.external_labels.read().clone())
        },
        remote_write: runtime.receiver.clone().map(|stats| bongsu_web::RemoteWriteReceiver { appendable: appendable.clone(), stats }),
    };
    let basic_auth = web_config.as_ref().is_some_and(|w| !w.basic_auth_users.is_empty());
    let router = bongsu_web::router(state)
        .merge(bongsu_web::amapi::router(alertmanager.clone()))
        .merge(bongsu_respond::api::router(responder.clone(), basic_auth))
        .merge(bongsu_web::dashboards::router(bongsu_web::dashboards::Dashboards { dir: args.dashboards_dir.clone(), store: Some(dashboard_store) }))
        .merge(collectors.router());

    // Storage maintenance: head cut, compaction, retention.
    let maint_db = db.clone();
    let maintenance = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            let db = maint_db.clone();
            match tokio::task::spawn_blocking(move || db.maintenance()).await {
                Ok(Err(e)) => tracing::error!(error = %e, "storage maintenance failed"),
                Err(e) => tracing::error!(error = %e, "storage maintenance panicked"),
                Ok(Ok(())) => {}
            }
        }
    });

    // SIGHUP → reload.
    let hup_reload = do_reload.clone();
    let hup = tokio::spawn(async move {
        let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while s.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading configuration");
            let _ = hup_reload().await;
        }
    });

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stop_rx.await;
    };
    ready.store(true, Ordering::SeqCst);
    tracing::info!(address = %listen, "Bongsu is ready to receive web requests");
    let server = tokio::spawn(bongsu_web::serve(listener, router, web_config, shutdown));

    wait_for_termination().await;
    tracing::info!("shutting down: stopping scrapes, flushing the WAL");
    ready.store(false, Ordering::SeqCst);
    let _ = stop_tx.send(());
    hup.abort();
    maintenance.abort();
    rules.stop();
    scrape.stop().await;
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    // Queues get a moment to send what they hold; the rest stays in the log.
    remote.stop(Duration::from_secs(5)).await;
    let db2 = db.clone();
    tokio::task::spawn_blocking(move || db2.close()).await??;
    tracing::info!("bye");
    Ok(())
}

pub(crate) async fn wait_for_termination() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}

impl TsdbAdmin for Runtime {
    fn status(&self, limit: usize) -> serde_json::Value {
        let s = self.db.status(limit);
        let pairs = |v: &Vec<(String, u64)>| v.iter().map(|(n, c)| serde_json::json!({"name": n, "value": c})).collect::<Vec<_>>();
        serde_json::json!({
            "headStats": {
                "numSeries": s.head_stats.num_series,
                "numLabelPairs": s.head_stats.num_label_pairs,
                "chunkCount": s.head_stats.chunk_count,
                "minTime": s.head_stats.min_time,
                "maxTime": s.head_stats.max_time,
            },
            "seriesCountByMetricName": pairs(&s.series_count_by_metric_name),
            "labelValueCountByLabelName": pairs(&s.label_value_count_by_label_name),
            "memoryInBytesByLabelName": pairs(&s.memory_in_bytes_by_label_name),
            "seriesCountByLabelValuePair": pairs(&s.series_count_by_label_value_pair),
        })
    }

    fn snapshot(&self, skip_head: bool) -> Result<String, String> {
        let now = SystemTime::now();
        let secs = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let name = format!("{}-{:016x}", humantime::format_rfc3339_seconds(now).to_string().replace([':', '-'], "").trim_end_matches('Z'), secs ^ 0x5bd1e995);
        let dir = self.storage_path.join("snapshots").join(&name);
        self.db.snapshot(&dir, !skip_head).map_err(|e| e.to_string())?;
        Ok(name)
    }

    fn delete_series(&self, matchers: &[Matcher], start: i64, end: i64) -> Result<(), String> {
        self.db.delete_series(matchers, start, end).map_err(|e| e.to_string())
    }

    fn clean_tombstones(&self) -> Result<(), String> {
        self.db.clean_tombstones().map_err(|e| e.to_string())
    }
}

impl RuntimeView for Runtime {
    fn config_yaml(&self) -> String {
        self.reload.config_yaml.read().clone()
    }

    fn flags(&self) -> BTreeMap<String, String> {
        self.flags.clone()
    }

    fn runtime_info(&self) -> serde_json::Value {
        let st = self.db.stats();
        serde_json::json!({
            "startTime": rfc3339(self.start_time),
            "CWD": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
            "reloadConfigSuccess": self.reload.successful.load(Ordering::SeqCst),
            "lastConfigTime": rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(*self.reload.last_success.lock())),
            "corruptionCount": st.wal_corruptions_total,
            "goroutineCount": 0,
            "GOMAXPROCS": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "GOMEMLIMIT": i64::MAX,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": self.flags.get("storage.tsdb.retention.time").filter(|s| !s.is_empty()).cloned().unwrap_or_else(|| "15d".into()),
            "configFile": self.config_file,
        })
    }

    fn rules(&self, f: &bongsu_web::RulesQuery) -> serde_json::Value {
        self.rules.rules_json(&bongsu_rules::manager::RulesFilter {
            kind: f.kind.clone(),
            rule_names: f.rule_names.clone(),
            group_names: f.group_names.clone(),
            files: f.files.clone(),
            exclude_alerts: f.exclude_alerts,
        })
    }

    fn alerts(&self) -> serde_json::Value {
        self.rules.alerts_json()
    }

    fn alertmanagers(&self) -> serde_json::Value {
        self.am_sender.alertmanagers_json()
    }

    fn build_info(&self) -> serde_json::Value {
        serde_json::json!({
            "version": crate::cli::VERSION,
            "revision": option_env!("BONGSU_REVISION").unwrap_or("unknown"),
            "branch": "main",
            "buildUser": "bongsu",
            "buildDate": "",
            "goVersion": "rust",
        })
    }

    fn metrics_text(&self) -> String {
        let mut m = MetricsText::new();
        let st = self.db.stats();
        m.family(
            "prometheus_build_info",
            "gauge",
            "A metric with a constant '1' value labeled by version, revision, branch, goversion from which prometheus was built, and the goos and goarch for the build.",
            &[(vec![("version", crate::cli::VERSION.to_string()), ("goversion", "rust".into()), ("goos", std::env::consts::OS.into()), ("goarch", std::env::consts::ARCH.into())], 1.0)],
        );
        m.gauge("prometheus_config_last_reload_successful", "Whether the last configuration reload attempt was successful.", if self.reload.successful.load(Ordering::SeqCst) { 1.0 } else { 0.0 });
        m.gauge("prometheus_config_last_reload_success_timestamp_seconds", "Timestamp of the last successful configuration reload.", *self.reload.last_success.lock());
        m.gauge("prometheus_ready", "Whether Prometheus startup was fully completed and the server is ready for normal operation.", 1.0);
        m.gauge("prometheus_tsdb_head_series", "Total number of series in the head block.", st.head_series as f64);
        m.gauge("prometheus_tsdb_head_chunks", "Total number of chunks in the head block.", st.head_chunks as f64);
        m.gauge("prometheus_tsdb_head_min_time", "Minimum time bound of the head block.", if st.head_min_time == i64::MAX { 0.0 } else { st.head_min_time as f64 });
        m.gauge("prometheus_tsdb_head_max_time", "Maximum timestamp of the head block.", if st.head_max_time == i64::MIN { 0.0 } else { st.head_max_time as f64 });
        m.counter("prometheus_tsdb_head_samples_appended_total", "Total number of appended samples.", st.samples_appended_total as f64);
        m.counter("prometheus_tsdb_head_series_created_total", "Total number of series created in the head", st.series_created_total as f64);
        m.counter("prometheus_tsdb_head_series_removed_total", "Total number of series removed in the head", st.series_removed_total as f64);
        m.counter("prometheus_tsdb_out_of_order_samples_total", "Total number of out of order samples ingestion failed attempts due to out of order being disabled.", st.out_of_order_samples_total as f64);
        m.counter("prometheus_tsdb_out_of_bound_samples_total", "Total number of out of bound samples ingestion failed attempts with out of order support disabled.", st.out_of_bounds_samples_total as f64);
        m.counter("prometheus_tsdb_head_truncations_total", "Total number of head truncations attempted.", st.head_truncations_total as f64);
        m.gauge("prometheus_tsdb_wal_storage_size_bytes", "Size of the write log directory.", st.wal_bytes as f64);
        m.counter("prometheus_tsdb_wal_corruptions_total", "Total number of WAL corruptions.", st.wal_corruptions_total as f64);
        m.counter("prometheus_tsdb_wal_truncations_total", "Total number of write log truncations attempted.", st.wal_truncations_total as f64);
        m.counter("prometheus_tsdb_checkpoint_creations_total", "Total number of checkpoint creations attempted.", st.checkpoint_creations_total as f64);
        m.gauge("prometheus_tsdb_blocks_loaded", "Number of currently loaded data blocks", st.blocks_loaded as f64);
        m.gauge("prometheus_tsdb_storage_blocks_bytes", "The number of bytes that are currently used for local storage by all blocks.", st.block_bytes as f64);
        m.counter("prometheus_tsdb_compactions_total", "Total number of compactions that were executed for the partition.", st.compactions_total as f64);
        m.counter("prometheus_tsdb_compactions_failed_total", "Total number of compactions that failed for the partition.", st.compactions_failed_total as f64);
        m.counter("prometheus_tsdb_time_retentions_total", "The number of times that blocks were deleted because the maximum time limit was exceeded.", st.time_retentions_total as f64);
        m.counter("prometheus_tsdb_size_retentions_total", "The number of times that blocks were deleted because the maximum number of bytes was exceeded.", st.size_retentions_total as f64);
        m.gauge("prometheus_tsdb_retention_limit_bytes", "Max number of bytes to be retained in the tsdb blocks, configured 0 means disabled", st.retention_limit_bytes as f64);
        m.gauge("prometheus_tsdb_lowest_timestamp", "Lowest timestamp value stored in the database. The unit is decided by the library consumer.", if st.lowest_timestamp == i64::MAX { 0.0 } else { st.lowest_timestamp as f64 });
        m.gauge("prometheus_tsdb_symbol_table_size_bytes", "Size of symbol table in memory for loaded blocks", st.symbol_table_size_bytes as f64);
        crate::selfmetrics::scrape_metrics(&mut m, &self.scrape);
        let am = &self.alertmanager.counters;
        m.family("alertmanager_alerts_received_total", "counter", "The total number of received alerts.", &[
            (vec![("status", "firing".to_string())], am.alerts_received_firing.load(Ordering::Relaxed) as f64),
            (vec![("status", "resolved".to_string())], am.alerts_received_resolved.load(Ordering::Relaxed) as f64),
        ]);
        m.counter("bongsu_alert_flaps_total", "Alerts that fired again within their route's resolve_hold (flap damping).", am.flaps.load(Ordering::Relaxed) as f64);
        m.counter("alertmanager_alerts_invalid_total", "The total number of received alerts that were invalid.", am.alerts_invalid.load(Ordering::Relaxed) as f64);
        let per_integ = am.notifications.lock().clone();
        let labels = |(i, r): &(String, String)| vec![("integration", i.clone()), ("receiver_name", r.clone())];
        m.family("alertmanager_notifications_total", "counter", "The total number of attempted notifications.", &per_integ.iter().map(|(k, v)| (labels(k), v.0 as f64)).collect::<Vec<_>>());
        m.family("alertmanager_notifications_failed_total", "counter", "The total number of failed notifications.", &per_integ.iter().map(|(k, v)| (labels(k), v.1 as f64)).collect::<Vec<_>>());
        let now = bongsu_model::now_ms();
        let sil = self.alertmanager.silences.list();
        m.family("alertmanager_silences", "gauge", "How many silences by state.", &["active", "pending", "expired"].iter().map(|st| (vec![("state", st.to_string())], sil.iter().filter(|s| s.state(now).as_str() == *st).count() as f64)).collect::<Vec<_>>());
        let ams = &self.am_sender.metrics;
        let per_am = |v: &std::collections::BTreeMap<String, u64>| v.iter().map(|(u, n)| (vec![("alertmanager", u.clone())], *n as f64)).collect::<Vec<_>>();
        m.family("prometheus_notifications_sent_total", "counter", "Total number of alerts sent.", &per_am(&ams.sent.lock()));
        m.family("prometheus_notifications_errors_total", "counter", "Total number of sent alerts affected by errors.", &per_am(&ams.errors.lock()));
        m.counter("prometheus_notifications_dropped_total", "Total number of alerts dropped due to errors when sending to Alertmanager.", ams.dropped.load(Ordering::Relaxed) as f64);
        m.gauge("prometheus_notifications_queue_length", "The number of alert notifications in the queue.", self.am_sender.queue_len() as f64);
        m.gauge("prometheus_notifications_queue_capacity", "The capacity of the alert notifications queue.", 10_000.0);
        m.gauge("prometheus_notifications_alertmanagers_discovered", "The number of alertmanagers discovered and active.", self.am_sender.alertmanagers_json()["activeAlertmanagers"].as_array().map_or(0, |a| a.len()) as f64);
        crate::respond::metrics(&self.responder, &mut m);
        crate::selfmetrics::remote_metrics(&mut m, &self.remote, self.receiver.as_deref());
        m.gauge("prometheus_engine_query_max_samples", "Maximum samples a query may load (--query.max-samples).", self.engine.opts.max_samples as f64);
        process_metrics(&mut m, unix_secs(self.start_time));
        m.finish() + &self.rules.metrics_text()
    }
}

/// The scrape manager as `/api/v1/targets` sees it (shared with `agent`).
pub(crate) struct ScrapeTargets(pub Arc<ScrapeManager>);

impl TargetsView for ScrapeTargets {
    fn active(&self) -> Vec<ActiveTarget> {
        self.0
            .active_targets()
            .into_iter()
            .map(|t| ActiveTarget {
                discovered_labels: t.discovered_labels,
                labels: t.labels,
                scrape_pool: t.scrape_pool,
                scrape_url: t.scrape_url,
                global_url: t.global_url,
                last_error: t.last_error,
                last_scrape: t.last_scrape.map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)),
                last_scrape_duration: t.last_scrape_duration,
                health: t.health.as_str().to_string(),
                scrape_interval: t.scrape_interval,
                scrape_timeout: t.scrape_timeout,
            })
            .collect()
    }

    fn dropped(&self) -> Vec<DroppedTarget> {
        self.0
            .dropped_targets()
            .into_iter()
            .map(|t| DroppedTarget { discovered_labels: t.discovered_labels, scrape_pool: t.scrape_pool })
            .collect()
    }

    fn metadata(&self) -> Vec<MetricMetadata> {
        self.0
            .metadata()
            .into_iter()
            .map(|m| MetricMetadata { target: m.target, metric: m.metric, metric_type: m.kind, help: m.help, unit: m.unit })
            .collect()
    }
}
