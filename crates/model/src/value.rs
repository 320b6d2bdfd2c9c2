//! Samples and float conventions shared with Prometheus.

/// Bit pattern of Prometheus' staleness marker (`value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;
/// The staleness marker as a float. Compare with [`is_stale_nan`], never `==`.
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// True when `v` is exactly the staleness marker bit pattern.
#[inline]
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One float sample: a millisecond timestamp and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub t: i64,
    pub v: f64,
}

impl Sample {
    pub fn new(t: i64, v: f64) -> Self {
        Sample { t, v }
    }
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)` does for
/// common values, which is what Prometheus' JSON API emits: `NaN`, `+Inf`,
/// `-Inf`, shortest round-trip digits, exponent form for very large/small
/// magnitudes (Go switches to `e` notation when exponent < -4 || >= 21 with 'g';
/// the API uses 'f' -1, which never uses an exponent).
pub fn fmt_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    // Rust's Display for f64 prints the shortest round-trip representation
    // without exponent, exactly like Go's 'f' with precision -1.
    let s = format!("{v}");
    if s == "-0" {
        return "-0".into();
    }
    s
}

/// Parses a float the way Go's `strconv.ParseFloat` accepts it in the text
/// exposition format and PromQL: decimal, exponent, `NaN`, `Inf`, `+Inf`,
/// `-Inf` (case-insensitive), hex floats are not accepted here.
pub fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    match lower.as_str() {
        "nan" | "+nan" | "-nan" => return Some(f64::NAN),
        "inf" | "+inf" | "infinity" | "+infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let bytes = t.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    // Rust accepts "inf"/"nan" variants handled above; reject other letters
    // except exponent markers and allow '_' nowhere.
    if !bytes
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    t.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(fmt_float(1.0), "1");
        assert_eq!(fmt_float(0.1), "0.1");
        assert_eq!(fmt_float(f64::NAN), "NaN");
        assert_eq!(fmt_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(fmt_float(1e21), "1000000000000000000000");
        assert_eq!(fmt_float(1.5e-7), "0.00000015");
    }

    #[test]
    fn stale_nan_is_distinct() {
        assert!(is_stale_nan(STALE_NAN));
        assert!(!is_stale_nan(f64::NAN));
        assert!(STALE_NAN.is_nan());
    }

    #[test]
    fn parses_go_floats() {
        assert_eq!(parse_go_float("1e3"), Some(1000.0));
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert!(parse_go_float("NaN").unwrap().is_nan());
        assert_eq!(parse_go_float("0x10"), None);
        assert_eq!(parse_go_float(""), None);
    }
}
