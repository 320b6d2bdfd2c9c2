//! [`LoggingAppendable`]: the `Appendable` the scraper, the rules and the
//! receiver write through. Each commit goes to the append log (for the
//! remote queues) and then to the inner storage (the TSDB in `bongsu run`;
//! nothing in `bongsu agent`), so a commit that returned is in both.
//!
//! In `run` the references handed out are the TSDB's; the log's ids are
//! found from them through a map. A reference the map does not know (the
//! logging was switched on by a reload, or the log forgot an idle series) is
//! answered [`AppendError::UnknownRef`] so the caller supplies the labels
//! again, as it does for a series the head forgot. With no remote queue the
//! inner storage's appender is handed out unchanged: no cost.
//!
//! In `agent` there is no inner storage: the references are the log's ids,
//! and out-of-order samples are refused per series like Prometheus' agent.

use crate::log::Log;
use bongsu_model::storage::{AppendError, Appendable, Appender, SeriesRef, StorageError};
use bongsu_model::Labels;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Hashes a `u64` key with one multiply (keys are sequential ids).
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        let m = (v as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
}

type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Writes every commit to the log, then to the inner storage.
pub struct LoggingAppendable {
    inner: Option<Arc<dyn Appendable>>,
    shared: Arc<Shared>,
    active: AtomicBool,
}

struct Shared {
    log: Arc<Log>,
    /// Inner reference → log id (`run` only).
    refs: RwLock<IdMap<u64>>,
}

impl LoggingAppendable {
    /// `bongsu run`: logging starts switched off ([`Self::set_active`]).
    pub fn over(inner: Arc<dyn Appendable>, log: Arc<Log>) -> Arc<LoggingAppendable> {
        Arc::new(LoggingAppendable {
            inner: Some(inner),
            shared: Arc::new(Shared { log, refs: RwLock::new(IdMap::default()) }),
            active: AtomicBool::new(false),
        })
    }

    /// `bongsu agent`: the log is the only storage.
    pub fn agent(log: Arc<Log>) -> Arc<LoggingAppendable> {
        Arc::new(LoggingAppendable {
            inner: None,
            shared: Arc::new(Shared { log, refs: RwLock::new(IdMap::default()) }),
            active: AtomicBool::new(true),
        })
    }

    pub fn log(&self) -> &Arc<Log> {
        &self.shared.log
    }

    /// Switches logging on (some remote queue exists) or off.
    pub fn set_active(&self, on: bool) {
        if self.inner.is_some() {
            self.active.store(on, Ordering::SeqCst);
            if !on {
                self.shared.refs.write().clear();
            }
        }
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }
}

impl Appendable for LoggingAppendable {
    fn appender(&self) -> Box<dyn Appender> {
        match &self.inner {
            Some(inner) if !self.is_active() => inner.appender(),
            inner => Box::new(TeeAppender {
                inner: inner.as_ref().map(|i| i.appender()),
                shared: self.shared.clone(),
                pending: Vec::new(),
                last: IdMap::default(),
            }),
        }
    }
}

struct TeeAppender {
    inner: Option<Box<dyn Appender>>,
    shared: Arc<Shared>,
    pending: Vec<(u64, i64, f64)>,
    /// Newest timestamp per log id in this batch (agent's order check).
    last: IdMap<i64>,
}

impl TeeAppender {
    /// `run`: the inner storage decides; the log id follows its reference.
    fn append_inner(&mut self, inner_r: SeriesRef, labels: Option<&Labels>, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        let sh = &*self.shared;
        let known = |r: SeriesRef| if r == 0 { None } else { sh.refs.read().get(&r).copied().filter(|&id| sh.log.touch(id)) };
        if labels.is_none() && known(inner_r).is_none() {
            return Err(AppendError::UnknownRef);
        }
        let Some(inner) = self.inner.as_mut() else { return Err(AppendError::UnknownRef) };
        let r = inner.append_ref(inner_r, labels, t, v)?;
        let id = match (known(r), labels) {
            (Some(id), _) => id,
            (None, Some(l)) => {
                let id = sh.log.series_id(l);
                if r != 0 {
                    sh.refs.write().insert(r, id);
                }
                id
            }
            // The inner storage took the sample but the log forgot the
            // series in between: the caller retries with labels (the inner
            // storage accepts the same sample again as a no-op).
            (None, None) => return Err(AppendError::UnknownRef),
        };
        self.pending.push((id, t, v));
        Ok(r)
    }

    /// `agent`: the log is the storage; references are its ids.
    fn append_log(&mut self, r: SeriesRef, labels: Option<&Labels>, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        let log = &self.shared.log;
        let id = if r != 0 && log.touch(r) {
            r
        } else {
            match labels {
                Some(l) => log.series_id(l),
                None => return Err(AppendError::UnknownRef),
            }
        };
        let newest = match self.last.get(&id) {
            Some(&lt) => lt,
            None => log.last_timestamp(id).unwrap_or(i64::MIN),
        };
        if t < newest {
            return Err(AppendError::OutOfOrder);
        }
        self.last.insert(id, t);
        self.pending.push((id, t, v));
        Ok(id)
    }
}

impl Appender for TeeAppender {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
        self.append_ref(0, Some(labels), t, v).map(|_| ())
    }

    fn append_ref(&mut self, r: SeriesRef, labels: Option<&Labels>, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        if self.inner.is_some() {
            self.append_inner(r, labels, t, v)
        } else {
            self.append_log(r, labels, t, v)
        }
    }

    /// The log first: a commit that returned is in the log whatever
    /// happens next, so no acknowledged sample escapes the remotes.
    fn commit(mut self: Box<Self>) -> Result<(), StorageError> {
        let logged = self.shared.log.commit(&self.pending);
        match self.inner.take() {
            Some(inner) => {
                if let Err(e) = logged {
                    inner.rollback();
                    return Err(StorageError::Io(e));
                }
                inner.commit()
            }
            None => logged.map_err(StorageError::Io),
        }
    }

    fn rollback(mut self: Box<Self>) {
        if let Some(inner) = self.inner.take() {
            inner.rollback();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{LogReader, Pos, Record};

    #[test]
    fn agent_refuses_out_of_order_and_logs_commits() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = Log::open(dir.path(), 1 << 20).expect("open");
        let start = log.end();
        let app = LoggingAppendable::agent(log.clone());
        let l = Labels::from_pairs([("__name__", "x")]);
        let mut a = app.appender();
        let r = a.append_ref(0, Some(&l), 1000, 1.0).expect("append");
        assert_ne!(r, 0);
        assert_eq!(a.append_ref(r, None, 500, 1.0), Err(AppendError::OutOfOrder));
        a.commit().expect("commit");
        let mut a = app.appender();
        assert_eq!(a.append_ref(r, None, 999, 1.0), Err(AppendError::OutOfOrder));
        a.append_ref(r, None, 2000, 2.0).expect("append");
        a.rollback();
        let recs = LogReader::new(dir.path(), start).read(log.end(), 1 << 20).expect("read");
        let samples: Vec<_> = recs.into_iter().filter_map(|(r, _)| match r { Record::Samples(s) => Some(s), _ => None }).flatten().collect();
        assert_eq!(samples, vec![(r, 1000, 1.0)]);
        assert!(Pos::default() < log.end());
    }
}
