//! The storage seams: [`Queryable`] (read) and [`Appender`] (write).
//!
//! `tsdb` implements both; `promql` evaluates over a `Queryable`; `scrape`
//! and `rules` write through an `Appender`. Keeping the traits here lets those
//! crates build and test without each other.

use crate::{Labels, Matcher, Sample};

/// One selected series with its samples in `[mint, maxt]`, ascending by time.
/// Staleness markers are included as [`crate::STALE_NAN`].
///
/// `st` is the optional start-timestamp column (Prometheus' "ST", a.k.a.
/// created timestamp): when present it has one entry per sample, the
/// sample's start time in ms, `0` where that sample has none (Prometheus'
/// convention). `None` means no sample of the selection has one — the case
/// of every series today, so series without start timestamps cost nothing
/// beyond the empty `Option`, and readers that do not use them never look.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<Sample>,
    pub st: Option<Vec<i64>>,
}

impl Series {
    /// A series without start timestamps.
    pub fn new(labels: Labels, samples: Vec<Sample>) -> Self {
        Series { labels, samples, st: None }
    }

    /// The start timestamp of sample `i` (`0`: unknown).
    pub fn st_at(&self, i: usize) -> i64 {
        self.st.as_ref().and_then(|s| s.get(i).copied()).unwrap_or(0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("query would load more than {limit} samples")]
    TooManySamples { limit: usize },
    #[error("{0}")]
    Other(String),
}

/// Hints for a select: the inclusive time range the caller will read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectHints {
    pub mint: i64,
    pub maxt: i64,
}

/// Read access to stored series.
pub trait Queryable: Send + Sync {
    /// Series matching all `matchers` that have at least one sample in
    /// `[hints.mint, hints.maxt]`, sorted by labels, with those samples.
    fn select(&self, hints: SelectHints, matchers: &[Matcher]) -> Result<Vec<Series>, StorageError>;

    /// Label sets of the series matching `matchers` with samples in range
    /// (no samples loaded), sorted.
    fn series(&self, hints: SelectHints, matchers: &[Matcher]) -> Result<Vec<Labels>, StorageError> {
        Ok(self.select(hints, matchers)?.into_iter().map(|s| s.labels).collect())
    }

    /// Sorted distinct label names of matching series (all series when
    /// `matchers` is empty).
    fn label_names(&self, hints: SelectHints, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;

    /// Sorted distinct values of label `name` over matching series.
    fn label_values(&self, name: &str, hints: SelectHints, matchers: &[Matcher])
        -> Result<Vec<String>, StorageError>;
}

/// Why a single sample was refused. Counted by the caller the way
/// Prometheus counts them (`prometheus_target_scrapes_sample_out_of_order_total` …).
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    #[error("out of order sample")]
    OutOfOrder,
    #[error("duplicate sample for timestamp")]
    DuplicateTimestamp,
    #[error("out of bounds")]
    OutOfBounds,
    /// [`Appender::append_ref`] was given a ref the storage does not know
    /// (never issued, or the series was garbage-collected) and no labels.
    #[error("unknown series reference")]
    UnknownRef,
}

/// A storage's handle for a series, returned by [`Appender::append_ref`] so
/// later appends skip hashing and looking up the labels (Prometheus'
/// `storage.SeriesRef`). `0` means "no reference".
pub type SeriesRef = u64;

/// A batch of samples committed at once (one scrape, one rule evaluation).
pub trait Appender: Send {
    /// Adds one sample. Returns an error for a refused sample; the batch
    /// stays usable and other samples are unaffected.
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError>;
    /// Adds one sample by series reference: with a non-zero `r` the storage
    /// may skip the labels entirely; with `r == 0` or an unknown `r` it uses
    /// `labels` (and fails with [`AppendError::UnknownRef`] without them).
    /// Returns the series' reference for later appends, or `0` when this
    /// storage does not hand out references (the caller then keeps passing
    /// labels). The default supports no references.
    fn append_ref(
        &mut self,
        r: SeriesRef,
        labels: Option<&Labels>,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        let _ = r;
        match labels {
            Some(l) => self.append(l, t, v).map(|()| 0),
            None => Err(AppendError::UnknownRef),
        }
    }
    /// Makes the batch durable (per the WAL contract) and visible.
    fn commit(self: Box<Self>) -> Result<(), StorageError>;
    /// Drops the batch.
    fn rollback(self: Box<Self>);
}

/// Something that hands out appenders.
pub trait Appendable: Send + Sync {
    fn appender(&self) -> Box<dyn Appender>;
}
