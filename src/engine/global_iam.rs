//! IAM is global, a lab environment regional. awslab's IAM belongs to the region that made it
//! ([`crate::resources::iam`]); what was made before that, with no region in its path, belongs
//! to the env in every region. A teardown in one region deletes such global IAM only when no
//! other region still has the env, so `down` in one region never takes what another uses.

use std::collections::BTreeSet;

use futures::StreamExt;

use super::{Event, Reporter, discover, fleet};
use crate::aws::tags::Owner;
use crate::aws::{Aws, AwsError};
use crate::lab::Kind;
use crate::resources::{Observed, Scope, iam};

/// How many regions are looked at at once.
const REGIONS_AT_ONCE: usize = 8;

/// `doomed` without its global IAM while another region still has the env (said through
/// `reporter`).
pub async fn spare_shared(
    aws: &Aws,
    owner: &Owner,
    doomed: Vec<Observed>,
    reporter: &dyn Reporter,
) -> Result<Vec<Observed>, AwsError> {
    if !doomed.iter().any(iam::is_global) {
        return Ok(doomed);
    }
    reporter.event(Event::Note(
        "IAM of this env under a path without a region: looking for the env in the other regions"
            .to_owned(),
    ));
    let elsewhere = other_regions_with(aws, owner).await?;
    if elsewhere.is_empty() {
        return Ok(doomed);
    }
    let (spared, doomed): (Vec<Observed>, Vec<Observed>) =
        doomed.into_iter().partition(iam::is_global);
    let names: Vec<&str> = spared.iter().map(|o| o.id.as_str()).collect();
    let regions: Vec<String> = elsewhere.iter().map(Region::to_string).collect();
    reporter.event(Event::Note(format!(
        "kept {} (IAM the env shares with every region): env {} of lab {} is still in {}; `down` in the last of them deletes it",
        names.join(", "),
        owner.env,
        owner.lab,
        regions.join(", ")
    )));
    Ok(doomed)
}

/// A region that still has the env, or may (it could not be looked at).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Region {
    Has(String),
    NotLookedAt { region: String, why: String },
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Region::Has(r) => write!(f, "{r}"),
            Region::NotLookedAt { region, why } => {
                write!(f, "{region} (perhaps: it could not be looked at: {why})")
            }
        }
    }
}

/// The regions other than the client's that still have something of `owner`'s: IAM made there
/// (one listing), or any regional resource carrying its tags (one discovery per region). A
/// region that cannot be looked at counts, so that nothing shared is deleted on a guess.
pub async fn other_regions_with(aws: &Aws, owner: &Owner) -> Result<Vec<Region>, AwsError> {
    let mut with_iam: BTreeSet<String> = iam::regions_of_owner(aws, owner).await?;
    with_iam.remove(&aws.region);
    let kinds: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| k.handler().placement() != crate::resources::Placement::Global)
        .collect();
    let regions = match fleet::regions(aws).await {
        Ok(r) => r,
        Err(e) => {
            return Ok(vec![Region::NotLookedAt {
                region: "the other regions".to_owned(),
                why: format!("{}: {}", e.op, e.cause.code()),
            }]);
        }
    };
    let rest: Vec<String> = regions
        .into_iter()
        .filter(|r| *r != aws.region && !with_iam.contains(r))
        .collect();
    let scope = Scope::Owned(owner.clone());
    let looked: Vec<Option<Region>> = futures::stream::iter(rest)
        .map(|region| {
            let (kinds, scope) = (&kinds, &scope);
            async move {
                let client = aws.in_region(&region).await;
                match discover::scope(&client, kinds, scope).await {
                    Ok(items) => items
                        .iter()
                        .any(|o| !o.is_gone() && owner.owns(&o.tags))
                        .then_some(Region::Has(region)),
                    Err(e) => Some(Region::NotLookedAt {
                        region,
                        why: format!("{}: {}", e.op, e.cause.code()),
                    }),
                }
            }
        })
        .buffer_unordered(REGIONS_AT_ONCE)
        .collect()
        .await;
    let mut regions: Vec<Region> = with_iam.into_iter().map(Region::Has).collect();
    regions.extend(looked.into_iter().flatten());
    regions.sort();
    Ok(regions)
}
