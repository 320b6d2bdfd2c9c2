//! Bongsu's HTTP surface: Prometheus' HTTP API v1 with byte-compatible JSON,
//! `/federate`, `POST /api/v1/write` (remote write receiver), `/metrics`, the `/-/healthy`, `/-/ready` and `/-/reload`
//! lifecycle endpoints, and the exporter-toolkit web config
//! (`--web.config.file`: TLS with rustls and bcrypt basic auth).
//!
//! Main items: [`AppState`] (what the routes read, supplied by the binary
//! through the [`TargetsView`], [`TsdbAdmin`] and [`RuntimeView`] traits),
//! [`router`], [`serve`] and [`WebConfig`].
#![forbid(unsafe_code)]

pub mod amapi;
mod api;
mod federate;
pub mod json;
mod misc;
mod remote;
pub mod params;
mod server;
pub mod ui;
pub mod dashboards;
mod webconfig;

use bongsu_model::storage::Queryable;
use bongsu_model::{Labels, Matcher};
use bongsu_promql::Engine;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::SystemTime;

pub use api::{set_query_max_concurrency, ApiError, ErrorType};
pub use server::serve;
pub use webconfig::{BasicAuth, ClientAuth, HttpServerConfig, TlsServerConfig, TlsVersion, WebConfig};

/// Everything the routes need. Cheap to clone (all shared).
#[derive(Clone)]
pub struct AppState {
    pub queryable: Arc<dyn Queryable>,
    pub engine: Arc<Engine>,
    pub targets: Arc<dyn TargetsView>,
    pub tsdb: Arc<dyn TsdbAdmin>,
    pub runtime: Arc<dyn RuntimeView>,
    /// `--web.enable-admin-api`: the `/api/v1/admin/tsdb/*` endpoints.
    pub enable_admin_api: bool,
    /// `--web.enable-lifecycle`: `POST /-/reload` (and `/-/quit`, not served).
    pub enable_lifecycle: bool,
    /// False until storage is open and the first config is applied: the API,
    /// `/federate` and `/-/ready` answer 503 until then.
    pub ready: Arc<AtomicBool>,
    /// Re-reads the configuration; `Err` carries the reason shown to the caller.
    pub reload: ReloadFn,
    /// The current `global.external_labels` (a function so reloads apply).
    pub external_labels: Arc<dyn Fn() -> Labels + Send + Sync>,
    /// `--web.enable-remote-write-receiver`: where `POST /api/v1/write`
    /// appends (404 when `None`, as Prometheus without the flag).
    pub remote_write: Option<RemoteWriteReceiver>,
}

/// The remote write receiver's storage and counters.
#[derive(Clone)]
pub struct RemoteWriteReceiver {
    pub appendable: Arc<dyn bongsu_model::storage::Appendable>,
    pub stats: Arc<bongsu_remote::receiver::ReceiverStats>,
}

/// The `/-/reload` hook.
pub type ReloadFn = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// One active scrape target, with the fields `/api/v1/targets` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveTarget {
    /// Labels before relabelling.
    pub discovered_labels: Labels,
    /// Labels after relabelling (attached to every scraped series).
    pub labels: Labels,
    pub scrape_pool: String,
    pub scrape_url: String,
    pub global_url: String,
    /// Empty when the last scrape succeeded.
    pub last_error: String,
    /// `None` before the first scrape (shown as Go's zero time).
    pub last_scrape: Option<SystemTime>,
    /// Seconds.
    pub last_scrape_duration: f64,
    /// `"up"`, `"down"` or `"unknown"`.
    pub health: String,
    /// As written in the config: `"15s"`.
    pub scrape_interval: String,
    pub scrape_timeout: String,
}

/// A target dropped by relabelling.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedTarget {
    pub discovered_labels: Labels,
    pub scrape_pool: String,
}

/// Metadata of one metric family as scraped from one target.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricMetadata {
    /// The target's labels.
    pub target: Labels,
    /// The metric family name.
    pub metric: String,
    /// `counter`, `gauge`, `histogram`, `gaugehistogram`, `summary`, `info`,
    /// `stateset` or `unknown`.
    pub metric_type: String,
    pub help: String,
    pub unit: String,
}

/// The scrape manager as the API sees it.
pub trait TargetsView: Send + Sync {
    fn active(&self) -> Vec<ActiveTarget>;
    /// The dropped targets that are kept for display (`keep_dropped_targets`).
    fn dropped(&self) -> Vec<DroppedTarget>;
    /// Number of dropped targets per scrape pool (all of them, including
    /// those not kept for display).
    fn dropped_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for t in self.dropped() {
            *m.entry(t.scrape_pool).or_insert(0) += 1;
        }
        m
    }
    fn metadata(&self) -> Vec<MetricMetadata>;
    /// Names of the configured scrape pools (`/api/v1/scrape_pools`).
    fn scrape_pools(&self) -> Vec<String> {
        let mut v: Vec<String> = self.active().into_iter().map(|t| t.scrape_pool).collect();
        v.extend(self.dropped().into_iter().map(|t| t.scrape_pool));
        v.sort();
        v.dedup();
        v
    }
}

/// TSDB administration and statistics.
pub trait TsdbAdmin: Send + Sync {
    /// The `data` of `/api/v1/status/tsdb` (`headStats`,
    /// `seriesCountByMetricName`, …) with at most `limit` entries per list.
    fn status(&self, limit: usize) -> serde_json::Value;
    /// Creates a snapshot under `<data>/snapshots/` and returns its name.
    fn snapshot(&self, skip_head: bool) -> Result<String, String>;
    fn delete_series(&self, matchers: &[Matcher], start: i64, end: i64) -> Result<(), String>;
    fn clean_tombstones(&self) -> Result<(), String>;
}

/// Process-level information for the status endpoints.
pub trait RuntimeView: Send + Sync {
    /// The loaded configuration as YAML, secrets shown as `<secret>`.
    fn config_yaml(&self) -> String;
    /// Command-line flags by name without dashes (`"web.listen-address"`).
    fn flags(&self) -> BTreeMap<String, String>;
    /// The `data` of `/api/v1/status/runtimeinfo`.
    fn runtime_info(&self) -> serde_json::Value;
    /// The `data` of `/api/v1/status/buildinfo`.
    fn build_info(&self) -> serde_json::Value;
    /// The program's own metrics in the text exposition format.
    fn metrics_text(&self) -> String;
    /// The `data` of `/api/v1/rules` (`{"groups":[]}` without rules).
    fn rules(&self, filter: &RulesQuery) -> serde_json::Value {
        let _ = filter;
        serde_json::json!({"groups": []})
    }
    /// The `data` of `/api/v1/alerts` (`{"alerts":[]}`).
    fn alerts(&self) -> serde_json::Value {
        serde_json::json!({"alerts": []})
    }
    /// The `data` of `/api/v1/alertmanagers`.
    fn alertmanagers(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("activeAlertmanagers".into(), serde_json::Value::Array(vec![]));
        m.insert("droppedAlertmanagers".into(), serde_json::Value::Array(vec![]));
        serde_json::Value::Object(m)
    }
}

/// `/api/v1/rules` parameters (`type`, `rule_name[]`, `rule_group[]`,
/// `file[]`, `exclude_alerts`).
#[derive(Debug, Clone, Default)]
pub struct RulesQuery {
    /// `"alert"` or `"record"`.
    pub kind: Option<String>,
    pub rule_names: Vec<String>,
    pub group_names: Vec<String>,
    pub files: Vec<String>,
    pub exclude_alerts: bool,
}

/// All routes: `/api/v1/*`, `/federate`, `/metrics`, `/-/*` and `/`.
/// Responses are gzip-compressed when the client accepts it.
pub fn router(state: AppState) -> axum::Router {
    misc::router(state)
}
