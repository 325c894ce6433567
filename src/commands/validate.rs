//! `retainctl validate`: every problem of the manifests as file:line:col, offline, and
//! warnings about how their text fits Apple's page (lines, glyphs no font has).

use std::path::PathBuf;
use std::process::ExitCode;

use super::Output;
use crate::cli::{DiagnosticFormat, FontArgs};
use crate::loader;
use crate::manifest::{Locations, Manifest};
use crate::preview::FontPool;
use crate::preview::check::check_text;
use crate::render::plural;
use crate::validate::diagnostics::FileDiagnostics;
use crate::validate::diagnostics::Severity;

pub fn run(
    paths: &[PathBuf],
    format: DiagnosticFormat,
    fonts: &FontArgs,
) -> anyhow::Result<ExitCode> {
    let pool = FontPool::new(super::preview::font_book(fonts)?);
    let text_on_page = |m: &Manifest, at: &Locations, d: &mut FileDiagnostics| {
        pool.with(|fonts| check_text(m, at, fonts, d))
    };
    let loaded = loader::check_with(paths, &text_on_page);
    let mut out = Output::stdout();
    for d in &loaded.report.diagnostics {
        out.line(&match format {
            DiagnosticFormat::Text => d.render(),
            DiagnosticFormat::Github => d.render_github(),
        });
    }
    let errors = loaded.report.count(Severity::Error);
    let warnings = loaded.report.count(Severity::Warning);
    out.line(&format!(
        "{}, {} valid: {}, {}",
        plural(loaded.files.len(), "file", "files"),
        plural(loaded.valid, "app", "apps"),
        plural(errors, "error", "errors"),
        plural(warnings, "warning", "warnings"),
    ));
    if loaded.files.is_empty() && errors == 0 {
        out.line(
            "no manifest found: files need `apiVersion: retainctl/v1` and a .yaml or .yml name",
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
