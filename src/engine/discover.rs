//! Discovery: one batched describe per kind, in parallel.

use futures::future::try_join_all;

use crate::aws::tags::Owner;
use crate::aws::{Aws, AwsError};
use crate::lab::{Kind, Lab};
use crate::resources::{self, Facts, Observed, Scope, World};

/// The region's availability zones, sorted by name (a lab's `az = N` indexes this list).
pub async fn availability_zones(aws: &Aws) -> Result<Vec<String>, AwsError> {
    let out = aws
        .ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeAvailabilityZones", &aws.region, e))?;
    let mut azs: Vec<String> = out
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter_map(|z| z.zone_name().map(str::to_owned))
        .collect();
    azs.sort();
    Ok(azs)
}

/// Every kind in one scope, in parallel.
pub async fn scope(aws: &Aws, kinds: &[Kind], scope: &Scope) -> Result<Vec<Observed>, AwsError> {
    let found = try_join_all(
        kinds
            .iter()
            .map(|k| resources::kind(*k).discover(aws, scope)),
    )
    .await?;
    Ok(found.into_iter().flatten().collect())
}

/// What carries the owner's tags, of every kind. With `inside_vpcs`, also everything inside the
/// owner's VPCs (what `down` may delete: student-built subnets, instances, … of a lab-owned VPC).
pub async fn owned(aws: &Aws, owner: &Owner, inside_vpcs: bool) -> Result<World, AwsError> {
    owned_of(aws, owner, inside_vpcs, Kind::ALL).await
}

/// [`owned`] of some kinds only.
async fn owned_of(
    aws: &Aws,
    owner: &Owner,
    inside_vpcs: bool,
    kinds: &[Kind],
) -> Result<World, AwsError> {
    let owned_scope = Scope::Owned(owner.clone());
    let (items, azs) = tokio::try_join!(scope(aws, kinds, &owned_scope), availability_zones(aws))?;
    let mut world = World { items, azs };
    if inside_vpcs {
        let vpc_ids: Vec<String> = world.of_kind(Kind::Vpc).map(|v| v.id.clone()).collect();
        if !vpc_ids.is_empty() {
            let kinds: Vec<Kind> = Kind::ALL
                .iter()
                .copied()
                .filter(|k| *k != Kind::Vpc)
                .collect();
            let inside = scope(aws, &kinds, &Scope::InVpcs(vpc_ids)).await?;
            world.merge(inside);
        }
    }
    Ok(world)
}

/// `obs` as AWS lists it now, looked for as the teardown found it: by the owner's tags and inside
/// the VPCs of `world` (a kind listed with its parent through the parent's listing).
pub async fn relist(
    aws: &Aws,
    owner: &Owner,
    world: &World,
    obs: &Observed,
) -> Result<Option<Observed>, AwsError> {
    let kind = obs.kind.listed_with();
    let vpcs: Vec<String> = world.of_kind(Kind::Vpc).map(|v| v.id.clone()).collect();
    let handler = resources::kind(kind);
    let (owned, inside) = (Scope::Owned(owner.clone()), Scope::InVpcs(vpcs));
    let (owned, inside) = tokio::try_join!(
        handler.discover(aws, &owned),
        handler.discover(aws, &inside),
    )?;
    Ok(owned.into_iter().chain(inside).find(|o| o.id == obs.id))
}

/// What `plan` and `up` compare with the lab: the owner's resources of the kinds the lab
/// declares (nothing else can be bound to it; `down` still looks at every kind), with the VPC
/// attributes.
pub async fn owned_for_compare(aws: &Aws, owner: &Owner, lab: &Lab) -> Result<World, AwsError> {
    let kinds: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| lab.resources.iter().any(|r| r.kind() == *k))
        .collect();
    let mut world = owned_of(aws, owner, false, &kinds).await?;
    let vpcs: Vec<String> = world.of_kind(Kind::Vpc).map(|v| v.id.clone()).collect();
    vpc_attributes(aws, &mut world, &vpcs).await?;
    Ok(world)
}

/// Reads the attributes describes do not return (DNS hostnames) for these VPCs, in parallel.
pub async fn vpc_attributes(aws: &Aws, world: &mut World, ids: &[String]) -> Result<(), AwsError> {
    let values = try_join_all(
        ids.iter()
            .map(|id| resources::vpc::Vpc::dns_hostnames(aws, id)),
    )
    .await?;
    for (id, value) in ids.iter().zip(values) {
        if let Some(Observed {
            facts: Facts::Vpc { dns_hostnames, .. },
            ..
        }) = world.items.iter_mut().find(|o| o.id == *id)
        {
            *dns_hostnames = Some(value);
        }
    }
    Ok(())
}
