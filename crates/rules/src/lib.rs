//! Prometheus rule files and their evaluation.
//!
//! * [`file`]: rule files read strictly and validated with Prometheus'
//!   messages ([`file::parse_rules`], [`file::RuleFile`]).
//! * [`rule`]: one recording or alerting [`rule::Rule`] with its alert state
//!   machine (pending → firing → resolved, `for`, `keep_firing_for`).
//! * [`group`]: a [`group::Group`] evaluates its rules in order, stores the
//!   results with staleness markers and hands due alerts to a
//!   [`group::Notifier`].
//! * [`manager`]: the [`manager::Manager`] runs groups on timers, reloads
//!   with state carried over, restores `for` state after a restart and
//!   renders `/api/v1/rules` and `/api/v1/alerts`.
//! * [`unittest`]: `promtool test rules` files.
//!
//! Templates are a seam ([`rule::Templater`]); [`gotemplates::GoTemplates`]
//! fills it with `bongsu-template`.

pub mod file;
pub mod gotemplates;
pub mod group;
pub mod manager;
pub mod rule;
pub mod unittest;
