//! The manifest model (`apiVersion: retainctl/v1`): what a team writes in git.
//!
//! These types are the one definition of the format: the JSON Schema is generated from
//! them (schemars), and [`decode`] fills them from a located YAML tree, remembering
//! where each value stood so that validation can point at it.

pub mod decode;
pub mod schema;
pub mod yaml;

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::apple::limits;

pub use decode::realtime::{
    AlternateProductAnswer, BillingPlanType, PromotionalOfferAnswer, RealtimeRule,
};
pub use decode::{Locations, decode};

pub const API_VERSION: &str = "retainctl/v1";

/// One app's retention messages, kept in one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "retainctl manifest (retainctl/v1)")]
pub struct Manifest {
    /// Always `retainctl/v1`.
    #[schemars(regex(pattern = r"^retainctl/v1$"))]
    pub api_version: String,
    pub app: App,
    /// Optional settings per environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("type" = ["null", "object"]))]
    pub environments: BTreeMap<EnvironmentName, EnvironmentSettings>,
    /// Images by key; messages refer to them by this key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = limits::MAX_IMAGES, "type" = ["null", "object"]))]
    pub images: BTreeMap<String, Image>,
    /// Messages by key; each localization becomes one message on Apple.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("type" = ["null", "object"]))]
    pub messages: BTreeMap<String, Message>,
    /// Default message per product: a message key for every locale in `app.locales`,
    /// or a mapping locale → message key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("type" = ["null", "object"]))]
    pub defaults: BTreeMap<String, DefaultTarget>,
    /// Realtime rules, in order: the first that matches a request and has content Apple
    /// approved answers it (`retainctl serve`, from the snapshot `apply --snapshot` writes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("type" = ["null", "array"]))]
    pub realtime: Vec<RealtimeRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct App {
    /// The app's bundle identifier; it goes into the token's `bid` claim.
    #[schemars(regex(pattern = r"^[A-Za-z0-9.-]+$"))]
    pub bundle_id: String,
    /// The App Store locale short codes the app covers, e.g. `en-US`, `ja`, `zh-Hans`.
    #[schemars(schema_with = "locale_list_schema")]
    pub locales: Vec<String>,
    /// Products whose default messages retainctl owns. Default: the products named in
    /// `defaults`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "product_list_schema")]
    pub products: Option<Vec<String>>,
    /// Names of the environment variables holding this app's credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// UUID namespace for identifiers (default be5f0cda-bbf4-44eb-b3cc-50a316937f20).
    /// Changing it re-uploads everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<uuid::Uuid>,
    /// The app's Apple ID (App Store Connect → App Information): `retainctl serve` refuses
    /// realtime requests for another app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub app_apple_id: Option<i64>,
    /// Names of the environment variables holding the subscription offer key that signs
    /// promotional offers (`promotionalOffer` rules), shaped like `credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_signing: Option<Credentials>,
}

/// Names of environment variables (never the secrets themselves).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Credentials {
    /// Variable holding the key id (default `RETAINCTL_KEY_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Variable holding the issuer id (default `RETAINCTL_ISSUER_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_id: Option<String>,
    /// Variable holding the PEM private key itself (default `RETAINCTL_PRIVATE_KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    /// Variable holding the path of the `.p8` file (default `RETAINCTL_PRIVATE_KEY_FILE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_file: Option<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentName {
    Sandbox,
    Production,
    Local,
}

impl EnvironmentName {
    pub const ALL: [EnvironmentName; 3] = [Self::Sandbox, Self::Production, Self::Local];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Production => "production",
            Self::Local => "local",
        }
    }
}

impl std::fmt::Display for EnvironmentName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Written as nothing (`production:`), an environment has no settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("type" = ["null", "object"]))]
pub struct EnvironmentSettings {
    /// The https URL Apple calls for real-time retention messages (≤ 256 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https://."), length(max = limits::MAX_REALTIME_URL))]
    pub realtime_url: Option<String>,
    /// Sandbox: how `retainctl perf-test` runs Apple's performance test of the realtime URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_test: Option<PerformanceTestSettings>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PerformanceTestSettings {
    /// The original transaction id (digits) of an active auto-renewable subscription
    /// purchased in sandbox; `retainctl perf-test --transaction-id` overrides it.
    pub original_transaction_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    /// PNG file, relative to the manifest file (never absolute), inside the folder tree
    /// being validated (`..` may not lead out of it: checked by `validate`).
    #[schemars(regex(pattern = r"^[^/\\]"))]
    pub file: String,
    pub size: ImageSize,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum ImageSize {
    /// 3840 pixels wide, 160 to 2160 high: the image of a text message.
    #[serde(rename = "FULL_SIZE")]
    FullSize,
    /// 1024 × 1024: the icon of a bullet point.
    #[serde(rename = "BULLET_POINT")]
    BulletPoint,
}

impl ImageSize {
    pub const ALL: [ImageSize; 2] = [Self::FullSize, Self::BulletPoint];

    /// Apple's spelling, as in the `imageSize` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FullSize => "FULL_SIZE",
            Self::BulletPoint => "BULLET_POINT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("allOf" = message_rules()))]
pub struct Message {
    /// What the message is for at cancellation time (default `text`). Only `text`
    /// messages may carry images and bullet points, and only they can be defaults.
    #[serde(default)]
    pub kind: MessageKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_position: Option<HeaderPosition>,
    /// Content per App Store locale short code; each becomes one message on Apple.
    #[schemars(schema_with = "localizations_schema")]
    // A sorted vector, not a `BTreeMap`: a node holds room for 11 values and most
    // messages have a few localizations (45 apps × 1,000 two-locale messages took 72 MB
    // in `BTreeMap`s of values, 27 MB in `BTreeMap`s of boxes, 13 MB like this).
    pub localizations: litemap::LiteMap<String, Localization>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum MessageKind {
    #[default]
    Text,
    PromotionalOffer,
    SwitchPlan,
}

impl MessageKind {
    pub const ALL: [MessageKind; 3] = [Self::Text, Self::PromotionalOffer, Self::SwitchPlan];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::PromotionalOffer => "promotional-offer",
            Self::SwitchPlan => "switch-plan",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HeaderPosition {
    #[serde(rename = "ABOVE_BODY")]
    AboveBody,
    /// Needs an image.
    #[serde(rename = "ABOVE_IMAGE")]
    AboveImage,
}

impl HeaderPosition {
    pub const ALL: [HeaderPosition; 2] = [Self::AboveBody, Self::AboveImage];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AboveBody => "ABOVE_BODY",
            Self::AboveImage => "ABOVE_IMAGE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Localization {
    /// At most 66 characters.
    #[schemars(length(min = 1, max = limits::MAX_HEADER), regex(pattern = r"\S"))]
    pub header: String,
    /// At most 144 characters.
    #[schemars(length(min = 1, max = limits::MAX_BODY), regex(pattern = r"\S"))]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageUse>,
    /// At most 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = limits::MAX_BULLET_POINTS))]
    pub bullet_points: Option<Vec<BulletPoint>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageUse {
    /// Key of a FULL_SIZE image under `images`.
    #[serde(rename = "ref")]
    pub image_ref: String,
    /// At most 150 characters.
    #[schemars(length(min = 1, max = limits::MAX_ALT_TEXT), regex(pattern = r"\S"))]
    pub alt_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulletPoint {
    /// At most 66 characters.
    #[schemars(length(min = 1, max = limits::MAX_BULLET_TEXT), regex(pattern = r"\S"))]
    pub text: String,
    /// Key of a BULLET_POINT image under `images`.
    pub image: String,
    /// At most 150 characters.
    #[schemars(length(min = 1, max = limits::MAX_ALT_TEXT), regex(pattern = r"\S"))]
    pub alt_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DefaultTarget {
    /// One message key for every locale in `app.locales`.
    AllLocales(String),
    /// Locale → message key.
    #[schemars(schema_with = "per_locale_defaults_schema")]
    PerLocale(BTreeMap<String, String>),
}

/// An App Store locale short code, for the schema: `$defs/Locale`, an enum of
/// [`limits::APP_STORE_LOCALES`].
pub struct LocaleCode;

impl JsonSchema for LocaleCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Locale".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let codes: Vec<&str> = limits::app_store_locale_codes().collect();
        json_schema!({
            "description": "An App Store locale short code, case-sensitive (Apple answers InvalidLocale to any other).",
            "type": "string",
            "enum": codes,
        })
    }
}

fn locale_list_schema(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<LocaleCode>();
    json_schema!({
        "description": "The App Store locale short codes the app covers, e.g. `en-US`, `ja`, `zh-Hans`.",
        "type": "array",
        "items": item,
        "minItems": 1,
        "uniqueItems": true,
    })
}

fn product_list_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Products whose default messages retainctl owns. Default: the products named in `defaults`.",
        "type": "array",
        "items": { "type": "string", "pattern": "\\S" },
        "uniqueItems": true,
    })
}

fn localizations_schema(generator: &mut SchemaGenerator) -> Schema {
    let key = generator.subschema_for::<LocaleCode>();
    let value = generator.subschema_for::<Localization>();
    json_schema!({
        "description": "Content per App Store locale short code; each becomes one message on Apple.",
        "type": "object",
        "propertyNames": key,
        "additionalProperties": value,
        "minProperties": 1,
    })
}

fn per_locale_defaults_schema(generator: &mut SchemaGenerator) -> Schema {
    let key = generator.subschema_for::<LocaleCode>();
    json_schema!({
        "description": "Locale → message key.",
        "type": "object",
        "propertyNames": key,
        "additionalProperties": { "type": "string" },
    })
}

/// What `validate` checks across a message's fields, as far as a schema can say it:
/// ABOVE_IMAGE needs an image in every localization; only text messages carry images
/// and bullet points.
fn message_rules() -> serde_json::Value {
    serde_json::json!([
        {
            "if": { "properties": { "headerPosition": { "const": "ABOVE_IMAGE" } }, "required": ["headerPosition"] },
            "then": { "properties": { "localizations": { "additionalProperties": { "required": ["image"] } } } }
        },
        {
            "if": { "properties": { "kind": { "enum": ["promotional-offer", "switch-plan"] } }, "required": ["kind"] },
            "then": { "properties": { "localizations": { "additionalProperties": {
                "not": { "anyOf": [ { "required": ["image"] }, { "required": ["bulletPoints"] } ] }
            } } } }
        }
    ])
}

impl Manifest {
    /// The products whose defaults retainctl owns: `app.products`, else those in `defaults`.
    pub fn owned_products(&self) -> Vec<String> {
        match &self.app.products {
            Some(products) => products.clone(),
            None => self.defaults.keys().cloned().collect(),
        }
    }

    /// The desired default message key of every (product, locale) pair the manifest sets.
    pub fn desired_defaults(&self) -> BTreeMap<(String, String), String> {
        let mut out = BTreeMap::new();
        for (product, target) in &self.defaults {
            match target {
                DefaultTarget::AllLocales(message) => {
                    for locale in &self.app.locales {
                        out.insert((product.clone(), locale.clone()), message.clone());
                    }
                }
                DefaultTarget::PerLocale(by_locale) => {
                    for (locale, message) in by_locale {
                        out.insert((product.clone(), locale.clone()), message.clone());
                    }
                }
            }
        }
        out
    }
}
