//! `promotionalOfferSignatureV2`: the compact JWS a promotional-offer answer carries, made
//! as Apple's `PromotionalOfferV2SignatureCreator` (app-store-server-library-python 3.1.1,
//! `jws_signature_creator.py`) makes it: ES256 with the app's subscription offer key,
//! header `kid` (the key id) and `typ: JWT`, claims `iss` (issuer id), `iat` (seconds),
//! `aud: "promotional-offer"`, `bid` (bundle id), `nonce` (a fresh UUID), `productId`,
//! `offerIdentifier` and `transactionId` (here the request's original transaction id).
//!
//! The key is read once, from the environment variables the snapshot names (as
//! `credentials:` names them); neither it nor the variables' values are ever printed.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use p256::pkcs8::DecodePrivateKey;
use serde::{Deserialize, Serialize};

use crate::apple::credentials::{self, CredentialError};
use crate::manifest;

pub const AUDIENCE: &str = "promotional-offer";

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The claims of a promotional offer V2 signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferClaims {
    pub iss: String,
    pub iat: u64,
    pub aud: String,
    pub bid: String,
    pub nonce: String,
    pub product_id: String,
    pub offer_identifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

/// [`OfferClaims`] as one answer writes them: borrowed, nothing copied.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClaimsRef<'a> {
    iss: &'a str,
    iat: u64,
    aud: &'a str,
    bid: &'a str,
    nonce: &'a str,
    product_id: &'a str,
    offer_identifier: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_id: Option<&'a str>,
}

/// Signs promotional offers for one app. Everything that does not change per answer is
/// done once, when a snapshot is loaded: the key decoded into aws-lc-rs's form (the
/// fastest P-256 signing in the dependency tree) and the JWS header encoded.
pub struct OfferSigner {
    issuer_id: String,
    bundle_id: String,
    key: EcdsaKeyPair,
    random: SystemRandom,
    /// `base64url(header) + "."`, the start of every signature.
    header_dot: String,
}

impl std::fmt::Debug for OfferSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfferSigner")
            .field("bundle_id", &self.bundle_id)
            .finish_non_exhaustive()
    }
}

impl OfferSigner {
    /// Reads the key through `lookup` (the process environment in production) from the
    /// variables `names` names (defaults as for `credentials:`).
    pub fn from_env(
        names: Option<&manifest::Credentials>,
        bundle_id: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<OfferSigner, CredentialError> {
        let c = credentials::from_env(names, lookup)?;
        let bad_key = || CredentialError::BadKey {
            from: credentials::KeySource::Text {
                var: "the offer key".into(),
            },
        };
        // p256 reads a PKCS#8 key with or without its public half; aws-lc-rs takes both.
        let secret =
            p256::SecretKey::from_pkcs8_pem(c.private_key.pem_text()).map_err(|_| bad_key())?;
        let public = secret.public_key().to_sec1_bytes();
        let random = SystemRandom::new();
        let key = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &secret.to_bytes(),
            &public,
        )
        .map_err(|_| bad_key())?;
        let header = serde_json::json!({ "alg": "ES256", "kid": c.key_id, "typ": "JWT" });
        let mut header_dot = B64URL.encode(serde_json::to_vec(&header).expect("JSON"));
        header_dot.push('.');
        Ok(OfferSigner {
            issuer_id: c.issuer_id,
            bundle_id: bundle_id.to_string(),
            key,
            random,
            header_dot,
        })
    }

    /// A signature for `offer_identifier` of `product_id`, bound to `transaction_id`.
    pub fn sign(
        &self,
        product_id: &str,
        offer_identifier: &str,
        transaction_id: Option<&str>,
        now: SystemTime,
    ) -> String {
        let mut nonce = uuid::Uuid::encode_buffer();
        let claims = ClaimsRef {
            iss: &self.issuer_id,
            iat: now
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            aud: AUDIENCE,
            bid: &self.bundle_id,
            nonce: uuid::Uuid::new_v4().hyphenated().encode_lower(&mut nonce),
            product_id,
            offer_identifier,
            transaction_id,
        };
        let claims = serde_json::to_vec(&claims).expect("claims serialize");
        // header.claims.signature, each base64url: 4/3 of the bytes, 64 for the signature
        let mut jws =
            String::with_capacity(self.header_dot.len() + claims.len().div_ceil(3) * 4 + 88);
        jws.push_str(&self.header_dot);
        B64URL.encode_string(&claims, &mut jws);
        let signature = self
            .key
            .sign(&self.random, jws.as_bytes())
            .expect("ES256 signing with a validated P-256 key");
        jws.push('.');
        B64URL.encode_string(signature.as_ref(), &mut jws);
        jws
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apple::credentials::generate_key_pair;
    use jsonwebtoken::Algorithm;

    #[test]
    fn the_signature_verifies_with_the_public_key_and_carries_apples_claims() {
        let (private, public) = generate_key_pair();
        let env = |name: &str| match name {
            "OFFER_KEY_ID" => Some("KEY123".to_string()),
            "OFFER_ISSUER" => Some("issuer-uuid".to_string()),
            "OFFER_KEY" => Some(private.pem_text().to_string()),
            _ => None,
        };
        let names = manifest::Credentials {
            key_id: Some("OFFER_KEY_ID".into()),
            issuer_id: Some("OFFER_ISSUER".into()),
            private_key: Some("OFFER_KEY".into()),
            private_key_file: None,
        };
        let signer = OfferSigner::from_env(Some(&names), "com.example.app", &env).unwrap();
        assert!(!format!("{signer:?}").contains("BEGIN"));
        let jws = signer.sign(
            "com.example.monthly",
            "winback",
            Some("2000"),
            SystemTime::now(),
        );
        let header = jsonwebtoken::decode_header(&jws).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some("KEY123"));
        let key = jsonwebtoken::DecodingKey::from_ec_pem(public.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.set_audience(&[AUDIENCE]);
        validation.required_spec_claims = ["aud".to_string(), "iss".to_string()].into();
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<OfferClaims>(&jws, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims.iss, "issuer-uuid");
        assert_eq!(claims.bid, "com.example.app");
        assert_eq!(claims.product_id, "com.example.monthly");
        assert_eq!(claims.offer_identifier, "winback");
        assert_eq!(claims.transaction_id.as_deref(), Some("2000"));
        assert!(uuid::Uuid::parse_str(&claims.nonce).is_ok());
        // another key does not verify it
        let (_, other) = generate_key_pair();
        let other = jsonwebtoken::DecodingKey::from_ec_pem(other.as_bytes()).unwrap();
        assert!(jsonwebtoken::decode::<OfferClaims>(&jws, &other, &validation).is_err());
    }

    #[test]
    fn a_missing_variable_is_named_and_no_value_is_shown() {
        let names = manifest::Credentials {
            key_id: Some("OFFER_KEY_ID".into()),
            ..Default::default()
        };
        let err = OfferSigner::from_env(Some(&names), "com.example.app", &|_| None).unwrap_err();
        assert!(err.to_string().contains("OFFER_KEY_ID"), "{err}");
    }
}
