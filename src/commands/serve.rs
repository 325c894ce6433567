//! `retainctl serve`: runs the realtime endpoint (`crate::serve`) on `--listen` until
//! SIGTERM or ctrl-c, reloading the snapshot and trust roots when they change. Prints
//! `listening on http://ADDR` as its first line (`--listen 127.0.0.1:0` picks a port).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{ServeArgs, ServeEnv};
use crate::serve::{ServeState, Served, Sources};
use crate::sim::Mode;

/// The snapshot `apply --env local --snapshot` writes by default for a mode, in the local
/// state folder.
pub fn local_snapshot(state_dir: &std::path::Path, mode: Mode) -> PathBuf {
    state_dir.join(match mode {
        Mode::Sandbox => "sandbox-snapshot.json",
        Mode::Production => "production-snapshot.json",
    })
}

/// The files served: `--snapshot` and `--trust-root`, or their `--env local` defaults.
pub fn sources(args: &ServeArgs) -> Sources {
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
    Sources {
        snapshot,
        trust_roots,
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let sources = sources(&args);
    let served = Served::load(&sources, &|name| std::env::var(name).ok()).map_err(|e| {
        let hint = match args.env {
            Some(ServeEnv::Local) => format!(
                "; write it with `retainctl apply --env local{} --snapshot {}` (which also writes the simulator's realtime-root.pem)",
                match args.local_mode {
                    Mode::Sandbox => "",
                    Mode::Production => " --local-mode production",
                },
                sources.snapshot.display()
            ),
            None => String::new(),
        };
        anyhow::anyhow!("cannot serve: {e}{hint}")
    })?;
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener.local_addr()?;
        let shutdown = crate::serve::shutdown_signal()
            .map_err(|e| anyhow::anyhow!("cannot watch for SIGTERM: {e}"))?;
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on http://{addr}");
            let _ = out.flush();
        }
        eprintln!(
            "retainctl serve: {} snapshot {} ({} apps), {} trusted roots",
            served.snapshot.environment,
            sources.snapshot.display(),
            served.snapshot.apps.len(),
            served.trusted_roots
        );
        if served.snapshot.source == Some(crate::realtime::SnapshotSource::Simulator)
            && args.env != Some(ServeEnv::Local)
        {
            eprintln!(
                "warning: {} was written from the simulator (--env local): Apple knows none of its message ids; serve it with --env local, or write one with `apply --env sandbox|production --snapshot`",
                sources.snapshot.display()
            );
        }
        if served.snapshot.environment == crate::manifest::EnvironmentName::Production
            && !sources.trust_roots.is_empty()
        {
            eprintln!(
                "warning: serving production and trusting {} root(s) besides Apple's (--trust-root): whoever holds their keys can sign requests this server accepts",
                sources.trust_roots.len()
            );
        }
        let state = ServeState::new(served, sources);
        let reloader = crate::serve::spawn_reloader(state.clone(), args.reload_interval);
        crate::serve::serve_until(listener, crate::serve::router(state), shutdown).await;
        reloader.abort();
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
