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
        CheckKind::AlbServesAsg {
            load_balancer,
            group,
            ..
        } => format!(
            "a listener of {load_balancer} forwards to a target group {group} is attached to; {load_balancer} internet-facing in public subnets of 2+ AZs; {group} only in private subnets of 2+ AZs"
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

/// Runs `f` on every named subnet: every failure is the answer (each subnet that fails is
/// named), else all the evidence.
fn each(
    names: &[String],
    bound: &Bindings,
    mut f: impl FnMut(&str, &Observed) -> Result<String, String>,
) -> Result<String, String> {
    let mut evidence = Vec::new();
    let mut failures = Vec::new();
    for name in names {
        match bound.get(name) {
            None => failures.push(format!("subnet `{name}` was not found")),
            Some(subnet) => match f(name, subnet) {
                Ok(e) => evidence.push(e),
                Err(why) => failures.push(why),
            },
        }
    }
    if failures.is_empty() {
        Ok(evidence.join("; "))
    } else {
        Err(failures.join("; "))
    }
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
            Facts::Subnet { az, .. } => az.clone(),
            _ => None,
        })
        .collect();
    if azs.is_empty()
        && let Facts::MountTarget { az: Some(az), .. } = &o.facts
    {
        azs.push(az.clone());
    }
    azs.sort();
    azs.dedup();
    azs
}

fn multi_az(names: &[String], bound: &Bindings, world: &World) -> Result<String, String> {
    let mut azs = BTreeSet::new();
    let mut seen = Vec::new();
    for name in names {
        let o = bound
            .get(name)
            .ok_or_else(|| format!("`{name}` was not found"))?;
        let o = world.get(&o.id).unwrap_or(o);
        let found = azs_of(o, world);
        if found.is_empty() {
            return Err(format!("`{name}`: availability zone unknown"));
        }
        seen.push(format!("{name} in {}", found.join(" and ")));
        azs.extend(found);
    }
    if azs.len() >= 2 {
        Ok(seen.join(", "))
    } else {
        Err(format!("all in one availability zone: {}", seen.join(", ")))
    }
}

/// The load balancer serves the group: listener -> target group <- group; the load balancer
/// internet-facing in public subnets of 2+ AZs; the group only in private subnets of 2+ AZs.
fn alb_serves_asg(
    lb_name: &str,
    group_name: &str,
    bound: &Bindings,
    world: &World,
) -> Result<String, String> {
    let lb = bound
        .get(lb_name)
        .ok_or_else(|| format!("load balancer `{lb_name}` was not found"))?;
    let lb = world.get(&lb.id).unwrap_or(lb);
    let group = bound
        .get(group_name)
        .ok_or_else(|| format!("Auto Scaling group `{group_name}` was not found"))?;
    let group = world.get(&group.id).unwrap_or(group);
    let (
        Facts::LoadBalancer {
            scheme,
            lb_type,
            subnets: lb_subnets,
            ..
        },
        Facts::AutoScalingGroup {
            subnets: group_subnets,
            target_groups: attached,
            ..
        },
    ) = (&lb.facts, &group.facts)
    else {
        return Err(format!(
            "{lb_name} or {group_name} is not of the expected kind"
        ));
    };
    if lb_type != "application" {
        return Err(format!(
            "{lb_name} is a {lb_type} load balancer, not an Application Load Balancer"
        ));
    }
    if scheme != "internet-facing" {
        return Err(format!(
            "{lb_name} is {scheme}: the internet cannot reach it (create it internet-facing)"
        ));
    }
    let placed = |subnets: &[String], want_public: bool| -> Result<(Vec<String>, usize), String> {
        let mut names = Vec::new();
        let mut azs = BTreeSet::new();
        for id in subnets {
            let label = bound.label(id);
            let subnet = world
                .get(id)
                .ok_or_else(|| format!("subnet {label} was not found"))?;
            if want_public {
                public(&label, subnet, bound, world).map_err(|why| {
                    format!("{lb_name} is in {label}, which is not public: {why}")
                })?;
            } else {
                private(&label, subnet, bound, world).map_err(|why| {
                    format!("{group_name} launches into {label}, which is not private: {why}")
                })?;
            }
            if let Facts::Subnet { az: Some(az), .. } = &subnet.facts {
                azs.insert(az.clone());
                names.push(format!("{label} ({az})"));
            } else {
                names.push(label);
            }
        }
        Ok((names, azs.len()))
    };
    let (lb_places, lb_azs) = placed(lb_subnets, true)?;
    if lb_azs < 2 {
        return Err(format!(
            "{lb_name} spans {lb_azs} availability zone(s): {}; it needs public subnets in two",
            lb_places.join(", ")
        ));
    }
    let (group_places, group_azs) = placed(group_subnets, false)?;
    if group_azs < 2 {
        return Err(format!(
            "{group_name} spans {group_azs} availability zone(s): {}; give it private subnets in two",
            if group_places.is_empty() {
                "no subnet".to_owned()
            } else {
                group_places.join(", ")
            }
        ));
    }
    let listeners: Vec<(&Observed, Option<i32>, &Vec<String>)> = world
        .of_kind(Kind::Listener)
        .filter_map(|l| match &l.facts {
            Facts::Listener {
                load_balancer,
                port,
                target_groups,
                ..
            } if *load_balancer == lb.id => Some((l, *port, target_groups)),
            _ => None,
        })
        .collect();
    if listeners.is_empty() {
        return Err(format!("{lb_name} has no listener"));
    }
    let served = listeners
        .iter()
        .find_map(|(_, port, tgs)| tgs.iter().find(|t| attached.contains(t)).map(|t| (port, t)));
    let Some((port, tg)) = served else {
        let forwards: Vec<String> = listeners
            .iter()
            .map(|(_, port, tgs)| {
                format!(
                    "port {} -> {}",
                    port.map_or_else(|| "?".to_owned(), |p| p.to_string()),
                    if tgs.is_empty() {
                        "nothing".to_owned()
                    } else {
                        tgs.iter()
                            .map(|t| bound.label(t))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                )
            })
            .collect();
        let groups: Vec<String> = attached.iter().map(|t| bound.label(t)).collect();
        return Err(format!(
            "no listener of {lb_name} forwards to a target group {group_name} is attached to (listeners: {}; {group_name} attached to: {})",
            forwards.join(", "),
            if groups.is_empty() {
                "none".to_owned()
            } else {
                groups.join(", ")
            }
        ));
    };
    Ok(format!(
        "{lb_name} (internet-facing in {}) port {} -> {} <- {group_name} (in {})",
        lb_places.join(", "),
        port.map_or_else(|| "?".to_owned(), |p| p.to_string()),
        bound.label(tg),
        group_places.join(", ")
    ))
}

fn bucket_facts<'b>(name: &str, bound: &'b Bindings) -> Result<(&'b str, &'b Facts), String> {
    let b = bound
        .get(name)
        .ok_or_else(|| format!("bucket `{name}` was not found"))?;
    Ok((b.id.as_str(), &b.facts))
}

/// Website hosting on, the index document uploaded, a policy that lets everyone read the
/// objects and nothing more, and Block Public Access not blocking it.
fn s3_website(name: &str, bound: &Bindings, world: &World) -> Result<String, String> {
    let (bucket, facts) = bucket_facts(name, bound)?;
    let child = |what: &str| world.get(&format!("{bucket}/{what}"));
    let index = match child("website").map(|w| &w.facts) {
        Some(Facts::Website {
            index_document: Some(i),
            ..
        }) => i.clone(),
        _ => return Err(format!("{bucket} has no static website hosting configured")),
    };
    let uploaded = matches!(child("objects").map(|o| &o.facts),
        Some(Facts::Objects { objects, .. }) if objects.iter().any(|o| o.key == index));
    if !uploaded {
        return Err(format!(
            "the index document {index} is not in {bucket}: the website would answer 404"
        ));
    }
    let document = match child("policy").map(|p| &p.facts) {
        Some(Facts::BucketPolicy { document, .. }) => document.clone(),
        _ => {
            return Err(format!(
                "{bucket} has no bucket policy: nobody may read the site"
            ));
        }
    };
    let grants = crate::resources::s3::public_grants(&document)?;
    let read = format!("s3:GetObject on arn:aws:s3:::{bucket}/*");
    let page = format!("arn:aws:s3:::{bucket}/{index}");
    // Action names are case-insensitive; `s3:*` on `…/*` lets everyone read too (and more,
    // reported below). Only plain grants count: a condition may well exclude the visitor.
    let covers = |g: &str| {
        g.split_once(" on ").is_some_and(|(action, resource)| {
            glob(&action.to_ascii_lowercase(), "s3:getobject") && glob(resource, &page)
        })
    };
    if let Some(d) = grants
        .iter()
        .find(|g| g.starts_with("DENY ") && covers(g.trim_start_matches("DENY ")))
    {
        return Err(format!("the policy denies everyone reading {index}: {d}"));
    }
    let reads = grants
        .iter()
        .any(|g| !g.starts_with("DENY ") && !g.ends_with(')') && covers(g));
    if !reads {
        return Err(format!(
            "the policy does not let everyone read the objects ({read}); it grants everyone: {}",
            if grants.is_empty() {
                "nothing".to_owned()
            } else {
                grants.join("; ")
            }
        ));
    }
    let extra: Vec<&String> = grants
        .iter()
        .filter(|g| !g.eq_ignore_ascii_case(&read) && !g.starts_with("DENY "))
        .collect();
    if !extra.is_empty() {
        return Err(format!(
            "the policy grants everyone more than reading objects: {}",
            extra
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if let Facts::Bucket { public_access, .. } = facts
        && (public_access.block_public_policy || public_access.restrict_public_buckets)
    {
        return Err(format!(
            "Block Public Access blocks the public policy ({public_access}): turn off the two settings about bucket policies"
        ));
    }
    Ok(format!(
        "{bucket}: website with index {index}; everyone may only {read}"
    ))
}

fn s3_encryption(name: &str, bound: &Bindings) -> Result<String, String> {
    let (bucket, facts) = bucket_facts(name, bound)?;
    let Facts::Bucket {
        sse, bucket_key, ..
    } = facts
    else {
        return Err(format!("{name} is not a bucket"));
    };
    match (sse.as_deref(), bucket_key) {
        (Some("AES256"), true) => Ok(format!("{bucket}: SSE-S3 (AES256) with the bucket key")),
        (Some("AES256"), false) => Err(format!(
            "{bucket}: SSE-S3 is set, but the bucket key is off"
        )),
        (Some(other), _) => Err(format!(
            "{bucket}: default encryption is {other}, not SSE-S3"
        )),
        (None, _) => Err(format!(
            "{bucket}: no default encryption configured (S3 applies SSE-S3 anyway since 2023, but the lab asks you to set it)"
        )),
    }
}

fn s3_versioning(name: &str, bound: &Bindings) -> Result<String, String> {
    let (bucket, facts) = bucket_facts(name, bound)?;
    match facts {
        Facts::Bucket { versioning, .. } if versioning == "Enabled" => {
            Ok(format!("{bucket}: versioning Enabled"))
        }
        Facts::Bucket { versioning, .. } => {
            Err(format!("{bucket}: versioning is {versioning}, not Enabled"))
        }
        _ => Err(format!("{name} is not a bucket")),
    }
}

/// IAM-style wildcard match (`*` any run, `?` one character), case-sensitive.
fn glob(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The tag is in the repository; the digest is the evidence.
fn ecr_image(
    repository: &str,
    tag: &str,
    bound: &Bindings,
    world: &World,
) -> Result<String, String> {
    let repo = bound
        .get(repository)
        .ok_or_else(|| format!("repository `{repository}` was not found"))?;
    let image = world.get(&format!("{}:{tag}", repo.id));
    match image.map(|i| &i.facts) {
        Some(Facts::Image {
            digest,
            scan_status,
            ..
        }) => Ok(format!(
            "{}:{tag} = {digest}{}",
            repo.id,
            scan_status
                .as_deref()
                .map(|s| format!(" (scan {s})"))
                .unwrap_or_default()
        )),
        _ => {
            let tags: Vec<String> = world
                .of_kind(Kind::Image)
                .filter_map(|i| match &i.facts {
                    Facts::Image {
                        repository: r, tag, ..
                    } if *r == repo.id => Some(tag.clone()),
                    _ => None,
                })
                .collect();
            Err(format!(
                "{} has no image tagged {tag} (tags: {})",
                repo.id,
                if tags.is_empty() {
                    "none".to_owned()
                } else {
                    tags.join(", ")
                }
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{evaluate, glob, s3_website};
    use crate::lab::{Check, CheckKind, Kind, PublicAccess};
    use crate::resources::s3::StoredObject;
    use crate::resources::{Bindings, Facts, Observed, RouteEntry, World};

    fn obs(kind: Kind, id: &str, facts: Facts) -> Observed {
        Observed {
            kind,
            id: id.to_owned(),
            tags: Default::default(),
            facts,
        }
    }

    /// Both private subnets governed by a table that sends 0.0.0.0/0 to the attached internet
    /// gateway: the check names each of them.
    #[test]
    fn private_subnets_names_every_subnet_that_fails() {
        let subnet = |id: &str| {
            obs(
                Kind::Subnet,
                id,
                Facts::Subnet {
                    vpc_id: Some("vpc-1".into()),
                    cidr: None,
                    az: None,
                    map_public_ip: false,
                },
            )
        };
        let world = World {
            items: vec![
                subnet("subnet-a"),
                subnet("subnet-b"),
                subnet("subnet-c"),
                obs(
                    Kind::InternetGateway,
                    "igw-1",
                    Facts::InternetGateway {
                        attached_vpcs: vec!["vpc-1".into()],
                    },
                ),
                obs(
                    Kind::RouteTable,
                    "rtb-1",
                    Facts::RouteTable {
                        vpc_id: Some("vpc-1".into()),
                        main: false,
                        associations: vec![
                            ("a1".into(), "subnet-a".into()),
                            ("a2".into(), "subnet-b".into()),
                        ],
                        routes: vec![RouteEntry {
                            dest: "0.0.0.0/0".into(),
                            target: Some("igw-1".into()),
                            state: "active".into(),
                        }],
                    },
                ),
                obs(
                    Kind::RouteTable,
                    "rtb-main",
                    Facts::RouteTable {
                        vpc_id: Some("vpc-1".into()),
                        main: true,
                        associations: Vec::new(),
                        routes: Vec::new(),
                    },
                ),
            ],
            azs: Vec::new(),
            ..World::default()
        };
        let mut bound = Bindings::default();
        for (name, id) in [
            ("private-a", "subnet-a"),
            ("private-b", "subnet-b"),
            ("private-c", "subnet-c"),
        ] {
            if let Some(o) = world.get(id) {
                bound.insert(name, o.clone());
            }
        }
        let check = |subnets: &[&str]| Check {
            id: "private-subnets".into(),
            title: "private subnets".into(),
            kind: CheckKind::PrivateSubnet {
                subnets: subnets.iter().map(|s| (*s).to_owned()).collect(),
            },
            points: 2,
            hint: "route 0.0.0.0/0 to the NAT gateway".into(),
        };
        let r = evaluate(
            &check(&["private-a", "private-b", "private-c", "private-d"]),
            &bound,
            &world,
        );
        assert_eq!(r.status, crate::check::Status::Fail);
        assert_eq!(
            r.message,
            "private-a: route table rtb-1 sends 0.0.0.0/0 to internet gateway igw-1, so the subnet is public; \
             private-b: route table rtb-1 sends 0.0.0.0/0 to internet gateway igw-1, so the subnet is public; \
             subnet `private-d` was not found"
        );
        let ok = evaluate(&check(&["private-c"]), &bound, &world);
        assert_eq!(ok.status, crate::check::Status::Pass, "{}", ok.message);
    }

    fn site(policy: &str) -> Result<String, String> {
        let obs = |kind, id: &str, facts| Observed {
            kind,
            id: id.to_owned(),
            tags: Default::default(),
            facts,
        };
        let bucket = obs(
            Kind::Bucket,
            "b",
            Facts::Bucket {
                versioning: "Enabled".into(),
                sse: Some("AES256".into()),
                bucket_key: true,
                ownership: Some("BucketOwnerEnforced".into()),
                public_access: PublicAccess {
                    block_public_acls: true,
                    ignore_public_acls: true,
                    block_public_policy: false,
                    restrict_public_buckets: false,
                },
                refused: None,
            },
        );
        let world = World {
            items: vec![
                bucket.clone(),
                obs(
                    Kind::Website,
                    "b/website",
                    Facts::Website {
                        bucket: "b".into(),
                        index_document: Some("home.html".into()),
                        error_document: None,
                    },
                ),
                obs(
                    Kind::Objects,
                    "b/objects",
                    Facts::Objects {
                        bucket: "b".into(),
                        objects: vec![StoredObject {
                            key: "home.html".into(),
                            etag: "x".into(),
                            content_type: Some("text/html".into()),
                        }],
                    },
                ),
                obs(
                    Kind::BucketPolicy,
                    "b/policy",
                    Facts::BucketPolicy {
                        bucket: "b".into(),
                        document: policy.into(),
                    },
                ),
            ],
            azs: Vec::new(),
            ..World::default()
        };
        let mut bound = Bindings::default();
        bound.insert("site", bucket);
        s3_website("site", &bound, &world)
    }

    fn policy(statement: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
    }

    #[test]
    fn website_policies_are_judged_by_what_they_grant_everyone() {
        let read = r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
        assert!(site(&policy(read)).is_ok());
        // Action names are case-insensitive.
        assert!(site(&policy(&read.replace("s3:GetObject", "s3:getobject"))).is_ok());
        let all = site(&policy(&read.replace("s3:GetObject", "s3:*"))).expect_err("too wide");
        assert!(all.contains("more than reading objects: s3:*"), "{all}");
        let tls_only = read.replace(
            r#""Resource""#,
            r#""Condition":{"Bool":{"aws:SecureTransport":"true"}},"Resource""#,
        );
        let conditional = site(&policy(&tls_only)).expect_err("conditional");
        assert!(
            conditional.contains("does not let everyone read"),
            "{conditional}"
        );
        let deny = format!(
            "{read},{}",
            read.replace("Allow", "Deny").replace("b/*", "b/home.html")
        );
        let denied = site(&policy(&deny)).expect_err("denied");
        assert!(
            denied.contains("denies everyone reading home.html"),
            "{denied}"
        );
        // The bucket itself (listing) is not the objects.
        let bucket_only = site(&policy(&read.replace("b/*", "b"))).expect_err("no objects");
        assert!(
            bucket_only.contains("does not let everyone read"),
            "{bucket_only}"
        );
    }

    #[test]
    fn iam_wildcards() {
        assert!(glob("s3:*", "s3:GetObject"));
        assert!(glob("*", "s3:GetObject"));
        assert!(glob("s3:Get*", "s3:GetObject"));
        assert!(!glob("s3:Put*", "s3:GetObject"));
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/index.html"));
        assert!(!glob("arn:aws:s3:::b", "arn:aws:s3:::b/index.html"));
        assert!(glob("s3:GetObjec?", "s3:GetObject"));
    }
}
