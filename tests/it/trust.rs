//! Trust: apply never deletes what is live, and no output reports what did not happen.
//! The real binary against the real simulator, one situation per test (issue #11).

use std::io::Read;
use std::process::{Command, Stdio};

use crate::common::world::{World, text};
use retainctl::apple::credentials::generate_key_pair;
use serde_json::Value;

/// A second app in the world's folder whose credentials name other variables, holding a
/// key the simulator does not accept.
fn add_app_with_wrong_key(w: &World) -> std::path::PathBuf {
    let path = w.path().join("other.yaml");
    std::fs::write(
        &path,
        "\
apiVersion: retainctl/v1
app:
  bundleId: com.example.other
  locales: [en-US]
  products: [premium]
  credentials: { keyId: OTHER_KEY_ID, issuerId: OTHER_ISSUER_ID, privateKey: OTHER_KEY }
messages:
  stay:
    localizations:
      en-US: { header: Stay, body: Keep your plan. }
defaults:
  premium: stay
",
    )
    .unwrap();
    path
}

fn wrong_key_command(w: &World, args: &[&str]) -> Command {
    let (wrong, _) = generate_key_pair();
    let mut c = w.command(args);
    c.env("OTHER_KEY_ID", "OTHERKEY01")
        .env("OTHER_ISSUER_ID", "57246542-96fe-1a63-e053-0824d011072a")
        .env("OTHER_KEY", wrong.pem_text());
    c
}

#[test]
fn a_plan_whose_app_could_not_be_read_never_says_no_changes() {
    let w = World::new("sandbox");
    w.run(&["apply", "--env", "sandbox", "app.yaml"]);
    add_app_with_wrong_key(&w);

    let out = wrong_key_command(&w, &["plan", "--env", "sandbox", "."])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(!all.contains("No changes"), "{all}");
    assert!(
        all.contains("com.example.other · sandbox (./other.yaml)\n  ERROR could not read Apple: GetImageList: Apple refused the credentials (401 Unauthorized)"),
        "{all}"
    );
    assert!(
        all.contains("Plan incomplete: 1 app × environment could not be read"),
        "{all}"
    );

    let out = wrong_key_command(
        &w,
        &["plan", "--env", "sandbox", "--format", "markdown", "."],
    )
    .output()
    .unwrap();
    let md = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1));
    assert!(!md.contains("No changes."), "{md}");
    assert!(
        md.contains("**1 app × environment could not be read:** `com.example.other` · sandbox."),
        "{md}"
    );
    assert!(
        md.contains("No changes in the 1 app × environment pairs that could be read."),
        "{md}"
    );
    assert!(md.contains("**Could not read Apple**"), "{md}");

    // nothing read: nothing said about changes, only what failed
    for format in ["text", "markdown"] {
        let out = wrong_key_command(
            &w,
            &["plan", "--env", "sandbox", "--format", format, "other.yaml"],
        )
        .output()
        .unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(
            !all.contains("No changes") && !all.contains("0 app") && !all.contains("others"),
            "{format}: {all}"
        );
        assert!(all.contains("could not be read"), "{format}: {all}");
    }

    let out = wrong_key_command(&w, &["plan", "--env", "sandbox", "--format", "json", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed: Vec<&Value> = json["apps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a.get("error").is_some())
        .collect();
    assert_eq!(failed.len(), 1, "{json}");
    assert_eq!(failed[0]["bundle_id"], "com.example.other");
    assert_eq!(failed[0]["error"]["kind"], "unauthorized");

    let out = wrong_key_command(&w, &["plan", "--env", "sandbox", "--format", "github", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let gh = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        gh.contains("::error file=./other.yaml,line=3,col=")
            && gh.contains("com.example.other · sandbox could not be read"),
        "{gh}"
    );
}

#[test]
fn a_plan_with_an_app_that_could_not_be_read_is_not_saved() {
    let w = World::new("sandbox");
    add_app_with_wrong_key(&w);
    let out = wrong_key_command(&w, &["plan", "--env", "sandbox", "--out", "plan.json", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("error: the plan is incomplete (1 app × environment could not be read): nothing saved to plan.json"),
        "{}",
        text(&out)
    );
    assert!(!w.path().join("plan.json").exists());
}

#[test]
fn a_saved_plan_is_applied_only_to_its_environment_and_apps() {
    let w = World::new("sandbox");
    let out = w.run(&["plan", "--env", "sandbox", "--out", "plan.json", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let out = w.run(&[
        "apply",
        "--env",
        "production",
        "--plan",
        "plan.json",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("error: plan.json was made for --env sandbox, not --env production"),
        "{}",
        text(&out)
    );

    add_app_with_wrong_key(&w);
    let out = w.run(&["apply", "--env", "sandbox", "--plan", "plan.json", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("error: plan.json is for other apps than these manifests (not in the plan: com.example.other)"),
        "{}",
        text(&out)
    );

    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--plan",
        "plan.json",
        "--prune",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("plan.json was made without --prune"),
        "{}",
        text(&out)
    );
    assert_eq!(w.writes(), 0, "nothing was applied by a refused plan");

    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--plan",
        "plan.json",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn plan_prune_previews_the_deletions_apply_prune_makes() {
    let w = World::new("sandbox");
    w.run(&["apply", "--env", "sandbox", "app.yaml"]);
    let edited = std::fs::read_to_string(w.path().join("app.yaml"))
        .unwrap()
        .replace("Behalte deinen Plan.", "Behalte deinen Plan, bitte.");
    std::fs::write(w.path().join("app.yaml"), edited).unwrap();
    w.run(&["apply", "--env", "sandbox", "app.yaml"]);

    let out = w.run(&["plan", "--env", "sandbox", "app.yaml"]);
    assert!(!text(&out).contains("delete message"), "{}", text(&out));
    let out = w.run(&["plan", "--env", "sandbox", "--prune", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let preview: Vec<String> = text(&out)
        .lines()
        .filter(|l| l.starts_with("  - delete message"))
        .map(str::to_string)
        .collect();
    assert_eq!(preview.len(), 1, "{}", text(&out));
    let out = w.run(&["apply", "--env", "sandbox", "--prune", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = preview[0]
        .trim_start_matches("  - delete message ")
        .trim_end_matches(" (not in the manifest)");
    assert!(
        text(&out).contains(&format!("done     delete message {id}")),
        "{}",
        text(&out)
    );
}

#[test]
fn status_markdown_and_json_are_not_the_plan() {
    let w = World::new("sandbox");
    w.run(&["apply", "--env", "sandbox", "app.yaml"]);
    let out = w.run(&[
        "status", "--env", "sandbox", "--format", "markdown", "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let md = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        md.starts_with("<!-- retainctl:status -->\n## retainctl status\n"),
        "{md}"
    );
    assert!(!md.contains("retainctl:plan"), "{md}");

    let out = w.run(&["status", "--env", "sandbox", "app.yaml"]);
    assert!(
        text(&out).contains(&format!("{} APPROVED FULL_SIZE", w.ids_of("image")[0]))
            || text(&out).contains(&format!("{} APPROVED FULL_SIZE", w.ids_of("image")[1])),
        "status shows the size Apple lists: {}",
        text(&out)
    );

    let out = w.run(&["status", "--env", "sandbox", "--format", "json", "app.yaml"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "status");
    assert_eq!(json["format_version"], 1);
    assert!(json["apps"][0].get("actions").is_none(), "{json}");
    assert!(json["apps"][0]["content"].is_array());
}

#[test]
fn a_missing_base_revision_is_reported_before_apple_is_read() {
    let w = World::new("sandbox");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(w.path())
            .output()
            .unwrap()
    };
    git(&["init", "-q"]);
    let out = w.run(&[
        "plan",
        "--env",
        "sandbox",
        "--base",
        "origin/main",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("fetch-depth: 0"), "{}", text(&out));
    assert_eq!(
        w.state()["requestCounts"]
            .as_object()
            .map(|m| m.len())
            .unwrap_or(0),
        0,
        "Apple was read before the base was resolved"
    );
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let w = World::new("sandbox");
    let mut child = w
        .command(&["plan", "--env", "sandbox", "app.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[test]
fn apply_reports_in_json_and_markdown_and_writes_the_report_file() {
    let w = World::new("sandbox");
    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--format",
        "json",
        "--out",
        "report.json",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is only the report");
    assert_eq!(json["kind"], "apply");
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["totals"]["written"], 6);
    assert_eq!(json["apps"][0]["actions"][0]["outcome"], "written");
    assert_eq!(
        json["apps"][0]["end_state"]["defaults"][0]["current"],
        json["apps"][0]["end_state"]["defaults"][0]["desired"]
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(w.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(saved, json);

    let out = w.run(&[
        "apply", "--env", "sandbox", "--format", "markdown", "app.yaml",
    ]);
    let md = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        md.starts_with("<!-- retainctl:apply -->\n## retainctl apply · sandbox\n"),
        "{md}"
    );
    assert!(
        md.contains(
            "**Apply: 0 done, 0 waiting on review, 0 blocked, 0 failed, 0 not attempted.**"
        ),
        "{md}"
    );
}

/// Edits the en-US body so that en-US's default must switch to a new message id.
fn edit_english(w: &World, body: &str) {
    let path = w.path().join("app.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("body: Keep your plan.", &format!("body: {body}"));
    std::fs::write(path, text).unwrap();
}

fn message_ids_on_apple(w: &World) -> Vec<String> {
    w.state()["apps"]["com.example.app"]["messages"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn rules(w: &World, rules: Value) {
    w.set_faults(serde_json::json!({ "rules": rules }));
}

/// A refused Configure Default (403 MessageNotApproved while the list says APPROVED)
/// leaves the old default in place, and `--prune` does not delete it.
#[test]
fn a_refused_default_switch_keeps_the_live_default_under_prune() {
    let w = World::new("sandbox");
    w.run(&["apply", "--env", "sandbox", "app.yaml"]);
    let live = w.default_of("en-US").unwrap();
    edit_english(&w, "Keep your plan, please.");
    rules(
        &w,
        serde_json::json!([{"method": "PUT", "path": "/inApps/v1/messaging/default/*/*", "answer": {"error": 4030017}}]),
    );
    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--prune",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert_eq!(
        w.default_of("en-US").as_deref(),
        Some(live.as_str()),
        "{all}"
    );
    assert!(
        message_ids_on_apple(&w).contains(&live),
        "the live default was deleted: {all}"
    );
    assert!(
        all.contains("waiting: set default premium [en-US]")
            && all.contains("Apple says MessageNotApproved (4030017)"),
        "{all}"
    );
    assert!(
        !all.contains(&format!("done     delete message {live}")),
        "{all}"
    );

    rules(&w, serde_json::json!([]));
    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--prune",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!message_ids_on_apple(&w).contains(&live), "{}", text(&out));
}

/// Configure Default answering 500 on every attempt: FAILED, exit 1, the old default and
/// its message stay.
#[test]
fn a_failing_default_switch_keeps_the_live_default_under_prune() {
    let w = World::new("sandbox");
    w.run(&["apply", "--env", "sandbox", "app.yaml"]);
    let live = w.default_of("en-US").unwrap();
    edit_english(&w, "Keep your plan, please.");
    rules(
        &w,
        serde_json::json!([{"method": "PUT", "path": "/inApps/v1/messaging/default/*/*", "answer": {"error": 5000001}}]),
    );
    let out = w.run(&["apply", "--env", "sandbox", "--prune", "app.yaml"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("FAILED   set default premium [en-US]"),
        "{all}"
    );
    assert_eq!(
        w.default_of("en-US").as_deref(),
        Some(live.as_str()),
        "{all}"
    );
    assert!(
        message_ids_on_apple(&w).contains(&live),
        "the live default was deleted: {all}"
    );
}

/// Get Default answering upper-case ids: no endless "set default", and the live default
/// (PENDING replacement) is never pruned.
#[test]
fn upper_case_ids_from_apple_are_the_same_ids() {
    let w = World::new("production");
    w.run(&["apply", "--env", "production", "app.yaml"]);
    w.review("approve-all", &[]);
    w.run(&["apply", "--env", "production", "app.yaml"]);
    let live = w.default_of("en-US").unwrap();
    rules(
        &w,
        serde_json::json!([{"method": "GET", "path": "/inApps/v1/messaging/default/*/*", "answer": "upperCaseIds"}]),
    );
    let out = w.run(&[
        "plan",
        "--env",
        "production",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("No changes."), "{}", text(&out));

    edit_english(&w, "Keep your plan, please.");
    w.run(&["apply", "--env", "production", "app.yaml"]);
    let out = w.run(&["apply", "--env", "production", "--prune", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.default_of("en-US").as_deref(), Some(live.as_str()));
    assert!(message_ids_on_apple(&w).contains(&live), "{}", text(&out));
}

/// A stale checkout running `apply --prune` while a new manifest's apply switches a
/// default: the prune re-reads the defaults and keeps the new default's message.
#[test]
fn overlapping_applies_never_leave_a_pair_without_its_default() {
    let w = World::new("sandbox");
    w.run(&["apply", "--env", "sandbox", "app.yaml"]);
    let stale = std::fs::read_to_string(w.path().join("app.yaml")).unwrap();
    std::fs::create_dir(w.path().join("stale")).unwrap();
    std::fs::write(
        w.path().join("stale/app.yaml"),
        stale.replace("Behalte deinen Plan.", "Behalte deinen Plan, alt."),
    )
    .unwrap();
    for png in ["hero.png", "check.png"] {
        std::fs::copy(w.path().join(png), w.path().join("stale").join(png)).unwrap();
    }
    edit_english(&w, "Keep your plan, new.");

    // The new manifest's apply uploads, then is held at Configure Default.
    rules(
        &w,
        serde_json::json!([{"method": "PUT", "path": "/inApps/v1/messaging/default/*/*", "answer": {"hold": 30000}}]),
    );
    let new = w
        .command(&["apply", "--env", "sandbox", "app.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    w.wait_held(1);
    let fresh = w.id_of("stay", "en-US");
    assert!(message_ids_on_apple(&w).contains(&fresh));

    // The stale apply reads Apple (the new message is drift to it), then is held at its
    // own upload.
    rules(
        &w,
        serde_json::json!([
            {"method": "PUT", "path": "/inApps/v1/messaging/default/*/*", "answer": {"hold": 30000}},
            {"method": "PUT", "path": "/inApps/v1/messaging/message/*", "answer": {"hold": 30000}}
        ]),
    );
    let stale_apply = w
        .command(&["apply", "--env", "sandbox", "--prune", "stale/app.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    w.wait_held(2);
    // The new default is set, then the stale apply goes on to its prune.
    w.release(Some(1));
    let new = new.wait_with_output().unwrap();
    assert_eq!(new.status.code(), Some(0), "{}", text(&new));
    assert_eq!(w.default_of("en-US").as_deref(), Some(fresh.as_str()));
    rules(&w, serde_json::json!([]));
    w.release(None);
    let stale_out = stale_apply.wait_with_output().unwrap();
    let all = text(&stale_out);
    assert_eq!(
        w.default_of("en-US").as_deref(),
        Some(fresh.as_str()),
        "{all}"
    );
    assert!(
        message_ids_on_apple(&w).contains(&fresh),
        "the stale prune deleted the live default's message: {all}"
    );
}

/// A 401 in the middle of a run: the rest is reported as not attempted, exit 1.
#[test]
fn actions_after_a_401_are_reported_as_not_attempted() {
    let w = World::new("sandbox");
    rules(
        &w,
        serde_json::json!([{"method": "PUT", "path": "/inApps/v1/messaging/message/*", "answer": {"status": 401}}]),
    );
    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    // Both message uploads may be in flight when the first 401 arrives: 1 or 2 fail,
    // and every action after them is not attempted.
    let counts = all
        .lines()
        .find_map(|l| {
            l.strip_prefix("com.example.app · sandbox: 2 done, 0 waiting on review, 0 blocked, ")
        })
        .unwrap_or_else(|| panic!("no summary line: {all}"));
    let numbers: Vec<u32> = counts
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(numbers[0] >= 1 && numbers[0] + numbers[1] == 4, "{all}");
    assert!(
        all.contains("not attempted: set default premium [en-US]"),
        "{all}"
    );
}

/// Apple's hourly budget of one endpoint used up beyond --max-rate-wait is progress, not
/// failure: that action waits for the next run, the other endpoints go on, exit 0 (2 with
/// --detailed-exitcode).
#[test]
fn an_exhausted_budget_leaves_its_actions_waiting_and_the_run_goes_on() {
    let w = World::new("sandbox");
    // Image uploads are answered 429 with a Retry-After ten minutes ahead.
    rules(
        &w,
        serde_json::json!([{"method": "PUT", "path": "/inApps/v1/messaging/image/*", "answer": {"rateLimited": 600000}}]),
    );
    // one request at a time: the image upload after the first 429 is not sent
    let out = w.run(&[
        "apply",
        "--max-rate-wait",
        "1s",
        "--parallelism",
        "1",
        "--detailed-exitcode",
        "--env",
        "sandbox",
        "app.yaml",
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        !all.contains("FAILED") && !all.contains("not attempted:"),
        "{all}"
    );
    assert!(
        all.contains("1 waiting on review, 2 waiting for Apple's hourly budget, 1 waiting for their images, 0 blocked, 0 failed, 0 not attempted"),
        "{all}"
    );
    assert!(
        all.contains("waiting: upload image")
            && all.contains("Apple's hourly UploadImage budget is used up until"),
        "{all}"
    );
    // the first request found the budget used up; the other image was not sent
    assert_eq!(w.count("UploadImage"), 1, "{all}");
    assert!(all.contains("2 requests left for the next run"), "{all}");
    // the messages' endpoint has a budget of its own: one without images went on, the
    // one that needs an image waits for it (Apple would refuse it)
    assert!(
        all.contains("done     upload message stay [de-DE]"),
        "{all}"
    );
    assert!(
        all.contains("waiting: upload message stay [en-US]") && all.contains("waits for image"),
        "{all}"
    );
}

/// A simulator state file (in its own temporary folder, kept while the folder lives) where
/// Apple holds `count` APPROVED messages of earlier edits for com.example.app.
fn simulator_state_with_old_messages(count: u128) -> (tempfile::TempDir, std::path::PathBuf) {
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("state.json");
    let messages: serde_json::Map<String, Value> = (0..count)
        .map(|i| {
            (
                uuid::Uuid::from_u128(0xd1f7_0000 + i).to_string(),
                serde_json::json!({"state": "APPROVED", "body": {"header": "old", "body": "old"}, "uploadedAtMs": 0}),
            )
        })
        .collect();
    std::fs::write(
        &state,
        serde_json::json!({"apps": {"com.example.app": {
            "images": {}, "messages": messages, "defaults": {}, "realtimeUrl": null
        }}})
        .to_string(),
    )
    .unwrap();
    (state_dir, state)
}

/// The hourly job: a sandbox app holding 1,995 old messages, `apply --prune` with
/// Apple's budgets on. It makes room, uploads and sets every default, deletes what the
/// budget allows and says the rest waits for the next run: exit 0, and 2 with
/// --detailed-exitcode, in text and in the JSON report alike.
#[test]
fn prune_past_the_hourly_budget_is_waiting_not_failure() {
    let (_state_dir, state) = simulator_state_with_old_messages(1995);
    let w = World::start("sandbox", &["--state", state.to_str().unwrap()]);
    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--prune",
        "--max-rate-wait",
        "1s",
        "--format",
        "json",
        "app.yaml",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", text(&out));
    });
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let deleted = w.count("DeleteMessage");
    assert!(deleted > 0 && deleted < 1995, "{deleted}");
    let waits = &report["budget_waits"];
    assert_eq!(waits.as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(waits[0]["endpoint"], "DeleteMessage");
    let left = waits[0]["actions"].as_u64().unwrap();
    assert_eq!(left + deleted, 1995, "{report}");
    assert!(
        waits[0]["frees_at"].as_str().unwrap().ends_with('Z'),
        "{report}"
    );
    assert_eq!(report["totals"]["failed"], 0, "{report}");
    assert_eq!(report["totals"]["not_attempted"], 0, "{report}");
    assert_eq!(report["totals"]["waiting"], left, "{report}");
    let waiting = report["apps"][0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["outcome"] == "waiting" && a["reason"]["code"] == "apple_budget_used_up")
        .count();
    assert_eq!(waiting as u64, left);
    // every upload and default went in before the budget ran out
    assert!(w.default_of("en-US").is_some(), "{}", text(&out));

    // the next run (the same hour) continues: nothing sent, the same truth, exit 2
    let out = w.run(&[
        "apply",
        "--env",
        "sandbox",
        "--prune",
        "--max-rate-wait",
        "1s",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("Apple's hourly DeleteMessage budget is used up until")
            && all.contains(&format!("{left} requests left for the next run")),
        "{all}"
    );
    assert!(!all.contains("FAILED") && !all.contains("error"), "{all}");
}

/// A write answered with a redirect is not "done": an error naming the host.
#[test]
fn a_redirected_write_is_an_error_not_done() {
    let w = World::new("sandbox");
    rules(
        &w,
        serde_json::json!([{"method": "PUT", "path": "/inApps/v1/messaging/message/*", "answer": {"redirect": "http://login.example.net/sso?token=abc"}}]),
    );
    let out = w.run(&["apply", "--env", "sandbox", "app.yaml"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(!all.contains("done     upload message"), "{all}");
    assert!(all.contains("FAILED   upload message"), "{all}");
    assert!(
        all.contains("login.example.net") && !all.contains("token=abc"),
        "{all}"
    );
}

/// Apple holds 1,995 messages (drift of earlier edits); the manifest adds more: the plan
/// says so before anything is sent, apply without --prune sends no upload, and
/// `apply --prune` deletes drift first, then uploads.
#[test]
fn apples_cap_is_counted_before_any_upload_and_prune_makes_room_first() {
    let (_state_dir, state) = simulator_state_with_old_messages(1995);
    // Production: 1,995 deletions fit Apple's hourly budget there (sandbox's is 360).
    let w = World::start(
        "production",
        &["--rate-limits", "false", "--state", state.to_str().unwrap()],
    );
    // 10 new message × locale uploads: 5 over the cap.
    let mut manifest = std::fs::read_to_string(w.path().join("app.yaml")).unwrap();
    for i in 0..4 {
        manifest.push_str(&format!(
            "\n  extra{i}:\n    localizations:\n      en-US: {{ header: Extra {i}, body: More {i}. }}\n      de-DE: {{ header: Mehr {i}, body: Mehr {i}. }}\n"
        ));
    }
    let manifest =
        manifest.replace("defaults:\n  premium: stay\n", "") + "defaults:\n  premium: stay\n";
    std::fs::write(w.path().join("app.yaml"), manifest).unwrap();

    let out = w.run(&["plan", "--env", "production", "app.yaml"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("cap: Apple holds 1995 messages + 10 to upload > its cap of 2000: 5 must go first; 1995 drift messages can go with `apply --prune`"),
        "{all}"
    );

    let out = w.run(&["apply", "--env", "production", "app.yaml"]);
    assert_eq!(w.count("UploadMessage"), 0, "{}", text(&out));

    let out = w.run(&["apply", "--env", "production", "--prune", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.count("UploadMessage"), 10, "{}", text(&out));
    // Room first: Apple saw every message deletion before the first message upload.
    let requests: Value = crate::common::world::block_on(async {
        reqwest::get(format!("{}/_sim/requests", w.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let order: Vec<(String, String)> = requests["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap_or("").to_string(),
                r["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .filter(|(_, p)| p.contains("/messaging/message/") && !p.ends_with("/list"))
        .collect();
    let first_upload = order.iter().position(|(m, _)| m == "PUT").unwrap();
    let deletes_first = order[..first_upload]
        .iter()
        .filter(|(m, _)| m == "DELETE")
        .count();
    assert_eq!(deletes_first, 5, "just enough room first");
    assert_eq!(w.count("DeleteMessage"), 1995, "then the rest of the drift");
    let held = w.state()["apps"]["com.example.app"]["messages"]
        .as_object()
        .unwrap()
        .len();
    assert_eq!(held, 10);
}

/// A review state Apple adds later (`IN_REVIEW`) is shown as sent and never used for a
/// default; plan, status and apply go on for the app.
#[test]
fn an_unknown_review_state_is_shown_and_not_used_for_a_default() {
    let w = World::new("production");
    w.run(&["apply", "--env", "production", "app.yaml"]);
    let english = w.id_of("stay", "en-US");
    // Apple's list now says IN_REVIEW for the English message; everything else approved.
    w.review("approve-all", &[]);
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("state.json");
    let mut world = w.state();
    world["apps"]["com.example.app"]["messages"][&english]["state"] = "IN_REVIEW".into();
    std::fs::write(&state, world.to_string()).unwrap();
    let mut w = w;
    let _ = w.sim.child.kill();
    let _ = w.sim.child.wait();
    w.sim = crate::common::SimProcess::spawn(
        &w.path().join("public.pem"),
        &[
            "--mode",
            "production",
            "--products",
            "premium",
            "--state",
            state.to_str().unwrap(),
        ],
    );
    w.url = w.sim.url.clone();

    let out = w.run(&["plan", "--env", "production", "app.yaml"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("~ set default premium [en-US]")
            && all.contains("[waiting: waiting for review: message stay IN_REVIEW"),
        "{all}"
    );
    let out = w.run(&["status", "--env", "production", "app.yaml"]);
    assert!(
        text(&out).contains(&format!("{english} IN_REVIEW")),
        "{}",
        text(&out)
    );
    let out = w.run(&["apply", "--env", "production", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(w.default_of("en-US"), None, "{}", text(&out));
    assert!(w.default_of("de-DE").is_some(), "{}", text(&out));
}
