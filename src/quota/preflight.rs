//! The preflight itself: per account and Region, what the envs to bring up need of each quota,
//! against what is used now and the quota in force.

use std::collections::BTreeMap;

use serde::Serialize;

use super::applied::{self, Source};
use super::catalog::{Quota, Scope};
use super::existing::still_needed;
use super::needs::{needs, sum};
use super::usage;
use crate::aws::tags::Owner;
use crate::aws::{Aws, AwsError};
use crate::lab::{Lab, StageSel};

/// The version of the preflight's JSON; fields are only added.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the region column says an account-wide quota applies.
pub const ALL_REGIONS: &str = "all regions";

/// One account and Region, with the envs of one lab to bring up there.
pub struct Target<'a> {
    /// Clients for the account and Region.
    pub aws: &'a Aws,
    /// The account id, as the table shows it.
    pub account: String,
    pub lab: &'a Lab,
    pub stage: StageSel,
    pub envs: Vec<Owner>,
}

/// One quota in one account and Region (or account-wide).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub account: String,
    /// The Region, or [`ALL_REGIONS`] for an account-wide quota.
    pub region: String,
    pub quota: Quota,
    pub name: &'static str,
    pub code: &'static str,
    pub service: &'static str,
    pub scope: Scope,
    /// What the envs still need (those already up need only what they lack).
    pub needed: u32,
    /// What counts against the quota now, whoever made it.
    pub used: u32,
    pub limit: u32,
    /// Where `limit` came from.
    pub source: Source,
    /// The most one env of the lab needs, for how many more envs fit.
    pub per_env: u32,
    pub ok: bool,
    pub increase_url: String,
}

impl Row {
    /// How many more envs of the lab fit under the quota.
    pub fn envs_that_fit(&self) -> u32 {
        self.limit
            .saturating_sub(self.used)
            .checked_div(self.per_env)
            .unwrap_or(u32::MAX)
    }
}

/// What the preflight found: one row per quota the envs need, per account and Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preflight {
    pub schema_version: u32,
    pub ok: bool,
    pub rows: Vec<Row>,
}

impl Preflight {
    pub fn new(rows: Vec<Row>) -> Preflight {
        Preflight {
            schema_version: SCHEMA_VERSION,
            ok: rows.iter().all(|r| r.ok),
            rows,
        }
    }

    /// The rows whose quota would be exceeded.
    pub fn problems(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| !r.ok)
    }

    /// The refusal to bring the envs up, when some quota would be exceeded.
    pub fn refusal(&self) -> Option<super::QuotaShortfall> {
        (!self.ok).then(|| super::QuotaShortfall::new(self.clone()))
    }
}

/// What one row is made of before AWS is asked.
struct Job<'a> {
    aws: &'a Aws,
    account: String,
    region: String,
    quota: Quota,
    needed: u32,
    per_env: u32,
}

/// Adds up what the envs of `targets` still need per account and Region (and per account for
/// account-wide quotas), then reads each needed quota's value and usage once per account and
/// Region, all at once. Service Quotas not answering is no failure (the documented default is
/// used and the row says so); a usage listing that fails is.
pub async fn preflight(targets: &[Target<'_>]) -> Result<Preflight, AwsError> {
    let demands = futures::future::try_join_all(targets.iter().map(|t| async move {
        let each = still_needed(t.aws, t.lab, t.stage, &t.envs).await?;
        Ok::<_, AwsError>(sum(&each))
    }))
    .await?;
    let mut jobs: BTreeMap<(String, String, Quota), Job<'_>> = BTreeMap::new();
    for (t, demand) in targets.iter().zip(&demands) {
        let one = needs(t.lab, t.stage);
        for (quota, needed) in demand.iter() {
            let region = match quota.scope() {
                Scope::Account => ALL_REGIONS.to_owned(),
                Scope::Region | Scope::PerAz => t.aws.region.clone(),
            };
            let job = jobs
                .entry((t.account.clone(), region.clone(), quota))
                .or_insert_with(|| Job {
                    aws: t.aws,
                    account: t.account.clone(),
                    region,
                    quota,
                    needed: 0,
                    per_env: 0,
                });
            job.needed = job.needed.saturating_add(needed);
            job.per_env = job.per_env.max(one.get(quota));
        }
    }
    let rows = futures::future::try_join_all(jobs.into_values().map(|j| async move {
        let (limit, used) =
            tokio::join!(applied::limit(j.aws, j.quota), usage::used(j.aws, j.quota));
        Ok::<_, AwsError>(row_of(
            &j.account,
            &j.region,
            j.quota,
            (j.needed, j.per_env),
            used?,
            limit,
        ))
    }))
    .await?;
    Ok(Preflight::new(sort(rows)))
}

/// By account, Region, then the quotas' own order.
fn sort(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| (&a.account, &a.region, a.quota).cmp(&(&b.account, &b.region, b.quota)));
    rows
}

/// A row from numbers already read: `needed` by the envs (`per_env` the most one env needs),
/// `used` now, under `limit`.
pub fn row_of(
    account: &str,
    region: &str,
    quota: Quota,
    (needed, per_env): (u32, u32),
    used: u32,
    limit: applied::Limit,
) -> Row {
    let region = match quota.scope() {
        Scope::Account => ALL_REGIONS.to_owned(),
        Scope::Region | Scope::PerAz => region.to_owned(),
    };
    Row {
        ok: used.saturating_add(needed) <= limit.value,
        account: account.to_owned(),
        region,
        quota,
        name: quota.name(),
        code: quota.code(),
        service: quota.service(),
        scope: quota.scope(),
        needed,
        used,
        limit: limit.value,
        source: limit.source,
        per_env,
        increase_url: quota.increase_url(),
    }
}
