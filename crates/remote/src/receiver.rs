//! The receiver's semantics (`POST /api/v1/write`), as Prometheus' write
//! handler: every sample of a request goes through one appender and is
//! committed at once; the first refused sample (out of order, duplicate
//! timestamp, out of bounds, more than 10 minutes in the future) rolls the
//! whole request back and is answered 400 so the sender drops the batch
//! instead of retrying it forever. Invalid labels are a 400 too, naming the
//! series (Prometheus 3 skips such series and counts them; remote write 1.0
//! says a receiver should refuse them). Stale markers are stored bit-exact.

use crate::codec::{self, DecodeError};
use crate::prompb::{Label, WriteRequest};
use bongsu_model::storage::{AppendError, Appendable};
use bongsu_model::{Labels, METRIC_NAME};
use std::sync::atomic::{AtomicU64, Ordering};

/// Prometheus' `maxAheadTime`: samples further in the future are refused.
pub const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

/// What a request stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub series: usize,
    pub samples: usize,
    /// Native histogram samples and exemplars are not stored (Bongsu keeps
    /// float samples only); they are counted and the rest is accepted.
    pub histograms_ignored: usize,
    pub exemplars_ignored: usize,
}

/// Why a request was refused, with the HTTP status to answer.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("invalid labels in series {series}: {reason}")]
    InvalidLabels { series: String, reason: String },
    #[error("{err} for series {series} at timestamp {t}")]
    Refused { err: AppendError, series: String, t: i64 },
    #[error("storage: {0}")]
    Storage(String),
}

impl WriteError {
    /// 400 for everything the sender must not retry; 500 for a storage
    /// failure (the sender retries).
    pub fn status(&self) -> u16 {
        match self {
            WriteError::Storage(_) => 500,
            _ => 400,
        }
    }
}

/// Receiver counters for `/metrics`.
#[derive(Debug, Default)]
pub struct ReceiverStats {
    pub requests_ok: AtomicU64,
    pub requests_bad: AtomicU64,
    pub requests_failed: AtomicU64,
    pub samples_written: AtomicU64,
    pub samples_refused: AtomicU64,
    pub invalid_label_requests: AtomicU64,
    pub histograms_ignored: AtomicU64,
    pub exemplars_ignored: AtomicU64,
}

/// Decodes a body (snappy + protobuf, capped at [`codec::MAX_DECODED_BYTES`])
/// and writes it; updates `stats`.
pub fn handle(app: &dyn Appendable, body: &[u8], now_ms: i64, stats: &ReceiverStats) -> Result<Written, WriteError> {
    let res = codec::decode(body, codec::MAX_DECODED_BYTES).map_err(WriteError::from).and_then(|req| write(app, &req, now_ms));
    match &res {
        Ok(w) => {
            stats.requests_ok.fetch_add(1, Ordering::Relaxed);
            stats.samples_written.fetch_add(w.samples as u64, Ordering::Relaxed);
            stats.histograms_ignored.fetch_add(w.histograms_ignored as u64, Ordering::Relaxed);
            stats.exemplars_ignored.fetch_add(w.exemplars_ignored as u64, Ordering::Relaxed);
        }
        Err(e) => {
            match e {
                WriteError::Storage(_) => stats.requests_failed.fetch_add(1, Ordering::Relaxed),
                _ => stats.requests_bad.fetch_add(1, Ordering::Relaxed),
            };
            match e {
                WriteError::InvalidLabels { .. } => {
                    stats.invalid_label_requests.fetch_add(1, Ordering::Relaxed);
                }
                WriteError::Refused { .. } => {
                    stats.samples_refused.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    }
    res
}

fn series_text(labels: &[Label]) -> String {
    let parts: Vec<String> = labels.iter().map(|l| format!("{}={:?}", l.name, l.value)).collect();
    format!("{{{}}}", parts.join(", "))
}

/// Checks a series' labels and builds the label set.
pub fn to_labels(labels: &[Label]) -> Result<Labels, WriteError> {
    let bad = |reason: String| WriteError::InvalidLabels { series: series_text(labels), reason };
    let mut names: Vec<&str> = Vec::with_capacity(labels.len());
    for l in labels {
        if l.name.is_empty() {
            return Err(bad("empty label name".into()));
        }
        names.push(&l.name);
    }
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad(format!("duplicate label name {:?}", w[0])));
    }
    match labels.iter().find(|l| l.name == METRIC_NAME) {
        Some(l) if !l.value.is_empty() => {}
        _ => return Err(bad("no metric name (__name__ label)".into())),
    }
    Ok(Labels::from_pairs(labels.iter().map(|l| (l.name.as_str(), l.value.as_str()))))
}

/// Appends every sample of `req` through one appender: all or nothing.
pub fn write(app: &dyn Appendable, req: &WriteRequest, now_ms: i64) -> Result<Written, WriteError> {
    // Labels are checked for the whole request first so a bad series
    // refuses the request before anything is appended.
    let mut sets = Vec::with_capacity(req.timeseries.len());
    for ts in &req.timeseries {
        sets.push(to_labels(&ts.labels)?);
    }
    let max_t = now_ms.saturating_add(MAX_AHEAD_MS);
    let mut a = app.appender();
    let mut w = Written::default();
    for (ts, labels) in req.timeseries.iter().zip(&sets) {
        let mut r = 0;
        for s in &ts.samples {
            let res = if s.timestamp > max_t {
                Err(AppendError::OutOfBounds)
            } else {
                a.append_ref(r, Some(labels), s.timestamp, s.value)
            };
            match res {
                Ok(nr) => r = nr,
                Err(err) => {
                    a.rollback();
                    tracing::error!(err = %err, series = %labels, timestamp = s.timestamp, "Out of order sample from remote write");
                    return Err(WriteError::Refused { err, series: labels.to_string(), t: s.timestamp });
                }
            }
            w.samples += 1;
        }
        w.series += 1;
        w.histograms_ignored += ts.histograms.len();
        w.exemplars_ignored += ts.exemplars.len();
    }
    a.commit().map_err(|e| WriteError::Storage(e.to_string()))?;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompb::{Sample, TimeSeries};
    use bongsu_model::storage::{Appender, SeriesRef, StorageError};
    use parking_lot::Mutex;
    use std::sync::Arc;

    /// A store that refuses out-of-order samples per series, like the head.
    #[derive(Default)]
    struct Store(Arc<Mutex<Vec<(Labels, i64, f64)>>>);

    struct App(Arc<Mutex<Vec<(Labels, i64, f64)>>>, Vec<(Labels, i64, f64)>);

    impl Appendable for Store {
        fn appender(&self) -> Box<dyn Appender> {
            Box::new(App(self.0.clone(), vec![]))
        }
    }

    impl Appender for App {
        fn append(&mut self, l: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
            let last = self.0.lock().iter().chain(&self.1).filter(|x| &x.0 == l).map(|x| x.1).max();
            if last.is_some_and(|lt| t < lt) {
                return Err(AppendError::OutOfOrder);
            }
            self.1.push((l.clone(), t, v));
            Ok(())
        }
        fn append_ref(&mut self, _r: SeriesRef, l: Option<&Labels>, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
            self.append(l.ok_or(AppendError::UnknownRef)?, t, v).map(|_| 0)
        }
        fn commit(self: Box<Self>) -> Result<(), StorageError> {
            self.0.lock().extend(self.1);
            Ok(())
        }
        fn rollback(self: Box<Self>) {}
    }

    fn ts(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            samples: samples.iter().map(|&(t, v)| Sample { timestamp: t, value: v }).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn writes_all_or_nothing() {
        let store = Store::default();
        let ok = WriteRequest { timeseries: vec![ts(&[("__name__", "a"), ("job", "x")], &[(1000, 1.0), (2000, f64::from_bits(bongsu_model::STALE_NAN_BITS))])], metadata: vec![] };
        let w = write(&store, &ok, 10_000).expect("write");
        assert_eq!((w.series, w.samples), (1, 2));
        assert_eq!(store.0.lock()[1].2.to_bits(), bongsu_model::STALE_NAN_BITS);
        // Out of order in the second series: nothing of the request is kept.
        let bad = WriteRequest {
            timeseries: vec![ts(&[("__name__", "b")], &[(1000, 1.0)]), ts(&[("__name__", "a"), ("job", "x")], &[(500, 1.0)])],
            metadata: vec![],
        };
        let e = write(&store, &bad, 10_000).expect_err("refused");
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("out of order sample"), "{e}");
        assert_eq!(store.0.lock().len(), 2);
        // Too far in the future.
        let fut = WriteRequest { timeseries: vec![ts(&[("__name__", "c")], &[(10_000 + MAX_AHEAD_MS + 1, 1.0)])], metadata: vec![] };
        assert!(write(&store, &fut, 10_000).expect_err("future").to_string().contains("out of bounds"));
    }

    #[test]
    fn bad_labels_name_the_problem() {
        let store = Store::default();
        for (labels, want) in [
            (vec![("job", "x")], "no metric name"),
            (vec![("__name__", "a"), ("job", "x"), ("job", "y")], "duplicate label name \"job\""),
            (vec![("__name__", "a"), ("", "y")], "empty label name"),
        ] {
            let r = WriteRequest { timeseries: vec![ts(&labels, &[(1, 1.0)])], metadata: vec![] };
            let e = write(&store, &r, 10).expect_err("bad");
            assert!(e.to_string().contains(want), "{e}");
            assert_eq!(e.status(), 400);
        }
        assert!(store.0.lock().is_empty());
    }
}
