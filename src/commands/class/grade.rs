//! `check --roster`: every student graded into one gradebook.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use super::{each, seats, stats_summary};
use crate::aws::Aws;
use crate::check::{self, Names};
use crate::commands::write_report;
use crate::error::{Error, exit};
use crate::gradebook::{self, Gradebook, StudentOutcome, StudentRow};
use crate::lab::{Lab, StageSel};
use crate::settings::{Class, Format, ReportFormat, Settings};
use crate::ui::Printer;
use crate::ui::class::{self as view};

/// What `check --roster` is asked.
pub struct CheckArgs {
    pub stage: StageSel,
    pub output: Vec<(PathBuf, ReportFormat)>,
    pub live: bool,
    /// `--name-prefix` as written: the prefix of students the roster gives none.
    pub name_prefix: Option<String>,
}

/// `check --roster`: every student graded, then one gradebook for the class.
pub async fn check(
    s: &Settings,
    p: &Printer,
    lab: &Lab,
    args: CheckArgs,
    class: &Class,
    jobs: usize,
) -> Result<u8, Error> {
    let (seats, stats_) = seats(s, p, class, None).await?;
    // Live checks run commands on instances: with an allow-list, only in its accounts.
    if args.live {
        let mut accounts: BTreeMap<&str, &Aws> = BTreeMap::new();
        for seat in &seats {
            if let Ok(a) = &seat.account {
                accounts.entry(a).or_insert(&seat.aws);
            }
        }
        for aws in accounts.values() {
            crate::guard::check_allowed(
                aws,
                &format!("run live checks of {}", lab.id),
                s.allowed_accounts.as_ref(),
            )
            .await?;
        }
    }
    let started = Instant::now();
    let results = each(&seats, jobs, |seat, _account| {
        let fallback = args.name_prefix.as_ref();
        async move {
            let names = match seat.student.name_prefix.as_ref().or(fallback) {
                Some(prefix) => Names::parse(prefix, &seat.student.env)
                    .map_err(|e| format!("name prefix `{prefix}`: {e}"))?,
                None => Names::unprefixed(),
            };
            let live = match (args.live, seat.aws.is_emulator()) {
                (false, _) => check::Live::Off,
                (true, true) => check::Live::Emulator,
                (true, false) => check::Live::On,
            };
            let opts = check::CheckOptions {
                stage: args.stage,
                live,
                names,
            };
            check::check(&seat.aws, lab, opts, &seat.owner(&lab.id))
                .await
                .map_err(|e| e.to_string())
        }
    })
    .await;
    let rows: Vec<StudentRow> = seats
        .iter()
        .zip(results)
        .map(|(seat, r)| StudentRow {
            name: if seat.student.name == seat.student.env {
                seat.student.env.clone()
            } else {
                format!("{} ({})", seat.student.name, seat.student.env)
            },
            account: seat.account.as_ref().ok().cloned(),
            region: Some(seat.aws.region.clone()),
            outcome: match r {
                Ok(report) => StudentOutcome::Graded(report),
                Err(error) => StudentOutcome::NotGraded { error },
            },
        })
        .collect();
    let book = Gradebook::new(
        lab.id.clone(),
        args.stage,
        crate::engine::fleet::timestamp(SystemTime::now()),
        rows,
    );
    match p.format {
        Format::Json => p.json(&book),
        Format::Junit => p.out(&gradebook::junit(&book)?),
        Format::Text | Format::Mermaid => p.out(&view::gradebook(p, &book)),
    }
    for (path, format) in &args.output {
        let text = match format {
            ReportFormat::Json => gradebook::json(&book)?,
            ReportFormat::Junit => gradebook::junit(&book)?,
            ReportFormat::Csv => gradebook::csv(&book)?,
            ReportFormat::Html => gradebook::html(&book),
        };
        write_report(path, &text)?;
        p.info(&format!("gradebook written to {}", path.display()));
    }
    stats_summary(p, "check", &stats_, started);
    let all_passed = book.students.iter().all(|row| match &row.outcome {
        StudentOutcome::Graded(r) => r.passed(),
        StudentOutcome::NotGraded { .. } => false,
    });
    Ok(if all_passed { exit::OK } else { exit::FAILED })
}
