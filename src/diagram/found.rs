//! A picture of a lab's network as `check` found it in the account: the VPCs it found, one
//! column per availability zone the subnets are really in, each subnet public or private by the
//! routes of the table that governs it (its association, else the VPC's main table), what sits
//! in each subnet, the route tables with the routes and targets found, gateways, NACLs, security
//! groups, load balancers and groups; each resource under the lab's name where `check` bound it,
//! else its `Name` tag or AWS id. What the lab expects and `check` did not find is drawn where
//! the lab declares it, marked missing.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{
    Diagram, Edge, EdgeStyle, INTERNET, Node, SubnetBox, VpcBox, Zone, declared_edges, of_lab,
    path_edges,
};
use crate::lab::{Kind, Lab, StageSel};
use crate::resources::{
    AutoScalingGroupFacts, Bindings, Facts, InstanceFacts, LoadBalancerFacts, MountTargetFacts,
    NatGatewayFacts, NetworkAclFacts, Observed, RouteTableFacts, RouteTarget, SubnetFacts,
    VpcFacts, World,
};

/// Kinds drawn in their subnet.
const IN_SUBNET: [Kind; 3] = [Kind::NatGateway, Kind::Instance, Kind::MountTarget];

/// Kinds drawn in their VPC, beside the zones.
const IN_VPC: [Kind; 8] = [
    Kind::InternetGateway,
    Kind::RouteTable,
    Kind::NetworkAcl,
    Kind::SecurityGroup,
    Kind::VpcEndpoint,
    Kind::LoadBalancer,
    Kind::TargetGroup,
    Kind::AutoScalingGroup,
];

/// The diagram of what `check` found for `lab` (at `stage`): `world` is everything it
/// discovered, `bound` the lab's names bound to what it found.
pub fn of_found(lab: &Lab, stage: StageSel, world: &World, bound: &Bindings) -> Diagram {
    let names = Names::new(lab, world, bound);
    let node = |o: &Observed| Node {
        id: Some(o.id.clone()),
        ..Node::declared(&names.of(&o.id), o.kind)
    };
    let live: Vec<&Observed> = world.items.iter().filter(|o| !o.is_gone()).collect();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut vpcs = Vec::new();
    for v in live.iter().filter(|o| o.kind == Kind::Vpc) {
        placed.insert(&v.id);
        let cidr = match &v.facts {
            Facts::Vpc(VpcFacts { cidr: Some(c), .. }) => c.to_string(),
            _ => String::new(),
        };
        let mut zones: Vec<Zone> = Vec::new();
        for s in live
            .iter()
            .filter(|o| o.kind == Kind::Subnet && o.vpc_id() == Some(v.id.as_str()))
        {
            placed.insert(&s.id);
            let (az, cidr) = match &s.facts {
                Facts::Subnet(SubnetFacts { az, cidr, .. }) => {
                    (az.clone(), cidr.map(|c| c.to_string()).unwrap_or_default())
                }
                _ => (None, String::new()),
            };
            let mut members: Vec<Node> = live
                .iter()
                .filter(|o| IN_SUBNET.contains(&o.kind) && o.subnet_id() == Some(s.id.as_str()))
                .inspect(|o| {
                    placed.insert(&o.id);
                })
                .map(|o| node(o))
                .collect();
            members.sort_by(|a, b| a.name.cmp(&b.name));
            let subnet = SubnetBox {
                id: Some(s.id.clone()),
                missing: false,
                cidr,
                public: routes_to_igw(world, &s.id),
                members,
                name: names.of(&s.id),
            };
            let index = az
                .as_ref()
                .and_then(|a| world.azs.iter().position(|z| z == a))
                .unwrap_or(world.azs.len());
            zone_of(&mut zones, index, az).subnets.push(subnet);
        }
        for z in &mut zones {
            z.subnets.sort_by(|a, b| a.name.cmp(&b.name));
        }
        zones.sort_by_key(|z| z.az);
        let mut members: Vec<Node> = live
            .iter()
            .filter(|o| IN_VPC.contains(&o.kind) && o.vpc_id() == Some(v.id.as_str()))
            .filter(|o| !o.is_vpc_default() || bound.name_of(&o.id).is_some() || in_use(o, world))
            .inspect(|o| {
                placed.insert(&o.id);
            })
            .map(|o| node(o))
            .collect();
        members.sort_by(|a, b| (a.kind.as_str(), &a.name).cmp(&(b.kind.as_str(), &b.name)));
        vpcs.push(VpcBox {
            name: names.of(&v.id),
            id: Some(v.id.clone()),
            missing: false,
            cidr,
            zones,
            members,
        });
    }
    // The Elastic IPs of the NAT gateways drawn, and what the lab names outside any VPC.
    let eips: BTreeSet<&str> = live
        .iter()
        .filter(|o| placed.contains(o.id.as_str()))
        .flat_map(|o| match &o.facts {
            Facts::NatGateway(NatGatewayFacts { allocation_ids, .. }) => {
                allocation_ids.iter().map(String::as_str).collect()
            }
            _ => Vec::new(),
        })
        .collect();
    let mut outside: Vec<Node> = live
        .iter()
        .filter(|o| !placed.contains(o.id.as_str()))
        .filter(|o| bound.name_of(&o.id).is_some() || eips.contains(o.id.as_str()))
        .map(|o| node(o))
        .collect();
    outside.sort_by(|a, b| a.name.cmp(&b.name));
    let mut d = Diagram {
        schema_version: 1,
        lab: lab.id.clone(),
        vpcs,
        outside,
        edges: found_edges(&live, world, &names),
        graded: false,
        found: true,
    };
    add_missing(&mut d, lab, stage, world, bound);
    // Only edges between boxes drawn: what the VPC's undrawn defaults or the region's other
    // resources touch stays out of the picture.
    let drawn: BTreeSet<String> = d
        .nodes()
        .map(|n| n.name.clone())
        .chain(d.vpcs.iter().flat_map(|v| {
            v.zones
                .iter()
                .flat_map(|z| z.subnets.iter().map(|s| s.name.clone()))
                .chain([v.name.clone()])
        }))
        .chain([INTERNET.to_owned()])
        .collect();
    d.edges
        .retain(|e| drawn.contains(&e.from) && drawn.contains(&e.to));
    d.edges.extend(path_edges(lab));
    d
}

/// What each found resource is called in the picture: the lab's name where `check` bound one to
/// it, else its `Name` tag where no other resource is drawn by that name, else its id.
struct Names {
    by_id: BTreeMap<String, String>,
}

impl Names {
    fn new(lab: &Lab, world: &World, bound: &Bindings) -> Names {
        let mut taken: BTreeSet<String> = lab.resources.iter().map(|r| r.name.clone()).collect();
        let mut by_id = BTreeMap::new();
        for o in &world.items {
            if let Some(n) = bound.name_of(&o.id) {
                by_id.insert(o.id.clone(), n.to_owned());
            }
        }
        for o in &world.items {
            if by_id.contains_key(&o.id) {
                continue;
            }
            let name = match o.name_tag() {
                Some(tag) if !taken.contains(tag) => tag.to_owned(),
                _ => o.id.clone(),
            };
            taken.insert(name.clone());
            by_id.insert(o.id.clone(), name);
        }
        Names { by_id }
    }

    fn of(&self, id: &str) -> String {
        self.by_id.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }
}

fn zone_of(zones: &mut Vec<Zone>, az: usize, name: Option<String>) -> &mut Zone {
    let at = match zones.iter().position(|z| z.az == az) {
        Some(at) => at,
        None => {
            zones.push(Zone {
                az,
                name,
                subnets: Vec::new(),
            });
            zones.len() - 1
        }
    };
    &mut zones[at]
}

/// Whether the table that governs the subnet has an active route to an internet gateway.
fn routes_to_igw(world: &World, subnet: &str) -> bool {
    match world.route_table_of(subnet).map(|t| &t.facts) {
        Some(Facts::RouteTable(RouteTableFacts { routes, .. })) => routes.iter().any(|r| {
            r.state == "active"
                && r.target
                    .as_ref()
                    .and_then(|t| t.internet_gateway())
                    .is_some()
        }),
        _ => false,
    }
}

/// The subnets of `vpc` no table or NACL is explicitly associated with.
fn unassociated<'w>(world: &'w World, vpc: &str, kind: Kind) -> Vec<&'w Observed> {
    let associated: BTreeSet<&str> = world
        .of_kind(kind)
        .flat_map(|o| match &o.facts {
            Facts::RouteTable(RouteTableFacts { associations, .. })
            | Facts::NetworkAcl(NetworkAclFacts { associations, .. }) => {
                associations.iter().map(|(_, s)| s.as_str()).collect()
            }
            _ => Vec::new(),
        })
        .collect();
    world
        .of_kind(Kind::Subnet)
        .filter(|s| s.vpc_id() == Some(vpc) && !associated.contains(s.id.as_str()))
        .collect()
}

/// Whether a VPC's default object matters to the picture: the main table or default NACL
/// governs a subnet, the default group is used by something.
fn in_use(o: &Observed, world: &World) -> bool {
    match o.kind {
        Kind::RouteTable | Kind::NetworkAcl => o.vpc_id().is_some_and(|v| {
            !unassociated(world, v, o.kind).is_empty()
                || matches!(&o.facts, Facts::NetworkAcl(NetworkAclFacts { associations, .. }) if !associations.is_empty())
        }),
        Kind::SecurityGroup => world
            .items
            .iter()
            .any(|u| !u.is_gone() && groups_of(u).contains(&o.id.as_str())),
        _ => true,
    }
}

/// The security groups a resource uses.
fn groups_of(o: &Observed) -> Vec<&str> {
    match &o.facts {
        Facts::Instance(InstanceFacts {
            security_groups, ..
        })
        | Facts::MountTarget(MountTargetFacts {
            security_groups, ..
        })
        | Facts::LoadBalancer(LoadBalancerFacts {
            security_groups, ..
        }) => security_groups.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Associations, routes and uses, as found.
fn found_edges(live: &[&Observed], world: &World, names: &Names) -> Vec<Edge> {
    let mut out = Vec::new();
    let mut edge = |from: &str, to: &str, label: String, style: EdgeStyle| {
        out.push(Edge {
            from: names.of(from),
            to: if to == INTERNET {
                INTERNET.to_owned()
            } else {
                names.of(to)
            },
            label,
            style,
            check: None,
            result: None,
        });
    };
    for o in live {
        match &o.facts {
            Facts::RouteTable(RouteTableFacts {
                associations,
                routes,
                main,
                ..
            }) => {
                for (_, s) in associations {
                    edge(&o.id, s, String::new(), EdgeStyle::Association);
                }
                if *main && let Some(v) = o.vpc_id() {
                    for s in unassociated(world, v, Kind::RouteTable) {
                        edge(&o.id, &s.id, "main".to_owned(), EdgeStyle::Association);
                    }
                }
                for r in routes {
                    let Some(target) = r.target.as_ref() else {
                        continue;
                    };
                    if *target == RouteTarget::Local {
                        continue;
                    }
                    let label = if r.state == "active" {
                        r.dest.clone()
                    } else {
                        format!("{} ({})", r.dest, r.state)
                    };
                    edge(&o.id, target.id(), label, EdgeStyle::Route);
                }
            }
            Facts::NetworkAcl(NetworkAclFacts {
                associations,
                is_default,
                ..
            }) => {
                for (_, s) in associations {
                    edge(&o.id, s, String::new(), EdgeStyle::Association);
                }
                if *is_default && let Some(v) = o.vpc_id() {
                    for s in unassociated(world, v, Kind::NetworkAcl) {
                        edge(&o.id, &s.id, String::new(), EdgeStyle::Association);
                    }
                }
            }
            Facts::InternetGateway(_) if o.vpc_id().is_some() => {
                edge(&o.id, INTERNET, String::new(), EdgeStyle::Route);
            }
            Facts::NatGateway(NatGatewayFacts { allocation_ids, .. }) => {
                for a in allocation_ids {
                    edge(&o.id, a, String::new(), EdgeStyle::Uses);
                }
            }
            Facts::LoadBalancer(LoadBalancerFacts { subnets, .. })
            | Facts::AutoScalingGroup(AutoScalingGroupFacts { subnets, .. }) => {
                for s in subnets {
                    edge(&o.id, s, String::new(), EdgeStyle::Association);
                }
            }
            _ => {}
        }
        for g in groups_of(o) {
            edge(&o.id, g, String::new(), EdgeStyle::Uses);
        }
    }
    out
}

/// Draws what the lab expects at `stage` and `check` did not find, where the lab declares it,
/// marked missing, with the edges its declaration draws.
fn add_missing(d: &mut Diagram, lab: &Lab, stage: StageSel, world: &World, bound: &Bindings) {
    let missing: BTreeSet<&str> = lab
        .resources_for(stage)
        .filter(|r| bound.get(&r.name).is_none())
        .map(|r| r.name.as_str())
        .collect();
    if missing.is_empty() {
        return;
    }
    let lost = |n: &Node| Node {
        missing: true,
        ..Node::declared(&n.name, n.kind)
    };
    let declared = of_lab(lab);
    for v in &declared.vpcs {
        if missing.contains(v.name.as_str()) {
            d.vpcs.push(VpcBox {
                name: v.name.clone(),
                id: None,
                missing: true,
                cidr: v.cidr.clone(),
                zones: Vec::new(),
                members: Vec::new(),
            });
        }
        for z in &v.zones {
            for s in &z.subnets {
                if missing.contains(s.name.as_str()) {
                    let Some(home) = d.vpcs.iter_mut().find(|h| h.name == v.name) else {
                        continue;
                    };
                    zone_of(&mut home.zones, z.az, world.azs.get(z.az).cloned())
                        .subnets
                        .push(SubnetBox {
                            name: s.name.clone(),
                            id: None,
                            missing: true,
                            cidr: s.cidr.clone(),
                            public: s.public,
                            members: Vec::new(),
                        });
                    home.zones.sort_by_key(|z| z.az);
                }
                for n in s
                    .members
                    .iter()
                    .filter(|n| missing.contains(n.name.as_str()))
                {
                    match d
                        .vpcs
                        .iter_mut()
                        .flat_map(|h| h.zones.iter_mut())
                        .flat_map(|z| z.subnets.iter_mut())
                        .find(|h| h.name == s.name)
                    {
                        Some(home) => home.members.push(lost(n)),
                        None => d.outside.push(lost(n)),
                    }
                }
            }
        }
        for n in v
            .members
            .iter()
            .filter(|n| missing.contains(n.name.as_str()))
        {
            match d.vpcs.iter_mut().find(|h| h.name == v.name) {
                Some(home) => home.members.push(lost(n)),
                None => d.outside.push(lost(n)),
            }
        }
    }
    for n in declared
        .outside
        .iter()
        .filter(|n| missing.contains(n.name.as_str()))
    {
        d.outside.push(lost(n));
    }
    for r in lab
        .resources
        .iter()
        .filter(|r| missing.contains(r.name.as_str()))
    {
        declared_edges(r, &mut d.edges);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::aws::tags::Tags;
    use crate::check::{CheckResult, PathBlocked, Report};
    use crate::diagram::{mermaid, svg, with_results};
    use crate::lab::catalog::{BUNDLED, LabSource, load_text};
    use crate::resources::{ElasticIpFacts, InternetGatewayFacts, RouteEntry, SecurityGroupFacts};

    fn vpc_lab() -> Lab {
        let (id, text) = BUNDLED
            .iter()
            .find(|(b, _)| *b == "vpc-public-private")
            .expect("bundled lab");
        load_text(&LabSource::Bundled(id), text, &BTreeMap::new())
            .expect("loads")
            .lab
    }

    fn obs(kind: Kind, id: &str, name: Option<&str>, facts: Facts) -> Observed {
        let mut tags = Tags::new();
        if let Some(n) = name {
            tags.insert("Name".to_owned(), n.to_owned());
        }
        Observed {
            kind,
            id: id.to_owned(),
            tags,
            facts,
        }
    }

    fn subnet(id: &str, cidr: &str, az: &str) -> Observed {
        obs(
            Kind::Subnet,
            id,
            None,
            Facts::Subnet(SubnetFacts {
                vpc_id: Some("vpc-1".into()),
                cidr: cidr.parse().ok(),
                az: Some(az.into()),
                map_public_ip: false,
            }),
        )
    }

    fn route(dest: &str, target: &str) -> RouteEntry {
        RouteEntry {
            dest: dest.into(),
            target: Some(RouteTarget::from_id(target)),
            state: "active".into(),
        }
    }

    fn table(id: &str, main: bool, subnets: &[&str], routes: Vec<RouteEntry>) -> Observed {
        obs(
            Kind::RouteTable,
            id,
            None,
            Facts::RouteTable(RouteTableFacts {
                vpc_id: Some("vpc-1".into()),
                main,
                associations: subnets
                    .iter()
                    .map(|s| (format!("rtbassoc-{s}"), (*s).to_owned()))
                    .collect(),
                routes,
            }),
        )
    }

    fn nacl(id: &str, default: bool, subnets: &[&str]) -> Observed {
        obs(
            Kind::NetworkAcl,
            id,
            None,
            Facts::NetworkAcl(NetworkAclFacts {
                vpc_id: Some("vpc-1".into()),
                is_default: default,
                associations: subnets
                    .iter()
                    .map(|s| (format!("aclassoc-{s}"), (*s).to_owned()))
                    .collect(),
                entries: Vec::new(),
            }),
        )
    }

    fn group(id: &str, name: &str) -> Observed {
        obs(
            Kind::SecurityGroup,
            id,
            None,
            Facts::SecurityGroup(SecurityGroupFacts {
                vpc_id: Some("vpc-1".into()),
                group_name: name.into(),
                ingress: Vec::new(),
                egress: Vec::new(),
            }),
        )
    }

    fn instance(id: &str, subnet: &str, sg: &str) -> Observed {
        obs(
            Kind::Instance,
            id,
            None,
            Facts::Instance(InstanceFacts {
                vpc_id: Some("vpc-1".into()),
                subnet_id: Some(subnet.into()),
                state: "running".into(),
                instance_type: "t3.micro".into(),
                security_groups: vec![sg.into()],
                key_name: None,
                public_ip: None,
                private_ip: None,
                instance_profile: None,
                image_id: None,
                az: None,
                launch_template: None,
            }),
        )
    }

    /// The VPC lab as a student built it: private-b in the first zone (not the second),
    /// private-rt sending 0.0.0.0/0 to the internet gateway, no NAT gateway; an extra group
    /// named `scratch-sg`, and the VPC's own main table, default NACL and group.
    fn student() -> (World, Bindings) {
        let local = || route("10.0.0.0/16", "local");
        let named = [
            (
                "lab-vpc",
                obs(
                    Kind::Vpc,
                    "vpc-1",
                    Some("lab-vpc"),
                    Facts::Vpc(VpcFacts {
                        cidr: "10.0.0.0/16".parse().ok(),
                        dns_hostnames: Some(true),
                        is_default: false,
                    }),
                ),
            ),
            ("public-a", subnet("subnet-pa", "10.0.1.0/24", "us-east-1a")),
            ("public-b", subnet("subnet-pb", "10.0.2.0/24", "us-east-1b")),
            (
                "private-a",
                subnet("subnet-va", "10.0.11.0/24", "us-east-1a"),
            ),
            (
                "private-b",
                subnet("subnet-vb", "10.0.12.0/24", "us-east-1a"),
            ),
            (
                "lab-igw",
                obs(
                    Kind::InternetGateway,
                    "igw-1",
                    None,
                    Facts::InternetGateway(InternetGatewayFacts {
                        attached_vpcs: vec!["vpc-1".into()],
                    }),
                ),
            ),
            (
                "public-rt",
                table(
                    "rtb-pub",
                    false,
                    &["subnet-pa", "subnet-pb"],
                    vec![local(), route("0.0.0.0/0", "igw-1")],
                ),
            ),
            (
                "private-rt",
                table(
                    "rtb-priv",
                    false,
                    &["subnet-va", "subnet-vb"],
                    vec![local(), route("0.0.0.0/0", "igw-1")],
                ),
            ),
            (
                "nat-eip",
                obs(
                    Kind::ElasticIp,
                    "eipalloc-1",
                    None,
                    Facts::ElasticIp(ElasticIpFacts {
                        public_ip: Some("54.0.0.9".into()),
                        association_id: None,
                    }),
                ),
            ),
            (
                "private-nacl",
                nacl("acl-priv", false, &["subnet-va", "subnet-vb"]),
            ),
            ("bastion-sg", group("sg-bastion", "bastion-sg")),
            ("app-sg", group("sg-app", "app-sg")),
            ("bastion", instance("i-bastion", "subnet-pa", "sg-bastion")),
            ("app", instance("i-app", "subnet-va", "sg-app")),
        ];
        let others = [
            table(
                "rtb-main",
                true,
                &[],
                vec![local(), route("0.0.0.0/0", "igw-1")],
            ),
            nacl("acl-def", true, &["subnet-pa", "subnet-pb"]),
            group("sg-def", "default"),
            obs(
                Kind::SecurityGroup,
                "sg-scratch",
                Some("scratch-sg"),
                Facts::SecurityGroup(SecurityGroupFacts {
                    vpc_id: Some("vpc-1".into()),
                    group_name: "scratch".into(),
                    ingress: Vec::new(),
                    egress: Vec::new(),
                }),
            ),
            // Another account's address in the region: not the lab's, not drawn.
            obs(
                Kind::ElasticIp,
                "eipalloc-other",
                None,
                Facts::ElasticIp(ElasticIpFacts {
                    public_ip: None,
                    association_id: None,
                }),
            ),
        ];
        let mut bound = Bindings::default();
        for (n, o) in &named {
            bound.insert(n, o.clone());
        }
        let world = World {
            items: named.into_iter().map(|(_, o)| o).chain(others).collect(),
            azs: vec!["us-east-1a".into(), "us-east-1b".into()],
            ..World::default()
        };
        (world, bound)
    }

    fn found() -> Diagram {
        let (world, bound) = student();
        of_found(&vpc_lab(), StageSel::Full, &world, &bound)
    }

    #[test]
    fn subnets_are_in_the_zones_found_and_public_or_private_by_the_routes_found() {
        let d = found();
        assert!(d.found);
        assert_eq!(d.vpcs.len(), 1);
        let v = &d.vpcs[0];
        assert_eq!(
            (v.name.as_str(), v.id.as_deref(), v.missing),
            ("lab-vpc", Some("vpc-1"), false)
        );
        type Placed<'a> = (
            usize,
            Option<&'a str>,
            Vec<(&'a str, Option<&'a str>, bool)>,
        );
        let zones: Vec<Placed<'_>> = v
            .zones
            .iter()
            .map(|z| {
                (
                    z.az,
                    z.name.as_deref(),
                    z.subnets
                        .iter()
                        .map(|s| (s.name.as_str(), s.id.as_deref(), s.public))
                        .collect(),
                )
            })
            .collect();
        // private-b sits in the first zone, and both private subnets route to the gateway.
        assert_eq!(
            zones,
            [
                (
                    0,
                    Some("us-east-1a"),
                    vec![
                        ("private-a", Some("subnet-va"), true),
                        ("private-b", Some("subnet-vb"), true),
                        ("public-a", Some("subnet-pa"), true),
                    ]
                ),
                (
                    1,
                    Some("us-east-1b"),
                    vec![("public-b", Some("subnet-pb"), true)]
                ),
            ]
        );
        let routes: Vec<(&str, &str, &str)> = d
            .edges
            .iter()
            .filter(|e| e.style == EdgeStyle::Route)
            .map(|e| (e.from.as_str(), e.to.as_str(), e.label.as_str()))
            .collect();
        assert!(
            routes.contains(&("private-rt", "lab-igw", "0.0.0.0/0")),
            "{routes:?}"
        );
        assert!(routes.contains(&("lab-igw", INTERNET, "")), "{routes:?}");
    }

    #[test]
    fn what_the_lab_expects_and_check_did_not_find_is_drawn_missing_where_declared() {
        let d = found();
        let public_a = d.vpcs[0]
            .zones
            .iter()
            .flat_map(|z| z.subnets.iter())
            .find(|s| s.name == "public-a")
            .expect("public-a");
        let in_a: Vec<(&str, Option<&str>, bool)> = public_a
            .members
            .iter()
            .map(|n| (n.name.as_str(), n.id.as_deref(), n.missing))
            .collect();
        assert_eq!(
            in_a,
            [
                ("bastion", Some("i-bastion"), false),
                ("lab-nat", None, true)
            ]
        );
        let missing: Vec<&str> = d
            .nodes()
            .filter(|n| n.missing)
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(missing, ["lab-nat", "lab-key"]);
        // The declared route of the missing NAT gateway to its address is drawn, dashed.
        assert!(
            d.edges
                .iter()
                .any(|e| e.from == "lab-nat" && e.to == "nat-eip" && e.style == EdgeStyle::Uses)
        );
    }

    #[test]
    fn found_resources_keep_their_ids_and_the_vpc_defaults_show_only_where_they_matter() {
        let d = found();
        let members: Vec<(&str, Option<&str>)> = d.vpcs[0]
            .members
            .iter()
            .map(|n| (n.name.as_str(), n.id.as_deref()))
            .collect();
        assert_eq!(
            members,
            [
                ("lab-igw", Some("igw-1")),
                ("acl-def", Some("acl-def")),
                ("private-nacl", Some("acl-priv")),
                ("private-rt", Some("rtb-priv")),
                ("public-rt", Some("rtb-pub")),
                ("app-sg", Some("sg-app")),
                ("bastion-sg", Some("sg-bastion")),
                ("scratch-sg", Some("sg-scratch")),
            ],
            "the main table governs no subnet and the default group guards nothing"
        );
        let outside: Vec<&str> = d.outside.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(outside, ["nat-eip", "lab-key"]);
        assert!(d.edges.iter().any(|e| e.from == "acl-def"
            && e.to == "public-b"
            && e.style == EdgeStyle::Association));
        // The main table governs no subnet and is not drawn, nor is its route.
        assert!(
            !d.edges.iter().any(|e| e.from == "rtb-main"),
            "{:?}",
            d.edges
        );
        // Every edge but the checked paths joins two boxes drawn.
        let text = mermaid(&d);
        for e in d
            .edges
            .iter()
            .filter(|e| !matches!(e.style, EdgeStyle::Reachable | EdgeStyle::NotReachable))
        {
            for end in [&e.from, &e.to] {
                let id = crate::diagram::mermaid::id(end);
                assert!(
                    text.contains(&format!("{id}["))
                        || text.contains(&format!("{id}{{{{"))
                        || text.contains(&format!("{id}((")),
                    "{end} is not drawn\n{text}"
                );
            }
        }
    }

    #[test]
    fn a_failed_path_marks_the_resource_it_stops_at_with_the_check_id() {
        let lab = vpc_lab();
        let mut failed = CheckResult::fail(
            "ssh-bastion-to-app".into(),
            "The bastion can SSH to the app server".into(),
            2,
            "bastion (i-bastion) -> app (i-app) is blocked: NACL private-nacl (acl-priv) rule 50 denies TCP 22".into(),
            String::new(),
        );
        failed.blocked = Some(PathBlocked {
            from: "bastion (i-bastion)".into(),
            to: "app (i-app)".into(),
            kind: Some(Kind::NetworkAcl),
            ids: vec!["acl-priv".into()],
            names: vec!["private-nacl".into()],
            reason: "NACL private-nacl (acl-priv) rule 50 denies TCP 22".into(),
        });
        let report = Report::new(
            lab.id.clone(),
            "student".into(),
            StageSel::Full,
            vec![failed],
        );
        let d = with_results(found(), &report);
        let blocking: Vec<(&str, &[String])> = d
            .nodes()
            .filter(|n| !n.blocks.is_empty())
            .map(|n| (n.name.as_str(), n.blocks.as_slice()))
            .collect();
        assert_eq!(
            blocking,
            [("private-nacl", &["ssh-bastion-to-app".to_owned()][..])]
        );
        let doc = svg(&d);
        assert!(
            doc.contains("data-name=\"private-nacl\" data-id=\"acl-priv\" data-blocks=\"ssh-bastion-to-app\"><rect class=\"leaf blocking\""),
            "{doc}"
        );
        assert!(doc.contains(">✗ blocks ssh-bastion-to-app</text>"));
        assert!(
            doc.contains(
                "data-name=\"lab-nat\" data-missing=\"true\"><rect class=\"leaf missing\""
            )
        );
        assert!(doc.contains(">availability zone 1 (us-east-1a)</text>"));
        assert!(doc.contains(">public subnet private-b 10.0.12.0/24 subnet-vb</text>"));
        let text = mermaid(&d);
        assert!(
            text.contains("n_private_nacl_h[/\"network ACL private-nacl acl-priv<br/>✗ blocks ssh-bastion-to-app\"/]"),
            "{text}"
        );
        assert!(text.contains("style n_private_nacl_h fill:#fef2f2,stroke:#dc2626"));
        assert!(text.contains("style n_lab_nat_h fill:#f1f5f9"));
    }
}
