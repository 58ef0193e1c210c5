//! Static network reachability over what `check` discovered, the way the course notes explain the
//! network: route tables decide public or private (longest prefix, the main table when a subnet has
//! no association); NACLs are stateless, so the reply needs its own rule in both subnets, ephemeral
//! ports included; security groups are stateful, allow-only, by CIDR or by group; a NAT gateway
//! carries outbound traffic only. No Reachability Analyzer call: it runs on an emulator too.
//!
//! The answer is the path it found or the first place the path breaks ([`Blocked`]), naming the rule
//! or route.

mod blocked;
mod hosts;
pub mod ipset;
mod paths;
pub mod rules;
mod unresolved;

use std::net::Ipv4Addr;

pub use blocked::{
    Acl, Blocked, Blocker, Direction, Flow, GroupDeny, NaclDeny, NatFault, RouteFault, Table,
};
use ipset::IpSet;
use rules::{EPHEMERAL, GroupRules, Refusal, Verdict};
pub use unresolved::{Subject, Unreachable, Unresolved};

use crate::lab::{Endpoint, Kind, Ports, Proto};
use crate::resources::{Bindings, Facts, Observed, RouteEntry, RouteTarget, World};

/// The traffic asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    pub proto: Proto,
    /// `None` for ICMP.
    pub port: Option<u16>,
}

impl Traffic {
    fn ports(self) -> Option<Ports> {
        self.port.map(|p| Ports { from: p, to: p })
    }

    fn reply_ports(self) -> Option<Ports> {
        self.proto.has_ports().then_some(EPHEMERAL)
    }

    fn text(self) -> String {
        match self.port {
            Some(p) => format!("{} {p}", self.proto.to_string().to_uppercase()),
            None => self.proto.to_string().to_uppercase(),
        }
    }
}

/// One source/destination pair and its answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub from: String,
    pub to: String,
    /// `Ok(path)` when the traffic gets through, else where it stops.
    pub outcome: Result<String, Blocked>,
}

/// A host the analysis routes to or from.
#[derive(Debug, Clone)]
struct Host<'w> {
    label: String,
    addrs: IpSet,
    subnet: &'w Observed,
    /// `None` for a subnet endpoint: a host placed in the subnet whose own groups are not
    /// evaluated and which no group reference matches.
    groups: Option<Vec<&'w Observed>>,
    public_ip: Option<String>,
    /// Set when the instance cannot answer (stopped, terminated).
    down: Option<String>,
}

impl Host<'_> {
    fn group_ids(&self) -> Vec<String> {
        self.groups.iter().flatten().map(|g| g.id.clone()).collect()
    }
}

/// Answers every pair of hosts the two endpoints stand for (a security group stands for each
/// instance in it). `Err` when an endpoint cannot be found at all.
///
/// With `config_only`, hosts that are stopped are judged by their configuration as if running
/// (a `not_reachable` check must not pass because the instance happens to be off).
pub fn analyze(
    world: &World,
    bound: &Bindings,
    from: &Endpoint,
    to: &Endpoint,
    traffic: Traffic,
    config_only: bool,
) -> Result<Vec<Answer>, Unresolved> {
    let net = Net {
        world,
        bound,
        config_only,
    };
    let answers = match (from, to) {
        (Endpoint::Internet, Endpoint::Internet) => {
            return Err(Unresolved::BothInternet);
        }
        (Endpoint::Internet, Endpoint::Resource(name)) => net
            .hosts(name)?
            .into_iter()
            .map(|h| Answer {
                from: "internet".to_owned(),
                to: h.label.clone(),
                outcome: net.inbound_from_internet(&h, traffic),
            })
            .collect(),
        (Endpoint::Resource(name), Endpoint::Internet) => net
            .hosts(name)?
            .into_iter()
            .map(|h| Answer {
                from: h.label.clone(),
                to: "internet".to_owned(),
                outcome: net.outbound_to_internet(&h, traffic),
            })
            .collect(),
        (Endpoint::Resource(a), Endpoint::Resource(b)) => {
            let sources = net.hosts(a)?;
            let targets = net.hosts(b)?;
            let mut out = Vec::new();
            for s in &sources {
                for t in &targets {
                    out.push(Answer {
                        from: s.label.clone(),
                        to: t.label.clone(),
                        outcome: net.between(s, t, traffic),
                    });
                }
            }
            out
        }
    };
    Ok(answers)
}

/// Traffic from an instance to an EFS mount target (NFS): the path or where it stops.
pub fn to_mount_target(
    world: &World,
    bound: &Bindings,
    instance: &str,
    mount_target: &Observed,
    traffic: Traffic,
) -> Result<String, Unreachable> {
    let net = Net {
        world,
        bound,
        config_only: false,
    };
    let hosts = net.hosts(instance)?;
    let target = net.mount_target_host(mount_target)?;
    let mut paths = Vec::new();
    for h in &hosts {
        paths.push(net.between(h, &target, traffic)?);
    }
    Ok(paths.join("; "))
}

struct Net<'w> {
    world: &'w World,
    bound: &'w Bindings,
    config_only: bool,
}

/// The two address sets of a flow, narrowed hop by hop, and the path so far.
struct Trace {
    src: IpSet,
    dst: IpSet,
    path: Vec<String>,
}

#[derive(Clone, Copy)]
enum Side {
    Src,
    Dst,
}

impl Trace {
    fn set(&self, side: Side) -> &IpSet {
        match side {
            Side::Src => &self.src,
            Side::Dst => &self.dst,
        }
    }

    /// Keeps what the hop allowed on one side; the path breaks here when nothing is left.
    fn narrow(
        &mut self,
        side: Side,
        allowed: IpSet,
        step: String,
        broken: impl FnOnce() -> Blocked,
    ) -> Result<(), Blocked> {
        if allowed.is_empty() {
            return Err(broken());
        }
        self.keep(side, allowed, step);
        Ok(())
    }

    /// Keeps what a hop that has already checked it lets through on one side.
    fn keep(&mut self, side: Side, allowed: IpSet, step: String) {
        match side {
            Side::Src => self.src = allowed,
            Side::Dst => self.dst = allowed,
        }
        self.path.push(step);
    }
}

#[cfg(test)]
mod tests;
