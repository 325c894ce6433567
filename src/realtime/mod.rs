//! Realtime rules and the snapshot `apply --snapshot` writes for `retainctl serve`: which
//! message (and offer or alternate product) answers Apple's realtime request for a
//! product, locale and customer, using only content Apple lists as APPROVED. Pure: no I/O.
//!
//! The snapshot is the contract between `apply` (which reads Apple's lists once per run)
//! and the realtime server (which holds no Apple credentials and makes no Apple request):
//! per app, the ordered rules and, per message key × locale, the newest approved version.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::manifest::{Credentials, EnvironmentName, MessageKind};

/// `kind` of a snapshot file.
pub const SNAPSHOT_KIND: &str = "realtime-snapshot";
/// The snapshot format this build writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;
/// The largest snapshot file `apply`, `plan` and `serve` read: thousands of apps' rules
/// and versions fit in far less.
pub const MAX_SNAPSHOT_BYTES: u64 = 16 * 1024 * 1024;

/// What the realtime server serves, for one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Snapshot {
    /// Always [`SNAPSHOT_KIND`].
    pub kind: String,
    /// [`SNAPSHOT_FORMAT_VERSION`].
    pub format_version: u32,
    /// `sandbox` or `production`, never `local`: `apply --env local` writes the mode the
    /// simulator served.
    pub environment: EnvironmentName,
    /// Where the approvals come from: Apple, or retainctl's simulator (`--env local`).
    /// `apply` refuses to carry one over into the other. Absent: written before this was
    /// recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SnapshotSource>,
    pub apps: Vec<AppRealtime>,
    /// What each served message id is (its kind and the images it uses), so that a later
    /// run keeps an older version only while it is still the kind its rule needs and
    /// all its images are still APPROVED. Written by `apply`; the server ignores it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub versions: BTreeMap<uuid::Uuid, VersionFacts>,
}

/// Where a snapshot's approvals come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotSource {
    /// Apple's API (`--env sandbox` or `--env production`).
    Apple,
    /// retainctl's simulator (`--env local`): nothing in it is approved by Apple.
    Simulator,
}

impl SnapshotSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apple => "apple",
            Self::Simulator => "simulator",
        }
    }
}

/// What a served message version is: recorded when it enters the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionFacts {
    pub kind: MessageKind,
    /// Every image it uses (main image and bullet icons).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_ids: Vec<uuid::Uuid>,
}

/// One app's rules and approved content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppRealtime {
    pub bundle_id: String,
    /// From the manifest's `app.appAppleId`: the server checks the request names this app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_apple_id: Option<i64>,
    /// NAMES of the environment variables holding the subscription offer key (keyId,
    /// issuerId, privateKey / privateKeyFile); never their values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_signing: Option<Credentials>,
    /// The app's locales (manifest `app.locales`), what a request's `userLocale` is
    /// matched against. Empty: the locales named in `approved`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locales: Vec<String>,
    /// In order: the first that matches and has approved content answers.
    pub rules: Vec<Rule>,
    /// message key → locale → the newest version whose message AND all its images are
    /// APPROVED.
    #[serde(default)]
    pub approved: BTreeMap<String, BTreeMap<String, ApprovedVersion>>,
}

/// An approved version of a message key in one locale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovedVersion {
    pub message_id: uuid::Uuid,
    /// `false`: an older version, kept while the manifest's current one is not approved.
    pub current: bool,
}

/// One realtime rule, as resolved from the manifest (splits already turned into buckets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Hash)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// A product id, or `*` for every product.
    pub product: String,
    /// The app locales it applies to; absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locales: Option<Vec<String>>,
    /// The customers' split buckets it applies to; absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<BucketRange>,
    pub answer: RuleAnswer,
}

/// Split buckets `from <= b < to`, with `0 <= from <= to <= 100`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Hash)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BucketRange {
    pub from: u8,
    pub to: u8,
}

impl BucketRange {
    pub fn contains(self, bucket: u8) -> bool {
        self.from <= bucket && bucket < self.to
    }
}

/// What a rule answers with; the message key's content goes into the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Hash)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum RuleAnswer {
    /// A text message.
    Message(String),
    /// A promotional-offer message with the subscription offer `offer_id`.
    PromotionalOffer { message: String, offer_id: String },
    /// A switch-plan message proposing `product_id`.
    AlternateProduct {
        message: String,
        product_id: String,
        /// `BILLED_UPFRONT` or `MONTHLY` (API 1.5).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        billing_plan_type: Option<String>,
    },
    /// A split's control arm: nothing (204), Apple shows its default message.
    Control,
}

impl RuleAnswer {
    /// The kind of message this answer takes (none for a control arm).
    pub fn kind(&self) -> Option<MessageKind> {
        match self {
            Self::Message(_) => Some(MessageKind::Text),
            Self::PromotionalOffer { .. } => Some(MessageKind::PromotionalOffer),
            Self::AlternateProduct { .. } => Some(MessageKind::SwitchPlan),
            Self::Control => None,
        }
    }

    /// The message key whose approved version answers (none for a control arm).
    pub fn message_key(&self) -> Option<&str> {
        match self {
            Self::Message(key)
            | Self::PromotionalOffer { message: key, .. }
            | Self::AlternateProduct { message: key, .. } => Some(key),
            Self::Control => None,
        }
    }
}

/// The parts of Apple's decoded realtime request the choice depends on.
#[derive(Debug, Clone, Copy)]
pub struct RealtimeQuery<'a> {
    pub product_id: &'a str,
    pub user_locale: &'a str,
    pub original_transaction_id: &'a str,
}

/// What to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice<'a> {
    /// Rule number `rule` (0-based, in the manifest's order) answers with `message_id`.
    Answer {
        rule: usize,
        answer: &'a RuleAnswer,
        message_id: uuid::Uuid,
    },
    /// Rule number `rule` is a split's control arm: answer nothing, Apple shows its
    /// default message.
    Control { rule: usize },
    /// No rule has approved content: let Apple fall back to the default message.
    Fallback,
}

/// Why a snapshot file cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not JSON of the snapshot's shape.
    #[error("not a realtime snapshot: {0}")]
    Json(#[from] serde_json::Error),
    /// `kind` is something else.
    #[error("`kind` is `{0}`, not `{SNAPSHOT_KIND}`")]
    WrongKind(String),
    /// Written by another version of retainctl.
    #[error(
        "format version {0} is not supported (this retainctl reads version {SNAPSHOT_FORMAT_VERSION}); write it again with this version's `apply --snapshot`"
    )]
    UnsupportedVersion(u32),
    /// `environment: local` (the simulator's modes are sandbox and production).
    #[error("`environment` is `local`; a snapshot names the mode served (sandbox or production)")]
    LocalEnvironment,
    /// A rule's bucket range is out of 0..=100 or reversed.
    #[error(
        "app {bundle_id}: rule {rule} has buckets {from}..{to}; they must satisfy from <= to <= 100"
    )]
    BadBuckets {
        bundle_id: String,
        rule: usize,
        from: u8,
        to: u8,
    },
}

impl Snapshot {
    /// An empty snapshot for `environment`.
    pub fn new(environment: EnvironmentName) -> Self {
        Snapshot {
            kind: SNAPSHOT_KIND.to_string(),
            format_version: SNAPSHOT_FORMAT_VERSION,
            environment,
            source: None,
            apps: Vec::new(),
            versions: BTreeMap::new(),
        }
    }

    /// What the snapshot serves for `bundle_id` (`None`: not an app of it): the id of every
    /// message version it answers with, and of every image those versions use, as text.
    pub fn served_ids(&self, bundle_id: &str) -> Option<std::collections::BTreeSet<String>> {
        let app = self.app(bundle_id)?;
        let messages: Vec<uuid::Uuid> = app
            .approved
            .values()
            .flat_map(|by_locale| by_locale.values().map(|v| v.message_id))
            .collect();
        let images = messages
            .iter()
            .filter_map(|id| self.versions.get(id))
            .flat_map(|facts| &facts.image_ids);
        Some(
            messages
                .iter()
                .chain(images)
                .map(uuid::Uuid::to_string)
                .collect(),
        )
    }

    /// Parses and checks a snapshot file's text.
    pub fn from_json(text: &str) -> Result<Snapshot, SnapshotError> {
        let snapshot: Snapshot = serde_json::from_str(text)?;
        snapshot.check()?;
        Ok(snapshot)
    }

    /// The checks [`Snapshot::from_json`] makes beyond the shape.
    pub fn check(&self) -> Result<(), SnapshotError> {
        if self.kind != SNAPSHOT_KIND {
            return Err(SnapshotError::WrongKind(self.kind.clone()));
        }
        if self.format_version != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotError::UnsupportedVersion(self.format_version));
        }
        if self.environment == EnvironmentName::Local {
            return Err(SnapshotError::LocalEnvironment);
        }
        for app in &self.apps {
            for (i, rule) in app.rules.iter().enumerate() {
                if let Some(b) = rule.buckets
                    && (b.from > b.to || b.to > 100)
                {
                    return Err(SnapshotError::BadBuckets {
                        bundle_id: app.bundle_id.clone(),
                        rule: i,
                        from: b.from,
                        to: b.to,
                    });
                }
            }
        }
        Ok(())
    }

    /// Pretty JSON with a final newline, as `apply --snapshot` writes it.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a snapshot serializes");
        text.push('\n');
        text
    }

    pub fn app(&self, bundle_id: &str) -> Option<&AppRealtime> {
        self.apps.iter().find(|a| a.bundle_id == bundle_id)
    }

    /// The app with this App Store id (only apps whose manifest gives `app.appAppleId`).
    pub fn app_by_apple_id(&self, app_apple_id: i64) -> Option<&AppRealtime> {
        self.apps
            .iter()
            .find(|a| a.app_apple_id == Some(app_apple_id))
    }

    /// Every message id the snapshot may answer with, per app: what prune must keep.
    pub fn served_message_ids(&self) -> BTreeMap<&str, Vec<uuid::Uuid>> {
        self.apps
            .iter()
            .map(|app| {
                let ids = app
                    .approved
                    .values()
                    .flat_map(|by_locale| by_locale.values().map(|v| v.message_id))
                    .collect();
                (app.bundle_id.as_str(), ids)
            })
            .collect()
    }
}

/// A customer's stable split bucket 0..100 in one split group: SHA-256 of
/// `retainctl/v2/split/{bundleId}/{salt}/{originalTransactionId}`, the first 8 bytes
/// big-endian, mod 100, where `salt` is [`split_salt`] of the group's rules. Stable across
/// runs, machines and versions of retainctl; different per app and per split group, so
/// that the first arm of every experiment does not get the same customers.
pub fn bucket(bundle_id: &str, salt: &str, original_transaction_id: &str) -> u8 {
    let mut hasher = Sha256::new();
    hasher.update(b"retainctl/v2/split/");
    hasher.update(bundle_id.as_bytes());
    hasher.update(b"/");
    hasher.update(salt.as_bytes());
    hasher.update(b"/");
    hasher.update(original_transaction_id.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % 100) as u8
}

/// What a split group's buckets are salted with: what all its rules share, the product
/// and the locales (sorted, comma-separated; `*` for all): `premium/de-DE,en-US`, `*/*`.
pub fn split_salt(rule: &Rule) -> String {
    let locales = match &rule.locales {
        Some(list) => {
            let mut sorted: Vec<&str> = list.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            sorted.dedup();
            sorted.join(",")
        }
        None => "*".to_string(),
    };
    format!("{}/{locales}", rule.product)
}

/// The app locale a request's `userLocale` stands for, if any.
///
/// What Apple sends: `DecodedRealtimeRequestBody.userLocale` is documented as "the
/// device's locale" and typed `locale`, Apple's "string that represents a locale short
/// code" from the App Store's list, case-sensitive (the same type as a default message's
/// locale: `en-US`, `ja`, `zh-Hans`). Because it describes a device, a server must still
/// expect a device spelling (`en_US`, `ja-JP`, `zh-Hans-CN`) or a region the app does not
/// cover (`en-IN` for an app with `en-US`). In order:
/// 1. exactly one of the app's locales;
/// 2. with `_` written `-`, ignoring case (`en_US`, `en-us` → `en-US`);
/// 3. dropping trailing subtags while one is left (`zh-Hans-CN` → `zh-Hans`, `ja-JP` → `ja`);
/// 4. Chinese by region when the script is missing (`zh-CN`, `zh-SG` → `zh-Hans`;
///    `zh-TW`, `zh-HK`, `zh-MO` → `zh-Hant`);
/// 5. the App Store code `validate` suggests for it (the same table: `nb-NO`, `nb_NO`,
///    `nn` → `no`; `iw` → `he`; `in` → `id`), when the app has it;
/// 6. the one app locale of the same language, when there is exactly one (`de-AT` →
///    `de-DE`; `en-IN` with both `en-US` and `en-GB` matches none).
pub fn resolve_locale<'a>(app: &'a AppRealtime, user_locale: &str) -> Option<&'a str> {
    let candidates: Vec<&'a str> = if app.locales.is_empty() {
        let mut seen: Vec<&'a str> = app
            .approved
            .values()
            .flat_map(|by_locale| by_locale.keys().map(String::as_str))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen
    } else {
        app.locales.iter().map(String::as_str).collect()
    };
    if let Some(&exact) = candidates.iter().find(|c| **c == user_locale) {
        return Some(exact);
    }
    let normalized = user_locale.trim().replace('_', "-");
    let find = |wanted: &str| {
        candidates
            .iter()
            .copied()
            .find(|c| c.eq_ignore_ascii_case(wanted))
    };
    let mut prefix = normalized.as_str();
    loop {
        if prefix.is_empty() {
            break;
        }
        if let Some(found) = find(prefix) {
            return Some(found);
        }
        match prefix.rfind('-') {
            Some(cut) => prefix = &prefix[..cut],
            None => break,
        }
    }
    let mut subtags = normalized.split('-');
    let language = subtags.next().unwrap_or_default();
    if language.eq_ignore_ascii_case("zh") {
        let script = subtags.find_map(|tag| match tag.to_ascii_uppercase().as_str() {
            "CN" | "SG" => Some("zh-Hans"),
            "TW" | "HK" | "MO" => Some("zh-Hant"),
            _ => None,
        });
        if let Some(found) = script.and_then(find) {
            return Some(found);
        }
    }
    if language.is_empty() {
        return None;
    }
    // The spellings `validate` maps to Apple's codes (`nb-NO`, `nb_NO`, `nn` → `no`,
    // `iw` → `he`, `in` → `id`, …): one table, `crate::apple::limits::suggest_locale`.
    if let Some(found) = crate::apple::limits::suggest_locale(user_locale).and_then(find) {
        return Some(found);
    }
    let mut same_language = candidates.iter().copied().filter(|c| {
        c.split('-')
            .next()
            .is_some_and(|l| l.eq_ignore_ascii_case(language))
    });
    match (same_language.next(), same_language.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// First rule (in order) that matches product, locale and bucket AND has an approved
/// version for the locale → [`Choice::Answer`]; a matching rule without approved content
/// falls through to the next; none → [`Choice::Fallback`]. The locale is resolved with
/// [`resolve_locale`]; an unknown locale falls back.
pub fn choose<'a>(app: &'a AppRealtime, query: &RealtimeQuery<'_>) -> Choice<'a> {
    let Some(locale) = resolve_locale(app, query.user_locale) else {
        return Choice::Fallback;
    };
    // The bucket of the last split group seen (consecutive rules of a group share it).
    let mut customer_bucket: Option<(String, u8)> = None;
    for (i, rule) in app.rules.iter().enumerate() {
        if rule.product != "*" && rule.product != query.product_id {
            continue;
        }
        if let Some(locales) = &rule.locales
            && !locales.iter().any(|l| l == locale)
        {
            continue;
        }
        if let Some(range) = rule.buckets {
            let salt = split_salt(rule);
            let b = match &customer_bucket {
                Some((s, b)) if *s == salt => *b,
                _ => {
                    let b = bucket(&app.bundle_id, &salt, query.original_transaction_id);
                    customer_bucket = Some((salt, b));
                    b
                }
            };
            if !range.contains(b) {
                continue;
            }
        }
        let Some(key) = rule.answer.message_key() else {
            return Choice::Control { rule: i };
        };
        if let Some(version) = app.approved.get(key).and_then(|by| by.get(locale)) {
            return Choice::Answer {
                rule: i,
                answer: &rule.answer,
                message_id: version.message_id,
            };
        }
    }
    Choice::Fallback
}

#[cfg(test)]
mod tests;

pub mod rules;
pub mod store;
