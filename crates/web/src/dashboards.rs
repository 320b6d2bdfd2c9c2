//! Grafana dashboards for the web UI: the built-in ones (embedded from
//! `crates/web/dashboards/`) and a provisioned folder (`--dashboards.dir`)
//! of Grafana dashboard JSON or YAML files, re-read on every request so an
//! edited file shows on the next page load.
//!
//! Dashboards imported in the UI (or with the API) are kept in the state
//! database with every saved version (`bongsu_store`), so an import is
//! durable once acknowledged and any two versions can be diffed.
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `/api/bongsu/v1/dashboards` | all; a file that does not parse is listed with its error and `file:line:column` |
//! | GET | `/api/bongsu/v1/dashboards/{uid}` | `{dashboard, meta}` like Grafana's `/api/dashboards/uid/{uid}` |
//! | POST | `/api/bongsu/v1/dashboards` | import: a dashboard model, or Grafana's `{dashboard, overwrite, message}`; JSON, or YAML with `Content-Type: application/yaml` |
//! | DELETE | `/api/bongsu/v1/dashboards/{uid}` | an imported one, with its history |
//! | GET | `/api/bongsu/v1/dashboards/{uid}/versions[/{n}]` | the history, one version |
//! | GET | `/api/bongsu/v1/dashboards/{uid}/diff?from=&to=` | unified diff of two versions' JSON |
//! | POST | `/api/bongsu/v1/dashboards/{uid}/restore` | `{"version": n}` saves n again as the newest |

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bongsu_store::{DashboardSave, Store};
use serde::Deserialize;
use serde_json::{json, Value};

/// The dashboards shipped in the binary: (file name, JSON).
const BUILTIN: &[(&str, &str)] = &[
    ("host.json", include_str!("../dashboards/host.json")),
    ("containers.json", include_str!("../dashboards/containers.json")),
    ("probes.json", include_str!("../dashboards/probes.json")),
    ("operations.json", include_str!("../dashboards/operations.json")),
];

/// Where dashboards come from.
#[derive(Clone, Default)]
pub struct Dashboards {
    /// The provisioned folder, when `--dashboards.dir` is given.
    pub dir: Option<PathBuf>,
    /// Where imported dashboards and their versions live (none: importing
    /// is refused).
    pub store: Option<Arc<Store>>,
}

/// One dashboard, or a file that failed to load.
#[derive(Debug, Clone)]
pub struct Entry {
    pub uid: String,
    pub title: String,
    pub tags: Vec<String>,
    /// `builtin`, `file` or `imported`.
    pub source: &'static str,
    /// The file, relative to the folder (or the built-in name; empty for
    /// an imported one).
    pub file: String,
    /// The saved version (imported dashboards).
    pub version: Option<i64>,
    pub model: Option<Value>,
    pub error: Option<String>,
}

impl Dashboards {
    /// Every dashboard: built-in first, then the folder's files (sorted,
    /// sub-folders included), then the imported ones. A uid used twice is
    /// an error on the later one.
    pub fn load(&self) -> Vec<Entry> {
        let mut out = self.provisioned();
        if let Some(store) = &self.store {
            match store.dashboards() {
                Ok(saved) => out.extend(saved.into_iter().map(|d| {
                    let parsed = serde_json::from_str(&d.body).map_err(|e| format!("{}: stored version {}: {e}", d.uid, d.version));
                    Entry { version: Some(d.version), ..entry("imported", "", parsed) }
                })),
                Err(e) => tracing::error!(error = %e, "reading imported dashboards"),
            }
        }
        mark_duplicates(&mut out);
        out
    }

    /// The built-in and the folder's dashboards (those belong to their
    /// files, not to the import API), duplicates marked.
    fn provisioned(&self) -> Vec<Entry> {
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
        mark_duplicates(&mut out);
        out
    }

    /// The provisioned entry using `uid`, if any (with `loaded`, only one
    /// that loaded without error).
    fn provisioned_uid(&self, uid: &str, loaded: bool) -> Option<Entry> {
        self.provisioned().into_iter().find(|e| e.uid == uid && (!loaded || e.error.is_none()))
    }
}

/// A uid used twice is an error on the later entry.
fn mark_duplicates(out: &mut [Entry]) {
    for i in 0..out.len() {
        if out[i].error.is_none() && out[..i].iter().any(|e| e.error.is_none() && e.uid == out[i].uid) {
            out[i].error = Some(format!("{}: uid {:?} is already used by another dashboard", out[i].file, out[i].uid));
        }
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
    model_of(name, v)
}

/// The dashboard model in a parsed file or request (`{"dashboard": {...}}`
/// unwrapped), or why it is not one.
fn model_of(name: &str, v: Value) -> Result<Value, String> {
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
            version: None,
            model: Some(model),
            error: None,
        },
        Err(e) => Entry {
            uid: stem.to_string(),
            title: stem.to_string(),
            tags: Vec::new(),
            source,
            file: file.to_string(),
            version: None,
            model: None,
            error: Some(e),
        },
    }
}

/// An API error: status, Prometheus-style `errorType`, message.
struct Fail(StatusCode, &'static str, String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"status": "error", "errorType": self.1, "error": self.2}))).into_response()
    }
}

fn internal(e: impl std::fmt::Display) -> Fail {
    Fail(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
}

fn not_found(msg: String) -> Fail {
    Fail(StatusCode::NOT_FOUND, "not_found", msg)
}

fn success(data: Value) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

type D = State<Arc<Dashboards>>;
type Reply = Result<Response, Fail>;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Fail> {
    tokio::task::spawn_blocking(f).await.map_err(internal)
}

async fn list(State(d): D) -> Reply {
    let entries = blocking(move || d.load()).await?;
    let items: Vec<Value> = entries
        .iter()
        .map(|e| json!({"uid": e.uid, "title": e.title, "tags": e.tags, "source": e.source, "file": e.file, "version": e.version, "error": e.error}))
        .collect();
    Ok(success(Value::Array(items)))
}

async fn one(State(d): D, UrlPath(uid): UrlPath<String>) -> Reply {
    // A provisioned dashboard, else the latest imported version: only the
    // one asked for is read from the store.
    let u = uid.clone();
    let found = blocking(move || -> Result<Option<Entry>, Fail> {
        if let Some(e) = d.provisioned_uid(&u, true) {
            return Ok(Some(e));
        }
        let Some(store) = &d.store else { return Ok(None) };
        Ok(store.dashboard_version(&u, None).map_err(internal)?.and_then(|v| {
            let model = serde_json::from_str(&v.body).ok()?;
            Some(Entry { version: Some(v.version), ..entry("imported", "", Ok(model)) })
        }))
    });
    match found.await?? {
        Some(e) => Ok(success(json!({"dashboard": e.model, "meta": {"source": e.source, "file": e.file, "version": e.version}}))),
        None => Err(not_found(format!("dashboard {uid:?} not found"))),
    }
}

fn store_of(d: &Dashboards) -> Result<Arc<Store>, Fail> {
    d.store.clone().ok_or_else(|| Fail(StatusCode::NOT_IMPLEMENTED, "unavailable", "this server keeps no dashboard state (no storage path)".into()))
}


/// Grafana's uid rule: 1–40 of letters, digits, `-` and `_`.
fn valid_uid(uid: &str) -> bool {
    (1..=40).contains(&uid.len()) && uid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new uid for a dashboard imported without one: 9 characters from a
/// hash of its title and the time.
fn new_uid(title: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in title.bytes().chain(bongsu_model::now_ms().to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..9).map(|i| ALPHABET[((h >> (i * 7)) % 36) as usize] as char).collect()
}

#[derive(Deserialize, Default)]
struct SaveQ {
    overwrite: Option<bool>,
    message: Option<String>,
}

/// What an import request asks for, checked.
struct Import {
    model: serde_json::Map<String, Value>,
    uid: String,
    overwrite: bool,
    message: String,
}

fn read_import(headers: &HeaderMap, body: &[u8], q: SaveQ) -> Result<Import, String> {
    let yaml = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.contains("yaml"));
    let text = std::str::from_utf8(body).map_err(|e| format!("request body: not UTF-8: {e}"))?;
    let raw: Value = if yaml {
        serde_saphyr::from_str(text).map_err(|e| format!("request body: {e}"))?
    } else {
        serde_json::from_str(text).map_err(|e| format!("request body:{}:{}: {e}", e.line(), e.column()))?
    };
    // Grafana's POST /api/dashboards/db shape: {dashboard, overwrite, message}.
    let wrapped = raw.get("dashboard").is_some_and(Value::is_object) && raw.get("panels").is_none();
    let field = |name: &str| wrapped.then(|| raw.get(name).cloned()).flatten();
    let overwrite = q.overwrite.or_else(|| field("overwrite").and_then(|v| v.as_bool())).unwrap_or(false);
    let message = q.message.or_else(|| field("message").and_then(|v| v.as_str().map(String::from))).unwrap_or_default();
    let Value::Object(mut model) = model_of("request body", raw)? else {
        return Err("request body: a dashboard is a JSON object".into());
    };
    let title = model.get("title").and_then(Value::as_str).unwrap_or("").trim().to_string();
    if title.is_empty() {
        return Err("dashboard.title: a dashboard needs a title".into());
    }
    let uid = match model.get("uid") {
        None | Some(Value::Null) => new_uid(&title),
        Some(Value::String(u)) if u.is_empty() => new_uid(&title),
        Some(Value::String(u)) if valid_uid(u) => u.clone(),
        Some(u) => return Err(format!("dashboard.uid: {u} is not a uid (1 to 40 letters, digits, '-' or '_')")),
    };
    model.insert("uid".into(), Value::String(uid.clone()));
    model.insert("id".into(), Value::Null);
    Ok(Import { model, uid, overwrite, message })
}

/// Saves `model` as the next version of `uid`, the version number written
/// into it.
fn save_version(store: &Store, uid: &str, overwrite: bool, message: &str, mut model: serde_json::Map<String, Value>) -> Result<DashboardSave, Fail> {
    store
        .save_dashboard(uid, overwrite, bongsu_model::now_ms(), message, |v| {
            model.insert("version".into(), json!(v));
            Value::Object(model).to_string()
        })
        .map_err(internal)
}

async fn save(State(d): D, Query(q): Query<SaveQ>, headers: HeaderMap, body: Bytes) -> Reply {
    let store = store_of(&d)?;
    let imp = read_import(&headers, &body, q).map_err(|e| Fail(StatusCode::BAD_REQUEST, "bad_data", e))?;
    blocking(move || {
        if let Some(p) = d.provisioned_uid(&imp.uid, false) {
            let msg = format!("dashboard uid {:?} is provisioned ({} {}): change that file, or import with another uid", imp.uid, p.source, p.file);
            return Err(Fail(StatusCode::CONFLICT, "conflict", msg));
        }
        let title = imp.model.get("title").cloned().unwrap_or(Value::Null);
        match save_version(&store, &imp.uid, imp.overwrite, &imp.message, imp.model)? {
            DashboardSave::Saved(v) => Ok(success(json!({"uid": imp.uid, "version": v, "title": title, "url": format!("/d/{}", imp.uid)}))),
            DashboardSave::Exists(v) => Err(Fail(
                StatusCode::PRECONDITION_FAILED,
                "exists",
                format!("a dashboard with uid {:?} already exists (version {v}); import with overwrite to save a new version", imp.uid),
            )),
        }
    })
    .await?
}

async fn delete(State(d): D, UrlPath(uid): UrlPath<String>) -> Reply {
    let store = store_of(&d)?;
    blocking(move || {
        if let Some(p) = d.provisioned_uid(&uid, false) {
            return Err(Fail(StatusCode::CONFLICT, "conflict", format!("dashboard {uid:?} is provisioned ({} {}); remove it there", p.source, p.file)));
        }
        match store.delete_dashboard(&uid).map_err(internal)? {
            true => Ok(success(json!({"uid": uid}))),
            false => Err(not_found(format!("dashboard {uid:?} not found"))),
        }
    })
    .await?
}

async fn versions(State(d): D, UrlPath(uid): UrlPath<String>) -> Reply {
    let store = store_of(&d)?;
    let u = uid.clone();
    let vs = blocking(move || store.dashboard_versions(&u)).await?.map_err(internal)?;
    if vs.is_empty() {
        return Err(not_found(format!("no saved versions of dashboard {uid:?} (only imported dashboards have versions)")));
    }
    Ok(success(Value::Array(vs.iter().map(|v| json!({"version": v.version, "created": v.created, "message": v.message})).collect())))
}

/// One stored version's model.
async fn version_of(d: &Dashboards, uid: &str, n: i64) -> Result<serde_json::Map<String, Value>, Fail> {
    let store = store_of(d)?;
    let u = uid.to_string();
    match blocking(move || store.dashboard_version(&u, Some(n))).await?.map_err(internal)? {
        Some(v) => serde_json::from_str(&v.body).map_err(internal),
        None => Err(not_found(format!("dashboard {uid:?} has no version {n}"))),
    }
}

async fn version(State(d): D, UrlPath((uid, n)): UrlPath<(String, i64)>) -> Reply {
    let model = version_of(&d, &uid, n).await?;
    Ok(success(json!({"version": n, "dashboard": model})))
}

#[derive(Deserialize)]
struct DiffQ {
    from: i64,
    to: i64,
}

/// The unified diff (3 lines of context) of two models as indented JSON.
pub fn diff_models(a: &Value, b: &Value, from: &str, to: &str) -> String {
    let (a, b) = (serde_json::to_string_pretty(a).unwrap_or_default() + "\n", serde_json::to_string_pretty(b).unwrap_or_default() + "\n");
    similar::TextDiff::from_lines(&a, &b).unified_diff().context_radius(3).header(from, to).to_string()
}

async fn diff(State(d): D, UrlPath(uid): UrlPath<String>, Query(q): Query<DiffQ>) -> Reply {
    let a = Value::Object(version_of(&d, &uid, q.from).await?);
    let b = Value::Object(version_of(&d, &uid, q.to).await?);
    let text = diff_models(&a, &b, &format!("version {}", q.from), &format!("version {}", q.to));
    Ok(success(json!({"from": q.from, "to": q.to, "diff": text})))
}

#[derive(Deserialize)]
struct RestoreBody {
    version: i64,
}

async fn restore(State(d): D, UrlPath(uid): UrlPath<String>, body: Bytes) -> Reply {
    let n = serde_json::from_slice::<RestoreBody>(&body).map_err(|e| Fail(StatusCode::BAD_REQUEST, "bad_data", format!("request body: {e}")))?.version;
    let model = version_of(&d, &uid, n).await?;
    let store = store_of(&d)?;
    let saved = blocking(move || save_version(&store, &uid, true, &format!("restored version {n}"), model)).await??;
    let (DashboardSave::Saved(v) | DashboardSave::Exists(v)) = saved;
    Ok(success(json!({"version": v, "restored": n})))
}

/// The dashboard routes (see the module's table).
pub fn router<S: Clone + Send + Sync + 'static>(dashboards: Dashboards) -> Router<S> {
    Router::new()
        .route("/api/bongsu/v1/dashboards", get(list).post(save).layer(DefaultBodyLimit::max(32 << 20)))
        .route("/api/bongsu/v1/dashboards/{uid}", get(one).delete(delete))
        .route("/api/bongsu/v1/dashboards/{uid}/versions", get(versions))
        .route("/api/bongsu/v1/dashboards/{uid}/versions/{n}", get(version))
        .route("/api/bongsu/v1/dashboards/{uid}/diff", get(diff))
        .route("/api/bongsu/v1/dashboards/{uid}/restore", post(restore))
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
        let all = Dashboards { dir: Some(dir.path().to_path_buf()), store: None }.load();
        let files: Vec<_> = all.iter().filter(|e| e.source == "file").collect();
        assert_eq!(files.len(), 4);
        let by = |f: &str| files.iter().find(|e| e.file == f).expect(f);
        assert_eq!((by("a.json").uid.as_str(), by("a.json").title.as_str()), ("a1", "A"));
        assert_eq!((by("team/b.yaml").uid.as_str(), by("team/b.yaml").error.as_deref()), ("b", None));
        assert!(by("bad.json").error.as_deref().is_some_and(|e| e.starts_with("bad.json:2:")), "{:?}", by("bad.json").error);
        assert!(by("dup.json").error.as_deref().is_some_and(|e| e.contains("already used")));
    }
}
