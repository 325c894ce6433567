//! The planner: a pure function of (desired, observed) to the plan of one app in one
//! environment. No I/O, no clock. Apply re-runs it after every phase with what it has
//! learnt, so the same rules decide both what `plan` shows and what `apply` does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppError;
use super::observed::Observed;
use crate::apple::endpoints::Endpoint;
use crate::apple::model::ReviewState;
use crate::desired::ids;
use crate::desired::{DesiredApp, DesiredImage, DesiredMessage};
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
        key: Arc<str>,
        locale: Arc<str>,
        id: Arc<str>,
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

/// The steps of apply, in Apple's order. Every action belongs to one; apply finishes a
/// step before it starts the next, and reads Apple again where the order needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    UploadImages,
    UploadMessages,
    /// Set and delete defaults, after the lists were read again for review states.
    Defaults,
    /// After the owned defaults were read again: never a message a default points at.
    PruneMessages,
    PruneImages,
    RealtimeUrl,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::UploadImages,
        Phase::UploadMessages,
        Phase::Defaults,
        Phase::PruneMessages,
        Phase::PruneImages,
        Phase::RealtimeUrl,
    ];
}

impl Op {
    pub fn phase(&self) -> Phase {
        match self {
            Op::UploadImage { .. } => Phase::UploadImages,
            Op::UploadMessage { .. } => Phase::UploadMessages,
            Op::SetDefault { .. } | Op::DeleteDefault { .. } => Phase::Defaults,
            Op::PruneMessage { .. } => Phase::PruneMessages,
            Op::PruneImage { .. } => Phase::PruneImages,
            Op::ConfigureRealtimeUrl { .. } | Op::DeleteRealtimeUrl { .. } => Phase::RealtimeUrl,
        }
    }

    pub fn is_write_of_content(&self) -> bool {
        matches!(self, Op::UploadImage { .. } | Op::UploadMessage { .. })
    }

    /// Apple's endpoint that carries it out (each has an hourly budget of its own).
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Op::UploadImage { .. } => Endpoint::UploadImage,
            Op::UploadMessage { .. } => Endpoint::UploadMessage,
            Op::SetDefault { .. } => Endpoint::ConfigureDefaultMessage,
            Op::DeleteDefault { .. } => Endpoint::DeleteDefaultMessage,
            Op::PruneMessage { .. } => Endpoint::DeleteMessage,
            Op::PruneImage { .. } => Endpoint::DeleteImage,
            Op::ConfigureRealtimeUrl { .. } => Endpoint::ConfigureRealtimeUrl,
            Op::DeleteRealtimeUrl { .. } => Endpoint::DeleteRealtimeUrl,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Can be done now.
    Ready,
    /// Waits on Apple's review (content PENDING, or not uploaded yet), or on an action
    /// before it (a prune waits for the new default).
    Waiting,
    /// Content was REJECTED: change it to get a new id.
    Blocked,
}

/// A part of a default's content (the message or one of its images) and Apple's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartState {
    pub kind: ContentKind,
    pub key: String,
    /// `None`: not on Apple yet.
    pub state: Option<ReviewState>,
}

/// Why an action has its status. Each format words it; nothing matches on text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    /// An upload: Apple does not hold this id.
    NotOnApple,
    /// A default whose message and images are APPROVED.
    ContentApproved,
    /// A default whose content is not APPROVED yet (parts not approved).
    AwaitingReview {
        parts: Vec<PartState>,
    },
    /// A default whose content Apple REJECTED (the rejected parts).
    Rejected {
        parts: Vec<PartState>,
    },
    /// Delete default: an owned pair the manifest sets no default for.
    NoDefaultInManifest,
    /// Prune: on Apple, not in the manifest.
    NotInManifest,
    /// Prune of a message that is the current default of these pairs: it goes only once
    /// a fresh read shows the new defaults in place.
    AfterNewDefault {
        pairs: Vec<Pair>,
    },
    RealtimeUrlDiffers,
    /// A production realtime URL differs from the manifest's: Apple configures it only
    /// after a sandbox performance test passed, which no endpoint lets us read first.
    ProductionRealtimeUrlNeedsPassingTest,
    /// The manifest lists the environment without a realtime URL.
    NoRealtimeUrlInManifest {
        environment: EnvironmentName,
    },
    /// Apple refused a default although its lists said APPROVED (e.g. MessageNotApproved).
    AppleNotApproved {
        error: crate::apple::ApiErrorCode,
    },
    /// Apple refused to delete an image a message still uses (ImageInUse).
    ImageInUse,
    /// A default whose image Apple lists with another size than the manifest's.
    ImageSizeDiffers {
        key: String,
        apple: ImageSize,
        manifest: ImageSize,
    },
    /// Apple refused the production realtime URL: no passing sandbox performance test
    /// (ForbiddenNoPassingTest).
    NeedsPerformanceTest,
    /// Uploads of this kind would pass Apple's cap per app, and `--prune` cannot (or may
    /// not) free enough room: nothing of this kind is sent.
    OverAppleCap {
        cap: CapState,
    },
    /// Apple answered MaximumNumberOf…Reached: the rest of the uploads were not sent.
    AppleCapReached {
        kind: ContentKind,
    },
    /// A message upload whose images (these keys) are not on Apple: an image upload of
    /// this run did not happen (it waits or failed), and Apple would refuse the message.
    ImagesNotOnApple {
        images: Vec<String>,
    },
    /// Apple's hourly budget of this endpoint is used up for longer than the run waits:
    /// not sent; the next run continues once it frees up.
    AppleBudgetUsedUp {
        /// Apple's name of the endpoint (`DeleteMessage`).
        endpoint: String,
        /// When the budget frees up (RFC 3339, UTC, seconds).
        frees_at: String,
    },
}

/// Apple's cap of messages or images per app against what the plan would upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapState {
    pub kind: ContentKind,
    /// Apple's cap (2,000 messages, 2,000 images per app).
    pub limit: usize,
    /// What Apple holds now.
    pub on_apple: usize,
    /// What the plan uploads.
    pub uploads: usize,
    /// How many must be deleted from Apple first.
    pub must_go: usize,
    /// Drift that `--prune` may delete (not a default, not used by the manifest).
    pub prunable: usize,
    /// With `--prune`, apply deletes that drift before it uploads, and it is enough.
    pub room_made_by_prune: bool,
}

/// An owned (product, locale) pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pair {
    pub product: String,
    pub locale: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    #[serde(flatten)]
    pub op: Op,
    pub status: Status,
    pub reason: Reason,
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
    pub key: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<Arc<str>>,
    pub id: Arc<str>,
    pub state: Option<ReviewState>,
    /// For an image: the size Apple lists, when Apple lists one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apple_size: Option<ImageSize>,
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

/// Why drift stays even with `--prune`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum KeptBecause {
    /// The current default of these owned pairs, and no new default is ready to replace it.
    CurrentDefault { pairs: Vec<Pair> },
    /// A message of the manifest uses this image.
    UsedByManifest,
    /// The realtime snapshot (`--snapshot`) serves it until the newer version is
    /// approved and a later apply moves the snapshot on.
    ServedBySnapshot,
    /// The manifest's image id, but Apple lists it with another size: it cannot serve.
    SizeDiffers {
        apple: ImageSize,
        manifest: ImageSize,
    },
}

/// Content on Apple that the manifest does not produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub kind: ContentKind,
    pub id: String,
    pub state: ReviewState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_because: Option<KeptBecause>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealtimeUrlState {
    pub managed: bool,
    pub current: Option<String>,
    pub desired: Option<String>,
    /// What configuring `desired` depends on beyond this plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs: Option<RealtimeUrlPrecondition>,
}

/// A condition Apple puts on a realtime URL that no read can show beforehand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RealtimeUrlPrecondition {
    /// Production: a sandbox performance test must have passed (ForbiddenNoPassingTest).
    PassingSandboxPerformanceTest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPlan {
    pub bundle_id: String,
    pub environment: EnvironmentName,
    pub file: String,
    /// Set when Apple could not be read for this app: nothing below is known then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AppError>,
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
    pub diffs: Vec<crate::reconcile::diff::LocalizationDiff>,
    /// With `plan --base` or `--snapshot`: how the realtime rules differ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_changes: Vec<super::rule_diff::RuleChange>,
    /// With `--snapshot`: what else the next `apply --snapshot` changes in what is served.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshot_changes: Vec<super::rule_diff::SnapshotChange>,
    /// Apple's caps per app that the uploads would pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub over_cap: Vec<CapState>,
}

impl AppPlan {
    /// The row of an app × environment whose state could not be read.
    pub fn failed(
        bundle_id: &str,
        environment: EnvironmentName,
        file: &str,
        error: AppError,
    ) -> Self {
        AppPlan {
            bundle_id: bundle_id.to_string(),
            environment,
            file: file.to_string(),
            error: Some(error),
            observed_fingerprint: String::new(),
            manifest_digest: String::new(),
            actions: vec![],
            content: vec![],
            defaults: vec![],
            drift: vec![],
            realtime_url: RealtimeUrlState::default(),
            diffs: vec![],
            rule_changes: vec![],
            snapshot_changes: vec![],
            over_cap: vec![],
        }
    }

    /// Realtime rules or served content that differ from the realtime snapshot or the
    /// base of a pull request (the next `apply --snapshot` changes what is served).
    pub fn has_realtime_changes(&self) -> bool {
        !self.rule_changes.is_empty() || !self.snapshot_changes.is_empty()
    }

    /// Actions on Apple, or realtime changes.
    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty() || self.has_realtime_changes()
    }

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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOptions {
    pub prune: bool,
}

/// Digest of the desired state: changes exactly when the manifest's ids, defaults,
/// owned pairs or realtime URL for `env` change.
pub fn manifest_digest(desired: &DesiredApp, env: EnvironmentName) -> String {
    // The canonical JSON (`ids::canonical_json`) of { bundleId, defaults, images,
    // messages, owned, realtimeManaged, realtimeUrl }, written directly: a JSON tree of
    // every id of a 2,000-message app was 4 % of a plan.
    // `[a,b,…]`, each item written by `item`.
    fn list<T>(items: impl Iterator<Item = T>, out: &mut Vec<u8>, item: impl Fn(T, &mut Vec<u8>)) {
        out.push(b'[');
        for (i, one) in items.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            item(one, out);
        }
        out.push(b']');
    }
    let mut out = Vec::with_capacity(128 + 39 * (desired.images.len() + desired.messages.len()));
    let text = ids::write_json::<str>;
    // A uuid's text needs no escaping: written in place, without a String each.
    let uuid = |id: Uuid, out: &mut Vec<u8>| {
        out.push(b'"');
        out.extend_from_slice(
            id.hyphenated()
                .encode_lower(&mut Uuid::encode_buffer())
                .as_bytes(),
        );
        out.push(b'"');
    };
    let string = |s: String, out: &mut Vec<u8>| text(&s, out);
    out.extend_from_slice(b"{\"bundleId\":");
    text(&desired.bundle_id, &mut out);
    out.extend_from_slice(b",\"defaults\":");
    list(
        desired
            .defaults
            .iter()
            .map(|((p, l), id)| format!("{p}/{l}={id}")),
        &mut out,
        string,
    );
    out.extend_from_slice(b",\"images\":");
    list(desired.images.iter().map(|i| i.id), &mut out, uuid);
    out.extend_from_slice(b",\"messages\":");
    list(desired.messages.iter().map(|m| m.id), &mut out, uuid);
    out.extend_from_slice(b",\"owned\":");
    list(
        desired.owned_pairs.iter().map(|(p, l)| format!("{p}/{l}")),
        &mut out,
        string,
    );
    out.extend_from_slice(b",\"realtimeManaged\":");
    let managed = desired.realtime_managed.contains(&env);
    out.extend_from_slice(if managed { b"true" } else { b"false" });
    out.extend_from_slice(b",\"realtimeUrl\":");
    match desired.realtime_urls.get(&env) {
        Some(url) => text(url, &mut out),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    ids::sha256_hex(&out)
}

/// Plans one app in one environment: each stage below adds its actions and reports what
/// it saw, in Apple's order; the caps are counted last, over every upload planned.
pub fn plan(
    desired: &DesiredApp,
    env: EnvironmentName,
    file: &str,
    observed: &Observed,
    options: PlanOptions,
) -> AppPlan {
    // At most: an upload per image and message, a default per owned pair, a prune per
    // thing on Apple, a realtime URL. Sized once: a grown vector of 2,000 uploads doubles.
    let content_count = desired.images.len() + desired.messages.len();
    let prunes = if options.prune {
        observed.messages.len() + observed.images.len()
    } else {
        0
    };
    let mut actions = Vec::with_capacity(content_count + desired.owned_pairs.len() + prunes + 1);
    let content = content_to_upload(desired, observed, &mut actions);
    let (defaults, current_defaults) = defaults_to_set(desired, observed, &mut actions);
    let drift = drift_to_prune(desired, observed, &current_defaults, options, &mut actions);
    let realtime_url = realtime_url_to_configure(desired, env, observed, &mut actions);
    let over_cap = check_caps(&mut actions, &drift, observed, options);
    actions.sort_by(|a, b| (a.op.phase(), &a.op).cmp(&(b.op.phase(), &b.op)));
    AppPlan {
        bundle_id: desired.bundle_id.clone(),
        environment: env,
        file: file.to_string(),
        error: None,
        observed_fingerprint: observed.fingerprint(),
        manifest_digest: manifest_digest(desired, env),
        actions,
        content,
        defaults,
        drift,
        realtime_url,
        diffs: vec![],
        rule_changes: vec![],
        snapshot_changes: vec![],
        over_cap,
    }
}

/// Current defaults (message id → the pairs it is the default of), each with whether a
/// ready action of this plan is about to replace it there.
type CurrentDefaults = BTreeMap<String, Vec<(Pair, bool)>>;

/// Stage 1, content: an upload for every image and message of the manifest that Apple
/// does not hold; the review state of each, as Apple lists it.
fn content_to_upload(
    desired: &DesiredApp,
    observed: &Observed,
    actions: &mut Vec<Action>,
) -> Vec<ContentState> {
    let mut content = Vec::with_capacity(desired.images.len() + desired.messages.len());
    for image in &desired.images {
        let id = image.id.to_string();
        let state = observed.images.get(&id).cloned();
        if state.is_none() {
            actions.push(Action {
                op: Op::UploadImage {
                    key: image.key.clone(),
                    size: image.size,
                    id: id.clone(),
                },
                status: Status::Ready,
                reason: Reason::NotOnApple,
            });
        }
        content.push(ContentState {
            kind: ContentKind::Image,
            key: image.key.as_str().into(),
            locale: None,
            apple_size: observed.image_sizes.get(&id).copied(),
            id: id.into(),
            state,
        });
    }
    let mut id_text = Uuid::encode_buffer();
    for message in &desired.messages {
        let id = &*message.id.hyphenated().encode_lower(&mut id_text);
        let state = observed.messages.get(id).cloned();
        let id: Arc<str> = id.into();
        if state.is_none() {
            actions.push(Action {
                op: Op::UploadMessage {
                    key: message.key.clone(),
                    locale: message.locale.clone(),
                    id: id.clone(),
                },
                status: Status::Ready,
                reason: Reason::NotOnApple,
            });
        }
        content.push(ContentState {
            kind: ContentKind::Message,
            key: message.key.clone(),
            locale: Some(message.locale.clone()),
            apple_size: None,
            id,
            state,
        });
    }
    content
}

/// Stage 2, defaults of the owned pairs: set where the manifest's message differs from
/// the current one (ready once the message and its images are APPROVED, waiting before,
/// blocked when REJECTED or an image's size differs), deleted where the manifest sets
/// none. The old default stays until the new one is set.
fn defaults_to_set(
    desired: &DesiredApp,
    observed: &Observed,
    actions: &mut Vec<Action>,
) -> (Vec<DefaultState>, CurrentDefaults) {
    let images_by_id: HashMap<Uuid, &DesiredImage> =
        desired.images.iter().map(|i| (i.id, i)).collect();
    let messages_by_id: HashMap<Uuid, &DesiredMessage> =
        desired.messages.iter().map(|m| (m.id, m)).collect();
    let mut defaults = vec![];
    // Current defaults, and whether a ready action is about to replace each.
    let mut current_defaults = CurrentDefaults::new();
    for (product, locale) in &desired.owned_pairs {
        let current = observed.default_of(product, locale);
        let want = desired.defaults.get(&(product.clone(), locale.clone()));
        let want_message = want.and_then(|id| messages_by_id.get(id).copied());
        defaults.push(DefaultState {
            product: product.clone(),
            locale: locale.clone(),
            current: current.clone(),
            desired: want.map(|id| id.to_string()),
            desired_key: want_message.map(|m| m.key.to_string()),
        });
        let mut replaced_now = false;
        match (want, want_message) {
            (Some(id), Some(message)) if current.as_deref() != Some(&id.to_string()) => {
                let mut parts = vec![PartState {
                    kind: ContentKind::Message,
                    key: message.key.to_string(),
                    state: observed.messages.get(&id.to_string()).cloned(),
                }];
                for image_id in &message.image_ids {
                    parts.push(PartState {
                        kind: ContentKind::Image,
                        key: images_by_id
                            .get(image_id)
                            .map(|i| i.key.clone())
                            .unwrap_or_else(|| image_id.to_string()),
                        state: observed.images.get(&image_id.to_string()).cloned(),
                    });
                }
                let mismatch = message.image_ids.iter().find_map(|image_id| {
                    let image = images_by_id.get(image_id)?;
                    let apple = *observed.image_sizes.get(&image_id.to_string())?;
                    (apple != image.size).then(|| Reason::ImageSizeDiffers {
                        key: image.key.clone(),
                        apple,
                        manifest: image.size,
                    })
                });
                let (status, reason) = match mismatch {
                    Some(reason) => (Status::Blocked, reason),
                    None => gate(parts),
                };
                replaced_now = status == Status::Ready;
                actions.push(Action {
                    op: Op::SetDefault {
                        product: product.clone(),
                        locale: locale.clone(),
                        message_key: message.key.to_string(),
                        message_id: id.to_string(),
                        replaces: current.clone(),
                    },
                    status,
                    reason,
                });
            }
            (None, _) => {
                if let Some(current) = &current {
                    replaced_now = true;
                    actions.push(Action {
                        op: Op::DeleteDefault {
                            product: product.clone(),
                            locale: locale.clone(),
                            message_id: current.clone(),
                        },
                        status: Status::Ready,
                        reason: Reason::NoDefaultInManifest,
                    });
                }
            }
            _ => {}
        }
        if let Some(current) = current {
            let pair = Pair {
                product: product.clone(),
                locale: locale.clone(),
            };
            current_defaults
                .entry(current)
                .or_default()
                .push((pair, replaced_now));
        }
    }
    (defaults, current_defaults)
}

/// Stage 3, drift and, with --prune, its deletion: messages first, then images no message
/// of the manifest uses. A message that is a current default is deleted only after a
/// fresh read shows it replaced: its prune waits while a ready default is about to
/// replace it, and it is kept otherwise. What a served realtime snapshot answers with, and
/// the images it uses, are kept.
fn drift_to_prune(
    desired: &DesiredApp,
    observed: &Observed,
    current_defaults: &CurrentDefaults,
    options: PlanOptions,
    actions: &mut Vec<Action>,
) -> Vec<Drift> {
    let desired_messages: BTreeSet<String> =
        desired.messages.iter().map(|m| m.id.to_string()).collect();
    let desired_images: BTreeSet<String> =
        desired.images.iter().map(|i| i.id.to_string()).collect();
    let mut drift = vec![];
    for (id, state) in &observed.messages {
        if desired_messages.contains(id) {
            continue;
        }
        let mut kept_because = None;
        let status_reason = match current_defaults.get(id) {
            None if desired.served.contains(id) => {
                kept_because = Some(KeptBecause::ServedBySnapshot);
                None
            }
            None => Some((Status::Ready, Reason::NotInManifest)),
            Some(pairs) => {
                let names: Vec<Pair> = pairs.iter().map(|(p, _)| p.clone()).collect();
                if pairs.iter().all(|(_, replaced)| *replaced) {
                    Some((Status::Waiting, Reason::AfterNewDefault { pairs: names }))
                } else {
                    kept_because = Some(KeptBecause::CurrentDefault { pairs: names });
                    None
                }
            }
        };
        if options.prune
            && let Some((status, reason)) = status_reason
        {
            actions.push(Action {
                op: Op::PruneMessage { id: id.clone() },
                status,
                reason,
            });
        }
        drift.push(Drift {
            kind: ContentKind::Message,
            id: id.clone(),
            state: state.clone(),
            kept_because,
        });
    }
    let used_by_manifest: BTreeSet<String> = desired
        .messages
        .iter()
        .flat_map(|m| m.image_ids.iter().map(|i| i.to_string()))
        .collect();
    for (id, state) in &observed.images {
        if desired_images.contains(id) {
            continue;
        }
        let kept_because = if used_by_manifest.contains(id) {
            Some(KeptBecause::UsedByManifest)
        } else if desired.served.contains(id) {
            Some(KeptBecause::ServedBySnapshot)
        } else {
            None
        };
        if options.prune && kept_because.is_none() {
            actions.push(Action {
                op: Op::PruneImage { id: id.clone() },
                status: Status::Ready,
                reason: Reason::NotInManifest,
            });
        }
        drift.push(Drift {
            kind: ContentKind::Image,
            id: id.clone(),
            state: state.clone(),
            kept_because,
        });
    }

    // The manifest's image id listed with another size: drift that no run can fix by
    // uploading (the id exists); a changed image gets a new id.
    for image in &desired.images {
        let id = image.id.to_string();
        if let (Some(state), Some(apple)) =
            (observed.images.get(&id), observed.image_sizes.get(&id))
            && *apple != image.size
        {
            drift.push(Drift {
                kind: ContentKind::Image,
                id,
                state: state.clone(),
                kept_because: Some(KeptBecause::SizeDiffers {
                    apple: *apple,
                    manifest: image.size,
                }),
            });
        }
    }
    drift
}

/// Stage 4, the realtime URL of a managed environment: configured where it differs from
/// the manifest's, deleted where the manifest lists the environment without one.
fn realtime_url_to_configure(
    desired: &DesiredApp,
    env: EnvironmentName,
    observed: &Observed,
    actions: &mut Vec<Action>,
) -> RealtimeUrlState {
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
                reason: if env == EnvironmentName::Production {
                    Reason::ProductionRealtimeUrlNeedsPassingTest
                } else {
                    Reason::RealtimeUrlDiffers
                },
            }),
            (None, Some(current)) => actions.push(Action {
                op: Op::DeleteRealtimeUrl {
                    url: current.clone(),
                },
                status: Status::Ready,
                reason: Reason::NoRealtimeUrlInManifest { environment: env },
            }),
            _ => {}
        }
    }
    RealtimeUrlState {
        managed,
        needs: (env == EnvironmentName::Production
            && managed
            && want_url.is_some()
            && want_url != observed.realtime_url)
            .then_some(RealtimeUrlPrecondition::PassingSandboxPerformanceTest),
        current: observed.realtime_url.clone(),
        desired: want_url,
    }
}

/// Stage 5, Apple's caps: Apple's holdings plus the planned uploads, counted against
/// them. Over a cap, the uploads of that kind are blocked unless `--prune` deletes enough
/// drift first.
fn check_caps(
    actions: &mut [Action],
    drift: &[Drift],
    observed: &Observed,
    options: PlanOptions,
) -> Vec<CapState> {
    use crate::apple::limits::{MAX_IMAGES, MAX_MESSAGES};
    let mut over = vec![];
    // Only drift that no owned default points at now can go before the uploads.
    let defaults: BTreeSet<&String> = observed
        .defaults
        .values()
        .flat_map(|by_locale| by_locale.values().flatten())
        .collect();
    for (kind, limit, on_apple) in [
        (ContentKind::Image, MAX_IMAGES, observed.images.len()),
        (ContentKind::Message, MAX_MESSAGES, observed.messages.len()),
    ] {
        let is_upload = |op: &Op| match kind {
            ContentKind::Image => matches!(op, Op::UploadImage { .. }),
            ContentKind::Message => matches!(op, Op::UploadMessage { .. }),
        };
        let uploads = actions.iter().filter(|a| is_upload(&a.op)).count();
        if on_apple + uploads <= limit {
            continue;
        }
        let must_go = on_apple + uploads - limit;
        let prunable = drift
            .iter()
            .filter(|d| d.kind == kind && d.kept_because.is_none() && !defaults.contains(&d.id))
            .count();
        let cap = CapState {
            kind,
            limit,
            on_apple,
            uploads,
            must_go,
            prunable,
            room_made_by_prune: options.prune && prunable >= must_go,
        };
        if !cap.room_made_by_prune {
            for action in actions.iter_mut().filter(|a| is_upload(&a.op)) {
                action.status = Status::Blocked;
                action.reason = Reason::OverAppleCap { cap: cap.clone() };
            }
        }
        over.push(cap);
    }
    over
}

/// A default can be set when its message and every image it uses are APPROVED; any
/// REJECTED part blocks it; any other state (PENDING, not uploaded, a state this version
/// does not know) makes it wait.
fn gate(parts: Vec<PartState>) -> (Status, Reason) {
    let rejected: Vec<PartState> = parts
        .iter()
        .filter(|p| p.state == Some(ReviewState::Rejected))
        .cloned()
        .collect();
    if !rejected.is_empty() {
        return (Status::Blocked, Reason::Rejected { parts: rejected });
    }
    let waiting: Vec<PartState> = parts
        .into_iter()
        .filter(|p| p.state != Some(ReviewState::Approved))
        .collect();
    if waiting.is_empty() {
        (Status::Ready, Reason::ContentApproved)
    } else {
        (Status::Waiting, Reason::AwaitingReview { parts: waiting })
    }
}

#[cfg(test)]
#[path = "planner_tests.rs"]
pub(crate) mod tests;
