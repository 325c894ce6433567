//! `plan --base`: the manifests of a base version, from a folder or a git revision of the
//! current repository (extracted with `git archive` into a temporary folder).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::loader;
use crate::manifest::Manifest;

/// The base manifests by bundle id. Base files with errors are skipped (their apps get
/// no diffs); the notes say which.
pub struct Base {
    pub manifests: BTreeMap<String, Manifest>,
    /// The PNG bytes of each base app's images, by bundle id and image key (for the
    /// *before* pictures of `plan --previews`).
    pub images: BTreeMap<String, BTreeMap<String, std::sync::Arc<Vec<u8>>>>,
    pub notes: Vec<String>,
}

fn git(args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Loads the base: `spec` is a folder, or else a git revision (`HEAD~1`, `origin/main`).
pub fn load_base(spec: &str, paths: &[PathBuf]) -> Result<Base, String> {
    let folder = Path::new(spec);
    if folder.is_dir() {
        return Ok(collect(loader::load(&[folder.to_path_buf()])));
    }
    let root = git(&["rev-parse", "--show-toplevel"])
        .map_err(|e| format!("--base {spec} is neither a folder nor a git revision here: {e}"))?;
    git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{spec}^{{commit}}"),
    ])
    .map_err(|_| {
        format!(
            "--base {spec} is neither a folder nor a git revision of {root}. In CI the checkout may be shallow: \
             use `fetch-depth: 0` with actions/checkout, and name the base branch as the remote has it \
             (e.g. `origin/main`, or `origin/${{{{ github.base_ref }}}}`)"
        )
    })?;
    let prefix = git(&["rev-parse", "--show-prefix"])?;
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let mut archive = Command::new("git")
        .args(["archive", "--format=tar", spec])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git archive: {e}"))?;
    let stdout = archive.stdout.take().expect("piped");
    let untar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dir.path())
        .stdin(stdout)
        .status()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    let archived = archive.wait().map_err(|e| e.to_string())?;
    if !archived.success() || !untar.success() {
        return Err(format!("cannot extract revision {spec}"));
    }
    let root = PathBuf::from(root);
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let base_paths: Vec<PathBuf> = paths
        .iter()
        .map(|p| {
            let absolute = if p.is_absolute() {
                p.clone()
            } else {
                cwd.join(p)
            };
            match absolute.strip_prefix(&root) {
                Ok(rel) => dir.path().join(rel),
                Err(_) => dir.path().join(&prefix).join(p),
            }
        })
        .filter(|p| p.exists())
        .collect();
    if base_paths.is_empty() {
        return Ok(Base {
            manifests: BTreeMap::new(),
            images: BTreeMap::new(),
            notes: vec![format!(
                "no manifests at revision {spec}: every localization is new"
            )],
        });
    }
    Ok(collect(loader::load_in_tree(&base_paths, dir.path())))
}

fn collect(loaded: loader::Loaded) -> Base {
    let valid: std::collections::BTreeSet<&Path> =
        loaded.apps.iter().map(|a| a.file.as_path()).collect();
    let notes = loaded
        .files
        .iter()
        .filter(|f| !valid.contains(f.as_path()))
        .map(|f| {
            format!(
                "the base version of {} has errors; its apps get no diffs",
                f.display()
            )
        })
        .collect();
    Base {
        images: loaded
            .apps
            .iter()
            .map(|a| {
                let pngs = a.desired.images.iter();
                let pngs = pngs.map(|i| (i.key.clone(), i.png.clone())).collect();
                (a.manifest.app.bundle_id.clone(), pngs)
            })
            .collect(),
        manifests: loaded
            .apps
            .into_iter()
            .map(|a| (a.manifest.app.bundle_id.clone(), a.manifest))
            .collect(),
        notes,
    }
}
