//! `plan`, `apply` and `status`: load the manifests, reach each environment, run the
//! reconciler, render, and turn the outcome into an exit code.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::PlanFormat;
use crate::loader::{self, LoadedApp};
use crate::manifest::EnvironmentName;
use crate::reconcile::apply::{ApplyOptions, Progress, apply_app};
use crate::reconcile::observe::observe;
use crate::reconcile::planner::{Op, PlanOptions, plan};
use crate::reconcile::target::{LOCAL_STATE_DIR, LocalApple, client_for, start_local};
use crate::reconcile::{FORMAT_VERSION, Plan};
use crate::render;
use crate::sim::Mode;

pub use crate::reconcile::target::Reach;

const EXIT_CHANGES: u8 = 2;

fn load_or_report(paths: &[PathBuf]) -> Result<Vec<LoadedApp>, ExitCode> {
    let loaded = loader::load(paths);
    if loaded.report.has_errors() {
        for d in &loaded.report.diagnostics {
            eprintln!("{}", d.render());
        }
        eprintln!("the manifests have errors: fix them (see `retainctl validate`) before planning");
        return Err(ExitCode::FAILURE);
    }
    if loaded.apps.is_empty() {
        eprintln!(
            "no manifest found: files need `apiVersion: retainctl/v1` and a .yaml or .yml name"
        );
        return Err(ExitCode::FAILURE);
    }
    Ok(loaded.apps)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the async runtime starts")
}

async fn local_if_needed(
    envs: &[EnvironmentName],
    mode: Mode,
) -> Result<Option<LocalApple>, String> {
    if envs.contains(&EnvironmentName::Local) {
        start_local(mode, Path::new(LOCAL_STATE_DIR))
            .await
            .map(Some)
    } else {
        Ok(None)
    }
}

/// Observes and plans every app in every environment. Errors are per app.
async fn make_plan(
    apps: &[LoadedApp],
    envs: &[EnvironmentName],
    reach: &Reach,
    options: PlanOptions,
) -> (Plan, Vec<String>) {
    let mut errors = vec![];
    let mut plans = vec![];
    let local = match local_if_needed(envs, reach.local_mode).await {
        Ok(l) => l,
        Err(e) => {
            return (
                Plan {
                    format_version: FORMAT_VERSION,
                    apps: vec![],
                },
                vec![e],
            );
        }
    };
    for env in envs {
        for app in apps {
            let client = match client_for(app, *env, reach, local.as_ref()) {
                Ok(c) => c,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            match observe(&client, &app.desired).await {
                Ok(observed) => plans.push(plan(
                    &app.desired,
                    *env,
                    &app.file.display().to_string(),
                    &observed,
                    options,
                )),
                Err(e) => errors.push(format!("{} · {env}: {e}", app.desired.bundle_id)),
            }
        }
    }
    (
        Plan {
            format_version: FORMAT_VERSION,
            apps: plans,
        },
        errors,
    )
}

pub struct PlanArgs<'a> {
    pub envs: &'a [EnvironmentName],
    pub format: PlanFormat,
    pub out: Option<&'a Path>,
    pub base: Option<&'a str>,
    pub detailed: bool,
}

/// Attaches the diffs of changed copy against the base manifests to every app's plan.
fn attach_diffs(plan: &mut Plan, apps: &[LoadedApp], base: &crate::base::Base) {
    for app_plan in &mut plan.apps {
        let Some(head) = apps
            .iter()
            .find(|a| a.desired.bundle_id == app_plan.bundle_id)
        else {
            continue;
        };
        let empty = crate::manifest::Manifest {
            messages: Default::default(),
            ..head.manifest.clone()
        };
        let before = base.manifests.get(&app_plan.bundle_id).unwrap_or(&empty);
        app_plan.diffs = crate::diff::localization_diffs(before, &head.manifest);
    }
}

/// GitHub annotations for a plan: REJECTED content as errors, owned pairs without a
/// default as warnings, each at its place in the manifest.
fn plan_annotations(plan: &Plan, apps: &[LoadedApp]) -> Vec<crate::diagnostics::Diagnostic> {
    use crate::diagnostics::{Diagnostic, Severity};
    use crate::reconcile::planner::ContentKind;
    let mut out = vec![];
    for app_plan in &plan.apps {
        let Some(app) = apps
            .iter()
            .find(|a| a.desired.bundle_id == app_plan.bundle_id)
        else {
            continue;
        };
        for c in app_plan.rejected() {
            let span = match (c.kind, &c.locale) {
                (ContentKind::Message, Some(locale)) => {
                    app.locations
                        .key(&["messages", &c.key, "localizations", locale])
                }
                _ => app.locations.key(&["images", &c.key]),
            };
            out.push(Diagnostic {
                file: app.file.clone(),
                span,
                severity: Severity::Error,
                message: format!(
                    "Apple REJECTED {} {} in {} ({})",
                    if c.kind == ContentKind::Image {
                        "image"
                    } else {
                        "message"
                    },
                    c.key,
                    app_plan.environment,
                    c.id
                ),
                hint: Some(
                    "change the content; a change gets a new id and goes to review again".into(),
                ),
            });
        }
        for d in app_plan.uncovered() {
            out.push(Diagnostic {
                file: app.file.clone(),
                span: app.locations.key(&["defaults", &d.product]),
                severity: Severity::Warning,
                message: format!(
                    "{} [{}] has no default message in {}",
                    d.product, d.locale, app_plan.environment
                ),
                hint: None,
            });
        }
    }
    out.dedup();
    out
}

pub fn plan_command(paths: &[PathBuf], args: PlanArgs, reach: &Reach) -> ExitCode {
    let apps = match load_or_report(paths) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let (mut plan, mut errors) =
        runtime().block_on(make_plan(&apps, args.envs, reach, PlanOptions::default()));
    if let Some(spec) = args.base {
        match crate::base::load_base(spec, paths) {
            Ok(base) => {
                for note in &base.notes {
                    eprintln!("note: {note}");
                }
                attach_diffs(&mut plan, &apps, &base);
            }
            Err(e) => errors.push(e),
        }
    }
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let text = match args.format {
        PlanFormat::Text => render::plan_text(&plan, color),
        PlanFormat::Json => render::plan_json(&plan),
        PlanFormat::Markdown => render::plan_markdown(&plan),
        PlanFormat::Github => {
            let mut text: String = plan_annotations(&plan, &apps)
                .iter()
                .map(|d| d.render_github() + "\n")
                .collect();
            text.push_str(&render::plan_text(&plan, false));
            if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                let appended = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&summary)
                    .and_then(|mut f| f.write_all(render::plan_markdown(&plan).as_bytes()));
                if let Err(e) = appended {
                    errors.push(format!("cannot append to GITHUB_STEP_SUMMARY: {e}"));
                }
            }
            text
        }
    };
    print!("{text}");
    let (out, detailed) = (args.out, args.detailed);
    if let Some(path) = out
        && let Err(e) =
            crate::sim::server::write_atomically(path, render::plan_json(&plan).as_bytes())
    {
        eprintln!("error: cannot save the plan: {e}");
        return ExitCode::FAILURE;
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    if !errors.is_empty() {
        ExitCode::FAILURE
    } else if detailed && plan.has_changes() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn status_command(
    paths: &[PathBuf],
    envs: &[EnvironmentName],
    format: PlanFormat,
    reach: &Reach,
) -> ExitCode {
    let apps = match load_or_report(paths) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let (plan, errors) = runtime().block_on(make_plan(&apps, envs, reach, PlanOptions::default()));
    let text = match format {
        PlanFormat::Json => render::plan_json(&plan),
        PlanFormat::Markdown | PlanFormat::Github => render::plan_markdown(&plan),
        PlanFormat::Text => render::status_text(&plan),
    };
    print!("{text}");
    for e in &errors {
        eprintln!("error: {e}");
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One line per finished action; on a terminal, a progress bar of the planned actions.
struct LineProgress {
    bar: Option<indicatif::ProgressBar>,
}

impl LineProgress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} actions {elapsed}")
                    .expect("a valid template"),
            );
            bar
        });
        LineProgress { bar }
    }

    fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for LineProgress {
    fn planned(&self, actions: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(bar.length().unwrap_or(0) + actions as u64);
        }
    }

    fn finished(&self, op: &Op, result: &Result<String, String>) {
        let line = match result {
            Ok(note) if note == "done" => format!("  done     {}", render::describe(op)),
            Ok(note) => format!("  {:<8} {} ({note})", "ok", render::describe(op)),
            Err(e) => format!("  FAILED   {}: {e}", render::describe(op)),
        };
        self.println(&line);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}

pub struct ApplyArgs<'a> {
    pub env: EnvironmentName,
    pub saved_plan: Option<&'a Path>,
    pub prune: bool,
    pub wait: Option<Duration>,
    pub detailed: bool,
}

pub fn apply_command(paths: &[PathBuf], args: ApplyArgs, reach: &Reach) -> ExitCode {
    let apps = match load_or_report(paths) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let saved: Option<Plan> = match args.saved_plan {
        None => None,
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Plan>(&t).map_err(|e| e.to_string()))
        {
            Ok(p) if p.format_version == FORMAT_VERSION => Some(p),
            Ok(p) => {
                eprintln!(
                    "error: {} has plan format {}, this retainctl reads {FORMAT_VERSION}",
                    path.display(),
                    p.format_version
                );
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("error: cannot read the saved plan {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
    };
    let env = args.env;
    let runtime = runtime();
    let local = match runtime.block_on(local_if_needed(&[env], reach.local_mode)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let progress = LineProgress::new();
    let (mut failed, mut waiting) = (false, false);
    for app in &apps {
        let bundle = &app.desired.bundle_id;
        let saved_app = match &saved {
            Some(plan) => match plan
                .apps
                .iter()
                .find(|a| &a.bundle_id == bundle && a.environment == env)
            {
                Some(a) => Some(a.clone()),
                None => {
                    progress.println(&format!("{bundle} · {env}: not in the saved plan, skipped"));
                    continue;
                }
            },
            None => None,
        };
        let client = match client_for(app, env, reach, local.as_ref()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
                continue;
            }
        };
        progress.println(&format!("{bundle} · {env} ({})", app.file.display()));
        let options = ApplyOptions {
            prune: args.prune,
            wait: args.wait,
            saved: saved_app,
            poll_interval: Duration::from_secs(2),
        };
        let file = app.file.display().to_string();
        match runtime.block_on(apply_app(
            &client,
            &app.desired,
            env,
            &file,
            &options,
            &progress,
        )) {
            Ok(outcome) => {
                progress.println(&render::apply_summary(bundle, env, &outcome));
                failed |= !outcome.failed.is_empty() || !outcome.errors.is_empty();
                waiting |= !outcome.waiting.is_empty() || !outcome.blocked.is_empty();
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    progress.finish();
    if let Some(local) = &local {
        println!("local state: {}", local.state_file.display());
    }
    if failed {
        ExitCode::FAILURE
    } else if waiting && args.detailed {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    }
}
