//! Dashboard import, export, versions and diff through the real binary's
//! HTTP API — what the UI's Import/Export/Versions buttons call — and
//! that an acknowledged import survives `kill -9`.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::*;

fn send(addr: &str, method: &str, path: &str, ct: &str, body: &str) -> Response {
    http_with(method, addr, path, &[("Content-Type", ct)], Some(body)).expect("http")
}

fn model(title: &str, expr: &str) -> Value {
    json!({"uid": "team-api", "title": title, "schemaVersion": 39,
           "panels": [{"id": 1, "type": "timeseries", "title": "Requests", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
                       "targets": [{"refId": "A", "expr": expr}]}]})
}

#[test]
fn import_versions_diff_restore_and_kill9() {
    let dir = tempfile::tempdir().expect("tmp");
    let prov = dir.path().join("provisioned");
    std::fs::create_dir(&prov).expect("mkdir");
    std::fs::write(prov.join("ops.json"), r#"{"uid":"ops-file","title":"From a file","panels":[]}"#).expect("write");
    let data = dir.path().join("data");
    let dflag = format!("--dashboards.dir={}", prov.display());
    let mut b = Bongsu::start(dir.path(), &data, &[&dflag]);
    let a = b.addr.clone();

    // Import: Grafana's {dashboard, overwrite, message} shape.
    let body = json!({"dashboard": model("API", "rate(http_requests_total[5m])"), "message": "first import"}).to_string();
    let r = send(&a, "POST", "/api/bongsu/v1/dashboards", "application/json", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"], json!({"uid": "team-api", "version": 1, "title": "API", "url": "/d/team-api"}));

    // Export: what the UI downloads is the stored model, version written in.
    let got = get(&a, "/api/bongsu/v1/dashboards/team-api").json();
    assert_eq!(got["data"]["dashboard"]["version"], 1);
    assert_eq!(got["data"]["dashboard"]["panels"][0]["targets"][0]["expr"], "rate(http_requests_total[5m])");
    assert_eq!(got["data"]["meta"]["source"], "imported");
    let listed = get(&a, "/api/bongsu/v1/dashboards").json();
    let row = listed["data"].as_array().expect("list").iter().find(|d| d["uid"] == "team-api").cloned().expect("listed");
    assert_eq!((row["source"].clone(), row["version"].clone()), (json!("imported"), json!(1)));

    // The same uid again without overwrite: refused, nothing saved.
    let again = json!({"dashboard": model("API v2", "rate(http_requests_total[1m])")}).to_string();
    let r = send(&a, "POST", "/api/bongsu/v1/dashboards", "application/json", &again);
    assert_eq!(r.status, 412, "{}", r.body);
    assert!(r.json()["error"].as_str().is_some_and(|e| e.contains("already exists (version 1)")), "{}", r.body);

    // Bad input: a clear error naming line and column, and nothing changes.
    let r = send(&a, "POST", "/api/bongsu/v1/dashboards", "application/json", "{\"title\": \"x\",\n  \"panels\": [}\n");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().is_some_and(|e| e.starts_with("request body:2:")), "{}", r.body);
    for (bad, field) in [
        (json!({"title": "", "panels": []}), "dashboard.title"),
        (json!({"uid": "has space", "title": "x", "panels": []}), "dashboard.uid"),
        (json!({"title": "x"}), "not a Grafana dashboard"),
    ] {
        let r = send(&a, "POST", "/api/bongsu/v1/dashboards", "application/json", &bad.to_string());
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.json()["error"].as_str().is_some_and(|e| e.contains(field)), "{bad}: {}", r.body);
    }
    // A provisioned uid belongs to its file.
    let r = send(&a, "POST", "/api/bongsu/v1/dashboards?overwrite=true", "application/json", r#"{"uid":"ops-file","title":"Mine","panels":[]}"#);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("ops.json"), "{}", r.body);
    assert_eq!(get(&a, "/api/bongsu/v1/dashboards/team-api/versions").json()["data"].as_array().map(Vec::len), Some(1));

    // Overwrite (YAML this time, overwrite and message as query parameters).
    let yaml = "uid: team-api\ntitle: API v2\npanels:\n  - id: 1\n    type: timeseries\n    title: Requests\n    targets:\n      - refId: A\n        expr: rate(http_requests_total[1m])\n";
    let r = send(&a, "POST", "/api/bongsu/v1/dashboards?overwrite=true&message=shorter%20window", "application/yaml", yaml);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["version"], 2);
    let vs = get(&a, "/api/bongsu/v1/dashboards/team-api/versions").json();
    let vs: Vec<(i64, String)> =
        vs["data"].as_array().expect("versions").iter().map(|v| (v["version"].as_i64().unwrap_or(0), v["message"].as_str().unwrap_or("").into())).collect();
    assert_eq!(vs, [(2, "shorter window".to_string()), (1, "first import".to_string())]);

    // Diff of the two versions: the changed lines, and only those.
    let d = get(&a, "/api/bongsu/v1/dashboards/team-api/diff?from=1&to=2").json();
    let text = d["data"]["diff"].as_str().expect("diff").to_string();
    let changed: Vec<&str> = text.lines().filter(|l| (l.starts_with('+') || l.starts_with('-')) && !l.starts_with("+++") && !l.starts_with("---")).collect();
    for want in ["-  \"title\": \"API\",", "+  \"title\": \"API v2\",", "-  \"version\": 1", "+  \"version\": 2"] {
        assert!(changed.iter().any(|l| l.trim_end_matches(',') == want.trim_end_matches(',')), "{want:?} not in\n{text}");
    }
    assert!(changed.iter().any(|l| l.contains("[1m]")) && changed.iter().any(|l| l.contains("[5m]")), "{text}");
    assert!(!changed.iter().any(|l| l.contains("\"type\"")), "unchanged lines reported as changed:\n{text}");
    assert_eq!(get(&a, "/api/bongsu/v1/dashboards/team-api/diff?from=1&to=9").status, 404);

    // Restore version 1: saved again as version 3.
    let r = send(&a, "POST", "/api/bongsu/v1/dashboards/team-api/restore", "application/json", r#"{"version": 1}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["version"], 3);

    // kill -9 right after the acknowledgement: nothing is lost.
    b.proc.kill9();
    let b2 = Bongsu::start(dir.path(), &data, &[&dflag]);
    let a = b2.addr.clone();
    let got = get(&a, "/api/bongsu/v1/dashboards/team-api").json();
    assert_eq!((got["data"]["dashboard"]["title"].clone(), got["data"]["dashboard"]["version"].clone()), (json!("API"), json!(3)));
    assert_eq!(get(&a, "/api/bongsu/v1/dashboards/team-api/versions").json()["data"].as_array().map(Vec::len), Some(3));

    // Delete: gone with its history; a provisioned one cannot be deleted here.
    assert_eq!(http("DELETE", &a, "/api/bongsu/v1/dashboards/ops-file", None).expect("delete").status, 409);
    assert_eq!(http("DELETE", &a, "/api/bongsu/v1/dashboards/team-api", None).expect("delete").status, 200);
    assert_eq!(get(&a, "/api/bongsu/v1/dashboards/team-api").status, 404);
    assert_eq!(http("DELETE", &a, "/api/bongsu/v1/dashboards/team-api", None).expect("delete").status, 404);
    wait_for("the provisioned one is untouched", Duration::from_secs(5), || {
        (get(&a, "/api/bongsu/v1/dashboards/ops-file").status == 200).then_some(())
    });
}
