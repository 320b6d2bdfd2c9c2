//! Go's view of template values: struct values, `fmt.Sprint`, `%g`, JSON.
//!
//! gotmpl's [`Value`] has maps but no structs. A Go struct (Alertmanager's
//! `Data`, `Alert`, `Pair`; Prometheus' query `sample`) is a map carrying a
//! hidden type key ([`STRUCT_KEY`], a name no template can spell), so the shim
//! can tell a struct (missing field → error, printed as `{a b}`) from a
//! `map[string]string` (missing key → `""` under `missingkey=zero`, printed as
//! `map[k:v]` or, for Alertmanager's `KV`, `k=v, k=v`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use gotmpl::Value;

use crate::gotime::GoTime;

/// Key under which a struct-valued map records its Go type name.
pub const STRUCT_KEY: &str = "\u{0}type";

/// Which program's value model a template runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Prometheus rule and console templates: plain `map[string]string`.
    Prometheus,
    /// Alertmanager notification templates: `KV`, `Pairs`, `Alerts` with methods.
    Alertmanager,
}

/// Builds a struct value.
pub fn make_struct(ty: &str, fields: Vec<(&str, Value)>) -> Value {
    let mut m: BTreeMap<Arc<str>, Value> = BTreeMap::new();
    m.insert(Arc::from(STRUCT_KEY), Value::String(Arc::from(ty)));
    for (k, v) in fields {
        m.insert(Arc::from(k), v);
    }
    Value::Map(Arc::new(m))
}

/// A string map (`map[string]string`).
pub fn string_map<'a>(it: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    let m: BTreeMap<Arc<str>, Value> = it
        .into_iter()
        .map(|(k, v)| (Arc::from(k.as_str()), Value::String(Arc::from(v.as_str()))))
        .collect();
    Value::Map(Arc::new(m))
}

/// The Go type name of a struct value.
pub fn struct_type(v: &Value) -> Option<&str> {
    match v {
        Value::Map(m) => m.get(STRUCT_KEY).and_then(Value::as_str),
        _ => None,
    }
}

/// Field order of the struct types we build (Go prints and encodes fields in
/// declaration order).
pub fn struct_fields(ty: &str) -> &'static [(&'static str, &'static str)] {
    match ty {
        "template.Data" => &[
            ("Receiver", "receiver"),
            ("Status", "status"),
            ("Alerts", "alerts"),
            ("NotificationReason", "notification_reason"),
            ("GroupLabels", "groupLabels"),
            ("CommonLabels", "commonLabels"),
            ("CommonAnnotations", "commonAnnotations"),
            ("RouteLabels", "routeLabels"),
            ("ExternalURL", "externalURL"),
        ],
        "template.Alert" => &[
            ("Status", "status"),
            ("Labels", "labels"),
            ("Annotations", "annotations"),
            ("StartsAt", "startsAt"),
            ("EndsAt", "endsAt"),
            ("GeneratorURL", "generatorURL"),
            ("Fingerprint", "fingerprint"),
        ],
        "template.Pair" => &[("Name", "Name"), ("Value", "Value")],
        "template.sample" => &[("Labels", "Labels"), ("Value", "Value")],
        "tmplData" => &[
            ("Labels", "Labels"),
            ("ExternalLabels", "ExternalLabels"),
            ("ExternalURL", "ExternalURL"),
            ("Value", "Value"),
        ],
        _ => &[],
    }
}

/// Struct fields that hold a `time.Time` (encoded as RFC 3339 in JSON).
fn is_time_field(ty: &str, field: &str) -> bool {
    ty == "template.Alert" && (field == "StartsAt" || field == "EndsAt")
}

/// A map with no struct marker whose values are all strings: Go's
/// `map[string]string` (and Alertmanager's `KV`).
pub fn is_string_map(v: &Value) -> bool {
    match v {
        Value::Map(m) => {
            !m.contains_key(STRUCT_KEY) && m.values().all(|v| matches!(v, Value::String(_)))
        }
        _ => false,
    }
}

/// A non-empty list of `Pair` structs (Alertmanager's `Pairs`).
pub fn is_pairs(v: &Value) -> bool {
    match v {
        Value::List(l) => {
            !l.is_empty() && l.iter().all(|e| struct_type(e) == Some("template.Pair"))
        }
        _ => false,
    }
}

/// Alertmanager's `KV.SortedPairs()`: `alertname` first, the rest sorted.
pub fn sorted_pairs(m: &BTreeMap<Arc<str>, Value>) -> Vec<(Arc<str>, Value)> {
    let mut out: Vec<(Arc<str>, Value)> = Vec::with_capacity(m.len());
    if let Some(v) = m.get("alertname") {
        out.push((Arc::from("alertname"), v.clone()));
    }
    for (k, v) in m {
        if &**k != "alertname" && &**k != STRUCT_KEY {
            out.push((k.clone(), v.clone()));
        }
    }
    out
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)` as `fmt` prints a float64 (`%v`).
pub fn fmt_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (digits, exp) = shortest_digits(v);
    // strconv's shortest 'g' switches to an exponent at precision 6.
    if !(-4..6).contains(&exp) {
        return sci(v < 0.0, &digits, exp);
    }
    fixed(v < 0.0, &digits, exp)
}

fn shortest_digits(v: f64) -> (String, i32) {
    let s = format!("{:e}", v.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

fn sci(neg: bool, digits: &str, exp: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    out
}

fn fixed(neg: bool, digits: &str, exp: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let dp = exp + 1;
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..(-dp) {
            out.push('0');
        }
        out.push_str(digits);
    } else if dp as usize >= digits.len() {
        out.push_str(digits);
        for _ in 0..(dp as usize - digits.len()) {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

/// Go's `fmt.Sprintf("%.<prec>g", v)`.
pub fn fmt_g(v: f64, prec: usize) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let prec = prec.max(1);
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let s = format!("{:.*e}", prec - 1, v.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let nd = digits.len() as i32;
    let dp = exp + 1;
    let mut eprec = prec as i32;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if exp < -4 || exp >= eprec {
        return sci(v < 0.0, digits, exp);
    }
    fixed(v < 0.0, digits, exp)
}

/// `fmt.Sprint(v)` as text/template prints a value, with Alertmanager's
/// `String()` methods (`KV`, `Pairs`) applied under that flavor.
pub fn go_print(v: &Value, flavor: Flavor) -> String {
    let mut out = String::new();
    write_go(&mut out, v, flavor);
    out
}

fn write_go(out: &mut String, v: &Value, flavor: Flavor) {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Uint(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Float(f) => out.push_str(&fmt_float(*f)),
        Value::String(s) => out.push_str(s),
        Value::List(l) => {
            if flavor == Flavor::Alertmanager && is_pairs(v) {
                // Pairs.String(): "name=value, name=value".
                for (i, p) in l.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if let Value::Map(m) = p {
                        out.push_str(m.get("Name").and_then(Value::as_str).unwrap_or(""));
                        out.push('=');
                        out.push_str(m.get("Value").and_then(Value::as_str).unwrap_or(""));
                    }
                }
                return;
            }
            out.push('[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_go(out, e, flavor);
            }
            out.push(']');
        }
        Value::Map(m) => {
            if let Some(ty) = struct_type(v) {
                out.push('{');
                for (i, (f, _)) in struct_fields(ty).iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    match m.get(*f) {
                        Some(x) => write_go(out, x, flavor),
                        None => out.push_str("<nil>"),
                    }
                }
                out.push('}');
                return;
            }
            if flavor == Flavor::Alertmanager && is_string_map(v) {
                // KV.String() = SortedPairs().String().
                for (i, (k, val)) in sorted_pairs(m).iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push('=');
                    out.push_str(val.as_str().unwrap_or(""));
                }
                return;
            }
            out.push_str("map[");
            for (i, (k, val)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_go(out, val, flavor);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Go's `encoding/json.Marshal`.
pub fn to_json(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    // A bare time value (`{{ .StartsAt | toJson }}`) encodes like time.Time.
    if let Value::String(s) = v {
        if let Some(t) = GoTime::parse_go_string(s) {
            json_str(&mut out, &t.rfc3339_nano());
            return Ok(out);
        }
    }
    write_json(&mut out, v)?;
    Ok(out)
}

fn write_json(out: &mut String, v: &Value) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Uint(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!("json: unsupported value: {}", fmt_float(*f)));
            }
            let a = f.abs();
            if a != 0.0 && !(1e-6..1e21).contains(&a) {
                let s = sci(*f < 0.0, &shortest_digits(*f).0, shortest_digits(*f).1);
                // Go trims "e-07" to "e-7".
                let s = s.replace("e-0", "e-").replace("e+0", "e+");
                out.push_str(&s);
            } else {
                let (d, e) = shortest_digits(*f);
                out.push_str(&fixed(*f < 0.0, &d, e));
            }
        }
        Value::String(s) => json_str(out, s),
        Value::List(l) => {
            out.push('[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, e)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            if let Some(ty) = struct_type(v) {
                for (i, (f, tag)) in struct_fields(ty).iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_str(out, tag);
                    out.push(':');
                    match m.get(*f) {
                        Some(Value::String(s)) if is_time_field(ty, f) => {
                            let t = GoTime::parse_go_string(s)
                                .map(|t| t.rfc3339_nano())
                                .unwrap_or_else(|| s.to_string());
                            json_str(out, &t);
                        }
                        Some(x) => write_json(out, x)?,
                        None => out.push_str("null"),
                    }
                }
            } else {
                for (i, (k, val)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_str(out, k);
                    out.push(':');
                    write_json(out, val)?;
                }
            }
            out.push('}');
        }
        other => json_str(out, &other.to_string()),
    }
    Ok(())
}

/// A JSON string as Go writes it (HTML-safe: `<`, `>`, `&` escaped).
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        assert_eq!(fmt_float(1353755652.0), "1.353755652e+09");
        assert_eq!(fmt_float(11.0), "11");
        assert_eq!(fmt_float(1.5), "1.5");
        assert_eq!(fmt_float(100000.0), "100000");
        assert_eq!(fmt_float(1e6), "1e+06");
        assert_eq!(fmt_float(0.0001), "0.0001");
        assert_eq!(fmt_float(0.00001), "1e-05");
        assert_eq!(fmt_g(1.234567, 4), "1.235");
        assert_eq!(fmt_g(1.0, 4), "1");
        assert_eq!(fmt_g(100.0, 4), "100");
        assert_eq!(fmt_g(123456700.0, 4), "1.235e+08");
        assert_eq!(fmt_g(0.12, 4), "0.12");
        assert_eq!(fmt_g(120.0, 4), "120");
        assert_eq!(fmt_g(-22.222, 4), "-22.22");
    }
}
