//! The desired state of one app: the manifest expanded into what Apple should hold —
//! every image with its id, every message × locale with its exact upload body and id,
//! every default pair. Pure: image bytes are handed in by the loader.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::ids;
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
    pub key: String,
    pub locale: String,
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
    /// Message ids a realtime snapshot (`--snapshot FILE`) serves: never pruned, so that
    /// the realtime server never names deleted content (set by the command layer).
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
    let mut messages = vec![];
    let mut message_ids: BTreeMap<(&str, &str), Uuid> = BTreeMap::new();
    for (key, message) in &manifest.messages {
        for (locale, localization) in &message.localizations {
            let body = ids::canonical_json(&upload_body(
                localization,
                message.header_position,
                &image_ids,
            )?);
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
                key: key.clone(),
                locale: locale.clone(),
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
