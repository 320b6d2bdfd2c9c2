//! Postings (label name → value → series ids) and matcher evaluation over
//! them, with Prometheus' semantics for matchers that match the empty
//! string (they also select series without the label).
//!
//! The head keeps each list as [`Postings`]: sorted 32-bit ids while the
//! list is short or sparse, a roaring bitmap once that is smaller (series
//! ids are assigned sequentially, so the large lists are dense). Matchers
//! are evaluated on roaring bitmaps.

use bongsu_model::{MatchOp, Matcher};
use roaring::RoaringBitmap;

/// A list this long or longer is checked for conversion to a bitmap each
/// time its length reaches a power of two.
const MIN_BITMAP: usize = 64;

/// One head postings list.
#[derive(Debug, Clone)]
pub(crate) enum Postings {
    /// Sorted, no duplicates; grows by a quarter (lists stop growing at
    /// any size, so doubling would leave up to half of them unused).
    List(Vec<u32>),
    Bitmap(RoaringBitmap),
}

impl Default for Postings {
    fn default() -> Self {
        Postings::List(Vec::new())
    }
}

impl Postings {
    pub fn len(&self) -> u64 {
        match self {
            Postings::List(v) => v.len() as u64,
            Postings::Bitmap(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Postings::List(v) => v.is_empty(),
            Postings::Bitmap(b) => b.is_empty(),
        }
    }

    #[cfg(test)]
    pub fn contains(&self, id: u32) -> bool {
        match self {
            Postings::List(v) => v.binary_search(&id).is_ok(),
            Postings::Bitmap(b) => b.contains(id),
        }
    }

    pub fn add(&mut self, id: u32) {
        let v = match self {
            Postings::Bitmap(b) => {
                b.insert(id);
                return;
            }
            Postings::List(v) => v,
        };
        match v.last() {
            Some(&last) if last >= id => match v.binary_search(&id) {
                Ok(_) => return,
                Err(pos) => {
                    grow(v);
                    v.insert(pos, id);
                }
            },
            _ => {
                grow(v);
                v.push(id);
            }
        }
        if v.len() >= MIN_BITMAP && v.len().is_power_of_two() && bitmap_is_smaller(v) {
            let b = RoaringBitmap::from_sorted_iter(v.iter().copied())
                .unwrap_or_else(|_| v.iter().copied().collect());
            *self = Postings::Bitmap(b);
        }
    }

    /// Removes the ids of `gone` (sorted).
    pub fn remove_sorted(&mut self, gone: &[u32], gone_set: &RoaringBitmap) {
        match self {
            Postings::List(v) => {
                v.retain(|x| gone.binary_search(x).is_err());
                if v.capacity() > v.len() + v.len() / 4 + 4 {
                    v.shrink_to_fit();
                }
            }
            Postings::Bitmap(b) => *b -= gone_set,
        }
    }

    pub fn as_ref(&self) -> PostingsRef<'_> {
        match self {
            Postings::List(v) => PostingsRef::Ids(v),
            Postings::Bitmap(b) => PostingsRef::Bitmap(b),
        }
    }

    /// Heap bytes, approximately (for tests and status).
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        match self {
            Postings::List(v) => v.capacity() * 4,
            Postings::Bitmap(b) => b.serialized_size(),
        }
    }
}

fn grow(v: &mut Vec<u32>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 4).max(1));
    }
}

/// Whether a roaring bitmap of the sorted `ids` takes less memory than the
/// list: about 48 bytes per 2^16-id container plus 2 bytes per id, against 4.
fn bitmap_is_smaller(ids: &[u32]) -> bool {
    let mut containers = 0usize;
    let mut last = None;
    for &id in ids {
        let hi = id >> 16;
        if last != Some(hi) {
            containers += 1;
            last = Some(hi);
        }
    }
    48 * containers + 2 * ids.len() < 4 * ids.len()
}

/// A borrowed postings list as an index hands it out.
pub(crate) enum PostingsRef<'a> {
    /// Sorted ids.
    Ids(&'a [u32]),
    Bitmap(&'a RoaringBitmap),
    /// Sorted ids of a block (always below 2^32: a block numbers its series from 0).
    Wide(&'a [u64]),
}

impl PostingsRef<'_> {
    fn to_bitmap(&self) -> RoaringBitmap {
        match self {
            PostingsRef::Ids(v) => RoaringBitmap::from_sorted_iter(v.iter().copied())
                .unwrap_or_else(|_| v.iter().copied().collect()),
            PostingsRef::Bitmap(b) => (*b).clone(),
            PostingsRef::Wide(v) => {
                let it = v.iter().filter_map(|&x| u32::try_from(x).ok());
                RoaringBitmap::from_sorted_iter(it.clone()).unwrap_or_else(|_| it.collect())
            }
        }
    }

    fn or_into(&self, out: &mut RoaringBitmap) {
        match self {
            PostingsRef::Ids(v) => out.extend(v.iter().copied()),
            PostingsRef::Bitmap(b) => *out |= *b,
            PostingsRef::Wide(v) => out.extend(v.iter().filter_map(|&x| u32::try_from(x).ok())),
        }
    }
}

pub(crate) trait PostingsReader {
    /// All series ids.
    fn all_postings(&self) -> RoaringBitmap;
    /// Calls `f` with the postings of every value of label `name` whose
    /// value satisfies `pred`. When `exact` is given, only those values are
    /// candidates (they still must satisfy `pred`).
    fn for_each_postings(
        &self,
        name: &str,
        exact: Option<&[String]>,
        pred: &dyn Fn(&str) -> bool,
        f: &mut dyn FnMut(PostingsRef<'_>),
    );
    /// Sorted values of label `name`.
    fn label_values(&self, name: &str) -> Vec<String>;
    /// Sorted label names.
    fn label_names(&self) -> Vec<String>;
}

fn union_where(
    ix: &dyn PostingsReader,
    name: &str,
    exact: Option<&[String]>,
    pred: &dyn Fn(&str) -> bool,
) -> RoaringBitmap {
    let mut out: Option<RoaringBitmap> = None;
    ix.for_each_postings(name, exact, pred, &mut |p| match &mut out {
        None => out = Some(p.to_bitmap()),
        Some(o) => p.or_into(o),
    });
    out.unwrap_or_default()
}

/// Sorted ids of series matching all `ms`.
pub(crate) fn select(ix: &dyn PostingsReader, ms: &[Matcher]) -> Vec<u64> {
    let mut result: Option<RoaringBitmap> = None;
    let mut excluded: Vec<RoaringBitmap> = Vec::new();
    // Positive matchers first: they narrow the set cheaply.
    for m in ms.iter().filter(|m| !m.matches_empty()) {
        let p = match m.op {
            MatchOp::Equal => {
                union_where(ix, &m.name, Some(std::slice::from_ref(&m.value)), &|v| {
                    m.matches(v)
                })
            }
            MatchOp::Regex => {
                let set = m.set_matches();
                union_where(ix, &m.name, set.as_deref(), &|v| m.matches(v))
            }
            _ => union_where(ix, &m.name, None, &|v| m.matches(v)),
        };
        result = Some(match result {
            None => p,
            Some(mut r) => {
                r &= p;
                r
            }
        });
        if result.as_ref().is_some_and(|r| r.is_empty()) {
            return Vec::new();
        }
    }
    for m in ms.iter().filter(|m| m.matches_empty()) {
        // Series that have the label with a value the matcher rejects.
        let p = match m.op {
            MatchOp::NotEqual => {
                union_where(ix, &m.name, Some(std::slice::from_ref(&m.value)), &|v| {
                    !m.matches(v)
                })
            }
            MatchOp::NotRegex => {
                let set = Matcher::new(MatchOp::Regex, m.name.clone(), m.value.clone())
                    .ok()
                    .and_then(|r| r.set_matches());
                union_where(ix, &m.name, set.as_deref(), &|v| !m.matches(v))
            }
            _ => union_where(ix, &m.name, None, &|v| !m.matches(v)),
        };
        excluded.push(p);
    }
    let mut r = result.unwrap_or_else(|| ix.all_postings());
    for e in excluded {
        if !e.is_empty() {
            r -= e;
        }
    }
    r.iter().map(u64::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_remove_under_churn_matches_a_set() {
        use std::collections::BTreeSet;
        let mut p = Postings::default();
        let mut model = BTreeSet::new();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u32| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % u64::from(n)) as u32
        };
        let mut base = 0u32;
        for round in 0..40 {
            // mostly ascending ids (as assigned), some out of order (replay)
            for _ in 0..500 {
                let id = if next(10) == 0 {
                    base.saturating_sub(next(1000))
                } else {
                    base += 1 + next(3);
                    base
                };
                p.add(id);
                model.insert(id);
            }
            // churn: drop a random fifth
            let mut gone: Vec<u32> = model.iter().copied().filter(|_| next(5) == 0).collect();
            if round % 7 == 6 {
                gone.extend(model.iter().copied().take(100));
            }
            gone.sort_unstable();
            gone.dedup();
            let set: RoaringBitmap = gone.iter().copied().collect();
            p.remove_sorted(&gone, &set);
            for g in &gone {
                model.remove(g);
            }
            assert_eq!(p.len(), model.len() as u64);
            let got: Vec<u32> = p.as_ref().to_bitmap().iter().collect();
            let want: Vec<u32> = model.iter().copied().collect();
            assert_eq!(got, want, "round {round}");
            assert!(model.iter().take(50).all(|&x| p.contains(x)));
        }
        assert!(matches!(p, Postings::Bitmap(_)), "a dense list becomes a bitmap");
    }

    #[test]
    fn sparse_lists_stay_lists_and_grow_by_a_quarter() {
        // 100 ids spread over 16 containers: a bitmap would be larger.
        let mut p = Postings::default();
        for i in 0..100u32 {
            p.add(i * 10_007);
        }
        assert!(matches!(p, Postings::List(_)));
        assert!(p.heap_bytes() <= 100 * 4 * 5 / 4 + 8, "{}", p.heap_bytes());
        // dense: converted at 64 ids
        let mut d = Postings::default();
        for i in 0..64u32 {
            d.add(i);
        }
        assert!(matches!(d, Postings::Bitmap(_)));
        assert_eq!(d.len(), 64);
    }

    struct Fake(Vec<(&'static str, &'static str, Postings)>);

    impl PostingsReader for Fake {
        fn all_postings(&self) -> RoaringBitmap {
            let mut b = RoaringBitmap::new();
            for (_, _, p) in &self.0 {
                p.as_ref().or_into(&mut b);
            }
            b
        }
        fn for_each_postings(
            &self,
            name: &str,
            exact: Option<&[String]>,
            pred: &dyn Fn(&str) -> bool,
            f: &mut dyn FnMut(PostingsRef<'_>),
        ) {
            for (n, v, p) in &self.0 {
                if *n == name
                    && exact.is_none_or(|e| e.iter().any(|x| x == v))
                    && pred(v)
                {
                    f(p.as_ref());
                }
            }
        }
        fn label_values(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
        fn label_names(&self) -> Vec<String> {
            Vec::new()
        }
    }

    #[test]
    fn select_over_lists_and_bitmaps() {
        let list = |ids: &[u32]| {
            let mut p = Postings::default();
            for &i in ids {
                p.add(i);
            }
            p
        };
        let dense: Vec<u32> = (0..1000).collect();
        let ix = Fake(vec![
            ("job", "a", list(&dense)),
            ("job", "b", list(&[1000, 1001, 70_000])),
            ("x", "1", list(&[5, 1000, 70_000])),
            ("x", "2", list(&[6])),
        ]);
        let eq = |n: &str, v: &str| Matcher::equal(n, v);
        assert_eq!(select(&ix, &[eq("x", "1")]), vec![5, 1000, 70_000]);
        assert_eq!(select(&ix, &[eq("job", "a"), eq("x", "1")]), vec![5]);
        let ne = Matcher::new(MatchOp::NotEqual, "x", "1").unwrap();
        assert_eq!(select(&ix, &[eq("job", "b"), ne.clone()]), vec![1001]);
        let re = Matcher::new(MatchOp::Regex, "x", "1|2").unwrap();
        assert_eq!(select(&ix, &[re]), vec![5, 6, 1000, 70_000]);
        // only an empty-matching matcher: all series minus those with x="1"
        assert_eq!(select(&ix, &[ne]).len(), 1000 + 3 - 3);
        assert!(select(&ix, &[eq("job", "c")]).is_empty());
    }
}
