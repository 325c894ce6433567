//! The GitHub workflows, the action and the GitLab example parse as YAML, and every
//! `retainctl` command they run exists with the flags they give it; the example workflows
//! use the action pinned to this version's tag, pass every credentials variable the
//! example manifests name, and only validate pull requests from forks; the release builds
//! the archives the action downloads.

use std::path::Path;
use std::process::Command;

fn runs(value: &serde_yaml::Value, out: &mut Vec<String>) {
    match value {
        serde_yaml::Value::Mapping(m) => {
            for (k, v) in m {
                if k.as_str() == Some("run") {
                    if let Some(s) = v.as_str() {
                        out.push(s.replace("\\\n", " "));
                    }
                } else if k.as_str() == Some("script") {
                    // GitLab CI: a list of shell lines
                    for line in v.as_sequence().into_iter().flatten() {
                        out.extend(line.as_str().map(str::to_string));
                    }
                } else {
                    runs(v, out);
                }
            }
        }
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|i| runs(i, out)),
        _ => {}
    }
}

fn help(sub: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args([sub, "--help"])
        .output()
        .unwrap();
    assert!(out.status.success(), "retainctl {sub} --help");
    String::from_utf8(out.stdout).unwrap()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &str) -> serde_yaml::Value {
    let file = root().join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every step (a mapping with `uses` or `run`) of every job of a workflow.
fn steps(doc: &serde_yaml::Value) -> Vec<serde_yaml::Value> {
    let mut out = vec![];
    if let Some(jobs) = doc.get("jobs").and_then(|j| j.as_mapping()) {
        for (_, job) in jobs {
            if let Some(s) = job.get("steps").and_then(|s| s.as_sequence()) {
                out.extend(s.iter().cloned());
            }
        }
    }
    if let Some(s) = doc
        .get("runs")
        .and_then(|r| r.get("steps"))
        .and_then(|s| s.as_sequence())
    {
        out.extend(s.iter().cloned());
    }
    out
}

fn str_of<'a>(v: &'a serde_yaml::Value, key: &str) -> &'a str {
    v.get(key).and_then(|s| s.as_str()).unwrap_or_default()
}

#[test]
fn workflows_parse_and_call_only_existing_commands() {
    let root = root();
    let files = [
        root.join(".github/workflows/ci.yml"),
        root.join(".github/workflows/release.yml"),
        root.join("examples/workflows/retention-plan.yml"),
        root.join("examples/workflows/retention-apply.yml"),
        root.join("action.yml"),
        root.join("examples/gitlab/.gitlab-ci.yml"),
    ];
    let mut calls = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            doc.get("jobs").is_some() || doc.get("runs").is_some() || doc.get("stages").is_some(),
            "{} has jobs",
            file.display()
        );
        let mut scripts = vec![];
        runs(&doc, &mut scripts);
        for script in scripts {
            for line in script.lines() {
                let words: Vec<&str> = line.split_whitespace().collect();
                for (i, w) in words.iter().enumerate() {
                    if (*w != "retainctl" && *w != "/usr/local/bin/retainctl")
                        || i + 1 >= words.len()
                        || words.get(i.wrapping_sub(1)) == Some(&"--git")
                    {
                        continue;
                    }
                    let previous = if i == 0 { "" } else { words[i - 1] };
                    if previous.ends_with("retainctl") || previous.starts_with("https://") {
                        continue;
                    }
                    let sub = words[i + 1];
                    let help = help(sub);
                    for flag in words[i + 2..].iter().filter(|w| w.starts_with("--")) {
                        let known = help
                            .split(|c: char| !(c.is_alphanumeric() || c == '-'))
                            .any(|w| w == *flag);
                        assert!(known, "{}: `retainctl {sub}` has no {flag}", file.display());
                    }
                    calls += 1;
                }
            }
        }
    }
    // the action: validate, plan, apply; GitLab: validate, plan, apply
    assert!(calls >= 6, "found {calls} retainctl calls");
}

/// Every variable an `app.credentials` of the example manifests names.
fn credential_variables() -> Vec<String> {
    let mut out = vec![
        "RETAINCTL_KEY_ID".to_string(),
        "RETAINCTL_ISSUER_ID".to_string(),
        "RETAINCTL_PRIVATE_KEY".to_string(),
    ];
    let mut stack = vec![root().join("examples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let doc: serde_yaml::Value =
                    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                if let Some(c) = doc.get("app").and_then(|a| a.get("credentials")) {
                    for (_, name) in c.as_mapping().unwrap() {
                        out.push(name.as_str().unwrap().to_string());
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn example_workflows_use_the_pinned_action_with_every_credential_and_the_fork_rule() {
    let version = env!("CARGO_PKG_VERSION");
    let pinned = format!("{}@v{version}", retainctl::manifest::schema::REPOSITORY);
    let action = yaml("action.yml");
    let inputs = action.get("inputs").and_then(|i| i.as_mapping()).unwrap();
    let variables = credential_variables();
    assert!(
        variables.iter().any(|v| v.starts_with("ACME_"))
            && variables.iter().any(|v| v.starts_with("GLOBEX_")),
        "{variables:?}"
    );
    for name in ["retention-plan.yml", "retention-apply.yml"] {
        let path = format!("examples/workflows/{name}");
        let text = std::fs::read_to_string(root().join(&path)).unwrap();
        let doc = yaml(&path);
        let used: Vec<_> = steps(&doc)
            .into_iter()
            .filter(|s| str_of(s, "uses").contains("retainctl"))
            .collect();
        assert!(!used.is_empty(), "{path} uses the action");
        for step in &used {
            assert_eq!(
                str_of(step, "uses"),
                pinned,
                "{path}: pinned to the release tag"
            );
            let with = step.get("with").and_then(|w| w.as_mapping()).unwrap();
            for (k, _) in with {
                assert!(
                    inputs.contains_key(k),
                    "{path}: the action has no input {k:?}"
                );
            }
            assert_eq!(
                step.get("with")
                    .and_then(|w| w.get("version"))
                    .and_then(|v| v.as_str()),
                Some(version),
                "{path}: installs this version"
            );
        }
        assert!(!text.contains("cargo install"), "{path} compiles nothing");
        for v in &variables {
            let passed =
                text.contains(&format!("{v}: ${{{{ secrets.")) || text.contains(&format!("\"{v}="));
            assert!(passed, "{path} does not pass {v}");
        }
    }
    // The fork rule: plan only for branches of the repository; forks are validated.
    let plan = yaml("examples/workflows/retention-plan.yml");
    let same = "github.event.pull_request.head.repo.full_name == github.repository";
    let fork = "github.event.pull_request.head.repo.full_name != github.repository";
    let mut validated_forks = false;
    for step in steps(&plan) {
        let command = step
            .get("with")
            .and_then(|w| w.get("command"))
            .and_then(|c| c.as_str());
        let secrets = serde_yaml::to_string(&step).unwrap().contains("secrets.");
        if command == Some("plan") || secrets {
            assert_eq!(str_of(&step, "if"), same, "{step:?} runs for forks");
        }
        if command == Some("validate") {
            assert_eq!(str_of(&step, "if"), fork);
            validated_forks = true;
        }
    }
    assert!(validated_forks);
}

#[test]
fn the_release_builds_what_the_action_downloads() {
    let release = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    let install = std::fs::read_to_string(root().join("action/install.sh")).unwrap();
    yaml(".github/workflows/release.yml");
    for target in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    ] {
        assert!(
            release.contains(&format!("target: {target}")),
            "release builds {target}"
        );
        assert!(
            install.contains(&format!("target={target}")),
            "the action installs {target}"
        );
    }
    assert!(release.contains(r#"name="retainctl-${GITHUB_REF_NAME}-${{ matrix.target }}""#));
    assert!(install.contains(r#"archive="retainctl-v${version}-${target}.tar.gz""#));
    assert!(release.contains(".sha256") && install.contains(".sha256"));
    assert!(install.contains(&format!(
        "github.com/{}/releases",
        retainctl::manifest::schema::REPOSITORY
    )));
}
