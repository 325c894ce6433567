//! What Apple holds for one app in one environment, as far as the API lets us see:
//! image and message ids with review states, the default of each owned pair, and the
//! realtime URL. Reading it is `observe.rs`; this is the plain data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::apple::model::ReviewState;
use crate::desired::ids;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observed {
    pub images: BTreeMap<String, ReviewState>,
    pub messages: BTreeMap<String, ReviewState>,
    /// product → locale → current default message id (`None`: no default).
    pub defaults: BTreeMap<String, BTreeMap<String, Option<String>>>,
    pub realtime_url: Option<String>,
    /// The size Apple lists for an image (API 1.4), where it says one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub image_sizes: BTreeMap<String, crate::manifest::ImageSize>,
}

impl Observed {
    pub fn default_of(&self, product: &str, locale: &str) -> Option<String> {
        self.defaults.get(product)?.get(locale)?.clone()
    }

    pub fn set_default(&mut self, product: &str, locale: &str, message: Option<String>) {
        self.defaults
            .entry(product.to_string())
            .or_default()
            .insert(locale.to_string(), message);
    }

    /// A digest of everything observed: a saved plan is stale when it changes.
    pub fn fingerprint(&self) -> String {
        let value = serde_json::to_value(self).expect("serializes");
        ids::sha256_hex(ids::canonical_json(&value).as_bytes())
    }
}
