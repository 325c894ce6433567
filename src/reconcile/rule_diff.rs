//! How an app's realtime rules differ from a base: the base manifest (`plan --base`) or
//! the rules the realtime snapshot serves now (`plan --snapshot`). Rules are compared as
//! served (splits as bucket ranges), in order, with a sequence diff (crate `similar`): a
//! rule replaced in place is `changed`, others `added` or `removed`. Pure.
//!
//! Beside the rules, [`snapshot_changes`]: what else the next `apply --snapshot` changes
//! in the served entry of an app (a version served instead of another, `appAppleId`,
//! the offer-key names, the locales compared as sets).

use serde::{Deserialize, Serialize};
use similar::{Algorithm, DiffOp, capture_diff_slices};

use crate::manifest::Credentials;
use crate::realtime::{AppRealtime, Rule};
use crate::reconcile::diff::Change;

/// What the rules are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RulesBase {
    /// The base manifests of `plan --base`.
    Base,
    /// The realtime snapshot of `plan --snapshot`.
    Snapshot,
}

/// One rule added, removed or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleChange {
    pub change: Change,
    pub against: RulesBase,
    /// Its number (from 1) in the base, when it was there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_number: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Rule>,
    /// Its number (from 1) in the manifest, when it is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_number: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Rule>,
}

/// The changes from `before` to `after`, in order.
pub fn rule_changes(before: &[Rule], after: &[Rule], against: RulesBase) -> Vec<RuleChange> {
    let mut out = vec![];
    let removed = |i: usize| RuleChange {
        change: Change::Removed,
        against,
        before_number: Some(i + 1),
        before: Some(before[i].clone()),
        after_number: None,
        after: None,
    };
    let added = |j: usize| RuleChange {
        change: Change::Added,
        against,
        before_number: None,
        before: None,
        after_number: Some(j + 1),
        after: Some(after[j].clone()),
    };
    // Compared with their locales as sets: a reordered list serves the same.
    let normalized = |rules: &[Rule]| -> Vec<Rule> {
        rules
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if let Some(l) = &mut r.locales {
                    l.sort_unstable();
                    l.dedup();
                }
                r
            })
            .collect()
    };
    let (b, a) = (normalized(before), normalized(after));
    for op in capture_diff_slices(Algorithm::Myers, &b, &a) {
        match op {
            DiffOp::Equal { .. } => {}
            DiffOp::Delete {
                old_index, old_len, ..
            } => out.extend((old_index..old_index + old_len).map(removed)),
            DiffOp::Insert {
                new_index, new_len, ..
            } => out.extend((new_index..new_index + new_len).map(added)),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                let paired = old_len.min(new_len);
                for k in 0..paired {
                    out.push(RuleChange {
                        change: Change::Changed,
                        against,
                        before_number: Some(old_index + k + 1),
                        before: Some(before[old_index + k].clone()),
                        after_number: Some(new_index + k + 1),
                        after: Some(after[new_index + k].clone()),
                    });
                }
                out.extend((old_index + paired..old_index + old_len).map(removed));
                out.extend((new_index + paired..new_index + new_len).map(added));
            }
        }
    }
    out
}

/// One difference, other than the rules, between the served entry of an app and the one
/// the next `apply --snapshot` writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum SnapshotChange {
    /// Message `key` [`locale`] is answered with `after` instead of `before` (`None`:
    /// nothing approved, the rule falls through).
    Serves {
        key: String,
        locale: String,
        before: Option<uuid::Uuid>,
        after: Option<uuid::Uuid>,
    },
    AppAppleId {
        before: Option<i64>,
        after: Option<i64>,
    },
    /// The NAMES of the offer-key variables.
    OfferSigning {
        before: Option<Credentials>,
        after: Option<Credentials>,
    },
    /// The app's locales, as sets (an order change is none).
    Locales {
        before: Vec<String>,
        after: Vec<String>,
    },
}

/// What the next snapshot changes in an app's served entry besides the rules (`before`:
/// `None` when the snapshot does not have the app yet).
pub fn snapshot_changes(before: Option<&AppRealtime>, after: &AppRealtime) -> Vec<SnapshotChange> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut out = vec![];
    let before_id = before.and_then(|b| b.app_apple_id);
    if before_id != after.app_apple_id {
        out.push(SnapshotChange::AppAppleId {
            before: before_id,
            after: after.app_apple_id,
        });
    }
    let before_signing = before.and_then(|b| b.offer_signing.clone());
    if before_signing != after.offer_signing {
        out.push(SnapshotChange::OfferSigning {
            before: before_signing,
            after: after.offer_signing.clone(),
        });
    }
    let before_locales: Vec<String> = before.map(|b| b.locales.clone()).unwrap_or_default();
    let set = |l: &[String]| l.iter().cloned().collect::<BTreeSet<String>>();
    if set(&before_locales) != set(&after.locales) {
        out.push(SnapshotChange::Locales {
            before: before_locales,
            after: after.locales.clone(),
        });
    }
    let served = |a: Option<&AppRealtime>| -> BTreeMap<(String, String), uuid::Uuid> {
        a.into_iter()
            .flat_map(|a| {
                a.approved.iter().flat_map(|(key, by_locale)| {
                    by_locale
                        .iter()
                        .map(move |(locale, v)| ((key.clone(), locale.clone()), v.message_id))
                })
            })
            .collect()
    };
    let (was, will) = (served(before), served(Some(after)));
    let keys: BTreeSet<&(String, String)> = was.keys().chain(will.keys()).collect();
    for k in keys {
        let (b, a) = (was.get(k).copied(), will.get(k).copied());
        if b != a {
            out.push(SnapshotChange::Serves {
                key: k.0.clone(),
                locale: k.1.clone(),
                before: b,
                after: a,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::RuleAnswer;

    fn rule(product: &str, key: &str) -> Rule {
        Rule {
            product: product.into(),
            locales: None,
            buckets: None,
            answer: RuleAnswer::Message(key.into()),
        }
    }

    fn summary(changes: &[RuleChange]) -> Vec<(Change, Option<usize>, Option<usize>)> {
        changes
            .iter()
            .map(|c| (c.change, c.before_number, c.after_number))
            .collect()
    }

    #[test]
    fn same_rules_no_changes() {
        let rules = [rule("*", "a"), rule("p", "b")];
        assert!(rule_changes(&rules, &rules, RulesBase::Base).is_empty());
        let with = |locales: &[&str]| Rule {
            locales: Some(locales.iter().map(|l| l.to_string()).collect()),
            ..rule("*", "a")
        };
        assert!(
            rule_changes(
                &[with(&["en-US", "de-DE"])],
                &[with(&["de-DE", "en-US"])],
                RulesBase::Base
            )
            .is_empty(),
            "a reordered locales list is no change"
        );
        assert_eq!(
            rule_changes(
                &[with(&["en-US"])],
                &[with(&["de-DE", "en-US"])],
                RulesBase::Base
            )
            .len(),
            1
        );
    }

    #[test]
    fn additions_removals_and_changes_in_order() {
        let before = [rule("*", "a"), rule("p", "b"), rule("q", "c")];
        let after = [
            rule("new", "x"),
            rule("*", "a"),
            rule("p", "B"),
            rule("q", "c"),
        ];
        let changes = rule_changes(&before, &after, RulesBase::Snapshot);
        assert_eq!(
            summary(&changes),
            vec![
                (Change::Added, None, Some(1)),
                (Change::Changed, Some(2), Some(3)),
            ]
        );
        assert_eq!(changes[1].before, Some(rule("p", "b")));
        assert_eq!(changes[1].after, Some(rule("p", "B")));
        assert_eq!(changes[0].against, RulesBase::Snapshot);
        let gone = rule_changes(&before, &before[..1], RulesBase::Base);
        assert_eq!(
            summary(&gone),
            vec![
                (Change::Removed, Some(2), None),
                (Change::Removed, Some(3), None)
            ]
        );
    }

    fn entry(locales: &[&str], served: &[(&str, &str, u128)]) -> AppRealtime {
        let mut approved: std::collections::BTreeMap<_, std::collections::BTreeMap<_, _>> =
            Default::default();
        for (key, locale, n) in served {
            approved.entry(key.to_string()).or_default().insert(
                locale.to_string(),
                crate::realtime::ApprovedVersion {
                    message_id: uuid::Uuid::from_u128(*n),
                    current: true,
                },
            );
        }
        AppRealtime {
            bundle_id: "com.example.app".into(),
            app_apple_id: Some(1),
            offer_signing: None,
            locales: locales.iter().map(|l| l.to_string()).collect(),
            rules: vec![],
            approved,
        }
    }

    #[test]
    fn snapshot_changes_are_typed_and_locales_compare_as_sets() {
        let before = entry(&["en-US", "de-DE"], &[("a", "en-US", 1), ("b", "en-US", 2)]);
        let same = entry(&["de-DE", "en-US"], &[("a", "en-US", 1), ("b", "en-US", 2)]);
        assert!(
            snapshot_changes(Some(&before), &same).is_empty(),
            "order is no change"
        );
        let mut after = entry(&["en-US"], &[("a", "en-US", 3), ("c", "en-US", 4)]);
        after.app_apple_id = Some(2);
        let changes = snapshot_changes(Some(&before), &after);
        let id = uuid::Uuid::from_u128;
        assert_eq!(
            changes,
            vec![
                SnapshotChange::AppAppleId {
                    before: Some(1),
                    after: Some(2)
                },
                SnapshotChange::Locales {
                    before: vec!["en-US".into(), "de-DE".into()],
                    after: vec!["en-US".into()]
                },
                SnapshotChange::Serves {
                    key: "a".into(),
                    locale: "en-US".into(),
                    before: Some(id(1)),
                    after: Some(id(3))
                },
                SnapshotChange::Serves {
                    key: "b".into(),
                    locale: "en-US".into(),
                    before: Some(id(2)),
                    after: None
                },
                SnapshotChange::Serves {
                    key: "c".into(),
                    locale: "en-US".into(),
                    before: None,
                    after: Some(id(4))
                },
            ]
        );
        // An app the snapshot does not have yet.
        assert_eq!(snapshot_changes(None, &same).len(), 4);
    }
}
