//! Signed realtime requests for `benches/serve_peer.sh` (retainctl serve against a Node
//! peer built on Apple's `@apple/app-store-server-library`), made by retainctl's own
//! simulator signer `RealtimeSigner` (a fresh P-256 root → intermediate (a CA, Apple's OID
//! 1.2.840.113635.100.6.2.1) → leaf (OID 1.2.840.113635.100.6.11.1)).
//!
//! Writes into the folder given the files both servers of the comparison need:
//!
//! - `root.pem`: the root to trust (`retainctl serve --trust-root`, `server.js --root`);
//! - `snapshot.json`: a one-app snapshot (appAppleId 1234567890): any product → message `stay`;
//! - `snapshot-offer.json`: the same app, any product → promotional offer `winback` with
//!   message `stay`, signed with `offer_key.pem` (key id and issuer in `offer.env`, the
//!   variables `retainctl serve` reads: `OFFER_KEY_ID`, `OFFER_ISSUER_ID`, `OFFER_KEY_FILE`);
//! - `message_id.txt`: the message id `stay` answers with;
//! - `bodies.txt`: N request bodies `{"signedPayload": JWS}`, one a line (distinct
//!   customers), and `body.json`, the first of them;
//! - `tampered.json` (the payload changed after signing), `untrusted.json` (another chain),
//!   `stale.json` (signed 6 minutes ago), `future.json` (dated 2 minutes ahead),
//!   `other_app.json` (appAppleId 999): each must be refused;
//! - `signed_at_ms`: when the bodies were signed. Both servers refuse a request signed
//!   more than 5 minutes ago, so the script makes a new folder for each run.
//!
//! Run: `SERVE_PEER_OUT=DIR cargo bench --bench serve_peer` (`SERVE_PEER_BODIES`, default
//! 1000), or the built bench binary with `--out DIR [--bodies N]`. Without a folder it does
//! nothing (a plain `cargo bench` passes by).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use retainctl::realtime::Snapshot;
use retainctl::sim::perf::RealtimeSigner;
use serde_json::{Value, json};

const APP_APPLE_ID: i64 = 1234567890;
const BUNDLE_ID: &str = "com.bench.app";

fn payload(i: usize, signed_date_ms: i64, app_apple_id: i64) -> Value {
    json!({
        "originalTransactionId": format!("20000000{i:08}"),
        "appAppleId": app_apple_id,
        "productId": "com.bench.monthly",
        "userLocale": "en-US",
        "requestIdentifier": uuid::Uuid::new_v4().to_string(),
        "signedDate": signed_date_ms,
        "environment": "Sandbox",
    })
}

fn body(signer: &RealtimeSigner, payload: &Value) -> String {
    let jws = signer.sign(payload).expect("a signed request");
    json!({ "signedPayload": jws }).to_string()
}

/// `body`'s JWS with its payload's productId changed after signing: the signature no
/// longer verifies.
fn tampered(body: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let value: Value = serde_json::from_str(body).expect("a body");
    let jws = value["signedPayload"].as_str().expect("a signedPayload");
    let parts: Vec<&str> = jws.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&b64.decode(parts[1]).expect("base64url")).expect("claims");
    claims["productId"] = json!("com.bench.yearly");
    let changed = b64.encode(claims.to_string());
    json!({ "signedPayload": format!("{}.{changed}.{}", parts[0], parts[2]) }).to_string()
}

fn main() {
    let mut out = std::env::var_os("SERVE_PEER_OUT").map(PathBuf::from);
    let mut count: usize = std::env::var("SERVE_PEER_BODIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--bodies" => {
                count = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--bodies N")
            }
            // `cargo bench` passes `--bench`; a filter that is not ours skips the run
            filter if !filter.starts_with('-') && !"serve_peer".contains(filter) => return,
            _ => {}
        }
    }
    let Some(out) = out else {
        println!(
            "serve_peer: nothing written (SERVE_PEER_OUT=DIR or --out DIR); benches/serve_peer.sh runs it"
        );
        return;
    };
    let count = count.max(1);
    std::fs::create_dir_all(&out).expect("the output folder");
    let write = |name: &str, text: &str| {
        std::fs::write(out.join(name), text).unwrap_or_else(|e| panic!("{name}: {e}"))
    };

    let signer = RealtimeSigner::generate().expect("a chain");
    let other = RealtimeSigner::generate().expect("another chain");
    let message_id = uuid::Uuid::new_v4();
    // written as JSON and read back: the snapshot is checked as `serve` checks it
    let snapshot_answering = |answer: Value, offer_signing: Option<Value>| {
        let mut app = json!({
            "bundleId": BUNDLE_ID,
            "appAppleId": APP_APPLE_ID,
            "locales": ["en-US"],
            "rules": [{ "product": "*", "answer": answer }],
            "approved": { "stay": { "en-US": { "messageId": message_id, "current": true } } },
        });
        if let Some(names) = offer_signing {
            app["offerSigning"] = names;
        }
        let snapshot = json!({
            "kind": "realtime-snapshot",
            "formatVersion": 1,
            "environment": "sandbox",
            "apps": [app],
        });
        Snapshot::from_json(&snapshot.to_string()).expect("a servable snapshot")
    };
    let snapshot = snapshot_answering(json!({ "message": "stay" }), None);
    let offer_snapshot = snapshot_answering(
        json!({ "promotionalOffer": { "message": "stay", "offerId": "winback" } }),
        Some(json!({
            "keyId": "OFFER_KEY_ID",
            "issuerId": "OFFER_ISSUER_ID",
            "privateKeyFile": "OFFER_KEY_FILE",
        })),
    );
    let (offer_key, _) = retainctl::apple::credentials::generate_key_pair();

    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as i64;
    let bodies: Vec<String> = (0..count)
        .map(|i| body(&signer, &payload(i, now_ms, APP_APPLE_ID)))
        .collect();

    write("root.pem", signer.root_pem());
    write("snapshot.json", &snapshot.to_json());
    write("snapshot-offer.json", &offer_snapshot.to_json());
    // a key made for this run, in the run's own folder
    write("offer_key.pem", offer_key.pem_text());
    write(
        "offer.env",
        &format!(
            "OFFER_KEY_ID=BENCHKEY01\nOFFER_ISSUER_ID=bench-issuer\nOFFER_KEY_FILE={}\n",
            out.join("offer_key.pem").display()
        ),
    );
    write("message_id.txt", &format!("{message_id}\n"));
    write("bodies.txt", &(bodies.join("\n") + "\n"));
    write("body.json", &bodies[0]);
    write("tampered.json", &tampered(&bodies[0]));
    write(
        "untrusted.json",
        &body(&other, &payload(0, now_ms, APP_APPLE_ID)),
    );
    write(
        "stale.json",
        &body(&signer, &payload(0, now_ms - 6 * 60 * 1000, APP_APPLE_ID)),
    );
    write(
        "future.json",
        &body(&signer, &payload(0, now_ms + 2 * 60 * 1000, APP_APPLE_ID)),
    );
    write("other_app.json", &body(&signer, &payload(0, now_ms, 999)));
    write("signed_at_ms", &format!("{now_ms}\n"));
    println!(
        "serve_peer: {count} signed requests and their root in {}",
        out.display()
    );
}
