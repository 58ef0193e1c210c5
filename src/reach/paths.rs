//! One hop after another: route tables, network ACLs (both ways), security groups, the
//! internet gateway and NAT gateways.

use super::*;
use crate::resources::{
    InternetGatewayFacts, NatGatewayFacts, NetworkAclFacts, RouteTableFacts, SecurityGroupFacts,
};

impl<'w> Net<'w> {
    pub(super) fn route_table(
        &self,
        subnet: &Observed,
    ) -> Result<(&'w Observed, &'w [RouteEntry]), Blocked> {
        let table = self
            .world
            .route_table_of(&subnet.id)
            .ok_or_else(|| Blocked::NoRouteTable {
                subnet: self.subnet_name(subnet),
            })?;
        let routes = match &table.facts {
            Facts::RouteTable(RouteTableFacts { routes, .. }) => routes.as_slice(),
            _ => &[],
        };
        Ok((table, routes))
    }

    pub(super) fn table_label(&self, table: &Observed) -> Table {
        Table {
            label: self.label(table),
            id: table.id.clone(),
            main: table.is_vpc_default(),
        }
    }

    /// An internet gateway attached to the subnet's VPC, by id.
    pub(super) fn attached_igw(&self, target: &str, subnet: &Observed) -> bool {
        self.world.get(target).is_some_and(|g| match &g.facts {
            Facts::InternetGateway(InternetGatewayFacts { attached_vpcs }) => subnet
                .vpc_id()
                .is_some_and(|v| attached_vpcs.iter().any(|a| a == v)),
            _ => false,
        })
    }

    /// The addresses of `dests` that the subnet's route table sends to an attached internet
    /// gateway, and the step text; else why none.
    pub(super) fn route_to_igw(
        &self,
        subnet: &Observed,
        dests: &IpSet,
    ) -> Result<(IpSet, String), Blocked> {
        let (table, routes) = self.route_table(subnet)?;
        let mut out = IpSet::empty();
        let mut via = Vec::new();
        let mut detached = None;
        for (route, part) in rules::split_routes(routes, dests) {
            let Some(r) = route else { continue };
            let Some(target) = r.target.as_ref().and_then(|t| t.internet_gateway()) else {
                continue;
            };
            if r.state != "active" || !self.attached_igw(target, subnet) {
                detached = Some(target.to_owned());
                continue;
            }
            out = out.union(&part);
            via.push(format!("{} -> {}", r.dest, self.short(target)));
        }
        if out.is_empty() {
            return Err(Blocked::NoRouteToGateway {
                table: self.table_label(table),
                subnet: self.subnet_name(subnet),
                detached: detached.map(|g| self.short(&g)),
            });
        }
        Ok((
            out,
            format!("{}: {}", self.short(&table.id), via.join(", ")),
        ))
    }

    pub(super) fn nacl_of(&self, subnet: &Observed) -> Option<&'w Observed> {
        self.world.nacl_of(&subnet.id).or_else(|| {
            // Every subnet has one; a subnet with no explicit association uses the default.
            self.world.default_nacl(subnet.vpc_id()?)
        })
    }

    /// One direction of the subnet's NACL, narrowing the far side of the flow.
    pub(super) fn nacl_hop(
        &self,
        trace: &mut Trace,
        subnet: &Observed,
        egress: bool,
        reply: bool,
        traffic: Traffic,
        far: Side,
    ) -> Result<(), Blocked> {
        let Some(acl) = self.nacl_of(subnet) else {
            trace
                .path
                .push(format!("{} has no network ACL", self.subnet_name(subnet)));
            return Ok(());
        };
        let Facts::NetworkAcl(NetworkAclFacts { entries, .. }) = &acl.facts else {
            return Ok(());
        };
        let ports = if reply {
            traffic.reply_ports()
        } else {
            traffic.ports()
        };
        let peers = trace.set(far).clone();
        let v: Verdict = rules::nacl(entries, egress, traffic.proto, ports, &peers);
        let direction = if egress {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let step = format!(
            "NACL {}{} {}: {}",
            self.short(&acl.id),
            if reply { " reply" } else { "" },
            if egress { "out" } else { "in" },
            v.allowed_by.join(", ")
        );
        let flow = Flow {
            proto: traffic.proto,
            ports,
            direction,
            subnet: self.subnet_name(subnet),
            peers,
        };
        let acl = Acl {
            label: self.label(acl),
            id: acl.id.clone(),
            default: acl.is_vpc_default(),
        };
        trace.narrow(far, v.allowed.clone(), step, || Blocked::Nacl {
            acl,
            reply,
            rule: match v.refused_by {
                Some(Refusal::Rule { rule, text }) => NaclDeny::Rule {
                    number: rule,
                    entry: text,
                    flow,
                },
                Some(Refusal::Star { partial }) => NaclDeny::Star { flow, partial },
                _ => NaclDeny::Star {
                    flow,
                    partial: Vec::new(),
                },
            },
        })
    }

    /// The host's security groups in one direction, narrowing the far side.
    pub(super) fn sg_hop(
        &self,
        trace: &mut Trace,
        host: &Host<'_>,
        ingress: bool,
        traffic: Traffic,
        peer_groups: &[String],
        peer_label: &str,
    ) -> Result<(), Blocked> {
        let Some(groups) = &host.groups else {
            return Ok(());
        };
        // Inbound rules match the source, outbound rules the destination.
        let far = if ingress { Side::Src } else { Side::Dst };
        let rules: Vec<GroupRules<'_>> = groups
            .iter()
            .filter_map(|g| match &g.facts {
                Facts::SecurityGroup(SecurityGroupFacts {
                    ingress: i,
                    egress: e,
                    ..
                }) => Some(GroupRules {
                    label: self.short(&g.id),
                    rules: if ingress { i } else { e },
                }),
                _ => None,
            })
            .collect();
        let evaluated: Vec<String> = groups
            .iter()
            .filter(|g| matches!(g.facts, Facts::SecurityGroup(_)))
            .map(|g| g.id.clone())
            .collect();
        let peers = trace.set(far).clone();
        let v = rules::security_groups(
            &rules,
            ingress,
            traffic.proto,
            traffic.port,
            &peers,
            peer_groups,
            |id| self.short(id),
        );
        let step = v.allowed_by.join(", ");
        trace.narrow(far, v.allowed.clone(), step, || {
            let groups = match v.refused_by {
                Some(Refusal::Groups { names }) if !names.is_empty() => names,
                _ => {
                    return Blocked::NoSecurityGroup {
                        host: host.label.clone(),
                    };
                }
            };
            Blocked::Groups(GroupDeny {
                groups,
                group_ids: evaluated.clone(),
                direction: if ingress {
                    Direction::Inbound
                } else {
                    Direction::Outbound
                },
                traffic,
                host: host.label.clone(),
                peer: peer_label.to_owned(),
                peers,
                peer_groups: peer_groups.iter().map(|g| self.short(g)).collect(),
            })
        })
    }

    pub(super) fn up(&self, host: &Host<'_>) -> Result<(), Blocked> {
        match &host.down {
            Some(state) if !self.config_only => Err(Blocked::Down {
                host: host.label.clone(),
                state: state.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Internet -> host: an attached gateway, a route back to it, a public address, the NACL both
    /// ways, the security group.
    pub(super) fn inbound_from_internet(
        &self,
        host: &Host<'_>,
        traffic: Traffic,
    ) -> Result<String, Blocked> {
        self.up(host)?;
        let mut t = Trace {
            src: IpSet::internet(),
            dst: host.addrs.clone(),
            path: vec!["internet".to_owned()],
        };
        let (routed, step) = self.route_to_igw(host.subnet, &t.src)?;
        t.keep(Side::Src, routed, step);
        let Some(public_ip) = &host.public_ip else {
            return Err(Blocked::NoPublicIp {
                host: host.label.clone(),
            });
        };
        self.nacl_hop(&mut t, host.subnet, false, false, traffic, Side::Src)?;
        self.nacl_hop(&mut t, host.subnet, true, true, traffic, Side::Src)?;
        self.sg_hop(&mut t, host, true, traffic, &[], "the internet")?;
        t.path.push(format!("{} ({public_ip})", host.label));
        Ok(format!("from {}: {}", t.src, t.path.join(" -> ")))
    }

    /// Host -> internet: security group egress, the NACL both ways, then the route: straight to an
    /// internet gateway (needs a public address) or through an available NAT gateway that sits in
    /// a public subnet.
    pub(super) fn outbound_to_internet(
        &self,
        host: &Host<'_>,
        traffic: Traffic,
    ) -> Result<String, Blocked> {
        self.up(host)?;
        let mut t = Trace {
            src: host.addrs.clone(),
            dst: IpSet::internet(),
            path: vec![host.label.clone()],
        };
        self.sg_hop(&mut t, host, false, traffic, &[], "the internet")?;
        self.nacl_hop(&mut t, host.subnet, true, false, traffic, Side::Dst)?;
        self.nacl_hop(&mut t, host.subnet, false, true, traffic, Side::Dst)?;
        let (table, routes) = self.route_table(host.subnet)?;
        let mut best: Option<(u64, Result<String, Blocked>)> = None;
        for (route, part) in rules::split_routes(routes, &t.dst) {
            let size = part.size();
            let outcome = self.egress_route(host, &t, table, route, &part, traffic);
            let better = match &best {
                None => true,
                Some((s, prev)) => {
                    (outcome.is_ok() && prev.is_err())
                        || (outcome.is_ok() == prev.is_ok() && size > *s)
                }
            };
            if better {
                best = Some((size, outcome));
            }
        }
        match best {
            Some((_, r)) => r,
            None => Err(Blocked::NothingToRoute {
                host: host.label.clone(),
            }),
        }
    }

    pub(super) fn egress_route(
        &self,
        host: &Host<'_>,
        t: &Trace,
        table: &Observed,
        route: Option<&RouteEntry>,
        part: &IpSet,
        traffic: Traffic,
    ) -> Result<String, Blocked> {
        let table_label = self.table_label(table);
        let subnet_name = self.subnet_name(host.subnet);
        let Some(route) = route else {
            return Err(Blocked::NoRouteToInternet {
                table: table_label,
                subnet: subnet_name,
            });
        };
        let kind = route.target.as_ref();
        let target = kind.map_or("none", |t| t.id());
        let mut path = t.path.clone();
        path.push(format!(
            "{}: {} -> {}",
            self.short(&table.id),
            route.dest,
            self.short(target)
        ));
        let wrong = |why| Blocked::WrongRoute {
            table: table_label.clone(),
            dest: route.dest.clone(),
            target: self.short(target),
            why,
        };
        if route.state != "active" {
            return Err(wrong(RouteFault::Blackhole));
        }
        if kind.and_then(|t| t.internet_gateway()).is_some() {
            if !self.attached_igw(target, host.subnet) {
                return Err(wrong(RouteFault::GatewayDetached));
            }
            let Some(ip) = &host.public_ip else {
                return Err(Blocked::NoPublicIpForGateway {
                    host: host.label.clone(),
                    table: table_label,
                    dest: route.dest.clone(),
                    gateway: self.short(target),
                });
            };
            path.push(format!("{} (as {ip})", self.short(target)));
            return Ok(format!("to {part}: {}", path.join(" -> ")));
        }
        if kind.and_then(|t| t.nat_gateway()).is_some() {
            return self.through_nat(host, t, target, part, traffic, path);
        }
        Err(wrong(RouteFault::NotToInternet))
    }

    pub(super) fn through_nat(
        &self,
        host: &Host<'_>,
        t: &Trace,
        nat_id: &str,
        part: &IpSet,
        traffic: Traffic,
        mut path: Vec<String>,
    ) -> Result<String, Blocked> {
        let nat_name = self.short(nat_id);
        let fault = |why| Blocked::Nat {
            nat: nat_name.clone(),
            id: nat_id.to_owned(),
            why,
        };
        let nat = self
            .world
            .get(nat_id)
            .ok_or_else(|| fault(NatFault::Missing))?;
        let Facts::NatGateway(NatGatewayFacts {
            state,
            subnet_id,
            public_ip,
            allocation_ids,
            ..
        }) = &nat.facts
        else {
            return Err(fault(NatFault::NotANatGateway));
        };
        if state != "available" {
            return Err(fault(NatFault::State {
                state: state.clone(),
            }));
        }
        if public_ip.is_none() && allocation_ids.is_empty() {
            return Err(fault(NatFault::NoElasticIp));
        }
        let nat_subnet = subnet_id
            .as_deref()
            .and_then(|s| self.world.get(s))
            .ok_or_else(|| fault(NatFault::UnknownSubnet))?;
        let mut nt = Trace {
            src: t.src.clone(),
            dst: part.clone(),
            path: Vec::new(),
        };
        if nat_subnet.id != host.subnet.id {
            // host -> NAT crosses both subnets' NACLs; the NAT side sees the host as its peer.
            self.nacl_hop(&mut nt, nat_subnet, false, false, traffic, Side::Src)?;
            self.nacl_hop(&mut nt, nat_subnet, true, true, traffic, Side::Src)?;
        }
        // NAT -> internet, and the reply to the NAT's own ports.
        self.nacl_hop(&mut nt, nat_subnet, true, false, traffic, Side::Dst)?;
        self.nacl_hop(&mut nt, nat_subnet, false, true, traffic, Side::Dst)?;
        let (routed, step) = self.route_to_igw(nat_subnet, &nt.dst).map_err(|why| {
            fault(NatFault::PrivateSubnet {
                subnet: self.subnet_name(nat_subnet),
                why: Box::new(why),
            })
        })?;
        nt.keep(Side::Dst, routed, step);
        path.push(format!("{nat_name} in {}", self.subnet_name(nat_subnet)));
        path.extend(nt.path);
        path.push("internet".to_owned());
        Ok(format!("to {}: {}", nt.dst, path.join(" -> ")))
    }

    /// Host -> host inside a VPC: the local route, the source's egress rules, both NACLs both ways
    /// (unless the hosts share a subnet), the destination's ingress rules.
    pub(super) fn between(
        &self,
        a: &Host<'_>,
        b: &Host<'_>,
        traffic: Traffic,
    ) -> Result<String, Blocked> {
        self.up(a)?;
        self.up(b)?;
        if a.subnet.vpc_id() != b.subnet.vpc_id() {
            return Err(Blocked::DifferentVpcs {
                a: a.label.clone(),
                b: b.label.clone(),
            });
        }
        let mut t = Trace {
            src: a.addrs.clone(),
            dst: b.addrs.clone(),
            path: vec![a.label.clone()],
        };
        let (table, routes) = self.route_table(a.subnet)?;
        let local: IpSet = rules::split_routes(routes, &t.dst)
            .into_iter()
            .filter(|(r, _)| r.is_some_and(|r| r.target == Some(RouteTarget::Local)))
            .fold(IpSet::empty(), |acc, (_, s)| acc.union(&s));
        let table_label = self.table_label(table);
        let step = format!("{}: local", self.short(&table.id));
        t.narrow(Side::Dst, local, step, || Blocked::NotLocal {
            table: table_label,
            dests: b.addrs.clone(),
        })?;
        let b_groups = b.group_ids();
        let a_groups = a.group_ids();
        self.sg_hop(&mut t, a, false, traffic, &b_groups, &b.label)?;
        if a.subnet.id != b.subnet.id {
            self.nacl_hop(&mut t, a.subnet, true, false, traffic, Side::Dst)?;
            self.nacl_hop(&mut t, b.subnet, false, false, traffic, Side::Src)?;
        }
        self.sg_hop(&mut t, b, true, traffic, &a_groups, &a.label)?;
        if a.subnet.id != b.subnet.id {
            self.nacl_hop(&mut t, b.subnet, true, true, traffic, Side::Src)?;
            self.nacl_hop(&mut t, a.subnet, false, true, traffic, Side::Dst)?;
        }
        t.path.push(b.label.clone());
        Ok(t.path.join(" -> "))
    }
}
