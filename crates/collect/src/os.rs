//! `os`: node_os_info and node_os_version from /etc/os-release (falling back
//! to /usr/lib/os-release), with node_exporter's label set.

use std::collections::HashMap;

use crate::expo::{Families, Kind};
use crate::util::read;
use crate::{HostPaths, Result};

const PATHS: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

/// os-release keys in the order of node_os_info's label names.
const INFO_KEYS: [(&str, &str); 12] = [
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
];

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let mut last_err = None;
    let mut text = None;
    for path in PATHS {
        match read(&paths.root(path)) {
            Ok(t) => {
                text = Some(t);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let text = match (text, last_err) {
        (Some(t), _) => t,
        (None, Some(e)) => return Err(e),
        (None, None) => return Ok(()),
    };
    let env = parse(&text);
    let get = |k: &str| env.get(k).map(String::as_str).unwrap_or("");
    let values: Vec<&str> = INFO_KEYS.iter().map(|(_, k)| get(k)).collect();
    out.family(
        "node_os_info",
        "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, \
         name, pretty_name, variant, variant_id, version, version_codename, version_id.",
        Kind::Gauge,
        &[
            "build_id",
            "id",
            "id_like",
            "image_id",
            "image_version",
            "name",
            "pretty_name",
            "variant",
            "variant_id",
            "version",
            "version_codename",
            "version_id",
        ],
    )
    .push(&values, 1.0);
    if let Some(ts) = date_to_unix(get("SUPPORT_END")) {
        out.single(
            "node_os_support_end_timestamp_seconds",
            "Metric containing the end-of-life date timestamp of the OS.",
            Kind::Gauge,
            ts as f64,
        );
    }
    let version = major_minor(get("VERSION_ID"));
    if version > 0.0 {
        out.family(
            "node_os_version",
            "Metric containing the major.minor part of the OS version.",
            Kind::Gauge,
            &["id", "id_like", "name"],
        )
        .push(&[get("ID"), get("ID_LIKE"), get("NAME")], version);
    }
    Ok(())
}

/// The leading `[0-9]+\.?[0-9]*` of a VERSION_ID as a number, or 0.
fn major_minor(version_id: &str) -> f64 {
    let int_len = version_id.bytes().take_while(u8::is_ascii_digit).count();
    if int_len == 0 {
        return 0.0;
    }
    let mut end = int_len;
    if version_id.as_bytes().get(end) == Some(&b'.') {
        end += 1;
        end += version_id[end..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
    }
    version_id[..end]
        .trim_end_matches('.')
        .parse()
        .unwrap_or(0.0)
}

/// `YYYY-MM-DD` (os-release's SUPPORT_END) as seconds since the epoch at
/// midnight UTC.
fn date_to_unix(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

/// Parses os-release(5): shell-like `KEY=value` lines, values optionally in
/// double quotes (with backslash escapes) or single quotes (literal).
fn parse(text: &str) -> HashMap<String, String> {
    let mut env = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        env.insert(key.trim().to_string(), unquote(raw.trim()));
    }
    env
}

fn unquote(raw: &str) -> String {
    if let Some(inner) = raw.strip_prefix('\'') {
        return inner.split('\'').next().unwrap_or("").to_string();
    }
    if let Some(inner) = raw.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some(n @ ('"' | '\\' | '$' | '`')) => out.push(n),
                    Some(n) => {
                        out.push('\\');
                        out.push(n);
                    }
                    None => out.push('\\'),
                },
                c => out.push(c),
            }
        }
        return out;
    }
    // Unquoted: up to an inline comment.
    raw.split(" #").next().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("NAME=\"Debian \\\"x\\\"\"\nID='a'\nVERSION_ID=12.04.1\nSUPPORT_END=2028-06-30\n") {
            let env = parse(&t);
            let _ = major_minor(env.get("VERSION_ID").map(String::as_str).unwrap_or(&t));
            let _ = date_to_unix(env.get("SUPPORT_END").map(String::as_str).unwrap_or(&t));
        }
    }

    #[test]
    fn parses_os_release() {
        let env = parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n# c\nID=debian\nVERSION_ID=\"12\"\n\
             NAME='Some \"OS\"'\nX=\"a \\\"q\\\" b\"\n",
        );
        assert_eq!(env["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(env["ID"], "debian");
        assert_eq!(env["VERSION_ID"], "12");
        assert_eq!(env["NAME"], "Some \"OS\"");
        assert_eq!(env["X"], "a \"q\" b");
    }

    #[test]
    fn support_end_dates() {
        assert_eq!(date_to_unix("1970-01-01"), Some(0));
        assert_eq!(date_to_unix("2028-06-30"), Some(1_845_936_000));
        assert_eq!(date_to_unix("2000-03-01"), Some(951_868_800));
        assert_eq!(date_to_unix("2028-6-30"), None);
        assert_eq!(date_to_unix(""), None);
    }

    #[test]
    fn version_numbers() {
        assert_eq!(major_minor("12"), 12.0);
        assert_eq!(major_minor("22.04"), 22.04);
        assert_eq!(major_minor("8.4.2105"), 8.4);
        assert_eq!(major_minor("7."), 7.0);
        assert_eq!(major_minor("rolling"), 0.0);
        assert_eq!(major_minor(""), 0.0);
    }
}
