//! Request parameters as Go's `r.FormValue` sees them, and Prometheus'
//! parsers for times, durations, limits and series selectors.

use crate::json;
use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use bongsu_model::Matcher;

/// Go's `ParseForm` caps form bodies at 10 MB.
const MAX_FORM_BODY: usize = 10 << 20;

/// Prometheus' `MinTime` (used when `start` is absent), in milliseconds.
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974_000;
/// Prometheus' `MaxTime` (used when `end` is absent), in milliseconds.
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974_999;
const MIN_TIME_FORMATTED: &str = "-292273086-05-16T16:47:06Z";
const MAX_TIME_FORMATTED: &str = "292277025-08-18T07:12:54.999999999Z";

/// Form values: the urlencoded POST/PUT/PATCH body first, then the URL query
/// (Go's `r.Form` order, so a body value wins in `get`).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
    /// Only the URL query (Go's `r.URL.Query()`).
    query: Vec<(String, String)>,
}

impl Params {
    pub fn from_query(q: &str) -> Self {
        let query: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        Params { pairs: query.clone(), query }
    }

    /// First value of `name`, or "" (Go's `FormValue`).
    pub fn get(&self, name: &str) -> &str {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    /// First value of `name` in the URL query only.
    pub fn url_get(&self, name: &str) -> &str {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    /// All values of `name` (`r.Form[name]`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = Response;

    async fn from_request(req: Request<Body>, _state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().unwrap_or("").to_string();
        let mut p = Params::from_query(&query);
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
            .unwrap_or(false);
        let has_body = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
        if has_body && is_form {
            let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BODY).await.map_err(|e| {
                crate::api::ApiError::bad_data(format!("error parsing form values: {e}")).into_response()
            })?;
            let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
            pairs.append(&mut p.pairs);
            p.pairs = pairs;
        }
        Ok(p)
    }
}

/// Go's `strconv.ParseFloat` for the forms clients send (decimal, exponent,
/// `Inf`, `NaN`).
fn parse_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.trim() != s {
        return None;
    }
    let l = s.to_ascii_lowercase();
    let body = l.trim_start_matches(['+', '-']);
    if body == "inf" || body == "infinity" || body == "nan" {
        return bongsu_model::parse_go_float(s);
    }
    if !s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Prometheus' `parseTime`: unix seconds (float) or RFC3339. Milliseconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Some(t) = parse_float(s) {
        if !t.is_finite() {
            return Ok(if t > 0.0 { i64::MAX } else if t < 0.0 { i64::MIN } else { 0 });
        }
        let secs = t.trunc();
        let frac = ((t - secs) * 1000.0).round();
        return Ok((secs as i64).saturating_mul(1000).saturating_add(frac as i64));
    }
    if let Some((secs, nanos)) = json::parse_rfc3339(s) {
        return Ok(secs.saturating_mul(1000).saturating_add((nanos / 1_000_000) as i64));
    }
    match s {
        MIN_TIME_FORMATTED => Ok(MIN_TIME_MS),
        MAX_TIME_FORMATTED => Ok(MAX_TIME_MS),
        _ => Err(format!("cannot parse {} to a valid timestamp", go_quote(s))),
    }
}

/// Prometheus' `parseTimeParam`: `default` when absent.
pub fn parse_time_param(p: &Params, name: &str, default: i64) -> Result<i64, String> {
    let v = p.get(name);
    if v.is_empty() {
        return Ok(default);
    }
    parse_time(v).map_err(|e| format!("invalid time value for '{name}': {e}"))
}

/// Prometheus' `parseDuration`: float seconds or a Prometheus duration.
/// Returns nanoseconds.
pub fn parse_duration_ns(s: &str) -> Result<i64, String> {
    if let Some(d) = parse_float(s) {
        let ns = d * 1e9;
        if ns.is_nan() {
            return Ok(0);
        }
        if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(format!("cannot parse {} to a valid duration. It overflows int64", go_quote(s)));
        }
        return Ok(ns as i64);
    }
    match bongsu_model::duration::parse_duration(s) {
        Ok(ms) => Ok(ms.saturating_mul(1_000_000)),
        Err(_) => Err(format!("cannot parse {} to a valid duration", go_quote(s))),
    }
}

/// Go's `strconv.Atoi` error text.
pub fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(s)));
    }
    s.parse::<i64>().map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

/// Prometheus' `parseLimitParam`: 0 means no limit.
pub fn parse_limit(s: &str) -> Result<usize, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let n = atoi(s)?;
    if n < 0 {
        return Err("limit must be non-negative".into());
    }
    Ok(n as usize)
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {}: invalid syntax", go_quote(s))),
    }
}

/// Go's `%q` for the strings we quote in errors.
pub fn go_quote(s: &str) -> String {
    bongsu_model::labels::quote_go(s)
}

/// Parses one series selector (`up{job="x"}`) into its matchers, as
/// `parser.ParseMetricSelector` does.
pub fn parse_selector(s: &str) -> Result<Vec<Matcher>, String> {
    bongsu_promql::parser::parse_metric_selector(s).map_err(|e| e.to_string())
}

/// `parseMatchersParam`: every set must contain a matcher that does not
/// match the empty string.
pub fn parse_matcher_sets(sels: &[&str]) -> Result<Vec<Vec<Matcher>>, String> {
    let mut sets = Vec::with_capacity(sels.len());
    for s in sels {
        sets.push(parse_selector(s)?);
    }
    for set in &sets {
        if !set.iter().any(|m| !m.matches("")) {
            return Err("match[] must contain at least one non-empty matcher".into());
        }
    }
    Ok(sets)
}

/// Plain-text error in the style of Go's `http.Error`.
pub fn http_error(code: StatusCode, msg: &str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
        format!("{msg}\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("2015-07-01T20:10:51.781Z"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("-1.5"), Ok(-1500));
        assert_eq!(parse_time("1e3"), Ok(1_000_000));
        assert_eq!(parse_time("x").unwrap_err(), "cannot parse \"x\" to a valid timestamp");
        assert_eq!(parse_time(MAX_TIME_FORMATTED), Ok(MAX_TIME_MS));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("15"), Ok(15_000_000_000));
        assert_eq!(parse_duration_ns("1m"), Ok(60_000_000_000));
        assert_eq!(parse_duration_ns("0.5"), Ok(500_000_000));
        assert_eq!(parse_duration_ns("x").unwrap_err(), "cannot parse \"x\" to a valid duration");
        assert!(parse_duration_ns("1e300").unwrap_err().contains("overflows"));
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit(""), Ok(0));
        assert_eq!(parse_limit("5"), Ok(5));
        assert_eq!(parse_limit("-1").unwrap_err(), "limit must be non-negative");
        assert_eq!(parse_limit("x").unwrap_err(), "strconv.Atoi: parsing \"x\": invalid syntax");
    }

    #[test]
    fn form_order() {
        let p = Params::from_query("a=1&a=2&b=3");
        assert_eq!(p.get("a"), "1");
        assert_eq!(p.all("a"), vec!["1", "2"]);
        assert_eq!(p.get("c"), "");
    }
}
