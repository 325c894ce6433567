//! Rendering plans, status and apply reports for people and machines: one module per
//! format (`text`, `markdown`, `json`, `github`) over ONE description of each action,
//! reason and outcome, here. Pure: values in, strings out; the command layer decides
//! where they go.

pub mod github;
pub mod json;
pub mod markdown;
pub mod report;
pub mod text;

use std::collections::BTreeMap;

use crate::apple::model::ReviewState;
use crate::reconcile::apply::{AppReport, NotAttempted, Outcome, Tally};
use crate::reconcile::planner::{
    ContentKind, KeptBecause, Op, Pair, PartState, RealtimeUrlPrecondition, Reason, Status,
};
use crate::reconcile::{AppError, AppPlan};

pub use markdown::{MARKDOWN_LIMIT, PLAN_MARKER, STATUS_MARKER, cap_markdown};

/// One piece of an action's target, borrowed from the action; each format shows it its
/// own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A key, product or id: plain in text, `code` in markdown.
    Code(&'a str),
    /// A locale: `[en-US]` in text, plain in markdown.
    Locale(&'a str),
    /// An image size: `(FULL_SIZE)` in text, plain in markdown.
    Size(&'static str),
    /// Plain words.
    Words(&'static str),
    /// A parenthesised aside.
    Aside(Vec<Piece<'a>>),
}

/// `+` adds, `~` changes, `-` deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    Add,
    Change,
    Delete,
}

impl Sign {
    pub fn as_str(self) -> &'static str {
        match self {
            Sign::Add => "+",
            Sign::Change => "~",
            Sign::Delete => "-",
        }
    }
}

/// The one description of an action that every format renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionView<'a> {
    pub sign: Sign,
    pub verb: &'static str,
    /// At most five pieces: kept inline, as a plan renders tens of thousands.
    pub target: smallvec::SmallVec<[Piece<'a>; 5]>,
}

fn code(s: &str) -> Piece<'_> {
    Piece::Code(s)
}

pub fn describe(op: &Op) -> ActionView<'_> {
    let (sign, verb, target) = match op {
        Op::UploadImage { key, size, id } => (
            Sign::Add,
            "upload image",
            smallvec::smallvec![code(key), Piece::Size(size.as_str()), code(id)],
        ),
        Op::UploadMessage { key, locale, id } => (
            Sign::Add,
            "upload message",
            smallvec::smallvec![code(key), Piece::Locale(locale), code(id)],
        ),
        Op::SetDefault {
            product,
            locale,
            message_key,
            message_id,
            replaces,
        } => {
            let mut target = smallvec::smallvec![
                code(product),
                Piece::Locale(locale),
                Piece::Words("→"),
                code(message_key),
                code(message_id),
            ];
            if let Some(r) = replaces {
                target.push(Piece::Aside(vec![Piece::Words("replaces"), code(r)]));
            }
            (Sign::Change, "set default", target)
        }
        Op::DeleteDefault {
            product,
            locale,
            message_id,
        } => (
            Sign::Delete,
            "delete default",
            smallvec::smallvec![
                code(product),
                Piece::Locale(locale),
                Piece::Aside(vec![Piece::Words("was"), code(message_id)]),
            ],
        ),
        Op::PruneMessage { id } => (
            Sign::Delete,
            "delete message",
            smallvec::smallvec![
                code(id),
                Piece::Aside(vec![Piece::Words("not in the manifest")]),
            ],
        ),
        Op::PruneImage { id } => (
            Sign::Delete,
            "delete image",
            smallvec::smallvec![
                code(id),
                Piece::Aside(vec![Piece::Words("not in the manifest")]),
            ],
        ),
        Op::ConfigureRealtimeUrl { url, .. } => (
            Sign::Change,
            "configure realtime URL",
            smallvec::smallvec![code(url)],
        ),
        Op::DeleteRealtimeUrl { url } => (
            Sign::Delete,
            "delete realtime URL",
            smallvec::smallvec![code(url)],
        ),
    };
    ActionView { sign, verb, target }
}

pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Ready => "ready",
        Status::Waiting => "waiting",
        Status::Blocked => "blocked",
    }
}

/// One realtime rule on one line: `* [en-US, de-DE] buckets 0–50 → promotionalOffer
/// `offer` (offer winback)`.
pub fn describe_rule(rule: &crate::realtime::Rule) -> String {
    use crate::realtime::RuleAnswer;
    let mut out = rule.product.clone();
    if let Some(locales) = &rule.locales {
        out.push_str(&format!(" [{}]", locales.join(", ")));
    }
    if let Some(b) = rule.buckets {
        out.push_str(&format!(
            " buckets {}–{} ({} %)",
            b.from,
            b.to,
            b.to - b.from
        ));
    }
    out.push_str(" → ");
    match &rule.answer {
        RuleAnswer::Message(key) => out.push_str(&format!("message {key}")),
        RuleAnswer::PromotionalOffer { message, offer_id } => {
            out.push_str(&format!("promotionalOffer {message} (offer {offer_id})"))
        }
        RuleAnswer::AlternateProduct {
            message,
            product_id,
            billing_plan_type,
        } => {
            out.push_str(&format!(
                "alternateProduct {message} (switch to {product_id}"
            ));
            if let Some(plan) = billing_plan_type {
                out.push_str(&format!(", {plan}"));
            }
            out.push(')');
        }
        RuleAnswer::Control => out.push_str("control (nothing: Apple's default message)"),
    }
    out
}

/// `rule 2 changed (against the snapshot): BEFORE ⇒ AFTER`, the words of a rule change.
pub fn describe_rule_change(c: &crate::reconcile::rule_diff::RuleChange) -> String {
    use crate::reconcile::rule_diff::RulesBase;
    let against = match c.against {
        RulesBase::Base => "the base",
        RulesBase::Snapshot => "the realtime snapshot",
    };
    let number = c.after_number.or(c.before_number).unwrap_or(0);
    let what = match (&c.before, &c.after) {
        (Some(before), Some(after)) => {
            format!("{} ⇒ {}", describe_rule(before), describe_rule(after))
        }
        (Some(rule), None) | (None, Some(rule)) => describe_rule(rule),
        (None, None) => String::new(),
    };
    format!(
        "rule {number} {} (against {against}): {what}",
        change_word(c.change)
    )
}

/// `2 realtime rule changes, 1 realtime snapshot change`, or `None` when there are none.
pub fn realtime_counts(plan: &crate::reconcile::Plan) -> Option<String> {
    let mut parts = vec![];
    match plan.rule_change_count() {
        0 => {}
        n => parts.push(plural(n, "realtime rule change", "realtime rule changes")),
    }
    match plan.snapshot_change_count() {
        0 => {}
        n => parts.push(plural(
            n,
            "realtime snapshot change",
            "realtime snapshot changes",
        )),
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `serves offer [en-US] <new id> instead of <old id>`, `appAppleId changes: 1 ⇒ 2`.
pub fn describe_snapshot_change(c: &crate::reconcile::rule_diff::SnapshotChange) -> String {
    use crate::reconcile::rule_diff::SnapshotChange;
    let or_none = |v: Option<String>| v.unwrap_or_else(|| "none".to_string());
    match c {
        SnapshotChange::Serves {
            key,
            locale,
            before,
            after,
        } => match (before, after) {
            (Some(b), Some(a)) => format!("serves {key} [{locale}] {a} instead of {b}"),
            (None, Some(a)) => format!("serves {key} [{locale}] {a} (nothing served before)"),
            (Some(b), None) => format!(
                "stops serving {key} [{locale}] {b} (no approved version: the rule falls through)"
            ),
            (None, None) => format!("{key} [{locale}] unchanged"),
        },
        SnapshotChange::AppAppleId { before, after } => format!(
            "appAppleId changes: {} ⇒ {}",
            or_none(before.map(|v| v.to_string())),
            or_none(after.map(|v| v.to_string()))
        ),
        SnapshotChange::OfferSigning { before, after } => {
            let names = |c: &Option<crate::manifest::Credentials>| {
                or_none(c.as_ref().map(|c| {
                    [&c.key_id, &c.issuer_id, &c.private_key, &c.private_key_file]
                        .into_iter()
                        .flatten()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                }))
            };
            format!("offerSigning changes: {} ⇒ {}", names(before), names(after))
        }
        SnapshotChange::Locales { before, after } => format!(
            "locales change: {} ⇒ {}",
            or_none((!before.is_empty()).then(|| before.join(", "))),
            or_none((!after.is_empty()).then(|| after.join(", ")))
        ),
    }
}

pub fn change_word(change: crate::reconcile::diff::Change) -> &'static str {
    match change {
        crate::reconcile::diff::Change::Added => "added",
        crate::reconcile::diff::Change::Changed => "changed",
        crate::reconcile::diff::Change::Removed => "removed",
    }
}

pub fn state_word(state: Option<&ReviewState>) -> &str {
    state.map(ReviewState::as_str).unwrap_or("not uploaded")
}

pub fn kind_word(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Image => "image",
        ContentKind::Message => "message",
    }
}

fn pairs_words(pairs: &[Pair]) -> String {
    pairs
        .iter()
        .map(|p| format!("{} [{}]", p.product, p.locale))
        .collect::<Vec<_>>()
        .join(", ")
}

fn parts_words(parts: &[PartState], with_state: bool) -> String {
    parts
        .iter()
        .map(|p| {
            let name = format!("{} {}", kind_word(p.kind), p.key);
            if with_state {
                let state = match &p.state {
                    None => "not uploaded yet",
                    Some(s) => s.as_str(),
                };
                format!("{name} {state}")
            } else {
                name
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why an action has its status, in words.
pub fn reason_words(reason: &Reason) -> String {
    match reason {
        Reason::NotOnApple => "not on Apple".into(),
        Reason::ContentApproved => "content APPROVED".into(),
        Reason::AwaitingReview { parts } => {
            format!("waiting for review: {}", parts_words(parts, true))
        }
        Reason::Rejected { parts } => format!(
            "{} REJECTED: change the content to get a new id",
            parts_words(parts, false)
        ),
        Reason::NoDefaultInManifest => "the manifest sets no default for this owned pair".into(),
        Reason::NotInManifest => "not in the manifest (--prune)".into(),
        Reason::AfterNewDefault { pairs } => format!(
            "still the default of {}: deleted once a fresh read shows the new default in place",
            pairs_words(pairs)
        ),
        Reason::RealtimeUrlDiffers => "differs from the manifest".into(),
        Reason::ProductionRealtimeUrlNeedsPassingTest => format!(
            "differs from the manifest; {PRODUCTION_URL_GATE}"
        ),
        Reason::NoRealtimeUrlInManifest { environment } => {
            format!("environments.{environment} sets no realtimeUrl")
        }
        Reason::AppleNotApproved { error } => format!(
            "Apple says {error} although its list says APPROVED; tried again on the next run"
        ),
        Reason::ImageInUse => "kept: a message that is not in the manifest still uses it".into(),
        Reason::ImageSizeDiffers {
            key,
            apple,
            manifest,
        } => format!(
            "Apple lists image {key} as {}, the manifest wants {}: change the image to get a new id",
            apple.as_str(),
            manifest.as_str()
        ),
        Reason::OverAppleCap { cap } => cap_words(cap),
        Reason::AppleCapReached { kind } => format!(
            "Apple's cap of {} per app is reached: not sent; delete drift with `apply --prune`",
            plural_kind(*kind)
        ),
        Reason::NeedsPerformanceTest => "Apple needs a passing performance test first (ForbiddenNoPassingTest): run `retainctl perf-test` (sandbox) first".into(),
        Reason::ImagesNotOnApple { images } => format!(
            "waits for {} {} to be on Apple (not uploaded in this run): not sent",
            if images.len() == 1 { "image" } else { "images" },
            images.join(", ")
        ),
        Reason::AppleBudgetUsedUp { endpoint, frees_at } => format!(
            "Apple's hourly {endpoint} budget is used up until {frees_at}: not sent; the next run continues"
        ),
    }
}

/// Actions left for a later run because an endpoint's hourly budget was used up: per
/// endpoint, how many and when its budget frees up (the latest time any of them gave).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BudgetWait {
    pub endpoint: String,
    pub actions: usize,
    pub frees_at: String,
}

pub fn budget_waits(reports: &[AppReport]) -> Vec<BudgetWait> {
    let mut waits: BTreeMap<&str, BudgetWait> = BTreeMap::new();
    for a in reports.iter().flat_map(|r| &r.actions) {
        if let Outcome::Waiting {
            reason: Reason::AppleBudgetUsedUp { endpoint, frees_at },
        } = &a.outcome
        {
            let wait = waits.entry(endpoint).or_insert_with(|| BudgetWait {
                endpoint: endpoint.clone(),
                actions: 0,
                frees_at: frees_at.clone(),
            });
            wait.actions += 1;
            // RFC 3339 in UTC with whole seconds: text order is time order
            if *frees_at > wait.frees_at {
                wait.frees_at = frees_at.clone();
            }
        }
    }
    waits.into_values().collect()
}

/// Apple's precondition for a production realtime URL, in words every format shares.
pub const PRODUCTION_URL_GATE: &str = "Apple accepts a production realtime URL only after a sandbox performance test has passed (otherwise apply reports it blocked, ForbiddenNoPassingTest): run `retainctl perf-test` first if none has";

/// What a ready action still depends on that no read of Apple can show beforehand.
pub fn precondition(reason: &Reason) -> Option<&'static str> {
    match reason {
        Reason::ProductionRealtimeUrlNeedsPassingTest => Some(PRODUCTION_URL_GATE),
        _ => None,
    }
}

/// The realtime URL of an app × environment as status shows it: what Apple has, and what
/// apply would do about it. `None` when it is neither managed nor set.
pub fn realtime_url_words(app: &AppPlan) -> Option<String> {
    let url = &app.realtime_url;
    if !url.managed && url.current.is_none() {
        return None;
    }
    let current = url.current.as_deref().unwrap_or("none");
    let verdict = match (&url.desired, url.managed) {
        (_, false) => " (not managed: no environments entry)".to_string(),
        (Some(want), true) if url.current.as_ref() != Some(want) => match url.needs {
            Some(RealtimeUrlPrecondition::PassingSandboxPerformanceTest) => {
                format!(" — to configure: {want}; {PRODUCTION_URL_GATE}")
            }
            None => format!(" — to configure: {want}"),
        },
        (None, true) if url.current.is_some() => " — not in the manifest: deleted by apply".into(),
        _ => String::new(),
    };
    Some(format!("{current}{verdict}"))
}

pub fn kept_words(kept: Option<&KeptBecause>) -> String {
    match kept {
        None => "deleted only with --prune".into(),
        Some(KeptBecause::UsedByManifest) => "a message of the manifest uses it".into(),
        Some(KeptBecause::ServedBySnapshot) => {
            "served by the realtime snapshot until the newer version is approved".into()
        }
        Some(KeptBecause::SizeDiffers { apple, manifest }) => format!(
            "the manifest's id, but Apple lists it as {} and the manifest wants {}: change the image (a new id) or delete it in App Store Connect",
            apple.as_str(),
            manifest.as_str()
        ),
        Some(KeptBecause::CurrentDefault { pairs }) => format!(
            "the current default of {}; it can go once the new default is set",
            pairs_words(pairs)
        ),
    }
}

pub fn not_attempted_words(why: &NotAttempted) -> &'static str {
    match why {
        NotAttempted::AppStopped => "the app's run stopped before it",
        NotAttempted::OutsideSavedPlan => "not in the saved plan",
        NotAttempted::BecameReadyLate => "became ready after its step; the next run does it",
    }
}

/// An app-level error in words (Apple's number is in the message when Apple sent one).
pub fn error_words(error: &AppError) -> String {
    error.message.clone()
}

/// The outcome of an action in words: `done`, `waiting: …`, `FAILED: …`.
pub fn outcome_words(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Written => "done".into(),
        Outcome::AlreadyThere => "already there".into(),
        Outcome::Waiting { reason } => format!("waiting: {}", reason_words(reason)),
        Outcome::Blocked { reason } => format!("blocked: {}", reason_words(reason)),
        Outcome::Failed { error } => format!("FAILED: {}", error_words(error)),
        Outcome::NotAttempted { why } => format!("not attempted: {}", not_attempted_words(why)),
    }
}

pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The counts of a whole apply run.
pub fn total(reports: &[AppReport]) -> Tally {
    let mut total = Tally::default();
    for r in reports {
        total.add(r.tally());
    }
    total
}

/// An outcome's one-word label, as the summaries list it.
pub fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Written => "done",
        Outcome::AlreadyThere => "already there",
        Outcome::Waiting { .. } => "waiting",
        Outcome::Blocked { .. } => "blocked",
        Outcome::Failed { .. } => "failed",
        Outcome::NotAttempted { .. } => "not attempted",
    }
}

/// What an outcome that is not "done" needs said about it.
pub fn outcome_detail(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Written | Outcome::AlreadyThere => None,
        Outcome::Waiting { reason } | Outcome::Blocked { reason } => Some(reason_words(reason)),
        Outcome::Failed { error } => Some(error_words(error)),
        Outcome::NotAttempted { why } => Some(not_attempted_words(why).to_string()),
    }
}

/// `2 done, 1 waiting on review, …`
pub fn tally_words(t: &Tally) -> String {
    let mut not_sent = String::new();
    if t.waiting_for_budget > 0 {
        not_sent += &format!(
            ", {} waiting for Apple's hourly budget",
            t.waiting_for_budget
        );
    }
    if t.waiting_for_images > 0 {
        not_sent += &format!(", {} waiting for their images", t.waiting_for_images);
    }
    format!(
        "{} done, {} waiting on review{not_sent}, {} blocked, {} failed, {} not attempted",
        t.written + t.already_there,
        t.waiting - t.waiting_for_budget - t.waiting_for_images,
        t.blocked,
        t.failed,
        t.not_attempted
    )
}

fn plural_kind(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Image => "images",
        ContentKind::Message => "messages",
    }
}

/// `Apple holds 1995 messages + 10 to upload > its cap of 2000: 5 must go; …`
pub fn cap_words(cap: &crate::reconcile::planner::CapState) -> String {
    let what = plural_kind(cap.kind);
    let then = if cap.room_made_by_prune {
        format!(
            "apply --prune deletes {} drift {what} first (never a default)",
            cap.prunable
        )
    } else if cap.prunable >= cap.must_go {
        format!(
            "{} drift {what} can go with `apply --prune`, which deletes them before uploading",
            cap.prunable
        )
    } else {
        format!(
            "only {} drift {what} can go with `apply --prune`; delete others in App Store Connect or change fewer",
            cap.prunable
        )
    };
    format!(
        "Apple holds {} {what} + {} to upload > its cap of {}: {} must go first; {then}",
        cap.on_apple, cap.uploads, cap.limit, cap.must_go
    )
}

/// One line on a plan's previews: how many were drawn, and where the gallery is.
pub fn previews_line(previews: &crate::reconcile::previews::PreviewSet) -> String {
    format!(
        "Previews: {} drawn in {}/{}",
        plural(
            previews.localizations.len(),
            "changed localization",
            "changed localizations"
        ),
        previews.folder,
        previews.gallery
    )
}

/// A gallery file name in a URL: `%` (of names made safe) escaped again.
pub fn url_path(name: &str) -> String {
    name.replace('%', "%25").replace(' ', "%20")
}

/// Where a picture of `--previews-url URL` is: `{path}` in the URL replaced by the
/// picture's path (`https://github.com/o/r/blob/BRANCH/pr-7/{path}?raw=true`), else the
/// path appended after a `/`.
pub fn picture_url(url: &str, name: &str) -> String {
    let path = url_path(name);
    match url.contains("{path}") {
        true => url.replace("{path}", &path),
        false => format!("{}/{path}", url.trim_end_matches('/')),
    }
}

/// Text made safe inside HTML or SVG, in elements and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
