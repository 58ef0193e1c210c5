//! The semantic check kinds: public and private subnets by their routes (not their names),
//! egress through a NAT gateway, spread across availability zones, and reachability (the
//! analysis itself lives in [`crate::reach`]).

mod ecr;
mod efs;
mod failure;
mod load_balancing;
mod network;
mod s3;
#[cfg(test)]
mod tests;

pub use efs::Mounting;
pub use failure::{Failure, Noun};
pub use load_balancing::Serving;
pub use network::{Gateway, Routing};
pub use s3::Website;

use ecr::*;
use efs::*;
use failure::*;
use load_balancing::*;
use network::*;
use s3::*;

use std::collections::BTreeSet;

use super::report::{CheckResult, PathBlocked};
use crate::lab::{Check, CheckKind, Endpoint, Kind};
use crate::reach::{self, Traffic};
use crate::resources::s3::{Effect, Grant};
use crate::resources::{Bindings, Facts, Observed, RouteEntry, World};
use crate::resources::{MountTargetFacts, SubnetFacts};

pub fn evaluate(check: &Check, bound: &Bindings, world: &World) -> CheckResult {
    let outcome = match &check.kind {
        CheckKind::PublicSubnet { subnets } => {
            each(subnets, bound, |name, s| public(name, s, bound, world))
        }
        CheckKind::PrivateSubnet { subnets } => {
            each(subnets, bound, |name, s| private(name, s, bound, world))
        }
        CheckKind::EgressViaNat { from } => {
            each(from, bound, |name, s| egress_via_nat(name, s, bound, world))
        }
        CheckKind::MultiAz { resources } => multi_az(resources, bound, world),
        CheckKind::AlbServesAsg {
            load_balancer,
            group,
            ..
        } => alb_serves_asg(load_balancer, group, bound, world),
        CheckKind::S3Website { bucket, .. } => s3_website(bucket, bound, world),
        CheckKind::S3Encryption { bucket } => s3_encryption(bucket, bound),
        CheckKind::S3Versioning { bucket } => s3_versioning(bucket, bound),
        CheckKind::EcrImage { repository, tag } => ecr_image(repository, tag, bound, world),
        CheckKind::EfsMountable {
            file_system,
            instances,
            ..
        } => efs_mountable(file_system, instances, bound, world),
        CheckKind::Reach {
            expect,
            from,
            to,
            proto,
            port,
            ..
        } => reach(
            *expect,
            from,
            to,
            Traffic {
                proto: *proto,
                port: *port,
            },
            bound,
            world,
        ),
    };
    let expected = expectation(&check.kind);
    let mut result = match outcome {
        Ok(message) => {
            CheckResult::pass(check.id.clone(), check.title.clone(), check.points, message)
        }
        Err(failure) => {
            let mut r = CheckResult::fail(
                check.id.clone(),
                check.title.clone(),
                check.points,
                failure.to_string(),
                check.hint.clone(),
            );
            r.blocked = path_blocked(&failure, bound);
            r
        }
    };
    result.found = Some(result.message.clone());
    result.expected = Some(expected);
    result
}

/// Where a path that must get through stops, as the report carries it.
fn path_blocked(failure: &Failure, bound: &Bindings) -> Option<PathBlocked> {
    let Failure::Blocked { from, to, why } = failure else {
        return None;
    };
    let blocker = why.blocker();
    let ids = blocker.as_ref().map(|b| b.ids.clone()).unwrap_or_default();
    Some(PathBlocked {
        from: from.clone(),
        to: to.clone(),
        kind: blocker.map(|b| b.kind),
        names: ids
            .iter()
            .filter_map(|id| bound.name_of(id).map(str::to_owned))
            .collect(),
        ids,
        reason: why.to_string(),
    })
}

/// What a semantic check expects, in the student's terms.
fn expectation(kind: &CheckKind) -> String {
    match kind {
        CheckKind::PublicSubnet { subnets } => format!(
            "{}: 0.0.0.0/0 routed to an internet gateway attached to the VPC",
            subnets.join(", ")
        ),
        CheckKind::PrivateSubnet { subnets } => {
            format!("{}: no route to an internet gateway", subnets.join(", "))
        }
        CheckKind::EgressViaNat { from } => format!(
            "{}: 0.0.0.0/0 routed to an available NAT gateway with an Elastic IP in a public subnet",
            from.join(", ")
        ),
        CheckKind::MultiAz { resources } => {
            format!(
                "{} in at least two availability zones",
                resources.join(", ")
            )
        }
        CheckKind::EfsMountable {
            file_system,
            instances,
            ..
        } => format!(
            "{}: a mount target of {file_system} in the instance's AZ, NFS (TCP 2049) allowed from the instance's security group",
            instances.join(", ")
        ),
        CheckKind::AlbServesAsg {
            load_balancer,
            group,
            tasks: false,
            ..
        } => format!(
            "a listener of {load_balancer} forwards to a target group {group} is attached to; {load_balancer} internet-facing in public subnets of 2+ AZs; {group} only in private subnets of 2+ AZs"
        ),
        CheckKind::AlbServesAsg {
            load_balancer,
            group,
            tasks: true,
            ..
        } => format!(
            "a listener of {load_balancer} forwards to a target group {group}'s tasks are registered with; {load_balancer} internet-facing in public subnets of 2+ AZs; {group}'s tasks only in private subnets of 2+ AZs, without public IPs"
        ),
        CheckKind::S3Website { bucket, .. } => format!(
            "{bucket}: website hosting with an index document that exists; everyone may s3:GetObject its objects and nothing more; Block Public Access does not block that policy"
        ),
        CheckKind::S3Encryption { bucket } => format!(
            "{bucket}: default encryption set explicitly to SSE-S3 (AES256) with the bucket key on"
        ),
        CheckKind::S3Versioning { bucket } => format!("{bucket}: versioning Enabled"),
        CheckKind::EcrImage { repository, tag } => {
            format!("{repository} holds an image tagged {tag}")
        }
        CheckKind::Reach {
            expect,
            from,
            to,
            proto,
            port,
            ..
        } => {
            let what = Traffic {
                proto: *proto,
                port: *port,
            };
            let verb = if *expect { "gets" } else { "does not get" };
            format!("{} from {from} {verb} to {to}", what_text(what))
        }
    }
}

fn what_text(t: Traffic) -> String {
    match t.port {
        Some(p) => format!("{} {p}", t.proto.to_string().to_uppercase()),
        None => t.proto.to_string().to_uppercase(),
    }
}

fn az_of<'w>(o: &'w Observed, world: &'w World) -> Option<&'w str> {
    let subnet = match o.kind {
        Kind::Subnet => Some(o),
        _ => o.subnet_id().and_then(|s| world.get(s)),
    };
    match subnet.map(|s| &s.facts) {
        Some(Facts::Subnet(SubnetFacts { az: Some(az), .. })) => Some(az),
        _ => match &o.facts {
            Facts::MountTarget(MountTargetFacts { az: Some(az), .. }) => Some(az),
            _ => None,
        },
    }
}

/// `reachable`: every pair gets through (the evidence is each path); `not_reachable`: no pair
/// does (the evidence is where each stops).
fn reach(
    expect: bool,
    from: &Endpoint,
    to: &Endpoint,
    traffic: Traffic,
    bound: &Bindings,
    world: &World,
) -> Result<String, Failure> {
    // A stopped host is judged by its configuration when the traffic must not get through.
    let answers = reach::analyze(world, bound, from, to, traffic, !expect)?;
    let pair = |a: &reach::Answer| format!("{} -> {}", a.from, a.to);
    let mut evidence = Vec::new();
    for a in &answers {
        match (&a.outcome, expect) {
            (Ok(path), true) => evidence.push(format!("{}: {path}", pair(a))),
            (Err(why), true) => {
                return Err(Failure::Blocked {
                    from: a.from.clone(),
                    to: a.to.clone(),
                    why: why.clone(),
                });
            }
            (Ok(path), false) => {
                return Err(Failure::GetsThrough {
                    from: a.from.clone(),
                    to: a.to.clone(),
                    path: path.clone(),
                });
            }
            (Err(why), false) => evidence.push(format!("{} is blocked: {why}", pair(a))),
        }
    }
    Ok(evidence.join("; "))
}

/// Runs `f` on every named subnet: every failure is the answer (each subnet that fails is
/// named), else all the evidence.
fn each(
    names: &[String],
    bound: &Bindings,
    mut f: impl FnMut(&str, &Observed) -> Result<String, Failure>,
) -> Result<String, Failure> {
    let mut evidence = Vec::new();
    let mut failures = Vec::new();
    for name in names {
        match bound.get(name) {
            None => failures.push(Failure::NotFound {
                noun: Some(Noun::Subnet),
                name: name.clone(),
            }),
            Some(subnet) => match f(name, subnet) {
                Ok(e) => evidence.push(e),
                Err(why) => failures.push(why),
            },
        }
    }
    match Failure::of_all(failures) {
        None => Ok(evidence.join("; ")),
        Some(failure) => Err(failure),
    }
}

/// The AZs a resource occupies: its subnet's, or each of its subnets' (a load balancer, an
/// Auto Scaling group).
fn azs_of(o: &Observed, world: &World) -> Vec<String> {
    let subnets: Vec<&Observed> = match o.kind {
        Kind::Subnet => vec![o],
        _ => o
            .subnet_ids()
            .into_iter()
            .filter_map(|s| world.get(s))
            .collect(),
    };
    let mut azs: Vec<String> = subnets
        .iter()
        .filter_map(|s| match &s.facts {
            Facts::Subnet(SubnetFacts { az, .. }) => az.clone(),
            _ => None,
        })
        .collect();
    if azs.is_empty()
        && let Facts::MountTarget(MountTargetFacts { az: Some(az), .. }) = &o.facts
    {
        azs.push(az.clone());
    }
    azs.sort();
    azs.dedup();
    azs
}

fn multi_az(names: &[String], bound: &Bindings, world: &World) -> Result<String, Failure> {
    let mut azs = BTreeSet::new();
    let mut seen = Vec::new();
    for name in names {
        let o = bound.get(name).ok_or_else(|| Failure::NotFound {
            noun: None,
            name: name.clone(),
        })?;
        let o = world.get(&o.id).unwrap_or(o);
        let found = azs_of(o, world);
        if found.is_empty() {
            return Err(Failure::AzUnknown { name: name.clone() });
        }
        seen.push(format!("{name} in {}", found.join(" and ")));
        azs.extend(found);
    }
    if azs.len() >= 2 {
        Ok(seen.join(", "))
    } else {
        Err(Failure::OneAz { placed: seen })
    }
}
