//! The simulator's HTTP side (axum): Apple's paths, token checks, rate limits, fault
//! injection, the admin routes (`/_sim/...`), and atomic persistence of the state.
//! The rules themselves live in `state.rs`.
//!
//! Each API request is carried out in a task of its own, so a request whose client hangs
//! up (a timeout, a killed run) still completes, as on a real server; such requests are
//! counted in the state's `abandonedRequests`.
//!
//! Admin routes: `GET /_sim/state`, `POST /_sim/review`, `GET|POST /_sim/faults`,
//! `GET /_sim/requests` (method, path and bearer token of the last API requests, kept in
//! memory only, for tests that look for leaked tokens), `GET /_sim/held` and
//! `POST /_sim/release` (requests held by a `hold` fault rule), and `/_sim/landing` (the
//! HTML "200 OK" page a redirect rule may point at), `GET /_sim/realtime-root` (the PEM
//! root certificate of the chain that signs realtime requests).
//!
//! Performance tests run for real (see `perf.rs`): Initiate Performance Test (sandbox)
//! answers at once with a PENDING run, and a task of its own sends the realtime requests.
//! A pass is written to the *shared record* (`perf-tests.json` beside the state file, or
//! `--shared-record FILE`), which a production-mode simulator reads before it accepts a
//! realtime URL: so `--env local` sandbox and production, or two `retainctl sim`
//! processes, share what Apple keeps per app.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};

use super::faults::{FaultConfig, Faults, Injected, RuleAnswer};
use super::perf::{PerfTestSettings, RealtimeSigner, SendAttemptResult};
use super::state::{Mode, Policy, World};
use crate::apple::ApiErrorCode;
use crate::apple::endpoints::{self, Endpoint, Route};
use crate::apple::model::{ErrorBody, ReviewState};
use crate::apple::pacer::Pacer;
use crate::apple::token;
use crate::atomic_file::Durability;

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub mode: Mode,
    /// When set, tokens must carry this bundle id; otherwise any bundle id is accepted
    /// and each gets its own state.
    pub bundle_id: Option<String>,
    pub products: Option<Vec<String>>,
    /// SPKI PEM public keys; a token signed by any of them is accepted.
    pub public_keys: Vec<String>,
    pub state_file: Option<PathBuf>,
    /// Production mode: approve PENDING uploads automatically after this long.
    pub review_delay: Option<Duration>,
    /// Apple's hourly budgets per endpoint (sandbox 10%).
    pub rate_limits: bool,
    pub faults: FaultConfig,
    pub perf: PerfConfig,
}

/// How performance tests run and where their passes are shared.
#[derive(Debug, Clone, Default)]
pub struct PerfConfig {
    pub settings: PerfTestSettings,
    /// The record of sandbox passes shared with production-mode simulators. Default:
    /// `perf-tests.json` beside the state file; in memory when there is none.
    pub shared_record: Option<PathBuf>,
    /// Write the root certificate of the realtime signing chain here (PEM). Default:
    /// `realtime-root.pem` beside the state file.
    pub realtime_root_out: Option<PathBuf>,
}

/// The shared record of sandbox performance tests that passed, per bundle id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SharedRecord {
    pub sandbox_passes: BTreeMap<String, SandboxPass>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SandboxPass {
    pub target: String,
    pub request_id: String,
    pub passed_at_ms: u64,
}

impl SharedRecord {
    fn load(path: &std::path::Path) -> Result<SharedRecord, String> {
        if !path.exists() {
            return Ok(SharedRecord::default());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a performance test record: {e}", path.display()))
    }
}

struct Core {
    world: World,
    policy: Policy,
    faults: Faults,
    limiters: std::collections::HashMap<String, Pacer>,
    rate_limits: bool,
    review_delay: Option<Duration>,
    state_file: Option<PathBuf>,
    /// The last API requests, oldest first (memory only, never logged or persisted).
    seen: VecDeque<SeenRequest>,
    /// Requests waiting for `POST /_sim/release`, by arrival number.
    held: BTreeMap<u64, Held>,
    next_held: u64,
    /// API requests being answered now, per endpoint.
    in_flight: std::collections::HashMap<Endpoint, u64>,
}

/// How many API requests `GET /_sim/requests` remembers.
const SEEN_REQUESTS: usize = 10_000;

/// An API request as `GET /_sim/requests` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    /// The `Authorization` header's token (after `Bearer `, or the whole value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

struct Held {
    method: String,
    path: String,
    release: tokio::sync::oneshot::Sender<()>,
}

/// A held request as `GET /_sim/held` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldRequest {
    pub id: u64,
    pub method: String,
    pub path: String,
}

#[derive(Clone)]
struct Sim {
    core: Arc<Mutex<Core>>,
    tokens: Arc<token::Verifier>,
    bundle_id: Option<String>,
    perf: Arc<PerfRuntime>,
}

/// What running performance tests needs, shared by all requests.
struct PerfRuntime {
    settings: PerfTestSettings,
    shared_record: Option<PathBuf>,
    signer: RealtimeSigner,
    http: reqwest::Client,
    /// Sandbox passes when there is no shared record file (this process only).
    memory: Mutex<SharedRecord>,
}

impl PerfRuntime {
    fn sandbox_passed(&self, bundle: &str) -> Result<bool, String> {
        match &self.shared_record {
            Some(path) => Ok(SharedRecord::load(path)?
                .sandbox_passes
                .contains_key(bundle)),
            None => Ok(self
                .memory
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .sandbox_passes
                .contains_key(bundle)),
        }
    }

    fn record_pass(&self, bundle: &str, pass: SandboxPass) -> Result<(), String> {
        match &self.shared_record {
            Some(path) => {
                let mut record = SharedRecord::load(path)?;
                record.sandbox_passes.insert(bundle.to_string(), pass);
                let text = serde_json::to_string_pretty(&record).map_err(|e| e.to_string())?;
                crate::atomic_file::write(path, text.as_bytes(), Durability::Flushed)
            }
            None => {
                self.memory
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .sandbox_passes
                    .insert(bundle.to_string(), pass);
                Ok(())
            }
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Core {
    fn persist(&self) -> Result<(), String> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let text = serde_json::to_string_pretty(&self.world).map_err(|e| e.to_string())?;
        crate::atomic_file::write(path, text.as_bytes(), Durability::Renamed)
    }
}

/// Loads the state file if it exists.
pub fn load_world(path: Option<&std::path::Path>) -> Result<World, String> {
    match path {
        Some(p) if p.exists() => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a simulator state file: {e}", p.display()))
        }
        _ => Ok(World::default()),
    }
}

/// Builds the router. Errors: a public key that is not a P-256 SPKI PEM, a bad state file.
pub fn router(config: SimConfig) -> Result<Router, String> {
    let keys = config
        .public_keys
        .iter()
        .map(|pem| {
            DecodingKey::from_ec_pem(pem.as_bytes())
                .map_err(|_| "the public key is not an EC public key in PEM form".to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err("the simulator needs at least one public key (--public-key)".into());
    }
    Faults::check(&config.faults)?;
    config.perf.settings.check()?;
    let mut world = load_world(config.state_file.as_deref())?;
    for app in world.apps.values_mut() {
        app.end_interrupted_tests();
    }
    let beside_state = |name: &str| config.state_file.as_ref().map(|s| s.with_file_name(name));
    let shared_record = config
        .perf
        .shared_record
        .clone()
        .or_else(|| beside_state("perf-tests.json"));
    if let Some(path) = &shared_record {
        SharedRecord::load(path)?;
    }
    let signer = RealtimeSigner::generate()?;
    if let Some(out) = config
        .perf
        .realtime_root_out
        .clone()
        .or_else(|| beside_state("realtime-root.pem"))
    {
        crate::atomic_file::write(&out, signer.root_pem().as_bytes(), Durability::Flushed)?;
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("retainctl-sim (App Store realtime request)")
        .build()
        .map_err(|e| format!("cannot make the realtime HTTP client: {e}"))?;
    let perf = PerfRuntime {
        settings: config.perf.settings.clone(),
        shared_record,
        signer,
        http,
        memory: Mutex::new(SharedRecord::default()),
    };
    let core = Core {
        world,
        policy: Policy {
            mode: config.mode,
            products: config.products,
        },
        faults: Faults::new(config.faults),
        limiters: Default::default(),
        rate_limits: config.rate_limits,
        review_delay: config.review_delay,
        state_file: config.state_file,
        seen: VecDeque::new(),
        held: BTreeMap::new(),
        next_held: 0,
        in_flight: Default::default(),
    };
    let sim = Sim {
        core: Arc::new(Mutex::new(core)),
        tokens: Arc::new(token::Verifier::new(keys)),
        bundle_id: config.bundle_id,
        perf: Arc::new(perf),
    };
    Ok(Router::new()
        .route("/_sim/state", get(admin_state))
        .route("/_sim/review", post(admin_review))
        .route("/_sim/faults", get(admin_get_faults).post(admin_set_faults))
        .route("/_sim/requests", get(admin_requests))
        .route("/_sim/held", get(admin_held))
        .route("/_sim/release", post(admin_release))
        .route("/_sim/landing", any(landing))
        .route("/_sim/realtime-root", get(admin_realtime_root))
        .route("/_sim/notifications", post(admin_notify))
        .route("/_sim/population", post(admin_population))
        .fallback(api)
        .with_state(sim))
}

/// Serves on `listener` until the task is dropped.
pub async fn serve(config: SimConfig, listener: tokio::net::TcpListener) -> Result<(), String> {
    let app = router(config)?;
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

/// Binds `addr` (port 0 picks a free one) and serves in the background.
pub async fn spawn(
    config: SimConfig,
    addr: SocketAddr,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), String> {
    let app = router(config)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((local, handle))
}

fn apple_error(code: ApiErrorCode) -> Response {
    let body = ErrorBody {
        error_code: code.number(),
        error_message: code.default_message().to_string(),
    };
    let status =
        StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &body)
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let text = serde_json::to_string(body).expect("serializes");
    let mut response = (status, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn rate_limited(retry_at_ms: u64) -> Response {
    let mut response = apple_error(ApiErrorCode::RateLimitExceeded);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&retry_at_ms.to_string()).expect("digits"),
    );
    response
}

fn unauthorized() -> Response {
    StatusCode::UNAUTHORIZED.into_response()
}

/// A response whose body fails after the status line: the client sees the connection
/// break before a complete answer.
fn dropped_connection() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other(
            "connection dropped by fault injection",
        ))
    });
    Response::new(Body::from_stream(stream))
}

fn query_param<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Marks an API request whose client hung up before its answer (the handler future is
/// dropped by the server while the request's own task runs on).
struct HangUpWatch {
    sim: Sim,
    answered: bool,
}

impl Drop for HangUpWatch {
    fn drop(&mut self) {
        if !self.answered {
            let mut core = self.sim.core.lock().unwrap_or_else(|e| e.into_inner());
            core.world.abandoned_requests += 1;
        }
    }
}

async fn api(
    State(sim): State<Sim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut watch = HangUpWatch {
        sim: sim.clone(),
        answered: false,
    };
    // Its own task: a client that gives up does not stop a request half-way.
    let response = match tokio::spawn(answer(sim, method, uri, headers, body)).await {
        Ok(response) => response,
        Err(_) => apple_error(ApiErrorCode::GeneralInternal),
    };
    watch.answered = true;
    response
}

impl Sim {
    fn record_request(&self, method: &Method, path: &str, authorization: Option<&str>) {
        let token = authorization.map(|v| v.strip_prefix("Bearer ").unwrap_or(v).to_string());
        let mut core = self.core.lock().unwrap_or_else(|e| e.into_inner());
        if core.seen.len() >= SEEN_REQUESTS {
            core.seen.pop_front();
        }
        core.seen.push_back(SeenRequest {
            method: method.to_string(),
            path: path.to_string(),
            token,
        });
    }

    /// Waits until `POST /_sim/release` lets this request go, or `bound` passes.
    async fn hold(&self, method: &Method, path: &str, bound: Duration) {
        let (release, released) = tokio::sync::oneshot::channel();
        let id = {
            let mut core = self.core.lock().unwrap_or_else(|e| e.into_inner());
            core.next_held += 1;
            let id = core.next_held;
            core.held.insert(
                id,
                Held {
                    method: method.to_string(),
                    path: path.to_string(),
                    release,
                },
            );
            id
        };
        let _ = tokio::time::timeout(bound, released).await;
        let mut core = self.core.lock().unwrap_or_else(|e| e.into_inner());
        core.held.remove(&id);
    }
}

/// Counts an API request as being answered until dropped, and keeps each endpoint's peak
/// in the state (`peakConcurrentRequests`): a test sees that a run really sent an
/// endpoint's requests at once.
struct InFlight {
    sim: Sim,
    endpoint: Endpoint,
}

impl InFlight {
    fn start(sim: &Sim, endpoint: Endpoint) -> InFlight {
        let mut core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
        let now = {
            let n = core.in_flight.entry(endpoint).or_default();
            *n += 1;
            *n
        };
        let peak = core
            .world
            .peak_concurrent_requests
            .entry(endpoint.name().to_string())
            .or_default();
        *peak = (*peak).max(now);
        InFlight {
            sim: sim.clone(),
            endpoint,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut core = self.sim.core.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = core.in_flight.get_mut(&self.endpoint) {
            *n = n.saturating_sub(1);
        }
    }
}

/// The page a redirect rule's answer carries, and `/_sim/landing` serves: it says 200.
const LANDING_PAGE: &str =
    "<!doctype html><html><head><title>200 OK</title></head><body><h1>200 OK</h1></body></html>";

fn html_ok_page(status: StatusCode) -> Response {
    let mut response = (status, LANDING_PAGE).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn redirect(location: &str) -> Response {
    let Ok(location) = HeaderValue::from_str(location) else {
        return apple_error(ApiErrorCode::GeneralInternal);
    };
    let mut response = html_ok_page(StatusCode::FOUND);
    response.headers_mut().insert(header::LOCATION, location);
    response
}

async fn landing() -> Response {
    html_ok_page(StatusCode::OK)
}

/// Upper-cases every string under a key ending in `Identifier`, at any depth.
fn upper_case_ids(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    serde_json::Value::String(s) if key.ends_with("Identifier") => {
                        *s = s.to_uppercase();
                    }
                    other => upper_case_ids(other),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(upper_case_ids),
        _ => {}
    }
}

/// A successful JSON answer with its identifiers upper-cased; anything else unchanged.
async fn with_upper_case_ids(response: Response) -> Response {
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return apple_error(ApiErrorCode::GeneralInternal);
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(mut value) => {
            upper_case_ids(&mut value);
            let text = serde_json::to_string(&value).expect("serializes");
            Response::from_parts(parts, Body::from(text))
        }
        Err(_) => Response::from_parts(parts, Body::from(bytes)),
    }
}

/// One API request, start to end: token, counts, faults, the rule, the answer.
async fn answer(sim: Sim, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    // A path no endpoint has, or a method its endpoint does not take: 404.
    let Some(route) = endpoints::route(method.as_str(), uri.path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    sim.record_request(&method, uri.path(), authorization);
    let _in_flight = InFlight::start(&sim, route.endpoint);
    let Some(bearer) = authorization.and_then(|v| v.strip_prefix("Bearer ")) else {
        return unauthorized();
    };
    let claims = match sim
        .tokens
        .verify(bearer, sim.bundle_id.as_deref(), SystemTime::now())
    {
        Ok(c) => c,
        Err(_) => return unauthorized(),
    };
    let bundle = claims.bid;
    let endpoint = route.endpoint;

    let (latency, injected, retry_after_ms, slow_ms, rule) = {
        let mut core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
        *core
            .world
            .request_counts
            .entry(endpoint.name().to_string())
            .or_default() += 1;
        let rule = core.faults.rule_for(method.as_str(), uri.path());
        let injected = core.faults.decide();
        let c = &core.faults.config;
        (c.latency_ms, injected, c.retry_after_ms, c.slow_ms, rule)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match &rule {
        Some(RuleAnswer::Error(n)) => return apple_error(ApiErrorCode::from_number(*n)),
        Some(RuleAnswer::Status(s)) => {
            return StatusCode::from_u16(*s)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response();
        }
        Some(RuleAnswer::Redirect(location)) => return redirect(location),
        Some(RuleAnswer::RateLimited(ms)) => return rate_limited(now_ms() + ms),
        Some(RuleAnswer::Hold(ms)) => {
            sim.hold(&method, uri.path(), Duration::from_millis(*ms))
                .await
        }
        Some(RuleAnswer::UpperCaseIds) | None => {}
    }
    match injected {
        Injected::Drop => return dropped_connection(),
        Injected::RateLimited => return rate_limited(now_ms() + retry_after_ms),
        Injected::Error => return apple_error(ApiErrorCode::GeneralInternalRetryable),
        // answered late, then carried out: a client that gave up may find its change made
        Injected::Slow => tokio::time::sleep(Duration::from_millis(slow_ms)).await,
        Injected::None | Injected::CommitThenFail => {}
    }

    // Production reads the shared record of sandbox passes before a realtime URL.
    let sandbox_passed = match endpoint {
        Endpoint::ConfigureRealtimeUrl => match sim.perf.sandbox_passed(&bundle) {
            Ok(passed) => passed,
            Err(e) => {
                tracing::error!("performance test record unreadable: {e}");
                return apple_error(ApiErrorCode::GeneralInternal);
            }
        },
        _ => false,
    };
    let started_bundle = bundle.clone();
    let (response, started) = {
        let mut core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
        let settings = &sim.perf.settings;
        carry_out(
            &mut core,
            &route,
            &uri,
            &body,
            bundle,
            sandbox_passed,
            settings,
        )
    };
    if let Some(started) = started {
        tokio::spawn(run_performance_test(sim.clone(), started_bundle, started));
    }
    if injected == Injected::CommitThenFail {
        return apple_error(ApiErrorCode::GeneralInternalRetryable);
    }
    if rule == Some(RuleAnswer::UpperCaseIds) {
        return with_upper_case_ids(response).await;
    }
    response
}

/// A performance test that Initiate Performance Test recorded as PENDING.
struct StartedTest {
    request_id: String,
    target: String,
    original_transaction_id: String,
}

/// Applies the endpoint's rules to the state (under the lock) and persists a change.
#[allow(clippy::too_many_arguments)]
fn carry_out(
    core: &mut Core,
    route: &Route,
    uri: &Uri,
    body: &[u8],
    bundle: String,
    sandbox_passed: bool,
    settings: &PerfTestSettings,
) -> (Response, Option<StartedTest>) {
    if core.rate_limits {
        let sandbox = core.policy.mode == Mode::Sandbox;
        let limiter = core
            .limiters
            .entry(bundle.clone())
            .or_insert_with(|| Pacer::new(sandbox, true));
        if let Err(wait) = limiter.reserve(route.endpoint, Instant::now(), Duration::ZERO) {
            core.world.rate_limited_requests += 1;
            return (rate_limited(now_ms() + wait.as_millis() as u64), None);
        }
    }
    let now = now_ms();
    let policy = core.policy.clone();
    let review_delay = core.review_delay;
    let app = core.world.apps.entry(bundle).or_default();
    if let (Mode::Production, Some(delay)) = (policy.mode, review_delay) {
        app.approve_pending_before(now.saturating_sub(delay.as_millis() as u64));
    }
    let mut started = None;
    use Endpoint as E;
    let params: Vec<&str> = route.params.iter().map(String::as_str).collect();
    fn json<T: Serialize>(body: &T) -> (Response, bool) {
        (json_response(StatusCode::OK, body), false)
    }
    let written = |()| (StatusCode::OK.into_response(), true);
    // What the endpoint's rules answer: (response, whether the state changed), or the
    // Apple error they refuse with.
    let answer: Result<(Response, bool), ApiErrorCode> = match (route.endpoint, params.as_slice()) {
        (E::GetImageList, []) => Ok(json(&app.image_list())),
        (E::GetMessageList, []) => Ok(json(&app.message_list())),
        (E::UploadImage, [id]) => {
            let size = query_param(uri, "imageSize");
            app.upload_image(&policy, id, size, body, now).map(written)
        }
        (E::DeleteImage, [id]) => app.delete_image(id).map(written),
        (E::UploadMessage, [id]) => app.upload_message(&policy, id, body, now).map(written),
        (E::DeleteMessage, [id]) => app.delete_message(id).map(written),
        (E::ConfigureDefaultMessage, [p, l]) => {
            app.configure_default(&policy, p, l, body).map(written)
        }
        (E::GetDefaultMessage, [p, l]) => app.get_default(&policy, p, l).map(|d| json(&d)),
        (E::DeleteDefaultMessage, [p, l]) => app.delete_default(&policy, p, l).map(written),
        (E::ConfigureRealtimeUrl, []) => app
            .configure_realtime_url(&policy, body, sandbox_passed)
            .map(written),
        (E::GetRealtimeUrl, []) => app.get_realtime_url().map(|u| json(&u)),
        (E::DeleteRealtimeUrl, []) => app.delete_realtime_url().map(written),
        (E::InitiatePerformanceTest, []) => {
            let request_id = uuid::Uuid::new_v4().to_string();
            let config = settings.config();
            app.start_performance_test(&policy, &request_id, body, config.clone())
                .map(|target| {
                    let original_transaction_id =
                        serde_json::from_slice::<crate::apple::model::PerformanceTestRequest>(body)
                            .map(|r| r.original_transaction_id)
                            .unwrap_or_default();
                    started = Some(StartedTest {
                        request_id: request_id.clone(),
                        target,
                        original_transaction_id,
                    });
                    let answer =
                        crate::apple::model::PerformanceTestResponse { config, request_id };
                    (json_response(StatusCode::OK, &answer), true)
                })
        }
        (E::GetPerformanceTestResult, [id]) => app.performance_test_result(id).map(|r| json(&r)),
        (E::GetNotificationHistory, []) => {
            let token = query_param(uri, "paginationToken").map(|t| {
                percent_encoding::percent_decode_str(t)
                    .decode_utf8_lossy()
                    .into_owned()
            });
            super::notifications::history(
                &app.notifications,
                body,
                token.as_deref(),
                policy.mode == Mode::Sandbox,
                now as i64,
            )
            .map(|page| json(&page))
        }
        // `route` gives each endpoint as many parameters as its template has
        // (endpoints::tests::every_template_round_trips); a row added to the table
        // without a rule here is not found.
        _ => Ok((StatusCode::NOT_FOUND.into_response(), false)),
    };
    let (response, mutated) = match answer {
        Ok(answer) => answer,
        Err(code) => {
            *core
                .world
                .error_counts
                .entry(code.name().to_string())
                .or_default() += 1;
            (apple_error(code), false)
        }
    };
    if mutated && let Err(e) = core.persist() {
        tracing::error!("simulator state not saved: {e}");
        return (apple_error(ApiErrorCode::GeneralInternal), None);
    }
    (response, started)
}

/// Runs a recorded performance test: `totalRequests` signed realtime requests to the
/// target, `maxConcurrentRequests` at a time, each timed and checked; then PASS or FAIL,
/// and a pass goes to the shared record.
async fn run_performance_test(sim: Sim, bundle: String, test: StartedTest) {
    use futures_util::StreamExt;
    let settings = sim.perf.settings.clone();
    let product = {
        let core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
        core.policy
            .products
            .as_ref()
            .and_then(|p| p.first().cloned())
            .unwrap_or_else(|| format!("{bundle}.subscription"))
    };
    let deadline = Instant::now() + settings.total_duration;
    let threshold = settings.response_time_threshold;
    let app_apple_id = super::perf::app_apple_id(&bundle);
    futures_util::stream::iter(0..settings.total_requests)
        .map(|_| {
            let (sim, bundle, test, product) = (&sim, &bundle, &test, &product);
            async move {
                let (elapsed, result) = if Instant::now() >= deadline {
                    (threshold, SendAttemptResult::TimedOut)
                } else {
                    let payload = serde_json::json!({
                        "originalTransactionId": test.original_transaction_id,
                        "appAppleId": app_apple_id,
                        "productId": product,
                        "userLocale": "en-US",
                        "requestIdentifier": uuid::Uuid::new_v4().to_string(),
                        "signedDate": now_ms(),
                        "environment": "Sandbox",
                    });
                    match sim.perf.signer.sign(&payload) {
                        Ok(jws) => {
                            let sent =
                                super::perf::send(&sim.perf.http, &test.target, &jws, threshold)
                                    .await;
                            (
                                sent.elapsed,
                                judge(sim, bundle, sent.answer, sent.elapsed, threshold),
                            )
                        }
                        Err(e) => {
                            tracing::error!("{e}");
                            (Duration::ZERO, SendAttemptResult::Other)
                        }
                    }
                };
                let mut core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
                let app = core.world.apps.entry(bundle.clone()).or_default();
                let outcome = match result {
                    SendAttemptResult::Success => Ok(()),
                    failed => Err(failed.name()),
                };
                app.record_attempt(&test.request_id, elapsed.as_millis() as u64, outcome);
            }
        })
        .buffer_unordered(settings.max_concurrent_requests as usize)
        .collect::<()>()
        .await;
    let passed = {
        let mut core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
        let passed = core
            .world
            .apps
            .entry(bundle.clone())
            .or_default()
            .finish_performance_test(&test.request_id);
        if let Err(e) = core.persist() {
            tracing::error!("simulator state not saved: {e}");
        }
        passed
    };
    if passed {
        let pass = SandboxPass {
            target: test.target.clone(),
            request_id: test.request_id.clone(),
            passed_at_ms: now_ms(),
        };
        if let Err(e) = sim.perf.record_pass(&bundle, pass) {
            tracing::error!("performance test pass not recorded: {e}");
        }
    }
}

/// How one answer counts: in time, a `RealtimeResponseBody`, and referring to an APPROVED
/// message of the app.
fn judge(
    sim: &Sim,
    bundle: &str,
    answer: Result<Vec<u8>, SendAttemptResult>,
    elapsed: Duration,
    threshold: Duration,
) -> SendAttemptResult {
    let body = match answer {
        Ok(body) => body,
        Err(kind) => return kind,
    };
    if elapsed > threshold {
        return SendAttemptResult::TimedOut;
    }
    match super::perf::answer_message_id(&body) {
        Err(kind) => kind,
        Ok(None) => SendAttemptResult::Success,
        Ok(Some(id)) => {
            let core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
            let usable = core
                .world
                .apps
                .get(bundle)
                .is_some_and(|app| app.message_usable(&id));
            if usable {
                SendAttemptResult::Success
            } else {
                SendAttemptResult::InvalidResponse
            }
        }
    }
}

async fn admin_realtime_root(State(sim): State<Sim>) -> Response {
    let mut response = (StatusCode::OK, sim.perf.signer.root_pem().to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-pem-file"),
    );
    response
}

async fn admin_state(State(sim): State<Sim>) -> Response {
    let core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
    json_response(StatusCode::OK, &core.world)
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewRequest {
    pub approve: Vec<String>,
    pub reject: Vec<String>,
    pub approve_all: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ReviewAnswer {
    /// Ids found in no app.
    pub missing: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotifyRequest {
    bundle_id: String,
    events: Vec<super::notifications::NotifiedEvent>,
}

/// `POST /_sim/notifications`: signs each event as Apple signs notifications V2 and keeps
/// it for Get Notification History; answers the signed payloads.
async fn admin_notify(State(sim): State<Sim>, body: Bytes) -> Response {
    let request: NotifyRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("bad notification request: {e}"),
            )
                .into_response();
        }
    };
    let mut core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
    let environment = core.policy.mode.apple_name();
    let now = now_ms() as i64;
    let mut signed = Vec::new();
    for event in &request.events {
        match super::notifications::sign(
            &sim.perf.signer,
            &request.bundle_id,
            super::perf::app_apple_id(&request.bundle_id),
            environment,
            event,
            now,
        ) {
            Ok(n) => signed.push(n),
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        }
    }
    let payloads: Vec<String> = signed.iter().map(|n| n.signed_payload.clone()).collect();
    core.world
        .apps
        .entry(request.bundle_id)
        .or_default()
        .notifications
        .extend(signed);
    if let Err(e) = core.persist() {
        return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response();
    }
    json_response(
        StatusCode::OK,
        &serde_json::json!({ "signedPayloads": payloads }),
    )
}

/// `POST /_sim/population`: plays a population of customers against a realtime server
/// ([`super::population`]); answers what they were shown and what was notified.
async fn admin_population(State(sim): State<Sim>, body: Bytes) -> Response {
    use super::population::{Population, PopulationSummary, act, answer_kind};
    let population: Population = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("bad population: {e}")).into_response();
        }
    };
    let environment = sim
        .core
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .policy
        .mode
        .apple_name();
    let app_apple_id = super::perf::app_apple_id(&population.bundle_id);
    let mut summary = PopulationSummary::default();
    for i in 0..population.customers {
        let Some(otid) = population.first_transaction.checked_add(u64::from(i)) else {
            return (
                StatusCode::BAD_REQUEST,
                "firstTransaction + customers passes 2^64",
            )
                .into_response();
        };
        let otid = otid.to_string();
        let payload = serde_json::json!({
            "originalTransactionId": otid,
            "appAppleId": app_apple_id,
            "productId": population.product,
            "userLocale": population.locale,
            "requestIdentifier": uuid::Uuid::new_v4().to_string(),
            "signedDate": now_ms(),
            "environment": environment,
        });
        let jws = match sim.perf.signer.sign(&payload) {
            Ok(jws) => jws,
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        };
        let sent = sim
            .perf
            .http
            .post(&population.realtime_url)
            .json(&serde_json::json!({ "signedPayload": jws }))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let (kind, message_id) = match sent {
            Ok(r) if r.status() == StatusCode::NO_CONTENT => ("default", None),
            Ok(r) if r.status() == StatusCode::OK => {
                let bytes = r.bytes().await.unwrap_or_default();
                match answer_kind(&bytes) {
                    Some(answer) => answer,
                    None => {
                        summary.failed += 1;
                        continue;
                    }
                }
            }
            _ => {
                summary.failed += 1;
                continue;
            }
        };
        *summary.answered.entry(kind.to_string()).or_default() += 1;
        let event = act(
            &population,
            kind,
            message_id.as_deref(),
            u64::from(i),
            &otid,
            now_ms() as i64,
        );
        if let Some(per_hour) = population.per_hour.filter(|r| *r > 0.0) {
            tokio::time::sleep(Duration::from_secs_f64((3600.0 / per_hour).min(3600.0))).await;
        }
        let Some(event) = event else {
            continue;
        };
        let signed = match super::notifications::sign(
            &sim.perf.signer,
            &population.bundle_id,
            app_apple_id,
            environment,
            &event,
            now_ms() as i64,
        ) {
            Ok(n) => n,
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        };
        *summary
            .notified
            .entry(event.notification_type.clone())
            .or_default() += 1;
        if let Some(url) = &population.notification_url {
            let live = sim
                .perf
                .http
                .post(url)
                .json(&serde_json::json!({ "signedPayload": signed.signed_payload }))
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            if !live.is_ok_and(|r| r.status() == StatusCode::OK) {
                summary.live_failed += 1;
            }
        }
        let mut core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
        core.world
            .apps
            .entry(population.bundle_id.clone())
            .or_default()
            .notifications
            .push(signed);
    }
    if let Err(e) = sim.core.lock().unwrap_or_else(|e| e.into_inner()).persist() {
        return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response();
    }
    json_response(StatusCode::OK, &summary)
}

async fn admin_review(State(sim): State<Sim>, body: Bytes) -> Response {
    let request: ReviewRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("bad review request: {e}")).into_response();
        }
    };
    let mut core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
    let missing = apply_review(&mut core.world, &request);
    if let Err(e) = core.persist() {
        return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response();
    }
    json_response(StatusCode::OK, &ReviewAnswer { missing })
}

/// Sets review states across all apps; returns the ids found nowhere.
pub fn apply_review(world: &mut World, request: &ReviewRequest) -> Vec<String> {
    let mut missing = vec![];
    for (ids, state) in [
        (&request.approve, ReviewState::Approved),
        (&request.reject, ReviewState::Rejected),
    ] {
        for id in ids {
            let found = world.apps.values_mut().any(|app| {
                app.review(std::slice::from_ref(id), state.clone())
                    .is_empty()
            });
            if !found {
                missing.push(id.clone());
            }
        }
    }
    if request.approve_all {
        for app in world.apps.values_mut() {
            app.approve_pending_before(u64::MAX);
        }
    }
    missing
}

async fn admin_get_faults(State(sim): State<Sim>) -> Response {
    let core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
    json_response(StatusCode::OK, &core.faults.config)
}

async fn admin_set_faults(State(sim): State<Sim>, body: Bytes) -> Response {
    let config: FaultConfig = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("bad fault config: {e}")).into_response();
        }
    };
    if let Err(e) = Faults::check(&config) {
        return (StatusCode::BAD_REQUEST, format!("bad fault config: {e}")).into_response();
    }
    let mut core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
    core.faults = Faults::new(config);
    json_response(StatusCode::OK, &core.faults.config)
}

async fn admin_requests(State(sim): State<Sim>) -> Response {
    #[derive(Serialize)]
    struct Answer<'a> {
        requests: &'a VecDeque<SeenRequest>,
    }
    let core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
    json_response(
        StatusCode::OK,
        &Answer {
            requests: &core.seen,
        },
    )
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeldAnswer {
    pub held: Vec<HeldRequest>,
}

async fn admin_held(State(sim): State<Sim>) -> Response {
    let core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
    let held = core
        .held
        .iter()
        .map(|(id, h)| HeldRequest {
            id: *id,
            method: h.method.clone(),
            path: h.path.clone(),
        })
        .collect();
    json_response(StatusCode::OK, &HeldAnswer { held })
}

/// `POST /_sim/release`: `{}` (or no body) releases every held request, `{"count": N}`
/// the N that arrived first.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReleaseRequest {
    pub count: Option<usize>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ReleaseAnswer {
    pub released: usize,
}

async fn admin_release(State(sim): State<Sim>, body: Bytes) -> Response {
    let request: ReleaseRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReleaseRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return (StatusCode::BAD_REQUEST, format!("bad release request: {e}"))
                    .into_response();
            }
        }
    };
    let mut core = sim.core.lock().unwrap_or_else(|e| e.into_inner());
    let ids: Vec<u64> = core
        .held
        .keys()
        .copied()
        .take(request.count.unwrap_or(usize::MAX))
        .collect();
    let mut released = 0;
    for id in ids {
        if let Some(held) = core.held.remove(&id) {
            // the waiting request may have run out of time just now: either way it goes
            let _ = held.release.send(());
            released += 1;
        }
    }
    json_response(StatusCode::OK, &ReleaseAnswer { released })
}
