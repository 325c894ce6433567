//! App Store Server Notifications V2 → [`Outcome`]: the `signedPayload` and the
//! `signedTransactionInfo`/`signedRenewalInfo` inside it are each verified as Apple's
//! `SignedDataVerifier` verifies them (chain to a trusted root, ES256), then checked to be
//! of the expected app and environment, and only what the report needs is kept: the
//! keyed hash of the customer, the event, the time, the product and the offer.

use serde::Deserialize;

use super::{Event, Outcome};
use crate::serve::decisions::CustomerKey;
use crate::serve::verify::{Refusal, RequestVerifier, SignedAt};

/// `ResponseBodyV2DecodedPayload`, the parts read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPayload {
    pub notification_type: String,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(rename = "notificationUUID")]
    pub notification_uuid: String,
    pub signed_date: i64,
    #[serde(default)]
    pub data: Option<NotificationData>,
}

impl SignedAt for NotificationPayload {
    fn signed_at_ms(&self) -> i64 {
        self.signed_date
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationData {
    #[serde(default)]
    pub app_apple_id: Option<i64>,
    pub bundle_id: String,
    pub environment: String,
    #[serde(default)]
    pub signed_transaction_info: Option<String>,
    #[serde(default)]
    pub signed_renewal_info: Option<String>,
}

/// `JWSTransactionDecodedPayload`, the parts read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransactionInfo {
    original_transaction_id: String,
    product_id: String,
    #[serde(default)]
    offer_identifier: Option<String>,
    signed_date: i64,
}

impl SignedAt for TransactionInfo {
    fn signed_at_ms(&self) -> i64 {
        self.signed_date
    }
}

/// `JWSRenewalInfoDecodedPayload`, the parts read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RenewalInfo {
    original_transaction_id: String,
    #[serde(default)]
    auto_renew_product_id: Option<String>,
    signed_date: i64,
}

impl SignedAt for RenewalInfo {
    fn signed_at_ms(&self) -> i64 {
        self.signed_date
    }
}

/// Why a notification was not kept.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("its signature does not verify: {0}")]
    Unverified(Refusal),
    #[error("its {part} does not verify: {refusal}")]
    PartUnverified {
        part: &'static str,
        refusal: Refusal,
    },
    #[error("it is for app {got}, not {expected}")]
    OtherApp { expected: String, got: String },
    #[error("it is from {got}, not {expected}")]
    OtherEnvironment { expected: String, got: String },
    #[error("it carries no transaction: nothing names the customer")]
    NoCustomer,
    #[error("its transaction and renewal name different customers")]
    Mismatch,
}

/// What a notification is expected to be for.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub bundle_id: &'a str,
    /// Apple's spelling: `Sandbox` or `Production`.
    pub environment: &'a str,
    /// The app's Apple ID, when the manifest gives it.
    pub app_apple_id: Option<i64>,
}

/// A signed part of a notification (`part` names it in the error), verified, if present.
fn verified_part<T: serde::de::DeserializeOwned + SignedAt>(
    verifier: &RequestVerifier,
    jws: Option<&str>,
    part: &'static str,
) -> Result<Option<T>, NotificationError> {
    jws.map(|jws| verifier.verify_signed(jws))
        .transpose()
        .map_err(|refusal| NotificationError::PartUnverified { part, refusal })
}

/// The outcome of one `signedPayload`: `Ok(None)` for a verified notification the report
/// does not count (a test notification, a type it does not use).
pub fn outcome_of(
    verifier: &RequestVerifier,
    signed_payload: &str,
    expected: &Expected,
    key: &CustomerKey,
) -> Result<Option<Outcome>, NotificationError> {
    let payload: NotificationPayload = verifier
        .verify_signed(signed_payload)
        .map_err(NotificationError::Unverified)?;
    let Some(data) = payload.data else {
        return Ok(None);
    };
    if data.bundle_id != expected.bundle_id
        || expected.app_apple_id.is_some()
            && data.app_apple_id.is_some()
            && data.app_apple_id != expected.app_apple_id
    {
        return Err(NotificationError::OtherApp {
            expected: expected.bundle_id.to_string(),
            got: data.bundle_id,
        });
    }
    if data.environment != expected.environment {
        return Err(NotificationError::OtherEnvironment {
            expected: expected.environment.to_string(),
            got: data.environment,
        });
    }
    let transaction: Option<TransactionInfo> = verified_part(
        verifier,
        data.signed_transaction_info.as_deref(),
        "signedTransactionInfo",
    )?;
    let renewal: Option<RenewalInfo> = verified_part(
        verifier,
        data.signed_renewal_info.as_deref(),
        "signedRenewalInfo",
    )?;
    let Some(event) =
        Event::of_notification(&payload.notification_type, payload.subtype.as_deref())
    else {
        return Ok(None);
    };
    let customer = match (&transaction, &renewal) {
        (Some(t), Some(r)) if t.original_transaction_id != r.original_transaction_id => {
            return Err(NotificationError::Mismatch);
        }
        (Some(t), _) => &t.original_transaction_id,
        (None, Some(r)) => &r.original_transaction_id,
        (None, None) => return Err(NotificationError::NoCustomer),
    };
    let product = match event {
        // The plan switched to is the renewal's next product.
        Event::PlanChanged => renewal
            .as_ref()
            .and_then(|r| r.auto_renew_product_id.clone()),
        _ => None,
    }
    .or_else(|| transaction.as_ref().map(|t| t.product_id.clone()));
    Ok(Some(Outcome {
        at_ms: payload.signed_date,
        app: data.bundle_id,
        environment: data.environment,
        customer: key.customer(customer),
        event,
        product,
        offer: transaction.and_then(|t| t.offer_identifier),
        notification: payload.notification_uuid,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::verify::parse_trust_pem;
    use crate::sim::notifications::{NotifiedEvent, sign};
    use crate::sim::perf::RealtimeSigner;

    fn event(kind: &str, subtype: Option<&str>) -> NotifiedEvent {
        NotifiedEvent {
            notification_type: kind.into(),
            subtype: subtype.map(Into::into),
            original_transaction_id: "2000000000000042".into(),
            product_id: "premium".into(),
            offer_identifier: None,
            auto_renew_product_id: None,
            signed_date: None,
            notification_uuid: None,
        }
    }

    fn key() -> CustomerKey {
        CustomerKey::from_env(|_| Some("a key for the unit tests".into())).unwrap()
    }

    #[test]
    fn only_a_verified_notification_of_this_app_and_environment_is_kept() {
        let signer = RealtimeSigner::generate().unwrap();
        let roots = parse_trust_pem(signer.root_pem().as_bytes()).unwrap();
        let verifier = RequestVerifier::new(roots, crate::serve::verify::AppleEnvironment::Sandbox);
        let now = crate::outcomes::records::now_ms();
        let signed = |bundle: &str, env: &str, e: &NotifiedEvent| {
            sign(&signer, bundle, 7, env, e, now)
                .unwrap()
                .signed_payload
        };
        let expected = Expected {
            bundle_id: "com.example.app",
            environment: "Sandbox",
            app_apple_id: Some(7),
        };
        let off = event("DID_CHANGE_RENEWAL_STATUS", Some("AUTO_RENEW_DISABLED"));

        let kept = outcome_of(
            &verifier,
            &signed("com.example.app", "Sandbox", &off),
            &expected,
            &key(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(kept.event, Event::AutoRenewOff);
        assert_eq!(kept.customer, key().customer("2000000000000042"));
        assert!(!kept.customer.contains("2000000000000042"));

        let other_app = outcome_of(
            &verifier,
            &signed("com.example.other", "Sandbox", &off),
            &expected,
            &key(),
        );
        assert!(
            matches!(other_app, Err(NotificationError::OtherApp { .. })),
            "{other_app:?}"
        );
        let other_env = outcome_of(
            &verifier,
            &signed("com.example.app", "Production", &off),
            &expected,
            &key(),
        );
        assert!(
            matches!(other_env, Err(NotificationError::OtherEnvironment { .. })),
            "{other_env:?}"
        );
        // Signed by a chain nobody trusts.
        let stranger = RealtimeSigner::generate().unwrap();
        let forged = sign(&stranger, "com.example.app", 7, "Sandbox", &off, now)
            .unwrap()
            .signed_payload;
        assert!(matches!(
            outcome_of(&verifier, &forged, &expected, &key()),
            Err(NotificationError::Unverified(_))
        ));
        // A notification type the report does not count is verified, then left out.
        let test = outcome_of(
            &verifier,
            &signed("com.example.app", "Sandbox", &event("TEST", None)),
            &expected,
            &key(),
        );
        assert!(matches!(test, Ok(None)), "{test:?}");
    }
}
