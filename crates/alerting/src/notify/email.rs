//! Email over SMTP (`notify/email`), through `lettre`'s SMTP connection on
//! rustls: implicit TLS on port 465 (or `force_implicit_tls`), else STARTTLS
//! when `require_tls` (the default; a server that does not offer it is an
//! error), AUTH PLAIN or LOGIN when `auth_username` is set and the server
//! offers AUTH. The message is written as Alertmanager writes it: every
//! `headers` entry templated (Subject, To and From by default) and
//! Q-encoded, a `Message-Id`, optional threading headers, and a
//! `multipart/alternative` body with the text part (if `text` is set) and
//! the HTML part, both quoted-printable.

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::{EmailConfig, DEFAULT_EMAIL_SUBJECT};
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// How long connecting and each SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Email {
    conf: EmailConfig,
    /// `headers` with Subject, To and From filled in.
    headers: BTreeMap<String, String>,
    hostname: String,
}

impl Email {
    pub fn new(c: &EmailConfig) -> Result<Email, String> {
        let mut headers = c.headers.clone();
        headers.entry("Subject".into()).or_insert_with(|| DEFAULT_EMAIL_SUBJECT.to_string());
        headers.entry("To".into()).or_insert_with(|| c.to.clone());
        headers.entry("From".into()).or_insert_with(|| c.from.clone());
        if let Some(t) = &c.tls_config {
            if t.cert_file.as_deref().is_some_and(|s| !s.is_empty()) || t.cert.as_deref().is_some_and(|s| !s.is_empty()) {
                return Err("email_configs: a TLS client certificate (tls_config.cert/cert_file) is not supported yet by Bongsu's Alertmanager".into());
            }
        }
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost.localdomain".into());
        Ok(Email { conf: c.clone(), headers, hostname })
    }

    fn implicit_tls(&self) -> bool {
        self.conf.force_implicit_tls.unwrap_or(self.conf.smarthost.port == "465")
    }

    fn tls_parameters(&self) -> Result<TlsParameters, NotifyError> {
        let t = self.conf.tls_config.clone().unwrap_or_default();
        let domain = t.server_name.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| self.conf.smarthost.host.clone());
        let pem: Vec<u8> = match (&t.ca_file, &t.ca) {
            (Some(f), _) if !f.is_empty() => {
                std::fs::read(f).map_err(|e| NotifyError::fatal(format!("unable to load specified CA cert {f}: {e}")))?
            }
            (_, Some(inline)) if !inline.is_empty() => inline.as_bytes().to_vec(),
            _ => ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"]
                .iter()
                .find_map(|p| std::fs::read(p).ok())
                .unwrap_or_default(),
        };
        let mut b = TlsParameters::builder(domain).certificate_store(CertificateStore::None);
        if !pem.is_empty() {
            let cert = Certificate::from_pem(&pem).map_err(|e| NotifyError::fatal(format!("parse TLS configuration: {e}")))?;
            b = b.add_root_certificate(cert);
        }
        if t.insecure_skip_verify {
            b = b.dangerous_accept_invalid_certs(true);
        }
        b.build_rustls().map_err(|e| NotifyError::fatal(format!("parse TLS configuration: {e}")))
    }

    fn password(&self) -> Result<String, NotifyError> {
        common::secret_or_file(self.conf.auth_password.expose(), &self.conf.auth_password_file, "auth_password_file")
    }

    /// The message (headers and body) for a notification, CRLF line ends.
    pub fn message(&self, n: &Notification, t: &Tmpl) -> Result<String, NotifyError> {
        let mut out = String::new();
        for (h, tmpl) in &self.headers {
            let v = t.text(tmpl).map_err(|e| NotifyError::fatal(format!("execute {h:?} header template: {}", e.message)))?;
            let _ = write!(out, "{h}: {}\r\n", q_encode(&v));
        }
        if !self.headers.contains_key("Message-Id") {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            let _ = write!(out, "Message-Id: <{nanos}.{}@{}>\r\n", rand::random::<u64>(), self.hostname);
        }
        if self.conf.threading.enabled {
            let by = if self.conf.threading.thread_by_date == "none" {
                String::new()
            } else {
                jiff::Zoned::now().strftime("%Y-%m-%d").to_string()
            };
            let hash = common::group_key_hash(&n.group_key);
            let root = format!("<alert-{}-{by}@alertmanager>", &hash[..16]);
            let _ = write!(out, "References: {root}\r\nIn-Reply-To: {root}\r\n");
        }
        let boundary: String = (0..30).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
        let _ = write!(out, "Date: {}\r\n", jiff::Zoned::now().strftime("%a, %d %b %Y %H:%M:%S %z"));
        let _ = write!(out, "Content-Type: multipart/alternative;  boundary={boundary}\r\n");
        out.push_str("MIME-Version: 1.0\r\n\r\n");
        let mut first = true;
        let mut part = |out: &mut String, ctype: &str, body: &str| {
            if !first {
                out.push_str("\r\n");
            }
            first = false;
            let _ = write!(
                out,
                "--{boundary}\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: {ctype}; charset=UTF-8\r\n\r\n{}",
                quoted_printable(body)
            );
        };
        if !self.conf.text.is_empty() {
            let body = t.text(&self.conf.text).map_err(|e| NotifyError::fatal(format!("execute text template: {}", e.message)))?;
            part(&mut out, "text/plain", &body);
        }
        if !self.conf.html.is_empty() {
            let body = t.html(&self.conf.html).map_err(|e| NotifyError::fatal(format!("execute html template: {}", e.message)))?;
            part(&mut out, "text/html", &body);
        }
        let _ = write!(out, "\r\n--{boundary}--\r\n");
        Ok(out)
    }

    async fn deliver(&self, n: &Notification, cx: &NotifyContext) -> Result<(), NotifyError> {
        let c = &self.conf;
        let t = Tmpl::new(n, cx);
        let from = t.text(&c.from).map_err(|e| NotifyError::fatal(format!("execute 'from' template: {}", e.message)))?;
        let to = t.text(&c.to).map_err(|e| NotifyError::fatal(format!("execute 'to' template: {}", e.message)))?;
        let froms = parse_address_list(&from).map_err(|e| NotifyError::fatal(format!("parse 'from' addresses: {e}")))?;
        if froms.len() != 1 {
            return Err(NotifyError::fatal(format!("must be exactly one 'from' address (got: {})", froms.len())));
        }
        let tos = parse_address_list(&to).map_err(|e| NotifyError::fatal(format!("parse 'to' addresses: {e}")))?;
        let envelope = Envelope::new(Some(froms[0].clone()), tos).map_err(|e| NotifyError::fatal(format!("envelope: {e}")))?;
        let message = self.message(n, &t)?;

        let implicit = self.implicit_tls();
        let hello = ClientId::Domain(if c.hello.is_empty() { "localhost".into() } else { c.hello.clone() });
        let port: u16 = c.smarthost.port.parse().map_err(|_| NotifyError::fatal(format!("invalid smarthost port {:?}", c.smarthost.port)))?;
        let host = c.smarthost.host.as_str();
        let tls = if implicit || c.require_tls.unwrap_or(true) { Some(self.tls_parameters()?) } else { None };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (host, port),
            Some(SMTP_TIMEOUT),
            &hello,
            if implicit { tls.clone() } else { None },
            None,
        )
        .await
        .map_err(|e| NotifyError::retry(format!("establish connection to server: {e}")))?;
        self.session(&mut conn, &hello, tls, implicit, &envelope, &message).await?;
        // Only a healthy session is closed politely: after a failed TLS
        // upgrade lettre's stream is gone, and QUIT on it would panic.
        let _ = conn.quit().await;
        Ok(())
    }

    async fn session(
        &self,
        conn: &mut AsyncSmtpConnection,
        hello: &ClientId,
        tls: Option<TlsParameters>,
        implicit: bool,
        envelope: &Envelope,
        message: &str,
    ) -> Result<(), NotifyError> {
        let c = &self.conf;
        if c.require_tls.unwrap_or(true) && !implicit {
            if !conn.can_starttls() {
                return Err(NotifyError::retry(format!(
                    "'require_tls' is true (default) but \"{}\" does not advertise the STARTTLS extension",
                    c.smarthost
                )));
            }
            if let Some(tls) = tls {
                conn.starttls(tls, hello).await.map_err(|e| NotifyError::retry(format!("send STARTTLS command: {e}")))?;
            }
        }
        let info = conn.server_info();
        let offers_auth = [Mechanism::Plain, Mechanism::Login, Mechanism::Xoauth2].into_iter().any(|m| info.supports_auth_mechanism(m));
        if offers_auth && !c.auth_username.is_empty() {
            let mechs: Vec<Mechanism> = [Mechanism::Plain, Mechanism::Login].into_iter().filter(|m| info.supports_auth_mechanism(*m)).collect();
            if mechs.is_empty() {
                return Err(NotifyError::retry("find auth mechanism: the server offers neither PLAIN nor LOGIN (CRAM-MD5 is not supported yet)"));
            }
            let password = self.password()?;
            if password.is_empty() {
                return Err(NotifyError::retry(format!("find auth mechanism: missing password for {} auth mechanism", mechs[0])));
            }
            let creds = Credentials::new(c.auth_username.clone(), password);
            conn.auth(&mechs, &creds).await.map_err(|e| smtp_error("auth", e))?;
        }
        conn.send(envelope, message.as_bytes()).await.map_err(|e| smtp_error("delivery failure", e))?;
        Ok(())
    }
}

/// A permanent SMTP rejection (5xx) will not change on retry; the rest may.
fn smtp_error(what: &str, e: lettre::transport::smtp::Error) -> NotifyError {
    let m = format!("{what}: {e}");
    if e.is_permanent() {
        NotifyError::fatal(m)
    } else {
        NotifyError::retry(m)
    }
}

/// Go's `mail.ParseAddressList`, as far as addresses go: `a@b`,
/// `Name <a@b>`, `"Quoted, Name" <a@b>`, separated by commas.
pub fn parse_address_list(s: &str) -> Result<Vec<Address>, String> {
    let mut items = Vec::new();
    let (mut cur, mut quoted, mut angle) = (String::new(), false, false);
    for ch in s.chars() {
        match ch {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                items.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    items.push(cur);
    let mut out = Vec::new();
    for it in items {
        let it = it.trim();
        if it.is_empty() {
            return Err("mail: no address".into());
        }
        let addr = match (it.rfind('<'), it.rfind('>')) {
            (Some(a), Some(b)) if a < b => &it[a + 1..b],
            _ => it,
        };
        out.push(addr.trim().parse::<Address>().map_err(|e| format!("{addr:?}: {e}"))?);
    }
    Ok(out)
}

/// Go's `mime.QEncoding.Encode("utf-8", s)`: unchanged when printable
/// ASCII, else encoded words of at most 75 characters.
pub fn q_encode(s: &str) -> String {
    if !s.bytes().any(|b| !(b' '..=b'~').contains(&b) && b != b'\t') {
        return s.to_string();
    }
    const PREFIX: &str = "=?utf-8?q?";
    const MAX: usize = 75;
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    for ch in s.chars() {
        let mut enc = String::new();
        let mut buf = [0u8; 4];
        for &b in ch.encode_utf8(&mut buf).as_bytes() {
            match b {
                b' ' => enc.push('_'),
                b'!'..=b'~' if b != b'=' && b != b'?' && b != b'_' => enc.push(b as char),
                _ => {
                    let _ = write!(enc, "={b:02X}");
                }
            }
        }
        if PREFIX.len() + cur.len() + enc.len() + 2 > MAX && !cur.is_empty() {
            words.push(format!("{PREFIX}{cur}?="));
            cur.clear();
        }
        cur.push_str(&enc);
    }
    words.push(format!("{PREFIX}{cur}?="));
    words.join(" ")
}

/// Go's `mime/quotedprintable.Writer` (text mode): CRLF line ends, soft
/// breaks to keep lines at 76 characters, trailing blanks encoded.
pub fn quoted_printable(s: &str) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = s.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        let mut len = 0;
        for (j, &b) in bytes.iter().enumerate() {
            let last = j + 1 == bytes.len();
            let tok = match b {
                b' ' | b'\t' if !last => (b as char).to_string(),
                b'!'..=b'~' if b != b'=' => (b as char).to_string(),
                _ => format!("={b:02X}"),
            };
            if len + tok.len() > 75 {
                out.push_str("=\r\n");
                len = 0;
            }
            out.push_str(&tok);
            len += tok.len();
        }
        if i + 1 < lines.len() {
            out.push_str("\r\n");
        }
    }
    out
}

impl Integration for Email {
    fn name(&self) -> &'static str {
        "email"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(self.deliver(n, cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_encoding() {
        assert_eq!(q_encode("[FIRING:1] Disk full"), "[FIRING:1] Disk full");
        assert_eq!(q_encode("Füll ?"), "=?utf-8?q?F=C3=BCll_=3F?=");
        let long = "ä".repeat(40);
        let enc = q_encode(&long);
        assert!(enc.split(' ').all(|w| w.len() <= 75 && w.starts_with("=?utf-8?q?") && w.ends_with("?=")), "{enc}");
    }

    #[test]
    fn quoted_printable_like_go() {
        assert_eq!(quoted_printable("a=b\nc \n"), "a=3Db\r\nc=20\r\n");
        assert_eq!(quoted_printable("é"), "=C3=A9");
        let long = "x".repeat(100);
        assert_eq!(quoted_printable(&long), format!("{}=\r\n{}", "x".repeat(75), "x".repeat(25)));
    }

    #[test]
    fn address_lists() {
        let a = parse_address_list("Ops <ops@example.org>, \"Doe, J\" <j@example.org>,x@y.z").unwrap();
        let s: Vec<String> = a.iter().map(|a| a.to_string()).collect();
        assert_eq!(s, ["ops@example.org", "j@example.org", "x@y.z"]);
        assert!(parse_address_list("not an address").is_err());
    }
}
