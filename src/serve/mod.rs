//! `retainctl serve`: Apple's realtime endpoint (*Get Retention Message*), answering only
//! with content the snapshot lists as approved.
//!
//! - [`verify`]: Apple's signed request, checked as Apple's `SignedDataVerifier` checks it.
//! - [`offer`]: `promotionalOfferSignatureV2`, made as Apple's library makes it.
//! - here: what is served ([`Served`]: the snapshot, the offer keys it names, the trusted
//!   roots), the answer to one request ([`Served::answer`], no I/O), and the HTTP server
//!   around it (reload on change, `/healthz`, graceful shutdown).
//!
//! **Nothing to say.** When no rule has approved content for a request, the server answers
//! `204 No Content` with an empty body. Apple documents one success answer (HTTP 200 with a
//! `RealtimeResponseBody` holding exactly one of `message`, `alternateProduct`,
//! `promotionalOffer`, `advancedCommerceInfo`) and one rule for everything else: "If your
//! server response fails for any reason, the system displays a default retention message
//! that you configure in advance" (*Responding to real-time retention messaging requests*,
//! developer.apple.com/documentation/retentionmessaging). Apple's order at cancellation is
//! the realtime answer, then a message set in App Store Connect, then the default set
//! through the API (WWDC26 session 309). A body-less 204 is not a `RealtimeResponseBody`,
//! so Apple shows its fallback, and it says plainly that the server chose to say nothing
//! (monitoring does not count it as an error as it would a 5xx). An empty `{}` is not
//! used: Apple does not document it, and a body with none of the options is an invalid
//! response (what the simulator's performance test reports for it).

pub mod offer;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::apple::credentials::CredentialError;
use crate::manifest::EnvironmentName;
use crate::realtime::{AppRealtime, Choice, RealtimeQuery, RuleAnswer, Snapshot, SnapshotError};
use offer::OfferSigner;
use verify::{AppleEnvironment, Refusal, RequestVerifier, TrustRootError};

/// The largest trust root file read.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Where `serve` reads what it serves.
#[derive(Debug, Clone)]
pub struct Sources {
    pub snapshot: PathBuf,
    /// PEM files of roots trusted besides Apple Root CA - G3.
    pub trust_roots: Vec<PathBuf>,
}

/// Why what `serve` reads cannot be served (the old snapshot stays served on a reload).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path} is larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{path}: {source}")]
    Snapshot {
        path: PathBuf,
        source: SnapshotError,
    },
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

/// A file's identity for change detection: modification time, length and (on unix) inode.
/// File times have a coarse clock (a few ms), so a file changed within [`RACY`] of its load
/// is also compared by content (as git does for a "racily clean" index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp(Option<SystemTime>, u64, u64);

/// Files written this close to their load are compared by content until they are older.
const RACY: Duration = Duration::from_secs(2);

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp(m.modified().ok(), m.len(), inode))
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    use crate::loader::{Unreadable, read_capped};
    read_capped(path, limit).map_err(|e| match e {
        Unreadable::TooLarge { .. } => LoadError::TooLarge {
            path: path.to_path_buf(),
            limit,
        },
        Unreadable::NotRegular(_) => LoadError::Unreadable {
            path: path.to_path_buf(),
            reason: "not a regular file".into(),
        },
        Unreadable::Io(e) => LoadError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
    })
}

/// Everything one request needs, swapped whole when a file changes.
pub struct Served {
    pub snapshot: Snapshot,
    /// Per app of the snapshot (same order): the offer signer, when it has offer rules.
    signers: Vec<Option<OfferSigner>>,
    verifier: RequestVerifier,
    /// SHA-256 of the snapshot file (hex), its version for `/healthz`.
    pub digest: String,
    pub loaded_at: SystemTime,
    /// When the snapshot file was written.
    pub written_at: Option<SystemTime>,
    stamps: Vec<Option<Stamp>>,
    /// SHA-256 of every file read (snapshot and trust roots).
    content: String,
    /// A file was written within [`RACY`] of the load: its stamp may not show a change.
    racy: bool,
    pub trusted_roots: usize,
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
    /// Rule `rule` answered with `message_id`.
    Answered {
        rule: usize,
        kind: AnswerKind,
        message_id: uuid::Uuid,
    },
    /// No rule had approved content: 204, Apple shows its fallback.
    Fallback,
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    Message,
    PromotionalOffer,
    AlternateProduct,
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
    /// Reads the snapshot, the trust roots and the offer keys the snapshot names (through
    /// `lookup`, the process environment in production).
    pub fn load(
        sources: &Sources,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Served, LoadError> {
        let snapshot_stamp = stamp(&sources.snapshot);
        let bytes = read_limited(&sources.snapshot, crate::realtime::MAX_SNAPSHOT_BYTES)?;
        let text = String::from_utf8_lossy(&bytes);
        let snapshot = Snapshot::from_json(&text).map_err(|source| LoadError::Snapshot {
            path: sources.snapshot.clone(),
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
        let mut roots = vec![verify::APPLE_ROOT_CA_G3.to_vec()];
        let mut stamps = vec![snapshot_stamp];
        let mut content = {
            use sha2::Digest;
            sha2::Sha256::new_with_prefix(&bytes)
        };
        for path in &sources.trust_roots {
            stamps.push(stamp(path));
            let pem = read_limited(path, MAX_PEM_BYTES)?;
            sha2::Digest::update(&mut content, &pem);
            roots.extend(
                verify::parse_trust_pem(&pem).map_err(|source| LoadError::TrustRoot {
                    path: path.clone(),
                    source,
                })?,
            );
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
        let loaded_at = SystemTime::now();
        let racy = stamps.iter().any(|s| match s.and_then(|s| s.0) {
            // a time in the future (a clock ahead) counts as recent only within RACY
            Some(written) => match loaded_at.duration_since(written) {
                Ok(age) => age < RACY,
                Err(ahead) => ahead.duration() < RACY,
            },
            None => false,
        });
        let content = sha2::Digest::finalize(content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Served {
            content,
            racy,
            trusted_roots: roots.len(),
            verifier: RequestVerifier::new(roots, environment),
            signers,
            digest: crate::ids::sha256_hex(&bytes),
            loaded_at,
            written_at: snapshot_stamp.and_then(|s| s.0),
            stamps,
            snapshot,
        })
    }

    /// The files' stamps now, in the order of `stamps`.
    fn stamps_now(sources: &Sources) -> Vec<Option<Stamp>> {
        std::iter::once(&sources.snapshot)
            .chain(&sources.trust_roots)
            .map(|p| stamp(p))
            .collect()
    }

    /// The answer to a request body received at `now`. No I/O.
    pub fn answer(&self, body: &[u8], now: SystemTime) -> Answer {
        let refused = |refusal: Refusal, transaction: Option<String>| Answer {
            status: refusal_status(&refusal),
            body: vec![],
            outcome: Outcome::Refused(refusal),
            transaction,
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
        let (rule, answer, message_id) = match crate::realtime::choose(app, &query) {
            Choice::Answer {
                rule,
                answer,
                message_id,
            } => (rule, answer, message_id),
            Choice::Fallback => {
                return Answer {
                    status: StatusCode::NO_CONTENT,
                    body: vec![],
                    outcome: Outcome::Fallback,
                    transaction,
                };
            }
        };
        // Uuid's Display is lower-case and hyphenated.
        let id = message_id.to_string();
        let (kind, value) = match answer {
            RuleAnswer::Message(_) => (
                AnswerKind::Message,
                json!({ "message": { "messageIdentifier": id } }),
            ),
            RuleAnswer::AlternateProduct {
                product_id,
                billing_plan_type,
                ..
            } => {
                let mut part = json!({ "messageIdentifier": id, "productId": product_id });
                if let Some(plan) = billing_plan_type {
                    part["billingPlanType"] = json!(plan);
                }
                (
                    AnswerKind::AlternateProduct,
                    json!({ "alternateProduct": part }),
                )
            }
            RuleAnswer::PromotionalOffer { offer_id, .. } => {
                let signer = self.signers[index]
                    .as_ref()
                    .expect("Served::load makes a signer for every app with offer rules");
                let signature = signer.sign(
                    &request.product_id,
                    offer_id,
                    Some(&request.original_transaction_id),
                    now,
                );
                (
                    AnswerKind::PromotionalOffer,
                    json!({ "promotionalOffer": {
                        "messageIdentifier": id,
                        "promotionalOfferSignatureV2": signature,
                    }}),
                )
            }
        };
        Answer {
            status: StatusCode::OK,
            body: serde_json::to_vec(&value).expect("JSON serializes"),
            outcome: Outcome::Answered {
                rule,
                kind,
                message_id,
            },
            transaction,
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

/// The server's shared state: what is served now, and how to read it again.
pub struct ServeState {
    served: ArcSwap<Served>,
    sources: Sources,
    /// The last reload that failed (kept until one succeeds), for `/healthz`.
    last_error: Mutex<Option<String>>,
    /// Serializes reloads (the poller and a request's trust re-check), and holds the
    /// stamps of files that failed to load (not read again until they change).
    reloading: Mutex<Option<Vec<Option<Stamp>>>>,
}

/// How a reload went.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    Unchanged,
    Reloaded,
    /// The files changed but cannot be served; the old snapshot stays.
    Kept,
}

impl ServeState {
    pub fn new(served: Served, sources: Sources) -> Arc<ServeState> {
        Arc::new(ServeState {
            served: ArcSwap::from_pointee(served),
            sources,
            last_error: Mutex::new(None),
            reloading: Mutex::new(None),
        })
    }

    pub fn served(&self) -> Arc<Served> {
        self.served.load_full()
    }

    /// Reads the files again if one changed; a bad new snapshot keeps the old one.
    pub fn reload_if_changed(&self) -> Reload {
        let mut failed = self.reloading.lock().expect("reload lock");
        let now = Served::stamps_now(&self.sources);
        let current = self.served.load_full();
        if now == current.stamps && !current.racy {
            return Reload::Unchanged;
        }
        if failed.as_ref() == Some(&now) {
            return Reload::Kept;
        }
        match Served::load(&self.sources, &|name| std::env::var(name).ok()) {
            Ok(next) if next.content == current.content => {
                // the same files (a racy stamp checked by content, or a bad file put back):
                // nothing to announce, and no error left to report
                self.served.store(Arc::new(next));
                *failed = None;
                *self.last_error.lock().expect("error lock") = None;
                Reload::Unchanged
            }
            Ok(next) => {
                tracing::info!(
                    snapshot = %self.sources.snapshot.display(),
                    version = &next.digest[..12],
                    apps = next.snapshot.apps.len(),
                    "snapshot reloaded"
                );
                self.served.store(Arc::new(next));
                *failed = None;
                *self.last_error.lock().expect("error lock") = None;
                Reload::Reloaded
            }
            Err(e) => {
                let text = e.to_string();
                let mut last = self.last_error.lock().expect("error lock");
                if last.as_deref() != Some(&text) {
                    tracing::warn!("keeping the snapshot served: {text}");
                }
                *last = Some(text);
                *failed = Some(now);
                Reload::Kept
            }
        }
    }

    /// Answers a request; a chain refused as untrusted re-reads changed trust roots once
    /// (the simulator writes a new root each time it starts).
    pub fn answer(&self, body: &[u8]) -> Answer {
        let now = SystemTime::now();
        let served = self.served.load_full();
        let answer = served.answer(body, now);
        if answer.outcome == Outcome::Refused(Refusal::UntrustedChain) {
            self.reload_if_changed();
            // Another request may have reloaded first: answer again with whatever is
            // served now if it is not what refused this one.
            let latest = self.served.load_full();
            if !Arc::ptr_eq(&served, &latest) {
                return latest.answer(body, now);
            }
        }
        answer
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    status: &'static str,
    environment: EnvironmentName,
    snapshot: HealthSnapshot,
    trusted_roots: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_reload_error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HealthSnapshot {
    path: String,
    format_version: u32,
    /// SHA-256 of the file served.
    sha256: String,
    apps: usize,
    loaded_at: String,
    /// Seconds since the file served was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    age_seconds: Option<u64>,
}

async fn healthz(State(state): State<Arc<ServeState>>) -> Response {
    let served = state.served();
    let health = Health {
        status: "ok",
        environment: served.snapshot.environment,
        snapshot: HealthSnapshot {
            path: state.sources.snapshot.display().to_string(),
            format_version: served.snapshot.format_version,
            sha256: served.digest.clone(),
            apps: served.snapshot.apps.len(),
            loaded_at: humantime::format_rfc3339_seconds(served.loaded_at).to_string(),
            age_seconds: served
                .written_at
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .map(|d| d.as_secs()),
        },
        trusted_roots: served.trusted_roots,
        last_reload_error: state.last_error.lock().expect("error lock").clone(),
    };
    axum::Json(health).into_response()
}

async fn realtime(State(state): State<Arc<ServeState>>, body: Bytes) -> Response {
    let start = Instant::now();
    let answer = state.answer(&body);
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let tx = answer.transaction.as_deref().unwrap_or("-");
    match &answer.outcome {
        Outcome::Answered {
            rule,
            kind,
            message_id,
        } => tracing::info!(
            tx,
            rule,
            kind = ?kind,
            message_id = %message_id,
            status = answer.status.as_u16(),
            ms,
            "realtime answered"
        ),
        Outcome::Fallback => tracing::info!(
            tx,
            status = answer.status.as_u16(),
            ms,
            "realtime fallback: no rule has approved content"
        ),
        Outcome::Refused(refusal) => {
            tracing::info!(tx, status = answer.status.as_u16(), ms, "realtime refused");
            tracing::debug!(tx, "realtime refused: {refusal}");
        }
    }
    let mut response = (answer.status, answer.body).into_response();
    if answer.status == StatusCode::OK {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
    }
    response
}

/// How long a client may take to send a request's headers; also how long a kept-alive
/// connection may stay idle.
pub const HEADER_DEADLINE: Duration = Duration::from_secs(5);
/// How long one request may take, its body included (Apple waits about 700 ms).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// Connections open at once; more are closed as they arrive.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long shutdown waits for the requests in flight.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// The HTTP routes: `GET /healthz`, and `POST` on any other path (the realtime URL's path
/// is the operator's choice). A request not done within [`REQUEST_DEADLINE`] gets 408.
pub fn router(state: Arc<ServeState>) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/", post(realtime))
        .route("/{*path}", post(realtime))
        .layer(axum::extract::DefaultBodyLimit::max(verify::MAX_BODY))
        .layer(axum::middleware::from_fn(within_deadline))
        .with_state(state)
}

async fn within_deadline(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(REQUEST_DEADLINE, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// Serves `router` on `listener` until `shutdown`, then waits at most
/// [`SHUTDOWN_DEADLINE`] for the requests in flight. HTTP/1.1 with the deadlines above and
/// at most [`MAX_CONNECTIONS`] connections, so slow or idle clients cannot hold the server
/// (or its shutdown).
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // out of file descriptors, most often: wait for connections to close
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!("{MAX_CONNECTIONS} connections open: a new one is closed");
            continue;
        };
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(HEADER_DEADLINE);
        let connection = graceful.watch(http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        ));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_DEADLINE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still open {}s after the signal: stopping without them",
            SHUTDOWN_DEADLINE.as_secs()
        );
    }
}

/// Polls the files every `interval` and reloads what changed.
pub fn spawn_reloader(state: Arc<ServeState>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let state = state.clone();
            let _ = tokio::task::spawn_blocking(move || state.reload_if_changed()).await;
        }
    })
}

/// A future that resolves when SIGTERM or ctrl-c (SIGINT) arrives. The handlers are
/// installed at once, before the future is first polled: a signal that arrives while the
/// server starts is not lost (nor does it kill the process).
#[cfg(unix)]
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutting down: finishing the requests in flight");
    })
}

#[cfg(not(unix))]
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing the requests in flight");
    })
}

#[cfg(test)]
mod tests;
