//! In-memory [`Queryable`] for tests, the conformance runner and other
//! crates' tests. Series are kept sorted by labels; samples by time.
use bongsu_model::storage::{Queryable, SelectHints, Series, StorageError};
use bongsu_model::{Labels, Matcher, Sample};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// A simple in-memory series store.
#[derive(Debug, Default)]
pub struct MemStore {
    series: Arc<RwLock<BTreeMap<Labels, Vec<Sample>>>>,
}

/// Writes into a [`MemStore`] (rule results in `test rules`); a batch
/// becomes visible at commit. Samples at an existing time replace it.
struct MemAppender {
    series: Arc<RwLock<BTreeMap<Labels, Vec<Sample>>>>,
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
            insert(g.entry(l).or_default(), s);
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

fn insert(samples: &mut Vec<Sample>, s: Sample) {
    match samples.binary_search_by(|x| x.t.cmp(&s.t)) {
        Ok(i) => samples[i].v = s.v,
        Err(i) => samples.insert(i, s),
    }
}

impl MemStore {
    pub fn new() -> Self {
        MemStore::default()
    }

    /// Adds one sample; a sample at an existing timestamp replaces it.
    pub fn add(&self, labels: Labels, t: i64, v: f64) {
        let mut g = match self.series.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        insert(g.entry(labels).or_default(), Sample { t, v });
    }

    /// Replaces all samples of a series.
    pub fn set_series(&self, labels: Labels, mut samples: Vec<Sample>) {
        samples.sort_by_key(|s| s.t);
        samples.dedup_by_key(|s| s.t);
        let mut g = match self.series.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.insert(labels, samples);
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

    fn with<R>(&self, f: impl FnOnce(&BTreeMap<Labels, Vec<Sample>>) -> R) -> R {
        match self.series.read() {
            Ok(g) => f(&g),
            Err(p) => f(&p.into_inner()),
        }
    }
}

fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|m| m.matches(labels.get_or_empty(&m.name)))
}

fn in_range(samples: &[Sample], h: SelectHints) -> &[Sample] {
    let lo = samples.partition_point(|s| s.t < h.mint);
    let hi = samples.partition_point(|s| s.t <= h.maxt);
    if lo >= hi {
        &[]
    } else {
        &samples[lo..hi]
    }
}

impl Queryable for MemStore {
    fn select(&self, hints: SelectHints, matchers: &[Matcher]) -> Result<Vec<Series>, StorageError> {
        Ok(self.with(|m| {
            m.iter()
                .filter(|(l, _)| matches_all(l, matchers))
                .filter_map(|(l, s)| {
                    let r = in_range(s, hints);
                    if r.is_empty() {
                        None
                    } else {
                        Some(Series { labels: l.clone(), samples: r.to_vec() })
                    }
                })
                .collect()
        }))
    }

    fn label_names(&self, hints: SelectHints, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut names: Vec<String> = self.with(|m| {
            m.iter()
                .filter(|(l, s)| matches_all(l, matchers) && !in_range(s, hints).is_empty())
                .flat_map(|(l, _)| l.iter().map(|x| x.name.clone()).collect::<Vec<_>>())
                .collect()
        });
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, hints: SelectHints, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut vals: Vec<String> = self.with(|m| {
            m.iter()
                .filter(|(l, s)| matches_all(l, matchers) && !in_range(s, hints).is_empty())
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
    }
}
