//! The class gradebook: every student's `check` report side by side (students × checks), with
//! each check's pass rate, rendered as JSON, CSV, JUnit XML or one self-contained HTML page.

mod book;
mod export;
mod html;

pub use book::{CheckColumn, Gradebook, SCHEMA_VERSION, StudentOutcome, StudentRow};
pub use export::{csv, json, junit};
pub use html::{escape, html};
