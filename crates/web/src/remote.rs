//! `POST /api/v1/write`: the remote write 1.0 receiver
//! (`--web.enable-remote-write-receiver`). 204 when every sample is
//! committed (in the WAL, per the storage's durability contract); 400 with
//! the reason for a body that is not snappy + `prometheus.WriteRequest`, is
//! too large, has invalid labels or a refused sample (nothing is stored);
//! 500 when the storage fails (the sender retries).

use crate::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bongsu_remote::codec::MAX_DECODED_BYTES;
use http_body_util::BodyExt;

pub async fn write(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let Some(rw) = state.remote_write.clone() else {
        return crate::params::http_error(StatusCode::NOT_FOUND, "remote write receiver needs to be enabled with --web.enable-remote-write-receiver");
    };
    let hv = |n: header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let ctype = hv(header::CONTENT_TYPE);
    if ctype.contains("io.prometheus.write.v2.request") {
        return crate::params::http_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "remote write 2.0 (io.prometheus.write.v2.Request) is not supported; send prometheus.WriteRequest (remote write 1.0)");
    }
    let enc = hv(header::CONTENT_ENCODING);
    if !enc.is_empty() && enc != "snappy" {
        return crate::params::http_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &format!("unsupported Content-Encoding {enc:?}: remote write 1.0 bodies are snappy-compressed"));
    }
    let bytes = match http_body_util::Limited::new(body, MAX_DECODED_BYTES).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            rw.stats.requests_bad.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let msg = if e.is::<http_body_util::LengthLimitError>() {
                format!("request body too large: more than {MAX_DECODED_BYTES} bytes")
            } else {
                format!("reading the request body: {e}")
            };
            return crate::params::http_error(StatusCode::BAD_REQUEST, &msg);
        }
    };
    let res = tokio::task::spawn_blocking(move || {
        bongsu_remote::receiver::handle(rw.appendable.as_ref(), &bytes, bongsu_model::now_ms(), &rw.stats)
    })
    .await;
    match res {
        Ok(Ok(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => {
            let code = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            if code == StatusCode::BAD_REQUEST {
                tracing::warn!(err = %e, "remote write request refused");
            } else {
                tracing::error!(err = %e, "Error appending remote write");
            }
            crate::params::http_error(code, &e.to_string())
        }
        Err(e) => crate::params::http_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("remote write handler failed: {e}")),
    }
}
