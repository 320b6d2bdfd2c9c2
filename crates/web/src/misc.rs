//! The router, the lifecycle endpoints, `/metrics`, and the PromQL AST
//! helpers for `format_query` / `parse_query`.

use crate::{api, federate, AppState};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bongsu_promql::ast::{AtModifier, BinaryOp, Cardinality, DurationExpr, Expr, VectorSelector};
use serde_json::{json, Map, Value as J};
use std::sync::atomic::Ordering;
use tower_http::compression::CompressionLayer;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/query", get(api::query).post(api::query))
        .route("/query_range", get(api::query_range).post(api::query_range))
        .route("/format_query", get(api::format_query).post(api::format_query))
        .route("/parse_query", get(api::parse_query).post(api::parse_query))
        .route("/series", get(api::series).post(api::series))
        .route("/labels", get(api::labels).post(api::labels))
        .route("/label/{name}/values", get(api::label_values))
        .route("/metadata", get(api::metadata))
        .route("/targets", get(api::targets))
        .route("/targets/metadata", get(api::targets_metadata))
        .route("/scrape_pools", get(api::scrape_pools))
        .route("/query_exemplars", get(api::query_exemplars).post(api::query_exemplars))
        .route("/alertmanagers", get(api::alertmanagers))
        .route("/rules", get(api::rules))
        .route("/alerts", get(api::alerts))
        .route("/status/buildinfo", get(api::status_buildinfo))
        .route("/status/runtimeinfo", get(api::status_runtimeinfo))
        .route("/status/config", get(api::status_config))
        .route("/status/flags", get(api::status_flags))
        .route("/status/tsdb", get(api::status_tsdb))
        .route("/admin/tsdb/delete_series", post(api::delete_series).put(api::delete_series))
        .route("/admin/tsdb/snapshot", post(api::snapshot).put(api::snapshot))
        .route("/admin/tsdb/clean_tombstones", post(api::clean_tombstones).put(api::clean_tombstones))
        .route("/write", post(crate::remote::write).layer(DefaultBodyLimit::disable()))
        .fallback(api_fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(cors))
        .layer(middleware::from_fn_with_state(state.clone(), require_ready));

    let federation = Router::new()
        .route("/federate", get(federate::federate))
        .layer(middleware::from_fn_with_state(state.clone(), require_ready));

    Router::new()
        .nest("/api/v1", api)
        // Served while starting up too, so the UI can show replay progress.
        .route("/api/v1/status/walreplay", get(api::status_walreplay))
        .merge(federation)
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(healthy).head(head_ok))
        .route("/-/ready", get(ready).head(ready_head))
        .route("/-/reload", post(reload).put(reload).get(lifecycle_get))
        .route("/-/quit", get(lifecycle_get))
        .merge(crate::ui::router())
        .fallback(api_fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(10 << 20))
        // The fastest level: on a LAN, CPU is dearer than bytes (level 6 doubled
        // the server time of a dashboard load for ~15% smaller responses).
        .layer(CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest))
        .with_state(state)
}

async fn api_fallback() -> Response {
    api::not_found().await
}

async fn method_not_allowed() -> Response {
    crate::params::http_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

/// Prometheus' default `--web.cors.origin` is `.*`, answered with
/// `Access-Control-Allow-Origin: *` when the request has an `Origin`.
async fn cors(req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    // Prometheus answers OPTIONS on every API path (CORS preflight).
    let mut resp = if req.method() == Method::OPTIONS {
        api::options().await.into_response()
    } else {
        next.run(req).await
    };
    if origin.is_some() {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Accept, Authorization, Content-Type, Origin"));
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Date"));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    resp
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::HeaderName::from_static("x-prometheus-stopping"), HeaderValue::from_static("false"))],
        "Service Unavailable",
    )
        .into_response()
}

async fn require_ready(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.ready.load(Ordering::Acquire) {
        next.run(req).await
    } else {
        unavailable()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.runtime.metrics_text();
    ([(header::CONTENT_TYPE, HeaderValue::from_static(federate::TEXT_CONTENT_TYPE))], body).into_response()
}

async fn healthy() -> &'static str {
    "Prometheus Server is Healthy.\n"
}

async fn head_ok() -> StatusCode {
    StatusCode::OK
}

async fn ready(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        "Prometheus Server is Ready.\n".into_response()
    } else {
        unavailable()
    }
}

async fn ready_head(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        StatusCode::OK.into_response()
    } else {
        unavailable()
    }
}

async fn reload(State(state): State<AppState>) -> Response {
    if !state.enable_lifecycle {
        return (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.").into_response();
    }
    match (state.reload)().await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => crate::params::http_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("failed to reload config: {e}")),
    }
}

async fn lifecycle_get() -> Response {
    (StatusCode::METHOD_NOT_ALLOWED, "Only POST or PUT requests allowed").into_response()
}

// ---- PromQL helpers ------------------------------------------------------------

/// The formatted text of an expression, as `format_query` returns it
/// (Prometheus' `expr.Pretty(0)`).
pub fn format_expr(expr: &Expr) -> String {
    bongsu_promql::printer::prettify(expr)
}

/// Builds a JSON object with keys in sorted order (Go marshals maps sorted),
/// independent of serde_json's map implementation.
fn obj(mut fields: Vec<(&str, J)>) -> J {
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut m = Map::new();
    for (k, v) in fields {
        m.insert(k.to_string(), v);
    }
    J::Object(m)
}

fn strs(v: &[String]) -> J {
    J::Array(v.iter().map(|s| J::String(s.clone())).collect())
}

fn duration_ms(d: &Option<DurationExpr>) -> i64 {
    match d {
        Some(DurationExpr::Millis(ms)) => *ms,
        _ => 0,
    }
}

fn duration_expr(d: &Option<DurationExpr>) -> J {
    match d {
        Some(DurationExpr::Expr(e)) => translate_duration(e),
        _ => J::Null,
    }
}

fn translate_duration(e: &Expr) -> J {
    match e {
        Expr::Binary(b) => obj(vec![
            ("type", json!("durationExpr")),
            ("op", json!(b.op.as_str())),
            ("lhs", translate_duration(&b.lhs)),
            ("rhs", translate_duration(&b.rhs)),
            ("wrapped", json!(false)),
        ]),
        Expr::Paren(inner, _) => match translate_duration(inner) {
            J::Object(mut m) if m.get("type") == Some(&json!("durationExpr")) => {
                m.insert("wrapped".into(), json!(true));
                J::Object(m)
            }
            other => other,
        },
        Expr::Neg(inner, _) => obj(vec![
            ("type", json!("durationExpr")),
            ("op", json!("-")),
            ("lhs", J::Null),
            ("rhs", translate_duration(inner)),
            ("wrapped", json!(false)),
        ]),
        Expr::Number(v, _) => obj(vec![
            ("type", json!("numberLiteral")),
            ("val", json!(bongsu_model::fmt_float(*v))),
            ("duration", json!(false)),
        ]),
        other => translate_ast(other),
    }
}

fn at_fields(at: &Option<AtModifier>) -> (J, J) {
    match at {
        None => (J::Null, J::Null),
        Some(AtModifier::Timestamp(t)) => (json!(t), J::Null),
        Some(AtModifier::Start) => (J::Null, json!("start")),
        Some(AtModifier::End) => (J::Null, json!("end")),
    }
}

fn matchers(vs: &VectorSelector) -> J {
    J::Array(
        vs.matchers
            .iter()
            .map(|m| obj(vec![("name", json!(m.name)), ("value", json!(m.value)), ("type", json!(m.op.as_str()))]))
            .collect(),
    )
}

/// Prometheus' `translateAST`: the JSON tree `parse_query` returns.
pub fn translate_ast(e: &Expr) -> J {
    match e {
        Expr::Aggregate(a) => obj(vec![
            ("type", json!("aggregation")),
            ("op", json!(a.op.as_str())),
            ("expr", translate_ast(&a.expr)),
            ("param", a.param.as_deref().map(translate_ast).unwrap_or(J::Null)),
            ("grouping", strs(&a.grouping)),
            ("without", json!(a.without)),
        ]),
        Expr::Binary(b) => {
            let matching = match &b.matching {
                None => J::Null,
                Some(m) => obj(vec![
                    (
                        "card",
                        json!(match m.card {
                            Cardinality::OneToOne => "one-to-one",
                            Cardinality::ManyToOne => "many-to-one",
                            Cardinality::OneToMany => "one-to-many",
                            Cardinality::ManyToMany => "many-to-many",
                        }),
                    ),
                    ("labels", strs(&m.labels)),
                    ("on", json!(m.on)),
                    ("include", strs(&m.include)),
                    ("fillValues", obj(vec![("lhs", json!(m.fill.lhs)), ("rhs", json!(m.fill.rhs))])),
                ]),
            };
            obj(vec![
                ("type", json!("binaryExpr")),
                ("op", json!(b.op.as_str())),
                ("lhs", translate_ast(&b.lhs)),
                ("rhs", translate_ast(&b.rhs)),
                ("matching", matching),
                ("bool", json!(b.return_bool)),
            ])
        }
        Expr::Call(c) => {
            let sig = bongsu_promql::functions::lookup(&c.func);
            let ret = sig.map(|s| s.return_type.as_str()).unwrap_or("vector");
            let arg_types: Vec<J> = match sig {
                Some(s) => s.arg_types.iter().map(|t| json!(t.as_str())).collect(),
                None => c.args.iter().map(|a| json!(a.value_type().as_str())).collect(),
            };
            let variadic = sig.map(|s| s.variadic).unwrap_or(0);
            obj(vec![
                ("type", json!("call")),
                (
                    "func",
                    obj(vec![
                        ("name", json!(c.func)),
                        ("argTypes", J::Array(arg_types)),
                        ("variadic", json!(variadic)),
                        ("returnType", json!(ret)),
                    ]),
                ),
                ("args", J::Array(c.args.iter().map(translate_ast).collect())),
            ])
        }
        Expr::MatrixSelector(m) => {
            let vs = &m.selector;
            let (ts, soe) = at_fields(&vs.at);
            let range = match &m.range {
                DurationExpr::Millis(ms) => *ms,
                DurationExpr::Expr(_) => 0,
            };
            let range_expr = match &m.range {
                DurationExpr::Expr(e) => translate_duration(e),
                DurationExpr::Millis(_) => J::Null,
            };
            obj(vec![
                ("type", json!("matrixSelector")),
                ("name", json!(vs.name.clone().unwrap_or_default())),
                ("range", json!(range)),
                ("rangeExpr", range_expr),
                ("offset", json!(duration_ms(&vs.offset))),
                ("offsetExpr", duration_expr(&vs.offset)),
                ("matchers", matchers(vs)),
                ("timestamp", ts),
                ("startOrEnd", soe),
                ("anchored", json!(vs.anchored)),
                ("smoothed", json!(vs.smoothed)),
            ])
        }
        Expr::Subquery(s) => {
            let (ts, soe) = at_fields(&s.at);
            let range = match &s.range {
                DurationExpr::Millis(ms) => *ms,
                DurationExpr::Expr(_) => 0,
            };
            let range_expr = match &s.range {
                DurationExpr::Expr(e) => translate_duration(e),
                DurationExpr::Millis(_) => J::Null,
            };
            obj(vec![
                ("type", json!("subquery")),
                ("expr", translate_ast(&s.expr)),
                ("range", json!(range)),
                ("rangeExpr", range_expr),
                ("offset", json!(duration_ms(&s.offset))),
                ("offsetExpr", duration_expr(&s.offset)),
                ("step", json!(duration_ms(&s.step))),
                ("stepExpr", duration_expr(&s.step)),
                ("timestamp", ts),
                ("startOrEnd", soe),
            ])
        }
        Expr::Number(v, _) => obj(vec![("type", json!("numberLiteral")), ("val", json!(bongsu_model::fmt_float(*v)))]),
        Expr::Paren(inner, _) => obj(vec![("type", json!("parenExpr")), ("expr", translate_ast(inner))]),
        Expr::String(s, _) => obj(vec![("type", json!("stringLiteral")), ("val", json!(s.as_str()))]),
        Expr::Neg(inner, _) => obj(vec![("type", json!("unaryExpr")), ("op", json!(BinaryOp::Sub.as_str())), ("expr", translate_ast(inner))]),
        Expr::VectorSelector(vs) => {
            let (ts, soe) = at_fields(&vs.at);
            obj(vec![
                ("type", json!("vectorSelector")),
                ("name", json!(vs.name.clone().unwrap_or_default())),
                ("offset", json!(duration_ms(&vs.offset))),
                ("offsetExpr", duration_expr(&vs.offset)),
                ("matchers", matchers(vs)),
                ("timestamp", ts),
                ("startOrEnd", soe),
                ("anchored", json!(vs.anchored)),
                ("smoothed", json!(vs.smoothed)),
            ])
        }
    }
}
