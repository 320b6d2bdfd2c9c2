//! Rule files as Prometheus reads them (`model/rulefmt`): strict YAML (an
//! unknown field is an error unless `ignore_unknown_fields`), then the same
//! validation and messages as Prometheus, each error placed at
//! `file:line:column` with the group and rule it is about.

use bongsu_model::duration::parse_duration;
use bongsu_promql::ast::Expr;
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt;

/// A parsed, validated rule file.
#[derive(Debug, Clone)]
pub struct RuleFile {
    pub path: String,
    pub groups: Vec<GroupSpec>,
}

/// One `groups:` entry.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub name: String,
    /// Evaluation interval in ms (`None`: the global `evaluation_interval`).
    pub interval: Option<i64>,
    /// `query_offset` in ms (`None`: the global `rule_query_offset`).
    pub query_offset: Option<i64>,
    /// Alerts or series a rule may produce (0 = no limit).
    pub limit: usize,
    pub labels: BTreeMap<String, String>,
    pub rules: Vec<RuleSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleKind {
    Record(String),
    Alert(String),
}

/// One rule of a group.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub kind: RuleKind,
    /// The expression as written.
    pub expr_text: String,
    pub expr: Expr,
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
    /// The rule's labels merged over the group's labels.
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// 1-based line of the rule in its file.
    pub line: u64,
}

impl RuleSpec {
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Record(n) | RuleKind::Alert(n) => n,
        }
    }
}

/// Checks one template: `(template name, text)`.
pub type TemplateCheck<'a> = &'a dyn Fn(&str, &str) -> Result<(), String>;

/// What the parser accepts beyond the default.
#[derive(Default, Clone, Copy)]
pub struct ParseOptions<'a> {
    /// Accept unknown keys (promtool's `--ignore-unknown-fields`).
    pub ignore_unknown_fields: bool,
    /// Legacy (pre-UTF-8) metric and label name validation.
    pub legacy_names: bool,
    /// Checks that an alerting rule's label or annotation template parses
    /// (`(template name, text)`); `None` skips the check.
    pub check_template: Option<TemplateCheck<'a>>,
}

/// Every problem found in one file, each a full message
/// (`file:line:column: group "g", rule 1, "name": …`).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFileErrors(pub Vec<String>);

impl fmt::Display for RuleFileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for RuleFileErrors {}

/// A YAML scalar read as text, as Go's yaml.v3 does for string fields
/// (`expr: 1` is the expression "1").
#[derive(Debug, Clone, Default)]
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

type Map = Option<BTreeMap<String, Scalar>>;

/// The raw file shape, once strict and once lenient (Prometheus'
/// `--ignore-unknown-fields`): serde cannot switch `deny_unknown_fields` at
/// run time, so both are generated from one list of fields.
macro_rules! raw_file {
    ($m:ident $(, $attr:meta)?) => {
        mod $m {
            use super::*;
            #[derive(Deserialize)]
            $(#[serde($attr)])?
            pub struct File {
                #[serde(default)]
                pub groups: Option<Vec<Spanned<Group>>>,
            }
            #[derive(Deserialize)]
            $(#[serde($attr)])?
            pub struct Group {
                #[serde(default)]
                pub name: Scalar,
                #[serde(default)]
                pub interval: Option<Spanned<Scalar>>,
                #[serde(default)]
                pub query_offset: Option<Spanned<Scalar>>,
                #[serde(default)]
                pub limit: Option<i64>,
                #[serde(default)]
                pub labels: Map,
                #[serde(default)]
                pub rules: Option<Vec<Spanned<Rule>>>,
            }
            #[derive(Deserialize)]
            $(#[serde($attr)])?
            pub struct Rule {
                #[serde(default)]
                pub record: Option<Spanned<Scalar>>,
                #[serde(default)]
                pub alert: Option<Spanned<Scalar>>,
                #[serde(default)]
                pub expr: Option<Spanned<Scalar>>,
                #[serde(default, rename = "for")]
                pub for_: Option<Spanned<Scalar>>,
                #[serde(default)]
                pub keep_firing_for: Option<Spanned<Scalar>>,
                #[serde(default)]
                pub labels: Map,
                #[serde(default)]
                pub annotations: Map,
            }
            impl From<File> for super::RawFile {
                fn from(f: File) -> Self {
                    RawFile {
                        groups: f.groups.unwrap_or_default().into_iter().map(|g| {
                            let (at, g) = (loc(&g.referenced), g.value);
                            RawGroup {
                                at,
                                name: g.name.0,
                                interval: g.interval,
                                query_offset: g.query_offset,
                                limit: g.limit.unwrap_or(0),
                                labels: g.labels,
                                rules: g.rules.unwrap_or_default().into_iter().map(|r| {
                                    let (at, r) = (loc(&r.referenced), r.value);
                                    RawRule {
                                        at,
                                        record: r.record,
                                        alert: r.alert,
                                        expr: r.expr,
                                        for_: r.for_,
                                        keep_firing_for: r.keep_firing_for,
                                        labels: r.labels,
                                        annotations: r.annotations,
                                    }
                                }).collect(),
                            }
                        }).collect(),
                    }
                }
            }
        }
    };
}

raw_file!(strict, deny_unknown_fields);
raw_file!(lenient);

struct RawFile {
    groups: Vec<RawGroup>,
}

struct RawGroup {
    at: (u64, u64),
    name: String,
    interval: Option<Spanned<Scalar>>,
    query_offset: Option<Spanned<Scalar>>,
    limit: i64,
    labels: Map,
    rules: Vec<RawRule>,
}

struct RawRule {
    at: (u64, u64),
    record: Option<Spanned<Scalar>>,
    alert: Option<Spanned<Scalar>>,
    expr: Option<Spanned<Scalar>>,
    for_: Option<Spanned<Scalar>>,
    keep_firing_for: Option<Spanned<Scalar>>,
    labels: Map,
    annotations: Map,
}

fn loc(l: &serde_saphyr::Location) -> (u64, u64) {
    (l.line(), l.column())
}

fn at_of(s: &Option<Spanned<Scalar>>, fallback: (u64, u64)) -> (u64, u64) {
    s.as_ref().map(|s| loc(&s.referenced)).filter(|p| p.0 > 0).unwrap_or(fallback)
}

fn sval(s: &Option<Spanned<Scalar>>) -> &str {
    s.as_ref().map(|s| s.value.0.as_str()).unwrap_or("")
}

fn map(m: &Map) -> BTreeMap<String, String> {
    m.as_ref().map(|m| m.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect()).unwrap_or_default()
}

/// A label name Prometheus 3 accepts (UTF-8: any non-empty valid string;
/// legacy: `[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn valid_label_name(s: &str, legacy: bool) -> bool {
    if !legacy {
        return !s.is_empty();
    }
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A metric name Prometheus 3 accepts (legacy: `[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn valid_metric_name(s: &str, legacy: bool) -> bool {
    if !legacy {
        return !s.is_empty();
    }
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn yaml_error(file: &str, e: &serde_saphyr::Error) -> String {
    let (line, col) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
    let msg = e.without_snippet().to_string();
    let msg = msg.lines().next().unwrap_or("").trim().to_string();
    // Prometheus (yaml.v3 KnownFields) says "field x not found in type …":
    // keep that wording so the two tools' errors read the same.
    let msg = match msg.strip_prefix("unknown field `").and_then(|r| r.split_once('`')) {
        Some((field, _)) => format!("field {field} not found in type rulefmt.RuleNode ({msg})"),
        None => msg,
    };
    format!("{file}:{line}:{col}: {msg}")
}

/// Parses and validates rule-file text; `file` names it in errors.
pub fn parse_rules(text: &str, file: &str, opts: &ParseOptions) -> Result<RuleFile, RuleFileErrors> {
    let raw: RawFile = if text.trim().is_empty() {
        RawFile { groups: vec![] }
    } else if opts.ignore_unknown_fields {
        match serde_saphyr::from_str::<Option<lenient::File>>(text) {
            Ok(f) => f.map(Into::into).unwrap_or(RawFile { groups: vec![] }),
            Err(e) => return Err(RuleFileErrors(vec![yaml_error(file, &e)])),
        }
    } else {
        match serde_saphyr::from_str::<Option<strict::File>>(text) {
            Ok(f) => f.map(Into::into).unwrap_or(RawFile { groups: vec![] }),
            Err(e) => return Err(RuleFileErrors(vec![yaml_error(file, &e)])),
        }
    };
    let mut errs = Vec::new();
    let mut groups = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for g in raw.groups {
        let gerr = |errs: &mut Vec<String>, at: (u64, u64), m: String| errs.push(format!("{file}:{}:{}: {m}", at.0, at.1));
        if g.name.is_empty() {
            gerr(&mut errs, g.at, "Groupname must not be empty".into());
        }
        if !seen.insert(g.name.clone()) {
            gerr(&mut errs, g.at, format!("groupname: {:?} is repeated in the same file", g.name));
        }
        let glabels = map(&g.labels);
        for k in glabels.keys() {
            if !valid_label_name(k, opts.legacy_names) || k == "__name__" {
                gerr(&mut errs, g.at, format!("invalid label name: {k}"));
            }
        }
        let dur = |errs: &mut Vec<String>, s: &Option<Spanned<Scalar>>, what: &str| -> Option<i64> {
            let v = s.as_ref()?;
            match parse_duration(&v.value.0) {
                Ok(d) => Some(d),
                Err(e) => {
                    gerr(errs, at_of(s, g.at), format!("{what}: {e}"));
                    None
                }
            }
        };
        let interval = dur(&mut errs, &g.interval, "interval");
        let query_offset = dur(&mut errs, &g.query_offset, "query_offset");
        if interval == Some(0) {
            gerr(&mut errs, at_of(&g.interval, g.at), "interval: duration must be greater than 0".into());
        }
        if g.limit < 0 {
            gerr(&mut errs, g.at, format!("limit: invalid value {}", g.limit));
        }
        let mut rules = Vec::new();
        for (i, r) in g.rules.iter().enumerate() {
            let name = if r.alert.is_some() && !sval(&r.alert).is_empty() { sval(&r.alert) } else { sval(&r.record) };
            let rerr = |errs: &mut Vec<String>, at: (u64, u64), m: String| {
                errs.push(format!("{file}:{}:{}: group {:?}, rule {}, {:?}: {m}", at.0, at.1, g.name, i + 1, name))
            };
            let (record, alert) = (sval(&r.record), sval(&r.alert));
            let name_at = if !record.is_empty() { at_of(&r.record, r.at) } else { at_of(&r.alert, r.at) };
            if !record.is_empty() && !alert.is_empty() {
                rerr(&mut errs, name_at, "only one of 'record' and 'alert' must be set".into());
            }
            if record.is_empty() && alert.is_empty() {
                rerr(&mut errs, r.at, "one of 'record' or 'alert' must be set".into());
            }
            let expr_text = sval(&r.expr).to_string();
            let expr_at = at_of(&r.expr, r.at);
            let mut expr = None;
            if expr_text.is_empty() {
                rerr(&mut errs, expr_at, "field 'expr' must be set in rule".into());
            } else {
                match bongsu_promql::parser::parse(&expr_text) {
                    Ok(e) => expr = Some(e),
                    Err(e) => rerr(&mut errs, expr_at, format!("could not parse expression: {e}")),
                }
            }
            let rdur = |errs: &mut Vec<String>, s: &Option<Spanned<Scalar>>, what: &str| -> i64 {
                let Some(v) = s.as_ref() else { return 0 };
                match parse_duration(&v.value.0) {
                    Ok(d) => d,
                    Err(e) => {
                        rerr(errs, at_of(s, r.at), format!("{what}: {e}"));
                        0
                    }
                }
            };
            let for_ms = rdur(&mut errs, &r.for_, "for");
            let keep_firing_for_ms = rdur(&mut errs, &r.keep_firing_for, "keep_firing_for");
            let rlabels = map(&r.labels);
            let annotations = map(&r.annotations);
            if !record.is_empty() {
                if !annotations.is_empty() {
                    rerr(&mut errs, name_at, "invalid field 'annotations' in recording rule".into());
                }
                if for_ms != 0 {
                    rerr(&mut errs, name_at, "invalid field 'for' in recording rule".into());
                }
                if keep_firing_for_ms != 0 {
                    rerr(&mut errs, name_at, "invalid field 'keep_firing_for' in recording rule".into());
                }
                if !valid_metric_name(record, opts.legacy_names) {
                    rerr(&mut errs, name_at, format!("invalid recording rule name: {record}"));
                }
                if record.contains('{') || record.contains('}') {
                    rerr(
                        &mut errs,
                        name_at,
                        format!("braces present in the recording rule name; should it be in expr?: {record}"),
                    );
                }
            }
            for k in rlabels.keys() {
                if !valid_label_name(k, opts.legacy_names) || k == "__name__" {
                    rerr(&mut errs, r.at, format!("invalid label name: {k}"));
                }
            }
            for k in annotations.keys() {
                if !valid_label_name(k, opts.legacy_names) {
                    rerr(&mut errs, r.at, format!("invalid annotation name: {k}"));
                }
            }
            if let (false, Some(check)) = (alert.is_empty(), opts.check_template) {
                let tname = format!("__alert_{alert}");
                for (k, v) in &rlabels {
                    if let Err(e) = check(&tname, v) {
                        rerr(&mut errs, r.at, format!("label {k:?}: {e}"));
                    }
                }
                for (k, v) in &annotations {
                    if let Err(e) = check(&tname, v) {
                        rerr(&mut errs, r.at, format!("annotation {k:?}: {e}"));
                    }
                }
            }
            let Some(expr) = expr else { continue };
            let kind = if !alert.is_empty() { RuleKind::Alert(alert.into()) } else { RuleKind::Record(record.into()) };
            let mut labels = glabels.clone();
            labels.extend(rlabels);
            rules.push(RuleSpec {
                kind,
                expr_text,
                expr,
                for_ms,
                keep_firing_for_ms,
                labels,
                annotations,
                line: r.at.0,
            });
        }
        groups.push(GroupSpec {
            name: g.name,
            interval,
            query_offset,
            limit: g.limit.max(0) as usize,
            labels: glabels,
            rules,
        });
    }
    if errs.is_empty() {
        Ok(RuleFile { path: file.to_string(), groups })
    } else {
        Err(RuleFileErrors(errs))
    }
}

/// Reads and parses a rule file.
pub fn load_rules(path: &std::path::Path, opts: &ParseOptions) -> Result<RuleFile, RuleFileErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| RuleFileErrors(vec![format!("{name}: {e}")]))?;
    parse_rules(&text, &name, opts)
}

/// Rules that record or alert under the same name with the same labels
/// (promtool's `duplicate-rules` lint), each reported once.
pub fn duplicate_rules(f: &RuleFile) -> Vec<(String, BTreeMap<String, String>)> {
    let mut all: Vec<(String, BTreeMap<String, String>)> = f
        .groups
        .iter()
        .flat_map(|g| g.rules.iter().map(|r| (r.name().to_string(), r.labels.clone())))
        .collect();
    all.sort();
    let mut out: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for w in all.windows(2) {
        if w[0] == w[1] && out.last() != Some(&w[0]) {
            out.push(w[0].clone());
        }
    }
    out
}
