//! Wiring of the rules engine: rule files named by `prometheus.yml`, Go
//! templates from `bongsu-template`, and where alerts go.

use bongsu_rules::file::{ParseOptions, RuleFile, RuleFileErrors};
use bongsu_rules::group::{Notifier, OutgoingAlert};
use bongsu_rules::manager::{Manager, RulesConfig};
pub use bongsu_rules::gotemplates::GoTemplates;
use bongsu_rules::rule::Templater;
use bongsu_scrape::config::Config;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The rule files a configuration names, globs expanded, in order.
pub fn rule_files(cfg: &Config) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for pat in &cfg.rule_files {
        for p in bongsu_scrape::discovery::expand_pattern(pat) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Parses every rule file of `cfg` (with template checks).
pub fn load(cfg: &Config) -> Result<(RulesConfig, Vec<RuleFile>), RuleFileErrors> {
    let files = rule_files(cfg);
    let check = |n: &str, t: &str| GoTemplates.check(n, t);
    let opts = ParseOptions { check_template: Some(&check), ..Default::default() };
    let parsed = Manager::load_files(&files, &opts)?;
    let rc = RulesConfig {
        files,
        evaluation_interval: cfg.global.evaluation_interval.as_millis(),
        query_offset: cfg.global.rule_query_offset.map(|d| d.as_millis()).unwrap_or(0),
        external_labels: cfg.global.external_labels.clone(),
    };
    Ok((rc, parsed))
}

/// Without an Alertmanager, alerts are logged (and visible in the API).
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        for a in alerts {
            let resolved = a.ends_at.is_some_and(|e| e <= bongsu_model::now_ms());
            let labels: BTreeMap<&str, &str> = a.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
            tracing::info!(
                status = if resolved { "resolved" } else { "firing" },
                labels = ?labels,
                starts_at = %bongsu_model::timefmt::rfc3339_ms(a.starts_at),
                "alert"
            );
        }
    }
}

/// Alerts go straight into the built-in Alertmanager, no HTTP hop.
pub struct InProcess(pub std::sync::Arc<bongsu_alerting::dispatch::Alertmanager>);

impl Notifier for InProcess {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        self.0.put(
            alerts
                .into_iter()
                .map(|a| bongsu_alerting::alert::Alert {
                    labels: a.labels,
                    annotations: a.annotations,
                    starts_at: a.starts_at,
                    ends_at: a.ends_at.unwrap_or(0),
                    generator_url: a.generator_url,
                    updated_at: 0,
                    timeout: false,
                })
                .collect(),
        );
    }
}

/// The built-in Alertmanager's configuration when none is given: one
/// receiver with no integrations, so alerts are grouped and visible in the
/// API and the log.
pub const DEFAULT_ALERTMANAGER_YML: &str = "route:\n  receiver: default\n  group_by: ['alertname']\nreceivers:\n  - name: default\n";

/// Reads alertmanager.yml (or the default) and the directory its relative
/// paths are taken from.
pub fn load_alertmanager_config(path: Option<&std::path::Path>) -> Result<(bongsu_alerting::Config, PathBuf), String> {
    Ok(match path {
        Some(p) => (
            bongsu_alerting::Config::load(p).map_err(|e| e.to_string())?,
            p.parent().map(|d| d.to_path_buf()).unwrap_or_default(),
        ),
        None => (
            bongsu_alerting::Config::parse(DEFAULT_ALERTMANAGER_YML, "<embedded alertmanager default>").map_err(|e| e.to_string())?,
            PathBuf::from("."),
        ),
    })
}
