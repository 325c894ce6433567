//! `GET /metrics`: what `serve` counts, in the Prometheus text format (prometheus-client,
//! OpenMetrics text). Requests by app, environment and outcome, answer latency, the
//! snapshot served (generation, age, source), reload failures, connections, dropped log
//! lines.

use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::served::{Outcome, Served};
use crate::realtime::store::SnapshotLocation;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The app's bundle id; empty for a refused request (it may name any app).
    app: String,
    environment: String,
    /// `message`, `promotional_offer`, `alternate_product`, `no_content`, `refused`.
    outcome: &'static str,
    /// Why a request was refused ([`super::verify::Refusal::code`]); empty otherwise.
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SnapshotLabels {
    /// `file` or the object store's scheme (`s3`, …).
    source: String,
    sha256: String,
}

/// Everything `/metrics` shows.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    answer_seconds: Histogram,
    snapshot_generation: Gauge,
    snapshot_written: Gauge<f64, AtomicU64>,
    snapshot_age: Gauge<f64, AtomicU64>,
    snapshot_info: Family<SnapshotLabels, Gauge>,
    pub reload_failures: Counter,
    pub tls_reload_failures: Counter,
    pub connections_open: Gauge,
    pub connections_shed: Counter,
    pub connections_refused: Counter,
    log_lines_dropped: Counter,
    /// Where the dropped log lines are counted (the non-blocking writer's counter).
    dropped_source: Option<Box<dyn Fn() -> u64 + Send + Sync>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(None)
    }
}

impl Metrics {
    /// The metrics, reading dropped log lines from `dropped_log_lines` at each scrape.
    pub fn new(dropped_log_lines: Option<Box<dyn Fn() -> u64 + Send + Sync>>) -> Metrics {
        let mut registry = Registry::with_prefix("retainctl_serve");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Realtime requests by app, environment and outcome (refused: by reason)",
            requests.clone(),
        );
        // 50 µs … ~1.6 s
        let answer_seconds = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.00005, 2.0, 16),
        );
        registry.register(
            "answer_seconds",
            "Time to answer a realtime request, from its body received to the answer made",
            answer_seconds.clone(),
        );
        let snapshot_generation = Gauge::default();
        registry.register(
            "snapshot_generation",
            "Snapshots loaded since start (1 at start, +1 per reload that changed what is served)",
            snapshot_generation.clone(),
        );
        let snapshot_written = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "snapshot_written_timestamp_seconds",
            "When the snapshot served was written (Unix time)",
            snapshot_written.clone(),
        );
        let snapshot_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "snapshot_age_seconds",
            "Seconds since the snapshot served was written",
            snapshot_age.clone(),
        );
        let snapshot_info = Family::<SnapshotLabels, Gauge>::default();
        registry.register(
            "snapshot_info",
            "The snapshot served: 1 for its source and SHA-256",
            snapshot_info.clone(),
        );
        let reload_failures = Counter::default();
        registry.register(
            "reload_failures",
            "Reloads that could not be served (the snapshot served before stays)",
            reload_failures.clone(),
        );
        let tls_reload_failures = Counter::default();
        registry.register(
            "tls_reload_failures",
            "Certificate reloads that failed (the certificate served before stays)",
            tls_reload_failures.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "connections_open",
            "Client connections open",
            connections_open.clone(),
        );
        let connections_shed = Counter::default();
        registry.register(
            "connections_shed",
            "Idle connections closed to make room for a new one at the connection budget",
            connections_shed.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "New connections closed because every connection of the budget was busy",
            connections_refused.clone(),
        );
        let log_lines_dropped = Counter::default();
        registry.register(
            "log_lines_dropped",
            "Log lines dropped because the log output did not keep up",
            log_lines_dropped.clone(),
        );
        Metrics {
            registry,
            requests,
            answer_seconds,
            snapshot_generation,
            snapshot_written,
            snapshot_age,
            snapshot_info,
            reload_failures,
            tls_reload_failures,
            connections_open,
            connections_shed,
            connections_refused,
            log_lines_dropped,
            dropped_source: dropped_log_lines,
        }
    }

    /// Counts one answered request.
    pub fn request(&self, served: &Served, outcome: &Outcome, seconds: f64) {
        let app = |index: usize| {
            served
                .snapshot
                .apps
                .get(index)
                .map(|a| a.bundle_id.clone())
                .unwrap_or_default()
        };
        let environment = served.snapshot.environment.to_string();
        let labels = match outcome {
            Outcome::Answered { app: i, kind, .. } => RequestLabels {
                app: app(*i),
                environment,
                outcome: kind.code(),
                reason: "",
            },
            Outcome::Fallback { app: i } => RequestLabels {
                app: app(*i),
                environment,
                outcome: "no_content",
                reason: "",
            },
            Outcome::Control { app: i, .. } => RequestLabels {
                app: app(*i),
                environment,
                outcome: "control",
                reason: "",
            },
            Outcome::Refused(refusal) => RequestLabels {
                app: String::new(),
                environment,
                outcome: "refused",
                reason: refusal.code(),
            },
        };
        self.requests.get_or_create(&labels).inc();
        self.answer_seconds.observe(seconds);
    }

    /// Counts a request refused before it was read as one (no snapshot yet, too large).
    pub fn refused_early(&self, reason: &'static str) {
        self.requests
            .get_or_create(&RequestLabels {
                app: String::new(),
                environment: String::new(),
                outcome: "refused",
                reason,
            })
            .inc();
    }

    /// Records the snapshot now served.
    pub fn snapshot_loaded(&self, served: &Served, location: &SnapshotLocation) {
        self.snapshot_generation.inc();
        self.snapshot_info.clear();
        self.snapshot_info
            .get_or_create(&SnapshotLabels {
                source: location.scheme().to_string(),
                sha256: served.digest.clone(),
            })
            .set(1);
        let written = served
            .written_at
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64());
        if let Some(written) = written {
            self.snapshot_written.set(written);
        }
    }

    /// The text a scrape gets.
    pub fn encode(&self) -> String {
        let written = self.snapshot_written.get();
        if written > 0.0
            && let Ok(now) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)
        {
            self.snapshot_age
                .set((now.as_secs_f64() - written).max(0.0));
        }
        if let Some(dropped) = &self.dropped_source {
            let now = dropped();
            let counted = self.log_lines_dropped.get();
            if now > counted {
                self.log_lines_dropped.inc_by(now - counted);
            }
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
