//! Rule templates from real rule files: every label and annotation of every
//! alerting rule in the community collection (`conformance/alert-rules/`,
//! awesome-prometheus-alerts, 954 rules) passes [`check_rule_template`] and
//! expands; the rule fixtures of `conformance/rules/` get the same template
//! verdicts as Debian's `promtool check rules` (rules-bad.yml's `$label`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use bongsu_template::{
    check_rule_template, expand_rule_template, QueryResultSample, RuleTemplateData,
};
use serde_json::Value as Json;

fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BONGSU_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "conformance data not found at {} (set BONGSU_CONFORMANCE_DIR)",
        dir.display()
    );
    eprintln!("\n!!!!!!!! SKIPPED: {msg} !!!!!!!!\n");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}");
    }
    None
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
}

/// One template of an alerting rule, named as promtool names it.
struct RuleTemplate {
    location: String,
    name: String,
    text: String,
}

/// The label and annotation templates of a rule file's alerting rules
/// (`None` when the file is not a rule file).
fn rule_templates(path: &Path) -> Option<Vec<RuleTemplate>> {
    let text = std::fs::read_to_string(path).ok()?;
    let doc: Json = serde_saphyr::from_str(&text).ok()?;
    let groups = doc.get("groups")?.as_array()?;
    let mut out = Vec::new();
    for g in groups {
        let gname = g.get("name").and_then(Json::as_str).unwrap_or("");
        for (i, r) in g
            .get("rules")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(alert) = r.get("alert").and_then(Json::as_str) else {
                continue;
            };
            for kind in ["label", "annotation"] {
                let key = if kind == "label" {
                    "labels"
                } else {
                    "annotations"
                };
                let Some(m) = r.get(key).and_then(Json::as_object) else {
                    continue;
                };
                for (k, v) in m {
                    let text = match v {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    out.push(RuleTemplate {
                        location: format!(
                            "{}: group {gname:?}, rule {}, {alert:?}: {kind} {k:?}",
                            path.display(),
                            i + 1
                        ),
                        name: format!("__alert_{alert}"),
                        text,
                    });
                }
            }
        }
    }
    Some(out)
}

#[test]
fn community_alert_rules_check_and_expand() {
    let Some(dir) = conformance_dir() else { return };
    let mut files = Vec::new();
    yaml_files(&dir.join("alert-rules/dist/rules"), &mut files);
    assert!(
        files.len() >= 100,
        "expected the awesome-prometheus-alerts files, found {}",
        files.len()
    );

    let labels: BTreeMap<String, String> = [
        ("__name__", "up"),
        ("instance", "node-1:9100"),
        ("job", "node"),
        ("device", "sda"),
        ("mountpoint", "/"),
        ("severity", "critical"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let ext = BTreeMap::new();
    let data = RuleTemplateData {
        labels: &labels,
        external_labels: &ext,
        external_url: "http://prometheus.example:9090",
        value: 0.8765,
    };
    let query = |_: &str| -> Result<Vec<QueryResultSample>, String> { Ok(vec![]) };

    let mut rules = 0;
    let mut failures = Vec::new();
    for f in &files {
        let Some(templates) = rule_templates(f) else {
            failures.push(format!("{}: not a rule file", f.display()));
            continue;
        };
        rules += templates
            .iter()
            .filter(|t| t.location.ends_with("annotation \"summary\""))
            .count();
        for t in templates {
            if let Err(e) = check_rule_template(&t.name, &t.text) {
                failures.push(format!("{}: check: {e}", t.location));
                continue;
            }
            match expand_rule_template(&t.name, &t.text, &data, Some(&query)) {
                Ok(out) => {
                    if out.contains("<no value>") && !t.text.contains(".Foo") {
                        failures.push(format!(
                            "{}: expansion printed <no value>: {out:?}",
                            t.location
                        ));
                    }
                }
                Err(e) => failures.push(format!("{}: expand: {e}", t.location)),
            }
        }
    }
    // The newer catalogue (`_data/rules.yml`, 1155 rules): its descriptions
    // become annotations through upstream's generator.
    let catalogue = dir.join("alert-rules/_data/rules.yml");
    let doc: Json =
        serde_saphyr::from_str(&std::fs::read_to_string(&catalogue).expect("read _data/rules.yml"))
            .expect("parse _data/rules.yml");
    let mut catalogue_rules = 0;
    let all = |v: &Json, k: &str| {
        v.get(k)
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for g in all(&doc, "groups") {
        for svc in all(&g, "services") {
            for exp in all(&svc, "exporters") {
                for r in all(&exp, "rules") {
                    catalogue_rules += 1;
                    let name = r.get("name").and_then(Json::as_str).unwrap_or("");
                    let desc = r.get("description").and_then(Json::as_str).unwrap_or("");
                    let text =
                        format!("{desc}\n  VALUE = {{{{ $value }}}}\n  LABELS = {{{{ $labels }}}}");
                    let alert = format!("__alert_{}", name.replace(' ', ""));
                    if let Err(e) = check_rule_template(&alert, &text).and_then(|()| {
                        expand_rule_template(&alert, &text, &data, Some(&query)).map(|_| ())
                    }) {
                        failures.push(format!("{}: rule {name:?}: {e}", catalogue.display()));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        rules >= 900,
        "expected about 954 alerting rules, checked {rules}"
    );
    assert!(
        catalogue_rules >= 1100,
        "expected about 1155 catalogue rules, checked {catalogue_rules}"
    );
    eprintln!("checked and expanded the templates of {rules} community alerting rules and {catalogue_rules} catalogue descriptions");
}

/// `promtool check rules` lines that report a template error.
fn promtool_template_errors(file: &Path) -> Option<Vec<String>> {
    let out = Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(file)
        .output()
        .ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some(
        text.lines()
            .filter(|l| l.contains(": template: "))
            .map(|l| l.trim().to_string())
            .collect(),
    )
}

#[test]
fn rule_fixtures_match_promtool_template_verdicts() {
    let Some(dir) = conformance_dir() else { return };
    let bad = dir.join("rules/promtool/rules-bad.yml");
    let ours: Vec<String> = rule_templates(&bad)
        .expect("rules-bad.yml is a rule file")
        .into_iter()
        .filter_map(|t| {
            check_rule_template(&t.name, &t.text)
                .err()
                .map(|e| format!("{}: {e}", t.location))
        })
        .collect();
    assert_eq!(
        ours,
        vec![format!(
            "{}: group \"alerts\", rule 1, \"InstanceDown\": annotation \"summary\": template: __alert_InstanceDown:1: undefined variable \"$label\"",
            bad.display()
        )]
    );

    let have_promtool = Command::new("promtool").arg("--version").output().is_ok();
    if !have_promtool {
        eprintln!("\n!!!!!!!! promtool not found: only rules-bad.yml was checked !!!!!!!!\n");
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("promtool not found");
        }
        return;
    }
    let mut files = Vec::new();
    yaml_files(&dir.join("rules"), &mut files);
    let mut compared = 0;
    let mut failures = Vec::new();
    for f in &files {
        let Some(templates) = rule_templates(f) else {
            continue;
        };
        if templates.is_empty() {
            continue;
        }
        let mut ours: Vec<String> = templates
            .into_iter()
            .filter_map(|t| {
                check_rule_template(&t.name, &t.text)
                    .err()
                    .map(|e| format!("{}: {e}", t.location))
            })
            .collect();
        let Some(mut theirs) = promtool_template_errors(f) else {
            continue;
        };
        ours.sort();
        theirs.sort();
        compared += 1;
        if ours != theirs {
            failures.push(format!(
                "{}:\n  promtool: {theirs:?}\n  bongsu:   {ours:?}",
                f.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "template verdicts differ from promtool:\n{}",
        failures.join("\n")
    );
    assert!(
        compared >= 5,
        "compared only {compared} rule files with promtool"
    );
    eprintln!("{compared} rule fixtures: same template verdicts as promtool");
}

/// Parse-time verdicts on tricky templates equal promtool's (same messages).
#[test]
fn parse_errors_match_promtool() {
    if Command::new("promtool").arg("--version").output().is_err() {
        eprintln!("\n!!!!!!!! SKIPPED parse_errors_match_promtool: promtool not found !!!!!!!!\n");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "promtool not found"
        );
        return;
    }
    let cases = [
        "{{ break }}",
        "{{ continue }}",
        "{{ end }}",
        "{{ if }}{{ end }}",
        "{{ $x = 1 }}",
        "{{ template }}",
        "{{ \"unterminated }}",
        "{{ 1 2 }}",
        "{{ range $a, $b, $c := $labels }}{{ end }}",
        "{{ nil }}",
        "{{ .X | 1 }}",
        "{{ $labels.x | $value }}",
        "{{ else }}",
        "{{ if true }}",
        "{{ with $x := 1 }}{{ $x }}{{ end }}{{ $x }}",
        "{{ range $labels }}{{ break 1 }}{{ end }}",
        "{{ define \"a\" }}x{{ end }}{{ define \"a\" }}y{{ end }}",
        "{{ (1) }}",
        "{{ $ }}",
        "{{ \"a\" | printf \"%s\" | }}",
        "{{- /* c */ -}}",
        "{{/* unclosed }}",
        "{{ `raw` }}",
        "{{ 'c' }}",
        "{{ 0x1F }} {{ 1e3 }} {{ -1 }} {{ +1 }}",
        "{{ true.x }}",
        "{{ humanize }}",
        "{{ block \"b\" . }}x{{ end }}",
        "{{ else if true }}",
        "{{ range $i := $labels }}{{ $i }}{{ end }}",
        "{{ nope }}",
        "{{ $labels.a }}\n{{ $nope }}",
        "line1\nline2 {{ if",
        "{{ range $k, $v := $labels }}{{ end }}{{ $k }}",
        "{{ if $y := 1 }}{{ else }}{{ $y }}{{ end }}",
        "{{ define \"t\" }}{{ $value }}{{ end }}",
    ];
    let dir = std::env::temp_dir().join(format!("bongsu-parse-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("rules.yml");
    let mut y = String::from("groups:\n- name: g\n  rules:\n");
    for (i, c) in cases.iter().enumerate() {
        y.push_str(&format!(
            "  - alert: A{i}\n    expr: m\n    annotations:\n      a: {}\n",
            serde_json::to_string(c).expect("json")
        ));
    }
    std::fs::write(&file, y).expect("write rules");
    let mut ours: Vec<String> = rule_templates(&file)
        .expect("rule file")
        .into_iter()
        .filter_map(|t| {
            check_rule_template(&t.name, &t.text)
                .err()
                .map(|e| format!("{}: {e}", t.location))
        })
        .collect();
    let mut theirs = promtool_template_errors(&file).expect("promtool runs");
    let _ = std::fs::remove_dir_all(&dir);
    ours.sort();
    theirs.sort();
    let only_ours: Vec<&String> = ours.iter().filter(|o| !theirs.contains(o)).collect();
    let only_theirs: Vec<&String> = theirs.iter().filter(|o| !ours.contains(o)).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "verdicts differ\n only bongsu:\n  {}\n only promtool:\n  {}",
        only_ours
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        only_theirs
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

/// Random token soups (seeded, 3000 texts) get promtool's verdict: Bongsu
/// rejects exactly the texts Go's parser rejects. Messages are compared too
/// and must mostly agree (gotmpl words some syntax errors differently).
#[test]
fn random_templates_get_promtool_verdicts() {
    if Command::new("promtool").arg("--version").output().is_err() {
        eprintln!("\n!!!!!!!! SKIPPED random_templates_get_promtool_verdicts: promtool not found !!!!!!!!\n");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "promtool not found"
        );
        return;
    }
    const TOKENS: &[&str] = &[
        "if",
        "else",
        "end",
        "range",
        "with",
        "$x :=",
        "$x",
        "$x =",
        ".Foo",
        ".Foo.Bar",
        "|",
        "(",
        ")",
        "\"s\"",
        "1",
        "1.5",
        "printf",
        "humanize",
        "$labels.a",
        "$labels",
        "define \"a\"",
        "template \"a\"",
        "template \"a\" .",
        "break",
        "continue",
        "nil",
        "true",
        ".",
        "$",
        "and",
        "or",
        "not",
        "len",
        "index",
        "eq",
        ":=",
        "=",
        ",",
        "$i, $v :=",
        "block \"b\" .",
        "-",
        "/* c */",
        "'c'",
        "`r`",
        "else if",
        "$value",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut cases: Vec<String> = Vec::new();
    for _ in 0..3000 {
        let mut t = String::new();
        for _ in 0..1 + next(4) {
            t.push_str(["", "x", " "][next(3)]);
            t.push_str(["{{ ", "{{- ", "{{"][next(3)]);
            let words: Vec<&str> = (0..next(5)).map(|_| TOKENS[next(TOKENS.len())]).collect();
            t.push_str(&words.join(" "));
            t.push_str([" }}", " -}}", "}}"][next(3)]);
        }
        cases.push(t);
    }
    cases.sort();
    cases.dedup();
    let dir = std::env::temp_dir().join(format!("bongsu-random-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("rules.yml");
    let mut y = String::from("groups:\n- name: g\n  rules:\n");
    for (i, c) in cases.iter().enumerate() {
        y.push_str(&format!(
            "  - alert: A{i}\n    expr: m\n    annotations:\n      a: {}\n",
            serde_json::to_string(c).expect("json")
        ));
    }
    std::fs::write(&file, y).expect("write rules");
    let theirs: BTreeMap<String, String> = promtool_template_errors(&file)
        .expect("promtool runs")
        .into_iter()
        .filter_map(|l| {
            l.split_once(": annotation \"a\": ")
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect();
    let ours: BTreeMap<String, String> = rule_templates(&file)
        .expect("rule file")
        .into_iter()
        .filter_map(|t| {
            check_rule_template(&t.name, &t.text).err().map(|e| {
                (
                    t.location
                        .trim_end_matches(": annotation \"a\"")
                        .to_string(),
                    e.to_string(),
                )
            })
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    let verdicts_differ: Vec<String> = theirs
        .keys()
        .filter(|k| !ours.contains_key(*k))
        .map(|k| format!("promtool only: {k}: {}", theirs[k]))
        .chain(
            ours.keys()
                .filter(|k| !theirs.contains_key(*k))
                .map(|k| format!("bongsu only: {k}: {}", ours[k])),
        )
        .collect();
    assert!(
        verdicts_differ.is_empty(),
        "verdicts differ:\n{}",
        verdicts_differ.join("\n")
    );
    let same_message = ours
        .iter()
        .filter(|(k, v)| theirs.get(*k) == Some(v))
        .count();
    eprintln!(
        "{} random templates: same verdicts as promtool ({} rejected, {} with the identical message)",
        cases.len(),
        ours.len(),
        same_message
    );
    assert!(
        same_message * 2 > ours.len(),
        "most error messages should be Go's"
    );
}
