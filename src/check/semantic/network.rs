//! Subnets public or private by their routes, and egress through a NAT gateway.

use super::*;
use crate::resources::{InternetGatewayFacts, NatGatewayFacts, RouteTableFacts};

pub(super) const DEFAULT_ROUTE: &str = "0.0.0.0/0";

/// The table that routes a subnet, with a label such as `rtb-… (main)`.
pub(super) fn table_of<'w>(
    name: &str,
    subnet: &Observed,
    bound: &Bindings,
    world: &'w World,
) -> Result<(&'w Observed, String, &'w [RouteEntry]), String> {
    let table = world
        .route_table_of(&subnet.id)
        .ok_or_else(|| format!("{name}: no route table governs it"))?;
    let mut label = bound.label(&table.id);
    if table.is_vpc_default() {
        label.push_str(" (main)");
    }
    let routes = match &table.facts {
        Facts::RouteTable(RouteTableFacts { routes, .. }) => routes.as_slice(),
        _ => &[],
    };
    Ok((table, label, routes))
}

pub(super) fn default_route(routes: &[RouteEntry]) -> Option<&RouteEntry> {
    routes.iter().find(|r| r.dest == DEFAULT_ROUTE)
}

pub(super) fn igw_attached_to(world: &World, igw: &str, vpc: Option<&str>) -> bool {
    world.get(igw).is_some_and(|g| match &g.facts {
        Facts::InternetGateway(InternetGatewayFacts { attached_vpcs }) => {
            vpc.is_some_and(|v| attached_vpcs.iter().any(|a| a == v))
        }
        _ => false,
    })
}

pub(super) fn public(
    name: &str,
    subnet: &Observed,
    bound: &Bindings,
    world: &World,
) -> Result<String, String> {
    let (_, table, routes) = table_of(name, subnet, bound, world)?;
    let route = default_route(routes)
        .ok_or_else(|| format!("{name}: route table {table} has no 0.0.0.0/0 route"))?;
    let Some(target) = route.target.as_ref().and_then(|t| t.internet_gateway()) else {
        return Err(format!(
            "{name}: route table {table} sends 0.0.0.0/0 to {}, not to an internet gateway",
            bound.label(route.target.as_ref().map_or("none", |t| t.id()))
        ));
    };
    if route.state != "active" || !igw_attached_to(world, target, subnet.vpc_id()) {
        return Err(format!(
            "{name}: route table {table} sends 0.0.0.0/0 to internet gateway {}, which is not attached to the VPC",
            bound.label(target)
        ));
    }
    Ok(format!(
        "{name}: 0.0.0.0/0 -> {} in {table}",
        bound.label(target)
    ))
}

pub(super) fn private(
    name: &str,
    subnet: &Observed,
    bound: &Bindings,
    world: &World,
) -> Result<String, String> {
    let (_, table, routes) = table_of(name, subnet, bound, world)?;
    // A blackhole route or a detached gateway carries nothing.
    if let Some(r) = routes.iter().find(|r| {
        r.state == "active"
            && r.target
                .as_ref()
                .and_then(|t| t.internet_gateway())
                .is_some_and(|t| igw_attached_to(world, t, subnet.vpc_id()))
    }) {
        return Err(format!(
            "{name}: route table {table} sends {} to internet gateway {}, so the subnet is public",
            r.dest,
            bound.label(r.target.as_ref().map_or("", |t| t.id()))
        ));
    }
    Ok(format!(
        "{name}: no route to an internet gateway in {table}"
    ))
}

pub(super) fn egress_via_nat(
    name: &str,
    subnet: &Observed,
    bound: &Bindings,
    world: &World,
) -> Result<String, String> {
    let (_, table, routes) = table_of(name, subnet, bound, world)?;
    let route = default_route(routes).ok_or_else(|| {
        format!("{name}: route table {table} has no 0.0.0.0/0 route, so no egress")
    })?;
    let Some(target) = route.target.as_ref().and_then(|t| t.nat_gateway()) else {
        return Err(format!(
            "{name}: route table {table} sends 0.0.0.0/0 to {}, not to a NAT gateway",
            bound.label(route.target.as_ref().map_or("none", |t| t.id()))
        ));
    };
    let nat = world.get(target).ok_or_else(|| {
        format!(
            "{name}: NAT gateway {} in {table} does not exist (blackhole route)",
            bound.label(target)
        )
    })?;
    let Facts::NatGateway(NatGatewayFacts {
        state,
        subnet_id,
        public_ip,
        allocation_ids,
        ..
    }) = &nat.facts
    else {
        return Err(format!("{name}: {target} is not a NAT gateway"));
    };
    if state != "available" {
        return Err(format!(
            "{name}: NAT gateway {} is {state}, not available",
            bound.label(target)
        ));
    }
    if public_ip.is_none() && allocation_ids.is_empty() {
        return Err(format!(
            "{name}: NAT gateway {} has no Elastic IP",
            bound.label(target)
        ));
    }
    let nat_subnet = subnet_id
        .as_deref()
        .and_then(|s| world.get(s))
        .ok_or_else(|| {
            format!(
                "{name}: NAT gateway {} is in an unknown subnet",
                bound.label(target)
            )
        })?;
    let nat_subnet_name = bound.label(&nat_subnet.id);
    public(&nat_subnet_name, nat_subnet, bound, world).map_err(|why| {
        format!(
            "{name}: NAT gateway {} sits in {nat_subnet_name}, which is not public ({why})",
            bound.label(target)
        )
    })?;
    Ok(format!(
        "{name}: 0.0.0.0/0 -> {} in public subnet {nat_subnet_name}",
        bound.label(target)
    ))
}
