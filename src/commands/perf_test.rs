//! `retainctl perf-test`: runs Apple's performance test of each app's sandbox realtime URL
//! (the gate before a production realtime URL). Makes sure Apple's sandbox URL is the
//! manifest's first, initiates the test, polls its result with backoff, and prints Apple's
//! figures with a plain-language hint per kind of failure.
//!
//! Exit codes: 0 every test passed; 1 a test failed or an app could not be tested; 2
//! `--wait` ran out while a test was still PENDING.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{EXIT_PENDING, Output, Reach, default_paths, load_apps, local_if_needed};
use crate::apple::AppleClient;
use crate::apple::model::PerformanceTestResultResponse;
use crate::cli::{PerfTestArgs, PerfTestEnv, PerfTestFormat};
use crate::loader::LoadedApp;
use crate::manifest::EnvironmentName;
use crate::sim::perf::SendAttemptResult;

/// How one app's test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Pass,
    Fail,
    /// `--wait` ran out with the test still running.
    Pending,
    /// The test could not be run or read (the error says why).
    Error,
}

/// One app's report (the `--format json` document is a list of these).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppTest {
    pub bundle_id: String,
    pub file: String,
    pub environment: EnvironmentName,
    pub realtime_url: String,
    /// Apple's sandbox URL was something else and was configured first.
    pub configured_url: bool,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Apple's last answer of Get Performance Test Results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<PerformanceTestResultResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn run(args: PerfTestArgs, reach: &Reach) -> anyhow::Result<ExitCode> {
    let env = match args.env {
        PerfTestEnv::Sandbox => EnvironmentName::Sandbox,
        PerfTestEnv::Local => EnvironmentName::Local,
    };
    if env == EnvironmentName::Local && reach.local_mode != crate::sim::Mode::Sandbox {
        anyhow::bail!(
            "Apple runs performance tests only in sandbox: use `--env local` with `--local-mode sandbox`"
        );
    }
    if let Some(id) = &args.transaction_id
        && !crate::apple::limits::is_transaction_id(id)
    {
        anyhow::bail!(
            "--transaction-id `{id}` is not a transaction id: give the digits of the original transaction id of an active auto-renewable subscription purchased in sandbox"
        );
    }
    let apps = load_apps(&default_paths(args.paths.clone()))?;
    let targets: Vec<(&LoadedApp, String)> = apps
        .iter()
        .filter_map(|app| sandbox_url(app, env).map(|url| (app, url)))
        .collect();
    for app in apps.iter().filter(|a| sandbox_url(a, env).is_none()) {
        eprintln!(
            "{} ({}): no environments.sandbox.realtimeUrl: nothing to test",
            app.desired.bundle_id,
            app.file.display()
        );
    }
    if targets.is_empty() {
        anyhow::bail!(
            "no app has a sandbox realtime URL: set `environments.sandbox.realtimeUrl` (the URL Apple's test calls), then run `retainctl apply --env sandbox` or this command again"
        );
    }
    let runtime = super::runtime()?;
    let reports = runtime.block_on(async {
        let local = local_if_needed(&[env], reach).await?;
        let mut reports = vec![];
        for (app, url) in &targets {
            reports.push(test_app(app, env, url, &args, reach, local.as_ref()).await);
        }
        anyhow::Ok(reports)
    })?;
    let mut out = Output::stdout();
    match args.format {
        PerfTestFormat::Text => {
            for report in &reports {
                out.print(&text(report));
            }
        }
        PerfTestFormat::Json => {
            out.print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&reports).expect("serializes")
            ));
        }
    }
    let any = |v: Verdict| reports.iter().any(|r| r.verdict == v);
    Ok(if any(Verdict::Fail) || any(Verdict::Error) {
        ExitCode::FAILURE
    } else if any(Verdict::Pending) {
        ExitCode::from(EXIT_PENDING)
    } else {
        ExitCode::SUCCESS
    })
}

/// The realtime URL the test is for: the environment's, for `local` the sandbox's when it
/// sets none.
fn sandbox_url(app: &LoadedApp, env: EnvironmentName) -> Option<String> {
    let urls = &app.desired.realtime_urls;
    urls.get(&env)
        .or_else(|| urls.get(&EnvironmentName::Sandbox))
        .cloned()
}

fn transaction_id(app: &LoadedApp, args: &PerfTestArgs) -> Option<String> {
    args.transaction_id.clone().or_else(|| {
        app.manifest
            .environments
            .get(&EnvironmentName::Sandbox)
            .and_then(|s| s.performance_test.as_ref())
            .map(|t| t.original_transaction_id.clone())
    })
}

/// Progress on stderr (stdout may be the JSON document).
fn progress(bundle: &str, line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{bundle}: {line}");
}

async fn test_app(
    app: &LoadedApp,
    env: EnvironmentName,
    url: &str,
    args: &PerfTestArgs,
    reach: &Reach,
    local: Option<&super::LocalApple>,
) -> AppTest {
    let bundle = app.desired.bundle_id.clone();
    let mut report = AppTest {
        bundle_id: bundle.clone(),
        file: app.file.display().to_string(),
        environment: env,
        realtime_url: url.to_string(),
        configured_url: false,
        verdict: Verdict::Error,
        request_id: None,
        result: None,
        error: None,
    };
    let Some(transaction) = transaction_id(app, args) else {
        report.error = Some(
            "no original transaction id: set `environments.sandbox.performanceTest.originalTransactionId` or give --transaction-id (an active auto-renewable subscription purchased in sandbox)".into(),
        );
        return report;
    };
    let client = match super::reach::client_for(app, env, reach, local) {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    if let Err(e) = run_test(&client, &mut report, &transaction, args.wait).await {
        report.error = Some(e);
        report.verdict = Verdict::Error;
    }
    report
}

async fn run_test(
    client: &AppleClient,
    report: &mut AppTest,
    transaction: &str,
    wait: Duration,
) -> Result<(), String> {
    let bundle = report.bundle_id.clone();
    let url = report.realtime_url.clone();
    let current = client.get_realtime_url().await.map_err(|e| e.to_string())?;
    if current.as_deref() != Some(url.as_str()) {
        progress(
            &bundle,
            &format!(
                "Apple's {} realtime URL is {}; configuring {url} first (the test calls that URL)",
                report.environment,
                current.as_deref().unwrap_or("not set")
            ),
        );
        client
            .configure_realtime_url(&url)
            .await
            .map_err(|e| e.to_string())?;
        report.configured_url = true;
    }
    let started = client
        .initiate_performance_test(transaction)
        .await
        .map_err(|e| e.to_string())?;
    let config = &started.config;
    progress(
        &bundle,
        &format!(
            "performance test {} started: {} requests, {} at a time, answers within {} ms, {}% must succeed",
            started.request_id,
            config.total_requests,
            config.max_concurrent_requests,
            config.response_time_threshold,
            config.success_rate_threshold
        ),
    );
    report.request_id = Some(started.request_id.clone());
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(250);
    let mut last_pending = None;
    loop {
        let result = client
            .get_performance_test_result(&started.request_id)
            .await
            .map_err(|e| e.to_string())?;
        let verdict = match result.result.as_str() {
            "PASS" => Some(Verdict::Pass),
            "FAIL" => Some(Verdict::Fail),
            "PENDING" => None,
            other => {
                return Err(format!("Apple answered an unknown test result `{other}`"));
            }
        };
        if let Some(verdict) = verdict {
            report.verdict = verdict;
            report.result = Some(result);
            return Ok(());
        }
        if result.num_pending != last_pending {
            last_pending = result.num_pending;
            if let Some(n) = result.num_pending {
                progress(
                    &bundle,
                    &format!("PENDING: {n} of {} requests to go", config.total_requests),
                );
            }
        }
        report.result = Some(result);
        let now = Instant::now();
        if now >= deadline {
            report.verdict = Verdict::Pending;
            return Ok(());
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 3 / 2).min(Duration::from_secs(10));
    }
}

/// What a kind of failure usually means and what to do.
pub fn failure_hint(kind: &str, threshold_ms: i64) -> String {
    let known: Option<SendAttemptResult> =
        serde_json::from_value(serde_json::Value::String(kind.to_string())).ok();
    match known {
        Some(SendAttemptResult::TimedOut) => format!(
            "no complete answer within {threshold_ms} ms: answer from memory or a fast store, without slow calls on the request's path"
        ),
        Some(SendAttemptResult::TlsIssue) => {
            "the TLS handshake failed: serve a certificate valid for the URL's host from a public CA (TLS 1.2 or later)".into()
        }
        Some(SendAttemptResult::InvalidResponse) => {
            "the answer was not a valid RealtimeResponseBody: exactly one of message, alternateProduct, promotionalOffer, with the messageIdentifier of an APPROVED message of this app (whose images are APPROVED)".into()
        }
        Some(SendAttemptResult::UnsuccessfulHttpResponseCode) => {
            "the server answered a status other than 2xx: check its logs (a failed signature check, a route that does not take POST)".into()
        }
        Some(SendAttemptResult::NoResponse) => {
            "nothing answered: check that the server runs and is reachable on the URL's host and port".into()
        }
        Some(SendAttemptResult::SocketIssue | SendAttemptResult::PrematureClose) => {
            "the connection broke before a complete answer: check the server's and any proxy's logs and limits".into()
        }
        Some(SendAttemptResult::CircularRedirect) => {
            "the URL redirects: configure the final URL, Apple does not follow redirects".into()
        }
        Some(SendAttemptResult::UnsupportedCharset) => {
            "answer `Content-Type: application/json` in UTF-8".into()
        }
        Some(SendAttemptResult::Other | SendAttemptResult::Success) | None => {
            "see the server's logs for these requests".into()
        }
    }
}

fn text(report: &AppTest) -> String {
    let mut s = format!(
        "{} · {} · {}\n",
        report.bundle_id, report.environment, report.realtime_url
    );
    let verdict = match report.verdict {
        Verdict::Pass => {
            "PASS: the production realtime URL can now be configured (`retainctl apply --env production`)"
        }
        Verdict::Fail => "FAIL",
        Verdict::Pending => {
            "still PENDING when --wait ran out: read it later or run again with a longer --wait"
        }
        Verdict::Error => "not run",
    };
    s.push_str(&format!("  result: {verdict}\n"));
    if let Some(id) = &report.request_id {
        s.push_str(&format!("  request id: {id}\n"));
    }
    if let Some(error) = &report.error {
        s.push_str(&format!("  error: {error}\n"));
    }
    if let Some(r) = &report.result {
        let c = &r.config;
        if let Some(rate) = r.success_rate {
            s.push_str(&format!(
                "  success rate: {rate}% (needs {}%)\n",
                c.success_rate_threshold
            ));
        }
        // Apple sends all zeros before any answer is measured
        let measured = r.num_pending.is_none_or(|n| n < c.total_requests);
        if let Some(t) = r.response_times.as_ref().filter(|_| measured) {
            s.push_str(&format!(
                "  response times (ms): average {}, p50 {}, p90 {}, p95 {}, p99 {} (limit {})\n",
                t.average, t.p50, t.p90, t.p95, t.p99, c.response_time_threshold
            ));
        }
        if let Some(n) = r.num_pending.filter(|n| *n > 0) {
            s.push_str(&format!("  pending: {n} of {}\n", c.total_requests));
        }
        for (kind, count) in r.failures.iter().flatten().filter(|(_, n)| **n > 0) {
            s.push_str(&format!(
                "  {kind}: {count} of {}\n    hint: {}\n",
                c.total_requests,
                failure_hint(kind, c.response_time_threshold)
            ));
        }
    }
    s
}
