//! The GitHub workflows parse as YAML, and every `retainctl` command they run exists
//! with the flags they give it.

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

#[test]
fn workflows_parse_and_call_only_existing_commands() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = [
        root.join(".github/workflows/ci.yml"),
        root.join("examples/workflows/retention-plan.yml"),
        root.join("examples/workflows/retention-apply.yml"),
    ];
    let mut calls = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(doc.get("jobs").is_some(), "{} has jobs", file.display());
        let mut scripts = vec![];
        runs(&doc, &mut scripts);
        for script in scripts {
            for line in script.lines() {
                let words: Vec<&str> = line.split_whitespace().collect();
                for (i, w) in words.iter().enumerate() {
                    if *w != "retainctl"
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
                        assert!(
                            help.contains(flag),
                            "{}: `retainctl {sub}` has no {flag}",
                            file.display()
                        );
                    }
                    calls += 1;
                }
            }
        }
    }
    assert!(calls >= 5, "found {calls} retainctl calls");
}
