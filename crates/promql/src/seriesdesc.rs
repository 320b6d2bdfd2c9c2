//! The series-description notation of PromQL test scripts and of
//! `promtool test rules` input series: `name{l="v"} 1+2x3 _ stale 5x2`
//! (Prometheus' `parser.ParseSeriesDesc`).

use bongsu_model::{Labels, LabelsBuilder, STALE_NAN};

/// One value of a series description.
#[derive(Debug, Clone, PartialEq)]
pub enum Point {
    Missing,
    Float(f64),
    Hist,
}

/// A Go string literal (`"…"`, `'…'` or `` `…` ``) at the start of `s`:
/// the unquoted text and the bytes consumed.
pub fn parse_go_string(s: &str) -> Option<(String, usize)> {
    // s starts with a quote; returns the unquoted string and bytes consumed.
    let b = s.as_bytes();
    let q = *b.first()?;
    if q == b'`' {
        let end = s[1..].find('`')?;
        return Some((s[1..1 + end].to_string(), end + 2));
    }
    if q != b'"' && q != b'\'' {
        return None;
    }
    let mut out = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c as u32 == q as u32 {
            return Some((out, i + 2));
        }
        if c == '\\' {
            let (_, e) = chars.next()?;
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'a' => out.push('\u{07}'),
                'b' => out.push('\u{08}'),
                'f' => out.push('\u{0c}'),
                'v' => out.push('\u{0b}'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                'x' => {
                    let h: String = (0..2).filter_map(|_| chars.next().map(|x| x.1)).collect();
                    let v = u8::from_str_radix(&h, 16).ok()?;
                    out.push(v as char);
                }
                'u' => {
                    let h: String = (0..4).filter_map(|_| chars.next().map(|x| x.1)).collect();
                    out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
                }
                'U' => {
                    let h: String = (0..8).filter_map(|_| chars.next().map(|x| x.1)).collect();
                    out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
                }
                d if d.is_ascii_digit() => {
                    let mut o = String::from(d);
                    for _ in 0..2 {
                        o.push(chars.next()?.1);
                    }
                    out.push(u8::from_str_radix(&o, 8).ok()? as char);
                }
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    None
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Parses `name{l="v",...}` at the start of `s`; returns labels and the rest.
pub fn parse_series_labels(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let mut b = LabelsBuilder::new();
    let mut i = 0;
    let bytes: Vec<char> = s.chars().collect();
    // byte offsets
    let mut name_end = 0;
    if let Some(c) = s.chars().next() {
        if is_ident_start(c) {
            for (j, c) in s.char_indices() {
                if !is_ident(c) {
                    name_end = j;
                    break;
                }
                name_end = j + c.len_utf8();
            }
            b.set("__name__", &s[..name_end]);
            i = name_end;
        }
    }
    let _ = bytes;
    let rest = &s[i..];
    if !rest.starts_with('{') {
        if name_end == 0 {
            return Err(format!("expected series description, got {s:?}"));
        }
        return Ok((b.into_labels(), rest));
    }
    let mut pos = 1;
    loop {
        let r = rest[pos..].trim_start();
        pos = rest.len() - r.len();
        if r.starts_with('}') {
            pos += 1;
            break;
        }
        // label name (ident or quoted)
        let (name, used) = if r.starts_with('"') || r.starts_with('\'') || r.starts_with('`') {
            parse_go_string(r).ok_or("bad quoted label name")?
        } else {
            let end = r.char_indices().find(|(_, c)| !is_ident(*c)).map(|x| x.0).unwrap_or(r.len());
            if end == 0 {
                return Err(format!("bad label at {r:?}"));
            }
            (r[..end].to_string(), end)
        };
        pos += used;
        let r = rest[pos..].trim_start();
        pos = rest.len() - r.len();
        if let Some(r2) = r.strip_prefix('=') {
            let r2t = r2.trim_start();
            pos = rest.len() - r2t.len();
            let (val, used) = parse_go_string(r2t).ok_or("bad label value")?;
            pos += used;
            b.set(name, val);
        } else {
            // bare quoted string: metric name
            b.set("__name__", name);
        }
        let r = rest[pos..].trim_start();
        pos = rest.len() - r.len();
        if let Some(r2) = r.strip_prefix(',') {
            pos = rest.len() - r2.len();
            continue;
        }
        if r.starts_with('}') {
            pos += 1;
            break;
        }
        return Err(format!("unexpected {r:?} in label set"));
    }
    Ok((b.into_labels(), &rest[pos..]))
}

/// A float as Go's ParseFloat reads it here (`Inf`, `NaN`, no hex).
pub fn parse_float(s: &str) -> Option<f64> {
    let l = s.to_ascii_lowercase();
    match l.as_str() {
        "inf" | "+inf" => return Some(f64::INFINITY),
        "-inf" => return Some(f64::NEG_INFINITY),
        "nan" | "+nan" | "-nan" => return Some(f64::NAN),
        _ => {}
    }
    if l.contains("0x") {
        return None;
    }
    if !s.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) {
        return None;
    }
    s.parse().ok()
}

/// Parses a bare scalar line (Go ParseInt base 0, else ParseFloat).
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let int = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(&h.replace('_', ""), 16).ok()
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(bb) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i64::from_str_radix(bb, 2).ok()
    } else if body.len() > 1 && body.starts_with('0') && body.chars().all(|c| c.is_ascii_digit()) {
        i64::from_str_radix(&body[1..], 8).ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(if neg { -(i as f64) } else { i as f64 });
    }
    parse_float(t)
}

/// Splits a value sequence into items, keeping `{{...}}` together.
pub fn split_items(s: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth -= 1;
                cur.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Expands a value sequence (`1+2x3 _ stale _x2 {{…}}`).
pub fn parse_values(s: &str) -> Result<Vec<Point>, String> {
    let mut out = vec![];
    for item in split_items(s) {
        if item.starts_with("{{") {
            // histogram, possibly {{..}}xN or {{..}}+{{..}}xN
            let n = match item.rfind("}}x") {
                Some(i) => item[i + 3..].parse::<usize>().map_err(|_| format!("bad histogram repeat {item:?}"))? + 1,
                None => 1,
            };
            out.extend(std::iter::repeat_n(Point::Hist, n));
            continue;
        }
        if item == "_" {
            out.push(Point::Missing);
            continue;
        }
        if item == "stale" {
            out.push(Point::Float(STALE_NAN));
            continue;
        }
        if let Some(rest) = item.strip_prefix("_x") {
            let n: usize = rest.parse().map_err(|_| format!("bad item {item:?}"))?;
            out.extend(std::iter::repeat_n(Point::Missing, n));
            continue;
        }
        if let Some(v) = parse_float(&item) {
            out.push(Point::Float(v));
            continue;
        }
        // A[+-]BxN or AxN
        let xi = item.rfind('x').ok_or_else(|| format!("bad item {item:?}"))?;
        let n: usize = item[xi + 1..].parse().map_err(|_| format!("bad item {item:?}"))?;
        let body = &item[..xi];
        let bb = body.as_bytes();
        let mut op_pos = None;
        for i in 1..bb.len() {
            if (bb[i] == b'+' || bb[i] == b'-') && !matches!(bb[i - 1], b'e' | b'E') {
                op_pos = Some(i);
                break;
            }
        }
        let (a, d) = match op_pos {
            Some(p) => {
                let a = parse_float(&body[..p]).ok_or_else(|| format!("bad item {item:?}"))?;
                let d = parse_float(&body[p + 1..]).ok_or_else(|| format!("bad item {item:?}"))?;
                (a, if bb[p] == b'-' { -d } else { d })
            }
            None => (parse_float(body).ok_or_else(|| format!("bad item {item:?}"))?, 0.0),
        };
        let mut v = a;
        for _ in 0..=n {
            out.push(Point::Float(v));
            v += d;
        }
    }
    Ok(out)
}


/// A whole description: `name{l="v"} values…`.
pub fn parse_series_desc(s: &str) -> Result<(Labels, Vec<Point>), String> {
    let (labels, rest) = parse_series_labels(s)?;
    Ok((labels, parse_values(rest)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_like_prometheus() {
        let (l, v) = parse_series_desc(r#"up{job="a"} 1+1x2 _ stale 5-1x1 _x2"#).unwrap();
        assert_eq!(l.get("__name__"), Some("up"));
        assert_eq!(l.get("job"), Some("a"));
        let f = |p: &Point| match p {
            Point::Float(x) if x.to_bits() == STALE_NAN.to_bits() => "stale".to_string(),
            Point::Float(x) => x.to_string(),
            Point::Missing => "_".into(),
            Point::Hist => "h".into(),
        };
        let got: Vec<String> = v.iter().map(f).collect();
        assert_eq!(got, ["1", "2", "3", "_", "stale", "5", "4", "_", "_"]);
        assert!(parse_series_desc(r#"up{job="a" 1"#).is_err());
    }
}
