//! The only module that prints. Data goes to stdout, progress and diagnostics to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod class;
pub mod progress;
pub mod quota;
pub mod render;

use std::io::Write;

use owo_colors::OwoColorize;

use crate::settings::{Format, Settings};

pub use progress::TermReporter;

/// Decides how things look: colour, verbosity, format.
#[derive(Debug, Clone)]
pub struct Printer {
    pub format: Format,
    pub color: bool,
    pub quiet: bool,
    pub verbose: u8,
    pub stats: bool,
    /// stderr is a terminal (spinners) and not CI.
    pub interactive: bool,
    /// A JSON document went to stdout already: a failure after it writes none of its own, so
    /// stdout stays one document (`down` reports what is left in its own).
    wrote_json: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Printer {
    pub fn new(s: &Settings, stderr_tty: bool) -> Self {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        Printer {
            format: s.format,
            color: s.color,
            quiet: s.quiet,
            verbose: s.verbose,
            stats: s.stats,
            interactive: stderr_tty && !ci && s.verbose == 0 && !s.quiet,
            wrote_json: Default::default(),
        }
    }

    /// No colour, no spinners: for errors raised before settings exist, and for tests.
    pub fn plain() -> Self {
        Printer {
            format: Format::Text,
            color: false,
            quiet: false,
            verbose: 0,
            stats: false,
            interactive: false,
            wrote_json: Default::default(),
        }
    }

    /// [`Printer::plain`] writing data in `format`.
    pub fn plain_as(format: Format) -> Self {
        Printer {
            format,
            ..Printer::plain()
        }
    }

    /// Data for stdout.
    pub fn out(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = o.write_all(b"\n");
        }
        let _ = o.flush();
    }

    /// A status line for stderr (suppressed by -q).
    pub fn info(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// A warning for stderr (never suppressed).
    pub fn warn(&self, text: &str) {
        if self.color {
            eprintln!("{} {text}", "warning:".yellow().bold());
        } else {
            eprintln!("warning: {text}");
        }
    }

    pub fn json<T: serde::Serialize>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(s) => {
                self.wrote_json
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                self.out(&s);
            }
            Err(e) => self.warn(&format!("cannot serialise output: {e}")),
        }
    }

    /// Whether a JSON document went to stdout already.
    pub fn wrote_json(&self) -> bool {
        self.wrote_json.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn green(&self, s: &str) -> String {
        if self.color {
            s.green().to_string()
        } else {
            s.to_owned()
        }
    }

    pub fn red(&self, s: &str) -> String {
        if self.color {
            s.red().to_string()
        } else {
            s.to_owned()
        }
    }

    pub fn dim(&self, s: &str) -> String {
        if self.color {
            s.dimmed().to_string()
        } else {
            s.to_owned()
        }
    }

    pub fn bold(&self, s: &str) -> String {
        if self.color {
            s.bold().to_string()
        } else {
            s.to_owned()
        }
    }

    /// Renders a miette diagnostic (errors, lab-file warnings) to stderr.
    pub fn diagnostic(&self, d: &dyn miette::Diagnostic) {
        let theme = if self.color {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(140);
        let mut s = String::new();
        if handler.render_report(&mut s, d).is_ok() {
            eprint!("{s}");
        } else {
            eprintln!("error: {d}");
        }
    }

    /// Asks a yes/no question on the terminal.
    pub fn confirm(&self, question: &str) -> bool {
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_err() {
            return false;
        }
        matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    }
}
