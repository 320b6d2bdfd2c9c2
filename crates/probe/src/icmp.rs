//! The `icmp` prober (blackbox_exporter's `ProbeICMP`): one echo request,
//! wait for the matching reply.
//!
//! Like blackbox_exporter on Linux it first tries an unprivileged ping
//! socket (`SOCK_DGRAM`/`IPPROTO_ICMP`, allowed when the process' group is
//! inside `net.ipv4.ping_group_range`), then a raw socket (root or
//! `CAP_NET_RAW`). With neither, the probe fails with a log line saying so.
//! The reply's TTL (`probe_icmp_reply_hop_limit`) is read from the IPv4
//! header a raw socket delivers; through a ping socket or over IPv6 it
//! would need ancillary data, which Bongsu does not read, so that series is
//! absent there.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::Module;
use crate::resolve::choose_protocol;
use crate::{ProbeLog, Registry};

const PAYLOAD: &[u8] = b"Prometheus Blackbox Exporter";

fn icmp_id() -> u16 {
    static ID: OnceLock<u16> = OnceLock::new();
    *ID.get_or_init(|| {
        let pid = std::process::id();
        if pid == 1 {
            rand::random()
        } else {
            (pid & 0xffff) as u16
        }
    })
}

fn next_seq() -> u16 {
    static SEQ: OnceLock<AtomicU16> = OnceLock::new();
    SEQ.get_or_init(|| AtomicU16::new(rand::random())).fetch_add(1, Ordering::Relaxed).wrapping_add(1)
}

fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in b.chunks(2) {
        let w = if c.len() == 2 { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], 0]) };
        sum += w as u32;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request (type 8 for IPv4, 128 for IPv6).
fn echo_request(v6: bool, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend(id.to_be_bytes());
    p.extend(seq.to_be_bytes());
    p.extend(data);
    if !v6 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// Opens a ping socket or, failing that, a raw socket: (socket, privileged).
fn open(v6: bool, log: &mut ProbeLog) -> Result<(Socket, bool), String> {
    let (domain, proto) = if v6 { (Domain::IPV6, Protocol::ICMPV6) } else { (Domain::IPV4, Protocol::ICMPV4) };
    match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => return Ok((s, false)),
        Err(e) => log.debug("Unable to do unprivileged listen on socket, will attempt privileged", &[("err", &e)]),
    }
    Socket::new(domain, Type::RAW, Some(proto)).map(|s| (s, true)).map_err(|e| {
        format!(
            "{e}: ICMP needs an unprivileged ping socket (the process' group inside net.ipv4.ping_group_range, now {}) \
             or a raw socket (root or CAP_NET_RAW)",
            std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default().trim().replace('\t', " ")
        )
    })
}

/// Probes `target` (a host name or address) with one echo request.
pub async fn probe_icmp(target: &str, module: &Module, deadline: Instant, reg: &mut Registry, log: &mut ProbeLog) -> bool {
    const PH: &str = "probe_icmp_duration_seconds";
    reg.gauge_vec(PH, "Duration of icmp request by phase", &["phase"]);
    for ph in ["resolve", "setup", "rtt"] {
        reg.touch(PH, &[ph]);
    }
    let c = &module.icmp;
    let res = choose_protocol(&c.ip_protocol, c.ip_protocol_fallback, target, deadline, reg, log).await;
    let dst = match res.ip {
        Ok(ip) => ip,
        Err(e) => {
            log.log("warn", "Error resolving address", &[("err", &e)]);
            return false;
        }
    };
    reg.add_with(PH, &["resolve"], res.lookup_time);
    let dst = match dst {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let v6 = dst.is_ipv6();
    let src: IpAddr = if c.source_ip_address.is_empty() {
        if v6 { IpAddr::from([0u16; 8]) } else { IpAddr::from([0u8; 4]) }
    } else {
        match c.source_ip_address.parse() {
            Ok(ip) => {
                log.info("Using source address", &[("srcIP", &ip)]);
                ip
            }
            Err(_) => {
                log.error("Error parsing source ip address", &[("srcIP", &c.source_ip_address)]);
                return false;
            }
        }
    };
    let setup_start = Instant::now();
    log.info("Creating socket", &[]);
    let (sock, privileged) = match open(v6, log) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(target = %target, "icmp probe: cannot open an ICMP socket: {e}");
            log.error("Error listening to socket", &[("err", &e)]);
            return false;
        }
    };
    let setup = || -> std::io::Result<tokio::net::UdpSocket> {
        sock.bind(&SocketAddr::new(src, 0).into())?;
        if c.ttl > 0 {
            if v6 {
                sock.set_unicast_hops_v6(c.ttl as u32)?;
            } else {
                sock.set_ttl_v4(c.ttl as u32)?;
            }
        }
        sock.set_nonblocking(true)?;
        let std_sock: std::net::UdpSocket = sock.into();
        tokio::net::UdpSocket::from_std(std_sock)
    };
    let sock = match setup() {
        Ok(s) => s,
        Err(e) => {
            log.error("Error listening to socket", &[("err", &e)]);
            return false;
        }
    };
    let data: Vec<u8> = if c.payload_size > 0 {
        let mut d = vec![0u8; c.payload_size as usize];
        let n = PAYLOAD.len().min(d.len());
        d[..n].copy_from_slice(&PAYLOAD[..n]);
        d
    } else {
        PAYLOAD.to_vec()
    };
    let id = icmp_id();
    let seq = next_seq();
    log.info("Creating ICMP packet", &[("seq", &seq), ("id", &id)]);
    let packet = echo_request(v6, id, seq, &data);
    reg.add_with(PH, &["setup"], setup_start.elapsed().as_secs_f64());
    log.info("Writing out packet", &[]);
    let rtt_start = Instant::now();
    let dl: tokio::time::Instant = deadline.into();
    match tokio::time::timeout_at(dl, sock.send_to(&packet, SocketAddr::new(dst, 0))).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            log.log("warn", "Error writing to socket", &[("err", &e)]);
            return false;
        }
        Err(_) => {
            log.log("warn", "Timeout writing to socket", &[]);
            return false;
        }
    }
    let reply_type = if v6 { 129u8 } else { 0 };
    log.info("Waiting for reply packets", &[]);
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, peer) = match tokio::time::timeout_at(dl, sock.recv_from(&mut buf)).await {
            Err(_) => {
                log.log("warn", "Timeout reading from socket", &[("err", &"i/o timeout")]);
                return false;
            }
            Ok(Err(e)) => {
                log.error("Error reading from socket", &[("err", &e)]);
                continue;
            }
            Ok(Ok(x)) => x,
        };
        if peer.ip() != dst {
            continue;
        }
        let mut pkt = &buf[..n];
        let mut hop_limit: Option<u8> = None;
        if privileged && !v6 {
            // A raw IPv4 socket delivers the IP header too.
            let Some(&vihl) = pkt.first() else { continue };
            let ihl = ((vihl & 0x0f) as usize) * 4;
            if pkt.len() < ihl + 8 {
                continue;
            }
            hop_limit = Some(pkt[8]);
            pkt = &pkt[ihl..];
        }
        if pkt.len() < 8 || pkt[0] != reply_type || pkt[1] != 0 {
            continue;
        }
        // A ping socket's id is the kernel's; compare it only on a raw socket.
        let same_id = !privileged || pkt[4..6] == id.to_be_bytes();
        if same_id && pkt[6..8] == seq.to_be_bytes() && pkt[8..] == data[..] {
            reg.add_with(PH, &["rtt"], rtt_start.elapsed().as_secs_f64());
            if let Some(h) = hop_limit {
                reg.gauge("probe_icmp_reply_hop_limit", "Replied packet hop limit (TTL for ipv4)");
                reg.set("probe_icmp_reply_hop_limit", h as f64);
            }
            log.info("Found matching reply packet", &[]);
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_checksum_verifies() {
        let p = echo_request(false, 0x1234, 7, PAYLOAD);
        assert_eq!(checksum(&p), 0);
        assert_eq!(&p[8..], PAYLOAD);
    }
}
