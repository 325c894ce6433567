//! An app's App Store Connect credentials, read from environment variables whose names
//! the manifest may choose. The private key never leaves this module in printable form:
//! `Debug` redacts it and nothing implements `Display` or `Serialize` for it.

use std::fmt;
use std::path::PathBuf;

use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};

use crate::manifest;

pub const DEFAULT_KEY_ID: &str = "RETAINCTL_KEY_ID";
pub const DEFAULT_ISSUER_ID: &str = "RETAINCTL_ISSUER_ID";
pub const DEFAULT_PRIVATE_KEY: &str = "RETAINCTL_PRIVATE_KEY";
pub const DEFAULT_PRIVATE_KEY_FILE: &str = "RETAINCTL_PRIVATE_KEY_FILE";

/// A PKCS#8 P-256 private key in PEM form.
#[derive(Clone)]
pub struct PrivateKeyPem(String);

impl PrivateKeyPem {
    /// Checks that `pem` is a PKCS#8 P-256 private key (an In-App Purchase `.p8`).
    pub fn parse(pem: &str) -> Result<Self, String> {
        p256::SecretKey::from_pkcs8_pem(pem.trim()).map_err(|_| {
            "is not a PKCS#8 P-256 private key in PEM form (the In-App Purchase key's .p8 file as downloaded from App Store Connect)".to_string()
        })?;
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

#[derive(Clone, Debug)]
pub struct Credentials {
    pub key_id: String,
    pub issuer_id: String,
    pub private_key: PrivateKeyPem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "environment variable {name} is not set ({what}); set it, or name another variable under app.credentials"
    )]
    MissingVariable { name: String, what: &'static str },
    #[error(
        "no private key: set {key_var} to the PEM text or {file_var} to the path of the .p8 file"
    )]
    MissingKey { key_var: String, file_var: String },
    #[error("cannot read the private key file {path} named by {var}: {reason}")]
    KeyFileUnreadable {
        var: String,
        path: PathBuf,
        reason: String,
    },
    #[error("the private key from {origin} {problem}")]
    BadKey { origin: String, problem: String },
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
    let require = |name: &str, what: &'static str| {
        lookup(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| v.trim().to_string())
            .ok_or(CredentialError::MissingVariable {
                name: name.to_string(),
                what,
            })
    };
    let key_id = require(&key_id_var, "the key id of the In-App Purchase key")?;
    let issuer_id = require(&issuer_var, "the issuer id of the App Store Connect team")?;
    let (pem, origin) = match lookup(&key_var).filter(|v| !v.trim().is_empty()) {
        Some(pem) => (pem, key_var),
        None => match lookup(&file_var).filter(|v| !v.trim().is_empty()) {
            Some(path) => {
                let path = PathBuf::from(path);
                let pem = std::fs::read_to_string(&path).map_err(|e| {
                    CredentialError::KeyFileUnreadable {
                        var: file_var.clone(),
                        path: path.clone(),
                        reason: e.to_string(),
                    }
                })?;
                (pem, format!("{} ({})", file_var, path.display()))
            }
            None => return Err(CredentialError::MissingKey { key_var, file_var }),
        },
    };
    let private_key = PrivateKeyPem::parse(&pem)
        .map_err(|problem| CredentialError::BadKey { origin, problem })?;
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
        assert!(
            err.starts_with("cannot read the private key file /nonexistent/AuthKey.p8 named by RETAINCTL_PRIVATE_KEY_FILE"),
            "{err}"
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
}
