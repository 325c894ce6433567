//! Request and response bodies of the Retention Messaging API, exactly as on the wire,
//! and the endpoints with Apple's documented rate limits.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ReviewState {
    Pending,
    Approved,
    Rejected,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Approved => "APPROVED",
            Self::Rejected => "REJECTED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageListItem {
    /// A string, not a UUID: Apple's own fixtures hold ids such as `test-image-1`, and
    /// ids uploaded by other tools need not be UUIDs.
    pub image_identifier: String,
    pub image_state: ReviewState,
    /// The size the image was uploaded with (API 1.4; absent from older answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<crate::manifest::ImageSize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageListResponse {
    #[serde(default)]
    pub image_identifiers: Vec<ImageListItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageListItem {
    /// A string, not a UUID (see [`ImageListItem`]).
    pub message_identifier: String,
    pub message_state: ReviewState,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageListResponse {
    #[serde(default)]
    pub message_identifiers: Vec<MessageListItem>,
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

/// Each endpoint, for rate limits, pacing and request counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Endpoint {
    UploadImage,
    DeleteImage,
    GetImageList,
    UploadMessage,
    DeleteMessage,
    GetMessageList,
    ConfigureDefaultMessage,
    GetDefaultMessage,
    DeleteDefaultMessage,
    ConfigureRealtimeUrl,
    GetRealtimeUrl,
    DeleteRealtimeUrl,
    InitiatePerformanceTest,
    GetPerformanceTestResult,
}

impl Endpoint {
    pub fn name(self) -> &'static str {
        match self {
            Self::UploadImage => "UploadImage",
            Self::DeleteImage => "DeleteImage",
            Self::GetImageList => "GetImageList",
            Self::UploadMessage => "UploadMessage",
            Self::DeleteMessage => "DeleteMessage",
            Self::GetMessageList => "GetMessageList",
            Self::ConfigureDefaultMessage => "ConfigureDefaultMessage",
            Self::GetDefaultMessage => "GetDefaultMessage",
            Self::DeleteDefaultMessage => "DeleteDefaultMessage",
            Self::ConfigureRealtimeUrl => "ConfigureRealtimeUrl",
            Self::GetRealtimeUrl => "GetRealtimeUrl",
            Self::DeleteRealtimeUrl => "DeleteRealtimeUrl",
            Self::InitiatePerformanceTest => "InitiatePerformanceTest",
            Self::GetPerformanceTestResult => "GetPerformanceTestResult",
        }
    }

    /// Apple's documented production rate in requests per second (enforced per hour):
    /// 10 for Configure Default Message, 1 for every other endpoint.
    pub fn production_rate_per_second(self) -> u32 {
        match self {
            Self::ConfigureDefaultMessage => 10,
            _ => 1,
        }
    }

    /// Requests allowed per rolling hour: the production rate × 3600, sandbox 10% of it.
    pub fn hourly_budget(self, sandbox: bool) -> u32 {
        let production = self.production_rate_per_second() * 3600;
        if sandbox { production / 10 } else { production }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Apple's fixtures from app-store-server-library-python
    /// (tests/resources/models/getRetention{Image,Message}ListResponse.json).
    #[test]
    fn apple_list_fixtures_parse() {
        let images: ImageListResponse = serde_json::from_str(
            r#"{"imageIdentifiers":[{"imageIdentifier":"test-image-1","imageState":"PENDING"},{"imageIdentifier":"test-image-2","imageState":"APPROVED"},{"imageIdentifier":"test-image-3","imageState":"REJECTED"}]}"#,
        )
        .unwrap();
        let states: Vec<ReviewState> = images
            .image_identifiers
            .iter()
            .map(|i| i.image_state)
            .collect();
        assert_eq!(
            states,
            [
                ReviewState::Pending,
                ReviewState::Approved,
                ReviewState::Rejected
            ]
        );
        assert_eq!(images.image_identifiers[0].image_identifier, "test-image-1");
        let messages: MessageListResponse = serde_json::from_str(
            r#"{"messageIdentifiers":[{"messageIdentifier":"test-message-1","messageState":"APPROVED"},{"messageIdentifier":"test-message-2","messageState":"PENDING"},{"messageIdentifier":"test-message-3","messageState":"REJECTED"}]}"#,
        )
        .unwrap();
        assert_eq!(messages.message_identifiers.len(), 3);
        assert_eq!(
            messages.message_identifiers[2].message_state,
            ReviewState::Rejected
        );
        let empty: MessageListResponse = serde_json::from_str("{}").unwrap();
        assert!(empty.message_identifiers.is_empty());
    }

    #[test]
    fn budgets_follow_apple_rates() {
        assert_eq!(
            Endpoint::ConfigureDefaultMessage.hourly_budget(false),
            36000
        );
        assert_eq!(Endpoint::UploadMessage.hourly_budget(false), 3600);
        assert_eq!(Endpoint::UploadMessage.hourly_budget(true), 360);
    }
}
