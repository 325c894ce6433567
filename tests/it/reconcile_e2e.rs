//! The real binary against the real simulator over loopback: converge, review-gated
//! production flow, content edits, rejection, drift, stale saved plans, `--env local`.

use std::path::Path;
use std::process::Command;

use crate::common::world::{MANIFEST, World, block_on, text};
use serde_json::Value;

#[test]
fn sandbox_converges_in_one_run_and_a_second_run_writes_nothing() {
    let w = World::new("sandbox");
    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(
            "com.example.app · sandbox: 6 done, 0 waiting on review, 0 blocked, 0 failed"
        ),
        "{}",
        text(&out)
    );
    assert_eq!(
        w.default_of("en-US").as_deref(),
        Some(w.id_of("stay", "en-US").as_str())
    );

    let out = w.run(&[
        "plan",
        "--env",
        "sandbox",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("No changes. Apple matches the manifests."));

    let writes = w.writes();
    let out = w.run(&["apply", "--env", "sandbox", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(w.writes(), writes, "a converged apply writes nothing");
    // requests per plan: 2 lists + 2 owned pairs; the realtime URL is not read, as the
    // manifest manages none
    let reads_before = w.count("GetImageList")
        + w.count("GetMessageList")
        + w.count("GetDefaultMessage")
        + w.count("GetRealtimeUrl");
    w.run(&["plan", "--env", "sandbox", "app.yaml"]);
    let reads_after = w.count("GetImageList")
        + w.count("GetMessageList")
        + w.count("GetDefaultMessage")
        + w.count("GetRealtimeUrl");
    assert_eq!(reads_after - reads_before, 4);
}

#[test]
fn production_waits_for_review_then_converges() {
    let w = World::new("production");
    let out = w.run(&[
        "apply",
        "--env",
        "production",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        w.count("ConfigureDefaultMessage"),
        0,
        "no default attempted while content is PENDING"
    );
    let state = w.state();
    assert!(
        state["apps"]["com.example.app"]["messages"]
            .as_object()
            .unwrap()
            .values()
            .all(|m| m["state"] == "PENDING")
    );

    w.review("approve", &w.ids_of("message"));
    let out = w.run(&[
        "apply",
        "--env",
        "production",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("waiting: set default premium [en-US]"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("image check PENDING"), "{}", text(&out));
    assert_eq!(
        w.default_of("de-DE").as_deref(),
        Some(w.id_of("stay", "de-DE").as_str()),
        "de-DE uses no image"
    );
    assert_eq!(w.default_of("en-US"), None, "en-US waits for its images");

    w.review("approve", &w.ids_of("image"));
    let out = w.run(&[
        "apply",
        "--env",
        "production",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        w.default_of("en-US").as_deref(),
        Some(w.id_of("stay", "en-US").as_str())
    );
    let out = w.run(&[
        "plan",
        "--env",
        "production",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_content_edit_uploads_a_new_id_and_keeps_the_old_default_until_approved() {
    let w = World::new("production");
    w.run(&["apply", "--env", "production", "app.yaml"]);
    w.review("approve-all", &[]);
    w.run(&["apply", "--env", "production", "app.yaml"]);
    let old = w.id_of("stay", "en-US");
    assert_eq!(w.default_of("en-US").as_deref(), Some(old.as_str()));

    std::fs::write(
        w.path().join("app.yaml"),
        MANIFEST.replace("Stay with Premium", "Stay with Premium today"),
    )
    .unwrap();
    let new = w.id_of("stay", "en-US");
    assert_ne!(new, old);
    let out = w.run(&[
        "apply",
        "--env",
        "production",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("done     upload message stay [en-US] {new}")),
        "{}",
        text(&out)
    );
    assert_eq!(
        w.default_of("en-US").as_deref(),
        Some(old.as_str()),
        "old default kept while the new content is PENDING"
    );

    w.review("approve", std::slice::from_ref(&new));
    let out = w.run(&["apply", "--env", "production", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.default_of("en-US").as_deref(), Some(new.as_str()));
    let messages = w.state()["apps"]["com.example.app"]["messages"].clone();
    assert!(
        messages.get(&old).is_some(),
        "the old message stays without --prune"
    );
    let plan = w.run(&["plan", "--env", "production", "app.yaml"]);
    assert!(
        text(&plan).contains(&format!(
            "drift: message {old} APPROVED is not in the manifest (deleted only with --prune)"
        )),
        "{}",
        text(&plan)
    );

    let out = w.run(&["apply", "--env", "production", "--prune", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(&format!(
        "done     delete message {old} (not in the manifest)"
    )));
    assert!(
        w.state()["apps"]["com.example.app"]["messages"]
            .get(&old)
            .is_none()
    );
}

#[test]
fn rejected_content_is_reported() {
    let w = World::new("production");
    w.run(&["apply", "--env", "production", "app.yaml"]);
    let de = w.id_of("stay", "de-DE");
    w.review("reject", std::slice::from_ref(&de));
    let out = w.run(&["plan", "--env", "production", "app.yaml"]);
    let t = text(&out);
    assert!(
        t.contains(&format!(
            "rejected: message stay [de-DE] {de} was REJECTED: change the content to get a new id"
        )),
        "{t}"
    );
    assert!(
        t.contains("[blocked: message stay REJECTED: change the content to get a new id]"),
        "{t}"
    );
    let out = w.run(&[
        "apply",
        "--env",
        "production",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("blocked: set default premium [de-DE]"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_message_uploaded_by_hand_is_drift() {
    let w = World::new("sandbox");
    let hand = uuid::Uuid::new_v4();
    block_on(
        w.client()
            .upload_message(hand, r#"{"body":"b","header":"by hand"}"#),
    )
    .unwrap();
    let out = w.run(&["plan", "--env", "sandbox", "app.yaml"]);
    assert!(
        text(&out).contains(&format!(
            "drift: message {hand} APPROVED is not in the manifest (deleted only with --prune)"
        )),
        "{}",
        text(&out)
    );
}

#[test]
fn a_stale_saved_plan_is_refused_and_a_fresh_one_applies() {
    let w = World::new("sandbox");
    let out = w.run(&["plan", "--env", "sandbox", "--out", "plan.json", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let saved = std::fs::read_to_string(w.path().join("plan.json")).unwrap();
    assert!(!saved.contains("PRIVATE KEY"));
    assert!(saved.contains("\"format_version\": 2"));

    // Apple changes behind the plan's back
    block_on(
        w.client()
            .upload_message(uuid::Uuid::new_v4(), r#"{"body":"b","header":"h"}"#),
    )
    .unwrap();
    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--plan",
        "plan.json",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("stale plan: Apple's state has changed since the plan was made"),
        "{}",
        text(&out)
    );
    assert_eq!(w.count("UploadImage"), 0, "nothing done from a stale plan");

    let out = w.run(&["plan", "--env", "sandbox", "--out", "plan.json", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--plan",
        "plan.json",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        w.default_of("en-US").as_deref(),
        Some(w.id_of("stay", "en-US").as_str())
    );
}

#[test]
fn plan_exit_codes_follow_the_contract() {
    let w = World::new("sandbox");
    let out = w.run(&["plan", "--env", "sandbox", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let out = w.run(&[
        "plan",
        "--env",
        "sandbox",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = w.run(&[
        "plan", "--env", "sandbox", "--format", "markdown", "app.yaml",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("<!-- retainctl:plan -->\n"));
    let out = w.run(&["plan", "--env", "sandbox", "--format", "json", "app.yaml"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["format_version"], 2);
    assert_eq!(json["apps"][0]["actions"][0]["type"], "upload_image");
    // missing credentials: a clear error, exit 1
    let out = w
        .command(&["plan", "--env", "sandbox", "app.yaml"])
        .env_remove("RETAINCTL_KEY_ID")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("environment variable RETAINCTL_KEY_ID is not set"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_readme_command_applies_the_examples_locally() {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .args(args)
            .arg(&examples)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let out = run(&["apply", "--env", "local"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(dir.path().join(".retainctl/local/sandbox.json").exists());
    let out = run(&["plan", "--env", "local", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(&["status", "--env", "local"]);
    assert!(
        text(&out).contains("com.example.fitness · local"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("in sync"));
}

#[test]
fn local_production_mode_rehearses_review_through_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let simple = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/simple");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let apply = [
        "apply",
        "--env",
        "local",
        "--local-mode",
        "production",
        "--detailed-exitcode",
        simple.to_str().unwrap(),
    ];
    let out = run(&apply);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("waiting: set default notes.pro.monthly [en-US]"),
        "{}",
        text(&out)
    );
    let out = run(&[
        "sim",
        "review",
        "--state",
        ".retainctl/local/production.json",
        "approve-all",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&apply);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn no_key_or_token_in_any_output_at_trace_level() {
    let w = World::new("sandbox");
    let mut outputs = vec![];
    for args in [
        &["plan", "--env", "sandbox", "app.yaml"][..],
        &[
            "plan",
            "--env",
            "sandbox",
            "--format",
            "json",
            "--out",
            "plan.json",
            "app.yaml",
        ],
        &[
            "plan", "--env", "sandbox", "--format", "markdown", "app.yaml",
        ],
        &["apply", "--env", "sandbox", "app.yaml"],
        &["status", "--env", "sandbox", "app.yaml"],
    ] {
        let out = w.command(args).env("RUST_LOG", "trace").output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        outputs.push(text(&out));
    }
    outputs.push(std::fs::read_to_string(w.path().join("plan.json")).unwrap());
    let all = outputs.join("\n");
    assert!(all.contains("apple_request"), "trace logs are on");
    let key_body: String = w
        .key
        .pem_text()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for secret in ["PRIVATE KEY", "Bearer", "eyJ", &key_body[..20]] {
        assert!(!all.contains(secret), "`{secret}` leaked");
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn plan_against_a_base_revision_shows_the_changed_copy() {
    let w = World::new("sandbox");
    git(w.path(), &["init", "-q"]);
    git(w.path(), &["add", "app.yaml", "hero.png", "check.png"]);
    git(w.path(), &["commit", "-q", "-m", "first"]);
    std::fs::write(
        w.path().join("app.yaml"),
        MANIFEST.replace(
            "body: Keep your plan.",
            "body: Keep your plan and save 50%.",
        ),
    )
    .unwrap();
    git(w.path(), &["commit", "-q", "-am", "second"]);

    let out = w.run(&[
        "plan", "--env", "sandbox", "--format", "markdown", "--base", "HEAD~1", "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("<!-- retainctl:plan -->\n"));
    assert!(
        md.contains("<details><summary>Changed copy (1 localizations)</summary>"),
        "{md}"
    );
    assert!(md.contains("changed — `stay` en-US"), "{md}");
    assert!(
        md.contains(
            "-body: Keep your plan. (15/144)\n+body: Keep your plan and save 50%. (28/144)\n"
        ),
        "{md}"
    );

    let out = w.run(&[
        "plan", "--env", "sandbox", "--format", "json", "--base", "HEAD~1", "app.yaml",
    ]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let diff = &json["apps"][0]["diffs"][0];
    assert_eq!(diff["change"], "changed");
    let lines = diff["hunks"][0]["lines"].as_array().unwrap();
    assert!(lines.iter().any(
        |l| l["tag"] == "insert" && l["text"] == "body: Keep your plan and save 50%. (28/144)"
    ));

    let out = w.run(&[
        "plan",
        "--env",
        "sandbox",
        "--base",
        "no-such-rev",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("--base no-such-rev is neither a folder nor a git revision"),
        "{}",
        text(&out)
    );
}

#[test]
fn github_format_annotates_rejected_content_and_writes_the_step_summary() {
    let w = World::new("production");
    w.run(&["apply", "--env", "production", "app.yaml"]);
    let de = w.id_of("stay", "de-DE");
    w.review("reject", std::slice::from_ref(&de));
    let summary = w.path().join("summary.md");
    let out = w
        .command(&[
            "plan",
            "--env",
            "production",
            "--format",
            "github",
            "app.yaml",
        ])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "::error file=app.yaml,line=18,col=7::Apple REJECTED message stay in production ({de})"
        )),
        "{stdout}"
    );
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .starts_with("<!-- retainctl:plan -->")
    );
}

#[test]
fn wait_polls_until_review_lets_the_defaults_through() {
    let w = World::start("production", &["--review-delay", "1s"]);
    let out = w.run(&[
        "apply",
        "--env",
        "production",
        "--wait",
        "30s",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("6 done, 0 waiting on review"),
        "{}",
        text(&out)
    );
    assert_eq!(
        w.default_of("en-US").as_deref(),
        Some(w.id_of("stay", "en-US").as_str())
    );

    let w = World::start("production", &["--review-delay", "1h"]);
    let out = w.run(&[
        "apply",
        "--env",
        "production",
        "--wait",
        "1s",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "time is up: still waiting\n{}",
        text(&out)
    );
    assert!(
        text(&out).contains("4 done, 2 waiting on review"),
        "{}",
        text(&out)
    );
}
