//! The routing tree, as Alertmanager's dispatcher walks it.
//!
//! - Matching starts at the root (no matchers, matches everything) and goes
//!   depth-first into the first child whose matchers hold; the deepest
//!   matching node wins, and a node none of whose children match is itself
//!   the result. After a matching child, its siblings are skipped unless the
//!   child has `continue: true`.
//! - Each node starts from its parent's effective options and applies only
//!   what it sets itself (receiver, `group_by`, the three timers); route
//!   `labels` overlay the parent's. Time interval lists are the node's own.
//! - [`Route::key`] is the chain of matcher sets (`{}/{owner="team-A"}`),
//!   [`Route::id`] adds each node's position among its siblings, and
//!   [`Route::group_key`] is `{key}:{group labels}` as in Alertmanager's
//!   aggregation groups.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bongsu_model::{Label, Labels};

use crate::config::RouteConfig;
use crate::matchers::Matchers;
use crate::timeinterval::TimeInterval;

/// A node's effective options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOpts {
    pub receiver: String,
    pub group_by: BTreeSet<String>,
    /// `group_by: ['...']`: every label is a grouping label.
    pub group_by_all: bool,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    /// Route labels (values are templates, rendered per group later).
    pub labels: BTreeMap<String, String>,
    /// Bongsu extension: receiver used when `receiver` keeps failing.
    pub fallback_receiver: Option<String>,
    pub fallback_after: Duration,
    /// Bongsu extension: flap damping (0 = off).
    pub resolve_hold: Duration,
}

impl Default for RouteOpts {
    /// Alertmanager's defaults for the root.
    fn default() -> Self {
        RouteOpts {
            receiver: String::new(),
            group_by: BTreeSet::new(),
            group_by_all: false,
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(5 * 60),
            repeat_interval: Duration::from_secs(4 * 3600),
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
            labels: BTreeMap::new(),
            fallback_receiver: None,
            fallback_after: Duration::from_secs(5 * 60),
            resolve_hold: Duration::ZERO,
        }
    }
}

impl RouteOpts {
    /// Is a notification of this route held back at `now` by its time
    /// intervals? Muted when inside any `mute_time_intervals` entry, or when
    /// `active_time_intervals` is set and `now` is inside none of them
    /// (Alertmanager's time-mute and time-active stages). Unknown names
    /// (impossible after a validated load) count as not containing `now`.
    pub fn muted_at(
        &self,
        intervals: &BTreeMap<String, Vec<TimeInterval>>,
        now: jiff::Timestamp,
    ) -> bool {
        let inside = |name: &String| {
            intervals
                .get(name)
                .is_some_and(|v| v.iter().any(|t| t.contains(now)))
        };
        if self.mute_time_intervals.iter().any(inside) {
            return true;
        }
        !self.active_time_intervals.is_empty() && !self.active_time_intervals.iter().any(inside)
    }
}

/// A node of the routing tree.
#[derive(Debug, Clone)]
pub struct Route {
    pub opts: RouteOpts,
    pub matchers: Matchers,
    pub continue_matching: bool,
    pub routes: Vec<Route>,
    /// Unique in the tree, in `[0, nodes)`, children before parents.
    pub idx: usize,
    key: String,
    id: String,
}

impl Route {
    /// Builds the tree from the root `route:` of a loaded configuration.
    pub fn new(cfg: &RouteConfig) -> Route {
        let mut counter = 0;
        build(cfg, None, &mut counter)
    }

    /// The nodes an alert with these labels is routed to, in tree order.
    /// Empty only when this node's own matchers do not hold (never for the
    /// root).
    pub fn match_routes(&self, labels: &Labels) -> Vec<&Route> {
        if !self.matchers.matches(labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let m = child.match_routes(labels);
            let matched = !m.is_empty();
            all.extend(m);
            if matched && !child.continue_matching {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }

    /// `{}/{owner="team-A"}/{env="testing"}`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The key with each node's sibling position: `{}/{foo="bar"}/0`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Pre-order: the node, then its children left to right.
    pub fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Route)) {
        visit(self);
        for r in &self.routes {
            r.walk(visit);
        }
    }

    /// Number of nodes in this subtree.
    pub fn len(&self) -> usize {
        1 + self.routes.iter().map(Route::len).sum::<usize>()
    }

    /// Never empty (a tree has its root); for clippy's `len` convention.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The labels of an alert that form its group in this route.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        let keep: Vec<Label> = labels
            .iter()
            .filter(|l| self.opts.group_by_all || self.opts.group_by.contains(l.name.as_str()))
            .cloned()
            .collect();
        Labels::from_sorted(keep)
    }

    /// Alertmanager's aggregation group key: `{route key}:{group labels}`,
    /// e.g. `{}/{team="db"}:{alertname="DiskFull", cluster="eu1"}`.
    pub fn group_key(&self, labels: &Labels) -> String {
        format!("{}:{}", self.key, self.group_labels(labels))
    }
}

fn build(
    cfg: &RouteConfig,
    parent: Option<(&RouteOpts, &str, &str, usize)>,
    counter: &mut usize,
) -> Route {
    let mut opts = parent.map(|p| p.0.clone()).unwrap_or_default();
    if !cfg.labels.is_empty() {
        for (k, v) in &cfg.labels {
            opts.labels.insert(k.clone(), v.clone());
        }
    }
    if let Some(r) = &cfg.receiver {
        if !r.value.is_empty() {
            opts.receiver = r.value.clone();
        }
    }
    match &cfg.group_by {
        Some(gb) => {
            opts.group_by = gb.iter().cloned().collect();
            opts.group_by_all = false;
        }
        None => {
            if cfg.group_by_all {
                opts.group_by_all = true;
            }
        }
    }
    if let Some(d) = cfg.group_wait {
        opts.group_wait = d.as_std();
    }
    if let Some(d) = cfg.group_interval {
        opts.group_interval = d.as_std();
    }
    if let Some(d) = cfg.repeat_interval {
        opts.repeat_interval = d.as_std();
    }
    if let Some(f) = &cfg.fallback_receiver {
        opts.fallback_receiver = Some(f.value.clone());
    }
    if let Some(d) = cfg.fallback_after {
        opts.fallback_after = d.as_std();
    }
    if let Some(d) = cfg.resolve_hold {
        opts.resolve_hold = d.as_std();
    }
    opts.mute_time_intervals = cfg
        .mute_time_intervals
        .iter()
        .map(|t| t.value.clone())
        .collect();
    opts.active_time_intervals = cfg
        .active_time_intervals
        .iter()
        .map(|t| t.value.clone())
        .collect();
    let matchers = Matchers(cfg.all_matchers());
    let ms = matchers.to_string();
    let (key, id) = match parent {
        None => (ms.clone(), ms),
        Some((_, pkey, pid, i)) => (format!("{pkey}/{ms}"), format!("{pid}/{ms}/{i}")),
    };
    let mut route = Route {
        opts,
        matchers,
        continue_matching: cfg.continue_matching,
        routes: Vec::new(),
        idx: 0,
        key,
        id,
    };
    let children: Vec<Route> = cfg
        .routes
        .iter()
        .enumerate()
        .map(|(i, c)| build(c, Some((&route.opts, &route.key, &route.id, i)), counter))
        .collect();
    route.routes = children;
    route.idx = *counter;
    *counter += 1;
    route
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(yaml: &str) -> Route {
        let cfg: RouteConfig = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
        Route::new(&cfg)
    }
    fn lset(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }
    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }
    const M: u64 = 60;

    const LEGACY: &str = r#"
receiver: 'notify-def'
routes:
- match:
    owner: 'team-A'
  receiver: 'notify-A'
  routes:
  - match:
      env: 'testing'
    receiver: 'notify-testing'
    group_by: [...]
  - match:
      env: "production"
    receiver: 'notify-productionA'
    group_wait: 1m
    continue: true
  - match_re:
      env: "produ.*"
      job: ".*"
    receiver: 'notify-productionB'
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']
- match_re:
    owner: 'team-(B|C)'
  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: 'notify-BC'
- match:
    group_by: 'role'
  group_by: ['role']
  routes:
  - match:
      env: 'testing'
    receiver: 'notify-testing'
    routes:
    - match:
        wait: 'long'
      group_wait: 2m
"#;

    const NEW: &str = r#"
receiver: 'notify-def'
routes:
- matchers: ['{owner="team-A"}', '{level!="critical"}']
  receiver: 'notify-A'
  routes:
  - matchers: ['{env="testing"}', '{baz!~".*quux"}']
    receiver: 'notify-testing'
    group_by: [...]
  - matchers: ['{env="production"}']
    receiver: 'notify-productionA'
    group_wait: 1m
    continue: true
  - matchers: [ env=~"produ.*", job=~".*"]
    receiver: 'notify-productionB'
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']
- matchers: [owner=~"team-(B|C)"]
  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: 'notify-BC'
- matchers: [group_by="role"]
  group_by: ['role']
  routes:
  - matchers: ['{env="testing"}']
    receiver: 'notify-testing'
    routes:
    - matchers: [wait="long"]
      group_wait: 2m
"#;

    struct Want {
        receiver: &'static str,
        group_by: &'static [&'static str],
        all: bool,
        wait: u64,
        interval: u64,
        repeat: u64,
        key: &'static str,
    }

    fn w(
        receiver: &'static str,
        group_by: &'static [&'static str],
        all: bool,
        wait: u64,
        key: &'static str,
    ) -> Want {
        Want {
            receiver,
            group_by,
            all,
            wait,
            interval: 5 * M,
            repeat: 240 * M,
            key,
        }
    }

    fn check(t: &Route, input: &[(&str, &str)], want: &[Want]) {
        let got = t.match_routes(&lset(input));
        assert_eq!(
            got.len(),
            want.len(),
            "{input:?}: {:?}",
            got.iter().map(|r| r.key()).collect::<Vec<_>>()
        );
        for (r, w) in got.iter().zip(want) {
            assert_eq!(r.opts.receiver, w.receiver, "{input:?}");
            assert_eq!(r.opts.group_by, set(w.group_by), "{input:?}");
            assert_eq!(r.opts.group_by_all, w.all, "{input:?}");
            assert_eq!(r.opts.group_wait, Duration::from_secs(w.wait), "{input:?}");
            assert_eq!(
                r.opts.group_interval,
                Duration::from_secs(w.interval),
                "{input:?}"
            );
            assert_eq!(
                r.opts.repeat_interval,
                Duration::from_secs(w.repeat),
                "{input:?}"
            );
            assert_eq!(r.key(), w.key, "{input:?}");
        }
    }

    // The cases of Alertmanager's TestRouteMatch (our own table).
    #[test]
    fn legacy_match() {
        let t = tree(LEGACY);
        check(
            &t,
            &[("owner", "team-A")],
            &[w("notify-A", &[], false, 30, "{}/{owner=\"team-A\"}")],
        );
        check(
            &t,
            &[("owner", "team-A"), ("env", "unset")],
            &[w("notify-A", &[], false, 30, "{}/{owner=\"team-A\"}")],
        );
        check(
            &t,
            &[("owner", "team-C")],
            &[w(
                "notify-BC",
                &["foo", "bar"],
                false,
                120,
                "{}/{owner=~\"^(?:team-(B|C))$\"}",
            )],
        );
        check(
            &t,
            &[("owner", "team-A"), ("env", "testing")],
            &[w(
                "notify-testing",
                &[],
                true,
                30,
                "{}/{owner=\"team-A\"}/{env=\"testing\"}",
            )],
        );
        check(
            &t,
            &[("owner", "team-A"), ("env", "production")],
            &[
                w(
                    "notify-productionA",
                    &[],
                    false,
                    60,
                    "{}/{owner=\"team-A\"}/{env=\"production\"}",
                ),
                Want {
                    receiver: "notify-productionB",
                    group_by: &["job"],
                    all: false,
                    wait: 30,
                    interval: 5 * M,
                    repeat: 60 * M,
                    key: "{}/{owner=\"team-A\"}/{env=~\"^(?:produ.*)$\",job=~\"^(?:.*)$\"}",
                },
            ],
        );
        check(
            &t,
            &[("group_by", "role")],
            &[w(
                "notify-def",
                &["role"],
                false,
                30,
                "{}/{group_by=\"role\"}",
            )],
        );
        check(
            &t,
            &[("env", "testing"), ("group_by", "role")],
            &[w(
                "notify-testing",
                &["role"],
                false,
                30,
                "{}/{group_by=\"role\"}/{env=\"testing\"}",
            )],
        );
        check(
            &t,
            &[("env", "testing"), ("group_by", "role"), ("wait", "long")],
            &[w(
                "notify-testing",
                &["role"],
                false,
                120,
                "{}/{group_by=\"role\"}/{env=\"testing\"}/{wait=\"long\"}",
            )],
        );
        // No child matches: the root itself.
        check(&t, &[("x", "y")], &[w("notify-def", &[], false, 30, "{}")]);
    }

    // The cases of Alertmanager's TestRouteMatchers: same tree, new syntax.
    #[test]
    fn new_matchers() {
        let t = tree(NEW);
        let a = "{}/{level!=\"critical\",owner=\"team-A\"}";
        check(
            &t,
            &[("owner", "team-A")],
            &[w("notify-A", &[], false, 30, a)],
        );
        check(
            &t,
            &[("owner", "team-A"), ("env", "unset")],
            &[w("notify-A", &[], false, 30, a)],
        );
        // level!="critical" holds when the label is absent, fails when set.
        check(
            &t,
            &[("owner", "team-A"), ("level", "critical")],
            &[w("notify-def", &[], false, 30, "{}")],
        );
        check(
            &t,
            &[("owner", "team-C")],
            &[w(
                "notify-BC",
                &["foo", "bar"],
                false,
                120,
                "{}/{owner=~\"team-(B|C)\"}",
            )],
        );
        check(
            &t,
            &[("owner", "team-A"), ("env", "testing")],
            &[w(
                "notify-testing",
                &[],
                true,
                30,
                "{}/{level!=\"critical\",owner=\"team-A\"}/{baz!~\".*quux\",env=\"testing\"}",
            )],
        );
        check(
            &t,
            &[("owner", "team-A"), ("env", "production")],
            &[
                w(
                    "notify-productionA",
                    &[],
                    false,
                    60,
                    "{}/{level!=\"critical\",owner=\"team-A\"}/{env=\"production\"}",
                ),
                Want {
                    receiver: "notify-productionB",
                    group_by: &["job"],
                    all: false,
                    wait: 30,
                    interval: 5 * M,
                    repeat: 60 * M,
                    key: "{}/{level!=\"critical\",owner=\"team-A\"}/{env=~\"produ.*\",job=~\".*\"}",
                },
            ],
        );
        check(
            &t,
            &[("env", "testing"), ("group_by", "role"), ("wait", "long")],
            &[w(
                "notify-testing",
                &["role"],
                false,
                120,
                "{}/{group_by=\"role\"}/{env=\"testing\"}/{wait=\"long\"}",
            )],
        );
    }

    #[test]
    fn walk_ids_indices() {
        let t = tree(LEGACY);
        let mut got = Vec::new();
        t.walk(&mut |r| got.push(r.opts.receiver.clone()));
        assert_eq!(
            got,
            [
                "notify-def",
                "notify-A",
                "notify-testing",
                "notify-productionA",
                "notify-productionB",
                "notify-BC",
                "notify-def",
                "notify-testing",
                "notify-testing"
            ]
        );
        let n = t.len();
        let mut idx = Vec::new();
        t.walk(&mut |r| idx.push(r.idx));
        assert_eq!(t.idx, n - 1);
        let uniq: BTreeSet<usize> = idx.iter().copied().collect();
        assert_eq!(uniq.len(), n);
        assert!(idx.iter().all(|i| *i < n));

        let t = tree(
            r#"
receiver: default
routes:
- continue: true
  matchers: [foo=bar]
  receiver: test1
  routes:
  - matchers: [bar=baz]
- continue: true
  matchers: [foo=bar]
  receiver: test1
  routes:
  - matchers: [bar=baz]
- continue: true
  matchers: [foo=bar]
  receiver: test2
  routes:
  - matchers: [bar=baz]
- continue: true
  matchers: [bar=baz]
  receiver: test3
  routes:
  - matchers: [baz=qux]
  - matchers: [qux=corge]
- continue: true
  matchers: ['qux=~"[a-zA-Z0-9]+"']
- continue: true
  matchers: ['corge!~"[0-9]+"']
"#,
        );
        let mut ids = Vec::new();
        t.walk(&mut |r| ids.push(r.id().to_string()));
        assert_eq!(
            ids,
            [
                "{}",
                "{}/{foo=\"bar\"}/0",
                "{}/{foo=\"bar\"}/0/{bar=\"baz\"}/0",
                "{}/{foo=\"bar\"}/1",
                "{}/{foo=\"bar\"}/1/{bar=\"baz\"}/0",
                "{}/{foo=\"bar\"}/2",
                "{}/{foo=\"bar\"}/2/{bar=\"baz\"}/0",
                "{}/{bar=\"baz\"}/3",
                "{}/{bar=\"baz\"}/3/{baz=\"qux\"}/0",
                "{}/{bar=\"baz\"}/3/{qux=\"corge\"}/1",
                "{}/{qux=~\"[a-zA-Z0-9]+\"}/4",
                "{}/{corge!~\"[0-9]+\"}/5",
            ]
        );
    }

    #[test]
    fn group_by_all_inheritance_and_labels() {
        let t = tree(
            r#"
routes:
- match:
    env: 'parent'
  group_by: ['...']
  routes:
  - match:
      env: 'child1'
  - match:
      env: 'child2'
    group_by: ['foo']
"#,
        );
        let p = &t.routes[0];
        assert!(p.opts.group_by_all);
        assert!(p.routes[0].opts.group_by_all);
        assert!(!p.routes[1].opts.group_by_all);

        let t = tree(
            r#"
receiver: "notify-def"
routes:
  - matchers: ['{owner="team-A"}', '{level!="critical"}']
    labels:
      team: "team-A"
    receiver: "notify-A"
    routes:
      - matchers: ['{env="testing"}', '{baz!~".*quux"}']
        labels:
          team: "team-A-testing"
      - matchers: ['{env="production"}']
        labels:
          severity: "production"
  - matchers: ['{owner="team-B"}']
    receiver: "notify-B"
"#,
        );
        let labels = |input: &[(&str, &str)]| {
            let r = t.match_routes(&lset(input));
            assert_eq!(r.len(), 1);
            r[0].opts.labels.clone()
        };
        let bm = |v: &[(&str, &str)]| -> BTreeMap<String, String> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(labels(&[("owner", "team-A")]), bm(&[("team", "team-A")]));
        assert_eq!(
            labels(&[("owner", "team-A"), ("env", "testing")]),
            bm(&[("team", "team-A-testing")])
        );
        assert_eq!(
            labels(&[("owner", "team-A"), ("env", "production")]),
            bm(&[("team", "team-A"), ("severity", "production")])
        );
        assert_eq!(
            labels(&[("owner", "team-B"), ("env", "production")]),
            bm(&[])
        );
    }

    #[test]
    fn time_interval_muting() {
        let cfg = crate::Config::parse(
            r#"
route:
  receiver: a
  routes:
    - matchers: [team=night]
      mute_time_intervals: [offhours]
    - matchers: [team=day]
      active_time_intervals: [offhours, weekend]
    - matchers: [team=none]
      receiver: a
time_intervals:
  - name: offhours
    time_intervals:
      - times: [{start_time: '00:00', end_time: '08:00'}]
        location: Europe/Berlin
mute_time_intervals:
  - name: weekend
    time_intervals:
      - weekdays: [saturday, sunday]
receivers:
  - name: a
"#,
            "am.yml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let t = cfg.route_tree();
        let iv = cfg.time_intervals_by_name();
        let at = |s: &str| -> jiff::Timestamp { s.parse().unwrap_or_else(|e| panic!("{e}")) };
        let route = |team: &str| t.match_routes(&lset(&[("team", team)]))[0].opts.clone();
        // 06:30 UTC on a Wednesday in January is 07:30 in Berlin.
        let early = at("2024-01-17T06:30:00Z");
        let noon = at("2024-01-17T11:00:00Z");
        let sat = at("2024-01-20T11:00:00Z");
        assert!(route("night").muted_at(&iv, early));
        assert!(!route("night").muted_at(&iv, noon));
        assert!(!route("day").muted_at(&iv, early));
        assert!(route("day").muted_at(&iv, noon));
        assert!(!route("day").muted_at(&iv, sat));
        assert!(!route("none").muted_at(&iv, early));
        // intervals are the route's own, not inherited
        assert!(t.opts.mute_time_intervals.is_empty());
    }

    #[test]
    fn group_keys() {
        let t = tree(LEGACY);
        let l = lset(&[
            ("owner", "team-C"),
            ("foo", "1"),
            ("bar", "2"),
            ("baz", "3"),
        ]);
        let r = t.match_routes(&l)[0];
        assert_eq!(
            r.group_key(&l),
            "{}/{owner=~\"^(?:team-(B|C))$\"}:{bar=\"2\", foo=\"1\"}"
        );
        let l = lset(&[("owner", "team-A"), ("env", "testing")]);
        let r = t.match_routes(&l)[0];
        assert_eq!(
            r.group_key(&l),
            "{}/{owner=\"team-A\"}/{env=\"testing\"}:{env=\"testing\", owner=\"team-A\"}"
        );
        let l = lset(&[("x", "y")]);
        assert_eq!(t.match_routes(&l)[0].group_key(&l), "{}:{}");
    }
}
