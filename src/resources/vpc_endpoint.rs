//! Gateway VPC endpoints (S3, DynamoDB): the service reached from inside the VPC through routes
//! the endpoint adds to the route tables it is given, so private subnets reach it without a NAT
//! gateway. Free of charge. Tagged at creation; the route tables it serves are kept in line
//! with the lab; deleted before those route tables.

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, VpcEndpointType};

use super::ec2util::scope_filters;
use super::wait::Poll;
use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::from_ec2;
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource, Spec};
use toml::Spanned;

/// A gateway endpoint: the service reached from the VPC through the route tables.
#[derive(Debug, Clone)]
pub struct VpcEndpointSpec {
    pub vpc: String,
    /// `s3` or `dynamodb`.
    pub service: String,
    pub route_tables: Vec<String>,
}

/// What AWS says of a VPC endpoint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VpcEndpointFacts {
    pub vpc_id: String,
    /// `com.amazonaws.<region>.s3`.
    pub service_name: String,
    pub state: String,
    pub route_table_ids: Vec<String>,
}

impl crate::resources::KindSpec for VpcEndpointSpec {
    fn refs(&self) -> Vec<&str> {
        let VpcEndpointSpec {
            vpc, route_tables, ..
        } = self;
        let mut out = vec![vpc.as_str()];
        out.extend(route_tables.iter().map(String::as_str));
        out
    }
}

impl crate::resources::KindFacts for VpcEndpointFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let VpcEndpointFacts { vpc_id, .. } = self;
        Some(vpc_id)
    }

    fn is_gone(&self) -> bool {
        let VpcEndpointFacts { state, .. } = self;
        state == "deleted"
    }
}

/// The services a gateway VPC endpoint serves (`service` of a `vpc_endpoint`).
const GATEWAY_SERVICES: &[&str] = &["s3", "dynamodb"];

/// The keys of a `vpc_endpoint` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct VpcEndpointKeys {
    /// The VPC the endpoint is in.
    #[schemars(with = "Option<String>")]
    pub vpc: Option<toml::Spanned<String>>,
    /// The AWS service of the gateway endpoint: `s3` or `dynamodb`.
    #[schemars(with = "Option<String>")]
    pub service: Option<toml::Spanned<String>>,
    /// Route tables that get a route to the service through the endpoint.
    #[schemars(with = "Option<Vec<String>>")]
    pub route_tables: Option<Vec<toml::Spanned<String>>>,
}

impl ParseSpec for VpcEndpointSpec {
    type Keys = VpcEndpointKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &VpcEndpointKeys) -> Self {
        let kind = Kind::VpcEndpoint;
        let vpc = cx.vpc_ref(name, kind, &d.vpc);
        let service = cx
            .required(name, kind, "service", &d.service)
            .cloned()
            .and_then(|s| {
                if GATEWAY_SERVICES.contains(&s.get_ref().as_str()) {
                    return Some(s.into_inner());
                }
                cx.error(
                    s.span(),
                    format!("`{}` has no gateway endpoint", s.get_ref()),
                    "not a gateway service",
                );
                cx.help(format!("one of: {}", GATEWAY_SERVICES.join(", ")));
                None
            });
        let route_tables = d
            .route_tables
            .iter()
            .flatten()
            .filter_map(|t| cx.reference(t, &[Kind::RouteTable]))
            .collect();
        VpcEndpointSpec {
            vpc: vpc.unwrap_or_default(),
            service: service.unwrap_or_default(),
            route_tables,
        }
    }
}

pub struct VpcEndpoint;

/// How long a gateway endpoint takes to become available, and to go.
const AVAILABLE: std::time::Duration = std::time::Duration::from_secs(5);
const DELETED: std::time::Duration = std::time::Duration::from_secs(5);

/// The service name of `service` (`s3`) in `region`.
fn service_name(region: &str, service: &str) -> String {
    format!("com.amazonaws.{region}.{service}")
}

fn observe(e: &aws_sdk_ec2::types::VpcEndpoint) -> Option<Observed> {
    let mut route_table_ids: Vec<String> = e.route_table_ids().to_vec();
    route_table_ids.sort();
    Some(Observed {
        kind: Kind::VpcEndpoint,
        id: e.vpc_endpoint_id()?.to_owned(),
        tags: from_ec2(e.tags()),
        facts: Facts::VpcEndpoint(VpcEndpointFacts {
            vpc_id: e.vpc_id()?.to_owned(),
            service_name: e.service_name().unwrap_or_default().to_owned(),
            state: e
                .state()
                .map_or("available", |s| s.as_str())
                .to_ascii_lowercase(),
            route_table_ids,
        }),
    })
}

impl VpcEndpoint {
    /// One endpoint by id; `None` once AWS no longer knows it.
    async fn describe(aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        match aws
            .ec2
            .describe_vpc_endpoints()
            .vpc_endpoint_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.vpc_endpoints().iter().find_map(observe)),
            Err(e) => {
                let e = AwsError::from_sdk("ec2:DescribeVpcEndpoints", id, e);
                if e.is_gone() { Ok(None) } else { Err(e) }
            }
        }
    }
}

#[async_trait]
impl ResourceKind for VpcEndpoint {
    fn kind(&self) -> Kind {
        Kind::VpcEndpoint
    }

    fn placement(&self) -> super::Placement {
        super::Placement::InVpc
    }

    /// Only when the lab has one: most labs do not.
    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::InVpcs { always: false }
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
            .describe_vpc_endpoints()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeVpcEndpoints", "VPC endpoints", e))?;
        Ok(out
            .iter()
            .filter_map(observe)
            .filter(|o| !o.is_gone())
            .collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let VpcEndpointSpec {
            vpc,
            service,
            route_tables,
        } = crate::resources::spec_of(res)?;
        let vpc_id = cx.bound.require(vpc, &res.name)?.to_owned();
        let mut want = Vec::new();
        for t in route_tables {
            want.push(cx.bound.require(t, &res.name)?.to_owned());
        }
        want.sort();
        // One on its way out, or one AWS gave up on, is not carried on with: a new one is made
        // (the client token is this run's).
        let usable = existing.filter(|o| {
            !matches!(&o.facts, Facts::VpcEndpoint(VpcEndpointFacts { state, .. })
                if matches!(state.as_str(), "deleting" | "deleted" | "failed" | "rejected" | "expired"))
        });
        if let Some(Facts::VpcEndpoint(VpcEndpointFacts {
            service_name: have, ..
        })) = usable.map(|o| &o.facts)
            && *have != service_name(&cx.aws.region, service)
        {
            return Err(AwsError::from_fault(
                "ec2:ModifyVpcEndpoint",
                &res.name,
                Fault::ServiceChanged {
                    serves: have.clone(),
                    asked: service.clone(),
                },
            ));
        }
        let mut obs = match usable {
            Some(o) => o.clone(),
            None => {
                let req = cx
                    .aws
                    .ec2
                    .create_vpc_endpoint()
                    .vpc_endpoint_type(VpcEndpointType::Gateway)
                    .vpc_id(&vpc_id)
                    .service_name(service_name(&cx.aws.region, service))
                    .set_route_table_ids(Some(want.clone()))
                    .client_token(cx.owner.client_token(&res.name))
                    .tag_specifications(cx.owner.tag_spec(ResourceType::VpcEndpoint, &res.name));
                let out = cx
                    .aws
                    .known("ec2:CreateVpcEndpoint", &res.name, || req.clone().send())
                    .await?;
                out.vpc_endpoint().and_then(observe).ok_or_else(|| {
                    AwsError::from_fault(
                        "ec2:CreateVpcEndpoint",
                        &res.name,
                        Fault::NoId { what: "endpoint" },
                    )
                })?
            }
        };
        let id = obs.id.clone();
        let state = cx
            .wait
            .until(&res.name, "available", AVAILABLE, || async {
                match Self::describe(cx.aws, &id).await? {
                    Some(o) => match &o.facts {
                        Facts::VpcEndpoint(VpcEndpointFacts { state, .. })
                            if state == "available" =>
                        {
                            Ok(Poll::Done)
                        }
                        Facts::VpcEndpoint(VpcEndpointFacts { state, .. })
                            if matches!(
                                state.as_str(),
                                "failed" | "rejected" | "deleting" | "deleted" | "expired"
                            ) =>
                        {
                            Err(AwsError::from_fault(
                                "ec2:CreateVpcEndpoint",
                                &res.name,
                                Fault::EndpointFailed {
                                    id: id.clone(),
                                    state: state.clone(),
                                },
                            ))
                        }
                        Facts::VpcEndpoint(VpcEndpointFacts { state, .. }) => {
                            Ok(Poll::Waiting(state.clone()))
                        }
                        _ => Ok(Poll::Waiting("unknown".to_owned())),
                    },
                    None => Ok(Poll::Waiting("not visible yet".to_owned())),
                }
            })
            .await;
        state?;
        if let Facts::VpcEndpoint(VpcEndpointFacts {
            route_table_ids,
            state,
            ..
        }) = &mut obs.facts
        {
            *state = "available".to_owned();
            let add: Vec<String> = want
                .iter()
                .filter(|t| !route_table_ids.contains(t))
                .cloned()
                .collect();
            let remove: Vec<String> = route_table_ids
                .iter()
                .filter(|t| !want.contains(t))
                .cloned()
                .collect();
            if !add.is_empty() || !remove.is_empty() {
                let req = cx
                    .aws
                    .ec2
                    .modify_vpc_endpoint()
                    .vpc_endpoint_id(&id)
                    .set_add_route_table_ids((!add.is_empty()).then_some(add))
                    .set_remove_route_table_ids((!remove.is_empty()).then_some(remove));
                cx.aws
                    .known("ec2:ModifyVpcEndpoint", &res.name, || req.clone().send())
                    .await?;
                route_table_ids.clone_from(&want);
            }
        }
        Ok(obs)
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["service", "route_tables"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::VpcEndpoint(VpcEndpointSpec {
                service,
                route_tables,
                ..
            }),
            Facts::VpcEndpoint(VpcEndpointFacts {
                service_name,
                route_table_ids,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let found_service = service_name
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut want: Vec<&str> = route_tables.iter().map(String::as_str).collect();
        want.sort_unstable();
        let mut found: Vec<String> = route_table_ids.iter().map(|t| bound.label(t)).collect();
        found.sort();
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        vec![
            Attr::new("service", service, found_service),
            Attr::new(
                "route_tables",
                list(want.iter().map(|s| (*s).to_owned()).collect()),
                list(found),
            ),
        ]
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let out = cx
            .aws
            .ec2
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(&obs.id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DeleteVpcEndpoints", &obs.id, e))?;
        // The call answers per endpoint: a refusal comes back as an item, not as an error.
        if let Some(item) = out.unsuccessful().first() {
            let (code, message) = item.error().map_or(("Unknown", ""), |e| {
                (
                    e.code().unwrap_or("Unknown"),
                    e.message().unwrap_or_default(),
                )
            });
            return Err(
                AwsError::answer("ec2:DeleteVpcEndpoints", &obs.id, code, message)
                    .with_class(crate::aws::errors::classify(code)),
            );
        }
        cx.wait
            .until(&obs.id, "deleted", DELETED, || async {
                Ok(match Self::describe(cx.aws, &obs.id).await? {
                    Some(o) if !o.is_gone() => match &o.facts {
                        Facts::VpcEndpoint(VpcEndpointFacts { state, .. }) => {
                            Poll::Waiting(state.clone())
                        }
                        _ => Poll::Done,
                    },
                    _ => Poll::Done,
                })
            })
            .await
    }

    fn typical(&self) -> Option<&'static str> {
        Some("available in a few seconds")
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
