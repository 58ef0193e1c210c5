//! The gradebook as data: JSON (the whole book), CSV (one row per student, for a spreadsheet)
//! and JUnit XML (one testsuite per student, for a CI dashboard).

use super::book::{Gradebook, StudentOutcome};
use crate::error::Error;

/// The gradebook as pretty JSON: schema version, lab, the check columns with their pass rates
/// and every student's row (report or error).
pub fn json(gb: &Gradebook) -> Result<String, Error> {
    serde_json::to_string_pretty(gb)
        .map_err(|e| Error::usage(format!("cannot serialise the gradebook: {e}"), None))
}

/// CSV (RFC 4180): a header `student,account,region,score,max_score,passed,error` then one column
/// per check id, and one row per student. A check's cell holds the points earned, so a
/// spreadsheet can add them up; it is empty where the student's report lacks the check. A student
/// who was not graded has empty scores and checks, `passed` false and the reason in `error`.
pub fn csv(gb: &Gradebook) -> Result<String, Error> {
    let fail =
        |e: ::csv::Error| Error::usage(format!("cannot write the gradebook as CSV: {e}"), None);
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut header: Vec<&str> = vec![
        "student",
        "account",
        "region",
        "score",
        "max_score",
        "passed",
        "error",
    ];
    header.extend(gb.checks.iter().map(|c| c.id.as_str()));
    w.write_record(&header).map_err(fail)?;
    for s in &gb.students {
        let mut row = vec![
            s.name.clone(),
            s.account.clone().unwrap_or_default(),
            s.region.clone().unwrap_or_default(),
        ];
        match &s.outcome {
            StudentOutcome::Graded(r) => {
                row.extend([
                    r.score.to_string(),
                    r.max_score.to_string(),
                    r.passed.to_string(),
                    String::new(),
                ]);
                row.extend(gb.checks.iter().map(|col| {
                    s.check(&col.id)
                        .map(|c| c.points.to_string())
                        .unwrap_or_default()
                }));
            }
            StudentOutcome::NotGraded { error } => {
                row.extend([String::new(), String::new(), "false".into(), error.clone()]);
                row.extend(gb.checks.iter().map(|_| String::new()));
            }
        }
        w.write_record(&row).map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::usage(format!("cannot write the gradebook as CSV: {e}"), None))?;
    String::from_utf8(bytes)
        .map_err(|e| Error::usage(format!("the gradebook's CSV is not UTF-8: {e}"), None))
}

/// JUnit XML: one testsuite per student (named after the student), one testcase per check in the
/// gradebook's column order. A failure carries the message; its text adds expected, found and the
/// hint. A check the student's report lacks is skipped; a student who was not graded is a suite
/// with one errored testcase, `grading`, whose message says why.
pub fn junit(gb: &Gradebook) -> Result<String, Error> {
    use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
    let mut report = quick_junit::Report::new(format!("awslab gradebook {}", gb.lab));
    for s in &gb.students {
        let mut suite = TestSuite::new(s.name.clone());
        suite.add_property(Property::new("stage", gb.stage));
        if let Some(account) = &s.account {
            suite.add_property(Property::new("account", account.clone()));
        }
        if let Some(region) = &s.region {
            suite.add_property(Property::new("region", region.clone()));
        }
        match &s.outcome {
            StudentOutcome::NotGraded { error } => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message(format!("not graded: {error}"));
                let mut case = TestCase::new("grading", status);
                case.set_classname(gb.lab.clone());
                suite.add_test_case(case);
            }
            StudentOutcome::Graded(r) => {
                suite.add_properties([
                    Property::new("env", r.env.clone()),
                    Property::new("score", r.score.to_string()),
                    Property::new("max_score", r.max_score.to_string()),
                ]);
                for col in &gb.checks {
                    let status = match s.check(&col.id) {
                        None => {
                            let mut st = TestCaseStatus::skipped();
                            st.set_message("not in this student's report");
                            st
                        }
                        Some(c) => crate::ui::render::junit_status(c),
                    };
                    let mut case = TestCase::new(format!("{}: {}", col.id, col.title), status);
                    case.set_classname(gb.lab.clone());
                    let points = s.check(&col.id).map_or(0, |c| c.points);
                    case.add_properties([
                        Property::new("id", col.id.clone()),
                        Property::new("points", points.to_string()),
                        Property::new("max_points", col.max_points.to_string()),
                    ]);
                    suite.add_test_case(case);
                }
            }
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .map_err(|e| Error::usage(format!("cannot write the gradebook as JUnit: {e}"), None))
}

#[cfg(test)]
mod tests {
    use super::{csv, json, junit};
    use crate::gradebook::book::tests::class;

    #[test]
    fn csv_of_a_class() {
        let text = csv(&class()).expect("csv");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn csv_quotes_commas_quotes_and_round_trips() {
        let gb = class();
        let text = csv(&gb).expect("csv");
        // RFC 4180: a field with a comma or quote is quoted, its quotes doubled; lines end CRLF.
        assert!(text.contains("\"Bob \"\"the builder\"\", <b>\""), "{text}");
        assert!(text.lines().all(|l| !l.contains('\n')));
        assert!(text.contains("\r\n"));
        let mut r = ::csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let header = r.headers().expect("header").clone();
        assert_eq!(header.len(), 7 + gb.checks.len());
        let rows: Vec<::csv::StringRecord> = r.records().collect::<Result<_, _>>().expect("rows");
        assert_eq!(rows.len(), gb.students.len());
        for (row, s) in rows.iter().zip(&gb.students) {
            assert_eq!(&row[0], s.name);
            assert_eq!(row.len(), header.len());
        }
        assert_eq!(
            &rows[3][6],
            "credentials refused: ExpiredToken, \"profile dave\""
        );
        assert_eq!(&rows[3][5], "false");
        // Bob's report has no `routes`: empty, not 0.
        assert_eq!(&rows[1][9], "");
        assert_eq!(&rows[1][8], "0");
    }

    #[test]
    fn json_of_a_class() {
        let gb = class();
        let text = json(&gb).expect("json");
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid json");
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["students"][3]["outcome"], "not_graded");
        assert!(v["students"][3].get("report").is_none());
        assert_eq!(v["students"][0]["report"]["score"], 5);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn junit_has_a_suite_per_student() {
        let gb = class();
        let xml = junit(&gb).expect("junit");
        let mut reader = quick_xml::Reader::from_str(&xml);
        let (mut suites, mut cases, mut errors) = (Vec::new(), 0, 0);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                    match e.name().as_ref() {
                        b"testsuite" => {
                            let name = e
                                .try_get_attribute("name")
                                .expect("attr")
                                .expect("name")
                                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .expect("unescape")
                                .into_owned();
                            suites.push(name);
                        }
                        b"testcase" => cases += 1,
                        b"error" => errors += 1,
                        _ => {}
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("invalid XML: {e}"),
            }
        }
        assert_eq!(
            suites,
            ["alice", "Bob \"the builder\", <b>", "carol", "dave"]
        );
        // Three graded students × four checks, and dave's one `grading` case.
        assert_eq!(cases, 3 * 4 + 1);
        // Carol's `routes` and dave's `grading`.
        assert_eq!(errors, 2);
        assert!(xml.contains("not graded: credentials refused"));
        assert!(xml.contains("expected: 10.0.0.0/16"));
    }
}
