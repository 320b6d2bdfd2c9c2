//! Scraping, as Prometheus does it.
//!
//! - [`config`]: `prometheus.yml`, strict, with Prometheus' defaults and
//!   validation; secrets render as `<secret>` ([`config::to_yaml`]).
//! - [`relabel`]: every relabel action of Prometheus 3.
//! - [`exposition`]: the text 0.0.4 / 1.0.0 and OpenMetrics 1.0 parsers
//!   (whole body or nothing; a [`exposition::SampleSink`] lets the scrape
//!   loop skip building label sets it already knows).
//! - [`discovery`], [`dns`]: static, file, HTTP and DNS service discovery.
//! - [`target`]: discovered labels → targets (`PopulateLabels`).
//! - [`http`]: scrape clients (rustls on `ring`, auth, TLS, proxies).
//! - [`manager`]: [`ScrapeManager`], its pools and loops, staleness markers,
//!   limits and the synthetic series.
#![forbid(unsafe_code)]

pub mod config;
pub mod discovery;
pub mod dns;
pub mod exposition;
pub mod http;
pub mod manager;
pub mod relabel;
pub mod target;

pub use config::{load_file, load_str, to_yaml, Config, ConfigError};
pub use manager::{ScrapeError, ScrapeManager, TargetStatus};
pub use relabel::{process, RelabelConfig};
