//! Grafana dashboards for the web UI: the built-in ones (embedded from
//! `crates/web/dashboards/`) and a provisioned folder (`--dashboards.dir`)
//! of Grafana dashboard JSON or YAML files, re-read on every request so an
//! edited file shows on the next page load.
//!
//! `GET /api/bongsu/v1/dashboards` lists them (a file that does not parse
//! is listed with its error and `file:line:column`);
//! `GET /api/bongsu/v1/dashboards/{uid}` returns `{dashboard, meta}` like
//! Grafana's `/api/dashboards/uid/{uid}`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// The dashboards shipped in the binary: (file name, JSON).
const BUILTIN: &[(&str, &str)] = &[
    ("host.json", include_str!("../dashboards/host.json")),
    ("containers.json", include_str!("../dashboards/containers.json")),
    ("probes.json", include_str!("../dashboards/probes.json")),
    ("operations.json", include_str!("../dashboards/operations.json")),
];

/// Where dashboards come from.
#[derive(Debug, Clone, Default)]
pub struct Dashboards {
    /// The provisioned folder, when `--dashboards.dir` is given.
    pub dir: Option<PathBuf>,
}

/// One dashboard, or a file that failed to load.
#[derive(Debug, Clone)]
pub struct Entry {
    pub uid: String,
    pub title: String,
    pub tags: Vec<String>,
    /// `builtin` or `file`.
    pub source: &'static str,
    /// The file, relative to the folder (or the built-in name).
    pub file: String,
    pub model: Option<Value>,
    pub error: Option<String>,
}

impl Dashboards {
    /// Every dashboard: built-in first, then the folder's files (sorted,
    /// sub-folders included). A uid used twice is an error on the later one.
    pub fn load(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = BUILTIN.iter().map(|(name, text)| entry("builtin", name, parse(name, text))).collect();
        if let Some(dir) = &self.dir {
            let mut files = Vec::new();
            collect_files(dir, &mut files);
            files.sort();
            for f in files {
                let rel = f.strip_prefix(dir).unwrap_or(&f).to_string_lossy().into_owned();
                let parsed = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display())).and_then(|t| parse(&rel, &t));
                out.push(entry("file", &rel, parsed));
            }
        }
        for i in 0..out.len() {
            if out[i].error.is_none() && out[..i].iter().any(|e| e.error.is_none() && e.uid == out[i].uid) {
                out[i].error = Some(format!("{}: uid {:?} is already used by another dashboard", out[i].file, out[i].uid));
            }
        }
        out
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_files(&p, out);
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("json" | "yaml" | "yml")) {
            out.push(p);
        }
    }
}

/// A dashboard file's model: JSON, or YAML for `.yaml`/`.yml`. Errors name
/// `file:line:column`. A file holding `{"dashboard": {...}}` (Grafana's API
/// shape) is unwrapped.
fn parse(name: &str, text: &str) -> Result<Value, String> {
    let v: Value = if name.ends_with(".json") {
        serde_json::from_str(text).map_err(|e| format!("{name}:{}:{}: {e}", e.line(), e.column()))?
    } else {
        serde_saphyr::from_str(text).map_err(|e| format!("{name}: {e}"))?
    };
    let v = match v.get("dashboard") {
        Some(d) if d.is_object() && v.get("panels").is_none() => d.clone(),
        _ => v,
    };
    if !v.is_object() {
        return Err(format!("{name}: a dashboard is a JSON object"));
    }
    if v.get("panels").is_none() && v.get("rows").is_none() {
        return Err(format!("{name}: no \"panels\" (or legacy \"rows\"): not a Grafana dashboard"));
    }
    Ok(v)
}

fn entry(source: &'static str, file: &str, parsed: Result<Value, String>) -> Entry {
    let stem = file.rsplit('/').next().unwrap_or(file).rsplit_once('.').map_or(file, |(s, _)| s);
    match parsed {
        Ok(model) => Entry {
            uid: model.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty()).unwrap_or(stem).to_string(),
            title: model.get("title").and_then(Value::as_str).unwrap_or(stem).to_string(),
            tags: model
                .get("tags")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|t| t.as_str().map(String::from)).collect())
                .unwrap_or_default(),
            source,
            file: file.to_string(),
            model: Some(model),
            error: None,
        },
        Err(e) => Entry { uid: stem.to_string(), title: stem.to_string(), tags: Vec::new(), source, file: file.to_string(), model: None, error: Some(e) },
    }
}

async fn list(State(d): State<Arc<Dashboards>>) -> Response {
    let entries = tokio::task::spawn_blocking(move || d.load()).await.unwrap_or_default();
    let items: Vec<Value> = entries
        .iter()
        .map(|e| json!({"uid": e.uid, "title": e.title, "tags": e.tags, "source": e.source, "file": e.file, "error": e.error}))
        .collect();
    Json(json!({"status": "success", "data": items})).into_response()
}

async fn one(State(d): State<Arc<Dashboards>>, UrlPath(uid): UrlPath<String>) -> Response {
    let entries = tokio::task::spawn_blocking(move || d.load()).await.unwrap_or_default();
    match entries.into_iter().find(|e| e.uid == uid && e.error.is_none()) {
        Some(e) => Json(json!({"status": "success", "data": {"dashboard": e.model, "meta": {"source": e.source, "file": e.file}}})).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"status": "error", "errorType": "not_found", "error": format!("dashboard {uid:?} not found")}))).into_response(),
    }
}

/// `/api/bongsu/v1/dashboards` and `/api/bongsu/v1/dashboards/{uid}`.
pub fn router<S: Clone + Send + Sync + 'static>(dashboards: Dashboards) -> Router<S> {
    Router::new()
        .route("/api/bongsu/v1/dashboards", get(list))
        .route("/api/bongsu/v1/dashboards/{uid}", get(one))
        .with_state(Arc::new(dashboards))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_dashboards_parse() {
        let all = Dashboards::default().load();
        assert_eq!(all.len(), BUILTIN.len());
        for e in &all {
            assert!(e.error.is_none(), "{:?}", e.error);
            assert!(!e.uid.is_empty() && !e.title.is_empty());
        }
    }

    #[test]
    fn folder_files_load_or_report_where_they_fail() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(dir.path().join("team")).expect("mkdir");
        std::fs::write(dir.path().join("a.json"), r#"{"uid":"a1","title":"A","panels":[]}"#).expect("write");
        std::fs::write(dir.path().join("team/b.yaml"), "title: B\npanels: []\n").expect("write");
        std::fs::write(dir.path().join("bad.json"), "{\"title\": \"x\",\n  \"panels\": [}\n").expect("write");
        std::fs::write(dir.path().join("dup.json"), r#"{"uid":"a1","title":"Again","panels":[]}"#).expect("write");
        std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
        let all = Dashboards { dir: Some(dir.path().to_path_buf()) }.load();
        let files: Vec<_> = all.iter().filter(|e| e.source == "file").collect();
        assert_eq!(files.len(), 4);
        let by = |f: &str| files.iter().find(|e| e.file == f).expect(f);
        assert_eq!((by("a.json").uid.as_str(), by("a.json").title.as_str()), ("a1", "A"));
        assert_eq!((by("team/b.yaml").uid.as_str(), by("team/b.yaml").error.as_deref()), ("b", None));
        assert!(by("bad.json").error.as_deref().is_some_and(|e| e.starts_with("bad.json:2:")), "{:?}", by("bad.json").error);
        assert!(by("dup.json").error.as_deref().is_some_and(|e| e.contains("already used")));
    }
}
