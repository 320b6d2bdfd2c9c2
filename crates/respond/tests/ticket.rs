//! The ticket action against a real HTTP server on loopback: one ticket
//! per incident — opened once however often the alert is delivered,
//! updated by later executions, closed when the incident resolves.

use bongsu_respond::model::{fingerprint_of, Trigger, TriggerAlert};
use bongsu_respond::{Querier, Responder, Runbooks, Settings};
use bongsu_store::Store;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct NoSeries;
impl Querier for NoSeries {
    fn query(&self, _: &str, _: i64) -> Result<Vec<(BTreeMap<String, String>, f64)>, String> {
        Ok(Vec::new())
    }
}

/// An ITSM stand-in: records "METHOD PATH BODY", answers `{"result": {"number": "INC-42"}}`.
fn itsm() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let seen = s2.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match c.read(&mut tmp) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let len: usize = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))).unwrap_or(0);
                while buf.len() < head_end + len {
                    match c.read(&mut tmp) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
                let line = head.lines().next().unwrap_or("").to_string();
                let mut parts = line.split_whitespace();
                let (m, p) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let auth = head.lines().any(|l| l.eq_ignore_ascii_case("authorization: Bearer itsm-token"));
                seen.lock().unwrap().push(format!("{m} {p} {} auth={auth}", String::from_utf8_lossy(&buf[head_end..])));
                let body = r#"{"result": {"number": "INC-42"}}"#;
                let _ = c.write_all(format!("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes());
            });
        }
    });
    (addr, seen)
}

fn trigger(instances: &[&str], firing: bool) -> Trigger {
    Trigger {
        runbook: "ticket".into(),
        source: "test".into(),
        receiver: "r".into(),
        group_key: "{}:{alertname=\"DiskFull\"}".into(),
        group_labels: BTreeMap::new(),
        alerts: instances
            .iter()
            .map(|i| {
                let labels: BTreeMap<String, String> = [("alertname", "DiskFull"), ("instance", i)].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
                TriggerAlert {
                    fingerprint: fingerprint_of(&labels),
                    labels,
                    annotations: BTreeMap::new(),
                    starts_at: 1_000,
                    ends_at: if firing { 0 } else { 2_000 },
                    generator_url: String::new(),
                    firing,
                }
            })
            .collect(),
        external_url: String::new(),
    }
}

async fn settle(r: &Responder, n: usize) -> Vec<bongsu_respond::Execution> {
    for _ in 0..200 {
        let rows = r.store().executions(&Default::default()).unwrap();
        let xs: Vec<bongsu_respond::Execution> = rows.iter().filter_map(|row| serde_json::from_str(&row.body).ok()).collect();
        if xs.len() >= n && xs.iter().all(|x| bongsu_respond::model::state::is_terminal(&x.state)) {
            return xs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("executions did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ticket_per_incident_opened_updated_closed() {
    let (addr, seen) = itsm();
    let rb = format!(
        r#"runbooks:
  - name: ticket
    target: '{{{{ $labels.instance }}}}'
    steps:
      - name: ticket
        ticket:
          headers: {{Authorization: 'Bearer itsm-token', Content-Type: application/json}}
          id_from: /result/number
          open: {{url: 'http://{addr}/api/now/table/incident', body: '{{"short_description": "disk full on {{{{ $labels.instance }}}}"}}'}}
          update: {{url: 'http://{addr}/api/now/table/incident/{{{{ $ticket }}}}', body: '{{"work_notes": "also {{{{ $target }}}}"}}'}}
          close: {{url: 'http://{addr}/api/now/table/incident/{{{{ $ticket }}}}/close'}}
    verify: {{disabled: true}}
    guards: {{max_concurrent: 5}}
"#
    );
    let rbs = bongsu_respond::runbook::parse(&rb, "t.yml").unwrap_or_else(|e| panic!("{e:?}"));
    let runbooks = Runbooks { by_name: rbs.into_iter().map(|r| (r.name.clone(), r)).collect() };
    let r = Responder::new(Arc::new(Store::in_memory().unwrap()), runbooks, Settings::default(), Arc::new(NoSeries), "http://b".into()).unwrap();
    // Firing, delivered 50 times (retries, an HA pair): one ticket.
    for _ in 0..50 {
        r.submit(trigger(&["db-1"], true)).unwrap();
    }
    let xs = settle(&r, 1).await;
    assert_eq!(xs[0].steps[0].summary, "opened ticket INC-42", "{:?}", xs[0]);
    // A second alert joins the incident: its execution updates the same ticket.
    r.submit(trigger(&["db-1", "db-2"], true)).unwrap();
    let xs = settle(&r, 2).await;
    let upd = xs.iter().find(|x| x.target == "db-2").unwrap();
    assert_eq!(upd.steps[0].summary, "updated ticket INC-42", "{upd:?}");
    // The incident resolves: the ticket is closed, once, and nothing else runs.
    for _ in 0..5 {
        r.submit(trigger(&["db-1", "db-2"], false)).unwrap();
    }
    for _ in 0..100 {
        if seen.lock().unwrap().iter().any(|s| s.contains("/close")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "POST /api/now/table/incident {\"short_description\": \"disk full on db-1\"} auth=true".to_string(),
            "PATCH /api/now/table/incident/INC-42 {\"work_notes\": \"also db-2\"} auth=true".to_string(),
            "POST /api/now/table/incident/INC-42/close  auth=true".to_string(),
        ]
    );
    assert_eq!(r.store().executions(&Default::default()).unwrap().len(), 2);
}
