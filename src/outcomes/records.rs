//! The two kinds of record the report joins, as JSON lines: a [`Decision`] that `serve`
//! wrote for every answer (its format is `serve`'s, which writes it), and an [`Outcome`]
//! kept from one of Apple's notifications. A
//! line that does not parse (a log cut by a crash mid-line, a foreign file) is skipped and
//! counted by [`read_lines`], never taken for an empty record.

use serde::{Deserialize, Serialize};

pub use crate::serve::decisions::{AnswerKind, Decision};

/// What a customer did, as far as the report needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Event {
    /// DID_CHANGE_RENEWAL_STATUS / AUTO_RENEW_DISABLED.
    AutoRenewOff,
    /// OFFER_REDEEMED.
    OfferRedeemed,
    /// DID_CHANGE_RENEWAL_PREF (UPGRADE or DOWNGRADE).
    PlanChanged,
    /// DID_RENEW.
    Renewed,
    /// EXPIRED.
    Expired,
}

impl Event {
    pub const ALL: [Event; 5] = [
        Self::AutoRenewOff,
        Self::OfferRedeemed,
        Self::PlanChanged,
        Self::Renewed,
        Self::Expired,
    ];

    /// The event of an App Store Server Notification V2 type and subtype, if the report
    /// counts it.
    pub fn of_notification(kind: &str, subtype: Option<&str>) -> Option<Event> {
        match (kind, subtype) {
            ("DID_CHANGE_RENEWAL_STATUS", Some("AUTO_RENEW_DISABLED")) => Some(Self::AutoRenewOff),
            ("OFFER_REDEEMED", _) => Some(Self::OfferRedeemed),
            ("DID_CHANGE_RENEWAL_PREF", Some("UPGRADE" | "DOWNGRADE")) => Some(Self::PlanChanged),
            ("DID_RENEW", _) => Some(Self::Renewed),
            ("EXPIRED", _) => Some(Self::Expired),
            _ => None,
        }
    }
}

/// One notification's outcome, kept without anything the report does not need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// When Apple signed the notification, ms since the epoch.
    #[serde(rename = "t")]
    pub at_ms: i64,
    pub app: String,
    pub environment: String,
    pub customer: String,
    pub event: Event,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// Apple's notificationUUID: the same notification, live and from the history,
    /// counts once.
    pub notification: String,
}

/// A line that was skipped: its number (from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub why: String,
}

/// The records of a JSON-lines text, and the lines that are not records. Empty lines are
/// ignored; a last line without its newline that does not parse is a write cut short.
pub fn read_lines<T: serde::de::DeserializeOwned>(text: &str) -> (Vec<T>, Vec<BadLine>) {
    let mut records = Vec::new();
    let mut bad = Vec::new();
    let ends_cut = !text.is_empty() && !text.ends_with('\n');
    let count = text.lines().count();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(e) => bad.push(BadLine {
                line: i + 1,
                why: if ends_cut && i + 1 == count {
                    "the last line is cut short (a write stopped mid-line)".into()
                } else {
                    e.to_string()
                },
            }),
        }
    }
    (records, bad)
}

/// Now, in ms since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
