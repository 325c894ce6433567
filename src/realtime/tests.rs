//! Unit tests of the rule choice, the split buckets, locale matching and the snapshot's
//! JSON shape.

use std::collections::BTreeMap;

use super::*;

fn id(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(n)
}

fn rule(product: &str, answer: RuleAnswer) -> Rule {
    Rule {
        product: product.to_string(),
        locales: None,
        buckets: None,
        answer,
    }
}

fn text(key: &str) -> RuleAnswer {
    RuleAnswer::Message(key.to_string())
}

/// An app with `locales` and approved versions `(key, locale, id)`.
fn app(locales: &[&str], rules: Vec<Rule>, approved: &[(&str, &str, u128)]) -> AppRealtime {
    let mut map: BTreeMap<String, BTreeMap<String, ApprovedVersion>> = BTreeMap::new();
    for (key, locale, n) in approved {
        map.entry(key.to_string()).or_default().insert(
            locale.to_string(),
            ApprovedVersion {
                message_id: id(*n),
                current: true,
            },
        );
    }
    AppRealtime {
        bundle_id: "com.example.app".to_string(),
        app_apple_id: None,
        offer_signing: None,
        locales: locales.iter().map(|l| l.to_string()).collect(),
        rules,
        approved: map,
    }
}

fn ask<'a>(app: &'a AppRealtime, product: &str, locale: &str, otid: &str) -> Choice<'a> {
    choose(
        app,
        &RealtimeQuery {
            product_id: product,
            user_locale: locale,
            original_transaction_id: otid,
        },
    )
}

/// The (rule, message id) answered, or None for the fallback.
fn answered(choice: Choice<'_>) -> Option<(usize, uuid::Uuid)> {
    match choice {
        Choice::Answer {
            rule, message_id, ..
        } => Some((rule, message_id)),
        Choice::Control { .. } | Choice::Fallback => None,
    }
}

/// Some original transaction id whose bucket in `com.example.app`'s split group of all
/// products and locales (`*/*`) satisfies `pred`.
fn otid_where(pred: impl Fn(u8) -> bool) -> String {
    (2_000_000_000_000_000u64..)
        .map(|n| n.to_string())
        .find(|o| pred(bucket("com.example.app", "*/*", o)))
        .unwrap()
}

#[test]
fn bucket_is_the_documented_hash() {
    // Values computed independently (Python hashlib) from the documented recipe.
    assert_eq!(bucket("com.example.app", "*/*", "2000000123456789"), 7);
    assert_eq!(bucket("com.example.app", "*/*", "1"), 25);
    assert_eq!(bucket("com.other", "*/*", "2000000123456789"), 81);
    assert_eq!(
        bucket("com.example.app", "premium/de-DE,en-US", "2000000123456789"),
        67
    );
    let mut r = rule("premium", text("a"));
    r.locales = Some(vec!["en-US".into(), "de-DE".into()]);
    assert_eq!(split_salt(&r), "premium/de-DE,en-US");
    assert_eq!(split_salt(&rule("*", text("a"))), "*/*");
}

#[test]
fn each_split_group_draws_its_own_customers() {
    // Two experiments (a 50/50 for `gold`, then one for everyone): the customers of the
    // first arm of one are not those of the first arm of the other.
    let split = |product: &str, key: &str, from: u8, to: u8| {
        let mut r = rule(product, text(key));
        r.buckets = Some(BucketRange { from, to });
        r
    };
    let a = app(
        &["en-US"],
        vec![
            split("gold", "gold-a", 0, 50),
            split("gold", "gold-b", 50, 100),
            split("*", "all-a", 0, 50),
            split("*", "all-b", 50, 100),
        ],
        &[
            ("gold-a", "en-US", 1),
            ("gold-b", "en-US", 2),
            ("all-a", "en-US", 3),
            ("all-b", "en-US", 4),
        ],
    );
    let (mut same, mut total) = (0, 0);
    for n in 0..2_000u64 {
        let o = (2_000_000_000_000_000 + n).to_string();
        let gold_first = answered(ask(&a, "gold", "en-US", &o)) == Some((0, id(1)));
        // What the everyone-experiment gives this customer (a product without its own).
        let all_first = answered(ask(&a, "silver", "en-US", &o)) == Some((2, id(3)));
        same += usize::from(gold_first == all_first);
        total += 1;
    }
    // Independent groups agree for about half the customers; one shared bucket: all.
    assert!(
        (800..=1200).contains(&same),
        "{same} of {total} in the same arm"
    );
}

#[test]
fn buckets_spread_evenly_and_stay_below_100() {
    let mut counts = [0u32; 100];
    for n in 0..20_000u64 {
        let b = bucket(
            "com.example.app",
            "*/*",
            &(2_000_000_000_000_000 + n).to_string(),
        );
        assert!(b < 100);
        counts[b as usize] += 1;
    }
    // 200 expected per bucket; a biased hash (or a missing mod) would leave some far off.
    for (b, count) in counts.iter().enumerate() {
        assert!((120..=280).contains(count), "bucket {b}: {count}");
    }
}

#[test]
fn bucket_ranges_are_half_open() {
    let r = BucketRange { from: 10, to: 20 };
    assert!(!r.contains(9));
    assert!(r.contains(10));
    assert!(r.contains(19));
    assert!(!r.contains(20));
    assert!(BucketRange { from: 0, to: 100 }.contains(99));
    assert!(!BucketRange { from: 5, to: 5 }.contains(5));
}

#[test]
fn first_matching_rule_with_approved_content_answers() {
    let a = app(
        &["en-US", "de-DE"],
        vec![rule("gold", text("gold-offer")), rule("*", text("generic"))],
        &[
            ("gold-offer", "en-US", 1),
            ("generic", "en-US", 2),
            ("generic", "de-DE", 3),
        ],
    );
    assert_eq!(answered(ask(&a, "gold", "en-US", "1")), Some((0, id(1))));
    // Another product skips the product rule and takes the wildcard.
    assert_eq!(answered(ask(&a, "silver", "en-US", "1")), Some((1, id(2))));
    // The product rule has no approved de-DE version: falls through to the next rule.
    assert_eq!(answered(ask(&a, "gold", "de-DE", "1")), Some((1, id(3))));
}

#[test]
fn answers_carry_the_rule_answer() {
    let offer = RuleAnswer::PromotionalOffer {
        message: "offer".into(),
        offer_id: "winback".into(),
    };
    let a = app(
        &["en-US"],
        vec![rule("*", offer.clone())],
        &[("offer", "en-US", 7)],
    );
    match ask(&a, "gold", "en-US", "1") {
        Choice::Answer {
            rule,
            answer,
            message_id,
        } => {
            assert_eq!(rule, 0);
            assert_eq!(answer, &offer);
            assert_eq!(message_id, id(7));
        }
        Choice::Control { .. } | Choice::Fallback => panic!("expected an answer"),
    }
}

#[test]
fn nothing_approved_falls_back() {
    let a = app(
        &["en-US"],
        vec![rule("*", text("a")), rule("gold", text("b"))],
        &[("b", "de-DE", 1)],
    );
    assert_eq!(ask(&a, "gold", "en-US", "1"), Choice::Fallback);
    // No rules at all.
    let empty = app(&["en-US"], vec![], &[("a", "en-US", 1)]);
    assert_eq!(ask(&empty, "gold", "en-US", "1"), Choice::Fallback);
    // A product no rule names.
    let only_gold = app(
        &["en-US"],
        vec![rule("gold", text("a"))],
        &[("a", "en-US", 1)],
    );
    assert_eq!(ask(&only_gold, "silver", "en-US", "1"), Choice::Fallback);
}

#[test]
fn rule_locales_restrict_the_rule() {
    let mut ja_only = rule("*", text("ja-special"));
    ja_only.locales = Some(vec!["ja".into()]);
    let a = app(
        &["en-US", "ja"],
        vec![ja_only, rule("*", text("generic"))],
        &[
            ("ja-special", "ja", 1),
            ("ja-special", "en-US", 9),
            ("generic", "en-US", 2),
            ("generic", "ja", 3),
        ],
    );
    assert_eq!(answered(ask(&a, "p", "ja", "1")), Some((0, id(1))));
    // en-US has an approved version of the ja rule's message, but the rule is for ja only.
    assert_eq!(answered(ask(&a, "p", "en-US", "1")), Some((1, id(2))));
    // A device spelling resolves before the rule's locales are compared.
    assert_eq!(answered(ask(&a, "p", "ja-JP", "1")), Some((0, id(1))));
}

#[test]
fn splits_follow_the_customer_bucket() {
    let mut a_half = rule("*", text("a"));
    a_half.buckets = Some(BucketRange { from: 0, to: 50 });
    let mut b_half = rule("*", text("b"));
    b_half.buckets = Some(BucketRange { from: 50, to: 100 });
    let a = app(
        &["en-US"],
        vec![a_half, b_half],
        &[("a", "en-US", 1), ("b", "en-US", 2)],
    );
    let low = otid_where(|b| b < 50);
    let high = otid_where(|b| b >= 50);
    assert_eq!(answered(ask(&a, "p", "en-US", &low)), Some((0, id(1))));
    assert_eq!(answered(ask(&a, "p", "en-US", &high)), Some((1, id(2))));
    // Stable: the same customer always gets the same side.
    for _ in 0..3 {
        assert_eq!(answered(ask(&a, "p", "en-US", &low)), Some((0, id(1))));
    }
    // Edges: bucket 49 is A, 50 is B.
    let at_49 = otid_where(|b| b == 49);
    let at_50 = otid_where(|b| b == 50);
    assert_eq!(answered(ask(&a, "p", "en-US", &at_49)), Some((0, id(1))));
    assert_eq!(answered(ask(&a, "p", "en-US", &at_50)), Some((1, id(2))));
}

#[test]
fn a_split_side_without_approval_falls_through_to_the_next_rule() {
    let mut a_half = rule("*", text("new-copy"));
    a_half.buckets = Some(BucketRange { from: 0, to: 50 });
    let a = app(
        &["en-US"],
        vec![a_half, rule("*", text("old-copy"))],
        &[("old-copy", "en-US", 2)],
    );
    let low = otid_where(|b| b < 50);
    assert_eq!(answered(ask(&a, "p", "en-US", &low)), Some((1, id(2))));
}

#[test]
fn an_older_approved_version_is_served() {
    let mut a = app(&["en-US"], vec![rule("*", text("a"))], &[]);
    a.approved.entry("a".into()).or_default().insert(
        "en-US".into(),
        ApprovedVersion {
            message_id: id(5),
            current: false,
        },
    );
    assert_eq!(answered(ask(&a, "p", "en-US", "1")), Some((0, id(5))));
}

#[test]
fn user_locales_resolve_to_app_locales() {
    let a = app(
        &[
            "en-US", "en-GB", "ja", "zh-Hans", "zh-Hant", "de-DE", "pt-BR",
        ],
        vec![],
        &[],
    );
    let cases = [
        ("en-US", Some("en-US")),
        ("en_US", Some("en-US")),
        ("en-us", Some("en-US")),
        ("EN_GB", Some("en-GB")),
        ("ja", Some("ja")),
        ("ja-JP", Some("ja")),
        ("ja_JP", Some("ja")),
        ("zh-Hans-CN", Some("zh-Hans")),
        ("zh-Hant-TW", Some("zh-Hant")),
        ("zh-CN", Some("zh-Hans")),
        ("zh_TW", Some("zh-Hant")),
        ("zh-HK", Some("zh-Hant")),
        ("de-AT", Some("de-DE")),
        ("de", Some("de-DE")),
        ("pt-PT", Some("pt-BR")),
        // Two English locales: a third region is ambiguous.
        ("en-IN", None),
        ("en", None),
        ("fr-FR", None),
        ("", None),
        ("-", None),
        ("_", None),
    ];
    for (user, expected) in cases {
        assert_eq!(resolve_locale(&a, user), expected, "{user:?}");
    }
}

#[test]
fn norwegian_and_old_codes_resolve_as_validate_maps_them() {
    let a = app(&["no", "he", "id", "en-US"], vec![], &[]);
    for (user, expected) in [
        ("nb-NO", "no"),
        ("nb_NO", "no"),
        ("nb", "no"),
        ("nn-NO", "no"),
        ("iw-IL", "he"),
        ("in", "id"),
    ] {
        assert_eq!(resolve_locale(&a, user), Some(expected), "{user:?}");
    }
}

#[test]
fn exact_locale_wins_over_a_looser_match() {
    // Both `zh-Hans` and a (hypothetical) `zh` are app locales: exact first.
    let a = app(&["zh", "zh-Hans"], vec![], &[]);
    assert_eq!(resolve_locale(&a, "zh-Hans"), Some("zh-Hans"));
    assert_eq!(resolve_locale(&a, "zh"), Some("zh"));
    assert_eq!(resolve_locale(&a, "zh-Hans-CN"), Some("zh-Hans"));
}

#[test]
fn without_app_locales_the_approved_locales_count() {
    let a = app(&[], vec![rule("*", text("a"))], &[("a", "ja", 1)]);
    assert_eq!(answered(ask(&a, "p", "ja-JP", "1")), Some((0, id(1))));
    assert_eq!(ask(&a, "p", "fr-FR", "1"), Choice::Fallback);
}

#[test]
fn unknown_user_locale_falls_back() {
    let a = app(&["en-US"], vec![rule("*", text("a"))], &[("a", "en-US", 1)]);
    assert_eq!(ask(&a, "p", "fr-FR", "1"), Choice::Fallback);
}

#[test]
fn message_key_of_every_answer() {
    assert_eq!(text("a").message_key(), Some("a"));
    assert_eq!(
        RuleAnswer::PromotionalOffer {
            message: "b".into(),
            offer_id: "o".into()
        }
        .message_key(),
        Some("b")
    );
    assert_eq!(
        RuleAnswer::AlternateProduct {
            message: "c".into(),
            product_id: "p".into(),
            billing_plan_type: None
        }
        .message_key(),
        Some("c")
    );
    assert_eq!(RuleAnswer::Control.message_key(), None);
}

#[test]
fn rule_answers_have_the_documented_json_shape() {
    let cases = [
        (text("k"), serde_json::json!({"message": "k"})),
        (
            RuleAnswer::PromotionalOffer {
                message: "k".into(),
                offer_id: "o".into(),
            },
            serde_json::json!({"promotionalOffer": {"message": "k", "offerId": "o"}}),
        ),
        (
            RuleAnswer::AlternateProduct {
                message: "k".into(),
                product_id: "p".into(),
                billing_plan_type: Some("MONTHLY".into()),
            },
            serde_json::json!({"alternateProduct": {"message": "k", "productId": "p", "billingPlanType": "MONTHLY"}}),
        ),
        (
            RuleAnswer::AlternateProduct {
                message: "k".into(),
                product_id: "p".into(),
                billing_plan_type: None,
            },
            serde_json::json!({"alternateProduct": {"message": "k", "productId": "p"}}),
        ),
    ];
    for (answer, json) in cases {
        assert_eq!(serde_json::to_value(&answer).unwrap(), json);
        assert_eq!(serde_json::from_value::<RuleAnswer>(json).unwrap(), answer);
    }
    assert!(
        serde_json::from_value::<RuleAnswer>(
            serde_json::json!({"promotionalOffer": {"message": "k", "offerId": "o", "extra": 1}})
        )
        .is_err()
    );
}

fn sample_snapshot() -> Snapshot {
    let mut s = Snapshot::new(EnvironmentName::Production);
    let mut a = app(
        &["en-US"],
        vec![Rule {
            product: "*".into(),
            locales: Some(vec!["en-US".into()]),
            buckets: Some(BucketRange { from: 0, to: 50 }),
            answer: text("a"),
        }],
        &[("a", "en-US", 1)],
    );
    a.app_apple_id = Some(1234);
    a.offer_signing = Some(Credentials {
        key_id: Some("OFFER_KEY_ID".into()),
        ..Credentials::default()
    });
    s.apps.push(a);
    s
}

#[test]
fn snapshots_round_trip_through_json() {
    let s = sample_snapshot();
    let text = s.to_json();
    assert!(text.ends_with('\n'));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["kind"], "realtime-snapshot");
    assert_eq!(value["formatVersion"], 1);
    assert_eq!(value["environment"], "production");
    assert_eq!(value["apps"][0]["bundleId"], "com.example.app");
    assert_eq!(value["apps"][0]["appAppleId"], 1234);
    assert_eq!(value["apps"][0]["offerSigning"]["keyId"], "OFFER_KEY_ID");
    assert_eq!(
        value["apps"][0]["approved"]["a"]["en-US"]["messageId"],
        id(1).to_string()
    );
    assert_eq!(value["apps"][0]["rules"][0]["buckets"]["to"], 50);
    assert_eq!(Snapshot::from_json(&text).unwrap(), s);
    assert_eq!(
        s.app("com.example.app").unwrap().bundle_id,
        "com.example.app"
    );
    assert!(s.app("com.nope").is_none());
    assert_eq!(
        s.app_by_apple_id(1234).unwrap().bundle_id,
        "com.example.app"
    );
    assert!(s.app_by_apple_id(1).is_none());
    assert_eq!(s.served_message_ids()["com.example.app"], vec![id(1)]);
}

#[test]
fn bad_snapshots_are_refused_with_a_reason() {
    let good = serde_json::to_value(sample_snapshot()).unwrap();
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        Snapshot::from_json(&v.to_string())
    };
    assert!(matches!(
        with(&|v| v["kind"] = "plan".into()),
        Err(SnapshotError::WrongKind(k)) if k == "plan"
    ));
    assert!(matches!(
        with(&|v| v["formatVersion"] = 2.into()),
        Err(SnapshotError::UnsupportedVersion(2))
    ));
    assert!(matches!(
        with(&|v| v["environment"] = "local".into()),
        Err(SnapshotError::LocalEnvironment)
    ));
    assert!(matches!(
        with(&|v| v["apps"][0]["rules"][0]["buckets"] = serde_json::json!({"from": 60, "to": 50})),
        Err(SnapshotError::BadBuckets {
            rule: 0,
            from: 60,
            to: 50,
            ..
        })
    ));
    assert!(matches!(
        with(&|v| v["apps"][0]["rules"][0]["buckets"] = serde_json::json!({"from": 0, "to": 101})),
        Err(SnapshotError::BadBuckets { .. })
    ));
    assert!(matches!(
        with(&|v| v["surprise"] = true.into()),
        Err(SnapshotError::Json(_))
    ));
    assert!(matches!(
        Snapshot::from_json("not json"),
        Err(SnapshotError::Json(_))
    ));
}

#[test]
fn the_fitness_example_splits_as_its_comment_says() {
    let manifest: crate::manifest::Manifest =
        serde_yaml::from_str(include_str!("../../examples/fitness/fitness.yaml")).unwrap();
    // Every localization of every message approved.
    let mut n = 0;
    let mut approved = vec![];
    for (key, message) in &manifest.messages {
        for locale in message.localizations.keys() {
            n += 1;
            approved.push((key.clone(), locale.clone(), n));
        }
    }
    let approved: Vec<(&str, &str, u128)> = approved
        .iter()
        .map(|(k, l, n)| (k.as_str(), l.as_str(), *n))
        .collect();
    let locales: Vec<&str> = manifest.app.locales.iter().map(String::as_str).collect();
    let mut a = app(&locales, rules::resolve(&manifest.realtime), &approved);
    a.bundle_id = manifest.app.bundle_id.clone();
    let otid = |pred: &dyn Fn(u8) -> bool| {
        (2_000_000_000_000_000u64..)
            .map(|n| n.to_string())
            .find(|o| pred(bucket(&a.bundle_id, "fitness.premium.monthly/*", o)))
            .unwrap()
    };
    let (first, second) = (otid(&|b| b < 50), otid(&|b| b >= 50));
    let rule = |locale: &str, o: &str| match ask(&a, "fitness.premium.monthly", locale, o) {
        Choice::Answer { rule, .. } | Choice::Control { rule } => Some(rule),
        Choice::Fallback => None,
    };
    assert_eq!(rule("en-US", &first), Some(0), "yearly plan");
    assert_eq!(rule("en-US", &second), Some(1), "streak message");
    assert_eq!(rule("de-DE", &first), Some(2), "the offer");
    assert_eq!(rule("fr-FR", &first), Some(3), "the premium message");
    assert_eq!(rule("de-DE", &second), Some(1));
    assert_eq!(rule("fr-FR", &second), Some(1));
}

#[test]
fn what_a_snapshot_serves_includes_the_images_its_versions_use() {
    let mut snapshot = Snapshot::new(EnvironmentName::Production);
    snapshot.apps.push(app(
        &["en-US"],
        vec![rule("*", text("stay"))],
        &[("stay", "en-US", 0xa1), ("stay", "de-DE", 0xa2)],
    ));
    snapshot.versions.insert(
        id(0xa1),
        VersionFacts {
            kind: MessageKind::Text,
            image_ids: vec![id(0x11), id(0x12)],
        },
    );
    let served = snapshot.served_ids("com.example.app").unwrap();
    let want: std::collections::BTreeSet<String> = [0xa1, 0xa2, 0x11, 0x12]
        .into_iter()
        .map(|n| id(n).to_string())
        .collect();
    assert_eq!(served, want);
    assert_eq!(snapshot.served_ids("com.example.other"), None);
}

/// A split's control arm answers nothing, and stops there: the rules after it are not
/// asked (the customers of that arm must see Apple's default, not another message).
#[test]
fn a_control_arm_answers_nothing_and_stops() {
    let mut control = rule("*", RuleAnswer::Control);
    control.buckets = Some(BucketRange { from: 0, to: 50 });
    let mut message = rule("*", text("stay"));
    message.buckets = Some(BucketRange { from: 50, to: 100 });
    let a = app(
        &["en-US"],
        vec![control, message, rule("*", text("stay"))],
        &[("stay", "en-US", 7)],
    );
    let in_control = otid_where(|b| b < 50);
    let in_message = otid_where(|b| b >= 50);
    assert_eq!(
        ask(&a, "p", "en-US", &in_control),
        Choice::Control { rule: 0 }
    );
    assert_eq!(
        answered(ask(&a, "p", "en-US", &in_message)),
        Some((1, id(7)))
    );
}
