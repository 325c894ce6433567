//! No key material and no bearer token in the logs, at trace level, through retries and
//! a 401. Alone in its own test binary: tracing's per-callsite caching makes a scoped
//! subscriber unreliable when other tests log from other threads at the same time.
//! And no environment variable's value, and no password of a `--base-url`, in anything
//! the real binary prints.
//! The tokens looked for are the ones the simulator actually received
//! (`GET /_sim/requests`), not freshly signed ones.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::world::{World, text};

use retainctl::apple::credentials::{Credentials, PrivateKeyPem, generate_key_pair};
use retainctl::apple::token::TokenSigner;
use retainctl::apple::{AppleClient, ClientConfig, RetryPolicy};
use retainctl::sim::faults::FaultConfig;
use retainctl::sim::{Mode, SimConfig};
use uuid::Uuid;

const BUNDLE: &str = "com.example.app";

fn client(addr: std::net::SocketAddr, creds: &Credentials) -> AppleClient {
    let mut config = ClientConfig::new(format!("http://{addr}"), true);
    config.retry = RetryPolicy {
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..RetryPolicy::default()
    };
    AppleClient::new(config, TokenSigner::new(creds, BUNDLE).unwrap(), BUNDLE).unwrap()
}

#[test]
fn no_secret_in_trace_logs() {
    let (private, public) = generate_key_pair();
    let creds = Credentials {
        key_id: "KEYID12345".into(),
        issuer_id: "57246542-96fe-1a63-e053-0824d011072a".into(),
        private_key: private,
    };
    let (stranger_key, _) = generate_key_pair();
    let stranger = Credentials {
        private_key: stranger_key,
        ..creds.clone()
    };
    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let b = buffer.clone();
        move || LogWriter(b.clone())
    };
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(writer)
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = runtime.block_on(async {
        let config = SimConfig {
            mode: Mode::Sandbox,
            bundle_id: Some(BUNDLE.into()),
            products: None,
            public_keys: vec![public],
            state_file: None,
            review_delay: None,
            rate_limits: true,
            faults: FaultConfig {
                error_every: 2,
                ..Default::default()
            },
            perf: Default::default(),
        };
        let (addr, _h) = retainctl::sim::spawn(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let c = client(addr, &creds);
        c.list_images().await.unwrap();
        c.upload_message(Uuid::new_v4(), r#"{"body":"b","header":"h"}"#)
            .await
            .unwrap();
        assert!(client(addr, &stranger).list_images().await.is_err());
        tokens_sent(&format!("http://{addr}")).await
    });
    let logs = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("apple_request"),
        "trace logs were captured: {logs}"
    );
    assert!(logs.contains("retrying"), "{logs}");
    assert!(!logs.contains("PRIVATE KEY"));
    assert!(!logs.contains("Bearer"));
    assert!(!logs.to_lowercase().contains("authorization"));
    assert!(
        token.len() >= 4,
        "the simulator saw the requests: {token:?}"
    );
    assert_no_token(&logs, &token);
    for key in [&creds.private_key, &stranger.private_key] {
        assert_no_key(&logs, key);
    }
}

/// Every bearer token the simulator at `url` received.
async fn tokens_sent(url: &str) -> Vec<String> {
    let seen: serde_json::Value = reqwest::get(format!("{url}/_sim/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    seen["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["token"].as_str().map(str::to_string))
        .collect()
}

/// Neither a whole token nor its signature appears in `output`.
fn assert_no_token(output: &str, tokens: &[String]) {
    for token in tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(signature.len() >= 40, "a signed token: {}", token.len());
        assert!(
            !output.contains(token.as_str()) && !output.contains(signature),
            "a bearer token that was sent appears in the output"
        );
    }
}

/// No line of the key's PEM body appears in `output`.
fn assert_no_key(output: &str, key: &PrivateKeyPem) {
    assert!(!output.contains("PRIVATE KEY"));
    for line in key.pem_text().lines().filter(|l| !l.starts_with("-----")) {
        assert!(
            !output.contains(line.trim()),
            "a line of the private key appears in the output"
        );
    }
}

/// The real binary at RUST_LOG=trace, through plan, apply (with retried 500s), status and
/// a 401: none of the tokens it sent, and no line of its key, is on stdout or stderr.
#[test]
fn no_token_sent_and_no_key_in_the_binarys_output_at_trace_level() {
    let w = World::start("sandbox", &["--rate-limits", "false", "--error-every", "4"]);
    let mut output = String::new();
    for args in [
        &["plan", "--env", "sandbox", "app.yaml"][..],
        &["apply", "--env", "sandbox", "app.yaml"],
        &["status", "--env", "sandbox", "app.yaml"],
    ] {
        let out = w.command(args).env("RUST_LOG", "trace").output().unwrap();
        assert!(out.status.success(), "{args:?}\n{}", text(&out));
        output.push_str(&text(&out));
    }
    // a key the simulator does not know: a 401
    let (stranger, _) = generate_key_pair();
    let out = w
        .command(&["plan", "--env", "sandbox", "app.yaml"])
        .env("RUST_LOG", "trace")
        .env("RETAINCTL_PRIVATE_KEY", stranger.pem_text())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    output.push_str(&text(&out));

    assert!(
        output.contains("TRACE") && output.contains("apple_request"),
        "trace logs were written: {}",
        &output[..output.len().min(2000)]
    );
    let tokens = w.tokens_sent();
    assert!(tokens.len() >= 10, "the simulator saw the requests");
    assert_no_token(&output, &tokens);
    assert!(!output.contains("Bearer"));
    assert_no_key(&output, &w.key);
    assert_no_key(&output, &stranger);
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `retainctl plan --env sandbox` against the world's simulator, with the key variables
/// replaced by `vars`, `base_url` instead of the simulator's when given, and `manifest`.
fn plan_with(
    w: &crate::common::world::World,
    manifest: &str,
    vars: &[(&str, &str)],
    base_url: Option<&str>,
) -> std::process::Output {
    std::fs::write(w.path().join("app.yaml"), manifest).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_retainctl"));
    command
        .args(["plan", "--env", "sandbox", "app.yaml", "--base-url"])
        .arg(base_url.unwrap_or(&w.url))
        .current_dir(w.path())
        .env("RETAINCTL_KEY_ID", "KEYID12345")
        .env(
            "RETAINCTL_ISSUER_ID",
            "57246542-96fe-1a63-e053-0824d011072a",
        )
        .env_remove("RETAINCTL_PRIVATE_KEY")
        .env_remove("RETAINCTL_PRIVATE_KEY_FILE")
        .env_remove("RETAINCTL_BASE_URL")
        .env("NO_COLOR", "1");
    for (k, v) in vars {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn all_output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        crate::common::stdout(out),
        crate::common::stderr(out)
    )
}

/// The manifest of the world, with `credentials` naming the app's variables.
fn manifest_with_credentials(credentials: &str) -> String {
    crate::common::world::MANIFEST.replacen(
        "  bundleId: com.example.app\n",
        &format!("  bundleId: com.example.app\n  credentials: {credentials}\n"),
        1,
    )
}

#[test]
fn key_text_in_the_file_variable_is_named_never_printed() {
    let w = crate::common::world::World::new("sandbox");
    let pem = w.key.pem_text().to_string();
    let out = plan_with(
        &w,
        crate::common::world::MANIFEST,
        &[("RETAINCTL_PRIVATE_KEY_FILE", &pem)],
        None,
    );
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("RETAINCTL_PRIVATE_KEY_FILE holds key text, not a path: use RETAINCTL_PRIVATE_KEY for the PEM text, or put the path of the .p8 file in RETAINCTL_PRIVATE_KEY_FILE"),
        "{text}"
    );
    assert!(!text.contains("-----BEGIN"), "{text}");
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!text.contains(line), "a line of the key is printed: {text}");
    }

    // the manifest names its own variables: the hint names the manifest's
    let out = plan_with(
        &w,
        &manifest_with_credentials("{ privateKey: ACME_P8, privateKeyFile: ACME_P8_PATH }"),
        &[("ACME_P8_PATH", &pem)],
        None,
    );
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ACME_P8_PATH holds key text, not a path: use ACME_P8 for the PEM text"),
        "{text}"
    );
    assert!(!text.contains("-----BEGIN"), "{text}");
}

/// A manifest (from a pull request) naming a CI secret as its key or key file never
/// gets the secret's value printed.
#[test]
fn a_manifest_naming_any_variable_never_gets_its_value_echoed() {
    let w = crate::common::world::World::new("sandbox");
    let secret = "ghp_R3tainctlS3cretValue0123456789abcdef";
    for (credentials, expected) in [
        (
            "{ privateKeyFile: SOME_CI_TOKEN }",
            "cannot read the private key file named by SOME_CI_TOKEN: no such file",
        ),
        (
            "{ privateKey: SOME_CI_TOKEN }",
            "the private key from SOME_CI_TOKEN is not a PKCS#8 P-256 private key",
        ),
    ] {
        let out = plan_with(
            &w,
            &manifest_with_credentials(credentials),
            &[("SOME_CI_TOKEN", secret)],
            None,
        );
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains(expected), "{credentials}: {text}");
        assert!(!text.contains(secret), "{credentials}: {text}");
        assert!(!text.contains("R3tainctlS3cret"), "{credentials}: {text}");
    }
}

/// Basic-auth credentials in `--base-url` would replace the bearer token: refused before
/// any request, without printing the password.
#[test]
fn a_base_url_with_a_password_is_refused_without_printing_it() {
    let w = crate::common::world::World::new("sandbox");
    let pem = w.key.pem_text().to_string();
    let with_password = w
        .url
        .replacen("http://", "http://ci-user:Hunter2Passw0rd@", 1);
    let out = plan_with(
        &w,
        crate::common::world::MANIFEST,
        &[("RETAINCTL_PRIVATE_KEY", &pem)],
        Some(&with_password),
    );
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("--base-url: the base URL carries a user name or password (user:…@host): requests carry only the bearer token retainctl signs, and Basic credentials would replace it; remove them from the URL"),
        "{text}"
    );
    assert!(!text.contains("Hunter2Passw0rd"), "{text}");
    assert_eq!(w.count("GetImageList"), 0, "nothing was sent");
    assert_eq!(w.count("GetMessageList"), 0, "nothing was sent");
}
