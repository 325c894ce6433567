//! The CLI's habits: `init` scaffolds a repository that validates, completions for three
//! shells, network options only on the commands that talk to Apple, `--quiet`,
//! `.retainctl/` at the top of the git work tree wherever the command runs, and
//! `sim review` by manifest key (with `--state`), printing what it changed.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{stderr, stdout};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(args)
        .current_dir(dir)
        .env_remove("RETAINCTL_BASE_URL")
        .env("NO_COLOR", "1")
        .output()
        .expect("run retainctl")
}

fn both(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

#[test]
fn init_scaffolds_a_repository_that_validates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".gitignore"), "/target").unwrap();
    let args = [
        "init",
        "repo",
        "--bundle-id",
        "com.example.app",
        "--locale",
        "en-US",
        "--locale",
        "de-DE",
        "--product",
        "premium.yearly",
        "--product",
        "premium.monthly",
    ];
    let out = run(dir.path(), &args);
    assert!(out.status.success(), "{}", both(&out));
    let repo = dir.path().join("repo");
    for file in [
        "retention/app.yaml",
        "retention/retainctl.schema.json",
        ".github/workflows/retention-plan.yml",
        ".github/workflows/retention-apply.yml",
        ".gitignore",
    ] {
        assert!(repo.join(file).exists(), "{file}: {}", both(&out));
    }
    let manifest = std::fs::read_to_string(repo.join("retention/app.yaml")).unwrap();
    assert!(manifest.starts_with(&format!(
        "# yaml-language-server: $schema={}",
        retainctl::manifest::schema::SCHEMA_URL
    )));
    let plan = std::fs::read_to_string(repo.join(".github/workflows/retention-plan.yml")).unwrap();
    assert!(
        plan.contains("RETAINCTL_KEY_ID") && !plan.contains("ACME_"),
        "{plan}"
    );
    assert!(
        std::fs::read_to_string(repo.join(".gitignore"))
            .unwrap()
            .lines()
            .any(|l| l == ".retainctl/")
    );

    let validate = run(&repo, &["validate", "retention"]);
    assert!(validate.status.success(), "{}", both(&validate));
    assert!(
        stdout(&validate).contains("1 app valid: 0 errors, 0 warnings"),
        "{}",
        both(&validate)
    );

    // A second init keeps what is there, and .gitignore gets no second entry.
    std::fs::write(
        repo.join("retention/app.yaml"),
        manifest.replace("Stay with us", "Mine"),
    )
    .unwrap();
    let again = run(dir.path(), &args);
    assert!(again.status.success(), "{}", both(&again));
    assert!(
        std::fs::read_to_string(repo.join("retention/app.yaml"))
            .unwrap()
            .contains("Mine")
    );
    let ignore = std::fs::read_to_string(repo.join(".gitignore")).unwrap();
    assert_eq!(ignore.matches(".retainctl/").count(), 1, "{ignore}");
}

#[test]
fn init_refuses_options_that_would_not_validate_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "init",
            "repo",
            "--bundle-id",
            "com.example.app",
            "--locale",
            "en_us",
            "--product",
            "p",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        stderr(&out).contains("en-US"),
        "suggests the canonical locale: {}",
        both(&out)
    );
    assert!(stderr(&out).contains("--locale"), "{}", both(&out));
    assert!(!dir.path().join("repo/retention/app.yaml").exists());
}

#[test]
fn completions_for_three_shells() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = run(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", both(&out));
        let script = stdout(&out);
        for word in [
            "retainctl",
            "validate",
            "detailed-exitcode", // fish spells long flags `-l detailed-exitcode`
            "bundle-id",
        ] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    let out = run(dir.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
}

#[test]
fn network_options_only_on_commands_that_talk_to_apple() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| stdout(&run(dir.path(), args));
    for sub in [
        &["plan", "--help"][..],
        &["apply", "--help"],
        &["status", "--help"],
    ] {
        let h = help(sub);
        for flag in [
            "--base-url",
            "--request-timeout",
            "--max-rate-wait",
            "--local-mode",
            "--quiet",
            "--no-color",
        ] {
            assert!(h.contains(flag), "{sub:?} has {flag}");
        }
        assert!(h.contains("Network"), "{sub:?}: a Network heading");
        assert!(h.contains("--env <ENV>") && h.contains("[PATH]..."), "{h}");
    }
    for sub in [
        &["validate", "--help"][..],
        &["ids", "--help"],
        &["schema", "--help"],
        &["sim", "review", "--help"],
        &["init", "--help"],
    ] {
        let h = help(sub);
        for flag in [
            "--base-url",
            "--request-timeout",
            "--max-rate-wait",
            "--local-mode",
        ] {
            assert!(
                !h.contains(&format!("  {flag} <")),
                "{sub:?} has no {flag}: {h}"
            );
        }
    }
    let out = run(
        dir.path(),
        &["validate", "--base-url", "http://127.0.0.1:1", "."],
    );
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(stderr(&out).contains("--base-url"), "{}", both(&out));
}

const MANIFEST: &str = "apiVersion: retainctl/v1
app:
  bundleId: com.example.habits
  locales: [en-US, de-DE]
messages:
  keep-calm:
    localizations:
      en-US: { header: Keep calm, body: Stay subscribed and keep everything. }
      de-DE: { header: Ruhig bleiben, body: Bleib dabei und behalte alles. }
  other:
    localizations:
      en-US: { header: Other, body: Another message. }
";

#[test]
fn local_state_lives_at_the_top_of_the_work_tree() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let retention = dir.path().join("retention");
    std::fs::create_dir(&retention).unwrap();
    std::fs::write(retention.join("app.yaml"), MANIFEST).unwrap();

    let apply = run(
        dir.path(),
        &["apply", "--env", "local", "--quiet", "retention"],
    );
    assert!(apply.status.success(), "{}", both(&apply));
    assert!(dir.path().join(".retainctl/local/sandbox.json").exists());

    // From the manifests' folder: the same state, so nothing to do.
    let plan = run(
        &retention,
        &["plan", "--env", "local", "--detailed-exitcode", "."],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));
    assert!(
        !retention.join(".retainctl").exists(),
        "no second state in the subfolder"
    );
}

#[test]
fn sim_review_by_key_with_a_state_file_prints_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.yaml"), MANIFEST).unwrap();
    let apply = run(
        dir.path(),
        &["apply", "--env", "local", "--local-mode", "production", "."],
    );
    assert!(apply.status.success(), "{}", both(&apply));
    let state = ".retainctl/local/production.json";
    let ids = stdout(&run(dir.path(), &["ids", "."]));
    let id_of = |key: &str, locale: &str| {
        ids.lines()
            .find(|l| l.contains(&format!("\t{key}\t{locale}\t")))
            .and_then(|l| l.rsplit('\t').next())
            .unwrap()
            .to_string()
    };

    let one = run(
        dir.path(),
        &[
            "sim",
            "review",
            "--state",
            state,
            "approve",
            "keep-calm/en-US",
        ],
    );
    assert!(one.status.success(), "{}", both(&one));
    let said = stdout(&one);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains(&format!(
            "APPROVED message {} (com.example.habits keep-calm/en-US)",
            id_of("keep-calm", "en-US")
        )),
        "{said}"
    );

    let key = run(
        dir.path(),
        &[
            "sim",
            "review",
            "--state",
            state,
            "--path",
            ".",
            "reject",
            "keep-calm",
        ],
    );
    assert!(key.status.success(), "{}", both(&key));
    let said = stdout(&key);
    assert!(
        said.contains("REJECTED message")
            && said.contains("keep-calm/de-DE")
            && said.contains("keep-calm/en-US"),
        "{said}"
    );
    assert!(!said.contains("other/"), "{said}");

    let all = run(
        dir.path(),
        &["sim", "review", "--state", state, "approve-all"],
    );
    assert!(all.status.success(), "{}", both(&all));
    assert!(
        stdout(&all).contains("APPROVED message") && stdout(&all).contains("other/en-US"),
        "{}",
        both(&all)
    );
    let none = run(
        dir.path(),
        &["sim", "review", "--state", state, "approve-all"],
    );
    assert!(stdout(&none).contains("nothing changed"), "{}", both(&none));

    let unknown = run(
        dir.path(),
        &["sim", "review", "--state", state, "approve", "keep-clam"],
    );
    assert_eq!(unknown.status.code(), Some(1), "{}", both(&unknown));
    assert!(stderr(&unknown).contains("keep-clam"), "{}", both(&unknown));
}

#[test]
fn quiet_drops_warnings_of_valid_manifests() {
    let dir = tempfile::tempdir().unwrap();
    // A product with a default for en-US only: a locale-coverage warning, not an error.
    let manifest = MANIFEST.to_string() + "defaults:\n  premium:\n    en-US: keep-calm\n";
    std::fs::write(dir.path().join("app.yaml"), manifest).unwrap();
    let loud = run(dir.path(), &["plan", "--env", "local", "."]);
    assert!(loud.status.success(), "{}", both(&loud));
    assert!(stderr(&loud).contains("warning"), "{}", both(&loud));
    let quiet = run(dir.path(), &["plan", "--env", "local", "--quiet", "."]);
    assert!(quiet.status.success(), "{}", both(&quiet));
    assert!(!stderr(&quiet).contains("warning"), "{}", both(&quiet));
    assert_eq!(stdout(&loud), stdout(&quiet), "the result is the same");
}

#[test]
fn version_names_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&run(dir.path(), &["--version"]));
    let rest = out
        .trim()
        .strip_prefix(&format!("retainctl {} (commit ", env!("CARGO_PKG_VERSION")))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        rest == "unknown" || (rest.len() >= 7 && rest.chars().all(|c| c.is_ascii_hexdigit())),
        "{out}"
    );
}
