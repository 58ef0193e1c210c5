//! What a class command (`--roster`) shows: who acts where, each student's result, and the
//! class's grades.

use comfy_table::{Table, presets};
use serde::Serialize;

use super::Printer;
use crate::gradebook::{Gradebook, StudentOutcome};

/// One student as the seats table shows them, before anything is done.
pub struct SeatRow {
    pub env: String,
    pub name: String,
    /// The account id, or why it could not be had.
    pub account: Result<String, String>,
    pub alias: Option<String>,
    pub region: String,
    /// The role, the profile, or the default credentials.
    pub via: String,
}

/// Who the command acts for, and where: account id, alias and region of each student.
pub fn seats(p: &Printer, rows: &[SeatRow]) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(vec!["STUDENT", "ENV", "ACCOUNT", "ALIAS", "REGION", "AS"]);
    for r in rows {
        t.add_row(vec![
            r.name.clone(),
            r.env.clone(),
            match &r.account {
                Ok(a) => a.clone(),
                Err(e) => p.red(&format!("unreachable: {e}")),
            },
            r.alias.clone().unwrap_or_else(|| "-".to_owned()),
            r.region.clone(),
            r.via.clone(),
        ]);
    }
    let accounts: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r.account.as_deref().ok())
        .collect();
    format!(
        "{t}\n{} student(s) in {} account(s)\n",
        rows.len(),
        accounts.len()
    )
}

/// One student's result of `up` or `down`.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub env: String,
    pub name: String,
    pub account: Option<String>,
    pub region: String,
    pub ok: bool,
    pub detail: String,
}

/// Each student's result, failures in red.
pub fn lines(p: &Printer, verb: &str, lines: &[Line]) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(vec![
        "STUDENT", "ENV", "ACCOUNT", "REGION", "RESULT", "DETAIL",
    ]);
    for l in lines {
        t.add_row(vec![
            l.name.clone(),
            l.env.clone(),
            l.account.clone().unwrap_or_else(|| "-".to_owned()),
            l.region.clone(),
            if l.ok { p.green("ok") } else { p.red("failed") },
            l.detail.clone(),
        ]);
    }
    let failed = lines.iter().filter(|l| !l.ok).count();
    format!(
        "{t}\n{verb}: {} of {} student(s) ok{}\n",
        lines.len() - failed,
        lines.len(),
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        }
    )
}

/// `up`'s or `down`'s class report for `--format json`.
pub fn class_json(lab: &str, verb: &str, lines: &[Line]) -> serde_json::Value {
    serde_json::json!({
        "schema_version": crate::engine::report::SCHEMA_VERSION,
        "lab": lab,
        "command": verb,
        "ok": lines.iter().all(|l| l.ok),
        "students": lines,
    })
}

/// The class's grades on the terminal: a row per student (score, the checks they failed), then
/// each check's pass rate, worst first.
pub fn gradebook(p: &Printer, book: &Gradebook) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(vec![
        "STUDENT",
        "ACCOUNT",
        "SCORE",
        "RESULT",
        "FAILED CHECKS",
    ]);
    for row in &book.students {
        let account = row.account.clone().unwrap_or_else(|| "-".to_owned());
        match &row.outcome {
            StudentOutcome::Graded(r) => {
                let failed: Vec<&str> = r
                    .checks
                    .iter()
                    .filter(|c| {
                        matches!(
                            c.status,
                            crate::check::Status::Fail | crate::check::Status::Error
                        )
                    })
                    .map(|c| c.id.as_str())
                    .collect();
                t.add_row(vec![
                    row.name.clone(),
                    account,
                    format!("{}/{}", r.score, r.max_score),
                    if r.passed() {
                        p.green("passed")
                    } else {
                        p.red("failed")
                    },
                    failed.join(", "),
                ]);
            }
            StudentOutcome::NotGraded { error } => {
                t.add_row(vec![
                    row.name.clone(),
                    account,
                    "-".to_owned(),
                    p.red("not graded"),
                    error.clone(),
                ]);
            }
        }
    }
    let mut rates = Table::new();
    rates.load_preset(presets::NOTHING);
    rates.set_header(vec!["CHECK", "PASSED", "OF", "RATE"]);
    let mut checks: Vec<_> = book.checks.iter().collect();
    checks.sort_by(|a, b| a.pass_rate.total_cmp(&b.pass_rate));
    for c in checks {
        rates.add_row(vec![
            c.id.clone(),
            c.passed.to_string(),
            c.graded.to_string(),
            format!("{:.0}%", c.pass_rate * 100.0),
        ]);
    }
    format!("{t}\n\n{rates}\n")
}
