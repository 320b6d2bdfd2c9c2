//! A small writer for the Prometheus text exposition format 0.0.4.
//!
//! Collectors add samples to [`Families`]; [`Families::render`] sorts families by
//! name and series by label values (as client_golang does), drops duplicate
//! series and families without samples, and escapes HELP texts and label values.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The family types node_exporter's collectors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

/// One metric family: name, HELP, TYPE, label names and samples.
#[derive(Debug)]
pub(crate) struct Family {
    help: String,
    kind: Kind,
    label_names: Vec<String>,
    samples: Vec<(Vec<String>, f64)>,
}

impl Family {
    /// Adds one sample. `values` pairs with the family's label names; a
    /// mismatched length is dropped rather than emitted as a broken series.
    pub(crate) fn push<S: AsRef<str>>(&mut self, values: &[S], value: f64) {
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
                label_names: label_names.iter().map(|n| n.to_string()).collect(),
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
                out.push_str(name);
                if !names.is_empty() {
                    out.push('{');
                    for (i, (ln, lv)) in names.iter().zip(values).enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(ln);
                        out.push_str("=\"");
                        escape_label_value_into(&mut out, lv);
                        out.push('"');
                    }
                    out.push('}');
                }
                out.push(' ');
                out.push_str(&bongsu_model::fmt_float(*value));
                out.push('\n');
            }
        }
        out
    }
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
}
