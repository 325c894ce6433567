//! Apple's own Python client (`app-store-server-library`) against the real `retainctl sim`
//! binary, in sandbox and production modes. `.ci/run` installs the library into `.venv`
//! and sets RETAINCTL_PYTHON; under CI the test fails when it is missing.

mod common;

use std::process::Command;

use common::SimProcess;

use retainctl::apple::credentials::generate_key_pair;

fn python() -> Option<String> {
    match std::env::var("RETAINCTL_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("CI").is_ok() => panic!(
            "RETAINCTL_PYTHON is not set: .ci/run installs app-store-server-library into .venv and sets it"
        ),
        _ => None,
    }
}

fn run_compat(mode: &str) {
    let Some(python) = python() else {
        eprintln!(
            "skipped: set RETAINCTL_PYTHON to a python with app-store-server-library installed"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = generate_key_pair();
    let key_file = dir.path().join("AuthKey_TEST.p8");
    let public_file = dir.path().join("public.pem");
    // The private key goes only into this test's temporary folder.
    std::fs::write(&key_file, private.pem_text()).unwrap();
    std::fs::write(&public_file, &public).unwrap();

    let sim = SimProcess::spawn(
        &public_file,
        &[
            "--mode",
            mode,
            "--bundle-id",
            "com.example.app",
            "--products",
            "premium",
        ],
    );
    let url = sim.url.clone();

    // something that answers, for the performance test of the realtime URL
    let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let realtime = format!(
        "https://127.0.0.1:{}/apple/retention",
        target.local_addr().unwrap().port()
    );

    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/apple_library_compat.py"
        ))
        .env("SIM_URL", &url)
        .env("SIM_MODE", mode)
        .env("KEY_FILE", &key_file)
        .env("BUNDLE_ID", "com.example.app")
        .env("REALTIME_URL", &realtime)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "Apple's library failed against the simulator ({mode}):\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.lines().any(|l| l.ends_with(" passed, 0 failed")),
        "{stdout}"
    );
}

#[test]
fn apples_library_works_against_the_sandbox_simulator() {
    run_compat("sandbox");
}

#[test]
fn apples_library_works_against_the_production_simulator() {
    run_compat("production");
}
