//! Matcher evaluation over a postings index (label name → value → sorted
//! series ids), with Prometheus' semantics for matchers that match the empty
//! string (they also select series without the label).

use bongsu_model::{MatchOp, Matcher};

pub(crate) trait PostingsReader {
    /// All series ids, sorted.
    fn all_postings(&self) -> Vec<u64>;
    /// Calls `f` with the sorted postings of every value of label `name`
    /// whose value satisfies `pred`. When `exact` is given, only those values
    /// are candidates (they still must satisfy `pred`).
    fn for_each_postings(
        &self,
        name: &str,
        exact: Option<&[String]>,
        pred: &dyn Fn(&str) -> bool,
        f: &mut dyn FnMut(&[u64]),
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
) -> Vec<u64> {
    let mut lists: Vec<Vec<u64>> = Vec::new();
    ix.for_each_postings(name, exact, pred, &mut |p| lists.push(p.to_vec()));
    match lists.len() {
        0 => Vec::new(),
        1 => lists.pop().unwrap_or_default(),
        _ => {
            let mut all: Vec<u64> = lists.concat();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

pub(crate) fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

pub(crate) fn subtract(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut j = 0;
    let mut out = Vec::with_capacity(a.len());
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j < b.len() && b[j] == x {
            continue;
        }
        out.push(x);
    }
    out
}

/// Sorted ids of series matching all `ms`.
pub(crate) fn select(ix: &dyn PostingsReader, ms: &[Matcher]) -> Vec<u64> {
    let mut result: Option<Vec<u64>> = None;
    let mut excluded: Vec<Vec<u64>> = Vec::new();
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
            Some(r) => intersect(&r, &p),
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
            r = subtract(&r, &e);
        }
    }
    r
}
