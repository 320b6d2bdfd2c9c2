//! Scraping: `prometheus.yml` ([`config`]), relabelling ([`relabel`]), the
//! text and OpenMetrics parsers ([`exposition`]), service discovery
//! ([`discovery`]) and the scrape loops with staleness ([`manager`]).
//!
//! Main types: [`config::Config`], [`relabel::RelabelConfig`],
//! [`exposition::Exposition`], [`manager::ScrapeManager`].
#![forbid(unsafe_code)]

pub mod config;
pub mod relabel;

pub use config::{load_file, load_str, to_yaml, Config, ConfigError};
pub use relabel::{process, RelabelConfig};
pub mod discovery;
pub mod dns;
pub mod exposition;
pub mod http;
pub mod manager;
pub mod target;

pub use manager::{ScrapeError, ScrapeManager, TargetStatus};
