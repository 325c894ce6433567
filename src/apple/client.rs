//! The HTTP client of the Retention Messaging API: one typed call per endpoint, bearer
//! tokens, Apple's errors as [`ApiError`], client-side pacing, and retries with capped,
//! jittered exponential backoff that honour Apple's `Retry-After`.
//!
//! Retrying writes is safe because identifiers are content-derived: a retried upload
//! that finds its own earlier success answers "already exists", a retried delete "not
//! found", and the apply layer counts both as done.
//!
//! What Apple's API never does is an error, never followed or assumed: a redirect, an
//! answer larger than [`MAX_ANSWER_BYTES`], a 200 carrying an error body or missing the
//! list it exists for.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backon::BackoffBuilder;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use uuid::Uuid;

use super::endpoints::{Endpoint, HttpMethod};
use super::errors::ApiErrorCode;
use super::model::*;
use super::pacer::Pacer;
use super::throttle::Throttle;
use super::token::TokenSigner;
use crate::manifest::ImageSize;

/// Apple's hosts, as Apple's current Python library (3.1.2) uses them.
pub const PRODUCTION_URL: &str = "https://api.storekit.apple.com";
pub const SANDBOX_URL: &str = "https://api.storekit-sandbox.apple.com";

/// The largest answer read. A list of 2,000 identifiers is about 200 KB; an answer that
/// never ends stops here instead of growing memory.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Where requests go: an `http` or `https` URL without a user name, password, query or
/// fragment. Basic-auth credentials in the URL would replace the bearer token, and its
/// password would show wherever the URL is printed, so they are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(reqwest::Url);

/// Why a base URL is refused. No variant holds the URL's text, so no password is printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    #[error("the base URL is not a URL ({problem}); give one such as {SANDBOX_URL}")]
    NotAUrl { problem: String },
    #[error("the base URL's scheme `{scheme}` is not http or https")]
    Scheme { scheme: String },
    #[error(
        "the base URL carries a user name or password (user:…@host): requests carry only the bearer token retainctl signs, and Basic credentials would replace it; remove them from the URL"
    )]
    Credentials,
    #[error("the base URL has a query or a fragment; give only scheme, host, port and path")]
    QueryOrFragment,
}

impl BaseUrl {
    pub fn parse(text: &str) -> Result<Self, BaseUrlError> {
        let url = reqwest::Url::parse(text.trim()).map_err(|e| BaseUrlError::NotAUrl {
            problem: e.to_string(),
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(BaseUrlError::Credentials);
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BaseUrlError::Scheme {
                scheme: url.scheme().to_string(),
            });
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(BaseUrlError::QueryOrFragment);
        }
        if url.cannot_be_a_base() || url.host().is_none() {
            return Err(BaseUrlError::NotAUrl {
                problem: "it has no host".into(),
            });
        }
        Ok(BaseUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL of a request to `endpoint`: its path from the endpoint table, with
    /// `params` in place of the template's parameters, after this URL's own path.
    fn join(&self, endpoint: Endpoint, params: &[&str]) -> reqwest::Url {
        let tail = endpoint
            .path(params)
            .expect("each client method passes its endpoint's parameters");
        let mut url = self.0.clone();
        let path = format!("{}{tail}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// No retry starts after this much time has passed since the first attempt.
    pub deadline: Duration,
    /// The longest wait accepted from a `Retry-After` or the pacer; longer fails.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            deadline: Duration::from_secs(120),
            max_wait: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    /// Sandbox budgets are 10% of production's.
    pub sandbox: bool,
    pub pacing: bool,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    /// The largest answer read ([`MAX_ANSWER_BYTES`]).
    pub max_answer_bytes: usize,
    /// The run's limit on requests in flight, shared by every client (`--parallelism`).
    pub in_flight: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// An HTTP client made by [`http_client`] to share (its connections and root
    /// certificates) among the apps of a run; `None`: this client makes its own.
    pub http: Option<reqwest::Client>,
}

/// The HTTP client Apple's API is reached with: a timeout per request, redirects never
/// followed (Apple's API never redirects; a redirect is reported).
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("retainctl/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, sandbox: bool) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            sandbox,
            pacing: true,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            max_answer_bytes: MAX_ANSWER_BYTES,
            in_flight: None,
            http: None,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{endpoint}: Apple answered {code} (HTTP {status}): {message}{}", hint_suffix(*code))]
    Apple {
        endpoint: &'static str,
        status: u16,
        code: ApiErrorCode,
        message: String,
    },
    #[error(
        "{endpoint}: Apple refused the credentials (401 Unauthorized). Check: the key id is the id of the In-App Purchase key; the issuer id is your App Store Connect team's; the bundle id `{bundle_id}` in the token is this app's; the key is an In-App Purchase key (not an App Store Connect API key) of the same team as the app; and this machine's clock is right (tokens expire)"
    )]
    Unauthorized {
        endpoint: &'static str,
        bundle_id: String,
    },
    #[error(
        "{endpoint}: Apple's hourly request budget is used up; it frees up at {} (in {}s), longer than the {}s this run waits",
        fmt_unix(*resets_at), wait.as_secs(), max_wait.as_secs()
    )]
    RateBudgetExhausted {
        endpoint: &'static str,
        resets_at: SystemTime,
        wait: Duration,
        max_wait: Duration,
    },
    #[error("{endpoint}: {message} (after {attempts} attempts)")]
    Transport {
        endpoint: &'static str,
        message: String,
        attempts: usize,
    },
    #[error("{endpoint}: unexpected answer (HTTP {status}): {detail}")]
    Unexpected {
        endpoint: &'static str,
        status: u16,
        detail: String,
    },
    #[error(
        "{endpoint}: answered with a redirect (HTTP {status}) to {}; Apple's API never redirects, so nothing was done there: check --base-url",
        location_host.as_deref().unwrap_or("no location")
    )]
    Redirected {
        endpoint: &'static str,
        status: u16,
        /// The host of the `Location` header (never its path or query).
        location_host: Option<String>,
    },
    #[error(
        "{endpoint}: the answer (HTTP {status}) is larger than {limit} bytes; Apple's answers are far smaller, so it was not read further"
    )]
    AnswerTooLarge {
        endpoint: &'static str,
        status: u16,
        limit: usize,
    },
    #[error(
        "{endpoint}: Apple answered HTTP {status} with an error body, {code}: {message}; the answer is not used"
    )]
    ErrorInSuccess {
        endpoint: &'static str,
        status: u16,
        code: ApiErrorCode,
        message: String,
    },
    #[error(
        "{endpoint}: Apple answered HTTP {status} without {field}; nothing is assumed about what Apple holds"
    )]
    MissingField {
        endpoint: &'static str,
        status: u16,
        field: &'static str,
    },
}

fn hint_suffix(code: ApiErrorCode) -> String {
    code.hint().map(|h| format!(" — {h}")).unwrap_or_default()
}

fn fmt_unix(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("unix time {secs}")
}

impl ApiError {
    /// Apple's error number, when Apple sent one.
    pub fn code(&self) -> Option<ApiErrorCode> {
        match self {
            ApiError::Apple { code, .. } => Some(*code),
            _ => None,
        }
    }
}

pub struct AppleClient {
    http: reqwest::Client,
    base_url: BaseUrl,
    signer: TokenSigner,
    bundle_id: String,
    pacer: Pacer,
    throttle: Throttle,
    retry: RetryPolicy,
    max_answer_bytes: usize,
}

/// What one attempt came to.
enum Attempt {
    Done(StatusCode, bytes::Bytes),
    Retry {
        error: ApiError,
        after: Option<SystemTime>,
    },
    Fail(ApiError),
}

/// Parses `Retry-After`: Apple sends a UNIX time in milliseconds; UNIX seconds and a
/// delay in seconds are accepted too.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<SystemTime> {
    let n: u64 = value.trim().parse().ok()?;
    Some(if n >= 100_000_000_000 {
        UNIX_EPOCH + Duration::from_millis(n)
    } else if n >= 1_000_000_000 {
        UNIX_EPOCH + Duration::from_secs(n)
    } else {
        now + Duration::from_secs(n)
    })
}

enum Body {
    None,
    Json(String),
    Png(Vec<u8>),
}

impl AppleClient {
    pub fn new(config: ClientConfig, signer: TokenSigner, bundle_id: &str) -> Result<Self, String> {
        let base_url = BaseUrl::parse(&config.base_url).map_err(|e| e.to_string())?;
        let http = match config.http {
            Some(http) => http,
            None => http_client(config.timeout)?,
        };
        Ok(AppleClient {
            http,
            base_url,
            signer,
            bundle_id: bundle_id.to_string(),
            pacer: Pacer::new(config.sandbox, config.pacing),
            throttle: Throttle::new(config.in_flight),
            retry: config.retry,
            max_answer_bytes: config.max_answer_bytes,
        })
    }

    async fn send(
        &self,
        endpoint: Endpoint,
        params: &[&str],
        query: Option<(&str, &str)>,
        body: Body,
    ) -> Result<(StatusCode, bytes::Bytes), ApiError> {
        let name = endpoint.name();
        let method = match endpoint.method() {
            HttpMethod::Get => Method::GET,
            HttpMethod::Put => Method::PUT,
            HttpMethod::Delete => Method::DELETE,
            HttpMethod::Post => Method::POST,
        };
        let url = self.base_url.join(endpoint, params);
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_attempts.saturating_sub(1))
            .with_jitter()
            .build();
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .pacer
                .reserve(endpoint, Instant::now(), self.retry.max_wait)
            {
                Ok(wait) if !wait.is_zero() => {
                    tracing::info!(
                        endpoint = name,
                        wait_s = wait.as_secs(),
                        "pacing to Apple's hourly budget"
                    );
                    tokio::time::sleep(wait).await;
                }
                Ok(_) => {}
                Err(wait) => {
                    return Err(ApiError::RateBudgetExhausted {
                        endpoint: name,
                        resets_at: SystemTime::now() + wait,
                        wait,
                        max_wait: self.retry.max_wait,
                    });
                }
            }
            // A Retry-After another request of this endpoint got that is longer than this
            // run waits: the budget is used up for this request too, said at once.
            let held = self.throttle.held_for(endpoint);
            if held > self.retry.max_wait {
                return Err(ApiError::RateBudgetExhausted {
                    endpoint: name,
                    resets_at: SystemTime::now() + held,
                    wait: held,
                    max_wait: self.retry.max_wait,
                });
            }
            let span = tracing::debug_span!("apple_request", method = %method, path = %url.path(), attempt, status = tracing::field::Empty);
            let in_flight = self.throttle.acquire(endpoint).await;
            let outcome = self
                .attempt(endpoint, method.clone(), url.clone(), query, &body)
                .instrument(span.clone())
                .await;
            drop(in_flight);
            let (error, after) = match outcome {
                Attempt::Done(status, bytes) => return Ok((status, bytes)),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { error, after } => (error, after),
            };
            let backoff = match delays.next() {
                Some(d) => d,
                None => return Err(with_attempts(error, attempt)),
            };
            if error.code() == Some(ApiErrorCode::RateLimitExceeded) {
                let wait = after.and_then(|at| at.duration_since(SystemTime::now()).ok());
                self.throttle.rate_limited(endpoint, wait);
            }
            // A `Retry-After` lengthens the pause, never shortens it: one in the past or
            // `0` (a clock ahead of Apple's) still waits the backoff.
            let now = SystemTime::now();
            let delay = match after {
                Some(at) => {
                    let wait = at.duration_since(now).unwrap_or(Duration::ZERO);
                    if wait > self.retry.max_wait {
                        return Err(ApiError::RateBudgetExhausted {
                            endpoint: name,
                            resets_at: at,
                            wait,
                            max_wait: self.retry.max_wait,
                        });
                    }
                    wait.max(backoff)
                }
                None => backoff,
            };
            if attempt >= self.retry.max_attempts || started.elapsed() + delay > self.retry.deadline
            {
                return Err(with_attempts(error, attempt));
            }
            tracing::info!(parent: &span, endpoint = name, attempt, delay_ms = delay.as_millis() as u64, error = %error, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        endpoint: Endpoint,
        method: Method,
        url: reqwest::Url,
        query: Option<(&str, &str)>,
        body: &Body,
    ) -> Attempt {
        let name = endpoint.name();
        let token = self.signer.token(SystemTime::now());
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(q) = query {
            request = request.query(&[q]);
        }
        request = match body {
            Body::None => request,
            Body::Json(text) => request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(text.clone()),
            Body::Png(bytes) => request
                .header(reqwest::header::CONTENT_TYPE, "image/png")
                .body(bytes.clone()),
        };
        // A broken connection, before or during the answer, is retried.
        let broken = |e: reqwest::Error| Attempt::Retry {
            error: ApiError::Transport {
                endpoint: name,
                message: describe_transport(&e),
                attempts: 0,
            },
            after: None,
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return broken(e),
        };
        let status = response.status();
        tracing::Span::current().record("status", status.as_u16());
        tracing::debug!(status = status.as_u16(), "answered");
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        if status.is_redirection() {
            let location_host = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| response.url().join(v).ok())
                .and_then(|u| u.host_str().map(str::to_string));
            return Attempt::Fail(ApiError::Redirected {
                endpoint: name,
                status: status.as_u16(),
                location_host,
            });
        }
        let bytes = match read_capped(response, self.max_answer_bytes).await {
            Ok(b) => b,
            Err(ReadError::Broken(e)) => return broken(e),
            Err(ReadError::TooLarge) => {
                return Attempt::Fail(ApiError::AnswerTooLarge {
                    endpoint: name,
                    status: status.as_u16(),
                    limit: self.max_answer_bytes,
                });
            }
        };
        if status.is_success() {
            return Attempt::Done(status, bytes);
        }
        if status == StatusCode::UNAUTHORIZED {
            return Attempt::Fail(ApiError::Unauthorized {
                endpoint: name,
                bundle_id: self.bundle_id.clone(),
            });
        }
        let error = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => ApiError::Apple {
                endpoint: name,
                status: status.as_u16(),
                code: ApiErrorCode::from_number(body.error_code),
                message: body.error_message,
            },
            Err(_) if status == StatusCode::TOO_MANY_REQUESTS => ApiError::Apple {
                endpoint: name,
                status: 429,
                code: ApiErrorCode::RateLimitExceeded,
                message: "Rate limit exceeded.".into(),
            },
            Err(_) => ApiError::Unexpected {
                endpoint: name,
                status: status.as_u16(),
                detail: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            },
        };
        let retryable = status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error()
            || error.code().is_some_and(|c| endpoint.retries(c));
        if retryable {
            Attempt::Retry {
                error,
                after: retry_after,
            }
        } else {
            Attempt::Fail(error)
        }
    }

    /// A JSON answer; `required` names the field the answer exists for.
    async fn json<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        params: &[&str],
        body: Body,
        required: &'static str,
    ) -> Result<T, ApiError> {
        let (status, bytes) = self.send(endpoint, params, None, body).await?;
        read_answer(endpoint.name(), status.as_u16(), &bytes, required)
    }

    async fn no_content(
        &self,
        endpoint: Endpoint,
        params: &[&str],
        query: Option<(&str, &str)>,
        body: Body,
    ) -> Result<(), ApiError> {
        self.send(endpoint, params, query, body).await.map(|_| ())
    }

    pub async fn upload_image(
        &self,
        id: Uuid,
        size: ImageSize,
        png: &[u8],
    ) -> Result<(), ApiError> {
        let id = id.to_string();
        self.no_content(
            Endpoint::UploadImage,
            &[&id],
            Some(("imageSize", size.as_str())),
            Body::Png(png.to_vec()),
        )
        .await
    }

    pub async fn delete_image(&self, id: &str) -> Result<(), ApiError> {
        self.no_content(Endpoint::DeleteImage, &[id], None, Body::None)
            .await
    }

    pub async fn list_images(&self) -> Result<ImageListResponse, ApiError> {
        self.json(Endpoint::GetImageList, &[], Body::None, "imageIdentifiers")
            .await
    }

    /// `body` is the exact JSON text (retainctl sends the canonical form its id hashes).
    pub async fn upload_message(&self, id: Uuid, body: &str) -> Result<(), ApiError> {
        let id = id.to_string();
        self.no_content(
            Endpoint::UploadMessage,
            &[&id],
            None,
            Body::Json(body.to_string()),
        )
        .await
    }

    pub async fn delete_message(&self, id: &str) -> Result<(), ApiError> {
        self.no_content(Endpoint::DeleteMessage, &[id], None, Body::None)
            .await
    }

    pub async fn list_messages(&self) -> Result<MessageListResponse, ApiError> {
        self.json(
            Endpoint::GetMessageList,
            &[],
            Body::None,
            "messageIdentifiers",
        )
        .await
    }

    pub async fn configure_default(
        &self,
        product: &str,
        locale: &str,
        message: Uuid,
    ) -> Result<(), ApiError> {
        let body = serde_json::to_string(&DefaultConfiguration {
            message_identifier: message,
        })
        .expect("serializes");
        self.no_content(
            Endpoint::ConfigureDefaultMessage,
            &[product, locale],
            None,
            Body::Json(body),
        )
        .await
    }

    /// The default of a pair, lower-cased; `Ok(None)` when Apple has none
    /// (DefaultMessageNotFound).
    pub async fn get_default(
        &self,
        product: &str,
        locale: &str,
    ) -> Result<Option<String>, ApiError> {
        match self
            .json::<DefaultMessageResponse>(
                Endpoint::GetDefaultMessage,
                &[product, locale],
                Body::None,
                "messageIdentifier",
            )
            .await
        {
            Ok(a) => Ok(Some(a.message_identifier)),
            Err(e) if e.code() == Some(ApiErrorCode::DefaultMessageNotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn delete_default(&self, product: &str, locale: &str) -> Result<(), ApiError> {
        self.no_content(
            Endpoint::DeleteDefaultMessage,
            &[product, locale],
            None,
            Body::None,
        )
        .await
    }

    pub async fn configure_realtime_url(&self, url: &str) -> Result<(), ApiError> {
        let body = serde_json::to_string(&RealtimeUrl {
            realtime_url: url.to_string(),
        })
        .expect("serializes");
        self.no_content(Endpoint::ConfigureRealtimeUrl, &[], None, Body::Json(body))
            .await
    }

    /// The realtime URL; `Ok(None)` when none is configured (RealtimeUrlNotFound).
    pub async fn get_realtime_url(&self) -> Result<Option<String>, ApiError> {
        match self
            .json::<RealtimeUrl>(Endpoint::GetRealtimeUrl, &[], Body::None, "realtimeURL")
            .await
        {
            Ok(a) => Ok(Some(a.realtime_url)),
            Err(e) if e.code() == Some(ApiErrorCode::RealtimeUrlNotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn delete_realtime_url(&self) -> Result<(), ApiError> {
        self.no_content(Endpoint::DeleteRealtimeUrl, &[], None, Body::None)
            .await
    }

    pub async fn initiate_performance_test(
        &self,
        original_transaction_id: &str,
    ) -> Result<PerformanceTestResponse, ApiError> {
        let body = serde_json::to_string(&PerformanceTestRequest {
            original_transaction_id: original_transaction_id.to_string(),
        })
        .expect("serializes");
        self.json(
            Endpoint::InitiatePerformanceTest,
            &[],
            Body::Json(body),
            "requestId",
        )
        .await
    }

    /// One page of Get Notification History (`pagination_token` from the page before).
    pub async fn get_notification_history(
        &self,
        request: &NotificationHistoryRequest,
        pagination_token: Option<&str>,
    ) -> Result<NotificationHistoryResponse, ApiError> {
        let body = serde_json::to_string(request).expect("serializes");
        let (status, bytes) = self
            .send(
                Endpoint::GetNotificationHistory,
                &[],
                pagination_token.map(|t| ("paginationToken", t)),
                Body::Json(body),
            )
            .await?;
        read_answer(
            Endpoint::GetNotificationHistory.name(),
            status.as_u16(),
            &bytes,
            "notificationHistory",
        )
    }

    pub async fn get_performance_test_result(
        &self,
        request_id: &str,
    ) -> Result<PerformanceTestResultResponse, ApiError> {
        self.json(
            Endpoint::GetPerformanceTestResult,
            &[request_id],
            Body::None,
            "result",
        )
        .await
    }
}

enum ReadError {
    Broken(reqwest::Error),
    TooLarge,
}

/// Reads the answer chunk by chunk, stopping as soon as it passes `limit` bytes.
async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, ReadError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Broken)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads a 2xx JSON answer: an error body in it is an error, and so is an answer
/// without `required` (`{}` is not an empty list).
fn read_answer<T: DeserializeOwned>(
    endpoint: &'static str,
    status: u16,
    bytes: &[u8],
    required: &'static str,
) -> Result<T, ApiError> {
    let unreadable = |e: serde_json::Error| ApiError::Unexpected {
        endpoint,
        status,
        detail: format!("cannot read the JSON answer: {e}"),
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(unreadable)?;
    if let Ok(error) = ErrorBody::deserialize(&value) {
        return Err(ApiError::ErrorInSuccess {
            endpoint,
            status,
            code: ApiErrorCode::from_number(error.error_code),
            message: error.error_message,
        });
    }
    if value.get(required).is_none() {
        return Err(ApiError::MissingField {
            endpoint,
            status,
            field: required,
        });
    }
    T::deserialize(value).map_err(unreadable)
}

fn with_attempts(error: ApiError, attempts: usize) -> ApiError {
    match error {
        ApiError::Transport {
            endpoint, message, ..
        } => ApiError::Transport {
            endpoint,
            message,
            attempts,
        },
        other => other,
    }
}

/// A transport error in words, without the URL's query or any header.
fn describe_transport(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the answer"
    } else {
        "the request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_epoch_ms_epoch_s_and_delay() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            parse_retry_after("1800000005000", now),
            Some(UNIX_EPOCH + Duration::from_millis(1_800_000_005_000))
        );
        assert_eq!(
            parse_retry_after("1800000007", now),
            Some(UNIX_EPOCH + Duration::from_secs(1_800_000_007))
        );
        assert_eq!(
            parse_retry_after("3", now),
            Some(now + Duration::from_secs(3))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn base_urls_with_credentials_are_refused_without_printing_them() {
        for url in [
            "https://user:hunter2pass@api.storekit.apple.com",
            "https://user@api.storekit.apple.com",
            "http://:hunter2pass@127.0.0.1:8080/",
        ] {
            let err = BaseUrl::parse(url).unwrap_err();
            assert_eq!(err, BaseUrlError::Credentials, "{url}");
            assert!(!err.to_string().contains("hunter2pass"));
            assert!(!format!("{err:?}").contains("hunter2pass"));
        }
        assert_eq!(
            BaseUrl::parse("ftp://example.com").unwrap_err(),
            BaseUrlError::Scheme {
                scheme: "ftp".into()
            }
        );
        assert_eq!(
            BaseUrl::parse("https://example.com/?token=hunter2pass").unwrap_err(),
            BaseUrlError::QueryOrFragment
        );
        assert!(matches!(
            BaseUrl::parse("not a url").unwrap_err(),
            BaseUrlError::NotAUrl { .. }
        ));
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:4010").unwrap().as_str(),
            "http://127.0.0.1:4010/"
        );
    }

    /// The client's URLs are the table's paths after the base's own path, and the
    /// simulator's router reads them back to the same endpoint and parameters.
    #[test]
    fn urls_are_the_tables_paths_after_the_base() {
        let params = ["com.example.premium", "a/b c%"];
        for (base, prefix) in [
            ("http://127.0.0.1:4010", ""),
            ("https://proxy.example/apple/", "/apple"),
            ("https://proxy.example/apple", "/apple"),
        ] {
            let url = BaseUrl::parse(base)
                .unwrap()
                .join(Endpoint::GetDefaultMessage, &params);
            assert_eq!(
                url.path(),
                format!("{prefix}/inApps/v1/messaging/default/com.example.premium/a%2Fb%20c%25")
            );
            assert_eq!(url.query(), None);
        }
        let base = BaseUrl::parse("http://127.0.0.1:4010").unwrap();
        for endpoint in Endpoint::ALL {
            let params: Vec<&str> = endpoint.parameters().map(|_| "x/y").collect();
            let url = base.join(endpoint, &params);
            let route = crate::apple::endpoints::route(endpoint.method().as_str(), url.path());
            assert_eq!(
                route.map(|r| (r.endpoint, r.params)),
                Some((endpoint, params.iter().map(|p| p.to_string()).collect())),
                "{endpoint}"
            );
        }
    }

    #[test]
    fn a_success_answer_must_hold_what_it_exists_for() {
        let read = |body: &str| {
            read_answer::<MessageListResponse>(
                "GetMessageList",
                200,
                body.as_bytes(),
                "messageIdentifiers",
            )
        };
        let err = read("{}").unwrap_err();
        assert!(matches!(
            err,
            ApiError::MissingField {
                field: "messageIdentifiers",
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "GetMessageList: Apple answered HTTP 200 without messageIdentifiers; nothing is assumed about what Apple holds"
        );
        let err = read(r#"{"errorCode":5000000,"errorMessage":"An unknown error occurred."}"#)
            .unwrap_err();
        assert!(
            matches!(
                err,
                ApiError::ErrorInSuccess {
                    code: ApiErrorCode::GeneralInternal,
                    ..
                }
            ),
            "{err}"
        );
        assert!(matches!(
            read("[1,2]").unwrap_err(),
            ApiError::MissingField { .. }
        ));
        assert!(matches!(
            read("not json").unwrap_err(),
            ApiError::Unexpected { .. }
        ));
        assert!(
            read(r#"{"messageIdentifiers":[]}"#)
                .unwrap()
                .message_identifiers
                .is_empty()
        );
    }
}
