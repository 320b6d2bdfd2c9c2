//! Label sets, kept sorted by name, as Prometheus' `labels.Labels`.

use std::fmt;

/// A label name or value: a string stored inline up to 24 bytes (nearly
/// every label name and value), so building, cloning and dropping a label
/// set costs no allocation per label (`compact_str`, the size of a
/// `String`). It derefs to `&str`.
pub type LabelStr = compact_str::CompactString;

/// The reserved label holding the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub name: LabelStr,
    pub value: LabelStr,
}

impl Label {
    pub fn new(name: impl Into<LabelStr>, value: impl Into<LabelStr>) -> Self {
        Label { name: name.into(), value: value.into() }
    }
}

/// A label set sorted by name, without duplicate names and without empty
/// values (an empty value means "label absent", as in Prometheus).
///
/// Ordering compares label by label (name, then value), which is the order
/// Prometheus sorts series in API results and matrices.
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Labels(Vec<Label>);

impl Labels {
    pub fn empty() -> Self {
        Labels(Vec::new())
    }

    /// Builds from pairs: sorts, drops empty values; on a repeated name the
    /// last pair wins.
    pub fn from_pairs<I, N, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<LabelStr>,
        V: Into<LabelStr>,
    {
        let mut b = LabelsBuilder::new();
        for (n, v) in pairs {
            b.set(n, v);
        }
        b.build()
    }

    /// Wraps an already sorted, duplicate-free vector (checked in debug builds).
    pub fn from_sorted(v: Vec<Label>) -> Self {
        debug_assert!(v.windows(2).all(|w| w[0].name < w[1].name), "labels not sorted: {v:?}");
        Labels(v)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// Value of `name`, or "" when absent (Prometheus' `labels.Get`).
    pub fn get_or_empty(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// A copy without the metric name.
    pub fn without_metric_name(&self) -> Labels {
        self.without(&[METRIC_NAME])
    }

    /// A copy without the given names.
    pub fn without(&self, names: &[&str]) -> Labels {
        Labels(self.0.iter().filter(|l| !names.contains(&l.name.as_str())).cloned().collect())
    }

    /// The set without the given names (in place, no copy).
    pub fn into_without(mut self, names: &[&str]) -> Labels {
        self.0.retain(|l| !names.contains(&l.name.as_str()));
        self
    }

    /// A copy with only the given names.
    pub fn keep_only(&self, names: &[&str]) -> Labels {
        Labels(self.0.iter().filter(|l| names.contains(&l.name.as_str())).cloned().collect())
    }

    /// Stable 64-bit hash of the label set (xxh3 over name/value bytes with
    /// separators). Stable across processes and versions: usable on disk.
    pub fn stable_hash(&self) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for l in &self.0 {
            h.update(l.name.as_bytes());
            h.update(&[0xff]);
            h.update(l.value.as_bytes());
            h.update(&[0xff]);
        }
        h.digest()
    }

    /// Hash of only the named labels (for `on(...)` / `by(...)` grouping).
    pub fn hash_for(&self, names: &[String]) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for l in &self.0 {
            if names.iter().any(|n| n.as_str() == l.name.as_str()) {
                h.update(l.name.as_bytes());
                h.update(&[0xff]);
                h.update(l.value.as_bytes());
                h.update(&[0xff]);
            }
        }
        h.digest()
    }

    /// Hash of all labels except the named ones (for `ignoring(...)` / `without(...)`).
    pub fn hash_without(&self, names: &[String]) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for l in &self.0 {
            if !names.iter().any(|n| n.as_str() == l.name.as_str()) {
                h.update(l.name.as_bytes());
                h.update(&[0xff]);
                h.update(l.value.as_bytes());
                h.update(&[0xff]);
            }
        }
        h.digest()
    }

    pub fn builder(&self) -> LabelsBuilder {
        LabelsBuilder { labels: self.0.clone() }
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Prints `{a="1", b="2"}` like Prometheus' `Labels.String()` (metric name
/// inside the braces as `__name__`).
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={}", l.name, quote_go(&l.value))?;
        }
        f.write_str("}")
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Quotes a string as Go's `strconv.Quote` does (control characters escaped).
pub fn quote_go(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    quote_go_body(s, &mut out);
    out.push('"');
    out
}

/// [`quote_go`] of a Go string that need not be UTF-8: bytes outside valid
/// UTF-8 are written `\xNN`, as Go's `strconv.Quote` writes them.
pub fn quote_go_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    for chunk in b.utf8_chunks() {
        quote_go_body(chunk.valid(), &mut out);
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out.push('"');
    out
}

fn quote_go_body(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"))
                } else {
                    out.push_str(&format!("\\U{n:08x}"))
                }
            }
            c => out.push(c),
        }
    }
}

/// Mutable label set; `build()` yields sorted [`Labels`] without empty values.
#[derive(Debug, Clone, Default)]
pub struct LabelsBuilder {
    labels: Vec<Label>,
}

impl LabelsBuilder {
    pub fn new() -> Self {
        LabelsBuilder { labels: Vec::new() }
    }

    /// Sets (or replaces) a label. An empty value deletes it.
    pub fn set(&mut self, name: impl Into<LabelStr>, value: impl Into<LabelStr>) -> &mut Self {
        let name = name.into();
        let value = value.into();
        match self.labels.binary_search_by(|l| l.name.as_str().cmp(name.as_str())) {
            Ok(i) => {
                if value.is_empty() {
                    self.labels.remove(i);
                } else {
                    self.labels[i].value = value;
                }
            }
            Err(i) => {
                if !value.is_empty() {
                    self.labels.insert(i, Label { name, value });
                }
            }
        }
        self
    }

    pub fn del(&mut self, name: &str) -> &mut Self {
        if let Ok(i) = self.labels.binary_search_by(|l| l.name.as_str().cmp(name)) {
            self.labels.remove(i);
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.labels[i].value.as_str())
    }

    /// Keeps only the labels for which `f` returns true.
    pub fn retain(&mut self, mut f: impl FnMut(&Label) -> bool) -> &mut Self {
        self.labels.retain(|l| f(l));
        self
    }

    pub fn build(&self) -> Labels {
        Labels(self.labels.clone())
    }

    pub fn into_labels(self) -> Labels {
        Labels(self.labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_deduplicated() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        assert_eq!(l.to_string(), r#"{a="3", b="2"}"#);
        assert_eq!(l.get("a"), Some("3"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn stable_hash_differs_by_boundary() {
        let a = Labels::from_pairs([("ab", "c")]);
        let b = Labels::from_pairs([("a", "bc")]);
        assert_ne!(a.stable_hash(), b.stable_hash());
    }

    #[test]
    fn quote_go_bytes_like_strconv_quote() {
        assert_eq!(quote_go_bytes(b"\xff"), r#""\xff""#);
        assert_eq!(quote_go_bytes(b"a\xc3\n\xe2\x82\xac\x80z"), r#""a\xc3\n€\x80z""#);
        for s in ["", "plain", "tab\t\"q\" é \u{7f}"] {
            assert_eq!(quote_go_bytes(s.as_bytes()), quote_go(s));
        }
    }
}
