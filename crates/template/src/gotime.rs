//! Go's `time.Time` and `time.Duration` as templates see them.
//!
//! Templates carry a time as the string Go's `Time.String()` prints
//! (`2006-01-02 15:04:05.999999999 -0700 MST`) and a duration as the string
//! `Duration.String()` prints (`1h2m3.5s`), so printing one needs no shim;
//! the method shim (module `shim`) parses them back for `.Format`, `.Unix`,
//! `.Add`, …. Layouts follow Go's reference time `Mon Jan 2 15:04:05 MST 2006`.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;

/// A point in time with the zone it is shown in, like Go's `time.Time`.
#[derive(Debug, Clone, PartialEq)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second (0..1e9).
    pub nanos: i32,
    /// Offset from UTC in seconds.
    pub offset: i32,
    /// Zone abbreviation (`UTC`, `CET`); empty for an unnamed fixed zone.
    pub abbrev: String,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's zero time, `0001-01-01 00:00:00 +0000 UTC`.
pub const GO_ZERO_UNIX: i64 = -62135596800;

impl GoTime {
    /// A UTC time from a `SystemTime`.
    pub fn from_system(t: SystemTime) -> GoTime {
        let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_nanos() as i32),
            Err(e) => {
                let d = e.duration();
                let mut s = -(d.as_secs() as i64);
                let mut n = d.subsec_nanos() as i32;
                if n > 0 {
                    s -= 1;
                    n = 1_000_000_000 - n;
                }
                (s, n)
            }
        };
        GoTime::utc(secs, nanos)
    }

    /// A UTC time.
    pub fn utc(secs: i64, nanos: i32) -> GoTime {
        GoTime {
            secs,
            nanos,
            offset: 0,
            abbrev: "UTC".into(),
        }
    }

    /// The same instant shown in UTC.
    pub fn to_utc(&self) -> GoTime {
        GoTime::utc(self.secs, self.nanos)
    }

    /// Go's `IsZero`.
    pub fn is_zero(&self) -> bool {
        self.secs == GO_ZERO_UNIX && self.nanos == 0
    }

    /// Unix nanoseconds as i128 (no overflow for Go's range).
    pub fn unix_nanos(&self) -> i128 {
        self.secs as i128 * 1_000_000_000 + self.nanos as i128
    }

    /// Adds a number of nanoseconds, keeping the zone.
    pub fn add_nanos(&self, d: i128) -> GoTime {
        let total = self.unix_nanos() + d;
        let secs = total.div_euclid(1_000_000_000) as i64;
        let nanos = total.rem_euclid(1_000_000_000) as i32;
        GoTime {
            secs,
            nanos,
            offset: self.offset,
            abbrev: self.abbrev.clone(),
        }
    }

    fn civil(&self) -> Result<DateTime, String> {
        let ts = Timestamp::new(self.secs, self.nanos).map_err(|e| e.to_string())?;
        let off = Offset::from_seconds(self.offset).map_err(|e| e.to_string())?;
        Ok(off.to_datetime(ts))
    }

    /// The time shown in a named zone (`tz` in Alertmanager templates).
    pub fn in_zone(&self, name: &str) -> Result<GoTime, String> {
        let tz = if name == "Local" {
            TimeZone::system()
        } else if name.is_empty() || name == "UTC" {
            TimeZone::UTC
        } else {
            TimeZone::get(name).map_err(|_| format!("unknown time zone {name}"))?
        };
        let ts = Timestamp::new(self.secs, self.nanos).map_err(|e| e.to_string())?;
        let info = tz.to_offset_info(ts);
        let abbrev = if name.is_empty() || name == "UTC" {
            "UTC".to_string()
        } else {
            info.abbreviation().to_string()
        };
        Ok(GoTime {
            secs: self.secs,
            nanos: self.nanos,
            offset: info.offset().seconds(),
            abbrev,
        })
    }

    /// Go's `Time.String()`.
    pub fn go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// RFC 3339 with nanoseconds, as Go's JSON encoding writes a time.
    pub fn rfc3339_nano(&self) -> String {
        self.format("2006-01-02T15:04:05.999999999Z07:00")
    }

    /// Go's `Time.Format(layout)`.
    pub fn format(&self, layout: &str) -> String {
        let dt = match self.civil() {
            Ok(dt) => dt,
            Err(e) => return format!("<invalid time: {e}>"),
        };
        let mut out = String::with_capacity(layout.len() + 10);
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, chunk, suffix) = next_std_chunk(rest);
            out.push_str(prefix);
            let Some(chunk) = chunk else { break };
            self.write_chunk(&mut out, &dt, chunk);
            rest = suffix;
        }
        out
    }

    fn write_chunk(&self, out: &mut String, dt: &DateTime, chunk: Chunk) {
        let year = dt.year() as i64;
        let month = dt.month() as usize;
        let day = dt.day() as i64;
        let hour = dt.hour() as i64;
        let min = dt.minute() as i64;
        let sec = dt.second() as i64;
        let yday = dt.day_of_year() as i64;
        let wday = dt.weekday().to_sunday_zero_offset() as usize;
        match chunk {
            Chunk::YearShort => pad(out, year.rem_euclid(100), 2),
            Chunk::YearLong => pad(out, year, 4),
            Chunk::Month => out.push_str(&MONTHS[month - 1][..3]),
            Chunk::LongMonth => out.push_str(MONTHS[month - 1]),
            Chunk::NumMonth => pad(out, month as i64, 0),
            Chunk::ZeroMonth => pad(out, month as i64, 2),
            Chunk::Weekday => out.push_str(&DAYS[wday][..3]),
            Chunk::LongWeekday => out.push_str(DAYS[wday]),
            Chunk::Day => pad(out, day, 0),
            Chunk::UnderDay => {
                if day < 10 {
                    out.push(' ');
                }
                pad(out, day, 0)
            }
            Chunk::ZeroDay => pad(out, day, 2),
            Chunk::UnderYearDay => {
                if yday < 100 {
                    out.push(' ');
                    if yday < 10 {
                        out.push(' ');
                    }
                }
                pad(out, yday, 0)
            }
            Chunk::ZeroYearDay => pad(out, yday, 3),
            Chunk::Hour => pad(out, hour, 2),
            Chunk::Hour12 | Chunk::ZeroHour12 => {
                let h = match hour % 12 {
                    0 => 12,
                    h => h,
                };
                pad(out, h, if chunk == Chunk::ZeroHour12 { 2 } else { 0 })
            }
            Chunk::Minute => pad(out, min, 0),
            Chunk::ZeroMinute => pad(out, min, 2),
            Chunk::Second => pad(out, sec, 0),
            Chunk::ZeroSecond => pad(out, sec, 2),
            Chunk::PM => out.push_str(if hour >= 12 { "PM" } else { "AM" }),
            Chunk::Pm => out.push_str(if hour >= 12 { "pm" } else { "am" }),
            Chunk::Tz => {
                if !self.abbrev.is_empty() {
                    out.push_str(&self.abbrev);
                } else {
                    let z = self.offset / 60;
                    let (sign, z) = if z < 0 { ('-', -z) } else { ('+', z) };
                    out.push(sign);
                    pad(out, (z / 60) as i64, 2);
                    pad(out, (z % 60) as i64, 2);
                }
            }
            Chunk::Iso(kind) | Chunk::Num(kind) => {
                let iso = matches!(chunk, Chunk::Iso(_));
                if iso && self.offset == 0 {
                    out.push('Z');
                    return;
                }
                let mut z = self.offset;
                let sign = if z < 0 {
                    z = -z;
                    '-'
                } else {
                    '+'
                };
                out.push(sign);
                let (h, m, s) = (z / 3600, (z / 60) % 60, z % 60);
                pad(out, h as i64, 2);
                match kind {
                    TzKind::H => {}
                    TzKind::Hm => pad(out, m as i64, 2),
                    TzKind::HColonM => {
                        out.push(':');
                        pad(out, m as i64, 2)
                    }
                    TzKind::Hms => {
                        pad(out, m as i64, 2);
                        pad(out, s as i64, 2)
                    }
                    TzKind::HColonMColonSec => {
                        out.push(':');
                        pad(out, m as i64, 2);
                        out.push(':');
                        pad(out, s as i64, 2)
                    }
                }
            }
            Chunk::Frac { sep, digits, trim } => {
                let mut s = format!("{:09}", self.nanos);
                s.truncate(digits);
                if trim {
                    let t = s.trim_end_matches('0');
                    if t.is_empty() {
                        return;
                    }
                    s = t.to_string();
                }
                out.push(sep);
                out.push_str(&s);
            }
        }
    }

    /// Parses the string Go's `Time.String()` prints (with an optional
    /// monotonic clock suffix ` m=+0.123`).
    pub fn parse_go_string(s: &str) -> Option<GoTime> {
        let s = match s.find(" m=") {
            Some(i) => &s[..i],
            None => s,
        };
        let mut parts = s.splitn(4, ' ');
        let date = parts.next()?;
        let clock = parts.next()?;
        let off = parts.next()?;
        let abbrev = parts.next()?;
        if date.len() < 10 || off.len() != 5 || !off.is_ascii() || abbrev.contains(' ') {
            return None;
        }
        let (dy, rest) = date.rsplit_once('-')?;
        let (y, mo) = dy.rsplit_once('-')?;
        let year: i16 = y.parse().ok()?;
        let month: i8 = mo.parse().ok()?;
        let day: i8 = rest.parse().ok()?;
        let (hms, frac) = match clock.split_once('.') {
            Some((a, b)) => (a, b),
            None => (clock, ""),
        };
        let mut it = hms.split(':');
        let h: i8 = it.next()?.parse().ok()?;
        let mi: i8 = it.next()?.parse().ok()?;
        let se: i8 = it.next()?.parse().ok()?;
        if it.next().is_some() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let nanos: i32 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().ok()?
        };
        let sign = match off.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let oh: i32 = off[1..3].parse().ok()?;
        let om: i32 = off[3..5].parse().ok()?;
        let offset = sign * (oh * 3600 + om * 60);
        let dt = DateTime::from_parts(
            Date::new(year, month, day).ok()?,
            Time::new(h, mi, se, nanos).ok()?,
        );
        let ts = Offset::from_seconds(offset).ok()?.to_timestamp(dt).ok()?;
        let ab = if abbrev == off { "" } else { abbrev };
        Some(GoTime {
            secs: ts.as_second(),
            nanos: ts.subsec_nanosecond(),
            offset,
            abbrev: ab.to_string(),
        })
    }

    /// Go's `time.ParseInLocation(layout, value, time.UTC)` for the layout
    /// elements that carry numbers, month and weekday names, AM/PM, fractions
    /// and zone offsets.
    pub fn parse_layout(layout: &str, value: &str) -> Result<GoTime, String> {
        let err = |elem: &str, v: &str| {
            format!("parsing time {value:?} as {layout:?}: cannot parse {v:?} as {elem:?}")
        };
        let mut year = 1i64;
        let mut month = 1i64;
        let mut day = 1i64;
        let mut yday = -1i64;
        let mut hour = 0i64;
        let mut min = 0i64;
        let mut sec = 0i64;
        let mut nanos = 0i64;
        let mut pm: Option<bool> = None;
        let mut offset: Option<i32> = None;
        let mut abbrev = String::new();
        let mut l = layout;
        let mut v = value;
        loop {
            let (prefix, chunk, suffix) = next_std_chunk(l);
            let elem = &l[prefix.len()..l.len() - suffix.len()];
            v = v.strip_prefix(prefix).ok_or_else(|| err(prefix, v))?;
            let Some(chunk) = chunk else {
                if !v.is_empty() {
                    return Err(format!("parsing time {value:?}: extra text: {v:?}"));
                }
                break;
            };
            l = suffix;
            let num = |v: &mut &str, min_d: usize, max_d: usize| -> Option<i64> {
                let n = v.bytes().take(max_d).take_while(u8::is_ascii_digit).count();
                if n < min_d {
                    return None;
                }
                let r = v[..n].parse().ok();
                *v = &v[n..];
                r
            };
            let ok = match chunk {
                Chunk::YearShort => {
                    num(&mut v, 2, 2).map(|y| year = if y >= 69 { 1900 + y } else { 2000 + y })
                }
                Chunk::YearLong => num(&mut v, 4, 4).map(|y| year = y),
                Chunk::NumMonth => num(&mut v, 1, 2).map(|m| month = m),
                Chunk::ZeroMonth => num(&mut v, 2, 2).map(|m| month = m),
                Chunk::Month | Chunk::LongMonth => {
                    let long = chunk == Chunk::LongMonth;
                    MONTHS
                        .iter()
                        .position(|m| {
                            let name = if long { *m } else { &m[..3] };
                            v.get(..name.len())
                                .is_some_and(|p| p.eq_ignore_ascii_case(name))
                        })
                        .map(|i| {
                            let name_len = if long { MONTHS[i].len() } else { 3 };
                            v = &v[name_len..];
                            month = i as i64 + 1;
                        })
                }
                Chunk::Weekday | Chunk::LongWeekday => {
                    let long = chunk == Chunk::LongWeekday;
                    DAYS.iter()
                        .find(|d| {
                            let name = if long { **d } else { &d[..3] };
                            v.get(..name.len())
                                .is_some_and(|p| p.eq_ignore_ascii_case(name))
                        })
                        .map(|d| v = &v[if long { d.len() } else { 3 }..])
                }
                Chunk::Day | Chunk::UnderDay => {
                    if chunk == Chunk::UnderDay {
                        v = v.strip_prefix(' ').unwrap_or(v);
                    }
                    num(&mut v, 1, 2).map(|d| day = d)
                }
                Chunk::ZeroDay => num(&mut v, 2, 2).map(|d| day = d),
                Chunk::UnderYearDay => {
                    v = v.trim_start_matches(' ');
                    num(&mut v, 1, 3).map(|d| yday = d)
                }
                Chunk::ZeroYearDay => num(&mut v, 3, 3).map(|d| yday = d),
                Chunk::Hour => num(&mut v, 2, 2).map(|h| hour = h),
                Chunk::Hour12 => num(&mut v, 1, 2).map(|h| hour = h),
                Chunk::ZeroHour12 => num(&mut v, 2, 2).map(|h| hour = h),
                Chunk::Minute => num(&mut v, 1, 2).map(|m| min = m),
                Chunk::ZeroMinute => num(&mut v, 2, 2).map(|m| min = m),
                Chunk::Second | Chunk::ZeroSecond => {
                    let r = num(&mut v, if chunk == Chunk::ZeroSecond { 2 } else { 1 }, 2)
                        .map(|s| sec = s);
                    // Go accepts a fraction after seconds even if the layout has none.
                    if r.is_some()
                        && !matches!(next_std_chunk(l).1, Some(Chunk::Frac { .. }))
                        && l.is_empty()
                    {
                        if let Some(rest) = v.strip_prefix('.').or_else(|| v.strip_prefix(',')) {
                            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                            if n > 0 {
                                nanos = format!("{:0<9}", &rest[..n.min(9)]).parse().unwrap_or(0);
                                v = &rest[n..];
                            }
                        }
                    }
                    r
                }
                Chunk::PM | Chunk::Pm => {
                    if let Some(p) = v.get(..2) {
                        let r = if p.eq_ignore_ascii_case("PM") {
                            Some(true)
                        } else if p.eq_ignore_ascii_case("AM") {
                            Some(false)
                        } else {
                            None
                        };
                        r.map(|r| {
                            pm = Some(r);
                            v = &v[2..];
                        })
                    } else {
                        None
                    }
                }
                Chunk::Frac { sep, digits, trim } => match v.strip_prefix(sep) {
                    Some(rest) => {
                        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                        if (!trim && n != digits) || n == 0 {
                            None
                        } else {
                            nanos = format!("{:0<9}", &rest[..n.min(9)]).parse().unwrap_or(0);
                            v = &rest[n..];
                            Some(())
                        }
                    }
                    None if trim => Some(()),
                    None => None,
                },
                Chunk::Tz => {
                    if v.starts_with("UTC") {
                        v = &v[3..];
                        offset = Some(0);
                        abbrev = "UTC".into();
                        Some(())
                    } else {
                        let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                        if n >= 3 {
                            abbrev = v[..n].to_string();
                            v = &v[n..];
                            Some(())
                        } else {
                            None
                        }
                    }
                }
                Chunk::Iso(kind) | Chunk::Num(kind) => {
                    if matches!(chunk, Chunk::Iso(_)) && v.starts_with('Z') {
                        v = &v[1..];
                        offset = Some(0);
                        abbrev = "UTC".into();
                        Some(())
                    } else {
                        parse_offset(&mut v, kind).map(|o| offset = Some(o))
                    }
                }
            };
            if ok.is_none() {
                return Err(err(elem, v));
            }
        }
        if let Some(p) = pm {
            if p && hour < 12 {
                hour += 12;
            } else if !p && hour == 12 {
                hour = 0;
            }
        }
        let range_err = || format!("parsing time {value:?}: day out of range");
        let date = if yday > 0 {
            Date::new(year as i16, 1, 1)
                .ok()
                .and_then(|d| d.checked_add(jiff::Span::new().days(yday - 1)).ok())
                .ok_or_else(range_err)?
        } else {
            Date::new(year as i16, month as i8, day as i8).map_err(|_| range_err())?
        };
        let time = Time::new(hour as i8, min as i8, sec as i8, nanos as i32)
            .map_err(|e| format!("parsing time {value:?}: {e}"))?;
        let off = offset.unwrap_or(0);
        let ts = Offset::from_seconds(off)
            .and_then(|o| o.to_timestamp(DateTime::from_parts(date, time)))
            .map_err(|e| e.to_string())?;
        if offset.is_none() && abbrev.is_empty() {
            abbrev = "UTC".into();
        }
        if offset == Some(0) && abbrev.is_empty() {
            abbrev = "UTC".into();
        }
        Ok(GoTime {
            secs: ts.as_second(),
            nanos: ts.subsec_nanosecond(),
            offset: off,
            abbrev,
        })
    }
}

fn parse_offset(v: &mut &str, kind: TzKind) -> Option<i32> {
    let b = v.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = |s: &str| s.len() == 2 && s.bytes().all(|c| c.is_ascii_digit());
    let (h, m, s, len) = match kind {
        TzKind::H => (v.get(1..3)?, "00", "00", 3),
        TzKind::Hm => (v.get(1..3)?, v.get(3..5)?, "00", 5),
        TzKind::HColonM => {
            if b.get(3) != Some(&b':') {
                return None;
            }
            (v.get(1..3)?, v.get(4..6)?, "00", 6)
        }
        TzKind::Hms => (v.get(1..3)?, v.get(3..5)?, v.get(5..7)?, 7),
        TzKind::HColonMColonSec => (v.get(1..3)?, v.get(4..6)?, v.get(7..9)?, 9),
    };
    if !digits(h) || !digits(m) || !digits(s) {
        return None;
    }
    let off = sign
        * (h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60 + s.parse::<i32>().ok()?);
    *v = &v[len..];
    Some(off)
}

fn pad(out: &mut String, n: i64, width: usize) {
    if n < 0 {
        out.push('-');
        let _ = write!(out, "{:0width$}", -n, width = width);
    } else {
        let _ = write!(out, "{:0width$}", n, width = width);
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TzKind {
    H,
    Hm,
    HColonM,
    Hms,
    HColonMColonSec,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekday,
    Weekday,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    YearLong,
    YearShort,
    PM,
    Pm,
    Tz,
    /// `Z07:00` family: `Z` for UTC.
    Iso(TzKind),
    /// `-07:00` family.
    Num(TzKind),
    Frac {
        sep: char,
        digits: usize,
        trim: bool,
    },
}

/// Go's `nextStdChunk`: splits a layout at its first layout element.
fn next_std_chunk(layout: &str) -> (&str, Option<Chunk>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| layout[i..].starts_with(s);
    let mut i = 0;
    while i < b.len() {
        let found: Option<(Chunk, usize)> = match b[i] {
            b'J' if at(i, "Jan") => Some(if at(i, "January") {
                (Chunk::LongMonth, 7)
            } else {
                (Chunk::Month, 3)
            }),
            b'M' if at(i, "Mon") => Some(if at(i, "Monday") {
                (Chunk::LongWeekday, 6)
            } else {
                (Chunk::Weekday, 3)
            }),
            b'M' if at(i, "MST") => Some((Chunk::Tz, 3)),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => Some(match b[i + 1] {
                b'1' => (Chunk::ZeroMonth, 2),
                b'2' => (Chunk::ZeroDay, 2),
                b'3' => (Chunk::ZeroHour12, 2),
                b'4' => (Chunk::ZeroMinute, 2),
                b'5' => (Chunk::ZeroSecond, 2),
                _ => (Chunk::YearShort, 2),
            }),
            b'0' if at(i, "002") => Some((Chunk::ZeroYearDay, 3)),
            b'1' => Some(if at(i, "15") {
                (Chunk::Hour, 2)
            } else {
                (Chunk::NumMonth, 1)
            }),
            b'2' => Some(if at(i, "2006") {
                (Chunk::YearLong, 4)
            } else {
                (Chunk::Day, 1)
            }),
            b'_' if at(i, "_2") => {
                if at(i, "_2006") {
                    // `_` is literal, then the year.
                    return (&layout[..i + 1], Some(Chunk::YearLong), &layout[i + 5..]);
                }
                Some((Chunk::UnderDay, 2))
            }
            b'_' if at(i, "__2") => Some((Chunk::UnderYearDay, 3)),
            b'3' => Some((Chunk::Hour12, 1)),
            b'4' => Some((Chunk::Minute, 1)),
            b'5' => Some((Chunk::Second, 1)),
            b'P' if at(i, "PM") => Some((Chunk::PM, 2)),
            b'p' if at(i, "pm") => Some((Chunk::Pm, 2)),
            b'-' => {
                if at(i, "-070000") {
                    Some((Chunk::Num(TzKind::Hms), 7))
                } else if at(i, "-07:00:00") {
                    Some((Chunk::Num(TzKind::HColonMColonSec), 9))
                } else if at(i, "-0700") {
                    Some((Chunk::Num(TzKind::Hm), 5))
                } else if at(i, "-07:00") {
                    Some((Chunk::Num(TzKind::HColonM), 6))
                } else if at(i, "-07") {
                    Some((Chunk::Num(TzKind::H), 3))
                } else {
                    None
                }
            }
            b'Z' => {
                if at(i, "Z070000") {
                    Some((Chunk::Iso(TzKind::Hms), 7))
                } else if at(i, "Z07:00:00") {
                    Some((Chunk::Iso(TzKind::HColonMColonSec), 9))
                } else if at(i, "Z0700") {
                    Some((Chunk::Iso(TzKind::Hm), 5))
                } else if at(i, "Z07:00") {
                    Some((Chunk::Iso(TzKind::HColonM), 6))
                } else if at(i, "Z07") {
                    Some((Chunk::Iso(TzKind::H), 3))
                } else {
                    None
                }
            }
            c @ (b'.' | b',') if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    Some((
                        Chunk::Frac {
                            sep: c as char,
                            digits: j - i - 1,
                            trim: ch == b'9',
                        },
                        j - i,
                    ))
                }
            }
            _ => None,
        };
        if let Some((chunk, len)) = found {
            return (&layout[..i], Some(chunk), &layout[i + len..]);
        }
        // Advance by one UTF-8 character.
        i += layout[i..].chars().next().map_or(1, char::len_utf8);
    }
    (layout, None, "")
}

/// Go's `Duration.String()` for a number of nanoseconds.
pub fn duration_string(d: i128) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Sub-second: one unit with a fraction.
        let (unit, div) = if u < 1_000 {
            ("ns", 1u128)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac_str(u, div));
        out.push_str(unit);
    } else {
        let secs_total = u / 1_000_000_000;
        let h = secs_total / 3600;
        let m = (secs_total / 60) % 60;
        let s_nanos = u % 60_000_000_000;
        if h > 0 {
            let _ = write!(out, "{h}h");
        }
        if h > 0 || m > 0 {
            let _ = write!(out, "{m}m");
        }
        out.push_str(&frac_str(s_nanos, 1_000_000_000));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

fn frac_str(v: u128, div: u128) -> String {
    let int = v / div;
    let frac = v % div;
    if frac == 0 {
        return int.to_string();
    }
    let width = div.ilog10() as usize;
    let f = format!("{frac:0width$}");
    format!("{int}.{}", f.trim_end_matches('0'))
}

/// Go's `time.ParseDuration`: nanoseconds.
pub fn parse_go_duration(s: &str) -> Option<i128> {
    let orig = s;
    let (neg, mut s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() || orig.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    let mut exact: i128 = 0;
    while !s.is_empty() {
        let n = s
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        if n == 0 {
            return None;
        }
        let num = &s[..n];
        s = &s[n..];
        let u = s
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(s.len(), |(i, _)| i);
        let unit = &s[..u];
        s = &s[u..];
        let mult: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        if let Ok(i) = num.parse::<i128>() {
            exact += i * mult;
        } else {
            let f: f64 = num.parse().ok()?;
            total += f * mult as f64;
        }
    }
    let v = exact + total.round() as i128;
    Some(if neg { -v } else { v })
}

/// Prometheus' `model.ParseDuration` (units y w d h m s ms, each at most
/// once, in that order), allowing a leading `-`: milliseconds.
pub fn parse_prom_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("not a valid duration string: {s:?}");
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    if body == "0" {
        return Ok(0);
    }
    if body.is_empty() {
        return Err(bad());
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut rest = body;
    let mut last: Option<usize> = None;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad());
        }
        let v: i64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest.bytes().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..u];
        rest = &rest[u..];
        let idx = UNITS.iter().position(|(n, _)| *n == unit).ok_or_else(bad)?;
        if last.is_some_and(|l| idx <= l) {
            return Err(bad());
        }
        last = Some(idx);
        total = v
            .checked_mul(UNITS[idx].1)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_string_round_trip() {
        let t = GoTime::utc(1435065584, 128_000_000);
        assert_eq!(t.go_string(), "2015-06-23 13:19:44.128 +0000 UTC");
        assert_eq!(GoTime::parse_go_string(&t.go_string()), Some(t));
        let z = GoTime::utc(GO_ZERO_UNIX, 0);
        assert_eq!(z.go_string(), "0001-01-01 00:00:00 +0000 UTC");
        assert!(z.is_zero());
    }

    #[test]
    fn layouts() {
        let t = GoTime::utc(1353755652, 0);
        assert_eq!(
            t.format("Mon Jan 2 15:04:05 2006"),
            "Sat Nov 24 11:14:12 2012"
        );
        assert_eq!(t.format("2006"), "2012");
        assert_eq!(t.format("02 Jan 06 15:04 MST"), "24 Nov 12 11:14 UTC");
        assert_eq!(t.format("3:04PM"), "11:14AM");
        assert_eq!(t.format(time_rfc3339()), "2012-11-24T11:14:12Z");
        assert_eq!(
            t.format("2006-01-02T15:04:05.000Z07:00"),
            "2012-11-24T11:14:12.000Z"
        );
        assert_eq!(
            t.format("Monday, January _2 __2 002"),
            "Saturday, November 24 329 329"
        );
        let p = t.in_zone("Europe/Paris").unwrap();
        assert_eq!(p.go_string(), "2012-11-24 12:14:12 +0100 CET");
        assert_eq!(p.format(time_rfc3339()), "2012-11-24T12:14:12+01:00");
        assert_eq!(GoTime::parse_go_string(&p.go_string()), Some(p));
    }

    fn time_rfc3339() -> &'static str {
        "2006-01-02T15:04:05Z07:00"
    }

    #[test]
    fn parse_layouts() {
        let t = GoTime::parse_layout("2006-01-02", "2024-03-15").unwrap();
        assert_eq!(t.format("02 Jan 2006"), "15 Mar 2024");
        let e = GoTime::parse_layout("2006-01-02", "not-a-date").unwrap_err();
        assert_eq!(
            e,
            r#"parsing time "not-a-date" as "2006-01-02": cannot parse "not-a-date" as "2006""#
        );
        let t = GoTime::parse_layout(time_rfc3339(), "2024-01-01T08:15:30+01:00").unwrap();
        assert_eq!(t.to_utc().go_string(), "2024-01-01 07:15:30 +0000 UTC");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_string(1_800_000_000_000), "30m0s");
        assert_eq!(duration_string(3_600_000_000_000), "1h0m0s");
        assert_eq!(duration_string(1_500_000), "1.5ms");
        assert_eq!(duration_string(-1_500_000_000), "-1.5s");
        assert_eq!(duration_string(100_000), "100µs");
        assert_eq!(parse_go_duration("1h2m10ms"), Some(3_720_010_000_000));
        assert_eq!(parse_go_duration("-30m0s"), Some(-1_800_000_000_000));
        assert_eq!(parse_prom_duration("1h2m10ms"), Ok(3_720_010));
        assert_eq!(parse_prom_duration("-1h2m10ms"), Ok(-3_720_010));
        assert!(parse_prom_duration("1m1h").is_err());
    }
}
