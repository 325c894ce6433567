//! The JSON Schema of the manifest, generated from the model with schemars.
//! `schema/retainctl.schema.json` holds these exact bytes; a test keeps them in sync.

use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use serde_json::Value;

use crate::manifest::Manifest;

/// The schema as pretty JSON with a trailing newline.
pub fn json_schema() -> String {
    let schema = SchemaSettings::draft2020_12()
        .with_transform(RecursiveTransform(no_null))
        .into_generator()
        .into_root_schema_for::<Manifest>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

/// Optional fields may be left out but not written as `null`: validate refuses
/// `image: null`, `products: null` and the like, so the schema must too. schemars
/// adds `null` to every `Option`; this takes it out again. (The few places where
/// validate does take nothing, `images:` or `production:`, say so in the model with
/// `null` first.)
fn no_null(schema: &mut Schema) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    // schemars puts `null` last (`["string", "null"]`); the model's own
    // `["null", "object"]` (where validate takes nothing) is left as it is.
    if let Some(Value::Array(types)) = obj.get_mut("type")
        && types.last().is_some_and(|t| t == "null")
    {
        types.pop();
        if types.len() == 1 {
            let only = types.remove(0);
            obj.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(any)) = obj.get_mut("anyOf") {
        let null = serde_json::json!({ "type": "null" });
        let before = any.len();
        any.retain(|s| *s != null);
        if before != any.len()
            && any.len() == 1
            && let Some(Value::Object(only)) = any.pop()
        {
            obj.remove("anyOf");
            obj.extend(only);
        }
    }
}
