//! Upstream fixtures (`../shared/conformance/rules/` and `alert-rules/`,
//! env `BONGSU_CONFORMANCE_DIR`): rule files load or fail exactly as the
//! README says Prometheus 3.14 does, and `promtool test rules` files pass
//! or fail as upstream's own tests assert.

use bongsu_rules::file::{duplicate_rules, load_rules, ParseOptions};
use bongsu_rules::gotemplates::GoTemplates;
use bongsu_rules::rule::Templater;
use bongsu_rules::unittest::{run_test_file, TestOptions};
use std::path::PathBuf;

fn conformance_dir() -> Option<PathBuf> {
    let d = std::env::var_os("BONGSU_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"));
    if d.is_dir() {
        return Some(d);
    }
    eprintln!("!!! conformance data not found at {} (set BONGSU_CONFORMANCE_DIR): rule fixtures NOT checked", d.display());
    assert!(std::env::var("CI").as_deref() != Ok("true"), "conformance data missing under CI=true");
    None
}

fn check(path: &std::path::Path, ignore_unknown_fields: bool, legacy: bool) -> Result<bongsu_rules::file::RuleFile, String> {
    let c = |n: &str, t: &str| GoTemplates.check(n, t);
    let opts = ParseOptions { ignore_unknown_fields, legacy_names: legacy, check_template: Some(&c) };
    load_rules(path, &opts).map_err(|e| e.to_string())
}

#[test]
fn rulefmt_fixtures_load_or_fail_as_upstream() {
    let Some(dir) = conformance_dir() else { return };
    let d = dir.join("rules/rulefmt");
    // (file, legacy name validation, expected error substring or None for success)
    let table: &[(&str, bool, Option<&str>)] = &[
        ("test.yaml", false, None),
        ("test_aliases.yaml", false, None),
        ("utf-8_lname.good.yaml", false, None),
        ("utf-8_annotation.good.yaml", false, None),
        ("legacy_validation_annotation.good.yaml", true, None),
        ("duplicate_grp.bad.yaml", false, Some("groupname: \"yolo\" is repeated in the same file")),
        ("bad_expr.bad.yaml", false, Some("parse error")),
        ("record_and_alert.bad.yaml", false, Some("only one of 'record' and 'alert' must be set")),
        ("no_rec_alert.bad.yaml", false, Some("one of 'record' or 'alert' must be set")),
        ("noexpr.bad.yaml", false, Some("field 'expr' must be set in rule")),
        ("invalid_record_name.bad.yaml", false, Some("braces present in the recording rule name; should it be in expr?: strawberry{flavor=\"sweet\"}")),
        ("bad_field.bad.yaml", false, Some("field annotation not found")),
        ("invalid_label_name.bad.yaml", false, Some("invalid label name")),
        ("record_and_for.bad.yaml", false, Some("invalid field 'for' in recording rule")),
        ("record_and_keep_firing_for.bad.yaml", false, Some("invalid field 'keep_firing_for' in recording rule")),
        ("legacy_validation_annotation.bad.yaml", true, Some("invalid annotation name: ins-tance")),
    ];
    let mut bad = Vec::new();
    for (f, legacy, want) in table {
        let got = check(&d.join(f), false, *legacy);
        match (want, &got) {
            (None, Ok(_)) => {}
            (Some(w), Err(e)) if e.contains(w) => {
                // Every error names the file and a line:column.
                assert!(e.starts_with(&d.join(f).display().to_string()), "{f}: {e}");
            }
            _ => bad.push(format!("{f}: want {want:?}, got {:?}", got.map(|_| "ok")),),
        }
    }
    assert_eq!(table.len(), std::fs::read_dir(&d).unwrap().count(), "every rulefmt fixture is in the table");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let t = check(&d.join("test.yaml"), false, false).unwrap();
    assert_eq!((t.groups.len(), t.groups.iter().map(|g| g.rules.len()).sum::<usize>()), (2, 6));
    let a = check(&d.join("test_aliases.yaml"), false, false).unwrap();
    assert_eq!(a.groups[0].rules[0].name(), "HighAlert");
    assert_eq!(a.groups[0].rules[0].labels.get("severity").map(String::as_str), Some("critical"));
}

#[test]
fn promtool_check_rules_fixtures() {
    let Some(dir) = conformance_dir() else { return };
    let d = dir.join("rules/promtool");
    assert!(check(&d.join("rules.yml"), false, false).is_ok());
    let e = check(&d.join("rules-bad.yml"), false, false).unwrap_err();
    assert!(e.contains("undefined variable \"$label\""), "{e}");
    let dup = check(&d.join("rules_duplicates.yml"), false, false).unwrap();
    let dups = duplicate_rules(&dup);
    assert_eq!(dups.len(), 1);
    assert_eq!(dups[0].0, "job:test:count_over_time1m");
    assert!(dups[0].1.is_empty());
    let lint = check(&d.join("prometheus-rules.lint.yml"), false, false).unwrap();
    assert_eq!(duplicate_rules(&lint).len(), 1);
    let e = check(&d.join("rules_extrafields.yml"), false, false).unwrap_err();
    assert!(e.contains("namespace"), "{e}");
    assert!(check(&d.join("rules_extrafields.yml"), true, false).is_ok());
    let large = check(&d.join("rules_large.yml"), false, false).unwrap();
    assert!(large.groups.iter().map(|g| g.rules.len()).sum::<usize>() > 1000);
    // The rules-manager fixtures are plain valid files, except the one with an unknown key.
    for e in std::fs::read_dir(dir.join("rules/rules-manager-fixtures")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = check(&e.path(), false, false);
        if name == "invalid_rules.yaml" {
            assert!(r.unwrap_err().contains("unexpected_field"));
        } else {
            assert!(r.is_ok(), "{name}: {:?}", r.err());
        }
    }
}

#[test]
fn promtool_test_rules_fixtures() {
    let Some(dir) = conformance_dir() else { return };
    let d = dir.join("rules/promtool");
    // promtool matches `--run` unanchored.
    let re = |s: &str| regex::Regex::new(s).unwrap();
    // (file, --run, ignore unknown fields, expected to pass)
    let table: Vec<(&str, Vec<&str>, bool, bool)> = vec![
        ("long-period.yml", vec![], false, true),
        ("no-test-group-interval.yml", vec![], false, true),
        ("start-time-test.yml", vec![], false, true),
        ("at-modifier-test.yml", vec![], false, true),
        ("negative-offset-test.yml", vec![], false, true),
        ("bad-input-series.yml", vec![], false, false),
        ("bad-promql.yml", vec![], false, false),
        ("bad-rules-syntax-test.yml", vec![], false, false),
        ("bad-rules-error-test.yml", vec![], false, false),
        ("failing.yml", vec![], false, false),
        ("rules_run.yml", vec![], false, false),
        ("rules_run.yml", vec!["correct"], false, true),
        ("rules_run.yml", vec!["wrong"], false, false),
        ("rules_run.yml", vec!["correct", "wrong"], false, false),
        ("rules_run_extrafields.yml", vec![], true, true),
        ("rules_run_no_fuzzy.yml", vec![], false, false),
        ("rules_run_fuzzy.yml", vec!["correct"], false, true),
        ("rules_run_fuzzy.yml", vec!["wrong"], false, false),
    ];
    let mut bad = Vec::new();
    for (f, run, ignore, pass) in &table {
        let opts = TestOptions {
            run: run.iter().map(|r| re(r)).collect(),
            ignore_unknown_fields: *ignore,
            templater: &GoTemplates,
            features: vec![],
        };
        let errs = run_test_file(&d.join(f), &opts);
        if errs.is_empty() != *pass {
            bad.push(format!("{f} --run {run:?}: expected {}, got:\n{}", if *pass { "pass" } else { "fail" }, errs.join("\n")));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
    // unittest.yml passes except for its one test group on native histograms,
    // which the storage does not hold yet (a later issue): that gap is named.
    let opts = TestOptions { run: vec![], ignore_unknown_fields: false, templater: &GoTemplates, features: vec![] };
    let errs = run_test_file(&d.join("unittest.yml"), &opts);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("native histograms are not supported yet"), "{errs:?}");
}

#[test]
fn every_community_alert_rule_loads() {
    let Some(dir) = conformance_dir() else { return };
    let mut files = Vec::new();
    let mut stack = vec![dir.join("alert-rules/dist/rules")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else if e.path().extension().is_some_and(|x| x == "yml") {
                files.push(e.path());
            }
        }
    }
    let (mut rules, mut bad) = (0, Vec::new());
    for f in &files {
        match check(f, false, false) {
            Ok(rf) => rules += rf.groups.iter().map(|g| g.rules.len()).sum::<usize>(),
            Err(e) => bad.push(e),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_eq!((files.len(), rules), (112, 954), "the README's counts");
}
