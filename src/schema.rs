//! The JSON Schema of the manifest, generated from the model with schemars.
//! `schema/retainctl.schema.json` holds these exact bytes; a test keeps them in sync.

use crate::manifest::Manifest;

/// Where this repository is published (`OWNER/NAME` on GitHub): the schema's URL, the
/// action's `uses:` and the release downloads all name it.
pub const REPOSITORY: &str = "retainctl/retainctl";

/// The schema's stable URL: the file in this repository at this version's release tag.
pub const SCHEMA_URL: &str = concat!(
    "https://raw.githubusercontent.com/retainctl/retainctl/v",
    env!("CARGO_PKG_VERSION"),
    "/schema/retainctl.schema.json"
);

/// The schema as pretty JSON with a trailing newline.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(Manifest);
    schema.insert("$id".into(), SCHEMA_URL.into());
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_names_its_versioned_url() {
        assert!(super::SCHEMA_URL.contains(super::REPOSITORY));
        let schema: serde_json::Value = serde_json::from_str(&super::json_schema()).unwrap();
        assert_eq!(schema["$id"], super::SCHEMA_URL);
    }
}
