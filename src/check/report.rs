//! The check report: what every reporter (text, JSON, JUnit) renders. The JSON shape is stable:
//! fields are only added, and a change that is not an addition bumps [`SCHEMA_VERSION`].

use serde::Serialize;

use crate::lab::{Kind, StageSel};

/// Version of the JSON report's shape.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Error,
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: String,
    pub title: String,
    pub status: Status,
    pub points: u32,
    pub max_points: u32,
    pub message: String,
    pub hint: String,
    /// Expected and found, for resource checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// How the resource was found, on a resource's `exists` check when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found_by: Option<FoundBy>,
    /// Where a path that must get through breaks, on a failed `reachable` check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<PathBlocked>,
}

/// Where the traffic of a `reachable` check stops: the pair of hosts, the resource that stops
/// it (a route table, NACL, security groups or NAT gateway, by id and by the lab's name where it
/// has one) and why, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathBlocked {
    pub from: String,
    pub to: String,
    /// The kind of resource that stops it; absent when no resource does (a host that is down).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// The AWS ids of the resources that stop it (a host's security groups, together).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// The lab's names for them, where they are bound to one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    pub reason: String,
}

/// How `check` found a declared resource: by the awslab tags of the lab and env, by a name
/// (hand-built), or through its relation to resources already found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Tags,
    Name,
    Relation,
}

/// What was found for a declared resource, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundBy {
    /// The id of what was found.
    pub id: String,
    pub method: Method,
    /// The name it was matched by (`bob-lab-vpc`), for [`Method::Name`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// In words: `by Name tag `bob-lab-vpc``, `by key name `lab-key``, `through its association
    /// with public-a`.
    pub how: String,
}

impl FoundBy {
    pub fn tags(id: &str) -> Self {
        FoundBy {
            id: id.to_owned(),
            method: Method::Tags,
            name: None,
            how: "by awslab tags".to_owned(),
        }
    }

    /// Matched by `name` as `what` (`Name tag`, `key name`, `group name`, ...).
    pub fn name(id: &str, what: &str, name: &str) -> Self {
        FoundBy {
            id: id.to_owned(),
            method: Method::Name,
            name: Some(name.to_owned()),
            how: format!("by {what} `{name}`"),
        }
    }

    /// Found through a relation, said in words (`through its association with public-a`).
    pub fn relation(id: &str, how: String) -> Self {
        FoundBy {
            id: id.to_owned(),
            method: Method::Relation,
            name: None,
            how,
        }
    }
}

impl CheckResult {
    pub fn pass(id: String, title: String, max: u32, message: String) -> Self {
        CheckResult {
            id,
            title,
            status: Status::Pass,
            points: max,
            max_points: max,
            message,
            hint: String::new(),
            expected: None,
            found: None,
            found_by: None,
            blocked: None,
        }
    }

    /// Not run, with the reason; worth no points either way.
    pub fn skip(id: String, title: String, reason: String) -> Self {
        CheckResult {
            id,
            title,
            status: Status::Skip,
            points: 0,
            max_points: 0,
            message: reason,
            hint: String::new(),
            expected: None,
            found: None,
            found_by: None,
            blocked: None,
        }
    }

    pub fn fail(id: String, title: String, max: u32, message: String, hint: String) -> Self {
        CheckResult {
            id,
            title,
            status: Status::Fail,
            points: 0,
            max_points: max,
            message,
            hint,
            expected: None,
            found: None,
            found_by: None,
            blocked: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub lab: String,
    pub env: String,
    /// `setup` or `full`: which part of the lab was graded.
    pub stage: &'static str,
    /// The prefix hand-built resources were found by (`--name-prefix`), when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Every check passed or was skipped.
    pub passed: bool,
    pub score: u32,
    pub max_score: u32,
    pub checks: Vec<CheckResult>,
}

impl Report {
    pub fn new(lab: String, env: String, stage: StageSel, checks: Vec<CheckResult>) -> Self {
        Report {
            schema_version: SCHEMA_VERSION,
            stage: match stage {
                StageSel::Setup => "setup",
                StageSel::Full => "full",
            },
            passed: checks
                .iter()
                .all(|c| matches!(c.status, Status::Pass | Status::Skip)),
            score: checks.iter().map(|c| c.points).sum(),
            max_score: checks.iter().map(|c| c.max_points).sum(),
            name_prefix: None,
            lab,
            env,
            checks,
        }
    }

    pub fn passed(&self) -> bool {
        self.passed
    }

    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The resources found by a name rather than by awslab's tags (hand-built ones adopted).
    pub fn found_by_name(&self) -> Vec<&FoundBy> {
        self.checks
            .iter()
            .filter_map(|c| c.found_by.as_ref())
            .filter(|f| f.method == Method::Name)
            .collect()
    }
}
