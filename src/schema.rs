//! The JSON Schema of the manifest, generated from the model with schemars.
//! `schema/retainctl.schema.json` holds these exact bytes; a test keeps them in sync.

use crate::manifest::Manifest;

/// The schema as pretty JSON with a trailing newline.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Manifest);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}
