//! Runbook files: YAML listed by `runbook_files:` in `alertmanager.yml`.
//! Strict (an unknown field is an error), and every error is placed at
//! `file:line:column` with the runbook it is about. A runbook whose target
//! can render empty or names everything is refused here, at load: an empty
//! target set read as "all hosts" is how automation erases fleets.
//!
//! ```yaml
//! runbooks:
//!   - name: restart-web
//!     description: Restart the web service when it stops answering.
//!     runbook_url: https://wiki.example.com/web-down
//!     tier: auto                      # auto | approve | forbid
//!     target: '{{ $labels.instance }}'
//!     steps:
//!       - name: restart
//!         exec: {argv: [systemctl, restart, web.service], timeout: 30s}
//!     verify: {timeout: 2m, interval: 5s}
//!     rollback:
//!       - exec: {argv: [systemctl, start, web-fallback.service]}
//!     escalate: {receiver: oncall}
//!     guards: {cooldown: 10m, rate_limit: {max: 3, window: 1h}}
//! ```

use bongsu_model::duration::parse_duration;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::Path;

/// Risk tier: what a runbook may do without a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Runs when the guards allow.
    #[default]
    Auto,
    /// Waits for a human's approval (API, CLI or signed link); denied and
    /// escalated when the approval times out.
    Approve,
    /// Never acts: every trigger is recorded as blocked (a runbook kept for
    /// its link and its escalation).
    Forbid,
}

/// A loaded, validated runbook.
#[derive(Debug, Clone, Serialize)]
pub struct Runbook {
    pub name: String,
    pub description: String,
    pub runbook_url: String,
    pub tier: Tier,
    /// Shadow mode: guards and rendering run, no step acts.
    pub dry_run: bool,
    /// Template over the alert's labels naming what the steps act on.
    pub target: String,
    /// Labels an alert must carry (non-empty) for this runbook to act on it.
    pub requires: Vec<String>,
    pub steps: Vec<Step>,
    pub rollback: Vec<Step>,
    pub verify: Verify,
    /// Receiver told when automation fails or is not allowed to help.
    pub escalate: Option<String>,
    pub guards: Guards,
    /// ms an approval may take before the execution is denied.
    pub approval_timeout: i64,
    /// `file:line` it was read from.
    pub source: String,
}

/// One step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub action: Action,
    pub continue_on_failure: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Exec { argv: Vec<String>, env: BTreeMap<String, String>, timeout: i64 },
    Http { method: String, url: String, headers: BTreeMap<String, String>, body: Option<String>, timeout: i64, hmac_secret_file: Option<String> },
    Systemd { unit: String, action: String, user: bool, timeout: i64 },
    Notify { receiver: String },
    Wait { duration: i64 },
    /// One ticket per incident in an ITSM tool: opened on the first firing,
    /// updated on later executions, closed when the incident resolves.
    Ticket(Box<Ticket>),
}

/// One HTTP request of a ticket action (templates; `$ticket` is the id).
#[derive(Debug, Clone, Serialize)]
pub struct TicketRequest {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ticket {
    pub open: TicketRequest,
    pub update: Option<TicketRequest>,
    pub close: Option<TicketRequest>,
    /// Headers of every call (authentication, content type).
    pub headers: BTreeMap<String, String>,
    /// JSON pointer to the ticket's id in the open call's response.
    pub id_from: String,
    pub timeout: i64,
    pub hmac_secret_file: Option<String>,
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Exec { .. } => "exec",
            Action::Http { .. } => "http",
            Action::Systemd { .. } => "systemd",
            Action::Notify { .. } => "notify",
            Action::Wait { .. } => "wait",
            Action::Ticket(_) => "ticket",
        }
    }
}

/// Verification after the steps (times in ms).
#[derive(Debug, Clone, Serialize)]
pub struct Verify {
    /// PromQL (a template over the alert's labels) that returns nothing once
    /// the problem is fixed; `None`: the triggering alert's own expression
    /// (from its generator URL) no longer returning the alert's series.
    pub expr: Option<String>,
    pub timeout: i64,
    pub interval: i64,
    /// How long the condition must stay clear.
    pub hold: i64,
    /// `false`: no verification (the execution ends `done`, not `remediated`).
    pub enabled: bool,
}

/// Guards (times in ms, 0 = off).
#[derive(Debug, Clone, Serialize)]
pub struct Guards {
    /// The alert must still fire when each step starts.
    pub require_firing: bool,
    /// Per-target lock, expiring so a crash never blocks later runs.
    pub lock_lease: i64,
    /// Per-target quiet time after an execution ends.
    pub cooldown: i64,
    /// At most `max` executions of this runbook per `window`.
    pub rate_limit: Option<(u64, i64)>,
    /// Executions of this runbook running at once; more wait their turn
    /// for up to `queue_timeout` ms, then are blocked.
    pub max_concurrent: u64,
    pub queue_timeout: i64,
    pub blast_radius: Option<BlastRadius>,
    /// Consecutive failed executions that open the breaker (the runbook is
    /// disabled until a human re-arms it); 0 = never.
    pub circuit_breaker: u64,
}

/// At most `max_targets` distinct targets (or `max_fraction` of the fleet
/// `fleet` counts) touched per `window`.
#[derive(Debug, Clone, Serialize)]
pub struct BlastRadius {
    pub max_targets: u64,
    pub max_fraction: f64,
    /// PromQL returning one number: the fleet size.
    pub fleet: Option<String>,
    pub window: i64,
}

// ------------------------------------------------------------------ raw YAML

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    runbooks: Vec<Spanned<RawRunbook>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunbook {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    runbook_url: String,
    #[serde(default)]
    tier: Tier,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    target: String,
    #[serde(default)]
    requires: Option<Vec<String>>,
    #[serde(default)]
    steps: Vec<RawStep>,
    #[serde(default)]
    rollback: Vec<RawStep>,
    #[serde(default)]
    verify: Option<RawVerify>,
    #[serde(default)]
    escalate: Option<RawEscalate>,
    #[serde(default)]
    guards: RawGuards,
    #[serde(default)]
    approval: Option<RawApproval>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default)]
    name: String,
    #[serde(default)]
    continue_on_failure: bool,
    exec: Option<RawExec>,
    http: Option<RawHttp>,
    systemd: Option<RawSystemd>,
    notify: Option<RawNotify>,
    wait: Option<String>,
    ticket: Option<RawTicket>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTicket {
    #[serde(default)]
    headers: BTreeMap<String, String>,
    timeout: Option<String>,
    id_from: Option<String>,
    hmac_secret_file: Option<String>,
    open: RawTicketRequest,
    update: Option<RawTicketRequest>,
    close: Option<RawTicketRequest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTicketRequest {
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExec {
    argv: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    timeout: Option<String>,
    hmac_secret_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystemd {
    unit: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    user: bool,
    timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    receiver: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawVerify {
    expr: Option<String>,
    timeout: Option<String>,
    interval: Option<String>,
    hold: Option<String>,
    #[serde(default)]
    disabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalate {
    receiver: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGuards {
    require_firing: Option<bool>,
    lock_lease: Option<String>,
    cooldown: Option<String>,
    rate_limit: Option<RawRate>,
    max_concurrent: Option<u64>,
    queue_timeout: Option<String>,
    blast_radius: Option<RawBlast>,
    circuit_breaker: Option<RawBreaker>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    max: u64,
    window: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlast {
    #[serde(default)]
    max_targets: u64,
    #[serde(default)]
    max_fraction: f64,
    fleet: Option<String>,
    window: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    failures: u64,
}

// ------------------------------------------------------------------ loading

/// A set of runbooks by name.
#[derive(Debug, Clone, Default)]
pub struct Runbooks {
    pub by_name: BTreeMap<String, Runbook>,
}

impl Runbooks {
    /// Loads every file the globs match (relative globs are taken as they
    /// are: `Config::load` has resolved them). Errors are all collected.
    pub fn load(globs: &[String]) -> Result<Runbooks, Vec<String>> {
        let mut files = Vec::new();
        let mut errs = Vec::new();
        for g in globs {
            match glob::glob(g) {
                Ok(paths) => {
                    let mut found: Vec<_> = paths.filter_map(Result::ok).collect();
                    found.sort();
                    files.extend(found);
                }
                Err(e) => errs.push(format!("invalid runbook_files glob {g:?}: {e}")),
            }
        }
        let mut out = Runbooks::default();
        for f in files {
            match load_file(&f) {
                Ok(rbs) => {
                    for rb in rbs {
                        if let Some(prev) = out.by_name.get(&rb.name) {
                            errs.push(format!("{}: runbook {:?} is already defined at {}", rb.source, rb.name, prev.source));
                        } else {
                            out.by_name.insert(rb.name.clone(), rb);
                        }
                    }
                }
                Err(e) => errs.extend(e),
            }
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            Err(errs)
        }
    }

    pub fn get(&self, name: &str) -> Option<&Runbook> {
        self.by_name.get(name)
    }
}

/// Reads and validates one runbook file.
pub fn load_file(path: &Path) -> Result<Vec<Runbook>, Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
    parse(&text, &path.display().to_string())
}

/// Parses and validates runbook-file text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Vec<Runbook>, Vec<String>> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let raw: Option<RawFile> = serde_saphyr::from_str(text).map_err(|e| {
        let (line, col) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        let msg = e.without_snippet().to_string();
        vec![format!("{file}:{line}:{col}: {}", msg.lines().next().unwrap_or("").trim())]
    })?;
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for s in raw.map(|r| r.runbooks).unwrap_or_default() {
        let (line, col) = (s.referenced.line(), s.referenced.column());
        let name = s.value.name.clone();
        match validate(s.value, &format!("{file}:{line}")) {
            Ok(rb) => out.push(rb),
            Err(m) => errs.push(format!("{file}:{line}:{col}: runbook {name:?}: {m}")),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

fn dur(v: &Option<String>, what: &str, default: i64) -> Result<i64, String> {
    match v {
        None => Ok(default),
        Some(s) => parse_duration(s).map_err(|e| format!("{what}: {e}")),
    }
}

fn positive(v: &Option<String>, what: &str, default: i64) -> Result<i64, String> {
    let d = dur(v, what, default)?;
    if d <= 0 {
        return Err(format!("{what} must be greater than 0"));
    }
    Ok(d)
}

fn validate(r: RawRunbook, source: &str) -> Result<Runbook, String> {
    if r.name.is_empty() {
        return Err("missing name".into());
    }
    if !r.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err("name may only hold letters, digits, '-', '_' and '.'".into());
    }
    if r.target.trim().is_empty() {
        return Err("missing target: every action needs an explicit target (a template over the alert's labels)".into());
    }
    check_template("target", &r.target)?;
    let requires = match r.requires {
        Some(v) => v,
        None => referenced_labels(&r.target),
    };
    // Render with only the required labels set: what is left is what an
    // alert that passes the `requires` check can produce at the least.
    let probe: BTreeMap<String, String> = requires.iter().map(|l| (l.clone(), "x".to_string())).collect();
    let rendered = crate::render::render("target", &r.target, &probe, "").map_err(|e| format!("target: {e}"))?;
    if rendered.trim().is_empty() {
        return Err(format!(
            "target {:?} can render empty: list the labels it needs under `requires` (now {requires:?})",
            r.target
        ));
    }
    if let Some(why) = crate::render::names_everything(&rendered) {
        return Err(format!("target {:?} {why}", r.target));
    }
    if r.steps.is_empty() {
        return Err("no steps".into());
    }
    let main_steps = steps(r.steps, "steps")?;
    let rollback = steps(r.rollback, "rollback")?;
    let v = r.verify.unwrap_or_default();
    if let Some(e) = &v.expr {
        check_template("verify.expr", e)?;
    }
    let verify = Verify {
        expr: v.expr,
        timeout: positive(&v.timeout, "verify.timeout", 120_000)?,
        interval: positive(&v.interval, "verify.interval", 5_000)?,
        hold: dur(&v.hold, "verify.hold", 0)?,
        enabled: !v.disabled,
    };
    let g = r.guards;
    let rate_limit = match g.rate_limit {
        Some(rl) => {
            if rl.max == 0 {
                return Err("guards.rate_limit.max must be at least 1".into());
            }
            Some((rl.max, positive(&Some(rl.window), "guards.rate_limit.window", 0)?))
        }
        None => None,
    };
    let blast_radius = match g.blast_radius {
        Some(b) => {
            if b.max_targets == 0 && b.max_fraction <= 0.0 {
                return Err("guards.blast_radius needs max_targets or max_fraction".into());
            }
            if !(0.0..=1.0).contains(&b.max_fraction) {
                return Err("guards.blast_radius.max_fraction must be between 0 and 1".into());
            }
            if b.max_fraction > 0.0 && b.fleet.is_none() {
                return Err("guards.blast_radius.max_fraction needs fleet (a PromQL expression counting the fleet)".into());
            }
            Some(BlastRadius {
                max_targets: b.max_targets,
                max_fraction: b.max_fraction,
                fleet: b.fleet,
                window: positive(&Some(b.window), "guards.blast_radius.window", 0)?,
            })
        }
        None => None,
    };
    let guards = Guards {
        require_firing: g.require_firing.unwrap_or(true),
        lock_lease: positive(&g.lock_lease, "guards.lock_lease", 600_000)?,
        cooldown: dur(&g.cooldown, "guards.cooldown", 0)?,
        rate_limit,
        max_concurrent: g.max_concurrent.unwrap_or(1).max(1),
        queue_timeout: dur(&g.queue_timeout, "guards.queue_timeout", 600_000)?,
        blast_radius,
        circuit_breaker: g.circuit_breaker.map_or(3, |b| b.failures),
    };
    let approval_timeout = positive(&r.approval.and_then(|a| a.timeout), "approval.timeout", 15 * 60_000)?;
    Ok(Runbook {
        name: r.name,
        description: r.description,
        runbook_url: r.runbook_url,
        tier: r.tier,
        dry_run: r.dry_run,
        target: r.target,
        requires,
        steps: main_steps,
        rollback,
        verify,
        escalate: r.escalate.map(|e| e.receiver),
        guards,
        approval_timeout,
        source: source.to_string(),
    })
}

fn steps(v: Vec<RawStep>, what: &str) -> Result<Vec<Step>, String> {
    let mut out: Vec<Step> = Vec::new();
    for (i, s) in v.into_iter().enumerate() {
        let at = format!("{what}[{i}]");
        let kinds = [s.exec.is_some(), s.http.is_some(), s.systemd.is_some(), s.notify.is_some(), s.wait.is_some(), s.ticket.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(format!("{at}: a step needs exactly one of exec, http, systemd, notify, wait, ticket"));
        }
        let action = if let Some(tk) = s.ticket {
            let req = |r: RawTicketRequest, what: &str, default_method: &str| -> Result<TicketRequest, String> {
                let method = r.method.unwrap_or_else(|| default_method.into()).to_ascii_uppercase();
                if method.is_empty() || !method.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(format!("{at}.ticket.{what}.method: invalid method {method:?}"));
                }
                check_template(&format!("{at}.ticket.{what}.url"), &r.url)?;
                for (k, v) in &r.headers {
                    check_template(&format!("{at}.ticket.{what}.headers.{k}"), v)?;
                }
                if let Some(b) = &r.body {
                    check_template(&format!("{at}.ticket.{what}.body"), b)?;
                }
                Ok(TicketRequest { method, url: r.url, headers: r.headers, body: r.body })
            };
            for (k, v) in &tk.headers {
                check_template(&format!("{at}.ticket.headers.{k}"), v)?;
            }
            let id_from = tk.id_from.unwrap_or_else(|| "/id".into());
            if !id_from.starts_with('/') {
                return Err(format!("{at}.ticket.id_from: {id_from:?} is not a JSON pointer (it starts with /)"));
            }
            Action::Ticket(Box::new(Ticket {
                open: req(tk.open, "open", "POST")?,
                update: tk.update.map(|r| req(r, "update", "PATCH")).transpose()?,
                close: tk.close.map(|r| req(r, "close", "POST")).transpose()?,
                headers: tk.headers,
                id_from,
                timeout: positive(&tk.timeout, &format!("{at}.ticket.timeout"), 10_000)?,
                hmac_secret_file: tk.hmac_secret_file,
            }))
        } else if let Some(e) = s.exec {
            if e.argv.is_empty() || e.argv[0].trim().is_empty() {
                return Err(format!("{at}.exec.argv: missing program"));
            }
            for (j, a) in e.argv.iter().enumerate() {
                check_template(&format!("{at}.exec.argv[{j}]"), a)?;
            }
            for (k, v) in &e.env {
                if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("{at}.exec.env: invalid variable name {k:?}"));
                }
                check_template(&format!("{at}.exec.env.{k}"), v)?;
            }
            Action::Exec { argv: e.argv, env: e.env, timeout: positive(&e.timeout, &format!("{at}.exec.timeout"), 60_000)? }
        } else if let Some(h) = s.http {
            let method = h.method.unwrap_or_else(|| "POST".into()).to_ascii_uppercase();
            if method.is_empty() || !method.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(format!("{at}.http.method: invalid method {method:?}"));
            }
            check_template(&format!("{at}.http.url"), &h.url)?;
            if !h.url.contains("{{") {
                url::Url::parse(&h.url).map_err(|e| format!("{at}.http.url: {e}"))?;
            }
            for (k, v) in &h.headers {
                check_template(&format!("{at}.http.headers.{k}"), v)?;
            }
            if let Some(b) = &h.body {
                check_template(&format!("{at}.http.body"), b)?;
            }
            Action::Http {
                method,
                url: h.url,
                headers: h.headers,
                body: h.body,
                timeout: positive(&h.timeout, &format!("{at}.http.timeout"), 10_000)?,
                hmac_secret_file: h.hmac_secret_file,
            }
        } else if let Some(sd) = s.systemd {
            let action = sd.action.unwrap_or_else(|| "restart".into());
            if !["restart", "start", "stop", "reload", "try-restart", "reload-or-restart"].contains(&action.as_str()) {
                return Err(format!("{at}.systemd.action: {action:?} is not one of restart, start, stop, reload, try-restart, reload-or-restart"));
            }
            check_template(&format!("{at}.systemd.unit"), &sd.unit)?;
            Action::Systemd { unit: sd.unit, action, user: sd.user, timeout: positive(&sd.timeout, &format!("{at}.systemd.timeout"), 90_000)? }
        } else if let Some(n) = s.notify {
            if n.receiver.is_empty() {
                return Err(format!("{at}.notify.receiver: missing receiver"));
            }
            Action::Notify { receiver: n.receiver }
        } else {
            let d = positive(&s.wait, &format!("{at}.wait"), 0)?;
            Action::Wait { duration: d }
        };
        let name = if s.name.is_empty() { format!("{}-{}", action.kind(), i + 1) } else { s.name };
        if out.iter().any(|o| o.name == name) {
            return Err(format!("{at}: step name {name:?} is used twice"));
        }
        out.push(Step { name, action, continue_on_failure: s.continue_on_failure });
    }
    Ok(out)
}

fn check_template(what: &str, text: &str) -> Result<(), String> {
    bongsu_template::check_rule_template(what, &format!("{}{text}", crate::render::PRELUDE_CHECK))
        .map_err(|e| format!("{what}: {e}"))
}

/// Label names a template reads as `$labels.NAME` or `.Labels.NAME`.
pub fn referenced_labels(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for pat in ["$labels.", ".Labels."] {
        let mut rest = text;
        while let Some(i) = rest.find(pat) {
            rest = &rest[i + pat.len()..];
            let n: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !n.is_empty() && !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
runbooks:
  - name: restart-web
    description: restart it
    target: '{{ $labels.instance }}'
    steps:
      - name: restart
        exec: {argv: [systemctl, restart, 'web@{{ $labels.instance }}'], timeout: 30s}
      - wait: 5s
      - systemd: {unit: web.service}
      - http: {url: 'http://127.0.0.1:1/scale?svc={{ $labels.job }}', body: '{"n": 2}'}
        continue_on_failure: true
      - notify: {receiver: oncall}
    rollback:
      - exec: {argv: [/bin/true]}
    verify: {timeout: 1m, interval: 2s}
    escalate: {receiver: oncall}
    guards: {cooldown: 10m, rate_limit: {max: 3, window: 1h}, blast_radius: {max_targets: 2, window: 1h}}
"#;

    #[test]
    fn parses_a_full_runbook() {
        let rbs = parse(GOOD, "f.yml").unwrap();
        let rb = &rbs[0];
        assert_eq!(rb.name, "restart-web");
        assert_eq!(rb.requires, ["instance"]);
        assert_eq!(rb.steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["restart", "wait-2", "systemd-3", "http-4", "notify-5"]);
        assert!(rb.steps[3].continue_on_failure);
        assert_eq!(rb.guards.rate_limit, Some((3, 3_600_000)));
        assert_eq!(rb.guards.cooldown, 600_000);
        assert_eq!(rb.verify.timeout, 60_000);
        assert_eq!(rb.escalate.as_deref(), Some("oncall"));
        assert_eq!(rb.source, "f.yml:3");
        assert!(matches!(&rb.steps[2].action, Action::Systemd { action, .. } if action == "restart"));
    }

    fn err(text: &str) -> String {
        parse(text, "f.yml").expect_err("must be refused").join("\n")
    }

    #[test]
    fn refuses_with_positions() {
        let e = err("runbooks:\n  - name: a\n    target: x\n    stepz: []\n");
        assert!(e.starts_with("f.yml:4:5: unknown field `stepz`"), "{e}");
        let e = err("runbooks:\n  - name: a\n    target: x\n    steps: [{wait: 1s, exec: {argv: [a]}}]\n");
        assert_eq!(e, "f.yml:2:5: runbook \"a\": steps[0]: a step needs exactly one of exec, http, systemd, notify, wait, ticket");
        let e = err("runbooks:\n  - name: a\n    target: x\n    steps: [{wait: soon}]\n");
        assert!(e.contains("steps[0].wait:"), "{e}");
        let e = err("runbooks:\n  - name: a\n    target: '{{ $labels.instance '\n    steps: [{wait: 1s}]\n");
        assert!(e.contains("target: template:"), "{e}");
    }

    #[test]
    fn refuses_targets_that_can_be_empty_or_everything() {
        for (target, why) in [
            ("''", "missing target"),
            ("'{{ if false }}x{{ end }}'", "can render empty"),
            ("'{{ $labels.instance }}'\n    requires: []", "can render empty"),
            ("'*'", "names everything"),
            ("'all'", "names everything"),
            ("'{{ $labels.job }}-*'", "names everything"),
        ] {
            let e = err(&format!("runbooks:\n  - name: a\n    target: {target}\n    steps: [{{wait: 1s}}]\n"));
            assert!(e.contains(why), "{target}: {e}");
        }
        // A literal target and an explicit `requires` pass.
        parse("runbooks:\n  - name: a\n    target: web-1\n    steps: [{wait: 1s}]\n", "f").unwrap();
        let rb = parse("runbooks:\n  - name: a\n    target: '{{ .Labels.host }}:{{ $labels.port }}'\n    steps: [{wait: 1s}]\n", "f").unwrap();
        assert_eq!(rb[0].requires, ["port", "host"]);
    }

    #[test]
    fn duplicate_names_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let one = "runbooks:\n  - name: a\n    target: t\n    steps: [{wait: 1s}]\n";
        std::fs::write(dir.path().join("1.yml"), one).unwrap();
        std::fs::write(dir.path().join("2.yml"), one).unwrap();
        let e = Runbooks::load(&[format!("{}/*.yml", dir.path().display())]).err().unwrap();
        assert!(e[0].contains("runbook \"a\" is already defined at"), "{e:?}");
    }
}
