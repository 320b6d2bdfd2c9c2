//! Alertmanager API v2 on Bongsu's listener (`/api/v2/...`), JSON shaped as
//! Alertmanager 0.34 serves it so `amtool`, Grafana's Alertmanager data
//! source and a Prometheus sending alerts work unchanged. Bad input gets a
//! 400 whose message names the field.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bongsu_alerting::alert::{api_time, fingerprint_hex, Alert};
use bongsu_alerting::dispatch::Alertmanager;
use bongsu_alerting::silence::{Silence, SilenceMatcher};
use bongsu_alerting::Matcher;
use bongsu_model::timefmt::parse_rfc3339_ms;
use bongsu_model::Labels;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Am = Arc<Alertmanager>;

/// The `/api/v2` routes over a running Alertmanager.
pub fn router(am: Am) -> Router {
    Router::new()
        .route("/api/v2/status", get(status))
        .route("/api/v2/receivers", get(receivers))
        .route("/api/v2/alerts", get(get_alerts).post(post_alerts))
        .route("/api/v2/alerts/groups", get(get_groups))
        .route("/api/v2/silences", get(get_silences).post(post_silence))
        .route("/api/v2/silence/{id}", get(get_silence).delete(delete_silence))
        .route("/api/bongsu/v1/notifications", get(notifications))
        .route("/api/bongsu/v1/alerts/history", get(alert_history))
        .route("/api/bongsu/v1/alerts/{fingerprint}/ack", axum::routing::post(ack))
        .with_state(am)
}

fn bad(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(Value::String(msg.into()))).into_response()
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn now() -> i64 {
    bongsu_model::now_ms()
}

/// Query parameters in order, repeated ones kept (`filter=a&filter=b`).
fn params(q: &Option<String>) -> Vec<(String, String)> {
    q.as_deref()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default()
}

fn bool_param(ps: &[(String, String)], name: &str) -> Result<bool, String> {
    match ps.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()) {
        None => Ok(true),
        Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(format!("{name}: not a boolean: {v:?}")),
    }
}

fn filters(ps: &[(String, String)]) -> Result<Vec<Matcher>, String> {
    let mut out = Vec::new();
    for (k, v) in ps {
        if k == "filter" {
            out.extend(bongsu_alerting::parse_matchers(v).map_err(|e| format!("filter: {}", e.0))?);
        }
    }
    Ok(out)
}

fn kv(l: &Labels) -> Value {
    Value::Object(l.iter().map(|l| (l.name.to_string(), json!(l.value.as_str()))).collect::<Map<_, _>>())
}

fn alert_json(am: &Alertmanager, a: &Alert, receivers: &[String], now: i64) -> (Value, bool, bool) {
    let (silenced, inhibited) = am.muted(a, now);
    let state = if silenced.is_empty() && inhibited.is_empty() { "active" } else { "suppressed" };
    let mut v = json!({
        "annotations": kv(&a.annotations),
        "endsAt": api_time(a.ends_at),
        "fingerprint": fingerprint_hex(a.fingerprint()),
        "receivers": receivers.iter().map(|r| json!({"name": r})).collect::<Vec<_>>(),
        "startsAt": api_time(a.starts_at),
        "status": {"inhibitedBy": inhibited, "silencedBy": silenced, "mutedBy": [], "state": state},
        "updatedAt": api_time(a.updated_at),
        "generatorURL": a.generator_url,
        "labels": kv(&a.labels),
    });
    // Bongsu extension, ignored by Alertmanager clients.
    if let Some(ack) = am.ack_of(a.fingerprint()) {
        v["acknowledged"] = json!({"owner": ack.owner, "comment": ack.comment, "at": api_time(ack.at)});
    }
    (v, !silenced.is_empty(), !inhibited.is_empty())
}

async fn status(State(am): State<Am>) -> Response {
    let up = (now() - am.started()) as f64 / 1000.0;
    ok(json!({
        "cluster": {"name": "", "peers": [], "status": "disabled"},
        "config": {"original": am.loaded().yaml},
        "uptime": api_time(am.started()),
        "versionInfo": {
            "branch": "main", "buildDate": "", "buildUser": "bongsu", "goVersion": "rust",
            "revision": "unknown", "version": env!("CARGO_PKG_VERSION"),
        },
        "bongsu": {"uptimeSeconds": up},
    }))
}

async fn receivers(State(am): State<Am>) -> Response {
    let l = am.loaded();
    ok(Value::Array(l.config.receivers.iter().map(|r| json!({"name": r.name.value})).collect()))
}

async fn get_alerts(State(am): State<Am>, RawQuery(q): RawQuery) -> Response {
    let ps = params(&q);
    let (active, silenced, inhibited) = match (bool_param(&ps, "active"), bool_param(&ps, "silenced"), bool_param(&ps, "inhibited")) {
        (Ok(a), Ok(s), Ok(i)) => (a, s, i),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return bad(e),
    };
    let fs = match filters(&ps) {
        Ok(f) => f,
        Err(e) => return bad(e),
    };
    let recv = match ps.iter().find(|(k, _)| k == "receiver") {
        Some((_, r)) => match regex::Regex::new(&format!("^(?:{r})$")) {
            Ok(re) => Some(re),
            Err(e) => return bad(format!("receiver: {e}")),
        },
        None => None,
    };
    let t = now();
    let mut out = Vec::new();
    for (a, rs) in am.alerts() {
        if a.resolved_at(t) || !fs.iter().all(|m| m.matches_labels(&a.labels)) {
            continue;
        }
        if let Some(re) = &recv {
            if !rs.iter().any(|r| re.is_match(r)) {
                continue;
            }
        }
        let (v, is_sil, is_inh) = alert_json(&am, &a, &rs, t);
        let is_active = !is_sil && !is_inh;
        if (is_active && !active) || (is_sil && !silenced) || (is_inh && !inhibited) {
            continue;
        }
        out.push(v);
    }
    ok(Value::Array(out))
}

fn labels_field(v: &Value, field: &str, i: usize) -> Result<Labels, String> {
    let Some(m) = v.get(field) else { return Ok(Labels::empty()) };
    let Some(m) = m.as_object() else { return Err(format!("[{i}].{field}: must be an object of strings")) };
    let mut pairs = Vec::new();
    for (k, v) in m {
        let Some(s) = v.as_str() else { return Err(format!("[{i}].{field}.{k}: must be a string")) };
        if k.is_empty() {
            return Err(format!("[{i}].{field}: invalid label name \"\""));
        }
        pairs.push((k.clone(), s.to_string()));
    }
    Ok(Labels::from_pairs(pairs))
}

fn time_field(v: &Value, field: &str, i: usize) -> Result<i64, String> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) if s.is_empty() || s.starts_with("0001-01-01") => Ok(0),
        Some(Value::String(s)) => parse_rfc3339_ms(s).ok_or_else(|| format!("[{i}].{field}: not an RFC3339 time: {s:?}")),
        Some(_) => Err(format!("[{i}].{field}: must be an RFC3339 string")),
    }
}

/// Parses `POST /api/v2/alerts` input (postableAlerts) with Alertmanager's checks.
pub fn parse_postable_alerts(body: &str) -> Result<Vec<Alert>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("body: {e}"))?;
    let arr = v.as_array().ok_or("body: must be a JSON array of alerts")?;
    let mut out = Vec::with_capacity(arr.len());
    for (i, a) in arr.iter().enumerate() {
        let labels = labels_field(a, "labels", i)?;
        if labels.is_empty() {
            return Err(format!("[{i}].labels: at least one label pair required"));
        }
        let annotations = labels_field(a, "annotations", i)?;
        let starts_at = time_field(a, "startsAt", i)?;
        let ends_at = time_field(a, "endsAt", i)?;
        if starts_at != 0 && ends_at != 0 && ends_at < starts_at {
            return Err(format!("[{i}].endsAt: start time must be before end time"));
        }
        let generator_url = a.get("generatorURL").and_then(Value::as_str).unwrap_or("").to_string();
        out.push(Alert { labels, annotations, starts_at, ends_at, generator_url, updated_at: 0, timeout: false });
    }
    Ok(out)
}

async fn post_alerts(State(am): State<Am>, body: String) -> Response {
    match parse_postable_alerts(&body) {
        Ok(alerts) => {
            am.put(alerts);
            (StatusCode::OK, "").into_response()
        }
        Err(e) => {
            am.counters.alerts_invalid.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            bad(e)
        }
    }
}

async fn get_groups(State(am): State<Am>, RawQuery(q): RawQuery) -> Response {
    let ps = params(&q);
    let fs = match filters(&ps) {
        Ok(f) => f,
        Err(e) => return bad(e),
    };
    let t = now();
    let mut out = Vec::new();
    for (labels, receiver, alerts) in am.groups() {
        let alerts: Vec<Value> = alerts
            .iter()
            .filter(|a| !a.resolved_at(t) && fs.iter().all(|m| m.matches_labels(&a.labels)))
            .map(|a| alert_json(&am, a, std::slice::from_ref(&receiver), t).0)
            .collect();
        if alerts.is_empty() {
            continue;
        }
        out.push(json!({"labels": kv(&labels), "receiver": {"name": receiver}, "alerts": alerts}));
    }
    ok(Value::Array(out))
}

fn silence_json(s: &Silence, t: i64) -> Value {
    json!({
        "id": s.id,
        "status": {"state": s.state(t).as_str()},
        "updatedAt": api_time(s.updated_at),
        "comment": s.comment,
        "createdBy": s.created_by,
        "endsAt": api_time(s.ends_at),
        "matchers": s.matchers.iter().map(|m| json!({"isEqual": m.is_equal, "isRegex": m.is_regex, "name": m.name, "value": m.value})).collect::<Vec<_>>(),
        "startsAt": api_time(s.starts_at),
        "expireWhenResolved": s.expire_when_resolved,
    })
}

async fn get_silences(State(am): State<Am>, RawQuery(q): RawQuery) -> Response {
    let ps = params(&q);
    let fs = match filters(&ps) {
        Ok(f) => f,
        Err(e) => return bad(e),
    };
    let t = now();
    let mut list = am.silences.list();
    // Alertmanager's order: active, then pending, then expired; by end time.
    list.sort_by_key(|s| (s.state(t) as u8 != 1, s.state(t) as u8, s.ends_at));
    let out: Vec<Value> = list
        .iter()
        .filter(|s| {
            fs.iter().all(|f| {
                s.matchers.iter().any(|m| {
                    m.name == f.name && f.matches(&m.value) && (m.is_regex == matches!(f.match_type, bongsu_alerting::MatchType::Regexp | bongsu_alerting::MatchType::NotRegexp))
                })
            })
        })
        .map(|s| silence_json(s, t))
        .collect();
    ok(Value::Array(out))
}

/// Parses a postableSilence, naming the field that is wrong.
pub fn parse_postable_silence(body: &str) -> Result<Silence, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("body: {e}"))?;
    let str_field = |f: &str| -> Result<String, String> {
        match v.get(f) {
            Some(Value::String(s)) => Ok(s.clone()),
            None | Some(Value::Null) => Ok(String::new()),
            Some(_) => Err(format!("{f}: must be a string")),
        }
    };
    let required = |f: &str| -> Result<String, String> {
        let s = str_field(f)?;
        if s.is_empty() {
            Err(format!("{f} in body is required"))
        } else {
            Ok(s)
        }
    };
    let comment = required("comment")?;
    let created_by = required("createdBy")?;
    let starts_at = parse_rfc3339_ms(&required("startsAt")?).ok_or("startsAt: not an RFC3339 time")?;
    let ends_at = parse_rfc3339_ms(&required("endsAt")?).ok_or("endsAt: not an RFC3339 time")?;
    let ms = v.get("matchers").and_then(Value::as_array).ok_or("matchers in body is required")?;
    let mut matchers = Vec::new();
    for (i, m) in ms.iter().enumerate() {
        let m: SilenceMatcher = serde_json::from_value(m.clone()).map_err(|e| format!("matchers[{i}]: {e}"))?;
        matchers.push(m);
    }
    let expire_when_resolved = match v.get("expireWhenResolved") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("expireWhenResolved: must be a boolean".into()),
    };
    Ok(Silence { id: str_field("id")?, matchers, starts_at, ends_at, updated_at: 0, created_by, comment, expire_when_resolved })
}

async fn post_silence(State(am): State<Am>, body: String) -> Response {
    let s = match parse_postable_silence(&body) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    match am.silences.set(s, now()) {
        Ok(id) => {
            ok(json!({"silenceID": id}))
        }
        Err(e) if e.contains("not found") => (StatusCode::NOT_FOUND, axum::Json(Value::String(e))).into_response(),
        Err(e) => bad(e),
    }
}

async fn get_silence(State(am): State<Am>, Path(id): Path<String>) -> Response {
    match am.silences.get(&id) {
        Some(s) => ok(silence_json(&s, now())),
        None => (StatusCode::NOT_FOUND, axum::Json(Value::String(format!("silence {id} not found")))).into_response(),
    }
}

async fn delete_silence(State(am): State<Am>, Path(id): Path<String>) -> Response {
    match am.silences.expire(&id, now()) {
        Ok(()) => {
            (StatusCode::OK, "").into_response()
        }
        Err(e) if e.contains("not found") => (StatusCode::NOT_FOUND, axum::Json(Value::String(e))).into_response(),
        Err(e) => bad(e),
    }
}

/// `limit`, `since` (RFC3339 or Unix seconds) and `alertname` of the history endpoints.
fn history_query(q: &Option<String>) -> Result<bongsu_store::HistoryQuery, String> {
    let ps = params(q);
    let get = |n: &str| ps.iter().rev().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let limit = match get("limit") {
        None => 100,
        Some(v) => v.parse().map_err(|_| format!("limit: not a number: {v:?}"))?,
    };
    let since = match get("since") {
        None => None,
        Some(v) => Some(
            parse_rfc3339_ms(&v)
                .or_else(|| v.parse::<f64>().ok().map(|s| (s * 1000.0) as i64))
                .ok_or_else(|| format!("since: not RFC3339 or Unix seconds: {v:?}"))?,
        ),
    };
    Ok(bongsu_store::HistoryQuery { alertname: get("alertname"), since, limit })
}

/// Every notification attempt (receiver, integration, outcome, error), newest first.
async fn notifications(State(am): State<Am>, RawQuery(q): RawQuery) -> Response {
    let hq = match history_query(&q) {
        Ok(h) => h,
        Err(e) => return bad(e),
    };
    match am.notifications(&hq) {
        Ok(v) => ok(serde_json::to_value(v).unwrap_or(Value::Null)),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(Value::String(e))).into_response(),
    }
}

/// Alert transitions (firing, resolved, silenced, inhibited, active), newest first.
async fn alert_history(State(am): State<Am>, RawQuery(q): RawQuery) -> Response {
    let hq = match history_query(&q) {
        Ok(h) => h,
        Err(e) => return bad(e),
    };
    match am.alert_events(&hq) {
        Ok(v) => ok(serde_json::to_value(v).unwrap_or(Value::Null)),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(Value::String(e))).into_response(),
    }
}

/// `POST /api/bongsu/v1/alerts/{fingerprint}/ack` with `{"owner": …, "comment": …}`.
async fn ack(State(am): State<Am>, Path(fp): Path<String>, body: String) -> Response {
    let Ok(fpv) = u64::from_str_radix(&fp, 16) else {
        return bad(format!("fingerprint: not a hex fingerprint: {fp:?}"));
    };
    let v: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return bad(format!("body: {e}")),
    };
    let field = |n: &str| v.get(n).and_then(Value::as_str).unwrap_or("").to_string();
    match am.acknowledge(fpv, &field("owner"), &field("comment")) {
        Ok(a) => ok(json!({"owner": a.owner, "comment": a.comment, "at": api_time(a.at)})),
        Err(e) if e.starts_with("no firing alert") => (StatusCode::NOT_FOUND, axum::Json(Value::String(e))).into_response(),
        Err(e) => bad(e),
    }
}
