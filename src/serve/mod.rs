//! `retainctl serve`: Apple's realtime endpoint (*Get Retention Message*), answering only
//! with content the snapshot lists as approved.
//!
//! - [`verify`]: Apple's signed request, checked as Apple's `SignedDataVerifier` checks it.
//! - [`offer`]: `promotionalOfferSignatureV2`, made as Apple's library makes it.
//! - [`served`]: what is served ([`Served`]: the snapshot, the offer keys it names, the
//!   trusted roots, the warnings) and the answer to one request (no I/O).
//! - [`state`]: the shared state and its reloader (off the request path, retried until a
//!   failed reload succeeds).
//! - [`http`]: the routes (`POST` realtime, `/healthz`, `/readyz`, `/metrics`).
//! - [`decisions`]: `--decisions DIR`, every answer as a JSON line for `retainctl report`.
//! - [`transport`]: connections (deadlines, the connection budget, shutdown); [`tls`]:
//!   `--tls-cert`; [`metrics`]: what `/metrics` counts.
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

pub mod decisions;
pub mod http;
pub mod metrics;
pub mod offer;
pub mod served;
pub mod state;
pub mod tls;
pub mod transport;
pub mod verify;

pub use http::{HealthDetail, router};
pub use served::{Answer, AnswerKind, LoadError, Outcome, Served, Sources, refusal_status};
pub use state::{Reload, ServeState, load_at_start, spawn_reloader};
pub use transport::serve_until;

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
