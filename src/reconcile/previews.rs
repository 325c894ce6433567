//! What `plan --previews` drew: the before and after pictures of every changed or new
//! localization, named for the plan's renderers (markdown embeds them, JSON lists them).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewSet {
    /// The folder the pictures are in, as given to `--previews`.
    pub folder: String,
    /// Where the folder is published (`--previews-url`): markdown embeds pictures from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The gallery page of just the changes, relative to the folder.
    pub gallery: String,
    pub localizations: Vec<PreviewedLocalization>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreviewChange {
    /// No such localization in the base (or no `--base`).
    New,
    /// The base has this localization with other content.
    Changed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewedLocalization {
    pub bundle_id: String,
    pub message_key: String,
    pub locale: String,
    pub change: PreviewChange,
    /// Before and after side by side (light), or the after alone when new; relative to
    /// the folder.
    pub side_by_side: String,
    /// The base's pictures, light then dark (empty when new).
    pub before: Vec<String>,
    /// The manifests' pictures, light then dark.
    pub after: Vec<String>,
    /// How the new text fits the page (lines over the page's, characters no font has).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}
