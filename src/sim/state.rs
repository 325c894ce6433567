//! What the simulated Apple holds, per app (bundle id), and every rule of every endpoint
//! as a pure operation on it: `Ok(answer)` or the `ApiErrorCode` Apple would send.
//! No HTTP, no clock (times are passed in), so the rules are unit-tested directly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::apple::ApiErrorCode;
use crate::apple::image_rules;
use crate::apple::limits::{
    MAX_ALT_TEXT, MAX_BODY, MAX_BULLET_POINTS, MAX_BULLET_TEXT, MAX_HEADER, MAX_IMAGES,
    MAX_MESSAGES, is_transaction_id, realtime_url_accepted,
};
use crate::apple::model::*;
use crate::manifest::ImageSize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Uploads are APPROVED at once.
    Sandbox,
    /// Uploads stay PENDING until reviewed.
    Production,
}

impl Mode {
    /// Apple's spelling of the environment, as signed data carries it.
    pub fn apple_name(self) -> &'static str {
        match self {
            Self::Sandbox => "Sandbox",
            Self::Production => "Production",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimImage {
    pub state: ReviewState,
    pub size: ImageSize,
    pub width: u32,
    pub height: u32,
    pub sha256: String,
    pub uploaded_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimMessage {
    pub state: ReviewState,
    pub body: Value,
    pub uploaded_at_ms: u64,
}

/// PENDING while a test runs, then PASS or FAIL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TestResult {
    Pending,
    Pass,
    #[default]
    Fail,
}

/// One performance test run and its figures so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PerformanceTest {
    pub target: String,
    pub config: Option<PerformanceTestConfig>,
    pub result: TestResult,
    /// Response time of each finished attempt, in milliseconds.
    pub response_times_ms: Vec<u64>,
    pub successes: i64,
    /// Failed attempts by Apple's `SendAttemptResult` name.
    pub failures: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppState {
    pub images: BTreeMap<String, SimImage>,
    pub messages: BTreeMap<String, SimMessage>,
    /// product → locale → message id
    pub defaults: BTreeMap<String, BTreeMap<String, String>>,
    pub realtime_url: Option<String>,
    /// Sandbox: the realtime URLs that passed a performance test here.
    #[serde(default)]
    pub passed_urls: Vec<String>,
    #[serde(default)]
    pub performance_tests: BTreeMap<String, PerformanceTest>,
    /// Signed notifications V2, for Get Notification History.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<super::notifications::StoredNotification>,
}

/// All apps the simulator holds, by bundle id, plus request counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct World {
    pub apps: BTreeMap<String, AppState>,
    /// endpoint name → requests answered (any status), across apps.
    #[serde(default)]
    pub request_counts: BTreeMap<String, u64>,
    /// API requests whose client hung up before the answer (a timeout, a killed run);
    /// they were carried out all the same.
    #[serde(default)]
    pub abandoned_requests: u64,
    /// API requests answered 429 because the app's hourly budget was used up.
    #[serde(default)]
    pub rate_limited_requests: u64,
    /// Apple error name → requests the endpoints' own rules refused with it (not the
    /// injected faults), across apps: a test sees, say, an upload that came twice.
    #[serde(default)]
    pub error_counts: BTreeMap<String, u64>,
    /// Endpoint name → the most of its requests ever answered at once, across apps.
    #[serde(default)]
    pub peak_concurrent_requests: BTreeMap<String, u64>,
}

/// Rules that depend on how the simulator was started.
#[derive(Debug, Clone)]
pub struct Policy {
    pub mode: Mode,
    /// Product ids Apple knows for the app; `None` accepts any.
    pub products: Option<Vec<String>>,
}

type Outcome<T> = Result<T, ApiErrorCode>;

fn initial_state(policy: &Policy) -> ReviewState {
    match policy.mode {
        Mode::Sandbox => ReviewState::Approved,
        Mode::Production => ReviewState::Pending,
    }
}

/// The one normalisation of identifiers, for every route and the review: Apple's ids are
/// UUIDs, which compare case-insensitively, so the simulator keys everything by the
/// lower-case form (and answers it).
pub fn id_key(id: &str) -> String {
    id.to_ascii_lowercase()
}

fn parse_uuid(id: &str) -> Outcome<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiErrorCode::GeneralBadRequest)
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

impl AppState {
    pub fn upload_image(
        &mut self,
        policy: &Policy,
        id: &str,
        size: Option<&str>,
        png: &[u8],
        now_ms: u64,
    ) -> Outcome<()> {
        parse_uuid(id)?;
        let id = id_key(id);
        let size = match size {
            None | Some("FULL_SIZE") => ImageSize::FullSize,
            Some("BULLET_POINT") => ImageSize::BulletPoint,
            Some(_) => return Err(ApiErrorCode::BadRequestImageSize),
        };
        if self.images.contains_key(&id) {
            return Err(ApiErrorCode::ImageAlreadyExists);
        }
        if self.images.len() >= MAX_IMAGES {
            return Err(ApiErrorCode::MaximumNumberOfImagesReached);
        }
        let facts = image_rules::inspect(png).map_err(|_| ApiErrorCode::InvalidImage)?;
        if facts.has_alpha {
            return Err(ApiErrorCode::InvalidImage);
        }
        image_rules::check_size(size, facts).map_err(|_| ApiErrorCode::BadRequestImageSize)?;
        self.images.insert(
            id,
            SimImage {
                state: initial_state(policy),
                size,
                width: facts.width,
                height: facts.height,
                sha256: crate::desired::ids::sha256_hex(png),
                uploaded_at_ms: now_ms,
            },
        );
        Ok(())
    }

    /// The images a message body refers to, as keys ([`id_key`]).
    fn images_used_by(body: &Value) -> Vec<String> {
        let mut out = vec![];
        if let Some(id) = body
            .pointer("/image/imageIdentifier")
            .and_then(Value::as_str)
        {
            out.push(id_key(id));
        }
        for b in body
            .get("bulletPoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = b.get("imageIdentifier").and_then(Value::as_str) {
                out.push(id_key(id));
            }
        }
        out
    }

    pub fn delete_image(&mut self, id: &str) -> Outcome<()> {
        let id = id_key(id);
        if !self.images.contains_key(&id) {
            return Err(ApiErrorCode::ImageNotFound);
        }
        if self
            .messages
            .values()
            .any(|m| Self::images_used_by(&m.body).contains(&id))
        {
            return Err(ApiErrorCode::ImageInUse);
        }
        self.images.remove(&id);
        Ok(())
    }

    pub fn image_list(&self) -> ImageListResponse {
        ImageListResponse {
            image_identifiers: self
                .images
                .iter()
                .map(|(id, i)| ImageListItem {
                    image_identifier: id.clone(),
                    image_state: i.state.clone(),
                    image_size: Some(i.size),
                })
                .collect(),
        }
    }

    /// Checks an Upload Message body as Apple does: known fields only, lengths in code
    /// points, bullet count, ABOVE_IMAGE, referenced images present.
    fn check_message_body(&self, body: &Value) -> Outcome<()> {
        fn text(v: Option<&Value>) -> Option<&str> {
            v.and_then(Value::as_str)
        }
        let bad = ApiErrorCode::GeneralBadRequest;
        let obj = body.as_object().ok_or(bad)?;
        // Unknown fields are refused, at every level.
        let only = |o: &serde_json::Map<String, Value>, allowed: &[&str]| {
            if o.keys().all(|k| allowed.contains(&k.as_str())) {
                Ok(())
            } else {
                Err(bad)
            }
        };
        only(
            obj,
            &["header", "body", "image", "headerPosition", "bulletPoints"],
        )?;
        let header = text(obj.get("header")).ok_or(bad)?;
        let message_body = text(obj.get("body")).ok_or(bad)?;
        if chars(header) > MAX_HEADER {
            return Err(ApiErrorCode::HeaderTooLong);
        }
        if chars(message_body) > MAX_BODY {
            return Err(ApiErrorCode::BodyTooLong);
        }
        let mut images = vec![];
        if let Some(image) = obj.get("image") {
            let image = image.as_object().ok_or(bad)?;
            only(image, &["imageIdentifier", "altText"])?;
            let id = text(image.get("imageIdentifier")).ok_or(bad)?;
            let alt = text(image.get("altText")).ok_or(bad)?;
            if chars(alt) > MAX_ALT_TEXT {
                return Err(ApiErrorCode::AltTextTooLong);
            }
            images.push(id);
        }
        match obj.get("headerPosition").map(|v| v.as_str()) {
            None | Some(Some("ABOVE_BODY")) => {}
            Some(Some("ABOVE_IMAGE")) if obj.contains_key("image") => {}
            Some(Some("ABOVE_IMAGE")) => return Err(ApiErrorCode::AboveImageRequiresAnImage),
            Some(_) => return Err(bad),
        }
        if let Some(bullets) = obj.get("bulletPoints") {
            let bullets = bullets.as_array().ok_or(bad)?;
            if bullets.len() > MAX_BULLET_POINTS {
                return Err(ApiErrorCode::TooManyBulletPoints);
            }
            for b in bullets {
                let b = b.as_object().ok_or(bad)?;
                only(b, &["text", "imageIdentifier", "altText"])?;
                let t = text(b.get("text")).ok_or(bad)?;
                let id = text(b.get("imageIdentifier")).ok_or(bad)?;
                let alt = text(b.get("altText")).ok_or(bad)?;
                if chars(t) > MAX_BULLET_TEXT {
                    return Err(ApiErrorCode::BulletPointTextTooLong);
                }
                if chars(alt) > MAX_ALT_TEXT {
                    return Err(ApiErrorCode::AltTextTooLong);
                }
                images.push(id);
            }
        }
        if images
            .iter()
            .any(|id| !self.images.contains_key(&id_key(id)))
        {
            return Err(ApiErrorCode::ImageNotFound);
        }
        Ok(())
    }

    pub fn upload_message(
        &mut self,
        policy: &Policy,
        id: &str,
        body: &[u8],
        now_ms: u64,
    ) -> Outcome<()> {
        parse_uuid(id)?;
        let id = id_key(id);
        let body: Value =
            serde_json::from_slice(body).map_err(|_| ApiErrorCode::GeneralBadRequest)?;
        if self.messages.contains_key(&id) {
            return Err(ApiErrorCode::MessageAlreadyExists);
        }
        if self.messages.len() >= MAX_MESSAGES {
            return Err(ApiErrorCode::MaximumNumberOfMessagesReached);
        }
        self.check_message_body(&body)?;
        self.messages.insert(
            id,
            SimMessage {
                state: initial_state(policy),
                body,
                uploaded_at_ms: now_ms,
            },
        );
        Ok(())
    }

    /// Deletes a message; pairs whose default it was lose their default.
    pub fn delete_message(&mut self, id: &str) -> Outcome<()> {
        let id = id_key(id);
        if self.messages.remove(&id).is_none() {
            return Err(ApiErrorCode::MessageNotFound);
        }
        for by_locale in self.defaults.values_mut() {
            by_locale.retain(|_, m| *m != id);
        }
        self.defaults.retain(|_, by_locale| !by_locale.is_empty());
        Ok(())
    }

    pub fn message_list(&self) -> MessageListResponse {
        MessageListResponse {
            message_identifiers: self
                .messages
                .iter()
                .map(|(id, m)| MessageListItem {
                    message_identifier: id.clone(),
                    message_state: m.state.clone(),
                })
                .collect(),
        }
    }

    fn check_pair(policy: &Policy, product: &str, locale: &str) -> Outcome<()> {
        if !crate::apple::limits::is_app_store_locale(locale) {
            return Err(ApiErrorCode::InvalidLocale);
        }
        if product.is_empty()
            || policy
                .products
                .as_ref()
                .is_some_and(|p| !p.iter().any(|x| x == product))
        {
            return Err(ApiErrorCode::InvalidProductId);
        }
        Ok(())
    }

    pub fn configure_default(
        &mut self,
        policy: &Policy,
        product: &str,
        locale: &str,
        body: &[u8],
    ) -> Outcome<()> {
        Self::check_pair(policy, product, locale)?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Request {
            message_identifier: String,
        }
        let request: Request =
            serde_json::from_slice(body).map_err(|_| ApiErrorCode::GeneralBadRequest)?;
        let id = id_key(&request.message_identifier);
        let message = self
            .messages
            .get(&id)
            .ok_or(ApiErrorCode::MessageNotFound)?;
        if message.state != ReviewState::Approved {
            return Err(ApiErrorCode::MessageNotApproved);
        }
        for image in Self::images_used_by(&message.body) {
            if self.images.get(&image).map(|i| &i.state) != Some(&ReviewState::Approved) {
                return Err(ApiErrorCode::ImageNotApproved);
            }
        }
        self.defaults
            .entry(product.to_string())
            .or_default()
            .insert(locale.to_string(), id);
        Ok(())
    }

    pub fn get_default(
        &self,
        policy: &Policy,
        product: &str,
        locale: &str,
    ) -> Outcome<DefaultConfiguration> {
        Self::check_pair(policy, product, locale)?;
        let id = self
            .defaults
            .get(product)
            .and_then(|m| m.get(locale))
            .ok_or(ApiErrorCode::DefaultMessageNotFound)?;
        Ok(DefaultConfiguration {
            message_identifier: Uuid::parse_str(id).map_err(|_| ApiErrorCode::GeneralInternal)?,
        })
    }

    pub fn delete_default(&mut self, policy: &Policy, product: &str, locale: &str) -> Outcome<()> {
        Self::check_pair(policy, product, locale)?;
        let by_locale = self
            .defaults
            .get_mut(product)
            .ok_or(ApiErrorCode::DefaultMessageNotFound)?;
        by_locale
            .remove(locale)
            .ok_or(ApiErrorCode::DefaultMessageNotFound)?;
        if by_locale.is_empty() {
            self.defaults.remove(product);
        }
        Ok(())
    }

    /// Production accepts a URL only when `sandbox_passed`: the app passed a performance
    /// test in sandbox (the shared record, see `server.rs`).
    pub fn configure_realtime_url(
        &mut self,
        policy: &Policy,
        body: &[u8],
        sandbox_passed: bool,
    ) -> Outcome<()> {
        let request: RealtimeUrl =
            serde_json::from_slice(body).map_err(|_| ApiErrorCode::BadRequestRealtimeUrl)?;
        let url = request.realtime_url;
        if !realtime_url_accepted(&url) {
            return Err(ApiErrorCode::BadRequestRealtimeUrl);
        }
        if policy.mode == Mode::Production && !sandbox_passed {
            return Err(ApiErrorCode::ForbiddenNoPassingTest);
        }
        self.realtime_url = Some(url);
        Ok(())
    }

    pub fn get_realtime_url(&self) -> Outcome<RealtimeUrl> {
        self.realtime_url
            .clone()
            .map(|realtime_url| RealtimeUrl { realtime_url })
            .ok_or(ApiErrorCode::RealtimeUrlNotFound)
    }

    pub fn delete_realtime_url(&mut self) -> Outcome<()> {
        self.realtime_url
            .take()
            .map(|_| ())
            .ok_or(ApiErrorCode::RealtimeUrlNotFound)
    }

    /// Initiate Performance Test: sandbox only, against the configured realtime URL,
    /// one run at a time. Records a PENDING run; returns its target.
    pub fn start_performance_test(
        &mut self,
        policy: &Policy,
        request_id: &str,
        body: &[u8],
        config: PerformanceTestConfig,
    ) -> Outcome<String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Request {
            original_transaction_id: String,
        }
        let request: Request = serde_json::from_slice(body)
            .map_err(|_| ApiErrorCode::InvalidPerformanceTestRequest)?;
        let id = request.original_transaction_id;
        if !is_transaction_id(&id) {
            return Err(ApiErrorCode::BadRequestTransactionId);
        }
        if policy.mode != Mode::Sandbox {
            return Err(ApiErrorCode::InvalidPerformanceTestRequest);
        }
        let target = self
            .realtime_url
            .clone()
            .ok_or(ApiErrorCode::InvalidPerformanceTestRequest)?;
        if self
            .performance_tests
            .values()
            .any(|t| t.result == TestResult::Pending)
        {
            return Err(ApiErrorCode::ExistingPerformanceTestRun);
        }
        self.performance_tests.insert(
            id_key(request_id),
            PerformanceTest {
                target: target.clone(),
                config: Some(config),
                result: TestResult::Pending,
                ..Default::default()
            },
        );
        Ok(target)
    }

    /// Records one attempt of a running test: `Ok` a valid answer, or how it failed.
    pub fn record_attempt(&mut self, request_id: &str, elapsed_ms: u64, outcome: Result<(), &str>) {
        let Some(test) = self.performance_tests.get_mut(&id_key(request_id)) else {
            return;
        };
        test.response_times_ms.push(elapsed_ms);
        match outcome {
            Ok(()) => test.successes += 1,
            Err(kind) => *test.failures.entry(kind.to_string()).or_default() += 1,
        }
    }

    /// Ends a run: PASS when the success rate reaches the threshold. Returns whether it
    /// passed.
    pub fn finish_performance_test(&mut self, request_id: &str) -> bool {
        let Some(test) = self.performance_tests.get_mut(&id_key(request_id)) else {
            return false;
        };
        let config = test.config.clone().unwrap_or_else(performance_test_config);
        let rate = success_rate(test.successes, config.total_requests);
        let passed = rate >= config.success_rate_threshold;
        test.result = if passed {
            TestResult::Pass
        } else {
            TestResult::Fail
        };
        if passed && !self.passed_urls.contains(&test.target) {
            self.passed_urls.push(test.target.clone());
        }
        passed
    }

    /// A run left PENDING by a simulator that stopped (an `--env local` process that
    /// exited, a restart) can never finish: it ends as FAIL, its unsent requests counted
    /// as OTHER, so it does not block the next test with ExistingPerformanceTestRun.
    pub fn end_interrupted_tests(&mut self) {
        for test in self.performance_tests.values_mut() {
            if test.result != TestResult::Pending {
                continue;
            }
            let total = test.config.as_ref().map_or(0, |c| c.total_requests);
            let unsent = total - test.response_times_ms.len() as i64;
            if unsent > 0 {
                *test.failures.entry("OTHER".into()).or_default() += unsent;
            }
            test.result = TestResult::Fail;
        }
    }

    /// Whether `message_id` is an APPROVED message whose images are APPROVED: what a
    /// realtime answer may refer to.
    pub fn message_usable(&self, message_id: &str) -> bool {
        self.messages.get(&id_key(message_id)).is_some_and(|m| {
            m.state == ReviewState::Approved
                && Self::images_used_by(&m.body)
                    .iter()
                    .all(|i| self.images.get(i).map(|i| &i.state) == Some(&ReviewState::Approved))
        })
    }

    pub fn performance_test_result(
        &self,
        request_id: &str,
    ) -> Outcome<PerformanceTestResultResponse> {
        Uuid::parse_str(request_id).map_err(|_| ApiErrorCode::InvalidRequestId)?;
        let test = self
            .performance_tests
            .get(&id_key(request_id))
            .ok_or(ApiErrorCode::PerformanceTestRunNotFound)?;
        let config = test.config.clone().unwrap_or_else(performance_test_config);
        let done = test.response_times_ms.len() as i64;
        let times = percentiles(&test.response_times_ms);
        Ok(PerformanceTestResultResponse {
            target: test.target.clone(),
            result: match test.result {
                TestResult::Pending => "PENDING",
                TestResult::Pass => "PASS",
                TestResult::Fail => "FAIL",
            }
            .to_string(),
            success_rate: Some(success_rate(test.successes, done.max(1))),
            num_pending: Some((config.total_requests - done).max(0)),
            response_times: times,
            failures: Some(test.failures.clone()),
            config,
        })
    }

    /// Sets review states; returns the ids that were not found.
    pub fn review(&mut self, ids: &[String], state: ReviewState) -> Vec<String> {
        let mut missing = vec![];
        for id in ids {
            let key = id_key(id);
            if let Some(m) = self.messages.get_mut(&key) {
                m.state = state.clone();
            } else if let Some(i) = self.images.get_mut(&key) {
                i.state = state.clone();
            } else {
                missing.push(id.clone());
            }
        }
        missing
    }

    /// Approves everything PENDING that was uploaded at or before `cutoff_ms`.
    pub fn approve_pending_before(&mut self, cutoff_ms: u64) {
        for m in self.messages.values_mut() {
            if m.state == ReviewState::Pending && m.uploaded_at_ms <= cutoff_ms {
                m.state = ReviewState::Approved;
            }
        }
        for i in self.images.values_mut() {
            if i.state == ReviewState::Pending && i.uploaded_at_ms <= cutoff_ms {
                i.state = ReviewState::Approved;
            }
        }
    }
}

/// Percent of `total` that succeeded, rounded down.
fn success_rate(successes: i64, total: i64) -> i64 {
    if total <= 0 {
        0
    } else {
        successes * 100 / total
    }
}

/// Average and nearest-rank percentiles of response times. Apple's models read `responseTimes` as always present (Apple's Node library throws on a
/// result without it): before any answer is measured, every figure is 0.
fn percentiles(times: &[u64]) -> Option<PerformanceTestResponseTimes> {
    if times.is_empty() {
        return Some(PerformanceTestResponseTimes {
            average: 0,
            p50: 0,
            p90: 0,
            p95: 0,
            p99: 0,
        });
    }
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let at = |p: usize| {
        let rank = (p * sorted.len()).div_ceil(100).max(1);
        sorted[rank - 1] as i64
    };
    Some(PerformanceTestResponseTimes {
        average: (sorted.iter().sum::<u64>() / sorted.len() as u64) as i64,
        p50: at(50),
        p90: at(90),
        p95: at(95),
        p99: at(99),
    })
}

/// The config of runs recorded before it was kept with them.
pub fn performance_test_config() -> PerformanceTestConfig {
    PerformanceTestConfig {
        max_concurrent_requests: 10,
        total_requests: 100,
        total_duration: 60_000,
        response_time_threshold: 700,
        success_rate_threshold: 95,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apple::image_rules::solid_png;

    fn production() -> Policy {
        Policy {
            mode: Mode::Production,
            products: Some(vec!["premium".into()]),
        }
    }

    const IMG: &str = "11111111-1111-4111-8111-111111111111";
    const MSG: &str = "22222222-2222-4222-8222-222222222222";

    #[test]
    fn uploads_are_not_idempotent_and_stay_pending_in_production() {
        let p = production();
        let mut app = AppState::default();
        let png = solid_png(3840, 200, [1, 2, 3], false);
        assert_eq!(
            app.upload_image(&p, IMG, Some("FULL_SIZE"), &png, 0),
            Ok(())
        );
        assert_eq!(
            app.upload_image(&p, IMG, Some("FULL_SIZE"), &png, 0),
            Err(ApiErrorCode::ImageAlreadyExists)
        );
        assert_eq!(app.images[IMG].state, ReviewState::Pending);
        let body = format!(
            r#"{{"header":"h","body":"b","image":{{"imageIdentifier":"{IMG}","altText":"a"}}}}"#
        );
        assert_eq!(app.upload_message(&p, MSG, body.as_bytes(), 0), Ok(()));
        assert_eq!(
            app.upload_message(&p, MSG, body.as_bytes(), 0),
            Err(ApiErrorCode::MessageAlreadyExists)
        );
        let set = format!(r#"{{"messageIdentifier":"{MSG}"}}"#);
        assert_eq!(
            app.configure_default(&p, "premium", "en-US", set.as_bytes()),
            Err(ApiErrorCode::MessageNotApproved)
        );
        app.review(&[MSG.into()], ReviewState::Approved);
        assert_eq!(
            app.configure_default(&p, "premium", "en-US", set.as_bytes()),
            Err(ApiErrorCode::ImageNotApproved)
        );
        app.review(&[IMG.into()], ReviewState::Approved);
        assert_eq!(
            app.configure_default(&p, "premium", "en-US", set.as_bytes()),
            Ok(())
        );
        assert_eq!(
            app.configure_default(&p, "premium", "en_US", set.as_bytes()),
            Err(ApiErrorCode::InvalidLocale)
        );
        // Apple's short codes only: `ja`, never `ja-JP`.
        assert_eq!(
            app.configure_default(&p, "premium", "ja-JP", set.as_bytes()),
            Err(ApiErrorCode::InvalidLocale)
        );
        assert_eq!(
            app.configure_default(&p, "premium", "ja", set.as_bytes()),
            Ok(())
        );
        assert_eq!(
            app.configure_default(&p, "other", "en-US", set.as_bytes()),
            Err(ApiErrorCode::InvalidProductId)
        );
        assert_eq!(app.delete_image(IMG), Err(ApiErrorCode::ImageInUse));
    }

    #[test]
    fn message_rules_answer_apples_numbers() {
        let p = production();
        let mut app = AppState::default();
        let cases = [
            (
                format!(r#"{{"header":"{}","body":"b"}}"#, "h".repeat(67)),
                ApiErrorCode::HeaderTooLong,
            ),
            (
                format!(r#"{{"header":"h","body":"{}"}}"#, "b".repeat(145)),
                ApiErrorCode::BodyTooLong,
            ),
            (
                r#"{"header":"h","body":"b","headerPosition":"ABOVE_IMAGE"}"#.to_string(),
                ApiErrorCode::AboveImageRequiresAnImage,
            ),
            (
                format!(
                    r#"{{"header":"h","body":"b","image":{{"imageIdentifier":"{IMG}","altText":"a"}}}}"#
                ),
                ApiErrorCode::ImageNotFound,
            ),
            (
                r#"{"header":"h","body":"b","extra":1}"#.to_string(),
                ApiErrorCode::GeneralBadRequest,
            ),
            (
                format!(
                    r#"{{"header":"h","body":"b","bulletPoints":[{}]}}"#,
                    vec![format!(r#"{{"text":"t","imageIdentifier":"{IMG}","altText":"a"}}"#); 6]
                        .join(",")
                ),
                ApiErrorCode::TooManyBulletPoints,
            ),
            (
                format!(
                    r#"{{"header":"h","body":"b","bulletPoints":[{{"text":"{}","imageIdentifier":"{IMG}","altText":"a"}}]}}"#,
                    "t".repeat(67)
                ),
                ApiErrorCode::BulletPointTextTooLong,
            ),
        ];
        for (body, code) in cases {
            assert_eq!(
                app.upload_message(&p, MSG, body.as_bytes(), 0),
                Err(code),
                "{body}"
            );
        }
        // 66 code points of a two-byte character pass
        let ok = format!(r#"{{"header":"{}","body":"b"}}"#, "ü".repeat(66));
        assert_eq!(app.upload_message(&p, MSG, ok.as_bytes(), 0), Ok(()));
    }

    #[test]
    fn realtime_url_needs_a_passing_sandbox_test_in_production() {
        let p = production();
        let mut app = AppState::default();
        let body = br#"{"realtimeURL":"https://example.com/hook"}"#;
        assert_eq!(
            app.configure_realtime_url(&p, br#"{"realtimeURL":"http://example.com"}"#, true),
            Err(ApiErrorCode::BadRequestRealtimeUrl)
        );
        assert_eq!(
            app.configure_realtime_url(&p, body, false),
            Err(ApiErrorCode::ForbiddenNoPassingTest)
        );
        assert_eq!(app.configure_realtime_url(&p, body, true), Ok(()));
        assert_eq!(
            app.get_realtime_url().unwrap().realtime_url,
            "https://example.com/hook"
        );
        assert_eq!(app.delete_realtime_url(), Ok(()));
        assert_eq!(
            app.delete_realtime_url(),
            Err(ApiErrorCode::RealtimeUrlNotFound)
        );
        assert!(realtime_url_accepted("http://127.0.0.1:9/x"));
        assert!(realtime_url_accepted("http://[::1]:9/x"));
        assert!(realtime_url_accepted("http://localhost/x"));
        assert!(!realtime_url_accepted("http://10.0.0.1/x"));
    }

    #[test]
    fn a_performance_test_runs_in_sandbox_one_at_a_time() {
        let sandbox = Policy {
            mode: Mode::Sandbox,
            products: None,
        };
        let mut app = AppState::default();
        let run = "33333333-3333-4333-8333-333333333333";
        let body = br#"{"originalTransactionId":"2000000123456789"}"#;
        let config = PerformanceTestConfig {
            total_requests: 4,
            ..performance_test_config()
        };
        assert_eq!(
            app.start_performance_test(&sandbox, run, body, config.clone()),
            Err(ApiErrorCode::InvalidPerformanceTestRequest)
        );
        app.configure_realtime_url(&sandbox, br#"{"realtimeURL":"https://e.com/h"}"#, false)
            .unwrap();
        assert_eq!(
            app.start_performance_test(
                &sandbox,
                run,
                br#"{"originalTransactionId":"x1"}"#,
                config.clone()
            ),
            Err(ApiErrorCode::BadRequestTransactionId)
        );
        assert_eq!(
            app.start_performance_test(&production(), run, body, config.clone()),
            Err(ApiErrorCode::InvalidPerformanceTestRequest)
        );
        assert_eq!(
            app.start_performance_test(&sandbox, run, body, config.clone()),
            Ok("https://e.com/h".into())
        );
        assert_eq!(
            app.start_performance_test(&sandbox, run, body, config.clone()),
            Err(ApiErrorCode::ExistingPerformanceTestRun)
        );
        // nothing measured yet: Apple's shape still carries responseTimes
        let started = app.performance_test_result(run).unwrap();
        let json = serde_json::to_value(&started).unwrap();
        assert_eq!(json["responseTimes"]["average"], 0, "{json}");
        assert_eq!(json["responseTimes"]["p99"], 0, "{json}");
        app.record_attempt(run, 100, Ok(()));
        app.record_attempt(run, 900, Err("TIMED_OUT"));
        let pending = app.performance_test_result(run).unwrap();
        assert_eq!(pending.result, "PENDING");
        assert_eq!(pending.num_pending, Some(2));
        app.record_attempt(run, 200, Ok(()));
        app.record_attempt(run, 300, Ok(()));
        assert!(!app.finish_performance_test(run));
        let done = app.performance_test_result(run).unwrap();
        assert_eq!(done.result, "FAIL");
        assert_eq!(done.success_rate, Some(75));
        assert_eq!(done.failures.unwrap()["TIMED_OUT"], 1);
        assert_eq!(done.response_times.unwrap().p50, 200);
        assert_eq!(
            app.performance_test_result("44444444-4444-4444-8444-444444444444"),
            Err(ApiErrorCode::PerformanceTestRunNotFound)
        );
        // a run the simulator stopped during ends as FAIL and blocks nothing
        let again = "55555555-5555-4555-8555-555555555555";
        app.start_performance_test(&sandbox, again, body, config.clone())
            .unwrap();
        app.record_attempt(again, 100, Ok(()));
        app.end_interrupted_tests();
        let ended = app.performance_test_result(again).unwrap();
        assert_eq!(ended.result, "FAIL");
        assert_eq!(ended.failures.unwrap()["OTHER"], 3);
        assert!(
            app.start_performance_test(&sandbox, run, body, config)
                .is_ok()
        );
    }

    #[test]
    fn images_are_checked_like_apple() {
        let p = Policy {
            mode: Mode::Sandbox,
            products: None,
        };
        let mut app = AppState::default();
        assert_eq!(
            app.upload_image(&p, IMG, None, b"nope", 0),
            Err(ApiErrorCode::InvalidImage)
        );
        assert_eq!(
            app.upload_image(
                &p,
                IMG,
                Some("BULLET_POINT"),
                &solid_png(1024, 1024, [0, 0, 0], true),
                0
            ),
            Err(ApiErrorCode::InvalidImage)
        );
        assert_eq!(
            app.upload_image(
                &p,
                IMG,
                Some("BULLET_POINT"),
                &solid_png(512, 512, [0, 0, 0], false),
                0
            ),
            Err(ApiErrorCode::BadRequestImageSize)
        );
        assert_eq!(
            app.upload_image(
                &p,
                IMG,
                Some("BULLET_POINT"),
                &solid_png(1024, 1024, [0, 0, 0], false),
                0
            ),
            Ok(())
        );
        assert_eq!(app.images[IMG].state, ReviewState::Approved);
        assert_eq!(app.delete_image(IMG), Ok(()));
        assert_eq!(app.delete_image(IMG), Err(ApiErrorCode::ImageNotFound));
    }
}
