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
//! - [`timeinterval`]: [`TimeInterval::contains`] with IANA zones (`jiff`).
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

pub mod config;
pub mod inhibit;
pub mod matchers;
pub mod receivers;
pub mod route;
pub mod timeinterval;

pub use config::{Config, ConfigError, Receiver, RouteConfig};
pub use inhibit::{InhibitRule, Inhibitor};
pub use matchers::{parse_matcher, parse_matchers, MatchType, Matcher, MatcherError, Matchers};
pub use route::{Route, RouteOpts};
pub use timeinterval::TimeInterval;
