//! Sending alerts to external Alertmanagers, as Prometheus' notifier does
//! (`alerting.alertmanagers` in prometheus.yml): a bounded queue, batches
//! POSTed as JSON to `/api/v2/alerts` of every discovered Alertmanager,
//! external labels added and `alert_relabel_configs` applied first.
//!
//! Discovery: `static_configs` and `file_sd_configs` (re-read every 30 s),
//! with `relabel_configs` over `__address__`, `__scheme__` and
//! `__alerts_path__`.

use bongsu_model::{Labels, LabelsBuilder};
use bongsu_rules::group::{Notifier, OutgoingAlert};
use bongsu_scrape::config::{AlertmanagerConfig, AlertingConfig};
use bongsu_scrape::discovery::{static_groups, DiscoveryStats, FileDiscovery};
use bongsu_scrape::relabel::{process, RelabelConfig};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Prometheus' `--alertmanager.notification-queue-capacity` default.
const QUEUE_CAPACITY: usize = 10_000;
/// Alerts per POST.
const MAX_BATCH: usize = 256;

struct AmSet {
    cfg: AlertmanagerConfig,
    client: reqwest::Client,
    files: Vec<FileDiscovery>,
    urls: Vec<String>,
    dropped: Vec<Labels>,
    refreshed: Option<Instant>,
}

impl AmSet {
    fn discover(&mut self) {
        if self.refreshed.is_some_and(|t| t.elapsed() < Duration::from_secs(30)) {
            return;
        }
        self.refreshed = Some(Instant::now());
        let mut groups = static_groups(&self.cfg.static_configs);
        for f in &mut self.files {
            groups.extend(f.refresh());
        }
        let prefix = self.cfg.path_prefix.clone().unwrap_or_default();
        let alerts_path = format!("{}/api/v2/alerts", prefix.trim_end_matches('/'));
        let (mut urls, mut dropped) = (Vec::new(), Vec::new());
        for g in groups {
            for t in &g.targets {
                let mut b = LabelsBuilder::new();
                for l in g.labels.iter().chain(t.iter()) {
                    b.set(l.name.as_str(), l.value.as_str());
                }
                b.set("__scheme__", self.cfg.scheme.as_str());
                b.set("__alerts_path__", alerts_path.as_str());
                let discovered = b.into_labels();
                match process(&discovered, &self.cfg.relabel_configs) {
                    Some(l) => {
                        let url = format!(
                            "{}://{}{}",
                            l.get("__scheme__").unwrap_or("http"),
                            l.get("__address__").unwrap_or(""),
                            l.get("__alerts_path__").unwrap_or("/api/v2/alerts")
                        );
                        if !urls.contains(&url) {
                            urls.push(url);
                        }
                    }
                    None => dropped.push(discovered),
                }
            }
        }
        self.urls = urls;
        self.dropped = dropped;
    }
}

#[derive(Default)]
pub struct SenderMetrics {
    pub sent: Mutex<BTreeMap<String, u64>>,
    pub errors: Mutex<BTreeMap<String, u64>>,
    pub dropped: AtomicU64,
}

/// The notifier for external Alertmanagers.
pub struct AmSender {
    queue: Mutex<VecDeque<OutgoingAlert>>,
    wake: tokio::sync::Notify,
    sets: tokio::sync::Mutex<Vec<AmSet>>,
    config: RwLock<(Labels, Vec<RelabelConfig>)>,
    /// Discovered URLs, for `/api/v1/alertmanagers`.
    active: RwLock<(Vec<String>, Vec<Labels>)>,
    pub metrics: SenderMetrics,
}

impl AmSender {
    pub fn new() -> Arc<AmSender> {
        let s = Arc::new(AmSender {
            queue: Mutex::new(VecDeque::new()),
            wake: tokio::sync::Notify::new(),
            sets: tokio::sync::Mutex::new(Vec::new()),
            config: RwLock::new((Labels::empty(), Vec::new())),
            active: RwLock::new((Vec::new(), Vec::new())),
            metrics: SenderMetrics::default(),
        });
        tokio::spawn(s.clone().run());
        s
    }

    /// Applies `alerting` and the external labels of a (re)loaded configuration.
    pub async fn apply(&self, alerting: Option<&AlertingConfig>, external: &BTreeMap<String, String>) -> Result<(), String> {
        let mut sets = Vec::new();
        let stats = Arc::new(DiscoveryStats::default());
        for am in alerting.map(|a| a.alertmanagers.as_slice()).unwrap_or(&[]) {
            if am.api_version != "v2" {
                return Err(format!("alertmanagers: api_version {:?} is not supported (only v2)", am.api_version));
            }
            let client = bongsu_scrape::http::build_client(&am.http_client(), false)?;
            let files = am.file_sd_configs.iter().map(|f| FileDiscovery::new(f, stats.clone())).collect();
            sets.push(AmSet { cfg: am.clone(), client, files, urls: vec![], dropped: vec![], refreshed: None });
        }
        *self.config.write() = (
            Labels::from_pairs(external.clone()),
            alerting.map(|a| a.alert_relabel_configs.clone()).unwrap_or_default(),
        );
        *self.sets.lock().await = sets;
        self.wake.notify_one();
        Ok(())
    }

    /// `/api/v1/alertmanagers` data.
    pub fn alertmanagers_json(&self) -> serde_json::Value {
        let (active, dropped) = &*self.active.read();
        serde_json::json!({
            "activeAlertmanagers": active.iter().map(|u| serde_json::json!({"url": u})).collect::<Vec<_>>(),
            "droppedAlertmanagers": dropped.iter().map(|l| serde_json::json!({"url": l.get("__address__").unwrap_or("")})).collect::<Vec<_>>(),
        })
    }

    pub fn queue_len(&self) -> usize {
        self.queue.lock().len()
    }

    async fn run(self: Arc<Self>) {
        loop {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            }
            let mut sets = self.sets.lock().await;
            for s in sets.iter_mut() {
                s.discover();
            }
            *self.active.write() = (
                sets.iter().flat_map(|s| s.urls.clone()).collect(),
                sets.iter().flat_map(|s| s.dropped.clone()).collect(),
            );
            loop {
                let batch: Vec<OutgoingAlert> = {
                    let mut q = self.queue.lock();
                    let n = q.len().min(MAX_BATCH);
                    q.drain(..n).collect()
                };
                if batch.is_empty() {
                    break;
                }
                if sets.is_empty() {
                    continue; // no Alertmanager configured: the alerts are only logged
                }
                let mut sends = Vec::new();
                for s in sets.iter() {
                    let body = self.payload(&batch, &s.cfg.alert_relabel_configs);
                    if body.is_empty() {
                        continue;
                    }
                    let body = serde_json::Value::Array(body).to_string();
                    for url in &s.urls {
                        let req = s
                            .client
                            .post(url)
                            .header(reqwest::header::CONTENT_TYPE, "application/json")
                            .timeout(s.cfg.timeout.as_std())
                            .body(body.clone());
                        let url = url.clone();
                        sends.push(async move { (url, req.send().await.and_then(|r| r.error_for_status())) });
                    }
                }
                for (url, res) in futures::future::join_all(sends).await {
                    match res {
                        Ok(_) => *self.metrics.sent.lock().entry(url).or_default() += batch.len() as u64,
                        Err(e) => {
                            tracing::error!(alertmanager = %url, count = batch.len(), err = %e, "error sending alerts");
                            *self.metrics.errors.lock().entry(url).or_default() += batch.len() as u64;
                        }
                    }
                }
            }
        }
    }

    /// The JSON alerts for one Alertmanager set: external labels added
    /// where absent, then the global and the set's alert relabeling.
    fn payload(&self, batch: &[OutgoingAlert], set_relabel: &[RelabelConfig]) -> Vec<serde_json::Value> {
        let (external, global_relabel) = &*self.config.read();
        let mut out = Vec::with_capacity(batch.len());
        for a in batch {
            let mut b = a.labels.builder();
            for l in external.iter() {
                if a.labels.get(&l.name).is_none() {
                    b.set(l.name.as_str(), l.value.as_str());
                }
            }
            let Some(l) = process(&b.into_labels(), global_relabel) else { continue };
            let Some(l) = process(&l, set_relabel) else { continue };
            let map = |l: &Labels| l.iter().map(|l| (l.name.to_string(), serde_json::Value::String(l.value.to_string()))).collect::<serde_json::Map<_, _>>();
            let mut j = serde_json::json!({
                "labels": map(&l),
                "annotations": map(&a.annotations),
                "startsAt": bongsu_model::timefmt::rfc3339_ms(a.starts_at),
                "generatorURL": a.generator_url,
            });
            if let Some(e) = a.ends_at {
                j["endsAt"] = serde_json::json!(bongsu_model::timefmt::rfc3339_ms(e));
            }
            out.push(j);
        }
        out
    }
}

impl Notifier for AmSender {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        {
            let mut q = self.queue.lock();
            for a in alerts {
                if q.len() >= QUEUE_CAPACITY {
                    q.pop_front();
                    self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
                }
                q.push_back(a);
            }
        }
        self.wake.notify_one();
    }
}

/// Logs every alert and forwards it to the Alertmanagers.
pub struct Fanout(pub Vec<Arc<dyn Notifier>>);

impl Notifier for Fanout {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        for n in &self.0 {
            n.send(alerts.clone());
        }
    }
}
