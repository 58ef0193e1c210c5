//! The hosts of an endpoint: an instance, the instances of a group, a load balancer's nodes, a
//! mount target, or a subnet, each with its addresses, subnet and security groups.

use super::*;
use crate::resources::{
    AutoScalingGroupFacts, EcsServiceFacts, InstanceFacts, LaunchTemplateFacts, LoadBalancerFacts,
    MountTargetFacts, SubnetFacts,
};

impl<'w> Net<'w> {
    pub(super) fn label(&self, o: &Observed) -> String {
        let name = self.bound.label(&o.id);
        if name == o.id {
            name
        } else {
            format!("{name} ({})", o.id)
        }
    }

    pub(super) fn short(&self, id: &str) -> String {
        self.bound.label(id)
    }

    /// The hosts a logical name stands for.
    pub(super) fn hosts(&self, name: &str) -> Result<Vec<Host<'w>>, Unresolved> {
        let o = self.bound.get(name).ok_or_else(|| Unresolved::NotFound {
            name: name.to_owned(),
        })?;
        let o = self.world.get(&o.id).unwrap_or(o);
        match o.kind {
            Kind::Instance => Ok(vec![self.instance(name, o)?]),
            Kind::Subnet => Ok(vec![self.subnet_host(name, o)?]),
            Kind::SecurityGroup => {
                // Each instance and each EFS mount target in the group.
                let mut hosts = Vec::new();
                for i in self.world.of_kind(Kind::Instance) {
                    if !i.is_gone()
                        && matches!(&i.facts, Facts::Instance(InstanceFacts { security_groups, .. })
                        if security_groups.contains(&o.id))
                    {
                        hosts.push(self.instance(&self.short(&i.id), i)?);
                    }
                }
                for m in self.world.of_kind(Kind::MountTarget) {
                    if matches!(&m.facts, Facts::MountTarget(MountTargetFacts { security_groups, .. }) if security_groups.contains(&o.id))
                    {
                        hosts.push(self.mount_target_host(m)?);
                    }
                }
                if hosts.is_empty() {
                    return Err(Unresolved::EmptyGroup {
                        name: name.to_owned(),
                    });
                }
                Ok(hosts)
            }
            Kind::LoadBalancer | Kind::AutoScalingGroup | Kind::EcsService => {
                self.spread_hosts(name, o)
            }
            other => Err(Unresolved::NotAnEndpoint {
                name: name.to_owned(),
                kind: other,
            }),
        }
    }

    /// A load balancer, an Auto Scaling group or an ECS service: a host in each of its subnets
    /// with its security groups (a group's come from its launch template, else from its
    /// instances; a service's tasks have the service's).
    pub(super) fn spread_hosts(
        &self,
        name: &str,
        o: &'w Observed,
    ) -> Result<Vec<Host<'w>>, Unresolved> {
        let (group_ids, public_ip, down): (Vec<String>, Option<String>, Option<String>) =
            match &o.facts {
                Facts::LoadBalancer(LoadBalancerFacts {
                    security_groups,
                    scheme,
                    state,
                    ..
                }) => (
                    security_groups.clone(),
                    (scheme == "internet-facing").then(|| "internet-facing".to_owned()),
                    (!state.is_empty() && !matches!(state.as_str(), "active" | "provisioning"))
                        .then(|| state.clone()),
                ),
                Facts::AutoScalingGroup(AutoScalingGroupFacts {
                    launch_template,
                    instances,
                    ..
                }) => {
                    let from_template = launch_template
                        .as_deref()
                        .and_then(|t| self.world.get(t))
                        .and_then(|t| match &t.facts {
                            Facts::LaunchTemplate(LaunchTemplateFacts {
                                security_groups, ..
                            }) if !security_groups.is_empty() => Some(security_groups.clone()),
                            _ => None,
                        });
                    let from_instances = || {
                        instances.iter().find_map(|i| {
                            match self.world.get(&i.id).map(|o| &o.facts) {
                                Some(Facts::Instance(InstanceFacts {
                                    security_groups, ..
                                })) => Some(security_groups.clone()),
                                _ => None,
                            }
                        })
                    };
                    let groups = from_template.or_else(from_instances).ok_or_else(|| {
                        Unresolved::GroupsUnknown {
                            name: name.to_owned(),
                        }
                    })?;
                    (groups, None, None)
                }
                // A service's tasks: a network interface each in its subnets, with its groups.
                Facts::EcsService(EcsServiceFacts {
                    security_groups,
                    public_ip,
                    ..
                }) => (
                    security_groups.clone(),
                    public_ip.then(|| "assigned to each task".to_owned()),
                    None,
                ),
                _ => {
                    return Err(Unresolved::SpansNoSubnets {
                        name: name.to_owned(),
                    });
                }
            };
        let groups = group_ids
            .iter()
            .map(|g| {
                self.world.get(g).ok_or_else(|| Unresolved::GroupMissing {
                    of: Subject::Endpoint(name.to_owned()),
                    group: g.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let subnets = o.subnet_ids();
        if subnets.is_empty() {
            return Err(Unresolved::InNoSubnet {
                name: name.to_owned(),
            });
        }
        subnets
            .into_iter()
            .map(|id| {
                let subnet = self
                    .world
                    .get(id)
                    .ok_or_else(|| Unresolved::SubnetMissing {
                        of: Subject::Endpoint(name.to_owned()),
                        subnet: Some(id.to_owned()),
                    })?;
                let addrs = Self::subnet_cidr(subnet).ok_or_else(|| Unresolved::CidrUnknown {
                    name: name.to_owned(),
                    subnet: Some(self.short(id)),
                })?;
                // A group's instances get a public address only where the subnet hands one out.
                let public_ip = public_ip
                    .clone()
                    .or_else(|| match (&o.facts, &subnet.facts) {
                        (
                            Facts::AutoScalingGroup(_),
                            Facts::Subnet(SubnetFacts {
                                map_public_ip: true,
                                ..
                            }),
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

    pub(super) fn subnet_cidr(subnet: &Observed) -> Option<IpSet> {
        match &subnet.facts {
            Facts::Subnet(SubnetFacts { cidr: Some(c), .. }) => Some(IpSet::net(*c)),
            _ => None,
        }
    }

    pub(super) fn instance(&self, name: &str, o: &'w Observed) -> Result<Host<'w>, Unresolved> {
        let Facts::Instance(InstanceFacts {
            subnet_id,
            state,
            security_groups,
            public_ip,
            private_ip,
            ..
        }) = &o.facts
        else {
            return Err(Unresolved::NotAnInstance {
                name: name.to_owned(),
            });
        };
        let subnet = subnet_id
            .as_deref()
            .and_then(|s| self.world.get(s))
            .ok_or_else(|| Unresolved::SubnetMissing {
                of: Subject::Endpoint(name.to_owned()),
                subnet: None,
            })?;
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
            (None, None) => {
                return Err(Unresolved::NoAddress {
                    of: Subject::Endpoint(name.to_owned()),
                });
            }
        };
        let groups = security_groups
            .iter()
            .map(|g| {
                self.world.get(g).ok_or_else(|| Unresolved::GroupMissing {
                    of: Subject::Endpoint(name.to_owned()),
                    group: g.clone(),
                })
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

    pub(super) fn mount_target_host(&self, mt: &'w Observed) -> Result<Host<'w>, Unresolved> {
        let Facts::MountTarget(MountTargetFacts {
            subnet_id,
            ip,
            security_groups,
            ..
        }) = &mt.facts
        else {
            return Err(Unresolved::NotAMountTarget { id: mt.id.clone() });
        };
        let subnet = self
            .world
            .get(subnet_id)
            .ok_or_else(|| Unresolved::SubnetMissing {
                of: Subject::MountTarget(mt.id.clone()),
                subnet: Some(subnet_id.clone()),
            })?;
        let cidr = Self::subnet_cidr(subnet);
        let addrs = match (ip.as_deref().and_then(|a| a.parse::<Ipv4Addr>().ok()), cidr) {
            (Some(a), Some(c)) if c.contains_all(&IpSet::addr(a)) => IpSet::addr(a),
            (_, Some(c)) => c,
            (Some(a), None) => IpSet::addr(a),
            (None, None) => {
                return Err(Unresolved::NoAddress {
                    of: Subject::MountTarget(mt.id.clone()),
                });
            }
        };
        let groups = security_groups
            .iter()
            .map(|g| {
                self.world.get(g).ok_or_else(|| Unresolved::GroupMissing {
                    of: Subject::MountTarget(mt.id.clone()),
                    group: g.clone(),
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

    pub(super) fn subnet_host(&self, name: &str, o: &'w Observed) -> Result<Host<'w>, Unresolved> {
        let addrs = Self::subnet_cidr(o).ok_or_else(|| Unresolved::CidrUnknown {
            name: name.to_owned(),
            subnet: None,
        })?;
        let public_ip = match &o.facts {
            Facts::Subnet(SubnetFacts {
                map_public_ip: true,
                ..
            }) => Some("auto-assigned".to_owned()),
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

    pub(super) fn subnet_name(&self, subnet: &Observed) -> String {
        self.short(&subnet.id)
    }
}
