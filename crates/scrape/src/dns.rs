//! `dns_sd_configs`: SRV, A, AAAA, MX and NS lookups with a small DNS
//! client over UDP (the nameservers of `/etc/resolv.conf`), as Prometheus'
//! DNS discovery queries DNS directly rather than through `getaddrinfo`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use bongsu_model::{Labels, LabelsBuilder};
use serde::{Deserialize, Serialize};

use crate::config::Duration as PromDuration;
use crate::discovery::{TargetGroup, ADDRESS_LABEL};

/// One `dns_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSdConfig {
    pub names: Vec<String>,
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
    #[serde(rename = "type", default = "default_type")]
    pub kind: String,
    #[serde(default)]
    pub port: u16,
}

fn default_refresh() -> PromDuration {
    PromDuration::from_secs(30)
}

fn default_type() -> String {
    "SRV".into()
}

impl DnsSdConfig {
    /// Prometheus' checks.
    pub fn validate(&self) -> Result<(), String> {
        if self.names.is_empty() {
            return Err("DNS-SD config must contain at least one SRV record name".into());
        }
        match self.kind.to_ascii_uppercase().as_str() {
            "SRV" => Ok(()),
            "A" | "AAAA" | "MX" | "NS" if self.port == 0 => {
                Err("a port is required in DNS-SD configs for all record types except SRV".into())
            }
            "A" | "AAAA" | "MX" | "NS" => Ok(()),
            other => Err(format!("invalid DNS-SD records type {other}")),
        }
    }

    fn qtype(&self) -> u16 {
        match self.kind.to_ascii_uppercase().as_str() {
            "A" => 1,
            "AAAA" => 28,
            "MX" => 15,
            "NS" => 2,
            _ => 33,
        }
    }
}

/// A decoded answer record.
#[derive(Debug, Clone, PartialEq)]
enum Record {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Srv { port: u16, target: String },
    Mx(String),
    Ns(String),
}

/// The nameservers of resolv.conf (port 53), or 127.0.0.1.
pub fn system_nameservers() -> Vec<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out: Vec<SocketAddr> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|r| r.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    if out.is_empty() {
        out.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
    }
    out
}

fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD, 1 question
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("invalid DNS name {name:?}"));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes()); // IN
    Ok(q)
}

/// Reads a possibly compressed name at `pos`; returns it and the position after it.
fn read_name(msg: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut name = String::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *msg.get(pos).ok_or("truncated name")? as usize;
        if len & 0xC0 == 0xC0 {
            let lo = *msg.get(pos + 1).ok_or("truncated pointer")? as usize;
            if end.is_none() {
                end = Some(pos + 2);
            }
            pos = ((len & 0x3F) << 8) | lo;
            continue;
        }
        if len == 0 {
            let after = end.unwrap_or(pos + 1);
            return Ok((if name.is_empty() { ".".into() } else { name }, after));
        }
        let label = msg.get(pos + 1..pos + 1 + len).ok_or("truncated label")?;
        name.push_str(&String::from_utf8_lossy(label));
        name.push('.');
        pos += 1 + len;
    }
    Err("name compression loop".into())
}

fn u16_at(msg: &[u8], pos: usize) -> Result<u16, String> {
    msg.get(pos..pos + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| "truncated message".into())
}

fn decode_response(msg: &[u8], id: u16) -> Result<Vec<Record>, String> {
    if u16_at(msg, 0)? != id {
        return Err("response id mismatch".into());
    }
    let flags = u16_at(msg, 2)?;
    if flags & 0x0200 != 0 {
        return Err("truncated DNS response (TCP fallback not supported)".into());
    }
    match flags & 0x000F {
        0 => {}
        3 => return Ok(Vec::new()), // NXDOMAIN: no targets
        rc => return Err(format!("DNS server returned rcode {rc}")),
    }
    let qd = u16_at(msg, 4)? as usize;
    let an = u16_at(msg, 6)? as usize;
    let mut pos = 12;
    for _ in 0..qd {
        let (_, p) = read_name(msg, pos)?;
        pos = p + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        let (_, p) = read_name(msg, pos)?;
        let rtype = u16_at(msg, p)?;
        let rdlen = u16_at(msg, p + 8)? as usize;
        let rdata = p + 10;
        let rd = msg.get(rdata..rdata + rdlen).ok_or("truncated rdata")?;
        match rtype {
            1 if rdlen == 4 => out.push(Record::A(Ipv4Addr::new(rd[0], rd[1], rd[2], rd[3]))),
            28 if rdlen == 16 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rd);
                out.push(Record::Aaaa(Ipv6Addr::from(b)));
            }
            33 if rdlen >= 7 => {
                let port = u16_at(msg, rdata + 4)?;
                let (target, _) = read_name(msg, rdata + 6)?;
                out.push(Record::Srv { port, target });
            }
            15 if rdlen >= 3 => out.push(Record::Mx(read_name(msg, rdata + 2)?.0)),
            2 => out.push(Record::Ns(read_name(msg, rdata)?.0)),
            _ => {} // CNAMEs and others are skipped
        }
        pos = rdata + rdlen;
    }
    Ok(out)
}

async fn query(servers: &[SocketAddr], name: &str, qtype: u16) -> Result<Vec<Record>, String> {
    let mut last = String::from("no nameservers");
    for server in servers {
        let id: u16 = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            & 0xFFFF) as u16;
        let q = encode_query(id, name, qtype)?;
        let bind = if server.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let attempt = async {
            let sock = tokio::net::UdpSocket::bind(bind)
                .await
                .map_err(|e| e.to_string())?;
            sock.connect(server).await.map_err(|e| e.to_string())?;
            sock.send(&q).await.map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 4096];
            let n = sock.recv(&mut buf).await.map_err(|e| e.to_string())?;
            decode_response(&buf[..n], id)
        };
        match tokio::time::timeout(Duration::from_secs(5), attempt).await {
            Ok(Ok(r)) => return Ok(r),
            Ok(Err(e)) => last = e,
            Err(_) => last = format!("timeout querying {server}"),
        }
    }
    Err(last)
}

fn join_host_port(host: &str, port: u16) -> String {
    let host = host.trim_end_matches('.');
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Resolves every name of `cfg` against `servers`: one group per name.
/// A failed lookup is an error (the caller keeps the previous groups).
pub async fn lookup_groups(
    cfg: &DnsSdConfig,
    servers: &[SocketAddr],
) -> Result<Vec<TargetGroup>, String> {
    let mut out = Vec::new();
    for name in &cfg.names {
        let records = query(servers, name, cfg.qtype())
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        let mut targets = Vec::new();
        for r in records {
            let mut lb = LabelsBuilder::new();
            lb.set("__meta_dns_name", name.clone());
            let addr = match r {
                Record::A(ip) => join_host_port(&ip.to_string(), cfg.port),
                Record::Aaaa(ip) => join_host_port(&ip.to_string(), cfg.port),
                Record::Srv { port, target } => {
                    lb.set("__meta_dns_srv_record_target", target.clone());
                    lb.set("__meta_dns_srv_record_port", port.to_string());
                    join_host_port(&target, port)
                }
                Record::Mx(host) => {
                    lb.set("__meta_dns_mx_record_target", host.clone());
                    join_host_port(&host, cfg.port)
                }
                Record::Ns(host) => {
                    lb.set("__meta_dns_ns_record_target", host.clone());
                    join_host_port(&host, cfg.port)
                }
            };
            lb.set(ADDRESS_LABEL, addr);
            targets.push(lb.into_labels());
        }
        out.push(TargetGroup {
            source: name.clone(),
            targets,
            labels: Labels::empty(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers one SRV query with two records, using name compression.
    fn srv_answer(query: &[u8]) -> Vec<u8> {
        let mut r = query.to_vec();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 2; // ANCOUNT
        for (port, target) in [(9100u16, "node1"), (9101, "node2")] {
            r.extend_from_slice(&[0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 30]);
            let mut rd = vec![0, 10, 0, 5];
            rd.extend_from_slice(&port.to_be_bytes());
            rd.push(target.len() as u8);
            rd.extend_from_slice(target.as_bytes());
            rd.extend_from_slice(&[0xC0, 12 + 1 + 5]); // "_tcp.example.com." inside the question
            r.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            r.extend_from_slice(&rd);
        }
        r
    }

    #[tokio::test]
    async fn srv_lookup_against_a_fake_server() {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = sock.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            if let Ok((n, peer)) = sock.recv_from(&mut buf).await {
                let _ = sock.send_to(&srv_answer(&buf[..n]), peer).await;
            }
        });
        let cfg = DnsSdConfig {
            names: vec!["_node._tcp.example.com".into()],
            refresh_interval: default_refresh(),
            kind: "SRV".into(),
            port: 0,
        };
        let groups = lookup_groups(&cfg, &[addr]).await.expect("lookup");
        assert_eq!(groups.len(), 1);
        let t = &groups[0].targets;
        assert_eq!(t.len(), 2);
        // The compressed suffix points into the question name: "_tcp.example.com.".
        assert_eq!(t[0].get("__address__"), Some("node1._tcp.example.com:9100"));
        assert_eq!(t[0].get("__meta_dns_srv_record_port"), Some("9100"));
        assert_eq!(t[1].get("__meta_dns_name"), Some("_node._tcp.example.com"));
    }

    #[test]
    fn validation() {
        let mut c = DnsSdConfig {
            names: vec!["x".into()],
            refresh_interval: default_refresh(),
            kind: "A".into(),
            port: 0,
        };
        assert!(c.validate().is_err());
        c.port = 9100;
        assert!(c.validate().is_ok());
        c.kind = "TXT".into();
        assert!(c.validate().is_err());
        assert!(decode_response(&[0, 1], 1).is_err());
    }
}
