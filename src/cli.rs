//! The command line's types: what every command and option is called and means (clap
//! derive). Nothing here runs a command: `crate::commands` does.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::manifest::EnvironmentName;

/// `--version`: the crate version and the git commit it was built from (see build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("RETAINCTL_GIT_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "retainctl",
    version = VERSION,
    about = "GitOps for Apple's Retention Messaging API: validate, plan and apply retention messages kept in git"
)]
pub struct Cli {
    /// Print only results and errors: no warnings of valid manifests, no progress bar.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Never colour the output (also when `NO_COLOR` is set or stdout is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// How the commands that talk to Apple reach it: only `plan`, `apply` and `status` take
/// these.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Network")]
pub struct NetworkArgs {
    /// Send every environment's requests to this host instead of Apple's (a simulator, a proxy).
    #[arg(long, env = "RETAINCTL_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,

    /// How `--env local` behaves: sandbox approves at once, production waits for
    /// `retainctl sim review` (state in .retainctl/local/ at the top of the git work tree).
    #[arg(long, value_enum, default_value_t = crate::sim::Mode::Sandbox)]
    pub local_mode: crate::sim::Mode,

    /// The longest wait for Apple's hourly budget (pacing or a 429's Retry-After) before
    /// failing with the time the budget frees up.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2m", value_name = "DURATION")]
    pub max_rate_wait: std::time::Duration,

    /// Give up on one request to Apple after this long (it is retried), e.g. 30s.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s", value_name = "DURATION")]
    pub request_timeout: std::time::Duration,
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
    /// For a terminal or a CI log.
    Text,
    /// A pull-request comment (starts with `<!-- retainctl:plan -->`).
    Markdown,
    /// The plan document (`format_version`), as `--out` saves it.
    Json,
    /// Annotations on the pull request's diff, the text plan, and the job summary.
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    /// One line per action, then a summary per app (progress on a terminal).
    Text,
    /// The apply report (`format_version`, `kind: apply`) on stdout; lines go to stderr.
    Json,
    /// The report as markdown for a job summary; lines go to stderr.
    Markdown,
    /// Annotations for what failed or is blocked, the text lines, and the job summary.
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Text,
    /// Starts with `<!-- retainctl:status -->`: never mistaken for the plan's comment.
    Markdown,
    /// The status document (`format_version`, `kind: status`).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests offline; every problem as file:line:col.
    Validate {
        /// Manifest files or folders, searched recursively for `apiVersion: retainctl/v1`
        /// YAML files. Default: the current folder.
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// How problems are printed.
        #[arg(long, value_enum, default_value_t = DiagnosticFormat::Text)]
        format: DiagnosticFormat,
        #[command(flatten)]
        fonts: FontArgs,
    },
    /// Draw every message × locale as the page Apple shows a customer who cancels, and
    /// write a gallery (index.html) of the pictures.
    Preview(PreviewArgs),
    /// Read Apple's state and print what apply would do.
    Plan(PlanArgs),
    /// Which rule, split arm and message keeps subscribers: serve's decisions joined to
    /// what Apple's notifications say customers did next.
    Report(ReportArgs),
    /// Write the decisions and outcomes as Parquet, partitioned by day, for a warehouse
    /// or engine (BigQuery, Athena, Spark, DuckDB).
    Export(ExportArgs),
    /// Apple's App Store Server Notifications, as outcomes for `retainctl report`.
    #[command(subcommand)]
    Notifications(NotificationsCommand),
    /// Make Apple match the manifests.
    Apply(ApplyArgs),
    /// Inventory of images, messages and defaults with Apple's review states, and drift.
    Status(StatusArgs),
    /// Print the content-derived identifier of every image and message.
    Ids {
        /// Manifest files or folders, searched recursively for `apiVersion: retainctl/v1`
        /// YAML files. Default: the current folder.
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the manifest.
    Schema,
    /// Run the local Apple simulator, or review content in a running one.
    Sim(Box<SimCommand>),
    /// Run Apple's performance test of each app's sandbox realtime URL (needed before a
    /// production realtime URL). Exit 0 PASS, 1 FAIL or error, 2 still PENDING.
    PerfTest(PerfTestArgs),
    /// Answer Apple's realtime requests (Get Retention Message) with approved content only,
    /// from the snapshot `apply --snapshot` writes.
    Serve(ServeArgs),
    /// Start a repository: retention/app.yaml, the schema, the plan and apply workflows,
    /// and a .gitignore entry for .retainctl/.
    Init(InitArgs),
    /// Print a shell completion script, e.g. `retainctl completions bash > /etc/bash_completion.d/retainctl`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServeEnv {
    /// The local environment: the snapshot and the simulator's realtime root from
    /// .retainctl/local/ (the folder `--env local` keeps its state in).
    Local,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The approved-content snapshot `retainctl apply --snapshot` writes, a file or
    /// `s3://BUCKET/KEY` (the AWS environment); read again when it changes (a bad new one
    /// keeps the old one served).
    #[arg(long, value_name = "FILE", required_unless_present = "env")]
    pub snapshot: Option<PathBuf>,
    /// Where to listen; in a container `0.0.0.0:8080`. Apple calls an https:// URL: put TLS
    /// in front, or give --tls-cert and --tls-key.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Also trust this root certificate (PEM) for Apple's signed requests, besides the
    /// embedded Apple Root CA - G3 (repeatable): the simulator's `realtime-root.pem`, a test's.
    #[arg(long = "trust-root", value_name = "PEM")]
    pub trust_roots: Vec<PathBuf>,
    /// `local`: default --snapshot and --trust-root from .retainctl/local/.
    #[arg(long, value_enum)]
    pub env: Option<ServeEnv>,
    /// With `--env local`: the mode whose snapshot is served.
    #[arg(long, value_enum, default_value_t = crate::sim::Mode::Sandbox)]
    pub local_mode: crate::sim::Mode,
    /// How often the snapshot, trust roots and TLS certificate are checked for changes
    /// (100ms to 1h); a reload that fails is retried at the same pace.
    #[arg(long, value_parser = reload_interval, default_value = "1s", value_name = "DURATION")]
    pub reload_interval: std::time::Duration,
    /// Log lines as text or as one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Serve https with this certificate chain (PEM), read again when it changes; needs
    /// --tls-key. Without it, put a TLS terminator in front: Apple calls an https:// URL.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// GET /healthz also shows the snapshot's location, digest and age and the last reload
    /// error. Without it /healthz says only {"status":"ok"}: give it only where strangers
    /// cannot reach the port (/metrics has the digest, age and reload failures, the log
    /// the error text).
    #[arg(long)]
    pub health_detail: bool,
    /// Record every answer (app, product, locale, rule, split arm, what was answered, a
    /// keyed hash of the customer) as JSON lines in this folder, for `retainctl report`;
    /// the key is the secret in RETAINCTL_CUSTOMER_KEY. Written off the request path,
    /// rotated at 64 MiB, 16 files kept.
    #[arg(long, value_name = "DIR")]
    pub decisions: Option<PathBuf>,
    /// Also write every closed decisions file (each minute, at rotation and at shutdown)
    /// to this object store prefix, under a folder per replica (`s3://BUCKET/PREFIX`; the
    /// AWS environment, as for --snapshot).
    #[arg(long, value_name = "URL", requires = "decisions")]
    pub decisions_to: Option<String>,
    /// Receive Apple's App Store Server Notifications V2 (POST at --notifications-path),
    /// verify them like realtime requests, and keep them as outcomes in this folder for
    /// `retainctl report` (answered 200 once written); needs RETAINCTL_CUSTOMER_KEY.
    #[arg(long, value_name = "DIR")]
    pub notifications: Option<PathBuf>,
    /// The path notifications are received at (give Apple's notification URL this path).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/app-store-notifications",
        requires = "notifications"
    )]
    pub notifications_path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// `--reload-interval`: a duration within [`crate::serve::state::RELOAD_INTERVAL_RANGE`].
fn reload_interval(text: &str) -> Result<std::time::Duration, String> {
    let (low, high) = crate::serve::state::RELOAD_INTERVAL_RANGE;
    let interval = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if interval < low || interval > high {
        return Err(format!(
            "{text} is outside 100ms to 1h: the files are checked this often (e.g. 1s)"
        ));
    }
    Ok(interval)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PerfTestEnv {
    /// Apple's sandbox (the only environment that runs performance tests).
    Sandbox,
    /// The simulator inside this process (`--local-mode sandbox`).
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PerfTestFormat {
    Text,
    /// A list of per-app reports with Apple's result as answered.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct PerfTestArgs {
    /// Manifest files or folders (searched recursively). Default: the current folder.
    pub paths: Vec<PathBuf>,
    #[arg(long = "env", value_enum, default_value_t = PerfTestEnv::Sandbox)]
    pub env: PerfTestEnv,
    /// The original transaction id of an active auto-renewable subscription purchased in
    /// sandbox (default: environments.sandbox.performanceTest.originalTransactionId).
    #[arg(long, value_name = "ID")]
    pub transaction_id: Option<String>,
    /// Poll the result for at most this long (e.g. 10m); then exit 2 if still PENDING.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10m")]
    pub wait: std::time::Duration,
    #[arg(long, value_enum, default_value_t = PerfTestFormat::Text)]
    pub format: PerfTestFormat,
    #[command(flatten)]
    pub network: NetworkArgs,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The folder to set up (created when missing). Default: the current folder.
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// The app's bundle id, e.g. com.example.app.
    #[arg(long, value_name = "BUNDLE_ID")]
    pub bundle_id: String,
    /// A locale of the app, one of Apple's short codes (e.g. en-US, ja); repeatable.
    #[arg(long = "locale", value_name = "LOCALE", required = true)]
    pub locales: Vec<String>,
    /// A subscription product whose default message the manifest sets; repeatable.
    #[arg(long = "product", value_name = "PRODUCT_ID", required = true)]
    pub products: Vec<String>,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
}

/// The fonts previews (and `validate`'s checks of how text fits) are drawn with.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Fonts")]
pub struct FontArgs {
    /// A folder of fonts (.ttf, .otf, .ttc) to draw with, besides the embedded Noto Sans
    /// and the machine's own fonts; repeatable.
    #[arg(long = "fonts", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Leave the machine's fonts out (only Noto Sans and --fonts): the same pictures and
    /// warnings on every machine.
    #[arg(long)]
    pub no_system_fonts: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AppearanceArg {
    Light,
    Dark,
    /// Light and dark, side by side in the gallery.
    Both,
}

#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// Manifest files or folders, searched recursively for `apiVersion: retainctl/v1`
    /// YAML files. Default: the current folder.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The folder to write the gallery to: index.html and one PNG per message, locale and
    /// appearance. A folder holding an earlier gallery is replaced whole; any other folder
    /// must be empty or absent.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Only this app (bundle id); repeatable.
    #[arg(long = "app", value_name = "BUNDLE_ID")]
    pub apps: Vec<String>,
    /// Only this message (its key under `messages`); repeatable.
    #[arg(long = "message", value_name = "KEY")]
    pub messages: Vec<String>,
    /// Only this locale; repeatable.
    #[arg(long = "locale", value_name = "LOCALE")]
    pub locales: Vec<String>,
    #[arg(long, value_enum, default_value_t = AppearanceArg::Both)]
    pub appearance: AppearanceArg,
    /// Pixels per point, as iPhones have them.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub scale: u8,
    #[command(flatten)]
    pub fonts: FontArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The folder `serve --decisions` writes.
    #[arg(long, value_name = "DIR")]
    pub decisions: PathBuf,
    /// The folder of outcomes (`notifications pull`, `serve --notifications`).
    #[arg(long, value_name = "DIR")]
    pub outcomes: PathBuf,
    /// A new folder: decisions/day=YYYY-MM-DD/part-00000.parquet and the same for
    /// outcomes.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum NotificationsCommand {
    /// Read Get Notification History page by page (within Apple's rate limit), verify
    /// every notification, and keep what the report needs in OUT (resumable: a run that
    /// failed goes on from the page it stopped at).
    Pull(PullArgs),
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// Manifest files or folders: the apps whose notifications are read, with their
    /// credentials. Default: the current folder.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The environment to read: sandbox, production, or local (the simulator).
    #[arg(long = "env", value_enum, value_name = "ENV")]
    pub env: EnvArg,
    /// Where to start on the first pull: a date, an RFC 3339 time or a duration back
    /// from now (Apple keeps 180 days in production, 30 in sandbox); later pulls go on
    /// from where the last one ended.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// The folder of outcomes (and of the pull's own state).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also trust this root certificate (PEM) for the notifications' signatures (a
    /// simulator's); Apple's root is always trusted.
    #[arg(long = "trust-root", value_name = "PEM")]
    pub trust_roots: Vec<PathBuf>,
    #[command(flatten)]
    pub network: NetworkArgs,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The folder `serve --decisions` writes (every decisions*.jsonl in it is read).
    #[arg(long, value_name = "DIR")]
    pub decisions: PathBuf,
    /// The folder of outcomes `retainctl notifications pull` writes (every *.jsonl).
    #[arg(long, value_name = "DIR")]
    pub outcomes: PathBuf,
    /// Only decisions from this time: a date (2026-12-01), an RFC 3339 time, or a
    /// duration back from now (30d).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// How long after a customer's first answer what they do still counts (at most
    /// 180 days, the history Apple keeps).
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub window: std::time::Duration,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Also write an SVG chart of each split's arms with their 95 % intervals.
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Manifest files or folders, searched recursively for `apiVersion: retainctl/v1`
    /// YAML files. Default: the current folder.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The environment to read: sandbox, production, or local (the simulator inside this
    /// process, state in .retainctl/local/); repeatable.
    #[arg(long = "env", value_enum, required = true, value_name = "ENV")]
    pub envs: Vec<EnvArg>,
    /// How the plan is printed.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Save the plan (without credentials) for `apply --plan`; refused when an app could
    /// not be read.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Show text diffs against the manifests in this folder or git revision.
    #[arg(long, value_name = "DIR|GIT-REV")]
    pub base: Option<String>,
    /// Also show the deletions `apply --prune` would make (and save them with --out).
    #[arg(long)]
    pub prune: bool,
    /// Exit 2 when the plan has changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Draw every localization the plan uploads, before (from --base) and after, light
    /// and dark, into this folder, with a gallery (index.html) of just those; the
    /// markdown and JSON plans name the pictures.
    #[arg(long, value_name = "DIR")]
    pub previews: Option<PathBuf>,
    /// Where the --previews folder will be published: the markdown plan embeds the
    /// pictures from there, at URL/PATH, or where `{path}` stands in the URL.
    #[arg(long, value_name = "URL", requires = "previews")]
    pub previews_url: Option<String>,
    #[command(flatten)]
    pub fonts: FontArgs,
    /// The realtime snapshot `apply --snapshot` writes (a file or `s3://BUCKET/KEY`): what
    /// it serves is never pruned, and the plan shows how the realtime rules differ from it.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    #[command(flatten)]
    pub network: NetworkArgs,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Manifest files or folders, searched recursively for `apiVersion: retainctl/v1`
    /// YAML files. Default: the current folder.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The one environment to change: sandbox, production, or local (the simulator inside
    /// this process, state in .retainctl/local/).
    #[arg(long = "env", value_enum, value_name = "ENV")]
    pub env: EnvArg,
    /// Execute this saved plan; refused when Apple's state, the apps or the environment
    /// differ from when it was made.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Also delete messages and images that the manifests do not name (never a default).
    #[arg(long)]
    pub prune: bool,
    /// Poll until content waiting on Apple's review is approved, up to this long (e.g. 30m).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub wait: Option<std::time::Duration>,
    /// Requests to Apple in flight at once, across all apps (Apple's budgets are hourly,
    /// so a burst is allowed; a 429 narrows the endpoint it came from).
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    #[arg(long, value_enum, default_value_t = ApplyFormat::Text)]
    pub format: ApplyFormat,
    /// Also write the JSON apply report here (what was done and the state it ended in),
    /// whatever the outcome.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when actions are still pending (waiting on review, blocked, not attempted).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Write the realtime snapshot `retainctl serve` reads (the rules and, per message key
    /// × locale, the newest version Apple approved) for this environment, from the state
    /// the run ends in; what the previous FILE serves is kept until its successor is
    /// approved, and never pruned. `s3://BUCKET/KEY` (the AWS environment) is written only
    /// if no other apply wrote it since this run read it.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    #[command(flatten)]
    pub network: NetworkArgs,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Manifest files or folders, searched recursively for `apiVersion: retainctl/v1`
    /// YAML files. Default: the current folder.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The environment to read: sandbox, production, or local (the simulator inside this
    /// process, state in .retainctl/local/); repeatable.
    #[arg(long = "env", value_enum, required = true, value_name = "ENV")]
    pub envs: Vec<EnvArg>,
    /// How the inventory is printed.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
    #[command(flatten)]
    pub network: NetworkArgs,
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
    /// Approve or reject uploaded messages and images in a running simulator (or its state
    /// file), by id or by manifest key; prints what changed.
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
        /// Manifests that resolve keys like `keep-calm` or `keep-calm/en-US` to ids
        /// (files or folders; repeatable). Default: the current folder.
        #[arg(long = "path", value_name = "PATH")]
        paths: Vec<PathBuf>,
        #[command(subcommand)]
        decision: ReviewDecision,
    },
    /// Play a population of customers against a realtime server, from a running
    /// simulator: each opens the cancel sheet (a realtime request signed with the
    /// simulator's chain), then acts on the answer as the model's chances say, and the
    /// simulator notifies it (Get Notification History, and the notification URL).
    Population {
        /// A running simulator's address, as printed on its first line.
        #[arg(long, env = "RETAINCTL_SIM_URL")]
        url: String,
        /// The population, as JSON: realtimeUrl, notificationUrl (optional), bundleId,
        /// product, locale, customers, perHour (optional), seed, and model: { MESSAGE-ID
        /// or message|offer|plan|default: { cancel, redeem, switch } } (chances 0 to 1).
        #[arg(long, value_name = "FILE")]
        model: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReviewDecision {
    /// Set these messages or images APPROVED.
    Approve {
        /// Ids, or manifest keys: `MESSAGE` (every locale), `MESSAGE/LOCALE`, `IMAGE`.
        #[arg(value_name = "ID|KEY[/LOCALE]", required = true)]
        ids: Vec<String>,
    },
    /// Set these messages or images REJECTED.
    Reject {
        /// Ids, or manifest keys: `MESSAGE` (every locale), `MESSAGE/LOCALE`, `IMAGE`.
        #[arg(value_name = "ID|KEY[/LOCALE]", required = true)]
        ids: Vec<String>,
    },
    /// Approve everything PENDING.
    ApproveAll,
}

#[derive(Debug, clap::Args)]
pub struct SimServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: std::net::SocketAddr,
    /// sandbox approves uploads at once; production keeps them PENDING until reviewed.
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
    /// Performance test: realtime requests sent at the same time (Apple's maxConcurrentRequests).
    #[arg(long, default_value_t = 10)]
    pub perf_concurrency: u32,
    /// Performance test: realtime requests in all (Apple's totalRequests).
    #[arg(long, default_value_t = 100)]
    pub perf_requests: u32,
    /// Performance test: an answer later than this is TIMED_OUT (responseTimeThreshold).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "700ms")]
    pub perf_response_time: std::time::Duration,
    /// Performance test: the whole test's time limit (totalDuration).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s")]
    pub perf_total_duration: std::time::Duration,
    /// Performance test: percent of requests that must succeed (successRateThreshold).
    #[arg(long, default_value_t = 95)]
    pub perf_success_rate: u32,
    /// The record of passed sandbox performance tests, shared between a sandbox and a
    /// production simulator (default: perf-tests.json beside --state; else in memory).
    #[arg(long, value_name = "FILE")]
    pub shared_record: Option<std::path::PathBuf>,
    /// Write the root certificate (PEM) of the chain that signs realtime requests here
    /// (default: realtime-root.pem beside --state; also at GET /_sim/realtime-root).
    #[arg(long, value_name = "FILE")]
    pub realtime_root_out: Option<std::path::PathBuf>,
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
