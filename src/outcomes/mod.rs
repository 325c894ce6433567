//! Learning what works: the decisions `serve` recorded (what each customer was answered,
//! by which rule and split arm) joined to what Apple's notifications say the customer did
//! next, per app × rule × arm × product × locale, with 95 % intervals and, within a split,
//! a test of each arm against the control (or the first arm). Pure: records in, a
//! [`Report`] out; reading files and rendering are the command layer's and `render`'s.
//!
//! Customers appear only as a keyed hash of their original transaction id (the same key
//! in `serve` and `notifications pull`), never as the id itself.

pub mod notifications;
pub mod records;
pub mod stats;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

pub use records::{AnswerKind, Decision, Event, Outcome};
use stats::{Rate, two_proportion, wilson};

/// Version of the JSON report.
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// What the report is about: one app × rule × arm × product × locale.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupKey {
    pub app: String,
    /// The rule's index in the manifest's `realtime:` list (from 0); none: no rule
    /// matched and Apple showed the default message.
    pub rule: Option<u32>,
    /// The split group the rule belongs to (its first rule's index), if any.
    pub split: Option<u32>,
    pub answer: AnswerKind,
    pub product: String,
    pub locale: String,
}

/// Customers shown one answer, and what they did within the window after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    #[serde(flatten)]
    pub key: GroupKey,
    pub shown: u64,
    pub auto_renew_off: Rate,
    pub redeemed_offer: Rate,
    pub switched_plan: Rate,
    pub renewed: Rate,
    pub expired: Rate,
}

/// One arm against the baseline of its split, on the share that turned auto-renew off.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmComparison {
    pub rule: u32,
    pub answer: AnswerKind,
    pub auto_renew_off: Rate,
    pub z: Option<f64>,
    pub p_value: Option<f64>,
}

/// A split's arms (every product and locale together), the baseline they are compared
/// with (the control arm, else the first), and what the evidence says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitVerdict {
    pub app: String,
    pub split: u32,
    pub baseline: ArmComparison,
    pub arms: Vec<ArmComparison>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Verdict {
    /// This arm lost fewer subscribers than the baseline, with p below 0.05.
    Better { rule: u32 },
    /// The baseline lost fewer than every other arm, each with p below 0.05.
    BaselineBetter,
    /// No difference is clear yet (p ≥ 0.05 or too few customers).
    NotEnoughEvidence,
}

/// Records that could not be used, counted, never silently dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// Outcomes whose notification was already counted (the same notification id).
    pub duplicate_outcomes: u64,
    /// Outcomes of customers no decision was recorded for.
    pub outcomes_without_decision: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub format_version: u32,
    /// Decisions from this time on (ms since the epoch), if given.
    pub since_ms: Option<i64>,
    /// How long after a decision an outcome still counts for it.
    pub window_ms: i64,
    pub decisions: u64,
    pub outcomes: u64,
    pub skipped: Skipped,
    pub rows: Vec<Row>,
    pub splits: Vec<SplitVerdict>,
}

/// The p-value under which an arm is called better.
pub const SIGNIFICANCE: f64 = 0.05;

/// Joins `decisions` to the `outcomes` that follow them: a customer counts once per
/// group, from their first decision in it (at or after `since`), and an outcome counts
/// when it happened within `window_ms` after that decision.
pub fn report(
    decisions: &[Decision],
    outcomes: &[Outcome],
    since_ms: Option<i64>,
    window_ms: i64,
) -> Report {
    let mut skipped = Skipped::default();
    // Each customer's outcomes, once per notification, in time order.
    let mut seen = std::collections::HashSet::new();
    let mut by_customer: HashMap<&str, Vec<(i64, Event)>> = HashMap::new();
    for o in outcomes {
        if !seen.insert(o.notification.as_str()) {
            skipped.duplicate_outcomes += 1;
            continue;
        }
        by_customer
            .entry(&o.customer)
            .or_default()
            .push((o.at_ms, o.event));
    }
    for list in by_customer.values_mut() {
        list.sort_unstable();
    }
    // First decision of each customer per group.
    let mut first: HashMap<(GroupKey, &str), i64> = HashMap::new();
    let mut customers_decided = std::collections::HashSet::new();
    for d in decisions {
        if since_ms.is_some_and(|s| d.at_ms < s) {
            continue;
        }
        customers_decided.insert(d.customer.as_str());
        let key = GroupKey {
            app: d.app.clone(),
            rule: d.rule,
            split: d.split,
            answer: d.answer,
            product: d.product.clone(),
            locale: d.locale.clone(),
        };
        first
            .entry((key, d.customer.as_str()))
            .and_modify(|t| *t = (*t).min(d.at_ms))
            .or_insert(d.at_ms);
    }
    skipped.outcomes_without_decision = by_customer
        .iter()
        .filter(|(c, _)| !customers_decided.contains(*c))
        .map(|(_, list)| list.len() as u64)
        .sum();
    #[derive(Default)]
    struct Counts {
        shown: u64,
        by_event: [u64; Event::ALL.len()],
    }
    let mut groups: BTreeMap<GroupKey, Counts> = BTreeMap::new();
    for ((key, customer), at) in first {
        let counts = groups.entry(key).or_default();
        counts.shown += 1;
        let Some(list) = by_customer.get(customer) else {
            continue;
        };
        let start = list.partition_point(|(t, _)| *t < at);
        let mut did = [false; Event::ALL.len()];
        for (t, event) in &list[start..] {
            if *t > at + window_ms {
                break;
            }
            did[*event as usize] = true;
        }
        for (i, yes) in did.into_iter().enumerate() {
            counts.by_event[i] += u64::from(yes);
        }
    }
    let rows: Vec<Row> = groups
        .into_iter()
        .map(|(key, c)| {
            let rate = |e: Event| wilson(c.by_event[e as usize], c.shown);
            Row {
                key,
                shown: c.shown,
                auto_renew_off: rate(Event::AutoRenewOff),
                redeemed_offer: rate(Event::OfferRedeemed),
                switched_plan: rate(Event::PlanChanged),
                renewed: rate(Event::Renewed),
                expired: rate(Event::Expired),
            }
        })
        .collect();
    let splits = verdicts(&rows);
    Report {
        format_version: REPORT_FORMAT_VERSION,
        since_ms,
        window_ms,
        decisions: decisions.len() as u64,
        outcomes: outcomes.len() as u64,
        skipped,
        rows,
        splits,
    }
}

/// An arm's answer, how many of its customers turned auto-renew off, and how many it had.
type Arm = (AnswerKind, u64, u64);

/// Each split's arms over all its products and locales, tested against the baseline.
fn verdicts(rows: &[Row]) -> Vec<SplitVerdict> {
    // (app, split) → rule → its arm
    let mut arms: BTreeMap<(&str, u32), BTreeMap<u32, Arm>> = BTreeMap::new();
    for row in rows {
        let (Some(split), Some(rule)) = (row.key.split, row.key.rule) else {
            continue;
        };
        let arm = arms
            .entry((&row.key.app, split))
            .or_default()
            .entry(rule)
            .or_insert((row.key.answer, 0, 0));
        arm.1 += row.auto_renew_off.k;
        arm.2 += row.shown;
    }
    let mut out = Vec::new();
    for ((app, split), by_rule) in arms {
        if by_rule.len() < 2 {
            continue;
        }
        let comparison = |rule: u32, &(answer, k, n): &Arm| ArmComparison {
            rule,
            answer,
            auto_renew_off: wilson(k, n),
            z: None,
            p_value: None,
        };
        let baseline_rule = by_rule
            .iter()
            .find(|(_, (answer, _, _))| *answer == AnswerKind::Control)
            .map(|(rule, _)| *rule)
            .unwrap_or_else(|| *by_rule.keys().next().expect("two arms"));
        let baseline = comparison(baseline_rule, &by_rule[&baseline_rule]);
        let others: Vec<ArmComparison> = by_rule
            .iter()
            .filter(|(rule, _)| **rule != baseline_rule)
            .map(|(rule, arm)| {
                let mut c = comparison(*rule, arm);
                if let Some((z, p)) = two_proportion(c.auto_renew_off, baseline.auto_renew_off) {
                    c.z = Some(z);
                    c.p_value = Some(p);
                }
                c
            })
            .collect();
        let clear = |c: &ArmComparison| c.p_value.is_some_and(|p| p < SIGNIFICANCE);
        // Fewer turned auto-renew off is better.
        let best = others
            .iter()
            .filter(|c| clear(c) && c.auto_renew_off.value < baseline.auto_renew_off.value)
            .min_by(|a, b| a.auto_renew_off.value.total_cmp(&b.auto_renew_off.value));
        let verdict = match best {
            Some(c) => Verdict::Better { rule: c.rule },
            None if !others.is_empty()
                && others.iter().all(|c| {
                    clear(c) && c.auto_renew_off.value > baseline.auto_renew_off.value
                }) =>
            {
                Verdict::BaselineBetter
            }
            None => Verdict::NotEnoughEvidence,
        };
        out.push(SplitVerdict {
            app: app.to_string(),
            split,
            baseline,
            arms: others,
            verdict,
        });
    }
    out
}

#[cfg(test)]
mod tests;
