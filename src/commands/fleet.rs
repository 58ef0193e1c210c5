//! `status` and `sweep`: lab environments across labs and envs (and regions), found by tags.

use std::time::SystemTime;

use futures::future::try_join_all;

use super::{confirm, engine_options, stats};
use crate::aws::{self, Aws, AwsSettings};
use crate::engine;
use crate::engine::fleet::{self, EnvStatus};
use crate::error::{Error, exit};
use crate::settings::{Format, Settings};
use crate::ui::{Printer, TermReporter, render};

pub struct SweepArgs {
    pub expired: bool,
    pub all_regions: bool,
    pub yes: bool,
    pub force: bool,
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
/// leftovers of no region only when every region was looked at.
async fn environments(
    aws: &Aws,
    clients: &[Aws],
    all_regions: bool,
) -> Result<Vec<EnvStatus>, Error> {
    let (found, iam) = tokio::try_join!(
        try_join_all(clients.iter().map(fleet::environments)),
        fleet::iam(aws)
    )?;
    let looked_at: Vec<String> = clients.iter().map(|c| c.region.clone()).collect();
    let envs = found.into_iter().flatten().collect();
    Ok(fleet::place_iam(envs, iam, &looked_at, all_regions))
}

pub async fn status(s: &Settings, p: &Printer, all_regions: bool) -> Result<u8, Error> {
    let aws = aws::connect(&s.aws).await;
    let started = std::time::Instant::now();
    let clients = clients(s, &aws, all_regions).await?;
    let envs = environments(&aws, &clients, all_regions).await?;
    let now = SystemTime::now();
    match p.format {
        Format::Json => p.json(&envs),
        Format::Text | Format::Junit => p.out(&render::status(p, &envs, now)),
    }
    stats(p, "status", &aws, started);
    Ok(exit::OK)
}

pub async fn sweep(s: &Settings, p: &Printer, args: SweepArgs) -> Result<u8, Error> {
    let aws = aws::connect(&s.aws).await;
    let started = std::time::Instant::now();
    let clients = clients(s, &aws, args.all_regions).await?;
    let now = SystemTime::now();
    let envs: Vec<EnvStatus> = environments(&aws, &clients, args.all_regions)
        .await?
        .into_iter()
        .filter(|e| !args.expired || e.expired(now))
        .collect();
    let what = if args.expired {
        "expired lab environments"
    } else {
        "lab environments"
    };
    if envs.is_empty() {
        p.info(&format!("no {what} to sweep"));
        return Ok(exit::OK);
    }
    p.out(&render::status(p, &envs, now));
    if !args.yes {
        let resources: usize = envs.iter().map(|e| e.resources).sum();
        p.info(&format!(
            "dry run: would delete {} {what} ({resources} resources); nothing was deleted, add --yes to delete",
            envs.len()
        ));
        return Ok(exit::OK);
    }
    let action = format!("delete {} {what}", envs.len());
    confirm(p, s, &aws, &action, true, args.force).await?;
    let reporter = TermReporter::new(p);
    let opts = engine_options(s);
    let mut left = Vec::new();
    let mut stopped = 0.0;
    for env in &envs {
        // IAM leftovers (region `global`) go through the command's own client.
        let client = clients
            .iter()
            .find(|c| c.region == env.region)
            .unwrap_or(&aws);
        p.info(&format!(
            "sweep {} env {} in {}",
            env.lab, env.env, env.region
        ));
        let outcome = engine::destroy::destroy(client, &env.owner(), &opts, &reporter).await?;
        stopped += outcome.stopped.per_hour();
        left.extend(outcome.left.into_iter().map(|(n, k, id, why)| {
            format!(
                "{} {} in {}: {n} ({k} {id}): {why}",
                env.lab, env.env, env.region
            )
        }));
    }
    p.info(&format!(
        "sweep: {} environment(s) processed, {} resource(s) left; stopped ~{}/h",
        envs.len(),
        left.len(),
        crate::cost::Dollars(stopped)
    ));
    stats(p, "sweep", &aws, started);
    if left.is_empty() {
        Ok(exit::OK)
    } else {
        Err(Error::Incomplete {
            what: "sweep".to_owned(),
            verb: "deleted",
            count: left.len(),
            detail: left.join("\n"),
        })
    }
}
