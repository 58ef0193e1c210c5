//! The one user-facing error type, and the one place that maps errors to exit codes.

use miette::Diagnostic;
use thiserror::Error;

use crate::aws::{AwsError, ErrorClass};
use crate::lab::LabDiagnostics;

/// Exit codes (DESIGN.md): 0 ok, 1 check failed or resources failed, 2 usage or lab file,
/// 3 AWS or emulator unreachable, credentials.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const UNREACHABLE: u8 = 3;
}

#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lab(Box<LabDiagnostics>),

    #[error("no lab `{arg}`: {reason}")]
    #[diagnostic(code(awslab::lab_not_found), help("labs available here: {known}"))]
    LabNotFound {
        arg: String,
        reason: String,
        known: String,
    },

    #[error("cannot read lab file {path}")]
    #[diagnostic(code(awslab::read_lab))]
    ReadLab {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{path} is not a lab file: {why}")]
    #[diagnostic(
        code(awslab::not_a_lab_file),
        help("a lab is a bundled id (see `awslab list`) or a .toml lab file")
    )]
    NotALabFile { path: String, why: String },

    #[error("{message}")]
    #[diagnostic(code(awslab::usage))]
    Usage {
        message: String,
        #[help]
        help: Option<String>,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),

    #[error("{what}: {count} resource(s) could not be {verb}")]
    #[diagnostic(code(awslab::incomplete), help("{detail}"))]
    Incomplete {
        what: String,
        verb: &'static str,
        count: usize,
        detail: String,
    },

    #[error("cannot write {path}")]
    #[diagnostic(code(awslab::io))]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn usage(message: impl Into<String>, help: Option<&str>) -> Self {
        Error::Usage {
            message: message.into(),
            help: help.map(str::to_owned),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Lab(_)
            | Error::LabNotFound { .. }
            | Error::ReadLab { .. }
            | Error::NotALabFile { .. }
            | Error::Usage { .. } => exit::USAGE,
            Error::Aws(e) => match e.class {
                ErrorClass::Unreachable | ErrorClass::Credentials => exit::UNREACHABLE,
                _ => exit::FAILED,
            },
            Error::Incomplete { .. } | Error::Io { .. } => exit::FAILED,
        }
    }
}
