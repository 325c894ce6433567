//! The simulator's App Store Server Notifications: events a test (or `retainctl sim`'s
//! population) reports through `POST /_sim/notifications` are signed with the
//! simulator's own chain (the one `serve --trust-root` trusts: `realtime-root.pem`) as
//! Apple signs notifications V2, kept per app, and answered by Get Notification History
//! as Apple answers it: 20 a page, a pagination token for the next, Apple's errors for a
//! start too far in the past (180 days in production, 30 in sandbox), dates out of order,
//! and a token that is not one or has expired (after an hour).

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::perf::RealtimeSigner;
use crate::apple::ApiErrorCode;
use crate::apple::model::{
    NotificationHistoryItem, NotificationHistoryRequest, NotificationHistoryResponse,
};

/// Records a page holds.
pub const PAGE: usize = 20;
/// How long a pagination token stays good.
pub const TOKEN_LIFETIME_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// One notification kept: when it was signed, and the signed payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredNotification {
    pub signed_date: i64,
    pub signed_payload: String,
}

/// An event to notify, as `POST /_sim/notifications` takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifiedEvent {
    pub notification_type: String,
    #[serde(default)]
    pub subtype: Option<String>,
    pub original_transaction_id: String,
    pub product_id: String,
    #[serde(default)]
    pub offer_identifier: Option<String>,
    #[serde(default)]
    pub auto_renew_product_id: Option<String>,
    /// When it happened (ms since the epoch); default: now.
    #[serde(default)]
    pub signed_date: Option<i64>,
    /// Apple's notificationUUID; default: a new one.
    #[serde(default)]
    pub notification_uuid: Option<String>,
}

/// Signs `event` for `bundle_id` in `environment` (`Sandbox` or `Production`).
pub fn sign(
    signer: &RealtimeSigner,
    bundle_id: &str,
    app_apple_id: i64,
    environment: &str,
    event: &NotifiedEvent,
    now_ms: i64,
) -> Result<StoredNotification, String> {
    let at = event.signed_date.unwrap_or(now_ms);
    let transaction = signer.sign(&json!({
        "originalTransactionId": event.original_transaction_id,
        "transactionId": format!("{}{}", event.original_transaction_id, at % 1000),
        "bundleId": bundle_id,
        "productId": event.product_id,
        "offerIdentifier": event.offer_identifier,
        "type": "Auto-Renewable Subscription",
        "environment": environment,
        "signedDate": at,
        "purchaseDate": at,
    }))?;
    let renewal = signer.sign(&json!({
        "originalTransactionId": event.original_transaction_id,
        "productId": event.product_id,
        "autoRenewProductId": event.auto_renew_product_id.as_deref().unwrap_or(&event.product_id),
        "autoRenewStatus": i32::from(event.subtype.as_deref() != Some("AUTO_RENEW_DISABLED")),
        "environment": environment,
        "signedDate": at,
    }))?;
    let payload = signer.sign(&json!({
        "notificationType": event.notification_type,
        "subtype": event.subtype,
        "notificationUUID": event.notification_uuid.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        "version": "2.0",
        "signedDate": at,
        "data": {
            "appAppleId": app_apple_id,
            "bundleId": bundle_id,
            "bundleVersion": "1",
            "environment": environment,
            "signedTransactionInfo": transaction,
            "signedRenewalInfo": renewal,
            "status": 1,
        },
    }))?;
    Ok(StoredNotification {
        signed_date: at,
        signed_payload: payload,
    })
}

#[derive(Serialize, Deserialize)]
struct Token {
    /// Records already given.
    offset: usize,
    start: i64,
    end: i64,
    issued: i64,
}

/// One page of Get Notification History over `kept` (in signing order).
pub fn history(
    kept: &[StoredNotification],
    body: &[u8],
    pagination_token: Option<&str>,
    sandbox: bool,
    now_ms: i64,
) -> Result<NotificationHistoryResponse, ApiErrorCode> {
    let request: NotificationHistoryRequest =
        serde_json::from_slice(body).map_err(|_| ApiErrorCode::GeneralBadRequest)?;
    if request.start_date <= 0 {
        return Err(ApiErrorCode::InvalidStartDate);
    }
    if request.end_date <= 0 {
        return Err(ApiErrorCode::InvalidEndDate);
    }
    if request.end_date <= request.start_date {
        return Err(ApiErrorCode::StartDateAfterEndDate);
    }
    let kept_days = if sandbox { 30 } else { 180 };
    if request.start_date < now_ms - kept_days * DAY_MS {
        return Err(ApiErrorCode::StartDateTooFarInPast);
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let offset = match pagination_token {
        None => 0,
        Some(token) => {
            let token: Token = b64
                .decode(token)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .filter(|t: &Token| t.start == request.start_date && t.end == request.end_date)
                .ok_or(ApiErrorCode::InvalidPaginationToken)?;
            if now_ms - token.issued > TOKEN_LIFETIME_MS {
                return Err(ApiErrorCode::PaginationTokenExpired);
            }
            token.offset
        }
    };
    let mut matching: Vec<&StoredNotification> = kept
        .iter()
        .filter(|n| request.start_date <= n.signed_date && n.signed_date < request.end_date)
        .collect();
    matching.sort_by_key(|n| n.signed_date);
    let page: Vec<NotificationHistoryItem> = matching
        .iter()
        .skip(offset)
        .take(PAGE)
        .map(|n| NotificationHistoryItem {
            signed_payload: n.signed_payload.clone(),
            send_attempts: vec![
                json!({"attemptDate": n.signed_date, "sendAttemptResult": "SUCCESS"}),
            ],
        })
        .collect();
    let next = offset + page.len();
    let has_more = next < matching.len();
    let pagination_token = has_more.then(|| {
        let token = Token {
            offset: next,
            start: request.start_date,
            end: request.end_date,
            issued: now_ms,
        };
        b64.encode(serde_json::to_vec(&token).expect("a token serializes"))
    });
    Ok(NotificationHistoryResponse {
        notification_history: page,
        has_more,
        pagination_token,
    })
}
