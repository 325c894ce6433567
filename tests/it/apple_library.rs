//! Apple's own Python client (`app-store-server-library`) against the real `retainctl sim`
//! binary, in sandbox and production modes. `.ci/run` installs the library into `.venv`
//! and sets RETAINCTL_PYTHON. Without it (no RETAINCTL_PYTHON, no `.venv` in the
//! repository) the tests print a SKIPPED line that `cargo test` shows; under CI
//! (`CI` set, as GitHub Actions does) or with RETAINCTL_PYTHON set they fail instead.
//! Apple's own Node client (`@apple/app-store-server-library`, `tests/node/`, installed by
//! `.ci/run` with `npm ci`) runs against the sandbox simulator the same way.

use std::io::Write;
use std::process::Command;

use crate::common::SimProcess;

use retainctl::apple::credentials::generate_key_pair;

/// The library version whose behaviour the facts sheet and the simulator follow.
const LIBRARY_VERSION: &str = "3.1.2";

/// A python with the library, or why there is none.
fn python() -> Result<String, String> {
    let Some(python) = crate::common::test_python() else {
        return Err(
            "RETAINCTL_PYTHON is not set and there is no .venv: run .ci/run, or \
             `python3 -m venv .venv && .venv/bin/pip install app-store-server-library==3.1.2`"
                .into(),
        );
    };
    let probe = Command::new(&python)
        .args([
            "-c",
            "import importlib.metadata as m, appstoreserverlibrary; print(m.version('app-store-server-library'))",
        ])
        .output();
    match probe {
        Err(e) => Err(format!("cannot run {python}: {e}")),
        Ok(out) if !out.status.success() => Err(format!(
            "{python} has no app-store-server-library: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        Ok(out) => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if version == LIBRARY_VERSION {
                Ok(python)
            } else {
                Err(format!(
                    "{python} has app-store-server-library {version}, not {LIBRARY_VERSION}"
                ))
            }
        }
    }
}

/// The python to use; `None` after a visible SKIPPED line when the library is missing
/// outside CI. Under CI, or when RETAINCTL_PYTHON names a python, a missing library fails.
pub(crate) fn python_or_skip(test: &str) -> Option<String> {
    match python() {
        Ok(p) => Some(p),
        Err(why)
            if crate::common::under_ci()
                || std::env::var("RETAINCTL_PYTHON").is_ok_and(|p| !p.is_empty()) =>
        {
            panic!("Apple's library is required here (CI or RETAINCTL_PYTHON set): {why}")
        }
        Err(why) => {
            // Straight to the process's stderr: libtest captures eprintln! of passing tests.
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
            None
        }
    }
}

/// A simulator in `mode` for com.example.app (product `premium`, performance tests of
/// `perf_requests` requests) that trusts a key made for the test, and the key's file: the
/// private key goes only into the returned temporary folder.
fn simulator_for_apples_client(
    mode: &str,
    perf_requests: &str,
) -> (tempfile::TempDir, std::path::PathBuf, SimProcess) {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = generate_key_pair();
    let key_file = dir.path().join("AuthKey_TEST.p8");
    let public_file = dir.path().join("public.pem");
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
            "--perf-requests",
            perf_requests,
            "--perf-concurrency",
            "4",
        ],
    );
    (dir, key_file, sim)
}

fn run_compat(mode: &str) {
    let Some(python) = python_or_skip(&format!("Apple's library against the {mode} simulator"))
    else {
        return;
    };
    let (_dir, key_file, sim) = simulator_for_apples_client(mode, "12");
    let url = sim.url.clone();

    // production refuses this URL (no passing sandbox test); in sandbox the script runs
    // its own realtime server and tests it with a real performance test
    let realtime = "https://127.0.0.1:9/apple/retention".to_string();

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
    assert_all_checks_passed(
        &out,
        &format!("Apple's library against the {mode} simulator"),
    );
}

/// A compatibility script's run: it exited 0 and its closing line counts no failure.
fn assert_all_checks_passed(out: &std::process::Output, what: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
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

/// Apple's Node client validates every answer against its models (a result without
/// `responseTimes` throws there): it must read everything the sandbox simulator returns,
/// a performance test read before any answer is measured included.
#[test]
fn apples_node_library_reads_every_answer_of_the_sandbox_simulator() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node");
    let library = std::path::Path::new(folder).join("node_modules/@apple/app-store-server-library");
    if !library.exists() {
        assert!(
            !crate::common::under_ci(),
            "Apple's Node library is required under CI: .ci/run runs `npm ci --prefix tests/node`"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED Apple's Node library against the simulator: no tests/node/node_modules (`npm ci --prefix tests/node`)"
        );
        return;
    }
    let (_dir, key_file, sim) = simulator_for_apples_client("sandbox", "4");
    let out = Command::new("node")
        .arg("apple_library_compat.js")
        .current_dir(folder)
        .env("SIM_URL", &sim.url)
        .env("KEY_FILE", &key_file)
        .env("BUNDLE_ID", "com.example.app")
        .output()
        .expect("node runs (it is needed for this test)");
    assert_all_checks_passed(&out, "Apple's Node library against the simulator");
}
