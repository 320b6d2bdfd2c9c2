//! Silences (`silence/`): matchers that mute alerts for a time window,
//! with Alertmanager's validation, states and update rules, persisted in
//! the SQLite store (`bongsu-store`) before a change is acknowledged.

use crate::matchers::{MatchType, Matcher};
use bongsu_model::Labels;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use bongsu_store::Store;
use std::sync::Arc;

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
    /// Bongsu extension: expire once every alert it silenced has resolved.
    #[serde(default)]
    pub expire_when_resolved: bool,
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
    /// Compiles the matchers: on a hot path use [`Silences::silenced_by`].
    pub fn matches(&self, labels: &Labels) -> bool {
        compile(&self.matchers).is_some_and(|ms| ms.iter().all(|m| m.matches_labels(labels)))
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

/// A silence's matchers compiled (regexes built once); `None` if one is invalid.
fn compile(ms: &[SilenceMatcher]) -> Option<Vec<Matcher>> {
    ms.iter().map(|m| m.to_matcher().ok()).collect()
}

/// The silences of one Alertmanager.
pub struct Silences {
    store: Option<Arc<Store>>,
    /// Expired silences are kept this long (ms), then forgotten.
    retention: i64,
    inner: Mutex<Vec<Silence>>,
    /// Compiled matchers by silence id, filled on first use and dropped
    /// when a silence changes.
    compiled: Mutex<std::collections::HashMap<String, Option<Vec<Matcher>>>>,
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
    /// Loads the silences kept in `store`; `None` keeps them in memory only.
    pub fn open(store: Option<Arc<Store>>, retention: i64) -> Result<Silences, String> {
        let mut list = Vec::new();
        if let Some(st) = &store {
            for body in st.silences().map_err(|e| e.to_string())? {
                list.push(serde_json::from_str::<Silence>(&body).map_err(|e| format!("stored silence: {e}"))?);
            }
        }
        Ok(Silences { store, retention, inner: Mutex::new(list), compiled: Mutex::new(Default::default()) })
    }

    /// Writes changed silences (and forgets deleted ones) durably.
    fn persist(&self, changed: &[&Silence], deleted: &[String]) -> Result<(), String> {
        {
            let mut c = self.compiled.lock();
            for s in changed {
                c.remove(&s.id);
            }
            for id in deleted {
                c.remove(id);
            }
        }
        let Some(st) = &self.store else { return Ok(()) };
        let rows: Vec<(String, String, i64)> = changed
            .iter()
            .map(|s| (s.id.clone(), serde_json::to_string(s).unwrap_or_default(), s.updated_at))
            .collect();
        st.put_silences(&rows, deleted).map_err(|e| format!("storing silences: {e}"))
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
                self.persist(&[&s], &[])?;
                list[pos] = s.clone();
                return Ok(s.id);
            }
            if s.ends_at <= now {
                return Err("endsAt: end time can't be in the past".into());
            }
            if state != SilenceState::Expired {
                let mut o = list[pos].clone();
                o.ends_at = now;
                o.updated_at = now;
                s.id = new_id();
                s.starts_at = s.starts_at.max(now);
                s.updated_at = now;
                self.persist(&[&o, &s], &[])?;
                list[pos] = o;
                list.push(s.clone());
                return Ok(s.id);
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
        self.persist(&[&s], &[])?;
        list.push(s.clone());
        Ok(s.id)
    }

    /// Expires a silence now.
    pub fn expire(&self, id: &str, now: i64) -> Result<(), String> {
        let mut list = self.inner.lock();
        let Some(pos) = list.iter().position(|s| s.id == id) else {
            return Err(format!("silence {id} not found"));
        };
        let mut s = list[pos].clone();
        match s.state(now) {
            SilenceState::Expired => return Err(format!("silence {id} already expired")),
            SilenceState::Pending => {
                s.starts_at = now;
                s.ends_at = now;
            }
            SilenceState::Active => s.ends_at = now,
        }
        s.updated_at = now;
        self.persist(&[&s], &[])?;
        list[pos] = s;
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<Silence> {
        self.inner.lock().iter().find(|s| s.id == id).cloned()
    }

    pub fn list(&self) -> Vec<Silence> {
        self.inner.lock().clone()
    }

    /// Ids of the active silences that mute these labels.
    pub fn silenced_by(&self, labels: &Labels, now: i64) -> Vec<String> {
        let list = self.inner.lock();
        let mut compiled = self.compiled.lock();
        list.iter()
            .filter(|s| s.state(now) == SilenceState::Active)
            .filter(|s| {
                compiled
                    .entry(s.id.clone())
                    .or_insert_with(|| compile(&s.matchers))
                    .as_ref()
                    .is_some_and(|ms| ms.iter().all(|m| m.matches_labels(labels)))
            })
            .map(|s| s.id.clone())
            .collect()
    }

    /// Forgets silences expired longer than the retention.
    pub fn gc(&self, now: i64) {
        let mut list = self.inner.lock();
        let gone: Vec<String> = list.iter().filter(|s| s.ends_at + self.retention <= now).map(|s| s.id.clone()).collect();
        if !gone.is_empty() && self.persist(&[], &gone).is_ok() {
            list.retain(|s| s.ends_at + self.retention > now);
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
            expire_when_resolved: false,
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
        let p = dir.path().join("state.db");
        let s = Silences::open(Some(Arc::new(Store::open(&p).unwrap())), 1000).unwrap();
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
        drop(s);
        let again = Silences::open(Some(Arc::new(Store::open(&p).unwrap())), 1000).unwrap();
        assert_eq!(again.get(&id2).unwrap().state(500), SilenceState::Active);
        again.expire(&id2, 500).unwrap();
        assert!(again.expire(&id2, 600).is_err());
        again.gc(5000);
        assert!(again.list().is_empty());
    }
}
