//! The gradebook's data: one row per student (a report, or why there is none) and one column per
//! check, with how many students passed it. The JSON shape is stable as the report's is: fields
//! are only added, and a change that is not an addition bumps [`SCHEMA_VERSION`].

use serde::Serialize;
use serde::ser::SerializeStruct;

use crate::check::{CheckResult, Report, Status};
use crate::lab::StageSel;

/// Version of the gradebook's JSON shape.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Gradebook {
    pub schema_version: u32,
    pub lab: String,
    /// `setup` or `full`, as in the reports.
    pub stage: &'static str,
    /// When the class was graded (RFC 3339), given by the caller.
    pub generated_at: String,
    /// The checks in the first graded report's order, then any others in the order first seen.
    pub checks: Vec<CheckColumn>,
    pub students: Vec<StudentRow>,
}

/// One check across the class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckColumn {
    pub id: String,
    pub title: String,
    /// The most any report gives for it (a skipped check is worth 0 in its report).
    pub max_points: u32,
    /// `passed / graded`, 0 when nobody was graded on it.
    pub pass_rate: f64,
    pub passed: usize,
    /// Students whose report ran it (passed, failed or errored; skipped and absent do not count).
    pub graded: usize,
}

#[derive(Debug, Clone)]
pub struct StudentRow {
    pub name: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub outcome: StudentOutcome,
}

/// A student's report, or why `check` could not run for them at all (credentials refused, the
/// account unreachable): such a student stays in the gradebook as a row of errors.
#[derive(Debug, Clone)]
pub enum StudentOutcome {
    Graded(Report),
    NotGraded { error: String },
}

impl StudentRow {
    pub fn graded(name: impl Into<String>, report: Report) -> Self {
        StudentRow {
            name: name.into(),
            account: None,
            region: None,
            outcome: StudentOutcome::Graded(report),
        }
    }

    pub fn not_graded(name: impl Into<String>, error: impl Into<String>) -> Self {
        StudentRow {
            name: name.into(),
            account: None,
            region: None,
            outcome: StudentOutcome::NotGraded {
                error: error.into(),
            },
        }
    }

    pub fn report(&self) -> Option<&Report> {
        match &self.outcome {
            StudentOutcome::Graded(r) => Some(r),
            StudentOutcome::NotGraded { .. } => None,
        }
    }

    /// Why the student was not graded, if they were not.
    pub fn error(&self) -> Option<&str> {
        match &self.outcome {
            StudentOutcome::Graded(_) => None,
            StudentOutcome::NotGraded { error } => Some(error),
        }
    }

    /// The student's result for check `id`, if their report has it.
    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.report()?.checks.iter().find(|c| c.id == id)
    }

    /// Score as a share of the maximum (0 to 1), for graded students with a maximum above 0.
    pub fn score_ratio(&self) -> Option<f64> {
        let r = self.report()?;
        (r.max_score > 0).then(|| f64::from(r.score) / f64::from(r.max_score))
    }
}

/// `{"name", "account", "region", "outcome": "graded", "report": {..}}`, or `"outcome":
/// "not_graded"` with `"error"` in place of the report.
impl Serialize for StudentRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut row = s.serialize_struct("StudentRow", 5)?;
        row.serialize_field("name", &self.name)?;
        row.serialize_field("account", &self.account)?;
        row.serialize_field("region", &self.region)?;
        match &self.outcome {
            StudentOutcome::Graded(report) => {
                row.serialize_field("outcome", "graded")?;
                row.serialize_field("report", report)?;
            }
            StudentOutcome::NotGraded { error } => {
                row.serialize_field("outcome", "not_graded")?;
                row.serialize_field("error", error)?;
            }
        }
        row.end()
    }
}

impl Gradebook {
    pub fn new(
        lab: String,
        stage: StageSel,
        generated_at: String,
        students: Vec<StudentRow>,
    ) -> Self {
        let mut checks: Vec<CheckColumn> = Vec::new();
        for report in students.iter().filter_map(StudentRow::report) {
            for c in &report.checks {
                let i = match checks.iter().position(|col| col.id == c.id) {
                    Some(i) => i,
                    None => {
                        checks.push(CheckColumn {
                            id: c.id.clone(),
                            title: c.title.clone(),
                            max_points: 0,
                            pass_rate: 0.0,
                            passed: 0,
                            graded: 0,
                        });
                        checks.len() - 1
                    }
                };
                let col = &mut checks[i];
                col.max_points = col.max_points.max(c.max_points);
                if c.status != Status::Skip {
                    col.graded += 1;
                }
                if c.status == Status::Pass {
                    col.passed += 1;
                }
            }
        }
        for col in &mut checks {
            if col.graded > 0 {
                col.pass_rate = col.passed as f64 / col.graded as f64;
            }
        }
        Gradebook {
            schema_version: SCHEMA_VERSION,
            lab,
            stage: match stage {
                StageSel::Setup => "setup",
                StageSel::Full => "full",
            },
            generated_at,
            checks,
            students,
        }
    }

    /// The students with a report.
    pub fn graded(&self) -> impl Iterator<Item = &StudentRow> {
        self.students.iter().filter(|s| s.report().is_some())
    }

    /// The students `check` could not run for.
    pub fn not_graded(&self) -> impl Iterator<Item = &StudentRow> {
        self.students.iter().filter(|s| s.report().is_none())
    }

    /// The mean of the graded students' score ratios (0 to 1), if any has a maximum above 0.
    pub fn average_score(&self) -> Option<f64> {
        let ratios: Vec<f64> = self
            .students
            .iter()
            .filter_map(StudentRow::score_ratio)
            .collect();
        (!ratios.is_empty()).then(|| ratios.iter().sum::<f64>() / ratios.len() as f64)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{Gradebook, StudentRow};
    use crate::check::{CheckResult, Report, Status};
    use crate::lab::StageSel;

    fn pass(id: &str, points: u32) -> CheckResult {
        CheckResult::pass(id.into(), format!("{id} is right"), points, "ok".into())
    }

    fn fail(id: &str, points: u32) -> CheckResult {
        let mut c = CheckResult::fail(
            id.into(),
            format!("{id} is right"),
            points,
            format!("{id} is wrong"),
            format!("fix {id}"),
        );
        c.expected = Some("10.0.0.0/16".into());
        c.found = Some("10.1.0.0/16".into());
        c
    }

    fn report(env: &str, checks: Vec<CheckResult>) -> Report {
        Report::new("vpc-basic".into(), env.into(), StageSel::Full, checks)
    }

    /// Four students: one with everything, one who failed the CIDR and whose report lacks the
    /// late check, one whose check hit an AWS error and skipped the live one, and one whose
    /// credentials were refused. Names and messages carry characters every format must quote.
    pub(crate) fn class() -> Gradebook {
        let mut error = CheckResult::fail(
            "routes".into(),
            "routes are right".into(),
            2,
            "DescribeRouteTables: RequestLimitExceeded".into(),
            String::new(),
        );
        error.status = Status::Error;
        let mut alice = StudentRow::graded(
            "alice",
            report(
                "alice",
                vec![pass("vpc", 1), pass("cidr", 2), pass("routes", 2)],
            ),
        );
        alice.account = Some("111122223333".into());
        alice.region = Some("eu-west-1".into());
        let bob = StudentRow::graded(
            "Bob \"the builder\", <b>",
            report("bob", vec![pass("vpc", 1), fail("cidr", 2)]),
        );
        let carol = StudentRow::graded(
            "carol",
            report(
                "carol",
                vec![
                    pass("vpc", 1),
                    fail("cidr", 2),
                    error,
                    CheckResult::skip("live".into(), "live reach".into(), "no --live".into()),
                ],
            ),
        );
        let mut dave = StudentRow::not_graded(
            "dave",
            "credentials refused: ExpiredToken, \"profile dave\"",
        );
        dave.region = Some("us-east-1".into());
        Gradebook::new(
            "vpc-basic".into(),
            StageSel::Full,
            "2026-11-23T12:00:00Z".into(),
            vec![alice, bob, carol, dave],
        )
    }

    #[test]
    fn columns_union_in_first_seen_order_with_pass_rates() {
        let gb = class();
        let ids: Vec<&str> = gb.checks.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["vpc", "cidr", "routes", "live"]);
        let col = |id: &str| gb.checks.iter().find(|c| c.id == id).expect("column");
        // Dave was not graded: he counts in no column.
        assert_eq!((col("vpc").passed, col("vpc").graded), (3, 3));
        assert_eq!(col("vpc").pass_rate, 1.0);
        assert_eq!((col("cidr").passed, col("cidr").graded), (1, 3));
        assert!((col("cidr").pass_rate - 1.0 / 3.0).abs() < 1e-9);
        // Only alice and carol have `routes`; carol's errored, which is not a pass.
        assert_eq!((col("routes").passed, col("routes").graded), (1, 2));
        assert_eq!(col("routes").pass_rate, 0.5);
        assert_eq!(col("routes").max_points, 2);
        // Skipped by the only report that has it: nobody graded, worth nothing.
        assert_eq!((col("live").passed, col("live").graded), (0, 0));
        assert_eq!(col("live").pass_rate, 0.0);
        assert_eq!(col("live").max_points, 0);
    }

    #[test]
    fn not_graded_students_stay_in_the_book() {
        let gb = class();
        assert_eq!(gb.students.len(), 4);
        assert_eq!(gb.graded().count(), 3);
        let names: Vec<&str> = gb.not_graded().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["dave"]);
        assert!(gb.students[3].check("vpc").is_none());
        assert!(gb.students[1].check("routes").is_none());
        // alice 5/5, bob 1/3, carol 1/5.
        let avg = gb.average_score().expect("average");
        assert!((avg - (1.0 + 1.0 / 3.0 + 0.2) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn column_order_starts_from_the_first_graded_report() {
        let gb = Gradebook::new(
            "lab".into(),
            StageSel::Setup,
            "2026-01-01T00:00:00Z".into(),
            vec![
                StudentRow::not_graded("x", "unreachable"),
                StudentRow::graded("y", report("y", vec![pass("b", 1), pass("a", 1)])),
                StudentRow::graded("z", report("z", vec![pass("c", 1), pass("a", 1)])),
            ],
        );
        let ids: Vec<&str> = gb.checks.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["b", "a", "c"]);
        assert_eq!(gb.stage, "setup");
        assert!(
            Gradebook::new("lab".into(), StageSel::Full, String::new(), vec![])
                .average_score()
                .is_none()
        );
    }
}
