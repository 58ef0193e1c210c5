//! `down`, `status` and `sweep` of a class: every student's env, in their account and region.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use futures::future::join_all;

use super::{Seat, seats, stats_summary, verdict};
use crate::aws::Aws;
use crate::commands::engine_options;
use crate::commands::fleet::{Looked, SweepArgs, environments, sweep_targets};
use crate::engine::fleet::EnvStatus;
use crate::engine::teardown;
use crate::error::{Error, exit};
use crate::settings::{Class, Format, Settings};
use crate::ui::class::{self as view, Line};
use crate::ui::{Printer, TermReporter, render};

/// `down --roster`: every student's env torn down at once.
pub async fn down(
    s: &Settings,
    p: &Printer,
    id: &str,
    yes: bool,
    force: bool,
    class: &Class,
    jobs: usize,
) -> Result<u8, Error> {
    let action = format!("delete everything of lab {id}");
    let (seats, stats_) = seats(s, p, class, Some((&action, yes, force))).await?;
    let started = Instant::now();
    let reporter = TermReporter::new(p);
    let opts = engine_options(s);
    let reachable: Vec<&Seat> = seats.iter().filter(|st| st.account.is_ok()).collect();
    let envs: Vec<teardown::Env<'_>> = reachable
        .iter()
        .map(|seat| teardown::Env {
            aws: &seat.aws,
            owner: seat.owner(id),
        })
        .collect();
    let mut outcomes = teardown::teardown(&envs, jobs, &opts, &reporter)
        .await
        .into_iter();
    let lines: Vec<Line> = seats
        .iter()
        .map(|seat| match &seat.account {
            Err(e) => Line::of(seat, false, format!("cannot act as this student: {e}")),
            Ok(_) => match outcomes.next() {
                Some(Ok(o)) => {
                    let ok = o.left.is_empty() && o.not_looked_at.is_empty();
                    let mut text = format!("{} deleted, {} left", o.deleted.len(), o.left.len());
                    for (n, k, rid, why) in &o.left {
                        text.push_str(&format!("; {n} ({k} {rid}): {why}"));
                    }
                    for u in &o.not_looked_at {
                        text.push_str(&format!("; {} not looked at: {}", u.kind, u.error));
                    }
                    Line::of(seat, ok, text)
                }
                Some(Err(e)) => Line::of(seat, false, e.to_string()),
                None => Line::of(seat, false, "not torn down".to_owned()),
            },
        })
        .collect();
    if p.format == Format::Json {
        p.json(&view::class_json(id, "down", &lines));
    } else {
        p.out(&view::lines(p, "down", &lines));
    }
    p.info(&format!(
        "down {id} for {} student(s) in {:.1}s, {jobs} at a time",
        seats.len(),
        started.elapsed().as_secs_f64()
    ));
    stats_summary(p, "down", &stats_, started);
    verdict(&format!("down {id}"), &lines, "awslab down")
}

/// The lab environments of the roster's students, in each account and region they use, with
/// their account; what could not be looked at is said (once) and returned.
async fn class_envs(p: &Printer, seats: &[Seat]) -> ClassEnvs {
    // One look per account and region.
    let mut places: BTreeMap<(String, String), &Aws> = BTreeMap::new();
    let mut not_looked_at = Vec::new();
    let mut unreachable = 0;
    for seat in seats {
        match &seat.account {
            Ok(a) => {
                places
                    .entry((a.clone(), seat.aws.region.clone()))
                    .or_insert(&seat.aws);
            }
            Err(e) => {
                let n = format!("{}: {e}", seat.student.env);
                p.warn(&format!("not looked at: {n}"));
                not_looked_at.push(n);
                unreachable += 1;
            }
        }
    }
    let looked = join_all(places.iter().map(|((account, region), aws)| async move {
        let r = environments(p, aws, std::slice::from_ref(*aws), false).await;
        (account, region, *aws, r)
    }))
    .await;
    let mut out = Vec::new();
    for (account, region, aws, r) in looked {
        match r {
            Ok(Looked {
                envs,
                not_looked_at: missed,
            }) => {
                not_looked_at.extend(missed.into_iter().map(|m| format!("{account}: {m}")));
                for mut e in envs {
                    let ours = seats.iter().any(|st| {
                        st.student.env == e.env
                            && st.account.as_deref() == Ok(account.as_str())
                            && st.aws.region == *region
                    });
                    if ours {
                        e.account = Some(account.clone());
                        out.push((e, aws.clone()));
                    }
                }
            }
            Err(e) => {
                let n = format!("{account} in {region}: {e}");
                p.warn(&format!("not looked at: {n}"));
                not_looked_at.push(n);
                unreachable += 1;
            }
        }
    }
    ClassEnvs {
        envs: out,
        not_looked_at,
        unreachable,
    }
}

/// What `status` and `sweep` found of a class.
struct ClassEnvs {
    /// Each env with the client of its account and region.
    envs: Vec<(EnvStatus, Aws)>,
    not_looked_at: Vec<String>,
    /// Students, accounts or regions that could not be looked at at all.
    unreachable: usize,
}

/// `status --roster`: every student's environments, by account and region.
pub async fn status(s: &Settings, p: &Printer, class: &Class) -> Result<u8, Error> {
    let (seats, stats_) = seats(s, p, class, None).await?;
    let started = Instant::now();
    let ClassEnvs {
        envs,
        not_looked_at,
        ..
    } = class_envs(p, &seats).await;
    let envs: Vec<EnvStatus> = envs.into_iter().map(|(e, _)| e).collect();
    match p.format {
        Format::Json => p.json(&envs),
        Format::Text | Format::Junit | Format::Mermaid => {
            p.out(&render::status(p, &envs, SystemTime::now()))
        }
    }
    stats_summary(p, "status", &stats_, started);
    Ok(if not_looked_at.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// `sweep --roster`: what `sweep` would take, in the students' accounts and regions, of their
/// envs only.
pub async fn sweep(s: &Settings, p: &Printer, args: SweepArgs, class: &Class) -> Result<u8, Error> {
    let guard = args
        .yes
        .then(|| ("delete lab environments".to_owned(), true, args.force));
    let (seats, stats_) = seats(
        s,
        p,
        class,
        guard.as_ref().map(|(a, y, f)| (a.as_str(), *y, *f)),
    )
    .await?;
    let started = Instant::now();
    let now = SystemTime::now();
    let found = class_envs(p, &seats).await;
    let targets: Vec<(EnvStatus, Aws)> = found
        .envs
        .into_iter()
        .filter(|(e, _)| args.takes(e, now))
        .collect();
    let result = sweep_targets(s, p, &args, None, targets, found.not_looked_at).await;
    stats_summary(p, "sweep", &stats_, started);
    // What could not be looked at may still hold envs: the exit code says so.
    match result {
        Ok(exit::OK) if found.unreachable > 0 => Ok(exit::FAILED),
        other => other,
    }
}
