//! `status` and `sweep`: lab environments across labs and envs (and regions), found by tags.

use std::time::SystemTime;

use futures::future::join_all;

use super::{confirm, engine_options, stats};
use crate::aws::{self, Aws, AwsSettings};
use crate::engine::fleet::{self, EnvStatus};
use crate::engine::report::{self, SweepReport, SweptEnv};
use crate::engine::teardown;
use crate::error::{Error, exit};
use crate::settings::{Format, Settings};
use crate::ui::{Printer, TermReporter, render};

pub struct SweepArgs {
    pub expired: bool,
    /// Only environments whose estimated spend passed their budget.
    pub over_budget: bool,
    /// Only this lab's environments (a lab that has no file any more).
    pub lab: Option<String>,
    /// Only this env.
    pub env: Option<String>,
    pub all_regions: bool,
    pub yes: bool,
    pub force: bool,
    /// Environments torn down at once.
    pub jobs: usize,
}

impl SweepArgs {
    /// Whether `sweep` takes this environment.
    pub fn takes(&self, e: &EnvStatus, now: SystemTime) -> bool {
        let by_time = match (self.expired, self.over_budget) {
            (false, false) => true,
            (true, false) => e.expired(now),
            (false, true) => e.over_budget(),
            (true, true) => e.expired(now) || e.over_budget(),
        };
        by_time
            && self.lab.as_ref().is_none_or(|l| *l == e.lab)
            && self.env.as_ref().is_none_or(|n| *n == e.env)
    }

    fn what(&self) -> &'static str {
        match (self.expired, self.over_budget) {
            (false, false) => "lab environments",
            (true, false) => "expired lab environments",
            (false, true) => "lab environments over budget",
            (true, true) => "expired or over-budget lab environments",
        }
    }
}

/// One client per region: the current one, or every region the account has enabled.
async fn clients(s: &Settings, aws: &Aws, all_regions: bool) -> Result<Vec<Aws>, Error> {
    if !all_regions {
        return Ok(vec![aws.clone()]);
    }
    let regions = fleet::regions(aws).await?;
    let mut out = Vec::new();
    for r in regions {
        let settings = AwsSettings {
            region: Some(r),
            ..s.aws.clone()
        };
        out.push(aws::config::connect_counting(&settings, aws.stats.clone()).await);
    }
    Ok(out)
}

/// Environments in every region looked at, with their IAM (listed once: IAM is global); IAM
/// leftovers of no region only when every region was looked at. What could not be looked at (a
/// region, a kind, IAM) is said, and the rest goes on.
pub(super) async fn environments(
    p: &Printer,
    aws: &Aws,
    clients: &[Aws],
    all_regions: bool,
) -> Result<Looked, Error> {
    let (found, iam) = tokio::join!(
        join_all(clients.iter().map(fleet::environments)),
        fleet::iam(aws)
    );
    let mut not_looked_at = Vec::new();
    let mut envs = Vec::new();
    let mut looked_at = Vec::new();
    for (client, r) in clients.iter().zip(found) {
        match r {
            Ok((found, unlisted)) => {
                envs.extend(found);
                looked_at.push(client.region.clone());
                not_looked_at.extend(
                    unlisted
                        .into_iter()
                        .map(|u| format!("{} in {}: {}", u.kind, client.region, u.error)),
                );
            }
            Err(e) => not_looked_at.push(format!("region {}: {e}", client.region)),
        }
    }
    let iam = iam.unwrap_or_else(|e| {
        not_looked_at.push(format!("IAM: {e}"));
        Vec::new()
    });
    // A leftover row needs every region looked at: one that failed was not.
    let every_region = all_regions && looked_at.len() == clients.len();
    let envs = fleet::place_iam(envs, iam, &looked_at, every_region);
    for n in &not_looked_at {
        p.warn(&format!("not looked at: {n}"));
    }
    Ok(Looked {
        envs,
        not_looked_at,
    })
}

/// What `status` and `sweep` found, and what they could not look at.
pub(super) struct Looked {
    pub envs: Vec<EnvStatus>,
    pub not_looked_at: Vec<String>,
}

pub async fn status(s: &Settings, p: &Printer, all_regions: bool) -> Result<u8, Error> {
    let aws = aws::connect(&s.aws).await;
    let started = std::time::Instant::now();
    let clients = clients(s, &aws, all_regions).await?;
    let Looked {
        envs,
        not_looked_at,
    } = environments(p, &aws, &clients, all_regions).await?;
    let now = SystemTime::now();
    match p.format {
        Format::Json => p.json(&envs),
        Format::Text | Format::Junit | Format::Mermaid => p.out(&render::status(p, &envs, now)),
    }
    stats(p, "status", &aws, started);
    Ok(if not_looked_at.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}

pub async fn sweep(s: &Settings, p: &Printer, args: SweepArgs) -> Result<u8, Error> {
    let aws = aws::connect(&s.aws).await;
    let started = std::time::Instant::now();
    let clients = clients(s, &aws, args.all_regions).await?;
    let now = SystemTime::now();
    let Looked {
        envs,
        not_looked_at,
    } = environments(p, &aws, &clients, args.all_regions).await?;
    // IAM leftovers (region `global`) go through the command's own client.
    let targets: Vec<(EnvStatus, Aws)> = envs
        .into_iter()
        .filter(|e| args.takes(e, now))
        .map(|e| {
            let client = clients
                .iter()
                .find(|c| c.region == e.region)
                .unwrap_or(&aws)
                .clone();
            (e, client)
        })
        .collect();
    let result = sweep_targets(s, p, &args, Some(&aws), targets, not_looked_at).await;
    stats(p, "sweep", &aws, started);
    result
}

/// Deletes the environments `targets` (each with the client of its account and region), at
/// most `args.jobs` at once; a dry run without `--yes`. `guard_with`: the client to confirm the
/// account with, unless the caller has guarded every account already.
pub(super) async fn sweep_targets(
    s: &Settings,
    p: &Printer,
    args: &SweepArgs,
    guard_with: Option<&Aws>,
    targets: Vec<(EnvStatus, Aws)>,
    not_looked_at: Vec<String>,
) -> Result<u8, Error> {
    let now = SystemTime::now();
    let envs: Vec<&EnvStatus> = targets.iter().map(|(e, _)| e).collect();
    let what = args.what();
    let json = p.format == Format::Json;
    let mut report = SweepReport {
        schema_version: report::SCHEMA_VERSION,
        dry_run: !args.yes,
        environments: envs
            .iter()
            .map(|e| SweptEnv {
                lab: e.lab.clone(),
                env: e.env.clone(),
                region: e.region.clone(),
                account: e.account.clone(),
                resources: e.resources,
                down: None,
                error: None,
            })
            .collect(),
        not_looked_at: not_looked_at.clone(),
    };
    if envs.is_empty() {
        p.info(&format!("no {what} to sweep"));
        if json {
            p.json(&report);
        }
        return Ok(exit::OK);
    }
    if !json {
        let table: Vec<EnvStatus> = envs.iter().map(|e| (*e).clone()).collect();
        p.out(&render::status(p, &table, now));
    }
    if !args.yes {
        let resources: usize = envs.iter().map(|e| e.resources).sum();
        p.info(&format!(
            "dry run: would delete {} {what} ({resources} resources); nothing was deleted, add --yes to delete",
            envs.len()
        ));
        if json {
            p.json(&report);
        }
        return Ok(exit::OK);
    }
    if let Some(aws) = guard_with {
        let action = format!("delete {} {what}", envs.len());
        confirm(p, s, aws, &action, true, args.force).await?;
    }
    let reporter = TermReporter::new(p);
    let opts = engine_options(s);
    let mut left = Vec::new();
    let mut stopped = 0.0;
    let envs: Vec<teardown::Env<'_>> = targets
        .iter()
        .map(|(env, aws)| teardown::Env {
            aws,
            owner: env.owner(),
        })
        .collect();
    p.info(&format!(
        "sweep {} environment(s), {} at a time",
        envs.len(),
        args.jobs.min(envs.len())
    ));
    let outcomes = teardown::teardown(&envs, args.jobs, &opts, &reporter).await;
    for (i, ((env, _), outcome)) in targets.iter().zip(outcomes).enumerate() {
        let at = match &env.account {
            Some(a) => format!("{} {} in {} of {a}", env.lab, env.env, env.region),
            None => format!("{} {} in {}", env.lab, env.env, env.region),
        };
        // One env that cannot be torn down does not stop the others.
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                left.push(format!("{at}: not torn down: {e}"));
                report.environments[i].error = Some(e.to_string());
                continue;
            }
        };
        report.environments[i].down = Some(report::DownReport::of(&env.lab, &env.env, &outcome));
        left.extend(
            outcome
                .not_looked_at
                .iter()
                .map(|u| format!("{at}: {} not looked at: {}", u.kind, u.error)),
        );
        stopped += outcome.stopped.per_hour();
        left.extend(
            outcome
                .left
                .into_iter()
                .map(|(n, k, id, why)| format!("{at}: {n} ({k} {id}): {why}")),
        );
    }
    p.info(&format!(
        "sweep: {} environment(s) processed, {} resource(s) left; stopped ~{}/h",
        targets.len(),
        left.len(),
        crate::cost::Dollars(stopped)
    ));
    if json {
        p.json(&report);
    }
    left.extend(
        not_looked_at
            .into_iter()
            .map(|n| format!("not looked at: {n}")),
    );
    if left.is_empty() {
        Ok(exit::OK)
    } else {
        Err(Error::Incomplete {
            what: "sweep".to_owned(),
            summary: crate::error::incomplete_summary(&[(
                left.len(),
                "resource(s) could not be deleted",
            )]),
            detail: left.join("\n"),
        })
    }
}
