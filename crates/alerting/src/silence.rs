//! Silences (`silence/`): matchers that mute alerts for a time window,
//! with Alertmanager's validation, states and update rules, persisted to a
//! JSON snapshot that is written (and fsynced) before a change is
//! acknowledged.

use crate::matchers::{MatchType, Matcher};
use bongsu_model::Labels;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceMatcher {
    pub name: String,
    pub value: String,
    #[serde(rename = "isRegex")]
    pub is_regex: bool,
    #[serde(rename = "isEqual", default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl SilenceMatcher {
    pub fn to_matcher(&self) -> Result<Matcher, String> {
        let t = match (self.is_regex, self.is_equal) {
            (false, true) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regexp,
            (true, false) => MatchType::NotRegexp,
        };
        Matcher::new(t, &self.name, &self.value).map_err(|e| e.0)
    }
}

/// One silence. Times are Unix ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<SilenceMatcher>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub updated_at: i64,
    pub created_by: String,
    pub comment: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    pub fn state(&self, now: i64) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// Does it silence an alert with these labels (ignoring time)?
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matchers.iter().all(|m| m.to_matcher().map(|m| m.matches_labels(labels)).unwrap_or(false))
    }

    /// Alertmanager's `validateSilence`, with the field named in the error.
    pub fn validate(&self) -> Result<(), String> {
        if self.matchers.is_empty() {
            return Err("matchers: at least one matcher required".into());
        }
        let mut all_empty = true;
        for (i, m) in self.matchers.iter().enumerate() {
            if m.name.is_empty() {
                return Err(format!("matchers[{i}].name: invalid label name \"\""));
            }
            let matcher = m.to_matcher().map_err(|e| format!("matchers[{i}]: {e}"))?;
            if !matcher.matches("") {
                all_empty = false;
            }
        }
        if all_empty {
            return Err("matchers: at least one matcher must not match the empty string".into());
        }
        if self.starts_at == 0 {
            return Err("startsAt: missing start time".into());
        }
        if self.ends_at == 0 {
            return Err("endsAt: missing end time".into());
        }
        if self.ends_at < self.starts_at {
            return Err("endsAt: end time must not be before start time".into());
        }
        Ok(())
    }
}

/// The silences of one Alertmanager.
pub struct Silences {
    path: Option<PathBuf>,
    /// Expired silences are kept this long (ms), then forgotten.
    retention: i64,
    inner: Mutex<Vec<Silence>>,
}

fn new_id() -> String {
    let mut b = [0u8; 16];
    for (i, x) in b.iter_mut().enumerate() {
        *x = rand::random::<u8>().wrapping_add(i as u8);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

impl Silences {
    /// Opens (or starts) the snapshot at `path`; `None` keeps them in memory only.
    pub fn open(path: Option<PathBuf>, retention: i64) -> Result<Silences, String> {
        let list = match &path {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?
            }
            _ => Vec::new(),
        };
        Ok(Silences { path, retention, inner: Mutex::new(list) })
    }

    fn persist(&self, list: &[Silence]) -> Result<(), String> {
        let Some(p) = &self.path else { return Ok(()) };
        crate::persist::write_json(p, list)
    }

    /// Creates or updates a silence; returns its id. An update that changes
    /// matchers or start of an active silence expires it and makes a new one,
    /// as Alertmanager does.
    pub fn set(&self, mut s: Silence, now: i64) -> Result<String, String> {
        s.validate()?;
        let mut list = self.inner.lock();
        if !s.id.is_empty() {
            let Some(pos) = list.iter().position(|x| x.id == s.id) else {
                return Err(format!("id: silence {} not found", s.id));
            };
            let old = list[pos].clone();
            let state = old.state(now);
            let in_place = match state {
                SilenceState::Expired => false,
                SilenceState::Pending => true,
                SilenceState::Active => old.matchers == s.matchers && old.starts_at == s.starts_at && s.ends_at >= now,
            };
            if in_place {
                s.updated_at = now;
                list[pos] = s.clone();
                self.persist(&list)?;
                return Ok(s.id);
            }
            if state != SilenceState::Expired {
                let o = &mut list[pos];
                o.ends_at = now;
                o.updated_at = now;
            }
        }
        if s.ends_at <= now {
            return Err("endsAt: end time can't be in the past".into());
        }
        s.id = new_id();
        if s.starts_at < now {
            s.starts_at = now;
        }
        s.updated_at = now;
        list.push(s.clone());
        self.persist(&list)?;
        Ok(s.id)
    }

    /// Expires a silence now.
    pub fn expire(&self, id: &str, now: i64) -> Result<(), String> {
        let mut list = self.inner.lock();
        let Some(s) = list.iter_mut().find(|s| s.id == id) else {
            return Err(format!("silence {id} not found"));
        };
        match s.state(now) {
            SilenceState::Expired => return Err(format!("silence {id} already expired")),
            SilenceState::Pending => {
                s.starts_at = now;
                s.ends_at = now;
            }
            SilenceState::Active => s.ends_at = now,
        }
        s.updated_at = now;
        self.persist(&list)
    }

    pub fn get(&self, id: &str) -> Option<Silence> {
        self.inner.lock().iter().find(|s| s.id == id).cloned()
    }

    pub fn list(&self) -> Vec<Silence> {
        self.inner.lock().clone()
    }

    /// Ids of the active silences that mute these labels.
    pub fn silenced_by(&self, labels: &Labels, now: i64) -> Vec<String> {
        self.inner
            .lock()
            .iter()
            .filter(|s| s.state(now) == SilenceState::Active && s.matches(labels))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Forgets silences expired longer than the retention.
    pub fn gc(&self, now: i64) {
        let mut list = self.inner.lock();
        let before = list.len();
        list.retain(|s| s.ends_at + self.retention > now);
        if list.len() != before {
            let _ = self.persist(&list);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sil(m: &[(&str, &str, bool, bool)], start: i64, end: i64) -> Silence {
        Silence {
            id: String::new(),
            matchers: m
                .iter()
                .map(|(n, v, r, e)| SilenceMatcher { name: n.to_string(), value: v.to_string(), is_regex: *r, is_equal: *e })
                .collect(),
            starts_at: start,
            ends_at: end,
            updated_at: 0,
            created_by: "me".into(),
            comment: "c".into(),
        }
    }

    #[test]
    fn validation_names_the_field() {
        assert!(sil(&[], 1, 2).validate().unwrap_err().starts_with("matchers:"));
        assert!(sil(&[("a", "", false, true)], 1, 2).validate().unwrap_err().contains("must not match the empty string"));
        assert!(sil(&[("a", "b", false, true)], 3, 2).validate().unwrap_err().starts_with("endsAt:"));
        assert!(sil(&[("a", "(", true, true)], 1, 2).validate().unwrap_err().starts_with("matchers[0]"));
        assert!(sil(&[("a", "b", false, true)], 1, 2).validate().is_ok());
    }

    #[test]
    fn states_updates_and_expiry_persist() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("silences.json");
        let s = Silences::open(Some(p.clone()), 1000).unwrap();
        let id = s.set(sil(&[("job", "a", false, true)], 100, 1000), 100).unwrap();
        assert_eq!(s.silenced_by(&Labels::from_pairs([("job", "a")]), 200), vec![id.clone()]);
        assert!(s.silenced_by(&Labels::from_pairs([("job", "b")]), 200).is_empty());
        // Extending an active silence keeps its id; changing its matchers replaces it.
        let mut upd = s.get(&id).unwrap();
        upd.ends_at = 2000;
        assert_eq!(s.set(upd.clone(), 300).unwrap(), id);
        upd.matchers[0].value = "b".into();
        let id2 = s.set(upd, 400).unwrap();
        assert_ne!(id2, id);
        assert_eq!(s.get(&id).unwrap().state(400), SilenceState::Expired);
        // Survives a restart.
        let again = Silences::open(Some(p), 1000).unwrap();
        assert_eq!(again.get(&id2).unwrap().state(500), SilenceState::Active);
        again.expire(&id2, 500).unwrap();
        assert!(again.expire(&id2, 600).is_err());
        again.gc(5000);
        assert!(again.list().is_empty());
    }
}
