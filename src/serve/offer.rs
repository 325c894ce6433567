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

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::apple::credentials::{self, CredentialError};
use crate::manifest;

pub const AUDIENCE: &str = "promotional-offer";

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

/// Signs promotional offers for one app.
pub struct OfferSigner {
    key_id: String,
    issuer_id: String,
    bundle_id: String,
    key: EncodingKey,
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
        let key = EncodingKey::from_ec_pem(c.private_key.pem_text().as_bytes()).map_err(|_| {
            CredentialError::BadKey {
                from: credentials::KeySource::Text {
                    var: "the offer key".into(),
                },
            }
        })?;
        Ok(OfferSigner {
            key_id: c.key_id,
            issuer_id: c.issuer_id,
            bundle_id: bundle_id.to_string(),
            key,
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
        let claims = OfferClaims {
            iss: self.issuer_id.clone(),
            iat: now
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            aud: AUDIENCE.into(),
            bid: self.bundle_id.clone(),
            nonce: uuid::Uuid::new_v4().to_string(),
            product_id: product_id.into(),
            offer_identifier: offer_identifier.into(),
            transaction_id: transaction_id.map(String::from),
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, &claims, &self.key)
            .expect("ES256 signing with a validated P-256 key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apple::credentials::generate_key_pair;

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
