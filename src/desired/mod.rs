//! The desired state of one app: the manifest expanded into what Apple should hold —
//! every image with its id, every message × locale with its exact upload body and id,
//! every default pair. Pure: image bytes are handed in by the loader.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use uuid::Uuid;

pub mod ids;
use crate::manifest::{
    EnvironmentName, HeaderPosition, ImageSize, Localization, Manifest, MessageKind,
};

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredImage {
    pub key: String,
    pub size: ImageSize,
    pub id: Uuid,
    pub png: std::sync::Arc<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredMessage {
    /// Shared with the plan's actions and content rows (a plan of 45 apps × 2,000
    /// messages copied them 180,000 times).
    pub key: std::sync::Arc<str>,
    pub locale: std::sync::Arc<str>,
    pub kind: MessageKind,
    pub id: Uuid,
    /// The canonical JSON sent to Upload Message; its hash is in `id`.
    pub body: String,
    /// Every image the message uses (main image and bullet icons).
    pub image_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredApp {
    pub bundle_id: String,
    pub images: Vec<DesiredImage>,
    pub messages: Vec<DesiredMessage>,
    /// Every (product, locale) pair retainctl owns: `owned products × app.locales`.
    pub owned_pairs: Vec<(String, String)>,
    /// The desired default message id of the pairs the manifest sets.
    pub defaults: BTreeMap<(String, String), Uuid>,
    pub realtime_urls: BTreeMap<EnvironmentName, String>,
    /// Environments whose realtime URL retainctl manages: those the manifest lists under
    /// `environments` (listed without `realtimeUrl`: the URL is to be deleted).
    pub realtime_managed: std::collections::BTreeSet<EnvironmentName>,
    /// Message ids a realtime snapshot (`--snapshot FILE`) serves, and the ids of the
    /// images they use: never pruned, so that the realtime server never names deleted
    /// content (set by the command layer).
    pub served: std::collections::BTreeSet<String>,
}

impl DesiredApp {
    pub fn message(&self, id: Uuid) -> Option<&DesiredMessage> {
        self.messages.iter().find(|m| m.id == id)
    }

    pub fn image(&self, id: Uuid) -> Option<&DesiredImage> {
        self.images.iter().find(|i| i.id == id)
    }
}

/// The exact Upload Message body of one localization, image keys resolved to ids.
pub fn upload_body(
    localization: &Localization,
    header_position: Option<HeaderPosition>,
    image_ids: &BTreeMap<String, Uuid>,
) -> Result<Value, String> {
    let resolve = |key: &str| {
        image_ids
            .get(key)
            .map(|id| id.to_string())
            .ok_or_else(|| format!("image `{key}` is not defined"))
    };
    let mut body = json!({ "header": localization.header, "body": localization.body });
    if let Some(position) = header_position {
        body["headerPosition"] = json!(position.as_str());
    }
    if let Some(image) = &localization.image {
        body["image"] = json!({
            "imageIdentifier": resolve(&image.image_ref)?,
            "altText": image.alt_text,
        });
    }
    if let Some(bullets) = &localization.bullet_points {
        let mut items = vec![];
        for b in bullets {
            items.push(json!({
                "text": b.text,
                "imageIdentifier": resolve(&b.image)?,
                "altText": b.alt_text,
            }));
        }
        body["bulletPoints"] = Value::Array(items);
    }
    Ok(body)
}

/// The canonical JSON of [`upload_body`] (what `ids::canonical_json` makes of it),
/// written straight from the localization: the same bytes without building a JSON tree
/// per message. Keys are written in sorted order.
pub fn canonical_upload_body(
    localization: &Localization,
    header_position: Option<HeaderPosition>,
    image_ids: &BTreeMap<String, Uuid>,
) -> Result<String, String> {
    let resolve = |key: &str| {
        image_ids
            .get(key)
            .copied()
            .ok_or_else(|| format!("image `{key}` is not defined"))
    };
    // Resolved in the order `upload_body` resolves them, so the same error comes first.
    let image = match &localization.image {
        Some(image) => Some((resolve(&image.image_ref)?, image.alt_text.as_str())),
        None => None,
    };
    let bullets = match &localization.bullet_points {
        Some(bullets) => Some(
            bullets
                .iter()
                .map(|b| Ok((b.text.as_str(), resolve(&b.image)?, b.alt_text.as_str())))
                .collect::<Result<Vec<_>, String>>()?,
        ),
        None => None,
    };
    let mut out = Vec::with_capacity(
        64 + localization.header.len()
            + localization.body.len()
            + if image.is_some() { 80 } else { 0 },
    );
    let text = ids::write_json::<str>;
    let id = |id: Uuid, out: &mut Vec<u8>| {
        out.push(b'"');
        out.extend_from_slice(
            id.hyphenated()
                .encode_lower(&mut Uuid::encode_buffer())
                .as_bytes(),
        );
        out.push(b'"');
    };
    out.extend_from_slice(b"{\"body\":");
    text(&localization.body, &mut out);
    if let Some(bullets) = &bullets {
        out.extend_from_slice(b",\"bulletPoints\":[");
        for (i, (t, image, alt)) in bullets.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"altText\":");
            text(alt, &mut out);
            out.extend_from_slice(b",\"imageIdentifier\":");
            id(*image, &mut out);
            out.extend_from_slice(b",\"text\":");
            text(t, &mut out);
            out.push(b'}');
        }
        out.push(b']');
    }
    out.extend_from_slice(b",\"header\":");
    text(&localization.header, &mut out);
    if let Some(position) = header_position {
        out.extend_from_slice(b",\"headerPosition\":");
        text(position.as_str(), &mut out);
    }
    if let Some((image, alt)) = image {
        out.extend_from_slice(b",\"image\":{\"altText\":");
        text(alt, &mut out);
        out.extend_from_slice(b",\"imageIdentifier\":");
        id(image, &mut out);
        out.push(b'}');
    }
    out.push(b'}');
    // Kept for every message of every app: no spare room.
    out.shrink_to_fit();
    // Only UTF-8 text and ASCII punctuation were written.
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Expands a validated manifest. `pngs` holds the bytes of every image key.
pub fn expand(
    manifest: &Manifest,
    pngs: &BTreeMap<String, std::sync::Arc<Vec<u8>>>,
) -> Result<DesiredApp, String> {
    let ns = manifest.app.namespace.unwrap_or(ids::DEFAULT_NAMESPACE);
    let bundle_id = &manifest.app.bundle_id;
    let mut images = vec![];
    let mut image_ids = BTreeMap::new();
    for (key, image) in &manifest.images {
        let png = pngs
            .get(key)
            .ok_or_else(|| format!("the file of image `{key}` was not loaded"))?;
        let id = ids::image_id(ns, bundle_id, key, image.size.as_str(), png);
        image_ids.insert(key.clone(), id);
        images.push(DesiredImage {
            key: key.clone(),
            size: image.size,
            id,
            png: png.clone(),
        });
    }
    let mut messages = Vec::with_capacity(
        manifest
            .messages
            .values()
            .map(|m| m.localizations.len())
            .sum(),
    );
    let mut message_ids: BTreeMap<(&str, &str), Uuid> = BTreeMap::new();
    // Each locale's name once per app, shared by its messages.
    let mut locales: BTreeMap<&str, std::sync::Arc<str>> = BTreeMap::new();
    for (key, message) in &manifest.messages {
        let shared_key: std::sync::Arc<str> = key.as_str().into();
        for (locale, localization) in &message.localizations {
            let body = canonical_upload_body(localization, message.header_position, &image_ids)?;
            let id = ids::message_id(ns, bundle_id, key, locale, &body);
            let mut used: Vec<Uuid> = localization
                .image
                .iter()
                .map(|i| image_ids[&i.image_ref])
                .chain(
                    localization
                        .bullet_points
                        .iter()
                        .flatten()
                        .map(|b| image_ids[&b.image]),
                )
                .collect();
            used.sort();
            used.dedup();
            message_ids.insert((key, locale), id);
            messages.push(DesiredMessage {
                key: shared_key.clone(),
                locale: locales
                    .entry(locale.as_str())
                    .or_insert_with(|| locale.as_str().into())
                    .clone(),
                kind: message.kind,
                id,
                body,
                image_ids: used,
            });
        }
    }
    let mut defaults = BTreeMap::new();
    for ((product, locale), key) in manifest.desired_defaults() {
        let id = *message_ids
            .get(&(key.as_str(), locale.as_str()))
            .ok_or_else(|| format!("message `{key}` has no localization `{locale}`"))?;
        defaults.insert((product, locale), id);
    }
    let owned_pairs = manifest
        .owned_products()
        .into_iter()
        .flat_map(|p| {
            manifest
                .app
                .locales
                .iter()
                .map(move |l| (p.clone(), l.clone()))
        })
        .collect();
    let realtime_urls = manifest
        .environments
        .iter()
        .filter_map(|(env, s)| s.realtime_url.clone().map(|u| (*env, u)))
        .collect();
    let realtime_managed = manifest.environments.keys().copied().collect();
    Ok(DesiredApp {
        realtime_managed,
        served: Default::default(),
        bundle_id: bundle_id.clone(),
        images,
        messages,
        owned_pairs,
        defaults,
        realtime_urls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{BulletPoint, ImageUse};
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        // Quotes, backslashes, control characters, non-ASCII and astral characters.
        proptest::string::string_regex("[a-z \"\\\\\u{0}-\u{1f}\u{7f}é漢😀/]{0,12}").unwrap()
    }

    fn image_key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("hero".to_string()),
            Just("icon".to_string()),
            Just("missing".to_string())
        ]
    }

    proptest! {
        /// The body written directly is byte for byte the canonical JSON of the JSON tree
        /// (and fails with the same error).
        #[test]
        fn canonical_upload_body_is_the_canonical_json_of_upload_body(
            header in text(),
            body in text(),
            image in proptest::option::of((image_key(), text())),
            bullets in proptest::option::of(proptest::collection::vec((text(), image_key(), text()), 0..4)),
            position in proptest::option::of(prop_oneof![Just(HeaderPosition::AboveImage), Just(HeaderPosition::AboveBody)]),
        ) {
            let image_ids: BTreeMap<String, Uuid> = [
                ("hero".to_string(), Uuid::from_u128(1)),
                ("icon".to_string(), Uuid::from_u128(0xabcdef)),
            ]
            .into();
            let localization = Localization {
                header,
                body,
                image: image.map(|(image_ref, alt_text)| ImageUse { image_ref, alt_text }),
                bullet_points: bullets.map(|b| {
                    b.into_iter()
                        .map(|(text, image, alt_text)| BulletPoint { text, image, alt_text })
                        .collect()
                }),
            };
            let tree = upload_body(&localization, position, &image_ids).map(|v| ids::canonical_json(&v));
            let direct = canonical_upload_body(&localization, position, &image_ids);
            prop_assert_eq!(direct, tree);
        }
    }
}
