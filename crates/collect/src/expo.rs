//! A small writer for the Prometheus text exposition format 0.0.4.
//!
//! Collectors add samples to [`Families`]; [`Families::render`] sorts families by
//! name and series by label values (as client_golang does), drops duplicate
//! series and families without samples, and escapes HELP texts and label values.
//! Summaries and histograms (only the textfile collector has them) print like
//! client_golang's text writer: quantiles or buckets, then `_sum` and `_count`,
//! with the `quantile`/`le` label last.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The family types node_exporter's collectors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Gauge,
    Counter,
    Untyped,
    Summary,
    Histogram,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Untyped => "untyped",
            Kind::Summary => "summary",
            Kind::Histogram => "histogram",
        }
    }
}

/// The value of one series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Simple(f64),
    /// `(quantile, value)` pairs, sum and count.
    Summary {
        quantiles: Vec<(f64, f64)>,
        sum: f64,
        count: f64,
    },
    /// `(upper bound, cumulative count)` pairs, sum and count.
    Histogram {
        buckets: Vec<(f64, f64)>,
        sum: f64,
        count: f64,
    },
}

/// One metric family: name, HELP, TYPE, label names and samples.
#[derive(Debug)]
pub(crate) struct Family {
    help: String,
    kind: Kind,
    label_names: Vec<String>,
    samples: Vec<(Vec<String>, Value)>,
}

impl Family {
    /// An empty family, for [`Families::admit`].
    pub(crate) fn new(help: String, kind: Kind, label_names: Vec<String>) -> Family {
        Family {
            help,
            kind,
            label_names,
            samples: Vec::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
    /// Adds one sample. `values` pairs with the family's label names; a
    /// mismatched length is dropped rather than emitted as a broken series.
    pub(crate) fn push<S: AsRef<str>>(&mut self, values: &[S], value: f64) {
        self.push_value(values, Value::Simple(value));
    }

    /// [`Family::push`] for any kind of value.
    pub(crate) fn push_value<S: AsRef<str>>(&mut self, values: &[S], value: Value) {
        if values.len() != self.label_names.len() {
            tracing::debug!(
                "collect: dropped a sample with {} label values for {} label names",
                values.len(),
                self.label_names.len()
            );
            return;
        }
        self.samples.push((
            values.iter().map(|v| v.as_ref().to_string()).collect(),
            value,
        ));
    }
}

/// All families of one exposition, keyed by metric name.
#[derive(Debug, Default)]
pub(crate) struct Families {
    by_name: BTreeMap<String, Family>,
}

impl Families {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The family `name`, created on first use. A later call with the same
    /// name returns the first family unchanged (its HELP, TYPE and labels win).
    pub(crate) fn family(
        &mut self,
        name: &str,
        help: &str,
        kind: Kind,
        label_names: &'static [&'static str],
    ) -> &mut Family {
        self.by_name
            .entry(name.to_string())
            .or_insert_with(|| Family {
                help: help.to_string(),
                kind,
                label_names: label_names.iter().map(|s| s.to_string()).collect(),
                samples: Vec::new(),
            })
    }

    /// [`Families::family`] with label names known only at run time (a
    /// container's own labels). Same first-call-wins rule.
    pub(crate) fn family_dyn(&mut self, name: &str, help: &str, kind: Kind, label_names: &[String]) -> &mut Family {
        self.by_name
            .entry(name.to_string())
            .or_insert_with(|| Family {
                help: help.to_string(),
                kind,
                label_names: label_names.to_vec(),
                samples: Vec::new(),
            })
    }

    /// Shorthand for a family with one unlabelled sample.
    pub(crate) fn single(&mut self, name: &str, help: &str, kind: Kind, value: f64) {
        self.family(name, help, kind, &[]).push::<&str>(&[], value);
    }

    /// Moves every family of `other` into `self`; on a name clash the
    /// family already present keeps its metadata and gains the samples that
    /// fit its label names.
    pub(crate) fn merge(&mut self, other: Families) {
        for (name, fam) in other.by_name {
            match self.by_name.get_mut(&name) {
                Some(existing) if existing.label_names == fam.label_names => {
                    existing.samples.extend(fam.samples);
                }
                Some(_) => {
                    tracing::debug!("collect: family {name} emitted twice with different labels");
                }
                None => {
                    self.by_name.insert(name, fam);
                }
            }
        }
    }

    /// Adds family `name` the way client_golang's registry accepts a
    /// collector's metrics: a family of that name must have the same HELP
    /// and TYPE; a new summary or histogram must not
    /// collide with `_sum`/`_count`/`_bucket` families, nor a new
    /// `x_sum`/`x_count`/`x_bucket` with a summary or histogram `x`.
    /// Duplicate series keep the first (dropped at render). On a clash
    /// nothing is added and the reason is returned.
    pub(crate) fn admit(&mut self, name: &str, fam: Family) -> std::result::Result<(), String> {
        if let Some(existing) = self.by_name.get_mut(name) {
            if existing.help != fam.help {
                return Err(format!("{name} has help {:?} but should have {:?}", fam.help, existing.help));
            }
            if existing.kind != fam.kind {
                return Err(format!("{name} should be a {}", existing.kind.as_str()));
            }
            if existing.label_names == fam.label_names {
                existing.samples.extend(fam.samples);
                return Ok(());
            }
            // client_golang accepts other label names in a family; here the
            // family's names widen to the union, a missing label printing as
            // "" (which Prometheus reads as absent).
            for n in &fam.label_names {
                if !existing.label_names.contains(n) {
                    existing.label_names.push(n.clone());
                }
            }
            let width = existing.label_names.len();
            for (values, _) in existing.samples.iter_mut() {
                values.resize(width, String::new());
            }
            for (values, value) in fam.samples {
                let mut widened = vec![String::new(); width];
                for (n, v) in fam.label_names.iter().zip(values) {
                    if let Some(i) = existing.label_names.iter().position(|e| e == n) {
                        widened[i] = v;
                    }
                }
                existing.samples.push((widened, value));
            }
            return Ok(());
        }
        for suffix in ["_count", "_sum", "_bucket"] {
            if let Some(base) = name.strip_suffix(suffix) {
                match self.by_name.get(base).map(|f| f.kind) {
                    Some(Kind::Summary) if suffix != "_bucket" => {
                        return Err(format!("{name} collides with summary {base}"));
                    }
                    Some(Kind::Histogram) => return Err(format!("{name} collides with histogram {base}")),
                    _ => {}
                }
                break;
            }
        }
        if matches!(fam.kind, Kind::Summary | Kind::Histogram) {
            let mut suffixes = vec!["_count", "_sum"];
            if fam.kind == Kind::Histogram {
                suffixes.push("_bucket");
            }
            for suffix in suffixes {
                if self.by_name.contains_key(&format!("{name}{suffix}")) {
                    return Err(format!("{name} collides with {name}{suffix}"));
                }
            }
        }
        self.by_name.insert(name.to_string(), fam);
        Ok(())
    }

    /// The families, sorted by name.
    pub(crate) fn into_families(self) -> impl Iterator<Item = (String, Family)> {
        self.by_name.into_iter()
    }

    /// Renders the text exposition.
    pub(crate) fn render(mut self) -> String {
        let mut out = String::with_capacity(64 * 1024);
        for (name, fam) in self.by_name.iter_mut() {
            if fam.samples.is_empty() {
                continue;
            }
            // Labels print sorted by name; series sort by those sorted values.
            let mut order: Vec<usize> = (0..fam.label_names.len()).collect();
            order.sort_by_key(|&i| &fam.label_names[i]);
            for (values, _) in fam.samples.iter_mut() {
                let sorted: Vec<String> = order
                    .iter()
                    .map(|&i| std::mem::take(&mut values[i]))
                    .collect();
                *values = sorted;
            }
            let names: Vec<&str> = order.iter().map(|&i| fam.label_names[i].as_str()).collect();
            // Stable sort keeps the first of duplicate series first; dedup keeps it.
            fam.samples.sort_by(|a, b| a.0.cmp(&b.0));
            fam.samples.dedup_by(|b, a| a.0 == b.0);

            let _ = writeln!(out, "# HELP {name} {}", escape_help(&fam.help));
            let _ = writeln!(out, "# TYPE {name} {}", fam.kind.as_str());
            for (values, value) in &fam.samples {
                match value {
                    Value::Simple(v) => sample(&mut out, name, "", &names, values, None, *v),
                    Value::Summary {
                        quantiles,
                        sum,
                        count,
                    } => {
                        let mut quantiles = quantiles.clone();
                        quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
                        for (q, v) in quantiles {
                            sample(&mut out, name, "", &names, values, Some(("quantile", q)), v);
                        }
                        sample(&mut out, name, "_sum", &names, values, None, *sum);
                        sample(&mut out, name, "_count", &names, values, None, *count);
                    }
                    Value::Histogram {
                        buckets,
                        sum,
                        count,
                    } => {
                        let mut buckets = buckets.clone();
                        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                        let inf_seen = buckets.iter().any(|b| b.0 == f64::INFINITY);
                        for (le, v) in buckets {
                            sample(&mut out, name, "_bucket", &names, values, Some(("le", le)), v);
                        }
                        if !inf_seen {
                            sample(&mut out, name, "_bucket", &names, values, Some(("le", f64::INFINITY)), *count);
                        }
                        sample(&mut out, name, "_sum", &names, values, None, *sum);
                        sample(&mut out, name, "_count", &names, values, None, *count);
                    }
                }
            }
        }
        out
    }
}

/// One sample line: `name+suffix{labels…,extra="…"} value`.
fn sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    names: &[&str],
    values: &[String],
    extra: Option<(&str, f64)>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !names.is_empty() || extra.is_some() {
        out.push('{');
        for (i, (ln, lv)) in names.iter().zip(values).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(ln);
            out.push_str("=\"");
            escape_label_value_into(out, lv);
            out.push('"');
        }
        if let Some((ln, lv)) = extra {
            if !names.is_empty() {
                out.push(',');
            }
            out.push_str(ln);
            out.push_str("=\"");
            out.push_str(&bongsu_model::fmt_exposition_float(lv));
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&bongsu_model::fmt_float(value));
    out.push('\n');
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label_value_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sorted_escaped_and_deduplicated() {
        let mut f = Families::new();
        f.single("b_metric", "B.", Kind::Gauge, 1.5);
        let fam = f.family("a_total", "A \\ help\nline.", Kind::Counter, &["z", "a"]);
        fam.push(&["2", "x\"y"], 2.0);
        fam.push(&["1", "q\\\n"], 1.0);
        fam.push(&["1", "q\\\n"], 9.0);
        fam.push(&["only-one"], 3.0);
        f.family("empty", "Nothing.", Kind::Gauge, &[]);
        let text = f.render();
        assert_eq!(
            text,
            "# HELP a_total A \\\\ help\\nline.\n# TYPE a_total counter\n\
             a_total{a=\"q\\\\\\n\",z=\"1\"} 1\n\
             a_total{a=\"x\\\"y\",z=\"2\"} 2\n\
             # HELP b_metric B.\n# TYPE b_metric gauge\nb_metric 1.5\n"
        );
    }

    #[test]
    fn merge_keeps_first_metadata() {
        let mut a = Families::new();
        a.family("m", "First.", Kind::Gauge, &["l"])
            .push(&["1"], 1.0);
        let mut b = Families::new();
        b.family("m", "Second.", Kind::Counter, &["l"])
            .push(&["2"], 2.0);
        b.family("m2", "Other.", Kind::Gauge, &[])
            .push::<&str>(&[], 3.0);
        a.merge(b);
        let text = a.render();
        assert!(text.contains("# HELP m First.\n# TYPE m gauge\nm{l=\"1\"} 1\nm{l=\"2\"} 2\n"));
        assert!(text.contains("m2 3\n"));
    }

    #[test]
    fn admit_follows_client_golang() {
        let mut f = Families::new();
        f.single("node_load1", "1m load average.", Kind::Gauge, 0.5);
        let fam = |help: &str, kind: Kind, labels: &[&str], values: &[&str], v: f64| {
            let mut fam = Family::new(help.into(), kind, labels.iter().map(|s| s.to_string()).collect());
            fam.push(values, v);
            fam
        };
        assert!(f.admit("node_load1", fam("Other.", Kind::Gauge, &[], &[], 9.0)).is_err());
        assert!(f.admit("node_load1", fam("1m load average.", Kind::Counter, &[], &[], 9.0)).is_err());
        // Same HELP and TYPE: accepted; the duplicate series keeps the first value.
        f.admit("node_load1", fam("1m load average.", Kind::Gauge, &[], &[], 9.0)).expect("same metadata");
        f.admit("node_load1", fam("1m load average.", Kind::Gauge, &["host"], &["h"], 7.0)).expect("widened");
        f.admit("h", fam("H.", Kind::Histogram, &[], &[], 0.0)).expect("histogram");
        assert!(f.admit("h_bucket", fam("B.", Kind::Gauge, &[], &[], 1.0)).is_err());
        assert!(f.admit("h_count", fam("C.", Kind::Gauge, &[], &[], 1.0)).is_err());
        f.admit("s_sum", fam("S.", Kind::Gauge, &[], &[], 1.0)).expect("plain family");
        assert!(f.admit("s", fam("Q.", Kind::Summary, &[], &[], 1.0)).is_err());
        f.admit("t", fam("T.", Kind::Summary, &[], &[], 1.0)).expect("summary");
        f.admit("t_bucket", fam("TB.", Kind::Gauge, &[], &[], 1.0)).expect("a summary has no buckets");
        let text = f.render();
        assert!(text.contains("# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1{host=\"\"} 0.5\nnode_load1{host=\"h\"} 7\n"), "{text}");
    }
}
