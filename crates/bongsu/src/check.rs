//! `bongsu check config|rules` and `bongsu test rules`: promtool-style checks
//! of prometheus.yml, alertmanager.yml (as `amtool check-config`) and rule files.

use std::path::PathBuf;

pub fn check_config(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for f in files {
        println!("Checking {}", f.display());
        if is_alertmanager_config(f) {
            match crate::rules::load_alertmanager_config(Some(f)).and_then(|(c, d)| crate::respond::check(c, &d)) {
                Ok((l, runbooks)) => println!(
                    "  SUCCESS: {} is valid alertmanager config file syntax ({} receivers, {} inhibit rules, {} templates, {} runbooks)",
                    f.display(),
                    l.config.receivers.len(),
                    l.config.inhibit_rules.len(),
                    l.config.templates.len(),
                    runbooks
                ),
                Err(e) => {
                    failed += 1;
                    eprintln!("  FAILED: {e}");
                }
            }
            continue;
        }
        if is_probe_config(f) {
            match bongsu_probe::ProbeConfig::load_file(f) {
                Ok(c) => println!("  SUCCESS: {} is valid blackbox_exporter module file syntax ({} modules)", f.display(), c.modules.len()),
                Err(e) => {
                    failed += 1;
                    eprintln!("  FAILED: {e}");
                }
            }
            continue;
        }
        match bongsu_scrape::config::load_file(f) {
            Ok(cfg) => {
                println!(
                    "  SUCCESS: {} is valid prometheus config file syntax ({} scrape configs, {} rule files)",
                    f.display(),
                    cfg.scrape_configs.len(),
                    cfg.rule_files.len()
                );
                let check = |n: &str, t: &str| bongsu_rules::rule::Templater::check(&crate::rules::GoTemplates, n, t);
                let opts = bongsu_rules::file::ParseOptions { check_template: Some(&check), ..Default::default() };
                for rf in crate::rules::rule_files(&cfg) {
                    println!("  Checking {}", rf.display());
                    match bongsu_rules::file::load_rules(&rf, &opts) {
                        Ok(r) => println!("  SUCCESS: {} rules found", r.groups.iter().map(|g| g.rules.len()).sum::<usize>()),
                        Err(e) => {
                            failed += 1;
                            eprintln!("  FAILED:\n{e}");
                        }
                    }
                }
                for sc in &cfg.scrape_configs {
                    let kinds = sc.unsupported_discovery();
                    if !kinds.is_empty() {
                        println!(
                            "  WARNING: job {:?} uses {}: accepted, but Bongsu does not discover or scrape those targets yet",
                            sc.job_name,
                            kinds.join(", ")
                        );
                    }
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("  FAILED: {e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} config files failed the check", files.len());
    }
    Ok(())
}

/// An alertmanager.yml has a top-level `route:` or `receivers:`; a
/// prometheus.yml never does.
fn is_alertmanager_config(f: &std::path::Path) -> bool {
    std::fs::read_to_string(f).is_ok_and(|t| t.lines().any(|l| l.starts_with("route:") || l.starts_with("receivers:")))
}

/// A blackbox_exporter module file has a top-level `modules:`; a
/// prometheus.yml never does.
fn is_probe_config(f: &std::path::Path) -> bool {
    std::fs::read_to_string(f).is_ok_and(|t| t.lines().any(|l| l.starts_with("modules:")))
}

/// `bongsu check rules`: exit 0 when valid, 1 on errors, 3 on lint
/// findings with `--lint-fatal` (promtool's codes and output).
pub fn check_rules(files: &[PathBuf], ignore_unknown_fields: bool, lint: &str, lint_fatal: bool) -> anyhow::Result<std::process::ExitCode> {
    use bongsu_rules::rule::Templater;
    let lint_dups = match lint {
        "duplicate-rules" | "all" => true,
        "none" => false,
        other => anyhow::bail!("--lint: unknown linting option {other:?} (duplicate-rules, all, none)"),
    };
    let check = |n: &str, t: &str| crate::rules::GoTemplates.check(n, t);
    let opts = bongsu_rules::file::ParseOptions { ignore_unknown_fields, check_template: Some(&check), ..Default::default() };
    let (mut failed, mut lint_found) = (false, false);
    for f in files {
        println!("Checking {}", f.display());
        match bongsu_rules::file::load_rules(f, &opts) {
            Ok(rf) => {
                let n: usize = rf.groups.iter().map(|g| g.rules.len()).sum();
                println!("  SUCCESS: {n} rules found");
                if lint_dups {
                    let dups = bongsu_rules::file::duplicate_rules(&rf);
                    if !dups.is_empty() {
                        lint_found = true;
                        println!("  WARNING: {} duplicate rule(s) found.", dups.len());
                        for (name, labels) in dups {
                            println!("Metric: {name}\nLabel(s):");
                            for (k, v) in labels {
                                println!("\t{k}: {v}");
                            }
                        }
                        println!("Might cause inconsistency while recording expressions.");
                    }
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("  FAILED:");
                for line in &e.0 {
                    eprintln!("{line}");
                }
            }
        }
        println!();
    }
    Ok(if failed {
        std::process::ExitCode::from(1)
    } else if lint_found && lint_fatal {
        std::process::ExitCode::from(3)
    } else {
        std::process::ExitCode::SUCCESS
    })
}

/// `bongsu test rules`: promtool's output and exit codes (0 all passed, 1 otherwise).
pub fn test_rules(files: &[PathBuf], run: &[String], ignore_unknown_fields: bool, features: Vec<String>) -> anyhow::Result<std::process::ExitCode> {
    let run = run
        .iter()
        .map(|r| regex::Regex::new(r).map_err(|e| anyhow::anyhow!("--run {r:?}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let opts = bongsu_rules::unittest::TestOptions { run, ignore_unknown_fields, templater: &crate::rules::GoTemplates, features };
    let mut failed = false;
    for f in files {
        println!("Unit Testing:  {}", f.display());
        let errs = bongsu_rules::unittest::run_test_file(f, &opts);
        if errs.is_empty() {
            println!("  SUCCESS");
        } else {
            failed = true;
            eprintln!("  FAILED:");
            for e in errs {
                eprintln!("{e}");
            }
        }
        println!();
    }
    Ok(if failed { std::process::ExitCode::from(1) } else { std::process::ExitCode::SUCCESS })
}

/// `bongsu check runbooks FILE…`: strict parse and validation of runbook files.
pub fn check_runbooks(files: &[PathBuf]) -> anyhow::Result<std::process::ExitCode> {
    let mut failed = false;
    for f in files {
        println!("Checking {}", f.display());
        match bongsu_respond::runbook::load_file(f) {
            Ok(rbs) => {
                println!("  SUCCESS: {} runbooks found", rbs.len());
                for rb in rbs {
                    let steps: Vec<String> = rb.steps.iter().map(|s| format!("{} ({})", s.name, s.action.kind())).collect();
                    println!("    {}: tier {:?}, target {}, steps: {}", rb.name, rb.tier, rb.target, steps.join(", "));
                }
            }
            Err(errs) => {
                failed = true;
                eprintln!("  FAILED:");
                for e in errs {
                    eprintln!("{e}");
                }
            }
        }
    }
    Ok(if failed { std::process::ExitCode::from(1) } else { std::process::ExitCode::SUCCESS })
}
