//! Build script: records the git commit for `retainctl --version`. A build outside a git
//! work tree (a crate tarball, a container without `.git`) says `unknown`, unless
//! `RETAINCTL_GIT_COMMIT` names the commit.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=RETAINCTL_GIT_COMMIT");
    // HEAD moves on checkout and commit; in a worktree `.git` is a file, so ask git where
    // HEAD and the branch it points to live.
    println!("cargo:rerun-if-changed=.git/HEAD");
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["symbolic-ref", "-q", "HEAD"]).and_then(|r| git(&["rev-parse", "--git-path", &r])),
    ]
    .into_iter()
    .flatten()
    {
        println!("cargo:rerun-if-changed={path}");
    }
    let commit = std::env::var("RETAINCTL_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=RETAINCTL_GIT_COMMIT={commit}");
}
