//! `retainctl notifications pull`: Get Notification History, page by page, for every app
//! of the manifests in one environment. Each notification is verified (its chain to
//! Apple's root or a `--trust-root`, its app and environment, the signed transaction and
//! renewal inside it) and kept as an outcome line (hashed customer, event, time, product,
//! offer) in `OUT/outcomes-BUNDLE-ENV.jsonl`; one that does not verify is skipped, named
//! and counted. After every page the pull's state (`OUT/pull-state.json`: the window and
//! the next page's token) is saved, so a pull that fails goes on from the page it stopped
//! at; an expired token reads the window again from its start, and the next pull starts
//! an hour before the last one ended (the report counts a notification once, by its id).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::{Output, Reach, default_paths, load_apps, local_if_needed};
use crate::apple::ApiErrorCode;
use crate::apple::model::NotificationHistoryRequest;
use crate::cli::PullArgs;
use crate::manifest::EnvironmentName;
use crate::outcomes::notifications::{Expected, outcome_of};
use crate::serve::decisions::CustomerKey;
use crate::serve::verify::{APPLE_ROOT_CA_G3, AppleEnvironment, RequestVerifier, parse_trust_pem};

const STATE: &str = "pull-state.json";
/// How far back a pull starts before where the last one ended.
const OVERLAP_MS: i64 = 3_600_000;

/// Where a window of one app × environment stands.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Window {
    start: i64,
    end: i64,
    /// The next page's token; none and `done`: the window is read.
    token: Option<String>,
    done: bool,
}

pub fn pull(args: PullArgs, reach: &Reach) -> anyhow::Result<ExitCode> {
    let env: EnvironmentName = args.env.into();
    let key = CustomerKey::from_env(|n| std::env::var(n).ok())
        .map_err(|e| anyhow::anyhow!("cannot pull: {e}"))?;
    let apple_env = match (env, reach.local_mode) {
        (EnvironmentName::Production, _)
        | (EnvironmentName::Local, crate::sim::Mode::Production) => AppleEnvironment::Production,
        _ => AppleEnvironment::Sandbox,
    };
    let mut roots = vec![APPLE_ROOT_CA_G3.to_vec()];
    let mut root_files = args.trust_roots.clone();
    if env == EnvironmentName::Local {
        root_files.push(super::reach::local_state_dir().join("realtime-root.pem"));
    }
    for file in &root_files {
        let text =
            std::fs::read(file).with_context(|| format!("--trust-root {}", file.display()))?;
        roots.extend(
            parse_trust_pem(&text)
                .map_err(|e| anyhow::anyhow!("--trust-root {}: {e}", file.display()))?,
        );
    }
    let verifier = RequestVerifier::new(roots, apple_env);
    let since_ms = args
        .since
        .as_deref()
        .map(super::report::since)
        .transpose()?;
    let apps = load_apps(&default_paths(args.paths.clone()))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot make the folder {}", args.out.display()))?;
    let state_path = args.out.join(STATE);
    let mut state: BTreeMap<String, Window> = match std::fs::read(&state_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a pull state: move it away to start over",
                state_path.display()
            )
        })?,
        Err(_) => BTreeMap::new(),
    };
    let now = crate::outcomes::records::now_ms();
    let runtime = super::runtime()?;
    let mut out = Output::stdout();
    let mut failed = false;
    runtime.block_on(async {
        let local = local_if_needed(&[env], reach).await?;
        for app in &apps {
            let bundle = &app.manifest.app.bundle_id;
            let name = format!("{bundle}/{env}");
            // --since starts a window of its own; otherwise an unfinished window goes on,
            // and a finished one is followed by the next, from an hour before it ended
            // (Apple may index a notification late; one read twice counts once).
            let window = match (since_ms, state.get(&name)) {
                (Some(start), _) => Window { start, end: now, ..Window::default() },
                (None, Some(w)) if !w.done => w.clone(),
                (None, Some(w)) => Window {
                    start: w.end.saturating_sub(OVERLAP_MS),
                    end: now,
                    ..Window::default()
                },
                (None, None) => anyhow::bail!(
                    "{bundle} has never been pulled: give --since (e.g. 30d, or a date within the history Apple keeps)"
                ),
            };
            let client = super::client_for(app, env, reach, local.as_ref()).map_err(anyhow::Error::msg)?;
            let expected = Expected {
                bundle_id: bundle,
                environment: apple_env.as_str(),
                app_apple_id: app.manifest.app.app_apple_id,
            };
            let file = args.out.join(format!(
                "outcomes-{}-{env}.jsonl",
                super::preview::file_part(bundle, true)
            ));
            let summary = pull_app(&client, &verifier, &expected, &key, window, &file, |w| {
                state.insert(name.clone(), w.clone());
                save(&state_path, &state)
            })
            .await;
            match summary {
                Ok(s) => out.line(&format!(
                    "{bundle} · {env}: {} read in {}, {} kept, {} not counted, {} skipped",
                    s.read, crate::render::plural(s.pages, "page", "pages"), s.kept, s.ignored, s.skipped
                )),
                Err(e) => {
                    failed = true;
                    eprintln!("error: {bundle} · {env}: {e:#}");
                }
            }
        }
        anyhow::Ok(())
    })?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Default)]
struct Summary {
    pages: usize,
    read: usize,
    kept: usize,
    ignored: usize,
    skipped: usize,
}

/// Reads the window's pages from where it stands; `saved` is called with the window
/// after each page's outcomes are written.
async fn pull_app(
    client: &crate::apple::AppleClient,
    verifier: &RequestVerifier,
    expected: &Expected<'_>,
    key: &CustomerKey,
    mut window: Window,
    file: &Path,
    mut saved: impl FnMut(&Window) -> anyhow::Result<()>,
) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    let mut outcomes = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    while !window.done {
        let request = NotificationHistoryRequest {
            start_date: window.start,
            end_date: window.end,
        };
        let page = match client
            .get_notification_history(&request, window.token.as_deref())
            .await
        {
            Ok(page) => page,
            Err(e) if e.code() == Some(ApiErrorCode::PaginationTokenExpired) => {
                // Read the window again from its start: Apple does not promise the order
                // of the history, and what was kept already counts once.
                window.token = None;
                continue;
            }
            Err(e) => {
                let hint = match e.code() {
                    Some(ApiErrorCode::StartDateTooFarInPast) => {
                        ": Apple keeps 180 days of notifications in production and 30 in sandbox; give a later --since"
                    }
                    Some(ApiErrorCode::InvalidPaginationToken) => {
                        ": the saved token is not Apple's; move pull-state.json away and pull again with --since"
                    }
                    _ => "",
                };
                return Err(anyhow::anyhow!("{e}{hint}"));
            }
        };
        summary.pages += 1;
        let mut lines = Vec::new();
        for (i, item) in page.notification_history.iter().enumerate() {
            summary.read += 1;
            match outcome_of(verifier, &item.signed_payload, expected, key) {
                Ok(Some(outcome)) => {
                    lines.extend(serde_json::to_vec(&outcome).expect("an outcome serializes"));
                    lines.push(b'\n');
                    summary.kept += 1;
                }
                Ok(None) => summary.ignored += 1,
                Err(e) => {
                    summary.skipped += 1;
                    eprintln!(
                        "warning: {}: notification {} of page {} skipped: {e}",
                        expected.bundle_id,
                        i + 1,
                        summary.pages
                    );
                }
            }
        }
        outcomes
            .write_all(&lines)
            .and_then(|()| outcomes.sync_data())
            .with_context(|| format!("cannot write {}", file.display()))?;
        window.token = page.pagination_token.filter(|_| page.has_more);
        window.done = window.token.is_none();
        saved(&window)?;
    }
    Ok(summary)
}

fn save(path: &Path, state: &BTreeMap<String, Window>) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(state).expect("the state serializes");
    crate::atomic_file::write(path, &bytes, crate::atomic_file::Durability::Flushed)
        .map_err(|e| anyhow::anyhow!("cannot save {}: {e}", path.display()))
}
