//! Apply: observe, plan, and execute in Apple's order — uploads, then (with fresh review
//! states) defaults and default deletions, then prunes and the realtime URL — planning
//! again before each step so that a failure never lets a later step act on a guess.
//! "Already exists" after an upload and "not found" after a delete count as done.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::observe::{observe, refresh_lists};
use super::observed::Observed;
use super::planner::{Action, AppPlan, Op, PlanOptions, Status, plan};
use crate::apple::{ApiError, ApiErrorCode, AppleClient};
use crate::desired::DesiredApp;
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
}

#[derive(Debug, Clone, Serialize)]
pub struct Done {
    #[serde(flatten)]
    pub op: Op,
    pub note: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyOutcome {
    pub done: Vec<Done>,
    pub failed: Vec<Done>,
    /// Actions still waiting on Apple's review at the end.
    pub waiting: Vec<Action>,
    /// Actions blocked by REJECTED content (or an image still in use).
    pub blocked: Vec<Action>,
    /// Problems outside any one action (reading Apple's lists again).
    pub errors: Vec<String>,
}

impl ApplyOutcome {
    pub fn writes(&self) -> usize {
        self.done
            .iter()
            .filter(|d| d.note != "already done")
            .count()
    }
}

/// Receives each finished action, for progress and logs.
pub trait Progress {
    /// The first plan of an app has this many actions that apply may carry out.
    fn planned(&self, _actions: usize) {}
    fn finished(&self, op: &Op, result: &Result<String, String>);
}

enum Effect {
    Done(String),
    Waiting(String),
    Blocked(String),
    Failed(String),
    /// The app cannot go on (credentials, budget): stop its run.
    Fatal(String),
}

async fn execute(client: &AppleClient, desired: &DesiredApp, op: &Op) -> Effect {
    use ApiErrorCode as E;
    let result = match op {
        Op::UploadImage { id, .. } => match desired.images.iter().find(|i| &i.id.to_string() == id)
        {
            Some(image) => client.upload_image(image.id, image.size, &image.png).await,
            None => return Effect::Failed("the image is not in the manifest".into()),
        },
        Op::UploadMessage { id, .. } => {
            match desired.messages.iter().find(|m| &m.id.to_string() == id) {
                Some(message) => client.upload_message(message.id, &message.body).await,
                None => return Effect::Failed("the message is not in the manifest".into()),
            }
        }
        Op::SetDefault {
            product,
            locale,
            message_id,
            ..
        } => match uuid::Uuid::parse_str(message_id) {
            Ok(id) => client.configure_default(product, locale, id).await,
            Err(_) => return Effect::Failed("not a message id".into()),
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
        Ok(()) => return Effect::Done("done".into()),
        Err(e) => e,
    };
    let code = error.code();
    match (op, code) {
        (Op::UploadImage { .. }, Some(E::ImageAlreadyExists))
        | (Op::UploadMessage { .. }, Some(E::MessageAlreadyExists))
        | (Op::DeleteDefault { .. }, Some(E::DefaultMessageNotFound))
        | (Op::PruneMessage { .. }, Some(E::MessageNotFound))
        | (Op::PruneImage { .. }, Some(E::ImageNotFound))
        | (Op::DeleteRealtimeUrl { .. }, Some(E::RealtimeUrlNotFound)) => {
            Effect::Done("already done".into())
        }
        (Op::SetDefault { .. }, Some(E::MessageNotApproved | E::ImageNotApproved)) => {
            Effect::Waiting(format!("Apple says {}", code.expect("matched")))
        }
        (Op::PruneImage { .. }, Some(E::ImageInUse)) => {
            Effect::Blocked("kept: a message that is not in the manifest still uses it".into())
        }
        _ => match error {
            ApiError::Unauthorized { .. } | ApiError::RateBudgetExhausted { .. } => {
                Effect::Fatal(error.to_string())
            }
            _ => Effect::Failed(error.to_string()),
        },
    }
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

/// Errors that stop before anything is done: observation failed, or a stale saved plan.
pub async fn apply_app(
    client: &AppleClient,
    desired: &DesiredApp,
    env: EnvironmentName,
    file: &str,
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<ApplyOutcome, String> {
    let plan_options = PlanOptions {
        prune: options.prune,
    };
    let mut observed = observe(client, desired).await.map_err(|e| e.to_string())?;
    let first = plan(desired, env, file, &observed, plan_options);
    let allowed: Option<BTreeSet<Op>> = match &options.saved {
        Some(saved) => {
            if saved.manifest_digest != first.manifest_digest {
                return Err(format!(
                    "{}: the saved plan was made from other manifests; run `retainctl plan --out` again",
                    desired.bundle_id
                ));
            }
            if saved.observed_fingerprint != first.observed_fingerprint {
                return Err(format!(
                    "{}: stale plan: Apple's state has changed since the plan was made; run `retainctl plan --out` again",
                    desired.bundle_id
                ));
            }
            Some(saved.actions.iter().map(|a| a.op.clone()).collect())
        }
        None => None,
    };
    let permitted = |op: &Op| allowed.as_ref().is_none_or(|a| a.contains(op));

    progress.planned(
        first
            .actions
            .iter()
            .filter(|a| a.status != Status::Blocked && permitted(&a.op))
            .count(),
    );
    let mut outcome = ApplyOutcome::default();
    let mut settled: BTreeSet<Op> = BTreeSet::new();
    let mut extra_blocked: Vec<Action> = vec![];
    let deadline = options.wait.map(|w| Instant::now() + w);
    let mut pause = options.poll_interval.max(Duration::from_millis(50));
    loop {
        for phases in [&[1u8, 2][..], &[3, 4], &[5, 6, 7]] {
            let current = plan(desired, env, file, &observed, plan_options);
            let ready: Vec<Action> = current
                .actions
                .into_iter()
                .filter(|a| a.status == Status::Ready && phases.contains(&a.op.phase()))
                .filter(|a| permitted(&a.op) && !settled.contains(&a.op))
                .collect();
            let mut uploaded = false;
            for action in ready {
                let effect = execute(client, desired, &action.op).await;
                let report = match &effect {
                    Effect::Done(note) => Ok(note.clone()),
                    Effect::Waiting(why) | Effect::Blocked(why) => Ok(why.clone()),
                    Effect::Failed(e) | Effect::Fatal(e) => Err(e.clone()),
                };
                progress.finished(&action.op, &report);
                match effect {
                    Effect::Done(note) => {
                        uploaded |= action.op.is_write_of_content();
                        apply_in_memory(&mut observed, &action.op);
                        settled.insert(action.op.clone());
                        outcome.done.push(Done {
                            op: action.op,
                            note,
                        });
                    }
                    Effect::Waiting(_) => {}
                    Effect::Blocked(why) => {
                        settled.insert(action.op.clone());
                        extra_blocked.push(Action {
                            status: Status::Blocked,
                            reason: why,
                            ..action
                        });
                    }
                    Effect::Failed(e) => {
                        settled.insert(action.op.clone());
                        outcome.failed.push(Done {
                            op: action.op,
                            note: e,
                        });
                    }
                    Effect::Fatal(e) => {
                        outcome.failed.push(Done {
                            op: action.op,
                            note: e,
                        });
                        return Ok(outcome);
                    }
                }
            }
            if uploaded && let Err(e) = refresh_lists(client, &mut observed).await {
                outcome
                    .errors
                    .push(format!("reading the lists again failed: {e}"));
                return Ok(outcome);
            }
        }
        let last = plan(desired, env, file, &observed, plan_options);
        let open = |status: Status| -> Vec<Action> {
            last.actions
                .iter()
                .filter(|a| a.status == status && permitted(&a.op) && !settled.contains(&a.op))
                .cloned()
                .collect()
        };
        outcome.waiting = open(Status::Waiting);
        outcome.waiting.extend(
            last.actions
                .iter()
                .filter(|a| {
                    a.status == Status::Ready && permitted(&a.op) && !settled.contains(&a.op)
                })
                .cloned(),
        );
        outcome.blocked = open(Status::Blocked);
        outcome.blocked.extend(extra_blocked.iter().cloned());
        let Some(deadline) = deadline else { break };
        if outcome.waiting.is_empty() || Instant::now() + pause > deadline {
            break;
        }
        tokio::time::sleep(pause).await;
        pause = (pause.mul_f32(1.5)).min(Duration::from_secs(60));
        if let Err(e) = refresh_lists(client, &mut observed).await {
            return Err(format!(
                "{}: reading the lists failed while waiting: {e}",
                desired.bundle_id
            ));
        }
    }
    Ok(outcome)
}
