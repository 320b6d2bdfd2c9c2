//! Bongsu's built-in blackbox prober: blackbox_exporter's module file
//! (`blackbox.yml`), its `/probe?target=…&module=…` endpoint and the same
//! `probe_*` series, checked against Debian's `prometheus-blackbox-exporter`
//! 0.23 by `crates/bongsu/tests/probe_vs_blackbox.rs`.
//!
//! - [`config`]: the module file, strict (an unknown field is an error with
//!   file:line:column), and the embedded default modules
//!   ([`config::ProbeConfig::embedded`], blackbox_exporter's `blackbox.yml`).
//! - [`handler::probe`]: one `/probe` request — module lookup, the timeout
//!   (module timeout capped by `X-Prometheus-Scrape-Timeout-Seconds` minus
//!   an offset), the prober, `probe_success` / `probe_duration_seconds`, and
//!   the `debug=true` page.
//! - the probers: [`http`], [`tcp`], [`dns`], [`icmp`], [`grpc`]. Each drives
//!   its own connection (hyper's connection-level client, tokio-rustls, our
//!   DNS codec, a socket2 ICMP socket) so it can time every phase the way
//!   blackbox_exporter's `httptrace` hooks do.
//!
//! Series are gathered in a per-probe [`Registry`] that renders like
//! client_golang: families sorted by name, a registered gauge without a value
//! reads 0, a labelled family with no children is absent.
#![forbid(unsafe_code)]

pub mod config;
pub mod dns;
pub mod grpc;
pub mod handler;
pub mod http;
pub mod icmp;
pub mod resolve;
pub mod tcp;
pub mod tls;

use std::collections::BTreeMap;
use std::fmt::Write as _;

pub use config::{ConfigError, Module, ProbeConfig};
pub use handler::{probe, ProbeRequest, ProbeResponse};

/// One family of a probe's output: all probe series are gauges.
#[derive(Debug)]
struct Family {
    help: &'static str,
    label_names: &'static [&'static str],
    /// Label values → value. An unlabelled gauge has one child with no values.
    children: BTreeMap<Vec<String>, f64>,
}

/// The series one probe produces (blackbox_exporter's per-request
/// `prometheus.Registry`).
#[derive(Debug, Default)]
pub struct Registry {
    families: BTreeMap<&'static str, Family>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an unlabelled gauge at 0 (client_golang's `NewGauge` +
    /// `MustRegister`). Registering twice keeps the first.
    pub fn gauge(&mut self, name: &'static str, help: &'static str) {
        self.families.entry(name).or_insert_with(|| {
            let mut children = BTreeMap::new();
            children.insert(Vec::new(), 0.0);
            Family { help, label_names: &[], children }
        });
    }

    /// Registers a labelled family with no children (absent from the
    /// output until a child is created).
    pub fn gauge_vec(&mut self, name: &'static str, help: &'static str, labels: &'static [&'static str]) {
        self.families.entry(name).or_insert_with(|| Family { help, label_names: labels, children: BTreeMap::new() });
    }

    /// Sets an unlabelled gauge (registering it if needed is the caller's job:
    /// an unregistered name is ignored, as a gauge that was never registered
    /// never reaches the output).
    pub fn set(&mut self, name: &str, v: f64) {
        if let Some(f) = self.families.get_mut(name) {
            f.children.insert(Vec::new(), v);
        }
    }

    /// Adds to an unlabelled gauge.
    pub fn add(&mut self, name: &str, v: f64) {
        if let Some(f) = self.families.get_mut(name) {
            *f.children.entry(Vec::new()).or_insert(0.0) += v;
        }
    }

    /// Creates the child `values` (at 0) if missing (`WithLabelValues`).
    pub fn touch(&mut self, name: &str, values: &[&str]) {
        self.child(name, values, |_| {});
    }

    /// Sets the child `values` of a labelled family.
    pub fn set_with(&mut self, name: &str, values: &[&str], v: f64) {
        self.child(name, values, |x| *x = v);
    }

    /// Adds to the child `values` of a labelled family.
    pub fn add_with(&mut self, name: &str, values: &[&str], v: f64) {
        self.child(name, values, |x| *x += v);
    }

    fn child(&mut self, name: &str, values: &[&str], f: impl FnOnce(&mut f64)) {
        if let Some(fam) = self.families.get_mut(name) {
            if fam.label_names.len() != values.len() {
                tracing::debug!(family = name, "probe: label values do not fit the family's label names");
                return;
            }
            let key: Vec<String> = values.iter().map(|s| s.to_string()).collect();
            f(fam.children.entry(key).or_insert(0.0));
        }
    }

    /// The value of an unlabelled gauge, if registered.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.families.get(name).and_then(|f| f.children.get(&Vec::new()).copied())
    }

    /// Renders the text exposition format 0.0.4, as client_golang's
    /// `promhttp` does (families by name, children by label values).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        for (name, fam) in &self.families {
            if fam.children.is_empty() {
                continue;
            }
            let _ = writeln!(out, "# HELP {name} {}", fam.help.replace('\\', "\\\\").replace('\n', "\\n"));
            let _ = writeln!(out, "# TYPE {name} gauge");
            // Children print with labels sorted by name, and sort by those values.
            let mut order: Vec<usize> = (0..fam.label_names.len()).collect();
            order.sort_by_key(|&i| fam.label_names[i]);
            let mut rows: Vec<(Vec<&str>, f64)> = fam
                .children
                .iter()
                .map(|(vals, v)| (order.iter().map(|&i| vals[i].as_str()).collect(), *v))
                .collect();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            for (vals, v) in rows {
                out.push_str(name);
                if !vals.is_empty() {
                    out.push('{');
                    for (k, (&i, val)) in order.iter().zip(&vals).enumerate() {
                        if k > 0 {
                            out.push(',');
                        }
                        out.push_str(fam.label_names[i]);
                        out.push_str("=\"");
                        for c in val.chars() {
                            match c {
                                '\\' => out.push_str("\\\\"),
                                '"' => out.push_str("\\\""),
                                '\n' => out.push_str("\\n"),
                                c => out.push(c),
                            }
                        }
                        out.push('"');
                    }
                    out.push('}');
                }
                out.push(' ');
                out.push_str(&go_float(v));
                out.push('\n');
            }
        }
        out
    }
}

pub use bongsu_model::fmt_exposition_float as go_float;

/// The log of one probe: kept for `debug=true` (logfmt lines, like
/// blackbox_exporter's per-scrape logger) and sent to `tracing` at debug.
#[derive(Debug)]
pub struct ProbeLog {
    module: String,
    target: String,
    lines: String,
}

impl ProbeLog {
    pub fn new(module: &str, target: &str) -> Self {
        ProbeLog { module: module.into(), target: target.into(), lines: String::new() }
    }

    /// One log line: `level`, `msg` and key/value pairs.
    pub fn log(&mut self, level: &str, msg: &str, kv: &[(&str, &dyn std::fmt::Display)]) {
        let ts = jiff::Timestamp::now();
        let _ = write!(
            self.lines,
            "ts={} module={} target={} level={} msg={}",
            ts,
            logfmt_value(&self.module),
            logfmt_value(&self.target),
            level,
            logfmt_value(msg)
        );
        for (k, v) in kv {
            let _ = write!(self.lines, " {}={}", k, logfmt_value(&v.to_string()));
        }
        self.lines.push('\n');
        tracing::debug!(module = %self.module, target = %self.target, level, "{msg}");
    }

    pub fn info(&mut self, msg: &str, kv: &[(&str, &dyn std::fmt::Display)]) {
        self.log("info", msg, kv)
    }

    pub fn error(&mut self, msg: &str, kv: &[(&str, &dyn std::fmt::Display)]) {
        self.log("error", msg, kv)
    }

    pub fn debug(&mut self, msg: &str, kv: &[(&str, &dyn std::fmt::Display)]) {
        self.log("debug", msg, kv)
    }

    /// The lines logged so far.
    pub fn text(&self) -> &str {
        &self.lines
    }
}

fn logfmt_value(v: &str) -> String {
    if !v.is_empty() && !v.chars().any(|c| c == ' ' || c == '=' || c == '"' || c.is_control()) {
        return v.to_string();
    }
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_renders_like_client_golang() {
        let mut r = Registry::new();
        r.gauge("probe_success", "Displays whether or not the probe was a success");
        r.gauge_vec("probe_http_duration_seconds", "Duration of http request by phase, summed over all redirects", &["phase"]);
        r.gauge_vec("probe_tls_version_info", "Returns the TLS version used or NaN when unknown", &["version"]);
        r.touch("probe_http_duration_seconds", &["resolve"]);
        r.add_with("probe_http_duration_seconds", &["connect"], 0.5);
        r.set("probe_success", 1.0);
        r.set("not_registered", 3.0);
        assert_eq!(
            r.render(),
            "# HELP probe_http_duration_seconds Duration of http request by phase, summed over all redirects\n\
             # TYPE probe_http_duration_seconds gauge\n\
             probe_http_duration_seconds{phase=\"connect\"} 0.5\n\
             probe_http_duration_seconds{phase=\"resolve\"} 0\n\
             # HELP probe_success Displays whether or not the probe was a success\n\
             # TYPE probe_success gauge\n\
             probe_success 1\n"
        );
    }

    #[test]
    fn floats_like_go() {
        for (v, want) in [
            (64.0, "64"),
            (3668918509.0, "3.668918509e+09"),
            (8.192e-6, "8.192e-06"),
            (0.000474808, "0.000474808"),
            (-62135596800.0, "-6.21355968e+10"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1.1, "1.1"),
            (-1.0, "-1"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(go_float(v), want);
        }
    }

    #[test]
    fn logfmt_quotes_when_needed() {
        assert_eq!(logfmt_value("abc"), "abc");
        assert_eq!(logfmt_value("a b"), "\"a b\"");
        assert_eq!(logfmt_value(""), "\"\"");
        assert_eq!(logfmt_value("x=\"y\""), "\"x=\\\"y\\\"\"");
    }
}
