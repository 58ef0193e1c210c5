//! A load balancer in front of an Auto Scaling group.

use super::*;
use crate::resources::{AutoScalingGroupFacts, ListenerFacts, LoadBalancerFacts, SubnetFacts};

/// The load balancer serves the group: listener -> target group <- group; the load balancer
/// internet-facing in public subnets of 2+ AZs; the group only in private subnets of 2+ AZs.
pub(super) fn alb_serves_asg(
    lb_name: &str,
    group_name: &str,
    bound: &Bindings,
    world: &World,
) -> Result<String, String> {
    let lb = bound
        .get(lb_name)
        .ok_or_else(|| format!("load balancer `{lb_name}` was not found"))?;
    let lb = world.get(&lb.id).unwrap_or(lb);
    let group = bound
        .get(group_name)
        .ok_or_else(|| format!("Auto Scaling group `{group_name}` was not found"))?;
    let group = world.get(&group.id).unwrap_or(group);
    let (
        Facts::LoadBalancer(LoadBalancerFacts {
            scheme,
            lb_type,
            subnets: lb_subnets,
            ..
        }),
        Facts::AutoScalingGroup(AutoScalingGroupFacts {
            subnets: group_subnets,
            target_groups: attached,
            ..
        }),
    ) = (&lb.facts, &group.facts)
    else {
        return Err(format!(
            "{lb_name} or {group_name} is not of the expected kind"
        ));
    };
    if lb_type != "application" {
        return Err(format!(
            "{lb_name} is a {lb_type} load balancer, not an Application Load Balancer"
        ));
    }
    if scheme != "internet-facing" {
        return Err(format!(
            "{lb_name} is {scheme}: the internet cannot reach it (create it internet-facing)"
        ));
    }
    let placed = |subnets: &[String], want_public: bool| -> Result<(Vec<String>, usize), String> {
        let mut names = Vec::new();
        let mut azs = BTreeSet::new();
        for id in subnets {
            let label = bound.label(id);
            let subnet = world
                .get(id)
                .ok_or_else(|| format!("subnet {label} was not found"))?;
            if want_public {
                public(&label, subnet, bound, world).map_err(|why| {
                    format!("{lb_name} is in {label}, which is not public: {why}")
                })?;
            } else {
                private(&label, subnet, bound, world).map_err(|why| {
                    format!("{group_name} launches into {label}, which is not private: {why}")
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
        return Err(format!(
            "{lb_name} spans {lb_azs} availability zone(s): {}; it needs public subnets in two",
            lb_places.join(", ")
        ));
    }
    let (group_places, group_azs) = placed(group_subnets, false)?;
    if group_azs < 2 {
        return Err(format!(
            "{group_name} spans {group_azs} availability zone(s): {}; give it private subnets in two",
            if group_places.is_empty() {
                "no subnet".to_owned()
            } else {
                group_places.join(", ")
            }
        ));
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
        return Err(format!("{lb_name} has no listener"));
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
        let groups: Vec<String> = attached.iter().map(|t| bound.label(t)).collect();
        return Err(format!(
            "no listener of {lb_name} forwards to a target group {group_name} is attached to (listeners: {}; {group_name} attached to: {})",
            forwards.join(", "),
            if groups.is_empty() {
                "none".to_owned()
            } else {
                groups.join(", ")
            }
        ));
    };
    Ok(format!(
        "{lb_name} (internet-facing in {}) port {} -> {} <- {group_name} (in {})",
        lb_places.join(", "),
        port.map_or_else(|| "?".to_owned(), |p| p.to_string()),
        bound.label(tg),
        group_places.join(", ")
    ))
}
