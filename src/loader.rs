//! Finds manifest files, reads them and their images, and runs parse → decode →
//! validate → expand on each. The only file-system code of the manifest side.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::desired::{self, DesiredApp};
use crate::diagnostics::{FileDiagnostics, Report};
use crate::manifest::{self, API_VERSION, Locations, Manifest};
use crate::validate::{self, ImageFile};
use crate::yaml::{self, Span};

/// One valid app, ready to plan.
#[derive(Debug, Clone)]
pub struct LoadedApp {
    pub file: PathBuf,
    pub manifest: Manifest,
    pub locations: Locations,
    pub desired: DesiredApp,
}

#[derive(Debug, Default)]
pub struct Loaded {
    /// The apps whose files have no errors.
    pub apps: Vec<LoadedApp>,
    pub report: Report,
    /// Every manifest file found, valid or not.
    pub files: Vec<PathBuf>,
}

const SKIPPED_DIRS: [&str; 3] = ["target", "node_modules", ".retainctl"];

/// Manifest files under `paths`: files as given; folders searched recursively for
/// `*.yaml`/`*.yml` that declare a `retainctl/` apiVersion.
pub fn discover(paths: &[PathBuf], report: &mut Report) -> Vec<PathBuf> {
    let mut out = vec![];
    for path in paths {
        if path.is_dir() {
            walk(path, &mut out, report);
        } else if path.exists() {
            out.push(path.clone());
        } else {
            let mut d = FileDiagnostics::new(path);
            d.error(
                Span { line: 1, col: 1 },
                "no such file or folder",
                "give a manifest file or a folder that holds manifests",
            );
            report.extend(d.report);
        }
    }
    out.sort();
    out.dedup();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, report: &mut Report) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            let mut d = FileDiagnostics::new(dir);
            d.error(
                Span { line: 1, col: 1 },
                format!("cannot read folder: {e}"),
                "check the folder's permissions",
            );
            report.extend(d.report);
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name) {
                walk(&path, out, report);
            }
        } else if (name.ends_with(".yaml") || name.ends_with(".yml")) && declares_retainctl(&path) {
            out.push(path);
        }
    }
}

/// Whether a file says `apiVersion: retainctl/...` on a line of its own.
fn declares_retainctl(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines().any(|line| {
                line.trim_start()
                    .strip_prefix("apiVersion:")
                    .is_some_and(|v| v.trim().trim_matches(['"', '\'']).starts_with("retainctl/"))
            })
        })
        .unwrap_or(false)
}

/// Loads, validates and expands every manifest under `paths`.
pub fn load(paths: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    let files = discover(paths, &mut loaded.report);
    let mut bundles: BTreeMap<String, PathBuf> = BTreeMap::new();
    for file in &files {
        let mut d = FileDiagnostics::new(file);
        if let Some(app) = load_file(file, &mut d) {
            match bundles.get(&app.manifest.app.bundle_id) {
                Some(other) => d.error(
                    app.locations.value(&["app", "bundleId"]),
                    format!(
                        "app `{}` is also defined in {}",
                        app.manifest.app.bundle_id,
                        other.display()
                    ),
                    "keep exactly one manifest file per app",
                ),
                None => {
                    bundles.insert(app.manifest.app.bundle_id.clone(), file.clone());
                    loaded.apps.push(app);
                }
            }
        }
        loaded.report.extend(d.report);
    }
    loaded.files = files;
    loaded.report.sort();
    loaded
}

/// Reads one file; returns the app when it has no errors.
pub fn load_file(file: &Path, d: &mut FileDiagnostics) -> Option<LoadedApp> {
    let source = match std::fs::read(file) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(_) => {
                d.error(
                    Span { line: 1, col: 1 },
                    "the file is not UTF-8 text",
                    "save it as UTF-8",
                );
                return None;
            }
        },
        Err(e) => {
            d.error(
                Span { line: 1, col: 1 },
                format!("cannot read file: {e}"),
                "check the path and its permissions",
            );
            return None;
        }
    };
    let (manifest, locations, images) =
        check_source(&source, file.parent().unwrap_or(Path::new(".")), d)?;
    let pngs: BTreeMap<String, Arc<Vec<u8>>> = images
        .into_iter()
        .filter_map(|(k, v)| v.ok().map(|b| (k, b)))
        .collect();
    match desired::expand(&manifest, &pngs) {
        Ok(desired) => Some(LoadedApp {
            file: file.to_path_buf(),
            manifest,
            locations,
            desired,
        }),
        Err(why) => {
            d.error(Span { line: 1, col: 1 }, why, ());
            None
        }
    }
}

/// Parses, decodes and validates one manifest's text; image files are read relative to
/// `base`. Returns the model when there are no errors.
pub fn check_source(
    source: &str,
    base: &Path,
    d: &mut FileDiagnostics,
) -> Option<(Manifest, Locations, BTreeMap<String, ImageFile>)> {
    // Every problem in one run: YAML problems that leave a tree (duplicate keys), then
    // structural ones, then semantic checks on every part that decoded.
    let root = match yaml::parse_document(source) {
        Ok(parsed) => {
            for e in parsed.problems {
                d.error(e.span, e.message, e.hint);
            }
            parsed.root
        }
        Err(errors) => {
            for e in errors {
                d.error(e.span, e.message, e.hint);
            }
            return None;
        }
    };
    let decoded = manifest::decode(root.as_ref(), d);
    let manifest = decoded.manifest?;
    // Image keys may share a file: read each file once and share its bytes.
    let mut by_path: BTreeMap<PathBuf, ImageFile> = BTreeMap::new();
    let images: BTreeMap<String, ImageFile> = manifest
        .images
        .iter()
        .map(|(key, image)| {
            let path = base.join(&image.file);
            let bytes = by_path
                .entry(path.clone())
                .or_insert_with(|| {
                    std::fs::read(&path)
                        .map(Arc::new)
                        .map_err(|e| format!("{} ({})", io_reason(&e), path.display()))
                })
                .clone();
            (key.clone(), bytes)
        })
        .collect();
    validate::validate(&manifest, &decoded.locations, &images, d);
    if d.report.has_errors() {
        return None;
    }
    debug_assert_eq!(manifest.api_version, API_VERSION);
    Some((manifest, decoded.locations, images))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
