//! process-exporter's configuration file: a `process_names` list of
//! matchers, each with selectors (`comm`, `exe`, `cmdline`, and Bongsu's
//! `unit`) that must all match, and a `name` template. The first entry that
//! matches a process names it.
//!
//! Templates support the field substitutions process-exporter documents
//! (`{{.Comm}}`, `{{.ExeBase}}`, `{{.ExeFull}}`, `{{.Username}}`, `{{.PID}}`,
//! `{{.StartTime}}`, `{{.Cgroups}}`, `{{.Matches}}`, `{{.Matches.<name>}}`)
//! and print them the way Go's text/template does; any other action is
//! refused when the file is loaded.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;
use serde_saphyr::Spanned;

/// Why a process collector configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProcessConfigError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A YAML error or a bad matcher, with its position (0:0 when unknown).
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: u64,
        column: u64,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    process_names: Option<Vec<Spanned<RawMatcher>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatcher {
    name: Option<Spanned<String>>,
    comm: Option<Vec<String>>,
    exe: Option<Vec<String>>,
    cmdline: Option<Vec<Spanned<String>>>,
    /// Bongsu extension: systemd units.
    unit: Option<Vec<String>>,
}

/// A parsed process collector configuration (process-exporter's
/// `-config.path` file).
#[derive(Debug, Clone, Default)]
pub struct ProcessConfig {
    pub(crate) matchers: Vec<MatchNamer>,
}

impl ProcessConfig {
    /// Reads and parses the file at `path`.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self, ProcessConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ProcessConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// Parses configuration text; `filename` is used in errors.
    pub fn from_yaml(text: &str, filename: &str) -> Result<Self, ProcessConfigError> {
        let invalid = |line: u64, column: u64, message: String| ProcessConfigError::Invalid {
            file: filename.to_string(),
            line,
            column,
            message,
        };
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let raw: Option<RawFile> = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
            let msg = e.without_snippet().to_string();
            let mut first = msg.lines().next().unwrap_or("").trim();
            // Our prefix has the position already.
            if let Some(i) = first.rfind(" at line ") {
                if first[i..].contains(", column ") {
                    first = &first[..i];
                }
            }
            invalid(line, column, first.to_string())
        })?;
        let mut matchers = Vec::new();
        for item in raw.and_then(|r| r.process_names).unwrap_or_default() {
            let (line, column) = (item.referenced.line(), item.referenced.column());
            let m = item.value;
            if m.comm.is_none() && m.exe.is_none() && m.cmdline.is_none() && m.unit.is_none() {
                return Err(invalid(line, column, "no matchers provided: give comm, exe, cmdline or unit".into()));
            }
            let cmdline = match m.cmdline {
                None => None,
                Some(list) => {
                    let mut res = Vec::with_capacity(list.len());
                    for re in list {
                        let compiled = bongsu_model::matcher::compile_go_regex(&re.value).map_err(|e| {
                            invalid(re.referenced.line(), re.referenced.column(), format!("bad cmdline regex {:?}: {}", re.value, e.message))
                        })?;
                        res.push(compiled);
                    }
                    Some(res)
                }
            };
            let template = match &m.name {
                Some(n) if !n.value.is_empty() => Template::parse(&n.value)
                    .map_err(|e| invalid(n.referenced.line(), n.referenced.column(), format!("bad name template {:?}: {e}", n.value)))?,
                _ => Template(vec![Piece::ExeBase]),
            };
            matchers.push(MatchNamer {
                comm: m.comm.map(|c| c.into_iter().collect()),
                exe: m.exe.map(|list| {
                    // A path must match argv[0] exactly; a bare name matches its basename.
                    list.into_iter()
                        .map(|e| if e.contains('/') { (go_base(&e).to_string(), e) } else { (e, String::new()) })
                        .collect()
                }),
                cmdline,
                unit: m.unit.map(|u| u.iter().map(|n| unit_name(n)).collect()),
                template,
            });
        }
        Ok(ProcessConfig { matchers })
    }

    /// How many `process_names` entries the configuration has.
    pub fn len(&self) -> usize {
        self.matchers.len()
    }

    /// Whether the configuration has no `process_names` entries (it then
    /// tracks no process).
    pub fn is_empty(&self) -> bool {
        self.matchers.is_empty()
    }

    /// Whether some name template prints `{{.Username}}` (the only field
    /// that needs a lookup).
    pub(crate) fn needs_username(&self) -> bool {
        self.matchers.iter().any(|m| m.template.0.contains(&Piece::Username))
    }

    /// The group name of the first entry matching `attrs`, like
    /// process-exporter's `FirstMatcher`.
    pub(crate) fn match_and_name(&self, attrs: &Attrs) -> Option<String> {
        self.matchers.iter().find_map(|m| m.match_and_name(attrs))
    }
}

/// A unit name as matched against cgroup paths: `.service` unless the name
/// already names a unit type.
fn unit_name(n: &str) -> String {
    if n.ends_with(".service") || n.ends_with(".scope") {
        n.to_string()
    } else {
        format!("{n}.service")
    }
}

/// Everything a matcher or a name template can see of a process.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attrs {
    /// `/proc/<pid>/stat`'s second field.
    pub comm: String,
    pub cmdline: Vec<String>,
    /// Paths of the process' `/proc/<pid>/cgroup` lines, in file order.
    pub cgroups: Vec<String>,
    pub username: String,
    pub pid: u32,
    /// Start time: seconds since the epoch and nanoseconds.
    pub start_secs: i64,
    pub start_nanos: u32,
}

/// One `process_names` entry.
#[derive(Debug, Clone)]
pub(crate) struct MatchNamer {
    comm: Option<HashSet<String>>,
    /// basename → full path ("" when any path with that basename matches).
    exe: Option<HashMap<String, String>>,
    cmdline: Option<Vec<regex::Regex>>,
    /// Unit names with their type suffix.
    unit: Option<Vec<String>>,
    template: Template,
}

impl MatchNamer {
    fn match_and_name(&self, a: &Attrs) -> Option<String> {
        if let Some(comms) = &self.comm {
            if !comms.contains(&a.comm) {
                return None;
            }
        }
        if let Some(exes) = &self.exe {
            let argv0 = a.cmdline.first()?;
            let full = exes.get(go_base(argv0))?;
            if !full.is_empty() && full != argv0 {
                return None;
            }
        }
        // Captures by name, unnamed groups (and the whole match) under ""; a
        // later one overwrites an earlier one, as process-exporter's map does.
        let mut matches = BTreeMap::new();
        if let Some(res) = &self.cmdline {
            let joined = a.cmdline.join(" ");
            for re in res {
                let caps = re.captures(&joined)?;
                for (i, name) in re.capture_names().enumerate() {
                    let v = caps.get(i).map(|m| m.as_str()).unwrap_or("");
                    matches.insert(name.unwrap_or("").to_string(), v.to_string());
                }
            }
        }
        if let Some(units) = &self.unit {
            let own = units_of(&a.cgroups);
            if !units.iter().any(|u| own.contains(&u.as_str())) {
                return None;
            }
        }
        Some(self.template.render(a, &matches))
    }
}

/// The systemd units a process belongs to, from its cgroup paths: the
/// innermost `.service` or `.scope` component of each path (systemd's rule
/// for `systemctl status <pid>`).
pub(crate) fn units_of(cgroups: &[String]) -> Vec<&str> {
    cgroups
        .iter()
        .filter_map(|p| p.rsplit('/').find(|c| c.ends_with(".service") || c.ends_with(".scope")))
        .collect()
}

/// Go's `filepath.Base`: the last element, trailing slashes removed; "."
/// for an empty path and "/" for a path of slashes.
pub(crate) fn go_base(p: &str) -> &str {
    if p.is_empty() {
        return ".";
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Comm,
    ExeBase,
    ExeFull,
    Username,
    Pid,
    StartTime,
    Cgroups,
    /// The whole map, printed like Go's `fmt` does: `map[k:v …]`.
    Matches,
    Match(String),
}

/// A name template: literal text and field substitutions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template(Vec<Piece>);

impl Template {
    /// Parses `{{.Field}}` actions (spaces inside the braces allowed);
    /// refuses every other action with a message naming it.
    pub(crate) fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Lit(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| "unclosed action: {{ without }}".to_string())?;
            let action = &after[..close];
            rest = &after[close + 2..];
            let inner = action.trim_matches([' ', '\t', '\n', '\r']);
            if action.starts_with('-') || action.ends_with('-') || action.starts_with("/*") {
                return Err(format!("unsupported action {{{{{action}}}}}: only field substitutions like {{{{.Comm}}}} are supported"));
            }
            let piece = match inner {
                ".Comm" => Piece::Comm,
                ".ExeBase" => Piece::ExeBase,
                ".ExeFull" => Piece::ExeFull,
                ".Username" => Piece::Username,
                ".PID" => Piece::Pid,
                ".StartTime" => Piece::StartTime,
                ".Cgroups" => Piece::Cgroups,
                ".Matches" => Piece::Matches,
                other => match other.strip_prefix(".Matches.") {
                    Some(key) if is_go_identifier(key) => Piece::Match(key.to_string()),
                    _ => {
                        return Err(format!(
                            "unsupported action {{{{{action}}}}}: only .Comm, .ExeBase, .ExeFull, .Username, .PID, .StartTime, .Cgroups, .Matches and .Matches.<name> are supported"
                        ))
                    }
                },
            };
            pieces.push(piece);
        }
        if !rest.is_empty() {
            pieces.push(Piece::Lit(rest.to_string()));
        }
        Ok(Template(pieces))
    }

    pub(crate) fn render(&self, a: &Attrs, matches: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Comm => out.push_str(&a.comm),
                Piece::ExeBase => out.push_str(a.cmdline.first().map(|c| go_base(c)).unwrap_or(&a.comm)),
                Piece::ExeFull => out.push_str(a.cmdline.first().unwrap_or(&a.comm)),
                Piece::Username => out.push_str(&a.username),
                Piece::Pid => out.push_str(&a.pid.to_string()),
                Piece::StartTime => out.push_str(&go_time_string(a.start_secs, a.start_nanos)),
                Piece::Cgroups => {
                    out.push('[');
                    out.push_str(&a.cgroups.join(" "));
                    out.push(']');
                }
                Piece::Matches => {
                    let body: Vec<String> = matches.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                    out.push_str("map[");
                    out.push_str(&body.join(" "));
                    out.push(']');
                }
                // Go prints a missing map key as "<no value>".
                Piece::Match(k) => out.push_str(matches.get(k).map(String::as_str).unwrap_or("<no value>")),
            }
        }
        out
    }
}

fn is_go_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Go's `time.Time.String()` of a UTC time: `2006-01-02 15:04:05.999999999 +0000 UTC`
/// (fraction without trailing zeros, none when whole).
pub(crate) fn go_time_string(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = bongsu_model::timefmt::civil_from_days(days);
    let mut s = format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push_str(" +0000 UTC");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> Attrs {
        Attrs {
            comm: "postgres".into(),
            cmdline: vec!["/usr/lib/postgresql/15/bin/postgres".into(), "-D".into(), "/var/lib/pg".into()],
            cgroups: vec!["/system.slice/postgresql@15-main.service".into()],
            username: "postgres".into(),
            pid: 4242,
            start_secs: 1_795_721_066,
            start_nanos: 350_000_000,
        }
    }

    fn cfg(yaml: &str) -> ProcessConfig {
        ProcessConfig::from_yaml(yaml, "t.yml").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn templates_print_like_go() {
        let c = cfg("process_names:\n  - name: '{{.Comm}}|{{ .ExeBase }}|{{.ExeFull}}|{{.Username}}|{{.PID}}|{{.StartTime}}|{{.Cgroups}}|{{.Matches}}|{{.Matches.dir}}|{{.Matches.nope}}'\n    cmdline: ['-D (?P<dir>\\S+)']\n");
        assert_eq!(
            c.match_and_name(&attrs()).as_deref(),
            Some("postgres|postgres|/usr/lib/postgresql/15/bin/postgres|postgres|4242|2026-11-26 19:24:26.35 +0000 UTC|[/system.slice/postgresql@15-main.service]|map[:-D /var/lib/pg dir:/var/lib/pg]|/var/lib/pg|<no value>")
        );
        assert_eq!(go_time_string(0, 0), "1970-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn default_name_is_exebase_and_empty_cmdline_falls_back_to_comm() {
        let c = cfg("process_names:\n  - comm: [kworker]\n");
        let a = Attrs { comm: "kworker".into(), ..Default::default() };
        assert_eq!(c.match_and_name(&a).as_deref(), Some("kworker"));
    }

    #[test]
    fn selectors_must_all_match_and_first_entry_wins() {
        let c = cfg(
            "process_names:\n  - name: a\n    comm: [postgres]\n    exe: [/usr/bin/postgres]\n  - name: b\n    exe: [postgres]\n    cmdline: ['-D']\n  - name: c\n    comm: [postgres]\n",
        );
        // exe with a path must equal argv[0]; the first entry fails, the second matches.
        assert_eq!(c.match_and_name(&attrs()).as_deref(), Some("b"));
        let mut a = attrs();
        a.cmdline = vec!["/usr/bin/postgres".into()];
        assert_eq!(c.match_and_name(&a).as_deref(), Some("a"));
        a.cmdline = vec!["/opt/postgres".into()];
        assert_eq!(c.match_and_name(&a).as_deref(), Some("c"));
    }

    #[test]
    fn unit_matcher_reads_the_innermost_unit() {
        let c = cfg("process_names:\n  - name: pg\n    unit: ['postgresql@15-main']\n  - name: '{{.Comm}}'\n    unit: [session-3.scope]\n");
        assert_eq!(c.match_and_name(&attrs()).as_deref(), Some("pg"));
        let mut a = attrs();
        a.cgroups = vec!["/user.slice/user-1000.slice/session-3.scope".into()];
        assert_eq!(c.match_and_name(&a).as_deref(), Some("postgres"));
        a.cgroups = vec!["/system.slice/other.service".into()];
        assert_eq!(c.match_and_name(&a), None);
        assert_eq!(units_of(&["/user.slice/user@1000.service/app.slice/x.service".into()]), vec!["x.service"]);
    }

    #[test]
    fn errors_name_the_position() {
        let e = ProcessConfig::from_yaml("process_names:\n  - name: x\n    cmdline: ['(']\n", "p.yml").unwrap_err().to_string();
        assert!(e.starts_with("p.yml:3:") && e.contains("bad cmdline regex"), "{e}");
        let e = ProcessConfig::from_yaml("process_names:\n  - name: '{{if .Comm}}x{{end}}'\n    comm: [a]\n", "p.yml").unwrap_err().to_string();
        assert!(e.starts_with("p.yml:2:") && e.contains("unsupported action"), "{e}");
        let e = ProcessConfig::from_yaml("process_names:\n  - name: x\n", "p.yml").unwrap_err().to_string();
        assert!(e.starts_with("p.yml:2:") && e.contains("no matchers"), "{e}");
        let e = ProcessConfig::from_yaml("process_names:\n  - comm: [a]\n    cmdlin: [b]\n", "p.yml").unwrap_err().to_string();
        assert!(e.starts_with("p.yml:3:5: unknown field `cmdlin`") && !e.contains("at line"), "{e}");
        let e = ProcessConfig::from_yaml("process_names:\n  - name: '{{.Comm'\n    comm: [a]\n", "p.yml").unwrap_err().to_string();
        assert!(e.contains("unclosed action"), "{e}");
        assert!(ProcessConfig::from_yaml("", "p.yml").is_ok_and(|c| c.is_empty()));
        // Plain scalars are strings where a name is expected, as in process-exporter's YAML.
        let c = cfg("process_names:\n  - name: 42\n    comm: [1234, yes]\n");
        let a = Attrs { comm: "1234".into(), ..Default::default() };
        assert_eq!(c.match_and_name(&a).as_deref(), Some("42"));
    }

    #[test]
    fn go_base_edge_cases() {
        assert_eq!(go_base(""), ".");
        assert_eq!(go_base("///"), "/");
        assert_eq!(go_base("/usr/bin/"), "bin");
        assert_eq!(go_base("sleep"), "sleep");
    }

    #[test]
    fn mangled_configs_and_templates_never_panic() {
        let yaml = "process_names:\n  - name: '{{.Comm}}:{{.Matches.x}}'\n    comm: [a, b]\n    exe: [/usr/bin/c]\n    cmdline: ['(?P<x>\\d+)']\n    unit: [nginx]\n";
        for t in crate::util::mangled(yaml) {
            if let Ok(c) = ProcessConfig::from_yaml(&t, "m.yml") {
                let _ = c.match_and_name(&attrs());
            }
        }
        for t in crate::util::mangled("a{{.Comm}}b{{ .Matches.x }}{{.PID}}") {
            let _ = Template::parse(&t);
        }
    }
}
