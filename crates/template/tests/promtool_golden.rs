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

fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BONGSU_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    dir.is_dir().then_some(dir)
}

fn collect_yaml(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            collect_yaml(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
}

/// Every label and annotation template of the community rule collection
/// (awesome-prometheus-alerts, `conformance/alert-rules/dist/rules`),
/// expanded by Bongsu and by promtool on the same series.
#[test]
fn community_annotations_expand_like_promtool() {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if Command::new("promtool").arg("--version").output().is_err() {
        eprintln!("\n!!!!!!!! SKIPPED community_annotations_expand_like_promtool: promtool not found !!!!!!!!\n");
        assert!(!ci, "promtool not found");
        return;
    }
    let Some(conf) = conformance_dir() else {
        eprintln!("\n!!!!!!!! SKIPPED community_annotations_expand_like_promtool: conformance data not found !!!!!!!!\n");
        assert!(!ci, "conformance data not found");
        return;
    };
    let mut files = Vec::new();
    collect_yaml(&conf.join("alert-rules/dist/rules"), &mut files);
    let mut texts: Vec<String> = Vec::new();
    for f in &files {
        let Ok(src) = std::fs::read_to_string(f) else {
            continue;
        };
        let Ok(doc) = serde_saphyr::from_str::<serde_json::Value>(&src) else {
            continue;
        };
        for g in doc["groups"].as_array().into_iter().flatten() {
            for r in g["rules"].as_array().into_iter().flatten() {
                for key in ["labels", "annotations"] {
                    for v in r[key].as_object().into_iter().flat_map(|m| m.values()) {
                        if let Some(s) = v.as_str() {
                            if s.contains("{{") {
                                texts.push(s.to_string());
                            }
                        }
                    }
                }
            }
        }
    }
    texts.sort();
    texts.dedup();
    assert!(
        texts.len() > 500,
        "expected the community templates, found {}",
        texts.len()
    );

    let dir: PathBuf =
        std::env::temp_dir().join(format!("bongsu-promtool-community-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut rules =
        String::from("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: m\n    annotations:\n");
    for (i, t) in texts.iter().enumerate() {
        rules.push_str(&format!("      a{i:04}: {}\n", go_quote(t)));
    }
    std::fs::write(dir.join("rules.yml"), rules).expect("write rules");
    let series: [(&str, &str, f64); 3] = [
        ("m{instance=\"node-1:9100\",job=\"node\",device=\"sda\",mountpoint=\"/\",name=\"c1\",namespace=\"ns\",pod=\"p-1\",container=\"c\"}", "0.8765", 0.8765),
        ("m{instance=\"10.0.0.7:8080\",job=\"api\"}", "1234567.5", 1234567.5),
        ("m{instance=\"h\",job=\"zero\"}", "0", 0.0),
    ];
    let mut test = String::from("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n");
    for (s, v, _) in &series {
        test.push_str(&format!("  - series: {}\n    values: '{v}'\n", go_quote(s)));
    }
    test.push_str("  alert_rule_test:\n  - eval_time: 0m\n    alertname: A\n    exp_alerts: []\n");
    std::fs::write(dir.join("test.yml"), test).expect("write test");
    let out = Command::new("promtool")
        .args(["test", "rules", "test.yml"])
        .current_dir(&dir)
        .output()
        .expect("run promtool");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);

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
    assert_eq!(
        got.len(),
        series.len(),
        "promtool output:\n{}",
        &text[..text.len().min(2000)]
    );
    let ext = BTreeMap::new();
    let mut failures = Vec::new();
    let mut compared = 0;
    for (gl, want) in &got {
        let value = series
            .iter()
            .find(|(s, _, _)| s.contains(&format!("instance=\"{}\"", gl["instance"])))
            .map(|(_, _, v)| *v)
            .expect("series of alert");
        let mut labels: BTreeMap<String, String> = gl.clone();
        labels.remove("alertname");
        labels.insert("__name__".into(), "m".into());
        let data = RuleTemplateData {
            labels: &labels,
            external_labels: &ext,
            external_url: "",
            value,
        };
        for (i, t) in texts.iter().enumerate() {
            let ours = expand_rule_template_at("__alert_A", t, &data, None, 0)
                .unwrap_or_else(|e| format!("<error expanding template: {e}>"));
            compared += 1;
            let key = format!("a{i:04}");
            if want.get(&key) != Some(&ours) {
                failures.push(format!(
                    "{t:?} (value {value})\n  promtool: {:?}\n  bongsu:   {ours:?}",
                    want.get(&key)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} differ:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!("compared {compared} community template expansions with promtool: all identical");
}
