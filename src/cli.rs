//! The command line: argument parsing (clap derive) and the thin glue from each command
//! to the library. Output formatting lives with the concept it renders.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostics::Severity;
use crate::loader;
use crate::manifest::EnvironmentName;

#[derive(Debug, Parser)]
#[command(
    name = "retainctl",
    version,
    about = "GitOps for Apple's Retention Messaging API: validate, plan and apply retention messages kept in git"
)]
pub struct Cli {
    /// Send every environment's requests to this host instead of Apple's (a simulator, a proxy).
    #[arg(long, global = true, env = "RETAINCTL_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,

    /// How `--env local` behaves: sandbox approves at once, production waits for
    /// `retainctl sim review` (state in .retainctl/local/).
    #[arg(long, global = true, value_enum, default_value_t = crate::sim::Mode::Sandbox)]
    pub local_mode: crate::sim::Mode,

    /// The longest wait for Apple's hourly budget (pacing or a 429's Retry-After) before
    /// failing with the time the budget frees up.
    #[arg(long, global = true, value_parser = humantime::parse_duration, default_value = "2m")]
    pub max_rate_wait: std::time::Duration,

    /// Give up on one request to Apple after this long (it is retried), e.g. 30s.
    #[arg(long, global = true, value_parser = humantime::parse_duration, default_value = "30s")]
    pub request_timeout: std::time::Duration,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// `file:line:col: error: message` with a hint line.
    Text,
    /// GitHub workflow commands (`::error file=…`), shown on the pull request's diff.
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Markdown,
    Json,
    Github,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests offline; every problem as file:line:col.
    Validate {
        /// Manifest files or folders (searched recursively). Default: the current folder.
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = DiagnosticFormat::Text)]
        format: DiagnosticFormat,
    },
    /// Read Apple's state and print what apply would do.
    Plan {
        paths: Vec<PathBuf>,
        #[arg(long = "env", value_enum, required = true)]
        envs: Vec<EnvArg>,
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// Save the plan (without credentials) for `apply --plan`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Show text diffs against the manifests in this folder or git revision.
        #[arg(long, value_name = "DIR|GIT-REV")]
        base: Option<String>,
        /// Exit 2 when the plan has changes.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Make Apple match the manifests.
    Apply {
        paths: Vec<PathBuf>,
        #[arg(long = "env", value_enum)]
        env: EnvArg,
        /// Execute this saved plan; refused when Apple's state has changed since.
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// Also delete messages and images that the manifests do not name.
        #[arg(long)]
        prune: bool,
        /// Poll until content waiting on Apple's review is approved, up to this long (e.g. 30m).
        #[arg(long, value_name = "DURATION")]
        wait: Option<String>,
        /// Exit 2 when actions still wait on Apple's review.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Inventory of images, messages and defaults with Apple's review states, and drift.
    Status {
        paths: Vec<PathBuf>,
        #[arg(long = "env", value_enum, required = true)]
        envs: Vec<EnvArg>,
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
    },
    /// Print the content-derived identifier of every image and message.
    Ids { paths: Vec<PathBuf> },
    /// Print the JSON Schema of the manifest.
    Schema,
    /// Run the local Apple simulator, or review content in a running one.
    Sim(Box<SimCommand>),
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SimCommand {
    #[command(subcommand)]
    pub action: Option<SimAction>,
    #[command(flatten)]
    pub serve: SimServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum SimAction {
    /// Approve or reject uploaded messages and images in a running simulator.
    Review {
        /// A running simulator's address, as printed on its first line.
        #[arg(
            long,
            env = "RETAINCTL_SIM_URL",
            required_unless_present = "state",
            conflicts_with = "state"
        )]
        url: Option<String>,
        /// Or a state file to edit directly, e.g. `.retainctl/local/production.json` of
        /// `--env local --local-mode production`.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        #[command(subcommand)]
        decision: ReviewDecision,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReviewDecision {
    /// Set these messages or images APPROVED.
    Approve { ids: Vec<String> },
    /// Set these messages or images REJECTED.
    Reject { ids: Vec<String> },
    /// Approve everything PENDING.
    ApproveAll,
}

#[derive(Debug, clap::Args)]
pub struct SimServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: std::net::SocketAddr,
    #[arg(long, value_enum, default_value_t = crate::sim::Mode::Sandbox)]
    pub mode: crate::sim::Mode,
    /// PEM file of a P-256 public key whose tokens are accepted (repeatable).
    #[arg(long = "public-key", value_name = "PEM_FILE")]
    pub public_keys: Vec<PathBuf>,
    /// Accept only tokens for this bundle id (default: any, each with its own state).
    #[arg(long)]
    pub bundle_id: Option<String>,
    /// Product ids Apple knows; others get InvalidProductId (default: any).
    #[arg(long, value_delimiter = ',')]
    pub products: Option<Vec<String>>,
    /// Keep state in this JSON file (written atomically after every change).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Production mode: approve PENDING uploads automatically after this long (e.g. 10s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub review_delay: Option<std::time::Duration>,
    /// Enforce Apple's hourly rate limits per endpoint (sandbox 10%).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub rate_limits: bool,
    /// Fault injection: latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fault injection: every Nth API request is delayed by --slow-ms more.
    #[arg(long, default_value_t = 0)]
    pub slow_every: u64,
    #[arg(long, default_value_t = 0)]
    pub slow_ms: u64,
    /// Fault injection: every Nth API request answers 500 GeneralInternalRetryable.
    #[arg(long, default_value_t = 0)]
    pub error_every: u64,
    /// Fault injection: this fraction of API requests answers 500 GeneralInternalRetryable.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Fault injection: every Nth API request answers 429 with a Retry-After.
    #[arg(long, default_value_t = 0)]
    pub rate_limit_every: u64,
    /// Fault injection: this fraction of API requests answers 429.
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit_rate: f64,
    /// Fault injection: milliseconds ahead that an injected Retry-After points.
    #[arg(long, default_value_t = 1000)]
    pub retry_after_ms: u64,
    /// Fault injection: every Nth API request is carried out, then answered 500.
    #[arg(long, default_value_t = 0)]
    pub commit_then_fail_every: u64,
    /// Fault injection: every Nth API request has its connection dropped.
    #[arg(long, default_value_t = 0)]
    pub drop_every: u64,
    /// Fault injection: this fraction of API requests has its connection dropped.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Seed of the fault injection's random choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fault injection: `METHOD PATH ANSWER [times N]` (repeatable), e.g.
    /// `PUT /inApps/v1/messaging/default/*/* error 4030017 times 1`; ANSWER is
    /// `error NUMBER`, `status CODE`, `redirect URL`, `upper-case-ids` or `hold [MS]`.
    #[arg(long = "fault-rule", value_name = "RULE")]
    pub fault_rules: Vec<crate::sim::faults::FaultRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvArg {
    Sandbox,
    Production,
    Local,
}

impl From<EnvArg> for EnvironmentName {
    fn from(e: EnvArg) -> Self {
        match e {
            EnvArg::Sandbox => EnvironmentName::Sandbox,
            EnvArg::Production => EnvironmentName::Production,
            EnvArg::Local => EnvironmentName::Local,
        }
    }
}

pub fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let reach = crate::commands::Reach {
        base_url: cli.base_url.clone(),
        local_mode: cli.local_mode,
        request_timeout: cli.request_timeout,
        max_rate_wait: cli.max_rate_wait,
    };
    match cli.command {
        Command::Validate { paths, format } => validate(&default_paths(paths), format),
        Command::Ids { paths } => ids(&default_paths(paths)),
        Command::Schema => {
            print!("{}", crate::schema::json_schema());
            ExitCode::SUCCESS
        }
        Command::Plan {
            paths,
            envs,
            format,
            out,
            base,
            detailed_exitcode,
        } => {
            let envs: Vec<EnvironmentName> = dedup_envs(&envs);
            let args = crate::commands::PlanArgs {
                envs: &envs,
                format,
                out: out.as_deref(),
                base: base.as_deref(),
                detailed: detailed_exitcode,
            };
            crate::commands::plan_command(&default_paths(paths), args, &reach)
        }
        Command::Apply {
            paths,
            env,
            plan,
            prune,
            wait,
            detailed_exitcode,
        } => {
            let wait = match wait.as_deref().map(humantime::parse_duration) {
                None => None,
                Some(Ok(d)) => Some(d),
                Some(Err(e)) => {
                    eprintln!("error: --wait: {e} (write e.g. 30m or 90s)");
                    return ExitCode::FAILURE;
                }
            };
            let args = crate::commands::ApplyArgs {
                env: env.into(),
                saved_plan: plan.as_deref(),
                prune,
                wait,
                detailed: detailed_exitcode,
            };
            crate::commands::apply_command(&default_paths(paths), args, &reach)
        }
        Command::Status {
            paths,
            envs,
            format,
        } => crate::commands::status_command(
            &default_paths(paths),
            &dedup_envs(&envs),
            format,
            &reach,
        ),
        Command::Sim(sim) => crate::sim::cli::run(*sim),
    }
}

fn dedup_envs(envs: &[EnvArg]) -> Vec<EnvironmentName> {
    let mut out: Vec<EnvironmentName> = vec![];
    for e in envs {
        let e = EnvironmentName::from(*e);
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

/// Logs go to stderr, filtered by RUST_LOG (default: warnings). They never carry tokens
/// or keys: the client records method, path, status and attempt only.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    }
}

fn validate(paths: &[PathBuf], format: DiagnosticFormat) -> ExitCode {
    let loaded = loader::load(paths);
    let mut out = std::io::stdout().lock();
    for d in &loaded.report.diagnostics {
        let line = match format {
            DiagnosticFormat::Text => d.render(),
            DiagnosticFormat::Github => d.render_github(),
        };
        let _ = writeln!(out, "{line}");
    }
    let errors = loaded.report.count(Severity::Error);
    let warnings = loaded.report.count(Severity::Warning);
    let _ = writeln!(
        out,
        "{} file{}, {} app{} valid: {errors} error{}, {warnings} warning{}",
        loaded.files.len(),
        plural(loaded.files.len()),
        loaded.apps.len(),
        plural(loaded.apps.len()),
        plural(errors),
        plural(warnings),
    );
    if loaded.files.is_empty() && errors == 0 {
        let _ = writeln!(
            out,
            "no manifest found: files need `apiVersion: retainctl/v1` and a .yaml or .yml name"
        );
        return ExitCode::FAILURE;
    }
    if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn ids(paths: &[PathBuf]) -> ExitCode {
    let loaded = loader::load(paths);
    if loaded.report.has_errors() {
        for d in &loaded.report.diagnostics {
            eprintln!("{}", d.render());
        }
        return ExitCode::FAILURE;
    }
    let mut out = std::io::stdout().lock();
    for app in &loaded.apps {
        let bundle = &app.desired.bundle_id;
        for image in &app.desired.images {
            let _ = writeln!(
                out,
                "{bundle}\timage\t{}\t{}\t{}",
                image.key,
                image.size.as_str(),
                image.id
            );
        }
        for message in &app.desired.messages {
            let _ = writeln!(
                out,
                "{bundle}\tmessage\t{}\t{}\t{}",
                message.key, message.locale, message.id
            );
        }
    }
    ExitCode::SUCCESS
}
