//! Finds manifest files, reads them and their images, and runs parse → decode →
//! validate → expand on each. The only file-system code of the manifest side.
//!
//! Files come from pull requests, so reading them is bounded: only regular files are
//! read (a FIFO or a device is refused after `fstat`, opened without blocking), each
//! with a size cap; folder discovery does not follow symbolic links to folders (so link
//! loops cannot make it run forever); and an image path may not leave the tree being
//! validated (see [`TreeRoot`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::apple::image_rules::MAX_IMAGE_FILE_BYTES;
use crate::desired::{self, DesiredApp};
use crate::manifest::yaml::{self, Span};
use crate::manifest::{self, API_VERSION, Locations, Manifest};
use crate::validate::diagnostics::{FileDiagnostics, Report};
use crate::validate::{self, ImageFile};

/// One valid app, ready to plan.
#[derive(Debug, Clone)]
pub struct LoadedApp {
    pub file: PathBuf,
    pub manifest: Manifest,
    /// Positions up to [`SHALLOW`](crate::manifest::decode::SHALLOW) segments deep; a
    /// deeper pointer answers with its localization's position.
    pub locations: Locations<'static>,
    pub desired: DesiredApp,
}

#[derive(Debug, Default)]
pub struct Loaded {
    /// The apps whose files have no errors.
    pub apps: Vec<LoadedApp>,
    pub report: Report,
    /// Every manifest file found, valid or not.
    pub files: Vec<PathBuf>,
    /// How many apps have no errors: `apps.len()`, also after [`check`], which keeps none.
    pub valid: usize,
}

/// The largest manifest file read: far above any real one (2,000 messages in 40
/// locales stay under 30 MiB), small enough that parsing it stays bounded.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// How much of an oversized `.yaml` file discovery reads to tell whether it is a manifest.
const SNIFF_BYTES: u64 = 64 * 1024;

const SKIPPED_DIRS: [&str; 3] = ["target", "node_modules", ".retainctl"];

/// The folder an image path must stay inside, like kustomize's load restrictor: the top
/// of the git work tree holding the manifest (the nearest ancestor folder with a `.git`
/// entry), else the folder named on the command line (for a file argument, its folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeRoot {
    GitWorkTree(PathBuf),
    Folder(PathBuf),
}

impl TreeRoot {
    /// The root for `manifest`, found from the command-line argument `arg` it came from.
    pub fn of(manifest: &Path, arg: &Path) -> TreeRoot {
        let folder = folder_of_path(manifest.parent().unwrap_or(Path::new(".")));
        if let Ok(real) = folder.canonicalize() {
            for dir in real.ancestors() {
                if std::fs::symlink_metadata(dir.join(".git")).is_ok() {
                    return TreeRoot::GitWorkTree(dir.to_path_buf());
                }
            }
        }
        let arg_folder = if arg.is_dir() { arg } else { folder };
        TreeRoot::Folder(
            arg_folder
                .canonicalize()
                .unwrap_or_else(|_| arg_folder.into()),
        )
    }

    pub fn path(&self) -> &Path {
        match self {
            TreeRoot::GitWorkTree(p) | TreeRoot::Folder(p) => p,
        }
    }

    fn describe(&self) -> String {
        match self {
            TreeRoot::GitWorkTree(p) => format!("the git work tree {}", p.display()),
            TreeRoot::Folder(p) => format!("the folder being validated, {}", p.display()),
        }
    }
}

/// `.` for the empty parent of a bare file name.
fn folder_of_path(folder: &Path) -> &Path {
    if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    }
}

/// Why a file was not read.
#[derive(Debug)]
pub enum Unreadable {
    /// Not a regular file: a FIFO, a device, a socket or a folder.
    NotRegular(&'static str),
    TooLarge {
        size: u64,
        max: u64,
    },
    Io(std::io::Error),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::NotRegular(kind) => write!(f, "is not a regular file ({kind})"),
            Unreadable::TooLarge { size, max } => {
                write!(f, "is {size} bytes, more than the {max} bytes allowed")
            }
            Unreadable::Io(e) => f.write_str(&io_reason(e)),
        }
    }
}

fn kind_of(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// Opens `path` without blocking (a FIFO with no writer would block `open`), checks with
/// `fstat` that it is a regular file of at most `max` bytes, and returns the open file
/// with its size.
fn open_regular(path: &Path, max: u64) -> Result<(std::fs::File, u64), Unreadable> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(Unreadable::Io)?;
    let meta = file.metadata().map_err(Unreadable::Io)?;
    if !meta.file_type().is_file() {
        return Err(Unreadable::NotRegular(kind_of(meta.file_type())));
    }
    if meta.len() > max {
        return Err(Unreadable::TooLarge {
            size: meta.len(),
            max,
        });
    }
    Ok((file, meta.len()))
}

/// Reads a regular file of at most `max` bytes; a file that grows past `max` while being
/// read is refused too (the read stops at `max + 1` bytes).
pub fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, Unreadable> {
    let (file, size) = open_regular(path, max)?;
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(Unreadable::Io)?;
    if bytes.len() as u64 > max {
        return Err(Unreadable::TooLarge {
            size: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

/// A manifest file found, with the command-line argument it was found from.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    pub arg: PathBuf,
}

/// Manifest files under `paths`: files as given; folders searched recursively for
/// `*.yaml`/`*.yml` that declare a `retainctl/` apiVersion. Symbolic links to folders are
/// not followed (as git does not); links to files are read like the files.
pub fn discover(paths: &[PathBuf], report: &mut Report) -> Vec<Found> {
    let mut out = vec![];
    for path in paths {
        if path.is_dir() {
            walk(path, &mut out, report);
        } else if path.exists() {
            out.push(Found {
                path: path.clone(),
                arg: path.clone(),
            });
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
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    out
}

fn walk(dir: &Path, out: &mut Vec<Found>, report: &mut Report) {
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !e.file_type().is_dir()
                || !e
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with('.') || SKIPPED_DIRS.contains(&n))
        });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let at = e.path().unwrap_or(dir);
                let mut d = FileDiagnostics::new(at);
                let why = e
                    .io_error()
                    .map(|io| io.to_string())
                    .unwrap_or_else(|| e.to_string());
                d.error(
                    Span { line: 1, col: 1 },
                    format!("cannot read folder: {why}"),
                    "check the folder's permissions",
                );
                report.extend(d.report);
                continue;
            }
        };
        let name = entry.file_name().to_str().unwrap_or("");
        if entry.file_type().is_dir() || !(name.ends_with(".yaml") || name.ends_with(".yml")) {
            continue;
        }
        let path = entry.path();
        match sniff(path) {
            Sniff::Manifest => out.push(Found {
                path: path.to_path_buf(),
                arg: dir.to_path_buf(),
            }),
            Sniff::NotManifest => {}
            Sniff::Skipped(why) => {
                let mut d = FileDiagnostics::new(path);
                let line = match why {
                    SkipReason::NoDeclaration(line) => line,
                    SkipReason::Unreadable(_) => 1,
                };
                d.warning(Span { line, col: 1 }, why.message(), why.hint());
                report.extend(d.report);
            }
        }
    }
}

/// What discovery makes of a `.yaml` file.
enum Sniff {
    Manifest,
    NotManifest,
    Skipped(SkipReason),
}

/// Why a `.yaml` file in a folder scan was left out although it may be a manifest.
enum SkipReason {
    Unreadable(Unreadable),
    /// A line starts like the declaration (`apiversion: Retainctl/v1`, `apiVersion:
    /// retainctl v1`) but is not one: its line number.
    NoDeclaration(usize),
}

impl SkipReason {
    fn message(&self) -> String {
        match self {
            SkipReason::Unreadable(why) => format!("skipped: the file {why}"),
            SkipReason::NoDeclaration(_) => "skipped: this line looks like a manifest's `apiVersion` but is not `apiVersion: retainctl/v1`".into(),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            SkipReason::Unreadable(_) => {
                "a manifest is a regular text file; rename this one if it is not a manifest"
            }
            SkipReason::NoDeclaration(_) => {
                "start the manifest with the line `apiVersion: retainctl/v1`, or rename the file if it is not a manifest"
            }
        }
    }
}

/// Whether a file declares a `retainctl/` apiVersion on a line of its own. The key may be
/// quoted, open a flow mapping (`{apiVersion: ...`) and follow a byte order mark; bytes
/// that are not UTF-8 do not hide the line (the file is then loaded, and its encoding
/// reported as an error). A line that only resembles the declaration is a warning.
fn sniff(path: &Path) -> Sniff {
    let (file, size) = match open_regular(path, u64::MAX) {
        Ok(f) => f,
        Err(Unreadable::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Sniff::NotManifest; // a dangling link
        }
        Err(why) => return Sniff::Skipped(SkipReason::Unreadable(why)),
    };
    let limit = if size > MAX_MANIFEST_BYTES {
        SNIFF_BYTES
    } else {
        MAX_MANIFEST_BYTES + 1
    };
    let mut bytes = vec![];
    if let Err(e) = file.take(limit).read_to_end(&mut bytes) {
        return Sniff::Skipped(SkipReason::Unreadable(Unreadable::Io(e)));
    }
    // Each line is decoded only when reached: the declaration is the first line, as a
    // rule, so the rest of a manifest is not decoded here.
    match utf16_text(&bytes) {
        Some(text) => sniff_lines(text.lines().map(std::borrow::Cow::Borrowed)),
        None => sniff_lines(
            bytes
                .split(|b| *b == b'\n')
                .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l))),
        ),
    }
}

/// A manifest when a line declares the apiVersion (the first may open with a byte order
/// mark); else skipped at the first line that resembles the declaration, if any.
fn sniff_lines<'t>(lines: impl Iterator<Item = std::borrow::Cow<'t, str>>) -> Sniff {
    let mut resembling = None;
    for (i, line) in lines.enumerate() {
        let line = match i {
            0 => line.strip_prefix('\u{feff}').unwrap_or(&line),
            _ => &line,
        };
        if declares_api_version(line) {
            return Sniff::Manifest;
        }
        if resembling.is_none() && resembles_api_version(line) {
            resembling = Some(i + 1);
        }
    }
    match resembling {
        Some(line) => Sniff::Skipped(SkipReason::NoDeclaration(line)),
        None => Sniff::NotManifest,
    }
}

/// A line's text after indentation and an opening `{` (a flow-style root mapping).
fn line_start(line: &str) -> &str {
    let line = line.trim_start();
    line.strip_prefix('{').map_or(line, str::trim_start)
}

/// A line that starts with an `apiversion` key in any case or quoting and mentions
/// `retainctl` in any case: a manifest with a typo, not some other YAML file.
fn resembles_api_version(line: &str) -> bool {
    let lower = line_start(line).to_ascii_lowercase();
    let key = lower.trim_start_matches(['"', '\'']);
    key.starts_with("apiversion") && lower.contains("retainctl")
}

/// `apiVersion: retainctl/...`, the key bare or quoted, the value bare or quoted.
fn declares_api_version(line: &str) -> bool {
    let line = line_start(line);
    let rest = ["apiVersion", "\"apiVersion\"", "'apiVersion'"]
        .iter()
        .find_map(|k| line.strip_prefix(k));
    rest.and_then(|r| r.trim_start().strip_prefix(':'))
        .is_some_and(|v| v.trim().trim_matches(['"', '\'']).starts_with("retainctl/"))
}

/// The text of a file that starts with a UTF-16 byte order mark.
fn utf16_text(bytes: &[u8]) -> Option<String> {
    let units = |be: bool| {
        bytes[2..].chunks_exact(2).map(move |c| {
            if be {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        })
    };
    match bytes {
        [0xff, 0xfe, ..] => Some(
            char::decode_utf16(units(false))
                .map(|c| c.unwrap_or('\u{fffd}'))
                .collect(),
        ),
        [0xfe, 0xff, ..] => Some(
            char::decode_utf16(units(true))
                .map(|c| c.unwrap_or('\u{fffd}'))
                .collect(),
        ),
        _ => None,
    }
}

/// Loads, validates and expands every manifest under `paths`.
pub fn load(paths: &[PathBuf]) -> Loaded {
    load_with(paths, None, Keep::Apps, None)
}

/// Like [`load`], for `validate`: each app is dropped once checked (memory stays that of
/// one file per core) and not expanded into ids; `apps` stays empty and `valid` counts
/// them.
pub fn check(paths: &[PathBuf]) -> Loaded {
    load_with(paths, None, Keep::Count, None)
}

/// A check beyond the manifest's own rules, run on every file without errors (`validate`
/// adds what the text does on the page, which needs fonts the loader knows nothing of).
pub type ExtraCheck<'a> = &'a (dyn Fn(&Manifest, &Locations, &mut FileDiagnostics) + Sync);

/// [`check`] with one more check of each valid file.
pub fn check_with(paths: &[PathBuf], extra: ExtraCheck) -> Loaded {
    load_with(paths, None, Keep::Count, Some(extra))
}

/// What [`load_with`] keeps of a valid app.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    Apps,
    Count,
}

/// [`load`] for manifests extracted from a git revision into `tree` (`plan --base`):
/// image paths must stay inside `tree`.
pub fn load_in_tree(paths: &[PathBuf], tree: &Path) -> Loaded {
    let root = TreeRoot::GitWorkTree(tree.canonicalize().unwrap_or_else(|_| tree.into()));
    load_with(paths, Some(root), Keep::Apps, None)
}

fn load_with(
    paths: &[PathBuf],
    tree: Option<TreeRoot>,
    keep: Keep,
    extra: Option<ExtraCheck>,
) -> Loaded {
    use rayon::prelude::*;
    let mut loaded = Loaded::default();
    let found = discover(paths, &mut loaded.report);
    // Files are read on every core; what they say is then taken in discovery order, so
    // output and which of two files defining one app is refused stay the same.
    let checked: Vec<(FileDiagnostics, Option<ValidFile>)> = found
        .par_iter()
        .map(|Found { path: file, arg }| {
            let mut d = FileDiagnostics::new(file);
            let root = tree.clone().unwrap_or_else(|| TreeRoot::of(file, arg));
            let valid = check_file_in(file, &root, extra, &mut d).and_then(|checked| {
                let bundle_id = checked.manifest.app.bundle_id.clone();
                let at = checked.locations.value(&["app", "bundleId"]);
                let app = match keep {
                    Keep::Apps => Some(expand_checked(file, checked, &mut d)?),
                    // Identifiers are not needed to tell whether a file is valid: a
                    // checked manifest always expands (asserted where tests run).
                    Keep::Count => {
                        debug_assert!(
                            desired::expand(&checked.manifest, &checked.pngs).is_ok(),
                            "{} passed the checks but does not expand",
                            file.display()
                        );
                        None
                    }
                };
                Some(ValidFile { bundle_id, at, app })
            });
            (d, valid)
        })
        .collect();
    let mut bundles: BTreeMap<String, &PathBuf> = BTreeMap::new();
    for ((mut d, valid), Found { path: file, .. }) in checked.into_iter().zip(&found) {
        if let Some(valid) = valid {
            match bundles.get(&valid.bundle_id) {
                Some(other) => d.error(
                    valid.at,
                    format!(
                        "app `{}` is also defined in {}",
                        valid.bundle_id,
                        other.display()
                    ),
                    "keep exactly one manifest file per app",
                ),
                None => {
                    bundles.insert(valid.bundle_id, file);
                    loaded.valid += 1;
                    loaded.apps.extend(valid.app);
                }
            }
        }
        loaded.report.extend(d.report);
    }
    loaded.files = found.into_iter().map(|f| f.path).collect();
    loaded.report.sort();
    loaded
}

/// Reads one file; returns the app when it has no errors. Image paths stay inside the
/// git work tree holding the file, else the file's folder.
pub fn load_file(file: &Path, d: &mut FileDiagnostics) -> Option<LoadedApp> {
    let checked = check_file_in(file, &TreeRoot::of(file, file), None, d)?;
    expand_checked(file, checked, d)
}

/// A file without errors, as [`load_with`] keeps it: its app's bundle id and where it is
/// written, and the app itself when apps are kept.
struct ValidFile {
    bundle_id: String,
    at: Span,
    app: Option<LoadedApp>,
}

/// A file without errors: its manifest, where things are in it, and its images' bytes.
struct Checked {
    manifest: Manifest,
    locations: Locations<'static>,
    pngs: BTreeMap<String, Arc<Vec<u8>>>,
}

/// Reads and checks one file.
fn check_file_in(
    file: &Path,
    root: &TreeRoot,
    extra: Option<ExtraCheck>,
    d: &mut FileDiagnostics,
) -> Option<Checked> {
    let at_start = Span { line: 1, col: 1 };
    let bytes = match read_capped(file, MAX_MANIFEST_BYTES) {
        Ok(bytes) => bytes,
        Err(why @ Unreadable::Io(_)) => {
            d.error(
                at_start,
                format!("cannot read file: {why}"),
                "check the path and its permissions",
            );
            return None;
        }
        Err(why) => {
            d.error(
                at_start,
                format!("cannot read file: it {why}"),
                "a manifest is a regular YAML text file",
            );
            return None;
        }
    };
    let source = match manifest_text(bytes) {
        Ok(s) => s,
        Err((span, message)) => {
            d.error(span, message, "save it as UTF-8");
            return None;
        }
    };
    let base = file.parent().unwrap_or(Path::new("."));
    let (manifest, locations, images) = check_source_in(&source, base, root, extra, d)?;
    let pngs: BTreeMap<String, Arc<Vec<u8>>> = images
        .into_iter()
        .filter_map(|(k, v)| v.ok().map(|b| (k, b)))
        .collect();
    Some(Checked {
        manifest,
        locations,
        pngs,
    })
}

/// The desired state of a checked file.
fn expand_checked(file: &Path, checked: Checked, d: &mut FileDiagnostics) -> Option<LoadedApp> {
    let Checked {
        manifest,
        locations,
        pngs,
    } = checked;
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

/// A manifest's bytes as text, or where and why they are not UTF-8.
fn manifest_text(bytes: Vec<u8>) -> Result<String, (Span, String)> {
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err((
            Span { line: 1, col: 1 },
            "the file is not UTF-8 text (it starts with a UTF-16 byte order mark)".into(),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let bad = e.as_bytes()[good.len()];
        let line = 1 + good.iter().filter(|b| **b == b'\n').count();
        let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        // Only valid UTF-8 precedes the bad byte on its line.
        let col = 1 + String::from_utf8_lossy(&good[line_start..]).chars().count();
        (
            Span { line, col },
            format!("the file is not UTF-8 text (byte 0x{bad:02x})"),
        )
    })
}

/// Parses, decodes and validates one manifest's text; image files are read relative to
/// `base` and must stay inside it. Returns the model when there are no errors.
pub fn check_source(
    source: &str,
    base: &Path,
    d: &mut FileDiagnostics,
) -> Option<(Manifest, Locations<'static>, BTreeMap<String, ImageFile>)> {
    let folder = folder_of_path(base);
    let root = TreeRoot::Folder(folder.canonicalize().unwrap_or_else(|_| folder.into()));
    check_source_in(source, base, &root, None, d)
}

fn check_source_in(
    source: &str,
    base: &Path,
    root: &TreeRoot,
    extra: Option<ExtraCheck>,
    d: &mut FileDiagnostics,
) -> Option<(Manifest, Locations<'static>, BTreeMap<String, ImageFile>)> {
    // Every problem in one run: YAML problems that leave a tree (duplicate keys), then
    // structural ones, then semantic checks on every part that decoded.
    let arena = bumpalo::Bump::new();
    let parsed = match yaml::parse_document(&arena, source) {
        Ok(document) => {
            for e in document.problems {
                d.error(e.span, e.message, e.hint);
            }
            document.root
        }
        Err(errors) => {
            for e in errors {
                d.error(e.span, e.message, e.hint);
            }
            return None;
        }
    };
    let decoded = manifest::decode(parsed.as_ref(), d);
    let manifest = decoded.manifest?;
    // Image keys may share a file: read each file once and share its bytes.
    let real_base = folder_of_path(base)
        .canonicalize()
        .unwrap_or_else(|_| base.into());
    let mut by_path: BTreeMap<PathBuf, Result<Arc<Vec<u8>>, ImageRefusal>> = BTreeMap::new();
    let mut images: BTreeMap<String, ImageFile> = BTreeMap::new();
    for (key, image) in &manifest.images {
        let shown = base.join(&image.file);
        let read = by_path
            .entry(shown.clone())
            .or_insert_with(|| read_image(&real_base, root, &image.file, &shown));
        match read {
            Ok(bytes) => {
                images.insert(key.clone(), Ok(bytes.clone()));
            }
            Err(ImageRefusal::Io(why)) => {
                images.insert(key.clone(), Err(why.clone()));
            }
            Err(refusal) => {
                let (message, hint) = refusal.explain(&image.file, root);
                d.error(
                    decoded.locations.value(&["images", key, "file"]),
                    message,
                    hint,
                );
            }
        }
    }
    validate::validate(&manifest, &decoded.locations, &images, d);
    if d.report.has_errors() {
        return None;
    }
    // While the document is still here to find every field's position in.
    if let Some(extra) = extra {
        extra(&manifest, &decoded.locations, d);
    }
    debug_assert_eq!(manifest.api_version, API_VERSION);
    Some((manifest, decoded.locations.without_tree(), images))
}

/// Why an image file named by a manifest was not read.
#[derive(Debug, Clone)]
enum ImageRefusal {
    Absolute,
    /// `..` leads out of the tree.
    Outside,
    /// The path is inside, but a symbolic link on it leads out.
    OutsideThroughLink,
    NotRegular(&'static str),
    TooLarge(u64),
    /// Missing, not permitted…: reported by `validate` like any unreadable image.
    Io(String),
}

impl ImageRefusal {
    fn explain(&self, file: &str, root: &TreeRoot) -> (String, String) {
        let inside = root.describe();
        let keep_inside = match root {
            TreeRoot::GitWorkTree(_) => {
                "image files must be inside the git work tree that holds the manifest: move the image there"
            }
            TreeRoot::Folder(_) => {
                "outside git, image files must be inside the folder given to retainctl: move the image there, or validate a folder that holds both"
            }
        };
        match self {
            ImageRefusal::Absolute => (
                format!("image file `{file}` is an absolute path"),
                format!("give the path relative to this manifest file, inside {inside}"),
            ),
            ImageRefusal::Outside => (
                format!("image file `{file}` is outside {inside}"),
                keep_inside.into(),
            ),
            ImageRefusal::OutsideThroughLink => (
                format!(
                    "image file `{file}` resolves, through a symbolic link, to a file outside {inside}"
                ),
                keep_inside.into(),
            ),
            ImageRefusal::NotRegular(kind) => (
                format!("image file `{file}` is not a regular file ({kind})"),
                "point `file:` at a PNG file".into(),
            ),
            ImageRefusal::TooLarge(size) => (
                format!(
                    "image file `{file}` is {size} bytes; image files are at most {MAX_IMAGE_FILE_BYTES} bytes"
                ),
                "no PNG of Apple's sizes is this large: export the image again".into(),
            ),
            ImageRefusal::Io(why) => (
                format!("image file `{file}` cannot be read: {why}"),
                "the path is relative to this manifest file".into(),
            ),
        }
    }
}

/// Checks that `file` stays inside the tree, then reads it (regular files only, capped).
fn read_image(
    real_base: &Path,
    root: &TreeRoot,
    file: &str,
    shown: &Path,
) -> Result<Arc<Vec<u8>>, ImageRefusal> {
    if Path::new(file).has_root() {
        return Err(ImageRefusal::Absolute);
    }
    let lexical = normalize(&real_base.join(file));
    if !lexical.starts_with(root.path()) {
        return Err(ImageRefusal::Outside);
    }
    // Links are resolved before reading, so what is read is what was checked.
    let path = match lexical.canonicalize() {
        Ok(real) if !real.starts_with(root.path()) => {
            return Err(ImageRefusal::OutsideThroughLink);
        }
        Ok(real) => real,
        Err(_) => lexical,
    };
    match read_capped(&path, MAX_IMAGE_FILE_BYTES) {
        Ok(bytes) => Ok(Arc::new(bytes)),
        Err(Unreadable::NotRegular(kind)) => Err(ImageRefusal::NotRegular(kind)),
        Err(Unreadable::TooLarge { size, .. }) => Err(ImageRefusal::TooLarge(size)),
        Err(Unreadable::Io(e)) => Err(ImageRefusal::Io(format!(
            "{} ({})",
            io_reason(&e),
            shown.display()
        ))),
    }
}

/// `a/b/../c` → `a/c` without touching the file system (`..` above the start is dropped,
/// which only matters for paths that are then refused anyway).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The declaration is found on any line, however the lines before it are encoded,
    /// after a byte order mark, with CRLF endings and in UTF-16.
    #[test]
    fn sniff_finds_the_declaration_on_any_line_of_any_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let sniffs = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            matches!(sniff(&path), Sniff::Manifest)
        };
        assert!(sniffs("first.yaml", b"apiVersion: retainctl/v1\napp: {}\n"));
        assert!(sniffs(
            "bom.yaml",
            b"\xef\xbb\xbfapiVersion: retainctl/v1\r\n"
        ));
        assert!(sniffs(
            "later.yaml",
            b"# caf\xe9 (Latin-1)\r\n\n{ \"apiVersion\": 'retainctl/v1' }\r\n"
        ));
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain(
                "# x\napiVersion: retainctl/v1\n"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        assert!(sniffs("utf16.yaml", &utf16));
        assert!(!sniffs("other.yaml", b"name: build\non: push\n"));
        // A line that only resembles the declaration does not hide a later one that is.
        assert!(sniffs(
            "both.yaml",
            b"apiversion: Retainctl/v1\napiVersion: retainctl/v1\n"
        ));
        assert!(matches!(
            {
                std::fs::write(
                    dir.path().join("typo.yaml"),
                    b"x: 1\napiversion: Retainctl/v1\n",
                )
                .unwrap();
                sniff(&dir.path().join("typo.yaml"))
            },
            Sniff::Skipped(SkipReason::NoDeclaration(2))
        ));
    }
}
