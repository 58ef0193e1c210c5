//! A load balancer in front of an Auto Scaling group or an ECS service.

use thiserror::Error;

use super::*;
use crate::resources::{
    AutoScalingGroupFacts, EcsServiceFacts, ListenerFacts, LoadBalancerFacts, SubnetFacts,
};

/// Why a load balancer does not serve an Auto Scaling group as the check asks.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Serving {
    #[error("{load_balancer} or {group} is not of the expected kind")]
    UnexpectedKinds {
        load_balancer: String,
        group: String,
    },
    #[error("{load_balancer} is a {lb_type} load balancer, not an Application Load Balancer")]
    NotApplication {
        load_balancer: String,
        lb_type: String,
    },
    #[error(
        "{load_balancer} is {scheme}: the internet cannot reach it (create it internet-facing)"
    )]
    NotInternetFacing {
        load_balancer: String,
        scheme: String,
    },
    /// A subnet the load balancer or the group names is not in what was discovered.
    #[error("subnet {subnet} was not found")]
    SubnetMissing { subnet: String },
    /// The load balancer sits in a subnet that is not public, for the reason `why`.
    #[error("{load_balancer} is in {subnet}, which is not public: {why}")]
    NotPublic {
        load_balancer: String,
        subnet: String,
        why: Box<Failure>,
    },
    /// The group launches into a subnet that is not private, for the reason `why`.
    #[error("{group} launches into {subnet}, which is not private: {why}")]
    NotPrivate {
        group: String,
        subnet: String,
        why: Box<Failure>,
    },
    /// The load balancer's subnets span fewer than two zones; `places` is each subnet with its
    /// zone.
    #[error(
        "{load_balancer} spans {azs} availability zone(s): {}; it needs public subnets in two",
        .places.join(", ")
    )]
    LoadBalancerAzs {
        load_balancer: String,
        azs: usize,
        places: Vec<String>,
    },
    /// The group's subnets span fewer than two zones.
    #[error(
        "{group} spans {azs} availability zone(s): {}; give it private subnets in two",
        list_or(.places, "no subnet")
    )]
    GroupAzs {
        group: String,
        azs: usize,
        places: Vec<String>,
    },
    /// The service gives its tasks public addresses.
    #[error(
        "{group} gives its tasks public IP addresses: turn Public IP off (they are reached through {load_balancer} only)"
    )]
    PublicIp {
        load_balancer: String,
        group: String,
    },
    #[error("{load_balancer} has no listener")]
    NoListener { load_balancer: String },
    /// No listener forwards to a target group the group is attached to; `listeners` is each
    /// listener's port and targets, `attached` the group's target groups.
    #[error(
        "no listener of {load_balancer} forwards to a target group {group} is attached to (listeners: {}; {group} attached to: {})",
        .listeners.join(", "),
        list_or(.attached, "none")
    )]
    NotForwarded {
        load_balancer: String,
        group: String,
        listeners: Vec<String>,
        attached: Vec<String>,
    },
}

/// The load balancer serves the group: listener -> target group <- group; the load balancer
/// internet-facing in public subnets of 2+ AZs; the group only in private subnets of 2+ AZs.
pub(super) fn alb_serves_asg(
    lb_name: &str,
    group_name: &str,
    bound: &Bindings,
    world: &World,
) -> Result<String, Failure> {
    let lb = bound.get(lb_name).ok_or_else(|| Failure::NotFound {
        noun: Some(Noun::LoadBalancer),
        name: lb_name.to_owned(),
    })?;
    let lb = world.get(&lb.id).unwrap_or(lb);
    let group = bound.get(group_name).ok_or_else(|| Failure::NotFound {
        noun: Some(Noun::AutoScalingGroup),
        name: group_name.to_owned(),
    })?;
    let group = world.get(&group.id).unwrap_or(group);
    let unexpected = || Serving::UnexpectedKinds {
        load_balancer: lb_name.to_owned(),
        group: group_name.to_owned(),
    };
    let Facts::LoadBalancer(LoadBalancerFacts {
        scheme,
        lb_type,
        subnets: lb_subnets,
        ..
    }) = &lb.facts
    else {
        return Err(unexpected().into());
    };
    // An Auto Scaling group's instances, or an ECS service's tasks.
    let (group_subnets, attached) = match &group.facts {
        Facts::AutoScalingGroup(AutoScalingGroupFacts {
            subnets,
            target_groups,
            ..
        }) => (subnets, target_groups),
        Facts::EcsService(EcsServiceFacts {
            subnets,
            target_groups,
            public_ip,
            ..
        }) => {
            if *public_ip {
                return Err(Serving::PublicIp {
                    load_balancer: lb_name.to_owned(),
                    group: group_name.to_owned(),
                }
                .into());
            }
            (subnets, target_groups)
        }
        _ => return Err(unexpected().into()),
    };
    if lb_type != "application" {
        return Err(Serving::NotApplication {
            load_balancer: lb_name.to_owned(),
            lb_type: lb_type.clone(),
        }
        .into());
    }
    if scheme != "internet-facing" {
        return Err(Serving::NotInternetFacing {
            load_balancer: lb_name.to_owned(),
            scheme: scheme.clone(),
        }
        .into());
    }
    let placed = |subnets: &[String], want_public: bool| -> Result<(Vec<String>, usize), Serving> {
        let mut names = Vec::new();
        let mut azs = BTreeSet::new();
        for id in subnets {
            let label = bound.label(id);
            let subnet = world.get(id).ok_or_else(|| Serving::SubnetMissing {
                subnet: label.clone(),
            })?;
            if want_public {
                public(&label, subnet, bound, world).map_err(|why| Serving::NotPublic {
                    load_balancer: lb_name.to_owned(),
                    subnet: label.clone(),
                    why: Box::new(why),
                })?;
            } else {
                private(&label, subnet, bound, world).map_err(|why| Serving::NotPrivate {
                    group: group_name.to_owned(),
                    subnet: label.clone(),
                    why: Box::new(why),
                })?;
            }
            if let Facts::Subnet(SubnetFacts { az: Some(az), .. }) = &subnet.facts {
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
        return Err(Serving::LoadBalancerAzs {
            load_balancer: lb_name.to_owned(),
            azs: lb_azs,
            places: lb_places,
        }
        .into());
    }
    let (group_places, group_azs) = placed(group_subnets, false)?;
    if group_azs < 2 {
        return Err(Serving::GroupAzs {
            group: group_name.to_owned(),
            azs: group_azs,
            places: group_places,
        }
        .into());
    }
    let listeners: Vec<(&Observed, Option<i32>, &Vec<String>)> = world
        .of_kind(Kind::Listener)
        .filter_map(|l| match &l.facts {
            Facts::Listener(ListenerFacts {
                load_balancer,
                port,
                target_groups,
                ..
            }) if *load_balancer == lb.id => Some((l, *port, target_groups)),
            _ => None,
        })
        .collect();
    if listeners.is_empty() {
        return Err(Serving::NoListener {
            load_balancer: lb_name.to_owned(),
        }
        .into());
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
        return Err(Serving::NotForwarded {
            load_balancer: lb_name.to_owned(),
            group: group_name.to_owned(),
            listeners: forwards,
            attached: attached.iter().map(|t| bound.label(t)).collect(),
        }
        .into());
    };
    Ok(format!(
        "{lb_name} (internet-facing in {}) port {} -> {} <- {group_name} (in {})",
        lb_places.join(", "),
        port.map_or_else(|| "?".to_owned(), |p| p.to_string()),
        bound.label(tg),
        group_places.join(", ")
    ))
}
