//! `textfile`: metrics from `*.prom` files in node_exporter's
//! `--collector.textfile.directory` (a directory, or a glob of directories).
//!
//! Each file is parsed as strictly as node_exporter's parser (prometheus/
//! common's `expfmt.TextParser`): every line ends in a newline, TYPE comes
//! before a family's samples, no trailing blanks after a value, no
//! timestamps. A file that fails is dropped whole and sets
//! `node_textfile_scrape_error 1`; the other files are kept and each gets
//! `node_textfile_mtime_seconds{file}`. Families then join the exposition
//! the way client_golang's registry admits them: a name already served (by
//! a built-in collector or an earlier file) must come with the same HELP and
//! TYPE, otherwise the file's family is dropped (logged, no scrape error).

use std::collections::{BTreeSet, HashMap};

use crate::expo::{Families, Family, Kind, Value};

/// Gathers the textfile families into `out`; never fails.
pub(crate) fn collect(dir: Option<&str>, out: &mut Families) {
    let mut errored = false;
    let mut parsed: Vec<(String, Vec<TfFamily>)> = Vec::new();
    let mut mtimes: Vec<(String, f64)> = Vec::new();
    for path in directories(dir.unwrap_or("")) {
        let entries = match std::fs::read_dir(&path) {
            Ok(rd) => {
                let mut names: Vec<String> = rd
                    .filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect();
                names.sort();
                names
            }
            Err(err) => {
                if !path.is_empty() {
                    errored = true;
                    tracing::error!(path = %path, error = %err, "failed to read textfile collector directory");
                }
                Vec::new()
            }
        };
        for name in entries.iter().filter(|n| n.ends_with(".prom")) {
            let file = join(&path, name);
            match process_file(&file) {
                Ok((mtime, fams)) => {
                    parsed.push((file.clone(), fams));
                    mtimes.push((file, mtime));
                }
                Err(err) => {
                    errored = true;
                    tracing::error!(file = %name, error = %err, "failed to collect textfile data");
                }
            }
        }
    }

    // A family without HELP gets one naming every file that has it.
    let mut files_of: HashMap<String, Vec<&str>> = HashMap::new();
    for (file, fams) in &parsed {
        for f in fams {
            files_of.entry(f.name.clone()).or_default().push(file);
        }
    }
    for (_, fams) in &parsed {
        for f in fams {
            let help = match &f.help {
                Some(h) => h.clone(),
                None => format!("Metric read from {}", files_of[&f.name].join(", ")),
            };
            if let Err(why) = out.admit(&f.name, f.to_family(help)) {
                tracing::error!(error = %why, "textfile metric family rejected");
            }
        }
    }

    mtimes.sort_by(|a, b| a.0.cmp(&b.0));
    let mut mtime_fam = Family::new(
        "Unixtime mtime of textfiles successfully read.".into(),
        Kind::Gauge,
        vec!["file".into()],
    );
    for (file, mtime) in &mtimes {
        mtime_fam.push(&[file], *mtime);
    }
    if !mtime_fam.is_empty() {
        if let Err(why) = out.admit("node_textfile_mtime_seconds", mtime_fam) {
            tracing::error!(error = %why, "textfile metric family rejected");
        }
    }
    let mut err_fam = Family::new(
        "1 if there was an error opening or reading a file, 0 otherwise".into(),
        Kind::Gauge,
        Vec::new(),
    );
    err_fam.push::<&str>(&[], if errored { 1.0 } else { 0.0 });
    if let Err(why) = out.admit("node_textfile_scrape_error", err_fam) {
        tracing::error!(error = %why, "textfile metric family rejected");
    }
}

/// Adds the textfile families to the built-in ones; a family clashing with
/// one already there is dropped (node_exporter's registry drops it too,
/// logging "collected metric … has help … but should have …").
pub(crate) fn merge_into(all: &mut Families, files: Families) {
    for (name, fam) in files.into_families() {
        if let Err(why) = all.admit(&name, fam) {
            tracing::error!(error = %why, "textfile metric family clashes with a collector's");
        }
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{}/{name}", dir.trim_end_matches('/'))
    }
}

/// Go's `filepath.Glob(dir)`, or `[dir]` when it matches nothing or is not
/// a valid pattern (node_exporter then lets ReadDir report the problem).
fn directories(dir: &str) -> Vec<String> {
    if dir.is_empty() {
        return vec![String::new()];
    }
    let matches: Vec<String> = match glob::glob(dir) {
        Ok(paths) => paths
            .filter_map(|p| p.ok())
            .map(|p| p.to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    if matches.is_empty() {
        vec![dir.to_string()]
    } else {
        matches
    }
}

/// The file's families and its mtime (whole seconds), or why it is rejected.
fn process_file(path: &str) -> Result<(f64, Vec<TfFamily>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("failed to open textfile data file {path:?}: {e}"))?;
    let fams = parse(&bytes).map_err(|e| format!("failed to parse textfile data from {path:?}: {e}"))?;
    if fams.iter().any(|f| f.metrics.iter().any(|m| m.timestamp.is_some())) {
        return Err(format!(
            "textfile {path:?} contains unsupported client-side timestamps, skipping entire file"
        ));
    }
    // Only stat once parsed, so that a failed file does not look fresh.
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| format!("failed to stat {path:?}: {e}"))?;
    let secs = match mtime.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as f64,
        Err(e) => -(e.duration().as_secs() as f64),
    };
    Ok((secs, fams))
}

/// The metric types of the text format (`gauge_histogram` is known to the
/// parser but, as in expfmt, a sample of one is an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TfType {
    Counter,
    Gauge,
    Untyped,
    Summary,
    Histogram,
    GaugeHistogram,
}

#[derive(Debug, Clone, PartialEq)]
struct TfMetric {
    labels: Vec<(String, String)>,
    value: Value,
    timestamp: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
struct TfFamily {
    name: String,
    help: Option<String>,
    kind: Option<TfType>,
    metrics: Vec<TfMetric>,
}

impl TfFamily {
    /// The family as exposed: label names are the union over its metrics,
    /// missing ones filled with "" (as node_exporter's textfile collector).
    fn to_family(&self, help: String) -> Family {
        let names: BTreeSet<&str> = self
            .metrics
            .iter()
            .flat_map(|m| m.labels.iter().map(|(k, _)| k.as_str()))
            .collect();
        let names: Vec<String> = names.into_iter().map(String::from).collect();
        let kind = match self.kind {
            Some(TfType::Counter) => Kind::Counter,
            Some(TfType::Gauge) => Kind::Gauge,
            Some(TfType::Summary) => Kind::Summary,
            Some(TfType::Histogram) => Kind::Histogram,
            _ => Kind::Untyped,
        };
        let mut fam = Family::new(help, kind, names.clone());
        for m in &self.metrics {
            let values: Vec<&str> = names
                .iter()
                .map(|n| {
                    m.labels
                        .iter()
                        .find(|(k, _)| k == n)
                        .map_or("", |(_, v)| v.as_str())
                })
                .collect();
            let value = m.value.clone();
            fam.push_value(&values, value);
        }
        fam
    }
}

/// Parse state: families by name, and the summary/histogram metric of each
/// label set (their lines are folded into one metric).
#[derive(Default)]
struct Parser {
    fams: Vec<TfFamily>,
    index: HashMap<String, usize>,
    folded: HashMap<(usize, Vec<(String, String)>), usize>,
}

/// What a sample line's name refers to within its family.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Plain,
    Count,
    Sum,
}

impl Parser {
    /// expfmt's setOrCreateCurrentMF: `x_count`/`x_sum` (and `x_bucket`)
    /// belong to summary (histogram) `x` when `x` already is one.
    fn resolve(&mut self, name: &str) -> (usize, Part) {
        if let Some(&i) = self.index.get(name) {
            return (i, Part::Plain);
        }
        let part = if name.len() > 6 && name.ends_with("_count") {
            Part::Count
        } else if name.len() > 4 && name.ends_with("_sum") {
            Part::Sum
        } else {
            Part::Plain
        };
        let base = match part {
            Part::Count => &name[..name.len() - 6],
            Part::Sum => &name[..name.len() - 4],
            Part::Plain => name,
        };
        if let Some(&i) = self.index.get(base) {
            if self.fams[i].kind == Some(TfType::Summary) {
                return (i, part);
            }
        }
        let hist_base = if part == Part::Plain && name.len() > 7 && name.ends_with("_bucket") {
            &name[..name.len() - 7]
        } else {
            base
        };
        if let Some(&i) = self.index.get(hist_base) {
            if self.fams[i].kind == Some(TfType::Histogram) {
                return (i, part);
            }
        }
        self.fams.push(TfFamily {
            name: name.to_string(),
            help: None,
            kind: None,
            metrics: Vec::new(),
        });
        self.index.insert(name.to_string(), self.fams.len() - 1);
        (self.fams.len() - 1, Part::Plain)
    }

    fn comment(&mut self, line: &mut Cursor) -> Result<(), String> {
        line.skip_blank();
        let keyword = line.token_until_blank();
        if line.at_end() || (keyword != b"HELP" && keyword != b"TYPE") {
            return Ok(());
        }
        let help = keyword == b"HELP";
        line.skip_blank();
        let name = line.metric_name();
        if line.at_end() {
            return Ok(());
        }
        if !line.at_blank() {
            return Err("invalid metric name in comment".into());
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let (i, _) = self.resolve(&name);
        line.skip_blank();
        if line.at_end() {
            return Ok(());
        }
        let fam = &mut self.fams[i];
        if help {
            if fam.help.is_some() {
                return Err(format!("second HELP line for metric name {:?}", fam.name));
            }
            fam.help = Some(line.rest_unescaped()?);
        } else {
            if fam.kind.is_some() {
                return Err(format!(
                    "second TYPE line for metric name {:?}, or TYPE reported after samples",
                    fam.name
                ));
            }
            let raw = String::from_utf8_lossy(line.rest()).into_owned();
            fam.kind = Some(match raw.to_ascii_uppercase().as_str() {
                "COUNTER" => TfType::Counter,
                "GAUGE" => TfType::Gauge,
                "UNTYPED" => TfType::Untyped,
                "SUMMARY" => TfType::Summary,
                "HISTOGRAM" => TfType::Histogram,
                "GAUGE_HISTOGRAM" => TfType::GaugeHistogram,
                _ => return Err(format!("unknown metric type {raw:?}")),
            });
        }
        Ok(())
    }

    fn sample(&mut self, line: &mut Cursor) -> Result<(), String> {
        let name = line.metric_name();
        if name.is_empty() {
            return Err("invalid metric name".into());
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let (fi, part) = self.resolve(&name);
        let kind = *self.fams[fi].kind.get_or_insert(TfType::Untyped);
        let fam_name = self.fams[fi].name.clone();
        line.skip_blank();
        let mut labels: Vec<(String, String)> = Vec::new();
        // The quantile of a summary line, the le of a histogram line.
        let mut special: Option<f64> = None;
        if line.peek() == Some(b'{') {
            line.bump();
            loop {
                line.skip_blank();
                if line.peek() == Some(b'}') {
                    line.bump();
                    line.skip_blank();
                    break;
                }
                let lname = line.label_name();
                if lname.is_empty() {
                    return Err(format!("invalid label name for metric {fam_name:?}"));
                }
                let lname = String::from_utf8_lossy(lname).into_owned();
                if lname == "__name__" {
                    return Err("label name \"__name__\" is reserved".into());
                }
                let is_special = (kind == TfType::Summary && lname == "quantile")
                    || (kind == TfType::Histogram && lname == "le");
                line.skip_blank();
                if line.peek() != Some(b'=') {
                    return Err(format!("expected '=' after label name, found {:?}", line.peek().map(char::from)));
                }
                line.bump();
                if !is_special && labels.iter().any(|(k, _)| *k == lname) {
                    return Err(format!("duplicate label names for metric {fam_name:?}"));
                }
                line.skip_blank();
                if line.peek() != Some(b'"') {
                    return Err("expected '\"' at start of label value".into());
                }
                line.bump();
                let value = line.label_value()?;
                if is_special {
                    let v = go_parse_float(&value)
                        .ok_or_else(|| format!("expected float as value for {lname:?} label, got {value:?}"))?;
                    special = Some(v);
                } else {
                    labels.push((lname, value));
                }
                line.skip_blank();
                match line.peek() {
                    Some(b',') => line.bump(),
                    Some(b'}') => {
                        line.bump();
                        line.skip_blank();
                        break;
                    }
                    _ => return Err("unexpected end of label value".into()),
                }
            }
        }
        let token = line.token_until_blank();
        let text = String::from_utf8_lossy(token);
        let value = go_parse_float(&text).ok_or_else(|| format!("expected float as value, got {text:?}"))?;
        let timestamp = if line.at_end() {
            None
        } else {
            line.skip_blank();
            let token = line.token_until_blank();
            let text = String::from_utf8_lossy(token);
            let ts: i64 = text
                .parse()
                .map_err(|_| format!("expected integer as timestamp, got {text:?}"))?;
            if !line.at_end() {
                return Err(format!("spurious string after timestamp: {:?}", String::from_utf8_lossy(line.rest())));
            }
            Some(ts)
        };

        let fam = &mut self.fams[fi];
        match kind {
            TfType::Counter | TfType::Gauge | TfType::Untyped => fam.metrics.push(TfMetric {
                labels,
                value: Value::Simple(value),
                timestamp,
            }),
            TfType::Summary | TfType::Histogram => {
                let mut key_labels = labels.clone();
                key_labels.sort();
                let mi = match self.folded.get(&(fi, key_labels.clone())) {
                    Some(&mi) => mi,
                    None => {
                        let value = if kind == TfType::Summary {
                            Value::Summary {
                                quantiles: Vec::new(),
                                sum: 0.0,
                                count: 0.0,
                            }
                        } else {
                            Value::Histogram {
                                buckets: Vec::new(),
                                sum: 0.0,
                                count: 0.0,
                            }
                        };
                        fam.metrics.push(TfMetric {
                            labels,
                            value,
                            timestamp: None,
                        });
                        self.folded.insert((fi, key_labels), fam.metrics.len() - 1);
                        fam.metrics.len() - 1
                    }
                };
                let m = &mut fam.metrics[mi];
                if timestamp.is_some() {
                    m.timestamp = timestamp;
                }
                // Counts are unsigned integers in client_model.
                let as_count = |v: f64| (v as u64) as f64;
                match &mut m.value {
                    Value::Summary { quantiles, sum, count } => match part {
                        Part::Count => *count = as_count(value),
                        Part::Sum => *sum = value,
                        Part::Plain => {
                            if let Some(q) = special {
                                quantiles.push((q, value));
                            }
                        }
                    },
                    Value::Histogram { buckets, sum, count } => match part {
                        Part::Count => *count = as_count(value),
                        Part::Sum => *sum = value,
                        Part::Plain => {
                            if let Some(le) = special {
                                buckets.push((le, as_count(value)));
                            }
                        }
                    },
                    Value::Simple(_) => {}
                }
            }
            TfType::GaugeHistogram => {
                return Err(format!("unexpected type for metric name {fam_name:?}"));
            }
        }
        Ok(())
    }
}

/// prometheus/common's text parser on one file's bytes.
fn parse(bytes: &[u8]) -> Result<Vec<TfFamily>, String> {
    let mut p = Parser::default();
    let mut rest = bytes;
    let mut line_no = 0;
    while !rest.is_empty() {
        line_no += 1;
        let (line, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let l = &rest[..i];
                rest = &rest[i + 1..];
                (l, true)
            }
            None => {
                let l = rest;
                rest = &[];
                (l, false)
            }
        };
        let mut c = Cursor { s: line, at: 0 };
        c.skip_blank();
        if c.at_end() {
            continue;
        }
        // Anything but blanks after the last newline is an unfinished line.
        if !complete {
            return Err(format!("text format parsing error in line {line_no}: unexpected end of input stream"));
        }
        let outcome = if c.peek() == Some(b'#') {
            c.bump();
            p.comment(&mut c)
        } else {
            p.sample(&mut c)
        };
        outcome.map_err(|e| format!("text format parsing error in line {line_no}: {e}"))?;
    }
    Ok(p.fams.into_iter().filter(|f| !f.metrics.is_empty()).collect())
}

/// A position in one line (without its newline).
struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn bump(&mut self) {
        self.at += 1;
    }

    fn at_end(&self) -> bool {
        self.at >= self.s.len()
    }

    fn at_blank(&self) -> bool {
        matches!(self.peek(), Some(b' ' | b'\t'))
    }

    fn skip_blank(&mut self) {
        while self.at_blank() {
            self.at += 1;
        }
    }

    fn token_until_blank(&mut self) -> &'a [u8] {
        let start = self.at;
        while !self.at_end() && !self.at_blank() {
            self.at += 1;
        }
        &self.s[start..self.at]
    }

    fn rest(&mut self) -> &'a [u8] {
        let r = &self.s[self.at..];
        self.at = self.s.len();
        r
    }

    /// The rest of the line with HELP's escapes (`\\`, `\n`) resolved.
    fn rest_unescaped(&mut self) -> Result<String, String> {
        let mut out = Vec::new();
        let mut escaped = false;
        for &b in self.rest() {
            if escaped {
                match b {
                    b'\\' => out.push(b'\\'),
                    b'n' => out.push(b'\n'),
                    _ => return Err(format!("invalid escape sequence '\\{}'", char::from(b))),
                }
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else {
                out.push(b);
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn metric_name(&mut self) -> &'a [u8] {
        self.name(|b, first| b.is_ascii_alphabetic() || b == b'_' || b == b':' || (!first && b.is_ascii_digit()))
    }

    fn label_name(&mut self) -> &'a [u8] {
        self.name(|b, first| b.is_ascii_alphabetic() || b == b'_' || (!first && b.is_ascii_digit()))
    }

    fn name(&mut self, ok: impl Fn(u8, bool) -> bool) -> &'a [u8] {
        let start = self.at;
        while let Some(b) = self.peek() {
            if !ok(b, self.at == start) {
                break;
            }
            self.at += 1;
        }
        &self.s[start..self.at]
    }

    /// A label value after its opening quote, through the closing quote.
    fn label_value(&mut self) -> Result<String, String> {
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(format!(
                    "label value {:?} contains unescaped new-line",
                    String::from_utf8_lossy(&out)
                ));
            };
            self.bump();
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err("label value contains unescaped new-line".into());
                    };
                    self.bump();
                    match e {
                        b'"' | b'\\' => out.push(e),
                        b'n' => out.push(b'\n'),
                        _ => return Err(format!("invalid escape sequence '\\{}'", char::from(e))),
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|e| format!("invalid label value {:?}", String::from_utf8_lossy(e.as_bytes())))
    }
}

/// expfmt's parseFloat: Go's `strconv.ParseFloat` without hex floats and
/// `_` digit separators.
fn go_parse_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains(['p', 'P', '_']) || s.trim() != s {
        return None;
    }
    // Go accepts a sign before "Inf" but not before "NaN".
    if let Some(rest) = s.strip_prefix(['+', '-']) {
        if rest.eq_ignore_ascii_case("nan") {
            return None;
        }
    }
    bongsu_model::parse_go_float(s)
}

/// For tests: `(name, help, type, metric count)` of each family.
#[cfg(test)]
fn summary_of(fams: &[TfFamily]) -> std::collections::BTreeMap<String, (Option<String>, Option<TfType>, usize)> {
    fams.iter()
        .map(|f| (f.name.clone(), (f.help.clone(), f.kind, f.metrics.len())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# HELP app_requests_total Requests \\\\ served.\\nTwo lines.\n# TYPE app_requests_total counter\n\
                        app_requests_total{code=\"200\",method=\"get\"} 1027\napp_requests_total{code=\"500\"} 3\n\
                        # a comment\n\n  \t\n\
                        # TYPE app_latency histogram\napp_latency_bucket{le=\"0.1\"} 2\napp_latency_bucket{le=\"1e+06\"} 5\n\
                        app_latency_sum 12.5\napp_latency_count 5\n\
                        # TYPE app_rpc summary\napp_rpc{quantile=\"0.5\",svc=\"a\"} 0.2\napp_rpc_sum{svc=\"a\"} 9\napp_rpc_count{svc=\"a\"} 40\n\
                        plain_untyped +Inf\nlabel_escapes{path=\"C:\\\\x\\\"y\\n\"} -1.5e-3\n";

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled(GOOD) {
            let _ = parse(t.as_bytes());
        }
    }

    #[test]
    fn parses_like_expfmt() {
        let fams = parse(GOOD.as_bytes()).expect("parse");
        let s = summary_of(&fams);
        assert_eq!(
            s["app_requests_total"],
            (Some("Requests \\ served.\nTwo lines.".into()), Some(TfType::Counter), 2)
        );
        assert_eq!(s["app_latency"], (None, Some(TfType::Histogram), 1));
        assert_eq!(s["app_rpc"], (None, Some(TfType::Summary), 1));
        assert_eq!(s["plain_untyped"], (None, Some(TfType::Untyped), 1));
        assert_eq!(s.len(), 5);
        let lat = fams.iter().find(|f| f.name == "app_latency").expect("histogram");
        assert_eq!(
            lat.metrics[0].value,
            Value::Histogram {
                buckets: vec![(0.1, 2.0), (1e6, 5.0)],
                sum: 12.5,
                count: 5.0,
            }
        );
        let esc = fams.iter().find(|f| f.name == "label_escapes").expect("escapes");
        assert_eq!(esc.metrics[0].labels, vec![("path".to_string(), "C:\\x\"y\n".to_string())]);
        assert_eq!(esc.metrics[0].value, Value::Simple(-0.0015));

        let mut f = Families::new();
        for fam in &fams {
            f.admit(&fam.name, fam.to_family(fam.help.clone().unwrap_or_default())).expect("admit");
        }
        let text = f.render();
        for line in [
            "app_latency_bucket{le=\"0.1\"} 2",
            "app_latency_bucket{le=\"1e+06\"} 5",
            "app_latency_bucket{le=\"+Inf\"} 5",
            "app_latency_sum 12.5",
            "app_latency_count 5",
            "app_rpc{svc=\"a\",quantile=\"0.5\"} 0.2",
            "app_rpc_sum{svc=\"a\"} 9",
            "app_rpc_count{svc=\"a\"} 40",
            "app_requests_total{code=\"500\",method=\"\"} 3",
            "# TYPE plain_untyped untyped",
            "plain_untyped +Inf",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn rejects_what_expfmt_rejects() {
        for bad in [
            "no_newline 1",
            "trailing_blank 1 \n",
            "x 1 123 \n",
            "x{a=\"1\",a=\"2\"} 1\n",
            "x{__name__=\"y\"} 1\n",
            "x{a=\"\\t\"} 1\n",
            "x{a=1} 1\n",
            "x{a=\"1\"\n",
            "x 0x1p3\n",
            "x 1_000\n",
            "x +nan\n",
            "x one\n",
            "x\n",
            "1x 1\n",
            "x 1\n# TYPE x gauge\n",
            "# HELP x a\n# HELP x b\n",
            "# TYPE x gauge\n# TYPE x counter\n",
            "# TYPE x gauge \n",
            "# TYPE x info\n",
            "# HELP x-y z\n",
            "# HELP x bad \\t escape\n",
            "# TYPE x gauge_histogram\nx 1\n",
            "# TYPE h summary\nh{quantile=\"a\"} 1\n",
            "# comment without newline",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "accepted {bad:?}");
        }
        // Invalid UTF-8 in a label value.
        assert!(parse(b"x{a=\"\xff\"} 1\n").is_err());
        for good in [
            "x{} 1\n",
            "x{a=\"b\",} 1\n",
            "x  {  a = \"b\" }  2\n",
            "x 1 1700000000000\n",
            "# HELP x\n# HELP x now\nx 1\n",
            "#TYPE x Gauge\nx Inf\n",
            "x -Inf\nx NaN\n",
            "# TYPE lonely counter\n",
            "",
            "\n \n",
            "   ",
        ] {
            assert!(parse(good.as_bytes()).is_ok(), "rejected {good:?}");
        }
        let ts = parse(b"x 1 1700000000000\n").expect("ts");
        assert_eq!(ts[0].metrics[0].timestamp, Some(1700000000000));
        assert!(parse(b"# TYPE lonely counter\n").expect("empty").is_empty());
    }
}
