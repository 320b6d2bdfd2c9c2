//! `bongsu query instant|range`: ask a running server (Bongsu or Prometheus)
//! over the HTTP API and print a table or the raw JSON.

use crate::cli::{OutputFormat, QueryArgs, QueryCmd};
use anyhow::{bail, Context};
use serde_json::Value;

/// Parses `now`, Unix seconds (float) or RFC 3339 into Unix seconds.
pub fn parse_time(s: &str) -> anyhow::Result<f64> {
    if s == "now" {
        return Ok(now_secs());
    }
    if let Ok(v) = s.parse::<f64>() {
        return Ok(v);
    }
    let t = humantime::parse_rfc3339_weak(s).with_context(|| format!("cannot parse {s:?} as RFC 3339 or Unix seconds"))?;
    Ok(t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0))
}

fn now_secs() -> f64 {
    bongsu_model::now_ms() as f64 / 1000.0
}

pub fn http_client() -> anyhow::Result<reqwest::Client> {
    // One rustls crypto provider for the whole binary (ring); reqwest is built
    // without its own provider and picks up this process default.
    let _ = rustls::crypto::CryptoProvider::install_default(rustls::crypto::ring::default_provider());
    Ok(reqwest::Client::builder().build()?)
}

pub fn query(args: QueryArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let client = http_client()?;
        let base = args.server.trim_end_matches('/');
        let (url, form): (String, Vec<(&str, String)>) = match &args.cmd {
            QueryCmd::Instant { expr, time } => {
                let mut f = vec![("query", expr.clone())];
                if let Some(t) = time {
                    f.push(("time", format!("{}", parse_time(t)?)));
                }
                (format!("{base}/api/v1/query"), f)
            }
            QueryCmd::Range { expr, start, end, step } => {
                let end = match end { Some(e) => parse_time(e)?, None => now_secs() };
                let start = match start { Some(s) => parse_time(s)?, None => end - 3600.0 };
                let step = match step {
                    Some(s) => match s.parse::<f64>() {
                        Ok(v) => v,
                        Err(_) => bongsu_model::duration::parse_duration(s)? as f64 / 1000.0,
                    },
                    None => ((end - start) / 250.0).max(1.0).round(),
                };
                (
                    format!("{base}/api/v1/query_range"),
                    vec![("query", expr.clone()), ("start", start.to_string()), ("end", end.to_string()), ("step", step.to_string())],
                )
            }
        };
        let resp = client.post(&url).form(&form).send().await.with_context(|| format!("cannot reach {base}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.context("response is not JSON")?;
        if body["status"] != "success" {
            bail!("{} ({}): {}", body["errorType"].as_str().unwrap_or("error"), status, body["error"].as_str().unwrap_or("unknown error"));
        }
        match args.format {
            OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&body["data"])?),
            OutputFormat::Table => print!("{}", render_table(&body["data"])),
        }
        for w in body["warnings"].as_array().into_iter().flatten() {
            eprintln!("warning: {}", w.as_str().unwrap_or_default());
        }
        Ok(())
    })
}

fn metric_string(m: &Value) -> String {
    let Some(obj) = m.as_object() else { return "{}".into() };
    let name = obj.get("__name__").and_then(Value::as_str).unwrap_or("");
    let rest: Vec<String> = obj
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}={}", v))
        .collect();
    format!("{name}{{{}}}", rest.join(", "))
}

/// Renders an API `data` object as aligned text: one row per sample.
pub fn render_table(data: &Value) -> String {
    let mut rows: Vec<[String; 3]> = vec![["SERIES".into(), "TIME".into(), "VALUE".into()]];
    let point = |p: &Value| -> (String, String) {
        (
            p[0].as_f64().map(|t| format!("{t:.3}")).unwrap_or_default(),
            p[1].as_str().unwrap_or_default().to_string(),
        )
    };
    match data["resultType"].as_str() {
        Some("vector") => {
            for s in data["result"].as_array().into_iter().flatten() {
                let (t, v) = point(&s["value"]);
                rows.push([metric_string(&s["metric"]), t, v]);
            }
        }
        Some("matrix") => {
            for s in data["result"].as_array().into_iter().flatten() {
                let m = metric_string(&s["metric"]);
                for p in s["values"].as_array().into_iter().flatten() {
                    let (t, v) = point(p);
                    rows.push([m.clone(), t, v]);
                }
            }
        }
        Some("scalar") | Some("string") => {
            let (t, v) = point(&data["result"]);
            rows.push(["".into(), t, v]);
        }
        _ => {}
    }
    let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r[1].len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!("{:<w0$}  {:<w1$}  {}\n", r[0], r[1], r[2]));
    }
    out
}
