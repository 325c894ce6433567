//! The Apple client against the simulator (and a capturing test server) over loopback:
//! every endpoint, every error mapping, 401, retries through injected faults, and no
//! secret in trace logs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use retainctl::apple::credentials::{Credentials, PrivateKeyPem, generate_key_pair};
use retainctl::apple::image_rules::solid_png;
use retainctl::apple::model::ReviewState;
use retainctl::apple::token::TokenSigner;
use retainctl::apple::{ApiError, ApiErrorCode, AppleClient, ClientConfig, RetryPolicy};
use retainctl::manifest::ImageSize;
use retainctl::sim::faults::FaultConfig;
use retainctl::sim::{Mode, SimConfig};
use uuid::Uuid;

const BUNDLE: &str = "com.example.app";

struct Keys {
    private: PrivateKeyPem,
    public: String,
}

fn keys() -> Keys {
    let (private, public) = generate_key_pair();
    Keys { private, public }
}

fn sim_config(mode: Mode, keys: &Keys) -> SimConfig {
    SimConfig {
        mode,
        bundle_id: Some(BUNDLE.into()),
        products: Some(vec!["premium".into()]),
        public_keys: vec![keys.public.clone()],
        state_file: None,
        review_delay: None,
        rate_limits: true,
        faults: FaultConfig::default(),
        perf: Default::default(),
    }
}

async fn start(config: SimConfig) -> SocketAddr {
    let (addr, _handle) = retainctl::sim::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    addr
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 8,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        deadline: Duration::from_secs(30),
        max_wait: Duration::from_secs(10),
    }
}

fn client(addr: SocketAddr, keys: &Keys, bundle: &str) -> AppleClient {
    let creds = Credentials {
        key_id: "KEYID12345".into(),
        issuer_id: "57246542-96fe-1a63-e053-0824d011072a".into(),
        private_key: keys.private.clone(),
    };
    let mut config = ClientConfig::new(format!("http://{addr}"), true);
    config.retry = fast_retries();
    config.timeout = Duration::from_secs(5);
    AppleClient::new(config, TokenSigner::new(&creds, bundle).unwrap(), bundle).unwrap()
}

fn message_body(header: &str, image: Option<Uuid>) -> String {
    match image {
        Some(id) => format!(
            r#"{{"body":"b","header":"{header}","image":{{"altText":"alt","imageIdentifier":"{id}"}}}}"#
        ),
        None => format!(r#"{{"body":"b","header":"{header}"}}"#),
    }
}

#[tokio::test]
async fn every_endpoint_round_trips_in_sandbox() {
    let keys = keys();
    let addr = start(sim_config(Mode::Sandbox, &keys)).await;
    let c = client(addr, &keys, BUNDLE);
    let image = Uuid::new_v4();
    let message = Uuid::new_v4();

    c.upload_image(
        image,
        ImageSize::FullSize,
        &solid_png(3840, 160, [9, 9, 9], false),
    )
    .await
    .unwrap();
    let images = c.list_images().await.unwrap();
    assert_eq!(images.image_identifiers.len(), 1);
    assert_eq!(
        images.image_identifiers[0].image_identifier,
        image.to_string()
    );
    assert_eq!(
        images.image_identifiers[0].image_state,
        ReviewState::Approved
    );

    c.upload_message(message, &message_body("Stay", Some(image)))
        .await
        .unwrap();
    let err = c
        .upload_message(message, &message_body("Stay", Some(image)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::MessageAlreadyExists));
    let messages = c.list_messages().await.unwrap();
    assert_eq!(
        messages.message_identifiers[0].message_state,
        ReviewState::Approved
    );

    assert_eq!(c.get_default("premium", "en-US").await.unwrap(), None);
    c.configure_default("premium", "en-US", message)
        .await
        .unwrap();
    assert_eq!(
        c.get_default("premium", "en-US").await.unwrap(),
        Some(message.to_string())
    );
    let err = c.delete_image(&image.to_string()).await.unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::ImageInUse));
    c.delete_default("premium", "en-US").await.unwrap();
    let err = c.delete_default("premium", "en-US").await.unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::DefaultMessageNotFound));

    assert_eq!(c.get_realtime_url().await.unwrap(), None);
    c.configure_realtime_url("https://example.com/retention")
        .await
        .unwrap();
    assert_eq!(
        c.get_realtime_url().await.unwrap().as_deref(),
        Some("https://example.com/retention")
    );
    c.delete_realtime_url().await.unwrap();
    let err = c.delete_realtime_url().await.unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::RealtimeUrlNotFound));

    c.delete_message(&message.to_string()).await.unwrap();
    let err = c.delete_message(&message.to_string()).await.unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::MessageNotFound));
    c.delete_image(&image.to_string()).await.unwrap();
    let err = c.delete_image(&image.to_string()).await.unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::ImageNotFound));
}

#[tokio::test]
async fn production_keeps_uploads_pending_and_gates_defaults() {
    let keys = keys();
    let addr = start(sim_config(Mode::Production, &keys)).await;
    let c = client(addr, &keys, BUNDLE);
    let image = Uuid::new_v4();
    let message = Uuid::new_v4();
    c.upload_image(
        image,
        ImageSize::FullSize,
        &solid_png(3840, 160, [9, 9, 9], false),
    )
    .await
    .unwrap();
    c.upload_message(message, &message_body("Stay", Some(image)))
        .await
        .unwrap();
    assert_eq!(
        c.list_messages().await.unwrap().message_identifiers[0].message_state,
        ReviewState::Pending
    );
    let err = c
        .configure_default("premium", "en-US", message)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::MessageNotApproved));
    assert!(
        err.to_string().contains("MessageNotApproved (4030017)"),
        "{err}"
    );

    let admin = reqwest::Client::new();
    let review = |body: serde_json::Value| {
        admin
            .post(format!("http://{addr}/_sim/review"))
            .json(&body)
            .send()
    };
    review(serde_json::json!({"approve": [message.to_string()]}))
        .await
        .unwrap();
    let err = c
        .configure_default("premium", "en-US", message)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::ImageNotApproved));
    review(serde_json::json!({"approve": [image.to_string()]}))
        .await
        .unwrap();
    c.configure_default("premium", "en-US", message)
        .await
        .unwrap();

    let err = c
        .configure_default("premium", "en_US", message)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::InvalidLocale));
    let err = c
        .configure_default("unknown.product", "en-US", message)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::InvalidProductId));

    // realtime URL: production needs a passing sandbox performance test (tests/it/perf_test.rs
    // runs one); the test itself is sandbox only
    let url = "https://127.0.0.1:9/apple".to_string();
    let err = c.configure_realtime_url(&url).await.unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::ForbiddenNoPassingTest));
    let err = c
        .initiate_performance_test("2000000123456789")
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(ApiErrorCode::InvalidPerformanceTestRequest)
    );
    let err = c
        .get_performance_test_result(&Uuid::new_v4().to_string())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::PerformanceTestRunNotFound));
    let err = c
        .get_performance_test_result("not-a-uuid")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ApiErrorCode::InvalidRequestId));
}

#[tokio::test]
async fn a_wrong_key_or_bundle_is_a_401_with_a_checklist() {
    let keys = keys();
    let addr = start(sim_config(Mode::Sandbox, &keys)).await;
    let stranger = self::keys();
    let err = client(addr, &stranger, BUNDLE)
        .list_images()
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Unauthorized { .. }));
    let text = err.to_string();
    for needle in [
        "key id",
        "issuer id",
        "bundle id `com.example.app`",
        "In-App Purchase key",
        "same team",
        "clock",
    ] {
        assert!(text.contains(needle), "{needle} missing from: {text}");
    }
    let err = client(addr, &keys, "com.other.app")
        .list_images()
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Unauthorized { .. }), "{err}");
}

#[tokio::test]
async fn retries_through_500s_429s_and_dropped_connections() {
    let keys = keys();
    for faults in [
        FaultConfig {
            error_every: 2,
            ..Default::default()
        },
        FaultConfig {
            rate_limit_every: 2,
            retry_after_ms: 300,
            ..Default::default()
        },
        FaultConfig {
            drop_every: 2,
            ..Default::default()
        },
        FaultConfig {
            commit_then_fail_every: 2,
            ..Default::default()
        },
    ] {
        let mut config = sim_config(Mode::Sandbox, &keys);
        config.faults = faults.clone();
        let addr = start(config).await;
        let c = client(addr, &keys, BUNDLE);
        for _ in 0..3 {
            let started = Instant::now();
            c.list_images()
                .await
                .unwrap_or_else(|e| panic!("{faults:?}: {e}"));
            if faults.rate_limit_every > 0 && started.elapsed() >= Duration::from_millis(250) {
                // waited for the epoch-ms Retry-After instead of the short backoff
                return;
            }
        }
        if faults.rate_limit_every > 0 {
            panic!("no request waited for Retry-After");
        }
        // a write retried after "commit then fail" finds its own success
        if faults.commit_then_fail_every > 0 {
            let id = Uuid::new_v4();
            let first = c.upload_message(id, &message_body("x", None)).await;
            let second = c.upload_message(id, &message_body("x", None)).await;
            let codes = [
                first.err().and_then(|e| e.code()),
                second.err().and_then(|e| e.code()),
            ];
            assert!(
                codes.contains(&Some(ApiErrorCode::MessageAlreadyExists)),
                "{codes:?}"
            );
        }
    }
}

/// A sandbox simulator that answers every request 429 with a Retry-After an hour ahead.
async fn start_answering_every_request_429_for_an_hour(keys: &Keys) -> SocketAddr {
    let mut config = sim_config(Mode::Sandbox, keys);
    config.faults = FaultConfig {
        rate_limit_every: 1,
        retry_after_ms: 3_600_000,
        ..Default::default()
    };
    start(config).await
}

#[tokio::test]
async fn a_retry_after_beyond_the_maximum_fails_saying_when() {
    let keys = keys();
    let addr = start_answering_every_request_429_for_an_hour(&keys).await;
    let err = client(addr, &keys, BUNDLE).list_images().await.unwrap_err();
    assert!(matches!(err, ApiError::RateBudgetExhausted { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("hourly request budget is used up; it frees up at unix time"),
        "{err}"
    );
}

/// After a Retry-After longer than the run waits, the next request to that endpoint is not
/// sent to wait behind it: it fails at once saying when the budget frees up.
#[tokio::test]
async fn a_request_behind_a_long_retry_after_is_not_sent() {
    let keys = keys();
    let addr = start_answering_every_request_429_for_an_hour(&keys).await;
    let client = client(addr, &keys, BUNDLE);
    let first = client.list_images().await.unwrap_err();
    assert!(
        matches!(first, ApiError::RateBudgetExhausted { .. }),
        "{first}"
    );
    let second = tokio::time::timeout(std::time::Duration::from_secs(5), client.list_images())
        .await
        .expect("answered at once, not held for the hour")
        .unwrap_err();
    assert!(
        matches!(second, ApiError::RateBudgetExhausted { .. }),
        "{second}"
    );
    let counts: serde_json::Value = reqwest::get(format!("http://{addr}/_sim/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent = counts["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/image/list"))
        })
        .count();
    assert_eq!(sent, 1, "{counts}");
}

/// A server that records every request and answers from a script.
#[derive(Clone, Default)]
struct Capture {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Arc<Mutex<(u16, String)>>,
    /// Extra headers of every answer (`Retry-After`, `Location`).
    headers: Arc<Mutex<Vec<(String, String)>>>,
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    content_type: Option<String>,
    accept: Option<String>,
    authorization: Option<String>,
    body: Vec<u8>,
}

async fn capture_server() -> (SocketAddr, Capture) {
    let capture = Capture::default();
    *capture.answer.lock().unwrap() = (200, "{}".into());
    let c2 = capture.clone();
    let app = axum::Router::new().fallback(
        move |method: axum::http::Method,
              uri: axum::http::Uri,
              headers: axum::http::HeaderMap,
              body: axum::body::Bytes| {
            let c = c2.clone();
            async move {
                let h = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                c.seen.lock().unwrap().push(Seen {
                    method: method.to_string(),
                    path: uri.path().to_string(),
                    query: uri.query().map(str::to_string),
                    content_type: h("content-type"),
                    accept: h("accept"),
                    authorization: h("authorization"),
                    body: body.to_vec(),
                });
                let (status, text) = c.answer.lock().unwrap().clone();
                let mut answer = axum::response::Response::builder()
                    .status(status)
                    .header("content-type", "application/json");
                for (name, value) in c.headers.lock().unwrap().iter() {
                    answer = answer.header(name, value);
                }
                answer.body(axum::body::Body::from(text)).unwrap()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, capture)
}

#[tokio::test]
async fn requests_have_apples_paths_methods_headers_and_bodies() {
    let keys = keys();
    let (addr, capture) = capture_server().await;
    let c = client(addr, &keys, BUNDLE);
    let id = Uuid::parse_str("0b6f1d1e-1111-4222-8333-444455556666").unwrap();
    let png = solid_png(1024, 1024, [1, 2, 3], false);
    c.upload_image(id, ImageSize::BulletPoint, &png)
        .await
        .unwrap();
    c.delete_image(&id.to_string()).await.unwrap();
    c.upload_message(id, r#"{"body":"b","header":"h"}"#)
        .await
        .unwrap();
    c.delete_message(&id.to_string()).await.unwrap();
    c.configure_default("premium.yearly", "de-DE", id)
        .await
        .unwrap();
    c.delete_default("premium.yearly", "de-DE").await.unwrap();
    c.configure_realtime_url("https://example.com/r")
        .await
        .unwrap();
    c.delete_realtime_url().await.unwrap();
    *capture.answer.lock().unwrap() = (200, r#"{"imageIdentifiers":[]}"#.into());
    c.list_images().await.unwrap();
    *capture.answer.lock().unwrap() = (200, r#"{"messageIdentifiers":[]}"#.into());
    c.list_messages().await.unwrap();
    *capture.answer.lock().unwrap() = (200, format!(r#"{{"messageIdentifier":"{id}"}}"#));
    c.get_default("premium.yearly", "de-DE").await.unwrap();
    *capture.answer.lock().unwrap() = (200, r#"{"realtimeURL":"https://example.com/r"}"#.into());
    c.get_realtime_url().await.unwrap();
    *capture.answer.lock().unwrap() = (200, r#"{"config":{"maxConcurrentRequests":1,"totalRequests":1,"totalDuration":1,"responseTimeThreshold":1,"successRateThreshold":1},"requestId":"r1"}"#.into());
    c.initiate_performance_test("2000000000000001")
        .await
        .unwrap();
    *capture.answer.lock().unwrap() = (200, r#"{"config":{"maxConcurrentRequests":1,"totalRequests":1,"totalDuration":1,"responseTimeThreshold":1,"successRateThreshold":1},"target":"https://example.com/r","result":"PASS"}"#.into());
    c.get_performance_test_result("r1").await.unwrap();

    let seen = capture.seen.lock().unwrap().clone();
    type Expected<'a> = (&'a str, String, Option<&'a str>, Option<&'a str>, &'a [u8]);
    let expect: [Expected; 14] = [
        (
            "PUT",
            format!("/inApps/v1/messaging/image/{id}"),
            Some("imageSize=BULLET_POINT"),
            Some("image/png"),
            &png,
        ),
        (
            "DELETE",
            format!("/inApps/v1/messaging/image/{id}"),
            None,
            None,
            b"",
        ),
        (
            "PUT",
            format!("/inApps/v1/messaging/message/{id}"),
            None,
            Some("application/json"),
            br#"{"body":"b","header":"h"}"#,
        ),
        (
            "DELETE",
            format!("/inApps/v1/messaging/message/{id}"),
            None,
            None,
            b"",
        ),
        (
            "PUT",
            "/inApps/v1/messaging/default/premium.yearly/de-DE".into(),
            None,
            Some("application/json"),
            br#"{"messageIdentifier":"0b6f1d1e-1111-4222-8333-444455556666"}"#,
        ),
        (
            "DELETE",
            "/inApps/v1/messaging/default/premium.yearly/de-DE".into(),
            None,
            None,
            b"",
        ),
        (
            "PUT",
            "/inApps/v1/messaging/realtime/url".into(),
            None,
            Some("application/json"),
            br#"{"realtimeURL":"https://example.com/r"}"#,
        ),
        (
            "DELETE",
            "/inApps/v1/messaging/realtime/url".into(),
            None,
            None,
            b"",
        ),
        (
            "GET",
            "/inApps/v1/messaging/image/list".into(),
            None,
            None,
            b"",
        ),
        (
            "GET",
            "/inApps/v1/messaging/message/list".into(),
            None,
            None,
            b"",
        ),
        (
            "GET",
            "/inApps/v1/messaging/default/premium.yearly/de-DE".into(),
            None,
            None,
            b"",
        ),
        (
            "GET",
            "/inApps/v1/messaging/realtime/url".into(),
            None,
            None,
            b"",
        ),
        (
            "POST",
            "/inApps/v1/messaging/performanceTest".into(),
            None,
            Some("application/json"),
            br#"{"originalTransactionId":"2000000000000001"}"#,
        ),
        (
            "GET",
            "/inApps/v1/messaging/performanceTest/result/r1".into(),
            None,
            None,
            b"",
        ),
    ];
    assert_eq!(seen.len(), expect.len());
    let verify_key = jsonwebtoken::DecodingKey::from_ec_pem(keys.public.as_bytes()).unwrap();
    for (s, (method, path, query, content_type, body)) in seen.iter().zip(expect.iter()) {
        assert_eq!(s.method, *method, "{s:?}");
        assert_eq!(&s.path, path);
        assert_eq!(s.query.as_deref(), *query, "{path}");
        assert_eq!(s.content_type.as_deref(), *content_type, "{method} {path}");
        assert_eq!(s.accept.as_deref(), Some("application/json"));
        assert_eq!(&s.body[..], *body, "{method} {path}");
        let token = s
            .authorization
            .as_deref()
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap();
        let claims = retainctl::apple::token::verify(
            token,
            std::slice::from_ref(&verify_key),
            Some(BUNDLE),
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(claims.aud, "appstoreconnect-v1");
    }
}

#[tokio::test]
async fn every_error_number_maps_to_its_name() {
    let keys = keys();
    let (addr, capture) = capture_server().await;
    let c = client(addr, &keys, BUNDLE);
    let table = [
        (4090001, "MessageAlreadyExists"),
        (4090000, "ImageAlreadyExists"),
        (4040015, "MessageNotFound"),
        (4040014, "ImageNotFound"),
        (4040020, "DefaultMessageNotFound"),
        (4040021, "RealtimeUrlNotFound"),
        (4030017, "MessageNotApproved"),
        (4030018, "ImageNotApproved"),
        (4030019, "ImageInUse"),
        (4030026, "ForbiddenNoPassingTest"),
        (4030016, "MaximumNumberOfMessagesReached"),
        (4030014, "MaximumNumberOfImagesReached"),
        (4000164, "InvalidLocale"),
        (4000162, "HeaderTooLong"),
        (4000163, "BodyTooLong"),
        (4000175, "AltTextTooLong"),
        (4000161, "InvalidImage"),
        (4000216, "BadRequestImageSize"),
        (4000218, "TooManyBulletPoints"),
        (4000219, "BulletPointTextTooLong"),
        (4000224, "AboveImageRequiresAnImage"),
        (4000023, "InvalidProductId"),
        (4000000, "GeneralBadRequest"),
        (4000006, "BadRequestTransactionId"),
        (4000048, "BadRequestAppTransactionIdForUnsupportedEndpoint"),
        (
            4000185,
            "BadRequestTransactionIdNotSupportedForFamilySharing",
        ),
        (4000187, "BadRequestTransactionIdNotOtid"),
        (4001234, "UnknownError"),
    ];
    for (number, name) in table {
        let status = number / 10_000;
        *capture.answer.lock().unwrap() = (
            status as u16,
            format!(r#"{{"errorCode":{number},"errorMessage":"m"}}"#),
        );
        let err = c.delete_message("x").await.unwrap_err();
        let code = err.code().unwrap();
        assert_eq!((code.number(), code.name()), (number, name));
        assert!(
            err.to_string()
                .contains(&format!("{name} ({number}) (HTTP {status})")),
            "{err}"
        );
    }
    // retryable ones are retried, then reported with their number
    for (number, name) in [
        (4290000, "RateLimitExceeded"),
        (5000000, "GeneralInternal"),
        (5000001, "GeneralInternalRetryable"),
    ] {
        *capture.answer.lock().unwrap() = (
            (number / 10_000) as u16,
            format!(r#"{{"errorCode":{number},"errorMessage":"m"}}"#),
        );
        let before = capture.seen.lock().unwrap().len();
        let err = c.delete_message("x").await.unwrap_err();
        assert_eq!(err.code().unwrap().name(), name);
        assert_eq!(
            capture.seen.lock().unwrap().len() - before,
            8,
            "{name} retried up to max_attempts"
        );
    }
}

#[tokio::test]
async fn the_simulator_enforces_apples_hourly_budget_with_an_epoch_ms_retry_after() {
    let keys = keys();
    let addr = start(sim_config(Mode::Sandbox, &keys)).await;
    let creds = Credentials {
        key_id: "K".into(),
        issuer_id: "I".into(),
        private_key: keys.private.clone(),
    };
    let token = TokenSigner::new(&creds, BUNDLE)
        .unwrap()
        .token(SystemTime::now());
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/inApps/v1/messaging/image/list");
    for i in 0..360 {
        let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "request {i} is within sandbox's 360 an hour"
        );
    }
    let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let retry_at: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now_ms = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        retry_at > now_ms + 3_000_000,
        "about an hour ahead, in epoch milliseconds"
    );
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"errorCode":4290000,"errorMessage":"Rate limit exceeded."}"#
    );
}

/// Apple may answer identifiers in upper case; the client hands only lower case up.
#[tokio::test]
async fn identifiers_answered_in_upper_case_are_read_lower_case() {
    let keys = keys();
    let (addr, capture) = capture_server().await;
    let c = client(addr, &keys, BUNDLE);
    let upper = "9542ADFB-1C2D-4E5F-8A9B-0C1D2E3F4A5B";
    let lower = upper.to_lowercase();
    *capture.answer.lock().unwrap() = (
        200,
        format!(
            r#"{{"imageIdentifiers":[{{"imageIdentifier":"{upper}","imageState":"APPROVED"}}]}}"#
        ),
    );
    let images = c.list_images().await.unwrap();
    assert_eq!(images.image_identifiers[0].image_identifier, lower);
    *capture.answer.lock().unwrap() = (
        200,
        format!(
            r#"{{"messageIdentifiers":[{{"messageIdentifier":"{upper}","messageState":"APPROVED"}}]}}"#
        ),
    );
    let messages = c.list_messages().await.unwrap();
    assert_eq!(messages.message_identifiers[0].message_identifier, lower);
    *capture.answer.lock().unwrap() = (200, format!(r#"{{"messageIdentifier":"{upper}"}}"#));
    assert_eq!(
        c.get_default("premium", "en-US").await.unwrap(),
        Some(lower.clone())
    );
}

/// Apple's API never redirects: a 302 is an error naming the location's host (not its
/// path or query), the request is neither followed nor retried.
#[tokio::test]
async fn a_redirect_is_an_error_naming_the_location_host() {
    let keys = keys();
    let (addr, capture) = capture_server().await;
    let c = client(addr, &keys, BUNDLE);
    *capture.answer.lock().unwrap() = (302, "<html>200 OK</html>".into());
    *capture.headers.lock().unwrap() = vec![(
        "location".into(),
        "https://login.example.net/sso?session=s3cr3tsession".into(),
    )];
    let err = c
        .upload_message(Uuid::new_v4(), r#"{"body":"b","header":"h"}"#)
        .await
        .unwrap_err();
    match &err {
        ApiError::Redirected {
            status,
            location_host,
            ..
        } => {
            assert_eq!(*status, 302);
            assert_eq!(location_host.as_deref(), Some("login.example.net"));
        }
        other => panic!("not a redirect error: {other}"),
    }
    assert_eq!(
        err.to_string(),
        "UploadMessage: answered with a redirect (HTTP 302) to login.example.net; Apple's API never redirects, so nothing was done there: check --base-url"
    );
    assert!(!format!("{err:?}").contains("s3cr3tsession"));
    // a relative location names the base's own host
    *capture.headers.lock().unwrap() = vec![("location".into(), "/elsewhere".into())];
    let err = c.list_images().await.unwrap_err();
    assert!(
        matches!(&err, ApiError::Redirected { location_host: Some(h), .. } if h == "127.0.0.1"),
        "{err}"
    );
    let seen = capture.seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "neither followed nor retried: {seen:?}");
}

/// A server whose answer to everything is a 200 that never ends.
async fn endless_server() -> SocketAddr {
    let app = axum::Router::new().fallback(|| async {
        let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
        let stream = futures_util::stream::repeat_with(move || {
            Ok::<_, std::convert::Infallible>(chunk.clone())
        });
        axum::response::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(axum::body::Body::from_stream(stream))
            .unwrap()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn an_answer_that_never_ends_stops_at_the_cap() {
    let keys = keys();
    let addr = endless_server().await;
    let creds = Credentials {
        key_id: "KEYID12345".into(),
        issuer_id: "57246542-96fe-1a63-e053-0824d011072a".into(),
        private_key: keys.private.clone(),
    };
    let mut config = ClientConfig::new(format!("http://{addr}"), true);
    config.retry = RetryPolicy {
        max_attempts: 2,
        ..fast_retries()
    };
    config.timeout = Duration::from_secs(20);
    assert_eq!(config.max_answer_bytes, 16 * 1024 * 1024);
    let c = AppleClient::new(config, TokenSigner::new(&creds, BUNDLE).unwrap(), BUNDLE).unwrap();
    let err = c.list_images().await.unwrap_err();
    assert!(
        matches!(err, ApiError::AnswerTooLarge { limit, .. } if limit == 16 * 1024 * 1024),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "GetImageList: the answer (HTTP 200) is larger than 16777216 bytes; Apple's answers are far smaller, so it was not read further"
    );
}

/// A 200 that does not hold the list (`{}`, an error body) is an error, never "Apple
/// holds nothing".
#[tokio::test]
async fn a_200_without_its_list_is_an_error_not_an_empty_list() {
    let keys = keys();
    let (addr, capture) = capture_server().await;
    let c = client(addr, &keys, BUNDLE);
    *capture.answer.lock().unwrap() = (200, "{}".into());
    let err = c.list_messages().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "GetMessageList: Apple answered HTTP 200 without messageIdentifiers; nothing is assumed about what Apple holds"
    );
    let err = c.list_images().await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::MissingField {
                field: "imageIdentifiers",
                ..
            }
        ),
        "{err}"
    );
    *capture.answer.lock().unwrap() = (
        200,
        r#"{"errorCode":4030016,"errorMessage":"The maximum number of messages has been reached."}"#
            .into(),
    );
    let err = c.list_messages().await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::ErrorInSuccess {
                code: ApiErrorCode::MaximumNumberOfMessagesReached,
                ..
            }
        ),
        "{err}"
    );
    *capture.answer.lock().unwrap() = (200, "{}".into());
    assert!(matches!(
        c.get_default("premium", "en-US").await.unwrap_err(),
        ApiError::MissingField {
            field: "messageIdentifier",
            ..
        }
    ));
}

/// `Retry-After: 0` or a time already past (a client clock ahead of Apple's) still waits
/// the backoff: 4 attempts with a 100 ms minimum wait at least 100 + 200 + 400 ms.
#[tokio::test]
async fn a_retry_after_in_the_past_or_zero_still_waits_the_backoff() {
    let keys = keys();
    let (addr, capture) = capture_server().await;
    let creds = Credentials {
        key_id: "KEYID12345".into(),
        issuer_id: "57246542-96fe-1a63-e053-0824d011072a".into(),
        private_key: keys.private.clone(),
    };
    let mut config = ClientConfig::new(format!("http://{addr}"), true);
    config.retry = RetryPolicy {
        max_attempts: 4,
        min_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        deadline: Duration::from_secs(30),
        max_wait: Duration::from_secs(10),
    };
    let c = AppleClient::new(config, TokenSigner::new(&creds, BUNDLE).unwrap(), BUNDLE).unwrap();
    *capture.answer.lock().unwrap() = (
        429,
        r#"{"errorCode":4290000,"errorMessage":"Rate limit exceeded."}"#.into(),
    );
    let past_ms = (SystemTime::now() - Duration::from_secs(600))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    for retry_after in ["0".to_string(), past_ms] {
        *capture.headers.lock().unwrap() = vec![("retry-after".into(), retry_after.clone())];
        let before = capture.seen.lock().unwrap().len();
        let started = Instant::now();
        let err = c.list_images().await.unwrap_err();
        assert_eq!(err.code(), Some(ApiErrorCode::RateLimitExceeded));
        assert_eq!(capture.seen.lock().unwrap().len() - before, 4);
        assert!(
            started.elapsed() >= Duration::from_millis(700),
            "Retry-After {retry_after}: 4 attempts in {:?}",
            started.elapsed()
        );
    }
}

/// Apple asks for a new token per request: two requests a second apart carry tokens
/// issued a second apart.
#[tokio::test]
async fn each_request_carries_a_token_signed_for_it() {
    let keys = keys();
    let (addr, capture) = capture_server().await;
    let c = client(addr, &keys, BUNDLE);
    c.delete_message("a").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.delete_message("b").await.unwrap();
    let verify_key = jsonwebtoken::DecodingKey::from_ec_pem(keys.public.as_bytes()).unwrap();
    let iats: Vec<u64> = capture
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| {
            let token = s
                .authorization
                .as_deref()
                .unwrap()
                .strip_prefix("Bearer ")
                .unwrap();
            retainctl::apple::token::verify(
                token,
                std::slice::from_ref(&verify_key),
                Some(BUNDLE),
                SystemTime::now(),
            )
            .unwrap()
            .iat
            .unwrap()
        })
        .collect();
    assert_eq!(iats.len(), 2);
    assert!(iats[1] > iats[0], "{iats:?}");
}
