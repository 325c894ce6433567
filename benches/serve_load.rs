//! A load run of `retainctl serve` on loopback: the real binary (built by cargo for this
//! bench) with a one-app snapshot, and an open-loop generator sending Apple-shaped signed
//! requests at a fixed rate (default 1,000/s for 20 s; each request's latency counts from
//! when it was due, so a stall is not hidden). Prints p50/p90/p99/max and the statuses.
//! Run: `cargo bench --bench serve_load` (`SERVE_LOAD_RATE`, `SERVE_LOAD_SECONDS` to change).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use retainctl::manifest::EnvironmentName;
use retainctl::realtime::{AppRealtime, ApprovedVersion, Rule, RuleAnswer, Snapshot};
use retainctl::sim::perf::RealtimeSigner;
use serde_json::json;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that is not ours skips the run
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"serve_load".contains(&a))
    {
        return;
    }
    let rate = env_number("SERVE_LOAD_RATE", 1000).max(1);
    let seconds = env_number("SERVE_LOAD_SECONDS", 20).max(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = RealtimeSigner::generate().expect("a chain");
    let root = dir.path().join("root.pem");
    std::fs::write(&root, signer.root_pem()).unwrap();
    let mut snapshot = Snapshot::new(EnvironmentName::Sandbox);
    snapshot.apps.push(AppRealtime {
        bundle_id: "com.bench.app".into(),
        app_apple_id: Some(1234567890),
        offer_signing: None,
        locales: vec!["en-US".into()],
        rules: vec![Rule {
            product: "*".into(),
            locales: None,
            buckets: None,
            answer: RuleAnswer::Message("stay".into()),
        }],
        approved: BTreeMap::from([(
            "stay".to_string(),
            BTreeMap::from([(
                "en-US".to_string(),
                ApprovedVersion {
                    message_id: uuid::Uuid::new_v4(),
                    current: true,
                },
            )]),
        )]),
    });
    let snapshot_path = dir.path().join("snapshot.json");
    std::fs::write(&snapshot_path, snapshot.to_json()).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["serve", "--listen", "127.0.0.1:0", "--snapshot"])
        .arg(&snapshot_path)
        .arg("--trust-root")
        .arg(&root)
        // one log line per request (the default) into a file: its `ms` is the time in the
        // server, from the request read to the answer made
        .env("RUST_LOG", "retainctl::serve=info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap())
        .spawn()
        .expect("start retainctl serve");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = format!(
        "{}/apple/realtime",
        first
            .trim()
            .strip_prefix("listening on ")
            .expect("first line")
    );

    // distinct customers, signed before the clock starts
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..1000)
            .map(|i| {
                let jws = signer
                    .sign(&json!({
                        "originalTransactionId": format!("20000000{i:08}"),
                        "appAppleId": 1234567890,
                        "productId": "com.bench.monthly",
                        "userLocale": "en-US",
                        "requestIdentifier": uuid::Uuid::new_v4().to_string(),
                        "signedDate": now_ms,
                        "environment": "Sandbox",
                    }))
                    .unwrap();
                json!({ "signedPayload": jws }).to_string()
            })
            .collect(),
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (mut latencies, statuses, elapsed) = runtime.block_on(async move {
        let client = reqwest::Client::new();
        let total = rate * seconds;
        let period = Duration::from_nanos(1_000_000_000 / rate);
        let start = tokio::time::Instant::now();
        let mut tasks = Vec::with_capacity(total as usize);
        for i in 0..total {
            let due = start + period * i as u32;
            tokio::time::sleep_until(due).await;
            let (client, url, bodies) = (client.clone(), url.clone(), bodies.clone());
            tasks.push(tokio::spawn(async move {
                let body = bodies[i as usize % bodies.len()].clone();
                let status = match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
                };
                (due.elapsed(), status)
            }));
        }
        let mut latencies = Vec::with_capacity(tasks.len());
        let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
        for t in tasks {
            let (latency, status) = t.await.unwrap();
            latencies.push(latency);
            *statuses.entry(status).or_default() += 1;
        }
        (latencies, statuses, start.elapsed())
    });
    let _ = child.kill();
    let _ = child.wait();

    latencies.sort();
    let quantile = |sorted: &[f64], q: f64| {
        let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i]
    };
    let client: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let at = |q: f64| quantile(&client, q);
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    let mut server: Vec<f64> = log
        .lines()
        .filter(|l| l.contains("realtime answered"))
        .filter_map(|l| {
            l.split(" ms=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    server.sort_by(|a, b| a.total_cmp(b));
    if !server.is_empty() {
        println!(
            "serve load, in the server ({} answers): p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
            server.len(),
            quantile(&server, 0.50),
            quantile(&server, 0.90),
            quantile(&server, 0.99),
            quantile(&server, 0.999),
            quantile(&server, 1.0),
        );
    }
    println!(
        "serve load, at the client: {} requests at {rate}/s for {seconds} s (took {:.1} s): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms; statuses {:?} (0 = no answer)",
        latencies.len(),
        elapsed.as_secs_f64(),
        at(0.50),
        at(0.90),
        at(0.99),
        at(0.999),
        at(1.0),
        statuses
    );
}
