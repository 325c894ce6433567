//! Unit tests of the answer to one request (no HTTP): every answer kind, the older approved
//! version while a new one is pending, the fallback, refusals, and reloads.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use std::path::Path;

use axum::http::StatusCode;

use super::served::RootPolicy;
use super::verify::Refusal;
use super::*;
use crate::apple::credentials::generate_key_pair;
use crate::manifest::EnvironmentName;
use crate::realtime::store::SnapshotLocation;
use crate::realtime::{AppRealtime, ApprovedVersion, Rule, RuleAnswer, Snapshot};
use crate::sim::perf::RealtimeSigner;

const PRODUCT: &str = "com.example.monthly";

fn id(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(n)
}

fn rule(product: &str, answer: RuleAnswer) -> Rule {
    Rule {
        product: product.into(),
        locales: None,
        buckets: None,
        answer,
    }
}

fn app(rules: Vec<Rule>, approved: &[(&str, &str, u128, bool)]) -> AppRealtime {
    let mut map: BTreeMap<String, BTreeMap<String, ApprovedVersion>> = BTreeMap::new();
    for (key, locale, n, current) in approved {
        map.entry(key.to_string()).or_default().insert(
            locale.to_string(),
            ApprovedVersion {
                message_id: id(*n),
                current: *current,
            },
        );
    }
    AppRealtime {
        bundle_id: "com.example.app".into(),
        app_apple_id: None,
        offer_signing: None,
        locales: vec!["en-US".into()],
        rules,
        approved: map,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    sources: Sources,
    snapshot: std::path::PathBuf,
    signer: RealtimeSigner,
}

fn write_snapshot(path: &Path, apps: Vec<AppRealtime>) {
    let mut snapshot = Snapshot::new(EnvironmentName::Sandbox);
    snapshot.apps = apps;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, snapshot.to_json()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn fixture(apps: Vec<AppRealtime>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let signer = RealtimeSigner::generate().unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, signer.root_pem()).unwrap();
    let snapshot = dir.path().join("snapshot.json");
    write_snapshot(&snapshot, apps);
    Fixture {
        sources: Sources {
            snapshot: SnapshotLocation::File(snapshot.clone()),
            trust_roots: vec![root],
            env_local: false,
        },
        snapshot,
        _dir: dir,
        signer,
    }
}

/// The state's answer to `body`, on a runtime of its own.
fn ask(state: &ServeState, body: &[u8]) -> Answer {
    crate::realtime::store::block_on(state.answer(body))
        .unwrap()
        .expect("a snapshot is served")
        .1
}

fn request(signer: &RealtimeSigner, product: &str, app_apple_id: i64) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let jws = signer
        .sign(&json!({
            "originalTransactionId": "2000000123456789",
            "appAppleId": app_apple_id,
            "productId": product,
            "userLocale": "en-US",
            "requestIdentifier": uuid::Uuid::new_v4().to_string(),
            "signedDate": now,
            "environment": "Sandbox",
        }))
        .unwrap();
    serde_json::to_vec(&json!({ "signedPayload": jws })).unwrap()
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn body(answer: &Answer) -> Value {
    serde_json::from_slice(&answer.body).unwrap()
}

#[test]
fn a_text_rule_answers_with_its_approved_id_in_lower_case() {
    let f = fixture(vec![app(
        vec![rule("*", RuleAnswer::Message("stay".into()))],
        &[("stay", "en-US", 0xABCDEF, true)],
    )]);
    let served = load_at_start(&f.sources, &no_env).unwrap();
    let answer = served.answer(&request(&f.signer, PRODUCT, 1), SystemTime::now());
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        body(&answer),
        json!({"message": {"messageIdentifier": "00000000-0000-0000-0000-000000abcdef"}})
    );
    assert!(matches!(
        answer.outcome,
        Outcome::Answered {
            rule: 0,
            kind: AnswerKind::Message,
            ..
        }
    ));
    // the log's stand-in, never the id
    let tx = answer.transaction.unwrap();
    assert!(!tx.contains("2000000123456789"));
}

#[test]
fn while_a_new_version_is_pending_the_older_approved_one_answers() {
    // apply lists the older approved version (`current: false`) while the new one waits
    let f = fixture(vec![app(
        vec![rule("*", RuleAnswer::Message("stay".into()))],
        &[("stay", "en-US", 7, false)],
    )]);
    let served = load_at_start(&f.sources, &no_env).unwrap();
    let answer = served.answer(&request(&f.signer, PRODUCT, 1), SystemTime::now());
    assert_eq!(
        body(&answer)["message"]["messageIdentifier"],
        id(7).to_string()
    );
}

#[test]
fn nothing_approved_is_a_body_less_204() {
    let f = fixture(vec![app(
        vec![rule("*", RuleAnswer::Message("stay".into()))],
        &[],
    )]);
    let served = load_at_start(&f.sources, &no_env).unwrap();
    let answer = served.answer(&request(&f.signer, PRODUCT, 1), SystemTime::now());
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(answer.body.is_empty());
    assert_eq!(answer.outcome, Outcome::Fallback { app: 0 });
}

#[test]
fn a_switch_plan_rule_names_the_product_and_plan() {
    let f = fixture(vec![app(
        vec![rule(
            PRODUCT,
            RuleAnswer::AlternateProduct {
                message: "yearly".into(),
                product_id: "com.example.yearly".into(),
                billing_plan_type: Some("MONTHLY".into()),
            },
        )],
        &[("yearly", "en-US", 3, true)],
    )]);
    let served = load_at_start(&f.sources, &no_env).unwrap();
    let answer = served.answer(&request(&f.signer, PRODUCT, 1), SystemTime::now());
    assert_eq!(
        body(&answer),
        json!({"alternateProduct": {
            "messageIdentifier": id(3).to_string(),
            "productId": "com.example.yearly",
            "billingPlanType": "MONTHLY",
        }})
    );
    assert_eq!(
        crate::sim::perf::answer_message_id(&answer.body),
        Ok(Some(id(3).to_string()))
    );
    // the bytes, as a serde_json::Value (keys in sorted order) wrote them before
    assert_eq!(
        String::from_utf8(answer.body).unwrap(),
        format!(
            r#"{{"alternateProduct":{{"billingPlanType":"MONTHLY","messageIdentifier":"{}","productId":"com.example.yearly"}}}}"#,
            id(3)
        )
    );
}

#[test]
fn a_promotional_offer_carries_a_signature_made_with_the_offer_key() {
    let (private, public) = generate_key_pair();
    let mut a = app(
        vec![rule(
            "*",
            RuleAnswer::PromotionalOffer {
                message: "offer".into(),
                offer_id: "winback50".into(),
            },
        )],
        &[("offer", "en-US", 9, true)],
    );
    a.offer_signing = Some(crate::manifest::Credentials {
        key_id: Some("OFFER_KEY_ID".into()),
        issuer_id: Some("OFFER_ISSUER".into()),
        private_key: Some("OFFER_KEY".into()),
        private_key_file: None,
    });
    let f = fixture(vec![a]);
    // no key in the environment: the snapshot cannot be served, and says which variable
    let err = load_at_start(&f.sources, &no_env).unwrap_err();
    assert!(err.to_string().contains("OFFER_KEY_ID"), "{err}");
    let pem = private.pem_text().to_string();
    let env = move |name: &str| match name {
        "OFFER_KEY_ID" => Some("KEY1".to_string()),
        "OFFER_ISSUER" => Some("issuer".to_string()),
        "OFFER_KEY" => Some(pem.clone()),
        _ => None,
    };
    let served = load_at_start(&f.sources, &env).unwrap();
    assert!(!format!("{served:?}").contains("BEGIN"));
    let answer = served.answer(&request(&f.signer, PRODUCT, 1), SystemTime::now());
    let value = body(&answer);
    assert_eq!(
        value["promotionalOffer"]["messageIdentifier"],
        id(9).to_string()
    );
    let jws = value["promotionalOffer"]["promotionalOfferSignatureV2"]
        .as_str()
        .unwrap();
    let key = jsonwebtoken::DecodingKey::from_ec_pem(public.as_bytes()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["promotional-offer"]);
    validation.required_spec_claims = Default::default();
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<offer::OfferClaims>(jws, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims.offer_identifier, "winback50");
    assert_eq!(claims.product_id, PRODUCT);
    assert_eq!(claims.transaction_id.as_deref(), Some("2000000123456789"));
}

#[test]
fn an_offer_rule_without_offer_signing_cannot_be_served() {
    let f = fixture(vec![app(
        vec![rule(
            "*",
            RuleAnswer::PromotionalOffer {
                message: "offer".into(),
                offer_id: "o".into(),
            },
        )],
        &[],
    )]);
    assert!(matches!(
        load_at_start(&f.sources, &no_env),
        Err(LoadError::NoOfferKey { .. })
    ));
}

#[test]
fn the_app_is_found_by_its_apple_id_and_another_id_is_refused() {
    let mut a = app(
        vec![rule("*", RuleAnswer::Message("stay".into()))],
        &[("stay", "en-US", 1, true)],
    );
    a.app_apple_id = Some(111);
    let f = fixture(vec![a]);
    let served = load_at_start(&f.sources, &no_env).unwrap();
    let ok = served.answer(&request(&f.signer, PRODUCT, 111), SystemTime::now());
    assert_eq!(ok.status, StatusCode::OK);
    let wrong = served.answer(&request(&f.signer, PRODUCT, 222), SystemTime::now());
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong.outcome, Outcome::Refused(Refusal::UnknownApp(222)));
    assert!(wrong.body.is_empty());
}

#[test]
fn refusals_answer_a_bare_4xx() {
    let f = fixture(vec![app(vec![], &[])]);
    let served = load_at_start(&f.sources, &no_env).unwrap();
    let other = RealtimeSigner::generate().unwrap();
    let answer = served.answer(&request(&other, PRODUCT, 1), SystemTime::now());
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.body.is_empty());
    let late = served.answer(
        &request(&f.signer, PRODUCT, 1),
        SystemTime::now() + Duration::from_secs(600),
    );
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
    assert!(matches!(
        late.outcome,
        Outcome::Refused(Refusal::Expired { .. })
    ));
}

#[test]
fn a_changed_snapshot_is_reloaded_and_a_bad_one_keeps_the_old() {
    let stay = |n| {
        app(
            vec![rule("*", RuleAnswer::Message("stay".into()))],
            &[("stay", "en-US", n, true)],
        )
    };
    let f = fixture(vec![stay(1)]);
    let state = ServeState::new(
        load_at_start(&f.sources, &no_env).unwrap(),
        f.sources.clone(),
    );
    let ask = || {
        body(&ask(&state, &request(&f.signer, PRODUCT, 1)))["message"]["messageIdentifier"].clone()
    };
    assert_eq!(ask(), id(1).to_string());
    assert_eq!(state.reload_if_changed(), Reload::Unchanged);
    write_snapshot(&f.snapshot, vec![stay(22)]);
    assert_eq!(state.reload_if_changed(), Reload::Reloaded);
    assert_eq!(ask(), id(22).to_string());
    // rewritten in place within one tick of the file clock: same length, same inode, same
    // file time (set back here, as a coarse clock would leave it)
    let written = std::fs::metadata(&f.snapshot).unwrap().modified().unwrap();
    let mut same_length = Snapshot::new(EnvironmentName::Sandbox);
    same_length.apps = vec![stay(33)];
    std::fs::write(&f.snapshot, same_length.to_json()).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&f.snapshot)
        .unwrap()
        .set_modified(written)
        .unwrap();
    assert_eq!(state.reload_if_changed(), Reload::Reloaded);
    assert_eq!(ask(), id(33).to_string());
    assert_eq!(state.reload_if_changed(), Reload::Unchanged);
    std::fs::write(&f.snapshot, "{ not json").unwrap();
    assert_eq!(state.reload_if_changed(), Reload::Kept);
    assert_eq!(ask(), id(33).to_string());
    let error = state.last_error().unwrap();
    assert!(error.contains("snapshot.json"), "{error}");
    // the good file put back: served as before, and no stale error left to report
    let mut back = Snapshot::new(EnvironmentName::Sandbox);
    back.apps = vec![stay(33)];
    std::fs::write(&f.snapshot, back.to_json()).unwrap();
    state.reload_if_changed();
    assert_eq!(ask(), id(33).to_string());
    assert_eq!(state.last_error(), None);
}

#[test]
fn several_apps_each_need_an_apple_id() {
    let stay = |apple_id: Option<i64>| {
        let mut a = app(
            vec![rule("*", RuleAnswer::Message("stay".into()))],
            &[("stay", "en-US", 1, true)],
        );
        a.app_apple_id = apple_id;
        a
    };
    let mut other = stay(None);
    other.bundle_id = "com.example.other".into();
    let f = fixture(vec![stay(Some(111)), other]);
    assert!(matches!(
        load_at_start(&f.sources, &no_env),
        Err(LoadError::AppWithoutAppleId { apps: 2, .. })
    ));
}

#[test]
fn a_new_trust_root_is_read_when_a_chain_is_refused() {
    let f = fixture(vec![app(
        vec![rule("*", RuleAnswer::Message("stay".into()))],
        &[("stay", "en-US", 1, true)],
    )]);
    let state = ServeState::new(
        load_at_start(&f.sources, &no_env).unwrap(),
        f.sources.clone(),
    );
    // the simulator restarted with a new chain and wrote its root
    let restarted = RealtimeSigner::generate().unwrap();
    std::fs::write(&f.sources.trust_roots[0], restarted.root_pem()).unwrap();
    let answer = crate::realtime::store::block_on(async {
        // a reloader that would not look again for an hour: the refused chain asks it to
        let reloader = spawn_reloader(state.clone(), Duration::from_secs(3600));
        let answer = state
            .answer(&request(&restarted, PRODUCT, 1))
            .await
            .unwrap()
            .1;
        reloader.abort();
        answer
    })
    .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
}

#[test]
fn a_failed_reload_is_retried_until_it_succeeds_without_the_file_changing() {
    let offer = |n| {
        let mut a = app(
            vec![rule(
                "*",
                RuleAnswer::PromotionalOffer {
                    message: "offer".into(),
                    offer_id: "intro".into(),
                },
            )],
            &[("offer", "en-US", n, true)],
        );
        a.offer_signing = Some(crate::manifest::Credentials {
            key_id: Some("OFFER_KEY_ID".into()),
            issuer_id: Some("OFFER_ISSUER_ID".into()),
            private_key: None,
            private_key_file: Some("OFFER_KEY_FILE".into()),
        });
        a
    };
    let stay = app(
        vec![rule("*", RuleAnswer::Message("stay".into()))],
        &[("stay", "en-US", 1, true)],
    );
    let f = fixture(vec![stay]);
    let key_file = f._dir.path().join("offer.p8");
    let env: std::sync::Arc<std::sync::Mutex<bool>> = Default::default();
    let present = env.clone();
    let key_path = key_file.display().to_string();
    let lookup = move |name: &str| match name {
        "OFFER_KEY_ID" => Some("KEY123".to_string()),
        "OFFER_ISSUER_ID" => Some("issuer".to_string()),
        "OFFER_KEY_FILE" if *present.lock().unwrap() => Some(key_path.clone()),
        _ => None,
    };
    let state = ServeState::with(
        Some(load_at_start(&f.sources, &no_env).unwrap()),
        f.sources.clone(),
        Box::new(lookup),
        std::sync::Arc::new(metrics::Metrics::default()),
        None,
    );
    write_snapshot(&f.snapshot, vec![offer(2)]);
    // written long ago, as far as its file time says: only a retry reads it again
    std::fs::File::options()
        .write(true)
        .open(&f.snapshot)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    // the offer key's variable is not set yet: the new snapshot cannot be served
    assert_eq!(state.reload_if_changed(), Reload::Kept);
    assert_eq!(state.reload_if_changed(), Reload::Kept);
    assert!(state.last_error().unwrap().contains("offer key"));
    assert!(
        ask(&state, &request(&f.signer, PRODUCT, 1))
            .body
            .starts_with(b"{\"message\"")
    );
    // the key arrives; no file of the snapshot changes
    let (key, _) = generate_key_pair();
    std::fs::write(&key_file, key.pem_text()).unwrap();
    *env.lock().unwrap() = true;
    assert_eq!(state.reload_if_changed(), Reload::Reloaded);
    assert_eq!(state.last_error(), None);
    let answered = body(&ask(&state, &request(&f.signer, PRODUCT, 1)));
    assert!(answered["promotionalOffer"].is_object(), "{answered}");
}

#[test]
fn a_removed_trust_root_stops_being_trusted_and_is_said() {
    let f = fixture(vec![app(
        vec![rule("*", RuleAnswer::Message("stay".into()))],
        &[("stay", "en-US", 1, true)],
    )]);
    let state = ServeState::new(
        load_at_start(&f.sources, &no_env).unwrap(),
        f.sources.clone(),
    );
    assert_eq!(
        ask(&state, &request(&f.signer, PRODUCT, 1)).status,
        StatusCode::OK
    );
    std::fs::remove_file(&f.sources.trust_roots[0]).unwrap();
    assert_eq!(state.reload_if_changed(), Reload::Reloaded);
    let served = state.served().unwrap();
    assert!(
        served
            .warnings
            .iter()
            .any(|w| w.contains("no longer trusting --trust-root")),
        "{:?}",
        served.warnings
    );
    assert_eq!(
        ask(&state, &request(&f.signer, PRODUCT, 1)).outcome,
        Outcome::Refused(verify::Refusal::UntrustedChain)
    );
    // put back: trusted again
    std::fs::write(&f.sources.trust_roots[0], f.signer.root_pem()).unwrap();
    assert_eq!(state.reload_if_changed(), Reload::Reloaded);
    assert_eq!(
        ask(&state, &request(&f.signer, PRODUCT, 1)).status,
        StatusCode::OK
    );
}

#[test]
fn at_start_a_trust_root_that_cannot_be_read_stops_serve() {
    let f = fixture(vec![app(
        vec![rule("*", RuleAnswer::Message("stay".into()))],
        &[("stay", "en-US", 1, true)],
    )]);
    std::fs::remove_file(&f.sources.trust_roots[0]).unwrap();
    let error = load_at_start(&f.sources, &no_env).unwrap_err().to_string();
    assert!(error.contains("root.pem"), "{error}");
    // a reload reads it leniently instead
    let inputs = served::Inputs::with_roots(&f.sources, std::fs::read(&f.snapshot).unwrap(), None);
    assert!(Served::build(&inputs, &f.sources, RootPolicy::DropUnreadable, &no_env).is_ok());
}
