//! Content-derived identifiers. Apple's uploads are not idempotent and its lists return
//! no content, so the identifier of an image or message is a UUID v5 of its content:
//! the same content always has the same id, and changed content gets a new one.
//!
//! The strings hashed here are a compatibility promise (product contract, Identifiers):
//! changing them would re-upload every message of every user.

use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Used when `app.namespace` is not set.
pub const DEFAULT_NAMESPACE: Uuid = Uuid::from_u128(0xbe5f0cda_bbf4_44eb_b3cc_50a316937f20);

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `uuid_v5(ns, "retainctl/v1/image/{bundleId}/{imageKey}/{size}/{sha256hex(png)}")`
pub fn image_id(namespace: Uuid, bundle_id: &str, image_key: &str, size: &str, png: &[u8]) -> Uuid {
    let name = format!(
        "retainctl/v1/image/{bundle_id}/{image_key}/{size}/{}",
        sha256_hex(png)
    );
    Uuid::new_v5(&namespace, name.as_bytes())
}

/// `uuid_v5(ns, "retainctl/v1/message/{bundleId}/{messageKey}/{locale}/{sha256hex(body)}")`
/// where `body` is the canonical JSON of the upload body.
pub fn message_id(
    namespace: Uuid,
    bundle_id: &str,
    message_key: &str,
    locale: &str,
    canonical_body: &str,
) -> Uuid {
    let name = format!(
        "retainctl/v1/message/{bundle_id}/{message_key}/{locale}/{}",
        sha256_hex(canonical_body.as_bytes())
    );
    Uuid::new_v5(&namespace, name.as_bytes())
}

/// Canonical JSON: keys sorted at every level, no insignificant whitespace, UTF-8 with
/// non-ASCII characters as they are (serde_json escapes only what JSON requires).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The expected values below were computed independently with Python:
    //   import uuid, hashlib, json
    //   ns = uuid.UUID("be5f0cda-bbf4-44eb-b3cc-50a316937f20")
    //   png = b"\x89PNG\r\n\x1a\n" + b"retainctl"
    //   uuid.uuid5(ns, "retainctl/v1/image/com.example.app/hero/FULL_SIZE/" + hashlib.sha256(png).hexdigest())
    //   body = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    //   uuid.uuid5(ns, "retainctl/v1/message/com.example.app/stay-premium/de-DE/"
    //              + hashlib.sha256(body.encode()).hexdigest())

    #[test]
    fn image_id_matches_python_vector() {
        let png = b"\x89PNG\r\n\x1a\nretainctl";
        assert_eq!(
            image_id(
                DEFAULT_NAMESPACE,
                "com.example.app",
                "hero",
                "FULL_SIZE",
                png
            )
            .to_string(),
            "39b14123-1194-5b1e-b1f4-48f8eba096c5"
        );
    }

    #[test]
    fn canonical_json_sorts_keys_and_keeps_non_ascii() {
        let body = json!({
            "header": "Bleib bei Premium",
            "body": "Spare 50 % – für immer ✓",
            "image": {"imageIdentifier": "0b6f1d1e-1111-5222-8333-444455556666", "altText": "Ein \"Bild\""},
        });
        assert_eq!(
            canonical_json(&body),
            r#"{"body":"Spare 50 % – für immer ✓","header":"Bleib bei Premium","image":{"altText":"Ein \"Bild\"","imageIdentifier":"0b6f1d1e-1111-5222-8333-444455556666"}}"#
        );
    }

    #[test]
    fn message_id_matches_python_vector() {
        let body = json!({
            "header": "Bleib bei Premium",
            "body": "Spare 50 % – für immer ✓",
            "image": {"imageIdentifier": "0b6f1d1e-1111-5222-8333-444455556666", "altText": "Ein \"Bild\""},
        });
        assert_eq!(
            message_id(
                DEFAULT_NAMESPACE,
                "com.example.app",
                "stay-premium",
                "de-DE",
                &canonical_json(&body)
            )
            .to_string(),
            "7c42596d-2519-5547-9a7a-c54bcdabcca9"
        );
    }

    #[test]
    fn custom_namespace_changes_ids() {
        let ns = Uuid::from_u128(1);
        assert_ne!(
            image_id(ns, "a", "b", "FULL_SIZE", b"x"),
            image_id(DEFAULT_NAMESPACE, "a", "b", "FULL_SIZE", b"x")
        );
    }
}
