//! A temporary folder with a manifest and its images, and a `retainctl sim` process.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use retainctl::apple::credentials::{Credentials, PrivateKeyPem, generate_key_pair};
use retainctl::apple::image_rules::solid_png;
use retainctl::apple::token::TokenSigner;
use retainctl::apple::{AppleClient, ClientConfig};
use serde_json::Value;

pub const MANIFEST: &str = "\
apiVersion: retainctl/v1
app:
  bundleId: com.example.app
  locales: [en-US, de-DE]
  products: [premium]
images:
  hero: { file: hero.png, size: FULL_SIZE }
  check: { file: check.png, size: BULLET_POINT }
messages:
  stay:
    localizations:
      en-US:
        header: Stay with Premium
        body: Keep your plan.
        image: { ref: hero, altText: A person }
        bulletPoints:
          - { text: Unlimited projects, image: check, altText: check mark }
      de-DE:
        header: Bleib bei Premium
        body: Behalte deinen Plan.
defaults:
  premium: stay
";

pub struct World {
    pub dir: tempfile::TempDir,
    pub sim: super::SimProcess,
    pub url: String,
    pub key: PrivateKeyPem,
}

impl World {
    pub fn new(mode: &str) -> World {
        Self::start(mode, &[])
    }

    /// A simulator in `mode` with extra `retainctl sim` flags (faults), and the manifest.
    pub fn start(mode: &str, sim_args: &[&str]) -> World {
        let dir = tempfile::tempdir().unwrap();
        let (key, public) = generate_key_pair();
        std::fs::write(dir.path().join("public.pem"), public).unwrap();
        std::fs::write(dir.path().join("app.yaml"), MANIFEST).unwrap();
        std::fs::write(
            dir.path().join("hero.png"),
            solid_png(3840, 160, [200, 10, 10], false),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("check.png"),
            solid_png(1024, 1024, [10, 200, 10], false),
        )
        .unwrap();
        let mut args = vec!["--mode", mode, "--products", "premium"];
        args.extend_from_slice(sim_args);
        let sim = super::SimProcess::spawn(&dir.path().join("public.pem"), &args);
        let url = sim.url.clone();
        World { dir, sim, url, key }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `retainctl ARGS --base-url <simulator>` in the world's folder, with credentials
    /// (`--base-url` only for the commands that talk to Apple: the others refuse it).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_retainctl"));
        command.args(args);
        if matches!(args.first(), Some(&("plan" | "apply" | "status"))) {
            command.args(["--base-url", &self.url]);
        }
        command
            .current_dir(self.dir.path())
            .env("RETAINCTL_KEY_ID", "KEYID12345")
            .env(
                "RETAINCTL_ISSUER_ID",
                "57246542-96fe-1a63-e053-0824d011072a",
            )
            .env("RETAINCTL_PRIVATE_KEY", self.key.pem_text())
            .env_remove("RETAINCTL_PRIVATE_KEY_FILE")
            .env("NO_COLOR", "1");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn state(&self) -> Value {
        block_on(async {
            reqwest::get(format!("{}/_sim/state", self.url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    }

    pub fn writes(&self) -> u64 {
        let state = self.state();
        state["requestCounts"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| !k.starts_with("Get"))
                    .map(|(_, v)| v.as_u64().unwrap())
                    .sum()
            })
            .unwrap_or(0)
    }

    pub fn count(&self, endpoint: &str) -> u64 {
        self.state()["requestCounts"][endpoint]
            .as_u64()
            .unwrap_or(0)
    }

    pub fn review(&self, decision: &str, ids: &[String]) {
        let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .args(["sim", "review", "--url", &self.url, decision])
            .args(ids)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// (kind, key, locale-or-size) → id, from `retainctl ids`.
    pub fn ids(&self) -> Vec<(String, String, String, String)> {
        let out = self.run(&["ids", "app.yaml"]);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (
                    f[1].to_string(),
                    f[2].to_string(),
                    f[3].to_string(),
                    f[4].to_string(),
                )
            })
            .collect()
    }

    pub fn ids_of(&self, kind: &str) -> Vec<String> {
        self.ids()
            .into_iter()
            .filter(|i| i.0 == kind)
            .map(|i| i.3)
            .collect()
    }

    pub fn id_of(&self, key: &str, locale: &str) -> String {
        self.ids()
            .into_iter()
            .find(|i| i.1 == key && i.2 == locale)
            .unwrap()
            .3
    }

    pub fn default_of(&self, locale: &str) -> Option<String> {
        self.state()["apps"]["com.example.app"]["defaults"]["premium"][locale]
            .as_str()
            .map(str::to_string)
    }

    /// Replaces the simulator's fault settings (`POST /_sim/faults`), e.g.
    /// `json!({"rules": [{"method": "PUT", "path": "/inApps/v1/messaging/default/*/*",
    /// "answer": {"error": 4030017}, "times": 1}]})`; `json!({})` switches faults off.
    pub fn set_faults(&self, config: Value) {
        let status = block_on(async {
            reqwest::Client::new()
                .post(format!("{}/_sim/faults", self.url))
                .body(config.to_string())
                .send()
                .await
                .unwrap()
                .status()
        });
        assert!(
            status.is_success(),
            "the simulator refused {config}: {status}"
        );
    }

    /// The requests a `hold` rule keeps waiting: (method, path), oldest first.
    pub fn held(&self) -> Vec<(String, String)> {
        let held: Value = block_on(async {
            reqwest::get(format!("{}/_sim/held", self.url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        held["held"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["method"].as_str().unwrap().to_string(),
                    h["path"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Waits until at least `n` requests are held (at most 20 s, then panics).
    pub fn wait_held(&self, n: usize) -> Vec<(String, String)> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let held = self.held();
            if held.len() >= n {
                return held;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{n} held requests expected, the simulator holds {held:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
    }

    /// Releases the first `count` held requests (all with `None`); returns how many.
    pub fn release(&self, count: Option<usize>) -> u64 {
        let body = match count {
            Some(n) => serde_json::json!({ "count": n }),
            None => serde_json::json!({}),
        };
        let answer: Value = block_on(async {
            reqwest::Client::new()
                .post(format!("{}/_sim/release", self.url))
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        answer["released"].as_u64().unwrap()
    }

    /// Every bearer token the simulator received (`GET /_sim/requests`).
    pub fn tokens_sent(&self) -> Vec<String> {
        let seen: Value = block_on(async {
            reqwest::get(format!("{}/_sim/requests", self.url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        seen["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["token"].as_str().map(str::to_string))
            .collect()
    }

    pub fn client(&self) -> AppleClient {
        let creds = Credentials {
            key_id: "K".into(),
            issuer_id: "I".into(),
            private_key: self.key.clone(),
        };
        AppleClient::new(
            ClientConfig::new(self.url.clone(), true),
            TokenSigner::new(&creds, "com.example.app").unwrap(),
            "com.example.app",
        )
        .unwrap()
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
