//! From the manifest's rules to the served ones: `percent` splits become bucket ranges.
//!
//! Split semantics: rules with `percent` take successive bucket ranges (from 0) among
//! CONSECUTIVE rules with the same `product` and `locales`; any other rule (another match,
//! or one without `percent`) ends the group. A rule without `percent` matches every
//! bucket. Each group draws its customers' buckets with its own salt (its product and
//! locales, [`super::split_salt`]), so two experiments are independent. So a 50/50 A/B test is two rules with `percent: 50`, or one with `percent: 50`
//! followed by one without (which also answers the first half's customers while the first
//! rule's content is not approved).

use std::collections::BTreeSet;

use super::{BucketRange, Rule};
use crate::manifest::RealtimeRule;

/// What makes rules of a split group the same match: the product and the set of locales.
fn match_key(rule: &RealtimeRule) -> (&str, Option<BTreeSet<&str>>) {
    (
        rule.product.as_str(),
        rule.locales
            .as_ref()
            .map(|l| l.iter().map(String::as_str).collect()),
    )
}

/// The split groups: runs of consecutive rules with `percent` and the same match, as rule
/// indexes in order (rules without `percent` are in no group).
pub fn split_groups(rules: &[RealtimeRule]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = vec![];
    let mut previous: Option<usize> = None;
    for (i, rule) in rules.iter().enumerate() {
        if rule.percent.is_none() {
            previous = None;
            continue;
        }
        match previous {
            Some(p) if match_key(&rules[p]) == match_key(rule) => {
                groups.last_mut().expect("a group is open").push(i);
            }
            _ => groups.push(vec![i]),
        }
        previous = Some(i);
    }
    groups
}

/// The served rules, in order. Bucket ranges past 100 (which `validate` refuses) are cut
/// at 100. A rule without an answer (never decoded) is left out.
pub fn resolve(rules: &[RealtimeRule]) -> Vec<Rule> {
    let mut ranges: Vec<Option<BucketRange>> = vec![None; rules.len()];
    for group in split_groups(rules) {
        let mut from: u16 = 0;
        for i in group {
            let percent = u16::from(rules[i].percent.unwrap_or(0));
            let to = (from + percent).min(100);
            let start = from.min(100);
            ranges[i] = Some(BucketRange {
                from: start as u8,
                to: to as u8,
            });
            from += percent;
        }
    }
    rules
        .iter()
        .zip(ranges)
        .filter_map(|(rule, buckets)| {
            Some(Rule {
                product: rule.product.clone(),
                locales: rule.locales.clone(),
                buckets,
                answer: rule.answer()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(product: &str, locales: Option<&[&str]>, percent: Option<u8>, key: &str) -> RealtimeRule {
        RealtimeRule {
            product: product.into(),
            locales: locales.map(|l| l.iter().map(|s| s.to_string()).collect()),
            percent,
            message: Some(key.into()),
            promotional_offer: None,
            alternate_product: None,
            control: None,
        }
    }

    fn ranges(rules: &[RealtimeRule]) -> Vec<Option<(u8, u8)>> {
        resolve(rules)
            .iter()
            .map(|r| r.buckets.map(|b| (b.from, b.to)))
            .collect()
    }

    #[test]
    fn consecutive_percent_rules_of_one_match_share_the_buckets() {
        let rules = [
            r("*", None, Some(50), "a"),
            r("*", None, Some(50), "b"),
            r("gold", None, Some(10), "c"),
            r("gold", None, Some(20), "d"),
            r("gold", None, None, "e"),
            r("gold", None, Some(30), "f"),
        ];
        assert_eq!(
            ranges(&rules),
            vec![
                Some((0, 50)),
                Some((50, 100)),
                Some((0, 10)),
                Some((10, 30)),
                None,
                // A rule without percent ended the group: a new one starts at 0.
                Some((0, 30)),
            ]
        );
        assert_eq!(split_groups(&rules), vec![vec![0, 1], vec![2, 3], vec![5]]);
    }

    #[test]
    fn locales_are_part_of_the_match_in_any_order() {
        let rules = [
            r("*", Some(&["en-US", "de-DE"]), Some(40), "a"),
            r("*", Some(&["de-DE", "en-US"]), Some(40), "b"),
            r("*", Some(&["en-US"]), Some(40), "c"),
            r("*", None, Some(40), "d"),
        ];
        assert_eq!(
            ranges(&rules),
            vec![Some((0, 40)), Some((40, 80)), Some((0, 40)), Some((0, 40))]
        );
    }

    #[test]
    fn overflowing_groups_are_cut_at_100() {
        let rules = [
            r("*", None, Some(80), "a"),
            r("*", None, Some(80), "b"),
            r("*", None, Some(80), "c"),
        ];
        assert_eq!(
            ranges(&rules),
            vec![Some((0, 80)), Some((80, 100)), Some((100, 100))]
        );
    }

    #[test]
    fn answers_are_carried_over() {
        let mut offer = r("*", None, None, "x");
        offer.message = None;
        offer.promotional_offer = Some(crate::manifest::PromotionalOfferAnswer {
            message: "o".into(),
            offer_id: "id".into(),
        });
        let resolved = resolve(&[offer]);
        assert_eq!(
            resolved[0].answer,
            super::super::RuleAnswer::PromotionalOffer {
                message: "o".into(),
                offer_id: "id".into()
            }
        );
    }
}
