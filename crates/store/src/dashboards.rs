//! Dashboards imported through the web UI or its API, with every saved
//! version kept (Grafana's version history). Saves and deletes are
//! committed with `synchronous=FULL`: an acknowledged import survives a
//! power loss.

use super::respond::durable;
use super::{Result, Store};
use rusqlite::{params, OptionalExtension};

/// One saved version; `body` is the dashboard's JSON model.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardVersion {
    pub uid: String,
    pub version: i64,
    /// ms
    pub created: i64,
    pub message: String,
    pub body: String,
}

/// What [`Store::save_dashboard`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashboardSave {
    /// Saved as this version.
    Saved(i64),
    /// Not saved: the uid exists (at this version) and `overwrite` was false.
    Exists(i64),
}

const COLS: &str = "uid, version, created, message, body";

fn row(r: &rusqlite::Row) -> rusqlite::Result<DashboardVersion> {
    Ok(DashboardVersion { uid: r.get(0)?, version: r.get(1)?, created: r.get(2)?, message: r.get(3)?, body: r.get(4)? })
}

impl Store {
    /// The latest version of every imported dashboard, by uid.
    pub fn dashboards(&self) -> Result<Vec<DashboardVersion>> {
        let c = self.conn.lock();
        let mut st = c.prepare(&format!(
            "SELECT {COLS} FROM dashboard_versions d WHERE version = (SELECT MAX(version) FROM dashboard_versions WHERE uid = d.uid) ORDER BY uid"
        ))?;
        let rows = st.query_map([], row)?.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Every version of one dashboard, newest first (`body` left empty).
    pub fn dashboard_versions(&self, uid: &str) -> Result<Vec<DashboardVersion>> {
        let c = self.conn.lock();
        let mut st = c.prepare("SELECT uid, version, created, message, '' FROM dashboard_versions WHERE uid = ?1 ORDER BY version DESC")?;
        let rows = st.query_map(params![uid], row)?.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// One version (`None` for the latest).
    pub fn dashboard_version(&self, uid: &str, version: Option<i64>) -> Result<Option<DashboardVersion>> {
        let c = self.conn.lock();
        let q = format!("SELECT {COLS} FROM dashboard_versions WHERE uid = ?1 AND (?2 IS NULL OR version = ?2) ORDER BY version DESC LIMIT 1");
        Ok(c.query_row(&q, params![uid, version], row).optional()?)
    }

    /// Saves a new version of `uid`. `body` is called with the version
    /// number it will get (to write it into the model). Without
    /// `overwrite`, an existing uid is left alone.
    pub fn save_dashboard(&self, uid: &str, overwrite: bool, created: i64, message: &str, body: impl FnOnce(i64) -> String) -> Result<DashboardSave> {
        let mut c = self.conn.lock();
        durable(&mut c, |c| {
            let tx = c.transaction()?;
            let cur: Option<i64> = tx.query_row("SELECT MAX(version) FROM dashboard_versions WHERE uid = ?1", params![uid], |r| r.get(0))?;
            if let (Some(v), false) = (cur, overwrite) {
                return Ok(DashboardSave::Exists(v));
            }
            let version = cur.unwrap_or(0) + 1;
            tx.execute(
                "INSERT INTO dashboard_versions (uid, version, created, message, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![uid, version, created, message, body(version)],
            )?;
            tx.commit()?;
            Ok(DashboardSave::Saved(version))
        })
    }

    /// Deletes a dashboard and its history; false when there was none.
    pub fn delete_dashboard(&self, uid: &str) -> Result<bool> {
        let mut c = self.conn.lock();
        durable(&mut c, |c| Ok(c.execute("DELETE FROM dashboard_versions WHERE uid = ?1", params![uid])? > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_kept_and_overwrite_is_explicit() {
        let s = Store::in_memory().expect("store");
        assert_eq!(s.save_dashboard("a", false, 1, "first", |v| format!("{{\"v\":{v}}}")).expect("save"), DashboardSave::Saved(1));
        assert_eq!(s.save_dashboard("a", false, 2, "again", |_| unreachable!()).expect("save"), DashboardSave::Exists(1));
        assert_eq!(s.save_dashboard("a", true, 3, "second", |v| format!("{{\"v\":{v}}}")).expect("save"), DashboardSave::Saved(2));
        s.save_dashboard("b", false, 4, "", |_| "{}".into()).expect("save");
        let latest = s.dashboards().expect("list");
        assert_eq!(latest.iter().map(|d| (d.uid.as_str(), d.version)).collect::<Vec<_>>(), [("a", 2), ("b", 1)]);
        assert_eq!(latest[0].body, "{\"v\":2}");
        let vs = s.dashboard_versions("a").expect("versions");
        assert_eq!(vs.iter().map(|d| (d.version, d.message.as_str())).collect::<Vec<_>>(), [(2, "second"), (1, "first")]);
        assert_eq!(s.dashboard_version("a", Some(1)).expect("get").map(|d| d.body), Some("{\"v\":1}".into()));
        assert_eq!(s.dashboard_version("a", None).expect("get").map(|d| d.version), Some(2));
        assert!(s.delete_dashboard("a").expect("delete"));
        assert!(!s.delete_dashboard("a").expect("delete"));
        assert_eq!(s.dashboard_version("a", None).expect("get"), None);
    }
}
