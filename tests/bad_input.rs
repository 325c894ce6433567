//! Broken manifests, images and environments: each a clear error, exit 1, no panic.
//! Every file under tests/corpus/manifests/ says on its first line what it must produce.

mod common;

use std::path::Path;
use std::process::Command;

use common::world::{World, text};

#[test]
fn every_broken_manifest_in_the_corpus_is_a_clear_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/manifests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 15);
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let expect = source
            .lines()
            .next()
            .unwrap()
            .strip_prefix("# expect: ")
            .expect("first line: # expect: ...");
        let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .arg("validate")
            .arg(&file)
            .output()
            .unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {all}", file.display());
        assert!(
            all.contains(expect),
            "{}: expected `{expect}` in:\n{all}",
            file.display()
        );
        assert!(
            all.contains(&format!("{}:", file.display())),
            "{}: names the file",
            file.display()
        );
        assert!(!all.contains("panicked"), "{}", file.display());
    }
}

#[test]
fn binary_and_non_utf8_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bin.yaml");
    std::fs::write(&file, [0xff, 0xfe, 0x00, 0x41, 0x80]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("bin.yaml:1:1: error: the file is not UTF-8 text"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_unreadable_folder_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("app.yaml"), "apiVersion: retainctl/v1\n").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let readable_anyway = std::fs::read_dir(&locked).is_ok(); // root reads everything
    let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .arg("validate")
        .arg(&locked)
        .output()
        .unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains("panicked"));
    if !readable_anyway {
        assert!(
            text(&out).contains("error: cannot read folder"),
            "{}",
            text(&out)
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["validate", "no/such/folder"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no/such/folder:1:1: error: no such file or folder"),
        "{}",
        text(&out)
    );
}

fn plan_with_key_env(w: &World, vars: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = w.command(&["plan", "--env", "sandbox", "app.yaml"]);
    cmd.env_remove("RETAINCTL_PRIVATE_KEY")
        .env_remove("RETAINCTL_PRIVATE_KEY_FILE");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// An Ed25519 key in PKCS#8 PEM: the fixed prefix of RFC 8410 and 32 random bytes.
fn ed25519_pem() -> String {
    use base64::Engine;
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend(rand::random::<[u8; 32]>());
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!(
        "-----BEGIN {0}-----\n{b64}\n-----END {0}-----\n",
        "PRIVATE KEY"
    )
}

#[test]
fn broken_credentials_are_clear_errors() {
    let w = World::new("sandbox");
    let out = plan_with_key_env(
        &w,
        &[("RETAINCTL_PRIVATE_KEY_FILE", "/nonexistent/AuthKey_X.p8")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains(
            "cannot read the private key file named by RETAINCTL_PRIVATE_KEY_FILE: no such file"
        ),
        "{}",
        text(&out)
    );
    assert!(
        !text(&out).contains("AuthKey_X"),
        "the path is the variable's value: never printed"
    );

    let garbled = format!(
        "-----BEGIN {0}-----\nnot base64 at all\n-----END {0}-----\n",
        "PRIVATE KEY"
    );
    let out = plan_with_key_env(&w, &[("RETAINCTL_PRIVATE_KEY", &garbled)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains(
            "the private key from RETAINCTL_PRIVATE_KEY is not a PKCS#8 P-256 private key"
        ),
        "{}",
        text(&out)
    );

    let ed = ed25519_pem();
    let out = plan_with_key_env(&w, &[("RETAINCTL_PRIVATE_KEY", &ed)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("is not a PKCS#8 P-256 private key"),
        "{}",
        text(&out)
    );
    assert!(
        !text(&out).contains(ed.lines().nth(1).unwrap()),
        "the key is never echoed"
    );

    let out = plan_with_key_env(&w, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no private key: set RETAINCTL_PRIVATE_KEY to the PEM text or RETAINCTL_PRIVATE_KEY_FILE"), "{}", text(&out));
}
