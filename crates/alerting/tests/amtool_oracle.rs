//! Routing checked against the real Alertmanager: for several routing trees
//! and many label sets, the receivers our [`Route::match_routes`] returns
//! must equal what `amtool config routes test` (Debian's Alertmanager)
//! prints. Skipped with a loud message when `amtool` is not installed
//! (set `BONGSU_AMTOOL` to its path to use another one), failing when
//! `BONGSU_REQUIRE_ORACLES=1`.
//!
//! Debian ships Alertmanager 0.25, whose matcher parser is the classic one;
//! the routing trees use syntax both parsers read the same way. A second
//! test feeds generated `matchers:` strings to both: whenever Alertmanager
//! 0.25 accepts one, ours must too and route the same label sets the same
//! way (0.34's default mode gives the classic reading whenever the classic
//! parser accepts the input, so the two must agree).

use std::path::PathBuf;
use std::process::Command;

use bongsu_alerting::Config;
use bongsu_model::Labels;

fn amtool() -> Option<PathBuf> {
    let p = std::env::var("BONGSU_AMTOOL").unwrap_or_else(|_| "amtool".into());
    let ok = Command::new(&p)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(PathBuf::from(p));
    }
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !! amtool NOT FOUND: routing is not compared with Alertmanager\n\
         !! (apt install prometheus-alertmanager, or set BONGSU_AMTOOL)\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    if std::env::var("BONGSU_REQUIRE_ORACLES")
        .map(|v| v == "1")
        .unwrap_or(false)
    {
        panic!("amtool missing and BONGSU_REQUIRE_ORACLES=1");
    }
    None
}

const TREES: &[&str] = &[
    r#"
route:
  receiver: 'notify-def'
  routes:
  - match:
      owner: 'team-A'
    receiver: 'notify-A'
    routes:
    - match:
        env: 'testing'
      receiver: 'notify-testing'
      group_by: [...]
    - match:
        env: "production"
      receiver: 'notify-productionA'
      group_wait: 1m
      continue: true
    - match_re:
        env: "produ.*"
        job: ".*"
      receiver: 'notify-productionB'
  - match_re:
      owner: 'team-(B|C)'
    receiver: 'notify-BC'
  - match:
      group_by: 'role'
    group_by: ['role']
    routes:
    - match:
        env: 'testing'
      receiver: 'notify-testing'
      routes:
      - match:
          wait: 'long'
        group_wait: 2m
"#,
    r#"
route:
  receiver: 'notify-def'
  routes:
  - matchers: ['{owner="team-A"}', '{level!="critical"}']
    receiver: 'notify-A'
    routes:
    - matchers: ['{env="testing"}', '{baz!~".*quux"}']
      receiver: 'notify-testing'
    - matchers: ['{env="production"}']
      receiver: 'notify-productionA'
      continue: true
    - matchers: [ env=~"produ.*", job=~".*"]
      receiver: 'notify-productionB'
  - matchers: [owner=~"team-(B|C)"]
    receiver: 'notify-BC'
    continue: true
  - matchers: ['owner!="team-B"', 'env=~"test.*|prod.*"']
    receiver: 'notify-testing'
    continue: true
  - matchers: [level=~"crit.*"]
    receiver: 'notify-A'
"#,
];

const RECEIVERS: &str = "receivers:\n  - name: notify-def\n  - name: notify-A\n  - name: notify-testing\n  - name: notify-productionA\n  - name: notify-productionB\n  - name: notify-BC\n";

/// Label sets: every combination of a few labels being absent or taking
/// one of a few values.
fn label_sets() -> Vec<Vec<(&'static str, &'static str)>> {
    let dims: &[(&str, &[&str])] = &[
        ("owner", &["team-A", "team-B", "team-C", "team-AB"]),
        ("env", &["testing", "production", "produ"]),
        ("level", &["critical", "crit"]),
        ("job", &["x"]),
        ("group_by", &["role"]),
        ("baz", &["aquux"]),
    ];
    let mut out = vec![Vec::new()];
    for (name, values) in dims {
        let mut next = Vec::new();
        for base in &out {
            next.push(base.clone());
            for v in values.iter() {
                let mut b = base.clone();
                b.push((*name, *v));
                next.push(b);
            }
        }
        out = next;
    }
    // Every 7th combination keeps the run short while covering all labels.
    out.into_iter().step_by(7).collect()
}

#[test]
fn routing_matches_amtool() {
    let Some(amtool) = amtool() else { return };
    let dir = std::env::temp_dir().join(format!("bongsu-amtool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut compared = 0;
    let mut diffs = Vec::new();
    for (i, tree) in TREES.iter().enumerate() {
        let text = format!("{tree}{RECEIVERS}");
        let path = dir.join(format!("tree{i}.yml"));
        std::fs::write(&path, &text).expect("write");
        let cfg = Config::parse(&text, "tree.yml").unwrap_or_else(|e| panic!("{e}"));
        let routes = cfg.route_tree();
        for set in label_sets() {
            let labels = Labels::from_pairs(set.iter().copied());
            let ours: Vec<String> = routes
                .match_routes(&labels)
                .iter()
                .map(|r| r.opts.receiver.clone())
                .collect();
            let out = Command::new(&amtool)
                .args(["config", "routes", "test", "--config.file"])
                .arg(&path)
                .args(set.iter().map(|(k, v)| format!("{k}={v}")))
                .output()
                .expect("run amtool");
            let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .trim()
                .split(',')
                .map(str::to_string)
                .collect();
            compared += 1;
            if ours != theirs {
                diffs.push(format!(
                    "tree {i} {labels}: ours {ours:?}, amtool {theirs:?}"
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "routing compared with amtool: {compared} label sets, {} differences",
        diffs.len()
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// Go-quoted label value for amtool's `name="value"` arguments.
fn quote_value(v: &str) -> String {
    let mut o = String::from("\"");
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn matcher_inputs() -> Vec<String> {
    let names = ["foo", "a_b", "job:x", "foo bar", "\"quoted\"", "1bad"];
    let ops = ["=", "!=", "=~", "!~"];
    let values = [
        "bar",
        "\"bar\"",
        "\"a,b\"",
        "a,b",
        "\"\"",
        "",
        "\"x\\\"y\"",
        "\"5..\"",
        "5..",
        "\"a|b\"",
        "\\d+",
        "\"\\\\d+\"",
        "bar}",
        "\"bar}\"",
        "\"caf\u{e9}\"",
        "\u{1f642}",
        "\"line\\nbreak\"",
        "\"unterminated",
        "x\"y",
        "'single'",
    ];
    let mut out = Vec::new();
    let mut i = 0usize;
    for n in names {
        for o in ops {
            for v in values {
                i += 1;
                let m = match i % 5 {
                    0 => format!("{{{n}{o}{v}}}"),
                    1 => format!("{n} {o} {v}"),
                    2 => format!("{n}{o}{v}, other=\"x\""),
                    _ => format!("{n}{o}{v}"),
                };
                out.push(m);
            }
        }
    }
    // Every 3rd input keeps the run short while covering every form.
    out.into_iter().step_by(3).collect()
}

#[test]
fn matcher_parsing_matches_amtool() {
    let Some(amtool) = amtool() else { return };
    let dir = std::env::temp_dir().join(format!("bongsu-amtool-m-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("m.yml");
    let (mut accepted, mut rejected, mut only_ours) = (0, 0, 0);
    let mut diffs = Vec::new();
    for input in matcher_inputs() {
        let text = format!(
            "route:\n  receiver: def\n  routes:\n    - matchers: ['{}']\n      receiver: hit\nreceivers:\n  - name: def\n  - name: hit\n",
            input.replace('\'', "''")
        );
        std::fs::write(&path, &text).expect("write");
        let theirs_ok = Command::new(&amtool)
            .arg("check-config")
            .arg(&path)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        let ours = Config::parse(&text, "m.yml");
        match (&ours, theirs_ok) {
            (Err(_), false) => {
                rejected += 1;
                continue;
            }
            (Ok(_), false) => {
                // Only the UTF-8 parser reads it (new in Alertmanager 0.27).
                let classic_ok = bongsu_alerting::matchers::parse_matchers_classic(&input).is_ok();
                if classic_ok {
                    diffs.push(format!(
                        "{input:?}: amtool rejects, our classic parser accepts"
                    ));
                }
                only_ours += 1;
                continue;
            }
            (Err(e), true) => {
                diffs.push(format!("{input:?}: amtool accepts, we reject: {e}"));
                continue;
            }
            (Ok(_), true) => accepted += 1,
        }
        let Ok(cfg) = ours else { continue };
        let tree = cfg.route_tree();
        let ms = &tree.routes[0].matchers;
        // Label sets: each matcher's own value, and a few others.
        let mut candidates: Vec<String> = ms.iter().map(|m| m.value.clone()).collect();
        candidates.extend(["", "bar", "a,b", "512", "x", "a"].map(String::from));
        for m in ms.iter() {
            for v in &candidates {
                let mut pairs = vec![(m.name.clone(), v.clone())];
                if m.name != "other" {
                    pairs.push(("other".into(), "x".into()));
                }
                let labels =
                    Labels::from_pairs(pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())));
                let ours = tree.match_routes(&labels)[0].opts.receiver.clone();
                let out = Command::new(&amtool)
                    .args(["config", "routes", "test", "--config.file"])
                    .arg(&path)
                    .args(pairs.iter().map(|(k, v)| format!("{k}={}", quote_value(v))))
                    .output()
                    .expect("run amtool");
                let theirs = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if ours != theirs {
                    diffs.push(format!(
                        "{input:?} with {labels}: ours {ours}, amtool {theirs:?}"
                    ));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "matchers compared with amtool: {accepted} accepted by both, {rejected} rejected by both, {only_ours} read only by the UTF-8 parser, {} differences",
        diffs.len()
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
