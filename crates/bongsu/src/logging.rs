//! Logs through `tracing`: logfmt by default, JSON with `--log.format=json`.

use crate::cli::LogFormat;
use tracing_subscriber::EnvFilter;

pub fn init(level: &str, format: LogFormat) -> anyhow::Result<()> {
    let level = match level {
        "debug" | "info" | "warn" | "error" => level,
        other => anyhow::bail!("--log.level: {other:?} is not one of debug, info, warn, error"),
    };
    let filter = EnvFilter::try_from_env("BONGSU_LOG").unwrap_or_else(|_| {
        EnvFilter::new(format!("{level},hyper=warn,reqwest=warn,h2=warn,rustls=warn"))
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        // tracing's compact format (key=value fields) is the closest stock logfmt.
        LogFormat::Logfmt => builder.with_ansi(false).compact().init(),
    }
    Ok(())
}
