//! `retainctl preview`: every message × locale drawn as Apple's page ([`crate::preview`])
//! and written as a gallery, `index.html` by app → message → locale, into a folder that
//! is replaced whole and never left half-written. `plan --previews` draws its before and
//! after pictures with the same parts ([`Page`], [`draw`], [`Gallery`]).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rayon::prelude::*;

use super::{Output, default_paths, load_apps_before};
use crate::cli::{AppearanceArg, FontArgs, PreviewArgs};
use crate::loader::LoadedApp;
use crate::manifest::decode::pointer;
use crate::manifest::yaml::Span;
use crate::manifest::{HeaderPosition, ImageSize, Manifest, MessageKind};
use crate::preview::{
    Appearance, Bullet, Field, FontBook, FontPool, FontSources, Picture, Sheet, Style, TextReport,
    check, render,
};
use crate::reconcile::previews::{PreviewChange, PreviewSet, PreviewedLocalization};
use crate::render::{escape, plural};
use crate::validate::diagnostics::FileDiagnostics;

/// The file that marks a folder as a gallery retainctl wrote (and may replace).
const MARKER: &str = ".retainctl-gallery";

pub fn font_book(args: &FontArgs) -> anyhow::Result<FontBook> {
    FontBook::load(&FontSources {
        dirs: args.dirs.clone(),
        system: !args.no_system_fonts,
    })
    .context("--fonts")
}

pub fn appearances(arg: AppearanceArg) -> Vec<Appearance> {
    match arg {
        AppearanceArg::Light => vec![Appearance::Light],
        AppearanceArg::Dark => vec![Appearance::Dark],
        AppearanceArg::Both => Appearance::ALL.to_vec(),
    }
}

pub fn run(args: PreviewArgs) -> anyhow::Result<ExitCode> {
    let paths = default_paths(args.paths);
    let book = font_book(&args.fonts)?;
    let apps = load_apps_before(&paths, "before drawing them")?;
    let known = |wanted: &[String], have: &dyn Fn(&str) -> bool, what: &str| match wanted
        .iter()
        .find(|w| !have(w))
    {
        Some(w) => Err(anyhow::anyhow!(
            "--{what} {w} matches nothing in the manifests"
        )),
        None => Ok(()),
    };
    known(
        &args.apps,
        &|w| apps.iter().any(|a| a.desired.bundle_id == w),
        "app",
    )?;
    known(
        &args.messages,
        &|w| apps.iter().any(|a| a.manifest.messages.contains_key(w)),
        "message",
    )?;
    known(
        &args.locales,
        &|w| {
            apps.iter()
                .flat_map(|a| a.manifest.messages.values())
                .any(|m| m.localizations.contains_key(w))
        },
        "locale",
    )?;
    let wanted = |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
    let mut pages = Vec::new();
    let mut diags = Vec::new();
    for app in apps
        .iter()
        .filter(|a| wanted(&args.apps, &a.desired.bundle_id))
    {
        let mut d = FileDiagnostics::new(&app.file);
        pages.extend(pages_of(
            app,
            |key, locale| wanted(&args.messages, key) && wanted(&args.locales, locale),
            args.scale,
            &mut d,
        ));
        diags.push(d);
    }
    if pages.is_empty() {
        anyhow::bail!("no message × locale matches the filters: nothing to draw");
    }
    let appearances = appearances(args.appearance);
    let gallery = Gallery::begin(&args.out)?;
    let pool = FontPool::new(book);
    let drawn = draw(&pool, &pages, &appearances, args.scale, &gallery)?;
    for (page, report) in pages.iter().zip(&drawn) {
        let d = diags
            .iter_mut()
            .find(|d| d.file == page.file)
            .expect("a page's file has its diagnostics");
        page.warn(report, d);
    }
    let html = index_html(&pages, &drawn, &appearances);
    gallery.finish(&html)?;
    let mut warnings = 0;
    for d in diags {
        for diagnostic in &d.report.diagnostics {
            eprintln!("{}", diagnostic.render());
            warnings += 1;
        }
    }
    Output::stdout().line(&format!(
        "Drew {} of {} into {} ({})",
        plural(pages.len() * appearances.len(), "picture", "pictures"),
        plural(pages.len(), "localization", "localizations"),
        args.out.join("index.html").display(),
        plural(warnings, "warning", "warnings"),
    ));
    Ok(ExitCode::SUCCESS)
}

/// One localization to draw, with what it needs (pictures decoded once per app).
pub struct Page {
    pub bundle_id: String,
    pub file: PathBuf,
    /// Where the header, the body and each bullet point's text are written.
    pub spans: Vec<(Field, Span)>,
    pub key: String,
    pub locale: String,
    pub kind: MessageKind,
    pub header_position: HeaderPosition,
    pub header: String,
    pub body: String,
    pub image: Option<Arc<Picture>>,
    pub bullets: Vec<(String, Option<Arc<Picture>>)>,
}

impl Page {
    /// The pictures' file name stem inside the gallery: app/message/locale, each made
    /// safe for a file system.
    pub fn stem(&self) -> String {
        // Apple's locale codes differ by more than case: they keep their capitals.
        format!(
            "{}/{}/{}",
            file_part(&self.bundle_id, true),
            file_part(&self.key, true),
            file_part(&self.locale, false)
        )
    }

    fn span(&self, field: Field) -> Span {
        self.spans
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(Span { line: 1, col: 1 }, |(_, span)| *span)
    }

    pub fn warn(&self, report: &TextReport, d: &mut FileDiagnostics) {
        check::warn(report, &self.key, &self.locale, |f| self.span(f), d);
    }

    fn draw(&self, fonts: &mut crate::preview::Fonts, style: Style) -> crate::preview::Rendered {
        let bullets: Vec<Bullet> = self
            .bullets
            .iter()
            .map(|(text, icon)| Bullet {
                text,
                icon: icon.as_deref(),
            })
            .collect();
        let sheet = Sheet {
            kind: self.kind,
            header_position: self.header_position,
            locale: &self.locale,
            header: &self.header,
            body: &self.body,
            image: self.image.as_deref(),
            bullets: &bullets,
        };
        render(fonts, &sheet, style)
    }
}

/// The pages of one app's messages that `keep` (message key, locale) selects. An image
/// that does not decode is drawn as an empty frame, with a warning in `d`.
pub fn pages_of(
    app: &LoadedApp,
    keep: impl Fn(&str, &str) -> bool,
    scale: u8,
    d: &mut FileDiagnostics,
) -> Vec<Page> {
    pages_of_manifest(
        &app.file,
        &app.manifest,
        Some(&app.locations),
        &pngs(app),
        keep,
        scale,
        d,
    )
}

/// The PNG bytes of an app's images, by key.
pub fn pngs(app: &LoadedApp) -> BTreeMap<String, Arc<Vec<u8>>> {
    app.desired
        .images
        .iter()
        .map(|i| (i.key.clone(), i.png.clone()))
        .collect()
}

pub fn pages_of_manifest(
    file: &Path,
    manifest: &Manifest,
    locations: Option<&crate::manifest::Locations<'static>>,
    pngs: &BTreeMap<String, Arc<Vec<u8>>>,
    keep: impl Fn(&str, &str) -> bool,
    scale: u8,
    d: &mut FileDiagnostics,
) -> Vec<Page> {
    let mut pictures: BTreeMap<&str, Option<Arc<Picture>>> = BTreeMap::new();
    let mut picture = |key: &str| -> Option<Arc<Picture>> {
        if let Some(p) = pictures.get(key) {
            return p.clone();
        }
        let size = manifest.images.get(key).map(|i| i.size)?;
        let png = pngs.get(key)?;
        let decoded = match size {
            ImageSize::FullSize => Picture::for_image(png, scale),
            ImageSize::BulletPoint => Picture::for_icon(png, scale),
        };
        let decoded = match decoded {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                let at = locations.map_or(Span { line: 1, col: 1 }, |l| {
                    l.value(&["images", key, "file"])
                });
                d.warning(
                    at,
                    format!("image `{key}` cannot be drawn: {e}"),
                    "the preview shows an empty frame in its place",
                );
                None
            }
        };
        let key = manifest
            .images
            .get_key_value(key)
            .map(|(k, _)| k.as_str())?;
        pictures.insert(key, decoded.clone());
        decoded
    };
    let mut pages = Vec::new();
    for (key, message) in &manifest.messages {
        for (locale, l) in &message.localizations {
            if !keep(key, locale) {
                continue;
            }
            let field_span = |field: Field| {
                let mut segments = vec!["messages", key, "localizations", locale];
                let index;
                match field {
                    Field::Header => segments.push("header"),
                    Field::Body => segments.push("body"),
                    Field::Bullet(i) => {
                        index = i.to_string();
                        segments.extend(["bulletPoints", &index, "text"]);
                    }
                }
                let span = locations.map_or(Span { line: 1, col: 1 }, |l| {
                    l.get(&pointer(&segments)).value
                });
                (field, span)
            };
            let bullet_count = l.bullet_points.as_ref().map_or(0, Vec::len);
            let spans = [Field::Header, Field::Body]
                .into_iter()
                .chain((0..bullet_count).map(Field::Bullet))
                .map(field_span)
                .collect();
            pages.push(Page {
                bundle_id: manifest.app.bundle_id.clone(),
                file: file.to_path_buf(),
                spans,
                key: key.clone(),
                locale: locale.clone(),
                kind: message.kind,
                header_position: message.header_position.unwrap_or(HeaderPosition::AboveBody),
                header: l.header.clone(),
                body: l.body.clone(),
                image: l.image.as_ref().and_then(|i| picture(&i.image_ref)),
                bullets: l
                    .bullet_points
                    .iter()
                    .flatten()
                    .map(|b| (b.text.clone(), picture(&b.image)))
                    .collect(),
            });
        }
    }
    pages
}

/// Draws every page in every appearance, on every core, writing each PNG as it is
/// drawn (`{stem}.{appearance}.png`); returns each page's text report.
pub fn draw(
    pool: &FontPool,
    pages: &[Page],
    appearances: &[Appearance],
    scale: u8,
    gallery: &Gallery,
) -> anyhow::Result<Vec<TextReport>> {
    let bar = (std::io::stderr().is_terminal() && !super::ui().quiet).then(|| {
        let bar = indicatif::ProgressBar::new((pages.len() * appearances.len()) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} pictures {elapsed}")
                .expect("a valid template"),
        );
        bar
    });
    let first_error = Mutex::new(None);
    let reports: Vec<TextReport> = pages
        .par_iter()
        .map(|page| {
            let mut report = TextReport::default();
            for &appearance in appearances {
                let drawn = pool.with(|fonts| page.draw(fonts, Style { appearance, scale }));
                let name = format!("{}.{}.png", page.stem(), appearance.as_str());
                if let Err(e) = gallery.write(&name, &drawn.png) {
                    first_error.lock().expect("lock").get_or_insert(e);
                }
                report = drawn.text;
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
            }
            report
        })
        .collect();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match first_error.into_inner().expect("lock") {
        Some(e) => Err(e),
        None => Ok(reports),
    }
}

/// A gallery being written: files go to a hidden folder beside `out`, which takes the
/// place of `out` only when everything is written. An earlier gallery is moved aside
/// first and removed only once the new one is in place (put back if that fails), so a
/// failure leaves `out` as it was.
pub struct Gallery {
    /// The folder as given (for messages).
    out: PathBuf,
    /// Where it is: its parent resolved, and its own name.
    parent: PathBuf,
    name: std::ffi::OsString,
    work: tempfile::TempDir,
}

impl Gallery {
    pub fn begin(out: &Path) -> anyhow::Result<Gallery> {
        use std::path::Component;
        let last = out.components().next_back();
        let Some(name) = last
            .filter(|c| matches!(c, Component::Normal(_)))
            .map(|c| c.as_os_str().to_os_string())
        else {
            anyhow::bail!(
                "--out {}: give the gallery folder a name of its own, without `.` or `..` (e.g. `previews`)",
                out.display()
            );
        };
        let given_parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Folders on the way are made, unless the way climbs (`a/../b` would leave `a`).
        if !given_parent.components().any(|c| c == Component::ParentDir) {
            std::fs::create_dir_all(&given_parent)
                .with_context(|| format!("cannot make the folder {}", given_parent.display()))?;
        }
        let parent = given_parent
            .canonicalize()
            .with_context(|| format!("cannot find the folder {}", given_parent.display()))?;
        let gallery = Gallery {
            out: out.to_path_buf(),
            work: tempfile::Builder::new()
                .prefix(&format!(".{}.tmp-", name.to_string_lossy()))
                .tempdir_in(&parent)
                .with_context(|| {
                    format!(
                        "cannot write the gallery beside {}: the folder {} is not writable",
                        out.display(),
                        parent.display()
                    )
                })?,
            parent,
            name,
        };
        gallery.check_replaceable()?;
        Ok(gallery)
    }

    fn target(&self) -> PathBuf {
        self.parent.join(&self.name)
    }

    /// `out` may be written: absent, an empty folder, or a gallery retainctl wrote; never
    /// a link, nor the current folder or one that holds it.
    fn check_replaceable(&self) -> anyhow::Result<()> {
        let target = self.target();
        let Ok(meta) = std::fs::symlink_metadata(&target) else {
            return Ok(());
        };
        let refuse = |why: &str| {
            anyhow::anyhow!(
                "{} {why}: give a new or empty folder to --out (an earlier gallery is replaced whole)",
                self.out.display()
            )
        };
        if meta.file_type().is_symlink() {
            return Err(refuse("is a symbolic link"));
        }
        if !meta.is_dir() {
            return Err(refuse("exists and is not a folder"));
        }
        if let Ok(cwd) = std::env::current_dir().and_then(|c| c.canonicalize())
            && cwd.starts_with(&target)
        {
            return Err(refuse("holds the current folder"));
        }
        let ours = target.join(MARKER).is_file();
        let empty = target
            .read_dir()
            .map(|mut entries| entries.next().is_none())
            .unwrap_or(false);
        if !(ours || empty) {
            return Err(refuse("exists and is not a gallery retainctl wrote"));
        }
        Ok(())
    }

    /// Writes one file at `name` (a relative path with `/`).
    pub fn write(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.work.path().join(name);
        let shown = || format!("cannot write {name} of the gallery {}", self.out.display());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(shown)?;
        }
        std::fs::write(&path, bytes).with_context(shown)
    }

    /// Writes `index.html` and puts the gallery in place of `out`.
    pub fn finish(self, index_html: &str) -> anyhow::Result<()> {
        self.write("index.html", index_html.as_bytes())?;
        self.write(
            MARKER,
            b"written by retainctl; replaced whole by the next run\n",
        )?;
        // Checked again: the folder may have changed while the pages were drawn.
        self.check_replaceable()?;
        let target = self.target();
        let failed = |e: std::io::Error| {
            anyhow::anyhow!("cannot put the gallery at {}: {e}", self.out.display())
        };
        let aside = if target.exists() {
            let aside = self.parent.join(format!(
                ".{}.old-{}",
                self.name.to_string_lossy(),
                std::process::id()
            ));
            std::fs::rename(&target, &aside).map_err(failed)?;
            Some(aside)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(self.work.path(), &target) {
            if let Some(aside) = &aside {
                let _ = std::fs::rename(aside, &target);
            }
            return Err(failed(e));
        }
        // The new gallery is in place: the temporary folder is gone, the old one goes.
        let _ = self.work.keep();
        if let Some(aside) = aside {
            let _ = std::fs::remove_dir_all(aside);
        }
        Ok(())
    }
}

/// A name made safe as one path segment: letters, digits, `-`, `_` and `.` stay, anything
/// else becomes `%XX`, and so does a leading `.` (two keys never share a file, `..`
/// never climbs, nothing is hidden). A name longer than 100 bytes once encoded, or with
/// capitals where `case_matters` (message keys and bundle ids that a case-insensitive
/// file system would take for another), is cut to 80 bytes and gets the first 8 hex
/// digits of its SHA-256 after a `~`.
pub fn file_part(name: &str, case_matters: bool) -> String {
    use sha2::Digest;
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.');
    let safe = percent_encoding::utf8_percent_encode(name, KEEP).to_string();
    let mut safe = match safe.strip_prefix('.') {
        Some(rest) => format!("%2E{rest}"),
        None if safe.is_empty() => "%00".into(),
        None => safe,
    };
    if safe.len() > 100 || case_matters && name.chars().any(char::is_uppercase) {
        safe.truncate(80);
        let digest = sha2::Sha256::digest(name.as_bytes());
        let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        safe = format!("{safe}~{hex}");
    }
    safe
}

pub const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;background:#fafafa;color:#111}\
h2{margin-top:2.5rem;border-bottom:1px solid #ccc}h3{margin:1.5rem 0 .5rem}\
.row{display:flex;flex-wrap:wrap;gap:1.5rem}figure{margin:0}figcaption{font-size:.9rem;margin:.3rem 0}\
img{width:300px;height:auto;border:1px solid #ccc;border-radius:8px;display:block}\
.pair{display:flex;gap:.5rem}.warn{color:#a35200;font-size:.85rem;max-width:610px}\
.kind{font-weight:normal;color:#666;font-size:.9rem}";

fn index_html(pages: &[Page], reports: &[TextReport], appearances: &[Appearance]) -> String {
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>retainctl previews</title>\n<style>{STYLE}</style></head><body>\n<h1>Retention messages as Apple shows them</h1>\n<p>An approximation of the Confirm Cancellation page (see retainctl's README): {}.</p>\n",
        plural(pages.len(), "localization", "localizations")
    );
    let mut app = None;
    let mut message = None;
    for (page, report) in pages.iter().zip(reports) {
        if app != Some(&page.bundle_id) {
            if app.is_some() {
                html.push_str("</div>\n");
            }
            html.push_str(&format!("<h2>{}</h2>\n", escape(&page.bundle_id)));
            app = Some(&page.bundle_id);
            message = None;
        }
        if message != Some(&page.key) {
            if message.is_some() {
                html.push_str("</div>\n");
            }
            html.push_str(&format!(
                "<h3 id=\"{}\">{} <span class=\"kind\">{}</span></h3>\n<div class=\"row\">\n",
                escape(&page.stem()),
                escape(&page.key),
                page.kind.as_str()
            ));
            message = Some(&page.key);
        }
        html.push_str(&format!(
            "<figure><figcaption>{}</figcaption><div class=\"pair\">",
            escape(&page.locale)
        ));
        for appearance in appearances {
            let name = format!("{}.{}.png", page.stem(), appearance.as_str());
            html.push_str(&format!(
                "<img src=\"{}\" alt=\"{} {} ({})\">",
                escape(&crate::render::url_path(&name)),
                escape(&page.key),
                escape(&page.locale),
                appearance.as_str()
            ));
        }
        html.push_str("</div>");
        for line in warnings_of(report) {
            html.push_str(&format!("<div class=\"warn\">{}</div>", escape(&line)));
        }
        html.push_str("</figure>\n");
    }
    if message.is_some() {
        html.push_str("</div>\n");
    }
    html.push_str("</body></html>\n");
    html
}

/// A localization's text warnings, worded for the gallery.
pub fn warnings_of(report: &TextReport) -> Vec<String> {
    let mut out: Vec<String> = report
        .overflows()
        .map(|(field, lines, most)| {
            format!("the {field} takes {lines} lines (the page shows {most})")
        })
        .collect();
    for (field, chars) in report.missing_by_field() {
        out.push(format!(
            "no font has {} in the {field}",
            check::missing_words(&chars)
        ));
    }
    out
}

/// The scale of `plan --previews` pictures: enough to read, small enough for a pull
/// request.
const PLAN_SCALE: u8 = 2;

/// `plan --previews DIR`: the before (from `--base`) and after pictures of every
/// localization the plan uploads, in any environment, and a gallery of just those.
pub fn plan_previews(
    plan: &crate::reconcile::Plan,
    apps: &[LoadedApp],
    base: Option<&crate::base::Base>,
    gallery: Gallery,
    url: Option<&str>,
    book: FontBook,
) -> anyhow::Result<(PreviewSet, Vec<FileDiagnostics>)> {
    use crate::reconcile::Op;
    use std::collections::BTreeSet;
    let changed: BTreeSet<(&str, &str, &str)> = plan
        .apps
        .iter()
        .flat_map(|a| {
            a.actions.iter().filter_map(move |action| match &action.op {
                Op::UploadMessage { key, locale, .. } => {
                    Some((a.bundle_id.as_str(), &**key, &**locale))
                }
                _ => None,
            })
        })
        .collect();
    let pool = FontPool::new(book);
    let dir = gallery.out.clone();
    let mut pairs: Vec<(Page, Option<Page>)> = Vec::new();
    let mut diags = Vec::new();
    for app in apps {
        let bundle = app.desired.bundle_id.as_str();
        let keep = |key: &str, locale: &str| changed.contains(&(bundle, key, locale));
        let mut d = FileDiagnostics::new(&app.file);
        let after = pages_of(app, keep, PLAN_SCALE, &mut d);
        diags.push(d);
        if after.is_empty() {
            continue;
        }
        let mut before = match (base, base.and_then(|b| b.manifests.get(bundle))) {
            (Some(base), Some(manifest)) => {
                let none = BTreeMap::new();
                let pngs = base.images.get(bundle).unwrap_or(&none);
                let mut ignored = FileDiagnostics::new(&app.file);
                pages_of_manifest(
                    &app.file,
                    manifest,
                    None,
                    pngs,
                    keep,
                    PLAN_SCALE,
                    &mut ignored,
                )
            }
            _ => Vec::new(),
        };
        for page in after {
            let at = before
                .iter()
                .position(|b| b.key == page.key && b.locale == page.locale);
            pairs.push((page, at.map(|i| before.swap_remove(i))));
        }
    }
    let first_error = Mutex::new(None);
    let drawn: Vec<(PreviewedLocalization, TextReport)> = pairs
        .par_iter()
        .map(|(after, before)| {
            let stem = after.stem();
            let write = |name: String, png: &[u8]| {
                if let Err(e) = gallery.write(&name, png) {
                    first_error.lock().expect("lock").get_or_insert(e);
                }
                name
            };
            let mut light = (None, Vec::new());
            let mut entry = PreviewedLocalization {
                bundle_id: after.bundle_id.clone(),
                message_key: after.key.clone(),
                locale: after.locale.clone(),
                change: if before.is_some() {
                    PreviewChange::Changed
                } else {
                    PreviewChange::New
                },
                side_by_side: format!("{stem}.compare.png"),
                before: vec![],
                after: vec![],
                warnings: vec![],
            };
            let mut report = TextReport::default();
            for appearance in Appearance::ALL {
                let style = Style {
                    appearance,
                    scale: PLAN_SCALE,
                };
                if let Some(before) = before {
                    let drawn = pool.with(|fonts| before.draw(fonts, style));
                    let name = format!("{stem}.before.{}.png", appearance.as_str());
                    entry.before.push(write(name, &drawn.png));
                    if appearance == Appearance::Light {
                        light.0 = Some(drawn.png);
                    }
                }
                let drawn = pool.with(|fonts| after.draw(fonts, style));
                let name = format!("{stem}.after.{}.png", appearance.as_str());
                entry.after.push(write(name, &drawn.png));
                if appearance == Appearance::Light {
                    light.1 = drawn.png;
                    report = drawn.text;
                }
            }
            let compare = pool.with(|fonts| {
                crate::preview::side_by_side(fonts, light.0.as_deref(), &light.1, PLAN_SCALE)
            });
            write(entry.side_by_side.clone(), &compare);
            entry.warnings = warnings_of(&report);
            (entry, report)
        })
        .collect();
    if let Some(e) = first_error.into_inner().expect("lock") {
        return Err(e);
    }
    for ((after, _), (_, report)) in pairs.iter().zip(&drawn) {
        if let Some(d) = diags.iter_mut().find(|d| d.file == after.file) {
            after.warn(report, d);
        }
    }
    let localizations: Vec<PreviewedLocalization> = drawn.into_iter().map(|(e, _)| e).collect();
    gallery.finish(&changes_html(&localizations))?;
    Ok((
        PreviewSet {
            folder: dir.display().to_string(),
            url: url.map(str::to_string),
            gallery: "index.html".into(),
            localizations,
        },
        diags,
    ))
}

fn changes_html(changes: &[PreviewedLocalization]) -> String {
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>retainctl plan previews</title>\n<style>{STYLE}</style></head><body>\n<h1>What the plan changes, as Apple shows it</h1>\n<p>{}: before (the base) and after (these manifests), light and dark. An approximation of the Confirm Cancellation page (see retainctl's README).</p>\n",
        plural(
            changes.len(),
            "changed localization",
            "changed localizations"
        )
    );
    for c in changes {
        let change = match c.change {
            PreviewChange::New => "new",
            PreviewChange::Changed => "changed",
        };
        html.push_str(&format!(
            "<h3>{} · {} · {} <span class=\"kind\">{change}</span></h3>\n<div class=\"row\">",
            escape(&c.bundle_id),
            escape(&c.message_key),
            escape(&c.locale)
        ));
        for (i, appearance) in Appearance::ALL.iter().enumerate() {
            for (word, list) in [("before", &c.before), ("after", &c.after)] {
                if let Some(name) = list.get(i) {
                    html.push_str(&format!(
                        "<figure><figcaption>{word} · {}</figcaption><img src=\"{}\" alt=\"{} {} {word} ({})\"></figure>",
                        appearance.as_str(),
                        escape(&crate::render::url_path(name)),
                        escape(&c.message_key),
                        escape(&c.locale),
                        appearance.as_str()
                    ));
                }
            }
        }
        html.push_str("</div>\n");
        for w in &c.warnings {
            html.push_str(&format!("<div class=\"warn\">{}</div>\n", escape(w)));
        }
    }
    html.push_str("</body></html>\n");
    html
}
