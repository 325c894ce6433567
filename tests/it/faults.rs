//! Whatever happens, a re-run converges and nothing is lost, duplicated or leaked:
//! injected faults, a SIGKILL in the middle of an apply, three applies at once.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use crate::common::world::{World, text};

/// Apple holds exactly what the manifest says: no stray or missing content, defaults set.
fn assert_exact(w: &World) {
    let state = w.state();
    let app = &state["apps"]["com.example.app"];
    let on_apple = |kind: &str| -> BTreeSet<String> {
        app[kind]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let wanted = |kind: &str| -> BTreeSet<String> { w.ids_of(kind).into_iter().collect() };
    assert_eq!(on_apple("images"), wanted("image"), "images");
    assert_eq!(on_apple("messages"), wanted("message"), "messages");
    assert_eq!(
        w.default_of("en-US").as_deref(),
        Some(w.id_of("stay", "en-US").as_str())
    );
    assert_eq!(
        w.default_of("de-DE").as_deref(),
        Some(w.id_of("stay", "de-DE").as_str())
    );
}

fn converges_in_one_apply(faults: &[&str]) -> World {
    let mut sim_args = vec!["--rate-limits", "false"];
    sim_args.extend_from_slice(faults);
    let w = World::start("sandbox", &sim_args);
    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--request-timeout",
        "1s",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{faults:?}\n{}", text(&out));
    assert_exact(&w);
    let out = w.run(&[
        "plan",
        "--env",
        "sandbox",
        "--request-timeout",
        "1s",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{faults:?}: converged\n{}",
        text(&out)
    );
    w
}

#[test]
fn every_third_request_answers_500() {
    converges_in_one_apply(&["--error-every", "3"]);
}

#[test]
fn every_third_request_answers_429_with_an_epoch_ms_retry_after() {
    converges_in_one_apply(&["--rate-limit-every", "3", "--retry-after-ms", "300"]);
}

#[test]
fn every_third_request_is_carried_out_then_answers_500() {
    converges_in_one_apply(&["--commit-then-fail-every", "3"]);
}

#[test]
fn every_third_connection_drops() {
    converges_in_one_apply(&["--drop-every", "3"]);
}

#[test]
fn every_third_answer_comes_after_the_client_timeout() {
    let w = converges_in_one_apply(&["--slow-every", "3", "--slow-ms", "1500"]);
    // The client gave up on slow answers (its timeout is 1 s) rather than waiting them
    // out; the simulator carried those requests out all the same, and the runs still
    // converged.
    let abandoned = w.state()["abandonedRequests"].as_u64().unwrap_or(0);
    assert!(
        abandoned > 0,
        "no request timed out: the slow answers were not slow, or the client waited"
    );
}

#[test]
fn a_killed_apply_is_finished_by_the_next_run() {
    let w = World::start("sandbox", &["--rate-limits", "false"]);
    // Hold the first Configure Default: the kill lands after the uploads, before any default.
    w.set_faults(serde_json::json!({"rules": [
        {"method": "PUT", "path": "/inApps/v1/messaging/default/*/*", "answer": {"hold": 30000}}
    ]}));
    let mut child = w
        .command(&["apply", "--env", "sandbox", "app.yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    w.wait_held(1);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let uploaded = w.count("UploadImage") + w.count("UploadMessage");
    assert!(uploaded > 0, "the kill came after some uploads");
    assert!(w.default_of("en-US").is_none(), "and before the defaults");
    // The held request of the killed run is carried out once released, as on Apple.
    w.set_faults(serde_json::json!({"rules": []}));
    w.release(None);
    let out = w.run(&["apply", "--env", "sandbox", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_exact(&w);
}

#[test]
fn three_applies_at_once_all_succeed() {
    let w = World::start("sandbox", &["--rate-limits", "false", "--latency-ms", "20"]);
    let children: Vec<_> = (0..3)
        .map(|_| {
            w.command(&["apply", "--env", "sandbox", "app.yaml"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    assert_exact(&w);
}

#[test]
fn a_held_default_holds_the_apply_until_released() {
    let w = World::start("sandbox", &["--rate-limits", "false"]);
    w.set_faults(serde_json::json!({"rules": [{
        "method": "PUT",
        "path": "/inApps/v1/messaging/default/*/*",
        "answer": {"hold": 60000}
    }]}));
    let mut child = w
        .command(&["apply", "--env", "sandbox", "app.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let held = w.wait_held(1);
    assert_eq!(held[0].0, "PUT");
    assert!(
        held[0]
            .1
            .starts_with("/inApps/v1/messaging/default/premium/"),
        "{held:?}"
    );
    assert!(child.try_wait().unwrap().is_none(), "apply waits for it");
    assert_eq!(w.default_of("en-US"), None);
    assert_eq!(w.default_of("de-DE"), None);
    // let everything through as it comes (each hold ends by itself after 60 s anyway)
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let out = loop {
        assert!(std::time::Instant::now() < deadline, "apply did not finish");
        w.release(None);
        if let Some(_status) = child.try_wait().unwrap() {
            break child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_exact(&w);
}

/// Exactness under concurrency: 24 uploads at `--parallelism 16` through 500s, 429s and
/// dropped connections converge in one apply, every upload reported once and sent to
/// Apple once (none refused as already there), and a re-plan shows no changes.
#[test]
fn concurrent_apply_through_faults_is_exact() {
    let w = World::start(
        "sandbox",
        &[
            "--rate-limits",
            "false",
            "--error-every",
            "7",
            "--rate-limit-every",
            "11",
            "--retry-after-ms",
            "300",
            "--drop-every",
            "13",
            // every answer takes a while, so requests sent at once are answered at once
            "--latency-ms",
            "100",
        ],
    );
    let mut manifest = std::fs::read_to_string(w.path().join("app.yaml"))
        .unwrap()
        .replace("defaults:\n  premium: stay\n", "");
    for i in 0..11 {
        manifest.push_str(&format!(
            "  extra{i}:\n    localizations:\n      en-US: {{ header: Extra {i}, body: More {i}. }}\n      de-DE: {{ header: Mehr {i}, body: Mehr {i}. }}\n"
        ));
    }
    manifest.push_str("defaults:\n  premium: stay\n");
    std::fs::write(w.path().join("app.yaml"), manifest).unwrap();

    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--parallelism",
        "16",
        "--format",
        "json",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let uploads: Vec<&serde_json::Value> = report["apps"][0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "upload_message")
        .collect();
    let ids: BTreeSet<&str> = uploads.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(uploads.len(), 24, "each upload reported once");
    assert_eq!(ids.len(), 24);
    assert!(
        uploads
            .iter()
            .all(|a| a["outcome"] == "written" || a["outcome"] == "already_there")
    );
    // No id reached Apple twice: these faults all answer before anything is carried
    // out, so Apple refused no upload as already there.
    let errors = w.state()["errorCounts"].clone();
    for name in ["MessageAlreadyExists", "ImageAlreadyExists"] {
        assert_eq!(errors[name].as_u64().unwrap_or(0), 0, "{name}: {errors}");
    }
    // ... and they went at once: Apple had several uploads in hand together.
    let peak = w.state()["peakConcurrentRequests"]["UploadMessage"]
        .as_u64()
        .unwrap();
    assert!(peak > 1, "uploads went one at a time (peak {peak})");
    assert_exact(&w);
    let out = w.run(&[
        "plan",
        "--env",
        "sandbox",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
