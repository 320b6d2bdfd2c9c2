//! `bongsu tsdb create-blocks-from openmetrics FILE DIR`: the same input and
//! meaning as promtool's — every sample must carry a timestamp, the file ends
//! with `# EOF`, and samples are cut into blocks aligned to the maximum block
//! duration (2 h by default) so they slot in beside blocks Bongsu writes.

use crate::cli::CreateBlocksFrom;
use anyhow::{bail, Context};
use bongsu_model::{Labels, Sample};
use std::collections::HashMap;

pub fn run(cmd: CreateBlocksFrom, max_block_duration: &str, quiet: bool) -> anyhow::Result<()> {
    let CreateBlocksFrom::Openmetrics { input, output } = cmd;
    let block_ms = bongsu_model::duration::parse_duration(max_block_duration)
        .with_context(|| format!("--max-block-duration={max_block_duration}"))?;
    // promtool rounds to a multiple of the 2 h minimum block duration.
    let two_h = 2 * 3600 * 1000;
    let block_ms = (block_ms / two_h).max(1) * two_h;
    // Lenient like promtool: families may interleave (series-by-series dumps).
    let text = std::fs::read_to_string(&input).with_context(|| format!("reading {}", input.display()))?;
    let exp = bongsu_scrape::exposition::parse_openmetrics_with(&text, false)
        .map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;

    // Group by series and by aligned block window.
    let mut windows: HashMap<i64, HashMap<Labels, Vec<Sample>>> = HashMap::new();
    for (i, s) in exp.samples.into_iter().enumerate() {
        let Some(t) = s.timestamp_ms else {
            bail!("{}: sample {} ({}) has no timestamp; backfilling needs one on every sample", input.display(), i + 1, s.labels);
        };
        let w = t.div_euclid(block_ms) * block_ms;
        windows.entry(w).or_default().entry(s.labels).or_default().push(Sample::new(t, s.value));
    }
    if windows.is_empty() {
        bail!("{}: no samples found", input.display());
    }
    std::fs::create_dir_all(&output).with_context(|| format!("creating {}", output.display()))?;
    let mut keys: Vec<i64> = windows.keys().copied().collect();
    keys.sort_unstable();
    if !quiet {
        println!("{:<28} {:>15} {:>15} {:>10} {:>12} {:>10}", "BLOCK ULID", "MIN TIME", "MAX TIME", "DURATION", "NUM SAMPLES", "NUM SERIES");
    }
    for k in keys {
        let series: Vec<(Labels, Vec<Sample>)> = windows.remove(&k).unwrap_or_default().into_iter().collect();
        let meta = bongsu_tsdb::write_block(&output, series).with_context(|| format!("writing block into {}", output.display()))?;
        if !quiet {
            println!(
                "{:<28} {:>15} {:>15} {:>10} {:>12} {:>10}",
                meta.ulid,
                meta.min_time,
                meta.max_time,
                bongsu_model::duration::format_duration(meta.max_time - meta.min_time),
                meta.stats.num_samples,
                meta.stats.num_series
            );
        }
    }
    Ok(())
}
