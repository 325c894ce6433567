//! No key material and no bearer token in the logs, at trace level, through retries and
//! a 401. Alone in its own test binary: tracing's per-callsite caching makes a scoped
//! subscriber unreliable when other tests log from other threads at the same time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use retainctl::apple::credentials::{Credentials, generate_key_pair};
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
        // the client caches its token, so a signer with the same inputs gives the one used
        TokenSigner::new(&creds, BUNDLE)
            .unwrap()
            .token(SystemTime::now())
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
    let signature = token.rsplit('.').next().unwrap();
    assert!(!logs.contains(signature));
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
