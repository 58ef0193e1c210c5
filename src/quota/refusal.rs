//! The refusal to bring envs up when a quota would be exceeded, with what to do about it.

use std::fmt::Write;

use miette::Diagnostic;
use thiserror::Error;

use super::catalog::Scope;
use super::preflight::Preflight;

/// Bringing the envs up would exceed some quota; nothing was created.
#[derive(Debug, Error, Diagnostic)]
#[error("refusing to bring the envs up: {summary}")]
#[diagnostic(code(awslab::quota), help("{help}"))]
pub struct QuotaShortfall {
    /// The quotas short, one clause each.
    pub summary: String,
    /// What to do: another Region, a quota increase, fewer envs per account, or skipping.
    pub help: String,
    /// The whole preflight, for the table and `--format json`.
    pub preflight: Preflight,
}

impl QuotaShortfall {
    pub fn new(preflight: Preflight) -> QuotaShortfall {
        let summary = preflight
            .problems()
            .map(|r| {
                format!(
                    "{} in {} {} (needed {}, used {}, quota {})",
                    r.name, r.account, r.region, r.needed, r.used, r.limit
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let mut help = String::from("any of these makes room:\n");
        if preflight.problems().any(|r| r.scope != Scope::Account) {
            help.push_str(
                "- another Region (--region): quotas and what uses them are counted per Region\n",
            );
        }
        for r in preflight.problems() {
            let _ = writeln!(
                help,
                "- ask for more {} ({}, now {}): {}",
                r.name, r.source, r.limit, r.increase_url
            );
        }
        for r in preflight.problems() {
            let _ = writeln!(
                help,
                "- fewer students per account: {} {} has room for {} more env(s) ({})",
                r.account,
                r.region,
                r.envs_that_fit(),
                r.name
            );
        }
        help.push_str(
            "- or --skip-preflight to try anyway (AWS then refuses the creates it cannot hold)",
        );
        QuotaShortfall {
            summary,
            help,
            preflight,
        }
    }
}
