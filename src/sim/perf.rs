//! The simulator's performance test, run for real as Apple runs it: signed realtime
//! requests (`{"signedPayload": JWS}`, ES256, an x5c chain leaf → intermediate → root made
//! by the simulator at start) sent to the app's sandbox realtime URL at the configured
//! concurrency, each answer timed and checked as a `RealtimeResponseBody`.
//!
//! This module holds the parts without state: the signer, one send, and the check of an
//! answer's shape. `server.rs` runs a test and `state.rs` keeps its figures.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::apple::model::PerformanceTestConfig;

/// Apple's `SendAttemptResult`: how one realtime request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SendAttemptResult {
    Success,
    TimedOut,
    TlsIssue,
    CircularRedirect,
    NoResponse,
    SocketIssue,
    UnsupportedCharset,
    InvalidResponse,
    PrematureClose,
    UnsuccessfulHttpResponseCode,
    Other,
}

impl SendAttemptResult {
    /// Apple's name, as a key of `failures`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::TimedOut => "TIMED_OUT",
            Self::TlsIssue => "TLS_ISSUE",
            Self::CircularRedirect => "CIRCULAR_REDIRECT",
            Self::NoResponse => "NO_RESPONSE",
            Self::SocketIssue => "SOCKET_ISSUE",
            Self::UnsupportedCharset => "UNSUPPORTED_CHARSET",
            Self::InvalidResponse => "INVALID_RESPONSE",
            Self::PrematureClose => "PREMATURE_CLOSE",
            Self::UnsuccessfulHttpResponseCode => "UNSUCCESSFUL_HTTP_RESPONSE_CODE",
            Self::Other => "OTHER",
        }
    }
}

/// How the simulator's performance test runs (Apple's config, answered to the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfTestSettings {
    pub max_concurrent_requests: u32,
    pub total_requests: u32,
    /// The whole test's time limit; requests not sent by then count as TIMED_OUT.
    pub total_duration: Duration,
    /// An answer later than this counts as TIMED_OUT.
    pub response_time_threshold: Duration,
    /// Percent of requests that must succeed.
    pub success_rate_threshold: u32,
}

impl Default for PerfTestSettings {
    fn default() -> Self {
        PerfTestSettings {
            max_concurrent_requests: 10,
            total_requests: 100,
            total_duration: Duration::from_secs(60),
            response_time_threshold: Duration::from_millis(700),
            success_rate_threshold: 95,
        }
    }
}

impl PerfTestSettings {
    pub fn config(&self) -> PerformanceTestConfig {
        PerformanceTestConfig {
            max_concurrent_requests: i64::from(self.max_concurrent_requests),
            total_requests: i64::from(self.total_requests),
            total_duration: self.total_duration.as_millis() as i64,
            response_time_threshold: self.response_time_threshold.as_millis() as i64,
            success_rate_threshold: i64::from(self.success_rate_threshold),
        }
    }

    pub fn check(&self) -> Result<(), String> {
        if self.max_concurrent_requests == 0 || self.total_requests == 0 {
            return Err("the performance test needs at least one request and one at a time".into());
        }
        if self.success_rate_threshold > 100 {
            return Err(
                "the performance test's success rate threshold is a percent (0-100)".into(),
            );
        }
        if self.response_time_threshold.is_zero() {
            return Err("the performance test's response time threshold must be above 0".into());
        }
        Ok(())
    }
}

/// OIDs Apple's verifiers look for: the leaf of signed App Store data and the WWDR
/// intermediate (`SignedDataVerifier` checks both).
const LEAF_OID: &[u64] = &[1, 2, 840, 113635, 100, 6, 11, 1];
const INTERMEDIATE_OID: &[u64] = &[1, 2, 840, 113635, 100, 6, 2, 1];

/// The simulator's signing identity for realtime requests, made at start, never saved.
pub struct RealtimeSigner {
    key: EncodingKey,
    /// Base64 DER of leaf, intermediate, root (the JWS header's `x5c`).
    x5c: Vec<String>,
    root_pem: String,
}

impl std::fmt::Debug for RealtimeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RealtimeSigner { .. }")
    }
}

impl RealtimeSigner {
    /// A fresh P-256 root, intermediate and leaf.
    pub fn generate() -> Result<RealtimeSigner, String> {
        use base64::Engine;
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType, IsCa,
            KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
        };
        let err = |e: rcgen::Error| format!("cannot make the simulator's certificates: {e}");
        let params = |name: &str, ca: bool, oid: Option<&[u64]>| {
            let mut p = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
            p.distinguished_name
                .push(DnType::CommonName, format!("retainctl simulator {name}"));
            // what OpenSSL's X509_STRICT (Apple's Python verifier) asks of a chain
            p.use_authority_key_identifier_extension = true;
            if ca {
                p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            } else {
                p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            }
            if let Some(oid) = oid {
                p.custom_extensions =
                    vec![CustomExtension::from_oid_content(oid, vec![0x05, 0x00])];
            }
            Ok::<_, String>(p)
        };
        let key = || KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(err);
        let root =
            CertifiedIssuer::self_signed(params("root", true, None)?, key()?).map_err(err)?;
        let intermediate = CertifiedIssuer::signed_by(
            params("intermediate", true, Some(INTERMEDIATE_OID))?,
            key()?,
            &root,
        )
        .map_err(err)?;
        let leaf_key = key()?;
        let leaf = params("realtime signer", false, Some(LEAF_OID))?
            .signed_by(&leaf_key, &intermediate)
            .map_err(err)?;
        let b64 = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
        let key = EncodingKey::from_ec_pem(leaf_key.serialize_pem().as_bytes())
            .map_err(|e| format!("cannot load the simulator's signing key: {e}"))?;
        Ok(RealtimeSigner {
            key,
            x5c: vec![b64(leaf.der()), b64(intermediate.der()), b64(root.der())],
            root_pem: root.pem(),
        })
    }

    /// The root certificate (PEM) a realtime server trusts to verify the simulator.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// A compact JWS of `payload`, ES256, with the chain in `x5c`.
    pub fn sign(&self, payload: &Value) -> Result<String, String> {
        let mut header = Header::new(Algorithm::ES256);
        header.x5c = Some(self.x5c.clone());
        jsonwebtoken::encode(&header, payload, &self.key)
            .map_err(|e| format!("cannot sign a realtime request: {e}"))
    }
}

/// What one realtime request got back, before the message ids are checked.
#[derive(Debug)]
pub struct Sent {
    pub elapsed: Duration,
    /// The answer's body, or how the attempt failed.
    pub answer: Result<Vec<u8>, SendAttemptResult>,
}

/// Largest realtime answer read; more is an INVALID_RESPONSE.
const MAX_ANSWER: usize = 64 * 1024;

/// POSTs `{"signedPayload": jws}` to `target` and waits at most `timeout`.
pub async fn send(client: &reqwest::Client, target: &str, jws: &str, timeout: Duration) -> Sent {
    let start = Instant::now();
    let body = serde_json::json!({ "signedPayload": jws });
    let attempt = async {
        let mut response = client
            .post(target)
            .json(&body)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        if !response.status().is_success() {
            return Err(SendAttemptResult::UnsuccessfulHttpResponseCode);
        }
        let mut bytes = vec![];
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            if e.is_timeout() {
                SendAttemptResult::TimedOut
            } else {
                SendAttemptResult::PrematureClose
            }
        })? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_ANSWER {
                return Err(SendAttemptResult::InvalidResponse);
            }
        }
        Ok(bytes)
    };
    let answer = match tokio::time::timeout(timeout, attempt).await {
        Ok(answer) => answer,
        Err(_) => Err(SendAttemptResult::TimedOut),
    };
    Sent {
        elapsed: start.elapsed(),
        answer,
    }
}

fn classify(e: &reqwest::Error) -> SendAttemptResult {
    if e.is_timeout() {
        return SendAttemptResult::TimedOut;
    }
    if e.is_redirect() {
        return SendAttemptResult::CircularRedirect;
    }
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        text.push_str(&s.to_string().to_ascii_lowercase());
        source = s.source();
    }
    if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        SendAttemptResult::TlsIssue
    } else if e.is_connect() {
        SendAttemptResult::NoResponse
    } else if text.contains("closed") || text.contains("incomplete") {
        SendAttemptResult::PrematureClose
    } else {
        SendAttemptResult::SocketIssue
    }
}

/// The message ids a valid `RealtimeResponseBody` refers to (one), or why it is not one:
/// exactly one of `message`, `alternateProduct`, `promotionalOffer`, each with its
/// required fields. (`advancedCommerceInfo` is Advanced Commerce's and refers to none.)
pub fn answer_message_id(body: &[u8]) -> Result<Option<String>, SendAttemptResult> {
    let bad = SendAttemptResult::InvalidResponse;
    let value: Value = serde_json::from_slice(body).map_err(|_| bad)?;
    let obj = value.as_object().ok_or(bad)?;
    let kinds = [
        "message",
        "alternateProduct",
        "promotionalOffer",
        "advancedCommerceInfo",
    ];
    let present: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    let [kind] = present.as_slice() else {
        return Err(bad);
    };
    let part = obj[*kind].as_object().ok_or(bad)?;
    if *kind == "advancedCommerceInfo" {
        return Ok(None);
    }
    let id = part
        .get("messageIdentifier")
        .and_then(Value::as_str)
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .ok_or(bad)?;
    match *kind {
        "alternateProduct" => {
            part.get("productId")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .ok_or(bad)?;
            match part.get("billingPlanType") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) if s == "BILLED_UPFRONT" || s == "MONTHLY" => {}
                Some(_) => return Err(bad),
            }
        }
        "promotionalOffer" => {
            let v2 = part
                .get("promotionalOfferSignatureV2")
                .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()));
            let v1 = part
                .get("promotionalOfferSignatureV1")
                .is_some_and(Value::is_object);
            if v1 == v2 {
                return Err(bad);
            }
        }
        _ => {}
    }
    Ok(Some(id.to_string()))
}

/// A number that stands for the app's Apple id in realtime requests (the simulator does not
/// know the real one): stable per bundle id.
pub fn app_apple_id(bundle_id: &str) -> i64 {
    let digest = crate::desired::ids::sha256_hex(bundle_id.as_bytes());
    let n = u64::from_str_radix(&digest[..12], 16).unwrap_or(0);
    1_000_000_000 + (n % 8_999_999_999) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "22222222-2222-4222-8222-222222222222";

    #[test]
    fn answers_are_checked_as_realtime_response_bodies() {
        let ok = |s: &str| answer_message_id(s.as_bytes());
        assert_eq!(
            ok(&format!(r#"{{"message":{{"messageIdentifier":"{ID}"}}}}"#)),
            Ok(Some(ID.into()))
        );
        assert_eq!(
            ok(&format!(
                r#"{{"alternateProduct":{{"messageIdentifier":"{ID}","productId":"p","billingPlanType":"MONTHLY"}}}}"#
            )),
            Ok(Some(ID.into()))
        );
        assert_eq!(
            ok(&format!(
                r#"{{"promotionalOffer":{{"messageIdentifier":"{ID}","promotionalOfferSignatureV2":"jws"}}}}"#
            )),
            Ok(Some(ID.into()))
        );
        let bad = Err(SendAttemptResult::InvalidResponse);
        for body in [
            "not json".to_string(),
            "{}".into(),
            format!(
                r#"{{"message":{{"messageIdentifier":"{ID}"}},"alternateProduct":{{"messageIdentifier":"{ID}","productId":"p"}}}}"#
            ),
            r#"{"message":{"messageIdentifier":"nope"}}"#.into(),
            format!(r#"{{"alternateProduct":{{"messageIdentifier":"{ID}"}}}}"#),
            format!(r#"{{"promotionalOffer":{{"messageIdentifier":"{ID}"}}}}"#),
        ] {
            assert_eq!(ok(&body), bad, "{body}");
        }
    }

    #[test]
    fn the_signer_puts_a_three_certificate_chain_in_x5c() {
        let signer = RealtimeSigner::generate().unwrap();
        let jws = signer.sign(&serde_json::json!({"a": 1})).unwrap();
        let header = jsonwebtoken::decode_header(&jws).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.x5c.unwrap().len(), 3);
        assert!(signer.root_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
