//! `serve --notifications DIR`: Apple's App Store Server Notifications V2 received live at
//! a path of the realtime server (`--notifications-path`, default
//! `/app-store-notifications`), verified with the roots and environment `serve` trusts,
//! for an app it serves, and kept as outcome lines in `DIR/live-outcomes.jsonl`. The
//! answer is 200 only once the line is written and synced (Apple sends again what is not
//! answered 200: five more times over three days); a notification that does not verify or
//! is not for an app served here is 400 and kept nowhere. Composed into serve's router by
//! the command layer, so that `serve` knows nothing of outcomes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::notifications::{Expected, outcome_of};
use crate::serve::ServeState;
use crate::serve::decisions::CustomerKey;

/// The path notifications are received at unless `--notifications-path` says otherwise.
pub const DEFAULT_PATH: &str = "/app-store-notifications";
/// The largest notification body read.
pub const MAX_BODY: usize = 64 * 1024;
/// The file live outcomes are appended to.
pub const FILE: &str = "live-outcomes.jsonl";

pub struct LiveSink {
    path: PathBuf,
    file: Mutex<std::fs::File>,
    key: CustomerKey,
}

impl LiveSink {
    pub fn open(dir: &Path, key: CustomerKey) -> std::io::Result<LiveSink> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        Ok(LiveSink {
            path,
            file: Mutex::new(file),
            key,
        })
    }

    /// Appends `line` and syncs it; a write that fails partway is cut back, so that the
    /// next line does not join a torn one.
    fn keep(&self, line: &[u8]) -> std::io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let before = file.metadata()?.len();
        let written = file.write_all(line).and_then(|()| file.sync_data());
        if written.is_err() {
            let _ = file.set_len(before);
        }
        written
    }
}

#[derive(serde::Deserialize)]
struct Body {
    #[serde(rename = "signedPayload")]
    signed_payload: String,
}

/// The bundle id a payload claims, read before it is verified (to know which app's rules
/// to verify it against; the verification then checks it).
fn claimed_bundle(jws: &str) -> Option<String> {
    use base64::Engine;
    let payload = jws.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value["data"]["bundleId"].as_str().map(str::to_string)
}

/// The route receiving notifications at `path`, over serve's state.
pub fn router(state: Arc<ServeState>, sink: Arc<LiveSink>, path: &str) -> axum::Router {
    axum::Router::new()
        .route(path, axum::routing::post(receive))
        // A notification with its signed transaction and renewal is a few kilobytes.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state((state, sink))
}

async fn receive(
    State((state, sink)): State<(Arc<ServeState>, Arc<LiveSink>)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(served) = state.served() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let Ok(body) = serde_json::from_slice::<Body>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    // A notification without `data` (a summary) names no customer: it is verified against
    // any app served and, when genuine, answered 200 and kept nowhere.
    let claimed = claimed_bundle(&body.signed_payload);
    let app = match &claimed {
        Some(b) => served.snapshot.apps.iter().find(|a| &a.bundle_id == b),
        None => served.snapshot.apps.first(),
    };
    let Some(app) = app else {
        tracing::info!("notification refused: not for an app served here");
        return StatusCode::BAD_REQUEST.into_response();
    };
    let expected = Expected {
        bundle_id: &app.bundle_id,
        environment: served.verifier().environment().as_str(),
        app_apple_id: app.app_apple_id,
    };
    match outcome_of(
        served.verifier(),
        &body.signed_payload,
        &expected,
        &sink.key,
    ) {
        Ok(Some(outcome)) => {
            let mut line = serde_json::to_vec(&outcome).expect("an outcome serializes");
            line.push(b'\n');
            let kept = {
                let sink = sink.clone();
                tokio::task::spawn_blocking(move || sink.keep(&line)).await
            };
            match kept {
                Ok(Ok(())) => StatusCode::OK.into_response(),
                Ok(Err(e)) => {
                    tracing::warn!("cannot keep a notification in {}: {e}", sink.path.display());
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
        Ok(None) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::info!("notification refused: {e}");
            StatusCode::BAD_REQUEST.into_response()
        }
    }
}
