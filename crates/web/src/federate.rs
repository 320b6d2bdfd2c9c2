//! `/federate`: the latest sample of every matching series, in the text
//! exposition format, with external labels added (Prometheus' web/federate.go).

use crate::params::{self, http_error, Params};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bongsu_model::storage::SelectHints;
use bongsu_model::{is_stale_nan, now_ms, Labels, METRIC_NAME};
use std::collections::BTreeMap;

/// The content type Prometheus 3 answers with for the text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores";

pub async fn federate(State(state): State<AppState>, p: Params) -> Response {
    let sels = p.all("match[]");
    let sets = {
        let mut sets = Vec::with_capacity(sels.len());
        for s in &sels {
            match params::parse_selector(s) {
                Ok(m) => sets.push(m),
                Err(e) => return http_error(StatusCode::BAD_REQUEST, &e),
            }
        }
        sets
    };
    let maxt = now_ms();
    let mint = maxt - state.engine.opts.lookback_delta;
    let q = state.queryable.clone();
    let external = (state.external_labels)();
    let res = tokio::task::spawn_blocking(move || {
        // Latest non-stale sample per series, deduplicated across sets.
        let mut latest: BTreeMap<Labels, (i64, f64)> = BTreeMap::new();
        for set in &sets {
            for s in q.select(SelectHints { mint, maxt }, set)? {
                if let Some(last) = s.samples.iter().rev().find(|x| x.t <= maxt) {
                    if !is_stale_nan(last.v) {
                        latest.insert(s.labels, (last.t, last.v));
                    }
                }
            }
        }
        Ok::<_, bongsu_model::storage::StorageError>(latest)
    })
    .await;
    let latest = match res {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return http_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => return http_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let body = render(latest.into_iter().collect(), &external);
    ([(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_CONTENT_TYPE))], body).into_response()
}

/// Renders samples (sorted by labels) as Prometheus' federation output:
/// families of `untyped` metrics, series labels first, then the external
/// labels the series does not carry (with `instance=""` if missing), sorted.
pub fn render(mut samples: Vec<(Labels, (i64, f64))>, external: &Labels) -> String {
    samples.sort_by(|a, b| a.0.get_or_empty(METRIC_NAME).cmp(b.0.get_or_empty(METRIC_NAME)));
    let mut ext: BTreeMap<&str, &str> = external.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
    ext.entry("instance").or_insert("");
    let mut out = String::new();
    let mut last_name: Option<String> = None;
    for (labels, (t, v)) in samples {
        let Some(name) = labels.get(METRIC_NAME) else {
            tracing::warn!(metric = %labels, "Ignoring nameless metric during federation");
            continue;
        };
        if last_name.as_deref() != Some(name) {
            out.push_str("# TYPE ");
            out.push_str(name);
            out.push_str(" untyped\n");
            last_name = Some(name.to_string());
        }
        out.push_str(name);
        let mut pairs: Vec<(&str, &str)> = labels.iter().filter(|l| l.name != METRIC_NAME).map(|l| (l.name.as_str(), l.value.as_str())).collect();
        for (k, val) in &ext {
            if labels.get(k).is_none() {
                pairs.push((k, val));
            }
        }
        if !pairs.is_empty() {
            out.push('{');
            for (i, (k, val)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(k);
                out.push_str("=\"");
                escape_label_value(&mut out, val);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        out.push_str(&bongsu_model::fmt_exposition_float(v));
        out.push(' ');
        out.push_str(&t.to_string());
        out.push('\n');
    }
    out
}

fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families() {
        let s = vec![
            (Labels::from_pairs([("__name__", "b"), ("job", "x")]), (1000, 2.0)),
            (Labels::from_pairs([("__name__", "a"), ("instance", "h:1"), ("job", "x\"y")]), (2000, 1234567.0)),
        ];
        let ext = Labels::from_pairs([("region", "eu")]);
        assert_eq!(
            render(s, &ext),
            "# TYPE a untyped\na{instance=\"h:1\",job=\"x\\\"y\",region=\"eu\"} 1.234567e+06 2000\n\
             # TYPE b untyped\nb{job=\"x\",instance=\"\",region=\"eu\"} 2 1000\n"
        );
    }
}
