//! Test support: start the real `bongsu` binary (and real peers) on loopback
//! ports, talk HTTP to them, and clean up by PID.
#![allow(dead_code)]

pub mod service;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The path of an installed tool (a real peer); `None` (said loudly) when
/// absent, a panic under `CI=true` where `scripts/test.sh` installs it.
pub fn tool(name: &str) -> Option<String> {
    let out = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().ok()?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if p.is_empty() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{name} is required under CI=true (scripts/test.sh installs it)");
        }
        eprintln!("!! {name} not installed: skipping the part of this test that needs it");
        None
    } else {
        Some(p)
    }
}

pub fn bongsu_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bongsu"))
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A child process killed (SIGKILL) when dropped.
pub struct Proc {
    pub child: Option<Child>,
    pub name: String,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, log_dir: &Path) -> Proc {
        let log = log_dir.join(format!("{name}.log"));
        let f = std::fs::File::create(&log).expect("log file");
        let f2 = f.try_clone().expect("clone");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(f))
            .stderr(Stdio::from(f2))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { child: Some(child), name: name.into(), log }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (bounded), then SIGKILL.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- {} log ----\n{}", self.name, tail(&self.log_text(), 4000));
        }
        self.kill9();
    }
}

fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        s
    } else {
        let mut i = s.len() - n;
        while !s.is_char_boundary(i) {
            i += 1;
        }
        &s[i..]
    }
}

pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Minimal HTTP/1.1 client (Connection: close), bounded by a timeout.
pub fn http(method: &str, addr: &str, path: &str, body: Option<&str>) -> std::io::Result<Response> {
    http_with(method, addr, path, &[], body)
}

/// [`http`] with extra request headers (a form body unless they name a
/// `Content-Type`).
pub fn http_with(method: &str, addr: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> std::io::Result<Response> {
    let mut all: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 1);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        all.push(("Content-Type", "application/x-www-form-urlencoded"));
    }
    all.extend_from_slice(headers);
    http_bytes(method, addr, path, &all, body.unwrap_or("").as_bytes())
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].strip_prefix("\r\n").unwrap_or(&after[n..]);
    }
    out
}

pub fn get(addr: &str, path: &str) -> Response {
    http("GET", addr, path, None).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

pub fn post(addr: &str, path: &str, form: &str) -> Response {
    http("POST", addr, path, Some(form)).unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// Percent-encodes a query parameter value.
pub fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => o.push(b as char),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// Polls `f` every 200 ms until it returns Some or `timeout` passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Instant query through the API; returns the `data` object.
pub fn query(addr: &str, q: &str) -> serde_json::Value {
    let r = post(addr, "/api/v1/query", &format!("query={}", enc(q)));
    let j = r.json();
    assert_eq!(j["status"], "success", "query {q} failed: {}", r.body);
    j["data"].clone()
}

/// Values of an instant vector result, keyed by the metric's JSON.
pub fn vector_values(data: &serde_json::Value) -> Vec<(serde_json::Value, f64)> {
    data["result"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| (s["metric"].clone(), s["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)))
                .collect()
        })
        .unwrap_or_default()
}

/// A tiny exposition server on 127.0.0.1: serves whatever body the shared
/// cell holds at any path, with the given content type.
pub struct ExpositionServer {
    pub addr: String,
    pub body: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ExpositionServer {
    pub fn start(initial: &str) -> ExpositionServer {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        let body = std::sync::Arc::new(std::sync::Mutex::new(initial.to_string()));
        let b2 = body.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                let b = b2.clone();
                std::thread::spawn(move || {
                    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut buf = [0u8; 4096];
                    let mut req = Vec::new();
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match c.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body = b.lock().map(|g| g.clone()).unwrap_or_default();
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                        body.len(),
                        body
                    );
                    let _ = c.write_all(resp.as_bytes());
                });
            }
        });
        ExpositionServer { addr, body }
    }

    pub fn set(&self, body: &str) {
        if let Ok(mut g) = self.body.lock() {
            *g = body.to_string();
        }
    }
}

/// A running Bongsu server with its data dir and address.
pub struct Bongsu {
    pub proc: Proc,
    pub addr: String,
    pub data: PathBuf,
    pub dir: PathBuf,
}

impl Bongsu {
    /// Starts `bongsu run` with the given extra args on a free port and
    /// waits until `/-/ready` answers 200.
    pub fn start(dir: &Path, data: &Path, extra: &[&str]) -> Bongsu {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(bongsu_bin());
        cmd.arg("run")
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .args(extra);
        let proc = Proc::spawn(&format!("bongsu-{port}"), &mut cmd, dir);
        let b = Bongsu { proc, addr: addr.clone(), data: data.to_path_buf(), dir: dir.to_path_buf() };
        wait_for("bongsu ready", Duration::from_secs(60), || {
            http("GET", &addr, "/-/ready", None).ok().filter(|r| r.status == 200).map(|_| ())
        });
        b
    }
}

/// An HTTP server on 127.0.0.1 that answers 200 to everything and keeps
/// the body of every POST (a webhook receiver).
pub struct CaptureServer {
    pub addr: String,
    pub posts: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl CaptureServer {
    pub fn start() -> CaptureServer {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        let posts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let p2 = posts.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                let p = p2.clone();
                std::thread::spawn(move || {
                    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                    let Some((head, body)) = read_request(&mut c, &mut Vec::new()) else { return };
                    if head.starts_with("post") {
                        if let Ok(mut g) = p.lock() {
                            g.push(String::from_utf8_lossy(&body).into_owned());
                        }
                    }
                    let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                });
            }
        });
        CaptureServer { addr, posts }
    }

    pub fn bodies(&self) -> Vec<String> {
        self.posts.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

/// Reads one HTTP/1.1 request from `c` (what is already in `req` first;
/// bytes after it stay there for the next request on a kept-alive
/// connection): its head, lower-cased, and its body. `None` when the
/// connection ends first.
pub fn read_request(c: &mut TcpStream, req: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let mut buf = [0u8; 8192];
    let mut fill = |req: &mut Vec<u8>| match c.read(&mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            req.extend_from_slice(&buf[..n]);
            true
        }
    };
    let head_end = loop {
        if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if !fill(req) {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&req[..head_end]).to_ascii_lowercase();
    let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))).unwrap_or(0);
    while req.len() < head_end + len {
        if !fill(req) {
            return None;
        }
    }
    let body = req[head_end..head_end + len].to_vec();
    req.drain(..head_end + len);
    Some((head, body))
}

/// [`http_with`] for a binary body (remote write requests).
pub fn http_bytes(method: &str, addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr.parse().expect("addr"), Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.set_write_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{}Content-Length: {}\r\n\r\n",
        headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect::<String>(),
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(rest) } else { rest.to_string() };
    Ok(Response { status, headers: head.to_string(), body })
}

/// Starts `bongsu` with any subcommand and arguments on a free port and
/// waits until `/-/ready` answers 200.
pub fn start_bongsu_cmd(dir: &Path, name: &str, args: &[String]) -> (Proc, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(bongsu_bin());
    cmd.args(args).arg(format!("--web.listen-address={addr}"));
    let proc = Proc::spawn(&format!("{name}-{port}"), &mut cmd, dir);
    wait_for(&format!("{name} ready"), Duration::from_secs(60), || {
        http("GET", &addr, "/-/ready", None).ok().filter(|r| r.status == 200).map(|_| ())
    });
    (proc, addr)
}
