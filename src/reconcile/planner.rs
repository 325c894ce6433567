//! The planner: a pure function of (desired, observed) to the plan of one app in one
//! environment. No I/O, no clock. Apply re-runs it after every phase with what it has
//! learnt, so the same rules decide both what `plan` shows and what `apply` does.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::observed::Observed;
use crate::apple::model::ReviewState;
use crate::desired::DesiredApp;
use crate::ids;
use crate::manifest::{EnvironmentName, ImageSize};

/// What one action does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    UploadImage {
        key: String,
        size: ImageSize,
        id: String,
    },
    UploadMessage {
        key: String,
        locale: String,
        id: String,
    },
    SetDefault {
        product: String,
        locale: String,
        message_key: String,
        message_id: String,
        /// The default in place until this one is set.
        replaces: Option<String>,
    },
    DeleteDefault {
        product: String,
        locale: String,
        message_id: String,
    },
    PruneMessage {
        id: String,
    },
    PruneImage {
        id: String,
    },
    ConfigureRealtimeUrl {
        url: String,
        replaces: Option<String>,
    },
    DeleteRealtimeUrl {
        url: String,
    },
}

impl Op {
    /// Apply order: images, messages, defaults, default deletions, prunes, realtime URL.
    pub fn phase(&self) -> u8 {
        match self {
            Op::UploadImage { .. } => 1,
            Op::UploadMessage { .. } => 2,
            Op::SetDefault { .. } => 3,
            Op::DeleteDefault { .. } => 4,
            Op::PruneMessage { .. } => 5,
            Op::PruneImage { .. } => 6,
            Op::ConfigureRealtimeUrl { .. } | Op::DeleteRealtimeUrl { .. } => 7,
        }
    }

    pub fn is_write_of_content(&self) -> bool {
        matches!(self, Op::UploadImage { .. } | Op::UploadMessage { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Can be done now.
    Ready,
    /// Waits on Apple's review (content PENDING, or not uploaded yet).
    Waiting,
    /// Content was REJECTED: change it to get a new id.
    Blocked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    #[serde(flatten)]
    pub op: Op,
    pub status: Status,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    Image,
    Message,
}

/// A piece of content the manifest wants, with Apple's review state (`None`: not on Apple).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentState {
    pub kind: ContentKind,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    pub id: String,
    pub state: Option<ReviewState>,
}

/// An owned (product, locale) pair: what Apple has and what the manifest wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultState {
    pub product: String,
    pub locale: String,
    pub current: Option<String>,
    pub desired: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_key: Option<String>,
}

/// Content on Apple that the manifest does not produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub kind: ContentKind,
    pub id: String,
    pub state: ReviewState,
    /// Why it stays even with `--prune`, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_because: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealtimeUrlState {
    pub managed: bool,
    pub current: Option<String>,
    pub desired: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPlan {
    pub bundle_id: String,
    pub environment: EnvironmentName,
    pub file: String,
    /// Digest of the observed state the plan was made from (stale-plan check).
    pub observed_fingerprint: String,
    /// Digest of the desired state (the manifest as ids).
    pub manifest_digest: String,
    pub actions: Vec<Action>,
    pub content: Vec<ContentState>,
    pub defaults: Vec<DefaultState>,
    pub drift: Vec<Drift>,
    pub realtime_url: RealtimeUrlState,
    /// With `plan --base`: the localizations whose copy changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diffs: Vec<crate::diff::LocalizationDiff>,
}

impl AppPlan {
    pub fn rejected(&self) -> impl Iterator<Item = &ContentState> {
        self.content
            .iter()
            .filter(|c| c.state == Some(ReviewState::Rejected))
    }

    /// Owned pairs the manifest sets no default for.
    pub fn uncovered(&self) -> impl Iterator<Item = &DefaultState> {
        self.defaults.iter().filter(|d| d.desired.is_none())
    }

    pub fn count(&self, status: Status) -> usize {
        self.actions.iter().filter(|a| a.status == status).count()
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    pub prune: bool,
}

fn state_label(state: Option<ReviewState>) -> &'static str {
    match state {
        None => "not uploaded yet",
        Some(s) => s.as_str(),
    }
}

/// Digest of the desired state: changes exactly when the manifest's ids, defaults,
/// owned pairs or realtime URL for `env` change.
pub fn manifest_digest(desired: &DesiredApp, env: EnvironmentName) -> String {
    let value = serde_json::json!({
        "bundleId": desired.bundle_id,
        "images": desired.images.iter().map(|i| i.id.to_string()).collect::<Vec<_>>(),
        "messages": desired.messages.iter().map(|m| m.id.to_string()).collect::<Vec<_>>(),
        "defaults": desired.defaults.iter().map(|((p, l), id)| format!("{p}/{l}={id}")).collect::<Vec<_>>(),
        "owned": desired.owned_pairs.iter().map(|(p, l)| format!("{p}/{l}")).collect::<Vec<_>>(),
        "realtimeManaged": desired.realtime_managed.contains(&env),
        "realtimeUrl": desired.realtime_urls.get(&env),
    });
    ids::sha256_hex(ids::canonical_json(&value).as_bytes())
}

/// Plans one app in one environment.
pub fn plan(
    desired: &DesiredApp,
    env: EnvironmentName,
    file: &str,
    observed: &Observed,
    options: PlanOptions,
) -> AppPlan {
    let mut actions = vec![];
    let mut content = vec![];

    for image in &desired.images {
        let id = image.id.to_string();
        let state = observed.images.get(&id).copied();
        content.push(ContentState {
            kind: ContentKind::Image,
            key: image.key.clone(),
            locale: None,
            id: id.clone(),
            state,
        });
        if state.is_none() {
            actions.push(Action {
                op: Op::UploadImage {
                    key: image.key.clone(),
                    size: image.size,
                    id,
                },
                status: Status::Ready,
                reason: "not on Apple".into(),
            });
        }
    }
    for message in &desired.messages {
        let id = message.id.to_string();
        let state = observed.messages.get(&id).copied();
        content.push(ContentState {
            kind: ContentKind::Message,
            key: message.key.clone(),
            locale: Some(message.locale.clone()),
            id: id.clone(),
            state,
        });
        if state.is_none() {
            actions.push(Action {
                op: Op::UploadMessage {
                    key: message.key.clone(),
                    locale: message.locale.clone(),
                    id,
                },
                status: Status::Ready,
                reason: "not on Apple".into(),
            });
        }
    }

    // Defaults of owned pairs; the old default stays until the new one can be set.
    let mut defaults = vec![];
    let mut defaults_after: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    for (product, locale) in &desired.owned_pairs {
        let current = observed.default_of(product, locale);
        let want = desired.defaults.get(&(product.clone(), locale.clone()));
        let want_message = want.and_then(|id| desired.message(*id));
        defaults.push(DefaultState {
            product: product.clone(),
            locale: locale.clone(),
            current: current.clone(),
            desired: want.map(|id| id.to_string()),
            desired_key: want_message.map(|m| m.key.clone()),
        });
        let mut after = current.clone();
        match (want, want_message) {
            (Some(id), Some(message)) if current.as_deref() != Some(&id.to_string()) => {
                let mut parts = vec![(
                    format!("message {}", message.key),
                    observed.messages.get(&id.to_string()).copied(),
                )];
                for image_id in &message.image_ids {
                    let key = desired
                        .image(*image_id)
                        .map(|i| i.key.clone())
                        .unwrap_or_else(|| image_id.to_string());
                    parts.push((
                        format!("image {key}"),
                        observed.images.get(&image_id.to_string()).copied(),
                    ));
                }
                let (status, reason) = gate(&parts);
                if status == Status::Ready {
                    after = Some(id.to_string());
                }
                actions.push(Action {
                    op: Op::SetDefault {
                        product: product.clone(),
                        locale: locale.clone(),
                        message_key: message.key.clone(),
                        message_id: id.to_string(),
                        replaces: current.clone(),
                    },
                    status,
                    reason,
                });
            }
            (None, _) => {
                if let Some(current) = &current {
                    after = None;
                    actions.push(Action {
                        op: Op::DeleteDefault {
                            product: product.clone(),
                            locale: locale.clone(),
                            message_id: current.clone(),
                        },
                        status: Status::Ready,
                        reason: "the manifest sets no default for this owned pair".into(),
                    });
                }
            }
            _ => {}
        }
        defaults_after.insert((product.clone(), locale.clone()), after);
    }

    // Drift, and with --prune its deletion: messages first, never a default that stays,
    // then images no kept message of the manifest uses.
    let desired_messages: BTreeSet<String> =
        desired.messages.iter().map(|m| m.id.to_string()).collect();
    let desired_images: BTreeSet<String> =
        desired.images.iter().map(|i| i.id.to_string()).collect();
    let defaults_kept: BTreeSet<&String> = defaults_after.values().flatten().collect();
    let mut drift = vec![];
    for (id, state) in &observed.messages {
        if desired_messages.contains(id) {
            continue;
        }
        let kept_because = defaults_kept
            .contains(id)
            .then(|| "it is a current default; it can go once the new default is set".to_string());
        if options.prune && kept_because.is_none() {
            actions.push(Action {
                op: Op::PruneMessage { id: id.clone() },
                status: Status::Ready,
                reason: "not in the manifest (--prune)".into(),
            });
        }
        drift.push(Drift {
            kind: ContentKind::Message,
            id: id.clone(),
            state: *state,
            kept_because,
        });
    }
    let used_by_kept: BTreeSet<String> = desired
        .messages
        .iter()
        .flat_map(|m| m.image_ids.iter().map(|i| i.to_string()))
        .collect();
    for (id, state) in &observed.images {
        if desired_images.contains(id) {
            continue;
        }
        let kept_because = used_by_kept
            .contains(id)
            .then(|| "a message of the manifest uses it".to_string());
        if options.prune && kept_because.is_none() {
            actions.push(Action {
                op: Op::PruneImage { id: id.clone() },
                status: Status::Ready,
                reason: "not in the manifest (--prune)".into(),
            });
        }
        drift.push(Drift {
            kind: ContentKind::Image,
            id: id.clone(),
            state: *state,
            kept_because,
        });
    }

    let managed = desired.realtime_managed.contains(&env);
    let want_url = desired.realtime_urls.get(&env).cloned();
    if managed {
        match (&want_url, &observed.realtime_url) {
            (Some(want), current) if current.as_ref() != Some(want) => actions.push(Action {
                op: Op::ConfigureRealtimeUrl {
                    url: want.clone(),
                    replaces: current.clone(),
                },
                status: Status::Ready,
                reason: "differs from the manifest".into(),
            }),
            (None, Some(current)) => actions.push(Action {
                op: Op::DeleteRealtimeUrl {
                    url: current.clone(),
                },
                status: Status::Ready,
                reason: format!("environments.{env} sets no realtimeUrl"),
            }),
            _ => {}
        }
    }

    actions.sort_by(|a, b| (a.op.phase(), &a.op).cmp(&(b.op.phase(), &b.op)));
    AppPlan {
        bundle_id: desired.bundle_id.clone(),
        environment: env,
        file: file.to_string(),
        observed_fingerprint: observed.fingerprint(),
        manifest_digest: manifest_digest(desired, env),
        actions,
        content,
        defaults,
        drift,
        realtime_url: RealtimeUrlState {
            managed,
            current: observed.realtime_url.clone(),
            desired: want_url,
        },
        diffs: vec![],
    }
}

/// A default can be set when its message and every image it uses are APPROVED.
fn gate(parts: &[(String, Option<ReviewState>)]) -> (Status, String) {
    let rejected: Vec<&str> = parts
        .iter()
        .filter(|(_, s)| *s == Some(ReviewState::Rejected))
        .map(|(n, _)| n.as_str())
        .collect();
    if !rejected.is_empty() {
        return (
            Status::Blocked,
            format!(
                "{} REJECTED: change the content to get a new id",
                rejected.join(", ")
            ),
        );
    }
    let waiting: Vec<String> = parts
        .iter()
        .filter(|(_, s)| *s != Some(ReviewState::Approved))
        .map(|(n, s)| format!("{n} {}", state_label(*s)))
        .collect();
    if waiting.is_empty() {
        (Status::Ready, "content APPROVED".into())
    } else {
        (
            Status::Waiting,
            format!("waiting for review: {}", waiting.join(", ")),
        )
    }
}

#[cfg(test)]
#[path = "planner_tests.rs"]
mod tests;
