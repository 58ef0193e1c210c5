//! Subnets public or private by their routes, and egress through a NAT gateway.

use thiserror::Error;

use super::*;
use crate::resources::{InternetGatewayFacts, NatGatewayFacts, RouteTableFacts};

pub(super) const DEFAULT_ROUTE: &str = "0.0.0.0/0";

/// Why a subnet's routes are not what a check asks for (the subnet is named by the
/// [`Failure::Subnet`] around it). `table` is the label of the route table that governs it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Routing {
    #[error("no route table governs it")]
    NoRouteTable,
    /// No `0.0.0.0/0` route where one to `want` is asked for.
    #[error(
        "route table {table} has no 0.0.0.0/0 route{}",
        if *.want == Gateway::Nat { ", so no egress" } else { "" }
    )]
    NoDefaultRoute { table: String, want: Gateway },
    /// The `0.0.0.0/0` route goes to something else than `want`.
    #[error("route table {table} sends 0.0.0.0/0 to {target}, not to {want}")]
    WrongTarget {
        table: String,
        target: String,
        want: Gateway,
    },
    #[error(
        "route table {table} sends 0.0.0.0/0 to internet gateway {gateway}, which is not attached to the VPC"
    )]
    GatewayDetached { table: String, gateway: String },
    /// A subnet that must be private routes `dest` to an attached internet gateway.
    #[error(
        "route table {table} sends {dest} to internet gateway {gateway}, so the subnet is public"
    )]
    Public {
        table: String,
        dest: String,
        gateway: String,
    },

    // The NAT gateway of the default route.
    #[error("NAT gateway {nat} in {table} does not exist (blackhole route)")]
    NatMissing { table: String, nat: String },
    #[error("{id} is not a NAT gateway")]
    NotANatGateway { id: String },
    #[error("NAT gateway {nat} is {state}, not available")]
    NatState { nat: String, state: String },
    #[error("NAT gateway {nat} has no Elastic IP")]
    NatNoElasticIp { nat: String },
    #[error("NAT gateway {nat} is in an unknown subnet")]
    NatSubnetUnknown { nat: String },
    /// The NAT gateway's own subnet is not public, for the reason `why`.
    #[error("NAT gateway {nat} sits in {subnet}, which is not public ({why})")]
    NatNotPublic {
        nat: String,
        subnet: String,
        why: Box<Failure>,
    },
}

/// The gateway a subnet's default route must go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Gateway {
    #[error("an internet gateway")]
    Internet,
    #[error("a NAT gateway")]
    Nat,
}

fn routing(name: &str, why: Routing) -> Failure {
    Failure::Subnet {
        subnet: name.to_owned(),
        why,
    }
}

/// The table that routes a subnet, with a label such as `rtb-… (main)`.
pub(super) fn table_of<'w>(
    name: &str,
    subnet: &Observed,
    bound: &Bindings,
    world: &'w World,
) -> Result<(&'w Observed, String, &'w [RouteEntry]), Failure> {
    let table = world
        .route_table_of(&subnet.id)
        .ok_or_else(|| routing(name, Routing::NoRouteTable))?;
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
) -> Result<String, Failure> {
    let (_, table, routes) = table_of(name, subnet, bound, world)?;
    let Some(route) = default_route(routes) else {
        return Err(routing(
            name,
            Routing::NoDefaultRoute {
                table,
                want: Gateway::Internet,
            },
        ));
    };
    let Some(target) = route.target.as_ref().and_then(|t| t.internet_gateway()) else {
        return Err(routing(
            name,
            Routing::WrongTarget {
                table,
                target: bound.label(route.target.as_ref().map_or("none", |t| t.id())),
                want: Gateway::Internet,
            },
        ));
    };
    if route.state != "active" || !igw_attached_to(world, target, subnet.vpc_id()) {
        return Err(routing(
            name,
            Routing::GatewayDetached {
                table,
                gateway: bound.label(target),
            },
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
) -> Result<String, Failure> {
    let (_, table, routes) = table_of(name, subnet, bound, world)?;
    // A blackhole route or a detached gateway carries nothing.
    if let Some(r) = routes.iter().find(|r| {
        r.state == "active"
            && r.target
                .as_ref()
                .and_then(|t| t.internet_gateway())
                .is_some_and(|t| igw_attached_to(world, t, subnet.vpc_id()))
    }) {
        return Err(routing(
            name,
            Routing::Public {
                table,
                dest: r.dest.clone(),
                gateway: bound.label(r.target.as_ref().map_or("", |t| t.id())),
            },
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
) -> Result<String, Failure> {
    let (_, table, routes) = table_of(name, subnet, bound, world)?;
    let Some(route) = default_route(routes) else {
        return Err(routing(
            name,
            Routing::NoDefaultRoute {
                table,
                want: Gateway::Nat,
            },
        ));
    };
    let Some(target) = route.target.as_ref().and_then(|t| t.nat_gateway()) else {
        return Err(routing(
            name,
            Routing::WrongTarget {
                table,
                target: bound.label(route.target.as_ref().map_or("none", |t| t.id())),
                want: Gateway::Nat,
            },
        ));
    };
    let nat_name = bound.label(target);
    let Some(nat) = world.get(target) else {
        return Err(routing(
            name,
            Routing::NatMissing {
                table,
                nat: nat_name,
            },
        ));
    };
    let Facts::NatGateway(NatGatewayFacts {
        state,
        subnet_id,
        public_ip,
        allocation_ids,
        ..
    }) = &nat.facts
    else {
        return Err(routing(
            name,
            Routing::NotANatGateway {
                id: target.to_owned(),
            },
        ));
    };
    if state != "available" {
        return Err(routing(
            name,
            Routing::NatState {
                nat: nat_name,
                state: state.clone(),
            },
        ));
    }
    if public_ip.is_none() && allocation_ids.is_empty() {
        return Err(routing(name, Routing::NatNoElasticIp { nat: nat_name }));
    }
    let Some(nat_subnet) = subnet_id.as_deref().and_then(|s| world.get(s)) else {
        return Err(routing(name, Routing::NatSubnetUnknown { nat: nat_name }));
    };
    let nat_subnet_name = bound.label(&nat_subnet.id);
    if let Err(why) = public(&nat_subnet_name, nat_subnet, bound, world) {
        return Err(routing(
            name,
            Routing::NatNotPublic {
                nat: nat_name,
                subnet: nat_subnet_name,
                why: Box::new(why),
            },
        ));
    }
    Ok(format!(
        "{name}: 0.0.0.0/0 -> {nat_name} in public subnet {nat_subnet_name}"
    ))
}
