//! The `retainctl sim` binary: first line, review CLI, state kept across a restart,
//! runtime fault settings, automatic review after a delay.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::SimProcess;

use retainctl::apple::credentials::{Credentials, generate_key_pair};
use retainctl::apple::model::ReviewState;
use retainctl::apple::token::TokenSigner;
use retainctl::apple::{AppleClient, ClientConfig};
use uuid::Uuid;

fn start(public: &Path, extra: &[&str]) -> SimProcess {
    let sim = SimProcess::spawn(public, extra);
    assert!(sim.url.starts_with("http://127.0.0.1:"), "{}", sim.url);
    sim
}

fn client(url: &str, creds: &Credentials) -> AppleClient {
    AppleClient::new(
        ClientConfig::new(url, false),
        TokenSigner::new(creds, "com.example.app").unwrap(),
        "com.example.app",
    )
    .unwrap()
}

fn review(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["sim", "review", "--url", url])
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn review_cli_and_state_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = generate_key_pair();
    let public_file = dir.path().join("public.pem");
    std::fs::write(&public_file, public).unwrap();
    let state = dir.path().join("state/sim.json");
    let creds = Credentials {
        key_id: "K".into(),
        issuer_id: "I".into(),
        private_key: private,
    };
    let message = Uuid::new_v4();
    {
        let sim = start(
            &public_file,
            &["--mode", "production", "--state", state.to_str().unwrap()],
        );
        let c = client(&sim.url, &creds);
        c.upload_message(message, r#"{"body":"b","header":"h"}"#)
            .await
            .unwrap();
        assert_eq!(
            c.list_messages().await.unwrap().message_identifiers[0].message_state,
            ReviewState::Pending
        );
        let out = review(&sim.url, &["approve", &message.to_string()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // It says what it changed.
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("reviewed: APPROVED message {message} (com.example.app)")
        );
        let out = review(&sim.url, &["reject", &Uuid::new_v4().to_string()]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("not found in the simulator"));
    }
    assert!(state.exists());
    let sim = start(
        &public_file,
        &["--mode", "production", "--state", state.to_str().unwrap()],
    );
    let c = client(&sim.url, &creds);
    let list = c.list_messages().await.unwrap();
    assert_eq!(list.message_identifiers.len(), 1);
    assert_eq!(
        list.message_identifiers[0].message_state,
        ReviewState::Approved
    );
    let state: serde_json::Value = reqwest::get(format!("{}/_sim/state", sim.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        state["apps"]["com.example.app"]["messages"][message.to_string()]["body"]["header"],
        "h"
    );
    assert!(state["requestCounts"]["GetMessageList"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn faults_can_be_set_at_runtime_and_review_can_be_delayed() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = generate_key_pair();
    let public_file = dir.path().join("public.pem");
    std::fs::write(&public_file, public).unwrap();
    let creds = Credentials {
        key_id: "K".into(),
        issuer_id: "I".into(),
        private_key: private,
    };
    let sim = start(
        &public_file,
        &["--mode", "production", "--review-delay", "300ms"],
    );
    let http = reqwest::Client::new();
    let set = http
        .post(format!("{}/_sim/faults", sim.url))
        .body(r#"{"errorEvery": 1}"#)
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success());
    // every request fails now: straight through the raw API to see Apple's error body
    let raw = http
        .get(format!("{}/inApps/v1/messaging/image/list", sim.url))
        .bearer_auth(
            TokenSigner::new(&creds, "com.example.app")
                .unwrap()
                .token(std::time::SystemTime::now()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 500);
    assert_eq!(raw.headers()["content-type"], "application/json");
    assert_eq!(
        raw.text().await.unwrap(),
        r#"{"errorCode":5000001,"errorMessage":"An unknown error occurred. Please try again."}"#
    );
    http.post(format!("{}/_sim/faults", sim.url))
        .body("{}")
        .send()
        .await
        .unwrap();

    let c = client(&sim.url, &creds);
    let message = Uuid::new_v4();
    c.upload_message(message, r#"{"body":"b","header":"h"}"#)
        .await
        .unwrap();
    assert_eq!(
        c.list_messages().await.unwrap().message_identifiers[0].message_state,
        ReviewState::Pending
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        c.list_messages().await.unwrap().message_identifiers[0].message_state,
        ReviewState::Approved
    );
}
