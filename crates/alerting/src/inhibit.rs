//! Inhibition: a firing alert matching a rule's source matchers mutes the
//! alerts matching its target matchers that have the same values for the
//! rule's `equal` labels (a missing label counts as the empty value).
//!
//! An alert never inhibits itself: when the target alert also matches the
//! source matchers, only source alerts that do *not* match the target
//! matchers may inhibit it (Alertmanager's rule against two-sided matches).
//! The caller passes the alerts that are currently firing (resolved alerts
//! inhibit nothing).

use std::collections::BTreeSet;

use bongsu_model::Labels;

use crate::config::{combined_matchers, InhibitRuleConfig};
use crate::matchers::Matchers;

/// One inhibition rule, ready to evaluate.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    /// Optional name (Alertmanager 0.34), for logs and the UI.
    pub name: String,
    pub source_matchers: Matchers,
    pub target_matchers: Matchers,
    pub equal: BTreeSet<String>,
}

impl InhibitRule {
    /// Builds the rule from its configuration (legacy `*_match` /
    /// `*_match_re` maps and `*_matchers` lists combined).
    pub fn new(cfg: &InhibitRuleConfig) -> InhibitRule {
        InhibitRule {
            name: cfg.name.clone(),
            source_matchers: Matchers(combined_matchers(
                &cfg.source_match,
                &cfg.source_match_re,
                &cfg.source_matchers,
            )),
            target_matchers: Matchers(combined_matchers(
                &cfg.target_match,
                &cfg.target_match_re,
                &cfg.target_matchers,
            )),
            equal: cfg.equal.iter().cloned().collect(),
        }
    }

    fn equal_labels_match(&self, a: &Labels, b: &Labels) -> bool {
        self.equal
            .iter()
            .all(|n| a.get_or_empty(n) == b.get_or_empty(n))
    }

    /// The firing alert (from `firing`) that inhibits `target` under this
    /// rule, if any.
    pub fn inhibits<'a, I>(&self, target: &Labels, firing: I) -> Option<&'a Labels>
    where
        I: IntoIterator<Item = &'a Labels>,
    {
        if !self.target_matchers.matches(target) {
            return None;
        }
        let two_sided = self.source_matchers.matches(target);
        firing.into_iter().find(|source| {
            *source != target
                && self.source_matchers.matches(source)
                && self.equal_labels_match(source, target)
                && !(two_sided && self.target_matchers.matches(source))
        })
    }
}

/// All inhibition rules of a configuration.
#[derive(Debug, Clone, Default)]
pub struct Inhibitor {
    pub rules: Vec<InhibitRule>,
}

impl Inhibitor {
    pub fn new(rules: Vec<InhibitRule>) -> Self {
        Inhibitor { rules }
    }

    /// Is `target` muted by any rule, given the firing alerts? Returns the
    /// rule and the inhibiting alert.
    pub fn mutes<'a>(
        &'a self,
        target: &Labels,
        firing: &'a [Labels],
    ) -> Option<(&'a InhibitRule, &'a Labels)> {
        self.rules
            .iter()
            .find_map(|r| r.inhibits(target, firing.iter()).map(|s| (r, s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p.iter().copied())
    }
    fn rule(yaml: &str) -> InhibitRule {
        let c: InhibitRuleConfig = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
        InhibitRule::new(&c)
    }

    // Alertmanager's TestInhibitRuleHasEqual cases (our own table): the
    // caller passes only unresolved alerts.
    #[test]
    fn equal_labels() {
        // Targets are alerts with t="1"; sources anything else.
        let r = rule("target_match: {t: '1'}\nequal: []\n");
        assert!(r.inhibits(&l(&[("a", "b"), ("t", "1")]), []).is_none());
        let src = l(&[("x", "y")]);
        assert!(r.inhibits(&l(&[("a", "b"), ("t", "1")]), [&src]).is_some());

        let r = rule("target_match: {t: '1'}\nequal: [a]\n");
        let target = l(&[("a", "b"), ("t", "1")]);
        let s = [l(&[("a", "b"), ("c", "f")])];
        assert!(r.inhibits(&target, s.iter()).is_some());
        let s = [l(&[("a", "c"), ("c", "d")]), l(&[("a", "c"), ("c", "f")])];
        assert!(r.inhibits(&target, s.iter()).is_none());
        // a missing equal label equals an empty one
        let s = [l(&[("c", "d")])];
        assert!(r.inhibits(&l(&[("t", "1")]), s.iter()).is_some());
        // with no matchers at all every alert is on both sides: nothing
        // inhibits anything (the two-sided rule)
        let r = rule("equal: []\n");
        assert!(r.inhibits(&l(&[("a", "b")]), [&src]).is_none());
    }

    // Alertmanager's TestInhibitRuleMatches cases (our own table).
    #[test]
    fn two_rules() {
        let ih = Inhibitor::new(vec![
            rule("source_match: {s1: '1'}\ntarget_match: {t1: '1'}\nequal: [e]\n"),
            rule("source_match: {s2: '1'}\ntarget_match: {t2: '1'}\nequal: [e]\n"),
        ]);
        let firing = vec![
            l(&[("s1", "1"), ("t1", "2"), ("e", "1")]),
            l(&[("s2", "1"), ("t2", "1"), ("e", "1")]),
        ];
        for (target, want) in [
            (l(&[("t1", "1"), ("e", "1")]), true),
            (l(&[("t2", "1"), ("e", "1")]), true),
            (l(&[("t1", "1"), ("t3", "1"), ("e", "1")]), true),
            (l(&[("t1", "1"), ("t2", "1"), ("e", "1")]), true),
            (l(&[("t1", "0"), ("e", "1")]), false),
            (l(&[("s1", "1"), ("t1", "1"), ("e", "1")]), true),
            (l(&[("s2", "1"), ("t2", "1"), ("e", "1")]), false),
            (l(&[("t1", "1"), ("e", "0")]), false),
        ] {
            assert_eq!(ih.mutes(&target, &firing).is_some(), want, "{target}");
        }
    }

    #[test]
    fn matcher_forms_and_self() {
        let r = rule(
            "source_matchers: ['severity=\"critical\"']\ntarget_matchers: ['severity=~\"warning|info\"']\nequal: [alertname]\n",
        );
        let crit = l(&[("alertname", "Disk"), ("severity", "critical")]);
        let warn = l(&[("alertname", "Disk"), ("severity", "warning")]);
        let other = l(&[("alertname", "Cpu"), ("severity", "warning")]);
        let firing = [crit.clone(), warn.clone(), other.clone()];
        assert!(r.inhibits(&warn, firing.iter()).is_some());
        assert!(r.inhibits(&other, firing.iter()).is_none());
        assert!(r.inhibits(&crit, firing.iter()).is_none());
        // legacy regex is anchored
        let r = rule("source_match_re: {severity: 'crit'}\ntarget_match: {severity: warning}\n");
        assert!(r.inhibits(&warn, [&crit]).is_none());
        // an alert matching both sides never inhibits itself
        let r = rule("source_match: {a: '1'}\ntarget_match: {a: '1'}\n");
        let x = l(&[("a", "1")]);
        assert!(r.inhibits(&x, [&x]).is_none());
    }
}
