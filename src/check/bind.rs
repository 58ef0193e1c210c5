//! Finding each declared resource in what `check` discovered: by the awslab tags when the tool
//! made it, else by its `Name` tag inside the lab VPC, else through its relations (the route table
//! associated with `public-a`, the NAT gateway's address) for resources nobody names.

use std::collections::BTreeMap;

use crate::aws::tags::{self, Owner};
use crate::lab::{Kind, Lab, Resource, Spec};
use crate::resources::{Bindings, Facts, Observed, World, key_name};

#[derive(Debug, Clone)]
pub enum Binding {
    Found { id: String, how: String },
    Missing { reason: String },
    Ambiguous { ids: Vec<String> },
}

/// Candidates of a kind: anything not owned by another lab or env.
fn candidates<'w>(
    world: &'w World,
    owner: &Owner,
    kind: Kind,
) -> impl Iterator<Item = &'w Observed> {
    let owner = owner.clone();
    world
        .of_kind(kind)
        .filter(move |o| !o.tags.contains_key(tags::LAB) || owner.owns(&o.tags))
}

fn by_tags<'w>(world: &'w World, owner: &Owner, res: &Resource) -> Option<&'w Observed> {
    candidates(world, owner, res.kind()).find(|o| {
        owner.owns(&o.tags)
            && o.tags.get(tags::RESOURCE).map(String::as_str) == Some(res.name.as_str())
    })
}

fn by_name<'w>(world: &'w World, owner: &Owner, res: &Resource) -> Vec<&'w Observed> {
    candidates(world, owner, res.kind())
        .filter(|o| {
            o.name_tag() == Some(res.name.as_str())
                || match &o.facts {
                    Facts::SecurityGroup { group_name, .. } => *group_name == res.name,
                    Facts::KeyPair { key_name: k } => {
                        *k == res.name || *k == key_name(owner, &res.name)
                    }
                    Facts::IamRole { .. } | Facts::InstanceProfile { .. } => o.id == res.name,
                    // Their own names (a `Name` tag, when set, may say something else).
                    Facts::LoadBalancer { name, .. }
                    | Facts::TargetGroup { name, .. }
                    | Facts::LaunchTemplate { name, .. } => *name == res.name,
                    Facts::AutoScalingGroup { .. } => o.id == res.name,
                    // The repository name the lab gives (`lab/web`).
                    Facts::Repository { .. } => {
                        matches!(&res.spec, Spec::Repository { name, .. } if *name == o.id)
                    }
                    // `<name>-<code>-<account>`: the name the lab tells the student to use.
                    Facts::Bucket { .. } => {
                        crate::resources::s3::is_name_of(&o.id, owner, &res.name)
                    }
                    _ => false,
                }
        })
        .collect()
}

fn by_relation<'w>(
    world: &'w World,
    owner: &Owner,
    lab: &Lab,
    res: &Resource,
    bound: &Bindings,
) -> Option<(&'w Observed, String)> {
    match &res.spec {
        Spec::InternetGateway { vpc } => {
            let vpc_id = bound.id(vpc)?;
            world
                .of_kind(Kind::InternetGateway)
                .find(|g| matches!(&g.facts, Facts::InternetGateway { attached_vpcs } if attached_vpcs.iter().any(|v| v == vpc_id)))
                .map(|g| (g, format!("attached to {vpc}")))
        }
        Spec::RouteTable { subnets, .. } => subnets.iter().find_map(|s| {
            let t = world.route_table_of(bound.id(s)?)?;
            let main = if t.is_vpc_default() {
                "main table, "
            } else {
                ""
            };
            Some((t, format!("{main}governs {s}")))
        }),
        Spec::NetworkAcl { subnets, .. } => subnets.iter().find_map(|s| {
            let a = world.nacl_of(bound.id(s)?)?;
            (!a.is_vpc_default()).then(|| (a, format!("associated with {s}")))
        }),
        Spec::MountTarget {
            file_system,
            subnet,
            ..
        } => {
            let (fs, sn) = (bound.id(file_system)?, bound.id(subnet)?);
            world
                .of_kind(Kind::MountTarget)
                .find(|m| matches!(&m.facts, Facts::MountTarget { file_system_id, subnet_id, .. } if file_system_id == fs && subnet_id == sn))
                .map(|m| (m, format!("of {file_system} in {subnet}")))
        }
        Spec::Listener {
            load_balancer,
            port,
            ..
        } => crate::resources::kind(Kind::Listener)
            .find_existing(world, owner, res, bound)
            .map(|l| (l, format!("port {port} of {load_balancer}"))),
        Spec::ScalingPolicy { group, .. } => crate::resources::kind(Kind::ScalingPolicy)
            .find_existing(world, owner, res, bound)
            .map(|p| (p, format!("target tracking policy of {group}"))),
        Spec::BucketPolicy { bucket, .. }
        | Spec::Website { bucket, .. }
        | Spec::Objects { bucket, .. } => crate::resources::kind(res.kind())
            .find_existing(world, owner, res, bound)
            .map(|o| (o, format!("of bucket {bucket}"))),
        Spec::Image {
            repository, tag, ..
        } => crate::resources::kind(Kind::Image)
            .find_existing(world, owner, res, bound)
            .map(|o| (o, format!("tag {tag} of {repository}"))),
        Spec::NatGateway { subnet, .. } => {
            let subnet_id = bound.id(subnet)?;
            world
                .of_kind(Kind::NatGateway)
                .find(|n| n.subnet_id() == Some(subnet_id))
                .map(|n| (n, format!("in {subnet}")))
        }
        Spec::ElasticIp => lab.resources.iter().find_map(|r| match &r.spec {
            Spec::NatGateway { eip, .. } if *eip == res.name => {
                let nat = bound.get(&r.name)?;
                let Facts::NatGateway { allocation_ids, .. } = &nat.facts else {
                    return None;
                };
                let e = world
                    .of_kind(Kind::ElasticIp)
                    .find(|e| allocation_ids.contains(&e.id))?;
                Some((e, format!("address of {}", r.name)))
            }
            _ => None,
        }),
        _ => None,
    }
}

/// Binds every resource of the lab; resources found feed the relations of the others.
pub fn bind(lab: &Lab, world: &World, owner: &Owner) -> (Bindings, BTreeMap<String, Binding>) {
    let mut bound = Bindings::default();
    let mut result: BTreeMap<String, Binding> = BTreeMap::new();
    for res in &lab.resources {
        if let Some(o) = by_tags(world, owner, res) {
            bound.insert(&res.name, o.clone());
            result.insert(
                res.name.clone(),
                Binding::Found {
                    id: o.id.clone(),
                    how: "by awslab tags".to_owned(),
                },
            );
            continue;
        }
        let named = by_name(world, owner, res);
        match named.as_slice() {
            [] => {}
            [one] => {
                bound.insert(&res.name, (*one).clone());
                result.insert(
                    res.name.clone(),
                    Binding::Found {
                        id: one.id.clone(),
                        how: "by Name tag".to_owned(),
                    },
                );
            }
            many => {
                result.insert(
                    res.name.clone(),
                    Binding::Ambiguous {
                        ids: many.iter().map(|o| o.id.clone()).collect(),
                    },
                );
            }
        }
    }
    // Relations, until nothing more is found.
    loop {
        let mut progress = false;
        for res in &lab.resources {
            if result.contains_key(&res.name) {
                continue;
            }
            if let Some((o, how)) = by_relation(world, owner, lab, res, &bound) {
                bound.insert(&res.name, o.clone());
                result.insert(
                    res.name.clone(),
                    Binding::Found {
                        id: o.id.clone(),
                        how,
                    },
                );
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    for res in &lab.resources {
        result
            .entry(res.name.clone())
            .or_insert_with(|| Binding::Missing {
                reason: missing_reason(res),
            });
    }
    (bound, result)
}

fn missing_reason(res: &Resource) -> String {
    match &res.spec {
        Spec::RouteTable { subnets, .. } => {
            format!("no route table governs {}", subnets.join(" or "))
        }
        Spec::NetworkAcl { subnets, .. } => {
            format!(
                "{} use the VPC's default network ACL, not a custom one",
                subnets.join(" and ")
            )
        }
        Spec::MountTarget {
            file_system,
            subnet,
            ..
        } => format!("{file_system} has no mount target in {subnet}"),
        Spec::NatGateway { subnet, .. } => {
            format!("no NAT gateway named `{}` and none in {subnet}", res.name)
        }
        Spec::Listener {
            load_balancer,
            port,
            ..
        } => format!("{load_balancer} has no listener on port {port}"),
        Spec::ScalingPolicy { group, .. } => {
            format!("{group} has no target tracking scaling policy")
        }
        Spec::BucketPolicy { bucket, .. } => format!("{bucket} has no bucket policy"),
        Spec::Website { bucket, .. } => {
            format!("{bucket} has no static website hosting configured")
        }
        Spec::Objects { bucket, .. } => format!("{bucket} was not found, so neither its objects"),
        Spec::Image {
            repository, tag, ..
        } => {
            format!("{repository} has no image tagged {tag}")
        }
        Spec::Repository { name, .. } => format!("no ECR repository named `{name}`"),
        Spec::Bucket { .. } => format!(
            "no bucket named as the lab says (`awslab show` prints the name: `{}-<code of lab and env>-<account id>`)",
            res.name
        ),
        Spec::InternetGateway { vpc } => format!(
            "no internet gateway named `{}` and none attached to {vpc}",
            res.name
        ),
        _ => format!("no {} named `{}`", res.kind().label(), res.name),
    }
}
