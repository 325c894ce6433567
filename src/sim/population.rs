//! A population of customers for the learning loop without an Apple account
//! (`POST /_sim/population`, `retainctl sim population`): each customer opens the cancel
//! sheet, so the simulator sends a realtime request signed with its chain to the given
//! server, reads what was answered (a message, an offer, a plan switch, or nothing: the
//! default), and then acts as the model says for that answer — turns auto-renew off,
//! redeems the offer, switches plan, or stays — and the simulator signs the matching
//! notification V2, keeps it for Get Notification History and, when a notification URL is
//! given, sends it there live. The draws are deterministic (a seed and the customer's
//! number), so a test knows the true chances and finds them in the report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::notifications::NotifiedEvent;

/// What a customer shown one kind of answer does next, as chances from 0 to 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Chances {
    #[serde(default)]
    pub cancel: f64,
    #[serde(default)]
    pub redeem: f64,
    #[serde(default)]
    pub switch: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Population {
    /// Where realtime requests go (the server's realtime URL).
    pub realtime_url: String,
    /// Where notifications are also sent live, if anywhere.
    #[serde(default)]
    pub notification_url: Option<String>,
    pub bundle_id: String,
    pub product: String,
    pub locale: String,
    pub customers: u32,
    /// The first customer's original transaction id; the others follow.
    #[serde(default = "first_transaction")]
    pub first_transaction: u64,
    #[serde(default)]
    pub seed: u64,
    /// By what was answered: a message id (the content itself), else its kind:
    /// `message`, `offer`, `plan`, or `default` (nothing answered).
    pub model: BTreeMap<String, Chances>,
    /// How many customers open the cancel sheet per hour (spread evenly); absent: all at
    /// once.
    #[serde(default)]
    pub per_hour: Option<f64>,
}

fn first_transaction() -> u64 {
    3_000_000_000_000_000
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PopulationSummary {
    /// Customers by what they were answered.
    pub answered: BTreeMap<String, u32>,
    /// Notifications made, by type.
    pub notified: BTreeMap<String, u32>,
    /// Requests the server did not answer with 200 or 204.
    pub failed: u32,
    /// Live notifications the notification URL did not answer with 200.
    pub live_failed: u32,
}

/// The kind of answer a realtime response body is (`message`, `offer`, `plan`) and the
/// message id it answers with.
pub fn answer_kind(body: &[u8]) -> Option<(&'static str, Option<String>)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let part = |k: &str| value.get(k).filter(|v| !v.is_null());
    let (kind, part) = if let Some(p) = part("promotionalOffer") {
        ("offer", p)
    } else if let Some(p) = part("alternateProduct") {
        ("plan", p)
    } else if let Some(p) = part("message") {
        ("message", p)
    } else {
        return None;
    };
    let id = part["messageIdentifier"].as_str().map(str::to_string);
    Some((kind, id))
}

/// A draw in 0..1 for customer `i` (SplitMix64 of the seed and the number).
pub fn draw(seed: u64, i: u64) -> f64 {
    let mut z = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// What customer `otid`, shown `kind`, does: the notification to make, if any.
pub fn act(
    p: &Population,
    kind: &str,
    message_id: Option<&str>,
    i: u64,
    otid: &str,
    now_ms: i64,
) -> Option<NotifiedEvent> {
    let chances = message_id
        .and_then(|id| p.model.get(id))
        .or_else(|| p.model.get(kind))
        .copied()
        .unwrap_or_default();
    let u = draw(p.seed, i);
    let event = |t: &str, sub: Option<&str>| NotifiedEvent {
        notification_type: t.into(),
        subtype: sub.map(Into::into),
        original_transaction_id: otid.into(),
        product_id: p.product.clone(),
        offer_identifier: None,
        auto_renew_product_id: None,
        signed_date: Some(now_ms),
        notification_uuid: None,
    };
    if u < chances.cancel {
        Some(event(
            "DID_CHANGE_RENEWAL_STATUS",
            Some("AUTO_RENEW_DISABLED"),
        ))
    } else if u < chances.cancel + chances.redeem {
        Some(NotifiedEvent {
            offer_identifier: Some("retention-offer".into()),
            ..event("OFFER_REDEEMED", Some("UPGRADE"))
        })
    } else if u < chances.cancel + chances.redeem + chances.switch {
        Some(NotifiedEvent {
            auto_renew_product_id: Some(format!("{}.switched", p.product)),
            ..event("DID_CHANGE_RENEWAL_PREF", Some("DOWNGRADE"))
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_uniform_enough_and_repeatable() {
        let n = 20_000;
        let below = (0..n).filter(|i| draw(7, *i) < 0.3).count() as f64 / n as f64;
        assert!((below - 0.3).abs() < 0.02, "{below}");
        assert_eq!(draw(7, 42), draw(7, 42));
        assert_ne!(draw(7, 42), draw(8, 42));
    }

    #[test]
    fn answers_are_told_apart() {
        let kind = |body: &[u8]| answer_kind(body).map(|(k, _)| k);
        assert_eq!(
            kind(br#"{"message":{"messageIdentifier":"x"}}"#),
            Some("message")
        );
        assert_eq!(
            kind(br#"{"promotionalOffer":{"messageIdentifier":"x"}}"#),
            Some("offer")
        );
        assert_eq!(
            kind(br#"{"alternateProduct":{"messageIdentifier":"x"}}"#),
            Some("plan")
        );
        let id = answer_kind(br#"{"message":{"messageIdentifier":"m1"}}"#).and_then(|(_, id)| id);
        assert_eq!(id.as_deref(), Some("m1"));
        assert_eq!(answer_kind(b"{}"), None);
    }
}

#[cfg(test)]
mod model_tests {
    use super::*;

    /// The chances of the message answered come before those of its kind.
    #[test]
    fn a_message_ids_chances_come_before_its_kinds() {
        let p = Population {
            realtime_url: String::new(),
            notification_url: None,
            bundle_id: "b".into(),
            product: "p".into(),
            locale: "en-US".into(),
            customers: 1,
            first_transaction: 1,
            seed: 3,
            model: [
                (
                    "message".to_string(),
                    Chances {
                        cancel: 1.0,
                        ..Chances::default()
                    },
                ),
                ("m-keep".to_string(), Chances::default()),
            ]
            .into(),
            per_hour: None,
        };
        assert!(act(&p, "message", Some("m-other"), 0, "1", 0).is_some());
        assert!(act(&p, "message", Some("m-keep"), 0, "1", 0).is_none());
        assert!(act(&p, "default", None, 0, "1", 0).is_none());
    }
}
