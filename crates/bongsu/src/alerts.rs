//! `bongsu alerts history|notifications`: the built-in Alertmanager's
//! records (alert transitions, delivery attempts) from a running server.

use crate::cli::{AlertsArgs, AlertsCmd, OutputFormat};
use anyhow::{bail, Context};
use serde_json::Value;

pub fn alerts(args: AlertsArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let client = crate::query::http_client()?;
        let base = args.server.trim_end_matches('/');
        let (path, q) = match &args.cmd {
            AlertsCmd::History { alertname, since, limit } => {
                let mut q = vec![("limit", limit.to_string())];
                if let Some(a) = alertname {
                    q.push(("alertname", a.clone()));
                }
                if let Some(s) = since {
                    q.push(("since", format!("{}", crate::query::parse_time(s)?)));
                }
                ("/api/bongsu/v1/alerts/history", q)
            }
            AlertsCmd::Notifications { since, limit } => {
                let mut q = vec![("limit", limit.to_string())];
                if let Some(s) = since {
                    q.push(("since", format!("{}", crate::query::parse_time(s)?)));
                }
                ("/api/bongsu/v1/notifications", q)
            }
        };
        let resp = client.get(format!("{base}{path}")).query(&q).send().await.with_context(|| format!("cannot reach {base}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.context("the server did not answer JSON")?;
        if !status.is_success() {
            bail!("{}: {}", status, body.as_str().unwrap_or(&body.to_string()));
        }
        if args.format == OutputFormat::Json {
            println!("{}", serde_json::to_string_pretty(&body)?);
            return Ok(());
        }
        let rows = body.as_array().cloned().unwrap_or_default();
        let time = |v: &Value| bongsu_model::timefmt::rfc3339_ms(v.as_i64().unwrap_or(0));
        match &args.cmd {
            AlertsCmd::History { .. } => {
                println!("{:<24}  {:<10}  {:<24}  LABELS", "TIME", "EVENT", "ALERTNAME");
                for r in rows {
                    println!("{:<24}  {:<10}  {:<24}  {}", time(&r["ts"]), r["event"].as_str().unwrap_or(""), r["alertname"].as_str().unwrap_or(""), r["labels"]);
                }
            }
            AlertsCmd::Notifications { .. } => {
                println!("{:<24}  {:<16}  {:<11}  {:<8}  {:>6}  ERROR", "TIME", "RECEIVER", "INTEGRATION", "STATUS", "ALERTS");
                for r in rows {
                    let outcome = if r["ok"].as_bool() == Some(true) { "" } else { r["error"].as_str().unwrap_or("failed") };
                    println!(
                        "{:<24}  {:<16}  {:<11}  {:<8}  {:>6}  {}",
                        time(&r["ts"]),
                        r["receiver"].as_str().unwrap_or(""),
                        r["integration"].as_str().unwrap_or(""),
                        r["status"].as_str().unwrap_or(""),
                        r["alerts"],
                        outcome
                    );
                }
            }
        }
        Ok(())
    })
}
