//! Learning what works: the decisions `serve` recorded (what each customer was answered,
//! by which rule and split arm) joined to what Apple's notifications say the customer did
//! next, per app × rule × arm × product × locale, with 95 % intervals and, within a split,
//! a test of each arm against the control (or the first arm). Pure: records in, a
//! [`Report`] out; reading files and rendering are the command layer's and `render`'s.
//!
//! Customers appear only as a keyed hash of their original transaction id (the same key
//! in `serve` and `notifications pull`), never as the id itself.

pub mod live;
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
    pub environment: String,
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
    pub environment: String,
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
    let mut d = Decisions::default();
    for decision in decisions {
        d.push(&DecisionRef::of(decision));
    }
    let mut o = Outcomes::default();
    for outcome in outcomes {
        o.push(
            outcome.at_ms,
            &outcome.customer,
            outcome.event,
            &outcome.notification,
        );
    }
    report_of(d, o, since_ms, window_ms)
}

/// A customer as a number: the 32 hex digits of the keyed hash, or any other text hashed.
fn customer_id(text: &str) -> u128 {
    if text.len() == 32
        && let Ok(n) = u128::from_str_radix(text, 16)
    {
        return n;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"))
}

/// A decision line, borrowed from the text it was read from.
#[derive(Debug, serde::Deserialize)]
pub struct DecisionRef<'a> {
    #[serde(rename = "t")]
    pub at_ms: i64,
    #[serde(borrow)]
    pub app: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub environment: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub product: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub locale: std::borrow::Cow<'a, str>,
    #[serde(default)]
    pub rule: Option<u32>,
    #[serde(default)]
    pub split: Option<u32>,
    pub answer: AnswerKind,
    #[serde(borrow)]
    pub customer: std::borrow::Cow<'a, str>,
}

impl<'a> DecisionRef<'a> {
    pub fn of(d: &'a Decision) -> DecisionRef<'a> {
        DecisionRef {
            at_ms: d.at_ms,
            app: d.app.as_str().into(),
            environment: d.environment.as_str().into(),
            product: d.product.as_str().into(),
            locale: d.locale.as_str().into(),
            rule: d.rule,
            split: d.split,
            answer: d.answer,
            customer: d.customer.as_str().into(),
        }
    }
}

/// A [`GroupKey`] with its texts interned: (app, environment), rule, split, answer,
/// product, locale.
type InternedGroup = ((u32, u32), Option<u32>, Option<u32>, AnswerKind, u32, u32);

/// Decisions as the join needs them: 32 bytes each, the texts of their groups interned
/// (ten million decisions take some 320 MB, not gigabytes of strings).
#[derive(Default)]
pub struct Decisions {
    texts: HashMap<Box<str>, u32>,
    text_of: Vec<Box<str>>,
    groups: HashMap<InternedGroup, u32>,
    group_of: Vec<InternedGroup>,
    rows: Vec<(i64, u32, u128)>,
}

impl Decisions {
    fn text(&mut self, text: &str) -> u32 {
        if let Some(id) = self.texts.get(text) {
            return *id;
        }
        let id = self.text_of.len() as u32;
        self.text_of.push(text.into());
        self.texts.insert(text.into(), id);
        id
    }

    fn group(&mut self, key: InternedGroup) -> u32 {
        if let Some(g) = self.groups.get(&key) {
            return *g;
        }
        let g = self.group_of.len() as u32;
        self.group_of.push(key);
        self.groups.insert(key, g);
        g
    }

    pub fn push(&mut self, d: &DecisionRef) {
        let key = (
            (self.text(&d.app), self.text(&d.environment)),
            d.rule,
            d.split,
            d.answer,
            self.text(&d.product),
            self.text(&d.locale),
        );
        let group = self.group(key);
        self.rows.push((d.at_ms, group, customer_id(&d.customer)));
    }

    /// Adds `other`'s decisions (read from another file, on another thread).
    pub fn merge(&mut self, other: Decisions) {
        let mut remap = Vec::with_capacity(other.group_of.len());
        for &((app, env), rule, split, answer, product, locale) in &other.group_of {
            let key = (
                (
                    self.text(&other.text_of[app as usize]),
                    self.text(&other.text_of[env as usize]),
                ),
                rule,
                split,
                answer,
                self.text(&other.text_of[product as usize]),
                self.text(&other.text_of[locale as usize]),
            );
            remap.push(self.group(key));
        }
        self.rows.extend(
            other
                .rows
                .into_iter()
                .map(|(at, group, customer)| (at, remap[group as usize], customer)),
        );
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn key(&self, group: u32) -> GroupKey {
        let ((app, env), rule, split, answer, product, locale) = self.group_of[group as usize];
        GroupKey {
            app: self.text_of[app as usize].to_string(),
            environment: self.text_of[env as usize].to_string(),
            rule,
            split,
            answer,
            product: self.text_of[product as usize].to_string(),
            locale: self.text_of[locale as usize].to_string(),
        }
    }
}

/// Outcomes as the join needs them: (customer, time, event, notification id).
#[derive(Default)]
pub struct Outcomes {
    rows: Vec<(u128, i64, Event, u128)>,
}

impl Outcomes {
    pub fn push(&mut self, at_ms: i64, customer: &str, event: Event, notification: &str) {
        self.rows.push((
            customer_id(customer),
            at_ms,
            event,
            customer_id(notification),
        ));
    }

    pub fn merge(&mut self, other: Outcomes) {
        self.rows.extend(other.rows);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// [`report`] over records already made compact (`retainctl report` reads files into
/// them without holding a line's strings).
pub fn report_of(
    mut decisions: Decisions,
    mut outcomes: Outcomes,
    since_ms: Option<i64>,
    window_ms: i64,
) -> Report {
    let mut skipped = Skipped::default();
    let decision_count = decisions.len() as u64;
    let outcome_count = outcomes.len() as u64;
    // Each customer's outcomes, once per notification, in time order.
    outcomes
        .rows
        .sort_unstable_by_key(|&(customer, at, event, id)| (customer, id, at, event));
    outcomes.rows.dedup_by(|b, a| {
        let same = a.0 == b.0 && a.3 == b.3;
        skipped.duplicate_outcomes += u64::from(same);
        same
    });
    outcomes
        .rows
        .sort_unstable_by_key(|&(customer, at, event, _)| (customer, at, event));
    // First decision of each customer per group: sort by (group, customer, time).
    decisions
        .rows
        .retain(|&(at, _, _)| since_ms.is_none_or(|s| at >= s));
    decisions
        .rows
        .sort_unstable_by_key(|&(at, group, customer)| (group, customer, at));
    decisions
        .rows
        .dedup_by_key(|&mut (_, group, customer)| (group, customer));
    let decided: std::collections::HashSet<u128> =
        decisions.rows.iter().map(|&(_, _, c)| c).collect();
    let mut i = 0;
    while i < outcomes.rows.len() {
        let customer = outcomes.rows[i].0;
        let end = outcomes.rows[i..].partition_point(|r| r.0 == customer) + i;
        if !decided.contains(&customer) {
            skipped.outcomes_without_decision += (end - i) as u64;
        }
        i = end;
    }
    #[derive(Default)]
    struct Counts {
        shown: u64,
        by_event: [u64; Event::ALL.len()],
    }
    let mut counts: Vec<Counts> = (0..decisions.group_of.len())
        .map(|_| Counts::default())
        .collect();
    // Each split arm's customers, once each whatever product or locale they came with:
    // (app, environment, split, rule) → (answer, customer → turned auto-renew off).
    let mut arm_customers: HashMap<(u32, u32, u32, u32), ArmCustomers> = HashMap::new();
    for &(at, group, customer) in &decisions.rows {
        let c = &mut counts[group as usize];
        c.shown += 1;
        let start = outcomes
            .rows
            .partition_point(|r| (r.0, r.1) < (customer, at));
        let mut did = [false; Event::ALL.len()];
        for &(who, t, event, _) in &outcomes.rows[start..] {
            if who != customer || t > at.saturating_add(window_ms) {
                break;
            }
            did[event as usize] = true;
        }
        for (e, yes) in did.into_iter().enumerate() {
            c.by_event[e] += u64::from(yes);
        }
        let ((app, env), rule, split, answer, _, _) = decisions.group_of[group as usize];
        if let (Some(rule), Some(split)) = (rule, split) {
            let off = did[Event::AutoRenewOff as usize];
            let (_, customers) = arm_customers
                .entry((app, env, split, rule))
                .or_insert_with(|| (answer, HashMap::new()));
            *customers.entry(customer).or_default() |= off;
        }
    }
    let mut arms: BTreeMap<(String, String, u32), BTreeMap<u32, Arm>> = BTreeMap::new();
    for ((app, env, split, rule), (answer, customers)) in arm_customers {
        let off = customers.values().filter(|o| **o).count() as u64;
        arms.entry((
            decisions.text_of[app as usize].to_string(),
            decisions.text_of[env as usize].to_string(),
            split,
        ))
        .or_default()
        .insert(rule, (answer, off, customers.len() as u64));
    }
    let mut rows: Vec<Row> = counts
        .into_iter()
        .enumerate()
        .filter(|(_, c)| c.shown > 0)
        .map(|(group, c)| {
            let rate = |e: Event| wilson(c.by_event[e as usize], c.shown);
            Row {
                key: decisions.key(group as u32),
                shown: c.shown,
                auto_renew_off: rate(Event::AutoRenewOff),
                redeemed_offer: rate(Event::OfferRedeemed),
                switched_plan: rate(Event::PlanChanged),
                renewed: rate(Event::Renewed),
                expired: rate(Event::Expired),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    let splits = verdicts(arms);
    Report {
        format_version: REPORT_FORMAT_VERSION,
        since_ms,
        window_ms,
        decisions: decision_count,
        outcomes: outcome_count,
        skipped,
        rows,
        splits,
    }
}

/// An arm's answer, how many of its customers turned auto-renew off, and how many it had.
type Arm = (AnswerKind, u64, u64);

/// An arm's answer and its customers, each with whether they turned auto-renew off.
type ArmCustomers = (AnswerKind, HashMap<u128, bool>);

/// Each split's arms (every product and locale together, each customer once), tested
/// against the baseline; with several arms, each test at [`SIGNIFICANCE`] divided by
/// their number (Bonferroni), so that the split as a whole errs at most that often.
fn verdicts(arms: BTreeMap<(String, String, u32), BTreeMap<u32, Arm>>) -> Vec<SplitVerdict> {
    let mut out = Vec::new();
    for ((app, environment, split), by_rule) in arms {
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
        let level = SIGNIFICANCE / others.len().max(1) as f64;
        let clear = |c: &ArmComparison| c.p_value.is_some_and(|p| p < level);
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
            app,
            environment,
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
