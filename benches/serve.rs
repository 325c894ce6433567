//! The in-process answer to one realtime request: verify Apple's signed payload (chain from
//! the cache, one P-256 signature), choose the rule, encode the JSON; for a promotional
//! offer, also sign `promotionalOfferSignatureV2` with the app's offer key.
//! Run: `cargo bench --bench serve`.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use retainctl::manifest::EnvironmentName;
use retainctl::realtime::{AppRealtime, ApprovedVersion, Rule, RuleAnswer, Snapshot};
use retainctl::serve::Sources;
use retainctl::sim::perf::RealtimeSigner;
use serde_json::json;

/// The answer a bench's snapshot gives any product.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Offer,
}

fn answer(c: &mut Criterion) {
    for (kind, name) in [
        (
            Kind::Text,
            "answer one realtime request: text (verify + choose + encode)",
        ),
        (
            Kind::Offer,
            "answer one realtime request: promotional offer (verify + choose + sign + encode)",
        ),
    ] {
        answer_kind(c, kind, name);
    }
}

fn answer_kind(c: &mut Criterion, kind: Kind, name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = RealtimeSigner::generate().expect("a chain");
    let root = dir.path().join("root.pem");
    std::fs::write(&root, signer.root_pem()).unwrap();
    // ten rules, the last one answers: the choice walks them all
    let mut rules: Vec<Rule> = (0..9)
        .map(|i| Rule {
            product: format!("other.{i}"),
            locales: None,
            buckets: None,
            answer: RuleAnswer::Message("stay".into()),
        })
        .collect();
    rules.push(Rule {
        product: "*".into(),
        locales: None,
        buckets: None,
        answer: match kind {
            Kind::Text => RuleAnswer::Message("stay".into()),
            Kind::Offer => RuleAnswer::PromotionalOffer {
                message: "stay".into(),
                offer_id: "winback".into(),
            },
        },
    });
    let approved: BTreeMap<String, BTreeMap<String, ApprovedVersion>> = [(
        "stay".to_string(),
        [(
            "en-US".to_string(),
            ApprovedVersion {
                message_id: uuid::Uuid::new_v4(),
                current: true,
            },
        )]
        .into(),
    )]
    .into();
    let mut snapshot = Snapshot::new(EnvironmentName::Sandbox);
    snapshot.apps.push(AppRealtime {
        bundle_id: "com.bench.app".into(),
        app_apple_id: Some(1234567890),
        offer_signing: matches!(kind, Kind::Offer).then(|| retainctl::manifest::Credentials {
            key_id: Some("BENCH_OFFER_KEY_ID".into()),
            issuer_id: Some("BENCH_OFFER_ISSUER".into()),
            private_key: Some("BENCH_OFFER_KEY".into()),
            private_key_file: None,
        }),
        locales: vec!["en-US".into()],
        rules,
        approved,
    });
    let path = dir.path().join("snapshot.json");
    std::fs::write(&path, snapshot.to_json()).unwrap();
    let (offer_key, _) = retainctl::apple::credentials::generate_key_pair();
    let env = |name: &str| match name {
        "BENCH_OFFER_KEY_ID" => Some("BENCHKEY01".to_string()),
        "BENCH_OFFER_ISSUER" => Some("bench-issuer".to_string()),
        "BENCH_OFFER_KEY" => Some(offer_key.pem_text().to_string()),
        _ => None,
    };
    let served = retainctl::serve::load_at_start(
        &Sources {
            snapshot: retainctl::realtime::store::SnapshotLocation::File(path),
            trust_roots: vec![root],
            env_local: false,
        },
        &env,
    )
    .expect("a snapshot");
    let now = SystemTime::now();
    let jws = signer
        .sign(&json!({
            "originalTransactionId": "2000000123456789",
            "appAppleId": 1234567890,
            "productId": "com.bench.monthly",
            "userLocale": "en-US",
            "requestIdentifier": "3db5c98d-8acf-4e29-831e-8e1f82f9f6e9",
            "signedDate": now.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64,
            "environment": "Sandbox",
        }))
        .unwrap();
    let body = serde_json::to_vec(&json!({ "signedPayload": jws })).unwrap();
    assert_eq!(served.answer(&body, now).status.as_u16(), 200);
    c.bench_function(name, |b| b.iter(|| served.answer(&body, now)));
}

criterion_group!(benches, answer);
criterion_main!(benches);
