//! The responder's state: executions (one runbook run on one target), the
//! claims that make side effects happen at most once, incidents with their
//! timelines, and settings (kill switch, circuit breakers).
//!
//! Claims and new executions are committed with `synchronous=FULL` before
//! the call returns: once [`Store::claim`] says yes, no later delivery,
//! retry or restart gets a yes for the same key, even after a power loss.

use super::{limit, Result, Store};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// One execution as stored; `body` is the responder's JSON record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRow {
    pub id: String,
    pub incident: String,
    pub runbook: String,
    pub target: String,
    pub state: String,
    /// ms
    pub created: i64,
    /// ms
    pub updated: i64,
    pub body: String,
}

/// Execution list filters.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub runbook: Option<String>,
    pub target: Option<String>,
    pub state: Option<String>,
    pub incident: Option<String>,
    /// ms, inclusive
    pub since: Option<i64>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRow {
    pub id: String,
    pub group_key: String,
    pub state: String,
    /// ms
    pub opened: i64,
    pub acknowledged: Option<i64>,
    pub resolved: Option<i64>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    pub incident: String,
    /// ms
    pub ts: i64,
    pub kind: String,
    pub detail: serde_json::Value,
}

pub(crate) fn durable<T>(c: &mut Connection, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
    c.pragma_update(None, "synchronous", "FULL")?;
    let res = f(c);
    c.pragma_update(None, "synchronous", "NORMAL")?;
    res
}

fn execution_row(r: &rusqlite::Row) -> rusqlite::Result<ExecutionRow> {
    Ok(ExecutionRow {
        id: r.get(0)?,
        incident: r.get(1)?,
        runbook: r.get(2)?,
        target: r.get(3)?,
        state: r.get(4)?,
        created: r.get(5)?,
        updated: r.get(6)?,
        body: r.get(7)?,
    })
}

const EXEC_COLS: &str = "id, incident, runbook, target, state, created, updated, body";

impl Store {
    /// Creates an execution unless one with this id exists; `true` when
    /// created. Durable before it returns.
    pub fn create_execution(&self, e: &ExecutionRow) -> Result<bool> {
        let mut c = self.conn.lock();
        durable(&mut c, |c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO executions (id, incident, runbook, target, state, created, updated, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![e.id, e.incident, e.runbook, e.target, e.state, e.created, e.updated, e.body],
            )?;
            Ok(n == 1)
        })
    }

    /// Updates an execution's state and record.
    pub fn update_execution(&self, id: &str, state: &str, updated: i64, body: &str) -> Result<()> {
        self.conn.lock().execute(
            "UPDATE executions SET state = ?2, updated = ?3, body = ?4 WHERE id = ?1",
            params![id, state, updated, body],
        )?;
        Ok(())
    }

    pub fn execution(&self, id: &str) -> Result<Option<ExecutionRow>> {
        let c = self.conn.lock();
        Ok(c.query_row(&format!("SELECT {EXEC_COLS} FROM executions WHERE id = ?1"), params![id], execution_row).optional()?)
    }

    /// Executions, newest first.
    pub fn executions(&self, f: &ExecutionFilter) -> Result<Vec<ExecutionRow>> {
        let c = self.conn.lock();
        let mut st = c.prepare(&format!(
            "SELECT {EXEC_COLS} FROM executions WHERE (?1 IS NULL OR runbook = ?1) AND (?2 IS NULL OR target = ?2)
             AND (?3 IS NULL OR state = ?3) AND (?4 IS NULL OR incident = ?4) AND created >= ?5
             ORDER BY created DESC, id LIMIT ?6"
        ))?;
        let rows = st
            .query_map(params![f.runbook, f.target, f.state, f.incident, f.since.unwrap_or(i64::MIN), limit(f.limit)], execution_row)?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Claims a side effect: `true` the first time `key` is claimed, `false`
    /// ever after. Durable before it returns.
    pub fn claim(&self, key: &str, execution: &str, step: &str, ts: i64) -> Result<bool> {
        let mut c = self.conn.lock();
        durable(&mut c, |c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO side_effects (key, execution, step, ts) VALUES (?1, ?2, ?3, ?4)",
                params![key, execution, step, ts],
            )?;
            Ok(n == 1)
        })
    }

    /// Records how a claimed side effect ended.
    pub fn finish_claim(&self, key: &str, outcome: &str) -> Result<()> {
        self.conn.lock().execute("UPDATE side_effects SET outcome = ?2 WHERE key = ?1", params![key, outcome])?;
        Ok(())
    }

    /// How many side effects were claimed in total (tests, metrics).
    pub fn claim_count(&self) -> Result<i64> {
        Ok(self.conn.lock().query_row("SELECT COUNT(*) FROM side_effects", [], |r| r.get(0))?)
    }

    /// Inserts or updates an incident.
    pub fn put_incident(&self, i: &IncidentRow) -> Result<()> {
        self.conn.lock().execute(
            "INSERT INTO incidents (id, group_key, state, opened, acknowledged, resolved, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(id) DO UPDATE SET state = ?3, acknowledged = ?5, resolved = ?6, body = ?7",
            params![i.id, i.group_key, i.state, i.opened, i.acknowledged, i.resolved, i.body],
        )?;
        Ok(())
    }

    pub fn incident(&self, id: &str) -> Result<Option<IncidentRow>> {
        let c = self.conn.lock();
        Ok(c.query_row(
            "SELECT id, group_key, state, opened, acknowledged, resolved, body FROM incidents WHERE id = ?1",
            params![id],
            incident_row,
        )
        .optional()?)
    }

    /// Incidents, newest first; `open_only` keeps the unresolved ones.
    pub fn incidents(&self, open_only: bool, since: Option<i64>, n: usize) -> Result<Vec<IncidentRow>> {
        let c = self.conn.lock();
        let mut st = c.prepare(
            "SELECT id, group_key, state, opened, acknowledged, resolved, body FROM incidents
             WHERE (?1 = 0 OR resolved IS NULL) AND opened >= ?2 ORDER BY opened DESC, id LIMIT ?3",
        )?;
        let rows = st
            .query_map(params![open_only as i64, since.unwrap_or(i64::MIN), limit(n)], incident_row)?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn record_incident_event(&self, e: &IncidentEvent) -> Result<()> {
        self.conn.lock().execute(
            "INSERT INTO incident_events (incident, ts, kind, detail) VALUES (?1, ?2, ?3, ?4)",
            params![e.incident, e.ts, e.kind, e.detail.to_string()],
        )?;
        Ok(())
    }

    /// An incident's timeline, oldest first.
    pub fn incident_events(&self, incident: &str) -> Result<Vec<IncidentEvent>> {
        let c = self.conn.lock();
        let mut st = c.prepare("SELECT incident, ts, kind, detail FROM incident_events WHERE incident = ?1 ORDER BY id")?;
        let rows = st
            .query_map(params![incident], |r| {
                let d: String = r.get(3)?;
                Ok(IncidentEvent {
                    incident: r.get(0)?,
                    ts: r.get(1)?,
                    kind: r.get(2)?,
                    detail: serde_json::from_str(&d).unwrap_or(serde_json::Value::String(d)),
                })
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        let c = self.conn.lock();
        Ok(c.query_row("SELECT value FROM settings WHERE key = ?1", params![key], |r| r.get(0)).optional()?)
    }

    /// Sets (`Some`) or clears (`None`) a setting, durably.
    pub fn put_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        let mut c = self.conn.lock();
        durable(&mut c, |c| {
            match value {
                Some(v) => c.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)", params![key, v])?,
                None => c.execute("DELETE FROM settings WHERE key = ?1", params![key])?,
            };
            Ok(())
        })
    }
}

/// Incident figures by who resolved them: `automation` (a remediated
/// execution), `human` (acknowledged before it resolved), `self` (neither),
/// and `open`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentStats {
    pub by: String,
    pub count: i64,
    /// Sum of time to acknowledge (ms) over `acked` incidents.
    pub tta_sum: i64,
    pub acked: i64,
    /// Sum of time to resolve (ms) over resolved incidents.
    pub ttr_sum: i64,
    pub resolved: i64,
}

impl Store {
    /// Incident figures (MTTA, MTTR, who resolved) over incidents opened since `since`.
    pub fn incident_stats(&self, since: i64) -> Result<Vec<IncidentStats>> {
        let c = self.conn.lock();
        let mut st = c.prepare(
            "SELECT CASE WHEN resolved IS NULL THEN 'open'
                         WHEN EXISTS (SELECT 1 FROM executions e WHERE e.incident = i.id AND e.state = 'remediated') THEN 'automation'
                         WHEN acknowledged IS NOT NULL AND acknowledged <= resolved THEN 'human'
                         ELSE 'self' END AS by,
                    COUNT(*),
                    COALESCE(SUM(CASE WHEN acknowledged IS NOT NULL THEN acknowledged - opened END), 0),
                    COUNT(acknowledged),
                    COALESCE(SUM(CASE WHEN resolved IS NOT NULL THEN resolved - opened END), 0),
                    COUNT(resolved)
             FROM incidents i WHERE opened >= ?1 GROUP BY by ORDER BY by",
        )?;
        let rows = st
            .query_map(params![since], |r| {
                Ok(IncidentStats { by: r.get(0)?, count: r.get(1)?, tta_sum: r.get(2)?, acked: r.get(3)?, ttr_sum: r.get(4)?, resolved: r.get(5)? })
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The newest resolved incident of a group (for recurrence).
    pub fn last_resolved_incident(&self, group_key: &str) -> Result<Option<IncidentRow>> {
        let c = self.conn.lock();
        Ok(c.query_row(
            "SELECT id, group_key, state, opened, acknowledged, resolved, body FROM incidents WHERE group_key = ?1 AND resolved IS NOT NULL ORDER BY resolved DESC LIMIT 1",
            params![group_key],
            incident_row,
        )
        .optional()?)
    }
}

fn incident_row(r: &rusqlite::Row) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.get(0)?,
        group_key: r.get(1)?,
        state: r.get(2)?,
        opened: r.get(3)?,
        acknowledged: r.get(4)?,
        resolved: r.get(5)?,
        body: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_once_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.db");
        {
            let s = Store::open(&p).unwrap();
            assert!(s.claim("k1", "e1", "restart", 1).unwrap());
            assert!(!s.claim("k1", "e1", "restart", 2).unwrap());
            let e = ExecutionRow {
                id: "e1".into(),
                incident: "i1".into(),
                runbook: "rb".into(),
                target: "t".into(),
                state: "running".into(),
                created: 5,
                updated: 5,
                body: "{}".into(),
            };
            assert!(s.create_execution(&e).unwrap());
            assert!(!s.create_execution(&e).unwrap());
            s.update_execution("e1", "remediated", 9, "{\"x\":1}").unwrap();
            s.put_setting("kill_switch", Some("on")).unwrap();
        }
        let s = Store::open(&p).unwrap();
        assert!(!s.claim("k1", "e1", "restart", 3).unwrap());
        assert_eq!(s.claim_count().unwrap(), 1);
        let e = s.execution("e1").unwrap().unwrap();
        assert_eq!((e.state.as_str(), e.updated), ("remediated", 9));
        assert_eq!(s.executions(&ExecutionFilter { runbook: Some("rb".into()), ..Default::default() }).unwrap().len(), 1);
        assert_eq!(s.executions(&ExecutionFilter { runbook: Some("other".into()), ..Default::default() }).unwrap().len(), 0);
        assert_eq!(s.setting("kill_switch").unwrap().as_deref(), Some("on"));
        s.put_setting("kill_switch", None).unwrap();
        assert_eq!(s.setting("kill_switch").unwrap(), None);
    }

    #[test]
    fn incidents_and_timelines() {
        let s = Store::in_memory().unwrap();
        let mut i = IncidentRow { id: "i".into(), group_key: "g".into(), state: "open".into(), opened: 1, acknowledged: None, resolved: None, body: "{}".into() };
        s.put_incident(&i).unwrap();
        s.record_incident_event(&IncidentEvent { incident: "i".into(), ts: 1, kind: "fired".into(), detail: serde_json::json!({"a": 1}) }).unwrap();
        s.record_incident_event(&IncidentEvent { incident: "i".into(), ts: 2, kind: "resolved".into(), detail: serde_json::json!(null) }).unwrap();
        assert_eq!(s.incidents(true, None, 0).unwrap().len(), 1);
        i.resolved = Some(2);
        i.state = "resolved".into();
        s.put_incident(&i).unwrap();
        assert_eq!(s.incidents(true, None, 0).unwrap().len(), 0);
        assert_eq!(s.incidents(false, None, 0).unwrap()[0].state, "resolved");
        let ev = s.incident_events("i").unwrap();
        assert_eq!(ev.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["fired", "resolved"]);
        assert_eq!(ev[0].detail["a"], 1);
        assert_eq!(s.last_resolved_incident("g").unwrap().map(|r| r.id), Some("i".to_string()));
        let e = ExecutionRow { id: "e".into(), incident: "i".into(), runbook: "r".into(), target: "t".into(), state: "remediated".into(), created: 1, updated: 2, body: "{}".into() };
        s.create_execution(&e).unwrap();
        let mut j = IncidentRow { id: "j".into(), group_key: "h".into(), state: "open".into(), opened: 10, acknowledged: Some(15), resolved: None, body: "{}".into() };
        s.put_incident(&j).unwrap();
        let st = s.incident_stats(0).unwrap();
        assert_eq!(st.iter().map(|x| (x.by.as_str(), x.count, x.ttr_sum)).collect::<Vec<_>>(), [("automation", 1, 1), ("open", 1, 0)]);
        j.resolved = Some(40);
        s.put_incident(&j).unwrap();
        let st = s.incident_stats(0).unwrap();
        let human = st.iter().find(|x| x.by == "human").unwrap();
        assert_eq!((human.tta_sum, human.acked, human.ttr_sum, human.resolved), (5, 1, 30, 1));
    }
}
