//! Bongsu's time-series store.
//!
//! Main types: [`Db`] (implements [`bongsu_model::storage::Queryable`] and
//! [`bongsu_model::storage::Appendable`]),
//! [`Options`], [`Stats`], [`TsdbStatus`], [`BlockMeta`] and [`write_block`].
//!
//! Layout under `Options::path`:
//! * `wal/` — write-ahead log segments and the latest checkpoint (module `wal`);
//! * `<ULID>/` — persisted blocks: `meta.json` (Prometheus' fields), `index`,
//!   `chunks/000001…` (per-series `pco` columns or XOR chunks, [`colenc`]),
//!   optional `tombstones.json`;
//! * `lock` — held with `flock` while a [`Db`] is open.
//!
//! The head (module `head`) keeps recent samples in XOR chunks ([`chunkenc`]);
//! [`Db::maintenance`] cuts it into a block once it spans more than 1.5×
//! `block_duration_ms`, checkpoints and truncates the WAL, compacts blocks
//! 3× at a time and applies retention.
//!
//! # Durability contract
//!
//! * A commit ([`bongsu_model::storage::Appender::commit`]) first writes its
//!   WAL records to the operating system with `write(2)` and only then
//!   applies the samples to the head and returns. A crash of the *process*
//!   (panic, `kill -9`, OOM kill) therefore loses nothing that was
//!   acknowledged: the data is in the kernel's page cache and is replayed on
//!   the next [`Db::open`].
//! * The WAL is `fsync`ed every `Options::wal_fsync_interval` (default 1 s)
//!   by a background thread, at each segment switch and on [`Db::close`]. A
//!   crash of the *machine* (power loss, kernel panic) loses at most the
//!   commits of that last interval. `Some(Duration::ZERO)` fsyncs inside
//!   every commit (slow, strict); `None` never fsyncs on a timer.
//! * Blocks, checkpoints, `meta.json` and tombstones are written to a
//!   temporary name, fsynced and renamed into place, so a crash leaves
//!   either the old or the new state. A torn WAL tail is truncated at the
//!   last whole record on replay and counted in
//!   [`Stats::wal_corruptions_total`]; it never stops the store from opening.
//!
//! # Measured (tests/bytes_per_sample.rs)
//!
//! 2 h blocks of node-exporter-like series at 10 s (720 samples each:
//! CPU-seconds counters in 0.01 steps, byte counters, memory in 4 KiB pages,
//! load with two decimals, `up`): 0.81 bytes/sample in block chunks with
//! regular timestamps, 1.23 with ±3 ms scrape jitter; the index adds about
//! 32–37 bytes per series per block, and an opened block keeps about its
//! index file's size in memory. Head chunks are XOR-family while open (1.8
//! bytes/sample on that mix, thanks to decimal deltas; plain Gorilla XOR
//! needs 3.4) and repacked to about 1.1 when sealed (by [`Db::maintenance`]). Head overhead is 360–400 bytes of heap per series
//! with six labels at 100–300 k series (including a 3-sample open chunk). The
//! WAL costs 5–12 bytes per sample (values with trailing zero bytes are
//! shorter). Appends: about 2.6 M samples/s on one core (release build, 1000-sample commits).
//!
//! # Consistency
//!
//! A query sees every commit that returned before it started and none that
//! was still being applied then or started later (isolation as in
//! Prometheus: each series remembers from which time each recent commit
//! wrote to it, for as long as a running query may need to know).
//!
//! The one `unsafe` call is `flock(2)` on the lock file (see `db.rs`).
#![deny(unsafe_code)]

pub mod block;
pub mod chunkenc;
pub mod colenc;
mod db;
mod enc;
mod head;
mod postings;
mod wal;

pub use block::{BlockCompaction, BlockMeta, BlockStats};
pub use db::{write_block, Db};

use bongsu_model::storage::StorageError;
use std::path::PathBuf;
use std::time::Duration;

/// Store options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Data directory (created if missing).
    pub path: PathBuf,
    /// Blocks whose end is older than the newest block's end minus this are
    /// deleted. `None` means the default of 15 days; use `Some(0)` to keep forever.
    pub retention_time_ms: Option<i64>,
    /// Oldest blocks are deleted while blocks plus WAL exceed this.
    pub retention_size_bytes: Option<u64>,
    /// Length of a head block (Prometheus' `--storage.tsdb.min-block-duration`), 2 h.
    pub block_duration_ms: i64,
    /// How often the WAL is fsynced; see the durability contract.
    pub wal_fsync_interval: Option<Duration>,
}

/// 15 days, Prometheus' default retention.
pub const DEFAULT_RETENTION_MS: i64 = 15 * 24 * 3600 * 1000;

impl Default for Options {
    fn default() -> Self {
        Options {
            path: PathBuf::from("data"),
            retention_time_ms: None,
            retention_size_bytes: None,
            block_duration_ms: 2 * 3600 * 1000,
            wal_fsync_interval: Some(Duration::from_secs(1)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TsdbError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("data directory {0} is locked by another process")]
    Locked(PathBuf),
    #[error("the store is closed")]
    Closed,
    /// Head series ids are 32-bit and never reused; all were assigned.
    #[error("no new series: the head has assigned all 2^32 series ids (ids are not reused; restart with an empty WAL to renumber)")]
    SeriesIdsExhausted,
}

impl From<TsdbError> for StorageError {
    fn from(e: TsdbError) -> Self {
        match e {
            TsdbError::Io(e) => StorageError::Io(e),
            other => StorageError::Other(other.to_string()),
        }
    }
}

/// Counters and gauges, named after Prometheus' `prometheus_tsdb_*` metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// `prometheus_tsdb_head_series`
    pub head_series: u64,
    /// `prometheus_tsdb_head_chunks`
    pub head_chunks: u64,
    /// `prometheus_tsdb_head_min_time` (`i64::MAX` when the head is empty)
    pub head_min_time: i64,
    /// `prometheus_tsdb_head_max_time` (`i64::MIN` when the head is empty)
    pub head_max_time: i64,
    /// `prometheus_tsdb_head_samples_appended_total`
    pub samples_appended_total: u64,
    /// `prometheus_tsdb_out_of_order_samples_total`
    pub out_of_order_samples_total: u64,
    /// duplicate sample for timestamp (`prometheus_target_scrapes_sample_duplicate_timestamp_total`)
    pub duplicate_samples_total: u64,
    /// `prometheus_tsdb_out_of_bound_samples_total`
    pub out_of_bounds_samples_total: u64,
    /// `prometheus_tsdb_head_series_created_total`
    pub series_created_total: u64,
    /// `prometheus_tsdb_head_series_removed_total`
    pub series_removed_total: u64,
    /// `prometheus_tsdb_head_truncations_total`
    pub head_truncations_total: u64,
    /// `prometheus_tsdb_wal_storage_size_bytes`
    pub wal_bytes: u64,
    /// `prometheus_tsdb_wal_corruptions_total`
    pub wal_corruptions_total: u64,
    /// `prometheus_tsdb_wal_truncations_total`
    pub wal_truncations_total: u64,
    /// `prometheus_tsdb_checkpoint_creations_total`
    pub checkpoint_creations_total: u64,
    /// `prometheus_tsdb_blocks_loaded`
    pub blocks_loaded: u64,
    /// `prometheus_tsdb_storage_blocks_bytes`
    pub block_bytes: u64,
    /// `prometheus_tsdb_compactions_total`
    pub compactions_total: u64,
    /// `prometheus_tsdb_compactions_failed_total`
    pub compactions_failed_total: u64,
    /// `prometheus_tsdb_time_retentions_total`
    pub time_retentions_total: u64,
    /// `prometheus_tsdb_size_retentions_total`
    pub size_retentions_total: u64,
    /// `prometheus_tsdb_retention_limit_bytes` (0 = none)
    pub retention_limit_bytes: u64,
    /// `prometheus_tsdb_lowest_timestamp` (`i64::MAX` when empty)
    pub lowest_timestamp: i64,
    /// `prometheus_tsdb_symbol_table_size_bytes` (head symbols)
    pub symbol_table_size_bytes: u64,
    /// Blocks rewritten by [`Db::clean_tombstones`]
    pub tombstone_cleanups_total: u64,
    /// `prometheus_tsdb_head_active_appenders`
    pub head_active_appenders: u64,
    /// Bytes of head chunk data, as of the last [`Db::maintenance`].
    pub head_chunk_bytes: u64,
}

/// `headStats` of `/api/v1/status/tsdb`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadStats {
    pub num_series: u64,
    pub num_label_pairs: u64,
    pub chunk_count: u64,
    pub min_time: i64,
    pub max_time: i64,
}

/// The body of `/api/v1/status/tsdb` (head only, as Prometheus): each list is
/// sorted by count descending and cut to `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TsdbStatus {
    pub head_stats: HeadStats,
    pub series_count_by_metric_name: Vec<(String, u64)>,
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
}
