//! The responder's HTTP API, under `/api/bongsu/v1/`:
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `respond/executions` | `?runbook=&state=&incident=&target=&since=&limit=` |
//! | GET | `respond/executions/{id}` | the whole record |
//! | POST | `respond/executions/{id}/approve`, `/reject`, `/cancel` | ✱ (or a signed link) |
//! | GET | `respond/runbooks` | loaded runbooks, open breakers, kill switch |
//! | POST | `respond/runbooks/{name}/arm` | ✱ closes an open circuit breaker |
//! | POST | `respond/kill-switch` | ✱ `{"enabled": bool}` |
//! | POST | `respond/webhook?runbook=NAME` | ✱ or HMAC: Alertmanager's webhook payload |
//! | GET | `incidents`, `incidents/{id}` | with the timeline |
//! | POST | `incidents/{id}/ack` | ✱ |
//!
//! ✱ Changing anything needs authentication: the web config's basic auth
//! (checked for every request by the server when configured), or
//! `Authorization: Bearer` with `responder.api_token_file`. The webhook
//! also accepts an HMAC signature (`X-Bongsu-Signature` over
//! `X-Bongsu-Timestamp` and the body, `responder.webhook_hmac_secret_file`);
//! a signature seen before, or a timestamp more than 5 minutes off, is
//! refused. Without any of these configured, changes are refused.

use crate::action::http::{ReplayGuard, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::engine::Responder;
use crate::model::{Execution, Trigger};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bongsu_store::ExecutionFilter;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const MAX_SKEW_SECS: i64 = 300;

struct Api {
    r: Responder,
    /// The server checks basic auth on every request (web config).
    basic_auth: bool,
    replay: ReplayGuard,
}

type S = State<Arc<Api>>;

/// The routes; `basic_auth` tells whether the web config's basic auth
/// already guards every request.
pub fn router(r: Responder, basic_auth: bool) -> Router {
    let api = Arc::new(Api { r, basic_auth, replay: ReplayGuard::new(MAX_SKEW_SECS, 100_000) });
    Router::new()
        .route("/api/bongsu/v1/respond/executions", get(list))
        .route("/api/bongsu/v1/respond/executions/{id}", get(one))
        .route("/api/bongsu/v1/respond/executions/{id}/{action}", get(confirm).post(act))
        .route("/api/bongsu/v1/respond/runbooks", get(runbooks))
        .route("/api/bongsu/v1/respond/runbooks/{name}/arm", post(arm))
        .route("/api/bongsu/v1/respond/kill-switch", post(kill_switch))
        .route("/api/bongsu/v1/respond/webhook", post(webhook))
        .route("/api/bongsu/v1/incidents", get(incidents))
        .route("/api/bongsu/v1/incidents/{id}", get(incident))
        .route("/api/bongsu/v1/incidents/{id}/ack", post(ack))
        .with_state(api)
}

fn err(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, Json(json!({"status": "error", "error": msg.into()}))).into_response()
}

fn ok(v: Value) -> Response {
    Json(json!({"status": "success", "data": v})).into_response()
}

/// Who is asking, when they may change things (the error is the answer).
#[allow(clippy::result_large_err)]
fn authenticated(api: &Api, h: &HeaderMap) -> Result<String, Response> {
    let token = api.r.settings().api_token;
    if let (Some(t), Some(v)) = (&token, h.get("authorization").and_then(|v| v.to_str().ok())) {
        if let Some(given) = v.strip_prefix("Bearer ") {
            if ct_eq(given.trim().as_bytes(), t.as_bytes()) {
                return Ok("api-token".into());
            }
            return Err(err(StatusCode::UNAUTHORIZED, "invalid bearer token"));
        }
    }
    if api.basic_auth {
        let user = h
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| decode_basic_user(b.trim()))
            .unwrap_or_else(|| "basic-auth".into());
        return Ok(user);
    }
    Err(err(
        StatusCode::UNAUTHORIZED,
        "the responder's endpoints need authentication: set basic_auth_users in --web.config.file or responder.api_token_file in alertmanager.yml",
    ))
}

fn decode_basic_user(b64: &str) -> Option<String> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let s = String::from_utf8(raw).ok()?;
    s.split_once(':').map(|(u, _)| u.to_string())
}

/// Constant-time comparison (the time does not depend on where they differ).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize, Default)]
struct ListQ {
    runbook: Option<String>,
    state: Option<String>,
    incident: Option<String>,
    target: Option<String>,
    since: Option<i64>,
    limit: Option<usize>,
}

fn body_of(row: &bongsu_store::ExecutionRow) -> Value {
    serde_json::from_str::<Value>(&row.body).unwrap_or(Value::Null)
}

async fn list(State(api): S, Query(q): Query<ListQ>) -> Response {
    let f = ExecutionFilter { runbook: q.runbook, state: q.state, incident: q.incident, target: q.target, since: q.since, limit: q.limit.unwrap_or(100) };
    match api.r.store().executions(&f) {
        Ok(rows) => ok(Value::Array(rows.iter().map(body_of).collect())),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn one(State(api): S, Path(id): Path<String>) -> Response {
    match api.r.store().execution(&id) {
        Ok(Some(row)) => ok(body_of(&row)),
        Ok(None) => err(StatusCode::NOT_FOUND, format!("no execution {id}")),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn act(State(api): S, Path((id, action)): Path<(String, String)>, Query(q): Query<HashMap<String, String>>, h: HeaderMap) -> Response {
    // A signed link authenticates itself (approve/reject only, until it expires).
    let who = match (q.get("sig"), q.get("expires").and_then(|e| e.parse::<i64>().ok())) {
        (Some(sig), Some(exp)) if action != "cancel" => {
            let want = api.r.link_signature(&id, &action, exp);
            if !ct_eq(sig.as_bytes(), want.as_bytes()) {
                return err(StatusCode::UNAUTHORIZED, "invalid link signature");
            }
            if exp < bongsu_model::now_ms() / 1000 {
                return err(StatusCode::UNAUTHORIZED, "the link has expired");
            }
            "signed-link".to_string()
        }
        _ => match authenticated(&api, &h) {
            Ok(u) => u,
            Err(r) => return r,
        },
    };
    let by = q.get("by").cloned().unwrap_or(who);
    let res = match action.as_str() {
        "approve" => api.r.decide_approval(&id, true, &by),
        "reject" => api.r.decide_approval(&id, false, &by),
        "cancel" => api.r.cancel(&id, &by),
        other => return err(StatusCode::NOT_FOUND, format!("unknown action {other:?}: approve, reject or cancel")),
    };
    match res {
        Ok(()) => ok(json!({"execution": id, "action": action, "by": by})),
        Err(e) => err(StatusCode::CONFLICT, e),
    }
}

/// A signed link opened in a browser (or unfurled by a chat tool) only
/// shows a confirmation form: deciding takes a POST.
async fn confirm(State(api): S, Path((id, action)): Path<(String, String)>, Query(q): Query<HashMap<String, String>>) -> Response {
    if action != "approve" && action != "reject" {
        return err(StatusCode::NOT_FOUND, format!("unknown action {action:?}"));
    }
    let (Some(sig), Some(exp)) = (q.get("sig"), q.get("expires")) else {
        return err(StatusCode::UNAUTHORIZED, "a signed link is needed");
    };
    let desc = match api.r.store().execution(&id) {
        Ok(Some(row)) => format!("{} on {} ({})", row.runbook, row.target, row.state),
        _ => return err(StatusCode::NOT_FOUND, format!("no execution {id}")),
    };
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let html = format!(
        "<!doctype html><meta charset=utf-8><title>Bongsu: {action}</title><h1>{action} execution {id}?</h1><p>{}</p><form method=post action=\"?expires={}&amp;sig={}\"><button type=submit>{action}</button></form>",
        esc(&desc),
        esc(exp),
        esc(sig)
    );
    ([(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

async fn runbooks(State(api): S) -> Response {
    let rbs = api.r.runbooks();
    let breakers = api.r.breakers();
    ok(json!({
        "kill_switch": api.r.kill_switch(),
        "dry_run": api.r.settings().dry_run,
        "runbooks": rbs.by_name.values().map(|rb| json!({
            "name": rb.name, "description": rb.description, "runbook_url": rb.runbook_url, "tier": rb.tier,
            "dry_run": rb.dry_run, "target": rb.target, "source": rb.source,
            "steps": rb.steps.iter().map(|s| json!({"name": s.name, "kind": s.action.kind()})).collect::<Vec<_>>(),
            "circuit_breaker": breakers.get(&rb.name),
        })).collect::<Vec<_>>(),
    }))
}

async fn arm(State(api): S, Path(name): Path<String>, h: HeaderMap) -> Response {
    let who = match authenticated(&api, &h) {
        Ok(u) => u,
        Err(r) => return r,
    };
    match api.r.arm(&name) {
        Ok(was_open) => {
            tracing::info!(runbook = %name, by = %who, "runbook re-armed");
            ok(json!({"runbook": name, "was_open": was_open}))
        }
        Err(e) => err(StatusCode::NOT_FOUND, e),
    }
}

#[derive(Deserialize)]
struct KillReq {
    enabled: bool,
}

async fn kill_switch(State(api): S, h: HeaderMap, body: Bytes) -> Response {
    let who = match authenticated(&api, &h) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let req: KillReq = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return err(StatusCode::BAD_REQUEST, format!("body: {e} (expected {{\"enabled\": true|false}})")),
    };
    match api.r.set_kill_switch(req.enabled, &who) {
        Ok(()) => {
            tracing::warn!(enabled = req.enabled, by = %who, "responder kill switch");
            ok(json!({"enabled": req.enabled}))
        }
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn webhook(State(api): S, Query(q): Query<HashMap<String, String>>, h: HeaderMap, body: Bytes) -> Response {
    let secret = api.r.settings().hmac_secret;
    let hv = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    if let (Some(secret), Some(sig)) = (&secret, hv(SIGNATURE_HEADER)) {
        let now = bongsu_model::now_ms() / 1000;
        if let Err(e) = crate::action::http::verify(secret, hv(TIMESTAMP_HEADER), Some(sig), &body, now, MAX_SKEW_SECS) {
            return err(StatusCode::UNAUTHORIZED, e);
        }
        let ts = hv(TIMESTAMP_HEADER).and_then(|t| t.parse().ok()).unwrap_or(0);
        if let Err(e) = api.replay.check_and_remember(sig, ts, now) {
            return err(StatusCode::UNAUTHORIZED, e);
        }
    } else if let Err(r) = authenticated(&api, &h) {
        return r;
    }
    let Some(runbook) = q.get("runbook") else {
        return err(StatusCode::BAD_REQUEST, "runbook: missing query parameter (…/webhook?runbook=NAME)");
    };
    let t = match Trigger::from_payload(runbook, &body) {
        Ok(t) => t,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    match api.r.submit(t) {
        Ok(ids) => ok(json!({"executions": ids})),
        Err(e) if e.starts_with("no runbook named") => err(StatusCode::NOT_FOUND, e),
        // 5xx: Alertmanager retries, and the execution ids make a retry harmless.
        Err(e) => err(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

#[derive(Deserialize, Default)]
struct IncQ {
    open: Option<bool>,
    since: Option<i64>,
    limit: Option<usize>,
}

fn incident_json(api: &Api, row: &bongsu_store::IncidentRow, timeline: bool) -> Value {
    let mut v = json!({
        "id": row.id, "state": row.state, "opened": row.opened, "acknowledged": row.acknowledged, "resolved": row.resolved,
        "detail": serde_json::from_str::<Value>(&row.body).unwrap_or(Value::Null),
    });
    if timeline {
        let ev = api.r.store().incident_events(&row.id).unwrap_or_default();
        v["timeline"] = Value::Array(ev.into_iter().map(|e| json!({"ts": e.ts, "kind": e.kind, "detail": e.detail})).collect());
        let ex = api.r.store().executions(&ExecutionFilter { incident: Some(row.id.clone()), limit: 1000, ..Default::default() }).unwrap_or_default();
        v["executions"] = Value::Array(ex.iter().map(body_of).collect());
    }
    v
}

async fn incidents(State(api): S, Query(q): Query<IncQ>) -> Response {
    match api.r.store().incidents(q.open.unwrap_or(false), q.since, q.limit.unwrap_or(100)) {
        Ok(rows) => ok(Value::Array(rows.iter().map(|r| incident_json(&api, r, false)).collect())),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn incident(State(api): S, Path(id): Path<String>) -> Response {
    match api.r.store().incident(&id) {
        Ok(Some(row)) => ok(incident_json(&api, &row, true)),
        Ok(None) => err(StatusCode::NOT_FOUND, format!("no incident {id}")),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn ack(State(api): S, Path(id): Path<String>, h: HeaderMap) -> Response {
    let who = match authenticated(&api, &h) {
        Ok(u) => u,
        Err(r) => return r,
    };
    match api.r.acknowledge(&id, &who) {
        Ok(()) => ok(json!({"incident": id, "by": who})),
        Err(e) => err(StatusCode::NOT_FOUND, e),
    }
}

/// An execution record parsed back (for the CLI and tests).
pub fn parse_execution(v: &Value) -> Option<Execution> {
    serde_json::from_value(v.clone()).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_user() {
        assert_eq!(super::decode_basic_user("YWxpY2U6c2VjcmV0").as_deref(), Some("alice"));
        assert_eq!(super::decode_basic_user("!!"), None);
    }
}
