//! Parsers for the Prometheus text format 0.0.4 and OpenMetrics 1.0 text.
//!
//! The whole body is parsed or rejected: a malformed line fails the parse
//! with its 1-based line number, so a scrape never stores half a body.
//! The text parser is as lenient as Prometheus' own scrape parser (free
//! comments, blank lines, flexible spacing); the OpenMetrics parser enforces
//! the specification (metadata placement, family grouping, histogram and
//! counter semantics, `# EOF`), as judged by the upstream test suite.
//!
//! OpenMetrics `_created` series are not returned as samples; their values
//! (seconds) are reported in [`Exposition::created`]. Exemplars are
//! validated and skipped.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use bongsu_model::{Label, Labels, METRIC_NAME};

/// Which text format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4` (timestamps in milliseconds).
    PrometheusText,
    /// `application/openmetrics-text; version=1.0.0` (timestamps in seconds).
    OpenMetrics,
}

impl Format {
    /// The format for a response `Content-Type`; `None` when it names
    /// neither text format (blank, protobuf, HTML, …).
    pub fn from_content_type(ct: &str) -> Option<Format> {
        let media = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/openmetrics-text" => Some(Format::OpenMetrics),
            "text/plain" => Some(Format::PrometheusText),
            _ => None,
        }
    }
}

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Unknown,
}

impl MetricType {
    /// The name Prometheus' metadata API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    fn parse(s: &str, format: Format) -> Option<MetricType> {
        Some(match (s, format) {
            ("counter", _) => MetricType::Counter,
            ("gauge", _) => MetricType::Gauge,
            ("histogram", _) => MetricType::Histogram,
            ("summary", _) => MetricType::Summary,
            ("untyped", Format::PrometheusText) => MetricType::Unknown,
            ("unknown", Format::OpenMetrics) => MetricType::Unknown,
            ("gaugehistogram", Format::OpenMetrics) => MetricType::GaugeHistogram,
            ("info", Format::OpenMetrics) => MetricType::Info,
            ("stateset", Format::OpenMetrics) => MetricType::StateSet,
            _ => return None,
        })
    }

    /// The sample-name suffixes a family of this type may use.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            MetricType::Counter => &["_total", "_created"],
            MetricType::Gauge | MetricType::Unknown | MetricType::StateSet => &[""],
            MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
            MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
            MetricType::Summary => &["", "_count", "_sum", "_created"],
            MetricType::Info => &["_info"],
        }
    }
}

/// Metadata of one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub family: String,
    pub kind: MetricType,
    pub help: String,
    pub unit: String,
}

/// One parsed sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    /// All labels including `__name__`.
    pub labels: Labels,
    pub value: f64,
    /// Explicit timestamp in milliseconds, when the line had one.
    pub timestamp_ms: Option<i64>,
}

/// A parsed body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<ParsedSample>,
    /// Families in order of first appearance (only those with a TYPE, HELP or UNIT line).
    pub metadata: Vec<Metadata>,
    /// OpenMetrics `_created` samples (labels of the `_created` series, value in seconds).
    pub created: Vec<ParsedSample>,
}

/// Why a body was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses a whole body.
pub fn parse(body: &[u8], format: Format) -> Result<Exposition, ParseError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let line = body[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        ParseError {
            line,
            message: "invalid UTF-8".into(),
        }
    })?;
    match format {
        Format::PrometheusText => parse_text(text),
        Format::OpenMetrics => parse_openmetrics(text),
    }
}

/// Parses a scraped body: like [`parse`], but OpenMetrics value semantics
/// are not enforced (see [`parse_openmetrics_with`]).
pub fn parse_scrape(body: &[u8], format: Format) -> Result<Exposition, ParseError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let line = body[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        ParseError {
            line,
            message: "invalid UTF-8".into(),
        }
    })?;
    match format {
        Format::PrometheusText => parse_text(text),
        Format::OpenMetrics => parse_openmetrics_with(text, false),
    }
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        message: message.into(),
    })
}

fn is_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    match b.next() {
        Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {}
        _ => return false,
    }
    b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

fn is_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    match b.next() {
        Some(c) if c.is_ascii_alphabetic() || c == b'_' => {}
        _ => return false,
    }
    b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Unescapes `\\`, `\"` and `\n`; any other escape stays as written.
fn unescape(s: &str, quote: bool) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// A cursor over one line.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }
    /// A `"…"` string (cursor on the opening quote); returns the raw inside.
    fn quoted(&mut self) -> Result<&'a str, ParseError> {
        if !self.eat(b'"') {
            return err(
                self.line,
                format!("expected '\"' at column {}", self.pos + 1),
            );
        }
        let start = self.pos;
        let b = self.s.as_bytes();
        while self.pos < b.len() {
            match b[self.pos] {
                b'\\' => self.pos += 2,
                b'"' => {
                    let raw = &self.s[start..self.pos];
                    self.pos += 1;
                    return Ok(raw);
                }
                _ => self.pos += 1,
            }
        }
        err(self.line, "unterminated quoted string")
    }
}

/// Parses `{name="v",…}` with the cursor on `{`. Returns the metric name when
/// one was given as a quoted name inside the braces.
fn parse_labels<'a>(
    c: &mut Cursor<'a>,
    om: bool,
    labels: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>,
) -> Result<Option<Cow<'a, str>>, ParseError> {
    let line = c.line;
    let mut name_in_braces = None;
    c.eat(b'{');
    loop {
        if !om {
            c.skip_ws();
        }
        if c.eat(b'}') {
            return Ok(name_in_braces);
        }
        // A label name, bare or quoted.
        let (lname, quoted): (Cow<'a, str>, bool) = if c.peek() == Some(b'"') {
            let raw = c.quoted()?;
            (unescape(raw, true), true)
        } else {
            let n = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !is_label_name(n) {
                return err(line, format!("invalid label name at column {}", c.pos + 1));
            }
            (Cow::Borrowed(n), false)
        };
        if !om {
            c.skip_ws();
        }
        if quoted && matches!(c.peek(), Some(b',') | Some(b'}')) {
            // `{"metric.name", …}`: the quoted metric name.
            if name_in_braces.is_some() || !labels.is_empty() {
                return err(line, "metric name given twice");
            }
            name_in_braces = Some(lname);
        } else {
            if !c.eat(b'=') {
                return err(line, format!("expected '=' after label name {lname:?}"));
            }
            if !om {
                c.skip_ws();
            }
            if c.peek() != Some(b'"') {
                return err(line, format!("expected quoted value for label {lname:?}"));
            }
            let raw = c.quoted()?;
            if raw.contains('\n') {
                return err(line, "newline in label value");
            }
            if lname == METRIC_NAME && !om {
                if name_in_braces.is_some() {
                    return err(line, "metric name given twice");
                }
                name_in_braces = Some(unescape(raw, true));
            } else {
                labels.push((lname, unescape(raw, true)));
            }
        }
        if !om {
            c.skip_ws();
        }
        if c.eat(b',') {
            if om && c.peek() == Some(b'}') {
                return err(line, "trailing ',' in label set");
            }
            continue;
        }
        if c.eat(b'}') {
            return Ok(name_in_braces);
        }
        return err(
            line,
            format!("expected ',' or '}}' at column {}", c.pos + 1),
        );
    }
}

/// Sorts, checks duplicates and builds the label set.
fn build_labels(
    name: &str,
    mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)>,
    line: usize,
) -> Result<Labels, ParseError> {
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut v: Vec<Label> = Vec::with_capacity(pairs.len() + 1);
    let mut name_done = false;
    for (n, val) in pairs {
        if n == METRIC_NAME {
            return err(line, "label __name__ given twice");
        }
        if !name_done && n.as_ref() > METRIC_NAME {
            v.push(Label::new(METRIC_NAME, name));
            name_done = true;
        }
        if let Some(last) = v.last() {
            if last.name == n.as_ref() {
                return err(line, format!("duplicate label name {n:?}"));
            }
        }
        if val.is_empty() {
            continue; // empty value = absent label
        }
        v.push(Label {
            name: n.as_ref().into(),
            value: val.as_ref().into(),
        });
    }
    if !name_done {
        v.push(Label::new(METRIC_NAME, name));
    }
    Ok(Labels::from_sorted(v))
}

/// An OpenMetrics number: decimal with optional exponent, or `+Inf`,
/// `-Inf`, `NaN`. No hex, no `_`.
fn parse_om_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => return Some(f64::INFINITY),
        "-Inf" | "-inf" => return Some(f64::NEG_INFINITY),
        "NaN" | "nan" => return Some(f64::NAN),
        _ => {}
    }
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    if !s.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<f64>().ok()
}

fn parse_om_timestamp(s: &str) -> Option<f64> {
    let v = parse_om_float(s)?;
    if v.is_finite() {
        Some(v)
    } else {
        None
    }
}

fn secs_to_ms(v: f64) -> i64 {
    // `as` saturates on overflow; round to the nearest millisecond.
    (v * 1000.0).round() as i64
}

/// Receives samples while a body is parsed, so a caller can skip building
/// label sets it has seen before (the scrape loop's cache).
pub trait SampleSink {
    /// `series` is the sample's text up to the end of its labels: the same
    /// text always yields the same labels, so it is a cache key. `labels`
    /// builds the label set (allocating) when called; call it at most once.
    /// `created` marks an OpenMetrics `_created` sample.
    fn sample(
        &mut self,
        series: &str,
        labels: &mut dyn FnMut() -> Result<Labels, ParseError>,
        value: f64,
        timestamp_ms: Option<i64>,
        created: bool,
    ) -> Result<(), ParseError>;
}

/// Parses a body into `sink`; returns the metadata. `strict` applies the
/// OpenMetrics value semantics (see [`parse_openmetrics_with`]). An error
/// means the body must be discarded whole, including samples already sunk.
pub fn parse_into(
    body: &[u8],
    format: Format,
    strict: bool,
    sink: &mut dyn SampleSink,
) -> Result<Vec<Metadata>, ParseError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let line = body[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        ParseError {
            line,
            message: "invalid UTF-8".into(),
        }
    })?;
    match format {
        Format::PrometheusText => text_into(text, sink),
        Format::OpenMetrics => openmetrics_into(text, strict, sink),
    }
}

/// The sink behind [`parse`]: builds every label set.
#[derive(Default)]
struct Collect {
    samples: Vec<ParsedSample>,
    created: Vec<ParsedSample>,
}

impl Collect {
    fn into_exposition(self, metadata: Vec<Metadata>) -> Exposition {
        Exposition {
            samples: self.samples,
            metadata,
            created: self.created,
        }
    }
}

impl SampleSink for Collect {
    fn sample(
        &mut self,
        _series: &str,
        labels: &mut dyn FnMut() -> Result<Labels, ParseError>,
        value: f64,
        timestamp_ms: Option<i64>,
        created: bool,
    ) -> Result<(), ParseError> {
        let s = ParsedSample {
            labels: labels()?,
            value,
            timestamp_ms,
        };
        if created {
            self.created.push(s);
        } else {
            self.samples.push(s);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Prometheus text format

/// Parses the Prometheus text format 0.0.4.
pub fn parse_text(text: &str) -> Result<Exposition, ParseError> {
    let mut sink = Collect::default();
    let metadata = text_into(text, &mut sink)?;
    Ok(sink.into_exposition(metadata))
}

fn text_into(text: &str, sink: &mut dyn SampleSink) -> Result<Vec<Metadata>, ParseError> {
    let mut out = Exposition::default();
    let mut meta_idx: HashMap<String, usize> = HashMap::new();
    let mut pairs = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('#') {
            let rest = rest.trim_start_matches([' ', '\t']);
            let (kw, rest) = split_word(rest);
            if kw != "HELP" && kw != "TYPE" {
                continue; // an ordinary comment
            }
            let rest = rest.trim_start_matches([' ', '\t']);
            let (name, rest) = if rest.starts_with('"') {
                let mut c = Cursor {
                    s: rest,
                    pos: 0,
                    line: line_no,
                };
                let raw = c.quoted()?;
                (unescape(raw, true).into_owned(), &rest[c.pos..])
            } else {
                let (n, r) = split_word(rest);
                (n.to_string(), r)
            };
            if name.is_empty() {
                continue; // `# HELP` alone is an ordinary comment
            }
            if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
                return err(line_no, format!("invalid metric name in {kw} line"));
            }
            let body = rest.strip_prefix([' ', '\t']).unwrap_or(rest);
            let idx = *meta_idx.entry(name.clone()).or_insert_with(|| {
                out.metadata.push(Metadata {
                    family: name.clone(),
                    kind: MetricType::Unknown,
                    help: String::new(),
                    unit: String::new(),
                });
                out.metadata.len() - 1
            });
            if kw == "HELP" {
                out.metadata[idx].help = unescape(body, false).into_owned();
            } else {
                let t = body.trim_matches([' ', '\t']);
                match MetricType::parse(t, Format::PrometheusText) {
                    Some(k) => out.metadata[idx].kind = k,
                    None => return err(line_no, format!("invalid metric type {t:?}")),
                }
            }
            continue;
        }
        let mut c = Cursor {
            s: trimmed,
            pos: 0,
            line: line_no,
        };
        pairs.clear();
        let name: Cow<'_, str> = if c.peek() == Some(b'{') {
            match parse_labels(&mut c, false, &mut pairs)? {
                Some(n) => n,
                None => return err(line_no, "sample without a metric name"),
            }
        } else {
            let n = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
            if !is_metric_name(n) {
                return err(
                    line_no,
                    format!("invalid metric name at column {}", c.pos + 1),
                );
            }
            let after_name = c.pos;
            c.skip_ws();
            if c.peek() == Some(b'{') {
                if parse_labels(&mut c, false, &mut pairs)?.is_some() {
                    return err(line_no, "metric name given twice");
                }
            } else {
                c.pos = after_name;
            }
            Cow::Borrowed(n)
        };
        if name.is_empty() {
            return err(line_no, "empty metric name");
        }
        let series = &trimmed[..c.pos];
        let before = c.pos;
        let after_brace = before > 0 && trimmed.as_bytes()[before - 1] == b'}';
        c.skip_ws();
        if c.pos == before && c.peek().is_some() && !after_brace {
            return err(
                line_no,
                format!(
                    "expected whitespace before the value at column {}",
                    c.pos + 1
                ),
            );
        }
        let mut fields = c.rest().split([' ', '\t']).filter(|f| !f.is_empty());
        let Some(vs) = fields.next() else {
            return err(line_no, "sample without a value");
        };
        let Some(value) = bongsu_model::parse_go_float(vs) else {
            return err(line_no, format!("invalid value {vs:?}"));
        };
        let ts = match fields.next() {
            None => None,
            Some(t) => match t.parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => return err(line_no, format!("invalid timestamp {t:?}")),
            },
        };
        if let Some(extra) = fields.next() {
            return err(line_no, format!("unexpected {extra:?} after the timestamp"));
        }
        let mut build = || build_labels(&name, std::mem::take(&mut pairs), line_no);
        sink.sample(series, &mut build, value, ts, false)?;
    }
    Ok(out.metadata)
}

fn split_word(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

// ---------------------------------------------------------------------------
// OpenMetrics

struct Family {
    name: String,
    kind: MetricType,
    help: Option<String>,
    unit: Option<String>,
    typed: bool,
    has_samples: bool,
    /// Metric groups (labels without le/quantile) already closed.
    done_groups: HashSet<Vec<(String, String)>>,
    group: Option<Group>,
}

#[derive(Default)]
struct Group {
    key: Vec<(String, String)>,
    last_le: Option<f64>,
    last_bucket: f64,
    inf_bucket: Option<f64>,
    negative_bucket: bool,
    count: Option<f64>,
    sum: Option<f64>,
    after_buckets: bool,
}

impl Family {
    fn new(name: &str) -> Self {
        Family {
            name: name.to_string(),
            kind: MetricType::Unknown,
            help: None,
            unit: None,
            typed: false,
            has_samples: false,
            done_groups: HashSet::new(),
            group: None,
        }
    }

    fn close_group(&mut self, line: usize, strict: bool) -> Result<(), ParseError> {
        let Some(g) = self.group.take() else {
            return Ok(());
        };
        match self.kind {
            MetricType::Histogram | MetricType::GaugeHistogram => {
                let gauge = self.kind == MetricType::GaugeHistogram;
                let (cn, sn) = if gauge {
                    ("_gcount", "_gsum")
                } else {
                    ("_count", "_sum")
                };
                let Some(inf) = g.inf_bucket else {
                    return err(line, format!("histogram {} has no +Inf bucket", self.name));
                };
                if g.count.is_some() != g.sum.is_some() {
                    return err(
                        line,
                        format!(
                            "histogram {} must have both {cn} and {sn} or neither",
                            self.name
                        ),
                    );
                }
                if let Some(cnt) = g.count {
                    if cnt != inf && strict {
                        return err(
                            line,
                            format!(
                                "histogram {}: {cn} {cnt} differs from the +Inf bucket {inf}",
                                self.name
                            ),
                        );
                    }
                }
                if let Some(s) = g.sum {
                    if !gauge && g.negative_bucket && strict {
                        return err(
                            line,
                            format!(
                                "histogram {} with negative buckets must not have {sn}",
                                self.name
                            ),
                        );
                    }
                    if s < 0.0 && !g.negative_bucket && strict {
                        return err(
                            line,
                            format!(
                                "histogram {}: negative {sn} without negative buckets",
                                self.name
                            ),
                        );
                    }
                }
            }
            MetricType::Summary => {}
            _ => {}
        }
        self.done_groups.insert(g.key);
        Ok(())
    }
}

/// Parses OpenMetrics 1.0 text with every check of the specification,
/// including value semantics (non-negative counters, histogram sums and
/// counts): what the conformance suite demands.
pub fn parse_openmetrics(text: &str) -> Result<Exposition, ParseError> {
    parse_openmetrics_with(text, true)
}

/// Parses OpenMetrics 1.0 text; with `strict` false the value semantics are
/// not checked (negative `_sum` with negative buckets, `_count` ≠ `+Inf`
/// bucket, …), as Prometheus' scrape parser does not check them and real
/// targets (and Prometheus' own test corpus) expose such values.
pub fn parse_openmetrics_with(text: &str, strict: bool) -> Result<Exposition, ParseError> {
    let mut sink = Collect::default();
    let metadata = openmetrics_into(text, strict, &mut sink)?;
    Ok(sink.into_exposition(metadata))
}

fn openmetrics_into(
    text: &str,
    strict: bool,
    sink: &mut dyn SampleSink,
) -> Result<Vec<Metadata>, ParseError> {
    let mut out = Exposition::default();
    let mut seen_families: HashSet<String> = HashSet::new();
    let mut fam: Option<Family> = None;
    let mut eof_line = None;
    let mut pairs = Vec::new();
    // The previous sample's full label set and timestamp, for ordering checks.
    let mut prev_series: Option<(&str, Option<f64>)> = None;

    let lines: Vec<&str> = text.split('\n').collect();
    let n_lines = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let line_no = i + 1;
        if let Some(eof) = eof_line {
            if i == n_lines - 1 && line.is_empty() {
                break;
            }
            return err(line_no, format!("content after # EOF on line {eof}"));
        }
        if i == n_lines - 1 {
            if line.is_empty() {
                return err(line_no, "missing # EOF at the end");
            }
            if *line != "# EOF" {
                return err(
                    line_no,
                    "missing # EOF at the end (or last line not terminated by a newline)",
                );
            }
        }
        if line.is_empty() {
            return err(line_no, "blank line");
        }
        if line.starts_with('#') {
            if *line == "# EOF" {
                eof_line = Some(line_no);
                if let Some(f) = fam.as_mut() {
                    f.close_group(line_no, strict)?;
                }
                continue;
            }
            let (kw, rest) = if let Some(r) = line.strip_prefix("# HELP ") {
                ("HELP", r)
            } else if let Some(r) = line.strip_prefix("# TYPE ") {
                ("TYPE", r)
            } else if let Some(r) = line.strip_prefix("# UNIT ") {
                ("UNIT", r)
            } else {
                return err(
                    line_no,
                    "invalid comment: only # HELP, # TYPE, # UNIT and # EOF are allowed",
                );
            };
            let (name, body) = match rest.find(' ') {
                Some(p) => (&rest[..p], Some(&rest[p + 1..])),
                None => (rest, None),
            };
            if !is_metric_name(name) {
                return err(
                    line_no,
                    format!("invalid metric name {name:?} in {kw} line"),
                );
            }
            let Some(body) = body else {
                return err(line_no, format!("{kw} line for {name} needs a value"));
            };
            // Start a new family or continue the current one.
            let same = fam.as_ref().map(|f| f.name == name).unwrap_or(false);
            if !same {
                if let Some(mut f) = fam.take() {
                    f.close_group(line_no, strict)?;
                    push_meta(&mut out, &f);
                }
                if seen_families.contains(name) {
                    return err(
                        line_no,
                        format!(
                            "metric family {name} appears twice (families must not interleave)"
                        ),
                    );
                }
                seen_families.insert(name.to_string());
                fam = Some(Family::new(name));
            }
            let Some(f) = fam.as_mut() else {
                return err(line_no, "internal: no family");
            };
            if f.has_samples {
                return err(line_no, format!("{kw} line for {name} after its samples"));
            }
            match kw {
                "HELP" => {
                    if f.help.is_some() {
                        return err(line_no, format!("second HELP line for {name}"));
                    }
                    f.help = Some(unescape(body, true).into_owned());
                }
                "TYPE" => {
                    if f.typed {
                        return err(line_no, format!("second TYPE line for {name}"));
                    }
                    let Some(k) = MetricType::parse(body, Format::OpenMetrics) else {
                        return err(line_no, format!("invalid metric type {body:?}"));
                    };
                    if f.unit.as_deref().map(|u| !u.is_empty()).unwrap_or(false)
                        && matches!(k, MetricType::Info | MetricType::StateSet)
                    {
                        return err(
                            line_no,
                            format!("{} metrics must not have a unit", k.as_str()),
                        );
                    }
                    f.kind = k;
                    f.typed = true;
                    // A family name must not collide with names earlier families use.
                    for suf in k.suffixes() {
                        if suf.is_empty() {
                            continue;
                        }
                        let full = format!("{name}{suf}");
                        if seen_families.contains(&full) {
                            return err(
                                line_no,
                                format!("metric family {name} clashes with family {full}"),
                            );
                        }
                    }
                }
                _ => {
                    if f.unit.is_some() {
                        return err(line_no, format!("second UNIT line for {name}"));
                    }
                    if !body.is_empty() && !name.ends_with(&format!("_{body}")) {
                        return err(
                            line_no,
                            format!("unit {body:?} is not a suffix of the metric name {name}"),
                        );
                    }
                    if !body.is_empty() && matches!(f.kind, MetricType::Info | MetricType::StateSet)
                    {
                        return err(
                            line_no,
                            format!("{} metrics must not have a unit", f.kind.as_str()),
                        );
                    }
                    f.unit = Some(body.to_string());
                }
            }
            continue;
        }

        // A sample line.
        let mut c = Cursor {
            s: line,
            pos: 0,
            line: line_no,
        };
        pairs.clear();
        let name: Cow<'_, str> = if c.peek() == Some(b'{') {
            match parse_labels(&mut c, true, &mut pairs)? {
                Some(n) => n,
                None => return err(line_no, "sample without a metric name"),
            }
        } else {
            let n = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
            if !is_metric_name(n) {
                return err(
                    line_no,
                    format!("invalid metric name at column {}", c.pos + 1),
                );
            }
            if c.peek() == Some(b'{') && parse_labels(&mut c, true, &mut pairs)?.is_some() {
                return err(line_no, "metric name given twice");
            }
            Cow::Borrowed(n)
        };
        let series: &str = &line[..c.pos];
        if !c.eat(b' ') {
            return err(
                line_no,
                format!(
                    "expected a single space before the value at column {}",
                    c.pos + 1
                ),
            );
        }
        let rest = c.rest();
        let (main, exemplar) = match rest.find(" # ") {
            Some(p) => (&rest[..p], Some(&rest[p + 3..])),
            None => (rest, None),
        };
        let mut fields = main.split(' ');
        let vs = fields.next().unwrap_or("");
        let Some(value) = parse_om_float(vs) else {
            return err(line_no, format!("invalid value {vs:?}"));
        };
        let ts = match fields.next() {
            None => None,
            Some(t) => match parse_om_timestamp(t) {
                Some(v) => Some(v),
                None => return err(line_no, format!("invalid timestamp {t:?}")),
            },
        };
        if fields.next().is_some() {
            return err(line_no, "unexpected text after the timestamp");
        }

        // Which family does this sample belong to?
        let belongs = fam
            .as_ref()
            .map(|f| sample_suffix(f, &name).is_some())
            .unwrap_or(false);
        if !belongs {
            if let Some(mut f) = fam.take() {
                f.close_group(line_no, strict)?;
                push_meta(&mut out, &f);
            }
            // Prometheus' own OpenMetrics parser does not police interleaving;
            // only the strict (conformance) mode does.
            if strict && seen_families.contains(name.as_ref()) {
                return err(
                    line_no,
                    format!("metric family {name} appears twice (families must not interleave)"),
                );
            }
            seen_families.insert(name.to_string());
            fam = Some(Family::new(&name));
        }
        let Some(f) = fam.as_mut() else {
            return err(line_no, "internal: no family");
        };
        f.has_samples = true;
        let suffix = sample_suffix(f, &name).unwrap_or("");

        if let Some(ex) = exemplar {
            let allowed = matches!(
                (f.kind, suffix),
                (MetricType::Counter, "_total")
                    | (MetricType::Histogram, "_bucket")
                    | (MetricType::GaugeHistogram, "_bucket")
            );
            if !allowed {
                return err(line_no, format!("exemplars are not allowed on {name}"));
            }
            check_exemplar(ex, line_no)?;
        } else if rest.ends_with(" #") {
            return err(line_no, "empty exemplar");
        }

        let group_key: Vec<(String, String)> = {
            let mut k: Vec<(String, String)> = pairs
                .iter()
                .filter(|(n, _)| {
                    !(n == "le"
                        && matches!(f.kind, MetricType::Histogram | MetricType::GaugeHistogram))
                })
                .filter(|(n, _)| !(n == "quantile" && f.kind == MetricType::Summary))
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            k.sort();
            k
        };
        let same_group = f
            .group
            .as_ref()
            .map(|g| g.key == group_key)
            .unwrap_or(false);
        if !same_group {
            f.close_group(line_no, strict)?;
            if f.done_groups.contains(&group_key) {
                return err(
                    line_no,
                    format!(
                        "samples of {} with labels {group_key:?} are not grouped together",
                        f.name
                    ),
                );
            }
            f.group = Some(Group {
                key: group_key,
                ..Group::default()
            });
        }
        let kind = f.kind;
        let fname = f.name.clone();
        let label = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_ref());
        let neg_or_nan = value.is_nan() || value < 0.0;
        match (kind, suffix) {
            (MetricType::Counter, "_total") if neg_or_nan && strict => {
                return err(
                    line_no,
                    format!("counter {name} must be a non-negative number, got {vs}"),
                );
            }
            (MetricType::Info, _) if value != 1.0 && strict => {
                return err(
                    line_no,
                    format!("info metric {name} must have value 1, got {vs}"),
                );
            }
            (MetricType::StateSet, _) => {
                if value != 0.0 && value != 1.0 && strict {
                    return err(line_no, format!("stateset {name} must be 0 or 1, got {vs}"));
                }
                if label(&fname).is_none() {
                    return err(
                        line_no,
                        format!("stateset {name} needs a label named {fname}"),
                    );
                }
            }
            (MetricType::Summary, "") => {
                let Some(q) = label("quantile") else {
                    return err(
                        line_no,
                        format!("summary {name} sample needs a quantile label"),
                    );
                };
                match parse_om_float(q) {
                    Some(qv) if (0.0..=1.0).contains(&qv) => {}
                    _ => {
                        return err(
                            line_no,
                            format!("invalid quantile {q:?}: must be a number in [0, 1]"),
                        )
                    }
                }
                if value < 0.0 && strict {
                    return err(
                        line_no,
                        format!("summary quantile value must not be negative, got {vs}"),
                    );
                }
            }
            (MetricType::Summary, "_sum" | "_count") if neg_or_nan && strict => {
                return err(
                    line_no,
                    format!("{name} must be a non-negative number, got {vs}"),
                );
            }
            (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => {
                let Some(le) = label("le") else {
                    return err(line_no, format!("{name} needs an le label"));
                };
                let Some(lev) = parse_om_float(le).filter(|v| !v.is_nan()) else {
                    return err(line_no, format!("invalid le {le:?}"));
                };
                if le.eq_ignore_ascii_case("inf") || (lev.is_infinite() && le != "+Inf") {
                    return err(line_no, format!("invalid le {le:?}: write +Inf"));
                }
                if neg_or_nan && strict {
                    return err(
                        line_no,
                        format!("bucket {name} must be a non-negative number, got {vs}"),
                    );
                }
                let g = f.group.get_or_insert_with(Group::default);
                if g.after_buckets && strict {
                    return err(line_no, "buckets must come before the count and sum");
                }
                if let Some(prev) = g.last_le {
                    if lev <= prev && strict {
                        return err(
                            line_no,
                            format!("bucket le {le} not greater than the previous one"),
                        );
                    }
                    if value < g.last_bucket && strict {
                        return err(line_no, "bucket counts must not decrease");
                    }
                }
                if lev < 0.0 {
                    g.negative_bucket = true;
                }
                if lev == f64::INFINITY {
                    g.inf_bucket = Some(value);
                }
                g.last_le = Some(lev);
                g.last_bucket = value;
            }
            (MetricType::Histogram, "_count") | (MetricType::GaugeHistogram, "_gcount") => {
                if neg_or_nan && strict {
                    return err(
                        line_no,
                        format!("{name} must be a non-negative number, got {vs}"),
                    );
                }
                let g = f.group.get_or_insert_with(Group::default);
                if g.inf_bucket.is_none() {
                    return err(line_no, format!("{name} before the +Inf bucket"));
                }
                g.after_buckets = true;
                g.count = Some(value);
            }
            (MetricType::Histogram, "_sum") | (MetricType::GaugeHistogram, "_gsum") => {
                if (value.is_nan() || (kind == MetricType::Histogram && value < 0.0)) && strict {
                    return err(
                        line_no,
                        format!("{name} must be a non-negative number, got {vs}"),
                    );
                }
                let g = f.group.get_or_insert_with(Group::default);
                if g.inf_bucket.is_none() {
                    return err(line_no, format!("{name} before the +Inf bucket"));
                }
                g.after_buckets = true;
                g.sum = Some(value);
            }
            _ => {}
        }
        if let Some((prev, pts)) = &prev_series {
            if *prev == series {
                match (pts, ts) {
                    (Some(a), Some(b)) if b < *a => {
                        return err(line_no, "timestamps of a series must not go backwards");
                    }
                    (Some(_), Some(_)) => {}
                    _ => return err(line_no, "a repeated series must have timestamps"),
                }
            }
        }
        prev_series = Some((series, ts));
        let mut build = || build_labels(&name, std::mem::take(&mut pairs), line_no);
        sink.sample(
            series,
            &mut build,
            value,
            ts.map(secs_to_ms),
            suffix == "_created",
        )?;
    }
    if eof_line.is_none() {
        return err(n_lines, "missing # EOF");
    }
    if let Some(f) = fam.take() {
        push_meta(&mut out, &f);
    }
    Ok(out.metadata)
}

fn push_meta(out: &mut Exposition, f: &Family) {
    if f.typed || f.help.is_some() || f.unit.is_some() {
        out.metadata.push(Metadata {
            family: f.name.clone(),
            kind: f.kind,
            help: f.help.clone().unwrap_or_default(),
            unit: f.unit.clone().unwrap_or_default(),
        });
    }
}

/// The suffix by which `name` belongs to family `f`, if it does.
fn sample_suffix(f: &Family, name: &str) -> Option<&'static str> {
    let rest = name.strip_prefix(f.name.as_str())?;
    f.kind.suffixes().iter().copied().find(|s| *s == rest)
}

/// Validates `{labels} value [timestamp]` of an exemplar.
fn check_exemplar(ex: &str, line: usize) -> Result<(), ParseError> {
    if !ex.starts_with('{') {
        return err(line, "exemplar must start with '{'");
    }
    let mut c = Cursor {
        s: ex,
        pos: 0,
        line,
    };
    let mut pairs = Vec::new();
    if parse_labels(&mut c, true, &mut pairs)?.is_some() {
        return err(line, "exemplar labels must not name a metric");
    }
    let runes: usize = pairs
        .iter()
        .map(|(n, v)| n.chars().count() + v.chars().count())
        .sum();
    if runes > 128 {
        return err(
            line,
            format!("exemplar labels have {runes} characters, more than 128"),
        );
    }
    let mut seen = HashSet::new();
    for (n, _) in &pairs {
        if !seen.insert(n.as_ref()) {
            return err(line, format!("duplicate exemplar label {n:?}"));
        }
    }
    if !c.eat(b' ') {
        return err(line, "exemplar needs a value after its labels");
    }
    let mut f = c.rest().split(' ');
    let v = f.next().unwrap_or("");
    if parse_om_float(v).is_none() {
        return err(line, format!("invalid exemplar value {v:?}"));
    }
    if let Some(t) = f.next() {
        if parse_om_timestamp(t).is_none() {
            return err(line, format!("invalid exemplar timestamp {t:?}"));
        }
    }
    if f.next().is_some() {
        return err(line, "unexpected text after the exemplar");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_basic() {
        let body = "# HELP http_requests_total The total.\n# TYPE http_requests_total counter\nhttp_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\nhttp_requests_total{method=\"post\",code=\"400\",} 3\n\n# a comment\nmsdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\nx +Inf\ny NaN\n{\"my.metric\",\"a.b\"=\"c\"} 1\n";
        let e = parse(body.as_bytes(), Format::PrometheusText).expect("parses");
        assert_eq!(e.samples.len(), 6);
        assert_eq!(e.samples[0].timestamp_ms, Some(1395066363000));
        assert_eq!(e.samples[0].labels.get("code"), Some("200"));
        assert_eq!(e.samples[2].labels.get("path"), Some("C:\\DIR\\FILE.TXT"));
        assert_eq!(
            e.samples[2].labels.get("error"),
            Some("Cannot find file:\n\"FILE.TXT\"")
        );
        assert_eq!(e.samples[5].labels.get("__name__"), Some("my.metric"));
        assert_eq!(e.samples[5].labels.get("a.b"), Some("c"));
        assert_eq!(e.metadata[0].kind, MetricType::Counter);
        assert_eq!(e.metadata[0].help, "The total.");
    }

    #[test]
    fn text_errors_have_lines() {
        let e = parse(b"a 1\nb{c=1} 2\n", Format::PrometheusText).expect_err("bad");
        assert_eq!(e.line, 2);
        assert!(parse(b"a x\n", Format::PrometheusText).is_err());
        assert!(parse(b"a 1 2 3\n", Format::PrometheusText).is_err());
        assert!(parse(b"# TYPE a foo\n", Format::PrometheusText).is_err());
        assert!(parse(b"a{b=\"1\",b=\"2\"} 1\n", Format::PrometheusText).is_err());
    }

    #[test]
    fn openmetrics_basic() {
        let body = "# TYPE a counter\n# HELP a help\na_total 1 1.5 # {id=\"x\"} 1\na_created 100\n# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\n# EOF\n";
        let e = parse(body.as_bytes(), Format::OpenMetrics).expect("parses");
        assert_eq!(e.samples.len(), 5);
        assert_eq!(e.samples[0].timestamp_ms, Some(1500));
        assert_eq!(e.created.len(), 1);
        assert_eq!(e.metadata.len(), 2);
        assert_eq!(e.metadata[1].kind, MetricType::Histogram);
    }

    fn conformance_dir() -> Option<std::path::PathBuf> {
        let dir = std::env::var_os("BONGSU_CONFORMANCE_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
            });
        if dir.join("exposition").is_dir() {
            return Some(dir);
        }
        let msg = format!(
            "CONFORMANCE CORPUS ABSENT: {} has no exposition/ (set BONGSU_CONFORMANCE_DIR); skipping",
            dir.display()
        );
        eprintln!("\n!!!!!!!! {msg} !!!!!!!!\n");
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "{msg}"
        );
        None
    }

    /// The OpenMetrics 1.0 parser suite: good cases must parse, bad ones fail.
    #[test]
    fn openmetrics_conformance_suite() {
        let Some(dir) = conformance_dir() else { return };
        let root = dir.join("exposition/openmetrics/parsers");
        let mut entries: Vec<_> = std::fs::read_dir(&root)
            .expect("suite dir")
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        let (mut pass, mut total) = (0, 0);
        let mut failures = Vec::new();
        for e in entries {
            let p = e.path();
            let Ok(spec) = std::fs::read_to_string(p.join("test.json")) else {
                continue;
            };
            let spec: serde_json::Value = serde_json::from_str(&spec).expect("test.json");
            let should = spec["shouldParse"].as_bool().expect("shouldParse");
            let body = std::fs::read(p.join("metrics")).expect("metrics");
            let got = parse(&body, Format::OpenMetrics);
            total += 1;
            if got.is_ok() == should {
                pass += 1;
            } else {
                failures.push(format!(
                    "{}: expected {}, got {:?}",
                    e.file_name().to_string_lossy(),
                    should,
                    got.err()
                ));
            }
        }
        eprintln!("OpenMetrics suite: {pass}/{total} pass");
        for f in &failures {
            eprintln!("  FAIL {f}");
        }
        assert!(total >= 200, "suite looks incomplete: {total} cases");
        assert!(
            failures.is_empty(),
            "{} OpenMetrics cases fail",
            failures.len()
        );
    }

    /// Upstream Prometheus / client_golang text and OpenMetrics corpora.
    #[test]
    fn upstream_corpora_parse() {
        let Some(dir) = conformance_dir() else { return };
        let ex = dir.join("exposition");
        let text = [
            "prometheus-common-expfmt/testdata/text",
            "prometheus-prometheus/textparse-testdata/alltypes.237mfs.prom.txt",
            "prometheus-prometheus/textparse-testdata/alltypes.237mfs.nometa.prom.txt",
            "prometheus-prometheus/promtool-testdata/metrics-test.prom",
        ];
        for f in text {
            let body = std::fs::read(ex.join(f)).expect(f);
            let e = parse(&body, Format::PrometheusText).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(!e.samples.is_empty(), "{f}");
        }
        let e = parse(
            &std::fs::read(ex.join(text[0])).expect("text"),
            Format::PrometheusText,
        )
        .expect("text");
        assert_eq!(e.metadata.len(), 37);
        assert_eq!(e.samples.len(), 248);
        let om = [
            "prometheus-prometheus/textparse-testdata/alltypes.5mfs.om.txt",
            "prometheus-prometheus/textparse-testdata/1histogram.om.txt",
            "prometheus-prometheus/promtool-testdata/dump-openmetrics-roundtrip-test.prom",
            "prometheus-prometheus/promtool-testdata/dump-openmetrics-test.prom",
        ];
        for f in om {
            let body = std::fs::read(ex.join(f)).expect(f);
            parse_scrape(&body, Format::OpenMetrics).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
        // Valid and invalid seeds of the client_golang text parser.
        let fz = ex.join("prometheus-common-expfmt/fuzz-corpus");
        let (mut good, mut bad, mut good_n, mut bad_n) = (0, 0, 0, 0);
        for e in std::fs::read_dir(&fz).expect("fuzz dir").flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let body = std::fs::read(e.path()).expect("seed");
            let ok = parse(&body, Format::PrometheusText).is_ok();
            if name.starts_with("from_test_parse_error") {
                bad_n += 1;
                if !ok {
                    bad += 1;
                }
            } else {
                good_n += 1;
                if ok {
                    good += 1;
                } else {
                    panic!(
                        "valid seed {name} rejected: {:?}",
                        parse(&body, Format::PrometheusText)
                    );
                }
            }
        }
        eprintln!("expfmt seeds: valid accepted {good}/{good_n}, invalid rejected {bad}/{bad_n} (text parser is lenient like Prometheus' scrape parser)");
    }

    /// Mutated corpus inputs never panic either parser (a cheap stand-in
    /// for the cargo-fuzz targets, run on every test).
    #[test]
    fn mutations_never_panic() {
        let Some(dir) = conformance_dir() else { return };
        let ex = dir.join("exposition");
        let seeds = [
            "prometheus-common-expfmt/testdata/text",
            "prometheus-prometheus/textparse-testdata/alltypes.5mfs.om.txt",
            "openmetrics/parsers/escaping/metrics",
            "openmetrics/parsers/exemplars_with_hash_in_label_values/metrics",
            "openmetrics/parsers/exemplars_wide_chars/metrics",
        ];
        let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let alphabet = b"{}\",=# \n\\\t.eE+-0123456789aZ_:";
        for seed in seeds {
            let base = std::fs::read(ex.join(seed)).expect(seed);
            for _ in 0..1000 {
                let mut b = base.clone();
                for _ in 0..(1 + next() % 4) {
                    if b.is_empty() {
                        break;
                    }
                    let i = (next() % b.len() as u64) as usize;
                    match next() % 4 {
                        0 => b[i] = alphabet[(next() % alphabet.len() as u64) as usize],
                        1 => {
                            b.remove(i);
                        }
                        2 => b.insert(i, alphabet[(next() % alphabet.len() as u64) as usize]),
                        _ => b.truncate(i),
                    }
                }
                let _ = parse(&b, Format::PrometheusText);
                let _ = parse(&b, Format::OpenMetrics);
                let _ = parse_scrape(&b, Format::OpenMetrics);
            }
        }
    }

    #[test]
    fn openmetrics_requires_eof() {
        assert!(parse(b"a 1\n", Format::OpenMetrics).is_err());
        assert!(parse(b"a 1\n# EOF\nb 1\n", Format::OpenMetrics).is_err());
        assert!(parse(b"a 1\n# EOF", Format::OpenMetrics).is_ok());
    }
}
