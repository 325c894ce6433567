//! The semantic rules of the `realtime:` section (a child of `validate`, sharing its
//! locale helpers).
//!
//! Errors and warnings are split the way Terraform splits them: an **error** is a
//! configuration that cannot do what it says (a message key that does not exist, a message
//! of the wrong kind for its answer, a product or locale the app does not have, a split
//! over 100 %, a rule that can never be chosen, a promotional offer nothing can sign,
//! more than [`MAX_RULES`] rules); a **warning** is legal but probably not meant (a rule
//! earlier rules with other messages shadow, chosen only while they have no approved
//! content; rules without `app.appAppleId`, so the server cannot check which app a
//! request is for; a switch-plan rule proposing the product the customer already has).
//!
//! A rule that did not decode suspends these checks: the others' order is what they mean.

use std::collections::{BTreeSet, HashMap};

use super::{check_locale, locales_broken, meant_app_locales, products_broken, valid_app_locales};
use crate::manifest::decode::closest;
use crate::manifest::{Locations, Manifest, MessageKind, RealtimeRule};
use crate::realtime::rules::split_groups;
use crate::validate::diagnostics::FileDiagnostics;

/// The message kind each answer key takes.
fn kind_for(answer_key: &str) -> MessageKind {
    match answer_key {
        "promotionalOffer" => MessageKind::PromotionalOffer,
        "alternateProduct" => MessageKind::SwitchPlan,
        _ => MessageKind::Text,
    }
}

/// Where each kind of message is used, for the hint.
fn answer_for(kind: MessageKind, key: &str) -> String {
    match kind {
        MessageKind::Text => format!("answer with `message: {key}`"),
        MessageKind::PromotionalOffer => {
            format!("answer with `promotionalOffer: {{ message: {key}, offerId: … }}`")
        }
        MessageKind::SwitchPlan => {
            format!("answer with `alternateProduct: {{ message: {key}, productId: … }}`")
        }
    }
}

/// Pointer segments of a rule's message key.
fn key_segments(i: &str, answer_key: &'static str) -> Vec<String> {
    let mut s = vec![
        "realtime".to_string(),
        i.to_string(),
        answer_key.to_string(),
    ];
    if answer_key != "message" {
        s.push("message".to_string());
    }
    s
}

/// The locales a rule can answer in: its own (or the app's) that its message is
/// localized in. `None` when its message is unknown or of the wrong kind (reported).
type Answerable<'m> = Option<BTreeSet<&'m str>>;

/// The most rules an app may have: a realtime answer needs a few (a product, a locale, an
/// A/B split); thousands are a generated file gone wrong, and every request walks them.
pub const MAX_RULES: usize = 1_000;

pub(super) fn check(m: &Manifest, at: &Locations, d: &mut FileDiagnostics) {
    if m.realtime.len() > MAX_RULES {
        d.error(
            at.key(&["realtime", &MAX_RULES.to_string()]),
            format!(
                "realtime has {} rules; an app may have at most {MAX_RULES} (this is rule {})",
                m.realtime.len(),
                MAX_RULES + 1
            ),
            "rules are tried in order for every request: match with `*` and `locales` instead of one rule per product, and remove rules that repeat an earlier one",
        );
        return;
    }
    if m.realtime.is_empty() || at.is_broken_within(&["realtime"]) {
        return;
    }
    let app_locales = meant_app_locales(m);
    let valid_locales = valid_app_locales(m);
    let mut answerable: Vec<Answerable<'_>> = vec![];
    for (i, rule) in m.realtime.iter().enumerate() {
        answerable.push(check_rule(m, at, d, i, rule, &app_locales, &valid_locales));
    }
    check_splits(m, at, d);
    check_reachability(m, at, d, &answerable);
    if m.app.app_apple_id.is_none() && !at.is_broken(&["app", "appAppleId"]) {
        d.warning(
            at.key(&["realtime"]),
            "realtime rules without app.appAppleId: `retainctl serve` cannot check that a request is for this app",
            "add `appAppleId:` under `app:` (App Store Connect → App Information → Apple ID)",
        );
    }
}

fn check_rule<'m>(
    m: &'m Manifest,
    at: &Locations,
    d: &mut FileDiagnostics,
    i: usize,
    rule: &'m RealtimeRule,
    app_locales: &BTreeSet<&str>,
    valid_locales: &[&'m str],
) -> Answerable<'m> {
    let n = i + 1;
    let idx = i.to_string();
    let product = rule.product.as_str();
    if product.trim().is_empty() {
        d.error(
            at.value(&["realtime", &idx, "product"]),
            format!("realtime rule {n} has an empty product"),
            "write a product id, or `*` for every product",
        );
    } else if product != "*"
        && let Some(products) = &m.app.products
        && !products_broken(at)
        && !products.iter().any(|p| p == product)
    {
        let known: Vec<&str> = products.iter().map(String::as_str).collect();
        let hint = match closest(product, &known) {
            Some(s) => format!("did you mean `{s}`? or add `{product}` to app.products"),
            None => format!("add `{product}` to app.products, or write `*` for every product"),
        };
        d.error(
            at.value(&["realtime", &idx, "product"]),
            format!("realtime rule {n} is for product `{product}`, which is not in app.products"),
            hint,
        );
    } else if product != "*"
        && m.app.products.is_none()
        && !m.defaults.is_empty()
        && !at.is_broken(&["defaults"])
        && !m.defaults.contains_key(product)
    {
        let known: Vec<&str> = m.defaults.keys().map(String::as_str).collect();
        let hint = match closest(product, &known) {
            Some(s) => format!("did you mean `{s}`? or list the app's products under app.products"),
            None => {
                "list the app's products under app.products so that rules are checked against them"
                    .to_string()
            }
        };
        d.warning(
            at.value(&["realtime", &idx, "product"]),
            format!("realtime rule {n} is for product `{product}`, which no default names (app.products is not set)"),
            hint,
        );
    }
    if let Some(offer) = &rule.promotional_offer
        && offer.offer_id.trim().is_empty()
    {
        d.error(
            at.value(&["realtime", &idx, "promotionalOffer", "offerId"]),
            format!("realtime rule {n} has an empty offerId"),
            "write the subscription offer's identifier from App Store Connect",
        );
    }
    if let Some(alternate) = &rule.alternate_product {
        let proposed = alternate.product_id.as_str();
        let span = at.value(&["realtime", &idx, "alternateProduct", "productId"]);
        if proposed.trim().is_empty() {
            d.error(
                span,
                format!("realtime rule {n} has an empty alternateProduct productId"),
                "write the id of the product to propose",
            );
        } else if let Some(products) = &m.app.products
            && !products_broken(at)
            && !products.iter().any(|p| p == proposed)
        {
            let known: Vec<&str> = products.iter().map(String::as_str).collect();
            let hint = match closest(proposed, &known) {
                Some(s) => format!("did you mean `{s}`? or add `{proposed}` to app.products"),
                None => format!("add `{proposed}` to app.products"),
            };
            d.error(
                span,
                format!(
                    "realtime rule {n} proposes product `{proposed}`, which is not in app.products"
                ),
                hint,
            );
        }
    }

    // The rule's locales, or the app's.
    let mut locales: BTreeSet<&'m str> = BTreeSet::new();
    match &rule.locales {
        Some(list) => {
            if list.is_empty() {
                d.error(
                    at.value(&["realtime", &idx, "locales"]),
                    format!("realtime rule {n} has an empty `locales` list"),
                    "list the locales it is for, or leave `locales` out for all of the app's",
                );
            }
            for (j, locale) in list.iter().enumerate() {
                let span = at.value(&["realtime", &idx, "locales", &j.to_string()]);
                if !check_locale(locale, span, d) {
                    continue;
                }
                if !locales_broken(at) && !app_locales.contains(locale.as_str()) {
                    d.error(
                        span,
                        format!("realtime rule {n} is for `{locale}`, which is not in app.locales"),
                        format!("add `{locale}` to app.locales, or remove it from this rule"),
                    );
                    continue;
                }
                if !locales.insert(locale.as_str()) {
                    d.error(
                        span,
                        format!("locale `{locale}` is listed twice in realtime rule {n}"),
                        "remove one",
                    );
                }
            }
        }
        None => locales.extend(valid_locales.iter().copied()),
    }

    let (key, answer_key) = rule.message_key()?;
    let segments = key_segments(&idx, answer_key);
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let span = at.value(&seg);
    if answer_key == "promotionalOffer"
        && m.app.offer_signing.is_none()
        && !at.is_broken(&["app", "offerSigning"])
    {
        d.error(
            at.key(&["realtime", &idx, "promotionalOffer"]),
            format!("realtime rule {n} answers with a promotional offer, but app.offerSigning is not set"),
            "Apple shows an offer only with a signature made with the app's subscription offer key: add `offerSigning: { keyId: VAR, issuerId: VAR, privateKeyFile: VAR }` under `app:` naming the environment variables that hold it",
        );
    }
    if let Some(alternate) = &rule.alternate_product
        && alternate.product_id == product
    {
        d.warning(
            at.value(&["realtime", &idx, "alternateProduct", "productId"]),
            format!("realtime rule {n} proposes `{product}`, the product the customer already has"),
            "propose another product, or answer with `message:`",
        );
    }
    let Some(message) = m.messages.get(key) else {
        if !at.is_broken(&["messages", key]) {
            let known: Vec<&str> = m.messages.keys().map(String::as_str).collect();
            let hint = match closest(key, &known) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "define it under `messages:`".to_string(),
            };
            d.error(
                span,
                format!("realtime rule {n} answers with message `{key}`, which is not defined"),
                hint,
            );
        }
        return None;
    };
    if at.is_broken(&["messages", key, "kind"]) {
        return None;
    }
    let wanted = kind_for(answer_key);
    if message.kind != wanted {
        d.error(
            span,
            format!(
                "realtime rule {n} answers `{answer_key}` with `{key}`, a {} message; `{answer_key}` takes a {} message",
                message.kind.as_str(),
                wanted.as_str()
            ),
            answer_for(message.kind, key),
        );
        return None;
    }
    if at.is_broken_within(&["messages", key, "localizations"]) {
        return None;
    }
    if let Some(list) = &rule.locales {
        for (j, locale) in list.iter().enumerate() {
            if locales.contains(locale.as_str()) && !message.localizations.contains_key(locale) {
                d.error(
                    at.value(&["realtime", &idx, "locales", &j.to_string()]),
                    format!("realtime rule {n} is for `{locale}`, but message `{key}` has no `{locale}` localization, so it can never answer there"),
                    format!("add a `{locale}` localization to `{key}`, or remove `{locale}` from this rule"),
                );
            }
        }
    }
    let can: BTreeSet<&'m str> = locales
        .into_iter()
        .filter(|l| message.localizations.contains_key(*l))
        .collect();
    if can.is_empty() && rule.locales.is_none() && !locales_broken(at) {
        d.error(
            span,
            format!("realtime rule {n} can never answer: message `{key}` has no localization in app.locales"),
            format!("localize `{key}` in one of {}", valid_locales.join(", ")),
        );
    }
    Some(can)
}

fn check_splits(m: &Manifest, at: &Locations, d: &mut FileDiagnostics) {
    for group in split_groups(&m.realtime) {
        let mut total: u32 = 0;
        for &i in &group {
            total += u32::from(m.realtime[i].percent.unwrap_or(0));
        }
        if total > 100 {
            let (first, last) = (group[0], *group.last().expect("a group has a rule"));
            d.error(
                at.value(&["realtime", &last.to_string(), "percent"]),
                format!(
                    "realtime rules {}–{} split the same customers into {total} %",
                    first + 1,
                    last + 1
                ),
                "consecutive rules with the same product and locales share 100 %: lower the percents so they add up to 100 at most",
            );
        }
    }
}

/// Rules are tried in order; what answers a request of a product and locale first is a
/// "cover": a rule without `percent`, or a split group covering all 100 % (the locales
/// every member answers in). A rule every one of whose (product, locale) requests an
/// earlier cover answers first is chosen only while that cover has no approved content in
/// the locale: a **warning** (a fallback while the earlier content is in review is
/// legal); when every such cover answers with the rule's own message key, it has approved
/// content exactly when they do, so the rule is never chosen: an **error**.
///
/// Linear in the number of rules and locales: the first cover of each (product, locale).
fn check_reachability(
    m: &Manifest,
    at: &Locations,
    d: &mut FileDiagnostics,
    answerable: &[Answerable<'_>],
) {
    struct Cover<'m> {
        /// Rule numbers (from 1) it is made of.
        rules: Vec<usize>,
        keys: BTreeSet<&'m str>,
    }
    let mut covers: Vec<Cover<'_>> = vec![];
    // (product or `*`, locale) → index of the first cover answering it.
    let mut first: HashMap<(&str, &str), usize> = HashMap::new();
    let group_ending_at: HashMap<usize, Vec<usize>> = split_groups(&m.realtime)
        .into_iter()
        .filter_map(|g| Some((*g.last()?, g)))
        .collect();
    for (j, rule) in m.realtime.iter().enumerate() {
        let Some(can) = &answerable[j] else { continue };
        if !can.is_empty() {
            let mut by: BTreeSet<usize> = BTreeSet::new();
            let covered = can.iter().all(|locale| {
                let own = first.get(&(rule.product.as_str(), *locale));
                let any = first.get(&("*", *locale));
                match own.into_iter().chain(any).min() {
                    Some(&c) => {
                        by.insert(c);
                        true
                    }
                    None => false,
                }
            });
            if covered {
                report_shadowed(
                    m,
                    at,
                    d,
                    j,
                    by.iter()
                        .map(|&c| &covers[c])
                        .map(|c| (c.rules.as_slice(), &c.keys)),
                );
            }
        }
        let (numbers, locales): (Vec<usize>, BTreeSet<&str>) = if rule.percent.is_none() {
            (vec![j + 1], can.clone())
        } else {
            let Some(group) = group_ending_at.get(&j) else {
                continue;
            };
            let total: u32 = group
                .iter()
                .map(|&i| u32::from(m.realtime[i].percent.unwrap_or(0)))
                .sum();
            let common = group
                .iter()
                .try_fold(None, |acc: Option<BTreeSet<&str>>, &i| {
                    let set = answerable[i].as_ref()?;
                    Some(Some(match acc {
                        None => set.clone(),
                        Some(acc) => acc.intersection(set).copied().collect(),
                    }))
                });
            match common {
                Some(Some(common)) if total >= 100 => {
                    (group.iter().map(|i| i + 1).collect(), common)
                }
                _ => continue,
            }
        };
        let keys = numbers
            .iter()
            .filter_map(|n| m.realtime[n - 1].message_key().map(|(k, _)| k))
            .collect();
        let index = covers.len();
        covers.push(Cover {
            rules: numbers,
            keys,
        });
        for locale in locales {
            first
                .entry((rule.product.as_str(), locale))
                .or_insert(index);
        }
    }
}

/// The diagnostic of rule `j`, every request of which the covers `by` answer first.
fn report_shadowed<'c, 'm: 'c>(
    m: &Manifest,
    at: &Locations,
    d: &mut FileDiagnostics,
    j: usize,
    by: impl Iterator<Item = (&'c [usize], &'c BTreeSet<&'m str>)>,
) {
    let own = m.realtime[j].message_key().map(|(k, _)| k);
    let mut numbers: Vec<usize> = vec![];
    let mut same_key = true;
    for (rules, keys) in by {
        numbers.extend_from_slice(rules);
        same_key &= keys.iter().all(|k| Some(*k) == own);
    }
    numbers.sort_unstable();
    numbers.dedup();
    let names = rule_names(&numbers);
    let span = at.key(&["realtime", &j.to_string(), "product"]);
    let n = j + 1;
    if same_key {
        d.error(
            span,
            format!(
                "realtime rule {n} can never be chosen: {names} already {} every request it matches with the same message",
                if numbers.len() == 1 { "answers" } else { "answer" }
            ),
            "rules are tried in order and a rule without approved content falls through, but these answer with the same message, approved exactly when this one is: remove it, or narrow the earlier rules with `locales` or `percent`",
        );
    } else {
        d.warning(
            span,
            format!(
                "realtime rule {n} is chosen only while {names} {} no approved content for the request's locale",
                if numbers.len() == 1 { "has" } else { "have" }
            ),
            format!(
                "rules are tried in order: this one is a fallback while the content of {names} awaits review (or was rejected); move it above, or narrow {names} with `locales` or `percent`, if it is meant to answer always"
            ),
        );
    }
}

/// `rule 3`, `rules 1 and 2`, `rules 1, 2 and 4`.
fn rule_names(numbers: &[usize]) -> String {
    match numbers {
        [one] => format!("rule {one}"),
        [rest @ .., last] => format!(
            "rules {} and {last}",
            rest.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        [] => "no rule".to_string(),
    }
}
