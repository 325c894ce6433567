//! `retainctl serve`, the real binary on loopback: Apple's signed realtime requests (made
//! with the simulator's signer, whose root the server is told to trust) answered from a
//! snapshot; forged, foreign, stale, wrong-environment and wrong-app requests refused with a
//! bare 4xx; the older approved version while a new one is pending; the fallback; reload;
//! `/healthz`; SIGTERM.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use retainctl::manifest::EnvironmentName;
use retainctl::realtime::{AppRealtime, ApprovedVersion, Rule, RuleAnswer, Snapshot};
use retainctl::sim::perf::RealtimeSigner;
use serde_json::{Value, json};

use crate::common::world::block_on;

const APP_APPLE_ID: i64 = 1234567890;
pub(crate) const TRANSACTION: &str = "2000000987654321";

pub(crate) fn id(n: u128) -> String {
    uuid::Uuid::from_u128(n).to_string()
}

/// Rules: product `p.old` → key `stay` (only an older version approved), `p.none` → key
/// `fresh` (nothing approved), `*` → key `general`.
fn app(general: u128) -> AppRealtime {
    let rule = |product: &str, key: &str| Rule {
        product: product.into(),
        locales: None,
        buckets: None,
        answer: RuleAnswer::Message(key.into()),
    };
    let version = |n: u128, current: bool| ApprovedVersion {
        message_id: uuid::Uuid::from_u128(n),
        current,
    };
    let mut approved: BTreeMap<String, BTreeMap<String, ApprovedVersion>> = BTreeMap::new();
    approved.insert(
        "stay".into(),
        [("en-US".to_string(), version(0x51, false))].into(),
    );
    approved.insert(
        "general".into(),
        [("en-US".to_string(), version(general, true))].into(),
    );
    AppRealtime {
        bundle_id: "com.example.app".into(),
        app_apple_id: Some(APP_APPLE_ID),
        offer_signing: None,
        locales: vec!["en-US".into()],
        rules: vec![
            rule("p.old", "stay"),
            rule("p.none", "fresh"),
            rule("*", "general"),
        ],
        approved,
    }
}

pub(crate) fn write_snapshot(path: &Path, general: u128) {
    let mut snapshot = Snapshot::new(EnvironmentName::Sandbox);
    snapshot.apps = vec![app(general)];
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, snapshot.to_json()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

pub(crate) struct ServeProcess {
    pub(crate) child: Child,
    pub(crate) url: String,
    log: PathBuf,
}

impl ServeProcess {
    pub(crate) fn spawn(dir: &Path, args: &[&str]) -> ServeProcess {
        let log = dir.join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--reload-interval",
                "100ms",
            ])
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "retainctl::serve=debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start retainctl serve");
        ServeProcess::attach(child, log)
    }

    /// A started server whose stderr goes to `log`, once it says where it listens.
    pub(crate) fn attach(mut child: Child, log: PathBuf) -> ServeProcess {
        let url = crate::common::listening_url(&mut child, || {
            format!("log: {}", std::fs::read_to_string(&log).unwrap_or_default())
        });
        ServeProcess { child, url, log }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub(crate) fn payload(product: &str) -> Value {
    json!({
        "originalTransactionId": TRANSACTION,
        "appAppleId": APP_APPLE_ID,
        "productId": product,
        "userLocale": "en-US",
        "requestIdentifier": uuid::Uuid::new_v4().to_string(),
        "signedDate": now_ms(),
        "environment": "Sandbox",
    })
}

/// POSTs `{"signedPayload": jws}`; (status, body).
pub(crate) fn post(url: &str, jws: &str) -> (u16, String) {
    block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{url}/retention"))
            .json(&json!({ "signedPayload": jws }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    })
}

pub(crate) fn get(url: &str) -> (u16, Value) {
    block_on(async {
        let response = reqwest::get(url).await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

pub(crate) fn answered_id(body: &str) -> Value {
    serde_json::from_str::<Value>(body).unwrap()["message"]["messageIdentifier"].clone()
}

/// Waits (bounded) until `f` holds: for a reload to happen, not a timing assertion.
pub(crate) fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) struct Setup {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) signer: RealtimeSigner,
    pub(crate) snapshot: PathBuf,
    pub(crate) root: PathBuf,
}

pub(crate) fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let signer = RealtimeSigner::generate().unwrap();
    let root = dir.path().join("realtime-root.pem");
    std::fs::write(&root, signer.root_pem()).unwrap();
    let snapshot = dir.path().join("snapshot.json");
    write_snapshot(&snapshot, 0x600d);
    Setup {
        dir,
        signer,
        snapshot,
        root,
    }
}

impl Setup {
    pub(crate) fn serve(&self) -> ServeProcess {
        self.serve_with(&[])
    }

    /// `serve` of this snapshot and root, with `extra` flags.
    pub(crate) fn serve_with(&self, extra: &[&str]) -> ServeProcess {
        let mut args = vec![
            "--snapshot",
            self.snapshot.to_str().unwrap(),
            "--trust-root",
            self.root.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ServeProcess::spawn(self.dir.path(), &args)
    }
}

#[test]
fn verified_requests_are_answered_and_every_other_is_refused_without_detail() {
    let s = setup();
    let server = s.serve();
    let sign = |p: &Value| s.signer.sign(p).unwrap();

    let (status, body) = post(&server.url, &sign(&payload("p.monthly")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(answered_id(&body), id(0x600d));

    let refused = |jws: &str, expected: u16, what: &str| {
        let (status, body) = post(&server.url, jws);
        assert_eq!(status, expected, "{what}: {body}");
        // only the status's own name: no detail of why
        let name = reqwest::StatusCode::from_u16(status)
            .unwrap()
            .canonical_reason()
            .unwrap();
        assert_eq!(body, format!("{name}\n"), "{what} leaks detail");
    };
    // a tampered signature
    let good = sign(&payload("p.monthly"));
    let at = good.rfind('.').unwrap() + 5;
    let mut bytes = good.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    refused(&String::from_utf8(bytes).unwrap(), 401, "tampered");
    // a chain to a root the server does not trust
    let stranger = RealtimeSigner::generate().unwrap();
    refused(
        &stranger.sign(&payload("p.monthly")).unwrap(),
        401,
        "untrusted chain",
    );
    // signed six minutes ago
    let mut old = payload("p.monthly");
    old["signedDate"] = json!(now_ms() - 6 * 60 * 1000);
    refused(&sign(&old), 401, "expired");
    // production's request at a sandbox server
    let mut production = payload("p.monthly");
    production["environment"] = json!("Production");
    refused(&sign(&production), 403, "wrong environment");
    // another app
    let mut other_app = payload("p.monthly");
    other_app["appAppleId"] = json!(42);
    refused(&sign(&other_app), 403, "wrong appAppleId");
    refused("not a jws", 400, "garbage");

    let log = server.log();
    assert!(log.contains("realtime answered"), "{log}");
    assert!(log.contains("realtime refused"), "{log}");
    assert!(
        !log.contains(TRANSACTION),
        "a raw transaction id reached the log: {log}"
    );
}

#[test]
fn a_pending_version_answers_with_the_older_approved_one_and_nothing_approved_falls_back() {
    let s = setup();
    let server = s.serve();
    let (status, body) = post(&server.url, &s.signer.sign(&payload("p.old")).unwrap());
    assert_eq!(status, 200, "{body}");
    assert_eq!(answered_id(&body), id(0x51));
    // `p.none`'s rule has nothing approved: it falls through to `*`
    let (_, body) = post(&server.url, &s.signer.sign(&payload("p.none")).unwrap());
    assert_eq!(answered_id(&body), id(0x600d));
    // an app locale with nothing approved anywhere: Apple's fallback
    let mut french = payload("p.monthly");
    french["userLocale"] = json!("fr-FR");
    let (status, body) = post(&server.url, &s.signer.sign(&french).unwrap());
    assert_eq!(status, 204, "{body}");
    assert!(body.is_empty());
}

#[test]
fn a_changed_snapshot_is_served_a_broken_one_is_not_and_healthz_says_which_only_when_asked() {
    let s = setup();
    // without --health-detail, liveness tells a stranger nothing but that it answers
    let public = s.serve();
    let (status, health) = get(&format!("{}/healthz", public.url));
    assert_eq!(status, 200);
    assert_eq!(health, json!({ "status": "ok" }));
    std::fs::write(&s.snapshot, "{\"kind\": \"something else\"}").unwrap();
    eventually("the reload error is logged", || {
        public.log().contains("(retried every reload interval)")
    });
    let (status, health) = get(&format!("{}/healthz", public.url));
    assert_eq!(status, 200);
    assert_eq!(health, json!({ "status": "ok" }), "no path, no error text");
    drop(public);
    write_snapshot(&s.snapshot, 0x600d);

    let server = s.serve_with(&["--health-detail"]);
    let (status, health) = get(&format!("{}/healthz", server.url));
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["environment"], "sandbox");
    assert_eq!(health["snapshot"]["formatVersion"], 1);
    assert_eq!(health["snapshot"]["path"], s.snapshot.to_str().unwrap());
    let first_digest = health["snapshot"]["sha256"].clone();
    assert!(health["snapshot"]["ageSeconds"].is_u64(), "{health}");

    write_snapshot(&s.snapshot, 0xbeef);
    eventually("the new snapshot is served", || {
        let (_, body) = post(&server.url, &s.signer.sign(&payload("p.x")).unwrap());
        answered_id(&body) == id(0xbeef)
    });
    let (_, health) = get(&format!("{}/healthz", server.url));
    assert_ne!(health["snapshot"]["sha256"], first_digest);

    std::fs::write(&s.snapshot, "{\"kind\": \"something else\"}").unwrap();
    eventually("the reload error is reported", || {
        let (_, health) = get(&format!("{}/healthz", server.url));
        health["lastReloadError"].is_string()
    });
    let (status, body) = post(&server.url, &s.signer.sign(&payload("p.x")).unwrap());
    assert_eq!(status, 200);
    assert_eq!(answered_id(&body), id(0xbeef), "the old snapshot stays");
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let s = setup();
    let mut server = s.serve();
    let pid = server.child.id() as libc::pid_t;
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}: {}", server.log());
}

/// Opens a connection to `server` and sends `bytes`, the start of a request it never ends.
pub(crate) fn hold(server: &ServeProcess, bytes: &[u8]) -> std::net::TcpStream {
    use std::io::Write;
    let address = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.write_all(bytes).unwrap();
    stream
}

#[test]
fn a_simulator_snapshot_served_outside_env_local_is_flagged() {
    let s = setup();
    let mut snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(&s.snapshot).unwrap()).unwrap();
    snapshot["source"] = json!("simulator");
    std::fs::write(&s.snapshot, snapshot.to_string()).unwrap();
    let server = s.serve();
    eventually("the simulator warning", || {
        server
            .log()
            .contains("was written from the simulator (--env local): Apple knows none")
    });
}

#[test]
fn slow_and_idle_clients_are_cut_off() {
    use std::io::Read;
    let s = setup();
    let server = s.serve();
    // half a request line and headers, then nothing; and a connection that sends nothing
    let mut partial = hold(&server, b"POST / HTTP/1.1\r\nHost: x\r\n");
    let mut idle = hold(&server, b"");
    // a body announced and never sent
    let mut no_body = hold(
        &server,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    );
    for (what, stream, status) in [
        ("partial headers", &mut partial, None),
        ("an idle connection", &mut idle, None),
        ("a body never sent", &mut no_body, Some("408")),
    ] {
        // generous: the deadlines are 5 s (headers, idle) and 10 s (a request)
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut answer = String::new();
        let read = stream.read_to_string(&mut answer);
        assert!(
            read.is_ok(),
            "{what}: the server kept the connection open: {read:?}"
        );
        if let Some(status) = status {
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status}")),
                "{what}: {answer}"
            );
        }
    }
    // and the server still answers
    let (code, _) = get(&format!("{}/healthz", server.url));
    assert_eq!(code, 200);
}

#[test]
fn sigterm_does_not_wait_for_a_client_that_never_finishes() {
    let s = setup();
    let mut server = s.serve();
    let _stalled = hold(&server, b"POST / HTTP/1.1\r\nHost: x\r\n");
    let _stalled_body = hold(
        &server,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    );
    std::thread::sleep(Duration::from_millis(200));
    let pid = server.child.id() as libc::pid_t;
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}: {}", server.log());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve waits for a stalled client: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_snapshot_that_cannot_be_served_stops_serve_at_start_with_its_name() {
    let s = setup();
    std::fs::write(&s.snapshot, "[]").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["serve", "--listen", "127.0.0.1:0", "--snapshot"])
        .arg(&s.snapshot)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("snapshot.json"), "{err}");
    // `--env local` before any local apply says how to write the snapshot it looks for
    let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["serve", "--listen", "127.0.0.1:0", "--env", "local"])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("retainctl apply --env local --snapshot ")
            && err.contains(".retainctl/local/sandbox-snapshot.json"),
        "{err}"
    );
}

/// The manifest of the end-to-end test; `realtime_url` under `environments.local`.
pub(crate) fn local_manifest(realtime_url: Option<&str>) -> String {
    let app_apple_id = retainctl::sim::perf::app_apple_id("com.example.app");
    let url = realtime_url
        .map(|u| format!("  local:\n    realtimeUrl: {u}\n"))
        .unwrap_or_default();
    format!(
        "\
apiVersion: retainctl/v1
app:
  bundleId: com.example.app
  locales: [en-US]
  products: [premium]
  appAppleId: {app_apple_id}
messages:
  stay:
    localizations:
      en-US: {{ header: Stay with Premium, body: Keep your plan. }}
defaults:
  premium: stay
realtime:
  - product: '*'
    message: stay
environments:
  sandbox:
    performanceTest:
      originalTransactionId: \"{TRANSACTION}\"
{url}"
    )
}

#[test]
fn env_local_end_to_end_apply_serve_perf_test_pass_then_production_url() {
    let ws = crate::common::Workspace::new();
    let run = |args: &[&str]| {
        let out = ws.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let sandbox_snapshot = ".retainctl/local/sandbox-snapshot.json";
    let production_snapshot = ".retainctl/local/production-snapshot.json";
    ws.write("retention/app.yaml", &local_manifest(None));
    let (code, text) = run(&[
        "apply",
        "retention",
        "--env",
        "local",
        "--snapshot",
        sandbox_snapshot,
    ]);
    assert_eq!(code, Some(0), "{text}");

    // serve with the local defaults: the sandbox snapshot and the simulator's root
    let server = ServeProcess::spawn(ws.path(), &["--env", "local"]);
    let url = format!("{}/apple/realtime", server.url);
    ws.write("retention/app.yaml", &local_manifest(Some(&url)));
    let (code, text) = run(&[
        "apply",
        "retention",
        "--env",
        "local",
        "--snapshot",
        sandbox_snapshot,
    ]);
    assert_eq!(code, Some(0), "{text}");

    // a new simulator (new chain, new realtime-root.pem) runs Apple's test against serve
    let (code, text) = run(&["perf-test", "retention", "--env", "local"]);
    assert_eq!(code, Some(0), "{text}\n--- serve log:\n{}", server.log());
    assert!(text.contains("PASS"), "{text}");
    let log = server.log();
    assert!(log.contains("realtime answered"), "{log}");
    assert!(!log.contains(TRANSACTION), "{log}");
    // the simulator's new root was picked up on its first request: none was refused
    assert!(!log.contains("realtime refused"), "{log}");

    // production: the URL is accepted now; content waits for review, then is served
    let prod = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--local-mode", "production"]);
        run(&all)
    };
    let (_, text) = prod(&[
        "apply",
        "retention",
        "--env",
        "local",
        "--snapshot",
        production_snapshot,
    ]);
    let state: Value = serde_json::from_slice(
        &std::fs::read(ws.path().join(".retainctl/local/production.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        state["apps"]["com.example.app"]["realtimeUrl"], url,
        "{text}"
    );
    let pending: Snapshot =
        serde_json::from_slice(&std::fs::read(ws.path().join(production_snapshot)).unwrap())
            .unwrap();
    assert!(pending.apps[0].approved.is_empty(), "nothing approved yet");
    let (code, text) = run(&[
        "sim",
        "review",
        "--state",
        ".retainctl/local/production.json",
        "--path",
        "retention",
        "approve-all",
    ]);
    assert_eq!(code, Some(0), "{text}");
    let (_, text) = prod(&[
        "apply",
        "retention",
        "--env",
        "local",
        "--snapshot",
        production_snapshot,
    ]);
    let approved: Snapshot =
        serde_json::from_slice(&std::fs::read(ws.path().join(production_snapshot)).unwrap())
            .unwrap();
    let id = approved.apps[0].approved["stay"]["en-US"].message_id;

    // a production server answers Apple's production request with the approved id
    let signer = RealtimeSigner::generate().unwrap();
    let root = ws.write("apple-test-root.pem", signer.root_pem());
    let production = ServeProcess::spawn(
        ws.path(),
        &[
            "--env",
            "local",
            "--local-mode",
            "production",
            "--trust-root",
            root.to_str().unwrap(),
        ],
    );
    // production trusting a root besides Apple's is said out loud, once, at start
    eventually("the trust warning", || {
        production.log().contains(
            "WARN retainctl::serve: serving production and trusting 2 root(s) besides Apple's",
        )
    });
    let mut request = payload("premium");
    request["environment"] = json!("Production");
    request["appAppleId"] = json!(retainctl::sim::perf::app_apple_id("com.example.app"));
    let (status, body) = post(&production.url, &signer.sign(&request).unwrap());
    assert_eq!(status, 200, "{text}\n{}", production.log());
    assert_eq!(answered_id(&body), id.to_string());
    // the sandbox server refuses it
    let (status, _) = post(&server.url, &signer.sign(&request).unwrap());
    assert!((400..500).contains(&status));
}

#[test]
fn a_promotional_offer_is_signed_with_the_key_the_snapshot_names_which_never_reaches_the_log() {
    let s = setup();
    let (private, public) = retainctl::apple::credentials::generate_key_pair();
    // the key goes only into this test's temporary folder
    let key_file = s.dir.path().join("SubscriptionKey_TEST.p8");
    std::fs::write(&key_file, private.pem_text()).unwrap();
    let mut offer_app = app(0x600d);
    offer_app.rules.insert(
        0,
        Rule {
            product: "p.offer".into(),
            locales: None,
            buckets: None,
            answer: RuleAnswer::PromotionalOffer {
                message: "general".into(),
                offer_id: "winback50".into(),
            },
        },
    );
    offer_app.offer_signing = Some(retainctl::manifest::Credentials {
        key_id: Some("SERVE_TEST_OFFER_KEY_ID".into()),
        issuer_id: Some("SERVE_TEST_OFFER_ISSUER".into()),
        private_key: None,
        private_key_file: Some("SERVE_TEST_OFFER_KEY_FILE".into()),
    });
    let mut snapshot = Snapshot::new(EnvironmentName::Sandbox);
    snapshot.apps = vec![offer_app];
    std::fs::write(&s.snapshot, snapshot.to_json()).unwrap();

    // without the variables the snapshot cannot be served, and the error names them
    let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["serve", "--listen", "127.0.0.1:0", "--snapshot"])
        .arg(&s.snapshot)
        .env_remove("SERVE_TEST_OFFER_KEY_ID")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SERVE_TEST_OFFER_KEY_ID"), "{err}");

    let log = s.dir.path().join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["serve", "--listen", "127.0.0.1:0", "--snapshot"])
        .arg(&s.snapshot)
        .arg("--trust-root")
        .arg(&s.root)
        .env("RUST_LOG", "debug")
        .env("SERVE_TEST_OFFER_KEY_ID", "OFFERKEY01")
        .env("SERVE_TEST_OFFER_ISSUER", "issuer-of-the-team")
        .env("SERVE_TEST_OFFER_KEY_FILE", &key_file)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let server = ServeProcess::attach(child, log);
    let (status, body) = post(&server.url, &s.signer.sign(&payload("p.offer")).unwrap());
    assert_eq!(status, 200, "{body}\n{}", server.log());
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["promotionalOffer"]["messageIdentifier"], id(0x600d));
    let jws = value["promotionalOffer"]["promotionalOfferSignatureV2"]
        .as_str()
        .unwrap();
    // checked independently: the public half of the key, and Apple's claims
    let key = jsonwebtoken::DecodingKey::from_ec_pem(public.as_bytes()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["promotional-offer"]);
    validation.required_spec_claims = Default::default();
    validation.validate_exp = false;
    let token = jsonwebtoken::decode::<Value>(jws, &key, &validation).unwrap();
    assert_eq!(token.header.kid.as_deref(), Some("OFFERKEY01"));
    let claims = token.claims;
    assert_eq!(claims["iss"], "issuer-of-the-team");
    assert_eq!(claims["bid"], "com.example.app");
    assert_eq!(claims["productId"], "p.offer");
    assert_eq!(claims["offerIdentifier"], "winback50");
    assert_eq!(claims["transactionId"], TRANSACTION);
    assert!(claims["iat"].is_u64() && claims["nonce"].is_string());
    // and beside Apple's own PromotionalOfferV2SignatureCreator, read with PyJWT
    if let Some(python) =
        crate::apple_library::python_or_skip("our offer signature beside Apple's library")
    {
        let public_file = s.dir.path().join("public.pem");
        std::fs::write(&public_file, &public).unwrap();
        let out = Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/python/offer_signature_compat.py"
            ))
            .env("OURS", jws)
            .env("KEY_FILE", &key_file)
            .env("PUBLIC_KEY_FILE", &public_file)
            .env("KEY_ID", "OFFERKEY01")
            .env("ISSUER_ID", "issuer-of-the-team")
            .env("BUNDLE_ID", "com.example.app")
            .env("PRODUCT_ID", "p.offer")
            .env("OFFER_ID", "winback50")
            .env("TRANSACTION_ID", TRANSACTION)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = server.log();
    let pem_line = private.pem_text().lines().nth(1).unwrap().to_string();
    assert!(!text.contains(&pem_line), "the key reached the log");
    assert!(!text.contains(TRANSACTION), "{text}");
}
