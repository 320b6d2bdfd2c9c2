//! `/api/v1/*` handlers with Prometheus' envelope and error types.

use crate::json;
use crate::params::{self, go_quote, parse_limit, parse_time, parse_time_param, Params, MAX_TIME_MS, MIN_TIME_MS};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bongsu_model::storage::{SelectHints, StorageError};
use bongsu_model::{now_ms, Labels, Matcher};
use bongsu_promql::engine::{Engine, EngineOptions, QueryError, QueryResult, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Prometheus' API error types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    Timeout,
    Canceled,
    Execution,
    BadData,
    Internal,
    Unavailable,
    NotFound,
    NotAcceptable,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Execution => "execution",
            ErrorType::BadData => "bad_data",
            ErrorType::Internal => "internal",
            ErrorType::Unavailable => "unavailable",
            ErrorType::NotFound => "not_found",
            ErrorType::NotAcceptable => "not_acceptable",
        }
    }

    /// The HTTP status Prometheus answers with (`getDefaultErrorCode`).
    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Canceled => StatusCode::from_u16(499).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ErrorType::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
            ErrorType::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ErrorType::Internal | ErrorType::Unavailable => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An API error: rendered as `{"status":"error","errorType":…,"error":…}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", typ.as_str())]
pub struct ApiError {
    pub typ: ErrorType,
    pub message: String,
}

impl ApiError {
    pub fn new(typ: ErrorType, message: impl Into<String>) -> Self {
        ApiError { typ, message: message.into() }
    }
    pub fn bad_data(message: impl Into<String>) -> Self {
        Self::new(ErrorType::BadData, message)
    }
    /// `invalid parameter "name": <err>`.
    pub fn invalid_param(name: &str, err: impl std::fmt::Display) -> Self {
        Self::bad_data(format!("invalid parameter {}: {err}", go_quote(name)))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut b = String::with_capacity(64 + self.message.len());
        b.push_str(r#"{"status":"error","errorType":"#);
        json::str_html(&mut b, self.typ.as_str());
        b.push_str(r#","error":"#);
        json::str_html(&mut b, &self.message);
        b.push('}');
        (self.typ.status(), [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], b).into_response()
    }
}

/// A successful API answer: pre-encoded `data` plus annotations; `None`
/// data is answered with 204 as Prometheus does for the admin endpoints.
#[derive(Debug, Default)]
pub struct ApiOk {
    pub data: Option<String>,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl ApiOk {
    fn data(data: String) -> Self {
        ApiOk { data: Some(data), ..Default::default() }
    }
}

impl IntoResponse for ApiOk {
    fn into_response(self) -> Response {
        let Some(data) = self.data else {
            return StatusCode::NO_CONTENT.into_response();
        };
        let mut b = String::with_capacity(data.len() + 64);
        b.push_str(r#"{"status":"success","data":"#);
        b.push_str(&data);
        let warnings = cap_annotations(self.warnings, "warning");
        if !warnings.is_empty() {
            b.push_str(r#","warnings":"#);
            json::str_array(&mut b, &warnings);
        }
        let infos = cap_annotations(self.infos, "info");
        if !infos.is_empty() {
            b.push_str(r#","infos":"#);
            json::str_array(&mut b, &infos);
        }
        b.push('}');
        (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], b).into_response()
    }
}

pub type ApiResult = Result<ApiOk, ApiError>;

/// Prometheus keeps annotations in a set and shows at most 10 of each kind.
fn cap_annotations(list: Vec<String>, kind: &str) -> Vec<String> {
    const MAX: usize = 10;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut skipped = 0;
    for a in list {
        if !seen.insert(a.clone()) {
            continue;
        }
        if out.len() < MAX {
            out.push(a);
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        out.push(format!("{skipped} more {kind} annotations omitted"));
    }
    out
}

const TRUNCATED: &str = "results truncated due to limit";

fn storage_err(e: StorageError) -> ApiError {
    ApiError::new(ErrorType::Execution, e.to_string())
}

fn query_err(e: QueryError) -> ApiError {
    match e {
        QueryError::Parse(p) => ApiError::invalid_param("query", p),
        QueryError::Timeout(_) => ApiError::new(ErrorType::Timeout, e.to_string()),
        QueryError::Storage(_) => ApiError::new(ErrorType::Internal, e.to_string()),
        // Prometheus rejects these when the query is created, as a bad
        // `query` parameter.
        QueryError::Execution(m) if m.starts_with("invalid expression type") => ApiError::invalid_param("query", m),
        QueryError::TooManySamples(_) | QueryError::Execution(_) => ApiError::new(ErrorType::Execution, e.to_string()),
    }
}

// ---- query / query_range ---------------------------------------------------

enum QueryKind {
    Instant { t: i64 },
    Range { start: i64, end: i64, step: i64 },
}

fn timeout_param(p: &Params, state: &AppState) -> Result<Duration, ApiError> {
    let engine_timeout = state.engine.opts.timeout;
    let to = p.get("timeout");
    if to.is_empty() {
        return Ok(engine_timeout);
    }
    let ns = params::parse_duration_ns(to).map_err(|e| ApiError::invalid_param("timeout", e))?;
    Ok(Duration::from_nanos(ns.max(0) as u64).min(engine_timeout))
}

/// The engine options for one request: the `timeout` and `lookback_delta`
/// parameters override the server's defaults.
fn query_options(p: &Params, state: &AppState) -> Result<EngineOptions, ApiError> {
    let mut opts = state.engine.opts.clone();
    opts.timeout = timeout_param(p, state)?;
    let lb = p.get("lookback_delta");
    if !lb.is_empty() {
        let ns = params::parse_duration_ns(lb)
            .map_err(|e| ApiError::bad_data(format!("error parsing lookback delta duration: {e}")))?;
        if ns > 0 {
            opts.lookback_delta = ns / 1_000_000;
        }
    }
    Ok(opts)
}

/// Prometheus' `--query.max-concurrency` default: further queries wait.
const DEFAULT_QUERY_SLOTS: usize = 20;
static QUERY_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(DEFAULT_QUERY_SLOTS);
static QUERY_SLOTS_SET: std::sync::Once = std::sync::Once::new();

/// Sets `--query.max-concurrency` (at least 1). Effective once per process;
/// call it before serving.
pub fn set_query_max_concurrency(n: usize) {
    QUERY_SLOTS_SET.call_once(|| {
        let n = n.max(1);
        if n > DEFAULT_QUERY_SLOTS {
            QUERY_SLOTS.add_permits(n - DEFAULT_QUERY_SLOTS);
        } else {
            QUERY_SLOTS.forget_permits(DEFAULT_QUERY_SLOTS - n);
        }
    });
}

async fn run_query(state: &AppState, query: String, kind: QueryKind, opts: EngineOptions) -> Result<QueryResult, ApiError> {
    let started = tokio::time::Instant::now();
    let _slot = match tokio::time::timeout(opts.timeout, QUERY_SLOTS.acquire()).await {
        Ok(Ok(permit)) => permit,
        _ => return Err(ApiError::new(ErrorType::Timeout, "query timed out in query queue")),
    };
    let mut opts = opts;
    opts.timeout = opts.timeout.saturating_sub(started.elapsed());
    // The engine stops itself at the deadline; the outer timeout only guards
    // against a stuck evaluation.
    let backstop = opts.timeout.saturating_add(Duration::from_secs(5));
    let q = state.queryable.clone();
    let task = tokio::task::spawn_blocking(move || {
        let engine = Engine::new(opts);
        match kind {
            QueryKind::Instant { t } => engine.instant_query(&*q, &query, t),
            QueryKind::Range { start, end, step } => engine.range_query(&*q, &query, start, end, step),
        }
    });
    match tokio::time::timeout(backstop, task).await {
        Err(_) => Err(ApiError::new(ErrorType::Timeout, "query timed out in expression evaluation")),
        Ok(Err(e)) => Err(ApiError::new(ErrorType::Internal, format!("query evaluation failed: {e}"))),
        Ok(Ok(r)) => r.map_err(query_err),
    }
}

fn stats_warning(p: &Params, warnings: &mut Vec<String>) {
    let s = p.get("stats");
    if !matches!(s, "" | "true" | "all") {
        warnings.push(format!(
            "value {} for parameter \"stats\" is deprecated and will be rejected in the next major release, use \"true\" or \"all\"",
            go_quote(s)
        ));
    }
}

/// Encodes a query result as `{"resultType":…,"result":…}`, truncating
/// vectors and matrices to `limit` series (0 = no limit).
pub fn encode_result(v: &Value, limit: usize) -> (String, bool) {
    let mut b = String::new();
    let mut truncated = false;
    let cap = |n: usize, truncated: &mut bool| {
        if limit > 0 && n > limit {
            *truncated = true;
            limit
        } else {
            n
        }
    };
    match v {
        Value::Scalar { t, v } => {
            b.push_str(r#"{"resultType":"scalar","result":["#);
            b.push_str(&json::go_json_number(*t as f64 / 1000.0));
            b.push(',');
            json::str_html(&mut b, &bongsu_model::fmt_float(*v));
            b.push_str("]}");
        }
        Value::String { t, s } => {
            b.push_str(r#"{"resultType":"string","result":["#);
            b.push_str(&json::go_json_number(*t as f64 / 1000.0));
            b.push(',');
            json::str_html(&mut b, s);
            b.push_str("]}");
        }
        Value::Vector(vec) => {
            b.push_str(r#"{"resultType":"vector","result":["#);
            let n = cap(vec.len(), &mut truncated);
            for (i, s) in vec[..n].iter().enumerate() {
                if i > 0 {
                    b.push(',');
                }
                b.push_str(r#"{"metric":"#);
                json::labels(&mut b, &s.labels);
                b.push_str(r#","value":["#);
                json::timestamp(&mut b, s.t);
                b.push_str(",\"");
                json::push_sample_value(&mut b, s.v);
                b.push_str("\"]}");
            }
            b.push_str("]}");
        }
        Value::Matrix(m) => {
            b.push_str(r#"{"resultType":"matrix","result":["#);
            let n = cap(m.len(), &mut truncated);
            for (i, s) in m[..n].iter().enumerate() {
                if i > 0 {
                    b.push(',');
                }
                b.push_str(r#"{"metric":"#);
                json::labels(&mut b, &s.labels);
                if !s.samples.is_empty() {
                    b.push_str(r#","values":["#);
                    for (j, p) in s.samples.iter().enumerate() {
                        if j > 0 {
                            b.push(',');
                        }
                        b.push('[');
                        json::timestamp(&mut b, p.t);
                        b.push_str(",\"");
                        json::push_sample_value(&mut b, p.v);
                        b.push_str("\"]");
                    }
                    b.push(']');
                }
                b.push('}');
            }
            b.push_str("]}");
        }
    }
    (b, truncated)
}

fn finish_query(res: QueryResult, limit: usize, p: &Params) -> ApiOk {
    let (data, truncated) = encode_result(&res.value, limit);
    let mut warnings = res.warnings;
    if truncated {
        warnings.push(TRUNCATED.into());
    }
    stats_warning(p, &mut warnings);
    ApiOk { data: Some(data), warnings, infos: res.infos }
}

pub async fn query(State(state): State<AppState>, p: Params) -> ApiResult {
    let limit = parse_limit(p.get("limit")).map_err(|e| ApiError::invalid_param("limit", e))?;
    let t = parse_time_param(&p, "time", now_ms()).map_err(|e| ApiError::invalid_param("time", e))?;
    let opts = query_options(&p, &state)?;
    let res = run_query(&state, p.get("query").to_string(), QueryKind::Instant { t }, opts).await?;
    Ok(finish_query(res, limit, &p))
}

pub async fn query_range(State(state): State<AppState>, p: Params) -> ApiResult {
    let limit = parse_limit(p.get("limit")).map_err(|e| ApiError::invalid_param("limit", e))?;
    let start = parse_time(p.get("start")).map_err(|e| ApiError::invalid_param("start", e))?;
    let end = parse_time(p.get("end")).map_err(|e| ApiError::invalid_param("end", e))?;
    if end < start {
        return Err(ApiError::invalid_param("end", "end timestamp must not be before start time"));
    }
    let step_ns = params::parse_duration_ns(p.get("step")).map_err(|e| ApiError::invalid_param("step", e))?;
    if step_ns <= 0 {
        return Err(ApiError::invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    let span_ns = (end as i128 - start as i128) * 1_000_000;
    if span_ns / step_ns as i128 > 11000 {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let opts = query_options(&p, &state)?;
    let step = (step_ns / 1_000_000).max(1);
    let res = run_query(&state, p.get("query").to_string(), QueryKind::Range { start, end, step }, opts).await?;
    Ok(finish_query(res, limit, &p))
}

pub async fn format_query(p: Params) -> ApiResult {
    let expr = bongsu_promql::parse(p.get("query")).map_err(|e| ApiError::invalid_param("query", e))?;
    let mut b = String::new();
    json::str_html(&mut b, &crate::misc::format_expr(&expr));
    Ok(ApiOk::data(b))
}

pub async fn parse_query(p: Params) -> ApiResult {
    let expr = bongsu_promql::parse(p.get("query")).map_err(|e| ApiError::invalid_param("query", e))?;
    let mut b = String::new();
    json::value(&mut b, &crate::misc::translate_ast(&expr));
    Ok(ApiOk::data(b))
}

// ---- series / labels ---------------------------------------------------------

fn range_params(p: &Params) -> Result<SelectHints, ApiError> {
    let mint = parse_time_param(p, "start", MIN_TIME_MS).map_err(|e| ApiError::invalid_param("start", e))?;
    let maxt = parse_time_param(p, "end", MAX_TIME_MS).map_err(|e| ApiError::invalid_param("end", e))?;
    Ok(SelectHints { mint, maxt })
}

pub async fn series(State(state): State<AppState>, p: Params) -> ApiResult {
    let sels = p.all("match[]");
    if sels.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let limit = parse_limit(p.get("limit")).map_err(|e| ApiError::invalid_param("limit", e))?;
    let hints = range_params(&p)?;
    let sets = params::parse_matcher_sets(&sels).map_err(|e| ApiError::invalid_param("match[]", e))?;
    let q = state.queryable.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<Vec<Labels>, StorageError> {
        if sets.len() == 1 {
            return q.series(hints, &sets[0]);
        }
        let mut all = BTreeSet::new();
        for set in &sets {
            all.extend(q.series(hints, set)?);
        }
        Ok(all.into_iter().collect())
    })
    .await
    .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?
    .map_err(storage_err)?;
    let mut warnings = vec![];
    let n = if limit > 0 && res.len() > limit {
        warnings.push(TRUNCATED.to_string());
        limit
    } else {
        res.len()
    };
    let mut b = String::from("[");
    for (i, l) in res[..n].iter().enumerate() {
        if i > 0 {
            b.push(',');
        }
        json::labels(&mut b, l);
    }
    b.push(']');
    Ok(ApiOk { data: Some(b), warnings, infos: vec![] })
}

fn list_response(mut items: Vec<String>, limit: usize) -> ApiOk {
    let mut warnings = vec![];
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        warnings.push(TRUNCATED.to_string());
    }
    let mut b = String::new();
    json::str_array(&mut b, &items);
    ApiOk { data: Some(b), warnings, infos: vec![] }
}

pub async fn labels(State(state): State<AppState>, p: Params) -> ApiResult {
    let limit = parse_limit(p.get("limit")).map_err(|e| ApiError::invalid_param("limit", e))?;
    let hints = range_params(&p)?;
    let sets = params::parse_matcher_sets(&p.all("match[]")).map_err(ApiError::bad_data)?;
    let q = state.queryable.clone();
    let names = tokio::task::spawn_blocking(move || -> Result<Vec<String>, StorageError> {
        if sets.len() <= 1 {
            let empty: Vec<Matcher> = vec![];
            return q.label_names(hints, sets.first().unwrap_or(&empty));
        }
        let mut all = BTreeSet::new();
        for set in &sets {
            all.extend(q.label_names(hints, set)?);
        }
        Ok(all.into_iter().collect())
    })
    .await
    .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?
    .map_err(storage_err)?;
    Ok(list_response(names, limit))
}

/// `model.UnescapeName` for the `U__` value-encoding escaping.
fn unescape_name(name: &str) -> String {
    let Some(rest) = name.strip_prefix("U__") else {
        return name.to_string();
    };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let mut hex = String::new();
        let mut closed = false;
        for h in chars.by_ref() {
            if h == '_' {
                closed = true;
                break;
            }
            hex.push(h);
        }
        match (closed, u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)) {
            (true, Some(ch)) => out.push(ch),
            _ => return name.to_string(),
        }
    }
    out
}

pub async fn label_values(State(state): State<AppState>, Path(name): Path<String>, p: Params) -> ApiResult {
    let name = unescape_name(&name);
    if name.is_empty() {
        return Err(ApiError::bad_data(format!("invalid label name: {}", go_quote(&name))));
    }
    let limit = parse_limit(p.get("limit")).map_err(|e| ApiError::invalid_param("limit", e))?;
    let hints = range_params(&p)?;
    let sets = params::parse_matcher_sets(&p.all("match[]")).map_err(ApiError::bad_data)?;
    let q = state.queryable.clone();
    let vals = tokio::task::spawn_blocking(move || -> Result<Vec<String>, StorageError> {
        if sets.len() <= 1 {
            let empty: Vec<Matcher> = vec![];
            return q.label_values(&name, hints, sets.first().unwrap_or(&empty));
        }
        let mut all = BTreeSet::new();
        for set in &sets {
            all.extend(q.label_values(&name, hints, set)?);
        }
        Ok(all.into_iter().collect())
    })
    .await
    .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?
    .map_err(storage_err)?;
    let mut vals = vals;
    vals.sort();
    Ok(list_response(vals, limit))
}

// ---- targets / metadata ------------------------------------------------------

pub async fn targets(State(state): State<AppState>, p: Params) -> ApiResult {
    let pool = p.url_get("scrapePool");
    let st = p.url_get("state").to_ascii_lowercase();
    let show_active = matches!(st.as_str(), "" | "any" | "active");
    let show_dropped = matches!(st.as_str(), "" | "any" | "dropped");
    let mut b = String::from(r#"{"activeTargets":["#);
    if show_active {
        let mut act = state.targets.active();
        act.sort_by(|a, b| a.scrape_pool.cmp(&b.scrape_pool));
        let mut first = true;
        for t in act.iter().filter(|t| pool.is_empty() || t.scrape_pool == pool) {
            if !first {
                b.push(',');
            }
            first = false;
            b.push_str(r#"{"discoveredLabels":"#);
            json::labels(&mut b, &t.discovered_labels);
            b.push_str(r#","labels":"#);
            json::labels(&mut b, &t.labels);
            for (k, v) in [
                ("scrapePool", &t.scrape_pool),
                ("scrapeUrl", &t.scrape_url),
                ("globalUrl", &t.global_url),
                ("lastError", &t.last_error),
            ] {
                b.push_str(&format!(",\"{k}\":"));
                json::str_html(&mut b, v);
            }
            b.push_str(r#","lastScrape":"#);
            json::str_html(&mut b, &json::system_time(t.last_scrape));
            b.push_str(r#","lastScrapeDuration":"#);
            b.push_str(&json::go_json_number(t.last_scrape_duration));
            for (k, v) in [("health", &t.health), ("scrapeInterval", &t.scrape_interval), ("scrapeTimeout", &t.scrape_timeout)] {
                b.push_str(&format!(",\"{k}\":"));
                json::str_html(&mut b, v);
            }
            b.push('}');
        }
    }
    b.push_str(r#"],"droppedTargets":["#);
    if show_dropped {
        let mut dropped = state.targets.dropped();
        dropped.sort_by(|a, b| a.scrape_pool.cmp(&b.scrape_pool));
        let mut first = true;
        for t in dropped.iter().filter(|t| pool.is_empty() || t.scrape_pool == pool) {
            if !first {
                b.push(',');
            }
            first = false;
            b.push_str(r#"{"discoveredLabels":"#);
            json::labels(&mut b, &t.discovered_labels);
            b.push_str(r#","scrapePool":"#);
            json::str_html(&mut b, &t.scrape_pool);
            b.push('}');
        }
        b.push_str(r#"],"droppedTargetCounts":{"#);
        for (i, (k, v)) in state.targets.dropped_counts().iter().enumerate() {
            if i > 0 {
                b.push(',');
            }
            json::str_html(&mut b, k);
            b.push_str(&format!(":{v}"));
        }
        b.push_str("}}");
    } else {
        b.push_str(r#"],"droppedTargetCounts":null}"#);
    }
    Ok(ApiOk::data(b))
}

fn signed_limit(p: &Params, name: &str) -> Result<i64, ApiError> {
    let s = p.get(name);
    if s.is_empty() {
        return Ok(-1);
    }
    params::atoi(s).map_err(|_| ApiError::bad_data(format!("{name} must be a number")))
}

pub async fn targets_metadata(State(state): State<AppState>, p: Params) -> ApiResult {
    let limit = signed_limit(&p, "limit")?;
    let match_target = p.get("match_target");
    let matchers = if match_target.is_empty() {
        vec![]
    } else {
        params::parse_selector(match_target).map_err(|e| ApiError::invalid_param("match_target", e))?
    };
    let metric = p.get("metric");
    let mut b = String::from("[");
    let mut n: i64 = 0;
    for md in state.targets.metadata() {
        if limit >= 0 && n >= limit {
            break;
        }
        if !bongsu_model::matcher::matches_all(&matchers, &md.target) {
            continue;
        }
        if !metric.is_empty() && md.metric != metric {
            continue;
        }
        if n > 0 {
            b.push(',');
        }
        n += 1;
        b.push_str(r#"{"target":"#);
        json::labels(&mut b, &md.target);
        if metric.is_empty() {
            b.push_str(r#","metric":"#);
            json::str_html(&mut b, &md.metric);
        }
        b.push_str(r#","type":"#);
        json::str_html(&mut b, &md.metric_type);
        b.push_str(r#","help":"#);
        json::str_html(&mut b, &md.help);
        b.push_str(r#","unit":"#);
        json::str_html(&mut b, &md.unit);
        b.push('}');
    }
    b.push(']');
    Ok(ApiOk::data(b))
}

pub async fn metadata(State(state): State<AppState>, p: Params) -> ApiResult {
    let limit = signed_limit(&p, "limit")?;
    let per_metric = signed_limit(&p, "limit_per_metric")?;
    let metric = p.get("metric");
    let mut by_name: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for md in state.targets.metadata() {
        if !metric.is_empty() && md.metric != metric {
            continue;
        }
        let entry = by_name.entry(md.metric.clone()).or_default();
        let item = (md.metric_type, md.unit, md.help);
        if entry.contains(&item) {
            continue;
        }
        if per_metric > 0 && entry.len() as i64 >= per_metric {
            continue;
        }
        entry.push(item);
    }
    let mut b = String::from("{");
    for (i, (name, items)) in by_name.iter().enumerate() {
        if limit >= 0 && i as i64 >= limit {
            break;
        }
        if i > 0 {
            b.push(',');
        }
        json::str_html(&mut b, name);
        b.push_str(":[");
        for (j, (typ, unit, help)) in items.iter().enumerate() {
            if j > 0 {
                b.push(',');
            }
            b.push_str(r#"{"type":"#);
            json::str_html(&mut b, typ);
            b.push_str(r#","unit":"#);
            json::str_html(&mut b, unit);
            b.push_str(r#","help":"#);
            json::str_html(&mut b, help);
            b.push('}');
        }
        b.push(']');
    }
    b.push('}');
    Ok(ApiOk::data(b))
}

pub async fn scrape_pools(State(state): State<AppState>) -> ApiResult {
    let mut b = String::from(r#"{"scrapePools":"#);
    json::str_array(&mut b, &state.targets.scrape_pools());
    b.push('}');
    Ok(ApiOk::data(b))
}

/// Exemplars are not stored yet: the parameters are checked as Prometheus
/// does and the answer is empty.
pub async fn query_exemplars(p: Params) -> ApiResult {
    let start = parse_time_param(&p, "start", MIN_TIME_MS).map_err(|e| ApiError::invalid_param("start", e))?;
    let end = parse_time_param(&p, "end", MAX_TIME_MS).map_err(|e| ApiError::invalid_param("end", e))?;
    if end < start {
        return Err(ApiError::bad_data("end timestamp must not be before start timestamp"));
    }
    let expr = bongsu_promql::parse(p.get("query")).map_err(|e| ApiError::bad_data(e.to_string()))?;
    if !has_selector(&expr) {
        return Ok(ApiOk::default());
    }
    Ok(ApiOk::data("[]".into()))
}

fn has_selector(e: &bongsu_promql::ast::Expr) -> bool {
    use bongsu_promql::ast::Expr as E;
    match e {
        E::VectorSelector(_) | E::MatrixSelector(_) => true,
        E::Number(..) | E::String(..) => false,
        E::Subquery(s) => has_selector(&s.expr),
        E::Call(c) => c.args.iter().any(has_selector),
        E::Aggregate(a) => has_selector(&a.expr) || a.param.as_deref().is_some_and(has_selector),
        E::Binary(b) => has_selector(&b.lhs) || has_selector(&b.rhs),
        E::Neg(x, _) | E::Paren(x, _) => has_selector(x),
    }
}

// ---- rules / alerts / status -------------------------------------------------

pub async fn alertmanagers(State(state): State<AppState>) -> ApiResult {
    Ok(value_data(&state.runtime.alertmanagers()))
}

/// The WAL has been replayed by the time the API is ready.
pub async fn status_walreplay() -> ApiResult {
    Ok(ApiOk::data(r#"{"min":0,"max":0,"current":0}"#.into()))
}

fn value_data(v: &serde_json::Value) -> ApiOk {
    let mut b = String::new();
    json::value(&mut b, v);
    ApiOk::data(b)
}

pub async fn rules(State(state): State<AppState>, p: Params) -> ApiResult {
    let kind = match p.get("type") {
        "" => None,
        "alert" | "record" => Some(p.get("type").to_string()),
        other => return Err(ApiError::invalid_param("type", format!("not supported value {other:?}"))),
    };
    let exclude_alerts = match p.get("exclude_alerts") {
        "" | "false" | "0" => false,
        "true" | "1" => true,
        other => return Err(ApiError::invalid_param("exclude_alerts", format!("not a boolean: {other:?}"))),
    };
    let own = |n: &str| p.all(n).into_iter().map(str::to_string).collect::<Vec<_>>();
    let q = crate::RulesQuery {
        kind,
        rule_names: own("rule_name[]"),
        group_names: own("rule_group[]"),
        files: own("file[]"),
        exclude_alerts,
    };
    Ok(value_data(&state.runtime.rules(&q)))
}

pub async fn alerts(State(state): State<AppState>) -> ApiResult {
    Ok(value_data(&state.runtime.alerts()))
}

pub async fn status_buildinfo(State(state): State<AppState>) -> ApiResult {
    Ok(value_data(&state.runtime.build_info()))
}

pub async fn status_runtimeinfo(State(state): State<AppState>) -> ApiResult {
    Ok(value_data(&state.runtime.runtime_info()))
}

pub async fn status_config(State(state): State<AppState>) -> ApiResult {
    let mut b = String::from(r#"{"yaml":"#);
    json::str_html(&mut b, &state.runtime.config_yaml());
    b.push('}');
    Ok(ApiOk::data(b))
}

pub async fn status_flags(State(state): State<AppState>) -> ApiResult {
    let mut b = String::from("{");
    for (i, (k, v)) in state.runtime.flags().iter().enumerate() {
        if i > 0 {
            b.push(',');
        }
        json::str_html(&mut b, k);
        b.push(':');
        json::str_html(&mut b, v);
    }
    b.push('}');
    Ok(ApiOk::data(b))
}

pub async fn status_tsdb(State(state): State<AppState>, p: Params) -> ApiResult {
    const MAX: i64 = 10_000;
    let mut limit = 10;
    let s = p.get("limit");
    if !s.is_empty() {
        limit = match params::atoi(s) {
            Ok(n) if n >= 1 => n,
            _ => return Err(ApiError::bad_data("limit must be a positive number")),
        };
        if limit > MAX {
            return Err(ApiError::bad_data(format!("limit must not exceed {MAX}")));
        }
    }
    let tsdb = state.tsdb.clone();
    let v = tokio::task::spawn_blocking(move || tsdb.status(limit as usize))
        .await
        .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?;
    Ok(value_data(&v))
}

// ---- admin ---------------------------------------------------------------------

fn admin_enabled(state: &AppState) -> Result<(), ApiError> {
    if state.enable_admin_api {
        Ok(())
    } else {
        Err(ApiError::new(ErrorType::Unavailable, "admin APIs disabled"))
    }
}

pub async fn delete_series(State(state): State<AppState>, p: Params) -> ApiResult {
    admin_enabled(&state)?;
    let sels = p.all("match[]");
    if sels.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let hints = range_params(&p)?;
    let mut sets = vec![];
    for s in sels {
        sets.push(params::parse_selector(s).map_err(|e| ApiError::invalid_param("match[]", e))?);
    }
    let tsdb = state.tsdb.clone();
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        for set in &sets {
            tsdb.delete_series(set, hints.mint, hints.maxt)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?
    .map_err(|e| ApiError::new(ErrorType::Internal, e))?;
    Ok(ApiOk::default())
}

pub async fn snapshot(State(state): State<AppState>, p: Params) -> ApiResult {
    admin_enabled(&state)?;
    let s = p.get("skip_head");
    let skip_head = if s.is_empty() {
        false
    } else {
        params::parse_bool(s).map_err(|e| ApiError::invalid_param("skip_head", format!("unable to parse boolean: {e}")))?
    };
    let tsdb = state.tsdb.clone();
    let name = tokio::task::spawn_blocking(move || tsdb.snapshot(skip_head))
        .await
        .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?
        .map_err(|e| ApiError::new(ErrorType::Internal, format!("create snapshot: {e}")))?;
    let mut b = String::from(r#"{"name":"#);
    json::str_html(&mut b, &name);
    b.push('}');
    Ok(ApiOk::data(b))
}

pub async fn clean_tombstones(State(state): State<AppState>) -> ApiResult {
    admin_enabled(&state)?;
    let tsdb = state.tsdb.clone();
    tokio::task::spawn_blocking(move || tsdb.clean_tombstones())
        .await
        .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?
        .map_err(|e| ApiError::new(ErrorType::Internal, e))?;
    Ok(ApiOk::default())
}

/// `OPTIONS /api/v1/*`: empty success (CORS preflight).
pub async fn options() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Unknown `/api/v1/*` path.
pub async fn not_found() -> Response {
    crate::params::http_error(StatusCode::NOT_FOUND, "404 page not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_names() {
        assert_eq!(unescape_name("U__foo_2e_bar"), "foo.bar");
        assert_eq!(unescape_name("U__a__b"), "a_b");
        assert_eq!(unescape_name("plain"), "plain");
    }
}
