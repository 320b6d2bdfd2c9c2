//! Bongsu's `/probe` against Debian's real `prometheus-blackbox-exporter`
//! (0.23): the same module file, the same local targets, the same
//! questions. Per probe both must agree on `probe_success`, on the set of
//! series (names and labels, label values included) and on every value that
//! does not depend on timing (status code, lengths, redirects, TLS facts,
//! hashes, DNS counts, …).
//!
//! Targets, all on 127.0.0.1 in this process: an HTTP server (healthy,
//! 500, bad body, slow past the timeout, a redirect, chunked), a refused
//! port, HTTPS with an expired self-signed certificate, a TCP line server,
//! a UDP DNS responder, and ICMP echo to 127.0.0.1.
//!
//! Run: `cargo test -p bongsu --test probe_vs_blackbox -- --nocapture`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;

const BLACKBOX: &str = "prometheus-blackbox-exporter";

/// Series values whose equality is required (the rest are timings).
const DETERMINISTIC: &[&str] = &[
    "probe_success",
    "probe_http_status_code",
    "probe_http_content_length",
    "probe_http_uncompressed_body_length",
    "probe_http_redirects",
    "probe_http_ssl",
    "probe_http_version",
    "probe_http_last_modified_timestamp_seconds",
    "probe_failed_due_to_regex",
    "probe_ssl_earliest_cert_expiry",
    "probe_ssl_last_chain_expiry_timestamp_seconds",
    "probe_tls_version_info",
    "probe_ssl_last_chain_info",
    "probe_ip_protocol",
    "probe_ip_addr_hash",
    "probe_dns_answer_rrs",
    "probe_dns_authority_rrs",
    "probe_dns_additional_rrs",
    "probe_dns_query_succeeded",
    "probe_dns_serial",
    "probe_icmp_reply_hop_limit",
    "probe_grpc_ssl",
    "probe_grpc_status_code",
    "probe_grpc_healthcheck_response",
];

const MODULES: &str = r#"modules:
  http_2xx:
    prober: http
    timeout: 2s
  http_body:
    prober: http
    timeout: 2s
    http:
      fail_if_body_not_matches_regexp: ["ok"]
      fail_if_body_matches_regexp: ["error"]
  http_header:
    prober: http
    timeout: 2s
    http:
      fail_if_header_not_matches:
        - header: Content-Type
          regexp: "^text/plain"
      fail_if_header_matches:
        - header: X-Missing
          regexp: ".*"
          allow_missing: true
  http_post:
    prober: http
    timeout: 2s
    http:
      method: POST
      body: "ping"
      valid_status_codes: [200]
      valid_http_versions: ["HTTP/1.1"]
  http_insecure:
    prober: http
    timeout: 2s
    http:
      tls_config:
        insecure_skip_verify: true
  http_ca:
    prober: http
    timeout: 2s
    http:
      fail_if_not_ssl: true
      tls_config:
        ca_file: @DIR@/ca.pem
        server_name: localhost
  http_no_redirect:
    prober: http
    timeout: 2s
    http:
      follow_redirects: false
      valid_status_codes: [302]
  http_need_ssl:
    prober: http
    timeout: 2s
    http:
      fail_if_not_ssl: true
  tcp_connect:
    prober: tcp
    timeout: 2s
  tcp_banner:
    prober: tcp
    timeout: 2s
    tcp:
      query_response:
        - expect: "^SSH-2.0-([^ ]+)"
          send: "SSH-2.0-probe ${1}"
        - expect: "^ACK SSH-2.0-probe"
  tcp_tls:
    prober: tcp
    timeout: 2s
    tcp:
      tls: true
      tls_config:
        ca_file: @DIR@/ca-tcp.pem
        server_name: localhost
      query_response:
        - expect: "^SSH-2.0-"
  tcp_banner_wrong:
    prober: tcp
    timeout: 2s
    tcp:
      query_response:
        - expect: "^NOPE"
  dns_a:
    prober: dns
    timeout: 2s
    dns:
      query_name: probe.test
      query_type: A
      preferred_ip_protocol: ip4
      validate_answer_rrs:
        fail_if_not_matches_regexp: ["probe\\.test\\.\t300\tIN\tA\t192\\.0\\.2\\.7"]
  dns_a_rejected:
    prober: dns
    timeout: 2s
    dns:
      query_name: probe.test
      query_type: A
      preferred_ip_protocol: ip4
      validate_answer_rrs:
        fail_if_matches_regexp: ["192\\.0\\.2\\.7"]
  dns_soa:
    prober: dns
    timeout: 2s
    dns:
      query_name: probe.test
      query_type: SOA
      preferred_ip_protocol: ip4
  dns_nxdomain:
    prober: dns
    timeout: 2s
    dns:
      query_name: missing.test
      query_type: A
      preferred_ip_protocol: ip4
      valid_rcodes: [NXDOMAIN]
  grpc_ok:
    prober: grpc
    timeout: 2s
    grpc:
      service: ok
      preferred_ip_protocol: ip4
  grpc_down:
    prober: grpc
    timeout: 2s
    grpc:
      service: down
      preferred_ip_protocol: ip4
  grpc_unknown:
    prober: grpc
    timeout: 2s
    grpc:
      service: nope
      preferred_ip_protocol: ip4
  icmp:
    prober: icmp
    timeout: 2s
    icmp:
      preferred_ip_protocol: ip4
"#;

/// Parsed exposition: series identity (name + sorted labels) → value text.
fn parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        out.insert(series.to_string(), value.to_string());
    }
    out
}

fn name_of(series: &str) -> &str {
    series.split('{').next().unwrap_or(series)
}

/// A tiny HTTP/1.1 server with one behaviour per path.
fn http_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(c) = conn else { continue };
            std::thread::spawn(move || serve_http(c));
        }
    });
    addr
}

fn read_request<S: Read>(s: &mut S) -> Option<(String, String)> {
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&req).to_string();
    let first = text.lines().next().unwrap_or("").to_string();
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    Some((method, path))
}

fn respond<S: Write>(s: &mut S, path: &str) {
    let lm = "Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\n";
    let resp = match path {
        "/500" => "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\noops\n".to_string(),
        "/bad" => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 15\r\nConnection: close\r\n\r\nerror happened\n".to_string(),
        "/slow" => {
            std::thread::sleep(Duration::from_secs(4));
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n".to_string()
        }
        "/redirect" => "HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
        "/json" => "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_string(),
        "/chunked" => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nok\n\r\n4\r\nmore\r\n0\r\n\r\n".to_string(),
        _ => format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n{lm}Content-Length: 12\r\nConnection: close\r\n\r\nall is ok!\r\n"),
    };
    let _ = s.write_all(resp.as_bytes());
    let _ = s.flush();
}

fn serve_http(mut c: std::net::TcpStream) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
    if let Some((_, path)) = read_request(&mut c) {
        respond(&mut c, &path);
    }
}

/// HTTPS with a self-signed certificate for `localhost`: expired on
/// 2021-01-01, or valid until 2099 (its PEM written to `ca_pem` for a
/// module's `ca_file`). Speaks HTTP/1.1, or plain lines (`tls_lines`: an
/// SSH-style banner, like `tcp_line_server`).
fn tls_server(expired: bool, ca_pem: &std::path::Path, tls_lines: bool) -> (String, i64) {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "bongsu probe test");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "Bongsu, Inc.");
    params.distinguished_name.push(rcgen::DnType::CountryName, "KR");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    let (not_after, unix) = if expired { (rcgen::date_time_ymd(2021, 1, 1), 1_609_459_200) } else { (rcgen::date_time_ymd(2099, 1, 1), 4_070_908_800) };
    params.not_after = not_after;
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    std::fs::write(ca_pem, cert.pem()).expect("write ca");
    let der = cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("key der");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![der], key_der)
        .expect("server config");
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let cfg = Arc::new(cfg);
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(tcp) = conn else { continue };
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok(conn) = rustls::ServerConnection::new(cfg) else { return };
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                if tls_lines {
                    let _ = tls.write_all(b"SSH-2.0-BongsuTest_1.0 hello\r\n");
                    let _ = tls.flush();
                    let mut buf = [0u8; 256];
                    let _ = tls.read(&mut buf);
                    return;
                }
                if let Some((_, path)) = read_request(&mut tls) {
                    respond(&mut tls, &path);
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
            });
        }
    });
    (addr, unix)
}

/// A line server: greets with an SSH-style banner, answers the client's
/// line with `ACK <line>`.
fn tcp_line_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            std::thread::spawn(move || {
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = c.write_all(b"SSH-2.0-BongsuTest_1.0 hello\r\n");
                let mut r = BufReader::new(match c.try_clone() {
                    Ok(x) => x,
                    Err(_) => return,
                });
                let mut line = String::new();
                if r.read_line(&mut line).is_ok() && !line.is_empty() {
                    let _ = c.write_all(format!("ACK {}\r\n", line.trim_end()).as_bytes());
                }
            });
        }
    });
    addr
}

/// A UDP DNS responder: `probe.test` A 192.0.2.7 (TTL 300) and a SOA;
/// NXDOMAIN for anything else.
fn dns_server() -> String {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = s.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        loop {
            let Ok((n, peer)) = s.recv_from(&mut buf) else { continue };
            let q = &buf[..n];
            if q.len() < 17 {
                continue;
            }
            // Question name ends at the first zero byte after the header.
            let Some(end) = q[12..].iter().position(|&b| b == 0).map(|p| 12 + p + 1) else { continue };
            if q.len() < end + 4 {
                continue;
            }
            let qname = &q[12..end];
            let qtype = u16::from_be_bytes([q[end], q[end + 1]]);
            let known = qname == b"\x05probe\x04test\x00";
            let mut r = Vec::new();
            r.extend(&q[0..2]);
            r.extend([0x81, if known { 0x80 } else { 0x83 }]);
            r.extend([0, 1]);
            let mut answers: Vec<(u16, Vec<u8>)> = Vec::new();
            if known && qtype == 1 {
                answers.push((1, vec![192, 0, 2, 7]));
            }
            if known && qtype == 6 {
                let mut soa = vec![2, b'n', b's', 0xc0, 12, 4, b'h', b'o', b's', b't', 0xc0, 12];
                for v in [2024051501u32, 7200, 3600, 1209600, 300] {
                    soa.extend(v.to_be_bytes());
                }
                answers.push((6, soa));
            }
            r.extend((answers.len() as u16).to_be_bytes());
            r.extend([0, 0, 0, 0]);
            r.extend(&q[12..end + 4]);
            for (t, rd) in answers {
                r.extend([0xc0, 12]);
                r.extend(t.to_be_bytes());
                r.extend([0, 1]);
                r.extend(300u32.to_be_bytes());
                r.extend((rd.len() as u16).to_be_bytes());
                r.extend(rd);
            }
            let _ = s.send_to(&r, peer);
        }
    });
    addr
}

/// A gRPC health service over HTTP/2 (prior knowledge), written on the h2
/// crate: `""` and `ok` are SERVING, `down` is NOT_SERVING, anything else
/// answers NOT_FOUND (5), like grpc-go's health server.
fn grpc_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let addr = l.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).expect("listener");
            loop {
                let Ok((sock, _)) = l.accept().await else { continue };
                tokio::spawn(async move {
                    let Ok(mut conn) = h2::server::handshake(sock).await else { return };
                    while let Some(Ok((req, mut respond))) = conn.accept().await {
                        tokio::spawn(async move {
                            let mut body = req.into_body();
                            let mut msg = Vec::new();
                            while let Some(Ok(chunk)) = body.data().await {
                                let _ = body.flow_control().release_capacity(chunk.len());
                                msg.extend_from_slice(&chunk);
                            }
                            // HealthCheckRequest: field 1 (service) after the 5-byte prefix.
                            let service = if msg.len() > 7 && msg[5] == 0x0a { String::from_utf8_lossy(&msg[7..]).into_owned() } else { String::new() };
                            let resp = http::Response::builder().status(200).header("content-type", "application/grpc").body(()).expect("response");
                            let Ok(mut stream) = respond.send_response(resp, false) else { return };
                            let mut trailers = http::HeaderMap::new();
                            let status = match service.as_str() {
                                "" | "ok" => Some(1u8),
                                "down" => Some(2),
                                _ => None,
                            };
                            match status {
                                Some(st) => {
                                    let _ = stream.send_data(bytes::Bytes::from(vec![0, 0, 0, 0, 2, 0x08, st]), false);
                                    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                                }
                                None => {
                                    trailers.insert("grpc-status", http::HeaderValue::from_static("5"));
                                    trailers.insert("grpc-message", http::HeaderValue::from_static("unknown service"));
                                }
                            }
                            let _ = stream.send_trailers(trailers);
                        });
                    }
                });
            }
        });
    });
    addr
}

fn probe(addr: &str, module: &str, target: &str) -> (String, Duration) {
    let path = format!("/probe?module={module}&target={}", enc(target));
    let t0 = Instant::now();
    let r = http_with("GET", addr, &path, &[("X-Prometheus-Scrape-Timeout-Seconds", "5")], None)
        .unwrap_or_else(|e| panic!("GET {addr}{path}: {e}"));
    let took = t0.elapsed();
    assert_eq!(r.status, 200, "{addr}{path}: {}", r.body);
    (r.body, took)
}

fn icmp_possible() -> bool {
    // Root (raw sockets) or a ping group that includes ours.
    let uid = std::process::Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false);
    if uid {
        return true;
    }
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
    let gid: u64 = std::process::Command::new("id").arg("-g").output().ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(u64::MAX);
    let mut it = range.split_whitespace().filter_map(|x| x.parse::<u64>().ok());
    matches!((it.next(), it.next()), (Some(a), Some(b)) if a <= gid && gid <= b)
}

#[test]
fn probe_vs_blackbox() {
    let Some(bbe) = tool(BLACKBOX) else {
        eprintln!("!! SKIPPING probe_vs_blackbox: {BLACKBOX} is not installed (apt-get install prometheus-blackbox-exporter)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let modules = dir.path().join("blackbox.yml");
    let text = MODULES.replace("@DIR@", &dir.path().display().to_string());
    std::fs::write(&modules, text).expect("write modules");

    let bbe_port = free_port();
    let bbe_addr = format!("127.0.0.1:{bbe_port}");
    let mut bbe_proc = Proc::spawn(
        "blackbox",
        std::process::Command::new(&bbe)
            .arg(format!("--config.file={}", modules.display()))
            .arg(format!("--web.listen-address={bbe_addr}")),
        dir.path(),
    );
    let data = dir.path().join("data");
    let mut bongsu = Bongsu::start(dir.path(), &data, &[&format!("--probe.config.file={}", modules.display())]);
    wait_for("blackbox_exporter ready", Duration::from_secs(30), || {
        http("GET", &bbe_addr, "/-/healthy", None).ok().filter(|r| r.status == 200).map(|_| ())
    });

    let web = http_server();
    let (tls_addr, expiry) = tls_server(true, &dir.path().join("expired.pem"), false);
    let (valid_addr, _) = tls_server(false, &dir.path().join("ca.pem"), false);
    let (tls_line, _) = tls_server(false, &dir.path().join("ca-tcp.pem"), true);
    let line = tcp_line_server();
    let dns = dns_server();
    let grpc = grpc_server();
    let refused = format!("127.0.0.1:{}", free_port());

    let mut cases: Vec<(&str, String, Option<bool>)> = vec![
        ("http_2xx", format!("http://{web}/"), Some(true)),
        ("http_2xx", web.clone(), Some(true)),
        ("http_2xx", format!("http://{web}/500"), Some(false)),
        ("http_2xx", format!("http://{web}/slow"), Some(false)),
        ("http_2xx", format!("http://{web}/redirect"), Some(true)),
        ("http_2xx", format!("http://{web}/chunked"), Some(true)),
        ("http_2xx", format!("http://{refused}/"), Some(false)),
        ("http_2xx", "http://no-such-host.invalid/".to_string(), Some(false)),
        ("http_body", format!("http://{web}/"), Some(true)),
        ("http_body", format!("http://{web}/bad"), Some(false)),
        ("http_header", format!("http://{web}/"), Some(true)),
        ("http_header", format!("http://{web}/json"), Some(false)),
        ("http_post", format!("http://{web}/"), Some(true)),
        ("http_no_redirect", format!("http://{web}/redirect"), Some(true)),
        ("http_need_ssl", format!("http://{web}/"), Some(false)),
        ("http_2xx", format!("https://{tls_addr}/"), Some(false)),
        ("http_insecure", format!("https://{tls_addr}/"), Some(true)),
        ("http_need_ssl", format!("https://{tls_addr}/"), Some(false)),
        ("http_ca", format!("https://{valid_addr}/"), Some(true)),
        ("http_ca", format!("https://{valid_addr}/redirect"), Some(true)),
        ("tcp_tls", tls_line.clone(), Some(true)),
        ("tcp_connect", line.clone(), Some(true)),
        ("tcp_connect", refused.clone(), Some(false)),
        ("tcp_banner", line.clone(), Some(true)),
        ("tcp_banner_wrong", line.clone(), Some(false)),
        ("grpc_ok", grpc.clone(), Some(true)),
        ("grpc_down", grpc.clone(), Some(false)),
        ("grpc_unknown", grpc.clone(), Some(false)),
        ("grpc_ok", refused.clone(), Some(false)),
        ("dns_a", dns.clone(), Some(true)),
        ("dns_a_rejected", dns.clone(), Some(false)),
        ("dns_soa", dns.clone(), Some(true)),
        ("dns_nxdomain", dns.clone(), Some(true)),
    ];
    if icmp_possible() {
        cases.push(("icmp", "127.0.0.1".to_string(), Some(true)));
    } else {
        eprintln!(
            "!! ICMP NOT COMPARED: neither root nor a ping group (net.ipv4.ping_group_range) allows ICMP here; \
             both probers would just fail to open a socket"
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("ICMP is required under CI=true (CI runs as root)");
        }
    }

    let mut failures: Vec<String> = Vec::new();
    let mut compared = 0;
    for (module, target, want) in &cases {
        let (theirs, _) = probe(&bbe_addr, module, target);
        let (ours, _) = probe(&bongsu.addr, module, target);
        let t = parse(&theirs);
        let o = parse(&ours);
        let label = format!("{module} {target}");
        let ts: BTreeSet<&String> = t.keys().collect();
        let os: BTreeSet<&String> = o.keys().collect();
        for s in ts.difference(&os) {
            failures.push(format!("{label}: missing in Bongsu: {s}"));
        }
        for s in os.difference(&ts) {
            failures.push(format!("{label}: only in Bongsu: {s}"));
        }
        for (s, tv) in &t {
            if !DETERMINISTIC.contains(&name_of(s)) {
                continue;
            }
            // Compared as text: the value must also be written the way client_golang writes it.
            if let Some(ov) = o.get(s) {
                if tv != ov {
                    failures.push(format!("{label}: {s}: blackbox_exporter {tv}, Bongsu {ov}"));
                }
            }
        }
        let succ = t.get("probe_success").cloned();
        if let (Some(w), Some(s)) = (want, &succ) {
            if (s == "1") != *w {
                failures.push(format!("{label}: the test expected probe_success {} (blackbox_exporter says {s})", *w as u8));
            }
        }
        compared += 1;
        println!(
            "{:<18} {:<45} probe_success blackbox_exporter {} Bongsu {} ({} series)",
            module,
            target,
            succ.as_deref().unwrap_or("-"),
            o.get("probe_success").map(String::as_str).unwrap_or("-"),
            o.len()
        );
        if std::env::var("PROBE_DIFF_SHOW").is_ok() {
            println!("--- blackbox_exporter\n{theirs}--- Bongsu\n{ours}");
        }
    }
    // The expired certificate's facts, checked against what the test made.
    let (ours, _) = probe(&bongsu.addr, "http_insecure", &format!("https://{tls_addr}/"));
    assert!(ours.contains(&format!("probe_ssl_earliest_cert_expiry {}", bongsu_probe::go_float(expiry as f64))), "{ours}");
    assert!(ours.contains("subject=\"CN=bongsu probe test,O=Bongsu\\\\, Inc.,C=KR\""), "{ours}");

    // Latency on the healthy target: median of N sequential probes each.
    let n = 25;
    let lat = |addr: &str| {
        let mut v: Vec<f64> = (0..n).map(|_| probe(addr, "http_2xx", &format!("http://{web}/")).1.as_secs_f64() * 1000.0).collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        v[n / 2]
    };
    let theirs_ms = lat(&bbe_addr);
    let ours_ms = lat(&bongsu.addr);
    println!("healthy http_2xx probe, median of {n}: blackbox_exporter {theirs_ms:.2} ms, Bongsu {ours_ms:.2} ms");

    bongsu.proc.stop();
    bbe_proc.stop();
    if !failures.is_empty() {
        panic!("{} differences over {compared} probes:\n  {}", failures.len(), failures.join("\n  "));
    }
    println!("{compared} probes compared, 0 differences");
}
