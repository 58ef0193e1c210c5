//! The model of a picture of a lab's network (boxes by containment, edges between them, what
//! `check` found of each path and where a failed one stops), and the picture as the lab
//! declares it ([`of_lab`]): each VPC with one column per availability zone, each subnet in its
//! zone labelled public or private by its routes (a route to an internet gateway makes it
//! public, whatever its name), what sits in each subnet (NAT gateways, instances, mount
//! targets), route tables with their routes, gateways, NACLs and security groups; load
//! balancers and Auto Scaling groups beside the subnets they span; the paths the reachability
//! checks ask about.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::lab::{CheckKind, Endpoint, Kind, Lab, Resource, Spec};
use crate::resources::{
    AutoScalingGroupSpec, InstanceSpec, LoadBalancerSpec, MountTargetSpec, NatGatewaySpec,
    NetworkAclSpec, RouteTableSpec, SubnetSpec, VpcSpec,
};

/// The network of a lab, laid out by containment.
#[derive(Debug, Clone, Serialize)]
pub struct Diagram {
    /// The version of this JSON shape.
    pub schema_version: u32,
    pub lab: String,
    pub vpcs: Vec<VpcBox>,
    /// Resources outside any VPC (Elastic IPs, key pairs, buckets, roles, ...).
    pub outside: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Whether the paths carry what `check` found (`check --diagram`), not only what the lab
    /// asks.
    pub graded: bool,
    /// Whether the boxes are what `check` found in the account ([`of_found`]), not the lab's
    /// declaration.
    #[serde(skip_serializing_if = "is_false")]
    pub found: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A VPC: its zones, and what belongs to it without being in one subnet.
#[derive(Debug, Clone, Serialize)]
pub struct VpcBox {
    pub name: String,
    /// The AWS id of what was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Declared, and not found in the account.
    #[serde(skip_serializing_if = "is_false")]
    pub missing: bool,
    pub cidr: String,
    pub zones: Vec<Zone>,
    /// Gateways, route tables, NACLs, security groups, load balancers, groups.
    pub members: Vec<Node>,
}

/// One availability zone, by its index in the region (0 is the first).
#[derive(Debug, Clone, Serialize)]
pub struct Zone {
    pub az: usize,
    /// The zone's name in the region (`us-east-1b`), when found in an account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub subnets: Vec<SubnetBox>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubnetBox {
    pub name: String,
    /// The AWS id of what was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Declared, and not found in the account.
    #[serde(skip_serializing_if = "is_false")]
    pub missing: bool,
    pub cidr: String,
    /// Whether one of its route tables sends traffic to an internet gateway.
    pub public: bool,
    /// What is placed in it: NAT gateways, instances, mount targets.
    pub members: Vec<Node>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// The lab's name for it, or (found, and not the lab's) its `Name` tag or AWS id; edges name
    /// their ends by it.
    pub name: String,
    pub kind: Kind,
    /// The AWS id of what was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Declared, and not found in the account.
    #[serde(skip_serializing_if = "is_false")]
    pub missing: bool,
    /// The failed `reachable` checks whose path stops at this resource.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<String>,
}

impl Node {
    /// A resource as the lab declares it.
    pub fn declared(name: &str, kind: Kind) -> Node {
        Node {
            name: name.to_owned(),
            kind,
            id: None,
            missing: false,
            blocks: Vec::new(),
        }
    }

    /// Whether it stands for the resource with this AWS id or lab name.
    fn is(&self, ids: &[String], names: &[String]) -> bool {
        self.id.as_ref().is_some_and(|i| ids.contains(i))
            || (self.id.is_none() && names.contains(&self.name))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: String,
    pub style: EdgeStyle,
    /// The check a reachability path belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// What `check` found of the path, once it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<PathResult>,
}

/// What `check` said of a reachability path: whether the check passed, and its message (which
/// names the rule or route that blocks a path that should be open).
#[derive(Debug, Clone, Serialize)]
pub struct PathResult {
    pub passed: bool,
    pub message: String,
}

/// What an edge stands for, which decides how it is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeStyle {
    /// A route of a route table to its target.
    Route,
    /// A route table or NACL associated with a subnet; a load balancer or group in a subnet.
    Association,
    /// Something that uses another (a NAT gateway its address, an instance its group).
    Uses,
    /// A path a `reachable` check asks for.
    Reachable,
    /// A path a `not_reachable` check asks to be closed.
    NotReachable,
}

impl Diagram {
    /// Every resource's box: in subnets, in VPCs, outside them.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.vpcs
            .iter()
            .flat_map(|v| {
                v.zones
                    .iter()
                    .flat_map(|z| z.subnets.iter().flat_map(|s| s.members.iter()))
                    .chain(v.members.iter())
            })
            .chain(self.outside.iter())
    }

    fn nodes_mut(&mut self) -> impl Iterator<Item = &mut Node> {
        self.vpcs
            .iter_mut()
            .flat_map(|v| {
                v.zones
                    .iter_mut()
                    .flat_map(|z| z.subnets.iter_mut().flat_map(|s| s.members.iter_mut()))
                    .chain(v.members.iter_mut())
            })
            .chain(self.outside.iter_mut())
    }
}

/// The internet, as the end of a route or a reachability path.
pub const INTERNET: &str = "internet";

/// The diagram of `lab` as declared.
pub fn of_lab(lab: &Lab) -> Diagram {
    let spec = |name: &str| lab.resource(name).map(|r| &r.spec);
    let is_igw = |name: &str| matches!(spec(name), Some(Spec::InternetGateway(_)));
    // Subnets with a route to an internet gateway are public.
    let public: BTreeSet<&str> = lab
        .resources
        .iter()
        .filter_map(|r| match &r.spec {
            Spec::RouteTable(RouteTableSpec {
                subnets, routes, ..
            }) if routes.iter().any(|rt| is_igw(&rt.target)) => Some(subnets),
            _ => None,
        })
        .flatten()
        .map(String::as_str)
        .collect();
    let node = |r: &Resource| Node::declared(&r.name, r.kind());
    fn in_subnet(r: &Resource) -> Option<&str> {
        match &r.spec {
            Spec::NatGateway(NatGatewaySpec { subnet, .. })
            | Spec::Instance(InstanceSpec { subnet, .. })
            | Spec::MountTarget(MountTargetSpec { subnet, .. }) => Some(subnet),
            _ => None,
        }
    }
    let vpc_of_subnet = |name: &str| match spec(name) {
        Some(Spec::Subnet(SubnetSpec { vpc, .. })) => Some(vpc.clone()),
        _ => None,
    };
    // The VPC a resource belongs to without being in one subnet.
    let vpc_of = |r: &Resource| -> Option<String> {
        match &r.spec {
            Spec::InternetGateway(s) => Some(s.vpc.clone()),
            Spec::RouteTable(s) => Some(s.vpc.clone()),
            Spec::NetworkAcl(s) => Some(s.vpc.clone()),
            Spec::SecurityGroup(s) => Some(s.vpc.clone()),
            Spec::VpcEndpoint(s) => Some(s.vpc.clone()),
            Spec::TargetGroup(s) => Some(s.vpc.clone()),
            Spec::LoadBalancer(LoadBalancerSpec { subnets, .. })
            | Spec::AutoScalingGroup(AutoScalingGroupSpec { subnets, .. }) => {
                subnets.first().and_then(|s| vpc_of_subnet(s))
            }
            _ => None,
        }
    };
    let mut vpcs = Vec::new();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    for v in &lab.resources {
        let Spec::Vpc(VpcSpec { cidr, .. }) = &v.spec else {
            continue;
        };
        placed.insert(&v.name);
        let mut zones: Vec<Zone> = Vec::new();
        for s in &lab.resources {
            let Spec::Subnet(sub) = &s.spec else { continue };
            if sub.vpc != v.name {
                continue;
            }
            placed.insert(&s.name);
            let members: Vec<Node> = lab
                .resources
                .iter()
                .filter(|r| in_subnet(r) == Some(s.name.as_str()))
                .inspect(|r| {
                    placed.insert(&r.name);
                })
                .map(node)
                .collect();
            let subnet = SubnetBox {
                name: s.name.clone(),
                id: None,
                missing: false,
                cidr: sub.cidr.to_string(),
                public: public.contains(s.name.as_str()),
                members,
            };
            match zones.iter_mut().find(|z| z.az == sub.az) {
                Some(z) => z.subnets.push(subnet),
                None => zones.push(Zone {
                    az: sub.az,
                    name: None,
                    subnets: vec![subnet],
                }),
            }
        }
        zones.sort_by_key(|z| z.az);
        let members: Vec<Node> = lab
            .resources
            .iter()
            .filter(|r| vpc_of(r).as_deref() == Some(v.name.as_str()))
            .inspect(|r| {
                placed.insert(&r.name);
            })
            .map(node)
            .collect();
        vpcs.push(VpcBox {
            name: v.name.clone(),
            id: None,
            missing: false,
            cidr: cidr.to_string(),
            zones,
            members,
        });
    }
    let outside = lab
        .resources
        .iter()
        .filter(|r| !placed.contains(r.name.as_str()))
        .map(node)
        .collect();
    Diagram {
        schema_version: 1,
        lab: lab.id.clone(),
        vpcs,
        outside,
        edges: edges(lab),
        graded: false,
        found: false,
    }
}

fn edges(lab: &Lab) -> Vec<Edge> {
    let mut out = Vec::new();
    for r in &lab.resources {
        declared_edges(r, &mut out);
    }
    out.extend(path_edges(lab));
    out
}

/// The edges a resource's declaration draws: its associations, routes and what it uses.
pub(super) fn declared_edges(r: &Resource, out: &mut Vec<Edge>) {
    let mut edge = |from: &str, to: &str, label: String, style: EdgeStyle| {
        out.push(Edge {
            from: from.to_owned(),
            to: to.to_owned(),
            label,
            style,
            check: None,
            result: None,
        });
    };
    match &r.spec {
        Spec::RouteTable(RouteTableSpec {
            subnets, routes, ..
        }) => {
            for s in subnets {
                edge(&r.name, s, String::new(), EdgeStyle::Association);
            }
            for rt in routes {
                edge(&r.name, &rt.target, rt.cidr.to_string(), EdgeStyle::Route);
            }
        }
        Spec::NetworkAcl(NetworkAclSpec { subnets, .. }) => {
            for s in subnets {
                edge(&r.name, s, String::new(), EdgeStyle::Association);
            }
        }
        Spec::InternetGateway(_) => {
            edge(&r.name, INTERNET, String::new(), EdgeStyle::Route);
        }
        Spec::NatGateway(NatGatewaySpec { eip, .. }) => {
            edge(&r.name, eip, String::new(), EdgeStyle::Uses);
        }
        Spec::Instance(InstanceSpec {
            security_groups, ..
        })
        | Spec::MountTarget(MountTargetSpec {
            security_groups, ..
        }) => {
            for g in security_groups {
                edge(&r.name, g, String::new(), EdgeStyle::Uses);
            }
        }
        Spec::LoadBalancer(LoadBalancerSpec { subnets, .. })
        | Spec::AutoScalingGroup(AutoScalingGroupSpec { subnets, .. }) => {
            for s in subnets {
                edge(&r.name, s, String::new(), EdgeStyle::Association);
            }
        }
        _ => {}
    }
}

/// The paths the lab's reachability checks ask about.
pub(super) fn path_edges(lab: &Lab) -> Vec<Edge> {
    let mut out = Vec::new();
    for c in &lab.checks {
        if let CheckKind::Reach {
            expect,
            from,
            to,
            proto,
            port,
            ..
        } = &c.kind
        {
            let end = |e: &Endpoint| match e {
                Endpoint::Internet => INTERNET.to_owned(),
                Endpoint::Resource(n) => n.clone(),
            };
            let what = match port {
                Some(p) => format!("{proto} {p}"),
                None => proto.to_string(),
            };
            let style = if *expect {
                EdgeStyle::Reachable
            } else {
                EdgeStyle::NotReachable
            };
            out.push(Edge {
                from: end(from),
                to: end(to),
                label: format!("{}: {what}", c.id),
                style,
                check: Some(c.id.clone()),
                result: None,
            });
        }
    }
    out
}

/// The diagram with each reachability path marked by what `check` found: passed, or failed
/// with the check's message; the resource a failed path stops at (route table, NACL, security
/// group, NAT gateway) is marked with the check's id. A check that erred or was skipped leaves
/// its path unmarked.
pub fn with_results(mut d: Diagram, report: &crate::check::Report) -> Diagram {
    use crate::check::Status;
    for r in &report.checks {
        let Some(b) = r.blocked.as_ref().filter(|_| r.status == Status::Fail) else {
            continue;
        };
        for n in d.nodes_mut() {
            if n.is(&b.ids, &b.names) && !n.blocks.contains(&r.id) {
                n.blocks.push(r.id.clone());
            }
        }
    }
    for e in &mut d.edges {
        let Some(id) = &e.check else { continue };
        let Some(r) = report.checks.iter().find(|c| &c.id == id) else {
            continue;
        };
        e.result = match r.status {
            Status::Pass => Some(PathResult {
                passed: true,
                message: r.message.clone(),
            }),
            Status::Fail => Some(PathResult {
                passed: false,
                message: r.message.clone(),
            }),
            Status::Error | Status::Skip => None,
        };
    }
    d.graded = true;
    d
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::diagram::mermaid::{id, mermaid};
    use crate::lab::catalog::{BUNDLED, LabSource, load_text};

    fn bundled(id: &str) -> Lab {
        let (id, text) = BUNDLED.iter().find(|(b, _)| *b == id).expect("bundled lab");
        load_text(&LabSource::Bundled(id), text, &BTreeMap::new())
            .expect("loads")
            .lab
    }

    #[test]
    fn the_vpc_lab_has_two_zones_and_subnets_public_or_private_by_their_routes() {
        let d = of_lab(&bundled("vpc-public-private"));
        assert_eq!(d.vpcs.len(), 1);
        let v = &d.vpcs[0];
        assert_eq!(
            (v.name.as_str(), v.cidr.as_str()),
            ("lab-vpc", "10.0.0.0/16")
        );
        let zones: Vec<(usize, Vec<(&str, bool)>)> = v
            .zones
            .iter()
            .map(|z| {
                (
                    z.az,
                    z.subnets
                        .iter()
                        .map(|s| (s.name.as_str(), s.public))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            zones,
            [
                (0, vec![("private-a", false), ("public-a", true)]),
                (1, vec![("private-b", false), ("public-b", true)]),
            ]
        );
        let public_a = &v.zones[0].subnets[1];
        let in_a: Vec<&str> = public_a.members.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(in_a, ["bastion", "lab-nat"]);
        let outside: Vec<&str> = d.outside.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(outside, ["lab-key", "nat-eip"]);
        let reach: Vec<(&str, &str, &str, EdgeStyle)> = d
            .edges
            .iter()
            .filter(|e| matches!(e.style, EdgeStyle::Reachable | EdgeStyle::NotReachable))
            .map(|e| (e.from.as_str(), e.to.as_str(), e.label.as_str(), e.style))
            .collect();
        assert!(reach.contains(&(
            "internet",
            "app",
            "no-ssh-to-app-from-internet: tcp 22",
            EdgeStyle::NotReachable
        )));
        assert!(reach.contains(&(
            "bastion",
            "app",
            "ssh-bastion-to-app: tcp 22",
            EdgeStyle::Reachable
        )));
    }

    #[test]
    fn the_mermaid_names_every_resource_of_every_bundled_lab_once() {
        for (lab_id, _) in BUNDLED {
            let lab = bundled(lab_id);
            let text = mermaid(&of_lab(&lab));
            assert!(text.starts_with("flowchart TB\n"), "{lab_id}");
            for r in &lab.resources {
                let declared = format!("{}[", id(&r.name));
                let shaped = format!("{}{{{{", id(&r.name));
                let subgraph = format!("subgraph {}[", id(&r.name));
                let times = text.matches(&declared).count() + text.matches(&shaped).count();
                assert_eq!(times, 1, "{lab_id}: {} drawn {times} times\n{text}", r.name);
                assert!(
                    text.contains(&format!("{} {}", r.kind().label(), r.name))
                        || text.contains(&subgraph)
                        || text.contains(&format!("subnet {} ", r.name)),
                    "{lab_id}: {} not named\n{text}",
                    r.name
                );
            }
        }
    }

    #[test]
    fn the_vpc_lab_as_mermaid() {
        insta::assert_snapshot!(mermaid(&of_lab(&bundled("vpc-public-private"))));
    }

    #[test]
    fn ids_are_distinct_and_never_a_keyword() {
        assert_ne!(id("a-b"), id("a_b"));
        assert_eq!(id("end"), "n_end");
    }
}
