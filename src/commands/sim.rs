//! `retainctl sim` (serve) and `retainctl sim review` (talk to a running simulator): the
//! command layer around `crate::sim`, which knows nothing of the CLI.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{ReviewDecision, SimAction, SimCommand, SimServeArgs};
use crate::sim::faults::FaultConfig;
use crate::sim::server::{ReviewAnswer, ReviewRequest, SimConfig};

pub fn run(command: SimCommand) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    match command.action {
        Some(SimAction::Review {
            url,
            state,
            decision,
        }) => match (url, state) {
            (Some(url), _) => runtime.block_on(review(&url, decision)),
            (None, Some(state)) => review_file(&state, decision),
            (None, None) => {
                Err("give --url of a running simulator or --state of a state file".into())
            }
        },
        None => runtime.block_on(serve(command.serve)),
    }
    .map_err(anyhow::Error::msg)?;
    Ok(ExitCode::SUCCESS)
}

fn config(args: &SimServeArgs) -> Result<SimConfig, String> {
    if args.public_keys.is_empty() {
        return Err(
            "give the public key whose tokens the simulator accepts: --public-key PEM_FILE".into(),
        );
    }
    let public_keys = args
        .public_keys
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read public key {}: {e}", p.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SimConfig {
        mode: args.mode,
        bundle_id: args.bundle_id.clone(),
        products: args.products.clone(),
        public_keys,
        state_file: args.state.clone(),
        review_delay: args.review_delay,
        rate_limits: args.rate_limits,
        faults: FaultConfig {
            latency_ms: args.latency_ms,
            slow_every: args.slow_every,
            slow_ms: args.slow_ms,
            error_every: args.error_every,
            error_rate: args.error_rate,
            rate_limit_every: args.rate_limit_every,
            rate_limit_rate: args.rate_limit_rate,
            retry_after_ms: args.retry_after_ms,
            commit_then_fail_every: args.commit_then_fail_every,
            drop_every: args.drop_every,
            drop_rate: args.drop_rate,
            seed: args.seed,
            rules: args.fault_rules.clone(),
        },
        perf: crate::sim::PerfConfig {
            settings: crate::sim::perf::PerfTestSettings {
                max_concurrent_requests: args.perf_concurrency,
                total_requests: args.perf_requests,
                total_duration: args.perf_total_duration,
                response_time_threshold: args.perf_response_time,
                success_rate_threshold: args.perf_success_rate,
            },
            shared_record: args.shared_record.clone(),
            realtime_root_out: args.realtime_root_out.clone(),
        },
    })
}

async fn serve(args: SimServeArgs) -> Result<(), String> {
    let config = config(&args)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    }
    eprintln!(
        "retainctl sim: {} mode, state {}",
        match config.mode {
            crate::sim::Mode::Sandbox => "sandbox",
            crate::sim::Mode::Production => "production",
        },
        config
            .state_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "in memory".into())
    );
    crate::sim::server::serve(config, listener).await
}

fn review_request(decision: ReviewDecision) -> ReviewRequest {
    match decision {
        ReviewDecision::Approve { ids } => ReviewRequest {
            approve: ids,
            ..Default::default()
        },
        ReviewDecision::Reject { ids } => ReviewRequest {
            reject: ids,
            ..Default::default()
        },
        ReviewDecision::ApproveAll => ReviewRequest {
            approve_all: true,
            ..Default::default()
        },
    }
}

/// Reviews content in a state file of a simulator that is not running.
fn review_file(path: &std::path::Path, decision: ReviewDecision) -> Result<(), String> {
    if !path.exists() {
        return Err(format!("no simulator state at {}", path.display()));
    }
    let mut world = crate::sim::server::load_world(Some(path))?;
    let missing = crate::sim::server::apply_review(&mut world, &review_request(decision));
    let text = serde_json::to_string_pretty(&world).map_err(|e| e.to_string())?;
    crate::sim::server::write_atomically(path, text.as_bytes())?;
    if !missing.is_empty() {
        return Err(format!(
            "not found in the simulator: {}",
            missing.join(", ")
        ));
    }
    println!("reviewed");
    Ok(())
}

async fn review(url: &str, decision: ReviewDecision) -> Result<(), String> {
    let request = review_request(decision);
    let endpoint = format!("{}/_sim/review", url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&endpoint)
        .json(&request)
        .send()
        .await
        .map_err(|e| format!("cannot reach the simulator at {url}: {e}"))?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(format!(
            "the simulator refused the review ({status}): {text}"
        ));
    }
    let answer: ReviewAnswer = response
        .json()
        .await
        .map_err(|e| format!("unexpected answer from the simulator: {e}"))?;
    if !answer.missing.is_empty() {
        return Err(format!(
            "not found in the simulator: {}",
            answer.missing.join(", ")
        ));
    }
    println!("reviewed");
    Ok(())
}
