//! The HTTP routes: `POST` on any path answers Apple's realtime request (the realtime
//! URL's path is the operator's choice); `GET /healthz` (liveness: the process answers;
//! `{"status":"ok"}` and nothing a stranger could use, unless `--health-detail` asks for the
//! snapshot's location, digest and the last reload error),
//! `GET /readyz` (a snapshot is served and the server is not stopping), `GET /metrics`.
//! Every error has a short body of our own: its status's name, and for a body over the
//! cap, the cap.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::served::Outcome;
use super::state::ServeState;
use super::verify;
use crate::manifest::EnvironmentName;

/// How long one request may take, its body included (Apple waits about 700 ms).
pub const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// A short plain-text error answer of ours.
pub fn error(status: StatusCode, text: &str) -> Response {
    let mut response = (status, format!("{text}\n")).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// An error answer naming only its status.
pub fn bare(status: StatusCode) -> Response {
    error(status, status.canonical_reason().unwrap_or("error"))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<EnvironmentName>,
    snapshot: HealthSnapshot,
    #[serde(skip_serializing_if = "Option::is_none")]
    trusted_roots: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_reload_error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HealthSnapshot {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    format_version: Option<u32>,
    /// SHA-256 of the snapshot served.
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apps: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    loaded_at: Option<String>,
    /// Seconds since the snapshot served was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    age_seconds: Option<u64>,
}

/// What `GET /healthz` tells whoever can reach the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthDetail {
    /// `{"status":"ok"}` only: the port may face the internet.
    StatusOnly,
    /// Also the snapshot served (location, digest, age) and the last reload error, for a
    /// port only operators reach (`serve --health-detail`).
    Full,
}

#[derive(Serialize)]
struct Liveness {
    status: &'static str,
}

async fn healthz_status_only() -> Response {
    axum::Json(Liveness { status: "ok" }).into_response()
}

async fn healthz(State(state): State<Arc<ServeState>>) -> Response {
    let served = state.served();
    let served = served.as_deref();
    let health = Health {
        status: "ok",
        environment: served.map(|s| s.snapshot.environment),
        snapshot: HealthSnapshot {
            path: state.sources.snapshot.to_string(),
            format_version: served.map(|s| s.snapshot.format_version),
            sha256: served.map(|s| s.digest.clone()),
            apps: served.map(|s| s.snapshot.apps.len()),
            loaded_at: served.map(|s| humantime::format_rfc3339_seconds(s.loaded_at).to_string()),
            age_seconds: served
                .and_then(|s| s.written_at)
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .map(|d| d.as_secs()),
        },
        trusted_roots: served.map(|s| s.trusted_roots),
        last_reload_error: state.last_error(),
    };
    axum::Json(health).into_response()
}

async fn readyz(State(state): State<Arc<ServeState>>) -> Response {
    if state.stopping.load(Ordering::SeqCst) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "stopping");
    }
    match state.served() {
        Some(_) => error(StatusCode::OK, "ready"),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "no snapshot loaded yet"),
    }
}

async fn metrics(State(state): State<Arc<ServeState>>) -> Response {
    let mut response = state.metrics.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    response
}

async fn realtime(
    State(state): State<Arc<ServeState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            state.metrics.refused_early("too_large");
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request body over {} bytes", verify::MAX_BODY),
            );
        }
        Err(rejection) => {
            state.metrics.refused_early("unreadable_body");
            return bare(rejection.status());
        }
    };
    let start = Instant::now();
    let Some((served, answer)) = state.answer(&body).await else {
        state.metrics.refused_early("no_snapshot");
        return error(StatusCode::SERVICE_UNAVAILABLE, "no snapshot loaded yet");
    };
    let seconds = start.elapsed().as_secs_f64();
    state.metrics.request(&served, &answer.outcome, seconds);
    if let Some(log) = state.decisions.get() {
        log.record(&served, &answer);
    }
    let ms = seconds * 1000.0;
    let tx = answer.transaction.as_deref().unwrap_or("-");
    match &answer.outcome {
        Outcome::Answered {
            rule,
            kind,
            message_id,
            ..
        } => tracing::info!(
            tx,
            rule,
            kind = kind.code(),
            message_id = %message_id,
            status = answer.status.as_u16(),
            ms,
            "realtime answered"
        ),
        Outcome::Control { rule, .. } => tracing::info!(
            tx,
            rule,
            status = answer.status.as_u16(),
            ms,
            "realtime control arm: nothing, Apple shows its default"
        ),
        Outcome::Fallback { .. } => tracing::info!(
            tx,
            status = answer.status.as_u16(),
            ms,
            "realtime fallback: no rule has approved content"
        ),
        Outcome::Refused(refusal) => {
            tracing::info!(
                tx,
                status = answer.status.as_u16(),
                reason = refusal.code(),
                ms,
                "realtime refused"
            );
            tracing::debug!(tx, "realtime refused: {refusal}");
        }
    }
    match answer.status {
        StatusCode::OK => {
            let mut response = (answer.status, answer.body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            response
        }
        StatusCode::NO_CONTENT => StatusCode::NO_CONTENT.into_response(),
        status => bare(status),
    }
}

/// The routes over `state`. A request not done within [`REQUEST_DEADLINE`] gets 408.
pub fn router(state: Arc<ServeState>, health: HealthDetail) -> axum::Router {
    use axum::routing::{get, post};
    let healthz = match health {
        HealthDetail::StatusOnly => get(healthz_status_only),
        HealthDetail::Full => get(healthz),
    };
    axum::Router::new()
        .route("/healthz", healthz)
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/", post(realtime))
        .route("/{*path}", post(realtime))
        .fallback(|| async { bare(StatusCode::NOT_FOUND) })
        .method_not_allowed_fallback(|| async { bare(StatusCode::METHOD_NOT_ALLOWED) })
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
        Err(_) => error(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "request not received within {} s",
                REQUEST_DEADLINE.as_secs()
            ),
        ),
    }
}
