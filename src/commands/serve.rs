//! `retainctl serve`: runs the realtime endpoint (`crate::serve`) on `--listen` until
//! SIGTERM or ctrl-c, reloading the snapshot, trust roots and TLS certificate when they
//! change. Prints `listening on http://ADDR` (or `https://`) as its first line
//! (`--listen 127.0.0.1:0` picks a port). Logs go through a bounded non-blocking writer:
//! a stalled stderr drops (and counts) lines instead of stalling answers.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{LogFormat, ServeArgs, ServeEnv};
use crate::realtime::store::SnapshotLocation;
use crate::serve::metrics::Metrics;
use crate::serve::tls::ReloadingCert;
use crate::serve::{ServeState, Sources};
use crate::sim::Mode;

/// Log lines held for a stalled stderr before new ones are dropped.
const LOG_BUFFER_LINES: usize = 16_384;

/// The snapshot `apply --env local --snapshot` writes by default for a mode, in the local
/// state folder.
pub fn local_snapshot(state_dir: &std::path::Path, mode: Mode) -> PathBuf {
    state_dir.join(match mode {
        Mode::Sandbox => "sandbox-snapshot.json",
        Mode::Production => "production-snapshot.json",
    })
}

/// What is served: `--snapshot` (a file or `s3://…`) and `--trust-root`, or their
/// `--env local` defaults.
pub fn sources(args: &ServeArgs) -> anyhow::Result<Sources> {
    let local = args.env == Some(ServeEnv::Local);
    let state_dir = super::local_state_dir();
    let snapshot = args
        .snapshot
        .clone()
        .unwrap_or_else(|| local_snapshot(&state_dir, args.local_mode));
    let mut trust_roots = args.trust_roots.clone();
    if local {
        let root = state_dir.join("realtime-root.pem");
        if !trust_roots.contains(&root) {
            trust_roots.push(root);
        }
    }
    Ok(Sources {
        snapshot: SnapshotLocation::parse(snapshot.as_os_str())
            .map_err(|e| anyhow::anyhow!("--snapshot: {e}"))?,
        trust_roots,
        env_local: local,
    })
}

/// Logging for `serve`: `RUST_LOG` (default `warn,retainctl::serve=info`) to stderr through
/// a bounded queue written by its own thread; what does not fit is dropped and counted.
fn init_logging(
    format: LogFormat,
) -> (
    tracing_appender::non_blocking::WorkerGuard,
    tracing_appender::non_blocking::ErrorCounter,
) {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_BUFFER_LINES)
        .thread_name("retainctl-log")
        .finish(std::io::stderr());
    let dropped = writer.error_counter();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,retainctl::serve=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    (guard, dropped)
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (log_guard, dropped) = init_logging(args.log_format);
    let sources = sources(&args)?;
    let lookup = |name: &str| std::env::var(name).ok();
    let runtime = super::runtime()?;
    let served = runtime
        .block_on(crate::serve::state::load_at_start_async(&sources, &lookup))
        .map_err(|e| {
            let hint = match args.env {
                Some(ServeEnv::Local) => format!(
                    "; write it with `retainctl apply --env local{} --snapshot {}` (which also writes the simulator's realtime-root.pem)",
                    match args.local_mode {
                        Mode::Sandbox => "",
                        Mode::Production => " --local-mode production",
                    },
                    sources.snapshot
                ),
                None => String::new(),
            };
            anyhow::anyhow!("cannot serve: {e}{hint}")
        })?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(ReloadingCert::load(cert, key).map_err(|e| anyhow::anyhow!("cannot serve: {e}"))?)
        }
        _ => None,
    };
    let decisions = match &args.decisions {
        Some(dir) => {
            let key = crate::serve::decisions::CustomerKey::from_env(lookup)
                .map_err(|e| anyhow::anyhow!("cannot serve: {e}"))?;
            Some(
                crate::serve::decisions::DecisionLog::start(
                    dir,
                    key,
                    upload(args.decisions_to.as_deref())?,
                )
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot serve: cannot write decisions in {}: {e}",
                        dir.display()
                    )
                })?,
            )
        }
        None => None,
    };
    let live = match &args.notifications {
        Some(dir) => {
            let path = args.notifications_path.as_str();
            let taken = ["/healthz", "/readyz", "/metrics"].contains(&path);
            let plain = path.len() > 1
                && path.starts_with('/')
                && !path.contains(['{', '}', '*', '?', '#'])
                && !path.ends_with('/');
            if taken || !plain {
                anyhow::bail!(
                    "--notifications-path {} must be a plain path of its own starting with / (not /healthz, /readyz or /metrics), e.g. /app-store-notifications",
                    args.notifications_path
                );
            }
            let key = crate::serve::decisions::CustomerKey::from_env(lookup)
                .map_err(|e| anyhow::anyhow!("cannot serve: {e}"))?;
            Some(Arc::new(
                crate::outcomes::live::LiveSink::open(dir, key).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot serve: cannot write notifications in {}: {e}",
                        dir.display()
                    )
                })?,
            ))
        }
        None => None,
    };
    let metrics = Arc::new(Metrics::new(Some(Box::new(move || {
        dropped.dropped_lines() as u64
    }))));
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener.local_addr()?;
        let shutdown = crate::serve::shutdown_signal()
            .map_err(|e| anyhow::anyhow!("cannot watch for SIGTERM: {e}"))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {scheme}://{addr}");
            let _ = out.flush();
        }
        match &served {
            Some(served) => {
                tracing::info!(
                    target: "retainctl::serve",
                    "retainctl serve: {} snapshot {} ({} apps), {} trusted roots",
                    served.snapshot.environment,
                    sources.snapshot,
                    served.snapshot.apps.len(),
                    served.trusted_roots
                );
                for warning in &served.warnings {
                    tracing::warn!(target: "retainctl::serve", "{warning}");
                }
            }
            None => tracing::info!(
                target: "retainctl::serve",
                "retainctl serve: waiting for {} (/readyz answers 503 until it is served)",
                sources.snapshot
            ),
        }
        let acceptor = tls
            .as_ref()
            .map(|tls| tokio_rustls::TlsAcceptor::from(tls.server_config()));
        let state = ServeState::with(served, sources, Box::new(lookup), metrics.clone(), tls);
        if let Some(log) = decisions {
            let _ = state.decisions.set(log);
        }
        let recorded = state.clone();
        let reloader = crate::serve::spawn_reloader(state.clone(), args.reload_interval);
        let stopping = state.clone();
        let shutdown = async move {
            shutdown.await;
            stopping
                .stopping
                .store(true, std::sync::atomic::Ordering::SeqCst);
        };
        let mut routes = crate::serve::router(
            state.clone(),
            if args.health_detail {
                crate::serve::HealthDetail::Full
            } else {
                crate::serve::HealthDetail::StatusOnly
            },
        );
        if let Some(sink) = live {
            routes = routes.merge(crate::outcomes::live::router(state, sink, &args.notifications_path));
        }
        crate::serve::serve_until(
            listener,
            routes,
            acceptor,
            metrics,
            shutdown,
        )
        .await;
        reloader.abort();
        if let Some(log) = recorded.decisions.get() {
            // Every decision of the requests answered is written before the process ends.
            if !log.flush(std::time::Duration::from_secs(5)) {
                tracing::warn!(target: "retainctl::serve", "the decisions could not all be written within 5 s");
            }
            let dropped = log.dropped.load(std::sync::atomic::Ordering::Relaxed);
            if dropped > 0 {
                tracing::warn!(target: "retainctl::serve", "{dropped} decisions were dropped: the writer could not keep up");
            }
        }
        anyhow::Ok(())
    })?;
    drop(log_guard);
    Ok(ExitCode::SUCCESS)
}

/// `--decisions-to s3://BUCKET/PREFIX`: where closed decisions files also go, under this
/// replica's name (its host name, else a random one).
fn upload(url: Option<&str>) -> anyhow::Result<Option<crate::serve::decisions::Upload>> {
    use crate::realtime::store::SnapshotLocation;
    let Some(url) = url else {
        return Ok(None);
    };
    let to = match SnapshotLocation::parse(url.as_ref()) {
        Ok(SnapshotLocation::Object(object)) => object,
        Ok(SnapshotLocation::File(_)) => {
            anyhow::bail!("--decisions-to {url}: give an object store prefix, s3://BUCKET/PREFIX")
        }
        Err(e) => anyhow::bail!("--decisions-to: {e}"),
    };
    let instance = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_string());
    Ok(Some(crate::serve::decisions::Upload { to, instance }))
}
