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
pub use report::{CheckResult, FoundBy, Method, PathBlocked, Report, Status};

use std::collections::BTreeMap;

use crate::aws::tags::Owner;
use crate::aws::{Aws, AwsError};
use crate::engine::discover;
use crate::lab::{Kind, Lab, Resource, StageSel};
use futures::future::try_join_all;

use crate::resources::{self, Bindings, Lookup, Scope, World};

/// Discovers what `check` looks at, as each kind says it is looked for ([`Lookup`]): the lab's
/// VPCs (by `Name` tag, which the tool also sets) and everything inside them, the region's
/// addresses and key pairs, and what lives outside VPCs by the names the lab gives (and the
/// env's own by tags). One call per kind, only for the kinds the lab declares where a kind asks
/// for that. Hand-built resources are looked for by the names `names` gives them.
pub async fn discover_for(
    aws: &Aws,
    lab: &Lab,
    owner: &Owner,
    names: &Names,
) -> Result<World, AwsError> {
    let declares = |k: Kind| lab.resources.iter().any(|r| r.kind() == k);
    let with_lookup = |want: fn(Lookup) -> bool| -> Vec<Kind> {
        Kind::ALL
            .iter()
            .copied()
            .filter(|k| want(k.handler().lookup()))
            .collect()
    };
    let vpc_kinds = with_lookup(|l| l == Lookup::Vpc);
    let vpc_names = Scope::Named(
        names.all(
            lab.resources
                .iter()
                .filter(|r| vpc_kinds.contains(&r.kind()))
                .map(|r| r.name.as_str()),
        ),
    );
    // The env's own VPCs carry the lab's names: behind a prefix, they are asked for by tags.
    let owned_vpcs = match names.prefix() {
        Some(_) => Scope::Owned(owner.clone()),
        None => Scope::Named(Vec::new()),
    };
    let (mut vpcs, own_vpcs, azs) = tokio::try_join!(
        discover::scope(aws, &vpc_kinds, &vpc_names),
        discover::scope(aws, &vpc_kinds, &owned_vpcs),
        discover::availability_zones(aws)
    )?;
    for v in own_vpcs {
        if !vpcs.iter().any(|o| o.id == v.id) {
            vpcs.push(v);
        }
    }
    let inside: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| match k.handler().lookup() {
            Lookup::InVpcs { always } => always || declares(*k),
            _ => false,
        })
        .collect();
    let in_scope = Scope::InVpcs(vpcs.iter().map(|v| v.id.clone()).collect());
    let regional: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| match k.handler().lookup() {
            Lookup::Region { with } => declares(*k) || with.iter().any(|w| declares(*w)),
            _ => false,
        })
        .collect();
    let by_name: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| matches!(k.handler().lookup(), Lookup::Named) && declares(*k))
        .collect();
    let (in_vpcs, regional, named) = tokio::try_join!(
        discover::scope(aws, &inside, &in_scope),
        discover::scope(aws, &regional, &Scope::Region),
        try_join_all(
            by_name
                .iter()
                .map(|k| named_or_owned(aws, *k, lab, owner, names))
        )
    )?;
    let mut world = World {
        items: vpcs,
        azs,
        unlisted: Vec::new(),
    };
    world.merge(in_vpcs);
    world.merge(regional);
    for found in named {
        world.merge(found);
    }
    Ok(world)
}

/// A kind looked for by name: the hand-built ones by the names the kind gives, and the env's
/// own by tags (or path).
async fn named_or_owned(
    aws: &Aws,
    kind: Kind,
    lab: &Lab,
    owner: &Owner,
    names: &Names,
) -> Result<Vec<resources::Observed>, AwsError> {
    let handler = kind.handler();
    let named = Scope::Named(handler.lookup_names(aws, lab, owner, names).await?);
    let owned = Scope::Owned(owner.clone());
    let (mut found, own) =
        tokio::try_join!(handler.discover(aws, &named), handler.discover(aws, &owned))?;
    found.extend(own);
    Ok(found)
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
            results.extend(live::run(aws, lab, check, &bound, world, opts.live).await);
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
    Ok(check_found(aws, lab, opts, owner).await?.0)
}

/// What `check` found in the account: everything it discovered, and the lab's names bound to
/// what it found for them.
#[derive(Debug, Clone)]
pub struct Found {
    pub world: World,
    pub bound: Bindings,
}

/// [`check`], with what it found (to draw it).
pub async fn check_found(
    aws: &Aws,
    lab: &Lab,
    opts: CheckOptions,
    owner: &Owner,
) -> Result<(Report, Found), AwsError> {
    let mut world = discover_for(aws, lab, owner, &opts.names).await?;
    let (mut bound, bindings) = bind::bind(lab, &world, owner, &opts.names);
    // What listings do not return, for what the lab binds to only.
    let ids: Vec<String> = bound.iter().map(|(_, o)| o.id.clone()).collect();
    discover::details(aws, &mut world, &ids).await?;
    bound.refresh(&world);
    let report = grade(aws, lab, opts, owner, &world, (bound.clone(), bindings)).await;
    Ok((report, Found { world, bound }))
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
            _ => kind.handler().create_hint(res, &name),
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
        for key in kind.handler().attr_keys(res) {
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
    for a in kind.handler().compare(res, obs, bound, world) {
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
                kind.handler().attr_hint(res, &a).unwrap_or_else(|| {
                    format!("set {} of `{}` to: {}", a.key, res.name, a.expected)
                }),
            )
        };
        r.expected = Some(a.expected);
        r.found = Some(a.found);
        out.push(r);
    }
    out
}
