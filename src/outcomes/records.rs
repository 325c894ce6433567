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

/// The longest line a decisions or outcomes file may have (a record is a few hundred
/// bytes); a longer one is skipped, read past without being held.
pub const MAX_LINE: usize = 64 * 1024;

/// A line of a records file, as [`for_each_line`] gives it.
pub enum Line<'a> {
    Text(&'a str),
    /// Longer than [`MAX_LINE`]: not a record.
    TooLong,
}

/// Calls `each(line_number, line, is_last)` for every line of `reader` (from 1), holding
/// at most [`MAX_LINE`] bytes of one; a last line without its newline is `is_last`.
pub fn for_each_line(
    mut reader: impl std::io::BufRead,
    mut each: impl FnMut(usize, Line, bool),
) -> std::io::Result<()> {
    use std::io::{BufRead, Read};
    let mut buf = Vec::with_capacity(1024);
    let mut number = 0;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        let ended = buf.last() == Some(&b'\n');
        if !ended && buf.len() > MAX_LINE {
            // Read past the rest of the line, a bounded piece at a time.
            let mut scratch = Vec::new();
            loop {
                scratch.clear();
                let m = (&mut reader)
                    .take(MAX_LINE as u64)
                    .read_until(b'\n', &mut scratch)?;
                if m == 0 || scratch.last() == Some(&b'\n') {
                    break;
                }
            }
            each(number, Line::TooLong, false);
            continue;
        }
        if ended {
            buf.pop();
        }
        let text = String::from_utf8_lossy(&buf);
        each(number, Line::Text(&text), !ended);
    }
}
