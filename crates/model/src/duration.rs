//! Prometheus durations (`model.ParseDuration` / `Duration.String`), in milliseconds.

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("not a valid duration string: {0:?}")]
pub struct DurationError(pub String);

const UNITS: [(&str, i64); 8] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
    ("", 0),
];

fn unit_ms(u: &str) -> Option<i64> {
    UNITS.iter().find(|(n, _)| *n == u && !n.is_empty()).map(|(_, v)| *v)
}

/// Parses `1h30m`, `5m`, `100ms`, `2d`, `0`. Units must appear in decreasing
/// order, each at most once (as Prometheus requires). Returns milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, DurationError> {
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(DurationError(s.into()));
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    let mut last_rank = usize::MAX;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(DurationError(s.into()));
        }
        let n: i64 = s[start..i].parse().map_err(|_| DurationError(s.into()))?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[ustart..i];
        let mult = unit_ms(unit).ok_or_else(|| DurationError(s.into()))?;
        let rank = UNITS.iter().position(|(n, _)| *n == unit).unwrap_or(0);
        if last_rank != usize::MAX && rank <= last_rank {
            return Err(DurationError(s.into()));
        }
        last_rank = rank;
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| DurationError(s.into()))?;
    }
    Ok(total)
}

/// Formats milliseconds as Prometheus' `Duration.String()`: `1h30m`, `5m`,
/// `0s`, `90d` (years and weeks only when they divide the value exactly).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    if rest < 0 {
        out.push('-');
        rest = -rest;
    }
    const DAY: i64 = 24 * 3600 * 1000;
    let emit = |n: i64, unit: &str, out: &mut String| {
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
        }
    };
    if rest % (365 * DAY) == 0 {
        emit(rest / (365 * DAY), "y", &mut out);
        return out;
    }
    if rest % (7 * DAY) == 0 {
        emit(rest / (7 * DAY), "w", &mut out);
        return out;
    }
    for (unit, mult) in [("d", DAY), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
        emit(rest / mult, unit, &mut out);
        rest %= mult;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        for (s, ms) in [("1h30m", 5_400_000), ("5m", 300_000), ("100ms", 100), ("1d", 86_400_000), ("0", 0)] {
            assert_eq!(parse_duration(s), Ok(ms), "{s}");
        }
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(1_500), "1s500ms");
        assert_eq!(format_duration(90 * 86_400_000), "90d");
        assert_eq!(format_duration(14 * 86_400_000), "2w");
        assert_eq!(format_duration(365 * 86_400_000), "1y");
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("30m1h").is_err());
    }
}
