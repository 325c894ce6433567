//! `retainctl validate`: every problem of the manifests as file:line:col, offline.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Output;
use crate::cli::DiagnosticFormat;
use crate::loader;
use crate::render::plural;
use crate::validate::diagnostics::Severity;

pub fn run(paths: &[PathBuf], format: DiagnosticFormat) -> ExitCode {
    let loaded = loader::check(paths);
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
        return ExitCode::FAILURE;
    }
    if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
