//! Bongsu's durable alerting state in one SQLite file (bundled SQLite, WAL
//! journal, one writer behind a mutex): silences, the notification log,
//! and the history of alert transitions and notification attempts.
//!
//! Durability: every write is committed before the call returns (WAL
//! journal), so it survives `kill -9`. Silences, which a user is told are
//! saved, are committed with `synchronous=FULL` (fsynced: they survive a
//! power loss too); the notification log and the history use
//! `synchronous=NORMAL` (no fsync per commit — thousands of notifications a
//! second would otherwise wait on the disk) and are fsynced by
//! [`Store::checkpoint`], which the dispatcher calls every 5 s: a power loss
//! costs at most those seconds of log and history, never a silence.
//! The schema is versioned with SQLite's `user_version`; [`Store::open`]
//! migrates forward.

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

type Result<T> = std::result::Result<T, StoreError>;

mod dashboards;
mod respond;
pub use dashboards::{DashboardSave, DashboardVersion};
pub use respond::{ExecutionFilter, ExecutionRow, IncidentEvent, IncidentRow, IncidentStats};

/// Schema steps; step `i` brings `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE silences (id TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at INTEGER NOT NULL);
     CREATE TABLE nflog (key TEXT PRIMARY KEY, body TEXT NOT NULL, ts INTEGER NOT NULL);
     CREATE TABLE alert_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, fingerprint TEXT NOT NULL,
        alertname TEXT NOT NULL, event TEXT NOT NULL, labels TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
     CREATE INDEX alert_events_ts ON alert_events (ts);
     CREATE INDEX alert_events_name ON alert_events (alertname, ts);
     CREATE TABLE notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, receiver TEXT NOT NULL,
        integration TEXT NOT NULL, group_key TEXT NOT NULL, alerts INTEGER NOT NULL,
        status TEXT NOT NULL, ok INTEGER NOT NULL, error TEXT);
     CREATE INDEX notifications_ts ON notifications (ts);",
    // The responder (crates/respond): executions, side-effect claims,
    // incidents and their timelines, and small settings (kill switch,
    // circuit breakers).
    "CREATE TABLE executions (
        id TEXT PRIMARY KEY, incident TEXT NOT NULL, runbook TEXT NOT NULL, target TEXT NOT NULL,
        state TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL, body TEXT NOT NULL);
     CREATE INDEX executions_created ON executions (created);
     CREATE INDEX executions_runbook ON executions (runbook, created);
     CREATE TABLE side_effects (
        key TEXT PRIMARY KEY, execution TEXT NOT NULL, step TEXT NOT NULL, ts INTEGER NOT NULL, outcome TEXT);
     CREATE TABLE incidents (
        id TEXT PRIMARY KEY, group_key TEXT NOT NULL, state TEXT NOT NULL, opened INTEGER NOT NULL,
        acknowledged INTEGER, resolved INTEGER, body TEXT NOT NULL);
     CREATE INDEX incidents_opened ON incidents (opened);
     CREATE TABLE incident_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, incident TEXT NOT NULL, ts INTEGER NOT NULL,
        kind TEXT NOT NULL, detail TEXT NOT NULL);
     CREATE INDEX incident_events_incident ON incident_events (incident, id);
     CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // Dashboards imported in the web UI, every saved version kept
    // (crates/web/src/dashboards.rs).
    "CREATE TABLE dashboard_versions (
        uid TEXT NOT NULL, version INTEGER NOT NULL, created INTEGER NOT NULL,
        message TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (uid, version));",
];

/// One alert transition (`firing`, `resolved`, `silenced`, `inhibited`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// ms
    pub ts: i64,
    pub fingerprint: String,
    pub alertname: String,
    pub event: String,
    /// The alert's labels as a JSON object.
    pub labels: serde_json::Value,
    #[serde(default)]
    pub detail: String,
}

/// One notification attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    /// ms
    pub ts: i64,
    pub receiver: String,
    pub integration: String,
    pub group_key: String,
    pub alerts: i64,
    pub status: String,
    pub ok: bool,
    pub error: Option<String>,
}

/// History filters.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub alertname: Option<String>,
    /// ms, inclusive
    pub since: Option<i64>,
    pub limit: usize,
}

pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| StoreError(format!("{}: {e}", d.display())))?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        Self::init(conn)
    }

    /// A private in-memory database (tests, `--alertmanager.storage.path` unset in tests).
    pub fn in_memory() -> Result<Store> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version as usize > MIGRATIONS.len() {
            return Err(StoreError(format!(
                "the database has schema version {version}, newer than this Bongsu knows ({}): refusing to touch it",
                MIGRATIONS.len()
            )));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(m)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(Store { conn: Mutex::new(conn) })
    }

    /// Every silence body (JSON), oldest update first.
    pub fn silences(&self) -> Result<Vec<String>> {
        let c = self.conn.lock();
        let mut st = c.prepare("SELECT body FROM silences ORDER BY updated_at, id")?;
        let rows = st.query_map([], |r| r.get(0))?.collect::<std::result::Result<Vec<String>, _>>()?;
        Ok(rows)
    }

    /// Inserts or replaces silences, and deletes `delete`, in one transaction.
    pub fn put_silences(&self, upsert: &[(String, String, i64)], delete: &[String]) -> Result<()> {
        let mut c = self.conn.lock();
        c.pragma_update(None, "synchronous", "FULL")?;
        let res = Self::write_silences(&mut c, upsert, delete);
        c.pragma_update(None, "synchronous", "NORMAL")?;
        res
    }

    fn write_silences(c: &mut Connection, upsert: &[(String, String, i64)], delete: &[String]) -> Result<()> {
        let tx = c.transaction()?;
        for (id, body, updated) in upsert {
            tx.execute("INSERT OR REPLACE INTO silences (id, body, updated_at) VALUES (?1, ?2, ?3)", params![id, body, updated])?;
        }
        for id in delete {
            tx.execute("DELETE FROM silences WHERE id = ?1", params![id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The notification log: (key, body JSON).
    pub fn nflog(&self) -> Result<Vec<(String, String)>> {
        let c = self.conn.lock();
        let mut st = c.prepare("SELECT key, body FROM nflog")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn put_nflog(&self, key: &str, body: &str, ts: i64) -> Result<()> {
        self.conn
            .lock()
            .execute("INSERT OR REPLACE INTO nflog (key, body, ts) VALUES (?1, ?2, ?3)", params![key, body, ts])?;
        Ok(())
    }

    /// Makes everything committed so far durable against power loss
    /// (a WAL checkpoint, which fsyncs).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn.lock().execute_batch("PRAGMA wal_checkpoint(PASSIVE);")?;
        Ok(())
    }

    /// Forgets log entries and history older than `before` (ms).
    pub fn gc(&self, before: i64) -> Result<()> {
        let c = self.conn.lock();
        c.execute("DELETE FROM nflog WHERE ts < ?1", params![before])?;
        c.execute("DELETE FROM alert_events WHERE ts < ?1", params![before])?;
        c.execute("DELETE FROM notifications WHERE ts < ?1", params![before])?;
        Ok(())
    }

    pub fn record_events(&self, events: &[AlertEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut c = self.conn.lock();
        let tx = c.transaction()?;
        for e in events {
            tx.execute(
                "INSERT INTO alert_events (ts, fingerprint, alertname, event, labels, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![e.ts, e.fingerprint, e.alertname, e.event, e.labels.to_string(), e.detail],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn record_notification(&self, n: &NotificationRecord) -> Result<()> {
        self.conn.lock().execute(
            "INSERT INTO notifications (ts, receiver, integration, group_key, alerts, status, ok, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![n.ts, n.receiver, n.integration, n.group_key, n.alerts, n.status, n.ok, n.error],
        )?;
        Ok(())
    }

    /// Alert transitions, newest first.
    pub fn alert_events(&self, q: &HistoryQuery) -> Result<Vec<AlertEvent>> {
        let c = self.conn.lock();
        let mut st = c.prepare(
            "SELECT ts, fingerprint, alertname, event, labels, detail FROM alert_events
             WHERE (?1 IS NULL OR alertname = ?1) AND (?2 IS NULL OR ts >= ?2)
             ORDER BY ts DESC, id DESC LIMIT ?3",
        )?;
        let rows = st
            .query_map(params![q.alertname, q.since, limit(q.limit)], |r| {
                let labels: String = r.get(4)?;
                Ok(AlertEvent {
                    ts: r.get(0)?,
                    fingerprint: r.get(1)?,
                    alertname: r.get(2)?,
                    event: r.get(3)?,
                    labels: serde_json::from_str(&labels).unwrap_or(serde_json::Value::Null),
                    detail: r.get(5)?,
                })
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Notification attempts, newest first.
    pub fn notifications(&self, q: &HistoryQuery) -> Result<Vec<NotificationRecord>> {
        let c = self.conn.lock();
        let mut st = c.prepare(
            "SELECT ts, receiver, integration, group_key, alerts, status, ok, error FROM notifications
             WHERE (?1 IS NULL OR ts >= ?1) ORDER BY ts DESC, id DESC LIMIT ?2",
        )?;
        let rows = st
            .query_map(params![q.since, limit(q.limit)], |r| {
                Ok(NotificationRecord {
                    ts: r.get(0)?,
                    receiver: r.get(1)?,
                    integration: r.get(2)?,
                    group_key: r.get(3)?,
                    alerts: r.get(4)?,
                    status: r.get(5)?,
                    ok: r.get(6)?,
                    error: r.get(7)?,
                })
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Notifications sent and failed per receiver (for metrics), all time kept.
    pub fn notification_counts(&self) -> Result<Vec<(String, i64, i64)>> {
        let c = self.conn.lock();
        let mut st = c.prepare("SELECT receiver, SUM(ok), SUM(1 - ok) FROM notifications GROUP BY receiver ORDER BY receiver")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The schema version in use.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn.lock().pragma_query_value(None, "user_version", |r| r.get(0)).optional()?.unwrap_or(0))
    }
}

fn limit(n: usize) -> i64 {
    if n == 0 {
        1000
    } else {
        n.min(100_000) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_and_filters_history() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.db");
        {
            let s = Store::open(&p).unwrap();
            s.put_silences(&[("a".into(), "{\"id\":\"a\"}".into(), 1), ("b".into(), "{}".into(), 2)], &[]).unwrap();
            s.put_silences(&[], &["b".into()]).unwrap();
            s.put_nflog("k", "{\"x\":1}", 10).unwrap();
            let ev = |ts, name: &str, event: &str| AlertEvent {
                ts,
                fingerprint: "f".into(),
                alertname: name.into(),
                event: event.into(),
                labels: serde_json::json!({"alertname": name}),
                detail: String::new(),
            };
            s.record_events(&[ev(1, "A", "firing"), ev(2, "B", "firing"), ev(3, "A", "resolved")]).unwrap();
            let n = NotificationRecord { ts: 5, receiver: "r".into(), integration: "webhook".into(), group_key: "g".into(), alerts: 1, status: "firing".into(), ok: false, error: Some("boom".into()) };
            s.record_notification(&n).unwrap();
        }
        let s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert_eq!(s.silences().unwrap(), vec!["{\"id\":\"a\"}".to_string()]);
        assert_eq!(s.nflog().unwrap(), vec![("k".to_string(), "{\"x\":1}".to_string())]);
        let a = s.alert_events(&HistoryQuery { alertname: Some("A".into()), ..Default::default() }).unwrap();
        assert_eq!(a.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(), ["resolved", "firing"]);
        assert_eq!(s.alert_events(&HistoryQuery { since: Some(2), ..Default::default() }).unwrap().len(), 2);
        assert_eq!(s.notifications(&HistoryQuery::default()).unwrap()[0].error.as_deref(), Some("boom"));
        assert_eq!(s.notification_counts().unwrap(), vec![("r".to_string(), 0, 1)]);
        s.gc(3).unwrap();
        assert_eq!(s.alert_events(&HistoryQuery::default()).unwrap().len(), 1);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.db");
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let e = Store::open(&p).err().unwrap();
        assert!(e.0.contains("newer"), "{e}");
    }
}
