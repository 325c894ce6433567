//! The README stays true to the CLI: every `retainctl …` it shows — in fenced blocks
//! (shell or plain) and in inline code — names an existing command, and every `--flag`
//! and every `--flag a|b|c` value list exists in that command's `--help`. Every command
//! of `--help` is listed in the README's Commands block.

use std::collections::BTreeMap;
use std::process::Command;

fn help(words: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(words)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "retainctl {words:?} --help");
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands a `--help` lists under `Commands:`.
fn subcommands(help: &str) -> Vec<String> {
    help.split("Commands:")
        .nth(1)
        .map(|rest| {
            rest.lines()
                .skip(1)
                .take_while(|l| l.starts_with("  "))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|w| *w != "help")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Every piece of the README that shows a command line: lines of fenced blocks other than
/// YAML, and inline code spans that start with `retainctl `.
fn command_lines(readme: &str) -> Vec<(usize, String)> {
    let mut out = vec![];
    let mut fence: Option<String> = None;
    for (n, line) in readme.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(lang) = trimmed.strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(lang.trim().to_string()),
            };
            continue;
        }
        match &fence {
            Some(lang) if lang == "yaml" || lang == "json" => {}
            Some(_) => out.push((n + 1, trimmed.split(" #").next().unwrap_or("").to_string())),
            None => {
                for (i, span) in line.split('`').enumerate() {
                    if i % 2 == 1 && span.starts_with("retainctl ") {
                        out.push((n + 1, span.to_string()));
                    }
                }
            }
        }
    }
    out
}

/// `--flag` words (with surrounding brackets and punctuation stripped) and the value
/// lists that follow them (`--format text|json`).
fn flags(words: &[&str]) -> Vec<(String, Vec<String>)> {
    let mut out = vec![];
    for (i, w) in words.iter().enumerate() {
        let Some(start) = w.find("--") else { continue };
        let flag: String = w[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if flag.len() <= 2 {
            continue;
        }
        let values = words
            .get(i + 1)
            .map(|v| v.trim_matches(|c: char| "[]()`,.".contains(c)))
            .filter(|v| {
                v.contains('|')
                    && v.split('|')
                        .all(|x| x.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
            })
            .map(|v| v.split('|').map(str::to_string).collect())
            .unwrap_or_default();
        out.push((flag, values));
    }
    out
}

fn has_word(help: &str, word: &str) -> bool {
    help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .any(|w| w == word)
}

#[test]
fn every_command_and_flag_the_readme_shows_exists() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let top = help(&[]);
    let commands = subcommands(&top);
    assert!(commands.len() >= 8, "{commands:?}");
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    let mut checked = 0;
    let mut problems = vec![];
    for (line, text) in command_lines(&readme) {
        let words: Vec<&str> = text.split_whitespace().collect();
        let Some(at) = words
            .iter()
            .position(|w| *w == "retainctl" || w.ends_with("/retainctl"))
        else {
            continue;
        };
        let rest = &words[at + 1..];
        let Some(first) = rest.first() else { continue };
        let mut path: Vec<&str> = vec![];
        if commands.iter().any(|c| c == first) {
            path.push(first);
            // one more level where the command has its own subcommands (`sim review`)
            let sub_help = helps
                .entry(first.to_string())
                .or_insert_with(|| help(&[first]))
                .clone();
            if let Some(second) = rest.get(1)
                && subcommands(&sub_help).iter().any(|c| c == second)
            {
                path.push(second);
            }
        } else if !first.starts_with("--") {
            problems.push(format!(
                "README.md:{line}: `retainctl {first}` is not a command"
            ));
            continue;
        }
        let key = path.join(" ");
        let h = helps
            .entry(key.clone())
            .or_insert_with(|| help(&path))
            .clone();
        for (flag, values) in flags(&rest[path.len()..]) {
            if !has_word(&h, &flag) {
                problems.push(format!("README.md:{line}: `retainctl {key}` has no {flag}"));
            }
            for v in values {
                if !has_word(&h, &v) {
                    problems.push(format!(
                        "README.md:{line}: `retainctl {key} {flag}` has no value {v}"
                    ));
                }
            }
        }
        checked += 1;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 20, "only {checked} command lines found");

    let block = readme
        .split("## Commands")
        .nth(1)
        .and_then(|s| s.split("```").nth(1))
        .expect("a Commands block");
    for c in &commands {
        assert!(
            block.contains(&format!("retainctl {c}")),
            "the Commands block lists `retainctl {c}`"
        );
    }
}

#[test]
fn the_parser_catches_a_wrong_flag_and_value() {
    let lines = command_lines(
        "x `retainctl plan --env local --format text|yaml`\n```sh\nretainctl status --bogus . # --not-this\n```\n",
    );
    assert_eq!(lines.len(), 2);
    let f = flags(&lines[0].1.split_whitespace().collect::<Vec<_>>());
    assert_eq!(
        f[1],
        (
            "--format".to_string(),
            vec!["text".to_string(), "yaml".to_string()]
        )
    );
    assert!(!has_word(&help(&["plan"]), "yaml"));
    assert_eq!(lines[1].1.trim(), "retainctl status --bogus .");
}
