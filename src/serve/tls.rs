//! Native TLS for `serve --tls-cert PEM --tls-key PEM` (rustls): the certificate is read
//! again whenever its files change (a renewed certificate is served without a restart;
//! one that cannot be read keeps the one served and is said).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

use super::metrics::Metrics;
use super::served::read_limited;
use super::state::{Stamp, stamp};

/// The largest certificate or key file read.
const MAX_TLS_FILE: u64 = 1024 * 1024;

/// Why a certificate cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{0}")]
    Unreadable(String),
    #[error("--tls-cert {path} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)")]
    NoCertificate { path: PathBuf },
    #[error(
        "--tls-key {path} holds no PEM private key (PKCS#8, EC or RSA): give the key of --tls-cert"
    )]
    NoKey { path: PathBuf },
    #[error("--tls-key {key} does not go with --tls-cert {cert}: {reason}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

fn read_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let unreadable = |e: super::served::LoadError| TlsError::Unreadable(e.to_string());
    let cert_pem = read_limited(cert, MAX_TLS_FILE).map_err(unreadable)?;
    let key_pem = read_limited(key, MAX_TLS_FILE).map_err(unreadable)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_path_buf(),
        });
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoKey {
        path: key.to_path_buf(),
    })?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    CertifiedKey::from_der(chain, private, &provider).map_err(|e| TlsError::Mismatch {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The certificate served, swapped whole when its files change.
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
    stamps: Mutex<(Option<Stamp>, Option<Stamp>, bool)>,
}

impl std::fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

impl ReloadingCert {
    /// Reads the pair; an error names the file and what to do.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<ReloadingCert>, TlsError> {
        let stamps = (stamp(cert), stamp(key), false);
        let pair = read_pair(cert, key)?;
        Ok(Arc::new(ReloadingCert {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: ArcSwap::from_pointee(pair),
            stamps: Mutex::new(stamps),
        }))
    }

    /// Reads the pair again when a file changed (or the last read failed).
    pub fn reload_if_changed(&self, metrics: &Metrics) {
        let mut seen = self.stamps.lock().expect("tls lock");
        let now = (stamp(&self.cert), stamp(&self.key));
        if !seen.2 && (seen.0, seen.1) == now {
            return;
        }
        let failed_before = seen.2;
        match read_pair(&self.cert, &self.key) {
            Ok(pair) => {
                self.current.store(Arc::new(pair));
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
                *seen = (now.0, now.1, false);
            }
            Err(e) => {
                metrics.tls_reload_failures.inc();
                if !failed_before {
                    tracing::warn!(
                        "keeping the TLS certificate served: {e} (retried every reload interval)"
                    );
                }
                *seen = (now.0, now.1, true);
            }
        }
    }

    /// A rustls server configuration answering with this certificate (HTTP/1.1).
    pub fn server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the default provider supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}
