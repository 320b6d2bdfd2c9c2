//! Time intervals (`time_intervals:` / legacy `mute_time_intervals:`): "is
//! this instant inside this interval", with IANA time zones through `jiff`.
//!
//! Every field that is present must hold (times, weekdays, days of month,
//! months, years); inside a field, any one range suffices. Times are
//! half-open `[start, end)` in minutes of the day; the other ranges are
//! inclusive. Negative days of month count from the end of the month (`-1`
//! is the last day). The instant is converted to the interval's `location`
//! (UTC when absent) before any field is checked, so a 09:00–17:00 interval
//! in `Europe/Berlin` follows daylight saving time. Days per month are
//! counted on the civil calendar, so a DST change never shifts `-1`.

use std::collections::BTreeMap;
use std::fmt;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A `[start, end)` range of minutes in the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start_minute: u32,
    pub end_minute: u32,
}

/// An inclusive range of integers (weekday 0 = Sunday, day of month, month
/// 1–12, year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InclusiveRange {
    pub begin: i32,
    pub end: i32,
}

/// A time zone by IANA name.
#[derive(Clone)]
pub struct Location {
    pub name: String,
    pub tz: TimeZone,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({})", self.name)
    }
}

impl PartialEq for Location {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
    }
}

impl Location {
    /// Go's `time.LoadLocation`: `""` and `UTC` are UTC, `Local` is the
    /// system zone, anything else an IANA name.
    pub fn load(name: &str) -> Result<Location, String> {
        let tz = match name {
            "" | "UTC" => TimeZone::UTC,
            "Local" => TimeZone::system(),
            n => TimeZone::get(n).map_err(|_| format!("unknown time zone {n}"))?,
        };
        Ok(Location {
            name: if name.is_empty() {
                "UTC".into()
            } else {
                name.into()
            },
            tz,
        })
    }
}

/// One interval. `None` for a field means "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeInterval {
    pub times: Option<Vec<TimeRange>>,
    pub weekdays: Option<Vec<InclusiveRange>>,
    pub days_of_month: Option<Vec<InclusiveRange>>,
    pub months: Option<Vec<InclusiveRange>>,
    pub years: Option<Vec<InclusiveRange>>,
    pub location: Option<Location>,
}

impl TimeInterval {
    /// Is the instant inside this interval?
    pub fn contains(&self, ts: Timestamp) -> bool {
        let tz = self
            .location
            .as_ref()
            .map(|l| l.tz.clone())
            .unwrap_or(TimeZone::UTC);
        let z = ts.to_zoned(tz);
        let date = z.date();
        if let Some(times) = &self.times {
            let m = z.hour() as u32 * 60 + z.minute() as u32;
            if !times
                .iter()
                .any(|r| m >= r.start_minute && m < r.end_minute)
            {
                return false;
            }
        }
        if let Some(days) = &self.days_of_month {
            let dim = date.days_in_month() as i32;
            let day = date.day() as i32;
            let hit = days.iter().any(|r| {
                let begin = if r.begin < 0 {
                    dim + r.begin + 1
                } else {
                    r.begin
                };
                let end = if r.end < 0 { dim + r.end + 1 } else { r.end };
                if begin > dim {
                    return false;
                }
                let begin = begin.clamp(-dim, dim);
                let end = end.clamp(-dim, dim);
                day >= begin && day <= end
            });
            if !hit {
                return false;
            }
        }
        if let Some(months) = &self.months {
            let m = date.month() as i32;
            if !months.iter().any(|r| m >= r.begin && m <= r.end) {
                return false;
            }
        }
        if let Some(wds) = &self.weekdays {
            let wd = date.weekday().to_sunday_zero_offset() as i32;
            if !wds.iter().any(|r| wd >= r.begin && wd <= r.end) {
                return false;
            }
        }
        if let Some(years) = &self.years {
            let y = date.year() as i32;
            if !years.iter().any(|r| y >= r.begin && y <= r.end) {
                return false;
            }
        }
        true
    }

    /// [`contains`](Self::contains) for a Unix time in milliseconds.
    pub fn contains_millis(&self, ms: i64) -> bool {
        Timestamp::from_millisecond(ms)
            .map(|t| self.contains(t))
            .unwrap_or(false)
    }
}

/// Is the instant inside any of the intervals?
pub fn any_contains(intervals: &[TimeInterval], ts: Timestamp) -> bool {
    intervals.iter().any(|i| i.contains(ts))
}

// ---------------------------------------------------------------------------
// Printing, as Alertmanager marshals intervals

fn range_text(r: &InclusiveRange, name: impl Fn(i32) -> String) -> String {
    if r.begin == r.end {
        name(r.begin)
    } else {
        format!("{}:{}", name(r.begin), name(r.end))
    }
}

fn clock(m: u32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

impl Serialize for TimeInterval {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let num = |n: i32| n.to_string();
        let texts = |v: &Vec<InclusiveRange>, f: &dyn Fn(i32) -> String| -> Vec<String> {
            v.iter().map(|r| range_text(r, f)).collect()
        };
        let mut m = s.serialize_map(None)?;
        if let Some(t) = &self.times {
            let v: Vec<BTreeMap<&str, String>> = t
                .iter()
                .map(|r| {
                    BTreeMap::from([
                        ("start_time", clock(r.start_minute)),
                        ("end_time", clock(r.end_minute)),
                    ])
                })
                .collect();
            m.serialize_entry("times", &v)?;
        }
        if let Some(w) = &self.weekdays {
            let day = |n: i32| WEEKDAYS.get(n as usize).copied().unwrap_or("").to_string();
            m.serialize_entry("weekdays", &texts(w, &day))?;
        }
        if let Some(d) = &self.days_of_month {
            m.serialize_entry("days_of_month", &texts(d, &num))?;
        }
        if let Some(d) = &self.months {
            m.serialize_entry("months", &texts(d, &num))?;
        }
        if let Some(d) = &self.years {
            m.serialize_entry("years", &texts(d, &num))?;
        }
        if let Some(l) = &self.location {
            m.serialize_entry("location", &l.name)?;
        }
        m.end()
    }
}

// ---------------------------------------------------------------------------
// Parsing

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Go's `strconv.Atoi` error text.
fn atoi(s: &str) -> Result<i32, String> {
    s.parse::<i32>()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: invalid syntax"))
}

fn split_range(
    input: &str,
    member: impl Fn(&str) -> Result<i32, String>,
) -> Result<InclusiveRange, String> {
    let s = input.to_lowercase();
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 2 {
            return Err(format!("couldn't parse range {s}, invalid format"));
        }
        Ok(InclusiveRange {
            begin: member(parts[0])?,
            end: member(parts[1])?,
        })
    } else {
        let v = member(&s)?;
        Ok(InclusiveRange { begin: v, end: v })
    }
}

/// Parses a `weekdays` entry (`monday`, `monday:friday`).
pub fn parse_weekday_range(s: &str) -> Result<InclusiveRange, String> {
    let r = split_range(s, |m| {
        WEEKDAYS
            .iter()
            .position(|d| *d == m)
            .map(|p| p as i32)
            .ok_or_else(|| format!("{m} is not a valid weekday"))
    })?;
    if r.begin > r.end {
        return Err("start day cannot be before end day".into());
    }
    Ok(r)
}

/// Parses a `days_of_month` entry (`1`, `1:5`, `-3:-1`).
pub fn parse_day_of_month_range(s: &str) -> Result<InclusiveRange, String> {
    let r = split_range(s, atoi)?;
    for v in [r.begin, r.end] {
        if v == 0 || !(-31..=31).contains(&v) {
            return Err(format!("{v} is not a valid day of the month: out of range"));
        }
    }
    if r.begin < 0 && r.end > 0 {
        return Err("end day must be negative if start day is negative".into());
    }
    let b = if r.begin < 0 { 28 + r.begin } else { r.begin };
    let e = if r.end < 0 { 28 + r.end } else { r.end };
    if b > e {
        return Err(format!(
            "end day {} is always before start day {}",
            r.end, r.begin
        ));
    }
    Ok(r)
}

/// Parses a `months` entry (`january`, `1:3`, `may:august`).
pub fn parse_month_range(s: &str) -> Result<InclusiveRange, String> {
    let r = split_range(s, |m| {
        MONTHS
            .iter()
            .position(|x| *x == m)
            .map(|p| p as i32 + 1)
            .or_else(|| m.parse().ok())
            .ok_or_else(|| format!("{m} is not a valid month"))
    })?;
    if r.begin > r.end {
        let name = |n: i32| {
            MONTHS
                .get((n - 1).max(0) as usize)
                .copied()
                .unwrap_or("")
                .to_string()
        };
        return Err(format!(
            "end month {} is before start month {}",
            name(r.end),
            name(r.begin)
        ));
    }
    Ok(r)
}

/// Parses a `years` entry (`2024`, `2020:2022`).
pub fn parse_year_range(s: &str) -> Result<InclusiveRange, String> {
    let r = split_range(s, atoi)?;
    if r.begin > r.end {
        return Err(format!(
            "end year {} is before start year {}",
            r.end, r.begin
        ));
    }
    Ok(r)
}

fn parse_clock(s: &str) -> Result<u32, String> {
    let bad = || format!("couldn't parse timestamp {s}, invalid format");
    if s == "24:00" {
        return Ok(24 * 60);
    }
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return Err(bad());
    }
    let h: u32 = s[..2].parse().map_err(|_| bad())?;
    let m: u32 = s[3..].parse().map_err(|_| bad())?;
    if !b[..2].iter().all(u8::is_ascii_digit) || !b[3..].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Parses a `times` entry.
pub fn parse_time_range(start: &str, end: &str) -> Result<TimeRange, String> {
    if start.is_empty() || end.is_empty() {
        return Err("both start and end times must be provided".into());
    }
    let s = parse_clock(start)?;
    let e = parse_clock(end)?;
    if s >= e {
        return Err("start time cannot be equal or greater than end time".into());
    }
    Ok(TimeRange {
        start_minute: s,
        end_minute: e,
    })
}

/// A YAML scalar read as text: Go's yaml.v2 hands `2024` or `-1` to a
/// string field as written.
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

fn ranges<'de, D: Deserializer<'de>>(
    d: D,
    parse: fn(&str) -> Result<InclusiveRange, String>,
) -> Result<Option<Vec<InclusiveRange>>, D::Error> {
    let v: Option<Vec<ScalarText>> = Option::deserialize(d)?;
    v.map(|v| {
        v.iter()
            .map(|s| parse(&s.0).map_err(serde::de::Error::custom))
            .collect()
    })
    .transpose()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeRange {
    #[serde(default)]
    start_time: String,
    #[serde(default)]
    end_time: String,
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawTimeRange::deserialize(d)?;
        parse_time_range(&r.start_time, &r.end_time).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Location::load(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeInterval {
    #[serde(default)]
    times: Option<Vec<TimeRange>>,
    #[serde(default, deserialize_with = "weekdays")]
    weekdays: Option<Vec<InclusiveRange>>,
    #[serde(default, deserialize_with = "days_of_month")]
    days_of_month: Option<Vec<InclusiveRange>>,
    #[serde(default, deserialize_with = "months")]
    months: Option<Vec<InclusiveRange>>,
    #[serde(default, deserialize_with = "years")]
    years: Option<Vec<InclusiveRange>>,
    #[serde(default)]
    location: Option<Location>,
}

fn weekdays<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<InclusiveRange>>, D::Error> {
    ranges(d, parse_weekday_range)
}
fn days_of_month<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<InclusiveRange>>, D::Error> {
    ranges(d, parse_day_of_month_range)
}
fn months<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<InclusiveRange>>, D::Error> {
    ranges(d, parse_month_range)
}
fn years<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<InclusiveRange>>, D::Error> {
    ranges(d, parse_year_range)
}

impl<'de> Deserialize<'de> for TimeInterval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawTimeInterval::deserialize(d)?;
        Ok(TimeInterval {
            times: r.times,
            weekdays: r.weekdays,
            days_of_month: r.days_of_month,
            months: r.months,
            years: r.years,
            location: r.location,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ti(yaml: &str) -> TimeInterval {
        serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }
    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    // Outcomes from Alertmanager's timeinterval tests (our own table).
    #[test]
    fn contains_table() {
        let cases: &[(&str, &[(&str, bool)])] = &[
            (
                "times:\n  - start_time: '09:00'\n    end_time: '17:00'\n",
                &[
                    ("2021-01-01T09:00:00Z", true),
                    ("2021-01-01T16:59:59Z", true),
                    ("2021-01-01T17:00:00Z", false),
                    ("2021-01-01T08:59:59Z", false),
                ],
            ),
            (
                "weekdays: ['monday:friday']\n",
                &[
                    ("2021-03-01T12:00:00Z", true),  // Monday
                    ("2021-03-05T23:59:59Z", true),  // Friday
                    ("2021-03-06T00:00:00Z", false), // Saturday
                    ("2021-03-07T12:00:00Z", false), // Sunday
                ],
            ),
            (
                "weekdays: ['saturday', 'sunday']\n",
                &[("2021-03-06T00:00:00Z", true), ("2021-03-08T00:00:00Z", false)],
            ),
            (
                "days_of_month: ['-1']\n",
                &[
                    ("2021-02-28T10:00:00Z", true),
                    ("2020-02-29T10:00:00Z", true),
                    ("2020-02-28T10:00:00Z", false),
                    ("2021-01-31T10:00:00Z", true),
                    ("2021-04-30T10:00:00Z", true),
                ],
            ),
            (
                "days_of_month: ['-3:-1']\n",
                &[
                    ("2021-01-29T00:00:00Z", true),
                    ("2021-01-28T23:59:59Z", false),
                ],
            ),
            (
                "days_of_month: ['1:5', 31]\n",
                &[
                    ("2021-01-05T00:00:00Z", true),
                    ("2021-01-06T00:00:00Z", false),
                    ("2021-01-31T00:00:00Z", true),
                ],
            ),
            (
                // a start beyond the month's length never matches
                "days_of_month: ['30:31']\n",
                &[("2021-02-28T00:00:00Z", false), ("2021-03-30T00:00:00Z", true)],
            ),
            (
                "months: ['january:march', 'december']\n",
                &[
                    ("2021-02-15T00:00:00Z", true),
                    ("2021-04-01T00:00:00Z", false),
                    ("2021-12-01T00:00:00Z", true),
                ],
            ),
            (
                "months: ['1:3']\n",
                &[("2021-03-31T23:59:59Z", true), ("2021-04-01T00:00:00Z", false)],
            ),
            (
                "years: ['2020:2022', 2030]\n",
                &[
                    ("2021-06-01T00:00:00Z", true),
                    ("2023-06-01T00:00:00Z", false),
                    ("2030-06-01T00:00:00Z", true),
                ],
            ),
            (
                // all fields must hold
                "times:\n  - start_time: '00:00'\n    end_time: '24:00'\nweekdays: [monday]\nmonths: [march]\n",
                &[("2021-03-01T23:59:00Z", true), ("2021-03-02T00:00:00Z", false), ("2021-04-05T00:00:00Z", false)],
            ),
            (
                "location: 'Asia/Kolkata'\ntimes:\n  - start_time: '09:00'\n    end_time: '17:00'\n",
                &[
                    ("2021-01-01T03:30:00Z", true),  // 09:00 IST
                    ("2021-01-01T11:29:59Z", true),  // 16:59:59 IST
                    ("2021-01-01T11:30:00Z", false), // 17:00 IST
                ],
            ),
            (
                // Midnight in Auckland is still the day before in UTC.
                "location: 'Pacific/Auckland'\nweekdays: ['monday']\n",
                &[("2021-03-07T12:00:00Z", true), ("2021-03-08T12:00:00Z", false)],
            ),
        ];
        for (yaml, points) in cases {
            let t = ti(yaml);
            for (p, want) in points.iter() {
                assert_eq!(t.contains(at(p)), *want, "{yaml} at {p}");
            }
        }
    }

    #[test]
    fn dst_is_followed() {
        // 09:00–17:00 Berlin: 08:00Z in winter (CET), 07:00Z in summer (CEST).
        let t = ti(
            "location: 'Europe/Berlin'\ntimes:\n  - start_time: '09:00'\n    end_time: '17:00'\n",
        );
        assert!(t.contains(at("2024-01-15T08:00:00Z")));
        assert!(!t.contains(at("2024-01-15T07:30:00Z")));
        assert!(t.contains(at("2024-07-15T07:00:00Z")));
        assert!(!t.contains(at("2024-07-15T15:00:00Z")));
        // The last day of March across the spring change (31 March 2024 is
        // the DST day in Europe): -1 is still the 31st.
        let t = ti("location: 'Europe/Berlin'\ndays_of_month: ['-1']\n");
        assert!(t.contains(at("2024-03-30T23:30:00Z"))); // 00:30 on the 31st
        assert!(!t.contains(at("2024-03-30T22:30:00Z"))); // 23:30 on the 30th
                                                          // October has 31 days even though the fall-back day has 25 hours.
        assert!(t.contains(at("2024-10-31T12:00:00Z")));
        assert!(!t.contains(at("2024-10-30T12:00:00Z")));
    }

    #[test]
    fn parse_errors() {
        for (yaml, want) in [
            (
                "weekdays: ['friday:monday']",
                "start day cannot be before end day",
            ),
            ("weekdays: ['fooday']", "fooday is not a valid weekday"),
            (
                "weekdays: ['mon:fri:sat']",
                "couldn't parse range mon:fri:sat, invalid format",
            ),
            (
                "days_of_month: ['0']",
                "0 is not a valid day of the month: out of range",
            ),
            (
                "days_of_month: ['32']",
                "32 is not a valid day of the month: out of range",
            ),
            (
                "days_of_month: ['-1:5']",
                "end day must be negative if start day is negative",
            ),
            (
                "days_of_month: ['10:5']",
                "end day 5 is always before start day 10",
            ),
            (
                "days_of_month: ['-1:-3']",
                "end day -3 is always before start day -1",
            ),
            (
                "months: ['march:january']",
                "end month january is before start month march",
            ),
            ("months: ['foo']", "foo is not a valid month"),
            (
                "years: ['2022:2020']",
                "end year 2020 is before start year 2022",
            ),
            (
                "times:\n  - start_time: '17:00'\n    end_time: '09:00'\n",
                "start time cannot be equal or greater than end time",
            ),
            (
                "times:\n  - start_time: '09:00'\n",
                "both start and end times must be provided",
            ),
            (
                "times:\n  - start_time: '9:00'\n    end_time: '17:00'\n",
                "couldn't parse timestamp 9:00, invalid format",
            ),
            (
                "times:\n  - start_time: '00:00'\n    end_time: '24:01'\n",
                "couldn't parse timestamp 24:01, invalid format",
            ),
            ("location: 'Not/AZone'", "unknown time zone Not/AZone"),
            ("weekday: ['monday']", "weekday"),
        ] {
            let e = serde_saphyr::from_str::<TimeInterval>(yaml)
                .expect_err(yaml)
                .to_string();
            assert!(e.contains(want), "{yaml}: {e}");
        }
        // Day names are case-insensitive; numbers may be YAML integers.
        let t = ti("weekdays: ['Monday:FRIDAY']\ndays_of_month: [1, -1]\nyears: [2024]\n");
        assert_eq!(t.weekdays, Some(vec![InclusiveRange { begin: 1, end: 5 }]));
        assert_eq!(
            t.days_of_month,
            Some(vec![
                InclusiveRange { begin: 1, end: 1 },
                InclusiveRange { begin: -1, end: -1 }
            ])
        );
    }

    // Cases of Alertmanager's timeinterval tests (our own table).
    #[test]
    fn upstream_cases() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "times: [{start_time: '09:00', end_time: '17:00'}]\nweekdays: ['monday:friday']\n",
                &["2020-05-04T15:04:00Z", "2020-05-05T10:04:00Z", "2020-06-09T09:04:00Z"],
                &["2020-05-03T15:04:00Z", "2020-05-04T08:59:00Z", "2020-05-05T05:00:00Z"],
            ),
            (
                "days_of_month: ['4:6']\nmonths: [april]\nyears: ['2020']\n",
                &["2020-04-04T15:04:00Z", "2020-04-05T00:00:00Z", "2020-04-06T23:05:00Z"],
                &["2018-05-03T15:04:00Z", "2020-04-03T23:59:00Z", "2020-06-04T23:59:00Z", "2019-04-06T23:59:00Z", "2020-04-07T00:00:00Z"],
            ),
            (
                "days_of_month: ['-3:-1']\n",
                &["2020-01-31T15:04:00Z", "2020-01-30T15:04:00Z", "2020-01-29T15:04:00Z", "2020-06-30T00:00:00Z", "2020-02-29T23:05:00Z"],
                &["2018-05-03T15:04:00Z", "2020-01-27T15:04:00Z", "2020-04-03T23:59:00Z", "2020-06-04T23:59:00Z", "2020-03-01T00:00:00Z"],
            ),
            (
                "times: [{start_time: '09:00', end_time: '17:00'}]\nweekdays: ['monday:friday']\nlocation: Australia/Sydney\n",
                &["2021-04-06T03:00:00Z"],
                &["2021-04-06T13:00:00Z"],
            ),
            (
                // daylight saving time in Sydney (+11:00)
                "times: [{start_time: '09:00', end_time: '17:00'}]\nweekdays: ['monday:friday']\nmonths: [november]\nlocation: Australia/Sydney\n",
                &["2021-10-31T22:00:00Z", "2021-10-31T22:00:00Z"],
                &["2021-10-31T21:00:00Z"],
            ),
        ];
        for (yaml, inside, outside) in cases {
            let t = ti(yaml);
            for p in inside.iter() {
                assert!(t.contains(at(p)), "{yaml} at {p}");
            }
            for p in outside.iter() {
                assert!(!t.contains(at(p)), "{yaml} at {p}");
            }
        }
        // Out-of-range days are clamped to the month (a range the parser
        // would refuse, built directly as Alertmanager's test does).
        let t = TimeInterval {
            months: Some(vec![InclusiveRange { begin: 6, end: 6 }]),
            days_of_month: Some(vec![InclusiveRange {
                begin: -31,
                end: 31,
            }]),
            ..TimeInterval::default()
        };
        for (p, want) in [
            ("2020-06-30T00:00:00Z", true),
            ("2020-06-01T00:00:00Z", true),
            ("2020-05-31T00:00:00Z", false),
            ("2020-07-01T00:00:00Z", false),
        ] {
            assert_eq!(t.contains(at(p)), want, "{p}");
        }
        let all = TimeInterval::default();
        assert!(all.contains(at("2006-01-02T15:04:00Z")));
        for (yaml, want) in [
            (
                "times: [{start_time: '01:99', end_time: '23:59'}]",
                "couldn't parse timestamp 01:99, invalid format",
            ),
            (
                "times: [{start_time: '00:00', end_time: '99:99'}]",
                "couldn't parse timestamp 99:99, invalid format",
            ),
            (
                "times: [{start_time: '17:31', end_time: '17:31'}]",
                "start time cannot be equal or greater than end time",
            ),
            (
                "weekdays: ['blurgsday:flurgsday']",
                "blurgsday is not a valid weekday",
            ),
            ("weekdays: ['1:3']", "1 is not a valid weekday"),
            ("weekdays: ['-2:-1']", "-2 is not a valid weekday"),
            (
                "days_of_month: ['-50:-20']",
                "-50 is not a valid day of the month: out of range",
            ),
            (
                "days_of_month: ['1:50']",
                "50 is not a valid day of the month: out of range",
            ),
            (
                "days_of_month: ['-15:5']",
                "end day must be negative if start day is negative",
            ),
            (
                "days_of_month: ['10:-25']",
                "end day -25 is always before start day 10",
            ),
            ("months: ['martius:june']", "martius is not a valid month"),
            ("months: ['march:junius']", "junius is not a valid month"),
            (
                "months: ['december:january']",
                "end month january is before start month december",
            ),
        ] {
            let e = serde_saphyr::from_str::<TimeInterval>(yaml)
                .expect_err(yaml)
                .to_string();
            assert!(e.contains(want), "{yaml}: {e}");
        }
        for ok in [
            "days_of_month: ['1:-1']",
            "months: ['January:december']",
            "years: ['2020:2022']",
        ] {
            assert!(serde_saphyr::from_str::<TimeInterval>(ok).is_ok(), "{ok}");
        }
        let t = ti("times: [{start_time: '01:35', end_time: '17:39'}]");
        assert_eq!(
            t.times,
            Some(vec![TimeRange {
                start_minute: 95,
                end_minute: 1059
            }])
        );
    }
}
