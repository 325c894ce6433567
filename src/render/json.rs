//! JSON documents, each with a `format_version`: the plan (also what `plan --out` saves),
//! status (an inventory of its own), and the apply report.

use serde::Serialize;

use crate::manifest::EnvironmentName;
use crate::reconcile::AppError;
use crate::reconcile::Plan;
use crate::reconcile::apply::{AppReport, Tally};
use crate::reconcile::planner::{ContentState, DefaultState, Drift, RealtimeUrlState};

fn pretty<T: Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("our documents serialize");
    text.push('\n');
    text
}

pub fn plan(plan: &Plan) -> String {
    pretty(plan)
}

/// Version of the status document.
pub const STATUS_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct StatusDocument<'a> {
    format_version: u32,
    kind: &'static str,
    apps: Vec<StatusApp<'a>>,
}

#[derive(Serialize)]
struct StatusApp<'a> {
    bundle_id: &'a str,
    environment: EnvironmentName,
    file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a AppError>,
    content: &'a [ContentState],
    defaults: &'a [DefaultState],
    drift: &'a [Drift],
    realtime_url: &'a RealtimeUrlState,
}

/// `status --format json`: what Apple holds, not what apply would do.
pub fn status(plan: &Plan) -> String {
    pretty(&StatusDocument {
        format_version: STATUS_FORMAT_VERSION,
        kind: "status",
        apps: plan
            .apps
            .iter()
            .map(|a| StatusApp {
                bundle_id: &a.bundle_id,
                environment: a.environment,
                file: &a.file,
                error: a.error.as_ref(),
                content: &a.content,
                defaults: &a.defaults,
                drift: &a.drift,
                realtime_url: &a.realtime_url,
            })
            .collect(),
    })
}

/// Version of the apply report (`apply --format json`, `apply --out`).
pub const APPLY_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct ApplyDocument<'a> {
    format_version: u32,
    kind: &'static str,
    environment: EnvironmentName,
    apps: &'a [AppReport],
    totals: Tally,
    /// Actions waiting for an endpoint's hourly budget, per endpoint (none: omitted).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    budget_waits: Vec<super::BudgetWait>,
    /// The realtime snapshot this run wrote (`apply --snapshot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    realtime_snapshot: Option<&'a str>,
}

/// What apply did, per app and action, and the state each app ended in.
pub fn apply(environment: EnvironmentName, reports: &[AppReport]) -> String {
    apply_with_snapshot(environment, reports, None)
}

/// [`apply`], naming the realtime snapshot the run wrote.
pub fn apply_with_snapshot(
    environment: EnvironmentName,
    reports: &[AppReport],
    realtime_snapshot: Option<&str>,
) -> String {
    pretty(&ApplyDocument {
        format_version: APPLY_FORMAT_VERSION,
        kind: "apply",
        environment,
        apps: reports,
        totals: super::total(reports),
        budget_waits: super::budget_waits(reports),
        realtime_snapshot,
    })
}
