//! `up --roster`: the quota preflight for the class, then every student's env.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::future::join_all;

use super::{each, seats, stats_summary, verdict};
use crate::aws::tags::Owner;
use crate::aws::{self, Aws};
use crate::commands::{Provisioned, UpArgs, provision};
use crate::engine::Prefixed;
use crate::error::Error;
use crate::lab::{Lab, StageSel};
use crate::settings::{Class, Format, Settings};
use crate::ui::class::{self as view, Line};
use crate::ui::{Printer, TermReporter};

/// `up --roster`: the quota preflight for the whole class, then every student's env.
pub async fn up(
    s: &Settings,
    p: &Printer,
    lab: &Lab,
    args: &UpArgs,
    class: &Class,
    jobs: usize,
) -> Result<u8, Error> {
    let action = format!("create lab {} ({})", lab.id, args.stage_text());
    let (seats, stats_) = seats(s, p, class, Some((&action, args.yes, args.force))).await?;
    // Per account and region: what could not be read there stops its students only.
    let mut unread: BTreeMap<(String, String), String> = BTreeMap::new();
    if !args.skip_preflight {
        let mut groups: BTreeMap<(String, String), (&Aws, Vec<Owner>)> = BTreeMap::new();
        for seat in &seats {
            if let Ok(account) = &seat.account {
                groups
                    .entry((account.clone(), seat.aws.region.clone()))
                    .or_insert((&seat.aws, Vec::new()))
                    .1
                    .push(seat.owner(&lab.id));
            }
        }
        // All at once, so account-wide quotas add up across regions; only when that cannot be
        // read, each account and region alone, to stop only the students of what failed.
        let all: Vec<crate::quota::Target<'_>> = groups
            .iter()
            .map(|((account, _), (aws, envs))| crate::quota::Target {
                aws,
                account: account.clone(),
                lab,
                stage: args.stage,
                envs: envs.clone(),
            })
            .collect();
        let whole = crate::quota::preflight(&all).await;
        let read = match whole {
            Ok(pf) => vec![(None, Ok(pf))],
            Err(_) => {
                join_all(groups.into_iter().map(|(key, (aws, envs))| async move {
                    let pf = quota_of(aws, &key.0, envs, lab, args.stage).await;
                    (Some(key), pf)
                }))
                .await
            }
        };
        let mut found = Vec::new();
        for (key, pf) in read {
            match pf {
                Ok(pf) => found.push(pf),
                Err(e) => {
                    if let Some(key) = key {
                        p.warn(&format!(
                            "quota preflight: cannot read account {} in {}: {e}",
                            key.0, key.1
                        ));
                        unread.insert(key, e.to_string());
                    }
                }
            }
        }
        refuse_if_short(p, &found)?;
    }
    let started = Instant::now();
    let reporter = TermReporter::new(p);
    let unread = &unread;
    let results = each(&seats, jobs, |seat, account| {
        let reporter = &reporter;
        async move {
            if let Some(e) = unread.get(&(account.to_owned(), seat.aws.region.clone())) {
                return Err(format!("quota preflight failed: {e}"));
            }
            let prefixed = Prefixed {
                inner: reporter,
                label: seat.student.env.clone(),
            };
            provision(
                s,
                &seat.aws,
                account,
                lab,
                &seat.student.env,
                args,
                &prefixed,
            )
            .await
            .map_err(|e| e.to_string())
        }
    })
    .await;
    let lines: Vec<Line> = seats
        .iter()
        .zip(&results)
        .map(|(seat, r)| match r {
            Ok(done) => Line::of(seat, done.complete(), up_text(done)),
            Err(e) => Line::of(seat, false, e.clone()),
        })
        .collect();
    for (seat, r) in seats.iter().zip(&results) {
        if let Ok(done) = r {
            for (name, url) in &done.urls {
                p.info(&format!("{}: {name}: {url}", seat.student.env));
            }
        }
    }
    if p.format == Format::Json {
        p.json(&view::class_json(&lab.id, "up", &lines));
    } else {
        p.out(&view::lines(p, "up", &lines));
    }
    p.info(&format!(
        "up {} for {} student(s) in {:.1}s, {jobs} at a time",
        lab.id,
        seats.len(),
        started.elapsed().as_secs_f64()
    ));
    stats_summary(p, "up", &stats_, started);
    verdict(&format!("up {}", lab.id), &lines, "awslab up")
}

fn up_text(done: &Provisioned) -> String {
    use crate::engine::Verb;
    let o = &done.outcome;
    let counts = format!(
        "{} created, {} updated, {} unchanged",
        o.count(Verb::Create),
        o.count(Verb::Update),
        o.count(Verb::Keep)
    );
    if done.complete() {
        counts
    } else {
        format!("{counts}; {}", done.detail().replace('\n', "; "))
    }
}

/// The quota preflight of `up` in one account and region: what `envs` (those not up yet) of the
/// lab need against the applied quotas and what is used now.
pub async fn quota_of(
    aws: &Aws,
    account: &str,
    envs: Vec<Owner>,
    lab: &Lab,
    stage: StageSel,
) -> Result<crate::quota::Preflight, aws::AwsError> {
    crate::quota::preflight(&[crate::quota::Target {
        aws,
        account: account.to_owned(),
        lab,
        stage,
        envs,
    }])
    .await
}

/// Refuses, with the table of every account and region, when one of them is short; else says
/// the quotas have room (the table with `-v`).
pub fn refuse_if_short(p: &Printer, found: &[crate::quota::Preflight]) -> Result<(), Error> {
    let refusal = found.iter().find_map(crate::quota::Preflight::refusal);
    if refusal.is_some() || p.verbose > 0 {
        for pf in found {
            for line in crate::ui::quota::preflight(p, pf).lines() {
                p.info(line);
            }
        }
    }
    match refusal {
        Some(r) => Err(Box::new(r).into()),
        None => {
            p.info("quota preflight: every quota has room");
            Ok(())
        }
    }
}
