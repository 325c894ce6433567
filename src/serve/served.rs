//! What is served, built whole from what one reload read ([`Inputs`]): the snapshot, the
//! offer keys it names, the trusted roots, and the warnings an operator must see; and the
//! answer to one request ([`Served::answer`], no I/O).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use axum::http::StatusCode;
use serde::Serialize;

use crate::apple::credentials::CredentialError;
use crate::manifest::EnvironmentName;
use crate::realtime::store::SnapshotLocation;
use crate::realtime::{
    AppRealtime, Choice, RealtimeQuery, RuleAnswer, Snapshot, SnapshotError, SnapshotSource,
};

use super::offer::OfferSigner;
use super::verify::{self, AppleEnvironment, Refusal, RequestVerifier, TrustRootError};

/// The largest trust root file read.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Where `serve` reads what it serves.
#[derive(Debug, Clone)]
pub struct Sources {
    pub snapshot: SnapshotLocation,
    /// PEM files of roots trusted besides Apple Root CA - G3.
    pub trust_roots: Vec<PathBuf>,
    /// `--env local`: a snapshot written from the simulator is expected.
    pub env_local: bool,
}

/// Why what `serve` reads cannot be served (the old snapshot stays served on a reload).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error(transparent)]
    Store(crate::realtime::store::StoreError),
    #[error("{path} is larger than {limit} bytes")]
    TooLarge { path: String, limit: u64 },
    #[error("{path}: {source}")]
    Snapshot { path: String, source: SnapshotError },
    #[error("trust root {path} {source}")]
    TrustRoot {
        path: PathBuf,
        source: TrustRootError,
    },
    #[error(
        "app {bundle_id} answers with promotional offers but the snapshot names no offer key: set `app.offerSigning` (the environment variables of the subscription offer key) and apply again"
    )]
    NoOfferKey { bundle_id: String },
    #[error(
        "the snapshot holds {apps} apps and {bundle_id} has no appAppleId: with several apps every one needs `app.appAppleId` in its manifest (Apple's request names the app only by it); add it and apply again"
    )]
    AppWithoutAppleId { apps: usize, bundle_id: String },
    #[error("app {bundle_id}: the subscription offer key (app.offerSigning): {source}")]
    OfferKey {
        bundle_id: String,
        source: CredentialError,
    },
}

/// Reads a file of at most `limit` bytes, naming it in the error.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    use crate::loader::{Unreadable, read_capped};
    let name = || path.display().to_string();
    read_capped(path, limit).map_err(|e| match e {
        Unreadable::TooLarge { .. } => LoadError::TooLarge {
            path: name(),
            limit,
        },
        Unreadable::NotRegular(_) => LoadError::Unreadable {
            path: name(),
            reason: "not a regular file".into(),
        },
        Unreadable::Io(e) => LoadError::Unreadable {
            path: name(),
            reason: e.to_string(),
        },
    })
}

/// What one reload read: the snapshot's bytes and each trust root file's bytes (or why
/// it could not be read).
#[derive(Debug)]
pub struct Inputs {
    pub snapshot: Vec<u8>,
    /// SHA-256 of `snapshot` (hex), hashed once per read (a snapshot may be 16 MiB).
    snapshot_digest: String,
    /// When the snapshot was written (file time, or the object's last modification).
    pub snapshot_written: Option<SystemTime>,
    pub roots: Vec<(PathBuf, Result<Vec<u8>, LoadError>)>,
}

impl Inputs {
    pub fn new(
        snapshot: Vec<u8>,
        written: Option<SystemTime>,
        roots: Vec<(PathBuf, Result<Vec<u8>, LoadError>)>,
    ) -> Inputs {
        Inputs {
            snapshot_digest: crate::desired::ids::sha256_hex(&snapshot),
            snapshot,
            snapshot_written: written,
            roots,
        }
    }

    /// Reads every trust root of `sources` beside a snapshot already read.
    pub fn with_roots(sources: &Sources, snapshot: Vec<u8>, written: Option<SystemTime>) -> Inputs {
        let roots = sources
            .trust_roots
            .iter()
            .map(|path| (path.clone(), read_limited(path, MAX_PEM_BYTES)))
            .collect();
        Inputs::new(snapshot, written, roots)
    }

    /// SHA-256 over the trust roots as read, those that could not be read included (by
    /// their path and error), so that a root coming back or going away is a change.
    pub fn roots_digest(&self) -> String {
        use sha2::Digest;
        let mut hash = sha2::Sha256::new();
        for (path, read) in &self.roots {
            hash.update(path.as_os_str().as_encoded_bytes());
            match read {
                Ok(bytes) => hash.update(crate::desired::ids::sha256_hex(bytes)),
                Err(e) => hash.update(format!("unreadable: {e}")),
            }
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// SHA-256 over everything read: the snapshot and the trust roots.
    pub fn content_digest(&self) -> String {
        let both = format!("{}{}", self.snapshot_digest, self.roots_digest());
        crate::desired::ids::sha256_hex(both.as_bytes())
    }
}

/// How strictly trust roots are read: at start a root that cannot be read stops `serve`;
/// on a reload it is no longer trusted (a removed root must not stay trusted) and said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootPolicy {
    Strict,
    DropUnreadable,
}

/// Everything one request needs, swapped whole when a file changes.
pub struct Served {
    pub snapshot: Snapshot,
    /// Per app of the snapshot (same order): the offer signer, when it has offer rules.
    signers: Vec<Option<OfferSigner>>,
    verifier: RequestVerifier,
    /// SHA-256 of the snapshot (hex), its version for `/healthz` and `/metrics`.
    pub digest: String,
    /// [`Inputs::content_digest`] of what this was built from.
    pub content: String,
    pub loaded_at: SystemTime,
    /// When the snapshot was written.
    pub written_at: Option<SystemTime>,
    pub trusted_roots: usize,
    /// What an operator must hear, at start and at every reload that serves this.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("digest", &self.digest)
            .field("apps", &self.snapshot.apps.len())
            .finish_non_exhaustive()
    }
}

/// What happened to one request (the log line's `outcome`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Rule `rule` of app `app` answered with `message_id`.
    Answered {
        app: usize,
        rule: usize,
        kind: AnswerKind,
        message_id: uuid::Uuid,
    },
    /// Rule `rule` of app `app` is a split's control arm: 204, Apple shows its fallback.
    Control { app: usize, rule: usize },
    /// No rule of app `app` had approved content: 204, Apple shows its fallback.
    Fallback { app: usize },
    /// Refused (nothing known of the app: a refused request may name any).
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    Message,
    PromotionalOffer,
    AlternateProduct,
}

impl AnswerKind {
    /// The `outcome` label of `/metrics`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::PromotionalOffer => "promotional_offer",
            Self::AlternateProduct => "alternate_product",
        }
    }
}

/// One request's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// JSON, or empty.
    pub body: Vec<u8>,
    pub outcome: Outcome,
    /// [`verify::hashed`] of the original transaction id, once verified.
    pub transaction: Option<String>,
    /// A verified request for a known app, and when it was answered: what the decision
    /// log records (moved here, not copied; its original transaction id is only ever
    /// hashed).
    pub request: Option<(verify::RealtimeRequest, SystemTime)>,
}

/// The HTTP status of a refusal: no detail beyond the class.
pub fn refusal_status(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Refusal::NotARealtimeBody | Refusal::MalformedJws | Refusal::BadPayload => {
            StatusCode::BAD_REQUEST
        }
        Refusal::WrongEnvironment { .. } | Refusal::UnknownApp(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    }
}

impl Served {
    /// Builds what is served from what a reload read, reading the offer keys the snapshot
    /// names through `lookup` (the process environment in production).
    pub fn build(
        inputs: &Inputs,
        sources: &Sources,
        roots_policy: RootPolicy,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Served, LoadError> {
        let name = sources.snapshot.to_string();
        let text = String::from_utf8_lossy(&inputs.snapshot);
        let snapshot = Snapshot::from_json(&text).map_err(|source| LoadError::Snapshot {
            path: name.clone(),
            source,
        })?;
        if snapshot.apps.len() > 1
            && let Some(app) = snapshot.apps.iter().find(|a| a.app_apple_id.is_none())
        {
            return Err(LoadError::AppWithoutAppleId {
                apps: snapshot.apps.len(),
                bundle_id: app.bundle_id.clone(),
            });
        }
        let mut warnings = vec![];
        let mut roots = vec![verify::APPLE_ROOT_CA_G3.to_vec()];
        let mut extra_roots = 0;
        for (path, read) in &inputs.roots {
            let parsed = match read {
                Ok(pem) => verify::parse_trust_pem(pem).map_err(|source| LoadError::TrustRoot {
                    path: path.clone(),
                    source,
                }),
                Err(e) => Err(LoadError::Unreadable {
                    path: path.display().to_string(),
                    reason: match e {
                        LoadError::Unreadable { reason, .. } => reason.clone(),
                        other => other.to_string(),
                    },
                }),
            };
            match (parsed, roots_policy) {
                (Ok(certs), _) => {
                    extra_roots += 1;
                    roots.extend(certs);
                }
                (Err(e), RootPolicy::Strict) => return Err(e),
                (Err(e), RootPolicy::DropUnreadable) => warnings.push(format!(
                    "no longer trusting --trust-root {}: {e}",
                    path.display()
                )),
            }
        }
        let signers = snapshot
            .apps
            .iter()
            .map(|app| offer_signer(app, lookup))
            .collect::<Result<Vec<_>, _>>()?;
        let environment = match snapshot.environment {
            EnvironmentName::Production => AppleEnvironment::Production,
            // `local` is refused by Snapshot::check
            EnvironmentName::Sandbox | EnvironmentName::Local => AppleEnvironment::Sandbox,
        };
        if snapshot.source == Some(SnapshotSource::Simulator) && !sources.env_local {
            warnings.push(format!(
                "{name} was written from the simulator (--env local): Apple knows none of its message ids; serve it with --env local, or write one with `apply --env sandbox|production --snapshot`"
            ));
        }
        if snapshot.environment == EnvironmentName::Production && extra_roots > 0 {
            warnings.push(format!(
                "serving production and trusting {extra_roots} root(s) besides Apple's (--trust-root): whoever holds their keys can sign requests this server accepts"
            ));
        }
        Ok(Served {
            content: inputs.content_digest(),
            trusted_roots: roots.len(),
            verifier: RequestVerifier::new(roots, environment),
            signers,
            digest: inputs.snapshot_digest.clone(),
            loaded_at: SystemTime::now(),
            written_at: inputs.snapshot_written,
            warnings,
            snapshot,
        })
    }

    /// What verifies Apple's signed data here: the trusted roots and the environment.
    pub fn verifier(&self) -> &RequestVerifier {
        &self.verifier
    }

    /// The answer to a request body received at `now`. No I/O.
    pub fn answer(&self, body: &[u8], now: SystemTime) -> Answer {
        let refused = |refusal: Refusal, transaction: Option<String>| Answer {
            status: refusal_status(&refusal),
            body: vec![],
            outcome: Outcome::Refused(refusal),
            transaction,
            request: None,
        };
        let request = match self.verifier.verify(body, now) {
            Ok(r) => r,
            Err(refusal) => return refused(refusal, None),
        };
        let transaction = Some(verify::hashed(&request.original_transaction_id));
        let Some(index) = self.app_index(request.app_apple_id) else {
            return refused(
                Refusal::UnknownApp(request.app_apple_id.unwrap_or_default()),
                transaction,
            );
        };
        let app = &self.snapshot.apps[index];
        let query = RealtimeQuery {
            product_id: &request.product_id,
            user_locale: &request.user_locale,
            original_transaction_id: &request.original_transaction_id,
        };
        // 204: Apple shows its default message.
        let nothing = |outcome: Outcome, transaction: Option<String>, request| Answer {
            status: StatusCode::NO_CONTENT,
            body: vec![],
            outcome,
            transaction,
            request: Some((request, now)),
        };
        let (rule, answer, message_id) = match crate::realtime::choose(app, &query) {
            Choice::Answer {
                rule,
                answer,
                message_id,
            } => (rule, answer, message_id),
            Choice::Control { rule } => {
                return nothing(Outcome::Control { app: index, rule }, transaction, request);
            }
            Choice::Fallback => {
                return nothing(Outcome::Fallback { app: index }, transaction, request);
            }
        };
        let mut id = uuid::Uuid::encode_buffer();
        let id: &str = message_id.hyphenated().encode_lower(&mut id);
        let (kind, body) = match answer {
            RuleAnswer::Message(_) => (
                AnswerKind::Message,
                AnswerBody::Message(MessagePart {
                    message_identifier: id,
                }),
            ),
            RuleAnswer::AlternateProduct {
                product_id,
                billing_plan_type,
                ..
            } => (
                AnswerKind::AlternateProduct,
                AnswerBody::AlternateProduct(AlternateProductPart {
                    message_identifier: id,
                    product_id,
                    billing_plan_type: billing_plan_type.as_deref(),
                }),
            ),
            RuleAnswer::Control => {
                return nothing(Outcome::Control { app: index, rule }, transaction, request);
            }
            RuleAnswer::PromotionalOffer { offer_id, .. } => {
                let signer = self.signers[index]
                    .as_ref()
                    .expect("Served::build makes a signer for every app with offer rules");
                let signature = signer.sign(
                    &request.product_id,
                    offer_id,
                    Some(&request.original_transaction_id),
                    now,
                );
                (
                    AnswerKind::PromotionalOffer,
                    AnswerBody::PromotionalOffer(PromotionalOfferPart {
                        message_identifier: id,
                        promotional_offer_signature_v2: signature,
                    }),
                )
            }
        };
        Answer {
            status: StatusCode::OK,
            body: serde_json::to_vec(&body).expect("JSON serializes"),
            outcome: Outcome::Answered {
                app: index,
                rule,
                kind,
                message_id,
            },
            transaction,
            request: Some((request, now)),
        }
    }

    /// The app a request is for: the one with its `appAppleId`, else the one app of the
    /// snapshot that gives none (an app without `app.appAppleId` answers any id).
    fn app_index(&self, app_apple_id: Option<i64>) -> Option<usize> {
        let apps = &self.snapshot.apps;
        if let Some(id) = app_apple_id
            && let Some(i) = apps.iter().position(|a| a.app_apple_id == Some(id))
        {
            return Some(i);
        }
        let mut open = apps
            .iter()
            .enumerate()
            .filter(|(_, a)| a.app_apple_id.is_none());
        match (open.next(), open.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }
}

/// The body of a 200 answer, as Apple's `RealtimeResponseBody` names its parts (fields in
/// the order a `serde_json::Value` wrote them before, so answers stay byte-identical).
#[derive(Serialize)]
enum AnswerBody<'a> {
    #[serde(rename = "message")]
    Message(MessagePart<'a>),
    #[serde(rename = "alternateProduct")]
    AlternateProduct(AlternateProductPart<'a>),
    #[serde(rename = "promotionalOffer")]
    PromotionalOffer(PromotionalOfferPart<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessagePart<'a> {
    message_identifier: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlternateProductPart<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_plan_type: Option<&'a str>,
    message_identifier: &'a str,
    product_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PromotionalOfferPart<'a> {
    message_identifier: &'a str,
    #[serde(rename = "promotionalOfferSignatureV2")]
    promotional_offer_signature_v2: String,
}

fn offer_signer(
    app: &AppRealtime,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<OfferSigner>, LoadError> {
    let has_offers = app
        .rules
        .iter()
        .any(|r| matches!(r.answer, RuleAnswer::PromotionalOffer { .. }));
    if !has_offers {
        return Ok(None);
    }
    let Some(names) = &app.offer_signing else {
        return Err(LoadError::NoOfferKey {
            bundle_id: app.bundle_id.clone(),
        });
    };
    OfferSigner::from_env(Some(names), &app.bundle_id, lookup)
        .map(Some)
        .map_err(|source| LoadError::OfferKey {
            bundle_id: app.bundle_id.clone(),
            source,
        })
}
