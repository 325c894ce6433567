//! Where an environment's requests go and with which credentials: Apple's hosts with the
//! app's credentials, a `--base-url` override, or the simulator embedded in this process
//! for `--env local` (state under `.retainctl/local/` at the top of the git work tree, a
//! generated key, no account).

use std::path::{Path, PathBuf};

use crate::apple::client::{BaseUrl, PRODUCTION_URL, SANDBOX_URL};
use crate::apple::credentials::{self, Credentials, PrivateKeyPem, generate_key_pair};
use crate::apple::token::TokenSigner;
use crate::apple::{AppleClient, ClientConfig};
use crate::loader::LoadedApp;
use crate::manifest::EnvironmentName;
use crate::sim::{self, Mode, SimConfig};

/// How the commands that talk to Apple reach it.
pub struct Reach {
    /// `--base-url`: every environment's requests go there.
    pub base_url: Option<String>,
    /// How `--env local` behaves.
    pub local_mode: Mode,
    pub request_timeout: std::time::Duration,
    pub max_rate_wait: std::time::Duration,
    /// Requests in flight at once across every app of the run.
    pub in_flight: std::sync::Arc<tokio::sync::Semaphore>,
    /// One HTTP client for every app of the run (made at the first app).
    pub http: std::sync::OnceLock<reqwest::Client>,
    /// Signing keys decoded so far: once per key, not once per app.
    pub signing_keys: crate::apple::token::SigningKeys,
}

impl Reach {
    /// The run's HTTP client: built once, shared by every app's Apple client.
    fn http(&self) -> Result<reqwest::Client, String> {
        if let Some(http) = self.http.get() {
            return Ok(http.clone());
        }
        let http = crate::apple::client::http_client(self.request_timeout)?;
        Ok(self.http.get_or_init(|| http).clone())
    }
}

/// The folder of the local environment's state, relative to the top of the git work tree.
pub const LOCAL_STATE_DIR: &str = ".retainctl/local";

/// Where `--env local` keeps its state: `.retainctl/local/` at the top of the git work
/// tree that holds the current folder (so `cd retention && plan --env local .` sees the
/// same state as a run from the top), or in the current folder outside git.
pub fn local_state_dir() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let top = cwd
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(&cwd);
    top.join(LOCAL_STATE_DIR)
}

/// The simulator running inside this process for `--env local`.
pub struct LocalApple {
    pub base_url: String,
    pub state_file: PathBuf,
    key: PrivateKeyPem,
    _server: tokio::task::JoinHandle<()>,
}

pub async fn start_local(mode: Mode, state_dir: &Path) -> Result<LocalApple, String> {
    let (key, public) = generate_key_pair();
    let state_file = state_dir.join(match mode {
        Mode::Sandbox => "sandbox.json",
        Mode::Production => "production.json",
    });
    let config = SimConfig {
        mode,
        bundle_id: None,
        products: None,
        public_keys: vec![public],
        state_file: Some(state_file.clone()),
        review_delay: None,
        // Local rehearsals are not rate limited; `retainctl sim` enforces Apple's limits.
        rate_limits: false,
        faults: Default::default(),
        // sandbox passes go to perf-tests.json beside the state, where production reads them
        perf: Default::default(),
    };
    let (addr, server) = sim::spawn(config, "127.0.0.1:0".parse().expect("loopback"))
        .await
        .map_err(|e| format!("cannot start the local simulator: {e}"))?;
    Ok(LocalApple {
        base_url: format!("http://{addr}"),
        state_file,
        key,
        _server: server,
    })
}

/// The client of one app in one environment.
pub fn client_for(
    app: &LoadedApp,
    env: EnvironmentName,
    reach: &Reach,
    local: Option<&LocalApple>,
) -> Result<AppleClient, String> {
    let base_url = reach.base_url.as_deref();
    let bundle = &app.manifest.app.bundle_id;
    let (credentials, url, sandbox, pacing) = match (env, local) {
        (EnvironmentName::Local, Some(local)) => (
            Credentials {
                key_id: "LOCAL00000".into(),
                issuer_id: "retainctl-local".into(),
                private_key: local.key.clone(),
            },
            local.base_url.clone(),
            true,
            false,
        ),
        (EnvironmentName::Local, None) => return Err("the local simulator is not running".into()),
        (env, _) => {
            let credentials =
                credentials::from_env(app.manifest.app.credentials.as_ref(), &|name| {
                    std::env::var(name).ok()
                })
                .map_err(|e| format!("{bundle} ({}): {e}", app.file.display()))?;
            let default_url = if env == EnvironmentName::Production {
                PRODUCTION_URL
            } else {
                SANDBOX_URL
            };
            (
                credentials,
                BaseUrl::parse(base_url.unwrap_or(default_url))
                    .map_err(|e| format!("--base-url: {e}"))?
                    .to_string(),
                env == EnvironmentName::Sandbox,
                true,
            )
        }
    };
    let signer = TokenSigner::with_keys(&credentials, bundle, &reach.signing_keys)
        .map_err(|e| format!("{bundle}: {e}"))?;
    let mut config = ClientConfig::new(url, sandbox);
    config.pacing = pacing;
    config.timeout = reach.request_timeout;
    config.retry.max_wait = reach.max_rate_wait;
    config.in_flight = Some(reach.in_flight.clone());
    config.http = Some(reach.http()?);
    AppleClient::new(config, signer, bundle)
}
