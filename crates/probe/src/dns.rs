//! The `dns` prober (blackbox_exporter's `ProbeDNS`) and the small DNS codec
//! it needs: one question out; header, counts and records back, each record
//! printed the way miekg/dns's `RR.String()` prints it
//! (`name.\tTTL\tCLASS\tTYPE\tRDATA`), since that text is what users'
//! `validate_*_rrs` regexps are written against.
//!
//! Record data is decoded for A, AAAA, NS, CNAME, PTR, DNAME, MX, TXT, SPF,
//! SOA, SRV and CAA; other types print in RFC 3597's generic form
//! (`\# length hex`), which miekg/dns uses only for types it does not know.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::{DnsRrValidator, Module};
use crate::resolve::choose_protocol;
use crate::{ProbeLog, Registry};

const TYPES: &[(&str, u16)] = &[
    ("None", 0), ("A", 1), ("NS", 2), ("MD", 3), ("MF", 4), ("CNAME", 5), ("SOA", 6), ("MB", 7),
    ("MG", 8), ("MR", 9), ("NULL", 10), ("PTR", 12), ("HINFO", 13), ("MINFO", 14), ("MX", 15),
    ("TXT", 16), ("RP", 17), ("AFSDB", 18), ("X25", 19), ("ISDN", 20), ("RT", 21), ("NSAPPTR", 23),
    ("SIG", 24), ("KEY", 25), ("PX", 26), ("GPOS", 27), ("AAAA", 28), ("LOC", 29), ("NXT", 30),
    ("EID", 31), ("NIMLOC", 32), ("SRV", 33), ("ATMA", 34), ("NAPTR", 35), ("KX", 36), ("CERT", 37),
    ("DNAME", 39), ("OPT", 41), ("APL", 42), ("DS", 43), ("SSHFP", 44), ("RRSIG", 46), ("NSEC", 47),
    ("DNSKEY", 48), ("DHCID", 49), ("NSEC3", 50), ("NSEC3PARAM", 51), ("TLSA", 52), ("SMIMEA", 53),
    ("HIP", 55), ("NINFO", 56), ("RKEY", 57), ("TALINK", 58), ("CDS", 59), ("CDNSKEY", 60),
    ("OPENPGPKEY", 61), ("CSYNC", 62), ("ZONEMD", 63), ("SVCB", 64), ("HTTPS", 65), ("SPF", 99),
    ("UINFO", 100), ("UID", 101), ("GID", 102), ("UNSPEC", 103), ("NID", 104), ("L32", 105),
    ("L64", 106), ("LP", 107), ("EUI48", 108), ("EUI64", 109), ("TKEY", 249), ("TSIG", 250),
    ("IXFR", 251), ("AXFR", 252), ("MAILB", 253), ("MAILA", 254), ("ANY", 255), ("URI", 256),
    ("CAA", 257), ("AVC", 258), ("AMTRELAY", 260), ("TA", 32768), ("DLV", 32769), ("Reserved", 65535),
];

const CLASSES: &[(&str, u16)] = &[("IN", 1), ("CS", 2), ("CH", 3), ("HS", 4), ("NONE", 254), ("ANY", 255)];

const RCODES: &[(&str, u16)] = &[
    ("NOERROR", 0), ("FORMERR", 1), ("SERVFAIL", 2), ("NXDOMAIN", 3), ("NOTIMP", 4), ("REFUSED", 5),
    ("YXDOMAIN", 6), ("YXRRSET", 7), ("NXRRSET", 8), ("NOTAUTH", 9), ("NOTZONE", 10), ("BADSIG", 16),
    ("BADVERS", 16), ("BADKEY", 17), ("BADTIME", 18), ("BADMODE", 19), ("BADNAME", 20), ("BADALG", 21),
    ("BADTRUNC", 22), ("BADCOOKIE", 23),
];

/// miekg/dns's `StringToType` (the names Bongsu knows).
pub fn type_from_str(s: &str) -> Option<u16> {
    TYPES.iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
}

/// miekg/dns's `StringToClass`.
pub fn class_from_str(s: &str) -> Option<u16> {
    CLASSES.iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
}

/// miekg/dns's `StringToRcode`.
pub fn rcode_from_str(s: &str) -> Option<u16> {
    RCODES.iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
}

fn type_name(t: u16) -> String {
    TYPES.iter().find(|(_, v)| *v == t).map(|(n, _)| n.to_string()).unwrap_or_else(|| format!("TYPE{t}"))
}

fn class_name(c: u16) -> String {
    CLASSES.iter().find(|(_, v)| *v == c).map(|(n, _)| n.to_string()).unwrap_or_else(|| format!("CLASS{c}"))
}

/// Encodes a query for `name` (made fully qualified).
pub fn encode_query(id: u16, name: &str, qtype: u16, qclass: u16, rd: bool) -> Result<Vec<u8>, String> {
    let mut m = Vec::with_capacity(64);
    m.extend(id.to_be_bytes());
    m.extend(if rd { [0x01u8, 0x00] } else { [0, 0] });
    m.extend([0, 1, 0, 0, 0, 0, 0, 0]);
    let name = name.trim_end_matches('.');
    if !name.is_empty() {
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(format!("bad query name {name:?}"));
            }
            m.push(label.len() as u8);
            m.extend(label.as_bytes());
        }
    }
    m.push(0);
    m.extend(qtype.to_be_bytes());
    m.extend(qclass.to_be_bytes());
    Ok(m)
}

/// A decoded response: its id, rcode and three sections, as text.
#[derive(Debug, Default)]
pub struct Message {
    pub id: u16,
    pub rcode: u16,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
}

/// One resource record: its type, SOA serial if any, and miekg's text.
#[derive(Debug, Clone)]
pub struct Rr {
    pub rtype: u16,
    pub soa_serial: Option<u32>,
    pub text: String,
}

fn u16_at(m: &[u8], p: usize) -> Result<u16, String> {
    m.get(p..p + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or_else(|| "dns: overflow unpacking uint16".to_string())
}

fn u32_at(m: &[u8], p: usize) -> Result<u32, String> {
    m.get(p..p + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok_or_else(|| "dns: overflow unpacking uint32".to_string())
}

/// A (possibly compressed) name at `pos`: its text (miekg's escaping) and
/// the position after it in the message.
fn read_name(m: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut end: Option<usize> = None;
    let mut hops = 0;
    loop {
        let len = *m.get(pos).ok_or("dns: name overflows the message")? as usize;
        if len & 0xc0 == 0xc0 {
            let ptr = (u16_at(m, pos)? & 0x3fff) as usize;
            if end.is_none() {
                end = Some(pos + 2);
            }
            hops += 1;
            if hops > 64 {
                return Err("dns: too many compression pointers".into());
            }
            pos = ptr;
            continue;
        }
        if len & 0xc0 != 0 {
            return Err("dns: bad label type".into());
        }
        pos += 1;
        if len == 0 {
            break;
        }
        let label = m.get(pos..pos + len).ok_or("dns: label overflows the message")?;
        for &b in label {
            match b {
                b'.' | b' ' | b'\'' | b'@' | b';' | b'(' | b')' | b'"' | b'\\' => {
                    out.push('\\');
                    out.push(b as char);
                }
                0x21..=0x7e => out.push(b as char),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
        out.push('.');
        pos += len;
        if out.len() > 1024 {
            return Err("dns: name too long".into());
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    Ok((out, end.unwrap_or(pos)))
}

/// miekg's `sprintTxt` for one character-string.
fn txt_string(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(c as char);
            }
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\{c:03}")),
        }
    }
    s.push('"');
    s
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn rdata_text(m: &[u8], rtype: u16, start: usize, rd: &[u8]) -> Result<(String, Option<u32>), String> {
    let generic = || format!("\\# {} {}", rd.len(), hex(rd).to_lowercase());
    Ok(match rtype {
        1 if rd.len() == 4 => (format!("{}.{}.{}.{}", rd[0], rd[1], rd[2], rd[3]), None),
        28 if rd.len() == 16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(rd);
            (std::net::Ipv6Addr::from(a).to_string(), None)
        }
        2 | 5 | 12 | 39 => (read_name(m, start)?.0, None),
        15 => (format!("{} {}", u16_at(m, start)?, read_name(m, start + 2)?.0), None),
        16 | 99 => {
            let mut parts = Vec::new();
            let mut p = 0;
            while p < rd.len() {
                let l = rd[p] as usize;
                let s = rd.get(p + 1..p + 1 + l).ok_or("dns: bad TXT rdata")?;
                parts.push(txt_string(s));
                p += 1 + l;
            }
            (parts.join(" "), None)
        }
        6 => {
            let (ns, p) = read_name(m, start)?;
            let (mbox, p) = read_name(m, p)?;
            let serial = u32_at(m, p)?;
            let v: Vec<String> = (1..5).map(|i| u32_at(m, p + 4 * i).map(|x| x.to_string())).collect::<Result<_, _>>()?;
            (format!("{ns} {mbox} {serial} {}", v.join(" ")), Some(serial))
        }
        33 => (
            format!("{} {} {} {}", u16_at(m, start)?, u16_at(m, start + 2)?, u16_at(m, start + 4)?, read_name(m, start + 6)?.0),
            None,
        ),
        257 if rd.len() >= 2 => {
            let tl = rd[1] as usize;
            let tag = rd.get(2..2 + tl).ok_or("dns: bad CAA rdata")?;
            (format!("{} {} {}", rd[0], String::from_utf8_lossy(tag), txt_string(&rd[2 + tl..])), None)
        }
        _ => (generic(), None),
    })
}

/// Decodes a response message.
pub fn decode(m: &[u8]) -> Result<Message, String> {
    if m.len() < 12 {
        return Err("dns: short message".into());
    }
    let id = u16_at(m, 0)?;
    let flags = u16_at(m, 2)?;
    let counts = [u16_at(m, 4)?, u16_at(m, 6)?, u16_at(m, 8)?, u16_at(m, 10)?];
    let mut pos = 12;
    for _ in 0..counts[0] {
        let (_, p) = read_name(m, pos)?;
        pos = p + 4;
    }
    let mut sections: [Vec<Rr>; 3] = Default::default();
    for (si, section) in sections.iter_mut().enumerate() {
        for _ in 0..counts[si + 1] {
            let (name, p) = read_name(m, pos)?;
            let rtype = u16_at(m, p)?;
            let class = u16_at(m, p + 2)?;
            let ttl = u32_at(m, p + 4)?;
            let rdlen = u16_at(m, p + 8)? as usize;
            let start = p + 10;
            let rd = m.get(start..start + rdlen).ok_or("dns: rdata overflows the message")?;
            let (data, soa_serial) = rdata_text(m, rtype, start, rd)?;
            let text = if rtype == 41 {
                // miekg prints OPT as a pseudo-section; keep the generic form.
                format!(";; OPT PSEUDOSECTION:\n; EDNS: version 0; udp: {class}")
            } else {
                format!("{name}\t{ttl}\t{}\t{}\t{data}", class_name(class), type_name(rtype))
            };
            section.push(Rr { rtype, soa_serial, text });
            pos = start + rdlen;
        }
    }
    let [answer, authority, additional] = sections;
    Ok(Message { id, rcode: flags & 0x000f, answer, authority, additional })
}

fn valid_rrs(rrs: &[Rr], v: &DnsRrValidator, log: &mut ProbeLog) -> bool {
    if rrs.is_empty() && !v.fail_if_not_matches_regexp.is_empty() {
        log.error("fail_if_not_matches_regexp specified but no RRs returned", &[]);
        return false;
    }
    if rrs.is_empty() && !v.fail_if_none_matches_regexp.is_empty() {
        log.error("fail_if_none_matches_regexp specified but no RRs returned", &[]);
        return false;
    }
    let mut any_match = false;
    let mut all_match = true;
    for rr in rrs {
        log.info("Validating RR", &[("rr", &rr.text)]);
        for re in &v.fail_if_matches_regexp {
            if re.re.is_match(&rr.text) {
                log.error("At least one RR matched regexp", &[("regexp", re), ("rr", &rr.text)]);
                return false;
            }
        }
        for re in &v.fail_if_all_match_regexp {
            if !re.re.is_match(&rr.text) {
                all_match = false;
            }
        }
        for re in &v.fail_if_not_matches_regexp {
            if !re.re.is_match(&rr.text) {
                log.error("At least one RR did not match regexp", &[("regexp", re), ("rr", &rr.text)]);
                return false;
            }
        }
        for re in &v.fail_if_none_matches_regexp {
            if re.re.is_match(&rr.text) {
                any_match = true;
            }
        }
    }
    if !v.fail_if_all_match_regexp.is_empty() && !all_match {
        log.error("Not all RRs matched regexp", &[]);
        return false;
    }
    if !v.fail_if_none_matches_regexp.is_empty() && !any_match {
        log.error("None of the RRs did matched any regexp", &[]);
        return false;
    }
    true
}

/// One exchange: (response, time to connect, round-trip time).
async fn exchange(
    module: &Module,
    addr: SocketAddr,
    server_host: &str,
    query: &[u8],
    id: u16,
    deadline: Instant,
) -> (Result<Message, String>, Duration, Duration) {
    let dl: tokio::time::Instant = deadline.into();
    let d = &module.dns;
    let dial_start = Instant::now();
    let src: Option<IpAddr> = d.source_ip_address.parse().ok();
    let local = SocketAddr::new(
        src.unwrap_or(if addr.is_ipv4() { IpAddr::from([0u8; 4]) } else { IpAddr::from([0u16; 8]) }),
        0,
    );
    if d.transport_protocol != "tcp" {
        let sock = match tokio::net::UdpSocket::bind(local).await {
            Ok(s) => s,
            Err(e) => return (Err(e.to_string()), dial_start.elapsed(), Duration::ZERO),
        };
        if let Err(e) = sock.connect(addr).await {
            return (Err(e.to_string()), dial_start.elapsed(), Duration::ZERO);
        }
        let connect = dial_start.elapsed();
        let t0 = Instant::now();
        let res = tokio::time::timeout_at(dl, async {
            sock.send(query).await.map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 65535];
            loop {
                let n = sock.recv(&mut buf).await.map_err(|e| e.to_string())?;
                // A reply with another id is not ours (miekg/dns skips it).
                if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) != id {
                    continue;
                }
                return decode(&buf[..n]);
            }
        })
        .await
        .unwrap_or_else(|_| Err(format!("read udp {addr}: i/o timeout")));
        return (res, connect, t0.elapsed());
    }
    let socket = match if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() } {
        Ok(s) => s,
        Err(e) => return (Err(e.to_string()), dial_start.elapsed(), Duration::ZERO),
    };
    if src.is_some() {
        if let Err(e) = socket.bind(local) {
            return (Err(e.to_string()), dial_start.elapsed(), Duration::ZERO);
        }
    }
    let tcp = match tokio::time::timeout_at(dl, socket.connect(addr)).await {
        Err(_) => return (Err(format!("dial tcp {addr}: i/o timeout")), dial_start.elapsed(), Duration::ZERO),
        Ok(Err(e)) => return (Err(format!("dial tcp {addr}: connect: {e}")), dial_start.elapsed(), Duration::ZERO),
        Ok(Ok(s)) => s,
    };
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend((query.len() as u16).to_be_bytes());
    framed.extend(query);
    async fn talk<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(s: &mut S, framed: &[u8]) -> Result<Message, String> {
        s.write_all(framed).await.map_err(|e| e.to_string())?;
        s.flush().await.map_err(|e| e.to_string())?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        decode(&buf)
    }
    if d.dns_over_tls {
        let cfg = match crate::tls::client_config(&d.tls_config, &[]) {
            Ok(c) => c,
            Err(e) => return (Err(e), dial_start.elapsed(), Duration::ZERO),
        };
        let name = match crate::tls::server_name(&d.tls_config, server_host) {
            Ok(n) => n,
            Err(e) => return (Err(e), dial_start.elapsed(), Duration::ZERO),
        };
        let mut s = match tokio::time::timeout_at(dl, tokio_rustls::TlsConnector::from(cfg).connect(name, tcp)).await {
            Err(_) => return (Err("tls: i/o timeout".into()), dial_start.elapsed(), Duration::ZERO),
            Ok(Err(e)) => return (Err(format!("tls: {e}")), dial_start.elapsed(), Duration::ZERO),
            Ok(Ok(s)) => s,
        };
        let connect = dial_start.elapsed();
        let t0 = Instant::now();
        let res = tokio::time::timeout_at(dl, talk(&mut s, &framed)).await.unwrap_or_else(|_| Err("i/o timeout".into()));
        return (res, connect, t0.elapsed());
    }
    let mut tcp = tcp;
    let connect = dial_start.elapsed();
    let t0 = Instant::now();
    let res = tokio::time::timeout_at(dl, talk(&mut tcp, &framed)).await.unwrap_or_else(|_| Err(format!("read tcp {addr}: i/o timeout")));
    (res, connect, t0.elapsed())
}

/// Probes the DNS server `target` (`host` or `host:port`).
pub async fn probe_dns(target: &str, module: &Module, deadline: Instant, reg: &mut Registry, log: &mut ProbeLog) -> bool {
    const PH: &str = "probe_dns_duration_seconds";
    reg.gauge_vec(PH, "Duration of DNS request by phase", &["phase"]);
    for ph in ["resolve", "connect", "request"] {
        reg.touch(PH, &[ph]);
    }
    reg.gauge("probe_dns_answer_rrs", "Returns number of entries in the answer resource record list");
    reg.gauge("probe_dns_authority_rrs", "Returns number of entries in the authority resource record list");
    reg.gauge("probe_dns_additional_rrs", "Returns number of entries in the additional resource record list");
    reg.gauge("probe_dns_query_succeeded", "Displays whether or not the query was executed successfully");
    let d = &module.dns;
    let qc = if d.query_class.is_empty() { 1 } else { class_from_str(&d.query_class).unwrap_or(1) };
    let qt = if d.query_type.is_empty() { 255 } else { type_from_str(&d.query_type).unwrap_or(255) };
    let (host, port) = match crate::tcp::split_host_port(target) {
        Ok((h, p)) => (h, p),
        Err(_) => (target.to_string(), if d.dns_over_tls { "853".into() } else { "53".into() }),
    };
    let port: u16 = match port.parse() {
        Ok(p) => p,
        Err(_) => {
            log.error("Error resolving address", &[("err", &format!("invalid port {port:?}"))]);
            return false;
        }
    };
    let res = choose_protocol(&d.ip_protocol, d.ip_protocol_fallback, &host, deadline, reg, log).await;
    let ip = match res.ip {
        Ok(ip) => ip,
        Err(e) => {
            log.error("Error resolving address", &[("err", &e)]);
            return false;
        }
    };
    reg.add_with(PH, &["resolve"], res.lookup_time);
    let addr = SocketAddr::new(ip, port);
    let id: u16 = rand::random();
    let query = match encode_query(id, &d.query_name, qt, qc, d.recursion) {
        Ok(q) => q,
        Err(e) => {
            log.error("Error while sending a DNS query", &[("err", &e)]);
            return false;
        }
    };
    let proto = if d.transport_protocol.is_empty() { "udp" } else { d.transport_protocol.as_str() };
    log.info("Making DNS query", &[("target", &addr), ("dial_protocol", &proto), ("query", &d.query_name), ("type", &qt), ("class", &qc)]);
    let (resp, connect, rtt) = exchange(module, addr, &host, &query, id, deadline).await;
    reg.set_with(PH, &["connect"], connect.as_secs_f64());
    reg.set_with(PH, &["request"], rtt.as_secs_f64());
    let msg = match resp {
        Ok(m) => m,
        Err(e) => {
            log.error("Error while sending a DNS query", &[("err", &e)]);
            return false;
        }
    };
    log.info("Got response", &[("rcode", &msg.rcode), ("answers", &msg.answer.len())]);
    reg.set("probe_dns_answer_rrs", msg.answer.len() as f64);
    reg.set("probe_dns_authority_rrs", msg.authority.len() as f64);
    reg.set("probe_dns_additional_rrs", msg.additional.len() as f64);
    reg.set("probe_dns_query_succeeded", 1.0);
    if qt == 6 {
        reg.gauge("probe_dns_serial", "Returns the serial number of the zone");
        for rr in &msg.answer {
            if let Some(s) = rr.soa_serial {
                reg.set("probe_dns_serial", s as f64);
            }
        }
    }
    let valid: Vec<u16> = match &d.valid_rcodes {
        None => vec![0],
        Some(v) => v.iter().filter_map(|r| rcode_from_str(r)).collect(),
    };
    if !valid.contains(&msg.rcode) {
        log.error("Rcode is not one of the valid rcodes", &[("rcode", &msg.rcode)]);
        return false;
    }
    log.info("Validating Answer RRs", &[]);
    if !valid_rrs(&msg.answer, &d.validate_answer, log) {
        log.error("Answer RRs validation failed", &[]);
        return false;
    }
    log.info("Validating Authority RRs", &[]);
    if !valid_rrs(&msg.authority, &d.validate_authority, log) {
        log.error("Authority RRs validation failed", &[]);
        return false;
    }
    log.info("Validating Additional RRs", &[]);
    if !valid_rrs(&msg.additional, &d.validate_additional, log) {
        log.error("Additional RRs validation failed", &[]);
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(q: &[u8], rrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut m = q.to_vec();
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = rrs.len() as u8;
        for (t, rd) in rrs {
            m.extend([0xc0, 12]);
            m.extend(t.to_be_bytes());
            m.extend([0, 1, 0, 0, 0x0e, 0x10]);
            m.extend((rd.len() as u16).to_be_bytes());
            m.extend(rd);
        }
        m
    }

    #[test]
    fn records_print_like_miekg() {
        let q = encode_query(7, "example.com", 1, 1, true).expect("query");
        let mut soa = vec![2, b'n', b's', 0xc0, 12, 4, b'h', b'o', b's', b't', 0xc0, 12];
        for v in [2024u32, 7200, 3600, 1209600, 300] {
            soa.extend(v.to_be_bytes());
        }
        let m = answer(
            &q,
            &[
                (1, vec![192, 0, 2, 1]),
                (16, vec![5, b'h', b'e', b'l', b'"', b'o', 1, 0x07]),
                (15, vec![0, 10, 2, b'm', b'x', 0xc0, 12]),
                (6, soa),
                (99, vec![]),
                (4242, vec![1, 2]),
            ],
        );
        let r = decode(&m).expect("decode");
        assert_eq!(r.id, 7);
        let t: Vec<&str> = r.answer.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(t[0], "example.com.\t3600\tIN\tA\t192.0.2.1");
        assert_eq!(t[1], "example.com.\t3600\tIN\tTXT\t\"hel\\\"o\" \"\\007\"");
        assert_eq!(t[2], "example.com.\t3600\tIN\tMX\t10 mx.example.com.");
        assert_eq!(t[3], "example.com.\t3600\tIN\tSOA\tns.example.com. host.example.com. 2024 7200 3600 1209600 300");
        assert_eq!(r.answer[3].soa_serial, Some(2024));
        assert_eq!(t[5], "example.com.\t3600\tIN\tTYPE4242\t\\# 2 0102");
    }

    #[test]
    fn garbage_never_panics() {
        for m in [&[][..], &[0; 12], &[0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 12], &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0]] {
            let _ = decode(m);
        }
    }
}
