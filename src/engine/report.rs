//! The JSON documents `up`, `down` and `sweep` write with `--format json`: typed, and versioned
//! by `schema_version` (a field is only ever added within a version).

use serde::Serialize;

use super::Verb;
use super::apply::ApplyOutcome;
use super::destroy::DestroyOutcome;
use crate::lab::Kind;
use crate::resources::Unlisted;

pub const SCHEMA_VERSION: u32 = 1;

/// What `up` did.
#[derive(Debug, Serialize)]
pub struct UpReport {
    pub schema_version: u32,
    pub lab: String,
    pub env: String,
    /// Where to look once it is up: load balancers, website endpoints.
    pub urls: Vec<Url>,
    pub resources: Vec<Applied>,
    pub failed: Vec<Failed>,
    /// Not attempted because a dependency failed.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Serialize)]
pub struct Url {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Serialize)]
pub struct Applied {
    pub name: String,
    pub action: Verb,
    pub id: String,
}

#[derive(Debug, Serialize)]
pub struct Failed {
    pub name: String,
    pub error: String,
}

#[derive(Debug, Serialize)]
pub struct Skipped {
    pub name: String,
    pub blocked_by: String,
}

impl UpReport {
    pub fn of(lab: &str, env: &str, outcome: &ApplyOutcome, urls: &[(String, String)]) -> Self {
        UpReport {
            schema_version: SCHEMA_VERSION,
            lab: lab.to_owned(),
            env: env.to_owned(),
            urls: urls
                .iter()
                .map(|(name, url)| Url {
                    name: name.clone(),
                    url: url.clone(),
                })
                .collect(),
            resources: outcome
                .done
                .iter()
                .map(|(name, action, id)| Applied {
                    name: name.clone(),
                    action: *action,
                    id: id.clone(),
                })
                .collect(),
            failed: outcome
                .failed
                .iter()
                .map(|(name, e)| Failed {
                    name: name.clone(),
                    error: e.to_string(),
                })
                .collect(),
            skipped: outcome
                .skipped
                .iter()
                .map(|(name, blocked_by)| Skipped {
                    name: name.clone(),
                    blocked_by: blocked_by.clone(),
                })
                .collect(),
        }
    }
}

/// What `down` (or `sweep`, for one env) deleted and left.
#[derive(Debug, Serialize)]
pub struct DownReport {
    pub schema_version: u32,
    pub lab: String,
    pub env: String,
    pub deleted: Vec<Deleted>,
    pub left: Vec<Left>,
    /// Kinds that could not be listed: what they hold was not looked at, so not deleted.
    pub not_looked_at: Vec<Unlisted>,
}

#[derive(Debug, Serialize)]
pub struct Deleted {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub id: String,
}

#[derive(Debug, Serialize)]
pub struct Left {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub id: String,
    pub reason: String,
}

impl DownReport {
    pub fn of(lab: &str, env: &str, outcome: &DestroyOutcome) -> Self {
        DownReport {
            schema_version: SCHEMA_VERSION,
            lab: lab.to_owned(),
            env: env.to_owned(),
            deleted: outcome
                .deleted
                .iter()
                .map(|(name, kind, id)| Deleted {
                    name: name.clone(),
                    kind: *kind,
                    id: id.clone(),
                })
                .collect(),
            left: outcome
                .left
                .iter()
                .map(|(name, kind, id, reason)| Left {
                    name: name.clone(),
                    kind: *kind,
                    id: id.clone(),
                    reason: reason.clone(),
                })
                .collect(),
            not_looked_at: outcome.not_looked_at.clone(),
        }
    }
}

/// What `sweep` found and, with `--yes`, did.
#[derive(Debug, Serialize)]
pub struct SweepReport {
    pub schema_version: u32,
    /// Without `--yes`: nothing was deleted.
    pub dry_run: bool,
    pub environments: Vec<SweptEnv>,
    /// Regions or kinds that could not be listed.
    pub not_looked_at: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SweptEnv {
    pub lab: String,
    pub env: String,
    pub region: String,
    /// The account, when several were swept (`--roster`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Resources it had when listed.
    pub resources: usize,
    /// Its teardown (none in a dry run, or when it could not start: see `error`).
    pub down: Option<DownReport>,
    pub error: Option<String>,
}
