//! The semantic check kinds: public and private subnets by their routes (not their names),
//! egress through a NAT gateway, spread across availability zones, and reachability (the
//! analysis itself lives in [`crate::reach`]).

use std::collections::BTreeSet;

use super::report::CheckResult;
use crate::lab::{Check, CheckKind, Endpoint, Kind};
use crate::reach::{self, Traffic};
use crate::resources::{Bindings, Facts, Observed, RouteEntry, World};

const DEFAULT_ROUTE: &str = "0.0.0.0/0";

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
        Err(message) => CheckResult::fail(
            check.id.clone(),
            check.title.clone(),
            check.points,
            message,
            check.hint.clone(),
        ),
    };
    result.found = Some(result.message.clone());
    result.expected = Some(expected);
    result
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

/// NFS port.
const NFS: u16 = 2049;

fn az_of<'w>(o: &'w Observed, world: &'w World) -> Option<&'w str> {
    let subnet = match o.kind {
        Kind::Subnet => Some(o),
        _ => o.subnet_id().and_then(|s| world.get(s)),
    };
    match subnet.map(|s| &s.facts) {
        Some(Facts::Subnet { az: Some(az), .. }) => Some(az),
        _ => match &o.facts {
            Facts::MountTarget { az: Some(az), .. } => Some(az),
            _ => None,
        },
    }
}

/// Each instance has a mount target of the file system in its AZ and reaches it on NFS.
fn efs_mountable(
    file_system: &str,
    instances: &[String],
    bound: &Bindings,
    world: &World,
) -> Result<String, String> {
    let fs = bound
        .get(file_system)
        .ok_or_else(|| format!("file system `{file_system}` was not found"))?;
    let targets: Vec<&Observed> = world
        .of_kind(Kind::MountTarget)
        .filter(|m| matches!(&m.facts, Facts::MountTarget { file_system_id, .. } if *file_system_id == fs.id))
        .collect();
    let mut evidence = Vec::new();
    for name in instances {
        let instance = bound
            .get(name)
            .ok_or_else(|| format!("instance `{name}` was not found"))?;
        let az =
            az_of(instance, world).ok_or_else(|| format!("{name}: availability zone unknown"))?;
        let Some(mt) = targets.iter().find(|m| az_of(m, world) == Some(az)) else {
            let have: Vec<String> = targets
                .iter()
                .map(|m| {
                    format!(
                        "{} in {}",
                        bound.label(&m.id),
                        az_of(m, world).unwrap_or("?")
                    )
                })
                .collect();
            return Err(format!(
                "{name} is in {az}, where {file_system} has no mount target (mount targets: {})",
                if have.is_empty() {
                    "none".to_owned()
                } else {
                    have.join(", ")
                }
            ));
        };
        if let Facts::MountTarget { state, .. } = &mt.facts
            && state != "available"
        {
            return Err(format!(
                "mount target {} in {az} is {state}, not available",
                bound.label(&mt.id)
            ));
        }
        let traffic = Traffic {
            proto: crate::lab::Proto::Tcp,
            port: Some(NFS),
        };
        let path = reach::to_mount_target(world, bound, name, mt, traffic).map_err(|why| {
            format!(
                "{name} cannot reach mount target {} on NFS: {why}",
                bound.label(&mt.id)
            )
        })?;
        evidence.push(format!("{name} ({az}): {path}"));
    }
    Ok(evidence.join("; "))
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
) -> Result<String, String> {
    // A stopped host is judged by its configuration when the traffic must not get through.
    let answers = reach::analyze(world, bound, from, to, traffic, !expect)?;
    let pair = |a: &reach::Answer| format!("{} -> {}", a.from, a.to);
    let mut evidence = Vec::new();
    for a in &answers {
        match (&a.outcome, expect) {
            (Ok(path), true) => evidence.push(format!("{}: {path}", pair(a))),
            (Err(why), true) => return Err(format!("{} is blocked: {why}", pair(a))),
            (Ok(path), false) => return Err(format!("{} gets through: {path}", pair(a))),
            (Err(why), false) => evidence.push(format!("{} is blocked: {why}", pair(a))),
        }
    }
    Ok(evidence.join("; "))
}

/// Runs `f` on every named subnet; the first failure is the answer, else all the evidence.
fn each(
    names: &[String],
    bound: &Bindings,
    mut f: impl FnMut(&str, &Observed) -> Result<String, String>,
) -> Result<String, String> {
    let mut evidence = Vec::new();
    for name in names {
        let Some(subnet) = bound.get(name) else {
            return Err(format!("subnet `{name}` was not found"));
        };
        evidence.push(f(name, subnet)?);
    }
    Ok(evidence.join("; "))
}

/// The table that routes a subnet, with a label such as `rtb-… (main)`.
fn table_of<'w>(
    name: &str,
    subnet: &Observed,
    bound: &Bindings,
    world: &'w World,
) -> Result<(&'w Observed, String, &'w [RouteEntry]), String> {
    let table = world
        .route_table_of(&subnet.id)
        .ok_or_else(|| format!("{name}: no route table governs it"))?;
    let mut label = bound.label(&table.id);
    if table.is_vpc_default() {
        label.push_str(" (main)");
    }
    let routes = match &table.facts {
        Facts::RouteTable { routes, .. } => routes.as_slice(),
        _ => &[],
    };
    Ok((table, label, routes))
}

fn default_route(routes: &[RouteEntry]) -> Option<&RouteEntry> {
    routes.iter().find(|r| r.dest == DEFAULT_ROUTE)
}

fn igw_attached_to(world: &World, igw: &str, vpc: Option<&str>) -> bool {
    world.get(igw).is_some_and(|g| match &g.facts {
        Facts::InternetGateway { attached_vpcs } => {
            vpc.is_some_and(|v| attached_vpcs.iter().any(|a| a == v))
        }
        _ => false,
    })
}

fn public(
    name: &str,
    subnet: &Observed,
    bound: &Bindings,
    world: &World,
) -> Result<String, String> {
    let (_, table, routes) = table_of(name, subnet, bound, world)?;
    let route = default_route(routes)
        .ok_or_else(|| format!("{name}: route table {table} has no 0.0.0.0/0 route"))?;
    let target = route.target.as_deref().unwrap_or("none");
    if !target.starts_with("igw-") {
        return Err(format!(
            "{name}: route table {table} sends 0.0.0.0/0 to {}, not to an internet gateway",
            bound.label(target)
        ));
    }
    if route.state != "active" || !igw_attached_to(world, target, subnet.vpc_id()) {
        return Err(format!(
            "{name}: route table {table} sends 0.0.0.0/0 to internet gateway {}, which is not attached to the VPC",
            bound.label(target)
        ));
    }
    Ok(format!(
        "{name}: 0.0.0.0/0 -> {} in {table}",
        bound.label(target)
    ))
}

fn private(
    name: &str,
    subnet: &Observed,
    bound: &Bindings,
    world: &World,
) -> Result<String, String> {
    let (_, table, routes) = table_of(name, subnet, bound, world)?;
    // A blackhole route or a detached gateway carries nothing.
    if let Some(r) = routes.iter().find(|r| {
        r.state == "active"
            && r.target.as_deref().is_some_and(|t| {
                t.starts_with("igw-") && igw_attached_to(world, t, subnet.vpc_id())
            })
    }) {
        return Err(format!(
            "{name}: route table {table} sends {} to internet gateway {}, so the subnet is public",
            r.dest,
            bound.label(r.target.as_deref().unwrap_or_default())
        ));
    }
    Ok(format!(
        "{name}: no route to an internet gateway in {table}"
    ))
}

fn egress_via_nat(
    name: &str,
    subnet: &Observed,
    bound: &Bindings,
    world: &World,
) -> Result<String, String> {
    let (_, table, routes) = table_of(name, subnet, bound, world)?;
    let route = default_route(routes).ok_or_else(|| {
        format!("{name}: route table {table} has no 0.0.0.0/0 route, so no egress")
    })?;
    let target = route.target.as_deref().unwrap_or("none");
    if !target.starts_with("nat-") {
        return Err(format!(
            "{name}: route table {table} sends 0.0.0.0/0 to {}, not to a NAT gateway",
            bound.label(target)
        ));
    }
    let nat = world.get(target).ok_or_else(|| {
        format!(
            "{name}: NAT gateway {} in {table} does not exist (blackhole route)",
            bound.label(target)
        )
    })?;
    let Facts::NatGateway {
        state,
        subnet_id,
        public_ip,
        allocation_ids,
        ..
    } = &nat.facts
    else {
        return Err(format!("{name}: {target} is not a NAT gateway"));
    };
    if state != "available" {
        return Err(format!(
            "{name}: NAT gateway {} is {state}, not available",
            bound.label(target)
        ));
    }
    if public_ip.is_none() && allocation_ids.is_empty() {
        return Err(format!(
            "{name}: NAT gateway {} has no Elastic IP",
            bound.label(target)
        ));
    }
    let nat_subnet = subnet_id
        .as_deref()
        .and_then(|s| world.get(s))
        .ok_or_else(|| {
            format!(
                "{name}: NAT gateway {} is in an unknown subnet",
                bound.label(target)
            )
        })?;
    let nat_subnet_name = bound.label(&nat_subnet.id);
    public(&nat_subnet_name, nat_subnet, bound, world).map_err(|why| {
        format!(
            "{name}: NAT gateway {} sits in {nat_subnet_name}, which is not public ({why})",
            bound.label(target)
        )
    })?;
    Ok(format!(
        "{name}: 0.0.0.0/0 -> {} in public subnet {nat_subnet_name}",
        bound.label(target)
    ))
}

fn multi_az(names: &[String], bound: &Bindings, world: &World) -> Result<String, String> {
    let mut azs = BTreeSet::new();
    let mut seen = Vec::new();
    for name in names {
        let o = bound
            .get(name)
            .ok_or_else(|| format!("`{name}` was not found"))?;
        let subnet = match o.kind {
            Kind::Subnet => Some(o),
            _ => o.subnet_id().and_then(|s| world.get(s)),
        };
        let az = subnet.and_then(|s| match &s.facts {
            Facts::Subnet { az, .. } => az.clone(),
            _ => None,
        });
        let az = az.ok_or_else(|| format!("`{name}`: availability zone unknown"))?;
        seen.push(format!("{name} in {az}"));
        azs.insert(az);
    }
    if azs.len() >= 2 {
        Ok(seen.join(", "))
    } else {
        Err(format!("all in one availability zone: {}", seen.join(", ")))
    }
}
