//! Turning discovered target groups into scrape targets, as Prometheus'
//! `PopulateLabels` does: job / interval / timeout / path / scheme / params
//! defaults, `relabel_configs`, the `instance` default, meta labels removed.

use std::collections::BTreeMap;

use bongsu_model::duration::{format_duration, parse_duration};
use bongsu_model::{Labels, LabelsBuilder};

use crate::config::ScrapeConfig;
use crate::discovery::{TargetGroup, ADDRESS_LABEL};
use crate::relabel;

pub const JOB_LABEL: &str = "job";
pub const INSTANCE_LABEL: &str = "instance";
pub const SCHEME_LABEL: &str = "__scheme__";
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
pub const PARAM_LABEL_PREFIX: &str = "__param_";
pub const META_LABEL_PREFIX: &str = "__meta_";
pub const RESERVED_LABEL_PREFIX: &str = "__";

/// One scrape target after relabelling.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// All labels after relabelling, including `__scheme__` etc.
    pub labels: Labels,
    /// Labels before relabelling (the API's `discoveredLabels`).
    pub discovered: Labels,
    /// Labels without the `__` prefix: attached to every sample.
    pub public: Labels,
    pub url: String,
    pub interval_ms: i64,
    pub timeout_ms: i64,
}

impl Target {
    /// Identity of a target within its pool: public labels and URL.
    pub fn identity(&self) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(&self.public.stable_hash().to_le_bytes());
        h.update(self.url.as_bytes());
        h.digest()
    }
}

/// The outcome of building a target from one discovered label set.
#[derive(Debug)]
pub enum Built {
    Active(Target),
    /// Dropped by relabelling; carries the discovered labels.
    Dropped(Labels),
    /// Invalid (no address, bad interval…): logged and skipped.
    Invalid(Labels, String),
}

/// Builds targets from the groups of a job.
pub fn targets_from_groups(cfg: &ScrapeConfig, groups: &[TargetGroup]) -> Vec<Built> {
    let mut out = Vec::new();
    for g in groups {
        for t in &g.targets {
            let mut lb = LabelsBuilder::new();
            for l in &g.labels {
                lb.set(l.name.to_string(), l.value.to_string());
            }
            for l in t {
                lb.set(l.name.to_string(), l.value.to_string());
            }
            out.push(populate(cfg, lb));
        }
    }
    out
}

fn populate(cfg: &ScrapeConfig, mut lb: LabelsBuilder) -> Built {
    let defaults = [
        (JOB_LABEL, cfg.job_name.clone()),
        (SCRAPE_INTERVAL_LABEL, format_duration(cfg.interval().0)),
        (SCRAPE_TIMEOUT_LABEL, format_duration(cfg.timeout().0)),
        (METRICS_PATH_LABEL, cfg.metrics_path.clone()),
        (SCHEME_LABEL, cfg.scheme.clone()),
    ];
    for (n, v) in defaults {
        if lb.get(n).unwrap_or("").is_empty() {
            lb.set(n, v);
        }
    }
    for (k, v) in &cfg.params {
        let name = format!("{PARAM_LABEL_PREFIX}{k}");
        if let Some(first) = v.first() {
            if lb.get(&name).unwrap_or("").is_empty() {
                lb.set(name, first.clone());
            }
        }
    }
    let discovered = lb.build();
    if !relabel::process_builder(&mut lb, &cfg.relabel_configs) {
        return Built::Dropped(discovered);
    }
    let addr = lb.get(ADDRESS_LABEL).unwrap_or("").to_string();
    if addr.is_empty() {
        return Built::Invalid(discovered, "no address".into());
    }
    if addr.contains('/') {
        return Built::Invalid(discovered, format!("{addr:?} is not a valid hostname"));
    }
    let interval = match parse_duration(lb.get(SCRAPE_INTERVAL_LABEL).unwrap_or("")) {
        Ok(v) if v > 0 => v,
        _ => return Built::Invalid(discovered, "error parsing scrape interval".into()),
    };
    let timeout = match parse_duration(lb.get(SCRAPE_TIMEOUT_LABEL).unwrap_or("")) {
        Ok(v) if v > 0 => v,
        _ => return Built::Invalid(discovered, "error parsing scrape timeout".into()),
    };
    if timeout > interval {
        return Built::Invalid(
            discovered,
            format!(
                "scrape timeout cannot be greater than scrape interval ({:?} > {:?})",
                format_duration(timeout),
                format_duration(interval)
            ),
        );
    }
    lb.retain(|l| !l.name.starts_with(META_LABEL_PREFIX));
    if lb.get(INSTANCE_LABEL).unwrap_or("").is_empty() {
        lb.set(INSTANCE_LABEL, addr.clone());
    }
    let labels = lb.into_labels();
    let url = scrape_url(cfg, &labels, &addr);
    let public = Labels::from_sorted(
        labels
            .iter()
            .filter(|l| !l.name.starts_with(RESERVED_LABEL_PREFIX))
            .cloned()
            .collect(),
    );
    Built::Active(Target {
        labels,
        discovered,
        public,
        url,
        interval_ms: interval,
        timeout_ms: timeout,
    })
}

fn scrape_url(cfg: &ScrapeConfig, labels: &Labels, addr: &str) -> String {
    let scheme = labels.get(SCHEME_LABEL).unwrap_or("http");
    let path = labels.get(METRICS_PATH_LABEL).unwrap_or("/metrics");
    let mut params: BTreeMap<String, Vec<String>> = cfg.params.clone();
    for l in labels {
        if let Some(k) = l.name.strip_prefix(PARAM_LABEL_PREFIX) {
            match params.get_mut(k) {
                Some(v) if !v.is_empty() => v[0] = l.value.to_string(),
                _ => {
                    params.insert(k.to_string(), vec![l.value.to_string()]);
                }
            }
        }
    }
    let scheme = scheme.to_ascii_lowercase();
    let slash = if path.starts_with('/') { "" } else { "/" };
    let mut url = format!("{scheme}://{addr}{slash}{path}");
    if !params.is_empty() {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, vs) in &params {
            for v in vs {
                ser.append_pair(k, v);
            }
        }
        url.push(if path.contains('?') { '&' } else { '?' });
        url.push_str(&ser.finish());
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use crate::discovery::static_groups;

    #[test]
    fn populates_like_prometheus() {
        let c = load_str(
            "scrape_configs:\n  - job_name: node\n    params: {module: [a, b]}\n    static_configs:\n      - targets: ['h1:9100', 'h2:9100']\n        labels: {__meta_x: y, env: prod}\n    relabel_configs:\n      - source_labels: [__address__]\n        regex: 'h2:.*'\n        action: drop\n      - source_labels: [__meta_x]\n        target_label: x\n",
            "p",
        )
        .expect("cfg");
        let sc = &c.scrape_configs[0];
        let built = targets_from_groups(sc, &static_groups(&sc.static_configs));
        assert_eq!(built.len(), 2);
        let Built::Active(t) = &built[0] else {
            panic!("{:?}", built[0])
        };
        assert_eq!(t.url, "http://h1:9100/metrics?module=a&module=b");
        assert_eq!(
            t.public,
            Labels::from_pairs([
                ("env", "prod"),
                ("instance", "h1:9100"),
                ("job", "node"),
                ("x", "y")
            ])
        );
        assert_eq!(t.labels.get("__scrape_interval__"), Some("1m"));
        assert!(t.labels.get("__meta_x").is_none());
        assert_eq!(t.discovered.get("__meta_x"), Some("y"));
        assert!(matches!(&built[1], Built::Dropped(_)));
    }
}
