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
    String::from_utf8_lossy(&sha256_hex_bytes(bytes)).into_owned()
}

/// The lower-case hex digits of the SHA-256 of `bytes`, without an allocation.
fn sha256_hex_bytes(bytes: &[u8]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in Sha256::digest(bytes).into_iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
    out
}

/// `uuid_v5(ns, "retainctl/v1/image/{bundleId}/{imageKey}/{size}/{sha256hex(png)}")`
pub fn image_id(namespace: Uuid, bundle_id: &str, image_key: &str, size: &str, png: &[u8]) -> Uuid {
    let name = format!(
        "retainctl/v1/image/{bundle_id}/{image_key}/{size}/{}",
        sha256_hex(png)
    );
    uuid_v5(namespace, name.as_bytes())
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
    // The name is hashed piece by piece (a message id per localization, 90,000 in a
    // 45-app plan, was a formatted string and a hex string each).
    uuid_v5_of(
        namespace,
        &[
            b"retainctl/v1/message/",
            bundle_id.as_bytes(),
            b"/",
            message_key.as_bytes(),
            b"/",
            locale.as_bytes(),
            b"/",
            &sha256_hex_bytes(canonical_body.as_bytes()),
        ],
    )
}

/// `Uuid::new_v5`, with the SHA-1 of `sha1` (which uses the CPU's SHA instructions;
/// `uuid`'s own is portable code and took a twentieth of `validate`'s time).
fn uuid_v5(namespace: Uuid, name: &[u8]) -> Uuid {
    uuid_v5_of(namespace, &[name])
}

/// [`uuid_v5`] of the name made of `pieces` end to end.
fn uuid_v5_of(namespace: Uuid, pieces: &[&[u8]]) -> Uuid {
    use sha1::Digest as _;
    let mut hasher = sha1::Sha1::new();
    hasher.update(namespace.as_bytes());
    for piece in pieces {
        hasher.update(piece);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// Canonical JSON: keys sorted at every level, no insignificant whitespace, UTF-8 with
/// non-ASCII characters as they are (serde_json escapes only what JSON requires).
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    // Kept for every message of every app: no spare room.
    out.shrink_to_fit();
    // Only `serde_json`'s output and ASCII punctuation were written.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Appends the JSON of a string or scalar (`serde_json` writing to memory cannot fail).
pub fn write_json<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(out, value);
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(k.as_str(), out);
                out.push(b':');
                write_canonical(&map[k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_json(scalar, out),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuid_v5_is_uuids_own() {
        for name in [
            "",
            "a",
            "retainctl/v1/message/x/y/en-US/00",
            &"é".repeat(100),
        ] {
            for ns in [DEFAULT_NAMESPACE, Uuid::from_u128(7)] {
                assert_eq!(
                    uuid_v5(ns, name.as_bytes()),
                    Uuid::new_v5(&ns, name.as_bytes())
                );
            }
        }
    }

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
