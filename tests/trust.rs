//! Trust: apply never deletes what is live, and no output reports what did not happen.
//! The real binary against the real simulator, one situation per test (issue #11).

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::world::{World, text};
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
