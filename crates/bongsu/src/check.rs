//! `bongsu check config`: promtool-style validation of prometheus.yml files.

use std::path::PathBuf;

pub fn check_config(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for f in files {
        println!("Checking {}", f.display());
        match bongsu_scrape::config::load_file(f) {
            Ok(cfg) => {
                println!(
                    "  SUCCESS: {} is valid prometheus config file syntax ({} scrape configs, {} rule files)",
                    f.display(),
                    cfg.scrape_configs.len(),
                    cfg.rule_files.len()
                );
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
