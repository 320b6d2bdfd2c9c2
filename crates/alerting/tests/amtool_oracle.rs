//! Routing checked against the real Alertmanager: for several routing trees
//! and many label sets, the receivers our [`Route::match_routes`] returns
//! must equal what `amtool config routes test` (Debian's Alertmanager)
//! prints. Skipped with a loud message when `amtool` is not installed
//! (set `BONGSU_AMTOOL` to its path to use another one), failing under
//! `CI=true`.
//!
//! Debian ships Alertmanager 0.25, whose matcher parser is the classic one;
//! the trees here use syntax both parsers read the same way.

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
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!("amtool missing in CI");
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
