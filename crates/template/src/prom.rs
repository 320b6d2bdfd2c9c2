//! Prometheus' template functions and expander (`template/template.go`,
//! `rules/alerting.go`).

use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Mutex, Weak};
use std::time::SystemTime;

use gotmpl::{FuncMap, SafeKind, Value};

use crate::engine::{
    arg_str, go_regex, index_func, query_escape, re_replace_all, safe, title, vs, want, wrap, Set,
};
use crate::gotime::{duration_string, parse_go_duration, parse_prom_duration, GoTime};
use crate::govalue::{fmt_float, fmt_g, make_struct, string_map, struct_type, Flavor};
use crate::shim::exec_err;
use crate::{QueryResultSample, TemplateError};

/// The variables Prometheus prepends to every alert label and annotation.
pub const RULE_DEFS: &str =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

type QueryReply = mpsc::Sender<Result<Vec<QueryResultSample>, String>>;

/// Everything an expansion needs besides the template text.
pub struct Expander<'a> {
    /// Template name (`__alert_<name>` for alerting rules).
    pub name: &'a str,
    /// The data (`.`).
    pub data: Value,
    /// Evaluation time, Unix milliseconds (the `now` function).
    pub timestamp_ms: i64,
    /// The external URL (for `externalURL` and `pathPrefix`).
    pub external_url: &'a str,
    /// The `query` function's backend.
    pub query: Option<crate::QueryFn<'a>>,
}

/// Go's `strconv.ParseFloat` message on bad input.
fn parse_float(s: &str) -> Result<f64, String> {
    let t = s.trim_start_matches(['+', '-']);
    let special = t.eq_ignore_ascii_case("inf")
        || t.eq_ignore_ascii_case("infinity")
        || t.eq_ignore_ascii_case("nan");
    if !special
        && t.chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
    {
        return Err(format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"));
    }
    s.parse::<f64>()
        .map_err(|_| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))
}

/// `common/helpers/templates.ConvertToFloat`.
pub fn convert_to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Uint(u) => Ok(*u as f64),
        Value::String(s) => match parse_float(s) {
            Ok(f) => Ok(f),
            // A time.Duration (carried as its String()) converts to seconds.
            Err(e) => match parse_go_duration(s) {
                Some(d) if s.bytes().any(|b| b.is_ascii_alphabetic()) => Ok(d as f64 / 1e9),
                _ => Err(e),
            },
        },
        Value::Nil => Err("can't convert <nil> to float".into()),
        other => Err(format!(
            "can't convert {} to float",
            struct_type(other).unwrap_or_else(|| crate::engine::go_type(other))
        )),
    }
}

fn one_float(args: &[Value]) -> Result<f64, String> {
    want(args, 1)?;
    convert_to_float(&args[0])
}

/// Prometheus `humanize`.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return fmt_g(v, 4);
    }
    let mut v = v;
    if v.abs() >= 1.0 {
        let mut prefix = "";
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
        return format!("{}{prefix}", fmt_g(v, 4));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}", fmt_g(v, 4))
}

/// Prometheus `humanize1024`.
pub fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return fmt_g(v, 4);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", fmt_g(v, 4))
}

/// `common/helpers/templates.HumanizeDuration` (seconds in).
pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return fmt_g(v, 4);
    }
    if v == 0.0 {
        return format!("{}s", fmt_g(v, 4));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        // Go converts an out-of-range float to int64 as amd64 does: MinInt64.
        let d = if v >= i64::MAX as f64 {
            i64::MIN
        } else {
            v as i64
        };
        let seconds = d % 60;
        let minutes = (d / 60) % 60;
        let hours = (d / 60 / 60) % 24;
        let days = d / 60 / 60 / 24;
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", fmt_g(v, 4));
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", fmt_g(v, 4))
}

/// `FloatToTime`: seconds to a UTC time, truncated to milliseconds as
/// Prometheus' `model.Time` does.
pub fn float_to_time(v: f64) -> Result<GoTime, String> {
    if !v.is_finite() {
        return Err("value is NaN or Inf".into());
    }
    let ts = v * 1e9;
    if ts > i64::MAX as f64 || ts < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            fmt_float(v)
        ));
    }
    let ms = (ts as i64) / 1_000_000;
    Ok(GoTime::utc(
        ms.div_euclid(1000),
        (ms.rem_euclid(1000) * 1_000_000) as i32,
    ))
}

/// `HumanizeTimestamp`.
pub fn humanize_timestamp(v: f64) -> Result<String, String> {
    if !v.is_finite() {
        return Ok(fmt_g(v, 4));
    }
    Ok(float_to_time(v)?.go_string())
}

/// Go's `net.SplitHostPort`.
fn split_host_port(hp: &str) -> Option<(String, String)> {
    let i = hp.rfind(':')?;
    if hp.starts_with('[') {
        let end = hp.find(']')?;
        if end + 1 != i {
            return None;
        }
        let host = &hp[1..end];
        if host.contains('[') || hp[end + 1..].contains(']') {
            return None;
        }
        return Some((host.to_string(), hp[i + 1..].to_string()));
    }
    let host = &hp[..i];
    if host.contains(':') || host.contains('[') || host.contains(']') {
        return None;
    }
    Some((host.to_string(), hp[i + 1..].to_string()))
}

fn strip_port(hp: &str) -> String {
    match split_host_port(hp) {
        Some((h, _)) => h,
        None => hp.to_string(),
    }
}

fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or_else(|| (hp.to_string(), String::new()));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hp.to_string();
    }
    let host = host.split('.').next().unwrap_or("").to_string();
    if port.is_empty() {
        host
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The path of a URL (`url.URL.Path`).
pub fn url_path(u: &str) -> String {
    let rest = match u.find("://") {
        Some(i) => {
            let after = &u[i + 3..];
            match after.find('/') {
                Some(j) => &after[j..],
                None => "",
            }
        }
        None => u,
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    crate::engine::query_unescape(&rest[..end].replace('+', "%2B"))
        .unwrap_or_else(|_| rest[..end].to_string())
}

fn sample_value(s: &QueryResultSample) -> Value {
    make_struct(
        "template.sample",
        vec![
            ("Labels", string_map(&s.labels)),
            ("Value", Value::Float(s.value)),
        ],
    )
}

fn sample_labels(v: &Value) -> Result<&std::collections::BTreeMap<Arc<str>, Value>, String> {
    match v {
        Value::Map(m) if struct_type(v) == Some("template.sample") => match m.get("Labels") {
            Some(Value::Map(l)) => Ok(l),
            _ => Err("sample without labels".into()),
        },
        Value::Nil => Err("invalid memory address or nil pointer dereference".into()),
        other => Err(format!(
            "wrong type for value; expected *template.sample; got {}",
            crate::engine::go_type(other)
        )),
    }
}

/// The Prometheus function map (`NewTemplateExpander`) except `query`,
/// `tmpl` and the functions bound to the expansion (`now`, `pathPrefix`,
/// `externalURL`).
fn static_prom_funcs() -> FuncMap {
    let mut m = FuncMap::new();
    m.insert("index".into(), index_func());
    m.insert(
        "first".into(),
        wrap("first", |a| {
            want(a, 1)?;
            match &a[0] {
                Value::List(l) if !l.is_empty() => Ok(l[0].clone()),
                _ => Err("first() called on vector with no elements".into()),
            }
        }),
    );
    m.insert(
        "label".into(),
        wrap("label", |a| {
            want(a, 2)?;
            let name = arg_str(a, 0)?;
            Ok(sample_labels(&a[1])?
                .get(name)
                .cloned()
                .unwrap_or_else(|| vs("")))
        }),
    );
    m.insert(
        "value".into(),
        wrap("value", |a| {
            want(a, 1)?;
            match &a[0] {
                Value::Map(m) if struct_type(&a[0]) == Some("template.sample") => {
                    Ok(m.get("Value").cloned().unwrap_or(Value::Nil))
                }
                other => Err(format!(
                    "wrong type for value; expected *template.sample; got {}",
                    crate::engine::go_type(other)
                )),
            }
        }),
    );
    m.insert(
        "strvalue".into(),
        wrap("strvalue", |a| {
            want(a, 1)?;
            Ok(sample_labels(&a[0])?
                .get("__value__")
                .cloned()
                .unwrap_or_else(|| vs("")))
        }),
    );
    m.insert(
        "args".into(),
        wrap("args", |a| {
            let m: BTreeMap<Arc<str>, Value> = a
                .iter()
                .enumerate()
                .map(|(i, v)| (Arc::from(format!("arg{i}")), v.clone()))
                .collect();
            Ok(Value::Map(Arc::new(m)))
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
        "safeHtml".into(),
        wrap("safeHtml", |a| {
            want(a, 1)?;
            Ok(safe(SafeKind::Html, arg_str(a, 0)?))
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
        "title".into(),
        wrap("title", |a| {
            want(a, 1)?;
            Ok(vs(title(arg_str(a, 0)?, false)))
        }),
    );
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
        "graphLink".into(),
        wrap("graphLink", |a| {
            want(a, 1)?;
            Ok(vs(format!(
                "/graph?g0.expr={}&g0.tab=0",
                query_escape(arg_str(a, 0)?)
            )))
        }),
    );
    m.insert(
        "tableLink".into(),
        wrap("tableLink", |a| {
            want(a, 1)?;
            Ok(vs(format!(
                "/graph?g0.expr={}&g0.tab=1",
                query_escape(arg_str(a, 0)?)
            )))
        }),
    );
    m.insert(
        "sortByLabel".into(),
        wrap("sortByLabel", |a| {
            want(a, 2)?;
            let label = arg_str(a, 0)?.to_string();
            let Value::List(l) = &a[1] else {
                return Err("wrong type for value; expected template.queryResult".into());
            };
            let mut v: Vec<Value> = l.to_vec();
            let key = |s: &Value| -> String {
                sample_labels(s)
                    .ok()
                    .and_then(|m| {
                        m.get(label.as_str())
                            .and_then(|x| x.as_str().map(str::to_string))
                    })
                    .unwrap_or_default()
            };
            v.sort_by_key(key);
            Ok(Value::List(v.into()))
        }),
    );
    m.insert(
        "stripPort".into(),
        wrap("stripPort", |a| {
            want(a, 1)?;
            Ok(vs(strip_port(arg_str(a, 0)?)))
        }),
    );
    m.insert(
        "stripDomain".into(),
        wrap("stripDomain", |a| {
            want(a, 1)?;
            Ok(vs(strip_domain(arg_str(a, 0)?)))
        }),
    );
    m.insert(
        "humanize".into(),
        wrap("humanize", |a| Ok(vs(humanize(one_float(a)?)))),
    );
    m.insert(
        "humanize1024".into(),
        wrap("humanize1024", |a| Ok(vs(humanize1024(one_float(a)?)))),
    );
    m.insert(
        "humanizeDuration".into(),
        wrap("humanizeDuration", |a| {
            Ok(vs(humanize_duration(one_float(a)?)))
        }),
    );
    m.insert(
        "humanizePercentage".into(),
        wrap("humanizePercentage", |a| {
            Ok(vs(format!("{}%", fmt_g(one_float(a)? * 100.0, 4))))
        }),
    );
    m.insert(
        "humanizeTimestamp".into(),
        wrap("humanizeTimestamp", |a| {
            Ok(vs(humanize_timestamp(one_float(a)?)?))
        }),
    );
    m.insert(
        "toTime".into(),
        wrap("toTime", |a| {
            Ok(vs(float_to_time(one_float(a)?)?.go_string()))
        }),
    );
    m.insert(
        "toDuration".into(),
        wrap("toDuration", |a| {
            let v = one_float(a)?;
            Ok(vs(duration_string((v * 1e9) as i64 as i128)))
        }),
    );
    m.insert(
        "parseDuration".into(),
        wrap("parseDuration", |a| {
            want(a, 1)?;
            let ms = parse_prom_duration(arg_str(a, 0)?)?;
            Ok(Value::Float(ms as f64 / 1000.0))
        }),
    );
    m.insert(
        "urlQueryEscape".into(),
        wrap("urlQueryEscape", |a| {
            want(a, 1)?;
            Ok(vs(query_escape(arg_str(a, 0)?)))
        }),
    );
    m
}

/// Names of every Prometheus template function (for parse-time checks).
pub fn prom_set(timestamp_ms: i64, external_url: &str, html: bool) -> Set {
    static FUNCS: std::sync::LazyLock<FuncMap> = std::sync::LazyLock::new(static_prom_funcs);
    let mut m = FUNCS.clone();
    let now = timestamp_ms as f64 / 1000.0;
    m.insert(
        "now".into(),
        wrap("now", move |a| {
            want(a, 0)?;
            Ok(Value::Float(now))
        }),
    );
    let path = url_path(external_url);
    m.insert(
        "pathPrefix".into(),
        wrap("pathPrefix", move |a| {
            want(a, 0)?;
            Ok(vs(&path))
        }),
    );
    let ext = external_url.to_string();
    m.insert(
        "externalURL".into(),
        wrap("externalURL", move |a| {
            want(a, 0)?;
            Ok(vs(&ext))
        }),
    );
    let mut funcs = m;
    // Placeholders so the parser knows the names; execution replaces them.
    funcs.insert(
        "query".into(),
        wrap("query", |_| Err("query is not available here".into())),
    );
    // `tmpl` exists only in HTML mode (console templates), as in Prometheus.
    if html {
        funcs.insert(
            "tmpl".into(),
            wrap("tmpl", |_| Err("tmpl is not available here".into())),
        );
    }
    Set::new(Flavor::Prometheus, funcs)
}

impl Expander<'_> {
    /// `Expander.Expand`: text mode.
    pub fn expand(&self, text: &str) -> Result<String, TemplateError> {
        self.run(text, false)
    }

    /// `Expander.ExpandHTML` without extra template files: `html/template`
    /// escaping, with `tmpl`.
    pub fn expand_html(&self, text: &str) -> Result<String, TemplateError> {
        self.run(text, true)
    }

    fn run(&self, text: &str, html: bool) -> Result<String, TemplateError> {
        let name = self.name;
        let mut set = prom_set(self.timestamp_ms, self.external_url, html);
        set.parse(name, text).map_err(|e| TemplateError::Parse {
            name: name.to_string(),
            message: e.0,
        })?;
        let set = Arc::new(set);
        let exec_error = |message: String| TemplateError::Execute {
            name: name.to_string(),
            message,
        };

        // `tmpl name data` renders another template of the same set.
        let mut extra = FuncMap::new();
        let weak: Weak<Set> = Arc::downgrade(&set);
        if html {
            extra.insert(
                "tmpl".into(),
                Arc::new(move |a: &[Value]| {
                    let (Some(Value::String(n)), Some(d)) = (a.first(), a.get(1)) else {
                        return Err(exec_err(
                            "error calling tmpl: wrong number of args for tmpl: want 2",
                        ));
                    };
                    let Some(set) = weak.upgrade() else {
                        return Err(exec_err("error calling tmpl: template set gone"));
                    };
                    if !set.trees.contains_key(&**n) {
                        return Err(exec_err(format!(
                            "error calling tmpl: html/template: no such template {n:?}"
                        )));
                    }
                    let out = set
                        .execute_text(n, d, &FuncMap::new())
                        .map_err(|e| exec_err(format!("error calling tmpl: {e}")))?;
                    Ok(crate::engine::safe(SafeKind::Html, &out))
                }),
            );
        }

        let data = &self.data;
        let set_ref = &set;
        let execute = move |extra: &FuncMap| {
            if html {
                set_ref.execute_html(name, data, extra)
            } else {
                set_ref.execute_text(name, data, extra)
            }
        };
        let uses_query = text.contains("query");
        match (self.query, uses_query) {
            (Some(query), true) => {
                // `query` must be a 'static function, but the caller's query
                // closure is borrowed: run the template on a scoped thread and
                // answer its queries here.
                let (req_tx, req_rx) = mpsc::channel::<(String, QueryReply)>();
                let req_tx = Mutex::new(req_tx);
                extra.insert(
                    "query".into(),
                    Arc::new(move |a: &[Value]| {
                        let q =
                            match a {
                                [Value::String(q)] => q.to_string(),
                                _ => return Err(exec_err(
                                    "error calling query: wrong number of args for query: want 1",
                                )),
                            };
                        let (tx, rx) = mpsc::channel();
                        let sent = req_tx
                            .lock()
                            .map(|s| s.send((q, tx)).is_ok())
                            .unwrap_or(false);
                        if !sent {
                            return Err(exec_err("error calling query: query channel closed"));
                        }
                        match rx.recv() {
                            Ok(Ok(samples)) => {
                                Ok(Value::List(samples.iter().map(sample_value).collect()))
                            }
                            Ok(Err(e)) => Err(exec_err(format!("error calling query: {e}"))),
                            Err(_) => Err(exec_err("error calling query: no answer")),
                        }
                    }),
                );
                std::thread::scope(|scope| {
                    let handle = std::thread::Builder::new()
                        .name("template-expand".into())
                        .spawn_scoped(scope, move || execute(&extra))
                        .map_err(|e| format!("cannot start template execution: {e}"))?;
                    while let Ok((q, reply)) = req_rx.recv() {
                        let _ = reply.send(query(&q));
                    }
                    handle
                        .join()
                        .unwrap_or_else(|_| Err("template execution panicked".into()))
                })
                .map_err(exec_error)
            }
            _ => execute(&extra).map_err(exec_error),
        }
    }
}

/// The data Prometheus gives alert templates (`AlertTemplateData`).
pub fn alert_template_data(d: &crate::RuleTemplateData) -> Value {
    make_struct(
        "tmplData",
        vec![
            ("Labels", string_map(d.labels)),
            ("ExternalLabels", string_map(d.external_labels)),
            ("ExternalURL", vs(d.external_url)),
            ("Value", Value::Float(d.value)),
        ],
    )
}

/// Milliseconds since the epoch now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
