//! Problems found in manifests: where (file, line, column), how bad, what and what to do.
//! Rendering is pure; the CLI decides where it goes.

use std::fmt;
use std::path::PathBuf;

use crate::manifest::yaml::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub span: Span,
    pub severity: Severity,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    /// `path:line:col: severity: message`, the form editors and CI annotate.
    pub fn headline(&self) -> String {
        format!(
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.span.line,
            self.span.col,
            self.severity,
            self.message
        )
    }

    /// The headline, then the hint indented on its own line.
    pub fn render(&self) -> String {
        match &self.hint {
            Some(hint) => format!("{}\n  hint: {}", self.headline(), hint),
            None => self.headline(),
        }
    }

    /// A GitHub workflow command, so the problem shows on the pull request's diff.
    pub fn render_github(&self) -> String {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = self.message.clone();
        if let Some(hint) = &self.hint {
            message.push_str(" — ");
            message.push_str(hint);
        }
        format!(
            "::{level} file={},line={},col={}::{}",
            escape_github_property(&self.file.display().to_string()),
            self.span.line,
            self.span.col,
            escape_github_data(&message)
        )
    }
}

fn escape_github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_github_property(s: &str) -> String {
    escape_github_data(s)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

/// Collects diagnostics for one file.
#[derive(Debug, Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// Stable order: file, then position, then message.
    pub fn sort(&mut self) {
        self.diagnostics
            .sort_by(|a, b| (&a.file, a.span, &a.message).cmp(&(&b.file, b.span, &b.message)));
        self.diagnostics.dedup();
    }

    pub fn extend(&mut self, other: Report) {
        self.diagnostics.extend(other.diagnostics);
    }
}

/// Builds diagnostics for one file without repeating its path everywhere.
pub struct FileDiagnostics {
    pub file: PathBuf,
    pub report: Report,
}

impl FileDiagnostics {
    pub fn new(file: impl Into<PathBuf>) -> Self {
        FileDiagnostics {
            file: file.into(),
            report: Report::default(),
        }
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>, hint: impl Into<Hint>) {
        self.push(Severity::Error, span, message.into(), hint.into().0);
    }

    pub fn warning(&mut self, span: Span, message: impl Into<String>, hint: impl Into<Hint>) {
        self.push(Severity::Warning, span, message.into(), hint.into().0);
    }

    fn push(&mut self, severity: Severity, span: Span, message: String, hint: Option<String>) {
        self.report.diagnostics.push(Diagnostic {
            file: self.file.clone(),
            span,
            severity,
            message,
            hint,
        });
    }
}

/// An optional hint: `()` for none, or anything string-like.
pub struct Hint(pub Option<String>);

impl From<()> for Hint {
    fn from(_: ()) -> Self {
        Hint(None)
    }
}
impl From<&str> for Hint {
    fn from(s: &str) -> Self {
        Hint(Some(s.to_string()))
    }
}
impl From<String> for Hint {
    fn from(s: String) -> Self {
        Hint(Some(s))
    }
}
impl From<Option<String>> for Hint {
    fn from(s: Option<String>) -> Self {
        Hint(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_col_and_hint() {
        let mut d = FileDiagnostics::new("retention/app.yaml");
        d.error(Span { line: 3, col: 7 }, "header is too long", "shorten it");
        assert_eq!(
            d.report.diagnostics[0].render(),
            "retention/app.yaml:3:7: error: header is too long\n  hint: shorten it"
        );
        assert_eq!(
            d.report.diagnostics[0].render_github(),
            "::error file=retention/app.yaml,line=3,col=7::header is too long — shorten it"
        );
    }
}
