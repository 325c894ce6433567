//! The production realtime URL's gate, end to end: the real binary, two real simulators
//! (sandbox and production) sharing their record of passed tests, and a realtime server
//! in this test answering the simulator's signed requests well, slowly, or wrongly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::SimProcess;
use axum::extract::State;
use axum::routing::post;
use base64::Engine;
use retainctl::apple::credentials::{PrivateKeyPem, generate_key_pair};
use retainctl::apple::image_rules::solid_png;
use serde_json::Value;

const BUNDLE: &str = "com.example.app";
const TRANSACTION: &str = "2000000123456789";

/// How the test's realtime server answers.
#[derive(Clone, Default)]
struct Behaviour {
    /// The message id answered; `None`: the first message the sandbox simulator holds.
    message: Option<String>,
    delay: Duration,
}

#[derive(Clone)]
struct Receiver {
    behaviour: Arc<Mutex<Behaviour>>,
    sandbox_url: String,
    /// Decoded payloads of the requests received.
    seen: Arc<Mutex<Vec<Value>>>,
    /// The x5c chains received (base64 DER, leaf first).
    chains: Arc<Mutex<Vec<Vec<String>>>>,
}

async fn realtime(State(r): State<Receiver>, body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    let behaviour = r.behaviour.lock().unwrap().clone();
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let jws = request["signedPayload"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let parts: Vec<&str> = jws.split('.').collect();
    if parts.len() == 3 {
        let decode = |s: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        };
        if let (Some(header), Some(payload)) = (decode(parts[0]), decode(parts[1])) {
            let chain = header["x5c"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            r.chains.lock().unwrap().push(chain);
            r.seen.lock().unwrap().push(payload);
        }
    }
    let message = match behaviour.message {
        Some(m) => m,
        None => first_message(&r.sandbox_url).await,
    };
    tokio::time::sleep(behaviour.delay).await;
    axum::Json(serde_json::json!({"message": {"messageIdentifier": message}})).into_response()
}

async fn first_message(sim: &str) -> String {
    let state: Value = reqwest::get(format!("{sim}/_sim/state"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state["apps"][BUNDLE]["messages"]
        .as_object()
        .and_then(|m| m.keys().next().cloned())
        .unwrap_or_default()
}

struct Setup {
    dir: tempfile::TempDir,
    key: PrivateKeyPem,
    sandbox: SimProcess,
    production: SimProcess,
    receiver: Receiver,
    /// `http://127.0.0.1:PORT`
    realtime_base: String,
    _runtime: tokio::runtime::Runtime,
}

impl Setup {
    fn new(behaviour: Behaviour) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (key, public) = generate_key_pair();
        let public_file = dir.path().join("public.pem");
        std::fs::write(&public_file, public).unwrap();
        let record = dir.path().join("perf-tests.json");
        let root = dir.path().join("realtime-root.pem");
        let record_s = record.to_str().unwrap();
        let sim = |mode: &str, extra: &[&str]| {
            let mut args = vec![
                "--mode",
                mode,
                "--products",
                "premium",
                "--shared-record",
                record_s,
                "--perf-requests",
                "20",
                "--perf-concurrency",
                "4",
            ];
            args.extend_from_slice(extra);
            SimProcess::spawn(&public_file, &args)
        };
        let sandbox = sim("sandbox", &["--realtime-root-out", root.to_str().unwrap()]);
        let production = sim("production", &[]);

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let receiver = Receiver {
            behaviour: Arc::new(Mutex::new(behaviour)),
            sandbox_url: sandbox.url.clone(),
            seen: Default::default(),
            chains: Default::default(),
        };
        let app = axum::Router::new()
            .route("/{*path}", post(realtime))
            .with_state(receiver.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let realtime_base = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let manifest = format!(
            "\
apiVersion: retainctl/v1
app:
  bundleId: {BUNDLE}
  locales: [en-US]
  products: [premium]
images:
  hero: {{ file: hero.png, size: FULL_SIZE }}
messages:
  stay:
    localizations:
      en-US:
        header: Stay with Premium
        body: Keep your plan.
        image: {{ ref: hero, altText: A person }}
defaults:
  premium: stay
environments:
  sandbox:
    realtimeUrl: {realtime_base}/sandbox
    performanceTest:
      originalTransactionId: \"{TRANSACTION}\"
  production:
    realtimeUrl: {realtime_base}/production
  local:
    realtimeUrl: {realtime_base}/local
"
        );
        std::fs::write(dir.path().join("app.yaml"), manifest).unwrap();
        std::fs::write(
            dir.path().join("hero.png"),
            solid_png(3840, 160, [200, 10, 10], false),
        )
        .unwrap();
        Setup {
            dir,
            key,
            sandbox,
            production,
            receiver,
            realtime_base,
            _runtime: runtime,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, sim: &SimProcess, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .args(args)
            .args(["--base-url", &sim.url])
            .current_dir(self.dir.path())
            .env("RETAINCTL_KEY_ID", "KEYID12345")
            .env(
                "RETAINCTL_ISSUER_ID",
                "57246542-96fe-1a63-e053-0824d011072a",
            )
            .env("RETAINCTL_PRIVATE_KEY", self.key.pem_text())
            .env_remove("RETAINCTL_PRIVATE_KEY_FILE")
            .env_remove("RETAINCTL_BASE_URL")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn perf_test(&self, extra: &[&str]) -> Output {
        let mut args = vec!["perf-test", "--env", "sandbox"];
        args.extend_from_slice(extra);
        self.run(&self.sandbox, &args)
    }

    fn state(&self, sim: &SimProcess) -> Value {
        let url = format!("{}/_sim/state", sim.url);
        crate::common::world::block_on(async {
            reqwest::get(url).await.unwrap().json().await.unwrap()
        })
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json_report(o: &Output) -> Value {
    let reports: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(o)));
    reports[0].clone()
}

#[test]
fn a_passing_sandbox_test_opens_the_production_realtime_url() {
    let s = Setup::new(Behaviour::default());
    let out = s.run(&s.sandbox, &["apply", "--env", "sandbox"]);
    assert!(out.status.success(), "{}", text(&out));

    // plan and status say beforehand what production needs, in every format
    for (command, format) in [
        ("plan", "text"),
        ("plan", "markdown"),
        ("plan", "json"),
        ("status", "text"),
        ("status", "markdown"),
        ("status", "json"),
    ] {
        let out = s.run(
            &s.production,
            &[command, "--env", "production", "--format", format],
        );
        let log = text(&out);
        assert!(
            if format == "json" {
                log.contains(r#""needs": "passing_sandbox_performance_test""#)
            } else {
                log.contains("only after a sandbox performance test has passed")
            },
            "{command} --format {format}: {log}"
        );
    }

    // before a passing test, production refuses the URL: blocked with the way out
    let out = s.run(&s.production, &["apply", "--env", "production"]);
    let log = text(&out);
    assert!(
        log.contains("run `retainctl perf-test` (sandbox) first"),
        "{log}"
    );
    assert!(log.contains("1 blocked, 0 failed"), "{log}");
    assert!(s.state(&s.production)["apps"][BUNDLE]["realtimeUrl"].is_null());
    assert_eq!(
        s.state(&s.production)["requestCounts"]["ConfigureRealtimeUrl"],
        1,
        "refused once, not retried"
    );

    let out = s.perf_test(&[]);
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("result: PASS"), "{log}");
    assert!(log.contains("success rate: 100% (needs 95%)"), "{log}");
    assert!(log.contains("response times (ms): average"), "{log}");

    // the requests were Apple's: signed, with DecodedRealtimeRequestBody's fields
    let seen = s.receiver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 20);
    for p in &seen {
        assert_eq!(p["originalTransactionId"], TRANSACTION);
        assert_eq!(p["productId"], "premium");
        assert_eq!(p["environment"], "Sandbox");
        assert!(p["appAppleId"].is_i64() && p["signedDate"].is_u64(), "{p}");
        assert!(
            p["requestIdentifier"]
                .as_str()
                .is_some_and(|r| r.len() == 36)
        );
        assert!(p["userLocale"].is_string());
    }
    let root_pem = std::fs::read_to_string(s.path().join("realtime-root.pem")).unwrap();
    let root_b64: String = root_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for chain in s.receiver.chains.lock().unwrap().iter() {
        assert_eq!(chain.len(), 3);
        assert_eq!(
            chain[2], root_b64,
            "x5c ends in the root written for receivers"
        );
    }

    // after it, production takes the production URL
    let out = s.run(&s.production, &["apply", "--env", "production"]);
    let log = text(&out);
    assert_eq!(
        s.state(&s.production)["apps"][BUNDLE]["realtimeUrl"],
        format!("{}/production", s.realtime_base),
        "{log}"
    );
    let record: Value =
        serde_json::from_slice(&std::fs::read(s.path().join("perf-tests.json")).unwrap()).unwrap();
    assert_eq!(
        record["sandboxPasses"][BUNDLE]["target"],
        format!("{}/sandbox", s.realtime_base)
    );
}

#[test]
fn slow_answers_fail_with_timed_out_counts() {
    let s = Setup::new(Behaviour {
        delay: Duration::from_millis(1500),
        ..Default::default()
    });
    let out = s.run(&s.sandbox, &["apply", "--env", "sandbox"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = s.perf_test(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json_report(&out);
    assert_eq!(report["verdict"], "FAIL", "{report}");
    assert_eq!(report["result"]["result"], "FAIL");
    assert_eq!(report["result"]["failures"]["TIMED_OUT"], 20, "{report}");
    assert_eq!(report["result"]["successRate"], 0);
    // the text says what to do about it
    let out = s.perf_test(&[]);
    let log = text(&out);
    assert!(log.contains("TIMED_OUT: 20 of 20"), "{log}");
    assert!(log.contains("no complete answer within 700 ms"), "{log}");
    // and production still refuses
    s.run(&s.production, &["apply", "--env", "production"]);
    assert!(s.state(&s.production)["apps"][BUNDLE]["realtimeUrl"].is_null());
}

#[test]
fn an_unknown_message_fails_with_invalid_response_and_the_url_is_configured_first() {
    let s = Setup::new(Behaviour {
        message: Some("99999999-9999-4999-8999-999999999999".into()),
        ..Default::default()
    });
    // no apply: Apple's sandbox has no realtime URL, so perf-test configures it first
    let out = s.perf_test(&["--format", "json"]);
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("configuring"), "{log}");
    let report = json_report(&out);
    assert_eq!(report["configuredUrl"], true);
    assert_eq!(
        report["result"]["failures"]["INVALID_RESPONSE"], 20,
        "{report}"
    );
    assert_eq!(
        s.state(&s.sandbox)["apps"][BUNDLE]["realtimeUrl"],
        format!("{}/sandbox", s.realtime_base)
    );
}

#[test]
fn a_test_still_running_when_wait_runs_out_exits_2() {
    let s = Setup::new(Behaviour {
        message: Some("99999999-9999-4999-8999-999999999999".into()),
        delay: Duration::from_millis(400),
    });
    let out = s.perf_test(&["--wait", "300ms", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let report = json_report(&out);
    assert_eq!(report["verdict"], "PENDING");
    assert_eq!(report["result"]["result"], "PENDING");
    assert!(
        report["result"]["numPending"].as_i64().unwrap() > 0,
        "{report}"
    );
}

#[test]
fn a_transaction_id_must_be_digits() {
    let s = Setup::new(Behaviour::default());
    let out = s.perf_test(&["--transaction-id", "abc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("is not a transaction id"),
        "{}",
        text(&out)
    );
}

#[test]
fn validate_checks_the_transaction_id_and_http_only_to_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let write = |envs: &str| -> PathBuf {
        let path = dir.path().join("app.yaml");
        std::fs::write(
            &path,
            format!(
                "apiVersion: retainctl/v1\napp:\n  bundleId: {BUNDLE}\n  locales: [en-US]\nenvironments:\n{envs}"
            ),
        )
        .unwrap();
        path
    };
    let validate = |path: &Path| {
        Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .arg("validate")
            .arg(path)
            .output()
            .unwrap()
    };
    let ok = write(
        "  sandbox:\n    realtimeUrl: http://127.0.0.1:8080/apple\n    performanceTest:\n      originalTransactionId: \"2000000123456789\"\n",
    );
    let out = validate(&ok);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("plain http to this machine"),
        "{}",
        text(&out)
    );

    let bad = write(
        "  sandbox:\n    realtimeUrl: http://example.com/apple\n    performanceTest:\n      originalTransactionId: \"20000x\"\n  production:\n    performanceTest:\n      originalTransactionId: \"1\"\n",
    );
    let out = validate(&bad);
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains(
            "app.yaml:7:18: error: realtimeUrl `http://example.com/apple` is not an https URL"
        ),
        "{log}"
    );
    assert!(
        log.contains(
            "app.yaml:9:30: error: originalTransactionId `20000x` is not a transaction id"
        ),
        "{log}"
    );
    assert!(
        log.contains("error: performanceTest under `environments.production`"),
        "{log}"
    );
}

#[test]
fn env_local_sandbox_and_production_share_the_record_of_passes() {
    let s = Setup::new(Behaviour::default());
    let local = |mode: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--local-mode", mode]);
        s.run(&s.sandbox, &all)
    };
    let out = local("sandbox", &["apply", "--env", "local"]);
    assert!(out.status.success(), "{}", text(&out));
    let state = |name: &str| -> Value {
        serde_json::from_slice(
            &std::fs::read(s.path().join(".retainctl/local").join(name)).unwrap(),
        )
        .unwrap()
    };
    let message = state("sandbox.json")["apps"][BUNDLE]["messages"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    s.receiver.behaviour.lock().unwrap().message = Some(message);

    let out = local("production", &["apply", "--env", "local"]);
    assert!(
        text(&out).contains("run `retainctl perf-test` (sandbox) first"),
        "{}",
        text(&out)
    );
    let out = local("production", &["perf-test", "--env", "local"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "performance tests are sandbox only"
    );

    let out = local("sandbox", &["perf-test", "--env", "local"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(s.path().join(".retainctl/local/perf-tests.json").exists());
    assert!(s.path().join(".retainctl/local/realtime-root.pem").exists());

    let out = local("production", &["apply", "--env", "local"]);
    assert_eq!(
        state("production.json")["apps"][BUNDLE]["realtimeUrl"],
        format!("{}/local", s.realtime_base),
        "{}",
        text(&out)
    );
}
