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
    ) -> Result<(&'w Observed, &'w [RouteEntry]), String> {
        let table = self
            .world
            .route_table_of(&subnet.id)
            .ok_or_else(|| format!("no route table governs {}", self.subnet_name(subnet)))?;
        let routes = match &table.facts {
            Facts::RouteTable(RouteTableFacts { routes, .. }) => routes.as_slice(),
            _ => &[],
        };
        Ok((table, routes))
    }

    pub(super) fn table_label(&self, table: &Observed) -> String {
        let mut l = format!("route table {}", self.label(table));
        if table.is_vpc_default() {
            l.push_str(" (main)");
        }
        l
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
    ) -> Result<(IpSet, String), String> {
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
            let tail = match detached {
                Some(g) => format!(
                    " (its route goes to {}, which is not attached to the VPC)",
                    self.short(&g)
                ),
                None => String::new(),
            };
            return Err(format!(
                "no route to an internet gateway in {}, which governs {}{tail}",
                self.table_label(table),
                self.subnet_name(subnet)
            ));
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
    ) -> Result<(), String> {
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
        let dir = if egress { "outbound" } else { "inbound" };
        let what = match ports {
            Some(p) => format!("{} {p}", traffic.proto.to_string().to_uppercase()),
            None => traffic.proto.to_string().to_uppercase(),
        };
        let (prep, peer_prep) = if egress {
            ("from", "to")
        } else {
            ("to", "from")
        };
        let acl_label = format!(
            "NACL {}{}",
            self.label(acl),
            if acl.is_vpc_default() {
                " (default)"
            } else {
                ""
            }
        );
        let step = format!(
            "NACL {}{} {}: {}",
            self.short(&acl.id),
            if reply { " reply" } else { "" },
            if egress { "out" } else { "in" },
            v.allowed_by.join(", ")
        );
        let subnet_name = self.subnet_name(subnet);
        trace.narrow(far, v.allowed.clone(), step, || {
            let head = if reply {
                "the reply is blocked (NACLs are stateless): "
            } else {
                ""
            };
            let traffic = format!("{what} {dir} {prep} {subnet_name} {peer_prep} {peers}");
            match &v.refused_by {
                Some(Refusal::Rule { rule, text }) => {
                    format!("{head}{acl_label} rule {rule} denies {traffic} ({text})")
                }
                Some(Refusal::Star { partial }) if !partial.is_empty() => format!(
                    "{head}{acl_label} has no rule allowing {traffic} ({}), so the `*` rule denies it",
                    partial.join(", ")
                ),
                _ => format!(
                    "{head}{acl_label} has no rule allowing {traffic}, so the `*` rule denies it"
                ),
            }
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
    ) -> Result<(), String> {
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
            let names = match &v.refused_by {
                Some(Refusal::Groups { names }) if !names.is_empty() => names.join(", "),
                _ => return format!("{} has no security group", host.label),
            };
            let member = if peer_groups.is_empty() {
                String::new()
            } else {
                let names: Vec<String> = peer_groups.iter().map(|g| self.short(g)).collect();
                format!(", in {}", names.join(", "))
            };
            if ingress {
                format!(
                    "no rule of {names} admits {} to {} from {peer_label} ({peers}{member})",
                    traffic.text(),
                    host.label
                )
            } else {
                format!(
                    "no outbound rule of {names} allows {} from {} to {peer_label} ({peers}{member})",
                    traffic.text(),
                    host.label
                )
            }
        })
    }

    pub(super) fn up(&self, host: &Host<'_>) -> Result<(), String> {
        match &host.down {
            Some(state) if !self.config_only => Err(format!("{} is {state}", host.label)),
            _ => Ok(()),
        }
    }

    /// Internet -> host: an attached gateway, a route back to it, a public address, the NACL both
    /// ways, the security group.
    pub(super) fn inbound_from_internet(
        &self,
        host: &Host<'_>,
        traffic: Traffic,
    ) -> Result<String, String> {
        self.up(host)?;
        let mut t = Trace {
            src: IpSet::internet(),
            dst: host.addrs.clone(),
            path: vec!["internet".to_owned()],
        };
        let (routed, step) = self.route_to_igw(host.subnet, &t.src)?;
        t.narrow(Side::Src, routed, step, String::new)?;
        let Some(public_ip) = &host.public_ip else {
            return Err(format!(
                "{} has no public IP address, so nothing on the internet can address it",
                host.label
            ));
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
    ) -> Result<String, String> {
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
        let mut best: Option<(u64, Result<String, String>)> = None;
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
            None => Err(format!("{}: nothing left to route", host.label)),
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
    ) -> Result<String, String> {
        let table_label = self.table_label(table);
        let subnet_name = self.subnet_name(host.subnet);
        let Some(route) = route else {
            return Err(format!(
                "no route to the internet in {table_label}, which governs {subnet_name}"
            ));
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
        if route.state != "active" {
            return Err(format!(
                "{table_label} sends {} to {}, which no longer exists (blackhole)",
                route.dest,
                self.short(target)
            ));
        }
        if kind.and_then(|t| t.internet_gateway()).is_some() {
            if !self.attached_igw(target, host.subnet) {
                return Err(format!(
                    "{table_label} sends {} to {}, which is not attached to the VPC",
                    route.dest,
                    self.short(target)
                ));
            }
            let Some(ip) = &host.public_ip else {
                return Err(format!(
                    "{} has no public IP address, and {table_label} sends {} straight to internet gateway {}: only instances with a public address can use it (private subnets go through a NAT gateway)",
                    host.label,
                    route.dest,
                    self.short(target)
                ));
            };
            path.push(format!("{} (as {ip})", self.short(target)));
            return Ok(format!("to {part}: {}", path.join(" -> ")));
        }
        if kind.and_then(|t| t.nat_gateway()).is_some() {
            return self.through_nat(host, t, target, part, traffic, path);
        }
        Err(format!(
            "{table_label} sends {} to {}, which does not lead to the internet",
            route.dest,
            self.short(target)
        ))
    }

    pub(super) fn through_nat(
        &self,
        host: &Host<'_>,
        t: &Trace,
        nat_id: &str,
        part: &IpSet,
        traffic: Traffic,
        mut path: Vec<String>,
    ) -> Result<String, String> {
        let nat_name = self.short(nat_id);
        let nat = self
            .world
            .get(nat_id)
            .ok_or_else(|| format!("NAT gateway {nat_name} does not exist (blackhole route)"))?;
        let Facts::NatGateway(NatGatewayFacts {
            state,
            subnet_id,
            public_ip,
            allocation_ids,
            ..
        }) = &nat.facts
        else {
            return Err(format!("{nat_name} is not a NAT gateway"));
        };
        if state != "available" {
            return Err(format!("NAT gateway {nat_name} is {state}, not available"));
        }
        if public_ip.is_none() && allocation_ids.is_empty() {
            return Err(format!("NAT gateway {nat_name} has no Elastic IP"));
        }
        let nat_subnet = subnet_id
            .as_deref()
            .and_then(|s| self.world.get(s))
            .ok_or_else(|| format!("NAT gateway {nat_name} is in an unknown subnet"))?;
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
            format!(
                "NAT gateway {nat_name} sits in {}, which is not public: {why}",
                self.subnet_name(nat_subnet)
            )
        })?;
        nt.narrow(Side::Dst, routed, step, String::new)?;
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
    ) -> Result<String, String> {
        self.up(a)?;
        self.up(b)?;
        if a.subnet.vpc_id() != b.subnet.vpc_id() {
            return Err(format!(
                "{} and {} are in different VPCs (awslab does not follow peering)",
                a.label, b.label
            ));
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
        t.narrow(Side::Dst, local, step, || {
            format!("{table_label} does not route {} locally", b.addrs)
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
