//! The configuration and routing core of Bongsu's built-in Alertmanager.
//!
//! - [`config`]: `alertmanager.yml` as Alertmanager 0.34 reads it —
//!   [`Config::load`] / [`Config::parse`] → [`Config`], or a [`ConfigError`]
//!   with file:line:column. Every receiver kind of Alertmanager 0.34 is read
//!   with its defaults and checks ([`receivers`]); global settings are
//!   inherited as Alertmanager does.
//! - [`matchers`]: [`Matcher`] / [`Matchers`], the UTF-8 matcher parser with
//!   the classic fallback (`{a="b", c=~"d"}`, `a=b`).
//! - [`route`]: the routing tree, [`Route::match_routes`] with `continue`
//!   and inherited options, route keys and ids, group keys.
//! - [`inhibit`]: [`InhibitRule::inhibits`] over the firing alerts.
//! - [`timeinterval`]: [`TimeInterval::contains`] with IANA zones (`jiff`);
//!   [`RouteOpts::muted_at`] applies a route's mute/active intervals.
//! - [`alert`], [`dispatch`], [`notify`], [`silence`]: the running
//!   Alertmanager — alerts, aggregation groups and their timers, the
//!   notification pipeline with its log, integrations, silences.
//! - [`Config::to_yaml`] renders the loaded configuration with secrets as
//!   `<secret>` (for the status API and `check config`).
//!
//! Where Bongsu reads a file differently from the Go code, on purpose:
//!
//! - Label names in `group_by`, route `labels` and `equal` follow the 0.34
//!   binary's default mode (any non-empty UTF-8 name), not the classic rule
//!   Alertmanager's unit tests run under. `match:` keys keep the classic rule,
//!   as in Alertmanager.
//! - Inhibition looks at every firing source alert; Alertmanager 0.34 keeps
//!   one indexed source per `equal` value set, which can differ when several
//!   sources share those values and only some also match the target side.
//! - Days of month are counted on the civil calendar (Alertmanager 0.34
//!   counted hours, which a DST change skews; fixed after 0.34).
//! - Errors carry file:line:column; unknown fields are reported as
//!   ``unknown field `x`, expected one of …`` instead of yaml.v2's wording.
//!   Go regexp error texts differ (ours come from the `regex` crate).
//! - Template strings are not syntax-checked at load yet (the template
//!   engine lives in `bongsu-template`).
//!
//! ```
//! use bongsu_alerting::Config;
//! use bongsu_model::Labels;
//!
//! let cfg = Config::parse(
//!     "route:\n  receiver: ops\n  routes:\n    - matchers: [team=\"db\"]\n      receiver: db\n\
//!      receivers:\n  - name: ops\n  - name: db\n",
//!     "alertmanager.yml",
//! ).unwrap();
//! let tree = cfg.route_tree();
//! let alert = Labels::from_pairs([("alertname", "DiskFull"), ("team", "db")]);
//! let routes = tree.match_routes(&alert);
//! assert_eq!(routes[0].opts.receiver, "db");
//! assert_eq!(routes[0].group_key(&alert), "{}/{team=\"db\"}:{}");
//! ```
#![forbid(unsafe_code)]

pub mod alert;
pub mod config;
pub mod dispatch;
pub mod inhibit;
pub mod matchers;
pub mod notify;
pub mod receivers;
pub mod route;
pub mod silence;
pub mod timeinterval;

pub use config::{Config, ConfigError, Receiver, RouteConfig};
pub use inhibit::{InhibitRule, Inhibitor};
pub use matchers::{parse_matcher, parse_matchers, MatchType, Matcher, MatcherError, Matchers};
pub use route::{Route, RouteOpts};
pub use timeinterval::TimeInterval;
