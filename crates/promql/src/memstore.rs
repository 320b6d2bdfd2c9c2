//! In-memory [`Queryable`] for tests, the conformance runner and other
//! crates' tests. Series are kept sorted by labels; samples by time. A
//! series gets a start-timestamp column only once a sample with a start
//! timestamp is added ([`MemStore::add_with_st`]).
use bongsu_model::storage::{Queryable, SelectHints, Series, StorageError};
use bongsu_model::{Labels, Matcher, Sample};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// A simple in-memory series store.
#[derive(Debug, Default)]
pub struct MemStore {
    series: Arc<RwLock<BTreeMap<Labels, MemSeries>>>,
}

/// One series: samples by time and, when any sample has one, the start
/// timestamps aligned with them (`0`: none).
#[derive(Debug, Default)]
struct MemSeries {
    samples: Vec<Sample>,
    st: Option<Vec<i64>>,
}

/// Writes into a [`MemStore`] (rule results in `test rules`); a batch
/// becomes visible at commit. Samples at an existing time replace it.
struct MemAppender {
    series: Arc<RwLock<BTreeMap<Labels, MemSeries>>>,
    batch: Vec<(Labels, Sample)>,
}

impl bongsu_model::storage::Appender for MemAppender {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), bongsu_model::storage::AppendError> {
        self.batch.push((labels.clone(), Sample { t, v }));
        Ok(())
    }
    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        let mut g = match self.series.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for (l, s) in self.batch {
            insert(g.entry(l).or_default(), s, 0);
        }
        Ok(())
    }
    fn rollback(self: Box<Self>) {}
}

impl bongsu_model::storage::Appendable for MemStore {
    fn appender(&self) -> Box<dyn bongsu_model::storage::Appender> {
        Box::new(MemAppender { series: self.series.clone(), batch: Vec::new() })
    }
}

/// Adds `s` with start timestamp `st` (`0`: none); a sample at an
/// existing time replaces it, start timestamp included.
fn insert(m: &mut MemSeries, s: Sample, st: i64) {
    if st != 0 && m.st.is_none() {
        m.st = Some(vec![0; m.samples.len()]);
    }
    match m.samples.binary_search_by(|x| x.t.cmp(&s.t)) {
        Ok(i) => {
            m.samples[i].v = s.v;
            if let Some(c) = m.st.as_mut() {
                c[i] = st;
            }
        }
        Err(i) => {
            m.samples.insert(i, s);
            if let Some(c) = m.st.as_mut() {
                c.insert(i, st);
            }
        }
    }
}

impl MemStore {
    pub fn new() -> Self {
        MemStore::default()
    }

    /// Adds one sample; a sample at an existing timestamp replaces it.
    pub fn add(&self, labels: Labels, t: i64, v: f64) {
        self.add_with_st(labels, 0, t, v);
    }

    /// Adds one sample with its start timestamp `st` in ms (`0`: none, as in
    /// Prometheus' `AppenderV2`); a sample at an existing timestamp replaces it.
    pub fn add_with_st(&self, labels: Labels, st: i64, t: i64, v: f64) {
        let mut g = match self.series.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        insert(g.entry(labels).or_default(), Sample { t, v }, st);
    }

    /// Replaces all samples of a series.
    pub fn set_series(&self, labels: Labels, mut samples: Vec<Sample>) {
        samples.sort_by_key(|s| s.t);
        samples.dedup_by_key(|s| s.t);
        let mut g = match self.series.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.insert(labels, MemSeries { samples, st: None });
    }

    /// Deletes everything.
    pub fn clear(&self) {
        let mut g = match self.series.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.clear();
    }

    /// Number of series held.
    pub fn num_series(&self) -> usize {
        match self.series.read() {
            Ok(g) => g.len(),
            Err(p) => p.into_inner().len(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&BTreeMap<Labels, MemSeries>) -> R) -> R {
        match self.series.read() {
            Ok(g) => f(&g),
            Err(p) => f(&p.into_inner()),
        }
    }
}

fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|m| m.matches(labels.get_or_empty(&m.name)))
}

/// The index range of the samples in `[h.mint, h.maxt]`.
fn in_range(samples: &[Sample], h: SelectHints) -> std::ops::Range<usize> {
    let lo = samples.partition_point(|s| s.t < h.mint);
    let hi = samples.partition_point(|s| s.t <= h.maxt);
    lo..hi.max(lo)
}

impl Queryable for MemStore {
    fn select(&self, hints: SelectHints, matchers: &[Matcher]) -> Result<Vec<Series>, StorageError> {
        Ok(self.with(|m| {
            m.iter()
                .filter(|(l, _)| matches_all(l, matchers))
                .filter_map(|(l, s)| {
                    let r = in_range(&s.samples, hints);
                    if r.is_empty() {
                        return None;
                    }
                    // The column only when a selected sample has a start timestamp.
                    let st = s.st.as_ref().map(|c| &c[r.clone()]).filter(|c| c.iter().any(|x| *x != 0)).map(<[i64]>::to_vec);
                    Some(Series { labels: l.clone(), samples: s.samples[r].to_vec(), st })
                })
                .collect()
        }))
    }

    fn label_names(&self, hints: SelectHints, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut names: Vec<String> = self.with(|m| {
            m.iter()
                .filter(|(l, s)| matches_all(l, matchers) && !in_range(&s.samples, hints).is_empty())
                .flat_map(|(l, _)| l.iter().map(|x| x.name.to_string()).collect::<Vec<_>>())
                .collect()
        });
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, hints: SelectHints, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut vals: Vec<String> = self.with(|m| {
            m.iter()
                .filter(|(l, s)| matches_all(l, matchers) && !in_range(&s.samples, hints).is_empty())
                .filter_map(|(l, _)| l.get(name).map(str::to_string))
                .collect()
        });
        vals.sort();
        vals.dedup();
        Ok(vals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_inclusive_range() {
        let s = MemStore::new();
        let l = Labels::from_pairs([("__name__", "a")]);
        for t in 0..5 {
            s.add(l.clone(), t * 10, t as f64);
        }
        let r = s.select(SelectHints { mint: 10, maxt: 30 }, &[Matcher::equal("__name__", "a")]).unwrap_or_default();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].samples.len(), 3);
        assert!(s.select(SelectHints { mint: 100, maxt: 200 }, &[]).unwrap_or_default().is_empty());
        assert!(r[0].st.is_none());
    }

    #[test]
    fn start_timestamps_column() {
        let s = MemStore::new();
        let l = Labels::from_pairs([("__name__", "a")]);
        s.add(l.clone(), 10, 1.0);
        s.add_with_st(l.clone(), 15, 20, 2.0);
        s.add(l.clone(), 30, 3.0);
        s.add_with_st(l.clone(), 1, 5, 0.5);
        let all = s.select(SelectHints { mint: 0, maxt: 100 }, &[]).unwrap_or_default();
        assert_eq!(all[0].samples.iter().map(|p| p.t).collect::<Vec<_>>(), vec![5, 10, 20, 30]);
        assert_eq!(all[0].st, Some(vec![1, 0, 15, 0]));
        assert_eq!(all[0].st_at(2), 15);
        // No selected sample has one: no column.
        let tail = s.select(SelectHints { mint: 25, maxt: 100 }, &[]).unwrap_or_default();
        assert!(tail[0].st.is_none());
        // A sample without a start timestamp replaces one with it.
        s.add(l, 20, 2.5);
        let all = s.select(SelectHints { mint: 10, maxt: 20 }, &[]).unwrap_or_default();
        assert!(all[0].st.is_none());
    }
}
