//! Golden test against the real Prometheus: alert annotation templates
//! expanded by Bongsu and by Debian's `promtool test rules` (Prometheus 2.42's
//! Go template engine and function set) on the same series must be identical.
//!
//! The test writes a rule file whose annotations use Prometheus' template
//! functions, feeds `promtool test rules` series with awkward values (huge,
//! tiny, negative, zero, NaN, ±Inf) and labels (IPv6, quotes, HTML), asks for
//! no alerts, and reads the alerts promtool reports it got: their expanded
//! annotations are Go's output. Skipped loudly without `promtool`, failing
//! under `CI=true`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use bongsu_template::{expand_rule_template_at, QueryResultSample, RuleTemplateData};

/// Annotation templates (functions present in Prometheus 2.42 and 3.x; the
/// external URL is unset in promtool, so `pathPrefix`/`externalURL` are out).
const ANNOTATIONS: &[&str] = &[
    "{{ $value }}|{{ $value | humanize }}|{{ $value | humanize1024 }}|{{ $value | humanizeDuration }}|{{ $value | humanizePercentage }}",
    "{{ $value | humanizeTimestamp }}|{{ printf \"%.2f\" $value }}|{{ printf \"%v %g %e %.3g %8.1f\" $value $value $value $value $value }}",
    "{{ $labels }}|{{ $labels.instance }}|[{{ $labels.missing }}]|{{ $externalLabels }}|[{{ $externalURL }}]",
    "{{ $labels.job | title }}|{{ $labels.job | toUpper }}|{{ $labels.job | toLower }}|{{ reReplaceAll \":[0-9]+$\" \"\" $labels.instance }}|{{ match \"^a\" $labels.instance }}",
    "{{ graphLink \"up{job=\\\"x\\\"} > 0 & 1\" }}|{{ tableLink \"rate(m[5m])\" }}",
    "{{ range query \"m\" | sortByLabel \"instance\" }}{{ .Labels.instance }}={{ .Value }};{{ end }}|{{ with query \"m{instance=\\\"a:1\\\"}\" }}{{ . | first | value }}/{{ . | first | label \"job\" }}{{ end }}",
    "{{ $labels.instance | stripPort }}|{{ $labels.instance | stripDomain }}",
    "{{ (1435065584.128 | toTime).Format \"2006-01-02T15:04:05.000Z07:00 Mon Jan _2\" }}|{{ parseDuration \"1h2m\" }}|{{ parseDuration \"90s\" | humanizeDuration }}",
    "{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" $labels.job }}{{ if eq $labels.job \"j\" }}yes{{ else }}no{{ end }} {{ len $labels }} {{ index $labels \"job\" }}",
    "{{ if gt $value 100.0 }}big{{ else if lt $value 0.0 }}negative{{ else }}small{{ end }} {{ $value | printf \"%.4g\" }} {{ printf \"%q\" $labels.job }}",
    "{{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }}",
    "{{ with $x := query \"count(m)\" }}{{ $x | first | value | humanize }}{{ end }} {{ len (query \"m\") }}",
    "{{ $labels.job | html }} {{ $labels.job | js }} {{ $labels.job | urlquery }} {{ print $value \"x\" 1 }} {{ println $labels.job }}",
    "{{ 1e21 }} {{ 12345678.0 }} {{ 0.000001 }} {{ 3 }} {{ -2.5e-7 | humanize }} {{ 1e30 | humanize }} {{ 1e-30 | humanize }}",
];

/// (labels, value as promtool test syntax, value as f64).
type Series = (Vec<(&'static str, &'static str)>, &'static str, f64);

fn series() -> Vec<Series> {
    vec![
        (
            vec![("instance", "a:1"), ("job", "j")],
            "1234567",
            1234567.0,
        ),
        (
            vec![("instance", "b:2"), ("job", "k8s-api")],
            "-0.00015",
            -0.00015,
        ),
        (vec![("instance", "c"), ("job", "zero")], "0", 0.0),
        (
            vec![("instance", "d.example.com:9100"), ("job", "node exporter")],
            "1",
            1.0,
        ),
        (
            vec![("instance", "[2001:db8::1]:9100"), ("job", "ipv6")],
            "0.5",
            0.5,
        ),
        (
            vec![("instance", "192.0.2.7:443"), ("job", "durations")],
            "176461.5",
            176461.5,
        ),
        (vec![("instance", "e"), ("job", "tiny")], "1e-9", 1e-9),
        (vec![("instance", "f"), ("job", "huge")], "1.5e21", 1.5e21),
        (
            vec![("instance", "g"), ("job", "bytes")],
            "1048576",
            1048576.0,
        ),
        (
            vec![("instance", "h"), ("job", "ratio")],
            "0.1234567",
            0.1234567,
        ),
        (
            vec![("instance", "i"), ("job", "with \"quotes\" & <html>")],
            "100",
            100.0,
        ),
        (vec![("instance", "j"), ("job", "nan")], "NaN", f64::NAN),
        (
            vec![("instance", "k"), ("job", "inf")],
            "Inf",
            f64::INFINITY,
        ),
        (
            vec![("instance", "l"), ("job", "neginf")],
            "-Inf",
            f64::NEG_INFINITY,
        ),
        (
            vec![("instance", "m"), ("job", "timestamp")],
            "1700000000.123",
            1700000000.123,
        ),
    ]
}

fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Unquotes a Go `%q` string starting at `s[0] == '"'`; returns it and the rest.
fn go_unquote(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut it = s.char_indices().skip(1);
    while let Some((i, c)) = it.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => {
                let (_, e) = it.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String =
                            (0..n).filter_map(|_| it.next().map(|(_, h)| h)).collect();
                        let v = u32::from_str_radix(&hex, 16).ok()?;
                        out.push(char::from_u32(v)?);
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// Parses `{k="v", k2="v2"}`.
fn parse_set(s: &str) -> Option<BTreeMap<String, String>> {
    let mut rest = s.strip_prefix('{')?;
    let mut m = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if let Some(r) = rest.strip_prefix('}') {
            let _ = r;
            return Some(m);
        }
        let eq = rest.find('=')?;
        let key = rest[..eq].to_string();
        let (val, r) = go_unquote(&rest[eq + 1..])?;
        m.insert(key, val);
        rest = r;
    }
}

#[test]
fn rule_templates_expand_like_promtool() {
    if Command::new("promtool").arg("--version").output().is_err() {
        let msg = "promtool not found: the golden comparison with Prometheus was NOT run \
                   (install Debian's prometheus, or run scripts/test.sh)";
        eprintln!("\n!!!!!!!! SKIPPED rule_templates_expand_like_promtool: {msg} !!!!!!!!\n");
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        return;
    }
    let dir: PathBuf =
        std::env::temp_dir().join(format!("bongsu-promtool-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut rules =
        String::from("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: m\n    annotations:\n");
    for (i, a) in ANNOTATIONS.iter().enumerate() {
        rules.push_str(&format!("      a{i:02}: {}\n", go_quote(a)));
    }
    std::fs::write(dir.join("rules.yml"), rules).expect("write rules");
    let mut test = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n",
    );
    for (labels, v, _) in series() {
        let ls: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}={}", go_quote(v)))
            .collect();
        test.push_str(&format!(
            "  - series: {}\n    values: '{v}'\n",
            go_quote(&format!("m{{{}}}", ls.join(",")))
        ));
    }
    test.push_str("  alert_rule_test:\n  - eval_time: 0m\n    alertname: A\n    exp_alerts: []\n");
    std::fs::write(dir.join("test.yml"), test).expect("write test");

    let out = Command::new("promtool")
        .arg("test")
        .arg("rules")
        .arg("test.yml")
        .current_dir(&dir)
        .output()
        .expect("run promtool");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);

    // Go's alerts: "Labels:{...}" followed by "Annotations:{...}".
    let mut got: Vec<(BTreeMap<String, String>, BTreeMap<String, String>)> = Vec::new();
    let mut labels: Option<BTreeMap<String, String>> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(l) = line.strip_prefix("Labels:") {
            labels = parse_set(l);
        } else if let Some(a) = line.strip_prefix("Annotations:") {
            if let (Some(l), Some(a)) = (labels.take(), parse_set(a)) {
                got.push((l, a));
            }
        }
    }
    let all = series();
    assert_eq!(
        got.len(),
        all.len(),
        "promtool reported {} alerts:\n{text}",
        got.len()
    );

    let samples: Vec<QueryResultSample> = {
        let mut v: Vec<QueryResultSample> = all
            .iter()
            .map(|(l, _, val)| QueryResultSample {
                labels: l
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .chain([("__name__".to_string(), "m".to_string())])
                    .collect(),
                value: *val,
            })
            .collect();
        // The engine returns series in label order.
        v.sort_by(|a, b| a.labels.iter().cmp(b.labels.iter()));
        v
    };
    let query = |q: &str| -> Result<Vec<QueryResultSample>, String> {
        match q {
            "m" => Ok(samples.clone()),
            "m{instance=\"a:1\"}" => Ok(samples
                .iter()
                .filter(|s| s.labels["instance"] == "a:1")
                .cloned()
                .collect()),
            "count(m)" => Ok(vec![QueryResultSample {
                labels: BTreeMap::new(),
                value: samples.len() as f64,
            }]),
            other => Err(format!("unexpected query {other}")),
        }
    };
    let ext = BTreeMap::new();
    let mut failures = Vec::new();
    let mut compared = 0;
    for (l, v, val) in &all {
        let instance = l
            .iter()
            .find(|(k, _)| *k == "instance")
            .map(|(_, v)| *v)
            .unwrap_or("");
        let Some((_, want)) = got
            .iter()
            .find(|(gl, _)| gl.get("instance").map(String::as_str) == Some(instance))
        else {
            failures.push(format!(
                "promtool reported no alert for instance {instance}"
            ));
            continue;
        };
        let mut labels: BTreeMap<String, String> = l
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.insert("__name__".into(), "m".into());
        let data = RuleTemplateData {
            labels: &labels,
            external_labels: &ext,
            external_url: "",
            value: *val,
        };
        for (i, a) in ANNOTATIONS.iter().enumerate() {
            let key = format!("a{i:02}");
            let ours = expand_rule_template_at("__alert_A", a, &data, Some(&query), 0)
                .unwrap_or_else(|e| format!("<error expanding template: {e}>"));
            compared += 1;
            if want.get(&key) != Some(&ours) {
                failures.push(format!(
                    "value {v}, {key} = {a}\n  promtool: {:?}\n  bongsu:   {ours:?}",
                    want.get(&key)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} expansions differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("compared {compared} annotation expansions with promtool: all identical");
}
