//! `--format github`: workflow-command annotations (`::error file=…`) on the pull
//! request's diff, then the plain text plan for the log.

use crate::reconcile::Plan;
use crate::validate::diagnostics::Diagnostic;

pub fn plan(plan: &Plan, annotations: &[Diagnostic]) -> String {
    let mut text: String = annotations
        .iter()
        .map(|d| d.render_github() + "\n")
        .collect();
    text.push_str(&super::text::plan(plan, false));
    text
}
