//! The planner's rules, one situation per test.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use uuid::Uuid;

use super::*;
use crate::apple::model::ReviewState::{Approved, Pending, Rejected};
use crate::desired::{DesiredApp, DesiredImage, DesiredMessage};
use crate::manifest::{EnvironmentName, ImageSize, MessageKind};

const I1: &str = "00000000-0000-5000-8000-000000000001";
const M1: &str = "00000000-0000-5000-8000-0000000000a1";
const M2: &str = "00000000-0000-5000-8000-0000000000a2";
const OLD: &str = "00000000-0000-5000-8000-0000000000f1";
const OLD_IMAGE: &str = "00000000-0000-5000-8000-0000000000f2";
const DRIFT_IMG: &str = "00000000-0000-5000-8000-0000000000d1";

pub(crate) fn u(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

/// hero image; stay [en-US] (uses hero) and stay [de-DE]; owned pairs premium × {en-US,
/// de-DE} set to those, basic [en-US] owned but unset.
pub(crate) fn desired() -> DesiredApp {
    DesiredApp {
        bundle_id: "com.example.app".into(),
        images: vec![DesiredImage {
            key: "hero".into(),
            size: ImageSize::FullSize,
            id: u(I1),
            png: Arc::new(vec![]),
        }],
        messages: vec![
            DesiredMessage {
                key: "stay".into(),
                locale: "en-US".into(),
                kind: MessageKind::Text,
                id: u(M1),
                body: "{}".into(),
                image_ids: vec![u(I1)],
            },
            DesiredMessage {
                key: "stay".into(),
                locale: "de-DE".into(),
                kind: MessageKind::Text,
                id: u(M2),
                body: "{}".into(),
                image_ids: vec![],
            },
        ],
        owned_pairs: vec![
            ("basic".into(), "en-US".into()),
            ("premium".into(), "de-DE".into()),
            ("premium".into(), "en-US".into()),
        ],
        defaults: BTreeMap::from([
            (("premium".into(), "en-US".into()), u(M1)),
            (("premium".into(), "de-DE".into()), u(M2)),
        ]),
        realtime_urls: BTreeMap::from([(
            EnvironmentName::Production,
            "https://example.com/r".into(),
        )]),
        realtime_managed: BTreeSet::from([EnvironmentName::Production]),
        served: BTreeSet::new(),
    }
}

pub(crate) fn observed(
    images: &[(&str, ReviewState)],
    messages: &[(&str, ReviewState)],
    defaults: &[(&str, &str, &str)],
) -> Observed {
    let mut o = Observed {
        images: images
            .iter()
            .map(|(i, s)| (i.to_string(), s.clone()))
            .collect(),
        messages: messages
            .iter()
            .map(|(i, s)| (i.to_string(), s.clone()))
            .collect(),
        ..Default::default()
    };
    for (p, l) in [
        ("basic", "en-US"),
        ("premium", "de-DE"),
        ("premium", "en-US"),
    ] {
        o.set_default(p, l, None);
    }
    for (p, l, m) in defaults {
        o.set_default(p, l, Some(m.to_string()));
    }
    o
}

fn run(o: &Observed, prune: bool) -> AppPlan {
    plan(
        &desired(),
        EnvironmentName::Sandbox,
        "app.yaml",
        o,
        PlanOptions { prune },
    )
}

fn ops(p: &AppPlan) -> Vec<(String, Status)> {
    p.actions
        .iter()
        .map(|a| (crate::render::text::describe_op(&a.op), a.status))
        .collect()
}

#[test]
fn empty_apple_uploads_everything_and_defaults_wait() {
    let p = run(&observed(&[], &[], &[]), false);
    assert_eq!(
        ops(&p),
        vec![
            (format!("upload image hero (FULL_SIZE) {I1}"), Status::Ready),
            (format!("upload message stay [de-DE] {M2}"), Status::Ready),
            (format!("upload message stay [en-US] {M1}"), Status::Ready),
            (
                format!("set default premium [de-DE] → stay {M2}"),
                Status::Waiting
            ),
            (
                format!("set default premium [en-US] → stay {M1}"),
                Status::Waiting
            ),
        ]
    );
    assert_eq!(
        crate::render::reason_words(&p.actions[4].reason),
        "waiting for review: message stay not uploaded yet, image hero not uploaded yet"
    );
    let uncovered: Vec<_> = p
        .uncovered()
        .map(|d| (d.product.as_str(), d.locale.as_str()))
        .collect();
    assert_eq!(uncovered, [("basic", "en-US")]);
    assert!(p.content.iter().all(|c| c.state.is_none()));
}

#[test]
fn approved_content_makes_defaults_ready() {
    let p = run(
        &observed(&[(I1, Approved)], &[(M1, Approved), (M2, Approved)], &[]),
        false,
    );
    assert_eq!(
        ops(&p),
        vec![
            (
                format!("set default premium [de-DE] → stay {M2}"),
                Status::Ready
            ),
            (
                format!("set default premium [en-US] → stay {M1}"),
                Status::Ready
            ),
        ]
    );
}

#[test]
fn a_pending_image_keeps_its_messages_default_waiting() {
    let p = run(
        &observed(&[(I1, Pending)], &[(M1, Approved), (M2, Approved)], &[]),
        false,
    );
    assert_eq!(p.actions[0].status, Status::Ready, "de-DE uses no image");
    assert_eq!(p.actions[1].status, Status::Waiting);
    assert_eq!(
        crate::render::reason_words(&p.actions[1].reason),
        "waiting for review: image hero PENDING"
    );
}

#[test]
fn rejected_content_blocks_and_is_reported() {
    let p = run(
        &observed(&[(I1, Rejected)], &[(M1, Approved), (M2, Rejected)], &[]),
        false,
    );
    assert!(p.actions.iter().all(|a| a.status == Status::Blocked));
    assert_eq!(
        crate::render::reason_words(&p.actions[1].reason),
        "image hero REJECTED: change the content to get a new id"
    );
    let rejected: Vec<&str> = p.rejected().map(|c| &*c.id).collect();
    assert_eq!(rejected, [I1, M2]);
}

#[test]
fn converged_state_plans_nothing() {
    let o = observed(
        &[(I1, Approved)],
        &[(M1, Approved), (M2, Approved)],
        &[("premium", "en-US", M1), ("premium", "de-DE", M2)],
    );
    let p = run(&o, true);
    assert!(p.actions.is_empty(), "{:?}", ops(&p));
    assert!(p.drift.is_empty());
}

#[test]
fn owned_pairs_without_a_desired_default_are_deleted() {
    let o = observed(
        &[(I1, Approved)],
        &[(M1, Approved), (M2, Approved)],
        &[
            ("premium", "en-US", M1),
            ("premium", "de-DE", M2),
            ("basic", "en-US", M2),
        ],
    );
    assert_eq!(
        ops(&run(&o, false)),
        vec![(
            format!("delete default basic [en-US] (was {M2})"),
            Status::Ready
        )]
    );
}

#[test]
fn drift_is_listed_and_pruned_only_with_prune() {
    let o = observed(
        &[(I1, Approved), (DRIFT_IMG, Approved)],
        &[(M1, Approved), (M2, Approved), (OLD, Approved)],
        &[("premium", "en-US", M1), ("premium", "de-DE", M2)],
    );
    let p = run(&o, false);
    assert!(p.actions.is_empty());
    assert_eq!(p.drift.len(), 2);
    let p = run(&o, true);
    assert_eq!(
        ops(&p),
        vec![
            (
                format!("delete message {OLD} (not in the manifest)"),
                Status::Ready
            ),
            (
                format!("delete image {DRIFT_IMG} (not in the manifest)"),
                Status::Ready
            ),
        ]
    );
}

/// With `served` marked as the snapshot's, `id` on Apple is kept (not pruned, drift kept
/// because the snapshot serves it); once nothing is served, it is pruned like any drift.
fn kept_while_served(o: &Observed, served: &[&str], id: &str) {
    let is_prune_of_id = |op: &Op| match op {
        Op::PruneMessage { id: pruned } | Op::PruneImage { id: pruned } => pruned == id,
        _ => false,
    };
    let mut d = desired();
    d.served = served.iter().map(|s| s.to_string()).collect();
    let p = plan(
        &d,
        EnvironmentName::Production,
        "app.yaml",
        o,
        PlanOptions { prune: true },
    );
    assert!(
        !p.actions.iter().any(|a| is_prune_of_id(&a.op)),
        "{:?}",
        p.actions
    );
    let kept = p.drift.iter().find(|d| d.id == id).unwrap();
    assert_eq!(kept.kept_because, Some(KeptBecause::ServedBySnapshot));
    // Served no more: pruned like any drift.
    d.served.clear();
    let p = plan(
        &d,
        EnvironmentName::Production,
        "app.yaml",
        o,
        PlanOptions { prune: true },
    );
    assert!(
        p.actions.iter().any(|a| is_prune_of_id(&a.op)),
        "{:?}",
        p.actions
    );
}

#[test]
fn an_image_a_served_version_uses_is_never_pruned() {
    // OLD_IMAGE is on Apple, not in the manifest, and used by a version the snapshot serves
    let o = observed(
        &[(I1, Approved), (OLD_IMAGE, Approved)],
        &[(M1, Approved), (M2, Approved), (OLD, Approved)],
        &[("premium", "en-US", M1), ("premium", "de-DE", M2)],
    );
    kept_while_served(&o, &[OLD, OLD_IMAGE], OLD_IMAGE);
}

#[test]
fn a_message_the_realtime_snapshot_serves_is_never_pruned() {
    let o = observed(
        &[(I1, Approved)],
        &[(M1, Pending), (M2, Approved), (OLD, Approved)],
        &[("premium", "en-US", M1), ("premium", "de-DE", M2)],
    );
    kept_while_served(&o, &[OLD], OLD);
}

#[test]
fn the_old_default_stays_until_the_new_one_is_approved() {
    let pending = observed(
        &[(I1, Approved)],
        &[(M1, Pending), (M2, Approved), (OLD, Approved)],
        &[("premium", "en-US", OLD), ("premium", "de-DE", M2)],
    );
    let p = run(&pending, true);
    assert_eq!(
        ops(&p),
        vec![(
            format!("set default premium [en-US] → stay {M1} (replaces {OLD})"),
            Status::Waiting
        )]
    );
    assert_eq!(
        p.drift[0].kept_because,
        Some(KeptBecause::CurrentDefault {
            pairs: vec![Pair {
                product: "premium".into(),
                locale: "en-US".into()
            }]
        })
    );

    let approved = observed(
        &[(I1, Approved)],
        &[(M1, Approved), (M2, Approved), (OLD, Approved)],
        &[("premium", "en-US", OLD), ("premium", "de-DE", M2)],
    );
    let p = run(&approved, true);
    assert_eq!(
        ops(&p),
        vec![
            (
                format!("set default premium [en-US] → stay {M1} (replaces {OLD})"),
                Status::Ready
            ),
            (
                format!("delete message {OLD} (not in the manifest)"),
                Status::Waiting
            ),
        ]
    );
    assert_eq!(
        p.actions[1].reason,
        Reason::AfterNewDefault {
            pairs: vec![Pair {
                product: "premium".into(),
                locale: "en-US".into()
            }]
        },
        "the old default goes only after a fresh read shows the new one in place"
    );
    // without --prune the old message is only drift
    assert_eq!(run(&approved, false).actions.len(), 1);
}

#[test]
fn realtime_url_is_managed_only_where_the_manifest_lists_the_environment() {
    let mut d = desired();
    let o = observed(
        &[(I1, Approved)],
        &[(M1, Approved), (M2, Approved)],
        &[("premium", "en-US", M1), ("premium", "de-DE", M2)],
    );
    let p = plan(
        &d,
        EnvironmentName::Production,
        "app.yaml",
        &o,
        PlanOptions::default(),
    );
    assert_eq!(
        ops(&p),
        vec![(
            "configure realtime URL https://example.com/r".to_string(),
            Status::Ready
        )]
    );
    assert_eq!(
        p.realtime_url.needs,
        Some(RealtimeUrlPrecondition::PassingSandboxPerformanceTest),
        "production's URL waits on a passing sandbox performance test, and the plan says so"
    );
    assert_eq!(
        p.actions[0].reason,
        Reason::ProductionRealtimeUrlNeedsPassingTest
    );
    let mut configured = o.clone();
    configured.realtime_url = Some("https://example.com/r".into());
    let p = plan(
        &d,
        EnvironmentName::Production,
        "app.yaml",
        &configured,
        PlanOptions::default(),
    );
    assert_eq!(
        p.realtime_url.needs, None,
        "nothing to configure: no condition"
    );
    let mut with_url = o.clone();
    with_url.realtime_url = Some("https://old.example.com".into());
    assert!(
        plan(
            &d,
            EnvironmentName::Sandbox,
            "app.yaml",
            &with_url,
            PlanOptions::default()
        )
        .actions
        .is_empty()
    );
    d.realtime_urls.clear();
    let p = plan(
        &d,
        EnvironmentName::Production,
        "app.yaml",
        &with_url,
        PlanOptions::default(),
    );
    assert_eq!(
        ops(&p),
        vec![(
            "delete realtime URL https://old.example.com".to_string(),
            Status::Ready
        )]
    );
}

#[test]
fn fingerprint_follows_observed_and_digest_follows_desired() {
    let a = observed(&[(I1, Pending)], &[], &[]);
    let b = observed(&[(I1, Approved)], &[], &[]);
    assert_ne!(
        run(&a, false).observed_fingerprint,
        run(&b, false).observed_fingerprint
    );
    assert_eq!(
        run(&a, false).observed_fingerprint,
        run(&a, false).observed_fingerprint
    );
    assert_eq!(
        run(&a, false).manifest_digest,
        run(&b, false).manifest_digest
    );
    let mut d = desired();
    d.messages[0].id = u(OLD);
    assert_ne!(
        manifest_digest(&d, EnvironmentName::Sandbox),
        run(&a, false).manifest_digest
    );
}

/// The digest written directly is the hash of the canonical JSON it stands for (saved
/// plan files compare it, so it must not change between versions).
#[test]
fn manifest_digest_is_the_hash_of_the_canonical_json() {
    let reference = |d: &DesiredApp, env: EnvironmentName| {
        let value = serde_json::json!({
            "bundleId": d.bundle_id,
            "images": d.images.iter().map(|i| i.id.to_string()).collect::<Vec<_>>(),
            "messages": d.messages.iter().map(|m| m.id.to_string()).collect::<Vec<_>>(),
            "defaults": d.defaults.iter().map(|((p, l), id)| format!("{p}/{l}={id}")).collect::<Vec<_>>(),
            "owned": d.owned_pairs.iter().map(|(p, l)| format!("{p}/{l}")).collect::<Vec<_>>(),
            "realtimeManaged": d.realtime_managed.contains(&env),
            "realtimeUrl": d.realtime_urls.get(&env),
        });
        crate::desired::ids::sha256_hex(crate::desired::ids::canonical_json(&value).as_bytes())
    };
    let mut d = desired();
    assert_eq!(
        manifest_digest(&d, EnvironmentName::Sandbox),
        reference(&d, EnvironmentName::Sandbox)
    );
    d.bundle_id = "com.\"quoted\\é".into();
    d.owned_pairs.push(("p.\u{1}odd\"".into(), "en-US".into()));
    d.realtime_managed.insert(EnvironmentName::Sandbox);
    d.realtime_urls
        .insert(EnvironmentName::Sandbox, "https://x.example/\"rt\"".into());
    for env in [EnvironmentName::Sandbox, EnvironmentName::Production] {
        assert_eq!(manifest_digest(&d, env), reference(&d, env));
    }
    d.images.clear();
    d.messages.clear();
    d.defaults.clear();
    assert_eq!(
        manifest_digest(&d, EnvironmentName::Sandbox),
        reference(&d, EnvironmentName::Sandbox)
    );
}

/// One plan with every kind of line: uploads, waiting and blocked defaults, a deletion,
/// drift, a rejected message, an uncovered pair.
fn showcase() -> crate::reconcile::Plan {
    let o = observed(
        &[(I1, Pending), (DRIFT_IMG, Approved)],
        &[(M2, Rejected), (OLD, Approved)],
        &[("premium", "en-US", OLD), ("basic", "en-US", OLD)],
    );
    let mut d = desired();
    d.realtime_urls.clear();
    let app = plan(
        &d,
        EnvironmentName::Production,
        "retention/app.yaml",
        &o,
        PlanOptions { prune: true },
    );
    let converged = plan(
        &d,
        EnvironmentName::Sandbox,
        "retention/app.yaml",
        &observed(
            &[(I1, Approved)],
            &[(M1, Approved), (M2, Approved)],
            &[("premium", "en-US", M1), ("premium", "de-DE", M2)],
        ),
        PlanOptions::default(),
    );
    crate::reconcile::Plan::new(PlanOptions { prune: true }, vec![converged, app])
}

#[test]
fn text_rendering() {
    insta::assert_snapshot!("plan_text", crate::render::text::plan(&showcase(), false));
}

#[test]
fn json_rendering() {
    insta::assert_snapshot!("plan_json", crate::render::json::plan(&showcase()));
}

#[test]
fn markdown_rendering() {
    insta::assert_snapshot!("plan_markdown", crate::render::markdown::plan(&showcase()));
}

#[test]
fn status_rendering() {
    insta::assert_snapshot!("status_text", crate::render::text::status(&showcase()));
}

#[test]
fn markdown_is_capped_below_githubs_limit() {
    let mut d = desired();
    for i in 0..3000 {
        d.messages.push(DesiredMessage {
            key: format!("message-{i}").into(),
            locale: "en-US".into(),
            kind: MessageKind::Text,
            id: Uuid::from_u128(i as u128 + 1000),
            body: "{}".into(),
            image_ids: vec![],
        });
    }
    let p = plan(
        &d,
        EnvironmentName::Sandbox,
        "app.yaml",
        &observed(&[], &[], &[]),
        PlanOptions::default(),
    );
    let text = crate::render::markdown::plan(&crate::reconcile::Plan::new(
        PlanOptions::default(),
        vec![p],
    ));
    assert!(text.starts_with("<!-- retainctl:plan -->\n"));
    assert!(
        text.chars().count() <= crate::render::MARKDOWN_LIMIT,
        "{}",
        text.len()
    );
    assert!(text.contains(
        "> **Shortened to fit one comment:** left out review-state tables, upload summaries."
    ));
    assert_eq!(
        text.matches("<details>").count(),
        text.matches("</details>").count()
    );
}

/// 500 messages × 4 locales in sandbox and production: every section and every default
/// change survives; the upload rows and review states are what is left out.
#[test]
fn a_large_plan_keeps_every_section_and_default_change() {
    let mut d = desired();
    d.messages.clear();
    d.defaults.clear();
    let locales = ["en-US", "de-DE", "fr-FR", "ja"];
    for i in 0..500u128 {
        for (j, locale) in locales.iter().enumerate() {
            d.messages.push(DesiredMessage {
                key: format!("message-{i}").into(),
                locale: (*locale).into(),
                kind: MessageKind::Text,
                id: Uuid::from_u128(10_000 + i * 4 + j as u128),
                body: "{}".into(),
                image_ids: vec![],
            });
        }
    }
    d.owned_pairs = locales
        .iter()
        .map(|l| ("premium".into(), l.to_string()))
        .collect();
    for (j, l) in locales.iter().enumerate() {
        d.defaults.insert(
            ("premium".into(), l.to_string()),
            Uuid::from_u128(10_000 + j as u128),
        );
    }
    let apps: Vec<AppPlan> = [EnvironmentName::Sandbox, EnvironmentName::Production]
        .into_iter()
        .map(|env| {
            plan(
                &d,
                env,
                "app.yaml",
                &observed(&[], &[], &[]),
                PlanOptions::default(),
            )
        })
        .collect();
    let mut whole = crate::reconcile::Plan::new(PlanOptions::default(), apps);
    // `plan --previews`: a picture of every one of the 2,000 changed localizations.
    use crate::reconcile::previews::{PreviewChange, PreviewSet, PreviewedLocalization};
    whole.previews = Some(PreviewSet {
        folder: "previews".into(),
        url: Some("https://github.com/o/r/raw/retainctl-previews/pr-1/abc".into()),
        gallery: "index.html".into(),
        localizations: d
            .messages
            .iter()
            .map(|m| PreviewedLocalization {
                bundle_id: "com.example.app".into(),
                message_key: m.key.to_string(),
                locale: m.locale.to_string(),
                change: PreviewChange::Changed,
                side_by_side: format!("com.example.app/{}/{}.compare.png", m.key, m.locale),
                before: vec!["b.light.png".into(), "b.dark.png".into()],
                after: vec!["a.light.png".into(), "a.dark.png".into()],
                warnings: vec!["the body takes 5 lines (the page shows 4)".into()],
            })
            .collect(),
    });
    let text = crate::render::markdown::plan(&whole);
    assert!(text.chars().count() <= crate::render::MARKDOWN_LIMIT);
    assert_eq!(
        text.matches(
            "<img src=\"https://github.com/o/r/raw/retainctl-previews/pr-1/abc/com.example.app/"
        )
        .count(),
        crate::render::markdown::PREVIEWS_SHOWN
    );
    assert!(
        text.contains("2000 changed localizations, before and after"),
        "{text}"
    );
    assert!(text.contains("…and 1988 more changed localizations in the gallery."));
    assert!(text.contains("### com.example.app · sandbox"));
    assert!(text.contains("### com.example.app · production"));
    assert_eq!(text.matches("| set default |").count(), 8, "{text}");
    assert!(text.contains("left out review-state tables"), "{text}");
}

/// The showcase beside an app whose state could not be read (a 401).
fn showcase_with_failure() -> crate::reconcile::Plan {
    let mut plan = showcase();
    plan.apps.push(AppPlan::failed(
        "com.example.broken",
        EnvironmentName::Production,
        "retention/broken.yaml",
        crate::reconcile::AppError::from(crate::apple::ApiError::Unauthorized {
            endpoint: "GetImageList",
            bundle_id: "com.example.broken".into(),
        }),
    ));
    plan
}

#[test]
fn a_failed_app_is_a_row_in_every_format() {
    let plan = showcase_with_failure();
    insta::assert_snapshot!("failed_text", crate::render::text::plan(&plan, false));
    insta::assert_snapshot!("failed_markdown", crate::render::markdown::plan(&plan));
    insta::assert_snapshot!("failed_json", crate::render::json::plan(&plan));
    insta::assert_snapshot!(
        "failed_status_markdown",
        crate::render::markdown::status(&plan)
    );
    insta::assert_snapshot!("failed_status_json", crate::render::json::status(&plan));
}

#[test]
fn apply_summaries_count_what_was_not_done() {
    use crate::reconcile::apply::{ActionReport, AppReport, NotAttempted, Outcome};
    let p = run(&observed(&[], &[], &[]), false);
    let mut report = AppReport::new("com.example.app", EnvironmentName::Sandbox, "app.yaml");
    report.error = Some(crate::reconcile::AppError::from(
        crate::apple::ApiError::Unauthorized {
            endpoint: "UploadMessage",
            bundle_id: "com.example.app".into(),
        },
    ));
    let outcomes = [
        Outcome::Written,
        Outcome::AlreadyThere,
        Outcome::Failed {
            error: report.error.clone().unwrap(),
        },
        Outcome::NotAttempted {
            why: NotAttempted::AppStopped,
        },
        Outcome::Waiting {
            reason: p.actions[4].reason.clone(),
        },
    ];
    report.actions = p
        .actions
        .iter()
        .zip(outcomes)
        .map(|(a, outcome)| ActionReport {
            op: a.op.clone(),
            outcome,
        })
        .collect();
    assert!(report.has_failures() && report.has_pending());
    insta::assert_snapshot!(
        "apply_summary",
        format!(
            "{}\n{}\n",
            crate::render::text::apply_summary(&report),
            crate::render::text::apply_total(std::slice::from_ref(&report))
        )
    );
}

#[test]
fn uploads_past_apples_cap_are_blocked_unless_prune_makes_room_first() {
    let drift: Vec<String> = (0..1999)
        .map(|i| Uuid::from_u128(0xdead_0000 + i).to_string())
        .collect();
    let mut o = observed(&[(I1, Approved)], &[], &[]);
    for id in &drift {
        o.messages.insert(id.clone(), Approved);
    }
    // 1,999 on Apple + 2 uploads > 2,000: one must go.
    let p = run(&o, false);
    let cap = &p.over_cap[0];
    assert_eq!(
        (
            cap.kind,
            cap.on_apple,
            cap.uploads,
            cap.must_go,
            cap.prunable
        ),
        (ContentKind::Message, 1999, 2, 1, 1999)
    );
    assert!(!cap.room_made_by_prune);
    let uploads: Vec<&Action> = p
        .actions
        .iter()
        .filter(|a| matches!(a.op, Op::UploadMessage { .. }))
        .collect();
    assert_eq!(uploads.len(), 2);
    assert!(uploads.iter().all(|a| a.status == Status::Blocked
        && matches!(a.reason, Reason::OverAppleCap { .. })));
    assert!(
        crate::render::reason_words(&uploads[0].reason).starts_with(
            "Apple holds 1999 messages + 2 to upload > its cap of 2000: 1 must go first; 1999 drift messages can go with `apply --prune`"
        ),
        "{}",
        crate::render::reason_words(&uploads[0].reason)
    );

    let p = run(&o, true);
    assert!(p.over_cap[0].room_made_by_prune);
    assert!(
        p.actions
            .iter()
            .filter(|a| matches!(a.op, Op::UploadMessage { .. }))
            .all(|a| a.status == Status::Ready)
    );

    // A current default is not drift that can go.
    let mut o = observed(&[(I1, Approved)], &[], &[("basic", "en-US", &drift[0])]);
    for id in drift.iter().take(1999) {
        o.messages.insert(id.clone(), Approved);
    }
    let p = run(&o, true);
    assert_eq!(p.over_cap[0].prunable, 1998);
}

#[test]
fn an_image_apple_lists_with_another_size_is_drift_and_blocks_its_defaults() {
    let mut o = observed(&[(I1, Approved)], &[(M1, Approved), (M2, Approved)], &[]);
    o.image_sizes.insert(I1.into(), ImageSize::BulletPoint);
    let p = run(&o, false);
    assert_eq!(
        p.drift,
        vec![Drift {
            kind: ContentKind::Image,
            id: I1.into(),
            state: Approved,
            kept_because: Some(KeptBecause::SizeDiffers {
                apple: ImageSize::BulletPoint,
                manifest: ImageSize::FullSize
            }),
        }]
    );
    let english = p
        .actions
        .iter()
        .find(|a| matches!(&a.op, Op::SetDefault { locale, .. } if locale == "en-US"))
        .unwrap();
    assert_eq!(english.status, Status::Blocked);
    assert!(matches!(english.reason, Reason::ImageSizeDiffers { .. }));
    assert_eq!(
        p.content[0].apple_size,
        Some(ImageSize::BulletPoint),
        "status shows Apple's size"
    );
    // The same size is no drift.
    o.image_sizes.insert(I1.into(), ImageSize::FullSize);
    assert!(run(&o, false).drift.is_empty());
}

// Each stage of the planner over data, on its own.

fn stage_ops(actions: &[Action]) -> Vec<(String, Status)> {
    actions
        .iter()
        .map(|a| (crate::render::text::describe_op(&a.op), a.status))
        .collect()
}

#[test]
fn stage_content_uploads_what_apple_does_not_hold() {
    let o = observed(&[(I1, Pending)], &[(M2, Approved)], &[]);
    let mut actions = vec![];
    let content = content_to_upload(&desired(), &o, &mut actions);
    assert_eq!(
        stage_ops(&actions),
        vec![(format!("upload message stay [en-US] {M1}"), Status::Ready)]
    );
    let states: Vec<(&str, Option<ReviewState>)> =
        content.iter().map(|c| (&*c.id, c.state.clone())).collect();
    assert_eq!(
        states,
        vec![(I1, Some(Pending)), (M1, None), (M2, Some(Approved))]
    );
}

#[test]
fn stage_defaults_set_approved_content_and_mark_what_they_replace() {
    // premium [de-DE] is set to OLD now; its new message is approved: replaced now
    let o = observed(
        &[(I1, Pending)],
        &[(M1, Approved), (M2, Approved)],
        &[("premium", "de-DE", OLD), ("basic", "en-US", OLD)],
    );
    let mut actions = vec![];
    let (defaults, current) = defaults_to_set(&desired(), &o, &mut actions);
    assert_eq!(
        stage_ops(&actions),
        vec![
            (
                format!("delete default basic [en-US] (was {OLD})"),
                Status::Ready
            ),
            (
                format!("set default premium [de-DE] → stay {M2} (replaces {OLD})"),
                Status::Ready
            ),
            (
                format!("set default premium [en-US] → stay {M1}"),
                Status::Waiting
            ),
        ]
    );
    assert_eq!(defaults.len(), 3);
    let replaced: Vec<(String, bool)> = current[OLD]
        .iter()
        .map(|(pair, now)| (format!("{} [{}]", pair.product, pair.locale), *now))
        .collect();
    assert_eq!(
        replaced,
        vec![
            ("basic [en-US]".to_string(), true),
            ("premium [de-DE]".to_string(), true)
        ]
    );
}

#[test]
fn stage_drift_prunes_only_with_prune_and_waits_for_a_replaced_default() {
    let o = observed(&[(DRIFT_IMG, Approved)], &[(OLD, Approved)], &[]);
    let replaced: CurrentDefaults = BTreeMap::from([(
        OLD.to_string(),
        vec![(
            Pair {
                product: "premium".into(),
                locale: "de-DE".into(),
            },
            true,
        )],
    )]);
    let mut actions = vec![];
    let drift = drift_to_prune(
        &desired(),
        &o,
        &replaced,
        PlanOptions { prune: false },
        &mut actions,
    );
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(drift.len(), 2);
    let drift = drift_to_prune(
        &desired(),
        &o,
        &replaced,
        PlanOptions { prune: true },
        &mut actions,
    );
    assert_eq!(drift.len(), 2);
    let statuses: Vec<(bool, Status)> = actions
        .iter()
        .map(|a| (matches!(a.op, Op::PruneMessage { .. }), a.status))
        .collect();
    assert_eq!(
        statuses,
        vec![(true, Status::Waiting), (false, Status::Ready)]
    );
}

#[test]
fn stage_realtime_url_configures_only_a_managed_environment() {
    let o = observed(&[], &[], &[]);
    let mut actions = vec![];
    let state =
        realtime_url_to_configure(&desired(), EnvironmentName::Production, &o, &mut actions);
    assert_eq!(actions.len(), 1);
    assert_eq!(
        actions[0].reason,
        Reason::ProductionRealtimeUrlNeedsPassingTest
    );
    assert_eq!(
        state.needs,
        Some(RealtimeUrlPrecondition::PassingSandboxPerformanceTest)
    );
    // sandbox is not listed: a URL set there by hand is left alone
    let mut o = o;
    o.realtime_url = Some("https://by-hand.example.com/r".into());
    let mut actions = vec![];
    let state = realtime_url_to_configure(&desired(), EnvironmentName::Sandbox, &o, &mut actions);
    assert!(actions.is_empty() && !state.managed, "{actions:?}");
}

#[test]
fn stage_caps_block_uploads_over_the_cap_unless_prune_makes_room() {
    let mut o = observed(&[], &[], &[]);
    for i in 0..2000u128 {
        o.messages
            .insert(Uuid::from_u128(0xd000 + i).to_string(), Approved);
    }
    let upload = || Action {
        op: Op::UploadMessage {
            key: "stay".into(),
            locale: "en-US".into(),
            id: M1.into(),
        },
        status: Status::Ready,
        reason: Reason::NotOnApple,
    };
    let drift: Vec<Drift> = o
        .messages
        .keys()
        .map(|id| Drift {
            kind: ContentKind::Message,
            id: id.clone(),
            state: Approved,
            kept_because: None,
        })
        .collect();
    let mut actions = vec![upload()];
    let caps = check_caps(&mut actions, &drift, &o, PlanOptions { prune: false });
    assert_eq!(caps.len(), 1);
    assert_eq!((caps[0].must_go, caps[0].room_made_by_prune), (1, false));
    assert_eq!(actions[0].status, Status::Blocked);
    let mut actions = vec![upload()];
    let caps = check_caps(&mut actions, &drift, &o, PlanOptions { prune: true });
    assert!(caps[0].room_made_by_prune);
    assert_eq!(actions[0].status, Status::Ready);
}
