//! [`RemoteStorage`]: the append log, the logging appendable, and the
//! queues of the current `remote_write` configuration; saves positions
//! every second and deletes log segments every queue has sent.

use crate::log::{Log, Pos, DEFAULT_SEGMENT_BYTES};
use crate::queue::{Queue, QueueSettings, QueueStats};
use crate::tee::LoggingAppendable;
use bongsu_model::storage::Appendable;
use bongsu_scrape::config::RemoteWriteConfig;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What `/metrics` shows of one queue.
#[derive(Clone)]
pub struct QueueView {
    pub settings: Arc<QueueSettings>,
    pub stats: Arc<QueueStats>,
}

/// The sender side of remote write.
pub struct RemoteStorage {
    log: Arc<Log>,
    appendable: Arc<LoggingAppendable>,
    queues_dir: PathBuf,
    queues: tokio::sync::Mutex<Vec<Queue>>,
    views: RwLock<Vec<QueueView>>,
    agent: bool,
    /// A configuration was applied: before that, "no queue" means "not yet
    /// known", not "nothing to keep".
    applied: std::sync::atomic::AtomicBool,
    maintenance: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Segment size: `BONGSU_REMOTE_SEGMENT_BYTES` (tests make it small to see
/// truncation), else [`DEFAULT_SEGMENT_BYTES`].
fn segment_bytes() -> u64 {
    std::env::var("BONGSU_REMOTE_SEGMENT_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_SEGMENT_BYTES)
}

impl RemoteStorage {
    /// `bongsu run`: the log in `<dir>/wal`, queue positions in
    /// `<dir>/queues/<name>/`; commits go to the log, then to `tsdb`.
    pub fn open_run(dir: &Path, tsdb: Arc<dyn Appendable>) -> std::io::Result<Arc<RemoteStorage>> {
        let log = Log::open(&dir.join("wal"), segment_bytes())?;
        let appendable = LoggingAppendable::over(tsdb, log.clone());
        Ok(Self::new(log, appendable, dir.join("queues"), false))
    }

    /// `bongsu agent`: the log is the only storage (`<dir>/wal`).
    pub fn open_agent(dir: &Path) -> std::io::Result<Arc<RemoteStorage>> {
        let log = Log::open(&dir.join("wal"), segment_bytes())?;
        let appendable = LoggingAppendable::agent(log.clone());
        Ok(Self::new(log, appendable, dir.join("queues"), true))
    }

    fn new(log: Arc<Log>, appendable: Arc<LoggingAppendable>, queues_dir: PathBuf, agent: bool) -> Arc<RemoteStorage> {
        let rs = Arc::new(RemoteStorage {
            log,
            appendable,
            queues_dir,
            queues: tokio::sync::Mutex::new(Vec::new()),
            views: RwLock::new(Vec::new()),
            agent,
            applied: std::sync::atomic::AtomicBool::new(false),
            maintenance: parking_lot::Mutex::new(None),
        });
        let weak = Arc::downgrade(&rs);
        let h = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(rs) = weak.upgrade() else { return };
                rs.save_and_truncate().await;
            }
        });
        *rs.maintenance.lock() = Some(h);
        rs
    }

    /// Where scrapes, rules and the receiver write.
    pub fn appendable(&self) -> Arc<dyn Appendable> {
        self.appendable.clone()
    }

    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    /// The queues for `/metrics`.
    pub fn views(&self) -> Vec<QueueView> {
        self.views.read().clone()
    }

    /// Checks a `remote_write` section without applying it.
    pub fn check(cfgs: &[RemoteWriteConfig], external: &BTreeMap<String, String>) -> Result<(), String> {
        Self::settings(cfgs, external).map(|_| ())
    }

    fn settings(cfgs: &[RemoteWriteConfig], external: &BTreeMap<String, String>) -> Result<Vec<QueueSettings>, String> {
        let mut want: Vec<QueueSettings> = Vec::new();
        for rw in cfgs {
            let s = QueueSettings::from_config(rw, external)?;
            if want.iter().any(|w| w.dir_name() == s.dir_name()) {
                return Err(format!("two entries named {:?} (set distinct `name`s)", s.name));
            }
            bongsu_scrape::http::build_client(&s.http, false).map_err(|e| format!("{}: {e}", s.url))?;
            want.push(s);
        }
        Ok(want)
    }

    /// Applies the `remote_write` section of a (re)loaded configuration:
    /// unchanged queues keep running, changed ones restart from their saved
    /// position, removed ones stop, new ones start at the log's end. Every
    /// entry is checked before anything changes.
    pub async fn apply(&self, cfgs: &[RemoteWriteConfig], external: &BTreeMap<String, String>) -> Result<(), String> {
        let want = Self::settings(cfgs, external)?;
        let mut queues = self.queues.lock().await;
        let old = std::mem::take(&mut *queues);
        let mut keep = Vec::new();
        for q in old {
            if want.iter().any(|w| w.dir_name() == q.settings.dir_name() && w.fingerprint == q.settings.fingerprint) {
                keep.push(q);
            } else {
                q.stop(Duration::from_secs(1)).await;
            }
        }
        if !want.is_empty() {
            // Log before the first queue reads, so a new queue's start
            // position (the log's end) misses no commit.
            self.appendable.set_active(true);
        }
        for s in want {
            if let Some(i) = keep.iter().position(|q| q.settings.dir_name() == s.dir_name()) {
                queues.push(keep.swap_remove(i));
                continue;
            }
            let dir = self.queues_dir.join(s.dir_name());
            match Queue::start(s, self.log.clone(), &dir) {
                Ok(q) => queues.push(q),
                Err(e) => {
                    tracing::error!(err = %e, "cannot start a remote write queue");
                    return Err(e);
                }
            }
        }
        if queues.is_empty() {
            self.appendable.set_active(false);
        }
        self.applied.store(true, std::sync::atomic::Ordering::SeqCst);
        *self.views.write() = queues.iter().map(|q| QueueView { settings: q.settings.clone(), stats: q.stats.clone() }).collect();
        Ok(())
    }

    pub async fn queue_count(&self) -> usize {
        self.queues.lock().await.len()
    }

    /// Saves every queue's position, then deletes the segments all of them
    /// have passed (by their saved positions: what a restart would resume).
    async fn save_and_truncate(&self) {
        let queues = self.queues.lock().await;
        let mut min: Option<Pos> = None;
        for q in queues.iter() {
            let p = q.save_position();
            min = Some(min.map_or(p, |m| m.min(p)));
        }
        let before = match min {
            Some(p) => p.segment,
            // No queue configured: nothing will read what is there (run
            // mode: logging is off).
            None if !self.agent && self.applied.load(std::sync::atomic::Ordering::SeqCst) => self.log.end().segment,
            None => return,
        };
        drop(queues);
        if before > self.log.first_segment() {
            let log = self.log.clone();
            match tokio::task::spawn_blocking(move || log.truncate_before(before)).await {
                Ok(Ok(n)) if n > 0 => tracing::debug!(segments = n, "remote write log truncated"),
                Ok(Err(e)) => tracing::error!(err = %e, "remote write log truncation failed"),
                _ => {}
            }
        }
    }

    /// Shutdown: queues get `drain` to send what they hold; positions are
    /// saved and the log synced.
    pub async fn stop(&self, drain: Duration) {
        if let Some(h) = self.maintenance.lock().take() {
            h.abort();
        }
        let queues = std::mem::take(&mut *self.queues.lock().await);
        let stops: Vec<_> = queues.into_iter().map(|q| tokio::spawn(q.stop(drain))).collect();
        for s in stops {
            let _ = s.await;
        }
        if let Err(e) = self.log.sync() {
            tracing::error!(err = %e, "remote write log: final fsync failed");
        }
    }
}
