//! Why traffic does not get through, as data: what blocks, where, by which rule or route,
//! displayed as the sentence the report prints.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

use super::Traffic;
use super::ipset::IpSet;
use crate::lab::{Kind, Ports, Proto};

/// Where a path breaks.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Blocked {
    // Hosts.
    /// The host is stopped, terminated, or (a load balancer) not active.
    #[error("{host} is {state}")]
    Down { host: String, state: String },
    /// Inbound from the internet to a host without a public address.
    #[error("{host} has no public IP address, so nothing on the internet can address it")]
    NoPublicIp { host: String },
    /// Two hosts in different VPCs.
    #[error("{a} and {b} are in different VPCs (awslab does not follow peering)")]
    DifferentVpcs { a: String, b: String },

    // Routes.
    /// No route table governs the subnet.
    #[error("no route table governs {subnet}")]
    NoRouteTable { subnet: String },
    /// No active route to an attached internet gateway; `detached` is the gateway a route goes
    /// to that is not attached to the VPC.
    #[error(
        "no route to an internet gateway in {table}, which governs {subnet}{}",
        detached_text(.detached)
    )]
    NoRouteToGateway {
        table: Table,
        subnet: String,
        detached: Option<String>,
    },
    /// No route at all for the internet addresses.
    #[error("no route to the internet in {table}, which governs {subnet}")]
    NoRouteToInternet { table: Table, subnet: String },
    /// The route for the destination goes to a target that does not carry the traffic there.
    #[error("{table} sends {dest} to {target}, which {why}")]
    WrongRoute {
        table: Table,
        dest: String,
        target: String,
        why: RouteFault,
    },
    /// A route straight to an internet gateway from a host without a public address.
    #[error(
        "{host} has no public IP address, and {table} sends {dest} straight to internet gateway {gateway}: only instances with a public address can use it (private subnets go through a NAT gateway)"
    )]
    NoPublicIpForGateway {
        host: String,
        table: Table,
        dest: String,
        gateway: String,
    },
    /// The destination is not in the local route of the source's table.
    #[error("{table} does not route {dests} locally")]
    NotLocal { table: Table, dests: IpSet },
    /// The routes split the destinations into nothing.
    #[error("{host}: nothing left to route")]
    NothingToRoute { host: String },
    /// The NAT gateway a route goes to cannot carry the traffic.
    #[error("{}", nat_text(.nat, .why))]
    Nat {
        nat: String,
        /// The id the route names.
        id: String,
        why: NatFault,
    },

    // Filters.
    /// A network ACL denies the traffic or its reply.
    #[error("{}{acl} {rule}", if *.reply { "the reply is blocked (NACLs are stateless): " } else { "" })]
    Nacl {
        acl: Acl,
        /// The reply of the traffic, which a stateless NACL judges on its own.
        reply: bool,
        rule: NaclDeny,
    },
    /// The host is placed in a subnet with no security group of its own evaluated.
    #[error("{host} has no security group")]
    NoSecurityGroup { host: String },
    /// No rule of the host's security groups admits the traffic.
    #[error("{0}")]
    Groups(GroupDeny),
}

/// The resource a path breaks at, by kind and AWS id: the route table whose routes fail it,
/// the NACL whose rule denies it, the security groups none of whose rules admit it, or the NAT
/// gateway that carries nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    pub kind: Kind,
    pub ids: Vec<String>,
}

impl Blocked {
    /// Where the path breaks, when that is a route table, a NACL, security groups or a NAT
    /// gateway (a host that is down or has no address breaks it at no such resource).
    pub fn blocker(&self) -> Option<Blocker> {
        let one = |kind: Kind, id: &str| {
            Some(Blocker {
                kind,
                ids: vec![id.to_owned()],
            })
        };
        match self {
            Blocked::NoRouteToGateway { table, .. }
            | Blocked::NoRouteToInternet { table, .. }
            | Blocked::WrongRoute { table, .. }
            | Blocked::NoPublicIpForGateway { table, .. }
            | Blocked::NotLocal { table, .. } => one(Kind::RouteTable, &table.id),
            Blocked::Nacl { acl, .. } => one(Kind::NetworkAcl, &acl.id),
            Blocked::Groups(deny) => Some(Blocker {
                kind: Kind::SecurityGroup,
                ids: deny.group_ids.clone(),
            }),
            // The NAT gateway's own subnet has no way out: its route table blocks.
            Blocked::Nat {
                why: NatFault::PrivateSubnet { why, .. },
                ..
            } => why.blocker(),
            Blocked::Nat { id, .. } => one(Kind::NatGateway, id),
            Blocked::Down { .. }
            | Blocked::NoPublicIp { .. }
            | Blocked::DifferentVpcs { .. }
            | Blocked::NoRouteTable { .. }
            | Blocked::NothingToRoute { .. }
            | Blocked::NoSecurityGroup { .. } => None,
        }
    }
}

/// Why a route's target does not carry traffic to the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RouteFault {
    #[error("no longer exists (blackhole)")]
    Blackhole,
    #[error("is not attached to the VPC")]
    GatewayDetached,
    #[error("does not lead to the internet")]
    NotToInternet,
}

/// Why a NAT gateway carries nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatFault {
    /// The route's target does not exist.
    Missing,
    /// The route's target is something else.
    NotANatGateway,
    /// Not `available`.
    State {
        state: String,
    },
    NoElasticIp,
    UnknownSubnet,
    /// Its subnet has no route to an internet gateway.
    PrivateSubnet {
        subnet: String,
        why: Box<Blocked>,
    },
}

fn nat_text(nat: &str, why: &NatFault) -> String {
    match why {
        NatFault::Missing => format!("NAT gateway {nat} does not exist (blackhole route)"),
        NatFault::NotANatGateway => format!("{nat} is not a NAT gateway"),
        NatFault::State { state } => format!("NAT gateway {nat} is {state}, not available"),
        NatFault::NoElasticIp => format!("NAT gateway {nat} has no Elastic IP"),
        NatFault::UnknownSubnet => format!("NAT gateway {nat} is in an unknown subnet"),
        NatFault::PrivateSubnet { subnet, why } => {
            format!("NAT gateway {nat} sits in {subnet}, which is not public: {why}")
        }
    }
}

fn detached_text(detached: &Option<String>) -> String {
    match detached {
        Some(g) => format!(" (its route goes to {g}, which is not attached to the VPC)"),
        None => String::new(),
    }
}

/// A route table as messages name it: `route table public-rt (rtb-1)`, `(main)` for the VPC's
/// main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub label: String,
    pub id: String,
    pub main: bool,
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "route table {}", self.label)?;
        if self.main {
            f.write_str(" (main)")?;
        }
        Ok(())
    }
}

/// A network ACL as messages name it: `NACL private-nacl (acl-1)`, `(default)` for the VPC's
/// default one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub label: String,
    pub id: String,
    pub default: bool,
}

impl fmt::Display for Acl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NACL {}", self.label)?;
        if self.default {
            f.write_str(" (default)")?;
        }
        Ok(())
    }
}

/// Which way traffic crosses a NACL or a security group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        })
    }
}

/// The traffic a NACL judged: protocol, ports, the direction it crosses `subnet`'s NACL, and the
/// addresses on the far side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub proto: Proto,
    pub ports: Option<Ports>,
    pub direction: Direction,
    pub subnet: String,
    pub peers: IpSet,
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = self.proto.to_string().to_uppercase();
        match self.ports {
            Some(p) => write!(f, "{proto} {p}")?,
            None => f.write_str(&proto)?,
        }
        let (prep, peer_prep) = match self.direction {
            Direction::Outbound => ("from", "to"),
            Direction::Inbound => ("to", "from"),
        };
        write!(
            f,
            " {} {prep} {} {peer_prep} {}",
            self.direction, self.subnet, self.peers
        )
    }
}

/// Which NACL rule denies a flow.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NaclDeny {
    /// A numbered deny rule matched first; `entry` is the rule as text.
    #[error("rule {number} denies {flow} ({entry})")]
    Rule {
        number: i32,
        entry: String,
        flow: Flow,
    },
    /// No rule allows it, so the final `*` rule denies it; `partial` lists the allow rules that
    /// cover only part of the ports.
    #[error("has no rule allowing {flow}{}, so the `*` rule denies it", partial_text(.partial))]
    Star { flow: Flow, partial: Vec<String> },
}

fn partial_text(partial: &[String]) -> String {
    if partial.is_empty() {
        String::new()
    } else {
        format!(" ({})", partial.join(", "))
    }
}

/// Traffic that no rule of a host's security groups admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDeny {
    /// The labels of the host's groups.
    pub groups: Vec<String>,
    /// Their ids, in the same order.
    pub group_ids: Vec<String>,
    /// Inbound rules judge the source, outbound rules the destination.
    pub direction: Direction,
    pub traffic: Traffic,
    pub host: String,
    pub peer: String,
    /// The peer's addresses that no rule admits.
    pub peers: IpSet,
    /// The labels of the peer's own groups, which group references match.
    pub peer_groups: Vec<String>,
}

impl fmt::Display for GroupDeny {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let GroupDeny {
            groups,
            direction,
            traffic,
            host,
            peer,
            peers,
            peer_groups,
            ..
        } = self;
        let names = groups.join(", ");
        let member = if peer_groups.is_empty() {
            String::new()
        } else {
            format!(", in {}", peer_groups.join(", "))
        };
        let traffic = traffic.text();
        match direction {
            Direction::Inbound => write!(
                f,
                "no rule of {names} admits {traffic} to {host} from {peer} ({peers}{member})"
            ),
            Direction::Outbound => write!(
                f,
                "no outbound rule of {names} allows {traffic} from {host} to {peer} ({peers}{member})"
            ),
        }
    }
}
