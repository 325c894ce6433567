//! `retainctl plan`: read Apple's state for every app × environment and print what apply
//! would do, in any format; `--out` saves it for `apply --plan`.

use std::io::Write;
use std::process::ExitCode;

use super::{EXIT_PENDING, Output, Reach, dedup_envs, default_paths, load_apps, local_if_needed};
use crate::cli::{PlanArgs, PlanFormat};
use crate::loader::LoadedApp;
use crate::reconcile::planner::ContentKind;
use crate::reconcile::{Plan, PlanOptions};
use crate::render;
use crate::validate::diagnostics::{Diagnostic, Severity};

pub fn run(args: PlanArgs, reach: &Reach) -> anyhow::Result<ExitCode> {
    let paths = default_paths(args.paths);
    let envs = dedup_envs(&args.envs);
    let mut apps = load_apps(&paths)?;
    let snapshot = match &args.snapshot {
        Some(path) => {
            let [env] = envs[..] else {
                anyhow::bail!(
                    "plan --snapshot reads the snapshot of one environment, and {} were given: give one --env (a snapshot of the simulator never stands for Apple's, nor one environment's for another)",
                    envs.len()
                );
            };
            let served = super::apply::served_environment(env, reach);
            let (snapshot, _, _) = super::apply::read_snapshot(
                path,
                served,
                crate::reconcile::snapshot::source_of(env),
            )?;
            super::apply::keep_served(&mut apps, snapshot.as_ref());
            Some(snapshot.unwrap_or_else(|| crate::realtime::Snapshot::new(served)))
        }
        None => None,
    };
    // The base is resolved before Apple is read: a wrong revision costs no requests.
    let base = match args.base.as_deref() {
        Some(spec) => Some(crate::base::load_base(spec, &paths).map_err(anyhow::Error::msg)?),
        None => None,
    };
    // So are the previews' fonts and folder.
    let previews = match &args.previews {
        Some(dir) => Some((
            super::preview::Gallery::begin(dir)?,
            super::preview::font_book(&args.fonts)?,
        )),
        None => None,
    };
    let options = PlanOptions { prune: args.prune };
    let runtime = super::runtime()?;
    let mut plan = runtime.block_on(async {
        let local = local_if_needed(&envs, reach).await?;
        anyhow::Ok(super::make_plan(&apps, &envs, reach, local.as_ref(), options).await)
    })?;
    if let Some(base) = &base {
        for note in &base.notes {
            eprintln!("note: {note}");
        }
        attach_diffs(&mut plan, &apps, base);
    }
    attach_rule_changes(&mut plan, &apps, base.as_ref(), snapshot.as_ref());
    if let Some((gallery, book)) = previews {
        let (previews, diags) = super::preview::plan_previews(
            &plan,
            &apps,
            base.as_ref(),
            gallery,
            args.previews_url.as_deref(),
            book,
        )?;
        if !super::ui().quiet {
            for d in diags.iter().flat_map(|d| &d.report.diagnostics) {
                eprintln!("{}", d.render());
            }
        }
        plan.previews = Some(previews);
    }

    let mut out = Output::stdout();
    let color = super::use_color();
    let mut problems = vec![];
    match args.format {
        PlanFormat::Text => out.print(&render::text::plan(&plan, color)),
        PlanFormat::Json => out.print(&render::json::plan(&plan)),
        PlanFormat::Markdown => out.print(&render::markdown::plan(&plan)),
        PlanFormat::Github => {
            out.print(&render::github::plan(&plan, &annotations(&plan, &apps)));
            if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                let appended = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&summary)
                    .and_then(|mut f| f.write_all(render::markdown::plan(&plan).as_bytes()));
                if let Err(e) = appended {
                    problems.push(format!("cannot append to GITHUB_STEP_SUMMARY: {e}"));
                }
            }
        }
    }
    super::report_failed(&plan);
    if let Some(path) = &args.out {
        if !plan.is_complete() {
            anyhow::bail!(
                "the plan is incomplete ({} could not be read): nothing saved to {}",
                render::plural(
                    plan.failed().count(),
                    "app × environment",
                    "app × environments"
                ),
                path.display()
            );
        }
        crate::atomic_file::write(
            path,
            render::json::plan(&plan).as_bytes(),
            crate::atomic_file::Durability::Flushed,
        )
        .map_err(|e| anyhow::anyhow!("cannot save the plan: {e}"))?;
    }
    for p in &problems {
        eprintln!("error: {p}");
    }
    let code = if !plan.is_complete() || !problems.is_empty() {
        ExitCode::FAILURE
    } else if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(EXIT_PENDING)
    } else {
        ExitCode::SUCCESS
    };
    // Only the binary's `main` runs a command, and it returns right after: the apps and
    // the plan (for a large account, hundreds of thousands of small allocations) are
    // left to the ending process, not freed one by one.
    std::mem::forget((apps, plan));
    Ok(code)
}

/// Attaches how each app's realtime rules differ from the base manifests and from the
/// realtime snapshot (an app the snapshot does not have yet: from no rules).
fn attach_rule_changes(
    plan: &mut Plan,
    apps: &[LoadedApp],
    base: Option<&crate::base::Base>,
    snapshot: Option<&crate::realtime::Snapshot>,
) {
    use crate::realtime::rules::resolve;
    use crate::reconcile::rule_diff::{RulesBase, rule_changes, snapshot_changes};
    for app_plan in &mut plan.apps {
        let Some(head) = apps
            .iter()
            .find(|a| a.desired.bundle_id == app_plan.bundle_id)
        else {
            continue;
        };
        let rules = resolve(&head.manifest.realtime);
        let mut changes = vec![];
        if let Some(base) = base {
            let before = base
                .manifests
                .get(&app_plan.bundle_id)
                .map(|m| resolve(&m.realtime))
                .unwrap_or_default();
            changes.extend(rule_changes(&before, &rules, RulesBase::Base));
        }
        if let Some(snapshot) = snapshot {
            let served = snapshot.app(&app_plan.bundle_id);
            let before = served.map(|a| a.rules.clone()).unwrap_or_default();
            changes.extend(rule_changes(&before, &rules, RulesBase::Snapshot));
            // The entry apply would write from the state observed now (the builder is pure).
            if app_plan.error.is_none() {
                let observed = crate::reconcile::apply::EndState::of(app_plan);
                let next = crate::reconcile::snapshot::app_realtime(
                    &head.manifest,
                    &head.desired,
                    Some(&observed),
                    served,
                    &snapshot.versions,
                );
                app_plan.snapshot_changes = snapshot_changes(served, &next.entry);
            }
        }
        app_plan.rule_changes = changes;
    }
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
            realtime: vec![],
            ..head.manifest.clone()
        };
        let before = base.manifests.get(&app_plan.bundle_id).unwrap_or(&empty);
        app_plan.diffs = crate::reconcile::diff::localization_diffs(before, &head.manifest);
    }
}

/// GitHub annotations for a plan: an app that could not be read and REJECTED content as
/// errors, owned pairs without a default as warnings, each at its place in the manifest.
fn annotations(plan: &Plan, apps: &[LoadedApp]) -> Vec<Diagnostic> {
    let mut out = vec![];
    for app_plan in &plan.apps {
        let Some(app) = apps
            .iter()
            .find(|a| a.desired.bundle_id == app_plan.bundle_id)
        else {
            continue;
        };
        if let Some(error) = &app_plan.error {
            out.push(Diagnostic {
                file: app.file.clone(),
                span: app.locations.key(&["app", "bundleId"]),
                severity: Severity::Error,
                message: format!(
                    "{} · {} could not be read: {}",
                    app_plan.bundle_id,
                    app_plan.environment,
                    render::error_words(error)
                ),
                hint: None,
            });
        }
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
                    render::kind_word(c.kind),
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
