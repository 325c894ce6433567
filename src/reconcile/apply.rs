//! Apply: observe, plan, and execute in Apple's order (`Phase`) — uploads, then (with
//! fresh review states) defaults, then, after a fresh read of every owned default, prunes,
//! then the realtime URL — planning again before each step, so that nothing apply did not
//! get done is ever assumed done. Every action ends with a typed `Outcome`, including the
//! ones never attempted. "Already exists" after an upload and "not found" after a delete
//! count as already there.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{StreamExt, stream};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::observe::{observe, refresh_defaults, refresh_lists};
use super::observed::Observed;
use super::planner::{
    Action, AppPlan, ContentKind, ContentState, DefaultState, Drift, Op, Phase, PlanOptions,
    RealtimeUrlState, Reason, Status, plan,
};
use super::{AppError, AppErrorKind};
use crate::apple::{ApiError, ApiErrorCode, AppleClient, Endpoint};
use crate::desired::{DesiredApp, DesiredImage, DesiredMessage};
use crate::manifest::EnvironmentName;

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub prune: bool,
    /// Poll until waiting actions can proceed, up to this long.
    pub wait: Option<Duration>,
    /// Execute this saved plan: refused when stale, and nothing outside it is done.
    pub saved: Option<AppPlan>,
    /// First pause between polls with `wait` (grows ×1.5 up to a minute).
    pub poll_interval: Duration,
    /// Requests of one phase in flight at once.
    pub parallelism: usize,
}

/// Why an action was not attempted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum NotAttempted {
    /// The app's run stopped before it (the error is the app's).
    AppStopped,
    /// `apply --plan FILE`: the saved plan does not hold this action.
    OutsideSavedPlan,
    /// It became ready after its step had run (the next run does it).
    BecameReadyLate,
}

/// What came of one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Apple accepted the write.
    Written,
    /// Apple already had it (already exists / not found on delete).
    AlreadyThere,
    /// Not done: waits on Apple's review or on an action before it.
    Waiting {
        reason: Reason,
    },
    /// Not done: REJECTED content or an image still in use.
    Blocked {
        reason: Reason,
    },
    /// Apple refused it or the request failed.
    Failed {
        error: AppError,
    },
    NotAttempted {
        why: NotAttempted,
    },
}

impl Outcome {
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Written | Outcome::AlreadyThere)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionReport {
    #[serde(flatten)]
    pub op: Op,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What apply did for one app × environment, and the plan of what Apple holds at its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppReport {
    pub bundle_id: String,
    pub environment: EnvironmentName,
    pub file: String,
    /// Set when the app's run could not start or had to stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AppError>,
    /// Every action, once, with its last outcome, in apply order.
    pub actions: Vec<ActionReport>,
    /// What Apple holds at the end, as far as this run read and wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_state: Option<EndState>,
}

/// The state an app ended in: review states, owned defaults, drift, realtime URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndState {
    pub content: Vec<ContentState>,
    pub defaults: Vec<DefaultState>,
    pub drift: Vec<Drift>,
    pub realtime_url: RealtimeUrlState,
}

impl EndState {
    /// The state a plan observed (what apply reports it ended in, and what plan reads to
    /// build the snapshot apply would write).
    pub fn of(plan: &AppPlan) -> EndState {
        EndState {
            content: plan.content.clone(),
            defaults: plan.defaults.clone(),
            drift: plan.drift.clone(),
            realtime_url: plan.realtime_url.clone(),
        }
    }
}

/// Counts of a report, for summaries and exit codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub written: usize,
    pub already_there: usize,
    pub waiting: usize,
    /// Of `waiting`: not sent because an endpoint's hourly budget is used up; the next run
    /// continues.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub waiting_for_budget: usize,
    /// Of `waiting`: message uploads not sent because Apple does not hold their images
    /// (their upload waits, was blocked or failed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub waiting_for_images: usize,
    pub blocked: usize,
    pub failed: usize,
    pub not_attempted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Tally {
    pub fn add(&mut self, other: Tally) {
        self.written += other.written;
        self.already_there += other.already_there;
        self.waiting += other.waiting;
        self.waiting_for_budget += other.waiting_for_budget;
        self.waiting_for_images += other.waiting_for_images;
        self.blocked += other.blocked;
        self.failed += other.failed;
        self.not_attempted += other.not_attempted;
    }
}

impl AppReport {
    pub fn new(bundle_id: &str, environment: EnvironmentName, file: &str) -> Self {
        AppReport {
            bundle_id: bundle_id.to_string(),
            environment,
            file: file.to_string(),
            error: None,
            actions: vec![],
            end_state: None,
        }
    }

    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for a in &self.actions {
            match a.outcome {
                Outcome::Written => t.written += 1,
                Outcome::AlreadyThere => t.already_there += 1,
                Outcome::Waiting {
                    reason: Reason::AppleBudgetUsedUp { .. },
                } => {
                    t.waiting += 1;
                    t.waiting_for_budget += 1;
                }
                Outcome::Waiting {
                    reason: Reason::ImagesNotOnApple { .. },
                } => {
                    t.waiting += 1;
                    t.waiting_for_images += 1;
                }
                Outcome::Waiting { .. } => t.waiting += 1,
                Outcome::Blocked { .. } => t.blocked += 1,
                Outcome::Failed { .. } => t.failed += 1,
                Outcome::NotAttempted { .. } => t.not_attempted += 1,
            }
        }
        t
    }

    /// Writes Apple accepted (not counting what was already there).
    pub fn writes(&self) -> usize {
        self.tally().written
    }

    /// True when something failed or was cut short: the run's exit code is 1.
    pub fn has_failures(&self) -> bool {
        self.error.is_some()
            || self.actions.iter().any(|a| {
                matches!(
                    a.outcome,
                    Outcome::Failed { .. }
                        | Outcome::NotAttempted {
                            why: NotAttempted::AppStopped
                        }
                )
            })
    }

    /// True when something is left for a later run (waiting, blocked, out of scope).
    pub fn has_pending(&self) -> bool {
        self.actions.iter().any(|a| !a.outcome.is_done())
    }
}

/// Receives each finished action, for progress and logs.
pub trait Progress: Sync {
    /// The first plan of an app has this many actions that apply may carry out.
    fn planned(&self, _actions: usize) {}
    fn finished(&self, op: &Op, outcome: &Outcome);
}

/// What the app's run learnt from one request beyond the action's own outcome.
enum Effect {
    Outcome(Outcome),
    /// Apple's cap is reached: this action is blocked, and the rest of the phase is not
    /// sent (every upload would get the same answer).
    HaltPhase(Outcome),
    /// The app cannot go on (credentials): stop its run.
    Stop(AppError),
}

/// The manifest's images and messages by id, built once per app.
struct Content<'a> {
    images: HashMap<Uuid, &'a DesiredImage>,
    messages: HashMap<Uuid, &'a DesiredMessage>,
}

impl<'a> Content<'a> {
    fn new(desired: &'a DesiredApp) -> Self {
        Content {
            images: desired.images.iter().map(|i| (i.id, i)).collect(),
            messages: desired.messages.iter().map(|m| (m.id, m)).collect(),
        }
    }
}

impl Content<'_> {
    /// For a message upload, the keys of its images Apple does not hold (the lists were
    /// read again after this run's image uploads): Apple would refuse it (ImageNotFound).
    fn images_missing(&self, op: &Op, observed: &Observed) -> Option<Vec<String>> {
        let Op::UploadMessage { id, .. } = op else {
            return None;
        };
        let message = Uuid::parse_str(id)
            .ok()
            .and_then(|id| self.messages.get(&id))?;
        let missing: Vec<String> = message
            .image_ids
            .iter()
            .filter(|image| !observed.images.contains_key(&image.to_string()))
            .map(|image| {
                self.images
                    .get(image)
                    .map_or_else(|| image.to_string(), |i| i.key.clone())
            })
            .collect();
        (!missing.is_empty()).then_some(missing)
    }
}

fn not_in_manifest(what: &str) -> Effect {
    Effect::Outcome(Outcome::Failed {
        error: AppError::new(
            AppErrorKind::Local,
            format!("the {what} is not in the manifest"),
        ),
    })
}

/// Sends one action's request. An endpoint found with its hourly budget used up is noted
/// in `spent`.
async fn execute(
    client: &AppleClient,
    content: &Content<'_>,
    spent: &SpentBudgets,
    op: &Op,
) -> Effect {
    use ApiErrorCode as E;
    let parse = |id: &str| Uuid::parse_str(id).ok();
    let result = match op {
        Op::UploadImage { id, .. } => match parse(id).and_then(|id| content.images.get(&id)) {
            Some(image) => client.upload_image(image.id, image.size, &image.png).await,
            None => return not_in_manifest("image"),
        },
        Op::UploadMessage { id, .. } => match parse(id).and_then(|id| content.messages.get(&id)) {
            Some(message) => client.upload_message(message.id, &message.body).await,
            None => return not_in_manifest("message"),
        },
        Op::SetDefault {
            product,
            locale,
            message_id,
            ..
        } => match parse(message_id) {
            Some(id) => client.configure_default(product, locale, id).await,
            None => return not_in_manifest("message"),
        },
        Op::DeleteDefault {
            product, locale, ..
        } => client.delete_default(product, locale).await,
        Op::PruneMessage { id } => client.delete_message(id).await,
        Op::PruneImage { id } => client.delete_image(id).await,
        Op::ConfigureRealtimeUrl { url, .. } => client.configure_realtime_url(url).await,
        Op::DeleteRealtimeUrl { .. } => client.delete_realtime_url().await,
    };
    let error = match result {
        Ok(()) => return Effect::Outcome(Outcome::Written),
        Err(e) => e,
    };
    let code = error.code();
    let outcome = match (op, code) {
        (Op::UploadImage { .. }, Some(E::ImageAlreadyExists))
        | (Op::UploadMessage { .. }, Some(E::MessageAlreadyExists))
        | (Op::DeleteDefault { .. }, Some(E::DefaultMessageNotFound))
        | (Op::PruneMessage { .. }, Some(E::MessageNotFound))
        | (Op::PruneImage { .. }, Some(E::ImageNotFound))
        | (Op::DeleteRealtimeUrl { .. }, Some(E::RealtimeUrlNotFound)) => Outcome::AlreadyThere,
        (Op::SetDefault { .. }, Some(code @ (E::MessageNotApproved | E::ImageNotApproved))) => {
            Outcome::Waiting {
                reason: Reason::AppleNotApproved { error: code },
            }
        }
        (Op::PruneImage { .. }, Some(E::ImageInUse)) => Outcome::Blocked {
            reason: Reason::ImageInUse,
        },
        (
            Op::UploadImage { .. } | Op::UploadMessage { .. },
            Some(E::MaximumNumberOfImagesReached | E::MaximumNumberOfMessagesReached),
        ) => {
            return Effect::HaltPhase(cap_reached(op));
        }
        (Op::ConfigureRealtimeUrl { .. }, Some(E::ForbiddenNoPassingTest)) => Outcome::Blocked {
            reason: Reason::NeedsPerformanceTest,
        },
        _ => match error {
            ApiError::Unauthorized { .. } => {
                return Effect::Stop(AppError::from(&error));
            }
            ApiError::RateBudgetExhausted { resets_at, .. } => {
                let reason = budget_used_up(op, resets_at);
                spent.note(op, &reason, resets_at);
                Outcome::Waiting { reason }
            }
            _ => Outcome::Failed {
                error: AppError::from(&error),
            },
        },
    };
    Effect::Outcome(outcome)
}

fn apply_in_memory(observed: &mut Observed, op: &Op) {
    match op {
        // Review states are unknown until the lists are read again.
        Op::UploadImage { .. } | Op::UploadMessage { .. } => {}
        Op::SetDefault {
            product,
            locale,
            message_id,
            ..
        } => observed.set_default(product, locale, Some(message_id.clone())),
        Op::DeleteDefault {
            product, locale, ..
        } => observed.set_default(product, locale, None),
        Op::PruneMessage { id } => {
            observed.messages.remove(id);
        }
        Op::PruneImage { id } => {
            observed.images.remove(id);
        }
        Op::ConfigureRealtimeUrl { url, .. } => observed.realtime_url = Some(url.clone()),
        Op::DeleteRealtimeUrl { .. } => observed.realtime_url = None,
    }
}

/// Every action's last outcome, kept in apply order.
#[derive(Default)]
struct Outcomes {
    by_op: BTreeMap<(Phase, Op), Outcome>,
}

impl Outcomes {
    fn record(&mut self, op: &Op, outcome: Outcome) {
        self.by_op.insert((op.phase(), op.clone()), outcome);
    }

    /// Done, blocked or failed in this run: not tried again in it.
    fn settled(&self, op: &Op) -> bool {
        self.by_op
            .get(&(op.phase(), op.clone()))
            .is_some_and(|o| !matches!(o, Outcome::Waiting { .. }))
    }

    fn into_reports(self) -> Vec<ActionReport> {
        self.by_op
            .into_iter()
            .map(|((_, op), outcome)| ActionReport { op, outcome })
            .collect()
    }
}

/// `op`'s endpoint has no hourly budget left until `frees_at`.
fn budget_used_up(op: &Op, frees_at: SystemTime) -> Reason {
    Reason::AppleBudgetUsedUp {
        endpoint: op.endpoint().name().to_string(),
        frees_at: time_words(frees_at),
    }
}

/// RFC 3339 in UTC with whole seconds, or `unix time N` for a time humantime cannot write
/// (after the year 9999: a `Retry-After` from a server is not to be trusted that far).
fn time_words(t: SystemTime) -> String {
    const YEAR_10000: u64 = 253_402_300_800;
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) if d.as_secs() < YEAR_10000 => humantime::format_rfc3339_seconds(t).to_string(),
        Ok(d) => format!("unix time {}", d.as_secs()),
        Err(_) => "unix time 0".into(),
    }
}

/// Endpoints whose hourly budget this run used up, why their actions wait and until when:
/// until then the rest of their actions are not sent (each would get the same answer);
/// other endpoints go on, and after it (a long `--wait`) they are sent again.
#[derive(Default)]
struct SpentBudgets(std::sync::Mutex<HashMap<Endpoint, (Reason, SystemTime)>>);

impl SpentBudgets {
    fn waiting(&self, op: &Op, now: SystemTime) -> Option<Outcome> {
        let spent = self.0.lock().unwrap_or_else(|e| e.into_inner());
        spent
            .get(&op.endpoint())
            .filter(|(_, frees_at)| now < *frees_at)
            .map(|(reason, _)| Outcome::Waiting {
                reason: reason.clone(),
            })
    }

    fn note(&self, op: &Op, reason: &Reason, frees_at: SystemTime) {
        let mut spent = self.0.lock().unwrap_or_else(|e| e.into_inner());
        spent.insert(op.endpoint(), (reason.clone(), frees_at));
    }
}

fn cap_reached(op: &Op) -> Outcome {
    let kind = match op {
        Op::UploadImage { .. } => ContentKind::Image,
        _ => ContentKind::Message,
    };
    Outcome::Blocked {
        reason: Reason::AppleCapReached { kind },
    }
}

/// Executes one phase's ready actions concurrently (at most `parallelism` at once; the
/// client's shared limit and per-endpoint gates bound them further). Once a request says
/// the app cannot go on, the actions not yet started are left unstarted (`None`). The
/// results come back in apply order, whatever order they finished in.
async fn run_phase(
    client: &AppleClient,
    content: &Content<'_>,
    ready: Vec<Action>,
    parallelism: usize,
    spent: &SpentBudgets,
    progress: &dyn Progress,
) -> Vec<(Action, Option<Effect>)> {
    let stopped = AtomicBool::new(false);
    let halted = AtomicBool::new(false);
    let mut results: Vec<(Action, Option<Effect>)> = stream::iter(ready)
        .map(|action| {
            let (stopped, halted) = (&stopped, &halted);
            async move {
                if stopped.load(Ordering::SeqCst) {
                    return (action, None);
                }
                if halted.load(Ordering::SeqCst) {
                    let outcome = cap_reached(&action.op);
                    return (action, Some(Effect::Outcome(outcome)));
                }
                if let Some(outcome) = spent.waiting(&action.op, SystemTime::now()) {
                    progress.finished(&action.op, &outcome);
                    return (action, Some(Effect::Outcome(outcome)));
                }
                let effect = execute(client, content, spent, &action.op).await;
                match &effect {
                    Effect::Outcome(outcome) => progress.finished(&action.op, outcome),
                    Effect::HaltPhase(outcome) => {
                        halted.store(true, Ordering::SeqCst);
                        progress.finished(&action.op, outcome);
                    }
                    Effect::Stop(error) => {
                        stopped.store(true, Ordering::SeqCst);
                        progress.finished(
                            &action.op,
                            &Outcome::Failed {
                                error: error.clone(),
                            },
                        );
                    }
                }
                (action, Some(effect))
            }
        })
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    results.sort_by(|a, b| a.0.op.cmp(&b.0.op));
    results
}

/// Checks a saved plan against the fresh one: same manifests, same Apple state.
fn check_saved(saved: &AppPlan, fresh: &AppPlan) -> Result<(), AppError> {
    if saved.manifest_digest != fresh.manifest_digest {
        return Err(AppError::new(
            AppErrorKind::Local,
            "the saved plan was made from other manifests; run `retainctl plan --out` again",
        ));
    }
    if saved.observed_fingerprint != fresh.observed_fingerprint {
        return Err(AppError::new(
            AppErrorKind::Local,
            "stale plan: Apple's state has changed since the plan was made; run `retainctl plan --out` again",
        ));
    }
    Ok(())
}

/// The order of apply's steps for this first plan: Apple's order ([`Phase::ALL`]), and
/// over Apple's cap with --prune, first just enough deletions to make room (Apple's hourly
/// budget is better spent on the uploads); the rest are deleted in their usual place.
fn step_order(first: &AppPlan) -> Vec<(Phase, Option<usize>)> {
    let room: Vec<(Phase, usize)> = first
        .over_cap
        .iter()
        .filter(|c| c.room_made_by_prune)
        .map(|c| match c.kind {
            ContentKind::Message => (Phase::PruneMessages, c.must_go),
            ContentKind::Image => (Phase::PruneImages, c.must_go),
        })
        .collect();
    [Phase::PruneMessages, Phase::PruneImages]
        .into_iter()
        .filter_map(|p| {
            room.iter()
                .find(|(q, _)| *q == p)
                .map(|(_, n)| (p, Some(*n)))
        })
        .chain(Phase::ALL.into_iter().map(|p| (p, None)))
        .collect()
}

/// The outcome of an action the last plan holds that this run did not settle.
fn unsettled_outcome(action: Action, permitted: bool, stopped: bool) -> Outcome {
    if !permitted {
        Outcome::NotAttempted {
            why: NotAttempted::OutsideSavedPlan,
        }
    } else if stopped {
        Outcome::NotAttempted {
            why: NotAttempted::AppStopped,
        }
    } else {
        match action.status {
            Status::Waiting => Outcome::Waiting {
                reason: action.reason,
            },
            Status::Blocked => Outcome::Blocked {
                reason: action.reason,
            },
            Status::Ready => Outcome::NotAttempted {
                why: NotAttempted::BecameReadyLate,
            },
        }
    }
}

/// One app's apply in progress: what it was given, what it has read of Apple, and every
/// action's outcome so far.
struct AppRun<'a> {
    client: &'a AppleClient,
    desired: &'a DesiredApp,
    env: EnvironmentName,
    file: &'a str,
    options: &'a ApplyOptions,
    progress: &'a dyn Progress,
    content: Content<'a>,
    observed: Observed,
    outcomes: Outcomes,
    spent: SpentBudgets,
}

impl AppRun<'_> {
    fn plan(&self) -> AppPlan {
        let options = PlanOptions {
            prune: self.options.prune,
        };
        plan(self.desired, self.env, self.file, &self.observed, options)
    }

    /// With `apply --plan FILE`, only what the saved plan holds.
    fn permitted(&self, op: &Op) -> bool {
        self.options
            .saved
            .as_ref()
            .is_none_or(|s| s.actions.iter().any(|a| &a.op == op))
    }

    /// One step: plans again (reading Apple again first where the step deletes), then
    /// carries out at most `at_most` of its ready actions. An error that stops the app is
    /// returned; every outcome is recorded.
    async fn step(&mut self, phase: Phase, at_most: Option<usize>) -> Result<(), AppError> {
        let mut current = self.plan();
        if phase == Phase::PruneMessages
            && current
                .actions
                .iter()
                .any(|a| matches!(a.op, Op::PruneMessage { .. }))
        {
            // Deletions are decided from a fresh read, never from what this run did:
            // a default another run (or a refused write) left in place stays.
            refresh_lists(self.client, &mut self.observed).await?;
            refresh_defaults(self.client, self.desired, &mut self.observed).await?;
            current = self.plan();
        }
        let mut ready: Vec<Action> = current
            .actions
            .into_iter()
            .filter(|a| a.status == Status::Ready && a.op.phase() == phase)
            .filter(|a| self.permitted(&a.op) && !self.outcomes.settled(&a.op))
            .take(at_most.unwrap_or(usize::MAX))
            .collect();
        // Not sent: an endpoint whose budget is still used up, a message whose images
        // Apple does not hold (it would refuse it).
        let now = SystemTime::now();
        let mut not_sent = vec![];
        ready.retain(|action| {
            let waits = self.spent.waiting(&action.op, now).or_else(|| {
                self.content
                    .images_missing(&action.op, &self.observed)
                    .map(|images| Outcome::Waiting {
                        reason: Reason::ImagesNotOnApple { images },
                    })
            });
            match waits {
                Some(outcome) => {
                    not_sent.push((action.op.clone(), outcome));
                    false
                }
                None => true,
            }
        });
        for (op, outcome) in not_sent {
            // told once: a later pass of `--wait` finds it waiting again
            if !self.outcomes.by_op.contains_key(&(op.phase(), op.clone())) {
                self.progress.finished(&op, &outcome);
            }
            self.outcomes.record(&op, outcome);
        }
        let mut uploaded = false;
        let mut stop = None;
        for (action, effect) in run_phase(
            self.client,
            &self.content,
            ready,
            self.options.parallelism,
            &self.spent,
            self.progress,
        )
        .await
        {
            let outcome = match effect {
                // Not started: an earlier request of the phase stopped the app.
                None => continue,
                Some(Effect::Outcome(o) | Effect::HaltPhase(o)) => o,
                Some(Effect::Stop(error)) => {
                    stop.get_or_insert(error.clone());
                    Outcome::Failed { error }
                }
            };
            if outcome.is_done() {
                uploaded |= action.op.is_write_of_content();
                apply_in_memory(&mut self.observed, &action.op);
            }
            self.outcomes.record(&action.op, outcome);
        }
        if let Some(error) = stop {
            return Err(error);
        }
        if uploaded {
            refresh_lists(self.client, &mut self.observed).await?;
        }
        Ok(())
    }

    /// Whether anything this run may still do waits on Apple (worth polling for).
    fn still_waiting(&self) -> bool {
        self.plan().actions.iter().any(|a| {
            a.status == Status::Waiting && self.permitted(&a.op) && !self.outcomes.settled(&a.op)
        })
    }

    /// The report: whatever the last plan still holds that this run did not settle gets
    /// its outcome; an action that failed stays failed even if the last plan no longer
    /// lists it.
    fn finish(mut self, stopped: Option<AppError>) -> AppReport {
        let last = self.plan();
        let mut report = AppReport::new(&self.desired.bundle_id, self.env, self.file);
        report.end_state = Some(EndState::of(&last));
        for action in last.actions {
            if self
                .outcomes
                .by_op
                .contains_key(&(action.op.phase(), action.op.clone()))
            {
                // Settled, or waiting on Apple's own refusal, which says more than the plan.
                continue;
            }
            let op = action.op.clone();
            let outcome = unsettled_outcome(action, self.permitted(&op), stopped.is_some());
            self.outcomes.record(&op, outcome);
        }
        report.error = stopped;
        report.actions = self.outcomes.into_reports();
        report
    }
}

/// Applies one app in one environment. Never fails as a whole: an error that stops the
/// app is the report's `error`, and every action it did not reach is `NotAttempted`.
/// Steps: read Apple and plan; check a saved plan; each step of [`step_order`]; with
/// `--wait`, poll and go through the steps again while something waits on Apple; then the
/// report.
pub async fn apply_app(
    client: &AppleClient,
    desired: &DesiredApp,
    env: EnvironmentName,
    file: &str,
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> AppReport {
    let observed = match observe(client, desired, env).await {
        Ok(o) => o,
        Err(e) => {
            let mut report = AppReport::new(&desired.bundle_id, env, file);
            report.error = Some(AppError::from(&e));
            return report;
        }
    };
    let mut run = AppRun {
        client,
        desired,
        env,
        file,
        options,
        progress,
        content: Content::new(desired),
        observed,
        outcomes: Outcomes::default(),
        spent: SpentBudgets::default(),
    };
    let first = run.plan();
    if let Some(saved) = &options.saved
        && let Err(e) = check_saved(saved, &first)
    {
        let mut report = AppReport::new(&desired.bundle_id, env, file);
        report.error = Some(e);
        return report;
    }
    progress.planned(
        first
            .actions
            .iter()
            .filter(|a| a.status != Status::Blocked && run.permitted(&a.op))
            .count(),
    );
    let steps = step_order(&first);
    let deadline = options.wait.map(|w| Instant::now() + w);
    let mut pause = options.poll_interval.max(Duration::from_millis(50));
    let stopped: Option<AppError> = 'run: loop {
        for &(phase, at_most) in &steps {
            if let Err(error) = run.step(phase, at_most).await {
                break 'run Some(error);
            }
        }
        let Some(deadline) = deadline else {
            break None;
        };
        if !run.still_waiting() || Instant::now() + pause > deadline {
            break None;
        }
        tokio::time::sleep(pause).await;
        pause = (pause.mul_f32(1.5)).min(Duration::from_secs(60));
        if let Err(e) = refresh_lists(client, &mut run.observed).await {
            break Some(AppError::from(&e));
        }
    };
    run.finish(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::planner::CapState;

    fn plan_over_cap(caps: Vec<CapState>) -> AppPlan {
        let mut plan = AppPlan::failed(
            "com.example.app",
            EnvironmentName::Sandbox,
            "app.yaml",
            AppError::new(AppErrorKind::Local, "unused"),
        );
        plan.over_cap = caps;
        plan
    }

    fn cap(kind: ContentKind, must_go: usize, room_made_by_prune: bool) -> CapState {
        CapState {
            kind,
            limit: 2000,
            on_apple: 2000,
            uploads: must_go,
            must_go,
            prunable: must_go,
            room_made_by_prune,
        }
    }

    #[test]
    fn steps_follow_apples_order_and_make_room_first_only_when_prune_can() {
        let all: Vec<(Phase, Option<usize>)> = Phase::ALL.iter().map(|p| (*p, None)).collect();
        assert_eq!(step_order(&plan_over_cap(vec![])), all);
        // over the cap without enough to prune: no room-making step
        assert_eq!(
            step_order(&plan_over_cap(vec![cap(ContentKind::Message, 5, false)])),
            all
        );
        let mut room = vec![
            (Phase::PruneMessages, Some(5)),
            (Phase::PruneImages, Some(3)),
        ];
        room.extend(all.iter().copied());
        assert_eq!(
            step_order(&plan_over_cap(vec![
                cap(ContentKind::Image, 3, true),
                cap(ContentKind::Message, 5, true),
            ])),
            room
        );
    }

    #[test]
    fn an_unsettled_action_says_why_it_was_not_done() {
        let action = |status, reason| Action {
            op: Op::PruneMessage { id: "x".into() },
            status,
            reason,
        };
        assert_eq!(
            unsettled_outcome(action(Status::Ready, Reason::NotInManifest), false, false),
            Outcome::NotAttempted {
                why: NotAttempted::OutsideSavedPlan
            }
        );
        assert_eq!(
            unsettled_outcome(action(Status::Ready, Reason::NotInManifest), true, true),
            Outcome::NotAttempted {
                why: NotAttempted::AppStopped
            }
        );
        assert_eq!(
            unsettled_outcome(action(Status::Ready, Reason::NotInManifest), true, false),
            Outcome::NotAttempted {
                why: NotAttempted::BecameReadyLate
            }
        );
        assert_eq!(
            unsettled_outcome(action(Status::Waiting, Reason::NotInManifest), true, false),
            Outcome::Waiting {
                reason: Reason::NotInManifest
            }
        );
        assert_eq!(
            unsettled_outcome(action(Status::Blocked, Reason::ImageInUse), true, false),
            Outcome::Blocked {
                reason: Reason::ImageInUse
            }
        );
    }

    #[test]
    fn a_spent_budget_holds_its_endpoint_until_it_frees_up_and_no_other() {
        let spent = SpentBudgets::default();
        let delete = Op::PruneMessage { id: "x".into() };
        let upload = Op::PruneImage { id: "y".into() };
        let now = SystemTime::now();
        let frees_at = now + Duration::from_secs(600);
        let reason = budget_used_up(&delete, frees_at);
        spent.note(&delete, &reason, frees_at);
        assert_eq!(
            spent.waiting(&delete, now),
            Some(Outcome::Waiting {
                reason: reason.clone()
            })
        );
        assert_eq!(
            spent.waiting(&upload, now),
            None,
            "another endpoint goes on"
        );
        assert_eq!(
            spent.waiting(&delete, frees_at),
            None,
            "sent again once it frees up"
        );
    }

    #[test]
    fn a_time_past_the_year_9999_is_written_as_unix_time() {
        let far = UNIX_EPOCH + Duration::from_secs(300_000_000_000_000 / 1000);
        assert_eq!(time_words(far), "unix time 300000000000");
        assert_eq!(
            time_words(UNIX_EPOCH + Duration::from_secs(1_796_555_112)),
            "2026-12-06T11:05:12Z"
        );
    }
}
