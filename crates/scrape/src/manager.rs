//! The scrape manager: one pool per job, one loop per target.
//!
//! A loop scrapes on its interval (offset by a hash of the target, as
//! Prometheus spreads scrapes), parses the body, applies target labels,
//! `honor_labels`, `metric_relabel_configs` and the limits, and writes the
//! samples, the synthetic series (`up`, `scrape_duration_seconds`, …) and
//! staleness markers through one [`Appender`] per scrape.
//!
//! Reloading keeps the loops of unchanged jobs; a changed job gets new loops
//! that inherit the previous loops' series so nothing is marked stale by
//! the reload itself; removed targets get staleness markers for all their
//! series.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bongsu_model::storage::{AppendError, Appendable, Appender, SeriesRef};
use bongsu_model::{now_ms, Labels, LabelsBuilder, STALE_NAN};
use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{Config, ScrapeConfig, ScrapeProtocol};
use crate::discovery::{run_job_discovery, DiscoveryStats, TargetGroup};
use crate::exposition::{self, Format, Metadata};
use crate::relabel;
use crate::target::{targets_from_groups, Built, Target};

/// Errors of [`ScrapeManager::apply_config`].
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("job {job:?}: cannot build HTTP client: {message}")]
    Client { job: String, message: String },
}

/// Target health as `/api/v1/targets` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Up,
    Down,
    Unknown,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }
}

/// An active target for `/api/v1/targets`.
#[derive(Debug, Clone)]
pub struct TargetStatus {
    pub discovered_labels: Labels,
    pub labels: Labels,
    pub scrape_pool: String,
    pub scrape_url: String,
    pub global_url: String,
    pub last_error: String,
    /// Start of the last scrape, ms since the epoch; `None` before the first.
    pub last_scrape: Option<i64>,
    /// Seconds.
    pub last_scrape_duration: f64,
    pub health: Health,
    /// `1m`, `10s` as Prometheus prints durations.
    pub scrape_interval: String,
    pub scrape_timeout: String,
}

/// A target dropped by relabelling.
#[derive(Debug, Clone)]
pub struct DroppedTarget {
    pub discovered_labels: Labels,
    pub scrape_pool: String,
}

/// One entry for `/api/v1/metadata` and `/api/v1/targets/metadata`.
#[derive(Debug, Clone)]
pub struct TargetMetadata {
    pub target: Labels,
    pub metric: String,
    pub kind: String,
    pub help: String,
    pub unit: String,
}

/// One self-metric sample.
#[derive(Debug, Clone)]
pub struct StatSample {
    pub name: &'static str,
    pub help: &'static str,
    /// `counter` or `gauge`.
    pub kind: &'static str,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Counters Prometheus exposes about scraping.
#[derive(Debug, Default)]
pub struct ScrapeStats {
    pub sample_out_of_order: AtomicU64,
    pub sample_duplicate_timestamp: AtomicU64,
    pub sample_out_of_bounds: AtomicU64,
    pub exceeded_sample_limit: AtomicU64,
    pub exceeded_body_size_limit: AtomicU64,
    pub exceeded_label_limits: AtomicU64,
    pub exceeded_target_limit: AtomicU64,
    pub pool_reloads: AtomicU64,
    pub pool_syncs: AtomicU64,
    pub pools_created: AtomicU64,
    pub scrapes: AtomicU64,
    pub scrapes_failed: AtomicU64,
}

#[derive(Debug, Clone)]
struct LoopStatus {
    last_error: String,
    last_scrape: Option<i64>,
    last_duration: f64,
    health: Health,
    metadata: Vec<Metadata>,
}

impl Default for LoopStatus {
    fn default() -> Self {
        LoopStatus {
            last_error: String::new(),
            last_scrape: None,
            last_duration: 0.0,
            health: Health::Unknown,
            metadata: Vec::new(),
        }
    }
}

/// What a loop remembers between scrapes: the scrape cache (which also
/// tracks the series written by the last scrape, for staleness), the
/// synthetic series and the last timestamp.
#[derive(Debug, Default, Clone)]
pub struct LoopState {
    /// Hash of a sample's exposed series text (`name{labels}` as in the
    /// body) → what it became, like Prometheus' scrape cache. A hit skips
    /// building labels, relabelling and the storage's label lookup: the
    /// sample is appended by reference. Valid for one configuration only.
    cache: SeriesCache,
    report: Vec<Labels>,
    last_ts: i64,
    /// Scrape counter: entries are stamped with it (never 0, 31 bits).
    iter: u32,
    /// The iteration whose written series are live (the last successful
    /// scrape); 0 when nothing is live.
    live_iter: u32,
    /// Series live before a configuration reload emptied the cache: the
    /// first scrape after it marks those it no longer writes stale.
    carried: Vec<Stored>,
    /// Length of the last body: the next body's buffer is allocated at
    /// about that size once, instead of doubling its way up (a 5 MB body
    /// took 16 MB of allocations, which the allocator keeps a while).
    body_hint: usize,
}

/// What an exposed series became.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Stored {
    /// Dropped by `metric_relabel_configs`.
    Dropped,
    /// The storage's reference of the final series.
    Ref(SeriesRef),
    /// Final labels, for a storage that hands out no references (and
    /// between building them and the first successful append).
    Labels(Arc<Labels>),
}

/// The scrape cache: 32 bytes per exposed series (a `u128` key would pad
/// the entry to 48, an enum for [`Stored`] to 40).
#[derive(Debug, Default, Clone)]
struct SeriesCache {
    entries: HashMap<Key, CacheEntry, BuildIdHasher>,
    /// Final labels of the entries whose `r` is [`NO_REF`]: between building
    /// them and the first successful append, or for a storage that hands
    /// out no references. Empty in steady state with the TSDB.
    labels: HashMap<Key, Arc<Labels>, BuildIdHasher>,
}

/// `CacheEntry::r` of a series dropped by `metric_relabel_configs`.
const DROPPED: SeriesRef = SeriesRef::MAX;
/// `CacheEntry::r` of a series without a storage reference (labels in
/// `SeriesCache::labels`).
const NO_REF: SeriesRef = 0;
/// Iteration numbers use 31 bits; the top bit of `CacheEntry::live` tells
/// whether the entry was live in the previous iteration before the current
/// one changed it (to undo a failed scrape).
const ITER_MASK: u32 = 0x7fff_ffff;
const WAS_PREV: u32 = 0x8000_0000;

#[derive(Debug, Clone, Copy)]
struct CacheEntry {
    /// The storage's reference, [`NO_REF`] or [`DROPPED`].
    r: SeriesRef,
    /// Last iteration the series text appeared in a body.
    seen: u32,
    /// Last iteration the series was written and tracked for staleness
    /// (low 31 bits), and [`WAS_PREV`].
    live: u32,
}

impl CacheEntry {
    #[inline]
    fn live(&self) -> u32 {
        self.live & ITER_MASK
    }

    /// Marks the entry written in iteration `it`; `prev` is the last
    /// successful iteration.
    #[inline]
    fn set_live(&mut self, it: u32, prev: u32) {
        let was = prev != 0 && self.live() == prev;
        self.live = it | if was { WAS_PREV } else { 0 };
    }

    /// Undoes [`CacheEntry::set_live`] of a failed scrape.
    fn undo_live(&mut self, prev: u32) {
        self.live = if self.live & WAS_PREV != 0 { prev } else { 0 };
    }
}

/// What an entry stands for.
fn stored_of(labels: &HashMap<Key, Arc<Labels>, BuildIdHasher>, k: &Key, e: &CacheEntry) -> Stored {
    match e.r {
        DROPPED => Stored::Dropped,
        NO_REF => labels
            .get(k)
            .map(|l| Stored::Labels(l.clone()))
            .unwrap_or(Stored::Dropped),
        r => Stored::Ref(r),
    }
}

impl SeriesCache {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The cache key: a 128-bit hash as two words (8-byte alignment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key(u64, u64);

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(self.0);
    }
}

/// The cache keys are already hashes: use their low bits.
#[derive(Default, Clone, Copy, Debug)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type BuildIdHasher = std::hash::BuildHasherDefault<IdHasher>;

/// The cache key of an exposed series text. 128 bits: a collision within
/// one target's series is not a practical concern, and the key costs 16
/// bytes instead of the text.
fn series_key(series: &str) -> Key {
    let h = xxhash_rust::xxh3::xxh3_128(series.as_bytes());
    Key(h as u64, (h >> 64) as u64)
}

impl LoopState {
    /// Forgets the cache (the relabelling configuration changed) but keeps
    /// the live series for staleness.
    fn reset_cache(&mut self) {
        if self.live_iter != 0 {
            let live = self.live_iter;
            let mut set: HashSet<Stored> = self.carried.drain(..).collect();
            for (k, e) in &self.cache.entries {
                if e.live() == live {
                    set.insert(stored_of(&self.cache.labels, k, e));
                }
            }
            self.carried = set.into_iter().collect();
        }
        self.cache = SeriesCache::default();
        self.live_iter = 0;
    }

    /// Every series written by the last successful scrape (and carried over a reload).
    fn live_series(&self) -> Vec<Stored> {
        let live = self.live_iter;
        let mut v: Vec<Stored> = self
            .cache
            .entries
            .iter()
            .filter(|(_, e)| live != 0 && e.live() == live)
            .map(|(k, e)| stored_of(&self.cache.labels, k, e))
            .collect();
        v.extend(self.carried.iter().cloned());
        v
    }
}

/// Appends a staleness marker for a series the loop wrote before.
fn append_stale(app: &mut dyn Appender, s: &Stored, ts: i64) {
    let _ = match s {
        Stored::Dropped => return,
        Stored::Ref(r) => app.append_ref(*r, None, ts, STALE_NAN),
        Stored::Labels(l) => app.append_ref(0, Some(l), ts, STALE_NAN),
    };
}

/// Appends parsed samples as they come, through the cache.
struct IngestSink<'a> {
    ctx: &'a PoolCtx,
    target: &'a Target,
    ts: i64,
    it: u32,
    prev: u32,
    cache: &'a mut SeriesCache,
    app: &'a mut dyn Appender,
    scraped: usize,
    post: u64,
    added: usize,
    sample_limit: Option<u64>,
    /// Refused samples (out of order, duplicate, out of bounds), counted on success.
    refused: [u64; 3],
    limit_error: Option<String>,
}

impl IngestSink<'_> {
    /// Final labels of an exposed series (`None`: dropped by relabelling).
    fn final_labels(
        &mut self,
        labels: &mut dyn FnMut() -> Result<Labels, exposition::ParseError>,
    ) -> Result<Option<Labels>, exposition::ParseError> {
        let cfg = &self.ctx.cfg;
        let exposed = labels()?;
        let Some(l) = mutate_sample_labels(
            &exposed,
            &self.target.public,
            cfg.honor_labels,
            &cfg.metric_relabel_configs,
        ) else {
            return Ok(None);
        };
        if let Err(m) = check_label_limits(cfg, &l) {
            self.ctx
                .stats
                .exceeded_label_limits
                .fetch_add(1, Ordering::Relaxed);
            self.limit_error = Some(m.clone());
            return Err(exposition::ParseError {
                line: 0,
                message: m,
            });
        }
        Ok(Some(l))
    }
}

impl exposition::SampleSink for IngestSink<'_> {
    fn sample(
        &mut self,
        series: &str,
        labels: &mut dyn FnMut() -> Result<Labels, exposition::ParseError>,
        value: f64,
        timestamp_ms: Option<i64>,
        _created: bool,
    ) -> Result<(), exposition::ParseError> {
        self.scraped += 1;
        let it = self.it;
        let key = series_key(series);
        if !self.cache.entries.contains_key(&key) {
            let r = match self.final_labels(labels)? {
                None => DROPPED,
                Some(l) => {
                    self.cache.labels.insert(key, Arc::new(l));
                    NO_REF
                }
            };
            self.cache.entries.insert(
                key,
                CacheEntry {
                    r,
                    seen: it,
                    live: 0,
                },
            );
        }
        let Some(e) = self.cache.entries.get_mut(&key) else {
            return Ok(());
        };
        e.seen = it;
        if e.r == DROPPED {
            return Ok(());
        }
        self.post += 1;
        if self.sample_limit.is_some_and(|lim| self.post > lim) {
            // The scrape fails; keep parsing so a parse error wins, as in Prometheus.
            return Ok(());
        }
        let honor_ts = self.ctx.cfg.honor_timestamps;
        let (t, explicit) = match timestamp_ms {
            Some(t) if honor_ts => (t, true),
            _ => (self.ts, false),
        };
        let mut res = match e.r {
            NO_REF => match self.cache.labels.get(&key) {
                Some(l) => self.app.append_ref(0, Some(l), t, value),
                None => Err(AppendError::UnknownRef),
            },
            r => self.app.append_ref(r, None, t, value),
        };
        if res == Err(AppendError::UnknownRef) {
            // The storage forgot the series (garbage-collected): rebuild its labels.
            let l = {
                let cfg = &self.ctx.cfg;
                let exposed = labels()?;
                mutate_sample_labels(
                    &exposed,
                    &self.target.public,
                    cfg.honor_labels,
                    &cfg.metric_relabel_configs,
                )
            };
            let Some(e) = self.cache.entries.get_mut(&key) else {
                return Ok(());
            };
            match l {
                Some(l) => {
                    res = self.app.append_ref(0, Some(&l), t, value);
                    e.r = NO_REF;
                    self.cache.labels.insert(key, Arc::new(l));
                }
                None => {
                    e.r = DROPPED;
                    self.cache.labels.remove(&key);
                    return Ok(());
                }
            }
        }
        let Some(e) = self.cache.entries.get_mut(&key) else {
            return Ok(());
        };
        match res {
            Ok(r) => {
                if r != NO_REF && r != DROPPED && e.r == NO_REF {
                    e.r = r;
                    self.cache.labels.remove(&key);
                }
                // Series with explicit timestamps are not tracked for staleness.
                if (!explicit || self.ctx.cfg.track_timestamps_staleness) && e.live() != it {
                    if !(self.prev != 0 && e.live() == self.prev) {
                        self.added += 1;
                    }
                    e.set_live(it, self.prev);
                }
            }
            Err(AppendError::OutOfOrder) => self.refused[0] += 1,
            Err(AppendError::DuplicateTimestamp) => self.refused[1] += 1,
            Err(AppendError::OutOfBounds) => self.refused[2] += 1,
            Err(AppendError::UnknownRef) => {}
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum StopMode {
    /// Target went away: mark every series stale.
    Stale,
    /// Reload: hand the state to the replacement loop.
    Handover,
}

struct LoopHandle {
    target: Arc<Target>,
    status: Arc<Mutex<LoopStatus>>,
    stop: Option<oneshot::Sender<StopMode>>,
    join: JoinHandle<LoopState>,
}

impl LoopHandle {
    async fn stop(mut self, mode: StopMode) -> LoopState {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(mode);
        }
        self.join.await.unwrap_or_default()
    }
}

/// Everything a loop of one pool shares.
struct PoolCtx {
    cfg: Arc<ScrapeConfig>,
    client: reqwest::Client,
    http: crate::config::HttpClientConfig,
    storage: Arc<dyn Appendable>,
    stats: Arc<ScrapeStats>,
    accept: String,
    offset_seed: u64,
    /// Set when the pool exceeds `target_limit`: every scrape fails with it.
    forced_error: Mutex<Option<String>>,
    /// The OAuth2 token of the pool, when `oauth2` is configured.
    oauth2: crate::http::OAuth2Tokens,
}

struct Pool {
    ctx: Arc<PoolCtx>,
    loops: Mutex<HashMap<u64, LoopHandle>>,
    dropped: Mutex<Vec<DroppedTarget>>,
    discovered: AtomicU64,
    sync_task: Mutex<Option<JoinHandle<()>>>,
}

impl Pool {
    /// Stops discovery and every loop. Returns the loops' states when
    /// handing over, keyed by target identity.
    async fn shutdown(&self, mode: StopMode) -> HashMap<u64, LoopState> {
        // Take the handle first: a lock guard must not live across the await (the future must be Send).
        let task = self.sync_task.lock().take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
        let loops: Vec<(u64, LoopHandle)> = self.loops.lock().drain().collect();
        let mut out = HashMap::new();
        let stops = loops
            .into_iter()
            .map(|(id, h)| async move { (id, h.stop(mode).await) });
        for (id, st) in futures::future::join_all(stops).await {
            out.insert(id, st);
        }
        out
    }
}

/// Runs the scrape pools of a configuration.
pub struct ScrapeManager {
    storage: Arc<dyn Appendable>,
    pools: Mutex<BTreeMap<String, Arc<Pool>>>,
    stats: Arc<ScrapeStats>,
    sd_stats: Arc<DiscoveryStats>,
    /// Serialises apply_config / stop.
    apply_lock: tokio::sync::Mutex<()>,
}

impl ScrapeManager {
    pub fn new(storage: Arc<dyn Appendable>) -> Arc<Self> {
        Arc::new(ScrapeManager {
            storage,
            pools: Mutex::new(BTreeMap::new()),
            stats: Arc::default(),
            sd_stats: Arc::default(),
            apply_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Applies a (re)loaded configuration: unchanged jobs keep running,
    /// changed jobs restart their loops without losing staleness state,
    /// removed jobs stop and mark their series stale.
    pub async fn apply_config(&self, cfg: &Config) -> Result<(), ScrapeError> {
        let _g = self.apply_lock.lock().await;
        // Build every client first: a bad job leaves the running state untouched.
        let mut new_ctx: BTreeMap<String, Arc<PoolCtx>> = BTreeMap::new();
        let seed = offset_seed(cfg);
        for sc in &cfg.scrape_configs {
            let unchanged = self
                .pools
                .lock()
                .get(&sc.job_name)
                .map(|p| *p.ctx.cfg == *sc && p.ctx.offset_seed == seed)
                .unwrap_or(false);
            if unchanged {
                continue;
            }
            let unsupported = sc.unsupported_discovery();
            if !unsupported.is_empty() {
                tracing::warn!(
                    scrape_pool = %sc.job_name,
                    mechanisms = ?unsupported,
                    "service discovery mechanisms not supported yet; their targets are not scraped"
                );
            }
            let http = sc.http_client();
            let client = crate::http::build_client(&http, sc.enable_compression.unwrap_or(true))
                .map_err(|m| ScrapeError::Client {
                    job: sc.job_name.clone(),
                    message: m,
                })?;
            new_ctx.insert(
                sc.job_name.clone(),
                Arc::new(PoolCtx {
                    cfg: Arc::new(sc.clone()),
                    client,
                    http,
                    storage: self.storage.clone(),
                    stats: self.stats.clone(),
                    accept: accept_header(
                        &sc.protocols(),
                        sc.metric_name_escaping_scheme
                            .as_deref()
                            .unwrap_or("allow-utf-8"),
                    ),
                    offset_seed: seed,
                    forced_error: Mutex::new(None),
                    oauth2: Default::default(),
                }),
            );
        }
        let wanted: HashSet<&str> = cfg
            .scrape_configs
            .iter()
            .map(|s| s.job_name.as_str())
            .collect();
        let removed: Vec<Arc<Pool>> = {
            let mut pools = self.pools.lock();
            let names: Vec<String> = pools
                .keys()
                .filter(|k| !wanted.contains(k.as_str()))
                .cloned()
                .collect();
            names.iter().filter_map(|n| pools.remove(n)).collect()
        };
        for p in removed {
            p.shutdown(StopMode::Stale).await;
        }
        for (job, ctx) in new_ctx {
            let old = self.pools.lock().remove(&job);
            let inherited = match old {
                Some(p) => {
                    self.stats.pool_reloads.fetch_add(1, Ordering::Relaxed);
                    p.shutdown(StopMode::Handover).await
                }
                None => {
                    self.stats.pools_created.fetch_add(1, Ordering::Relaxed);
                    HashMap::new()
                }
            };
            let pool = Arc::new(Pool {
                ctx: ctx.clone(),
                loops: Mutex::new(HashMap::new()),
                dropped: Mutex::new(Vec::new()),
                discovered: AtomicU64::new(0),
                sync_task: Mutex::new(None),
            });
            let (tx, rx) = watch::channel(Vec::new());
            let sd = tokio::spawn(run_job_discovery(
                ctx.cfg.clone(),
                tx,
                self.sd_stats.clone(),
            ));
            let task = tokio::spawn(run_sync(pool.clone(), rx, inherited, sd));
            *pool.sync_task.lock() = Some(task);
            self.pools.lock().insert(job, pool);
        }
        Ok(())
    }

    /// Active targets of all pools, sorted by pool and labels.
    pub fn active_targets(&self) -> Vec<TargetStatus> {
        let pools: Vec<(String, Arc<Pool>)> = self
            .pools
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut out = Vec::new();
        for (job, p) in pools {
            let mut ts: Vec<TargetStatus> = p
                .loops
                .lock()
                .values()
                .map(|h| {
                    let st = h.status.lock().clone();
                    TargetStatus {
                        discovered_labels: h.target.discovered.clone(),
                        labels: h.target.public.clone(),
                        scrape_pool: job.clone(),
                        scrape_url: h.target.url.clone(),
                        global_url: global_url(&h.target.url),
                        last_error: st.last_error,
                        last_scrape: st.last_scrape,
                        last_scrape_duration: st.last_duration,
                        health: st.health,
                        scrape_interval: bongsu_model::duration::format_duration(
                            h.target.interval_ms,
                        ),
                        scrape_timeout: bongsu_model::duration::format_duration(
                            h.target.timeout_ms,
                        ),
                    }
                })
                .collect();
            ts.sort_by(|a, b| a.labels.cmp(&b.labels));
            out.extend(ts);
        }
        out
    }

    /// Targets dropped by relabelling (bounded by `keep_dropped_targets`).
    pub fn dropped_targets(&self) -> Vec<DroppedTarget> {
        let pools: Vec<Arc<Pool>> = self.pools.lock().values().cloned().collect();
        pools
            .iter()
            .flat_map(|p| p.dropped.lock().clone())
            .collect()
    }

    /// Metric metadata of the last successful scrape of every target.
    pub fn metadata(&self) -> Vec<TargetMetadata> {
        let pools: Vec<Arc<Pool>> = self.pools.lock().values().cloned().collect();
        let mut out = Vec::new();
        for p in pools {
            for h in p.loops.lock().values() {
                for m in &h.status.lock().metadata {
                    out.push(TargetMetadata {
                        target: h.target.public.clone(),
                        metric: m.family.clone(),
                        kind: m.kind.as_str().to_string(),
                        help: m.help.clone(),
                        unit: m.unit.clone(),
                    });
                }
            }
        }
        out
    }

    /// The manager's self-metrics, with Prometheus' names.
    pub fn stats(&self) -> Vec<StatSample> {
        let s = &self.stats;
        let c = |name, help, v: &AtomicU64| StatSample {
            name,
            help,
            kind: "counter",
            labels: Vec::new(),
            value: v.load(Ordering::Relaxed) as f64,
        };
        let mut out = vec![
            c("prometheus_target_scrapes_sample_out_of_order_total", "Total number of samples rejected due to not being out of the expected order.", &s.sample_out_of_order),
            c("prometheus_target_scrapes_sample_duplicate_timestamp_total", "Total number of samples rejected due to duplicate timestamps but different values.", &s.sample_duplicate_timestamp),
            c("prometheus_target_scrapes_sample_out_of_bounds_total", "Total number of samples rejected due to timestamp falling outside of the time bounds.", &s.sample_out_of_bounds),
            c("prometheus_target_scrapes_exceeded_sample_limit_total", "Total number of scrapes that hit the sample limit and were rejected.", &s.exceeded_sample_limit),
            c("prometheus_target_scrapes_exceeded_body_size_limit_total", "Total number of scrapes that hit the body size limit", &s.exceeded_body_size_limit),
            c("prometheus_target_scrape_pool_exceeded_label_limits_total", "Total number of times scrape pools hit the label limits, during sync or config reload.", &s.exceeded_label_limits),
            c("prometheus_target_scrape_pool_exceeded_target_limit_total", "Total number of times scrape pools hit the target limit, during sync or config reload.", &s.exceeded_target_limit),
            c("prometheus_target_scrape_pool_reloads_total", "Total number of scrape pool reloads.", &s.pool_reloads),
            c("prometheus_target_scrape_pools_total", "Total number of scrape pool creation attempts.", &s.pools_created),
            c("prometheus_sd_dns_lookup_failures_total", "The number of DNS-SD lookup failures.", &self.sd_stats.dns_failures),
            c("prometheus_sd_http_failures_total", "Number of HTTP service discovery refresh failures.", &self.sd_stats.http_failures),
            c("prometheus_sd_file_read_errors_total", "The number of File-SD read errors.", &self.sd_stats.file_read_errors),
            c("prometheus_sd_file_scan_duration_seconds_count", "The duration of the File-SD scan in seconds.", &self.sd_stats.file_scans),
        ];
        let pools: Vec<(String, Arc<Pool>)> = self
            .pools
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (job, p) in pools {
            out.push(StatSample {
                name: "prometheus_target_scrape_pool_targets",
                help: "Current number of targets in this scrape pool.",
                kind: "gauge",
                labels: vec![("scrape_job".into(), job.clone())],
                value: p.loops.lock().len() as f64,
            });
            out.push(StatSample {
                name: "prometheus_sd_discovered_targets",
                help: "Current number of discovered targets.",
                kind: "gauge",
                labels: vec![
                    ("config".into(), job.clone()),
                    ("name".into(), "scrape".into()),
                ],
                value: p.discovered.load(Ordering::Relaxed) as f64,
            });
            out.push(StatSample {
                name: "prometheus_target_scrape_pool_sync_total",
                help: "Total number of syncs that were executed on a scrape pool.",
                kind: "counter",
                labels: vec![("scrape_job".into(), job)],
                value: s.pool_syncs.load(Ordering::Relaxed) as f64,
            });
        }
        out
    }

    /// Stops every pool for shutdown. Like Prometheus, no staleness markers
    /// are written: the series continue after a restart.
    pub async fn stop(&self) {
        let _g = self.apply_lock.lock().await;
        let pools: Vec<Arc<Pool>> = std::mem::take(&mut *self.pools.lock())
            .into_values()
            .collect();
        for p in pools {
            p.shutdown(StopMode::Handover).await;
        }
    }

    /// Names of the configured scrape pools, sorted (`/api/v1/scrape_pools`).
    pub fn scrape_pools(&self) -> Vec<String> {
        self.pools.lock().keys().cloned().collect()
    }
}

fn offset_seed(cfg: &Config) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for (k, v) in &cfg.global.external_labels {
        h.update(k.as_bytes());
        h.update(&[0xff]);
        h.update(v.as_bytes());
        h.update(&[0xff]);
    }
    h.update(hostname().as_bytes());
    h.digest()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

fn global_url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) => {
            let local = matches!(
                parsed.host_str(),
                Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
            );
            if local && parsed.set_host(Some(&hostname())).is_ok() {
                return parsed.to_string();
            }
            u.to_string()
        }
        Err(_) => u.to_string(),
    }
}

/// The Accept header Prometheus 3 sends for a protocol list (protobuf is
/// not offered: Bongsu parses the text formats only).
pub fn accept_header(protocols: &[ScrapeProtocol], escaping: &str) -> String {
    let mut vals = Vec::new();
    let mut weight = 6;
    for p in protocols {
        if *p == ScrapeProtocol::PrometheusProto {
            continue;
        }
        let mut v = p.header_value().to_string();
        if matches!(
            p,
            ScrapeProtocol::PrometheusText100 | ScrapeProtocol::OpenMetricsText100
        ) {
            v.push_str(";escaping=");
            v.push_str(escaping);
        }
        v.push_str(&format!(";q=0.{weight}"));
        vals.push(v);
        weight -= 1;
    }
    vals.push(format!("*/*;q=0.{weight}"));
    vals.join(",")
}

// ---------------------------------------------------------------------------
// HTTP client

// ---------------------------------------------------------------------------
// Pool sync

async fn run_sync(
    pool: Arc<Pool>,
    mut rx: watch::Receiver<Vec<TargetGroup>>,
    mut inherited: HashMap<u64, LoopState>,
    sd: JoinHandle<()>,
) {
    // Dropping `rx` (task aborted) ends the discovery task; abort it too.
    struct AbortOnDrop(JoinHandle<()>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let _sd = AbortOnDrop(sd);
    let mut first = true;
    loop {
        if rx.changed().await.is_err() {
            return;
        }
        let groups = rx.borrow_and_update().clone();
        sync_targets(&pool, &groups, &mut inherited).await;
        if first {
            // States of targets that no longer exist under the new config.
            for (_, st) in inherited.drain() {
                write_end_staleness(&pool.ctx, st);
            }
            first = false;
        }
    }
}

async fn sync_targets(
    pool: &Arc<Pool>,
    groups: &[TargetGroup],
    inherited: &mut HashMap<u64, LoopState>,
) {
    let ctx = &pool.ctx;
    ctx.stats.pool_syncs.fetch_add(1, Ordering::Relaxed);
    let mut active: HashMap<u64, Target> = HashMap::new();
    let mut dropped = Vec::new();
    let built = targets_from_groups(&ctx.cfg, groups);
    pool.discovered.store(built.len() as u64, Ordering::Relaxed);
    for b in built {
        match b {
            Built::Active(t) => {
                active.insert(t.identity(), t);
            }
            Built::Dropped(d) => dropped.push(DroppedTarget {
                discovered_labels: d,
                scrape_pool: ctx.cfg.job_name.clone(),
            }),
            Built::Invalid(d, e) => {
                tracing::warn!(scrape_pool = %ctx.cfg.job_name, target = %d, err = %e, "Creating target failed");
            }
        }
    }
    if let Some(k) = ctx.cfg.keep_dropped_targets.filter(|k| *k > 0) {
        dropped.truncate(k as usize);
    }
    *pool.dropped.lock() = dropped;
    let limit = ctx.cfg.target_limit.unwrap_or(0);
    *ctx.forced_error.lock() = if limit > 0 && active.len() as u64 > limit {
        ctx.stats
            .exceeded_target_limit
            .fetch_add(1, Ordering::Relaxed);
        Some(format!(
            "target_limit exceeded (number of targets: {}, limit: {limit})",
            active.len()
        ))
    } else {
        None
    };
    // Stop loops of targets that went away.
    let gone: Vec<LoopHandle> = {
        let mut loops = pool.loops.lock();
        let ids: Vec<u64> = loops
            .keys()
            .filter(|id| !active.contains_key(id))
            .copied()
            .collect();
        ids.iter().filter_map(|id| loops.remove(id)).collect()
    };
    futures::future::join_all(gone.into_iter().map(|h| h.stop(StopMode::Stale))).await;
    // Start loops for new targets.
    let mut loops = pool.loops.lock();
    for (id, t) in active {
        if loops.contains_key(&id) {
            continue;
        }
        let state = inherited.remove(&id).unwrap_or_default();
        let target = Arc::new(t);
        let status = Arc::new(Mutex::new(LoopStatus::default()));
        let (stop_tx, stop_rx) = oneshot::channel();
        let join = tokio::spawn(scrape_loop(
            ctx.clone(),
            target.clone(),
            status.clone(),
            state,
            stop_rx,
        ));
        loops.insert(
            id,
            LoopHandle {
                target,
                status,
                stop: Some(stop_tx),
                join,
            },
        );
    }
}

// ---------------------------------------------------------------------------
// The loop

async fn scrape_loop(
    ctx: Arc<PoolCtx>,
    target: Arc<Target>,
    status: Arc<Mutex<LoopStatus>>,
    mut state: LoopState,
    mut stop: oneshot::Receiver<StopMode>,
) -> LoopState {
    // A handed-over cache was built for the previous configuration.
    state.reset_cache();
    let interval = Duration::from_millis(target.interval_ms.max(1) as u64);
    // Spread scrapes over the interval by target, as Prometheus does.
    let iv_ns = interval.as_nanos() as u64;
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let base = iv_ns - now_ns % iv_ns;
    let offset = (target.identity() ^ ctx.offset_seed) % iv_ns;
    let mut next = base + offset;
    if next > iv_ns {
        next -= iv_ns;
    }
    let start = tokio::time::Instant::now() + Duration::from_nanos(next);
    let mut ticker = tokio::time::interval_at(start, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            mode = &mut stop => {
                match mode.unwrap_or(StopMode::Stale) {
                    StopMode::Stale => {
                        write_end_staleness(&ctx, std::mem::take(&mut state));
                        return LoopState::default();
                    }
                    StopMode::Handover => return state,
                }
            }
            _ = ticker.tick() => {
                scrape_once(&ctx, &target, &status, &mut state).await;
            }
        }
    }
}

/// Writes staleness markers for every series a loop wrote.
fn write_end_staleness(ctx: &PoolCtx, state: LoopState) {
    let live = state.live_series();
    if live.is_empty() && state.report.is_empty() {
        return;
    }
    let ts = now_ms().max(state.last_ts + 1);
    let mut app = ctx.storage.appender();
    for s in &live {
        append_stale(app.as_mut(), s, ts);
    }
    for l in &state.report {
        let _ = app.append(l, ts, STALE_NAN);
    }
    if let Err(e) = app.commit() {
        tracing::warn!(err = %e, "writing staleness markers failed");
    }
}

/// Bodies at least this large are parsed on the blocking pool, so a huge
/// target does not stall the runtime's worker threads.
const BLOCKING_PARSE_BYTES: usize = 256 * 1024;

/// At most this much of a body is allocated before it arrives (a wrong
/// `Content-Length` must not allocate gigabytes).
const MAX_BODY_PREALLOC: usize = 64 << 20;

async fn scrape_once(
    ctx: &Arc<PoolCtx>,
    target: &Arc<Target>,
    status: &Mutex<LoopStatus>,
    state: &mut LoopState,
) {
    let ts = now_ms();
    let started = Instant::now();
    ctx.stats.scrapes.fetch_add(1, Ordering::Relaxed);
    let forced = ctx.forced_error.lock().clone();
    let fetched = match forced {
        Some(e) => Err(e),
        None => fetch(ctx, target, state.body_hint).await,
    };
    let duration = started.elapsed().as_secs_f64();
    if let Ok((body, _)) = &fetched {
        state.body_hint = body.len();
    }
    let outcome = match fetched {
        Ok((body, ctype)) if body.len() >= BLOCKING_PARSE_BYTES => {
            let (c, t, mut st) = (ctx.clone(), target.clone(), std::mem::take(state));
            match tokio::task::spawn_blocking(move || {
                let r = ingest(&c, &t, &mut st, ts, duration, &body, &ctype);
                (r, st)
            })
            .await
            {
                Ok((r, st)) => {
                    *state = st;
                    r
                }
                Err(e) => Err(format!("parsing task failed: {e}")),
            }
        }
        Ok((body, ctype)) => ingest(ctx, target, state, ts, duration, &body, &ctype),
        Err(e) => Err(e),
    };
    let mut st = status.lock();
    st.last_scrape = Some(ts);
    st.last_duration = duration;
    match outcome {
        Ok(meta) => {
            st.health = Health::Up;
            st.last_error.clear();
            st.metadata = meta;
        }
        Err(e) => {
            drop(st);
            ctx.stats.scrapes_failed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(target = %target.url, err = %e, "scrape failed");
            write_failure(ctx, target, state, ts, duration);
            let mut st = status.lock();
            st.health = Health::Down;
            st.last_error = e;
        }
    }
}

/// Fetches the body; errors are Prometheus' texts.
async fn fetch(
    ctx: &PoolCtx,
    target: &Target,
    body_hint: usize,
) -> Result<(Vec<u8>, String), String> {
    let cfg = &ctx.cfg;
    let timeout = Duration::from_millis(target.timeout_ms.max(1) as u64);
    let mut req = ctx
        .client
        .get(&target.url)
        .header(reqwest::header::ACCEPT, &ctx.accept)
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", target.timeout_ms as f64 / 1000.0),
        );
    req = crate::http::apply_auth(req, &ctx.http)?;
    if let Some(o) = &ctx.http.oauth2 {
        let token = ctx.oauth2.token(&ctx.client, o).await?;
        req = req.bearer_auth(token);
    }
    let limit = cfg.body_size_limit.map(|b| b.0).filter(|b| *b > 0);
    let work = async {
        let mut resp = req.send().await.map_err(|e| error_chain(&e))?;
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            return Err(format!(
                "server returned HTTP status {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ));
        }
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        // The announced length (absent when the body is compressed), else
        // the last body's and a little: one allocation for a steady target.
        let expect = resp
            .content_length()
            .map(|n| n as usize)
            .unwrap_or(body_hint + body_hint / 16);
        let cap = limit.map_or(expect, |l| expect.min(l as usize + 1));
        let mut body = Vec::with_capacity(cap.min(MAX_BODY_PREALLOC));
        while let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? {
            body.extend_from_slice(&chunk);
            if let Some(l) = limit {
                if body.len() as u64 > l {
                    ctx.stats
                        .exceeded_body_size_limit
                        .fetch_add(1, Ordering::Relaxed);
                    return Err("body size limit exceeded".into());
                }
            }
        }
        Ok((body, ctype))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("Get \"{}\": context deadline exceeded", target.url)),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

fn content_format(cfg: &ScrapeConfig, ctype: &str) -> Result<Format, String> {
    if let Some(f) = Format::from_content_type(ctype) {
        return Ok(f);
    }
    let fallback = match cfg.fallback_scrape_protocol {
        Some(ScrapeProtocol::OpenMetricsText001 | ScrapeProtocol::OpenMetricsText100) => {
            Some(Format::OpenMetrics)
        }
        Some(ScrapeProtocol::PrometheusText004 | ScrapeProtocol::PrometheusText100) => {
            Some(Format::PrometheusText)
        }
        Some(ScrapeProtocol::PrometheusProto) | None => None,
    };
    match fallback {
        Some(f) => Ok(f),
        None if ctype.trim().is_empty() => Err(
            "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target"
                .into(),
        ),
        None => Err(format!(
            "received unsupported Content-Type {ctype:?} and no fallback_scrape_protocol specified for target"
        )),
    }
}

/// Applies target labels as Prometheus' `mutateSampleLabels` does.
fn mutate_sample_labels(
    sample: &Labels,
    target: &Labels,
    honor: bool,
    rcs: &[relabel::RelabelConfig],
) -> Option<Labels> {
    let mut lb: LabelsBuilder = sample.builder();
    if honor {
        for l in target {
            if sample.get(&l.name).map(|v| v.is_empty()).unwrap_or(true) {
                lb.set(l.name.to_string(), l.value.to_string());
            }
        }
    } else {
        let mut conflicts: Vec<(String, String)> = Vec::new();
        for l in target {
            if let Some(v) = sample.get(&l.name).filter(|v| !v.is_empty()) {
                conflicts.push((l.name.to_string(), v.to_string()));
            }
            lb.set(l.name.to_string(), l.value.to_string());
        }
        conflicts.sort_by_key(|(n, _)| n.len());
        for (name, value) in conflicts {
            let mut new_name = name;
            loop {
                new_name = format!("exported_{new_name}");
                if lb.get(&new_name).unwrap_or("").is_empty() {
                    lb.set(new_name, value);
                    break;
                }
            }
        }
    }
    if !relabel::process_builder(&mut lb, rcs) {
        return None;
    }
    Some(lb.into_labels())
}

fn check_label_limits(cfg: &ScrapeConfig, l: &Labels) -> Result<(), String> {
    let name = l.metric_name().unwrap_or("");
    let short = |s: &str| s.chars().take(50).collect::<String>();
    if let Some(lim) = cfg.label_limit.filter(|v| *v > 0) {
        if l.len() as u64 > lim {
            return Err(format!(
                "label_limit exceeded (metric: {}, number of labels: {}, limit: {lim})",
                short(name),
                l.len()
            ));
        }
    }
    for lab in l {
        if let Some(lim) = cfg.label_name_length_limit.filter(|v| *v > 0) {
            if lab.name.chars().count() as u64 > lim {
                return Err(format!(
                    "label_name_length_limit exceeded (metric: {}, label name: {}, length: {}, limit: {lim})",
                    short(name),
                    short(&lab.name),
                    lab.name.chars().count()
                ));
            }
        }
        if let Some(lim) = cfg.label_value_length_limit.filter(|v| *v > 0) {
            if lab.value.chars().count() as u64 > lim {
                return Err(format!(
                    "label_value_length_limit exceeded (metric: {}, label value: {}, length: {}, limit: {lim})",
                    short(name),
                    short(&lab.value),
                    lab.value.chars().count()
                ));
            }
        }
    }
    Ok(())
}

fn count_append_error(stats: &ScrapeStats, e: AppendError) {
    let c = match e {
        AppendError::OutOfOrder => &stats.sample_out_of_order,
        AppendError::DuplicateTimestamp => &stats.sample_duplicate_timestamp,
        AppendError::OutOfBounds => &stats.sample_out_of_bounds,
        AppendError::UnknownRef => return,
    };
    c.fetch_add(1, Ordering::Relaxed);
}

fn report_labels(target: &Labels, name: &str) -> Labels {
    let mut b = target.builder();
    b.set(bongsu_model::METRIC_NAME, name);
    b.into_labels()
}

/// The values of the synthetic series of one scrape.
struct Report {
    up: f64,
    duration: f64,
    scraped: f64,
    post_relabel: f64,
    added: f64,
}

fn append_report(
    app: &mut dyn Appender,
    target: &Target,
    state: &mut LoopState,
    ts: i64,
    r: Report,
) {
    let Report {
        up,
        duration,
        scraped,
        post_relabel,
        added,
    } = r;
    let vals = [
        ("up", up),
        ("scrape_duration_seconds", duration),
        ("scrape_samples_scraped", scraped),
        ("scrape_samples_post_metric_relabeling", post_relabel),
        ("scrape_series_added", added),
    ];
    state.report.clear();
    for (n, v) in vals {
        let l = report_labels(&target.public, n);
        let _ = app.append(&l, ts, v);
        state.report.push(l);
    }
}

/// A failed scrape: every series of the previous scrape goes stale, `up` is 0.
fn write_failure(ctx: &PoolCtx, target: &Target, state: &mut LoopState, ts: i64, duration: f64) {
    let mut app = ctx.storage.appender();
    for s in &state.live_series() {
        append_stale(app.as_mut(), s, ts);
    }
    state.live_iter = 0;
    state.carried.clear();
    append_report(
        app.as_mut(),
        target,
        state,
        ts,
        Report {
            up: 0.0,
            duration,
            scraped: 0.0,
            post_relabel: 0.0,
            added: 0.0,
        },
    );
    state.last_ts = state.last_ts.max(ts);
    if let Err(e) = app.commit() {
        tracing::warn!(err = %e, "commit of failed scrape report failed");
    }
}

/// Parses and writes one scrape: samples are appended while the body is
/// parsed, into one batch that is rolled back on error, so on error nothing
/// of the body is written (the caller then writes the failure report).
fn ingest(
    ctx: &PoolCtx,
    target: &Target,
    state: &mut LoopState,
    ts: i64,
    duration: f64,
    body: &[u8],
    ctype: &str,
) -> Result<Vec<Metadata>, String> {
    let cfg = &ctx.cfg;
    let format = content_format(cfg, ctype)?;
    state.iter = (state.iter.wrapping_add(1) & ITER_MASK).max(1);
    let it = state.iter;
    let prev = state.live_iter;
    let mut app = ctx.storage.appender();
    // OpenMetrics `_created` lines are stored as ordinary series, as
    // Prometheus does unless created-timestamp ingestion is enabled.
    let mut sink = IngestSink {
        ctx,
        target,
        ts,
        it,
        prev,
        cache: &mut state.cache,
        app: app.as_mut(),
        scraped: 0,
        post: 0,
        added: 0,
        sample_limit: cfg.sample_limit.filter(|v| *v > 0),
        refused: [0; 3],
        limit_error: None,
    };
    let parsed = exposition::parse_into(body, format, false, &mut sink);
    let IngestSink {
        scraped,
        post,
        mut added,
        refused,
        limit_error,
        ..
    } = sink;
    let over_limit = cfg.sample_limit.is_some_and(|lim| lim > 0 && post > lim);
    let failed = match (parsed, limit_error) {
        (Ok(m), None) if !over_limit => Ok(m),
        (Ok(_), None) => {
            ctx.stats
                .exceeded_sample_limit
                .fetch_add(1, Ordering::Relaxed);
            Err("sample limit exceeded".to_string())
        }
        (res, limit) => {
            Err(limit.unwrap_or_else(|| res.err().map(|e| e.to_string()).unwrap_or_default()))
        }
    };
    let metadata = match failed {
        Ok(m) => m,
        Err(e) => {
            // Keep what the cache learnt; the body itself is discarded.
            app.rollback();
            for e in state.cache.entries.values_mut() {
                if e.live() == it {
                    e.undo_live(prev);
                }
            }
            return Err(e);
        }
    };
    for (n, e) in refused.into_iter().zip([
        AppendError::OutOfOrder,
        AppendError::DuplicateTimestamp,
        AppendError::OutOfBounds,
    ]) {
        for _ in 0..n {
            count_append_error(&ctx.stats, e);
        }
    }
    // Series written last time but not now go stale; entries unused in
    // this scrape are forgotten.
    let mut carried_found: HashSet<Stored> = HashSet::new();
    let carried: HashSet<Stored> = std::mem::take(&mut state.carried).into_iter().collect();
    let SeriesCache { entries, labels } = &mut state.cache;
    entries.retain(|k, e| {
        if e.live() == it {
            if !carried.is_empty() {
                let s = stored_of(labels, k, e);
                if carried.contains(&s) && carried_found.insert(s) {
                    // Written before the reload too: not new.
                    added = added.saturating_sub(1);
                }
            }
        } else if prev != 0 && e.live() == prev {
            append_stale(app.as_mut(), &stored_of(labels, k, e), ts);
        }
        e.seen == it
    });
    if !labels.is_empty() {
        labels.retain(|k, _| entries.contains_key(k));
    }
    for s in carried.difference(&carried_found) {
        append_stale(app.as_mut(), s, ts);
    }
    state.live_iter = it;
    append_report(
        app.as_mut(),
        target,
        state,
        ts,
        Report {
            up: 1.0,
            duration,
            scraped: scraped as f64,
            post_relabel: post as f64,
            added: added as f64,
        },
    );
    state.last_ts = state.last_ts.max(ts);
    app.commit().map_err(|e| format!("commit: {e}"))?;
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_like_prometheus() {
        assert_eq!(
            accept_header(&ScrapeProtocol::defaults(), "allow-utf-8"),
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
    }

    #[derive(Default, Clone)]
    struct Mem(Arc<Mutex<Vec<(Labels, i64, f64)>>>);
    struct MemApp(Mem, Vec<(Labels, i64, f64)>);
    impl Appender for MemApp {
        fn append(&mut self, l: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
            self.1.push((l.clone(), t, v));
            Ok(())
        }
        fn commit(self: Box<Self>) -> Result<(), bongsu_model::storage::StorageError> {
            self.0 .0.lock().extend(self.1);
            Ok(())
        }
        fn rollback(self: Box<Self>) {}
    }
    impl Appendable for Mem {
        fn appender(&self) -> Box<dyn Appender> {
            Box::new(MemApp(self.clone(), Vec::new()))
        }
    }

    fn ctx(yaml: &str, mem: &Mem) -> PoolCtx {
        let cfg = crate::config::load_str(yaml, "t.yml")
            .expect("cfg")
            .scrape_configs[0]
            .clone();
        let http = cfg.http_client();
        PoolCtx {
            client: crate::http::build_client(&http, true).expect("client"),
            http,
            cfg: Arc::new(cfg),
            storage: Arc::new(mem.clone()),
            stats: Arc::default(),
            accept: String::new(),
            offset_seed: 0,
            forced_error: Mutex::new(None),
            oauth2: Default::default(),
        }
    }

    fn target() -> Target {
        let public = Labels::from_pairs([("instance", "h:1"), ("job", "j")]);
        Target {
            labels: public.clone(),
            discovered: public.clone(),
            public,
            url: "http://h:1/metrics".into(),
            interval_ms: 1000,
            timeout_ms: 1000,
        }
    }

    #[test]
    fn label_limit_fails_the_whole_scrape() {
        let mem = Mem::default();
        let c = ctx(
            "scrape_configs:\n  - job_name: j\n    label_limit: 4\n",
            &mem,
        );
        let t = target();
        let mut st = LoopState::default();
        let ok = ingest(&c, &t, &mut st, 1000, 0.1, b"a{x=\"1\"} 1\n", "text/plain");
        assert!(ok.is_ok(), "{ok:?}");
        assert_eq!(st.cache.len(), 1);
        let body = b"a{x=\"1\"} 2\nb{x=\"1\",y=\"2\"} 1\n";
        let e = ingest(&c, &t, &mut st, 2000, 0.1, body, "text/plain").expect_err("limit");
        assert!(
            e.starts_with("label_limit exceeded (metric: b, number of labels: 5, limit: 4)"),
            "{e}"
        );
        // Nothing of the failed body was written; the cache survived.
        assert!(mem.0.lock().iter().all(|(_, t, _)| *t == 1000));
        assert_eq!(st.cache.len(), 1);
        assert_eq!(c.stats.exceeded_label_limits.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn cache_entry_is_32_bytes() {
        assert_eq!(
            std::mem::size_of::<(Key, CacheEntry)>(),
            32,
            "the scrape cache holds one per exposed series"
        );
        let mut e = CacheEntry {
            r: 5,
            seen: 1,
            live: 0,
        };
        e.set_live(3, 2);
        assert_eq!(e.live(), 3);
        e.undo_live(2);
        assert_eq!(e.live(), 0, "was not live in the previous scrape");
        e.set_live(4, 0);
        e.set_live(4, 4);
        e.live = 2;
        e.set_live(3, 2);
        e.undo_live(2);
        assert_eq!(e.live(), 2, "was live in the previous scrape");
    }

    #[test]
    fn cache_and_staleness_across_scrapes() {
        let mem = Mem::default();
        let c = ctx(
            "scrape_configs:\n  - job_name: j\n    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: drop_me\n        action: drop\n",
            &mem,
        );
        let t = target();
        let mut st = LoopState::default();
        ingest(
            &c,
            &t,
            &mut st,
            1000,
            0.1,
            b"a 1\nb 1\ndrop_me 1\n",
            "text/plain",
        )
        .expect("ok");
        assert_eq!(st.cache.len(), 3, "dropped series are cached too");
        ingest(
            &c,
            &t,
            &mut st,
            2000,
            0.1,
            b"a 2\ndrop_me 1\n",
            "text/plain",
        )
        .expect("ok");
        let got = mem.0.lock().clone();
        let at2: Vec<_> = got.iter().filter(|x| x.1 == 2000).collect();
        let b_stale = at2
            .iter()
            .any(|x| x.0.metric_name() == Some("b") && bongsu_model::is_stale_nan(x.2));
        assert!(b_stale, "{at2:?}");
        assert!(got.iter().all(|x| x.0.metric_name() != Some("drop_me")));
        let added = at2
            .iter()
            .find(|x| x.0.metric_name() == Some("scrape_series_added"))
            .map(|x| x.2);
        assert_eq!(added, Some(0.0));
        assert_eq!(
            st.cache.len(),
            2,
            "entries unused in a scrape are forgotten"
        );
    }

    /// A storage that hands out references, recording whether each sample
    /// came by reference or with labels.
    #[derive(Default, Clone)]
    struct RefMem {
        ids: Arc<Mutex<HashMap<Labels, u64>>>,
        by_ref: Arc<Mutex<Vec<Labels>>>,
        out: Arc<Mutex<Vec<RefRec>>>,
    }
    /// A written sample; `true`: it came with labels, not by reference.
    type RefRec = (Labels, i64, f64, bool);
    struct RefApp(RefMem, Vec<RefRec>);
    impl Appender for RefApp {
        fn append(&mut self, l: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
            self.append_ref(0, Some(l), t, v).map(|_| ())
        }
        fn append_ref(
            &mut self,
            r: SeriesRef,
            l: Option<&Labels>,
            t: i64,
            v: f64,
        ) -> Result<SeriesRef, AppendError> {
            if r != 0 {
                let l = self.0.by_ref.lock().get(r as usize - 1).cloned();
                let l = l.ok_or(AppendError::UnknownRef)?;
                self.1.push((l, t, v, false));
                return Ok(r);
            }
            let l = l.ok_or(AppendError::UnknownRef)?.clone();
            let mut ids = self.0.ids.lock();
            let r = *ids.entry(l.clone()).or_insert_with(|| {
                let mut b = self.0.by_ref.lock();
                b.push(l.clone());
                b.len() as u64
            });
            self.1.push((l, t, v, true));
            Ok(r)
        }
        fn commit(self: Box<Self>) -> Result<(), bongsu_model::storage::StorageError> {
            self.0.out.lock().extend(self.1);
            Ok(())
        }
        fn rollback(self: Box<Self>) {}
    }
    impl Appendable for RefMem {
        fn appender(&self) -> Box<dyn Appender> {
            Box::new(RefApp(self.clone(), Vec::new()))
        }
    }

    #[test]
    fn cache_hits_append_by_reference_and_reload_keeps_staleness() {
        let mem = Mem::default();
        let mut c = ctx("scrape_configs:\n  - job_name: j\n", &mem);
        let store = RefMem::default();
        c.storage = Arc::new(store.clone());
        let t = target();
        let mut st = LoopState::default();
        let at = |ts: i64| {
            store
                .out
                .lock()
                .iter()
                .filter(|x| x.1 == ts && !x.0.metric_name().unwrap_or("").starts_with("scrape_"))
                .filter(|x| x.0.metric_name() != Some("up"))
                .cloned()
                .collect::<Vec<_>>()
        };
        let added = |ts: i64| {
            store
                .out
                .lock()
                .iter()
                .find(|x| x.1 == ts && x.0.metric_name() == Some("scrape_series_added"))
                .map(|x| x.2)
        };
        ingest(&c, &t, &mut st, 1000, 0.1, b"a{x=\"1\"} 1\nb 1\n", "text/plain").expect("ok");
        assert!(at(1000).iter().all(|x| x.3), "first scrape appends with labels");
        assert_eq!(added(1000), Some(2.0));
        ingest(&c, &t, &mut st, 2000, 0.1, b"a{x=\"1\"} 2\n", "text/plain").expect("ok");
        let s2 = at(2000);
        assert_eq!(s2.len(), 2, "{s2:?}");
        assert!(s2.iter().all(|x| !x.3), "hits and stale markers go by reference: {s2:?}");
        assert!(s2
            .iter()
            .any(|x| x.0.metric_name() == Some("b") && bongsu_model::is_stale_nan(x.2)));
        assert_eq!(added(2000), Some(0.0));
        // A reload empties the cache but not the live series.
        ingest(&c, &t, &mut st, 3000, 0.1, b"a{x=\"1\"} 3\nb 3\n", "text/plain").expect("ok");
        assert_eq!(added(3000), Some(1.0));
        st.reset_cache();
        assert!(st.cache.is_empty());
        ingest(&c, &t, &mut st, 4000, 0.1, b"a{x=\"1\"} 4\nc 4\n", "text/plain").expect("ok");
        let s4 = at(4000);
        assert!(s4
            .iter()
            .any(|x| x.0.metric_name() == Some("b") && bongsu_model::is_stale_nan(x.2)), "{s4:?}");
        assert!(!s4
            .iter()
            .any(|x| x.0.metric_name() == Some("a") && bongsu_model::is_stale_nan(x.2)), "{s4:?}");
        assert_eq!(added(4000), Some(1.0), "only c is new");
        // A failed scrape marks everything of the last one stale, by reference.
        let e = ingest(&c, &t, &mut st, 5000, 0.1, b"a{x=\"1\"} 5\nbad line here\n", "text/plain");
        assert!(e.is_err());
        write_failure(&c, &t, &mut st, 5000, 0.1);
        let s5 = at(5000);
        assert_eq!(s5.len(), 2, "{s5:?}");
        assert!(s5.iter().all(|x| bongsu_model::is_stale_nan(x.2) && !x.3), "{s5:?}");
    }

    #[test]
    fn honor_labels_and_exported_prefix() {
        let sample =
            Labels::from_pairs([("__name__", "m"), ("job", "inner"), ("exported_job", "x")]);
        let target = Labels::from_pairs([("job", "outer"), ("instance", "h:1")]);
        let honored = mutate_sample_labels(&sample, &target, true, &[]).expect("kept");
        assert_eq!(honored.get("job"), Some("inner"));
        assert_eq!(honored.get("instance"), Some("h:1"));
        let not = mutate_sample_labels(&sample, &target, false, &[]).expect("kept");
        assert_eq!(not.get("job"), Some("outer"));
        assert_eq!(not.get("exported_exported_job"), Some("inner"));
        assert_eq!(not.get("exported_job"), Some("x"));
    }
}
