//! `bongsu` — one binary that scrapes, stores and answers PromQL over the
//! Prometheus HTTP API.
//!
//! Subcommands: `run` (the server), `agent` (scrape and remote write only), `check config|rules|runbooks`,
//! `test rules|runbooks`, `query instant|range`, `alerts`, `respond`,
//! `incidents`, `incident report`, `tsdb create-blocks-from openmetrics`,
//! `version`.
#![forbid(unsafe_code)]

mod agent;
mod alerts;
mod amsend;
mod backfill;
mod check;
mod cli;
mod collectors;
mod defaults;
mod logging;
mod query;
mod respond;
mod respondcli;
mod rules;
mod run;
mod selfmetrics;

use clap::Parser;
use cli::{CheckCmd, Cli, Command, TestCmd, TsdbCmd};
use std::process::ExitCode;

// mimalloc: glibc malloc spent over half of ingest CPU in malloc/free/consolidate
// under many scrape threads (perf, 100k series); mimalloc's thread-local heaps avoid that.
// Built with `no_thp`: mimalloc otherwise madvises its arenas into transparent huge
// pages, and a 2 MiB page that a few live objects keep resident raised the resident
// memory by half (100k series: 98 of 164 MiB were huge pages for ~80 MiB of heap).
// The `system-alloc` feature keeps the system allocator (for heaptrack, which
// does not see mimalloc's allocations).
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        println!("{}", cli::version_line());
        return ExitCode::SUCCESS;
    }
    let Some(cmd) = cli.command else {
        eprintln!("{}", cli::short_help());
        return ExitCode::from(2);
    };
    if matches!(cmd, Command::Run(_) | Command::Agent(_)) {
        // Like the Go peers: many scrape connections, TSDB blocks and the
        // process collector's open schedstat files need more than 1024.
        bongsu_collect::raise_open_files_limit();
    }
    let result = match cmd {
        Command::Run(args) => run::run(*args),
        Command::Agent(args) => agent::agent(args),
        Command::Version => {
            println!("{}", cli::version_line());
            Ok(())
        }
        Command::Check { cmd: CheckCmd::Config { files } } => check::check_config(&files),
        Command::Check { cmd: CheckCmd::Rules { files, ignore_unknown_fields, lint, lint_fatal } } => {
            match check::check_rules(&files, ignore_unknown_fields, &lint, lint_fatal) {
                Ok(code) => return code,
                Err(e) => Err(e),
            }
        }
        Command::Check { cmd: CheckCmd::Runbooks { files } } => match check::check_runbooks(&files) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Command::Test { cmd: TestCmd::Rules { files, run, ignore_unknown_fields, enable_feature } } => {
            match check::test_rules(&files, &run, ignore_unknown_fields, enable_feature) {
                Ok(code) => return code,
                Err(e) => Err(e),
            }
        }
        Command::Test { cmd: TestCmd::Runbooks { files } } => match respondcli::test_runbooks(&files) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Command::Respond(a) => respondcli::respond(a),
        Command::Incidents(a) => respondcli::incidents(a),
        Command::Incident(a) => respondcli::incident(a),
        Command::Query(q) => query::query(q),
        Command::Alerts(a) => alerts::alerts(a),
        Command::Tsdb { cmd: TsdbCmd::CreateBlocksFrom { max_block_duration, quiet, cmd } } => backfill::run(cmd, &max_block_duration, quiet),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
