//! The check report: what every reporter (text, JSON, JUnit) renders. The JSON shape is stable:
//! fields are only added, and a change that is not an addition bumps [`SCHEMA_VERSION`].

use serde::Serialize;

use crate::lab::StageSel;

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
}
