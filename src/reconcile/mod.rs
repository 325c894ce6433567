//! Reconciling Apple with the manifests: what Apple holds (`observed`), how to read it
//! (`observe`), where requests go (`target`), the pure planner, and apply.

pub mod apply;
pub mod observe;
pub mod observed;
pub mod planner;
pub mod target;

use serde::{Deserialize, Serialize};

pub use planner::{Action, AppPlan, Op, Status};

/// Version of the JSON plan document (`--format json`, `--out`).
pub const FORMAT_VERSION: u32 = 1;

/// The whole plan of a run: one entry per app × environment, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub apps: Vec<AppPlan>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.apps.iter().any(|a| !a.actions.is_empty())
    }
}
