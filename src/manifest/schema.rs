//! The JSON Schema of the manifest, generated from the model with schemars.
//! `schema/retainctl.schema.json` holds these exact bytes; a test keeps them in sync.

use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use serde_json::Value;

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
    let mut schema = SchemaSettings::draft2020_12()
        .with_transform(RecursiveTransform(no_null))
        .into_generator()
        .into_root_schema_for::<Manifest>();
    schema.insert("$id".into(), SCHEMA_URL.into());
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_names_its_versioned_url() {
        assert!(super::SCHEMA_URL.contains(super::REPOSITORY));
        let schema: serde_json::Value = serde_json::from_str(&super::json_schema()).unwrap();
        assert_eq!(schema["$id"], super::SCHEMA_URL);
    }
}
