//! Located lab-file diagnostics: each issue knows its `file:line:col`, and the whole set renders
//! through miette with the source snippet and a caret.

use std::fmt;
use std::ops::Range;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a lab file, at a place.
#[derive(Debug, Clone, Error)]
#[error("{location}: {message}")]
pub struct LabIssue {
    pub severity: Severity,
    pub message: String,
    /// `path:line:col` of the span's start.
    pub location: String,
    pub span: Range<usize>,
    pub label: String,
    pub help: Option<String>,
}

impl Diagnostic for LabIssue {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = SourceSpan::from(self.span.clone());
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(self.label.clone()),
            span,
        ))))
    }
}

/// Collects issues against one source text.
pub struct Collector<'a> {
    pub path: &'a str,
    pub text: &'a str,
    pub issues: Vec<LabIssue>,
}

impl<'a> Collector<'a> {
    pub fn new(path: &'a str, text: &'a str) -> Self {
        Collector {
            path,
            text,
            issues: Vec::new(),
        }
    }

    fn push(&mut self, severity: Severity, span: Range<usize>, message: String, label: &str) {
        let span = clamp(span, self.text.len());
        let (line, col) = line_col(self.text, span.start);
        self.issues.push(LabIssue {
            severity,
            message,
            location: format!("{}:{line}:{col}", self.path),
            span,
            label: label.to_owned(),
            help: None,
        });
    }

    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>, label: &str) {
        self.push(Severity::Error, span, message.into(), label);
    }

    pub fn warn(&mut self, span: Range<usize>, message: impl Into<String>, label: &str) {
        self.push(Severity::Warning, span, message.into(), label);
    }

    /// Attach a `help:` line to the last issue.
    pub fn help(&mut self, help: impl Into<String>) {
        if let Some(last) = self.issues.last_mut() {
            last.help = Some(help.into());
        }
    }

    pub fn has_errors(&self) -> bool {
        self.issues.iter().any(|i| i.severity == Severity::Error)
    }

    pub fn into_diagnostics(self) -> LabDiagnostics {
        let errors = self
            .issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .count();
        LabDiagnostics {
            path: self.path.to_owned(),
            errors,
            src: NamedSource::new(self.path, self.text.to_owned()),
            issues: self.issues,
        }
    }
}

fn clamp(span: Range<usize>, len: usize) -> Range<usize> {
    let start = span.start.min(len);
    let end = span.end.clamp(start, len);
    start..end
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Every problem found in one lab file; rendered once, in `main`, through miette.
#[derive(Debug, Error)]
#[error("{path}: {errors} error(s) in lab file")]
pub struct LabDiagnostics {
    pub path: String,
    pub errors: usize,
    pub src: NamedSource<String>,
    pub issues: Vec<LabIssue>,
}

impl Diagnostic for LabDiagnostics {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("awslab::lab_file"))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.issues.iter().map(|i| i as &dyn Diagnostic)))
    }
}

/// Warnings of a lab that loaded fine, with their source for rendering.
#[derive(Debug, Error)]
#[error("{path}: {} warning(s)", issues.len())]
pub struct LabWarnings {
    pub path: String,
    pub src: NamedSource<String>,
    pub issues: Vec<LabIssue>,
}

impl Diagnostic for LabWarnings {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Warning)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.issues.iter().map(|i| i as &dyn Diagnostic)))
    }
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn line_col_counts_from_one() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 8), (2, 3));
    }
}
