//! The web UI, embedded at build time from `ui/dist` (see `build.rs`):
//! `index.html` for every UI path (the UI routes in the browser), and the
//! content-hashed files under `/assets/` with a one-year cache.
//!
//! For UI development, `BONGSU_UI_DIR=ui/dist` makes the server read the
//! files from that folder on every request instead (rebuild with
//! `npm run build` and reload the page; no Rust rebuild).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// The paths the UI answers with `index.html`.
pub const UI_PATHS: &[&str] = &["/", "/graph", "/targets", "/alerts", "/silences", "/incidents", "/rules", "/status", "/dashboards"];

fn asset(path: &str) -> Option<std::borrow::Cow<'static, [u8]>> {
    static DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    match DIR.get_or_init(|| std::env::var_os("BONGSU_UI_DIR").map(Into::into)) {
        Some(dir) if !path.contains("..") => std::fs::read(dir.join(path)).ok().map(Into::into),
        Some(_) => None,
        None => ASSETS.iter().find(|(p, _)| *p == path).map(|(_, b)| (*b).into()),
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

async fn index() -> Response {
    match asset("index.html") {
        Some(body) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            body,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "The web UI is not built into this binary (ui/dist was missing at build time); the API is at /api/v1.\n",
        )
            .into_response(),
    }
}

async fn asset_file(Path(file): Path<String>) -> Response {
    let path = format!("assets/{file}");
    match asset(&path) {
        Some(body) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type(&path))),
                // File names carry a content hash: safe to cache for good.
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
    }
}

/// The UI's routes, to merge into the main router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new().route("/assets/{*file}", get(asset_file)).route("/d/{*dashboard}", get(index));
    for p in UI_PATHS {
        r = r.route(p, get(index));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_build_is_embedded() {
        let index = asset("index.html").expect("ui/dist/index.html is embedded");
        let index = std::str::from_utf8(&index).expect("utf-8");
        // Every asset index.html references is embedded too.
        let refs: Vec<&str> = index.split('"').filter(|s| s.starts_with("/assets/")).collect();
        assert!(!refs.is_empty(), "index.html references no assets: {index}");
        for r in refs {
            assert!(asset(&r[1..]).is_some(), "{r} referenced by index.html is not embedded");
        }
        assert_eq!(content_type("assets/x.js"), "text/javascript; charset=utf-8");
    }
}
