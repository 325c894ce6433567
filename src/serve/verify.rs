//! Apple's realtime request, verified the way Apple's `SignedDataVerifier`
//! (`verify_and_decode_realtime_request`, app-store-server-library-python 3.1.1) does:
//!
//! - the body is `{"signedPayload": JWS}`; the JWS header's `alg` is `ES256` and its `x5c`
//!   holds exactly three certificates (leaf, intermediate, root);
//! - the leaf is signed by the intermediate and the intermediate by one of *our* trusted
//!   roots (the root in `x5c` is never trusted: Apple's verifier ignores it too); the
//!   intermediate is a CA; the leaf carries Apple's OID 1.2.840.113635.100.6.11.1 and the
//!   intermediate 1.2.840.113635.100.6.2.1; every certificate is valid at the payload's
//!   `signedDate` (Apple's verifier without online checks uses that date);
//! - the JWS signature verifies with the leaf's P-256 key;
//! - the payload is a `DecodedRealtimeRequestBody` whose `environment` is the one served
//!   (`Sandbox` | `Production`), whose `signedDate` is at most [`MAX_AGE`] old and at most
//!   [`MAX_SKEW`] ahead (Apple's library does not check this: a replayed request is refused
//!   here), and whose `appAppleId` matches the app's when the snapshot gives one (checked by
//!   the caller, which knows the apps).
//!
//! Verified chains are cached by their two certificates (as Apple's verifier caches them),
//! so a request costs one P-256 signature check. Refusals are a [`Refusal`]; the HTTP
//! answer never says which.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde::Deserialize;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Apple Root CA - G3 (DER), from <https://www.apple.com/certificateauthority/>,
/// SHA-256 63:34:3A:BF:B8:9A:6A:03:EB:B5:7E:9B:3F:5F:A7:BE:7C:4F:5C:75:6F:30:17:B3:A8:C4:88:C3:65:3E:91:79.
pub const APPLE_ROOT_CA_G3: &[u8] = include_bytes!("AppleRootCA-G3.cer");

/// A request signed longer ago than this is refused (a replay, or a clock far off).
pub const MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// A request signed further ahead than this is refused.
pub const MAX_SKEW: Duration = Duration::from_secs(60);
/// Largest body read: a realtime request is a few kilobytes.
pub const MAX_BODY: usize = 64 * 1024;

const LEAF_OID: &str = "1.2.840.113635.100.6.11.1";
const INTERMEDIATE_OID: &str = "1.2.840.113635.100.6.2.1";
const CACHE_SIZE: usize = 32;

/// The environment a server answers for, as Apple writes it in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppleEnvironment {
    Sandbox,
    Production,
}

impl AppleEnvironment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "Sandbox",
            Self::Production => "Production",
        }
    }
}

/// Why a request was refused (logged at debug level; the caller answers a bare 4xx).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the body is not JSON with a string `signedPayload`")]
    NotARealtimeBody,
    #[error("the body is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("`signedPayload` is not a compact JWS")]
    MalformedJws,
    #[error("the JWS header's alg is not ES256")]
    NotEs256,
    #[error("the JWS header's x5c holds {0} certificates, not 3")]
    ChainLength(usize),
    #[error("a certificate in x5c cannot be read")]
    BadCertificate,
    #[error("the chain does not lead to a trusted root")]
    UntrustedChain,
    #[error("the {0} certificate lacks Apple's OID")]
    MissingOid(&'static str),
    #[error("the intermediate certificate is not a CA")]
    NotACa,
    #[error("a certificate of the chain is not valid at the request's signedDate")]
    CertificateNotValid,
    #[error("the leaf key is not a P-256 key")]
    NotP256,
    #[error("the JWS signature does not verify")]
    BadSignature,
    #[error("the payload is not a DecodedRealtimeRequestBody")]
    BadPayload,
    #[error("the request is for environment {got:?}, this server answers {expected}")]
    WrongEnvironment { expected: &'static str, got: String },
    #[error("the request was signed {age_s} s ago (limit {} s)", MAX_AGE.as_secs())]
    Expired { age_s: i64 },
    #[error("the request is signed {ahead_s} s in the future")]
    FromTheFuture { ahead_s: i64 },
    #[error("no app of the snapshot has appAppleId {0}")]
    UnknownApp(i64),
}

impl Refusal {
    /// A stable snake_case name, the `reason` label of `/metrics`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotARealtimeBody => "not_a_realtime_body",
            Self::TooLarge => "too_large",
            Self::MalformedJws => "malformed_jws",
            Self::NotEs256 => "not_es256",
            Self::ChainLength(_) => "chain_length",
            Self::BadCertificate => "bad_certificate",
            Self::UntrustedChain => "untrusted_chain",
            Self::MissingOid(_) => "missing_oid",
            Self::NotACa => "not_a_ca",
            Self::CertificateNotValid => "certificate_not_valid",
            Self::NotP256 => "not_p256",
            Self::BadSignature => "bad_signature",
            Self::BadPayload => "bad_payload",
            Self::WrongEnvironment { .. } => "wrong_environment",
            Self::Expired { .. } => "expired",
            Self::FromTheFuture { .. } => "from_the_future",
            Self::UnknownApp(_) => "unknown_app",
        }
    }
}

/// `DecodedRealtimeRequestBody`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RealtimeRequest {
    pub original_transaction_id: String,
    pub app_apple_id: Option<i64>,
    pub product_id: String,
    pub user_locale: String,
    #[serde(default)]
    pub request_identifier: Option<String>,
    /// Milliseconds since the epoch.
    pub signed_date: i64,
    pub environment: String,
}

/// A signed payload's `signedDate` (ms since the epoch): the time its chain must be valid at.
pub trait SignedAt {
    fn signed_at_ms(&self) -> i64;
}

impl SignedAt for RealtimeRequest {
    fn signed_at_ms(&self) -> i64 {
        self.signed_date
    }
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "signedPayload")]
    signed_payload: String,
}

#[derive(Deserialize)]
struct JwsHeader {
    alg: String,
    #[serde(default)]
    x5c: Vec<String>,
}

/// A verified leaf key and when the whole chain is valid (seconds since the epoch).
#[derive(Clone)]
struct VerifiedChain {
    /// The leaf's P-256 public key, an uncompressed SEC1 point (checked on the curve).
    key: Vec<u8>,
    not_before: i64,
    not_after: i64,
}

/// The trusted roots and the environment served; verifies requests.
pub struct RequestVerifier {
    /// DER of each trusted root.
    roots: Vec<Vec<u8>>,
    environment: AppleEnvironment,
    cache: Mutex<HashMap<[u8; 32], VerifiedChain>>,
}

impl std::fmt::Debug for RequestVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestVerifier")
            .field("roots", &self.roots.len())
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

/// Why a trusted root could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustRootError {
    #[error("holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)")]
    NoCertificate,
    #[error("holds a certificate that cannot be parsed")]
    Unparsable,
}

/// The DER certificates of a PEM file's text (one or more `CERTIFICATE` blocks).
pub fn parse_trust_pem(text: &[u8]) -> Result<Vec<Vec<u8>>, TrustRootError> {
    let mut out = vec![];
    for pem in x509_parser::pem::Pem::iter_from_buffer(text) {
        let pem = pem.map_err(|_| TrustRootError::Unparsable)?;
        if pem.label != "CERTIFICATE" {
            continue;
        }
        X509Certificate::from_der(&pem.contents).map_err(|_| TrustRootError::Unparsable)?;
        out.push(pem.contents);
    }
    if out.is_empty() {
        return Err(TrustRootError::NoCertificate);
    }
    Ok(out)
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn has_oid(cert: &X509Certificate<'_>, oid: &str) -> bool {
    cert.extensions()
        .iter()
        .any(|e| e.oid.to_id_string() == oid)
}

fn validity(cert: &X509Certificate<'_>) -> (i64, i64) {
    let v = cert.validity();
    (v.not_before.timestamp(), v.not_after.timestamp())
}

impl RequestVerifier {
    /// Trusts `roots` (DER) for requests of `environment`.
    pub fn new(roots: Vec<Vec<u8>>, environment: AppleEnvironment) -> Self {
        RequestVerifier {
            roots,
            environment,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn environment(&self) -> AppleEnvironment {
        self.environment
    }

    /// Verifies a JWS Apple signed (`x5c` chain to a trusted root, ES256, the chain valid
    /// at the payload's `signedDate`) and decodes its payload. Environment and age are the
    /// caller's to check; so is the app.
    pub fn verify_signed<T: serde::de::DeserializeOwned + SignedAt>(
        &self,
        jws: &str,
    ) -> Result<T, Refusal> {
        let mut parts = jws.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refusal::MalformedJws);
        };
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: JwsHeader = b64url
            .decode(h64)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(Refusal::MalformedJws)?;
        if header.alg != "ES256" {
            return Err(Refusal::NotEs256);
        }
        if header.x5c.len() != 3 {
            return Err(Refusal::ChainLength(header.x5c.len()));
        }
        let payload_bytes = b64url.decode(p64).map_err(|_| Refusal::MalformedJws)?;
        let signature = b64url.decode(s64).map_err(|_| Refusal::MalformedJws)?;
        let payload: T = serde_json::from_slice(&payload_bytes).map_err(|_| Refusal::BadPayload)?;

        let chain = self.chain(&header.x5c)?;
        let signed_s = payload.signed_at_ms().div_euclid(1000);
        if signed_s < chain.not_before || signed_s > chain.not_after {
            return Err(Refusal::CertificateNotValid);
        }
        // aws-lc-rs's P-256 is several times faster than a pure-Rust one: this check is most
        // of a request's cost once the chain is cached
        let signing_input = &jws[..h64.len() + 1 + p64.len()];
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            &chain.key,
        )
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| Refusal::BadSignature)?;
        Ok(payload)
    }

    /// Verifies a request body at `now`. The app check is the caller's.
    pub fn verify(&self, body: &[u8], now: SystemTime) -> Result<RealtimeRequest, Refusal> {
        if body.len() > MAX_BODY {
            return Err(Refusal::TooLarge);
        }
        let body: Body = serde_json::from_slice(body).map_err(|_| Refusal::NotARealtimeBody)?;
        let request: RealtimeRequest = self.verify_signed(&body.signed_payload)?;
        if request.environment != self.environment.as_str() {
            return Err(Refusal::WrongEnvironment {
                expected: self.environment.as_str(),
                got: request.environment,
            });
        }
        let age_ms = millis(now) - request.signed_date;
        if age_ms > MAX_AGE.as_millis() as i64 {
            return Err(Refusal::Expired {
                age_s: age_ms / 1000,
            });
        }
        if -age_ms > MAX_SKEW.as_millis() as i64 {
            return Err(Refusal::FromTheFuture {
                ahead_s: -age_ms / 1000,
            });
        }
        Ok(request)
    }

    /// The leaf key of a verified `x5c` chain (cached).
    fn chain(&self, x5c: &[String]) -> Result<VerifiedChain, Refusal> {
        use sha2::Digest;
        let mut digest = sha2::Sha256::new();
        digest.update(x5c[0].as_bytes());
        digest.update(b".");
        digest.update(x5c[1].as_bytes());
        let cache_key: [u8; 32] = digest.finalize().into();
        if let Some(hit) = self.cache.lock().expect("cache lock").get(&cache_key) {
            return Ok(hit.clone());
        }
        let verified = self.verify_chain(x5c)?;
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
        cache.insert(cache_key, verified.clone());
        Ok(verified)
    }

    fn verify_chain(&self, x5c: &[String]) -> Result<VerifiedChain, Refusal> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let leaf_der = b64.decode(&x5c[0]).map_err(|_| Refusal::BadCertificate)?;
        let intermediate_der = b64.decode(&x5c[1]).map_err(|_| Refusal::BadCertificate)?;
        let (_, leaf) =
            X509Certificate::from_der(&leaf_der).map_err(|_| Refusal::BadCertificate)?;
        let (_, intermediate) =
            X509Certificate::from_der(&intermediate_der).map_err(|_| Refusal::BadCertificate)?;
        leaf.verify_signature(Some(intermediate.public_key()))
            .map_err(|_| Refusal::UntrustedChain)?;
        let root = self
            .roots
            .iter()
            .filter_map(|der| X509Certificate::from_der(der).ok().map(|(_, c)| c))
            .find(|root| {
                root.subject() == intermediate.issuer()
                    && intermediate
                        .verify_signature(Some(root.public_key()))
                        .is_ok()
            })
            .ok_or(Refusal::UntrustedChain)?;
        if !intermediate.is_ca() {
            return Err(Refusal::NotACa);
        }
        if !has_oid(&leaf, LEAF_OID) {
            return Err(Refusal::MissingOid("leaf"));
        }
        if !has_oid(&intermediate, INTERMEDIATE_OID) {
            return Err(Refusal::MissingOid("intermediate"));
        }
        let windows = [validity(&leaf), validity(&intermediate), validity(&root)];
        let not_before = windows.iter().map(|w| w.0).max().unwrap_or(i64::MAX);
        let not_after = windows.iter().map(|w| w.1).min().unwrap_or(i64::MIN);
        let point = &leaf.public_key().subject_public_key.data;
        p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| Refusal::NotP256)?;
        Ok(VerifiedChain {
            key: point.to_vec(),
            not_before,
            not_after,
        })
    }
}

/// A short stand-in for a transaction id in logs: keyed with a secret drawn when the
/// process starts, so a log line's value cannot be reversed by trying every id (they are
/// numbers in a small range); stable within one process, to follow a customer's requests.
pub fn hashed(transaction_id: &str) -> String {
    use std::sync::OnceLock;
    static LOG_KEY: OnceLock<[u8; 32]> = OnceLock::new();
    let key = LOG_KEY.get_or_init(rand::random);
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key),
        transaction_id.as_bytes(),
    );
    tag.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::perf::RealtimeSigner;
    use serde_json::json;

    fn payload(env: &str, signed: SystemTime) -> serde_json::Value {
        json!({
            "originalTransactionId": "2000000123456789",
            "appAppleId": 1234567890,
            "productId": "com.example.monthly",
            "userLocale": "en-US",
            "requestIdentifier": "3db5c98d-8acf-4e29-831e-8e1f82f9f6e9",
            "signedDate": millis(signed),
            "environment": env,
        })
    }

    fn body(jws: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({ "signedPayload": jws })).unwrap()
    }

    /// The JWS with one character of its signature changed.
    pub(crate) fn tamper(jws: &str) -> String {
        let at = jws.rfind('.').unwrap() + 5;
        let mut bytes = jws.as_bytes().to_vec();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    }

    fn verifier(signer: &RealtimeSigner) -> RequestVerifier {
        let roots = parse_trust_pem(signer.root_pem().as_bytes()).unwrap();
        RequestVerifier::new(roots, AppleEnvironment::Sandbox)
    }

    #[test]
    fn apple_root_g3_is_embedded_and_parses() {
        let (_, cert) = X509Certificate::from_der(APPLE_ROOT_CA_G3).unwrap();
        assert!(cert.subject().to_string().contains("Apple Root CA - G3"));
        assert!(cert.is_ca());
    }

    #[test]
    fn a_simulator_request_verifies_and_decodes() {
        let signer = RealtimeSigner::generate().unwrap();
        let now = SystemTime::now();
        let jws = signer.sign(&payload("Sandbox", now)).unwrap();
        let v = verifier(&signer);
        let request = v.verify(&body(&jws), now).unwrap();
        assert_eq!(request.product_id, "com.example.monthly");
        assert_eq!(request.app_apple_id, Some(1234567890));
        // the second time comes from the cache and still checks the signature
        let tampered = tamper(&jws);
        assert_eq!(v.verify(&body(&jws), now), Ok(request));
        assert_eq!(v.verify(&body(&tampered), now), Err(Refusal::BadSignature));
    }

    #[test]
    fn refusals_are_typed() {
        let signer = RealtimeSigner::generate().unwrap();
        let other = RealtimeSigner::generate().unwrap();
        let now = SystemTime::now();
        let v = verifier(&signer);
        let sign = |p: serde_json::Value| signer.sign(&p).unwrap();
        assert_eq!(
            v.verify(&body(&sign(payload("Production", now))), now),
            Err(Refusal::WrongEnvironment {
                expected: "Sandbox",
                got: "Production".into()
            })
        );
        let old = now - Duration::from_secs(6 * 60);
        assert!(matches!(
            v.verify(&body(&sign(payload("Sandbox", old))), now),
            Err(Refusal::Expired { .. })
        ));
        let ahead = now + Duration::from_secs(5 * 60);
        assert!(matches!(
            v.verify(&body(&sign(payload("Sandbox", ahead))), now),
            Err(Refusal::FromTheFuture { .. })
        ));
        assert_eq!(
            v.verify(&body(&other.sign(&payload("Sandbox", now)).unwrap()), now),
            Err(Refusal::UntrustedChain)
        );
        // Apple's root is trusted by default, and does not sign the simulator's chain
        let apple =
            RequestVerifier::new(vec![APPLE_ROOT_CA_G3.to_vec()], AppleEnvironment::Sandbox);
        assert_eq!(
            apple.verify(&body(&sign(payload("Sandbox", now))), now),
            Err(Refusal::UntrustedChain)
        );
        assert_eq!(v.verify(b"{}", now), Err(Refusal::NotARealtimeBody));
        assert_eq!(v.verify(&body("a.b"), now), Err(Refusal::MalformedJws));
        assert_eq!(
            v.verify(&vec![b' '; MAX_BODY + 1], now),
            Err(Refusal::TooLarge)
        );
        // an HS256 token, and an ES256 token without a chain
        let key = jsonwebtoken::EncodingKey::from_secret(b"k");
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &payload("Sandbox", now),
            &key,
        )
        .unwrap();
        assert_eq!(v.verify(&body(&hs), now), Err(Refusal::NotEs256));
    }

    #[test]
    fn a_chain_in_the_wrong_order_or_of_two_is_refused() {
        let signer = RealtimeSigner::generate().unwrap();
        let now = SystemTime::now();
        let jws = signer.sign(&payload("Sandbox", now)).unwrap();
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = jws.split('.').collect();
        let mut header: serde_json::Value =
            serde_json::from_slice(&b64url.decode(parts[0]).unwrap()).unwrap();
        let x5c = header["x5c"].as_array().unwrap().clone();
        let v = verifier(&signer);
        let with = |chain: Vec<serde_json::Value>, header: &mut serde_json::Value| {
            header["x5c"] = serde_json::Value::Array(chain);
            let h = b64url.encode(serde_json::to_vec(header).unwrap());
            body(&format!("{h}.{}.{}", parts[1], parts[2]))
        };
        assert_eq!(
            v.verify(&with(x5c[..2].to_vec(), &mut header), now),
            Err(Refusal::ChainLength(2))
        );
        let swapped = vec![x5c[1].clone(), x5c[0].clone(), x5c[2].clone()];
        assert_eq!(
            v.verify(&with(swapped, &mut header), now),
            Err(Refusal::UntrustedChain)
        );
    }

    /// A chain like the simulator's, with Apple's OIDs left out where asked; returns the
    /// trusted root (DER) and a JWS of `payload`.
    fn chain_without(
        leaf_oid: bool,
        intermediate_oid: bool,
        payload: &serde_json::Value,
    ) -> (Vec<u8>, String) {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, IsCa, KeyPair,
            PKCS_ECDSA_P256_SHA256,
        };
        let params = |ca: bool, oid: Option<&str>| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            if ca {
                p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            }
            if let Some(oid) = oid {
                let arcs: Vec<u64> = oid.split('.').map(|a| a.parse().unwrap()).collect();
                p.custom_extensions = vec![CustomExtension::from_oid_content(&arcs, vec![5, 0])];
            }
            p
        };
        let key = || KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let root = CertifiedIssuer::self_signed(params(true, None), key()).unwrap();
        let intermediate = CertifiedIssuer::signed_by(
            params(true, intermediate_oid.then_some(INTERMEDIATE_OID)),
            key(),
            &root,
        )
        .unwrap();
        let leaf_key = key();
        let leaf = params(false, leaf_oid.then_some(LEAF_OID))
            .signed_by(&leaf_key, &intermediate)
            .unwrap();
        let b64 = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.x5c = Some(vec![
            b64(leaf.der()),
            b64(intermediate.der()),
            b64(root.der()),
        ]);
        let key =
            jsonwebtoken::EncodingKey::from_ec_pem(leaf_key.serialize_pem().as_bytes()).unwrap();
        let jws = jsonwebtoken::encode(&header, payload, &key).unwrap();
        (root.der().to_vec(), jws)
    }

    #[test]
    fn apples_oids_are_required_on_leaf_and_intermediate() {
        let now = SystemTime::now();
        let p = payload("Sandbox", now);
        for (leaf, intermediate, expected) in [
            (true, true, None),
            (false, true, Some(Refusal::MissingOid("leaf"))),
            (true, false, Some(Refusal::MissingOid("intermediate"))),
        ] {
            let (root, jws) = chain_without(leaf, intermediate, &p);
            let v = RequestVerifier::new(vec![root], AppleEnvironment::Sandbox);
            assert_eq!(v.verify(&body(&jws), now).err(), expected);
        }
    }

    #[test]
    fn trust_files_must_hold_a_certificate() {
        assert_eq!(
            parse_trust_pem(b"hello"),
            Err(TrustRootError::NoCertificate)
        );
        let id = "2000000123456789";
        assert_eq!(hashed(id).len(), 16);
        assert_eq!(hashed(id), hashed(id), "stable within a process");
        // not a plain digest, which anyone could reverse by trying every id
        assert_ne!(
            hashed(id),
            crate::desired::ids::sha256_hex(id.as_bytes())[..16]
        );
        assert_ne!(hashed(id), id[..16]);
    }
}
