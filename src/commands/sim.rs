//! `retainctl sim` (serve) and `retainctl sim review` (talk to a running simulator or
//! edit its state file): the command layer around `crate::sim`, which knows nothing of the
//! CLI. Review targets are ids or manifest keys (`keep-calm`, `keep-calm/en-US`, an image
//! key), resolved through the manifests; the review prints every state it changed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::atomic_file::Durability;
use crate::cli::{ReviewDecision, SimAction, SimCommand, SimServeArgs};
use crate::sim::faults::FaultConfig;
use crate::sim::server::{ReviewAnswer, ReviewRequest, SimConfig};
use crate::sim::state::World;

pub fn run(command: SimCommand) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    match command.action {
        Some(SimAction::Review {
            url,
            state,
            paths,
            decision,
        }) => Targets::resolve(super::default_paths(paths), decision).and_then(|targets| {
            match (url, state) {
                (Some(url), _) => runtime.block_on(review(&url, &targets)),
                (None, Some(state)) => review_file(&state, &targets),
                (None, None) => {
                    Err("give --url of a running simulator or --state of a state file".into())
                }
            }
        }),
        Some(SimAction::Population { url, model }) => runtime.block_on(population(&url, &model)),
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

/// What a review names, as ids, and the manifest key of every id the manifests know.
struct Targets {
    request: ReviewRequest,
    /// id → `bundle key/locale` (messages) or `bundle key` (images).
    names: BTreeMap<String, String>,
}

impl Targets {
    /// Turns ids and keys into ids. The manifests under `paths` are read only when a target
    /// is not an id, or to name what changed (quietly: a folder without manifests is fine).
    fn resolve(paths: Vec<PathBuf>, decision: ReviewDecision) -> Result<Targets, String> {
        let (targets, approve) = match decision {
            ReviewDecision::Approve { ids } => (ids, true),
            ReviewDecision::Reject { ids } => (ids, false),
            ReviewDecision::ApproveAll => {
                return Ok(Targets {
                    request: ReviewRequest {
                        approve_all: true,
                        ..Default::default()
                    },
                    names: names(&paths, false)?,
                });
            }
        };
        let needs_keys = targets.iter().any(|t| uuid::Uuid::parse_str(t).is_err());
        let names = names(&paths, needs_keys)?;
        let mut ids = vec![];
        for target in targets {
            if let Ok(id) = uuid::Uuid::parse_str(&target) {
                ids.push(id.to_string());
                continue;
            }
            let found: Vec<&String> = names
                .iter()
                .filter(|(_, name)| {
                    let key_part = name.split_once(' ').map(|(_, k)| k).unwrap_or(name);
                    key_part == target
                        || key_part
                            .split_once('/')
                            .is_some_and(|(key, _)| key == target)
                })
                .map(|(id, _)| id)
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "`{target}` is neither an id nor a message or image key of the manifests in {} (give a key like keep-calm or keep-calm/en-US, or --path)",
                    paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            ids.extend(found.into_iter().cloned());
        }
        ids.dedup();
        Ok(Targets {
            request: if approve {
                ReviewRequest {
                    approve: ids,
                    ..Default::default()
                }
            } else {
                ReviewRequest {
                    reject: ids,
                    ..Default::default()
                }
            },
            names,
        })
    }
}

/// Every id the manifests produce, with its key. `required`: keys were given, so the
/// manifests must load.
fn names(paths: &[PathBuf], required: bool) -> Result<BTreeMap<String, String>, String> {
    let loaded = crate::loader::load(paths);
    if required && (loaded.report.has_errors() || loaded.apps.is_empty()) {
        for d in &loaded.report.diagnostics {
            eprintln!("{}", d.render());
        }
        return Err(
            "keys are resolved through valid manifests: none found (give ids, or --path to the manifests)"
                .into(),
        );
    }
    let mut out = BTreeMap::new();
    for app in &loaded.apps {
        let bundle = &app.desired.bundle_id;
        for m in &app.desired.messages {
            out.insert(m.id.to_string(), format!("{bundle} {}/{}", m.key, m.locale));
        }
        for i in &app.desired.images {
            out.insert(i.id.to_string(), format!("{bundle} {}", i.key));
        }
    }
    Ok(out)
}

/// One line per message or image whose review state changed between two states.
fn changes(before: &World, after: &World, names: &BTreeMap<String, String>) -> Vec<String> {
    let mut lines = vec![];
    for (bundle, app) in &after.apps {
        let old = before.apps.get(bundle);
        let states = app
            .messages
            .iter()
            .map(|(id, m)| {
                (
                    "message",
                    id,
                    &m.state,
                    old.and_then(|o| o.messages.get(id)).map(|m| &m.state),
                )
            })
            .chain(app.images.iter().map(|(id, i)| {
                (
                    "image",
                    id,
                    &i.state,
                    old.and_then(|o| o.images.get(id)).map(|i| &i.state),
                )
            }));
        for (kind, id, state, was) in states {
            if Some(state) == was {
                continue;
            }
            let name = names
                .get(id)
                .map(|n| format!(" ({n})"))
                .unwrap_or_else(|| format!(" ({bundle})"));
            lines.push(format!("{} {kind} {id}{name}", state.as_str()));
        }
    }
    lines
}

fn print_changes(lines: &[String]) {
    let mut out = super::Output::stdout();
    if lines.is_empty() {
        out.line("reviewed: nothing changed");
    }
    for line in lines {
        out.line(&format!("reviewed: {line}"));
    }
}

/// Reviews content in a state file of a simulator that is not running.
fn review_file(path: &std::path::Path, targets: &Targets) -> Result<(), String> {
    if !path.exists() {
        return Err(format!("no simulator state at {}", path.display()));
    }
    let mut world = crate::sim::server::load_world(Some(path))?;
    let before = world.clone();
    let missing = crate::sim::server::apply_review(&mut world, &targets.request);
    let text = serde_json::to_string_pretty(&world).map_err(|e| e.to_string())?;
    crate::atomic_file::write(path, text.as_bytes(), Durability::Flushed)?;
    print_changes(&changes(&before, &world, &targets.names));
    if !missing.is_empty() {
        return Err(format!(
            "not found in the simulator: {}",
            missing.join(", ")
        ));
    }
    Ok(())
}

async fn state_of(client: &reqwest::Client, url: &str) -> Result<World, String> {
    let endpoint = format!("{}/_sim/state", url.trim_end_matches('/'));
    client
        .get(&endpoint)
        .send()
        .await
        .map_err(|e| format!("cannot reach the simulator at {url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("unexpected state from the simulator at {url}: {e}"))
}

async fn review(url: &str, targets: &Targets) -> Result<(), String> {
    let client = reqwest::Client::new();
    let before = state_of(&client, url).await?;
    let endpoint = format!("{}/_sim/review", url.trim_end_matches('/'));
    let response = client
        .post(&endpoint)
        .json(&targets.request)
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
    let after = state_of(&client, url).await?;
    print_changes(&changes(&before, &after, &targets.names));
    if !answer.missing.is_empty() {
        return Err(format!(
            "not found in the simulator: {}",
            answer.missing.join(", ")
        ));
    }
    Ok(())
}

/// `sim population`: hands the model to the running simulator and prints what happened.
async fn population(url: &str, model: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read(model).map_err(|e| format!("cannot read {}: {e}", model.display()))?;
    serde_json::from_slice::<crate::sim::population::Population>(&text)
        .map_err(|e| format!("{} is not a population: {e}", model.display()))?;
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/population", url.trim_end_matches('/')))
        .body(text)
        .send()
        .await
        .map_err(|e| format!("cannot reach the simulator at {url}: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!(
            "the simulator refused the population ({status}): {body}"
        ));
    }
    let summary: crate::sim::population::PopulationSummary =
        serde_json::from_str(&body).map_err(|e| format!("unexpected answer: {e}"))?;
    let words = |m: &std::collections::BTreeMap<String, u32>| {
        m.iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = super::Output::stdout();
    out.line(&format!("answered: {}", words(&summary.answered)));
    out.line(&format!("notified: {}", words(&summary.notified)));
    if summary.failed > 0 || summary.live_failed > 0 {
        return Err(format!(
            "{} realtime requests and {} live notifications were not answered as expected",
            summary.failed, summary.live_failed
        ));
    }
    Ok(())
}
