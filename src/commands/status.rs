//! `retainctl status`: the inventory of what Apple holds for every app × environment,
//! with review states and drift — its own documents, not the plan's.

use std::process::ExitCode;

use super::{Output, Reach, dedup_envs, default_paths, load_apps, local_if_needed};
use crate::cli::{StatusArgs, StatusFormat};
use crate::reconcile::PlanOptions;
use crate::render;

pub fn run(args: StatusArgs, reach: &Reach) -> anyhow::Result<ExitCode> {
    let paths = default_paths(args.paths);
    let envs = dedup_envs(&args.envs);
    let apps = load_apps(&paths)?;
    let runtime = super::runtime()?;
    let plan = runtime.block_on(async {
        let local = local_if_needed(&envs, reach).await?;
        anyhow::Ok(
            super::make_plan(&apps, &envs, reach, local.as_ref(), PlanOptions::default()).await,
        )
    })?;
    Output::stdout().print(&match args.format {
        StatusFormat::Text => render::text::status(&plan),
        StatusFormat::Markdown => render::markdown::status(&plan),
        StatusFormat::Json => render::json::status(&plan),
    });
    super::report_failed(&plan);
    Ok(if plan.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
