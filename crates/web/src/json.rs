//! A small JSON writer that reproduces the bytes Prometheus' Go code emits.
//!
//! Prometheus encodes with jsoniter's standard-library-compatible config:
//! ordinary strings are HTML-escaped (`<` → `\u003c`), but label sets go
//! through a custom encoder that does not HTML-escape. Sample values are
//! strings formatted with `strconv.FormatFloat(f, 'f' or 'e', -1, 64)` and
//! timestamps are seconds with up to three decimals. serde_json cannot
//! express those differences, so responses are written by hand here.

use bongsu_model::Labels;

/// Appends `s` as a JSON string, escaped like Go's `encoding/json` with
/// HTML escaping (used for every string that is not part of a label set).
pub fn str_html(out: &mut String, s: &str) {
    escape(out, s, true);
}

/// Appends `s` as a JSON string without HTML escaping (jsoniter's
/// `Stream.WriteString`, used by Prometheus for label names and values).
pub fn str_plain(out: &mut String, s: &str) {
    escape(out, s, false);
}

fn escape(out: &mut String, s: &str, html: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let rep: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '<' if html => Some("\\u003c"),
            '>' if html => Some("\\u003e"),
            '&' if html => Some("\\u0026"),
            '\u{2028}' if html => Some("\\u2028"),
            '\u{2029}' if html => Some("\\u2029"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match rep {
            Some(r) => out.push_str(r),
            None => {
                let b = c as u32 as u8;
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends a label set as a JSON object in label order (`{"__name__":"up",…}`).
pub fn labels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, lb) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        str_plain(out, &lb.name);
        out.push(':');
        str_plain(out, &lb.value);
    }
    out.push('}');
}

/// Appends a list of strings as a JSON array (HTML-escaped strings).
pub fn str_array(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        str_html(out, s);
    }
    out.push(']');
}

/// Appends a millisecond timestamp as seconds, exactly as
/// `jsonutil.MarshalTimestamp`: `1435781451.781`, `1.500`, `3` (a non-zero
/// fraction is always printed with three digits).
pub fn timestamp(out: &mut String, t: i64) {
    if t < 0 {
        out.push('-');
    }
    let t = t.unsigned_abs();
    out.push_str(itoa::Buffer::new().format(t / 1000));
    let frac = t % 1000;
    if frac != 0 {
        out.push('.');
        for d in [frac / 100, frac / 10 % 10, frac % 10] {
            out.push(char::from(b'0' + d as u8));
        }
    }
}

/// Appends a sample value like [`sample_value`] without allocating for the
/// common case.
pub fn push_sample_value(out: &mut String, v: f64) {
    let a = v.abs();
    if v.is_finite() && (a == 0.0 || (1e-6..1e21).contains(&a)) {
        bongsu_model::value::push_float(out, v);
    } else {
        out.push_str(&sample_value(v));
    }
}

/// Formats a sample value like `jsonutil.MarshalFloat` (without the quotes):
/// `'f'` format, or `'e'` for magnitudes below 1e-6 or from 1e21 on.
pub fn sample_value(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        go_exp(v, false)
    } else {
        bongsu_model::fmt_float(v)
    }
}

/// Formats `v` as Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `1e-07`,
/// `1.5e+21`. With `trim_exp_zero`, a two-digit negative exponent with a
/// leading zero loses it (`1e-7`), as `encoding/json` does for float64 fields.
pub fn go_exp(v: f64, trim_exp_zero: bool) -> String {
    let s = bongsu_model::value::fmt_shortest_e(v);
    let (mant, exp) = match s.split_once('e') {
        Some(p) => p,
        None => return s,
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    let digits = exp.unsigned_abs();
    if trim_exp_zero && exp < 0 && digits < 10 {
        format!("{mant}e{sign}{digits}")
    } else {
        format!("{mant}e{sign}{digits:02}")
    }
}

/// Formats a float64 struct field as Go's JSON encoder does (`0.0123`,
/// `1e-7`, `1e+21`). Non-finite values cannot be JSON numbers; Go would fail
/// the whole response, we print `0`.
pub fn go_json_number(v: f64) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        go_exp(v, true)
    } else {
        bongsu_model::fmt_float(v)
    }
}

/// Appends a `serde_json::Value` the way Go would encode the equivalent
/// value: HTML-escaped strings, map keys in the value's own order. Objects
/// under a `labels` or `annotations` key are label sets in Prometheus' types
/// and are written without HTML escaping, as its label encoder does.
pub fn value(out: &mut String, v: &serde_json::Value) {
    value_in(out, v, false);
}

fn value_in(out: &mut String, v: &serde_json::Value, label_set: bool) {
    use serde_json::Value as V;
    let s = |out: &mut String, x: &str| if label_set { str_plain(out, x) } else { str_html(out, x) };
    match v {
        V::Null => out.push_str("null"),
        V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                out.push_str(&go_json_number(f));
            } else {
                out.push_str(&n.to_string());
            }
        }
        V::String(x) => s(out, x),
        V::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                value_in(out, x, label_set);
            }
            out.push(']');
        }
        V::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                s(out, k);
                out.push(':');
                let child_is_labels = label_set || (matches!(k.as_str(), "labels" | "annotations") && x.is_object());
                value_in(out, x, child_is_labels);
            }
            out.push('}');
        }
    }
}

// ---- time ----------------------------------------------------------------

pub use bongsu_model::timefmt::{parse_rfc3339, rfc3339_nano};

/// Formats a `SystemTime` as RFC3339Nano; `None` is Go's zero time.
pub fn system_time(t: Option<std::time::SystemTime>) -> String {
    match t {
        None => "0001-01-01T00:00:00Z".into(),
        Some(t) => match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => rfc3339_nano(d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                let mut secs = -(d.as_secs() as i64);
                let mut nanos = d.subsec_nanos();
                if nanos > 0 {
                    secs -= 1;
                    nanos = 1_000_000_000 - nanos;
                }
                rfc3339_nano(secs, nanos)
            }
        },
    }
}



#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let mut s = String::new();
        str_html(&mut s, "a<b>&\"\\\n\u{1}");
        assert_eq!(s, r#""a\u003cb\u003e\u0026\"\\\n\u0001""#);
        let mut s = String::new();
        str_plain(&mut s, "a<b");
        assert_eq!(s, r#""a<b""#);
    }

    #[test]
    fn label_sets_in_values_are_not_html_escaped() {
        let v = serde_json::json!({"alerts": [{"annotations": {"summary": "cpu > 90%"}, "query": "a > b"}]});
        let mut s = String::new();
        value(&mut s, &v);
        assert_eq!(s, r#"{"alerts":[{"annotations":{"summary":"cpu > 90%"},"query":"a \u003e b"}]}"#);
    }

    #[test]
    fn timestamps() {
        let mut s = String::new();
        timestamp(&mut s, 1_435_781_451_781);
        assert_eq!(s, "1435781451.781");
        let mut s = String::new();
        timestamp(&mut s, 1_500);
        assert_eq!(s, "1.500");
        let mut s = String::new();
        timestamp(&mut s, -1_005);
        assert_eq!(s, "-1.005");
        let mut s = String::new();
        timestamp(&mut s, 3000);
        assert_eq!(s, "3");
    }

    #[test]
    #[allow(clippy::excessive_precision)] // exact ties between two shortest forms
    fn floats() {
        assert_eq!(sample_value(1.0), "1");
        assert_eq!(sample_value(1e-7), "1e-07");
        assert_eq!(sample_value(1.5e21), "1.5e+21");
        assert_eq!(sample_value(0.000001), "0.000001");
        assert_eq!(sample_value(f64::NAN), "NaN");
        for v in [1.0, -0.0, 0.0, 1e-7, 0.1, 123456789.125, -2.5e22, f64::INFINITY, 1e-6, 999999999999999999999.0] {
            let mut s = String::new();
            push_sample_value(&mut s, v);
            assert_eq!(s, sample_value(v), "{v}");
        }
        assert_eq!(go_json_number(1e-7), "1e-7");
        assert_eq!(go_json_number(0.5), "0.5");
        assert_eq!(bongsu_model::fmt_exposition_float(1234567.0), "1.234567e+06");
        assert_eq!(bongsu_model::fmt_exposition_float(123456.0), "123456");
        assert_eq!(bongsu_model::fmt_exposition_float(0.0001), "0.0001");
        assert_eq!(bongsu_model::fmt_exposition_float(0.00001), "1e-05");
        assert_eq!(bongsu_model::fmt_exposition_float(1.0), "1");
        assert_eq!(bongsu_model::fmt_exposition_float(1e21), "1e+21");
        assert_eq!(bongsu_model::fmt_exposition_float(12345678.5), "1.23456785e+07");
        // Exactly halfway between two shortest candidates: Go picks the even
        // digit (Prometheus 2.42 answers these; found by
        // crates/bongsu/tests/promql_diff.rs).
        let mut s = String::new();
        push_sample_value(&mut s, -102965718.830078125);
        assert_eq!(s, "-102965718.83007812");
        assert_eq!(sample_value(22033256751604.5625), "22033256751604.562");
        assert_eq!(bongsu_model::fmt_exposition_float(826563004656.65625), "8.265630046566562e+11");
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_nano(1_435_781_451, 781_000_000), "2015-07-01T20:10:51.781Z");
        assert_eq!(rfc3339_nano(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("2015-07-01T20:10:51.781Z"), Some((1_435_781_451, 781_000_000)));
        assert_eq!(parse_rfc3339("2015-07-01T22:10:51+02:00"), Some((1_435_781_451, 0)));
        assert_eq!(parse_rfc3339("2015-07-01 20:10:51Z"), None);
        assert_eq!(parse_rfc3339("2015-02-30T20:10:51Z"), None);
        // Prometheus' MinTime / MaxTime as Go formats them.
        assert_eq!(rfc3339_nano(-9_223_309_901_257_974, 0), "-292273086-05-16T16:47:06Z");
        assert_eq!(rfc3339_nano(9_223_309_901_257_974, 999_999_999), "292277025-08-18T07:12:54.999999999Z");
    }
}
