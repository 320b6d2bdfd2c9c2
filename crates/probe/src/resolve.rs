//! Target resolution with a preferred IP protocol and fallback
//! (blackbox_exporter's `chooseProtocol`), and the three series it
//! registers: `probe_ip_protocol`, `probe_dns_lookup_time_seconds`,
//! `probe_ip_addr_hash`. Names are resolved by the system resolver
//! (getaddrinfo: /etc/hosts, then DNS), as Go's resolver does on Linux.

use std::net::IpAddr;
use std::time::Instant;

use crate::{ProbeLog, Registry};

/// Where the lookup went and how long it took (seconds).
pub struct Resolution {
    pub ip: Result<IpAddr, String>,
    pub lookup_time: f64,
}

/// FNV-1a (32 bit) over the address bytes (4 for IPv4, 16 for IPv6), as a
/// float: `probe_ip_addr_hash`.
pub fn ip_hash(ip: IpAddr) -> f64 {
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets().to_vec(),
        },
    };
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h as f64
}

async fn lookup(host: &str, deadline: Instant) -> Result<Vec<IpAddr>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    if host.is_empty() {
        return Err("lookup: empty host name".into());
    }
    let fut = tokio::net::lookup_host((host.to_string(), 0u16));
    match tokio::time::timeout_at(deadline.into(), fut).await {
        Err(_) => Err(format!("lookup {host}: i/o timeout")),
        Ok(Err(e)) => Err(format!("lookup {host}: {e}")),
        Ok(Ok(addrs)) => {
            let mut out: Vec<IpAddr> = Vec::new();
            for a in addrs {
                if !out.contains(&a.ip()) {
                    out.push(a.ip());
                }
            }
            if out.is_empty() {
                Err(format!("lookup {host}: no such host"))
            } else {
                Ok(out)
            }
        }
    }
}

/// Resolves `host`, preferring `ip_protocol` (`ip4`, or `ip6` by default)
/// and falling back to the other family when `fallback` allows.
pub async fn choose_protocol(
    ip_protocol: &str,
    fallback: bool,
    host: &str,
    deadline: Instant,
    reg: &mut Registry,
    log: &mut ProbeLog,
) -> Resolution {
    reg.gauge("probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6");
    reg.gauge("probe_dns_lookup_time_seconds", "Returns the time taken for probe dns lookup in seconds");
    reg.gauge(
        "probe_ip_addr_hash",
        "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
    );
    let want_v4 = ip_protocol == "ip4";
    let proto = if want_v4 { "ip4" } else { "ip6" };
    log.info("Resolving target address", &[("target", &host), ("ip_protocol", &proto)]);
    let start = Instant::now();
    let res = lookup(host, deadline).await;
    let lookup_time = start.elapsed().as_secs_f64();
    reg.add("probe_dns_lookup_time_seconds", lookup_time);
    let ips = match res {
        Ok(ips) => ips,
        Err(e) => {
            log.error("Resolution with IP protocol failed", &[("target", &host), ("err", &e)]);
            return Resolution { ip: Err(e), lookup_time };
        }
    };
    let is_v4 = |ip: &IpAddr| match ip {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some(),
    };
    let found = ips.iter().find(|ip| is_v4(ip) == want_v4).copied();
    let chosen = match found {
        Some(ip) => Some(ip),
        None if fallback => ips.first().copied(),
        None => None,
    };
    match chosen {
        Some(ip) => {
            log.info("Resolved target address", &[("target", &host), ("ip", &ip)]);
            reg.set("probe_ip_protocol", if is_v4(&ip) { 4.0 } else { 6.0 });
            reg.set("probe_ip_addr_hash", ip_hash(ip));
            Resolution { ip: Ok(ip), lookup_time }
        }
        None => {
            let e = if fallback {
                "unable to find ip; no fallback".to_string()
            } else {
                format!("lookup {host}: no {proto} address")
            };
            log.error("Resolution with IP protocol failed", &[("target", &host), ("ip_protocol", &proto), ("err", &e)]);
            Resolution { ip: Err(e), lookup_time }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv32a_of_loopback() {
        // FNV-1a 32 of [127, 0, 0, 1].
        let mut h: u32 = 0x811c9dc5;
        for b in [127u8, 0, 0, 1] {
            h ^= b as u32;
            h = h.wrapping_mul(16777619);
        }
        assert_eq!(ip_hash("127.0.0.1".parse().expect("ip")), h as f64);
    }
}
