//! ES256 bearer tokens as Apple expects them, and their verification (for the simulator).
//! Apple's *Generating JSON Web Tokens for API requests* asks for a new token for each
//! request, so each request gets one. The key is decoded once into a P-256 signing key
//! (jsonwebtoken would decode the PEM's DER again for every signature), and each token is
//! signed with it as RFC 7515 asks of ES256: SHA-256, the 64-byte `r ‖ s` signature.
//! ES256 signing is deterministic (RFC 6979), so the tokens of one second are the same
//! bytes: the signer remembers its last token, and the simulator's verifier the tokens
//! whose signature it checked (up to 4,096), instead of doing the elliptic-curve work
//! again (it was a tenth of a `plan --env local`).

use std::collections::HashMap;
use std::sync::Mutex;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use serde::{Deserialize, Serialize};

use super::credentials::Credentials;

pub const AUDIENCE: &str = "appstoreconnect-v1";
/// Apple refuses tokens that live longer than 60 minutes.
pub const MAX_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// A token is used once, at once: Apple's libraries give theirs 5 minutes.
const LIFETIME: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    pub exp: u64,
    pub aud: String,
    pub bid: String,
}

pub struct TokenSigner {
    key_id: String,
    issuer_id: String,
    bundle_id: String,
    key: SigningKey,
    /// The token header, base64url-encoded once: it is the same for every token.
    header: String,
    /// The last token made, with the second it was issued in.
    last: Mutex<Option<(u64, String)>>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("key_id", &self.key_id)
            .field("issuer_id", &self.issuer_id)
            .field("bundle_id", &self.bundle_id)
            .finish_non_exhaustive()
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The signing keys a run has decoded, by the SHA-256 of their PEM text: the apps of one
/// account share a key, and decoding one derives its public key (an elliptic-curve
/// multiplication), so each key is decoded once per run, not once per app.
#[derive(Default)]
pub struct SigningKeys(Mutex<HashMap<[u8; 32], SigningKey>>);

impl SigningKeys {
    fn decode(&self, pem: &str) -> Result<SigningKey, String> {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(pem.as_bytes()).into();
        let mut keys = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = keys.get(&digest) {
            return Ok(key.clone());
        }
        let key = SigningKey::from_pkcs8_pem(pem)
            .or_else(|_| p256::SecretKey::from_sec1_pem(pem).map(SigningKey::from))
            .map_err(|_| "the private key cannot sign ES256 tokens".to_string())?;
        keys.insert(digest, key.clone());
        Ok(key)
    }
}

impl TokenSigner {
    pub fn new(credentials: &Credentials, bundle_id: &str) -> Result<Self, String> {
        Self::with_keys(credentials, bundle_id, &SigningKeys::default())
    }

    /// A signer whose key is decoded through `keys` (once for every app that shares it).
    pub fn with_keys(
        credentials: &Credentials,
        bundle_id: &str,
        keys: &SigningKeys,
    ) -> Result<Self, String> {
        let key = keys.decode(credentials.private_key.pem_text())?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(credentials.key_id.clone());
        header.typ = Some("JWT".to_string());
        let header = serde_json::to_vec(&header).expect("a JWT header serializes");
        Ok(TokenSigner {
            key_id: credentials.key_id.clone(),
            issuer_id: credentials.issuer_id.clone(),
            bundle_id: bundle_id.to_string(),
            key,
            header: URL_SAFE_NO_PAD.encode(header),
            last: Mutex::new(None),
        })
    }

    /// A token issued at `now`: called once per request.
    pub fn token(&self, now: SystemTime) -> String {
        let now_s = unix(now);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((second, token)) = &*last
            && *second == now_s
        {
            return token.clone();
        }
        let token = self.sign(now_s);
        *last = Some((now_s, token.clone()));
        token
    }

    fn sign(&self, now_s: u64) -> String {
        let claims = Claims {
            iss: self.issuer_id.clone(),
            iat: Some(now_s),
            exp: now_s + LIFETIME.as_secs(),
            aud: AUDIENCE.to_string(),
            bid: self.bundle_id.clone(),
        };
        let claims = serde_json::to_vec(&claims).expect("token claims serialize");
        let mut token = format!("{}.{}", self.header, URL_SAFE_NO_PAD.encode(claims));
        let signature: Signature = self.key.sign(token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        token
    }
}

/// Why a token was refused (the simulator answers 401 with no body either way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRejection {
    Malformed,
    BadSignature,
    WrongAudience,
    WrongBundle,
    Expired,
    TooLong,
}

/// Verifies a token as Apple does: ES256 signature by one of `keys`, audience,
/// expiry, a lifetime of at most 60 minutes, and (when given) the bundle id.
pub fn verify(
    token: &str,
    keys: &[DecodingKey],
    bundle_id: Option<&str>,
    now: SystemTime,
) -> Result<Claims, TokenRejection> {
    check_claims(signed_claims(token, keys)?, bundle_id, now)
}

/// The simulator's [`verify`]: its keys, and the tokens whose signature they accepted.
pub struct Verifier {
    keys: Vec<DecodingKey>,
    signed: Mutex<HashMap<String, Claims>>,
}

/// How many accepted tokens a [`Verifier`] remembers before it starts again.
const REMEMBERED_TOKENS: usize = 4096;

impl Verifier {
    pub fn new(keys: Vec<DecodingKey>) -> Self {
        Verifier {
            keys,
            signed: Mutex::new(HashMap::new()),
        }
    }

    /// [`verify`], checking each token's signature once.
    pub fn verify(
        &self,
        token: &str,
        bundle_id: Option<&str>,
        now: SystemTime,
    ) -> Result<Claims, TokenRejection> {
        let known = self
            .signed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned();
        let claims = match known {
            Some(claims) => claims,
            None => {
                let claims = signed_claims(token, &self.keys)?;
                let mut signed = self.signed.lock().unwrap_or_else(|e| e.into_inner());
                if signed.len() >= REMEMBERED_TOKENS {
                    signed.clear();
                }
                signed.insert(token.to_string(), claims.clone());
                claims
            }
        };
        check_claims(claims, bundle_id, now)
    }
}

/// The claims of a well-formed ES256 token signed by one of `keys`.
fn signed_claims(token: &str, keys: &[DecodingKey]) -> Result<Claims, TokenRejection> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Malformed)?;
    if header.alg != Algorithm::ES256 {
        return Err(TokenRejection::Malformed);
    }
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = keys
        .iter()
        .find_map(|key| jsonwebtoken::decode::<Claims>(token, key, &validation).ok())
        .ok_or(TokenRejection::BadSignature)?
        .claims;
    Ok(claims)
}

/// Audience, expiry, lifetime and bundle id of signed claims, at `now`.
fn check_claims(
    claims: Claims,
    bundle_id: Option<&str>,
    now: SystemTime,
) -> Result<Claims, TokenRejection> {
    if claims.aud != AUDIENCE {
        return Err(TokenRejection::WrongAudience);
    }
    let now_s = unix(now);
    if claims.exp <= now_s {
        return Err(TokenRejection::Expired);
    }
    let issued = claims.iat.unwrap_or(now_s);
    if claims.exp.saturating_sub(issued) > MAX_LIFETIME.as_secs()
        || claims.exp.saturating_sub(now_s) > MAX_LIFETIME.as_secs()
    {
        return Err(TokenRejection::TooLong);
    }
    if let Some(bundle) = bundle_id
        && claims.bid != bundle
    {
        return Err(TokenRejection::WrongBundle);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apple::credentials::generate_key_pair;

    fn signer() -> (TokenSigner, DecodingKey) {
        let (private, public) = generate_key_pair();
        let creds = Credentials {
            key_id: "KEYID12345".into(),
            issuer_id: "57246542-96fe-1a63-e053-0824d011072a".into(),
            private_key: private,
        };
        (
            TokenSigner::new(&creds, "com.example.app").unwrap(),
            DecodingKey::from_ec_pem(public.as_bytes()).unwrap(),
        )
    }

    #[test]
    fn token_claims_verify_with_the_public_key() {
        let (signer, key) = signer();
        let now = SystemTime::now();
        let token = signer.token(now);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some("KEYID12345"));
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let claims = verify(&token, &[key], Some("com.example.app"), now).unwrap();
        assert_eq!(claims.aud, "appstoreconnect-v1");
        assert_eq!(claims.bid, "com.example.app");
        assert_eq!(claims.iss, "57246542-96fe-1a63-e053-0824d011072a");
        let iat = claims.iat.unwrap();
        assert!(claims.exp > iat && claims.exp - iat <= 3600);
    }

    /// Apps that share a key decode it once; a second key is decoded on its own, and
    /// each app's tokens still verify with its own public key.
    #[test]
    fn a_shared_key_is_decoded_once_per_run() {
        let keys = SigningKeys::default();
        let (first, first_public) = generate_key_pair();
        let (second, second_public) = generate_key_pair();
        let creds = |private_key| Credentials {
            key_id: "KEYID12345".into(),
            issuer_id: "57246542-96fe-1a63-e053-0824d011072a".into(),
            private_key,
        };
        let now = SystemTime::now();
        for (bundle, private, public) in [
            ("com.example.a", &first, &first_public),
            ("com.example.b", &first, &first_public),
            ("com.example.c", &second, &second_public),
        ] {
            let signer = TokenSigner::with_keys(&creds(private.clone()), bundle, &keys).unwrap();
            let public = DecodingKey::from_ec_pem(public.as_bytes()).unwrap();
            verify(&signer.token(now), &[public], Some(bundle), now).unwrap();
        }
        assert_eq!(keys.0.lock().unwrap().len(), 2);
    }

    /// A new token per request: each is issued when it is asked for, never reused.
    #[test]
    fn every_token_is_signed_anew() {
        let (signer, key) = signer();
        let now = SystemTime::now();
        let first = signer.token(now);
        let later = now + Duration::from_secs(60);
        let second = signer.token(later);
        assert_ne!(second, first);
        let claims = verify(&second, &[key], None, later).unwrap();
        assert_eq!(claims.iat, Some(unix(later)));
        assert_eq!(claims.exp, unix(later) + LIFETIME.as_secs());
    }

    /// The simulator checks a token's signature once, but its claims at every request.
    #[test]
    fn a_remembered_token_is_still_checked_for_expiry_and_bundle() {
        let (signer, key) = signer();
        let (_, other_public) = generate_key_pair();
        let other = DecodingKey::from_ec_pem(other_public.as_bytes()).unwrap();
        let now = SystemTime::now();
        let token = signer.token(now);
        assert_eq!(signer.token(now), token, "one second, one token");
        let verifier = Verifier::new(vec![key]);
        assert!(
            verifier
                .verify(&token, Some("com.example.app"), now)
                .is_ok()
        );
        assert!(
            verifier
                .verify(&token, Some("com.example.app"), now)
                .is_ok()
        );
        assert_eq!(
            verifier.verify(&token, Some("com.other"), now),
            Err(TokenRejection::WrongBundle)
        );
        assert_eq!(
            verifier.verify(&token, None, now + Duration::from_secs(3600)),
            Err(TokenRejection::Expired)
        );
        let strangers = Verifier::new(vec![other]);
        assert_eq!(
            strangers.verify(&token, None, now),
            Err(TokenRejection::BadSignature)
        );
        assert_eq!(
            strangers.verify(&token, None, now),
            Err(TokenRejection::BadSignature)
        );
    }

    #[test]
    fn verification_refuses_wrong_bundle_key_and_expiry() {
        let (signer, key) = signer();
        let (_, other_public) = generate_key_pair();
        let other = DecodingKey::from_ec_pem(other_public.as_bytes()).unwrap();
        let now = SystemTime::now();
        let token = signer.token(now);
        assert_eq!(
            verify(&token, std::slice::from_ref(&key), Some("com.other"), now),
            Err(TokenRejection::WrongBundle)
        );
        assert_eq!(
            verify(&token, &[other], None, now),
            Err(TokenRejection::BadSignature)
        );
        assert_eq!(
            verify(&token, &[key], None, now + Duration::from_secs(3600)),
            Err(TokenRejection::Expired)
        );
    }
}
