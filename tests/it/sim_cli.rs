//! The `retainctl sim` binary: first line, review CLI, state kept across a restart,
//! runtime fault settings, automatic review after a delay.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::SimProcess;

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

/// Apple's API spoken directly (no retries, no redirects followed), to see exactly what a
/// fault rule answers, and the admin routes beside it.
struct Raw {
    url: String,
    http: reqwest::Client,
    signer: TokenSigner,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Raw {
    fn new(url: &str, creds: &Credentials) -> Raw {
        Raw {
            url: url.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            signer: TokenSigner::new(creds, "com.example.app").unwrap(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: &str) -> Answer {
        let response = self
            .http
            .request(
                method.parse().unwrap(),
                format!("{}/inApps/v1/messaging/{path}", self.url),
            )
            .bearer_auth(self.signer.token(std::time::SystemTime::now()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        }
    }

    async fn admin(&self, method: &str, path: &str, body: &str) -> serde_json::Value {
        let response = self
            .http
            .request(method.parse().unwrap(), format!("{}/_sim/{path}", self.url))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}: {response:?}");
        response.json().await.unwrap()
    }

    async fn set_rules(&self, rules: serde_json::Value) {
        self.admin(
            "POST",
            "faults",
            &serde_json::json!({ "rules": rules }).to_string(),
        )
        .await;
    }

    async fn state(&self) -> serde_json::Value {
        self.admin("GET", "state", "").await["apps"]["com.example.app"].clone()
    }

    /// An approved (sandbox) message, by its lower-case id.
    async fn message(&self) -> String {
        let id = Uuid::new_v4().to_string();
        let put = self
            .call(
                "PUT",
                &format!("message/{id}"),
                r#"{"header":"h","body":"b"}"#,
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        id
    }
}

struct Keys {
    _dir: tempfile::TempDir,
    public_file: std::path::PathBuf,
    creds: Credentials,
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = generate_key_pair();
    let public_file = dir.path().join("public.pem");
    std::fs::write(&public_file, public).unwrap();
    Keys {
        _dir: dir,
        public_file,
        creds: Credentials {
            key_id: "K".into(),
            issuer_id: "I".into(),
            private_key: private,
        },
    }
}

fn set_default(id: &str) -> String {
    format!(r#"{{"messageIdentifier":"{id}"}}"#)
}

#[tokio::test]
async fn a_route_rule_from_the_command_line_answers_apples_error_the_first_n_times() {
    let k = keys();
    let sim = start(
        &k.public_file,
        &[
            "--fault-rule",
            "PUT /inApps/v1/messaging/default/*/* error 4030017 times 1",
        ],
    );
    let raw = Raw::new(&sim.url, &k.creds);
    let id = raw.message().await;
    assert_eq!(raw.state().await["messages"][&id]["state"], "APPROVED");
    let first = raw
        .call("PUT", "default/premium/en-US", &set_default(&id))
        .await;
    assert_eq!(first.status, 403);
    assert_eq!(first.headers["content-type"], "application/json");
    assert_eq!(
        first.text,
        r#"{"errorCode":4030017,"errorMessage":"The message is not approved."}"#
    );
    assert!(
        raw.state().await["defaults"]
            .as_object()
            .unwrap()
            .is_empty(),
        "refused, so not carried out"
    );
    // only the first time: the second is carried out
    let second = raw
        .call("PUT", "default/premium/en-US", &set_default(&id))
        .await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(raw.state().await["defaults"]["premium"]["en-US"], id);
    // other routes are not touched by the rule
    assert_eq!(raw.call("GET", "message/list", "").await.status, 200);
}

#[tokio::test]
async fn a_route_rule_set_at_runtime_answers_500_every_time() {
    let k = keys();
    let sim = start(&k.public_file, &[]);
    let raw = Raw::new(&sim.url, &k.creds);
    let id = raw.message().await;
    raw.set_rules(serde_json::json!([{
        "method": "PUT",
        "path": "/inApps/v1/messaging/default/*/*",
        "answer": {"error": 5000000}
    }]))
    .await;
    assert_eq!(
        raw.admin("GET", "faults", "").await["rules"][0]["answer"]["error"],
        5000000
    );
    for _ in 0..3 {
        let answer = raw
            .call("PUT", "default/premium/en-US", &set_default(&id))
            .await;
        assert_eq!(answer.status, 500);
        assert_eq!(
            answer.text,
            r#"{"errorCode":5000000,"errorMessage":"An unknown error occurred."}"#
        );
    }
    assert!(
        raw.state().await["defaults"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    // a rule Apple could not send is refused with a reason
    let bad = raw
        .http
        .post(format!("{}/_sim/faults", sim.url))
        .body(r#"{"rules":[{"method":"PUT","path":"/x","answer":{"error":42}}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    assert!(bad.text().await.unwrap().contains("seven digits"));
    // and a bad flag stops the simulator with the rule's shape
    let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["sim", "--public-key"])
        .arg(&k.public_file)
        .args(["--fault-rule", "PUT /x explode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("METHOD PATH ANSWER"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_redirect_rule_answers_302_to_a_page_that_says_200_and_writes_nothing() {
    let k = keys();
    let sim = start(&k.public_file, &[]);
    let raw = Raw::new(&sim.url, &k.creds);
    let port = sim.url.rsplit(':').next().unwrap();
    let location = format!("http://localhost:{port}/_sim/landing");
    raw.set_rules(serde_json::json!([{
        "method": "PUT",
        "path": "/inApps/v1/messaging/message/*",
        "answer": {"redirect": location}
    }]))
    .await;
    let id = Uuid::new_v4().to_string();
    let answer = raw
        .call(
            "PUT",
            &format!("message/{id}"),
            r#"{"header":"h","body":"b"}"#,
        )
        .await;
    assert_eq!(answer.status, 302);
    assert_eq!(answer.headers["location"], location.as_str());
    assert!(
        answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(answer.text.contains("200 OK"), "{}", answer.text);
    assert!(
        raw.state().await["messages"].get(&id).is_none(),
        "a redirected write is not carried out"
    );
    // where it points answers 200 with the same page, to any method
    let landing = raw.http.put(&location).body("x").send().await.unwrap();
    assert_eq!(landing.status().as_u16(), 200);
    assert!(landing.text().await.unwrap().contains("200 OK"));
}

#[tokio::test]
async fn an_upper_case_rule_answers_get_default_and_lists_in_upper_case() {
    let k = keys();
    let sim = start(
        &k.public_file,
        &[
            "--fault-rule",
            "GET /inApps/v1/messaging/default/*/* upper-case-ids",
            "--fault-rule",
            "GET /inApps/v1/messaging/message/list upper-case-ids times 1",
        ],
    );
    let raw = Raw::new(&sim.url, &k.creds);
    let id = raw.message().await;
    assert_eq!(id, id.to_lowercase());
    let set = raw
        .call("PUT", "default/premium/en-US", &set_default(&id))
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    let got = raw.call("GET", "default/premium/en-US", "").await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.text,
        format!(r#"{{"messageIdentifier":"{}"}}"#, id.to_uppercase())
    );
    let list = raw.call("GET", "message/list", "").await;
    assert!(list.text.contains(&id.to_uppercase()), "{}", list.text);
    // `times 1`: the next list is as stored
    let list = raw.call("GET", "message/list", "").await;
    assert!(list.text.contains(&id), "{}", list.text);
    // errors pass through unchanged
    let missing = raw.call("GET", "default/premium/de-DE", "").await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn held_requests_wait_for_their_release_or_their_bound() {
    let k = keys();
    let sim = start(&k.public_file, &[]);
    let raw = std::sync::Arc::new(Raw::new(&sim.url, &k.creds));
    let id = raw.message().await;
    raw.set_rules(serde_json::json!([
        {"method": "PUT", "path": "/inApps/v1/messaging/default/*/en-US", "answer": {"hold": 60000}},
        {"method": "PUT", "path": "/inApps/v1/messaging/default/*/de-DE", "answer": {"hold": 200}}
    ]))
    .await;
    let held = {
        let raw = raw.clone();
        let body = set_default(&id);
        tokio::spawn(async move { raw.call("PUT", "default/premium/en-US", &body).await })
    };
    // wait (bounded) until the simulator holds it
    let mut seen = serde_json::Value::Null;
    for _ in 0..200 {
        seen = raw.admin("GET", "held", "").await;
        if seen["held"].as_array().is_some_and(|h| !h.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(seen["held"][0]["method"], "PUT", "{seen}");
    assert_eq!(
        seen["held"][0]["path"],
        "/inApps/v1/messaging/default/premium/en-US"
    );
    // other requests go on meanwhile, and the held one has not happened yet
    assert_eq!(raw.call("GET", "message/list", "").await.status, 200);
    assert!(!held.is_finished());
    assert!(
        raw.state().await["defaults"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    let released = raw.admin("POST", "release", "{}").await;
    assert_eq!(released["released"], 1);
    let answer = held.await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(raw.state().await["defaults"]["premium"]["en-US"], id);
    assert!(
        raw.admin("GET", "held", "").await["held"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // a hold nobody releases ends at its bound and is then carried out
    let answer = raw
        .call("PUT", "default/premium/de-DE", &set_default(&id))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(raw.state().await["defaults"]["premium"]["de-DE"], id);
}

#[tokio::test]
async fn identifiers_are_one_case_on_every_route_and_images_list_their_size() {
    let k = keys();
    let sim = start(&k.public_file, &[]);
    let raw = Raw::new(&sim.url, &k.creds);
    let hero = Uuid::new_v4().to_string().to_uppercase();
    let icon = Uuid::new_v4().to_string();
    let png = retainctl::apple::image_rules::solid_png(3840, 160, [9, 9, 9], false);
    let icon_png = retainctl::apple::image_rules::solid_png(1024, 1024, [9, 9, 9], false);
    for (id, bytes, query) in [
        (&hero, &png, ""),
        (&icon, &icon_png, "?imageSize=BULLET_POINT"),
    ] {
        let put = raw
            .http
            .put(format!("{}/inApps/v1/messaging/image/{id}{query}", sim.url))
            .bearer_auth(raw.signer.token(std::time::SystemTime::now()))
            .header("content-type", "image/png")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status().as_u16(), 200);
    }
    let list: serde_json::Value =
        serde_json::from_str(&raw.call("GET", "image/list", "").await.text).unwrap();
    let items = list["imageIdentifiers"].as_array().unwrap();
    let size_of = |id: &str| {
        items
            .iter()
            .find(|i| i["imageIdentifier"] == id)
            .map(|i| i["imageSize"].clone())
    };
    assert_eq!(
        size_of(&hero.to_lowercase()),
        Some("FULL_SIZE".into()),
        "stored lower-case, FULL_SIZE without a query: {list}"
    );
    assert_eq!(size_of(&icon), Some("BULLET_POINT".into()), "{list}");
    // the client's model reads it
    let c = client(&sim.url, &k.creds);
    let typed = c.list_images().await.unwrap();
    assert!(
        typed
            .image_identifiers
            .iter()
            .all(|i| i.image_size.is_some())
    );

    // a message naming the image in lower case, uploaded under an upper-case id
    let message = Uuid::new_v4().to_string().to_uppercase();
    let body = format!(
        r#"{{"header":"h","body":"b","image":{{"imageIdentifier":"{}","altText":"a"}}}}"#,
        hero.to_lowercase()
    );
    assert_eq!(
        raw.call("PUT", &format!("message/{message}"), &body)
            .await
            .status,
        200
    );
    let again = raw
        .call("PUT", &format!("message/{}", message.to_lowercase()), &body)
        .await;
    assert_eq!(again.status, 409, "the same id in another case exists");
    // the default names it in yet another case; Get Default answers the stored form
    let mixed = format!("{}{}", &message[..8].to_lowercase(), &message[8..]);
    let set = raw
        .call("PUT", "default/premium/en-US", &set_default(&mixed))
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    let got = raw.call("GET", "default/premium/en-US", "").await;
    assert!(got.text.contains(&message.to_lowercase()), "{}", got.text);
    // the image is in use whatever its case; deletes find ids in any case
    assert_eq!(
        raw.call("DELETE", &format!("image/{}", hero.to_lowercase()), "")
            .await
            .status,
        403
    );
    assert_eq!(
        raw.call("DELETE", &format!("message/{}", message.to_lowercase()), "")
            .await
            .status,
        200
    );
    assert!(
        raw.state().await["defaults"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        raw.call("DELETE", &format!("image/{hero}"), "")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_slow_answer_is_carried_out_after_the_client_gave_up() {
    let k = keys();
    let sim = start(&k.public_file, &["--slow-every", "1", "--slow-ms", "500"]);
    let raw = Raw::new(&sim.url, &k.creds);
    let id = Uuid::new_v4().to_string();
    let gave_up = raw
        .http
        .put(format!("{}/inApps/v1/messaging/message/{id}", sim.url))
        .bearer_auth(raw.signer.token(std::time::SystemTime::now()))
        .body(r#"{"header":"h","body":"b"}"#)
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();
    assert!(gave_up.is_timeout(), "{gave_up}");
    // wait (bounded) for the simulator to finish the request nobody waits for
    let mut state = serde_json::Value::Null;
    for _ in 0..200 {
        state = raw.admin("GET", "state", "").await;
        if state["apps"]["com.example.app"]["messages"]
            .get(&id)
            .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        state["apps"]["com.example.app"]["messages"][&id]["state"], "APPROVED",
        "the change was made although the client gave up: {state}"
    );
    assert_eq!(state["abandonedRequests"], 1, "{state}");
}

/// Routing comes from the endpoint table: Apple's paths answer (a bare route with the
/// wrong method or shape does not), and a path or method Apple does not have answers a
/// bare 404, is carried out nowhere and counted for no endpoint.
#[tokio::test]
async fn unknown_paths_and_methods_answer_404_and_count_for_no_endpoint() {
    let k = keys();
    let sim = start(&k.public_file, &[]);
    let raw = Raw::new(&sim.url, &k.creds);
    let id = raw.message().await;
    for (method, path) in [
        ("GET", "message/list"),
        ("GET", "image/list"),
        ("GET", "realtime/url"),
        ("GET", "performanceTest/result/nothing"),
    ] {
        // answered by the endpoint: 200, or Apple's error body (a 404 of Apple's own)
        let known = raw.call(method, path, "").await;
        let json: serde_json::Value = serde_json::from_str(&known.text).unwrap();
        assert!(
            known.status == 200 || json.get("errorCode").is_some(),
            "{method} {path}: {} {}",
            known.status,
            known.text
        );
    }
    let before = raw.admin("GET", "state", "").await["requestCounts"].clone();
    for (method, path) in [
        ("POST", "message/list"),
        ("PATCH", &format!("message/{id}") as &str),
        ("GET", &format!("message/{id}")),
        ("GET", "messages/list"),
        ("GET", "message/list/"),
        ("GET", "message"),
        ("GET", "default/premium"),
        ("GET", "default/premium/en-US/extra"),
        ("DELETE", "image/list/x"),
        ("GET", "performanceTest"),
        ("PUT", "performanceTest/result/x"),
    ] {
        let answer = raw.call(method, path, "").await;
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.text);
        assert_eq!(answer.text, "", "{method} {path}");
    }
    assert_eq!(
        raw.admin("GET", "state", "").await["requestCounts"],
        before,
        "an unknown route counts for no endpoint"
    );
    // the message is still there: nothing above was carried out
    let list = raw.call("GET", "message/list", "").await;
    assert!(list.text.contains(&id), "{}", list.text);
}
