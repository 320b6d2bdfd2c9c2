//! The responder's command line: `bongsu test runbooks`, `bongsu respond
//! history|approve|reject|cancel|arm|kill-switch|replay`, `bongsu incidents`
//! and `bongsu incident report`. Everything but the tests talks to a
//! running server over its HTTP API.

use crate::cli::{IncidentArgs, IncidentCmd, IncidentsArgs, OutputFormat, RespondArgs, RespondCmd, ServerArgs};
use anyhow::{bail, Context};
use bongsu_model::timefmt::rfc3339_ms;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// `bongsu test runbooks FILE…`, reported like `promtool test rules`.
pub fn test_runbooks(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for f in files {
        println!("Unit Testing:  {}", f.display());
        match bongsu_respond::sim::run_test_file(f) {
            Err(e) => {
                failed = true;
                eprintln!("  FAILED:\n{e}");
            }
            Ok(reports) => {
                let bad: Vec<_> = reports.iter().filter(|r| !r.failures.is_empty()).collect();
                if bad.is_empty() {
                    println!("  SUCCESS ({} tests)", reports.len());
                } else {
                    failed = true;
                    eprintln!("  FAILED:");
                    for r in bad {
                        eprintln!("    test {:?}:", r.name);
                        for m in &r.failures {
                            eprintln!("      {m}");
                        }
                        eprintln!("      executions:");
                        for x in &r.executions {
                            let guard = x.guards.iter().find(|g| !g.allowed).map(|g| format!(" blocked by {}", g.guard)).unwrap_or_default();
                            eprintln!("        - {} on {}: {}{guard}", x.runbook, x.target, x.state);
                        }
                    }
                }
            }
        }
        println!();
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

struct Client {
    http: reqwest::Client,
    base: String,
    args: ServerArgs,
}

impl Client {
    fn new(args: &ServerArgs) -> anyhow::Result<Client> {
        Ok(Client { http: crate::query::http_client()?, base: args.server.trim_end_matches('/').to_string(), args: args.clone() })
    }

    async fn call(&self, method: reqwest::Method, path: &str, query: &[(&str, String)], body: Option<Value>) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).query(query);
        if let Some(t) = &self.args.token {
            req = req.bearer_auth(t);
        } else if let Some(u) = &self.args.user {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            req = req.basic_auth(user, Some(pass));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.with_context(|| format!("cannot reach {}", self.base))?;
        let status = resp.status();
        let v: Value = resp.json().await.context("the server did not answer JSON")?;
        if !status.is_success() {
            let msg = v["error"].as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            bail!("{status}: {msg}");
        }
        Ok(if v.get("status").is_some() && v.get("data").is_some() { v["data"].clone() } else { v })
    }
}

fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(f)
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn time(v: &Value) -> String {
    v.as_i64().map(rfc3339_ms).unwrap_or_default()
}

pub fn respond(a: RespondArgs) -> anyhow::Result<()> {
    let c = Client::new(&a.server)?;
    let json = a.server.format == OutputFormat::Json;
    block_on(async move {
        use reqwest::Method;
        let post = |path: String| {
            let c = &c;
            async move { c.call(Method::POST, &path, &[], None).await }
        };
        match a.cmd {
            RespondCmd::History { runbook, state, id, limit } => {
                if let Some(id) = id {
                    let x = c.call(Method::GET, &format!("/api/bongsu/v1/respond/executions/{id}"), &[], None).await?;
                    if json {
                        return print_json(&x);
                    }
                    match bongsu_respond::api::parse_execution(&x) {
                        Some(x) => println!("{}", x.summary()),
                        None => print_json(&x)?,
                    }
                    return Ok(());
                }
                let mut q = vec![("limit", limit.to_string())];
                if let Some(r) = runbook {
                    q.push(("runbook", r));
                }
                if let Some(s) = state {
                    q.push(("state", s));
                }
                let v = c.call(Method::GET, "/api/bongsu/v1/respond/executions", &q, None).await?;
                if json {
                    return print_json(&v);
                }
                println!("{:<20}  {:<24}  {:<20}  {:<24}  {:<17}  WHY", "ID", "CREATED", "RUNBOOK", "TARGET", "STATE");
                for x in v.as_array().cloned().unwrap_or_default() {
                    let why = x["error"].as_str().unwrap_or("");
                    println!(
                        "{:<20}  {:<24}  {:<20}  {:<24}  {:<17}  {why}",
                        x["id"].as_str().unwrap_or(""),
                        time(&x["created"]),
                        x["runbook"].as_str().unwrap_or(""),
                        x["target"].as_str().unwrap_or(""),
                        x["state"].as_str().unwrap_or("")
                    );
                }
                Ok(())
            }
            RespondCmd::Approve { id } => done(json, post(format!("/api/bongsu/v1/respond/executions/{id}/approve")).await?, &format!("approved {id}")),
            RespondCmd::Reject { id } => done(json, post(format!("/api/bongsu/v1/respond/executions/{id}/reject")).await?, &format!("rejected {id}")),
            RespondCmd::Cancel { id } => done(json, post(format!("/api/bongsu/v1/respond/executions/{id}/cancel")).await?, &format!("cancelling {id} before its next step")),
            RespondCmd::Arm { runbook } => {
                let v = post(format!("/api/bongsu/v1/respond/runbooks/{runbook}/arm")).await?;
                let msg = if v["was_open"] == true { format!("{runbook}: circuit breaker closed, the runbook acts again") } else { format!("{runbook}: the breaker was not open") };
                done(json, v, &msg)
            }
            RespondCmd::KillSwitch { state } => {
                let on = state == "on";
                let v = c.call(Method::POST, "/api/bongsu/v1/respond/kill-switch", &[], Some(serde_json::json!({"enabled": on}))).await?;
                done(json, v, if on { "kill switch ON: no runbook acts" } else { "kill switch off: runbooks act again" })
            }
            RespondCmd::Replay { runbook_file, runbook, since, matchers } => replay(&c, json, runbook_file, runbook, &since, &matchers).await,
        }
    })
}

fn done(json: bool, v: Value, msg: &str) -> anyhow::Result<()> {
    if json {
        print_json(&v)
    } else {
        println!("{msg}");
        Ok(())
    }
}

/// Queries the server at a past time, from inside the replay's simulated
/// runtime (on a thread of its own).
struct HttpQuerier {
    base: String,
}

impl bongsu_respond::Querier for HttpQuerier {
    fn query(&self, expr: &str, ts: i64) -> Result<Vec<(BTreeMap<String, String>, f64)>, String> {
        let (base, expr) = (self.base.clone(), expr.to_string());
        std::thread::scope(|s| {
            s.spawn(move || -> Result<bongsu_respond::engine::QueryResult, String> {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
                rt.block_on(async move {
                    let http = crate::query::http_client().map_err(|e| e.to_string())?;
                    let v: Value = http
                        .get(format!("{base}/api/v1/query"))
                        .query(&[("query", expr.as_str()), ("time", &format!("{:.3}", ts as f64 / 1000.0))])
                        .send()
                        .await
                        .map_err(|e| e.to_string())?
                        .json()
                        .await
                        .map_err(|e| e.to_string())?;
                    if v["status"] != "success" {
                        return Err(v["error"].as_str().unwrap_or("query failed").to_string());
                    }
                    let d = &v["data"];
                    Ok(match d["resultType"].as_str() {
                        Some("scalar") => vec![(BTreeMap::new(), d["result"][1].as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN))],
                        _ => d["result"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                            .iter()
                            .map(|s| {
                                let labels = s["metric"].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect()).unwrap_or_default();
                                (labels, s["value"][1].as_str().and_then(|x| x.parse().ok()).unwrap_or(f64::NAN))
                            })
                            .collect(),
                    })
                })
            })
            .join()
            .map_err(|_| "query thread panicked".to_string())?
        })
    }
}

async fn replay(c: &Client, json: bool, file: PathBuf, runbook: Option<String>, since: &str, matchers: &[String]) -> anyhow::Result<()> {
    let rbs = bongsu_respond::runbook::load_file(&file).map_err(|e| anyhow::anyhow!("{}", e.join("\n")))?;
    let name = match runbook {
        Some(n) => n,
        None if rbs.len() == 1 => rbs[0].name.clone(),
        None => bail!("{} has {} runbooks: say which with --runbook", file.display(), rbs.len()),
    };
    let runbooks = bongsu_respond::Runbooks { by_name: rbs.into_iter().map(|r| (r.name.clone(), r)).collect() };
    let since_s = match bongsu_model::duration::parse_duration(since) {
        Ok(ms) => bongsu_model::now_ms() as f64 / 1000.0 - ms as f64 / 1000.0,
        Err(_) => crate::query::parse_time(since)?,
    };
    let mut m = BTreeMap::new();
    for s in matchers {
        let (k, v) = s.split_once('=').with_context(|| format!("--match {s:?}: expected name=value"))?;
        m.insert(k.to_string(), v.trim_matches('"').to_string());
    }
    let hist = c.call(reqwest::Method::GET, "/api/bongsu/v1/alerts/history", &[("since", format!("{since_s:.3}")), ("limit", "100000".into())], None).await?;
    let events: Vec<bongsu_respond::sim::HistoryEvent> = serde_json::from_value(hist).context("alert history")?;
    let n_events = events.len();
    let q = std::sync::Arc::new(HttpQuerier { base: c.base.clone() });
    let rep = std::thread::scope(|s| s.spawn(|| bongsu_respond::sim::replay(&runbooks, &name, &events, &m, q)).join())
        .map_err(|_| anyhow::anyhow!("replay panicked"))?
        .map_err(|e| anyhow::anyhow!(e))?;
    if json {
        return print_json(&serde_json::json!({
            "runbook": name, "alert_events": n_events, "executions": rep.executions,
            "touched": rep.touched, "guard_blocks": rep.guard_blocks,
        }));
    }
    println!("Replay of runbook {name} over {n_events} alert transitions since {}:", rfc3339_ms((since_s * 1000.0) as i64));
    println!("  {} executions: {} would have acted, {} blocked", rep.executions.len(), rep.touched.values().sum::<u64>(), rep.executions.iter().filter(|x| x.state == "blocked").count());
    println!("  targets it would have touched:");
    for (t, n) in &rep.touched {
        println!("    {t}: {n}×");
    }
    println!("  guards that would have tripped:");
    if rep.guard_blocks.is_empty() {
        println!("    none");
    }
    for (g, n) in &rep.guard_blocks {
        println!("    {g}: {n}×");
    }
    for x in &rep.executions {
        let why = x.guards.iter().find(|g| !g.allowed).map(|g| format!(" — {}: {}", g.guard, g.detail)).unwrap_or_default();
        println!("  {}  {:<24} {}{why}", rfc3339_ms(x.created), x.target, if x.state == "blocked" { "blocked" } else { "would act" });
    }
    Ok(())
}

pub fn incidents(a: IncidentsArgs) -> anyhow::Result<()> {
    let c = Client::new(&a.server)?;
    let json = a.server.format == OutputFormat::Json;
    block_on(async move {
        use reqwest::Method;
        if let Some(id) = &a.id {
            if a.ack {
                let v = c.call(Method::POST, &format!("/api/bongsu/v1/incidents/{id}/ack"), &[], None).await?;
                return done(json, v, &format!("incident {id} acknowledged"));
            }
            let v = c.call(Method::GET, &format!("/api/bongsu/v1/incidents/{id}"), &[], None).await?;
            if json {
                return print_json(&v);
            }
            println!("incident {id}: {} (opened {})", v["state"].as_str().unwrap_or(""), time(&v["opened"]));
            for e in v["timeline"].as_array().cloned().unwrap_or_default() {
                println!("  {}  {:<20}  {}", time(&e["ts"]), e["kind"].as_str().unwrap_or(""), e["detail"]);
            }
            return Ok(());
        }
        let v = c.call(Method::GET, "/api/bongsu/v1/incidents", &[("open", a.open.to_string()), ("limit", a.limit.to_string())], None).await?;
        if json {
            return print_json(&v);
        }
        println!("{:<20}  {:<9}  {:<24}  {:<24}  GROUP", "ID", "STATE", "OPENED", "RESOLVED");
        for i in v.as_array().cloned().unwrap_or_default() {
            println!(
                "{:<20}  {:<9}  {:<24}  {:<24}  {}",
                i["id"].as_str().unwrap_or(""),
                i["state"].as_str().unwrap_or(""),
                time(&i["opened"]),
                time(&i["resolved"]),
                i["detail"]["group_key"].as_str().unwrap_or("")
            );
        }
        Ok(())
    })
}

pub fn incident(a: IncidentArgs) -> anyhow::Result<()> {
    let c = Client::new(&a.server)?;
    block_on(async move {
        match a.cmd {
            IncidentCmd::Report { id, output } => {
                let v = c.call(reqwest::Method::GET, &format!("/api/bongsu/v1/incidents/{id}"), &[], None).await?;
                let md = report_markdown(&id, &v);
                match output {
                    Some(p) => std::fs::write(&p, md).with_context(|| format!("writing {}", p.display()))?,
                    None => print!("{md}"),
                }
                Ok(())
            }
        }
    })
}

/// A post-incident draft: summary, timeline, actions with their output,
/// the queries that fired, and the questions a review should answer.
pub fn report_markdown(id: &str, v: &Value) -> String {
    let mut s = String::new();
    let d = &v["detail"];
    let alerts = d["alerts"].as_array().cloned().unwrap_or_default();
    let name = alerts.first().and_then(|a| a["alertname"].as_str()).unwrap_or("incident");
    s.push_str(&format!("# Post-incident review: {name} ({id})\n\n_Draft written by `bongsu incident report`; edit before sharing._\n\n"));
    s.push_str("## Summary\n\n");
    s.push_str(&format!("- State: **{}**\n- Opened: {}\n", v["state"].as_str().unwrap_or(""), time(&v["opened"])));
    if v["acknowledged"].is_i64() {
        s.push_str(&format!("- Acknowledged: {} (time to acknowledge: {})\n", time(&v["acknowledged"]), dur(&v["opened"], &v["acknowledged"])));
    }
    if v["resolved"].is_i64() {
        s.push_str(&format!("- Resolved: {} (time to resolve: {})\n", time(&v["resolved"]), dur(&v["opened"], &v["resolved"])));
    }
    s.push_str(&format!("- Alert group: `{}`\n", d["group_key"].as_str().unwrap_or("")));
    let execs = v["executions"].as_array().cloned().unwrap_or_default();
    let remediated = execs.iter().any(|x| x["state"] == "remediated");
    s.push_str(&format!("- Automation: {} execution(s){}\n\n", execs.len(), if remediated { ", remediated by automation" } else { "" }));
    s.push_str("## Alerts\n\n");
    for a in &alerts {
        s.push_str(&format!("- `{}`\n", a));
    }
    let mut exprs: Vec<String> = Vec::new();
    for ev in v["timeline"].as_array().cloned().unwrap_or_default() {
        for a in ev["detail"]["alerts"].as_array().cloned().unwrap_or_default() {
            if let Some(e) = a["generatorURL"].as_str().and_then(bongsu_respond::engine::expr_from_generator_url) {
                if !exprs.contains(&e) {
                    exprs.push(e);
                }
            }
        }
    }
    if !exprs.is_empty() {
        s.push_str("\n## The queries that fired\n\n");
        for e in exprs {
            s.push_str(&format!("```promql\n{e}\n```\n"));
        }
    }
    s.push_str("\n## Timeline (UTC)\n\n| time | event | detail |\n|---|---|---|\n");
    for ev in v["timeline"].as_array().cloned().unwrap_or_default() {
        let detail = ev["detail"].to_string().replace('|', "\\|");
        let detail = if detail.len() > 300 { format!("{}…", &detail[..detail.char_indices().take_while(|(i, _)| *i < 300).last().map_or(0, |(i, c)| i + c.len_utf8())]) } else { detail };
        s.push_str(&format!("| {} | {} | `{}` |\n", time(&ev["ts"]), ev["kind"].as_str().unwrap_or(""), detail));
    }
    if !execs.is_empty() {
        s.push_str("\n## Actions\n");
        for x in &execs {
            s.push_str(&format!("\n### {} on {} — {}\n\n", x["runbook"].as_str().unwrap_or(""), x["target"].as_str().unwrap_or(""), x["state"].as_str().unwrap_or("")));
            if let Some(u) = x["runbook_url"].as_str().filter(|u| !u.is_empty()) {
                s.push_str(&format!("Runbook: {u}\n\n"));
            }
            for g in x["guards"].as_array().cloned().unwrap_or_default() {
                s.push_str(&format!("- guard `{}`: {} — {}\n", g["guard"].as_str().unwrap_or(""), if g["allowed"] == true { "allowed" } else { "**blocked**" }, g["detail"].as_str().unwrap_or("")));
            }
            for st in x["steps"].as_array().cloned().unwrap_or_default() {
                s.push_str(&format!(
                    "- {} step `{}` ({}): {} — {}\n",
                    st["phase"].as_str().unwrap_or(""),
                    st["name"].as_str().unwrap_or(""),
                    st["kind"].as_str().unwrap_or(""),
                    if st["ok"] == true { "ok" } else { "**failed**" },
                    st["summary"].as_str().unwrap_or("")
                ));
                if let Some(o) = st["output"].as_str().filter(|o| !o.trim().is_empty()) {
                    s.push_str(&format!("\n  ```\n{}\n  ```\n", o.trim_end()));
                }
            }
            if x["verification"].is_object() {
                let vr = &x["verification"];
                s.push_str(&format!("- verification `{}`: {} ({})\n", vr["expr"].as_str().unwrap_or(""), if vr["ok"] == true { "cleared" } else { "**not cleared**" }, vr["detail"].as_str().unwrap_or("")));
            }
            if x["escalation"].is_object() {
                s.push_str(&format!("- escalated to `{}`\n", x["escalation"]["receiver"].as_str().unwrap_or("")));
            }
        }
    }
    s.push_str("\n## Review\n\n- What was the impact, and who noticed first?\n- Did the automation help, and should it have acted sooner, later, or not at all?\n- What will prevent a recurrence?\n");
    s
}

fn dur(a: &Value, b: &Value) -> String {
    match (a.as_i64(), b.as_i64()) {
        (Some(a), Some(b)) => bongsu_model::duration::format_duration((b - a).max(0)),
        _ => String::new(),
    }
}
