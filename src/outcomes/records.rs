//! The two kinds of record the report joins, as JSON lines: a [`Decision`] that `serve`
//! wrote for every answer (its format is `serve`'s, which writes it), and an [`Outcome`]
//! kept from one of Apple's notifications. A
//! line that does not parse (a log cut by a crash mid-line, a foreign file) is skipped and
//! counted by [`read_records`], never taken for an empty record.

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
enum Line<'a> {
    Text(&'a str),
    /// Longer than [`MAX_LINE`]: not a record.
    TooLong,
}

/// Calls `each(line_number, line, is_last)` for every line of `reader` (from 1), holding
/// at most [`MAX_LINE`] bytes of one; a last line without its newline is `is_last`.
fn for_each_line(
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

/// Reads the records of `reader`: `take` is given every line that is not blank and says
/// whether it is a record (or why not); every other line goes to `skipped` with its number
/// (from 1) and why. A last line without its newline that is not a record was cut short.
pub fn read_records(
    reader: impl std::io::BufRead,
    mut take: impl FnMut(&str) -> Result<(), &'static str>,
    mut skipped: impl FnMut(usize, &'static str),
) -> std::io::Result<()> {
    for_each_line(reader, |number, line, last| {
        let why = match line {
            Line::TooLong => Some("longer than any record"),
            Line::Text(text) if text.trim().is_empty() => None,
            Line::Text(text) => match take(text) {
                Ok(()) => None,
                Err(_) if last && !text.ends_with('}') => {
                    Some("the last line is cut short (a write stopped mid-line)")
                }
                Err(why) => Some(why),
            },
        };
        if let Some(why) = why {
            skipped(number, why);
        }
    })
}
