//! The `tcp` prober (blackbox_exporter's `ProbeTCP`): connect, optionally
//! over TLS, then a line-based conversation (`query_response`: expect a
//! line matching a regexp, send a line expanded from its captures, switch to
//! TLS with `starttls`).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::Module;
use crate::resolve::choose_protocol;
use crate::tls::{register_tls_series, TlsState};
use crate::{ProbeLog, Registry};

/// Go's bufio.Scanner refuses longer lines.
const MAX_LINE: u64 = 64 * 1024;

enum Conn {
    Plain(BufReader<TcpStream>),
    Tls(Box<BufReader<tokio_rustls::client::TlsStream<TcpStream>>>),
}

impl Conn {
    /// The next line without its `\n` / `\r\n`; `None` at end of stream.
    async fn read_line(&mut self) -> std::io::Result<Option<String>> {
        let mut buf = Vec::new();
        let n = match self {
            Conn::Plain(r) => (&mut *r).take(MAX_LINE + 1).read_until(b'\n', &mut buf).await?,
            Conn::Tls(r) => (&mut **r).take(MAX_LINE + 1).read_until(b'\n', &mut buf).await?,
        };
        if n == 0 {
            return Ok(None);
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        } else if buf.len() as u64 > MAX_LINE {
            return Err(std::io::Error::other("bufio.Scanner: token too long"));
        }
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    async fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Plain(r) => {
                r.get_mut().write_all(b).await?;
                r.get_mut().flush().await
            }
            Conn::Tls(r) => {
                r.get_mut().write_all(b).await?;
                r.get_mut().flush().await
            }
        }
    }
}

/// Go's `net.SplitHostPort` for `host:port` and `[v6]:port`.
pub(crate) fn split_host_port(target: &str) -> Result<(String, String), String> {
    if let Some(rest) = target.strip_prefix('[') {
        let (h, p) = rest.split_once(']').ok_or_else(|| format!("address {target}: missing ']' in address"))?;
        let p = p.strip_prefix(':').ok_or_else(|| format!("address {target}: missing port in address"))?;
        return Ok((h.to_string(), p.to_string()));
    }
    let (h, p) = target.rsplit_once(':').ok_or_else(|| format!("address {target}: missing port in address"))?;
    if h.contains(':') {
        return Err(format!("address {target}: too many colons in address"));
    }
    Ok((h.to_string(), p.to_string()))
}

async fn tls_handshake(
    tcp: TcpStream,
    module: &Module,
    host: &str,
    deadline: Instant,
) -> Result<(tokio_rustls::client::TlsStream<TcpStream>, TlsState), String> {
    let t = &module.tcp.tls_config;
    let cfg = crate::tls::client_config(t, &[])?;
    let name = crate::tls::server_name(t, host)?;
    let connector = tokio_rustls::TlsConnector::from(cfg);
    match tokio::time::timeout_at(deadline.into(), connector.connect(name, tcp)).await {
        Err(_) => Err("i/o timeout".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(s)) => {
            let state = TlsState::from_conn(s.get_ref().1, !t.insecure_skip_verify);
            Ok((s, state))
        }
    }
}

async fn dial(target: &str, module: &Module, deadline: Instant, reg: &mut Registry, log: &mut ProbeLog) -> Result<Conn, String> {
    let (host, port) = split_host_port(target).inspect_err(|e| log.error("Error splitting target address and port", &[("err", e)]))?;
    let port: u16 = port.parse().map_err(|_| format!("invalid port {port:?}"))?;
    let res = choose_protocol(&module.tcp.ip_protocol, module.tcp.ip_protocol_fallback, &host, deadline, reg, log).await;
    let ip = res.ip.inspect_err(|e| log.error("Error resolving address", &[("err", e)]))?;
    let addr = SocketAddr::new(ip, port);
    let socket = if ip.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }.map_err(|e| e.to_string())?;
    if !module.tcp.source_ip_address.is_empty() {
        let src: IpAddr = module.tcp.source_ip_address.parse().map_err(|_| format!("error parsing source ip address: {}", module.tcp.source_ip_address))?;
        log.info("Using local address", &[("srcIP", &src)]);
        socket.bind(SocketAddr::new(src, 0)).map_err(|e| e.to_string())?;
    }
    log.info(if module.tcp.tls { "Dialing TCP with TLS" } else { "Dialing TCP without TLS" }, &[]);
    let tcp = match tokio::time::timeout_at(deadline.into(), socket.connect(addr)).await {
        Err(_) => return Err(format!("dial tcp {addr}: i/o timeout")),
        Ok(Err(e)) => return Err(format!("dial tcp {addr}: connect: {e}")),
        Ok(Ok(s)) => s,
    };
    if !module.tcp.tls {
        return Ok(Conn::Plain(BufReader::new(tcp)));
    }
    let (s, state) = tls_handshake(tcp, module, &host, deadline).await?;
    register_tls_series(reg, &state);
    Ok(Conn::Tls(Box::new(BufReader::new(s))))
}

/// Probes `target` (`host:port`).
pub async fn probe_tcp(target: &str, module: &Module, deadline: Instant, reg: &mut Registry, log: &mut ProbeLog) -> bool {
    reg.gauge("probe_failed_due_to_regex", "Indicates if probe failed due to regex");
    let mut conn = match dial(target, module, deadline, reg, log).await {
        Ok(c) => c,
        Err(e) => {
            log.error("Error dialing TCP", &[("err", &e)]);
            return false;
        }
    };
    log.info("Successfully dialed", &[]);
    let dl: tokio::time::Instant = deadline.into();
    for (i, qr) in module.tcp.query_response.iter().enumerate() {
        log.info("Processing query response entry", &[("entry_number", &i)]);
        let mut send = qr.send.clone();
        if let Some(re) = &qr.expect {
            let mut matched: Option<String> = None;
            let mut last = String::new();
            loop {
                let line = match tokio::time::timeout_at(dl, conn.read_line()).await {
                    Err(_) => {
                        log.error("Error reading from connection", &[("err", &"i/o timeout")]);
                        return false;
                    }
                    Ok(Err(e)) => {
                        log.error("Error reading from connection", &[("err", &e)]);
                        return false;
                    }
                    Ok(Ok(None)) => break,
                    Ok(Ok(Some(l))) => l,
                };
                log.debug("Read line", &[("line", &line)]);
                if let Some(caps) = re.re.captures(&line) {
                    log.info("Regexp matched", &[("regexp", re), ("line", &line)]);
                    let mut expanded = String::new();
                    caps.expand(&send, &mut expanded);
                    matched = Some(expanded);
                    break;
                }
                last = line;
            }
            match matched {
                None => {
                    reg.set("probe_failed_due_to_regex", 1.0);
                    log.error("Regexp did not match", &[("regexp", re), ("line", &last)]);
                    return false;
                }
                Some(expanded) => {
                    reg.set("probe_failed_due_to_regex", 0.0);
                    send = expanded;
                }
            }
        }
        if !send.is_empty() {
            log.debug("Sending line", &[("line", &send)]);
            let line = format!("{send}\n");
            match tokio::time::timeout_at(dl, conn.write_all(line.as_bytes())).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    log.error("Failed to send", &[("err", &e)]);
                    return false;
                }
                Err(_) => {
                    log.error("Failed to send", &[("err", &"i/o timeout")]);
                    return false;
                }
            }
        }
        if qr.starttls {
            let tcp = match conn {
                Conn::Plain(r) => r.into_inner(),
                Conn::Tls(_) => {
                    log.error("TLS Handshake (client) failed", &[("err", &"the connection is already using TLS")]);
                    return false;
                }
            };
            let host = split_host_port(target).map(|(h, _)| h).unwrap_or_default();
            match tls_handshake(tcp, module, &host, deadline).await {
                Err(e) => {
                    log.error("TLS Handshake (client) failed", &[("err", &e)]);
                    return false;
                }
                Ok((s, state)) => {
                    log.info("TLS Handshake (client) succeeded.", &[]);
                    register_tls_series(reg, &state);
                    conn = Conn::Tls(Box::new(BufReader::new(s)));
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_like_go() {
        assert_eq!(split_host_port("a:1"), Ok(("a".into(), "1".into())));
        assert_eq!(split_host_port("[::1]:53"), Ok(("::1".into(), "53".into())));
        assert!(split_host_port("a").is_err());
        assert!(split_host_port("::1:5").is_err());
    }
}
