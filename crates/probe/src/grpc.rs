//! The `grpc` prober (blackbox_exporter's `ProbeGRPC`): one call of the
//! standard health-check service, `grpc.health.v1.Health/Check`, over
//! HTTP/2 (hyper's connection-level client; prior knowledge without TLS,
//! ALPN `h2` with it). The request and response messages are one string
//! field and one enum field, encoded by hand — no protobuf dependency.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::net::TcpStream;

use crate::config::Module;
use crate::resolve::choose_protocol;
use crate::tls::{TlsState, CHAIN_INFO_LABELS, HELP_CHAIN_INFO, HELP_EARLIEST, HELP_VERSION};
use crate::{ProbeLog, Registry};

const SERVING_STATUSES: &[&str] = &["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/// gRPC status codes used here.
const OK: u32 = 0;
const DEADLINE_EXCEEDED: u32 = 4;
const INTERNAL: u32 = 13;
const UNAVAILABLE: u32 = 14;

/// `HealthCheckRequest{service}` as a length-prefixed gRPC message.
fn request_message(service: &str) -> Vec<u8> {
    let mut pb = Vec::new();
    if !service.is_empty() {
        pb.push(0x0a);
        let mut n = service.len();
        while n >= 0x80 {
            pb.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        pb.push(n as u8);
        pb.extend(service.as_bytes());
    }
    let mut m = vec![0u8];
    m.extend((pb.len() as u32).to_be_bytes());
    m.extend(pb);
    m
}

/// The `status` field of a `HealthCheckResponse` message body.
fn response_status(frame: &[u8]) -> Result<u64, String> {
    let body = frame.get(5..).ok_or("grpc: short message")?;
    if frame[0] != 0 {
        return Err("grpc: compressed messages are not supported".into());
    }
    let mut p = 0;
    let mut status = 0;
    let varint = |p: &mut usize| -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *body.get(*p).ok_or("grpc: truncated varint")?;
            *p += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("grpc: varint too long".into())
    };
    while p < body.len() {
        let key = varint(&mut p)?;
        match (key >> 3, key & 7) {
            (1, 0) => status = varint(&mut p)?,
            (_, 0) => {
                varint(&mut p)?;
            }
            (_, 2) => {
                let l = varint(&mut p)? as usize;
                p = p.checked_add(l).ok_or("grpc: bad length")?;
            }
            (_, 5) => p += 4,
            (_, 1) => p += 8,
            _ => return Err("grpc: bad wire type".into()),
        }
    }
    Ok(status)
}

/// One health check: (status code, serving status name, TLS state).
async fn check(module: &Module, addr: SocketAddr, host: &str, authority: &str, deadline: Instant) -> (u32, String, Option<TlsState>, String) {
    let dl: tokio::time::Instant = deadline.into();
    let g = &module.grpc;
    let tcp = match tokio::time::timeout_at(dl, TcpStream::connect(addr)).await {
        Err(_) => return (DEADLINE_EXCEEDED, String::new(), None, "context deadline exceeded".into()),
        Ok(Err(e)) => return (UNAVAILABLE, String::new(), None, format!("connection error: dial tcp {addr}: {e}")),
        Ok(Ok(s)) => s,
    };
    let exec = hyper_util::rt::TokioExecutor::new();
    let (mut sender, conn, tls) = if g.tls {
        let cfg = match crate::tls::client_config(&g.tls_config, &[b"h2"]) {
            Ok(c) => c,
            Err(e) => return (UNAVAILABLE, String::new(), None, e),
        };
        let name = match crate::tls::server_name(&g.tls_config, host) {
            Ok(n) => n,
            Err(e) => return (UNAVAILABLE, String::new(), None, e),
        };
        let s = match tokio::time::timeout_at(dl, tokio_rustls::TlsConnector::from(cfg).connect(name, tcp)).await {
            Err(_) => return (DEADLINE_EXCEEDED, String::new(), None, "context deadline exceeded".into()),
            Ok(Err(e)) => return (UNAVAILABLE, String::new(), None, format!("connection error: tls: {e}")),
            Ok(Ok(s)) => s,
        };
        let state = TlsState::from_conn(s.get_ref().1, !g.tls_config.insecure_skip_verify);
        match tokio::time::timeout_at(dl, hyper::client::conn::http2::handshake(exec, hyper_util::rt::TokioIo::new(s))).await {
            Ok(Ok((s, c))) => (s, tokio::spawn(async move { let _ = c.await; }), Some(state)),
            Ok(Err(e)) => return (UNAVAILABLE, String::new(), None, e.to_string()),
            Err(_) => return (DEADLINE_EXCEEDED, String::new(), None, "context deadline exceeded".into()),
        }
    } else {
        match tokio::time::timeout_at(dl, hyper::client::conn::http2::handshake(exec, hyper_util::rt::TokioIo::new(tcp))).await {
            Ok(Ok((s, c))) => (s, tokio::spawn(async move { let _ = c.await; }), None),
            Ok(Err(e)) => return (UNAVAILABLE, String::new(), None, e.to_string()),
            Err(_) => return (DEADLINE_EXCEEDED, String::new(), None, "context deadline exceeded".into()),
        }
    };
    let scheme = if g.tls { "https" } else { "http" };
    let req = hyper::Request::builder()
        .method(hyper::Method::POST)
        .uri(format!("{scheme}://{authority}/grpc.health.v1.Health/Check"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("user-agent", concat!("Bongsu/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(Bytes::from(request_message(&g.service))));
    let req = match req {
        Ok(r) => r,
        Err(e) => {
            conn.abort();
            return (INTERNAL, String::new(), None, e.to_string());
        }
    };
    let outcome = tokio::time::timeout_at(dl, async {
        let resp = sender.send_request(req).await.map_err(|e| (UNAVAILABLE, e.to_string()))?;
        let (parts, body) = resp.into_parts();
        let header_status = parts.headers.get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|s| s.parse::<u32>().ok());
        let collected = body.collect().await.map_err(|e| (UNAVAILABLE, e.to_string()))?;
        let trailers = collected.trailers().cloned();
        let data = collected.to_bytes();
        let status = trailers
            .as_ref()
            .and_then(|t| t.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse::<u32>().ok())
            .or(header_status);
        if parts.status != hyper::StatusCode::OK {
            return Err((UNAVAILABLE, format!("unexpected HTTP status code {}", parts.status)));
        }
        match status {
            Some(OK) => {
                let s = response_status(&data).map_err(|e| (INTERNAL, e))?;
                Ok(SERVING_STATUSES.get(s as usize).copied().unwrap_or("UNKNOWN").to_string())
            }
            Some(code) => {
                let msg = trailers
                    .as_ref()
                    .and_then(|t| t.get("grpc-message"))
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                Err((code, format!("rpc error: code = {code} desc = {msg}")))
            }
            None => Err((INTERNAL, "grpc: no grpc-status in the response".into())),
        }
    })
    .await;
    conn.abort();
    match outcome {
        Err(_) => (DEADLINE_EXCEEDED, String::new(), None, "context deadline exceeded".into()),
        Ok(Err((code, e))) => (code, String::new(), None, e),
        Ok(Ok(serving)) => (OK, serving, tls, String::new()),
    }
}

/// Probes `target` (`host:port`, optionally with an http(s):// prefix).
pub async fn probe_grpc(target: &str, module: &Module, deadline: Instant, reg: &mut Registry, log: &mut ProbeLog) -> bool {
    const PH: &str = "probe_grpc_duration_seconds";
    reg.gauge_vec(PH, "Duration of gRPC request by phase", &["phase"]);
    reg.touch(PH, &["resolve"]);
    reg.gauge("probe_grpc_ssl", "Indicates if SSL was used for the connection");
    reg.gauge("probe_grpc_status_code", "Response gRPC status code");
    reg.gauge_vec("probe_grpc_healthcheck_response", "Response HealthCheck response", &["serving_status"]);
    reg.gauge("probe_ssl_earliest_cert_expiry", HELP_EARLIEST);
    reg.gauge_vec("probe_tls_version_info", HELP_VERSION, &["version"]);
    reg.gauge_vec("probe_ssl_last_chain_info", HELP_CHAIN_INFO, CHAIN_INFO_LABELS);
    let g = &module.grpc;
    let t = if target.starts_with("http://") || target.starts_with("https://") { target.to_string() } else { format!("http://{target}") };
    let url = match url::Url::parse(&t) {
        Ok(u) if u.host_str().is_some() => u,
        _ => {
            log.error("Could not parse target URL", &[("target", &target)]);
            return false;
        }
    };
    let host = url.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']').to_string();
    let port = url.port().unwrap_or(if g.tls { 443 } else { 80 });
    let res = choose_protocol(&g.preferred_ip_protocol, g.ip_protocol_fallback, &host, deadline, reg, log).await;
    let ip = match res.ip {
        Ok(ip) => ip,
        Err(e) => {
            log.error("Error resolving address", &[("err", &e)]);
            return false;
        }
    };
    reg.add_with(PH, &["resolve"], res.lookup_time);
    let start = Instant::now();
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
        None => format!("{}:{port}", url.host_str().unwrap_or("")),
    };
    log.debug(if g.tls { "Dialing GRPC with TLS" } else { "Dialing GRPC without TLS" }, &[]);
    let (code, serving, tls, err) = check(module, SocketAddr::new(ip, port), &host, &authority, deadline).await;
    reg.add_with(PH, &["check"], start.elapsed().as_secs_f64());
    for s in SERVING_STATUSES {
        reg.set_with("probe_grpc_healthcheck_response", &[s], 0.0);
    }
    if !serving.is_empty() {
        reg.set_with("probe_grpc_healthcheck_response", &[&serving], 1.0);
    }
    if code == OK {
        match &tls {
            Some(state) => {
                reg.set("probe_grpc_ssl", 1.0);
                let certs: Vec<crate::tls::Cert> =
                    state.peer_certificates.iter().filter_map(|c| crate::tls::Cert::parse(c.as_ref()).ok()).collect();
                let earliest = certs.iter().map(|c| c.not_after).min().map(|t| t as f64).unwrap_or(crate::tls::GO_ZERO_TIME_UNIX);
                reg.set("probe_ssl_earliest_cert_expiry", earliest);
                reg.set_with("probe_tls_version_info", &[crate::tls::version_label(state.version)], 1.0);
                if let (Some(der), Some(leaf)) = (state.peer_certificates.first(), certs.first()) {
                    let fp = crate::tls::fingerprint_sha256(der.as_ref());
                    reg.set_with("probe_ssl_last_chain_info", &[&fp, &leaf.subject, &leaf.issuer, &leaf.dns_names.join(",")], 1.0);
                }
            }
            None => reg.set("probe_grpc_ssl", 0.0),
        }
    }
    reg.set("probe_grpc_status_code", code as f64);
    if code != OK || serving != "SERVING" {
        log.error("can't connect grpc server:", &[("err", &err)]);
        return false;
    }
    log.debug("connect the grpc server successfully", &[]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_messages() {
        assert_eq!(request_message(""), vec![0, 0, 0, 0, 0]);
        assert_eq!(request_message("ab"), vec![0, 0, 0, 0, 4, 0x0a, 2, b'a', b'b']);
        assert_eq!(response_status(&[0, 0, 0, 0, 2, 0x08, 1]), Ok(1));
        assert_eq!(response_status(&[0, 0, 0, 0, 0]), Ok(0));
        assert!(response_status(&[0, 0]).is_err());
    }
}
