//! No key material and no bearer token in the logs, at trace level, through retries and
//! a 401. Alone in its own test binary: tracing's per-callsite caching makes a scoped
//! subscriber unreliable when other tests log from other threads at the same time.
//! The tokens looked for are the ones the simulator actually received
//! (`GET /_sim/requests`), not freshly signed ones.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::world::{World, text};

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
