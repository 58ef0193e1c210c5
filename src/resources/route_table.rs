//! Route tables: routes to gateways and the subnets they govern. Associations are removed
//! explicitly before deletion (one emulator, like AWS in some states, refuses otherwise).

use crate::aws::tags::Owner;
use crate::check::Names;
use crate::lab::Lab;
use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use serde::Serialize;

use super::ec2util::{filter, scope_filters};
use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::from_ec2;
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource, Spec};
use crate::resources::VpcEndpointFacts;
use toml::Spanned;

/// What a lab file declares for a route table.
#[derive(Debug, Clone)]
pub struct RouteTableSpec {
    pub vpc: String,
    pub subnets: Vec<String>,
    pub routes: Vec<crate::lab::Route>,
}

/// What AWS says of a route table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RouteTableFacts {
    pub vpc_id: Option<String>,
    pub main: bool,
    /// (association id, subnet id) of explicit subnet associations.
    pub associations: Vec<(String, String)>,
    pub routes: Vec<crate::resources::RouteEntry>,
}

impl crate::resources::KindSpec for RouteTableSpec {
    fn refs(&self) -> Vec<&str> {
        let RouteTableSpec {
            vpc,
            subnets,
            routes,
        } = self;
        let mut out = vec![vpc.as_str()];
        out.extend(subnets.iter().map(String::as_str));
        out.extend(routes.iter().map(|r| r.target.as_str()));
        out
    }
}

impl crate::resources::KindFacts for RouteTableFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let RouteTableFacts { vpc_id, .. } = self;
        vpc_id.as_deref()
    }

    fn is_vpc_default(&self) -> bool {
        let RouteTableFacts { main, .. } = self;
        *main
    }
}

/// The keys of a `route_table` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct RouteTableKeys {
    /// The VPC the route table is in.
    #[schemars(with = "Option<String>")]
    pub vpc: Option<toml::Spanned<String>>,
    /// Subnets associated with the route table.
    #[schemars(with = "Option<Vec<String>>")]
    pub subnets: Option<Vec<toml::Spanned<String>>>,
    /// Routes besides the local one: a destination CIDR to a gateway.
    #[schemars(with = "Option<Vec<RouteDef>>")]
    pub routes: Option<Vec<toml::Spanned<RouteDef>>>,
}

/// One entry of `routes` as written.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RouteDef {
    /// Destination CIDR, e.g. `0.0.0.0/0`.
    #[schemars(with = "String")]
    pub cidr: Spanned<String>,
    /// Logical name of an internet gateway or NAT gateway.
    #[schemars(with = "String")]
    pub to: Spanned<String>,
}

impl ParseSpec for RouteTableSpec {
    type Keys = RouteTableKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &RouteTableKeys) -> Self {
        let kind = Kind::RouteTable;
        let vpc = cx.vpc_ref(name, kind, &d.vpc);
        let subnets = cx.subnet_refs(&d.subnets);
        let mut routes = Vec::new();
        for r in d.routes.iter().flatten() {
            let cidr = cx.cidr(&r.get_ref().cidr);
            let to = cx.reference(&r.get_ref().to, &[Kind::InternetGateway, Kind::NatGateway]);
            if let (Some(cidr), Some(target)) = (cidr, to) {
                routes.push(crate::lab::Route { cidr, target });
            }
        }
        RouteTableSpec {
            vpc: vpc.unwrap_or_default(),
            subnets,
            routes,
        }
    }
}

pub struct RouteTable;

/// Where a route sends traffic, as AWS reports it: read once, from the field AWS fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    /// Within the VPC.
    Local,
    InternetGateway(String),
    NatGateway(String),
    Instance(String),
    /// A transit gateway, peering connection, virtual private gateway, ...: not modelled.
    Other(String),
}

impl RouteTarget {
    /// The target of a route AWS describes; `None` when it names none awslab reads.
    pub fn of(r: &aws_sdk_ec2::types::Route) -> Option<RouteTarget> {
        if let Some(id) = r.nat_gateway_id() {
            return Some(RouteTarget::NatGateway(id.to_owned()));
        }
        if let Some(id) = r.instance_id() {
            return Some(RouteTarget::Instance(id.to_owned()));
        }
        if let Some(g) = r.gateway_id() {
            return Some(RouteTarget::from_id(g));
        }
        r.transit_gateway_id()
            .or(r.vpc_peering_connection_id())
            .map(|id| RouteTarget::Other(id.to_owned()))
    }

    /// The target an id names, by EC2's id prefixes (`local`, `igw-`, `nat-`, `i-`).
    pub fn from_id(id: &str) -> RouteTarget {
        match id {
            "local" => RouteTarget::Local,
            g if g.starts_with("igw-") => RouteTarget::InternetGateway(g.to_owned()),
            n if n.starts_with("nat-") => RouteTarget::NatGateway(n.to_owned()),
            i if i.starts_with("i-") => RouteTarget::Instance(i.to_owned()),
            other => RouteTarget::Other(other.to_owned()),
        }
    }

    /// The id (`local` for the VPC).
    pub fn id(&self) -> &str {
        match self {
            RouteTarget::Local => "local",
            RouteTarget::InternetGateway(id)
            | RouteTarget::NatGateway(id)
            | RouteTarget::Instance(id)
            | RouteTarget::Other(id) => id,
        }
    }

    pub fn internet_gateway(&self) -> Option<&str> {
        match self {
            RouteTarget::InternetGateway(id) => Some(id),
            _ => None,
        }
    }

    pub fn nat_gateway(&self) -> Option<&str> {
        match self {
            RouteTarget::NatGateway(id) => Some(id),
            _ => None,
        }
    }
}

impl std::fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for RouteTarget {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// A route as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteEntry {
    pub dest: String,
    /// `None` for a target awslab does not read.
    pub target: Option<RouteTarget>,
    /// `active` or `blackhole`.
    pub state: String,
}

fn observe(t: &aws_sdk_ec2::types::RouteTable) -> Option<Observed> {
    let mut main = false;
    let mut associations = Vec::new();
    for a in t.associations() {
        if a.main().unwrap_or(false) {
            main = true;
        }
        if let (Some(id), Some(subnet)) = (a.route_table_association_id(), a.subnet_id()) {
            associations.push((id.to_owned(), subnet.to_owned()));
        }
    }
    let routes = t
        .routes()
        .iter()
        .filter_map(|r| {
            Some(RouteEntry {
                dest: r.destination_cidr_block()?.to_owned(),
                target: RouteTarget::of(r),
                state: r.state().map_or("active", |s| s.as_str()).to_owned(),
            })
        })
        .collect();
    Some(Observed {
        kind: Kind::RouteTable,
        id: t.route_table_id()?.to_owned(),
        tags: from_ec2(t.tags()),
        facts: Facts::RouteTable(RouteTableFacts {
            vpc_id: t.vpc_id().map(str::to_owned),
            main,
            associations,
            routes,
        }),
    })
}

/// The subnets a table governs: explicit associations, and for the main table every subnet of
/// the VPC without one.
pub fn governed_subnets<'w>(world: &'w World, table: &Observed) -> Vec<&'w Observed> {
    world
        .of_kind(Kind::Subnet)
        .filter(|s| {
            world
                .route_table_of(&s.id)
                .is_some_and(|t| t.id == table.id)
        })
        .collect()
}

impl RouteTable {
    async fn associate(
        cx: &ApplyCx<'_>,
        table: &str,
        subnet: &str,
        name: &str,
    ) -> Result<String, AwsError> {
        let req = cx
            .aws
            .ec2
            .associate_route_table()
            .route_table_id(table)
            .subnet_id(subnet);
        let out = cx
            .aws
            .known("ec2:AssociateRouteTable", name, || req.clone().send())
            .await;
        match out {
            Ok(o) => Ok(o.association_id().unwrap_or_default().to_owned()),
            Err(e) => {
                if e.aws_code() != Some("Resource.AlreadyAssociated") {
                    return Err(e);
                }
                // The subnet has another table: move it to this one.
                let current = cx
                    .aws
                    .ec2
                    .describe_route_tables()
                    .filters(filter("association.subnet-id", [subnet]))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2:DescribeRouteTables", name, e))?;
                let assoc = current
                    .route_tables()
                    .iter()
                    .flat_map(|t| t.associations())
                    .find(|a| a.subnet_id() == Some(subnet))
                    .and_then(|a| a.route_table_association_id())
                    .ok_or(e)?;
                let req = cx
                    .aws
                    .ec2
                    .replace_route_table_association()
                    .association_id(assoc)
                    .route_table_id(table);
                let out = cx
                    .aws
                    .known("ec2:ReplaceRouteTableAssociation", name, || {
                        req.clone().send()
                    })
                    .await?;
                Ok(out.new_association_id().unwrap_or_default().to_owned())
            }
        }
    }
}

#[async_trait]
impl ResourceKind for RouteTable {
    fn kind(&self) -> Kind {
        Kind::RouteTable
    }

    fn placement(&self) -> super::Placement {
        super::Placement::InVpc
    }

    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::InVpcs { always: true }
    }

    async fn stamp(
        &self,
        _aws: &Aws,
        _obs: &Observed,
        _key: &str,
        _value: &str,
    ) -> Result<super::Stamped, AwsError> {
        Ok(super::Stamped::Ec2)
    }

    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let Some(filters) = scope_filters(scope, Some("vpc-id")) else {
            return Ok(Vec::new());
        };
        let out = aws
            .ec2
            .describe_route_tables()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeRouteTables", "route tables", e))?;
        Ok(out.iter().filter_map(observe).collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let RouteTableSpec {
            vpc,
            subnets,
            routes,
        } = crate::resources::spec_of(res)?;
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let vpc_id = cx.bound.require(vpc, &res.name)?;
                let req = cx
                    .aws
                    .ec2
                    .create_route_table()
                    .vpc_id(vpc_id)
                    .client_token(cx.owner.client_token(&res.name))
                    .tag_specifications(cx.owner.tag_spec(ResourceType::RouteTable, &res.name));
                let out = cx
                    .aws
                    .known("ec2:CreateRouteTable", &res.name, || req.clone().send())
                    .await?;
                out.route_table().and_then(observe).ok_or_else(|| {
                    AwsError::from_fault(
                        "ec2:CreateRouteTable",
                        &res.name,
                        Fault::NoId {
                            what: "route table",
                        },
                    )
                })?
            }
        };
        let Facts::RouteTable(RouteTableFacts {
            routes: have,
            associations,
            ..
        }) = &mut obs.facts
        else {
            return Ok(obs);
        };
        for route in routes {
            let target = cx.bound.require(&route.target, &res.name)?.to_owned();
            let dest = route.cidr.to_string();
            let current = have.iter().find(|r| r.dest == dest);
            if current.is_some_and(|r| {
                r.target.as_ref().map(RouteTarget::id) == Some(target.as_str())
                    && r.state == "active"
            }) {
                continue;
            }
            // What the lab routes to: a NAT gateway or an internet gateway (validation allows
            // no other).
            let nat = cx
                .bound
                .get(&route.target)
                .is_some_and(|o| o.kind == Kind::NatGateway);
            if current.is_some() {
                let mut req = cx
                    .aws
                    .ec2
                    .replace_route()
                    .route_table_id(&obs.id)
                    .destination_cidr_block(&dest);
                req = if nat {
                    req.nat_gateway_id(&target)
                } else {
                    req.gateway_id(&target)
                };
                cx.aws
                    .known("ec2:ReplaceRoute", &res.name, || req.clone().send())
                    .await?;
            } else {
                let mut req = cx
                    .aws
                    .ec2
                    .create_route()
                    .route_table_id(&obs.id)
                    .destination_cidr_block(&dest);
                req = if nat {
                    req.nat_gateway_id(&target)
                } else {
                    req.gateway_id(&target)
                };
                cx.aws
                    .known("ec2:CreateRoute", &res.name, || req.clone().send())
                    .await?;
            }
            have.retain(|r| r.dest != dest);
            have.push(RouteEntry {
                dest,
                target: Some(if nat {
                    RouteTarget::NatGateway(target)
                } else {
                    RouteTarget::InternetGateway(target)
                }),
                state: "active".to_owned(),
            });
        }
        for subnet in subnets {
            let subnet_id = cx.bound.require(subnet, &res.name)?.to_owned();
            if associations.iter().any(|(_, s)| *s == subnet_id) {
                continue;
            }
            let assoc = Self::associate(cx, &obs.id, &subnet_id, &res.name).await?;
            associations.push((assoc, subnet_id));
        }
        Ok(obs)
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["routes", "subnets"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::RouteTable(RouteTableSpec {
                subnets, routes, ..
            }),
            Facts::RouteTable(RouteTableFacts { routes: have, .. }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let mut want_routes: Vec<String> = routes
            .iter()
            .map(|r| format!("{} -> {}", r.cidr, r.target))
            .collect();
        want_routes.sort();
        let mut found_routes: Vec<String> = have
            .iter()
            .filter(|r| r.target != Some(RouteTarget::Local))
            .map(|r| {
                let target = r
                    .target
                    .as_ref()
                    .map_or_else(|| "other".to_owned(), |t| bound.label(t.id()));
                if r.state == "active" {
                    format!("{} -> {target}", r.dest)
                } else {
                    format!("{} -> {target} ({})", r.dest, r.state)
                }
            })
            .collect();
        found_routes.sort();
        let mut want_subnets = subnets.clone();
        want_subnets.sort();
        let mut found_subnets: Vec<String> = governed_subnets(world, obs)
            .iter()
            .map(|s| bound.label(&s.id))
            .collect();
        found_subnets.sort();
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        vec![
            Attr::new("routes", list(want_routes), list(found_routes)),
            Attr::new("subnets", list(want_subnets), list(found_subnets)),
        ]
    }

    /// Gateway endpoints that route through the table: it cannot go before them.
    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .of_kind(Kind::VpcEndpoint)
            .filter(|e| {
                !e.is_gone()
                    && matches!(&e.facts, Facts::VpcEndpoint(VpcEndpointFacts { route_table_ids, .. }) if route_table_ids.contains(&obs.id))
            })
            .map(|e| e.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        if let Facts::RouteTable(RouteTableFacts { associations, .. }) = &obs.facts {
            for (assoc, _) in associations {
                cx.wait
                    .dependency(&obs.id, || async {
                        cx.aws
                            .ec2
                            .disassociate_route_table()
                            .association_id(assoc)
                            .send()
                            .await
                            .map_err(|e| {
                                AwsError::from_sdk("ec2:DisassociateRouteTable", &obs.id, e)
                            })
                            .map(drop)
                    })
                    .await?;
            }
        }
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .ec2
                    .delete_route_table()
                    .route_table_id(&obs.id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2:DeleteRouteTable", &obs.id, e))
                    .map(drop)
            })
            .await
    }

    fn related<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        _lab: &Lab,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        let Spec::RouteTable(s) = &res.spec else {
            return None;
        };
        s.subnets.iter().find_map(|sn| {
            let t = world.route_table_of(bound.id(sn)?)?;
            let how = if t.is_vpc_default() {
                format!("as the main route table, which governs {sn}")
            } else {
                format!("through its association with {sn}")
            };
            Some((t, how))
        })
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        match &res.spec {
            Spec::RouteTable(s) => format!("no route table governs {}", s.subnets.join(" or ")),
            _ => crate::resources::missing_by_name(res, names),
        }
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
