//! How an app's realtime rules differ from a base: the base manifest (`plan --base`) or
//! the rules the realtime snapshot serves now (`plan --snapshot`). Rules are compared as
//! served (splits as bucket ranges), in order, with a sequence diff (crate `similar`): a
//! rule replaced in place is `changed`, others `added` or `removed`. Pure.

use serde::{Deserialize, Serialize};
use similar::{Algorithm, DiffOp, capture_diff_slices};

use crate::diff::Change;
use crate::realtime::Rule;

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
    for op in capture_diff_slices(Algorithm::Myers, before, after) {
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
}
