//! An app's App Store Connect credentials, read from environment variables whose names
//! the manifest may choose. The private key never leaves this module in printable form:
//! `Debug` redacts it and nothing implements `Display` or `Serialize` for it.

use std::fmt;
use std::path::Path;

use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};

use crate::manifest;

pub const DEFAULT_KEY_ID: &str = "RETAINCTL_KEY_ID";
pub const DEFAULT_ISSUER_ID: &str = "RETAINCTL_ISSUER_ID";
pub const DEFAULT_PRIVATE_KEY: &str = "RETAINCTL_PRIVATE_KEY";
pub const DEFAULT_PRIVATE_KEY_FILE: &str = "RETAINCTL_PRIVATE_KEY_FILE";

/// The text is not a PKCS#8 P-256 private key (nothing of the text is kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a PKCS#8 P-256 private key in PEM form")]
pub struct NotAP256Key;

/// A PKCS#8 P-256 private key in PEM form.
#[derive(Clone)]
pub struct PrivateKeyPem(String);

impl PrivateKeyPem {
    /// Checks that `pem` is a PKCS#8 P-256 private key (an In-App Purchase `.p8`).
    pub fn parse(pem: &str) -> Result<Self, NotAP256Key> {
        p256::SecretKey::from_pkcs8_pem(pem.trim()).map_err(|_| NotAP256Key)?;
        Ok(PrivateKeyPem(pem.trim().to_string()))
    }

    /// The PEM text, for writing a generated key where a tool must read it (the local
    /// environment's key file, tests). Never for output or logs.
    pub fn pem_text(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyPem(<redacted>)")
    }
}

#[derive(Clone)]
pub struct Credentials {
    pub key_id: String,
    pub issuer_id: String,
    pub private_key: PrivateKeyPem,
}

/// Only the key is secret, but every field is the value of an environment variable the
/// manifest may name, so none is printed.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("key_id", &"<set>")
            .field("issuer_id", &"<set>")
            .field("private_key", &self.private_key)
            .finish()
    }
}

/// The part of the credentials a variable holds, for the error that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialPart {
    KeyId,
    IssuerId,
}

impl fmt::Display for CredentialPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::KeyId => "the key id of the In-App Purchase key",
            Self::IssuerId => "the issuer id of the App Store Connect team",
        })
    }
}

/// Where the private key came from: a variable holding the PEM text, or the file a
/// variable names. Only the variable is ever shown, never its value (the path either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Text { var: String },
    FileNamedBy { var: String },
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text { var } => f.write_str(var),
            Self::FileNamedBy { var } => write!(f, "the file named by {var}"),
        }
    }
}

/// The largest key file read: a `.p8` is about 250 bytes.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Why the credentials cannot be read. Every variant names variables, never their
/// values: a manifest from a pull request may name any variable of the CI job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "environment variable {name} is not set ({part}); set it, or name another variable under app.credentials"
    )]
    MissingVariable { name: String, part: CredentialPart },
    #[error(
        "no private key: set {key_var} to the PEM text or {file_var} to the path of the .p8 file"
    )]
    MissingKey { key_var: String, file_var: String },
    #[error(
        "{file_var} holds key text, not a path: use {key_var} for the PEM text, or put the path of the .p8 file in {file_var}"
    )]
    FileVariableHoldsKeyText { file_var: String, key_var: String },
    #[error(
        "{key_var} holds a path, not key text: use {file_var} for the path of the .p8 file, or put the PEM text in {key_var}"
    )]
    KeyVariableHoldsPath { key_var: String, file_var: String },
    #[error("cannot read the private key file named by {var}: {reason}")]
    KeyFileUnreadable { var: String, reason: String },
    #[error(
        "the private key file named by {var} is not a regular file; name the .p8 file downloaded from App Store Connect"
    )]
    KeyFileNotRegular { var: String },
    #[error(
        "the private key file named by {var} is larger than {limit} bytes, so it is not a .p8 key; name the .p8 file downloaded from App Store Connect"
    )]
    KeyFileTooLarge { var: String, limit: u64 },
    #[error(
        "the private key from {from} is not a PKCS#8 P-256 private key in PEM form (the In-App Purchase key's .p8 file as downloaded from App Store Connect)"
    )]
    BadKey { from: KeySource },
}

/// An I/O error in words, without the path (`io::Error`'s own text never holds it, but
/// its kind is all that is needed).
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::InvalidData => "the file is not UTF-8 text".into(),
        std::io::ErrorKind::IsADirectory => "it is a folder".into(),
        kind => kind.to_string(),
    }
}

/// Reads the key file `var` names, refusing what is not a small regular file (a FIFO
/// would hang, `/dev/zero` would never end).
fn read_key_file(var: &str, path: &Path) -> Result<String, CredentialError> {
    use std::io::Read;
    let unreadable = |e: std::io::Error| CredentialError::KeyFileUnreadable {
        var: var.to_string(),
        reason: io_reason(&e),
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(CredentialError::KeyFileNotRegular { var: var.into() });
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(unreadable)?
        .take(MAX_KEY_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(CredentialError::KeyFileTooLarge {
            var: var.into(),
            limit: MAX_KEY_FILE_BYTES,
        });
    }
    Ok(text)
}

fn looks_like_key_text(value: &str) -> bool {
    value.contains("-----BEGIN")
}

fn looks_like_path(value: &str) -> bool {
    let v = value.trim();
    !v.contains('\n') && (v.contains('/') || v.contains('\\') || v.ends_with(".p8"))
}

/// Reads credentials through `lookup` (the process environment in production).
pub fn from_env(
    names: Option<&manifest::Credentials>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Credentials, CredentialError> {
    let names = names.cloned().unwrap_or_default();
    let key_id_var = names.key_id.unwrap_or_else(|| DEFAULT_KEY_ID.into());
    let issuer_var = names.issuer_id.unwrap_or_else(|| DEFAULT_ISSUER_ID.into());
    let key_var = names
        .private_key
        .unwrap_or_else(|| DEFAULT_PRIVATE_KEY.into());
    let file_var = names
        .private_key_file
        .unwrap_or_else(|| DEFAULT_PRIVATE_KEY_FILE.into());
    let require = |name: &str, part: CredentialPart| {
        lookup(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| v.trim().to_string())
            .ok_or(CredentialError::MissingVariable {
                name: name.to_string(),
                part,
            })
    };
    let key_id = require(&key_id_var, CredentialPart::KeyId)?;
    let issuer_id = require(&issuer_var, CredentialPart::IssuerId)?;
    let (pem, source) = match lookup(&key_var).filter(|v| !v.trim().is_empty()) {
        Some(pem) => {
            if !looks_like_key_text(&pem) && looks_like_path(&pem) {
                return Err(CredentialError::KeyVariableHoldsPath { key_var, file_var });
            }
            (pem, KeySource::Text { var: key_var })
        }
        None => match lookup(&file_var).filter(|v| !v.trim().is_empty()) {
            Some(value) if looks_like_key_text(&value) => {
                return Err(CredentialError::FileVariableHoldsKeyText { file_var, key_var });
            }
            Some(path) => {
                let pem = read_key_file(&file_var, Path::new(path.trim()))?;
                (pem, KeySource::FileNamedBy { var: file_var })
            }
            None => return Err(CredentialError::MissingKey { key_var, file_var }),
        },
    };
    let private_key =
        PrivateKeyPem::parse(&pem).map_err(|_| CredentialError::BadKey { from: source })?;
    Ok(Credentials {
        key_id,
        issuer_id,
        private_key,
    })
}

/// A fresh P-256 key pair as (PKCS#8 private PEM, SPKI public PEM): for `--env local`
/// and tests, which never use a real key.
pub fn generate_key_pair() -> (PrivateKeyPem, String) {
    let secret = loop {
        let bytes: [u8; 32] = rand::random();
        if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
            break secret;
        }
    };
    let private = secret
        .to_pkcs8_pem(LineEnding::LF)
        .expect("a P-256 key encodes as PKCS#8");
    let public = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("a P-256 public key encodes as SPKI");
    (PrivateKeyPem(private.to_string()), public)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_defaults_and_named_variables() {
        let (key, _) = generate_key_pair();
        let lookup = env(&[
            ("RETAINCTL_KEY_ID", "KEY123"),
            ("RETAINCTL_ISSUER_ID", "issuer"),
            ("RETAINCTL_PRIVATE_KEY", key.pem_text()),
        ]);
        let c = from_env(None, &lookup).unwrap();
        assert_eq!(c.key_id, "KEY123");
        assert!(!format!("{c:?}").contains("PRIVATE KEY"));

        let names = manifest::Credentials {
            key_id: Some("ACME_KEY_ID".into()),
            ..Default::default()
        };
        let err = from_env(Some(&names), &lookup).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ACME_KEY_ID is not set (the key id of the In-App Purchase key); set it, or name another variable under app.credentials"
        );
    }

    #[test]
    fn names_a_missing_key_file_and_a_bad_key() {
        let lookup = env(&[
            ("RETAINCTL_KEY_ID", "K"),
            ("RETAINCTL_ISSUER_ID", "I"),
            ("RETAINCTL_PRIVATE_KEY_FILE", "/nonexistent/AuthKey.p8"),
        ]);
        let err = from_env(None, &lookup).unwrap_err().to_string();
        assert_eq!(
            err,
            "cannot read the private key file named by RETAINCTL_PRIVATE_KEY_FILE: no such file"
        );
        let lookup = env(&[
            ("RETAINCTL_KEY_ID", "K"),
            ("RETAINCTL_ISSUER_ID", "I"),
            (
                "RETAINCTL_PRIVATE_KEY",
                &format!(
                    "-----BEGIN {0}-----\nnot a key\n-----END {0}-----",
                    "PRIVATE KEY"
                ),
            ),
        ]);
        let err = from_env(None, &lookup).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "the private key from RETAINCTL_PRIVATE_KEY is not a PKCS#8 P-256 private key"
            ),
            "{err}"
        );
        let lookup = env(&[("RETAINCTL_KEY_ID", "K"), ("RETAINCTL_ISSUER_ID", "I")]);
        assert_eq!(
            from_env(None, &lookup).unwrap_err(),
            CredentialError::MissingKey {
                key_var: "RETAINCTL_PRIVATE_KEY".into(),
                file_var: "RETAINCTL_PRIVATE_KEY_FILE".into()
            }
        );
    }

    /// The value of a variable never appears in an error: not the PEM text put into the
    /// `_FILE` variable, not a CI secret a manifest names as the key file, not the path.
    #[test]
    fn errors_name_variables_never_their_values() {
        let (key, _) = generate_key_pair();
        let lookup = env(&[
            ("RETAINCTL_KEY_ID", "K"),
            ("RETAINCTL_ISSUER_ID", "I"),
            ("RETAINCTL_PRIVATE_KEY_FILE", key.pem_text()),
        ]);
        let err = from_env(None, &lookup).unwrap_err();
        assert_eq!(
            err,
            CredentialError::FileVariableHoldsKeyText {
                file_var: "RETAINCTL_PRIVATE_KEY_FILE".into(),
                key_var: "RETAINCTL_PRIVATE_KEY".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "RETAINCTL_PRIVATE_KEY_FILE holds key text, not a path: use RETAINCTL_PRIVATE_KEY for the PEM text, or put the path of the .p8 file in RETAINCTL_PRIVATE_KEY_FILE"
        );
        assert!(!format!("{err} {err:?}").contains("PRIVATE KEY-----"));

        // the manifest names its own variables: the hint names the manifest's key variable
        let names = manifest::Credentials {
            private_key: Some("ACME_KEY".into()),
            private_key_file: Some("ACME_KEY_PATH".into()),
            ..Default::default()
        };
        let lookup = env(&[
            ("RETAINCTL_KEY_ID", "K"),
            ("RETAINCTL_ISSUER_ID", "I"),
            ("ACME_KEY_PATH", key.pem_text()),
        ]);
        assert_eq!(
            from_env(Some(&names), &lookup).unwrap_err().to_string(),
            "ACME_KEY_PATH holds key text, not a path: use ACME_KEY for the PEM text, or put the path of the .p8 file in ACME_KEY_PATH"
        );

        // a manifest naming a CI secret as its key file or key never gets it echoed
        let secret = "ghp_s3cr3tT0kenValue1234567890";
        for names in [
            manifest::Credentials {
                private_key_file: Some("SOME_CI_TOKEN".into()),
                ..Default::default()
            },
            manifest::Credentials {
                private_key: Some("SOME_CI_TOKEN".into()),
                ..Default::default()
            },
        ] {
            let lookup = env(&[
                ("RETAINCTL_KEY_ID", "K"),
                ("RETAINCTL_ISSUER_ID", "I"),
                ("SOME_CI_TOKEN", secret),
            ]);
            let err = from_env(Some(&names), &lookup).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(text.contains("SOME_CI_TOKEN"), "{text}");
            assert!(!text.contains(secret), "{text}");
        }
        // ... nor as its key id: the credentials' Debug shows no value
        let names = manifest::Credentials {
            key_id: Some("SOME_CI_TOKEN".into()),
            ..Default::default()
        };
        let lookup = env(&[
            ("RETAINCTL_ISSUER_ID", "I"),
            ("RETAINCTL_PRIVATE_KEY", key.pem_text()),
            ("SOME_CI_TOKEN", secret),
        ]);
        let c = from_env(Some(&names), &lookup).unwrap();
        assert_eq!(c.key_id, secret);
        assert!(!format!("{c:?}").contains(secret));

        // a path in the PEM variable is named as such, without the path
        let lookup = env(&[
            ("RETAINCTL_KEY_ID", "K"),
            ("RETAINCTL_ISSUER_ID", "I"),
            ("RETAINCTL_PRIVATE_KEY", "/home/ci/secret-dir/AuthKey_X.p8"),
        ]);
        let err = from_env(None, &lookup).unwrap_err().to_string();
        assert_eq!(
            err,
            "RETAINCTL_PRIVATE_KEY holds a path, not key text: use RETAINCTL_PRIVATE_KEY_FILE for the path of the .p8 file, or put the PEM text in RETAINCTL_PRIVATE_KEY"
        );
    }

    #[test]
    fn key_files_are_small_regular_files_and_work() {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = generate_key_pair();
        let good = dir.path().join("AuthKey.p8");
        std::fs::write(&good, key.pem_text()).unwrap();
        let big = dir.path().join("big.p8");
        std::fs::write(&big, vec![b'a'; MAX_KEY_FILE_BYTES as usize + 1]).unwrap();
        let with = |path: &Path| {
            let lookup = env(&[
                ("RETAINCTL_KEY_ID", "K"),
                ("RETAINCTL_ISSUER_ID", "I"),
                ("RETAINCTL_PRIVATE_KEY_FILE", path.to_str().unwrap()),
            ]);
            from_env(None, &lookup)
        };
        assert_eq!(
            with(&good).unwrap().private_key.pem_text(),
            key.pem_text().trim()
        );
        let var = || "RETAINCTL_PRIVATE_KEY_FILE".to_string();
        for not_a_file in [dir.path(), Path::new("/dev/zero")] {
            assert_eq!(
                with(not_a_file).unwrap_err(),
                CredentialError::KeyFileNotRegular { var: var() }
            );
        }
        assert_eq!(
            with(&big).unwrap_err(),
            CredentialError::KeyFileTooLarge {
                var: var(),
                limit: MAX_KEY_FILE_BYTES
            }
        );
    }
}
