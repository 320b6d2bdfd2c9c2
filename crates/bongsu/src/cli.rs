//! Command-line interface. Flag names follow Prometheus where the meaning is
//! the same, so existing unit files and scripts keep working.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn version_line() -> String {
    format!("bongsu, version {VERSION} (Prometheus-compatible: API v1, prometheus.yml, PromQL 3)")
}

pub fn short_help() -> &'static str {
    "bongsu: monitoring in one binary.\n\n  bongsu run                 start the server (monitors this machine on :9090)\n  bongsu run --config.file=prometheus.yml\n  bongsu agent --config.file=prometheus.yml   scrape and remote_write only\n  bongsu check config FILE   validate a prometheus.yml (or alertmanager.yml, blackbox.yml)\n  bongsu query instant 'up'  query a running server\n  bongsu --help              everything else"
}

#[derive(Parser, Debug)]
#[command(name = "bongsu", about = "Scrape, store and query metrics — a Prometheus-compatible server in one binary.",
    long_about = "Bongsu scrapes targets from a prometheus.yml (or, with no configuration, this machine \
and itself), stores samples in its own time-series database, and answers PromQL over Prometheus' HTTP API v1, \
so Grafana, promtool and a federating Prometheus can read it as if it were Prometheus.",
    disable_version_flag = true)]
pub struct Cli {
    /// Print the version and exit.
    #[arg(long = "version", short = 'V')]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server: scrape, store, evaluate queries, serve the HTTP API.
    Run(Box<RunArgs>),
    /// Scrape and forward with remote write only (like `prometheus --enable-feature=agent`):
    /// no local queries, rules or alerting; needs a `remote_write` in --config.file.
    Agent(AgentArgs),
    /// Validate configuration files without starting anything.
    Check {
        #[command(subcommand)]
        cmd: CheckCmd,
    },
    /// Unit tests for rules (promtool's `test rules` file format).
    Test {
        #[command(subcommand)]
        cmd: TestCmd,
    },
    /// Query a running Bongsu or Prometheus over its HTTP API.
    Query(QueryArgs),
    /// The built-in Alertmanager's records on a running server: alert transitions and notification attempts.
    Alerts(AlertsArgs),
    /// The automated responder on a running server: executions, approvals, breakers, kill switch, replay.
    Respond(RespondArgs),
    /// Incidents on a running server: list, show with the timeline, acknowledge.
    Incidents(IncidentsArgs),
    /// Incident tools: `incident report ID` writes a post-incident draft in Markdown.
    Incident(IncidentArgs),
    /// Offline TSDB tools.
    Tsdb {
        #[command(subcommand)]
        cmd: TsdbCmd,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand, Debug)]
pub enum CheckCmd {
    /// Check prometheus.yml files (strict: unknown fields and bad values are errors with file:line:column).
    Config {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check rule files like `promtool check rules`: syntax, PromQL, templates, duplicate rules.
    Rules {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Accept unknown fields in rule groups and rules.
        #[arg(long = "ignore-unknown-fields")]
        ignore_unknown_fields: bool,
        /// Linting checks: duplicate-rules, all or none.
        #[arg(long = "lint", default_value = "duplicate-rules")]
        lint: String,
        /// Make lint findings fail the check (exit code 3).
        #[arg(long = "lint-fatal")]
        lint_fatal: bool,
    },
    /// Check runbook files (the responder's): strict YAML, templates, targets that could name nothing or everything.
    Runbooks {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct AlertsArgs {
    /// The Bongsu server to ask.
    #[arg(long = "server", global = true, default_value = "http://localhost:9090")]
    pub server: String,
    #[arg(long = "format", short = 'o', global = true, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(subcommand)]
    pub cmd: AlertsCmd,
}

#[derive(Subcommand, Debug)]
pub enum AlertsCmd {
    /// Alert transitions (firing, resolved, silenced, inhibited, active again), newest first.
    History {
        /// Only this alert name.
        #[arg(long = "alertname")]
        alertname: Option<String>,
        /// Only since this time (RFC 3339, Unix seconds or `now`).
        #[arg(long = "since")]
        since: Option<String>,
        #[arg(long = "limit", default_value_t = 100)]
        limit: usize,
    },
    /// Every notification attempt with receiver, integration, outcome and error, newest first.
    Notifications {
        #[arg(long = "since")]
        since: Option<String>,
        #[arg(long = "limit", default_value_t = 100)]
        limit: usize,
    },
}

/// How to reach a running server (and prove who you are when changing things).
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// The Bongsu server to ask.
    #[arg(long = "server", global = true, default_value = "http://localhost:9090")]
    pub server: String,
    /// Bearer token (`responder.api_token_file`) for changes; also read from BONGSU_TOKEN.
    #[arg(long = "token", global = true, env = "BONGSU_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Basic-auth user:password (web config) for changes.
    #[arg(long = "user", global = true)]
    pub user: Option<String>,
    #[arg(long = "format", short = 'o', global = true, value_enum, default_value = "table")]
    pub format: OutputFormat,
}

#[derive(Args, Debug)]
pub struct RespondArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub cmd: RespondCmd,
}

#[derive(Subcommand, Debug)]
pub enum RespondCmd {
    /// Executions, newest first (or one in full with --id).
    History {
        #[arg(long = "runbook")]
        runbook: Option<String>,
        #[arg(long = "state")]
        state: Option<String>,
        /// One execution, the whole record.
        #[arg(long = "id")]
        id: Option<String>,
        #[arg(long = "limit", default_value_t = 50)]
        limit: usize,
    },
    /// Approve an execution waiting for approval.
    Approve { id: String },
    /// Reject an execution waiting for approval (it is escalated).
    Reject { id: String },
    /// Cancel a running execution before its next step.
    Cancel { id: String },
    /// Re-arm a runbook whose circuit breaker opened.
    Arm { runbook: String },
    /// Switch all automation off (`on`) or back on (`off`).
    KillSwitch {
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Run a runbook over the stored alert history as if it had been live:
    /// every target it would have touched, every guard that would have tripped. Nothing acts.
    Replay {
        /// The runbook file (may be new, not yet loaded by the server).
        #[arg(long = "runbook-file")]
        runbook_file: PathBuf,
        /// The runbook's name in that file (default: the only one).
        #[arg(long = "runbook")]
        runbook: Option<String>,
        /// How far back: a duration (`7d`) or a time.
        #[arg(long = "since", default_value = "7d")]
        since: String,
        /// Only alerts with these labels (`name=value`, repeatable).
        #[arg(long = "match")]
        matchers: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct IncidentsArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Only open incidents.
    #[arg(long = "open")]
    pub open: bool,
    /// One incident with its timeline and executions.
    #[arg(long = "id")]
    pub id: Option<String>,
    /// Acknowledge the incident given by --id.
    #[arg(long = "ack")]
    pub ack: bool,
    #[arg(long = "limit", default_value_t = 50)]
    pub limit: usize,
}

#[derive(Args, Debug)]
pub struct IncidentArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub cmd: IncidentCmd,
}

#[derive(Subcommand, Debug)]
pub enum IncidentCmd {
    /// A post-incident draft in Markdown: timeline, actions and their output, the queries that fired.
    Report {
        id: String,
        /// Write to this file instead of standard output.
        #[arg(long = "output")]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TestCmd {
    /// Run runbook unit-test files: alert deliveries in (fire, flap, resolve, duplicates), expected executions, steps and guard decisions out. Nothing acts; time is simulated.
    Runbooks {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run rule unit-test files: input series, rules evaluated in simulated time, expected alerts and query results.
    Rules {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Only run test groups whose name matches this regular expression (repeatable).
        #[arg(long = "run")]
        run: Vec<String>,
        /// Accept unknown fields in the rule files.
        #[arg(long = "ignore-unknown-fields")]
        ignore_unknown_fields: bool,
        /// PromQL features to enable, as `bongsu run --enable-feature`.
        #[arg(long = "enable-feature", value_delimiter = ',')]
        enable_feature: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TsdbCmd {
    /// Create blocks from an input file (same syntax and meaning as promtool's).
    #[command(name = "create-blocks-from")]
    CreateBlocksFrom {
        /// Maximum duration of each created block (promtool's --max-block-duration); blocks are aligned to it.
        #[arg(long = "max-block-duration", default_value = "2h", global = true)]
        max_block_duration: String,
        /// Print nothing but errors.
        #[arg(long = "quiet", short = 'q', global = true)]
        quiet: bool,
        #[command(subcommand)]
        cmd: CreateBlocksFrom,
    },
}

#[derive(Subcommand, Debug)]
pub enum CreateBlocksFrom {
    /// Import samples from an OpenMetrics file (with timestamps, ending in `# EOF`) into 2h blocks in DIR.
    Openmetrics {
        /// OpenMetrics input file.
        input: PathBuf,
        /// Output directory for the blocks (default: data/).
        #[arg(default_value = "data/")]
        output: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Prometheus configuration file. Without it Bongsu uses its embedded
    /// default: it scrapes itself and its built-in host collector.
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,
    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", default_value = "data/")]
    pub tsdb_path: PathBuf,
    /// How long to retain samples in storage (e.g. 15d, 12h). Default 15d
    /// unless only a size limit is set.
    #[arg(long = "storage.tsdb.retention.time")]
    pub retention_time: Option<String>,
    /// Maximum number of bytes of storage blocks and WAL to keep (e.g. 512MB, 10GB).
    #[arg(long = "storage.tsdb.retention.size")]
    pub retention_size: Option<String>,
    /// Address to listen on for the UI, API and telemetry.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9090")]
    pub listen_address: String,
    #[command(flatten)]
    pub collectors: CollectorArgs,
    /// Path to a web configuration file (exporter-toolkit format) enabling TLS and/or basic auth.
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,
    /// Enable the admin endpoints (snapshot, delete_series, clean_tombstones).
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,
    /// Accepted for compatibility: /-/reload is always enabled in Bongsu.
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
    /// Accept remote write requests (POST /api/v1/write, remote write 1.0) and store their samples.
    #[arg(long = "web.enable-remote-write-receiver")]
    pub enable_remote_write_receiver: bool,
    /// The URL under which Bongsu is reached from outside (used in /api/v1/targets globalUrl).
    #[arg(long = "web.external-url")]
    pub external_url: Option<String>,
    /// Maximum time a query may take before it is aborted.
    #[arg(long = "query.timeout", default_value = "2m")]
    pub query_timeout: String,
    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    pub query_max_samples: usize,
    /// Maximum number of queries executed concurrently.
    #[arg(long = "query.max-concurrency", default_value_t = 20)]
    pub query_max_concurrency: usize,
    /// How far back to look for the most recent sample of a series.
    #[arg(long = "query.lookback-delta", default_value = "5m")]
    pub lookback_delta: String,
    /// The built-in Alertmanager's configuration (alertmanager.yml). Without it, every alert is
    /// kept visible in the API (/api/v2/alerts) and the log.
    #[arg(long = "alertmanager.config.file")]
    pub alertmanager_config_file: Option<PathBuf>,
    /// Where the built-in Alertmanager keeps silences and its notification log (default: <storage.tsdb.path>/alertmanager).
    #[arg(long = "alertmanager.storage.path")]
    pub alertmanager_storage_path: Option<PathBuf>,
    /// Minimum time to wait before re-sending an alert to an Alertmanager.
    #[arg(long = "rules.alert.resend-delay", default_value = "1m")]
    pub rules_resend_delay: String,
    /// Max time to tolerate a Bongsu outage when restoring the 'for' state of alerts.
    #[arg(long = "rules.alert.for-outage-tolerance", default_value = "1h")]
    pub rules_outage_tolerance: String,
    /// Minimum duration between an alert's restored 'for' state and it firing.
    #[arg(long = "rules.alert.for-grace-period", default_value = "10m")]
    pub rules_grace_period: String,
    /// Comma-separated feature names to enable (Prometheus' names, e.g. promql-experimental-functions).
    #[arg(long = "enable-feature", value_delimiter = ',')]
    pub enable_feature: Vec<String>,
    /// A folder of Grafana dashboard JSON (or YAML) files to show in the web UI, next to the
    /// built-in ones (dashboards as code; re-read on reload). Files of Grafana's "export for
    /// sharing" work unchanged: datasource inputs resolve to Bongsu itself.
    #[arg(long = "dashboards.dir")]
    pub dashboards_dir: Option<PathBuf>,
    /// Only log messages with the given severity or above: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info")]
    pub log_level: String,
    /// Output format of log messages.
    #[arg(long = "log.format", value_enum, default_value = "logfmt")]
    pub log_format: LogFormat,
}

/// The built-in collectors' options, shared by `run` and `agent`.
#[derive(Args, Debug, Clone, Default)]
pub struct CollectorArgs {
    /// Directory (or glob of directories) of `*.prom` files whose metrics the built-in host
    /// collector (/collect/node) serves, like node_exporter's flag of the same name.
    #[arg(long = "collector.textfile.directory")]
    pub textfile_directory: Option<String>,
    /// process-exporter's config file (`process_names:`): serve those named
    /// process groups at /collect/processes. Off without it.
    #[arg(long = "collector.processes.config")]
    pub processes_config: Option<PathBuf>,
    /// blackbox_exporter's module file (its `--config.file`, e.g.
    /// /etc/prometheus/blackbox.yml) for `/probe`. Without it, the default
    /// modules of blackbox_exporter's blackbox.yml. Reloaded with the rest.
    #[arg(long = "probe.config.file")]
    pub probe_config_file: Option<PathBuf>,
    /// Seconds subtracted from Prometheus' scrape timeout to get a probe's
    /// timeout (blackbox_exporter's --timeout-offset).
    #[arg(long = "probe.timeout-offset", default_value_t = 0.5)]
    pub probe_timeout_offset: f64,
}

#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// Prometheus configuration file with at least one `remote_write` url. Without
    /// `scrape_configs` the agent scrapes its built-in host collector and itself.
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,
    /// Where the agent keeps its write-ahead log (what is not yet sent) and the queues' positions.
    #[arg(long = "storage.agent.path", default_value = "data-agent/")]
    pub agent_path: PathBuf,
    /// Address to listen on for /metrics, health, reload, /api/v1/targets and the collectors.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9090")]
    pub listen_address: String,
    #[command(flatten)]
    pub collectors: CollectorArgs,
    /// Path to a web configuration file (exporter-toolkit format) enabling TLS and/or basic auth.
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,
    /// Accepted for compatibility (`--enable-feature=agent` is what `bongsu agent` is).
    #[arg(long = "enable-feature", value_delimiter = ',')]
    pub enable_feature: Vec<String>,
    /// Accepted for compatibility: /-/reload is always enabled in Bongsu.
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
    /// Only log messages with the given severity or above: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info")]
    pub log_level: String,
    /// Output format of log messages.
    #[arg(long = "log.format", value_enum, default_value = "logfmt")]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// Server to query.
    #[arg(long = "server", global = true, default_value = "http://localhost:9090")]
    pub server: String,
    /// Output as a table (default) or the API's JSON.
    #[arg(long = "format", short = 'o', global = true, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(subcommand)]
    pub cmd: QueryCmd,
}

#[derive(Subcommand, Debug)]
pub enum QueryCmd {
    /// Evaluate an expression at one instant.
    Instant {
        expr: String,
        /// Evaluation time: RFC 3339 or Unix seconds (default: now).
        #[arg(long = "time")]
        time: Option<String>,
    },
    /// Evaluate an expression over a time range.
    Range {
        expr: String,
        /// Start: RFC 3339 or Unix seconds (default: end - 1h).
        #[arg(long = "start")]
        start: Option<String>,
        /// End: RFC 3339 or Unix seconds (default: now).
        #[arg(long = "end")]
        end: Option<String>,
        /// Resolution step, e.g. 15s or 60 (default: range / 250).
        #[arg(long = "step")]
        step: Option<String>,
    },
}
