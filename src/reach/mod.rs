//! Static network reachability over what `check` discovered, the way the course notes explain the
//! network: route tables decide public or private (longest prefix, the main table when a subnet has
//! no association); NACLs are stateless, so the reply needs its own rule in both subnets, ephemeral
//! ports included; security groups are stateful, allow-only, by CIDR or by group; a NAT gateway
//! carries outbound traffic only. No Reachability Analyzer call: it runs on an emulator too.
//!
//! The answer is the path it found or the first place the path breaks, naming the rule or route.

pub mod ipset;
pub mod rules;

use std::net::Ipv4Addr;

use ipset::IpSet;
use rules::{EPHEMERAL, GroupRules, Refusal, Verdict};

use crate::lab::{Endpoint, Kind, Ports, Proto};
use crate::resources::{Bindings, Facts, Observed, RouteEntry, World};

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
    pub outcome: Result<String, String>,
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
) -> Result<Vec<Answer>, String> {
    let net = Net {
        world,
        bound,
        config_only,
    };
    let answers = match (from, to) {
        (Endpoint::Internet, Endpoint::Internet) => {
            return Err("from and to are both the internet".to_owned());
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
) -> Result<String, String> {
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
        broken: impl FnOnce() -> String,
    ) -> Result<(), String> {
        if allowed.is_empty() {
            return Err(broken());
        }
        match side {
            Side::Src => self.src = allowed,
            Side::Dst => self.dst = allowed,
        }
        self.path.push(step);
        Ok(())
    }
}

impl<'w> Net<'w> {
    fn label(&self, o: &Observed) -> String {
        let name = self.bound.label(&o.id);
        if name == o.id {
            name
        } else {
            format!("{name} ({})", o.id)
        }
    }

    fn short(&self, id: &str) -> String {
        self.bound.label(id)
    }

    /// The hosts a logical name stands for.
    fn hosts(&self, name: &str) -> Result<Vec<Host<'w>>, String> {
        let o = self
            .bound
            .get(name)
            .ok_or_else(|| format!("`{name}` was not found"))?;
        let o = self.world.get(&o.id).unwrap_or(o);
        match o.kind {
            Kind::Instance => Ok(vec![self.instance(name, o)?]),
            Kind::Subnet => Ok(vec![self.subnet_host(name, o)?]),
            Kind::SecurityGroup => {
                // Each instance and each EFS mount target in the group.
                let mut hosts = Vec::new();
                for i in self.world.of_kind(Kind::Instance) {
                    if !i.is_gone()
                        && matches!(&i.facts, Facts::Instance { security_groups, .. }
                        if security_groups.contains(&o.id))
                    {
                        hosts.push(self.instance(&self.short(&i.id), i)?);
                    }
                }
                for m in self.world.of_kind(Kind::MountTarget) {
                    if matches!(&m.facts, Facts::MountTarget { security_groups, .. } if security_groups.contains(&o.id))
                    {
                        hosts.push(self.mount_target_host(m)?);
                    }
                }
                if hosts.is_empty() {
                    return Err(format!("nothing is in security group {name}"));
                }
                Ok(hosts)
            }
            Kind::LoadBalancer | Kind::AutoScalingGroup => self.spread_hosts(name, o),
            other => Err(format!(
                "`{name}` is a {}: reachability is asked of instances, subnets, security groups, Auto Scaling groups and load balancers",
                other.label()
            )),
        }
    }

    /// A load balancer or an Auto Scaling group: a host in each of its subnets with its
    /// security groups (a group's come from its launch template, else from its instances).
    fn spread_hosts(&self, name: &str, o: &'w Observed) -> Result<Vec<Host<'w>>, String> {
        let (group_ids, public_ip, down): (Vec<String>, Option<String>, Option<String>) =
            match &o.facts {
                Facts::LoadBalancer {
                    security_groups,
                    scheme,
                    state,
                    ..
                } => (
                    security_groups.clone(),
                    (scheme == "internet-facing").then(|| "internet-facing".to_owned()),
                    (!state.is_empty() && !matches!(state.as_str(), "active" | "provisioning"))
                        .then(|| state.clone()),
                ),
                Facts::AutoScalingGroup {
                    launch_template,
                    instances,
                    ..
                } => {
                    let from_template = launch_template
                        .as_deref()
                        .and_then(|t| self.world.get(t))
                        .and_then(|t| match &t.facts {
                            Facts::LaunchTemplate {
                                security_groups, ..
                            } if !security_groups.is_empty() => Some(security_groups.clone()),
                            _ => None,
                        });
                    let from_instances = || {
                        instances.iter().find_map(|i| {
                            match self.world.get(&i.id).map(|o| &o.facts) {
                                Some(Facts::Instance {
                                    security_groups, ..
                                }) => Some(security_groups.clone()),
                                _ => None,
                            }
                        })
                    };
                    let groups = from_template.or_else(from_instances).ok_or_else(|| {
                        format!("{name}: the security groups of its launch template are unknown")
                    })?;
                    (groups, None, None)
                }
                _ => return Err(format!("`{name}` spans no subnets")),
            };
        let groups = group_ids
            .iter()
            .map(|g| {
                self.world
                    .get(g)
                    .ok_or_else(|| format!("{name}: security group {g} was not found"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let subnets = o.subnet_ids();
        if subnets.is_empty() {
            return Err(format!("{name} is in no subnet"));
        }
        subnets
            .into_iter()
            .map(|id| {
                let subnet = self
                    .world
                    .get(id)
                    .ok_or_else(|| format!("{name}: subnet {id} was not found"))?;
                let addrs = Self::subnet_cidr(subnet)
                    .ok_or_else(|| format!("{name}: CIDR of {} unknown", self.short(id)))?;
                // A group's instances get a public address only where the subnet hands one out.
                let public_ip = public_ip
                    .clone()
                    .or_else(|| match (&o.facts, &subnet.facts) {
                        (
                            Facts::AutoScalingGroup { .. },
                            Facts::Subnet {
                                map_public_ip: true,
                                ..
                            },
                        ) => Some("auto-assigned".to_owned()),
                        _ => None,
                    });
                Ok(Host {
                    label: format!("{name} in {}", self.short(id)),
                    addrs,
                    subnet,
                    groups: Some(groups.clone()),
                    public_ip,
                    down: down.clone(),
                })
            })
            .collect()
    }

    fn subnet_cidr(subnet: &Observed) -> Option<IpSet> {
        match &subnet.facts {
            Facts::Subnet { cidr: Some(c), .. } => Some(IpSet::net(*c)),
            _ => None,
        }
    }

    fn instance(&self, name: &str, o: &'w Observed) -> Result<Host<'w>, String> {
        let Facts::Instance {
            subnet_id,
            state,
            security_groups,
            public_ip,
            private_ip,
            ..
        } = &o.facts
        else {
            return Err(format!("`{name}` is not an instance"));
        };
        let subnet = subnet_id
            .as_deref()
            .and_then(|s| self.world.get(s))
            .ok_or_else(|| format!("{name}: its subnet was not found"))?;
        let cidr = Self::subnet_cidr(subnet);
        // The private address, where it lies in the subnet (always, on AWS); else the subnet.
        let addrs = match (
            private_ip
                .as_deref()
                .and_then(|a| a.parse::<Ipv4Addr>().ok()),
            &cidr,
        ) {
            (Some(a), Some(c)) if c.contains_all(&IpSet::addr(a)) => IpSet::addr(a),
            (_, Some(c)) => c.clone(),
            (Some(a), None) => IpSet::addr(a),
            (None, None) => return Err(format!("{name}: no private address known")),
        };
        let groups = security_groups
            .iter()
            .map(|g| {
                self.world
                    .get(g)
                    .ok_or_else(|| format!("{name}: security group {g} was not found"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let down = (!matches!(state.as_str(), "running" | "pending")).then(|| state.clone());
        Ok(Host {
            label: name.to_owned(),
            addrs,
            subnet,
            groups: Some(groups),
            public_ip: public_ip.clone(),
            down,
        })
    }

    fn mount_target_host(&self, mt: &'w Observed) -> Result<Host<'w>, String> {
        let Facts::MountTarget {
            subnet_id,
            ip,
            security_groups,
            ..
        } = &mt.facts
        else {
            return Err(format!("{} is not a mount target", mt.id));
        };
        let subnet = self
            .world
            .get(subnet_id)
            .ok_or_else(|| format!("the subnet of mount target {} was not found", mt.id))?;
        let cidr = Self::subnet_cidr(subnet);
        let addrs = match (ip.as_deref().and_then(|a| a.parse::<Ipv4Addr>().ok()), cidr) {
            (Some(a), Some(c)) if c.contains_all(&IpSet::addr(a)) => IpSet::addr(a),
            (_, Some(c)) => c,
            (Some(a), None) => IpSet::addr(a),
            (None, None) => return Err(format!("mount target {}: no address known", mt.id)),
        };
        let groups = security_groups
            .iter()
            .map(|g| {
                self.world.get(g).ok_or_else(|| {
                    format!("security group {g} of mount target {} was not found", mt.id)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Host {
            label: format!("mount target {}", self.short(&mt.id)),
            addrs,
            subnet,
            groups: Some(groups),
            public_ip: None,
            down: None,
        })
    }

    fn subnet_host(&self, name: &str, o: &'w Observed) -> Result<Host<'w>, String> {
        let addrs = Self::subnet_cidr(o).ok_or_else(|| format!("{name}: CIDR unknown"))?;
        let public_ip = match &o.facts {
            Facts::Subnet {
                map_public_ip: true,
                ..
            } => Some("auto-assigned".to_owned()),
            _ => None,
        };
        Ok(Host {
            label: format!("a host in {name}"),
            addrs,
            subnet: o,
            groups: None,
            public_ip,
            down: None,
        })
    }

    fn subnet_name(&self, subnet: &Observed) -> String {
        self.short(&subnet.id)
    }

    fn route_table(&self, subnet: &Observed) -> Result<(&'w Observed, &'w [RouteEntry]), String> {
        let table = self
            .world
            .route_table_of(&subnet.id)
            .ok_or_else(|| format!("no route table governs {}", self.subnet_name(subnet)))?;
        let routes = match &table.facts {
            Facts::RouteTable { routes, .. } => routes.as_slice(),
            _ => &[],
        };
        Ok((table, routes))
    }

    fn table_label(&self, table: &Observed) -> String {
        let mut l = format!("route table {}", self.label(table));
        if table.is_vpc_default() {
            l.push_str(" (main)");
        }
        l
    }

    /// An internet gateway attached to the subnet's VPC, by id.
    fn attached_igw(&self, target: &str, subnet: &Observed) -> bool {
        self.world.get(target).is_some_and(|g| match &g.facts {
            Facts::InternetGateway { attached_vpcs } => subnet
                .vpc_id()
                .is_some_and(|v| attached_vpcs.iter().any(|a| a == v)),
            _ => false,
        })
    }

    /// The addresses of `dests` that the subnet's route table sends to an attached internet
    /// gateway, and the step text; else why none.
    fn route_to_igw(&self, subnet: &Observed, dests: &IpSet) -> Result<(IpSet, String), String> {
        let (table, routes) = self.route_table(subnet)?;
        let mut out = IpSet::empty();
        let mut via = Vec::new();
        let mut detached = None;
        for (route, part) in rules::split_routes(routes, dests) {
            let Some(r) = route else { continue };
            let Some(target) = r.target.as_deref().filter(|t| t.starts_with("igw-")) else {
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

    fn nacl_of(&self, subnet: &Observed) -> Option<&'w Observed> {
        self.world.nacl_of(&subnet.id).or_else(|| {
            // Every subnet has one; a subnet with no explicit association uses the default.
            self.world.default_nacl(subnet.vpc_id()?)
        })
    }

    /// One direction of the subnet's NACL, narrowing the far side of the flow.
    fn nacl_hop(
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
        let Facts::NetworkAcl { entries, .. } = &acl.facts else {
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
    fn sg_hop(
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
                Facts::SecurityGroup {
                    ingress: i,
                    egress: e,
                    ..
                } => Some(GroupRules {
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

    fn up(&self, host: &Host<'_>) -> Result<(), String> {
        match &host.down {
            Some(state) if !self.config_only => Err(format!("{} is {state}", host.label)),
            _ => Ok(()),
        }
    }

    /// Internet -> host: an attached gateway, a route back to it, a public address, the NACL both
    /// ways, the security group.
    fn inbound_from_internet(&self, host: &Host<'_>, traffic: Traffic) -> Result<String, String> {
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
    fn outbound_to_internet(&self, host: &Host<'_>, traffic: Traffic) -> Result<String, String> {
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

    fn egress_route(
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
        let target = route.target.as_deref().unwrap_or("none");
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
        if target.starts_with("igw-") {
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
        if target.starts_with("nat-") {
            return self.through_nat(host, t, target, part, traffic, path);
        }
        Err(format!(
            "{table_label} sends {} to {}, which does not lead to the internet",
            route.dest,
            self.short(target)
        ))
    }

    fn through_nat(
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
        let Facts::NatGateway {
            state,
            subnet_id,
            public_ip,
            allocation_ids,
            ..
        } = &nat.facts
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
    fn between(&self, a: &Host<'_>, b: &Host<'_>, traffic: Traffic) -> Result<String, String> {
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
            .filter(|(r, _)| r.is_some_and(|r| r.target.as_deref() == Some("local")))
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

#[cfg(test)]
mod tests;
