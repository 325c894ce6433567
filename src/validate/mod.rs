//! Every semantic rule of a manifest, offline and pure: lengths, bullet points, header
//! position, message kinds, locales, references, image files, limits, defaults and
//! locale coverage. Each problem points at the value it is about, and is reported once:
//! a part that did not decode (see [`Locations::is_broken`]) or a locale that is not
//! Apple's gives no follow-on errors elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::apple::image_rules;
use crate::manifest::decode::{closest, pointer};
use crate::manifest::{DefaultTarget, HeaderPosition, ImageSize, Locations, Manifest, MessageKind};
use crate::validate::diagnostics::FileDiagnostics;

pub mod diagnostics;
pub mod locale;
/// The `realtime:` rules (a child module, to share the locale helpers).
mod realtime;

pub use crate::apple::limits::{
    MAX_ALT_TEXT, MAX_BODY, MAX_BULLET_POINTS, MAX_BULLET_TEXT, MAX_HEADER, MAX_IMAGES,
    MAX_MESSAGES, MAX_REALTIME_URL,
};

/// An image file as the loader found it: its bytes, or why they could not be read.
pub type ImageFile = Result<Arc<Vec<u8>>, String>;

/// Runs every rule. `images` holds, per image key, the file the manifest names.
pub fn validate(
    m: &Manifest,
    at: &Locations,
    images: &BTreeMap<String, ImageFile>,
    d: &mut FileDiagnostics,
) {
    check_app(m, at, d);
    check_environments(m, at, d);
    check_images(m, at, images, d);
    check_messages(m, at, d);
    check_defaults(m, at, d);
    realtime::check(m, at, d);
}

fn check_locale(tag: &str, span: crate::manifest::yaml::Span, d: &mut FileDiagnostics) -> bool {
    match locale::check(tag) {
        Ok(()) => true,
        Err(unlisted) => {
            d.error(span, unlisted.message(), unlisted.hint());
            false
        }
    }
}

/// Whether `app.locales` did not decode, so comparisons with it would mislead.
fn locales_broken(at: &Locations) -> bool {
    at.is_broken(&["app"]) || at.is_broken(&["app", "locales"])
}

/// Whether `app.products` did not decode.
fn products_broken(at: &Locations) -> bool {
    at.is_broken(&["app"]) || at.is_broken(&["app", "products"])
}

/// The locales of `app.locales` that are Apple's (the others are reported once, where
/// they are written, and take part in no other rule).
fn valid_app_locales(m: &Manifest) -> Vec<&str> {
    m.app
        .locales
        .iter()
        .map(String::as_str)
        .filter(|l| locale::check(l).is_ok())
        .collect()
}

/// The codes `app.locales` means: its listed codes, and for a spelling Apple refuses,
/// the code it stands for (`ja-JP` → `ja`), so that a localization or default written
/// `ja` is not also reported as outside app.locales.
fn meant_app_locales(m: &Manifest) -> BTreeSet<&str> {
    m.app
        .locales
        .iter()
        .filter_map(|l| match locale::check(l) {
            Ok(()) => Some(l.as_str()),
            Err(unlisted) => unlisted.suggestion,
        })
        .collect()
}

fn check_app(m: &Manifest, at: &Locations, d: &mut FileDiagnostics) {
    let bundle = &m.app.bundle_id;
    let bundle_broken = at.is_broken(&["app"]) || at.is_broken(&["app", "bundleId"]);
    let valid_bundle = bundle_broken
        || !bundle.is_empty()
            && bundle
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !valid_bundle {
        d.error(
            at.value(&["app", "bundleId"]),
            format!("app.bundleId `{bundle}` is not a bundle identifier"),
            "use the app's bundle id as in App Store Connect, e.g. com.example.app",
        );
    }
    if m.app.locales.is_empty() && !locales_broken(at) {
        d.error(
            at.value(&["app", "locales"]),
            "app.locales is empty",
            "list the locales the app covers, e.g. [en-US]",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, loc) in m.app.locales.iter().enumerate() {
        let span = at.value(&["app", "locales", &i.to_string()]);
        if check_locale(loc, span, d) && !seen.insert(loc) {
            d.error(
                span,
                format!("locale `{loc}` is listed twice in app.locales"),
                "remove one",
            );
        }
    }
    if let Some(products) = &m.app.products {
        let mut seen = BTreeSet::new();
        for (i, p) in products.iter().enumerate() {
            let span = at.value(&["app", "products", &i.to_string()]);
            if p.trim().is_empty() {
                d.error(
                    span,
                    "a product id is empty",
                    "write the product id as in App Store Connect",
                );
            } else if !seen.insert(p) {
                d.error(
                    span,
                    format!("product `{p}` is listed twice in app.products"),
                    "remove one",
                );
            }
        }
    }
}

fn check_environments(m: &Manifest, at: &Locations, d: &mut FileDiagnostics) {
    for (env, settings) in &m.environments {
        check_performance_test(*env, settings, at, d);
        let Some(url) = &settings.realtime_url else {
            continue;
        };
        let span = at.value(&["environments", env.as_str(), "realtimeUrl"]);
        if url.starts_with("http://") && crate::apple::limits::realtime_url_accepted(url) {
            d.warning(
                span,
                format!("realtimeUrl `{url}` is plain http to this machine"),
                "only the simulator and local servers accept it; Apple calls only https URLs",
            );
        } else if !url.starts_with("https://") || url.len() <= "https://".len() {
            d.error(
                span,
                format!("realtimeUrl `{url}` is not an https URL"),
                "Apple calls only https URLs, e.g. https://retention.example.com/apple \
                 (http:// only to 127.0.0.1, [::1] or localhost)",
            );
        }
        if url.chars().count() > MAX_REALTIME_URL {
            d.error(
                span,
                format!(
                    "realtimeUrl is {} characters; Apple allows at most {MAX_REALTIME_URL}",
                    url.chars().count()
                ),
                "use a shorter URL",
            );
        }
    }
}

/// `environments.sandbox.performanceTest.originalTransactionId`: digits; sandbox only.
fn check_performance_test(
    env: crate::manifest::EnvironmentName,
    settings: &crate::manifest::EnvironmentSettings,
    at: &Locations,
    d: &mut FileDiagnostics,
) {
    let Some(test) = &settings.performance_test else {
        return;
    };
    let path = ["environments", env.as_str(), "performanceTest"];
    if env == crate::manifest::EnvironmentName::Production {
        d.error(
            at.key(&path),
            "performanceTest under `environments.production`",
            "Apple runs performance tests only in sandbox: move it to `environments.sandbox`",
        );
    }
    let id = &test.original_transaction_id;
    if !crate::apple::limits::is_transaction_id(id) {
        d.error(
            at.value(&[
                "environments",
                env.as_str(),
                "performanceTest",
                "originalTransactionId",
            ]),
            format!("originalTransactionId `{id}` is not a transaction id"),
            "give the digits of the original transaction id of an active auto-renewable \
             subscription purchased in sandbox, as a quoted string, e.g. \"2000000123456789\"",
        );
    }
}

fn check_images(
    m: &Manifest,
    at: &Locations,
    files: &BTreeMap<String, ImageFile>,
    d: &mut FileDiagnostics,
) {
    if m.images.len() > MAX_IMAGES {
        d.error(
            at.key(&["images"]),
            format!(
                "the app has {} images; Apple allows at most {MAX_IMAGES}",
                m.images.len()
            ),
            "remove images that no message uses",
        );
    }
    // Asked once, not once per image: the broken set may be large in a hostile file.
    let messages_broken = at.is_broken_within(&["messages"]);
    let used: BTreeSet<&str> = m
        .messages
        .values()
        .flat_map(|msg| msg.localizations.values())
        .flat_map(|l| {
            l.image
                .iter()
                .map(|i| i.image_ref.as_str())
                .chain(l.bullet_points.iter().flatten().map(|b| b.image.as_str()))
        })
        .collect();
    // Many image keys may share one file: decode each file once.
    let mut inspected: BTreeMap<&str, Result<image_rules::PngFacts, String>> = BTreeMap::new();
    for (key, image) in &m.images {
        let span = at.value(&["images", key, "file"]);
        let file = &image.file;
        match files.get(key) {
            None => {}
            Some(Err(why)) => d.error(
                span,
                format!("image file `{file}` cannot be read: {why}"),
                "the path is relative to this manifest file",
            ),
            Some(Ok(bytes)) => match inspected
                .entry(file.as_str())
                .or_insert_with(|| image_rules::inspect(bytes))
                .clone()
            {
                Err(why) => d.error(
                    span,
                    format!("image file `{file}` {why}"),
                    "export the image as PNG",
                ),
                Ok(facts) => {
                    if facts.has_alpha {
                        d.error(
                            span,
                            format!("image file `{file}` has transparency (an alpha channel)"),
                            "Apple refuses transparent images: export it without alpha",
                        );
                    }
                    if let Err(why) = image_rules::check_size(image.size, facts) {
                        d.error(
                            span,
                            format!("image file `{file}` {why}"),
                            "resize the image or change `size`",
                        );
                    }
                }
            },
        }
        // When a message did not decode, what it uses is unknown: say nothing.
        if !used.contains(key.as_str()) && !messages_broken {
            d.warning(
                at.key(&["images", key]),
                format!("image `{key}` is not used by any message"),
                "remove it, or refer to it from a message",
            );
        }
    }
}

/// Checks a text against a limit in Unicode scalar values, and warns when its UTF-16
/// length (what some of Apple's clients count) is over the limit. `span` is looked up
/// only for a problem.
fn check_length(
    what: &str,
    text: &str,
    max: usize,
    span: impl Fn() -> crate::manifest::yaml::Span,
    d: &mut FileDiagnostics,
) {
    let chars = text.chars().count();
    if text.trim().is_empty() {
        d.error(
            span(),
            format!("{what} is empty"),
            format!("write the {what}"),
        );
    } else if chars > max {
        d.error(
            span(),
            format!("{what} is {chars} characters; Apple allows at most {max}"),
            format!("shorten it by {} characters", chars - max),
        );
    } else {
        let utf16 = text.encode_utf16().count();
        if utf16 > max {
            d.warning(
                span(),
                format!(
                    "{what} is {chars} characters but {utf16} UTF-16 code units, over the limit of {max} where UTF-16 is counted"
                ),
                "emoji and other characters beyond U+FFFF count twice in UTF-16; shorten it to be safe",
            );
        }
    }
}

fn check_image_ref(
    m: &Manifest,
    at: &Locations,
    key: &str,
    want: ImageSize,
    role: &str,
    span: crate::manifest::yaml::Span,
    d: &mut FileDiagnostics,
) {
    match m.images.get(key) {
        // Present but broken: already reported where it is.
        None if at.is_broken(&["images", key]) => {}
        None => {
            let known: Vec<&str> = m.images.keys().map(String::as_str).collect();
            let hint = match closest(key, &known) {
                Some(s) => format!("did you mean `{s}`? define it under `images:` or fix the key"),
                None => "define it under `images:` or fix the key".to_string(),
            };
            d.error(
                span,
                format!("image `{key}` is not defined under `images`"),
                hint,
            );
        }
        Some(image) if image.size != want => d.error(
            span,
            format!(
                "image `{key}` is {} but {role} needs a {} image",
                image.size.as_str(),
                want.as_str()
            ),
            format!("use an image declared with `size: {}`", want.as_str()),
        ),
        Some(_) => {}
    }
}

fn check_messages(m: &Manifest, at: &Locations, d: &mut FileDiagnostics) {
    let total: usize = m.messages.values().map(|msg| msg.localizations.len()).sum();
    if total > MAX_MESSAGES {
        d.error(
            at.key(&["messages"]),
            format!(
                "the app has {total} messages (one per message and locale); Apple allows at most {MAX_MESSAGES}"
            ),
            "remove messages or localizations",
        );
    }
    let app_locales = meant_app_locales(m);
    // Locales already found to be Apple's: checked once, not once per message.
    let mut listed: BTreeSet<&str> = BTreeSet::new();
    for (key, msg) in &m.messages {
        if msg.localizations.is_empty() && !at.is_broken_within(&["messages", key, "localizations"])
        {
            d.error(
                at.value(&["messages", key, "localizations"]),
                format!("message `{key}` has no localizations"),
                "add at least one locale with header and body",
            );
        }
        for (locale, l) in &msg.localizations {
            // Positions under this localization (looked up for a problem only).
            let loc = |rest: &[&str]| {
                let mut ptr = pointer(&["messages", key, "localizations", locale]);
                ptr.push_str(&pointer(rest));
                at.get(&ptr)
            };
            let span = |rest: &[&str]| loc(rest).value;
            let key_span = |rest: &[&str]| loc(rest).key;

            let apple_locale = listed.contains(locale.as_str())
                || check_locale(locale, key_span(&[]), d) && listed.insert(locale.as_str());
            if apple_locale && !locales_broken(at) && !app_locales.contains(locale.as_str()) {
                d.warning(
                    key_span(&[]),
                    format!("message `{key}` has a localization for `{locale}`, which is not in app.locales"),
                    format!("add `{locale}` to app.locales, or remove this localization"),
                );
            }
            check_length("header", &l.header, MAX_HEADER, || span(&["header"]), d);
            check_length("body", &l.body, MAX_BODY, || span(&["body"]), d);
            if let Some(image) = &l.image {
                check_length(
                    "alt text",
                    &image.alt_text,
                    MAX_ALT_TEXT,
                    || span(&["image", "altText"]),
                    d,
                );
                if msg.kind != MessageKind::Text {
                    d.error(
                        key_span(&["image"]),
                        format!("a {} message cannot carry an image", msg.kind.as_str()),
                        "remove the image, or make the message `kind: text`",
                    );
                } else {
                    check_image_ref(
                        m,
                        at,
                        &image.image_ref,
                        ImageSize::FullSize,
                        "a message's image",
                        span(&["image", "ref"]),
                        d,
                    );
                }
            }
            if msg.header_position == Some(HeaderPosition::AboveImage)
                && l.image.is_none()
                && !at.is_broken(&["messages", key, "localizations", locale, "image"])
            {
                d.error(
                    key_span(&[]),
                    format!("headerPosition ABOVE_IMAGE needs an image, but localization `{locale}` of message `{key}` has none"),
                    "add `image:` to this localization, or use headerPosition ABOVE_BODY",
                );
            }
            if let Some(bullets) = &l.bullet_points {
                if msg.kind != MessageKind::Text {
                    d.error(
                        key_span(&["bulletPoints"]),
                        format!("a {} message cannot carry bullet points", msg.kind.as_str()),
                        "remove the bullet points, or make the message `kind: text`",
                    );
                }
                if bullets.len() > MAX_BULLET_POINTS {
                    d.error(
                        key_span(&["bulletPoints"]),
                        format!(
                            "{} bullet points; Apple allows at most {MAX_BULLET_POINTS}",
                            bullets.len()
                        ),
                        format!("remove {} bullet points", bullets.len() - MAX_BULLET_POINTS),
                    );
                }
                for (i, b) in bullets.iter().enumerate() {
                    let n = i.to_string();
                    check_length(
                        "bullet point text",
                        &b.text,
                        MAX_BULLET_TEXT,
                        || span(&["bulletPoints", &n, "text"]),
                        d,
                    );
                    check_length(
                        "alt text",
                        &b.alt_text,
                        MAX_ALT_TEXT,
                        || span(&["bulletPoints", &n, "altText"]),
                        d,
                    );
                    if msg.kind == MessageKind::Text {
                        check_image_ref(
                            m,
                            at,
                            &b.image,
                            ImageSize::BulletPoint,
                            "a bullet point",
                            span(&["bulletPoints", &n, "image"]),
                            d,
                        );
                    }
                }
            }
        }
    }
}

fn check_defaults(m: &Manifest, at: &Locations, d: &mut FileDiagnostics) {
    let app_locales = meant_app_locales(m);
    let valid_locales = valid_app_locales(m);
    for (product, target) in &m.defaults {
        if let Some(products) = &m.app.products
            && !products_broken(at)
            && !products.contains(product)
        {
            d.error(
                at.key(&["defaults", product]),
                format!("product `{product}` has a default but is not in app.products"),
                format!("add `{product}` to app.products, or remove this default"),
            );
        }
        let pairs: Vec<(&str, &str, crate::manifest::yaml::Span)> = match target {
            DefaultTarget::AllLocales(message) => valid_locales
                .iter()
                .map(|l| (*l, message.as_str(), at.value(&["defaults", product])))
                .collect(),
            DefaultTarget::PerLocale(by_locale) => by_locale
                .iter()
                .filter(|(locale, _)| {
                    let span = at.key(&["defaults", product, locale]);
                    if !check_locale(locale, span, d) {
                        return false;
                    }
                    if !locales_broken(at) && !app_locales.contains(locale.as_str()) {
                        d.error(
                            span,
                            format!("default of `{product}` is set for `{locale}`, which is not in app.locales"),
                            format!("add `{locale}` to app.locales, or remove this line"),
                        );
                        return false;
                    }
                    true
                })
                .map(|(l, msg)| (l.as_str(), msg.as_str(), at.value(&["defaults", product, l])))
                .collect(),
        };
        let mut reported_unknown = BTreeSet::new();
        for (locale, message_key, span) in pairs {
            let Some(msg) = m.messages.get(message_key) else {
                if !at.is_broken(&["messages", message_key])
                    && reported_unknown.insert((message_key, span))
                {
                    let known: Vec<&str> = m.messages.keys().map(String::as_str).collect();
                    let hint = match closest(message_key, &known) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "define it under `messages:`".to_string(),
                    };
                    d.error(
                        span,
                        format!("default of `{product}` names message `{message_key}`, which is not defined"),
                        hint,
                    );
                }
                continue;
            };
            if msg.kind != MessageKind::Text {
                if reported_unknown.insert((message_key, span)) {
                    d.error(
                        span,
                        format!(
                            "default of `{product}` names `{message_key}`, a {} message; only text messages can be defaults",
                            msg.kind.as_str()
                        ),
                        "name a message of `kind: text`",
                    );
                }
                continue;
            }
            if !msg.localizations.contains_key(locale)
                && !at.is_broken(&["messages", message_key, "localizations", locale])
                && !at.is_broken(&["messages", message_key, "localizations"])
                && !written_as_unlisted_spelling(msg, locale)
            {
                d.error(
                    span,
                    format!(
                        "message `{message_key}` has no `{locale}` localization, so it cannot be the default of `{product}` in `{locale}`"
                    ),
                    format!("add a `{locale}` localization to `{message_key}`, or set this locale's default to another message"),
                );
            }
        }
        if let DefaultTarget::PerLocale(by_locale) = target {
            let missing: Vec<&str> = valid_locales
                .iter()
                .copied()
                .filter(|l| {
                    !by_locale.contains_key(*l)
                        && !at.is_broken(&["defaults", product, l])
                        && !by_locale
                            .keys()
                            .any(|k| locale::check(k).is_err() && suggests(k, l))
                })
                .collect();
            if !missing.is_empty() && !locales_broken(at) {
                d.warning(
                    at.key(&["defaults", product]),
                    format!("product `{product}` has no default for {}", missing.join(", ")),
                    "customers in those locales see no default message from retainctl; add them if that is not intended",
                );
            }
        }
    }
    if let Some(products) = &m.app.products {
        for (i, product) in products.iter().enumerate() {
            if !m.defaults.contains_key(product)
                && !at.is_broken(&["defaults", product])
                && !valid_locales.is_empty()
            {
                d.warning(
                    at.value(&["app", "products", &i.to_string()]),
                    format!("product `{product}` has no default for {}", valid_locales.join(", ")),
                    "add it under `defaults:`; as an owned product, any default it has on Apple is deleted",
                );
            }
        }
    }
}

/// Whether `written`, not one of Apple's codes, is a spelling of the listed `code`.
fn suggests(written: &str, code: &str) -> bool {
    crate::apple::limits::suggest_locale(written) == Some(code)
}

/// Whether the message has a localization for `code` under a spelling Apple refuses
/// (`ja-JP` for `ja`): that spelling is reported once, where it is written.
fn written_as_unlisted_spelling(msg: &crate::manifest::Message, code: &str) -> bool {
    msg.localizations
        .keys()
        .any(|k| locale::check(k).is_err() && suggests(k, code))
}
