//! Reconciling Apple with the manifests: what Apple holds (`observed`), how to read it
//! (`observe`), the pure planner, and apply. Where requests go and with which
//! credentials is decided by the command layer.

pub mod apply;
pub mod diff;
pub mod observe;
pub mod observed;
pub mod planner;
pub mod previews;
pub mod rule_diff;
pub mod snapshot;

use serde::{Deserialize, Serialize};

use crate::apple::{ApiError, ApiErrorCode};
pub use planner::{Action, AppPlan, Op, Phase, PlanOptions, Reason, Status};

/// Version of the JSON plan document (`--format json`, `--out`). 2: typed reasons,
/// failed apps as rows with `error`, `options`.
pub const FORMAT_VERSION: u32 = 2;

/// The whole plan of a run: one entry per app × environment, in a stable order. An app
/// whose state could not be read is a row with `error` set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    #[serde(default)]
    pub options: PlanOptions,
    pub apps: Vec<AppPlan>,
    /// With `plan --previews`: the pictures of every changed or new localization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previews: Option<previews::PreviewSet>,
}

impl Plan {
    pub fn new(options: PlanOptions, apps: Vec<AppPlan>) -> Self {
        Plan {
            format_version: FORMAT_VERSION,
            options,
            apps,
            previews: None,
        }
    }

    /// Actions on Apple, or realtime rules or served content that differ from what is
    /// served (the next `apply --snapshot` changes them) or from the base of a pull request.
    pub fn has_changes(&self) -> bool {
        self.apps.iter().any(AppPlan::has_changes)
    }

    /// How many realtime rules were added, removed or changed, over every app: a rule
    /// that differs from both the base and the snapshot counts once (per app, the larger
    /// of the two counts).
    pub fn rule_change_count(&self) -> usize {
        use rule_diff::RulesBase;
        self.apps
            .iter()
            .map(|a| {
                let against = |base| a.rule_changes.iter().filter(|c| c.against == base).count();
                against(RulesBase::Base).max(against(RulesBase::Snapshot))
            })
            .sum()
    }

    /// How many other changes the next `apply --snapshot` makes to what is served.
    pub fn snapshot_change_count(&self) -> usize {
        self.apps.iter().map(|a| a.snapshot_changes.len()).sum()
    }

    /// The app × environment rows whose state could not be read.
    pub fn failed(&self) -> impl Iterator<Item = &AppPlan> {
        self.apps.iter().filter(|a| a.error.is_some())
    }

    pub fn is_complete(&self) -> bool {
        self.failed().next().is_none()
    }
}

/// What went wrong for one app × environment as a whole (it could not be read, or apply
/// had to stop), typed so every format can say it and JSON carries Apple's number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: AppErrorKind,
    /// For a person; never holds a secret.
    pub message: String,
    /// Apple's error number and name, when Apple sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apple_error: Option<ApiErrorCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apple_error_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppErrorKind {
    /// Credentials missing or unusable (read before any request).
    Credentials,
    /// Apple answered 401.
    Unauthorized,
    /// Apple's hourly budget is used up for longer than this run waits.
    RateBudget,
    /// Apple answered with an error number.
    Apple,
    /// The network failed after retries, or Apple's answer could not be used.
    Transport,
    /// The local simulator or another part of this machine failed.
    Local,
}

impl AppError {
    pub fn new(kind: AppErrorKind, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
            apple_error: None,
            apple_error_name: None,
        }
    }
}

impl From<&ApiError> for AppError {
    fn from(error: &ApiError) -> Self {
        let kind = match error {
            ApiError::Apple { .. } => AppErrorKind::Apple,
            ApiError::Unauthorized { .. } => AppErrorKind::Unauthorized,
            ApiError::RateBudgetExhausted { .. } => AppErrorKind::RateBudget,
            _ => AppErrorKind::Transport,
        };
        let code = error.code();
        AppError {
            kind,
            message: error.to_string(),
            apple_error: code,
            apple_error_name: code.map(|c| c.name().to_string()),
        }
    }
}

impl From<ApiError> for AppError {
    fn from(error: ApiError) -> Self {
        AppError::from(&error)
    }
}
