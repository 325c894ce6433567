//! The command layer: one file per command, each turning parsed arguments into calls on
//! the layers below and returning an exit code or an error. `main` parses, calls [`run`],
//! and prints an error once. Starting the embedded simulator (`--env local`) and reading
//! credentials from the environment happen here (`reach`), never below.

pub mod apply;
pub mod completions;
pub mod export;
pub mod ids;
pub mod init;
pub mod notifications;
pub mod perf_test;
pub mod plan;
pub mod preview;
pub mod reach;
pub mod report;
pub mod serve;
pub mod sim;
pub mod status;
pub mod validate;

use std::io::IsTerminal;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use clap::Parser;

use crate::cli::{Cli, Command, NetworkArgs};
use crate::loader::{self, LoadedApp};
use crate::manifest::EnvironmentName;
use crate::reconcile::{AppError, AppErrorKind, AppPlan, Plan, PlanOptions};
use reach::{LocalApple, Reach, client_for, local_state_dir, start_local};

/// `--detailed-exitcode`: changes present (plan) or actions still pending (apply).
pub const EXIT_PENDING: u8 = 2;

/// `retainctl`'s entry point: parse, run, print an error once, exit.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` sets up its own logging (non-blocking, text or JSON)
    if !matches!(cli.command, Command::Serve(_)) {
        init_logging();
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What every command may print besides its result: `--quiet`, `--no-color`.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub quiet: bool,
    pub no_color: bool,
}

static UI: OnceLock<Ui> = OnceLock::new();

/// The settings of this run (`run` sets them once; a library caller gets the defaults).
pub fn ui() -> Ui {
    *UI.get_or_init(|| Ui {
        quiet: false,
        no_color: false,
    })
}

/// Colour on stdout: a terminal, no `--no-color` and no `NO_COLOR`.
pub fn use_color() -> bool {
    !ui().no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// Requests in flight at once when a command has no `--parallelism`.
pub const DEFAULT_PARALLELISM: usize = 16;

impl Reach {
    fn new(n: &NetworkArgs, parallelism: usize) -> Self {
        Reach {
            base_url: n.base_url.clone(),
            local_mode: n.local_mode,
            request_timeout: n.request_timeout,
            max_rate_wait: n.max_rate_wait,
            in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(parallelism)),
            http: std::sync::OnceLock::new(),
            signing_keys: Default::default(),
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let _ = UI.set(Ui {
        quiet: cli.quiet,
        no_color: cli.no_color,
    });
    match cli.command {
        Command::Validate {
            paths,
            format,
            fonts,
        } => validate::run(&default_paths(paths), format, &fonts),
        Command::Preview(args) => preview::run(args),
        Command::Report(args) => report::run(args),
        Command::Export(args) => export::run(args),
        Command::Notifications(crate::cli::NotificationsCommand::Pull(args)) => {
            let reach = Reach::new(&args.network, DEFAULT_PARALLELISM);
            notifications::pull(args, &reach)
        }
        Command::Ids { paths } => ids::run(&default_paths(paths)),
        Command::Schema => {
            Output::stdout().print(&crate::manifest::schema::json_schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan(args) => {
            let reach = Reach::new(&args.network, DEFAULT_PARALLELISM);
            plan::run(args, &reach)
        }
        Command::Apply(args) => {
            let reach = Reach::new(&args.network, usize::from(args.parallelism));
            apply::run(args, &reach)
        }
        Command::Status(args) => {
            let reach = Reach::new(&args.network, DEFAULT_PARALLELISM);
            status::run(args, &reach)
        }
        Command::Sim(command) => sim::run(*command),
        Command::PerfTest(args) => {
            let reach = Reach::new(&args.network, DEFAULT_PARALLELISM);
            perf_test::run(args, &reach)
        }
        Command::Serve(args) => serve::run(args),
        Command::Init(args) => init::run(&args),
        Command::Completions { shell } => completions::run(shell),
    }
}

/// Logs go to stderr, filtered by RUST_LOG (default: warnings). They never carry tokens
/// or keys: the client records method, path, status and attempt only.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,retainctl::serve=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Standard output that a closed pipe (`retainctl plan | head -1`) silences instead of
/// panicking: the command still runs to its end and exits with its own code.
pub struct Output {
    closed: bool,
}

impl Output {
    pub fn stdout() -> Self {
        Output { closed: false }
    }

    pub fn print(&mut self, text: &str) {
        if self.closed {
            return;
        }
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
            && e.kind() == std::io::ErrorKind::BrokenPipe
        {
            self.closed = true;
        }
    }

    pub fn line(&mut self, line: &str) {
        self.print(&format!("{line}\n"));
    }
}

pub fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    }
}

pub fn dedup_envs(envs: &[crate::cli::EnvArg]) -> Vec<EnvironmentName> {
    let mut out: Vec<EnvironmentName> = vec![];
    for e in envs {
        let e = EnvironmentName::from(*e);
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

/// Loads the manifests for a command that talks to Apple: any error stops it.
fn load_apps(paths: &[PathBuf]) -> anyhow::Result<Vec<LoadedApp>> {
    load_apps_before(paths, "before talking to Apple")
}

/// [`load_apps`], saying what the errors stop (`before drawing them`).
fn load_apps_before(paths: &[PathBuf], before: &str) -> anyhow::Result<Vec<LoadedApp>> {
    let loaded = loader::load(paths);
    if loaded.report.has_errors() {
        for d in &loaded.report.diagnostics {
            eprintln!("{}", d.render());
        }
        anyhow::bail!("the manifests have errors: fix them (see `retainctl validate`) {before}");
    }
    if !ui().quiet {
        for d in &loaded.report.diagnostics {
            eprintln!("{}", d.render());
        }
    }
    if loaded.apps.is_empty() {
        anyhow::bail!(
            "no manifest found: files need `apiVersion: retainctl/v1` and a .yaml or .yml name"
        );
    }
    Ok(loaded.apps)
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))
}

async fn local_if_needed(
    envs: &[EnvironmentName],
    reach: &Reach,
) -> anyhow::Result<Option<LocalApple>> {
    if envs.contains(&EnvironmentName::Local) {
        start_local(reach.local_mode, &local_state_dir())
            .await
            .map(Some)
            .map_err(anyhow::Error::msg)
    } else {
        Ok(None)
    }
}

/// The client of one app in one environment; a credentials problem is the app's error.
fn client(
    app: &LoadedApp,
    env: EnvironmentName,
    reach: &Reach,
    local: Option<&LocalApple>,
) -> Result<crate::apple::AppleClient, AppError> {
    client_for(app, env, reach, local).map_err(|e| AppError::new(AppErrorKind::Credentials, e))
}

/// Observes and plans every app in every environment. An app that cannot be read is a
/// row of the plan with its error.
async fn make_plan(
    apps: &[LoadedApp],
    envs: &[EnvironmentName],
    reach: &Reach,
    local: Option<&LocalApple>,
    options: PlanOptions,
) -> Plan {
    use futures_util::{StreamExt, stream};
    // Apps are read concurrently (requests stay bounded by `reach.in_flight`); rows keep
    // environment × manifest order.
    let pairs = envs
        .iter()
        .flat_map(|env| apps.iter().map(move |app| (*env, app)));
    let plans = stream::iter(pairs)
        .map(|(env, app)| async move {
            let file = app.file.display().to_string();
            let bundle = &app.desired.bundle_id;
            let observed = match client(app, env, reach, local) {
                Ok(client) => crate::reconcile::observe::observe(&client, &app.desired, env)
                    .await
                    .map_err(AppError::from),
                Err(e) => Err(e),
            };
            match observed {
                Ok(observed) => {
                    crate::reconcile::planner::plan(&app.desired, env, &file, &observed, options)
                }
                Err(error) => AppPlan::failed(bundle, env, &file, error),
            }
        })
        .buffered(DEFAULT_PARALLELISM)
        .collect::<Vec<AppPlan>>()
        .await;
    Plan::new(options, plans)
}

/// Each app that could not be read, on stderr too (stdout may be a JSON file).
fn report_failed(plan: &Plan) {
    for app in plan.failed() {
        if let Some(error) = &app.error {
            eprintln!(
                "error: {} · {}: {}",
                app.bundle_id,
                app.environment,
                crate::render::error_words(error)
            );
        }
    }
}
