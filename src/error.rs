//! The one user-facing error type, and the one place that maps errors to exit codes.

use miette::Diagnostic;
use thiserror::Error;

use crate::aws::{AwsError, ErrorClass};
use crate::image::PullError;
use crate::lab::{LabDiagnostics, Severity};
use crate::push::PushError;

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

    #[error("{path} says `id = \"{id}\"`, but its name says `{name}`")]
    #[diagnostic(
        code(awslab::lab_id_mismatch),
        help(
            "name the file `labs/{id}.toml`, or set `id = \"{name}\"` in it: the id is what its resources are tagged with"
        )
    )]
    LabIdMismatch {
        path: String,
        id: String,
        name: String,
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

    #[error(transparent)]
    #[diagnostic(transparent)]
    Image(#[from] crate::image::ImageError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Push(#[from] crate::push::PushError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Pull(#[from] crate::image::PullError),

    /// `up 4 resource(s) could not be created`, `down: 1 kind(s) not looked at`.
    #[error("{what}: {summary}")]
    #[diagnostic(code(awslab::incomplete), help("{detail}"))]
    Incomplete {
        what: String,
        summary: String,
        detail: String,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] crate::guard::ConfigError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Refused(#[from] crate::guard::Refusal),

    /// The quota preflight found too little room; nothing was created.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Quota(#[from] Box<crate::quota::QuotaShortfall>),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Roster(#[from] crate::roster::RosterError),

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
            | Error::LabIdMismatch { .. }
            | Error::Usage { .. }
            | Error::Config(_)
            | Error::Refused(_)
            | Error::Roster(_) => exit::USAGE,
            // Like the guard's refusals: checked before anything is created, and fixed by
            // changing the invocation (Region, envs per account) or the account's quotas, so a
            // script tells "did not start" (2) from "started and failed" (1).
            Error::Quota(_) => exit::USAGE,
            Error::Image(_) => exit::USAGE,
            Error::Aws(e) | Error::Push(PushError::Aws(e)) => match e.class {
                ErrorClass::Unreachable | ErrorClass::Credentials => exit::UNREACHABLE,
                _ => exit::FAILED,
            },
            Error::Push(PushError::TagTaken { .. }) => exit::FAILED,
            // The base could not be had: the network or a registry that limits or fails (3),
            // the reference (2, fixed by another base), or what the registry sent (1).
            Error::Pull(e) => match e {
                _ if e.transient() => exit::UNREACHABLE,
                PullError::Unreachable { .. } | PullError::Interrupted { .. } => exit::UNREACHABLE,
                PullError::Refused { .. }
                | PullError::Login { .. }
                | PullError::NoPlatform { .. }
                | PullError::Unsupported { .. } => exit::USAGE,
                PullError::DigestMismatch { .. }
                | PullError::Corrupt { .. }
                | PullError::Io { .. } => exit::FAILED,
            },
            Error::Incomplete { .. } | Error::Io { .. } => exit::FAILED,
        }
    }
}

/// What an incomplete run left: `(count, "resource(s) could not be deleted")` parts, those
/// with a count joined (`2 resource(s) could not be deleted, 1 kind(s) not looked at`).
pub fn incomplete_summary(parts: &[(usize, &str)]) -> String {
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The version of the JSON written for a failure with `--format json`; fields are only added.
pub const ERROR_SCHEMA_VERSION: u32 = 1;

/// A failure as `--format json` writes it to stdout (the rendered error still goes to stderr).
#[derive(Debug, serde::Serialize)]
pub struct ErrorReport {
    pub schema_version: u32,
    pub ok: bool,
    pub exit_code: u8,
    pub error: ErrorBody,
}

#[derive(Debug, serde::Serialize)]
pub struct ErrorBody {
    /// The diagnostic code (`awslab::image::not_an_image`), stable for scripts.
    pub code: Option<String>,
    pub message: String,
    pub help: Option<String>,
    /// The errors under this one, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    /// Located lab-file issues.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<IssueReport>,
}

#[derive(Debug, serde::Serialize)]
pub struct IssueReport {
    pub severity: &'static str,
    /// `file:line:col`.
    pub location: String,
    pub message: String,
    pub help: Option<String>,
}

impl ErrorReport {
    pub fn of(e: &Error) -> ErrorReport {
        let mut causes = Vec::new();
        let mut next = std::error::Error::source(e);
        while let Some(c) = next {
            causes.push(c.to_string());
            next = c.source();
        }
        let issues = match e {
            Error::Lab(d) => d
                .issues
                .iter()
                .map(|i| IssueReport {
                    severity: match i.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                    },
                    location: i.location.clone(),
                    message: i.message.clone(),
                    help: i.help.clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        ErrorReport {
            schema_version: ERROR_SCHEMA_VERSION,
            ok: false,
            exit_code: e.exit_code(),
            error: ErrorBody {
                code: e.code().map(|c| c.to_string()),
                message: e.to_string(),
                help: e.help().map(|h| h.to_string()),
                causes,
                issues,
            },
        }
    }
}
