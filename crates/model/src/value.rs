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
    let mut s = String::new();
    push_float(&mut s, v);
    s
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'g', -1, 64)`, which is
/// what client_golang writes in the text exposition (node_exporter,
/// blackbox_exporter): shortest round-trip digits, exponent form when the
/// decimal exponent is below -4 or at least 6 (`3.668918509e+09`,
/// `5.008e-06`), `NaN`, `+Inf`, `-Inf`, `-0`; between two equally short
/// digit strings it picks Go's (see [`fmt_shortest_e`]).
pub fn fmt_exposition_float(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return fmt_float(v);
    }
    let e = fmt_shortest_e(v);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        return fmt_float(v);
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.unsigned_abs())
}

/// Appends [`fmt_float`]`(v)` to `out`, allocating nothing in the common
/// case. The shortest round-trip digits come from `ryu` (several times
/// faster than `Display`, which showed as a fifth of a range query's time
/// in the JSON encoder), laid out without exponent like Go's 'f' with
/// precision -1; an exact tie between two equally short candidates goes to
/// the even one as in Go (see `tie_to_even`); `-0` prints as Go prints it.
pub fn push_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if v.is_sign_negative() {
        out.push('-');
    }
    if v == 0.0 {
        out.push('0');
        return;
    }
    let mut buf = ryu::Buffer::new();
    let (d, n, exp) = shortest_digits(buf.format_finite(v.abs()));
    match tie_to_even(v, &d[..n], exp) {
        Some((even, even_exp)) => push_fixed(out, &even, even_exp),
        None => push_fixed(out, &d[..n], exp),
    }
}

/// The significant digits (no leading or trailing zeros; `ryu` writes at
/// most 17) and the decimal exponent of the first of them, from `ryu`'s
/// output for a positive finite float: `123.45`, `0.001`, `1.0`, `1.5e-7`,
/// `1e22`.
fn shortest_digits(s: &str) -> ([u8; 24], usize, i32) {
    let (mant, e) = match s.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let int_len = mant.find('.').unwrap_or(mant.len()) as i32;
    let (mut d, mut n, mut lead) = ([0u8; 24], 0usize, 0i32);
    for b in mant.bytes().filter(u8::is_ascii_digit) {
        if n == 0 && b == b'0' {
            lead += 1;
        } else if n < d.len() {
            d[n] = b;
            n += 1;
        }
    }
    while n > 1 && d[n - 1] == b'0' {
        n -= 1;
    }
    // The first digit of the mantissa has exponent int_len - 1 (+ e).
    (d, n, int_len - 1 - lead + e)
}

/// Writes `digits` (first digit at decimal exponent `exp`) without exponent.
fn push_fixed(out: &mut String, digits: &[u8], exp: i32) {
    let ds = std::str::from_utf8(digits).unwrap_or("0");
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(ds);
    } else if point as usize >= ds.len() {
        out.push_str(ds);
        out.extend(std::iter::repeat_n('0', point as usize - ds.len()));
    } else {
        out.push_str(&ds[..point as usize]);
        out.push('.');
        out.push_str(&ds[point as usize..]);
    }
}

/// `format!("{v:e}")` (shortest digits, `1.5e-7`) with Go's choice between
/// two equally short candidates, for formatters that build Go's `'e'` and
/// `'g'` forms from it.
pub fn fmt_shortest_e(v: f64) -> String {
    let s = format!("{v:e}");
    if !v.is_finite() || v == 0.0 {
        return s;
    }
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: Vec<u8> = m.bytes().filter(u8::is_ascii_digit).collect();
    match tie_to_even(v, &digits, e.parse().unwrap_or(0)) {
        None => s,
        Some((d, exp)) => {
            let sign = if v < 0.0 { "-" } else { "" };
            let rest = std::str::from_utf8(&d[1..]).unwrap_or("");
            if rest.is_empty() {
                format!("{sign}{}e{exp}", d[0] as char)
            } else {
                format!("{sign}{}.{rest}e{exp}", d[0] as char)
            }
        }
    }
}

/// Go's shortest formatting (Ryū) breaks an exact tie between two equally
/// short round-trip candidates towards the even last digit; Rust's picks
/// the upper one. Example: 826563004656.65625 is exactly halfway between
/// `826563004656.6562` and `…6563`, both of which parse back to it; Go (and
/// so Prometheus' API) prints `826563004656.6562`. `digits` (no trailing
/// zeros) and `exp` (decimal exponent of the first digit) are Rust's
/// shortest representation of the finite, nonzero `v`; the result is the
/// even candidate when it must replace them.
fn tie_to_even(v: f64, digits: &[u8], exp: i32) -> Option<(Vec<u8>, i32)> {
    let n = digits.len();
    if n == 0 || digits[n - 1] & 1 == 0 {
        return None;
    }
    // A tie means |v| is exactly an (n+1)-digit decimal (ending in 5).
    // |v| = m·2^q with m odd: for q < 0 its exact expansion has exactly -q
    // fractional digits, so it has n+1 significant digits iff -q == n - exp.
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac_bits = bits & ((1 << 52) - 1);
    let mant = if biased == 0 { frac_bits } else { frac_bits | (1 << 52) };
    if mant == 0 {
        return None;
    }
    let q = if biased == 0 { -1074 } else { biased - 1075 } + mant.trailing_zeros() as i32;
    let exact = if q < 0 {
        if -q != n as i32 - exp {
            return None;
        }
        format!("{:.*}", (-q) as usize, v.abs())
    } else {
        format!("{:.0}", v.abs())
    };
    let exact: Vec<u8> = exact.bytes().filter(u8::is_ascii_digit).skip_while(|&d| d == b'0').collect();
    let sig = exact.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
    if sig != n + 1 || exact[n] != b'5' {
        return None;
    }
    // The candidates: the first n digits, and that plus one in the last place.
    let mut even = exact[..n].to_vec();
    let mut even_exp = exp;
    if (even[n - 1] - b'0') & 1 == 1 {
        let mut i = n;
        loop {
            if i == 0 {
                even.insert(0, b'1');
                even.pop();
                even_exp += 1;
                break;
            }
            i -= 1;
            if even[i] == b'9' {
                even[i] = b'0';
            } else {
                even[i] += 1;
                break;
            }
        }
    }
    while even.len() > 1 && even[even.len() - 1] == b'0' {
        even.pop();
    }
    if even == digits {
        return None;
    }
    let rest = std::str::from_utf8(&even[1..]).unwrap_or("");
    let candidate = format!("{}.{}e{even_exp}", even[0] as char, if rest.is_empty() { "0" } else { rest });
    (candidate.parse::<f64>().ok() == Some(v.abs())).then_some((even, even_exp))
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
    #[allow(clippy::excessive_precision)] // exact ties between two shortest forms
    fn ryu_formatting_matches_the_display_based_one() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut cases = vec![
            1.0, 0.1, 0.5, 1e21, 1e22, 1.5e-7, 123456789012345680000.0, 5e-324, f64::MAX, f64::MIN_POSITIVE,
            826563004656.65625, 0.000001, 1e-6, 9007199254740993.0, 100.0, 1234.5, 0.30000000000000004,
        ];
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(f64::from_bits(x));
            cases.push((x % 100_000_000) as f64 / 1000.0);
            cases.push((x % 1_000_000_007) as f64 * 0.25 + 0.125);
            cases.push(((x >> 11) as f64) * 2f64.powi((x % 120) as i32 - 60));
        }
        for v in cases {
            for v in [v, -v] {
                let (mut a, mut b) = (String::new(), String::new());
                push_float(&mut a, v);
                push_float_reference(&mut b, v);
                assert_eq!(a, b, "{v:e}");
            }
        }
    }

    /// The formatter before `ryu`: `Display`'s digits (the tie rule and the
    /// layout are shared), the reference the new one is checked against.
    fn push_float_reference(out: &mut String, v: f64) {
        use std::fmt::Write as _;
        if v.is_nan() {
            out.push_str("NaN");
            return;
        }
        if v.is_infinite() {
            out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
            return;
        }
        // Rust's Display for f64 prints the shortest round-trip representation
        // without exponent, like Go's 'f' with precision -1 — except when two
        // equally short candidates are exactly as close to `v` (see
        // `tie_to_even`). `-0` prints as Go prints it.
        let start = out.len();
        let _ = write!(out, "{v}");
        let written = &out[start..];
        let abs = written.trim_start_matches('-');
        let last = abs.as_bytes()[abs.len() - 1];
        // The cheap cases: an even last digit, or an exact integer below 2^53
        // (its digits are exact), cannot need the even candidate.
        if last & 1 == 0 || (!abs.contains('.') && v.abs() < 9_007_199_254_740_992.0) {
            return;
        }
        let (digits, exp) = match abs.split_once('.') {
            Some((int, frac)) if int != "0" => ([int, frac].concat().into_bytes(), int.len() as i32 - 1),
            Some((_, frac)) => {
                let sig = frac.trim_start_matches('0');
                (sig.as_bytes().to_vec(), -((frac.len() - sig.len()) as i32) - 1)
            }
            None => (abs.trim_end_matches('0').as_bytes().to_vec(), abs.len() as i32 - 1),
        };
        if let Some((even, even_exp)) = tie_to_even(v, &digits, exp) {
            out.truncate(start);
            if v < 0.0 {
                out.push('-');
            }
            push_fixed(out, &even, even_exp);
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(fmt_float(1.0), "1");
        assert_eq!(fmt_float(0.1), "0.1");
        assert_eq!(fmt_float(f64::NAN), "NaN");
        assert_eq!(fmt_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(fmt_float(1e21), "1000000000000000000000");
        assert_eq!(fmt_float(1.5e-7), "0.00000015");
    }

    /// Exact ties between two equally short candidates go to the even
    /// digit, as Go's strconv (and so Prometheus' API) prints them — values
    /// checked against Prometheus 2.42 (`vector(…)` through its API).
    #[test]
    #[allow(clippy::excessive_precision)] // the exact binary values are the point
    fn shortest_ties_go_to_even_like_go() {
        assert_eq!(fmt_float(826563004656.65625), "826563004656.6562");
        assert_eq!(fmt_float(-826563004656.65625), "-826563004656.6562");
        assert_eq!(fmt_float(139944532028.984375), "139944532028.98438");
        assert_eq!(fmt_float(945028906300.78125), "945028906300.7812");
        assert_eq!(fmt_float(197463108312.328125), "197463108312.32812");
        assert_eq!(fmt_float(119665516326.703125), "119665516326.70312");
        // Not ties: unchanged.
        assert_eq!(fmt_float(0.3), "0.3");
        assert_eq!(fmt_float(2.5), "2.5");
        assert_eq!(fmt_float(1e23), "100000000000000000000000");
        assert_eq!(fmt_float(5e-324), format!("{}", 5e-324));
        assert_eq!(fmt_float(f64::MAX), format!("{}", f64::MAX));
        assert_eq!(fmt_float(123456789.125), "123456789.125");
        // The same in exponent form.
        assert_eq!(fmt_shortest_e(826563004656.65625), "8.265630046566562e11");
        assert_eq!(fmt_shortest_e(-2.4422375151393765e-17), "-2.4422375151393765e-17");
        assert_eq!(fmt_shortest_e(1.5e-7), "1.5e-7");
        let mut s = String::from("x");
        push_float(&mut s, -102965718.830078125);
        assert_eq!(s, "x-102965718.83007812");
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

#[cfg(test)]
mod exposition_float_tests {
    use super::fmt_exposition_float as f;

    #[test]
    fn formats_like_go_g_shortest() {
        assert_eq!(f(3668918509.0), "3.668918509e+09");
        assert_eq!(f(0.000005008), "5.008e-06");
        assert_eq!(f(123456.0), "123456");
        assert_eq!(f(1e6), "1e+06");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.5), "0.5");
        assert_eq!(f(-2.5e-7), "-2.5e-07");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(f(-0.0), "-0");
    }
}
