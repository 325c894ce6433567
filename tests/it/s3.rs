//! The snapshot in object storage, against a real S3 API started here: moto's server
//! (`moto_server`, installed by .ci/run into .venv) on 127.0.0.1. Two `serve` replicas
//! wait unready for a snapshot that is not there yet, then converge on each new one
//! within an interval; the store refuses a write that would overwrite another writer's.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use retainctl::realtime::store::{Fetched, SnapshotLocation, StoreError};

use crate::common::world::block_on;
use crate::serve::{ServeProcess, answered_id, eventually, id, payload, post, setup};

/// `moto_server` beside the test python, or why there is none.
fn moto_server() -> Result<PathBuf, String> {
    let python = crate::common::test_python()
        .ok_or("RETAINCTL_PYTHON is not set and there is no .venv: run .ci/run")?;
    let server = Path::new(&python).with_file_name("moto_server");
    if server.exists() {
        Ok(server)
    } else {
        Err(format!(
            "no {} (`.venv/bin/pip install 'moto[server]'`, as .ci/run does)",
            server.display()
        ))
    }
}

/// A moto S3 server on a free loopback port, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Started, or `None` after a SKIPPED line outside CI.
    fn start(test: &str) -> Option<Moto> {
        let server = match moto_server() {
            Ok(server) => server,
            Err(why)
                if crate::common::under_ci() || std::env::var_os("RETAINCTL_PYTHON").is_some() =>
            {
                panic!("{test}: {why}")
            }
            Err(why) => {
                eprintln!("SKIPPED {test}: {why}");
                return None;
            }
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    fn vars(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn create_bucket(&self, bucket: &str) {
        let status = block_on(async {
            reqwest::Client::new()
                .put(format!("{}/{bucket}", self.endpoint))
                .send()
                .await
                .unwrap()
                .status()
        });
        assert!(status.is_success(), "create bucket: {status}");
    }

    fn location(&self, url: &str) -> retainctl::realtime::store::ObjectLocation {
        match SnapshotLocation::parse_with(url.as_ref(), self.vars()).unwrap() {
            SnapshotLocation::Object(object) => object,
            SnapshotLocation::File(_) => panic!("{url} is not an object"),
        }
    }
}

fn ready(server: &ServeProcess) -> u16 {
    block_on(async {
        reqwest::get(format!("{}/readyz", server.url))
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    })
}

#[test]
fn two_replicas_wait_for_the_s3_snapshot_then_converge_on_each_new_one() {
    let Some(moto) = Moto::start("two_replicas_converge") else {
        return;
    };
    moto.create_bucket("realtime");
    let url = "s3://realtime/production/snapshot.json";
    let s = setup();
    let spawn = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_retainctl"));
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--reload-interval",
                "200ms",
            ])
            .args(["--snapshot", url, "--trust-root"])
            .arg(&s.root)
            .envs(moto.vars())
            .stdout(Stdio::piped());
        let log = s
            .dir
            .path()
            .join(format!("replica-{}.log", uuid::Uuid::new_v4()));
        command.stderr(std::fs::File::create(&log).unwrap());
        ServeProcess::attach(command.spawn().unwrap(), log)
    };
    let replicas = [spawn(), spawn()];
    // nothing in the bucket yet: alive, not ready, and saying why
    for r in &replicas {
        assert_eq!(ready(r), 503, "{}", r.log());
        let (status, _) = crate::serve::get(&format!("{}/healthz", r.url));
        assert_eq!(status, 200);
    }
    let object = moto.location(url);
    for (n, general) in [(1, 0x600d_u128), (2, 0xbeef)] {
        let snapshot = std::fs::read({
            crate::serve::write_snapshot(&s.snapshot, general);
            &s.snapshot
        })
        .unwrap();
        let expected = match block_on(object.fetch(None, 1 << 24)).unwrap() {
            Fetched::Read(read) => read.etag,
            _ => None,
        };
        block_on(object.put(snapshot, expected.as_deref())).unwrap();
        for r in &replicas {
            eventually(&format!("replica answers snapshot {n}"), || {
                let (status, body) = post(&r.url, &s.signer.sign(&payload("p.x")).unwrap());
                status == 200 && answered_id(&body) == id(general)
            });
            assert_eq!(ready(r), 200);
        }
    }
    let metrics = block_on(async {
        reqwest::get(format!("{}/metrics", replicas[0].url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(
        metrics.contains("retainctl_serve_snapshot_info{source=\"s3\""),
        "{metrics}"
    );
}

#[test]
fn a_write_over_another_writers_snapshot_is_refused() {
    let Some(moto) = Moto::start("conditional_put") else {
        return;
    };
    moto.create_bucket("realtime");
    let object = moto.location("s3://realtime/snapshot.json");
    assert!(matches!(
        block_on(object.fetch(None, 1024)).unwrap(),
        Fetched::Missing
    ));
    // two applies read "absent": the first creates, the second is refused
    block_on(object.put(b"first".to_vec(), None)).unwrap();
    let second = block_on(object.put(b"second".to_vec(), None));
    assert!(
        matches!(second, Err(StoreError::Conflict { .. })),
        "{second:?}"
    );
    let Fetched::Read(read) = block_on(object.fetch(None, 1024)).unwrap() else {
        panic!("the object is there");
    };
    assert_eq!(read.bytes, b"first");
    let etag = read.etag.expect("S3 gives an ETag");
    // unchanged since read: polled as not modified
    assert!(matches!(
        block_on(object.fetch(Some(&etag), 1024)).unwrap(),
        Fetched::NotModified
    ));
    // two applies read the same version: the first writes, the second is refused
    block_on(object.put(b"third".to_vec(), Some(&etag))).unwrap();
    let stale = block_on(object.put(b"fourth".to_vec(), Some(&etag)));
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    let message = stale.unwrap_err().to_string();
    assert!(message.contains("another apply wrote it"), "{message}");
    let Fetched::Read(read) = block_on(object.fetch(None, 1024)).unwrap() else {
        panic!("the object is there");
    };
    assert_eq!(read.bytes, b"third", "nothing was overwritten");
    // an object over the cap is refused, not read whole
    let too_large = block_on(object.fetch(None, 3));
    assert!(matches!(too_large, Err(StoreError::TooLarge { .. })));
}

#[test]
fn apply_writes_the_snapshot_to_s3_and_serve_answers_from_it() {
    let Some(moto) = Moto::start("apply_to_s3") else {
        return;
    };
    moto.create_bucket("realtime");
    let url = "s3://realtime/local/sandbox.json";
    let ws = crate::common::Workspace::new();
    ws.write("retention/app.yaml", &crate::serve::local_manifest(None));
    let apply = || {
        let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .args(["apply", "retention", "--env", "local", "--snapshot", url])
            .current_dir(ws.path())
            .env_remove("RETAINCTL_BASE_URL")
            .envs(moto.vars())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    // created, then updated over the version it read
    for _ in 0..2 {
        let (code, text) = apply();
        assert_eq!(code, Some(0), "{text}");
        assert!(
            text.contains(&format!("realtime snapshot (sandbox): {url}")),
            "{text}"
        );
    }
    let Fetched::Read(read) = block_on(moto.location(url).fetch(None, 1 << 24)).unwrap() else {
        panic!("apply wrote no object");
    };
    let snapshot: retainctl::realtime::Snapshot = serde_json::from_slice(&read.bytes).unwrap();
    assert_eq!(snapshot.apps[0].bundle_id, "com.example.app");
    let child = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args([
            "serve",
            "--env",
            "local",
            "--listen",
            "127.0.0.1:0",
            "--health-detail",
            "--snapshot",
            url,
        ])
        .current_dir(ws.path())
        .envs(moto.vars())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(ws.path().join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let server = ServeProcess::attach(child, ws.path().join("serve.log"));
    let signer_root = ws.path().join(".retainctl/local/realtime-root.pem");
    assert!(signer_root.exists());
    assert_eq!(ready(&server), 200, "{}", server.log());
    let (status, health) = crate::serve::get(&format!("{}/healthz", server.url));
    assert_eq!(status, 200);
    assert_eq!(health["snapshot"]["path"], url);
    assert_eq!(
        health["snapshot"]["sha256"].as_str().unwrap(),
        retainctl::desired::ids::sha256_hex(&read.bytes)
    );
}

/// `serve --decisions-to s3://…`: the decisions written locally also reach the object
/// store, under a folder of this replica, by shutdown at the latest.
#[test]
fn decisions_reach_the_object_store_by_shutdown() {
    let Some(moto) = Moto::start("decisions_to_s3") else {
        return;
    };
    moto.create_bucket("analytics");
    let s = setup();
    let decisions = s.dir.path().join("decisions");
    let child = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["serve", "--listen", "127.0.0.1:0", "--snapshot"])
        .arg(&s.snapshot)
        .arg("--trust-root")
        .arg(&s.root)
        .arg("--decisions")
        .arg(&decisions)
        .args(["--decisions-to", "s3://analytics/retainctl/decisions"])
        .current_dir(s.dir.path())
        .envs(moto.vars())
        .env("HOSTNAME", "replica-a")
        .env(
            "RETAINCTL_CUSTOMER_KEY",
            "a customer key of the tests, long enough",
        )
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(s.dir.path().join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let mut server = ServeProcess::attach(child, s.dir.path().join("serve.log"));
    for _ in 0..5 {
        let (status, _) = post(&server.url, &s.signer.sign(&payload("p.any")).unwrap());
        assert_eq!(status, 200, "{}", server.log());
    }
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    eventually("serve to stop", || {
        server.child.try_wait().unwrap().is_some()
    });
    let listing = block_on(async {
        reqwest::get(format!(
            "{}/analytics?list-type=2&prefix=retainctl/decisions/replica-a/",
            moto.endpoint
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
    });
    let key = listing
        .split("<Key>")
        .nth(1)
        .and_then(|k| k.split("</Key>").next())
        .unwrap_or_else(|| panic!("no decisions object: {listing}\n{}", server.log()));
    assert!(
        key.starts_with("retainctl/decisions/replica-a/decisions-"),
        "{key}"
    );
    let Fetched::Read(read) = block_on(
        moto.location(&format!("s3://analytics/{key}"))
            .fetch(None, 1 << 20),
    )
    .unwrap() else {
        panic!("{key} cannot be read");
    };
    let object = String::from_utf8(read.bytes).unwrap();
    assert_eq!(object.lines().count(), 5, "{object}\n{listing}");
    assert!(
        !object.contains(crate::serve::TRANSACTION),
        "no raw transaction id"
    );
}
