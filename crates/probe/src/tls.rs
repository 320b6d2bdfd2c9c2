//! TLS for the probers: the rustls client configuration of a `tls_config`
//! (shared with scraping, `bongsu_scrape::http::rustls_client_config`), the
//! connection state a probe reports, and the certificate facts behind the
//! `probe_ssl_*` / `probe_tls_version_info` series.
//!
//! Certificates are read with a small DER walker: only the fields the
//! series need (notAfter, subject, issuer, DNS subject alternative names),
//! formatted the way Go's `pkix.Name.String()` prints them.

use std::sync::Arc;

use bongsu_scrape::config::TlsConfig;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::Registry;

pub const HELP_EARLIEST: &str = "Returns last SSL chain expiry in unixtime";
pub const HELP_CHAIN: &str = "Returns last SSL chain expiry in timestamp";
pub const HELP_VERSION: &str = "Returns the TLS version used or NaN when unknown";
pub const HELP_CHAIN_INFO: &str = "Contains SSL leaf certificate information";
pub const CHAIN_INFO_LABELS: &[&str] = &["fingerprint_sha256", "subject", "issuer", "subjectalternative"];

/// Go's zero `time.Time` as a Unix timestamp: what blackbox_exporter
/// reports for a chain expiry it has no verified chain for.
pub const GO_ZERO_TIME_UNIX: f64 = -62_135_596_800.0;

/// What a finished handshake tells a probe.
#[derive(Debug, Clone)]
pub struct TlsState {
    pub version: Option<rustls::ProtocolVersion>,
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// The chain was verified (false with `insecure_skip_verify`).
    pub verified: bool,
    pub alpn: Option<Vec<u8>>,
}

impl TlsState {
    pub fn from_conn(conn: &rustls::ClientConnection, verified: bool) -> TlsState {
        TlsState {
            version: conn.protocol_version(),
            peer_certificates: conn.peer_certificates().map(|c| c.iter().map(|c| c.clone().into_owned()).collect()).unwrap_or_default(),
            verified,
            alpn: conn.alpn_protocol().map(|a| a.to_vec()),
        }
    }
}

/// A rustls client configuration for `tls`, offering `alpn`.
pub fn client_config(tls: &TlsConfig, alpn: &[&[u8]]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut t = tls.clone();
    // The name to verify is given to connect() instead (see `server_name`).
    t.server_name = None;
    let cfg = bongsu_scrape::http::rustls_client_config(&t, alpn.iter().map(|a| a.to_vec()).collect())?;
    Ok(Arc::new(cfg))
}

/// The name a TLS connection sends (SNI) and verifies: `tls_config.server_name`
/// when set, else `host` (an IP address is verified against IP SANs).
pub fn server_name(tls: &TlsConfig, host: &str) -> Result<ServerName<'static>, String> {
    let name = tls.server_name.as_deref().filter(|s| !s.is_empty()).unwrap_or(host);
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|e| format!("invalid TLS server name {name:?}: {e}"))
}

/// Go's `tls.VersionName`-style label: `TLS 1.2`, `TLS 1.3`.
pub fn version_label(v: Option<rustls::ProtocolVersion>) -> &'static str {
    match v {
        Some(rustls::ProtocolVersion::TLSv1_0) => "TLS 1.0",
        Some(rustls::ProtocolVersion::TLSv1_1) => "TLS 1.1",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        _ => "unknown",
    }
}

/// Registers and sets the four TLS families of the http and tcp probers.
pub fn register_tls_series(reg: &mut Registry, state: &TlsState) {
    reg.gauge("probe_ssl_earliest_cert_expiry", HELP_EARLIEST);
    reg.gauge_vec("probe_tls_version_info", HELP_VERSION, &["version"]);
    reg.gauge("probe_ssl_last_chain_expiry_timestamp_seconds", HELP_CHAIN);
    reg.gauge_vec("probe_ssl_last_chain_info", HELP_CHAIN_INFO, CHAIN_INFO_LABELS);
    let certs: Vec<Cert> = state.peer_certificates.iter().filter_map(|c| Cert::parse(c.as_ref()).ok()).collect();
    let earliest = certs.iter().map(|c| c.not_after).min();
    reg.set("probe_ssl_earliest_cert_expiry", earliest.map(|t| t as f64).unwrap_or(GO_ZERO_TIME_UNIX));
    reg.set_with("probe_tls_version_info", &[version_label(state.version)], 1.0);
    // Go reports the latest expiry among its verified chains; without
    // verification there is none and it reports the zero time. Bongsu takes
    // the presented chain as the verified one (the root from the trust store
    // is not part of it).
    let chain = if state.verified { earliest.map(|t| t as f64).unwrap_or(GO_ZERO_TIME_UNIX) } else { GO_ZERO_TIME_UNIX };
    reg.set("probe_ssl_last_chain_expiry_timestamp_seconds", chain);
    if let (Some(leaf_der), Some(leaf)) = (state.peer_certificates.first(), certs.first()) {
        let fp = fingerprint_sha256(leaf_der.as_ref());
        let san = leaf.dns_names.join(",");
        reg.set_with("probe_ssl_last_chain_info", &[&fp, &leaf.subject, &leaf.issuer, &san], 1.0);
    }
}

/// Lower-case hex SHA-256 of a certificate's DER.
pub fn fingerprint_sha256(der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    hex(d.as_ref())
}

fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(H[(x >> 4) as usize] as char);
        s.push(H[(x & 15) as usize] as char);
    }
    s
}

/// The certificate facts the series need.
#[derive(Debug, Clone, PartialEq)]
pub struct Cert {
    pub not_after: i64,
    pub subject: String,
    pub issuer: String,
    pub dns_names: Vec<String>,
}

/// One DER TLV: tag, contents, and the whole encoding.
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
    raw: &'a [u8],
}

fn read_tlv(b: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let err = || "malformed DER".to_string();
    let tag = *b.first().ok_or_else(err)?;
    if tag & 0x1f == 0x1f {
        return Err("multi-byte DER tags are not supported".into());
    }
    let l0 = *b.get(1).ok_or_else(err)?;
    let (len, hdr) = if l0 < 0x80 {
        (l0 as usize, 2)
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(err());
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i).ok_or_else(err)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len).ok_or_else(err)?;
    if end > b.len() {
        return Err(err());
    }
    Ok((Tlv { tag, body: &b[hdr..end], raw: &b[..end] }, &b[end..]))
}

fn read_all(mut b: &[u8]) -> Result<Vec<Tlv<'_>>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (t, rest) = read_tlv(b)?;
        out.push(t);
        b = rest;
    }
    Ok(out)
}

fn oid_string(b: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    for (i, &x) in b.iter().enumerate() {
        v = (v << 7) | (x & 0x7f) as u64;
        if x & 0x80 == 0 {
            if parts.is_empty() && i < b.len() {
                let (a, c) = if v < 40 { (0, v) } else if v < 80 { (1, v - 40) } else { (2, v - 80) };
                parts.push(a);
                parts.push(c);
            } else {
                parts.push(v);
            }
            v = 0;
        }
    }
    parts.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(".")
}

fn parse_time(t: &Tlv<'_>) -> Result<i64, String> {
    let s = std::str::from_utf8(t.body).map_err(|_| "bad time".to_string())?;
    let s = s.strip_suffix('Z').ok_or("certificate time is not UTC")?;
    let full = match t.tag {
        0x17 => {
            let yy: i32 = s.get(0..2).and_then(|x| x.parse().ok()).ok_or("bad UTCTime")?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{s}")
        }
        0x18 => s.to_string(),
        _ => return Err("unknown time type".into()),
    };
    let num = |a: usize, b: usize| -> Result<i32, String> { full.get(a..b).and_then(|x| x.parse().ok()).ok_or_else(|| "bad time".to_string()) };
    let (y, mo, d, h, mi) = (num(0, 4)?, num(4, 6)?, num(6, 8)?, num(8, 10)?, num(10, 12)?);
    let sec = if full.len() >= 14 { num(12, 14)? } else { 0 };
    let date = jiff::civil::date(y as i16, mo as i8, d as i8);
    let dt = date.at(h as i8, mi as i8, sec as i8, 0);
    let ts = dt.to_zoned(jiff::tz::TimeZone::UTC).map_err(|e| e.to_string())?;
    Ok(ts.timestamp().as_second())
}

/// Decodes a directory string to text (Go decodes these into a string).
fn directory_string(t: &Tlv<'_>) -> Option<String> {
    match t.tag {
        0x0c | 0x13 | 0x16 | 0x14 | 0x12 | 0x1a => Some(String::from_utf8_lossy(t.body).into_owned()),
        0x1e => {
            let units: Vec<u16> = t.body.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

/// Go's `isPrintable` for asn1 PrintableString (no `*`, no `&`).
fn go_printable(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c))
}

/// Go's `pkix.Name.String()`: standard attributes in Go's fixed order
/// (reversed: SERIALNUMBER, CN, OU, O, POSTALCODE, STREET, L, ST, C), then
/// other attributes as `OID=#hex`.
fn name_string(name: &Tlv<'_>) -> Result<String, String> {
    // (oid, value) in certificate order.
    let mut atvs: Vec<(String, Option<String>, Vec<u8>)> = Vec::new();
    for rdn in read_all(name.body)? {
        for atv in read_all(rdn.body)? {
            let parts = read_all(atv.body)?;
            if parts.len() != 2 || parts[0].tag != 0x06 {
                return Err("bad AttributeTypeAndValue".into());
            }
            atvs.push((oid_string(parts[0].body), directory_string(&parts[1]), parts[1].raw.to_vec()));
        }
    }
    // An RDN sequence as Go rebuilds it, then printed last-to-first.
    let mut rdns: Vec<Vec<(String, String)>> = Vec::new();
    let std_short = |oid: &str| -> Option<&'static str> {
        Some(match oid {
            "2.5.4.6" => "C",
            "2.5.4.10" => "O",
            "2.5.4.11" => "OU",
            "2.5.4.3" => "CN",
            "2.5.4.5" => "SERIALNUMBER",
            "2.5.4.7" => "L",
            "2.5.4.8" => "ST",
            "2.5.4.9" => "STREET",
            "2.5.4.17" => "POSTALCODE",
            _ => return None,
        })
    };
    for (oid, val, raw) in &atvs {
        if std_short(oid).is_none() {
            // Go re-marshals the decoded value: PrintableString if it can, else UTF8String.
            let enc = match val {
                Some(s) => {
                    let tag = if go_printable(s) { 0x13u8 } else { 0x0c };
                    let mut v = vec![tag];
                    let len = s.len();
                    if len < 0x80 {
                        v.push(len as u8);
                    } else if len < 0x100 {
                        v.extend([0x81, len as u8]);
                    } else {
                        v.extend([0x82, (len >> 8) as u8, len as u8]);
                    }
                    v.extend(s.as_bytes());
                    v
                }
                None => raw.clone(),
            };
            rdns.push(vec![(oid.clone(), format!("#{}", hex(&enc)))]);
        }
    }
    // Go's ToRDNSequence order: C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER.
    for oid in ["2.5.4.6", "2.5.4.8", "2.5.4.7", "2.5.4.9", "2.5.4.17", "2.5.4.10", "2.5.4.11"] {
        let vals: Vec<(String, String)> = atvs
            .iter()
            .filter(|(o, v, _)| o == oid && v.is_some())
            .map(|(o, v, _)| (std_short(o).unwrap_or("").to_string(), escape_rdn(v.as_deref().unwrap_or(""))))
            .collect();
        if !vals.is_empty() {
            rdns.push(vals);
        }
    }
    // CommonName and SerialNumber are single-valued in Go (the last one wins).
    for oid in ["2.5.4.3", "2.5.4.5"] {
        if let Some((o, Some(v), _)) = atvs.iter().rev().find(|(o, v, _)| o == oid && v.is_some()) {
            if !v.is_empty() {
                rdns.push(vec![(std_short(o).unwrap_or("").to_string(), escape_rdn(v))]);
            }
        }
    }
    let mut s = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            s.push(',');
        }
        for (j, (k, v)) in rdn.iter().enumerate() {
            if j > 0 {
                s.push('+');
            }
            s.push_str(k);
            s.push('=');
            s.push_str(v);
        }
    }
    Ok(s)
}

fn escape_rdn(v: &str) -> String {
    let n = v.chars().count();
    let mut out = String::with_capacity(v.len());
    for (k, c) in v.chars().enumerate() {
        let esc = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => k == 0 || k == n - 1,
            '#' => k == 0,
            _ => false,
        };
        if esc {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Cert {
    /// Reads the facts from a DER certificate; an error for anything else.
    pub fn parse(der: &[u8]) -> Result<Cert, String> {
        let (cert, _) = read_tlv(der)?;
        let parts = read_all(cert.body)?;
        let tbs = parts.first().ok_or("empty certificate")?;
        let f = read_all(tbs.body)?;
        let mut i = 0;
        if f.first().map(|t| t.tag) == Some(0xa0) {
            i = 1; // version
        }
        // serial, signature algorithm, issuer, validity, subject, spki
        let issuer = f.get(i + 2).ok_or("short TBSCertificate")?;
        let validity = f.get(i + 3).ok_or("short TBSCertificate")?;
        let subject = f.get(i + 4).ok_or("short TBSCertificate")?;
        let times = read_all(validity.body)?;
        let not_after = parse_time(times.get(1).ok_or("no notAfter")?)?;
        let mut dns_names = Vec::new();
        for ext_wrap in f.iter().skip(i + 6).filter(|t| t.tag == 0xa3) {
            let (exts, _) = read_tlv(ext_wrap.body)?;
            for ext in read_all(exts.body)? {
                let p = read_all(ext.body)?;
                if p.first().map(|t| oid_string(t.body)).as_deref() != Some("2.5.29.17") {
                    continue;
                }
                let Some(val) = p.iter().rev().find(|t| t.tag == 0x04) else { continue };
                let (gns, _) = read_tlv(val.body)?;
                for gn in read_all(gns.body)? {
                    if gn.tag == 0x82 {
                        dns_names.push(String::from_utf8_lossy(gn.body).into_owned());
                    }
                }
            }
        }
        Ok(Cert { not_after, subject: name_string(subject)?, issuer: name_string(issuer)?, dns_names })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdn_escaping_like_go() {
        assert_eq!(escape_rdn("a,b"), "a\\,b");
        assert_eq!(escape_rdn(" x "), "\\ x\\ ");
        assert_eq!(escape_rdn("#x#"), "\\#x#");
    }

    #[test]
    fn oids() {
        assert_eq!(oid_string(&[0x55, 0x04, 0x03]), "2.5.4.3");
        assert_eq!(oid_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]), "1.2.840.113549.1.9.1");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for b in [&[][..], &[0x30], &[0x30, 0x85, 1, 1, 1, 1, 1], &[0x30, 0x03, 0x30, 0x01]] {
            assert!(Cert::parse(b).is_err());
        }
    }
}
