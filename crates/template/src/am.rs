//! Alertmanager's notification templates (`template/template.go`, 0.34).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use gotmpl::{FuncMap, SafeKind, Value};

use crate::engine::{
    arg_str, go_regex, index_func, query_unescape, re_replace_all, safe, title, vs, want, wrap, Set,
};
use crate::gotime::{duration_string, GoTime};
use crate::govalue::{go_print, make_struct, string_map, to_json, Flavor};
use crate::prom::{convert_to_float, humanize_duration};
use crate::shim::{exec_err, time_arg};
use crate::{AlertData, NotificationData, TemplateError};

/// Alertmanager's `default.tmpl` (v0.34.0, Apache-2.0).
pub const DEFAULT_TMPL: &str = include_str!("../templates/default.tmpl");
/// Alertmanager's `email.tmpl` (v0.34.0, Apache-2.0).
pub const EMAIL_TMPL: &str = include_str!("../templates/email.tmpl");

fn time_value(t: SystemTime) -> Value {
    vs(GoTime::from_system(t).go_string())
}

/// The `template.Alert` value.
pub fn alert_value(a: &AlertData) -> Value {
    make_struct(
        "template.Alert",
        vec![
            ("Status", vs(&a.status)),
            ("Labels", string_map(&a.labels)),
            ("Annotations", string_map(&a.annotations)),
            ("StartsAt", time_value(a.starts_at)),
            ("EndsAt", time_value(a.ends_at)),
            ("GeneratorURL", vs(&a.generator_url)),
            ("Fingerprint", vs(&a.fingerprint)),
        ],
    )
}

/// The `template.Data` value.
pub fn data_value(d: &NotificationData) -> Value {
    make_struct(
        "template.Data",
        vec![
            ("Receiver", vs(&d.receiver)),
            ("Status", vs(&d.status)),
            (
                "Alerts",
                Value::List(d.alerts.iter().map(alert_value).collect()),
            ),
            ("NotificationReason", vs(&d.notification_reason)),
            ("GroupLabels", string_map(&d.group_labels)),
            ("CommonLabels", string_map(&d.common_labels)),
            ("CommonAnnotations", string_map(&d.common_annotations)),
            ("RouteLabels", string_map(&d.route_labels)),
            ("ExternalURL", vs(&d.external_url)),
        ],
    )
}

fn base64_url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_url_decode(s: &str) -> Result<Vec<u8>, String> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    let b = s.as_bytes();
    if b.len() % 4 != 0 {
        return Err(format!(
            "illegal base64 data at input byte {}",
            b.len() / 4 * 4
        ));
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (ci, c) in b.chunks(4).enumerate() {
        let last = ci * 4 + 4 == b.len();
        let pads = c.iter().rev().take_while(|&&x| x == b'=').count();
        if pads > 2 || (pads > 0 && !last) {
            return Err(format!(
                "illegal base64 data at input byte {}",
                ci * 4 + 4 - pads
            ));
        }
        let mut n = 0u32;
        for (i, &x) in c[..4 - pads].iter().enumerate() {
            n |= val(x)
                .ok_or_else(|| format!("illegal base64 data at input byte {}", ci * 4 + i))?
                << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pads]);
    }
    Ok(out)
}

fn err_text(e: gotmpl::TemplateError) -> String {
    match e {
        gotmpl::TemplateError::Exec(m) => m,
        other => other.to_string(),
    }
}

fn strings_arg(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::List(l) => Ok(l
            .iter()
            .map(|e| go_print(e, Flavor::Alertmanager))
            .collect()),
        Value::Nil => Ok(Vec::new()),
        other => Err(format!(
            "wrong type for value; expected []string; got {}",
            crate::engine::go_type(other)
        )),
    }
}

/// Alertmanager's `DefaultFuncs` (0.34) except `routeLabels`, which is bound
/// per execution.
fn am_funcs() -> FuncMap {
    let mut m = FuncMap::new();
    m.insert("index".into(), index_func());
    m.insert(
        "toUpper".into(),
        wrap("toUpper", |a| {
            want(a, 1)?;
            Ok(vs(arg_str(a, 0)?.to_uppercase()))
        }),
    );
    m.insert(
        "toLower".into(),
        wrap("toLower", |a| {
            want(a, 1)?;
            Ok(vs(arg_str(a, 0)?.to_lowercase()))
        }),
    );
    m.insert(
        "title".into(),
        wrap("title", |a| {
            want(a, 1)?;
            Ok(vs(title(arg_str(a, 0)?, true)))
        }),
    );
    m.insert(
        "trimSpace".into(),
        wrap("trimSpace", |a| {
            want(a, 1)?;
            Ok(vs(arg_str(a, 0)?.trim()))
        }),
    );
    m.insert(
        "join".into(),
        wrap("join", |a| {
            want(a, 2)?;
            Ok(vs(strings_arg(&a[1])?.join(arg_str(a, 0)?)))
        }),
    );
    m.insert(
        "match".into(),
        wrap("match", |a| {
            want(a, 2)?;
            Ok(Value::Bool(
                go_regex(arg_str(a, 0)?)?.is_match(arg_str(a, 1)?),
            ))
        }),
    );
    m.insert(
        "safeHtml".into(),
        wrap("safeHtml", |a| {
            want(a, 1)?;
            Ok(safe(SafeKind::Html, arg_str(a, 0)?))
        }),
    );
    m.insert(
        "safeUrl".into(),
        wrap("safeUrl", |a| {
            want(a, 1)?;
            Ok(safe(SafeKind::Url, arg_str(a, 0)?))
        }),
    );
    m.insert(
        "urlUnescape".into(),
        wrap("urlUnescape", |a| {
            want(a, 1)?;
            Ok(vs(query_unescape(arg_str(a, 0)?)?))
        }),
    );
    m.insert(
        "reReplaceAll".into(),
        wrap("reReplaceAll", |a| {
            want(a, 3)?;
            Ok(vs(re_replace_all(
                arg_str(a, 0)?,
                arg_str(a, 1)?,
                arg_str(a, 2)?,
            )?))
        }),
    );
    m.insert(
        "stringSlice".into(),
        wrap("stringSlice", |a| {
            let mut out = Vec::with_capacity(a.len());
            for i in 0..a.len() {
                out.push(vs(arg_str(a, i)?));
            }
            Ok(Value::List(out.into()))
        }),
    );
    m.insert(
        "date".into(),
        wrap("date", |a| {
            want(a, 2)?;
            let t = time_arg(&a[1]).map_err(err_text)?;
            Ok(vs(t.format(arg_str(a, 0)?)))
        }),
    );
    m.insert(
        "tz".into(),
        wrap("tz", |a| {
            want(a, 2)?;
            let t = time_arg(&a[1]).map_err(err_text)?;
            Ok(vs(t.in_zone(arg_str(a, 0)?)?.go_string()))
        }),
    );
    m.insert(
        "now".into(),
        wrap("now", |a| {
            want(a, 0)?;
            Ok(time_value(SystemTime::now()))
        }),
    );
    m.insert(
        "since".into(),
        wrap("since", |a| {
            want(a, 1)?;
            let t = time_arg(&a[0]).map_err(err_text)?;
            let now = GoTime::from_system(SystemTime::now());
            Ok(vs(duration_string(now.unix_nanos() - t.unix_nanos())))
        }),
    );
    m.insert(
        "humanizeDuration".into(),
        wrap("humanizeDuration", |a| {
            want(a, 1)?;
            Ok(vs(humanize_duration(convert_to_float(&a[0])?)))
        }),
    );
    m.insert(
        "toDate".into(),
        wrap("toDate", |a| {
            want(a, 2)?;
            let t = GoTime::parse_layout(arg_str(a, 0)?, arg_str(a, 1)?)
                .unwrap_or_else(|_| GoTime::utc(crate::gotime::GO_ZERO_UNIX, 0));
            Ok(vs(t.go_string()))
        }),
    );
    m.insert(
        "mustToDate".into(),
        wrap("mustToDate", |a| {
            want(a, 2)?;
            Ok(vs(
                GoTime::parse_layout(arg_str(a, 0)?, arg_str(a, 1)?)?.go_string()
            ))
        }),
    );
    m.insert(
        "toJson".into(),
        wrap("toJson", |a| {
            want(a, 1)?;
            Ok(vs(to_json(&a[0])?))
        }),
    );
    m.insert(
        "base64encode".into(),
        wrap("base64encode", |a| {
            want(a, 1)?;
            Ok(vs(base64_url(arg_str(a, 0)?.as_bytes())))
        }),
    );
    m.insert(
        "base64decode".into(),
        wrap("base64decode", |a| {
            want(a, 1)?;
            let b = base64_url_decode(arg_str(a, 0)?)?;
            Ok(vs(String::from_utf8_lossy(&b)))
        }),
    );
    m.insert(
        "list".into(),
        wrap("list", |a| Ok(Value::List(a.to_vec().into()))),
    );
    m.insert(
        "append".into(),
        wrap("append", |a| {
            let mut out: Vec<Value> = match a.first() {
                Some(Value::List(l)) => l.to_vec(),
                Some(Value::Nil) => Vec::new(),
                Some(other) => {
                    return Err(format!(
                        "wrong type for value; expected []interface {{}}; got {}",
                        crate::engine::go_type(other)
                    ))
                }
                None => return Err("wrong number of args: want at least 1 got 0".into()),
            };
            out.extend(a[1..].iter().cloned());
            Ok(Value::List(out.into()))
        }),
    );
    m.insert(
        "dict".into(),
        wrap("dict", |a| {
            if a.len() % 2 != 0 {
                return Err("dict requires an even number of arguments".into());
            }
            let mut out: BTreeMap<Arc<str>, Value> = BTreeMap::new();
            for kv in a.chunks(2) {
                let Value::String(k) = &kv[0] else {
                    return Err("dict keys must be strings".into());
                };
                out.insert(k.clone(), kv[1].clone());
            }
            Ok(Value::Map(Arc::new(out)))
        }),
    );
    // Placeholder so templates naming it parse; bound per execution.
    m.insert("routeLabels".into(), wrap("routeLabels", |_| Ok(vs(""))));
    m
}

/// Notification templates: Alertmanager's defaults plus the user's files.
#[derive(Clone)]
pub struct Templates {
    set: Arc<Set>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("templates", &self.set.trees.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn parse_err(e: crate::engine::ParseFailure) -> TemplateError {
    TemplateError::Notification { message: e.0 }
}

impl Templates {
    /// Alertmanager's `FromGlobs`: `default.tmpl` and `email.tmpl`, then every
    /// file matched by each glob in order (relative globs are resolved against
    /// `base_dir`; a glob matching nothing is allowed). Later definitions
    /// override earlier ones.
    pub fn load(user_globs: &[String], base_dir: &Path) -> Result<Templates, TemplateError> {
        let mut set = Set::new(Flavor::Alertmanager, am_funcs());
        set.parse("", DEFAULT_TMPL).map_err(parse_err)?;
        set.parse("", EMAIL_TMPL).map_err(parse_err)?;
        for g in user_globs {
            let pattern: PathBuf = if Path::new(g).is_absolute() {
                PathBuf::from(g)
            } else {
                base_dir.join(g)
            };
            let pattern = pattern.to_string_lossy().into_owned();
            let paths = glob::glob(&pattern).map_err(|e| TemplateError::Glob {
                pattern: pattern.clone(),
                message: e.to_string(),
            })?;
            let mut files: Vec<PathBuf> = Vec::new();
            for p in paths {
                let p = p.map_err(|e| TemplateError::Io {
                    path: e.path().to_path_buf(),
                    message: e.error().to_string(),
                })?;
                files.push(p);
            }
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).map_err(|e| TemplateError::Io {
                    path: f.clone(),
                    message: e.to_string(),
                })?;
                let base = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                set.parse(&base, &text).map_err(parse_err)?;
            }
        }
        set.freeze();
        Ok(Templates { set: Arc::new(set) })
    }

    /// Adds template text (like a file's content) after the loaded ones.
    pub fn parse_text(&mut self, name: &str, text: &str) -> Result<(), TemplateError> {
        let mut set = (*self.set).clone();
        set.parse(name, text).map_err(parse_err)?;
        set.freeze();
        self.set = Arc::new(set);
        Ok(())
    }

    /// The names of all defined templates.
    pub fn names(&self) -> Vec<String> {
        self.set.trees.keys().cloned().collect()
    }

    /// `ExecuteTextString`.
    pub fn execute_text(
        &self,
        text: &str,
        data: &NotificationData,
    ) -> Result<String, TemplateError> {
        self.execute(text, data, false)
    }

    /// `ExecuteHTMLString`: `html/template` escaping, as the email receiver uses.
    pub fn execute_html(
        &self,
        text: &str,
        data: &NotificationData,
    ) -> Result<String, TemplateError> {
        self.execute(text, data, true)
    }

    fn execute(
        &self,
        text: &str,
        data: &NotificationData,
        html: bool,
    ) -> Result<String, TemplateError> {
        if text.is_empty() {
            return Ok(String::new());
        }
        const ENTRY: &str = "__bongsu_text";
        let mut set = (*self.set).clone();
        set.parse(ENTRY, text)
            .map_err(|e| TemplateError::Notification {
                message: e.0.replace(ENTRY, ""),
            })?;
        let set = Arc::new(set);
        let value = data_value(data);
        let mut extra = FuncMap::new();
        extra.insert("routeLabels".into(), route_labels_func(&set, data));
        let r = if !set.trees.contains_key(ENTRY) {
            // A whitespace-only text has no tree of its own: it prints itself.
            Ok(text.to_string())
        } else if html {
            set.execute_html(ENTRY, &value, &extra)
        } else {
            set.execute_text(ENTRY, &value, &extra)
        };
        r.map_err(|e| TemplateError::Notification {
            message: e.replace(&format!("{ENTRY:?}"), "\"\"").replace(ENTRY, ""),
        })
    }
}

/// `routeLabels NAME`: the route label, itself rendered as a template
/// against the same data, memoised, with cycle detection.
struct RouteLabels {
    set: std::sync::Weak<Set>,
    raw: BTreeMap<String, String>,
    data: Value,
    state: Mutex<(BTreeMap<String, String>, Vec<String>)>,
}

fn route_labels_func(set: &Arc<Set>, data: &NotificationData) -> gotmpl::ValueFunc {
    let r = Arc::new(RouteLabels {
        set: Arc::downgrade(set),
        raw: data.route_labels.clone(),
        data: data_value(data),
        state: Mutex::new((BTreeMap::new(), Vec::new())),
    });
    RouteLabels::func(r)
}

impl RouteLabels {
    fn func(r: Arc<RouteLabels>) -> gotmpl::ValueFunc {
        Arc::new(move |a: &[Value]| r.resolve(a))
    }

    fn resolve(self: &Arc<Self>, a: &[Value]) -> Result<Value, gotmpl::TemplateError> {
        let name = match a {
            [Value::String(n)] => n.to_string(),
            _ => {
                return Err(exec_err(
                    "error calling routeLabels: want 1 string argument",
                ))
            }
        };
        let Some(text) = self.raw.get(&name) else {
            return Ok(vs(""));
        };
        {
            let mut st = self
                .state
                .lock()
                .map_err(|_| exec_err("routeLabels state poisoned"))?;
            if let Some(v) = st.0.get(&name) {
                return Ok(vs(v));
            }
            if st.1.contains(&name) {
                let mut cycle = st.1.clone();
                cycle.push(name);
                return Err(exec_err(format!(
                    "error calling routeLabels: route label cycle detected: {}",
                    cycle.join(" -> ")
                )));
            }
            st.1.push(name.clone());
        }
        let r = match self.set.upgrade() {
            None => Ok(String::new()),
            Some(set) => {
                let mut inner = (*set).clone();
                let entry = "\u{0}route";
                inner.parse(entry, text).map_err(|e| e.0).and_then(|()| {
                    let mut extra = FuncMap::new();
                    extra.insert("routeLabels".into(), RouteLabels::func(self.clone()));
                    if inner.trees.contains_key(entry) {
                        inner.execute_text(entry, &self.data, &extra)
                    } else {
                        Ok(text.clone())
                    }
                })
            }
        };
        let mut st = self
            .state
            .lock()
            .map_err(|_| exec_err("routeLabels state poisoned"))?;
        st.1.pop();
        let v = r.map_err(|e| exec_err(format!("error calling routeLabels: {e}")))?;
        st.0.insert(name, v.clone());
        Ok(vs(v))
    }
}
