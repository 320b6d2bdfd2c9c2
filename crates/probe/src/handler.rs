//! One `/probe` request, as blackbox_exporter's `prober.Handler` answers it.

use std::time::{Duration, Instant};

use crate::config::{Module, ProbeConfig};
use crate::{ProbeLog, Registry};

/// blackbox_exporter's `--timeout-offset` default: the probe ends this much
/// before Prometheus gives up on the scrape.
pub const DEFAULT_TIMEOUT_OFFSET: f64 = 0.5;

/// The query parameters and header one probe needs.
#[derive(Debug, Default, Clone)]
pub struct ProbeRequest {
    pub module: Option<String>,
    pub target: Option<String>,
    /// `hostname=`: the Host header (and TLS name) of an http probe.
    pub hostname: Option<String>,
    pub debug: bool,
    /// `X-Prometheus-Scrape-Timeout-Seconds`.
    pub scrape_timeout: Option<String>,
    pub timeout_offset: f64,
}

impl ProbeRequest {
    /// Reads `module`, `target`, `hostname` and `debug` from a query string.
    pub fn from_query(query: &str) -> ProbeRequest {
        let mut r = ProbeRequest { timeout_offset: DEFAULT_TIMEOUT_OFFSET, ..Default::default() };
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            // Go's Values.Get returns the first value.
            match k.as_ref() {
                "module" if r.module.is_none() => r.module = Some(v.into_owned()),
                "target" if r.target.is_none() => r.target = Some(v.into_owned()),
                "hostname" if r.hostname.is_none() => r.hostname = Some(v.into_owned()),
                "debug" => r.debug = r.debug || v == "true",
                _ => {}
            }
        }
        r
    }
}

/// What to send back.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Whether the probe ran and succeeded (for the caller's own counters).
    pub success: Option<bool>,
}

const TEXT: &str = "text/plain; charset=utf-8";
pub const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

fn error(status: u16, msg: String) -> ProbeResponse {
    ProbeResponse { status, content_type: TEXT, body: format!("{msg}\n"), success: None }
}

/// blackbox_exporter's `getTimeout`: the module's timeout, capped by the
/// scrape timeout (120 s without the header) minus the offset.
pub fn probe_timeout(header: Option<&str>, module: &Module, offset: f64) -> Result<f64, String> {
    let mut t = 0.0;
    if let Some(v) = header.filter(|v| !v.is_empty()) {
        t = bongsu_model::parse_go_float(v.trim()).ok_or_else(|| format!("strconv.ParseFloat: parsing {v:?}: invalid syntax"))?;
    }
    if t == 0.0 {
        t = 120.0;
    }
    let max = t - offset;
    let m = module.timeout.0.as_secs_f64();
    Ok(if (m < max && m > 0.0) || max < 0.0 { m } else { max })
}

/// Runs one probe and renders the answer.
pub async fn probe(cfg: &ProbeConfig, req: &ProbeRequest) -> ProbeResponse {
    let module_name = req.module.clone().filter(|m| !m.is_empty()).unwrap_or_else(|| "http_2xx".into());
    let Some(module) = cfg.modules.get(&module_name) else {
        tracing::debug!(module = %module_name, "Unknown module");
        return error(400, format!("Unknown module {module_name:?}"));
    };
    let timeout = match probe_timeout(req.scrape_timeout.as_deref(), module, req.timeout_offset) {
        Ok(t) => t,
        Err(e) => return error(500, format!("Failed to parse timeout from Prometheus header: {e}")),
    };
    let Some(target) = req.target.clone().filter(|t| !t.is_empty()) else {
        return error(400, "Target parameter is missing".into());
    };
    let mut module = module.clone();
    if let Some(h) = req.hostname.as_deref().filter(|h| !h.is_empty()) {
        if module.prober == "http" {
            if let Some((_, v)) = module.http.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("host")) {
                if v != h {
                    return error(
                        400,
                        format!("host header defined both in module configuration ({v}) and with URL-parameter 'hostname' ({h})"),
                    );
                }
            }
            module.http.headers.retain(|k, _| !k.eq_ignore_ascii_case("host"));
            module.http.headers.insert("Host".into(), h.to_string());
        }
    }
    let mut log = ProbeLog::new(&module_name, &target);
    log.info("Beginning probe", &[("probe", &module.prober), ("timeout_seconds", &timeout)]);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(timeout.max(0.0));
    let mut reg = Registry::new();
    reg.gauge("probe_success", "Displays whether or not the probe was a success");
    reg.gauge("probe_duration_seconds", "Returns how long the probe took to complete in seconds");
    let run = async {
        match module.prober.as_str() {
            "http" => crate::http::probe_http(&target, &module, deadline, &mut reg, &mut log).await,
            "tcp" => crate::tcp::probe_tcp(&target, &module, deadline, &mut reg, &mut log).await,
            "dns" => crate::dns::probe_dns(&target, &module, deadline, &mut reg, &mut log).await,
            "icmp" => crate::icmp::probe_icmp(&target, &module, deadline, &mut reg, &mut log).await,
            "grpc" => crate::grpc::probe_grpc(&target, &module, deadline, &mut reg, &mut log).await,
            _ => false,
        }
    };
    if !matches!(module.prober.as_str(), "http" | "tcp" | "dns" | "icmp" | "grpc") {
        return error(400, format!("Unknown prober {:?}", module.prober));
    }
    // Every prober bounds its own steps by the deadline; this is a backstop.
    let success = tokio::time::timeout_at((deadline + Duration::from_secs(1)).into(), run).await.unwrap_or(false);
    let duration = start.elapsed().as_secs_f64();
    reg.set("probe_duration_seconds", duration);
    if success {
        reg.set("probe_success", 1.0);
        log.info("Probe succeeded", &[("duration_seconds", &duration)]);
    } else {
        log.error("Probe failed", &[("duration_seconds", &duration)]);
    }
    if req.debug {
        let yaml = serde_saphyr::to_string(&module).unwrap_or_else(|e| format!("Error marshalling config: {e}\n"));
        let body = format!(
            "Logs for the probe:\n{}\n\n\nMetrics that would have been returned:\n{}\n\n\nModule configuration:\n{}",
            log.text(),
            reg.render(),
            yaml
        );
        return ProbeResponse { status: 200, content_type: TEXT, body, success: Some(success) };
    }
    ProbeResponse { status: 200, content_type: EXPOSITION, body: reg.render(), success: Some(success) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GoDuration;

    fn module(timeout: u64) -> Module {
        Module { prober: "http".into(), timeout: GoDuration(Duration::from_secs(timeout)), ..Default::default() }
    }

    #[test]
    fn timeout_like_blackbox_exporter() {
        assert_eq!(probe_timeout(None, &module(0), 0.5), Ok(119.5));
        assert_eq!(probe_timeout(Some("10"), &module(0), 0.5), Ok(9.5));
        assert_eq!(probe_timeout(Some("10"), &module(5), 0.5), Ok(5.0));
        assert_eq!(probe_timeout(Some("3"), &module(5), 0.5), Ok(2.5));
        assert_eq!(probe_timeout(Some("0.2"), &module(5), 0.5), Ok(5.0));
        assert!(probe_timeout(Some("x"), &module(5), 0.5).is_err());
    }

    #[tokio::test]
    async fn request_errors() {
        let cfg = ProbeConfig::embedded();
        let r = probe(&cfg, &ProbeRequest::from_query("module=nope&target=x")).await;
        assert_eq!((r.status, r.body.as_str()), (400, "Unknown module \"nope\"\n"));
        let r = probe(&cfg, &ProbeRequest::from_query("module=http_2xx")).await;
        assert_eq!((r.status, r.body.as_str()), (400, "Target parameter is missing\n"));
    }

    #[tokio::test]
    async fn refused_tcp_has_the_series() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let cfg = ProbeConfig::embedded();
        let r = probe(&cfg, &ProbeRequest::from_query(&format!("module=tcp_connect&target=127.0.0.1:{port}"))).await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains("probe_success 0\n"), "{}", r.body);
        assert!(r.body.contains("probe_ip_protocol 4\n"), "{}", r.body);
        assert!(r.body.contains("probe_failed_due_to_regex 0\n"), "{}", r.body);
        let r = probe(&cfg, &ProbeRequest::from_query(&format!("module=tcp_connect&target=127.0.0.1:{port}&debug=true"))).await;
        assert!(r.body.starts_with("Logs for the probe:\nts="), "{}", r.body);
        assert!(r.body.contains("msg=\"Error dialing TCP\""), "{}", r.body);
        assert!(r.body.contains("\n\n\nMetrics that would have been returned:\n# HELP"), "{}", r.body);
        assert!(r.body.contains("\n\n\nModule configuration:\nprober: tcp\n"), "{}", r.body);
    }
}
