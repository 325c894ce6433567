//! `retainctl apply`: make Apple match the manifests in one environment, app by app, with
//! one line per action and an honest summary; `--plan FILE` executes a saved plan only
//! when it is for exactly these apps, this environment and Apple's current state.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::{StreamExt, stream};

use super::{EXIT_PENDING, Output, Reach, default_paths, load_apps, local_if_needed};
use crate::cli::{ApplyArgs, ApplyFormat};
use crate::loader::LoadedApp;
use crate::manifest::EnvironmentName;
use crate::realtime::store::{SnapshotLocation, Version};
use crate::realtime::{Snapshot, SnapshotSource};
use crate::reconcile::apply::{AppReport, ApplyOptions, Outcome, Progress, apply_app};
use crate::reconcile::{FORMAT_VERSION, Op, Plan};
use crate::render;
use crate::validate::diagnostics::{Diagnostic, Severity};

/// One line per finished action; on a terminal, a progress bar of the planned actions.
/// The lines go to stdout for text, to stderr when stdout carries a document.
struct LineProgress {
    bar: Option<indicatif::ProgressBar>,
    out: Mutex<Output>,
    to_stderr: bool,
}

impl LineProgress {
    fn new(to_stderr: bool) -> Self {
        let bar = (std::io::stderr().is_terminal() && !super::ui().quiet).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} actions {elapsed}")
                    .expect("a valid template"),
            );
            bar
        });
        LineProgress {
            bar,
            out: Mutex::new(Output::stdout()),
            to_stderr,
        }
    }

    fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None if self.to_stderr => eprintln!("{line}"),
            None => self.out.lock().expect("output lock").line(line),
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

    fn finished(&self, _op: &Op, _outcome: &Outcome) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}

/// An app's block of the log: its header, one line per action Apple answered (in apply
/// order, whatever order they finished in), and its summary.
fn app_block(report: &AppReport) -> String {
    let mut lines = vec![format!(
        "{} · {} ({})",
        report.bundle_id, report.environment, report.file
    )];
    for a in &report.actions {
        if a.outcome.is_done() || matches!(a.outcome, Outcome::Failed { .. }) {
            lines.push(render::text::apply_line(&a.op, &a.outcome));
        }
    }
    lines.push(render::text::apply_summary(report));
    lines.join("\n")
}

fn read_saved(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the saved plan {}: {e}", path.display()))?;
    let version: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a saved plan: {e}", path.display()))?;
    let found = version.get("format_version").and_then(|v| v.as_u64());
    if found != Some(u64::from(FORMAT_VERSION)) {
        anyhow::bail!(
            "{} has plan format {}, this retainctl reads {FORMAT_VERSION}: run `retainctl plan --out` again",
            path.display(),
            found
                .map(|v| v.to_string())
                .unwrap_or_else(|| "none".into())
        );
    }
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a saved plan: {e}", path.display()))
}

/// A saved plan is executed only for exactly the apps and environment it was made for.
fn check_saved_scope(
    saved: &Plan,
    path: &Path,
    apps: &[LoadedApp],
    env: EnvironmentName,
    prune: bool,
) -> anyhow::Result<()> {
    let name = path.display();
    if !saved.is_complete() {
        anyhow::bail!("{name} records apps that could not be read: make the plan again");
    }
    let envs: Vec<String> = saved
        .apps
        .iter()
        .map(|a| a.environment.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if saved.apps.iter().any(|a| a.environment != env) {
        anyhow::bail!(
            "{name} was made for --env {}, not --env {env}: make the plan for {env}",
            envs.join(", --env ")
        );
    }
    let planned: std::collections::BTreeSet<&str> =
        saved.apps.iter().map(|a| a.bundle_id.as_str()).collect();
    let loaded: std::collections::BTreeSet<&str> =
        apps.iter().map(|a| a.desired.bundle_id.as_str()).collect();
    let missing: Vec<&str> = loaded.difference(&planned).copied().collect();
    let extra: Vec<&str> = planned.difference(&loaded).copied().collect();
    if !missing.is_empty() || !extra.is_empty() {
        let mut parts = vec![];
        if !missing.is_empty() {
            parts.push(format!("not in the plan: {}", missing.join(", ")));
        }
        if !extra.is_empty() {
            parts.push(format!(
                "in the plan but not in these manifests: {}",
                extra.join(", ")
            ));
        }
        anyhow::bail!(
            "{name} is for other apps than these manifests ({}): apply the paths the plan was made from",
            parts.join("; ")
        );
    }
    if prune && !saved.options.prune {
        anyhow::bail!(
            "{name} was made without --prune, so it holds no deletions: make it with `retainctl plan --prune --out`"
        );
    }
    Ok(())
}

/// Marks what the previous snapshot serves as kept (never pruned) in each app.
pub(super) fn keep_served(apps: &mut [LoadedApp], previous: Option<&Snapshot>) {
    for app in apps {
        crate::reconcile::snapshot::keep_served(&mut app.desired, previous);
    }
}

/// The environment a snapshot is for: `local` serves the simulator's mode.
pub(super) fn served_environment(env: EnvironmentName, reach: &Reach) -> EnvironmentName {
    match env {
        EnvironmentName::Local => match reach.local_mode {
            crate::sim::state::Mode::Sandbox => EnvironmentName::Sandbox,
            crate::sim::state::Mode::Production => EnvironmentName::Production,
        },
        other => other,
    }
}

/// The snapshot at `path` (`None` when there is no file yet), refused as
/// [`crate::reconcile::snapshot::check`] says.
pub(super) fn read_snapshot(
    path: &Path,
    served: EnvironmentName,
    source: SnapshotSource,
) -> anyhow::Result<(Option<Snapshot>, SnapshotLocation, Version)> {
    let location = SnapshotLocation::parse(path.as_os_str())
        .map_err(|e| anyhow::anyhow!("--snapshot: {e}"))?;
    let (text, version) = crate::realtime::store::read_at(&location)?;
    let Some(text) = text else {
        eprintln!(
            "warning: no previous realtime snapshot at {location}: nothing is known to be served, so nothing is kept from --prune and no older approved version is carried; if `serve` reads a snapshot elsewhere, pass that file"
        );
        return Ok((None, location, version));
    };
    let snapshot = crate::reconcile::snapshot::check(&text, &location, served, source)?;
    Ok((Some(snapshot), location, version))
}

/// `--prune` without `--snapshot` for apps with realtime rules: refused, since what the
/// live snapshot serves (older versions kept while a new one is in review) would be
/// deleted under the running server.
fn refuse_prune_without_snapshot(apps: &[LoadedApp], asked: bool) -> anyhow::Result<()> {
    let with_rules: Vec<&str> = apps
        .iter()
        .filter(|a| !a.manifest.realtime.is_empty())
        .map(|a| a.desired.bundle_id.as_str())
        .collect();
    if with_rules.is_empty() {
        return Ok(());
    }
    let how = if asked {
        "--prune"
    } else {
        "the saved plan, made with --prune,"
    };
    anyhow::bail!(
        "{how} would delete what `retainctl serve` may still answer with: {} {} realtime rules, and without --snapshot nothing tells which older approved versions the live snapshot serves; pass `--snapshot FILE` (the snapshot `serve` reads, e.g. synced from its bucket or volume), or apply without --prune",
        with_rules.join(", "),
        if with_rules.len() == 1 { "has" } else { "have" }
    )
}

/// `realtime snapshot (production): FILE · 2 apps, 5 approved (1 an older version)`.
fn snapshot_line(path: &SnapshotLocation, snapshot: &Snapshot) -> String {
    let versions: Vec<&crate::realtime::ApprovedVersion> = snapshot
        .apps
        .iter()
        .flat_map(|a| a.approved.values().flat_map(|by_locale| by_locale.values()))
        .collect();
    let older = versions.iter().filter(|v| !v.current).count();
    let apps = snapshot.apps.len();
    let mut line = format!(
        "realtime snapshot ({}): {} · {apps} app{}, {} approved message{}",
        snapshot.environment,
        path,
        if apps == 1 { "" } else { "s" },
        versions.len(),
        if versions.len() == 1 { "" } else { "s" },
    );
    if older > 0 {
        line.push_str(&format!(
            " ({older} an older version, kept while the newer one is not approved)"
        ));
    }
    line
}

pub fn run(args: ApplyArgs, reach: &Reach) -> anyhow::Result<ExitCode> {
    let env: EnvironmentName = args.env.into();
    let inputs = Inputs::read(&args, env, reach)?;
    let progress = LineProgress::new(args.format != ApplyFormat::Text);
    let reports = apply_all(&args, env, reach, &inputs, &progress)?;
    let mut problems = vec![];
    let written_snapshot = match &inputs.target {
        Some((location, version)) => {
            match write_snapshot(env, &inputs, &reports, location, version) {
                Ok(snapshot) => {
                    progress.println(&snapshot_line(location, &snapshot));
                    Some(location.to_string())
                }
                Err(problem) => {
                    problems.push(problem);
                    None
                }
            }
        }
        None => None,
    };
    progress.println(&render::text::apply_total(&reports));
    progress.finish();
    problems.extend(emit(
        &args,
        env,
        &inputs.apps,
        &reports,
        written_snapshot.as_deref(),
    ));
    for p in &problems {
        eprintln!("error: {p}");
    }
    for report in &reports {
        if let Some(error) = &report.error {
            eprintln!(
                "error: {} · {}: {}",
                report.bundle_id,
                report.environment,
                render::error_words(error)
            );
        }
    }
    Ok(exit_code(
        &reports,
        !problems.is_empty(),
        args.detailed_exitcode,
    ))
}

/// What a run works from, read before Apple is: the apps, the previous snapshot (and
/// where the next goes), the saved plan, and whether it prunes.
struct Inputs {
    apps: Vec<LoadedApp>,
    /// The environment the snapshot is for (`local` serves the simulator's mode).
    served: EnvironmentName,
    previous: Option<Snapshot>,
    target: Option<(SnapshotLocation, Version)>,
    saved: Option<Plan>,
    prune: bool,
}

impl Inputs {
    fn read(args: &ApplyArgs, env: EnvironmentName, reach: &Reach) -> anyhow::Result<Inputs> {
        let paths = default_paths(args.paths.clone());
        let mut apps = load_apps(&paths)?;
        let served = served_environment(env, reach);
        let (previous, target) = match &args.snapshot {
            Some(path) => {
                let (snapshot, location, version) =
                    read_snapshot(path, served, crate::reconcile::snapshot::source_of(env))?;
                (snapshot, Some((location, version)))
            }
            None => (None, None),
        };
        keep_served(&mut apps, previous.as_ref());
        let saved = match &args.plan {
            Some(path) => {
                let saved = read_saved(path)?;
                check_saved_scope(&saved, path, &apps, env, args.prune)?;
                Some(saved)
            }
            None => None,
        };
        // A saved plan made with --prune carries its deletions: applying it is the prune.
        let prune = args.prune || saved.as_ref().is_some_and(|s| s.options.prune);
        if prune && args.snapshot.is_none() {
            refuse_prune_without_snapshot(&apps, args.prune)?;
        }
        Ok(Inputs {
            apps,
            served,
            previous,
            target,
            saved,
            prune,
        })
    }
}

/// Applies every app concurrently; each app's block is printed whole, in manifest order.
fn apply_all(
    args: &ApplyArgs,
    env: EnvironmentName,
    reach: &Reach,
    inputs: &Inputs,
    progress: &LineProgress,
) -> anyhow::Result<Vec<AppReport>> {
    let runtime = super::runtime()?;
    let parallelism = usize::from(args.parallelism);
    runtime.block_on(async {
        let local = local_if_needed(&[env], reach).await?;
        let local = local.as_ref();
        let reports = stream::iter(&inputs.apps)
            .map(|app| async move {
                let bundle = &app.desired.bundle_id;
                let file = app.file.display().to_string();
                match super::client(app, env, reach, local) {
                    Ok(client) => {
                        let options = ApplyOptions {
                            prune: inputs.prune,
                            wait: args.wait,
                            saved: inputs.saved.as_ref().and_then(|s| {
                                s.apps.iter().find(|a| &a.bundle_id == bundle).cloned()
                            }),
                            poll_interval: Duration::from_secs(2),
                            parallelism,
                        };
                        apply_app(&client, &app.desired, env, &file, &options, progress).await
                    }
                    Err(error) => AppReport {
                        error: Some(error),
                        ..AppReport::new(bundle, env, &file)
                    },
                }
            })
            .buffered(parallelism)
            .inspect(|report| progress.println(&app_block(report)))
            .collect::<Vec<AppReport>>()
            .await;
        if let Some(local) = local {
            progress.println(&format!("local state: {}", local.state_file.display()));
        }
        anyhow::Ok(reports)
    })
}

/// Writes the next realtime snapshot from the state each app ended in; an error is a
/// problem of the run, said at its end.
fn write_snapshot(
    env: EnvironmentName,
    inputs: &Inputs,
    reports: &[AppReport],
    location: &SnapshotLocation,
    version: &Version,
) -> Result<Snapshot, String> {
    let ends: Vec<_> = reports
        .iter()
        .map(|r| (r.bundle_id.as_str(), r.end_state.as_ref()))
        .collect();
    let applied: Vec<_> = inputs
        .apps
        .iter()
        .map(|a| (&a.manifest, &a.desired))
        .collect();
    let snapshot = crate::reconcile::snapshot::next(
        inputs.served,
        crate::reconcile::snapshot::source_of(env),
        &applied,
        &ends,
        inputs.previous.as_ref(),
    );
    crate::realtime::store::write_at(location, snapshot.to_json().as_bytes(), version)
        .map_err(|e| format!("cannot write the realtime snapshot to {location}: {e}"))?;
    Ok(snapshot)
}

/// The report in the format asked for, and `--out`; returns what could not be written.
fn emit(
    args: &ApplyArgs,
    env: EnvironmentName,
    apps: &[LoadedApp],
    reports: &[AppReport],
    written_snapshot: Option<&str>,
) -> Vec<String> {
    let mut problems = vec![];
    let report_json = || render::json::apply_with_snapshot(env, reports, written_snapshot);
    match args.format {
        ApplyFormat::Text => {}
        ApplyFormat::Json => Output::stdout().print(&report_json()),
        ApplyFormat::Markdown => Output::stdout().print(&render::markdown::apply(env, reports)),
        ApplyFormat::Github => {
            Output::stdout().print(&github_annotations(reports, apps));
            if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                let appended = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&summary)
                    .and_then(|mut f| {
                        f.write_all(render::markdown::apply(env, reports).as_bytes())
                    });
                if let Err(e) = appended {
                    problems.push(format!("cannot append to GITHUB_STEP_SUMMARY: {e}"));
                }
            }
        }
    }
    if let Some(path) = &args.out
        && let Err(e) = crate::atomic_file::write(
            path,
            report_json().as_bytes(),
            crate::atomic_file::Durability::Flushed,
        )
    {
        problems.push(format!(
            "cannot write the apply report to {}: {e}",
            path.display()
        ));
    }
    problems
}

/// 1 when anything failed or was cut short (or the run had a problem of its own); with
/// `--detailed-exitcode`, 2 when something is left for a later run; else 0.
fn exit_code(reports: &[AppReport], problems: bool, detailed: bool) -> ExitCode {
    if problems || reports.iter().any(AppReport::has_failures) {
        ExitCode::FAILURE
    } else if detailed && reports.iter().any(AppReport::has_pending) {
        ExitCode::from(EXIT_PENDING)
    } else {
        ExitCode::SUCCESS
    }
}

/// `apply --format github`: an error annotation for each app that stopped and each failed
/// action, a warning for each blocked one, at the app's manifest.
fn github_annotations(reports: &[AppReport], apps: &[LoadedApp]) -> String {
    let mut out = String::new();
    for report in reports {
        let Some(app) = apps
            .iter()
            .find(|a| a.desired.bundle_id == report.bundle_id)
        else {
            continue;
        };
        let annotate = |severity, message: String| Diagnostic {
            file: app.file.clone(),
            span: app.locations.key(&["app", "bundleId"]),
            severity,
            message,
            hint: None,
        };
        let mut notes = vec![];
        if let Some(error) = &report.error {
            notes.push(annotate(
                Severity::Error,
                format!(
                    "{} · {} stopped: {}",
                    report.bundle_id,
                    report.environment,
                    render::error_words(error)
                ),
            ));
        }
        for a in &report.actions {
            let severity = match a.outcome {
                Outcome::Failed { .. } => Severity::Error,
                Outcome::Blocked { .. } => Severity::Warning,
                _ => continue,
            };
            notes.push(annotate(
                severity,
                format!(
                    "{} · {}: {} {}: {}",
                    report.bundle_id,
                    report.environment,
                    render::outcome_label(&a.outcome),
                    render::text::describe_op(&a.op),
                    render::outcome_detail(&a.outcome).unwrap_or_default()
                ),
            ));
        }
        for note in notes {
            out.push_str(&note.render_github());
            out.push('\n');
        }
    }
    out
}
