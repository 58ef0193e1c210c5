//! `check`: discover a setup (the tool's or a student's), bind the lab's resources to it, and grade
//! it: resource checks (exists, every declared attribute) and the lab's semantic checks.

pub mod bind;
pub mod live;
pub mod mounts;
pub mod names;
pub mod report;
pub mod semantic;

pub use bind::Binding;
pub use live::Live;
pub use names::Names;
pub use report::{CheckResult, FoundBy, Method, Report, Status};

use std::collections::BTreeMap;

use crate::aws::tags::Owner;
use crate::aws::{Aws, AwsError};
use crate::engine::discover;
use crate::lab::{Kind, Lab, Resource, StageSel};
use crate::resources::RepositorySpec;
use crate::resources::{self, Bindings, Scope, World};

/// Discovers what `check` looks at: the lab's VPCs (by `Name` tag, which the tool also sets),
/// everything inside them, and the region's addresses and key pairs. One call per kind.
/// Hand-built resources are looked for by the names `names` gives them.
pub async fn discover_for(
    aws: &Aws,
    lab: &Lab,
    owner: &Owner,
    names: &Names,
) -> Result<World, AwsError> {
    let vpc_names: Vec<String> = names.all(
        lab.resources
            .iter()
            .filter(|r| r.kind() == Kind::Vpc)
            .map(|r| r.name.as_str()),
    );
    // The env's own VPCs carry the lab's names: behind a prefix, they are asked for by tags.
    let owned_vpcs = match names.prefix() {
        Some(_) => Scope::Owned(owner.clone()),
        None => Scope::Named(Vec::new()),
    };
    let named = Scope::Named(vpc_names);
    let (mut vpcs, own_vpcs, azs) = tokio::try_join!(
        resources::kind(Kind::Vpc).discover(aws, &named),
        resources::kind(Kind::Vpc).discover(aws, &owned_vpcs),
        discover::availability_zones(aws)
    )?;
    for v in own_vpcs {
        if !vpcs.iter().any(|o| o.id == v.id) {
            vpcs.push(v);
        }
    }
    let vpc_ids: Vec<String> = vpcs.iter().map(|v| v.id.clone()).collect();
    // Mount targets come with the lab's file systems (below), not from a scan of every file
    // system of the region for the lab's VPCs.
    // Only the kinds the lab declares: a VPC lab's check touches neither IAM, EFS nor ELB.
    let declares = |k: Kind| lab.resources.iter().any(|r| r.kind() == k);
    // Load balancers (with their listeners), groups (with their policies) and VPC endpoints
    // are asked for only when the lab has them.
    let optional = |k: Kind| {
        matches!(
            k,
            Kind::LoadBalancer | Kind::TargetGroup | Kind::AutoScalingGroup | Kind::VpcEndpoint
        )
    };
    let inside: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| *k != Kind::Vpc && !k.listed_with_parent() && !k.outside_vpc())
        .filter(|k| !optional(*k) || declares(*k))
        .collect();
    let in_scope = Scope::InVpcs(vpc_ids);
    // IAM, EFS file systems and launch templates: the env's own (by path or tags) and hand-built
    // ones by the names the lab gives them.
    let names_of = |kinds: &[Kind]| {
        Scope::Named(
            names.all(
                lab.resources
                    .iter()
                    .filter(|r| kinds.contains(&r.kind()))
                    .map(|r| r.name.as_str()),
            ),
        )
    };
    // (File systems come with their mount targets.)
    let outside = [
        Kind::IamRole,
        Kind::InstanceProfile,
        Kind::FileSystem,
        Kind::LaunchTemplate,
    ];
    let global: Vec<Kind> = outside.into_iter().filter(|k| declares(*k)).collect();
    let global_scope = names_of(&outside);
    let owned = Scope::Owned(owner.clone());
    let regional: Vec<Kind> = [Kind::ElasticIp, Kind::KeyPair]
        .into_iter()
        .filter(|k| declares(*k) || declares(Kind::NatGateway))
        .collect();
    let (in_vpcs, regional, named, own, buckets) = tokio::try_join!(
        discover::scope(aws, &inside, &in_scope),
        discover::scope(aws, &regional, &Scope::Region),
        discover::scope(aws, &global, &global_scope),
        discover::scope(aws, &global, &owned),
        buckets_for(aws, lab, owner)
    )?;
    let mut world = World {
        items: vpcs,
        azs,
        unlisted: Vec::new(),
    };
    world.merge(in_vpcs);
    world.merge(regional);
    world.merge(named);
    world.merge(own);
    world.merge(buckets);
    world.merge(repositories_for(aws, lab, owner, names).await?);
    Ok(world)
}

/// The lab's ECR repositories: the env's own (by tags) and hand-built ones by the repository
/// names the lab gives (`lab/web`), with their images.
async fn repositories_for(
    aws: &Aws,
    lab: &Lab,
    owner: &Owner,
    names: &Names,
) -> Result<Vec<resources::Observed>, AwsError> {
    let repositories: Vec<String> = names.all(lab.resources.iter().filter_map(|r| match &r.spec {
        crate::lab::Spec::Repository(RepositorySpec { name, .. }) => Some(name.as_str()),
        _ => None,
    }));
    if repositories.is_empty() {
        return Ok(Vec::new());
    }
    let kind = resources::kind(Kind::Repository);
    let named = Scope::Named(repositories);
    let owned = Scope::Owned(owner.clone());
    let (mut found, own) =
        tokio::try_join!(kind.discover(aws, &named), kind.discover(aws, &owned))?;
    found.extend(own);
    Ok(found)
}

/// The lab's buckets: the env's own (by tags) and hand-built ones by the name the lab gives
/// them in this account (bucket names are global: `<name>-<code of lab and env>-<account>`).
async fn buckets_for(
    aws: &Aws,
    lab: &Lab,
    owner: &Owner,
) -> Result<Vec<resources::Observed>, AwsError> {
    let logical: Vec<&str> = lab
        .resources
        .iter()
        .filter(|r| r.kind() == Kind::Bucket)
        .map(|r| r.name.as_str())
        .collect();
    if logical.is_empty() {
        return Ok(Vec::new());
    }
    let account = aws.account_id().await?;
    let names = Scope::Named(
        logical
            .iter()
            .map(|l| resources::s3::bucket_name(owner, l, &account))
            .collect(),
    );
    let bucket = resources::kind(Kind::Bucket);
    let owned = Scope::Owned(owner.clone());
    let (mut named, own) =
        tokio::try_join!(bucket.discover(aws, &names), bucket.discover(aws, &owned))?;
    named.extend(own);
    Ok(named)
}

/// What `check` grades and how.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub stage: StageSel,
    pub live: Live,
    /// The names hand-built resources are found by.
    pub names: Names,
}

/// Grades `world` against the lab as bound to it: resource checks of the stage, then (for the
/// full lab) the semantic checks, each followed by its live part when it has one.
async fn grade(
    aws: &Aws,
    lab: &Lab,
    opts: CheckOptions,
    owner: &Owner,
    world: &World,
    (bound, bindings): (Bindings, BTreeMap<String, Binding>),
) -> Report {
    let mut results = Vec::new();
    for res in lab.resources_for(opts.stage) {
        results.extend(resource_checks(
            res,
            bindings.get(&res.name),
            &bound,
            world,
            &opts.names,
        ));
    }
    if opts.stage == StageSel::Full {
        for check in &lab.checks {
            results.push(semantic::evaluate(check, &bound, world));
            results.extend(live::run(aws, check, &bound, world, opts.live).await);
        }
    }
    let mut report = Report::new(lab.id.clone(), owner.env.clone(), opts.stage, results);
    report.name_prefix = opts.names.prefix().map(str::to_owned);
    report
}

pub async fn check(
    aws: &Aws,
    lab: &Lab,
    opts: CheckOptions,
    owner: &Owner,
) -> Result<Report, AwsError> {
    let mut world = discover_for(aws, lab, owner, &opts.names).await?;
    let (mut bound, bindings) = bind::bind(lab, &world, owner, &opts.names);
    // Attributes describes do not return, for the VPCs the lab binds to only.
    let vpcs: Vec<String> = bound
        .iter()
        .filter(|(_, o)| o.kind == Kind::Vpc)
        .map(|(_, o)| o.id.clone())
        .collect();
    discover::vpc_attributes(aws, &mut world, &vpcs).await?;
    bound.refresh(&world);
    Ok(grade(aws, lab, opts, owner, &world, (bound, bindings)).await)
}

fn resource_checks(
    res: &Resource,
    binding: Option<&Binding>,
    bound: &Bindings,
    world: &World,
    names: &Names,
) -> Vec<CheckResult> {
    let kind = res.kind();
    let name = names.of(&res.name);
    let exists_id = res.name.clone();
    let exists_title = format!("{} `{}` exists", kind.label(), res.name);
    let Some(obs) = bound.get(&res.name) else {
        let message = match binding {
            Some(Binding::Ambiguous { ids }) => format!(
                "more than one {} named `{name}`: {}",
                kind.label(),
                ids.join(", ")
            ),
            Some(Binding::Missing { reason }) => reason.clone(),
            _ => format!("no {} named `{name}`", kind.label()),
        };
        let hint = match binding {
            Some(Binding::Ambiguous { .. }) => format!(
                "keep one {} named `{name}` and rename or delete the others",
                kind.label()
            ),
            _ => resources::kind(kind).create_hint(res, &name),
        };
        let mut exists = CheckResult::fail(exists_id, exists_title, 1, message, hint);
        exists.expected = Some(format!("one {} named `{name}`", kind.label()));
        exists.found = Some(match binding {
            Some(Binding::Ambiguous { ids }) => {
                format!("{} of them: {}", ids.len(), ids.join(", "))
            }
            _ => "none".to_owned(),
        });
        let mut out = vec![exists];
        // Attributes cannot be checked; they still count, so the maximum score does not depend
        // on what exists.
        for key in resources::kind(kind).attr_keys(res) {
            let mut r = CheckResult::fail(
                format!("{}.{key}", res.name),
                format!("{} `{}` {key}", kind.label(), res.name),
                1,
                format!("not checked: `{}` was not found", res.name),
                format!("create `{}` first", res.name),
            );
            r.expected = Some(format!("`{}` with its {key} as the lab declares", res.name));
            r.found = Some(format!("`{}` missing", res.name));
            out.push(r);
        }
        return out;
    };
    let found_by = match binding {
        Some(Binding::Found(f)) => Some(f.clone()),
        _ => None,
    };
    let message = match &found_by {
        Some(f) => format!("found {} ({})", obs.id, f.how),
        None => format!("found {}", obs.id),
    };
    let mut exists = CheckResult::pass(exists_id, exists_title, 1, message);
    exists.found_by = found_by;
    let mut out = vec![exists];
    for a in resources::kind(kind).compare(res, obs, bound, world) {
        let id = format!("{}.{}", res.name, a.key);
        let title = format!("{} `{}` {}", kind.label(), res.name, a.key);
        let mut r = if a.ok {
            CheckResult::pass(id, title, 1, a.found.clone())
        } else {
            CheckResult::fail(
                id,
                title,
                1,
                format!("expected {}, found {}", a.expected, a.found),
                format!("set {} of `{}` to: {}", a.key, res.name, a.expected),
            )
        };
        r.expected = Some(a.expected);
        r.found = Some(a.found);
        out.push(r);
    }
    out
}
