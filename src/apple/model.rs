//! Request and response bodies of the Retention Messaging API, exactly as on the wire.
//! The endpoints themselves are in [`super::endpoints`].
//!
//! Identifiers are case-insensitive UUIDs, and Apple does not promise a case in its
//! answers (Swift's `uuidString` is upper case). Every identifier Apple answers with is
//! lower-cased here, once, as the answer is read, so nothing above ever compares cases.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Apple's review state of a message or image. Open, as Apple's libraries type it: a state
/// this version does not know is kept as Apple sent it, shown, and treated as not approved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ReviewState {
    Pending,
    Approved,
    Rejected,
    /// A state Apple added after this version, exactly as sent (e.g. `IN_REVIEW`).
    Other(String),
}

impl ReviewState {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "PENDING",
            Self::Approved => "APPROVED",
            Self::Rejected => "REJECTED",
            Self::Other(raw) => raw,
        }
    }
}

impl From<String> for ReviewState {
    fn from(raw: String) -> Self {
        match raw.as_str() {
            "PENDING" => Self::Pending,
            "APPROVED" => Self::Approved,
            "REJECTED" => Self::Rejected,
            _ => Self::Other(raw),
        }
    }
}

impl From<ReviewState> for String {
    fn from(state: ReviewState) -> Self {
        match state {
            ReviewState::Other(raw) => raw,
            known => known.as_str().to_string(),
        }
    }
}

impl std::fmt::Display for ReviewState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageListItem {
    /// A string rather than a `Uuid`: Apple documents UUIDs (its libraries' fixtures use
    /// them), but one identifier of another form must not make the whole list unreadable.
    /// Lower-cased when the list is read (see [`ImageListResponse`]).
    pub image_identifier: String,
    pub image_state: ReviewState,
    /// The size the image was uploaded with (API 1.4; absent from older answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<crate::manifest::ImageSize>,
}

/// Get Image List's answer. The list is required: a 200 without it (`{}`, an error
/// body) says nothing about what Apple holds and must not read as "no images".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageListResponse {
    #[serde(deserialize_with = "image_items_lowercase")]
    pub image_identifiers: Vec<ImageListItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageListItem {
    /// A string, not a UUID (see [`ImageListItem`]); lower-cased when read.
    pub message_identifier: String,
    pub message_state: ReviewState,
}

/// Get Message List's answer; the list is required (see [`ImageListResponse`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageListResponse {
    #[serde(deserialize_with = "message_items_lowercase")]
    pub message_identifiers: Vec<MessageListItem>,
}

/// Get Default Message's answer, read as a string (lower-cased) so that an identifier of
/// another form is still compared, not refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultMessageResponse {
    #[serde(deserialize_with = "lowercase")]
    pub message_identifier: String,
}

/// The one normalisation of identifiers read from Apple.
pub fn normalise_identifier(id: &str) -> String {
    id.trim().to_ascii_lowercase()
}

fn lowercase<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d).map(|s| normalise_identifier(&s))
}

fn image_items_lowercase<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<ImageListItem>, D::Error> {
    let mut items = Vec::<ImageListItem>::deserialize(d)?;
    for item in &mut items {
        item.image_identifier = normalise_identifier(&item.image_identifier);
    }
    Ok(items)
}

fn message_items_lowercase<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<MessageListItem>, D::Error> {
    let mut items = Vec::<MessageListItem>::deserialize(d)?;
    for item in &mut items {
        item.message_identifier = normalise_identifier(&item.message_identifier);
    }
    Ok(items)
}

/// Body of Configure Default Message and answer of Get Default Message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultConfiguration {
    pub message_identifier: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealtimeUrl {
    #[serde(rename = "realtimeURL")]
    pub realtime_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceTestRequest {
    pub original_transaction_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceTestConfig {
    pub max_concurrent_requests: i64,
    pub total_requests: i64,
    pub total_duration: i64,
    pub response_time_threshold: i64,
    pub success_rate_threshold: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceTestResponse {
    pub config: PerformanceTestConfig,
    pub request_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerformanceTestResponseTimes {
    pub average: i64,
    pub p50: i64,
    pub p90: i64,
    pub p95: i64,
    pub p99: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceTestResultResponse {
    pub config: PerformanceTestConfig,
    pub target: String,
    /// PENDING, PASS or FAIL.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_pending: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_times: Option<PerformanceTestResponseTimes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<std::collections::BTreeMap<String, i64>>,
}

/// Apple's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error_code: i64,
    pub error_message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_review_state_is_kept_as_apple_sent_it() {
        let list: MessageListResponse = serde_json::from_str(
            r#"{"messageIdentifiers":[{"messageIdentifier":"a","messageState":"IN_REVIEW"}]}"#,
        )
        .unwrap();
        let state = &list.message_identifiers[0].message_state;
        assert_eq!(state, &ReviewState::Other("IN_REVIEW".into()));
        assert_eq!(state.as_str(), "IN_REVIEW");
        assert_eq!(serde_json::to_string(state).unwrap(), r#""IN_REVIEW""#);
        assert_eq!(
            serde_json::to_string(&ReviewState::Approved).unwrap(),
            r#""APPROVED""#
        );
    }

    /// Apple's fixtures from app-store-server-library-python 3.1.1
    /// (tests/resources/models/get{Image,Message}ListResponse.json,
    /// getDefaultMessageResponse.json): UUIDs.
    #[test]
    fn apple_fixtures_parse() {
        let images: ImageListResponse = serde_json::from_str(
            r#"{"imageIdentifiers":[{"imageIdentifier":"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890","imageState":"APPROVED","imageSize":"FULL_SIZE"}]}"#,
        )
        .unwrap();
        assert_eq!(
            images.image_identifiers[0].image_identifier,
            "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890"
        );
        assert_eq!(
            images.image_identifiers[0].image_state,
            ReviewState::Approved
        );
        let messages: MessageListResponse = serde_json::from_str(
            r#"{"messageIdentifiers":[{"messageIdentifier":"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890","messageState":"APPROVED"}]}"#,
        )
        .unwrap();
        assert_eq!(messages.message_identifiers.len(), 1);
        let default: DefaultMessageResponse =
            serde_json::from_str(r#"{"messageIdentifier":"a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890"}"#)
                .unwrap();
        assert_eq!(
            default.message_identifier,
            "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890"
        );
    }

    /// Apple may answer in upper case (Swift's `uuidString`): every identifier is
    /// lower-cased as it is read.
    #[test]
    fn identifiers_are_lower_cased_as_they_are_read() {
        let upper = "9542ADFB-1C2D-4E5F-8A9B-0C1D2E3F4A5B";
        let lower = "9542adfb-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
        let images: ImageListResponse = serde_json::from_str(&format!(
            r#"{{"imageIdentifiers":[{{"imageIdentifier":"{upper}","imageState":"PENDING"}}]}}"#
        ))
        .unwrap();
        assert_eq!(images.image_identifiers[0].image_identifier, lower);
        let messages: MessageListResponse = serde_json::from_str(&format!(
            r#"{{"messageIdentifiers":[{{"messageIdentifier":"{upper}","messageState":"REJECTED"}}]}}"#
        ))
        .unwrap();
        assert_eq!(messages.message_identifiers[0].message_identifier, lower);
        let default: DefaultMessageResponse =
            serde_json::from_str(&format!(r#"{{"messageIdentifier":"{upper}"}}"#)).unwrap();
        assert_eq!(default.message_identifier, lower);
    }

    /// `{}` is not an empty list: the list field is required.
    #[test]
    fn a_list_answer_without_its_list_is_refused() {
        assert!(serde_json::from_str::<MessageListResponse>("{}").is_err());
        assert!(serde_json::from_str::<ImageListResponse>("{}").is_err());
        assert!(
            serde_json::from_str::<ImageListResponse>(r#"{"imageIdentifiers":[]}"#)
                .unwrap()
                .image_identifiers
                .is_empty()
        );
    }
}

/// `NotificationHistoryRequest` (App Store Server API): the timespan, in ms since the
/// epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationHistoryRequest {
    pub start_date: i64,
    pub end_date: i64,
}

/// `NotificationHistoryResponse`: up to 20 records, and a token for the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationHistoryResponse {
    #[serde(default)]
    pub notification_history: Vec<NotificationHistoryItem>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationHistoryItem {
    pub signed_payload: String,
    #[serde(default)]
    pub send_attempts: Vec<serde_json::Value>,
}
