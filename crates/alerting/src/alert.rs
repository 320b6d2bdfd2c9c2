//! Alerts as Alertmanager holds them (`types.Alert`): identified by the
//! fingerprint of their labels, resolved once `ends_at` has passed.
//! Times are Unix milliseconds; `0` is Go's zero time.

use bongsu_model::Labels;

/// One alert instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub labels: Labels,
    pub annotations: Labels,
    pub starts_at: i64,
    pub ends_at: i64,
    pub generator_url: String,
    pub updated_at: i64,
    /// `ends_at` was not given and was set to now + `resolve_timeout`.
    pub timeout: bool,
}

impl Alert {
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }

    /// Resolved at `now`: it has an end and the end has passed.
    pub fn resolved_at(&self, now: i64) -> bool {
        self.ends_at != 0 && self.ends_at <= now
    }

    /// Merges a newer report of the same alert (Alertmanager's `Merge`):
    /// the earliest start of overlapping reports is kept.
    pub fn merge(&self, newer: &Alert, now: i64) -> Alert {
        let mut out = newer.clone();
        let overlaps = !self.resolved_at(now) || newer.starts_at <= self.ends_at;
        if overlaps && self.starts_at != 0 && self.starts_at < newer.starts_at {
            out.starts_at = self.starts_at;
        }
        // A resolved report does not un-resolve, a timeout-based end is
        // superseded by an explicit one.
        if !newer.timeout && self.timeout {
            out.ends_at = newer.ends_at;
        }
        out
    }
}

/// Alertmanager's label-set fingerprint: FNV-1a 64 over sorted names and
/// values, each followed by the 0xff separator.
pub fn fingerprint(labels: &Labels) -> u64 {
    const OFFSET: u64 = 14695981039346656037;
    const PRIME: u64 = 1099511628211;
    let mut h = OFFSET;
    let mut add = |b: &[u8]| {
        for &x in b {
            h ^= u64::from(x);
            h = h.wrapping_mul(PRIME);
        }
    };
    for l in labels.iter() {
        add(l.name.as_bytes());
        add(&[0xff]);
        add(l.value.as_bytes());
        add(&[0xff]);
    }
    h
}

/// `%016x`, as Alertmanager prints fingerprints.
pub fn fingerprint_hex(fp: u64) -> String {
    format!("{fp:016x}")
}

/// Go's `strfmt.DateTime` form (`2006-01-02T15:04:05.000Z`) used by the
/// v2 API; `0` is Go's zero time.
pub fn api_time(ms: i64) -> String {
    if ms == 0 {
        return "0001-01-01T00:00:00.000Z".into();
    }
    let s = bongsu_model::timefmt::rfc3339_nano(ms.div_euclid(1000), 0);
    format!("{}.{:03}Z", s.trim_end_matches('Z'), ms.rem_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_alertmanager() {
        // Values from prometheus/common's signature tests.
        assert_eq!(fingerprint(&Labels::empty()), 14695981039346656037);
        let l = Labels::from_pairs([("name", "garland, briggs"), ("fear", "love is not enough")]);
        assert_eq!(fingerprint(&l), 5799056148416392346);
        assert_eq!(api_time(1_435_781_451_781), "2015-07-01T20:10:51.781Z");
        assert_eq!(api_time(1_435_781_451_000), "2015-07-01T20:10:51.000Z");
    }
}
