//! Discovery: one batched describe per kind, in parallel.

use futures::future::{join_all, try_join_all};

use super::{Handlers, Registry};
use crate::aws::tags::Owner;
use crate::aws::{Aws, AwsError, ErrorClass};
use crate::lab::{Kind, Lab};
use crate::resources::{Observed, Scope, Unlisted, World};

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
    scope_via(&Registry, aws, kinds, scope).await
}

/// [`scope`], through `handlers`.
async fn scope_via(
    handlers: &dyn Handlers,
    aws: &Aws,
    kinds: &[Kind],
    scope: &Scope,
) -> Result<Vec<Observed>, AwsError> {
    let found = try_join_all(
        kinds
            .iter()
            .map(|k| handlers.handler(*k).discover(aws, scope)),
    )
    .await?;
    Ok(found.into_iter().flatten().collect())
}

/// [`scope`], going on without the kinds that cannot be listed (no permission for that service,
/// an API the endpoint does not offer): those are returned as not looked at. Only an endpoint
/// that does not answer, or credentials that do not work, stop it.
pub async fn scope_partial(
    aws: &Aws,
    kinds: &[Kind],
    scope: &Scope,
) -> Result<(Vec<Observed>, Vec<Unlisted>), AwsError> {
    scope_partial_via(&Registry, aws, kinds, scope).await
}

/// [`scope_partial`], through `handlers`.
async fn scope_partial_via(
    handlers: &dyn Handlers,
    aws: &Aws,
    kinds: &[Kind],
    scope: &Scope,
) -> Result<(Vec<Observed>, Vec<Unlisted>), AwsError> {
    let found = join_all(
        kinds
            .iter()
            .map(|k| handlers.handler(*k).discover(aws, scope)),
    )
    .await;
    let mut items = Vec::new();
    let mut unlisted = Vec::new();
    for (kind, r) in kinds.iter().zip(found) {
        match r {
            Ok(o) => items.extend(o),
            Err(e) if matches!(e.class, ErrorClass::Unreachable | ErrorClass::Credentials) => {
                return Err(e);
            }
            Err(e) => unlisted.push(Unlisted {
                kind: *kind,
                error: e.to_string(),
            }),
        }
    }
    Ok((items, unlisted))
}

/// What carries the owner's tags, of every kind, and everything inside the owner's VPCs (what
/// `down` may delete: student-built subnets, instances, … of a lab-owned VPC). A kind that cannot
/// be listed is left out and named in [`World::unlisted`].
pub async fn owned(handlers: &dyn Handlers, aws: &Aws, owner: &Owner) -> Result<World, AwsError> {
    let owned_scope = Scope::Owned(owner.clone());
    let ((items, mut unlisted), azs) = tokio::try_join!(
        scope_partial_via(handlers, aws, Kind::ALL, &owned_scope),
        handlers.availability_zones(aws)
    )?;
    let mut world = World {
        items,
        azs,
        unlisted: Vec::new(),
    };
    let vpc_ids: Vec<String> = world.of_kind(Kind::Vpc).map(|v| v.id.clone()).collect();
    if !vpc_ids.is_empty() {
        let kinds: Vec<Kind> = Kind::ALL
            .iter()
            .copied()
            .filter(|k| *k != Kind::Vpc)
            .collect();
        let (inside, more) =
            scope_partial_via(handlers, aws, &kinds, &Scope::InVpcs(vpc_ids)).await?;
        world.merge(inside);
        for m in more {
            if !unlisted.iter().any(|u| u.kind == m.kind) {
                unlisted.push(m);
            }
        }
    }
    world.unlisted = unlisted;
    Ok(world)
}

/// [`owned`] for each of `owners` (envs in this client's account and region), listing each
/// kind once for all of them rather than once per env: a class of 30 envs asks ~40 listings
/// instead of ~1,000, which a request budget shared by the class would otherwise pace. Each
/// world holds what `owned` would have found for its owner: what carries the owner's tags or
/// is claimed by it, and everything inside the owner's VPCs.
pub async fn owned_many(
    handlers: &dyn Handlers,
    aws: &Aws,
    owners: &[Owner],
) -> Result<Vec<World>, AwsError> {
    let scope = Scope::Owners(owners.to_vec());
    let ((items, mut unlisted), azs) = tokio::try_join!(
        scope_partial_via(handlers, aws, Kind::ALL, &scope),
        handlers.availability_zones(aws)
    )?;
    let mine = |owner: &Owner, o: &Observed| {
        owner.owns(&o.tags) || handlers.handler(o.kind).claims(o, owner)
    };
    let vpcs_of = |owner: &Owner| -> Vec<String> {
        items
            .iter()
            .filter(|o| o.kind == Kind::Vpc && mine(owner, o))
            .map(|o| o.id.clone())
            .collect()
    };
    let all_vpcs: Vec<String> = owners.iter().flat_map(vpcs_of).collect();
    let mut inside = Vec::new();
    if !all_vpcs.is_empty() {
        let kinds: Vec<Kind> = Kind::ALL
            .iter()
            .copied()
            .filter(|k| *k != Kind::Vpc)
            .collect();
        let (found, more) =
            scope_partial_via(handlers, aws, &kinds, &Scope::InVpcs(all_vpcs)).await?;
        inside = found;
        for m in more {
            if !unlisted.iter().any(|u| u.kind == m.kind) {
                unlisted.push(m);
            }
        }
    }
    Ok(owners
        .iter()
        .map(|owner| {
            let vpcs = vpcs_of(owner);
            let mut world = World {
                items: items.iter().filter(|o| mine(owner, o)).cloned().collect(),
                azs: azs.clone(),
                unlisted: unlisted.clone(),
            };
            world.merge(
                inside
                    .iter()
                    .filter(|o| o.vpc_id().is_some_and(|v| vpcs.iter().any(|x| x == v)))
                    .cloned()
                    .collect(),
            );
            world
        })
        .collect())
}

/// [`owned`] of some kinds only.
async fn owned_of(
    handlers: &dyn Handlers,
    aws: &Aws,
    owner: &Owner,
    kinds: &[Kind],
) -> Result<World, AwsError> {
    let owned_scope = Scope::Owned(owner.clone());
    let (items, azs) = tokio::try_join!(
        scope_via(handlers, aws, kinds, &owned_scope),
        handlers.availability_zones(aws)
    )?;
    Ok(World {
        items,
        azs,
        unlisted: Vec::new(),
    })
}

/// `obs` as AWS lists it now, looked for as the teardown found it: by the owner's tags and inside
/// the VPCs of `world` (a kind listed with its parent through the parent's listing).
pub async fn relist(
    handlers: &dyn Handlers,
    aws: &Aws,
    owner: &Owner,
    world: &World,
    obs: &Observed,
) -> Result<Option<Observed>, AwsError> {
    let kind = obs.kind.listed_with();
    let vpcs: Vec<String> = world.of_kind(Kind::Vpc).map(|v| v.id.clone()).collect();
    let handler = handlers.handler(kind);
    let (owned, inside) = (Scope::Owned(owner.clone()), Scope::InVpcs(vpcs));
    let (owned, inside) = tokio::try_join!(
        handler.discover(aws, &owned),
        handler.discover(aws, &inside),
    )?;
    Ok(owned.into_iter().chain(inside).find(|o| o.id == obs.id))
}

/// What `plan` and `up` compare with the lab: the owner's resources of the kinds the lab
/// declares (nothing else can be bound to it; `down` still looks at every kind), with what
/// their listings do not return.
pub async fn owned_for_compare(aws: &Aws, owner: &Owner, lab: &Lab) -> Result<World, AwsError> {
    owned_for_compare_via(&Registry, aws, owner, lab).await
}

/// [`owned_for_compare`], through `handlers`.
pub(crate) async fn owned_for_compare_via(
    handlers: &dyn Handlers,
    aws: &Aws,
    owner: &Owner,
    lab: &Lab,
) -> Result<World, AwsError> {
    let kinds: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| lab.resources.iter().any(|r| r.kind() == *k))
        .collect();
    let mut world = owned_of(handlers, aws, owner, &kinds).await?;
    let ids: Vec<String> = world.items.iter().map(|o| o.id.clone()).collect();
    details_via(handlers, aws, &mut world, &ids).await?;
    Ok(world)
}

/// Reads what listings do not return (a VPC's DNS hostnames) for these resources of `world`,
/// in parallel: each kind reads its own ([`crate::resources::ResourceKind::read_details`]).
pub async fn details(aws: &Aws, world: &mut World, ids: &[String]) -> Result<(), AwsError> {
    details_via(&Registry, aws, world, ids).await
}

/// [`details`], through `handlers`.
async fn details_via(
    handlers: &dyn Handlers,
    aws: &Aws,
    world: &mut World,
    ids: &[String],
) -> Result<(), AwsError> {
    let mut picked: Vec<Observed> = world
        .items
        .iter()
        .filter(|o| ids.contains(&o.id))
        .cloned()
        .collect();
    try_join_all(
        picked
            .iter_mut()
            .map(|o| handlers.handler(o.kind).read_details(aws, o)),
    )
    .await?;
    for o in picked {
        if let Some(item) = world.items.iter_mut().find(|i| i.id == o.id) {
            *item = o;
        }
    }
    Ok(())
}
