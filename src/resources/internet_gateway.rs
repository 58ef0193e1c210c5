//! Internet gateways: created, then attached to their VPC; detached before deletion.

use crate::aws::tags::Owner;
use crate::check::Names;
use crate::lab::Lab;
use crate::quota::Quota;
use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;

use super::ec2util::scope_filters;
use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::from_ec2;
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource, Spec};
use crate::resources::{InstanceFacts, LoadBalancerFacts, NatGatewayFacts};
use toml::Spanned;

/// What a lab file declares for an internet gateway.
#[derive(Debug, Clone)]
pub struct InternetGatewaySpec {
    pub vpc: String,
}

/// What AWS says of an internet gateway.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InternetGatewayFacts {
    pub attached_vpcs: Vec<String>,
}

impl crate::resources::KindSpec for InternetGatewaySpec {
    fn refs(&self) -> Vec<&str> {
        let InternetGatewaySpec { vpc } = self;
        vec![vpc.as_str()]
    }
}

impl crate::resources::KindFacts for InternetGatewayFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let InternetGatewayFacts { attached_vpcs } = self;
        attached_vpcs.first().map(String::as_str)
    }
}

/// The keys of an `internet_gateway` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct InternetGatewayKeys {
    /// The VPC the internet gateway is attached to.
    #[schemars(with = "Option<String>")]
    pub vpc: Option<toml::Spanned<String>>,
}

impl ParseSpec for InternetGatewaySpec {
    type Keys = InternetGatewayKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &InternetGatewayKeys) -> Self {
        let kind = Kind::InternetGateway;
        InternetGatewaySpec {
            vpc: cx.vpc_ref(name, kind, &d.vpc).unwrap_or_default(),
        }
    }
}

pub struct InternetGateway;

#[async_trait]
impl ResourceKind for InternetGateway {
    fn kind(&self) -> Kind {
        Kind::InternetGateway
    }

    fn quota_needs(&self, _res: &Resource, _lab: &crate::lab::Lab) -> Vec<(Quota, u32)> {
        vec![(Quota::InternetGateways, 1)]
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
        let Some(filters) = scope_filters(scope, Some("attachment.vpc-id")) else {
            return Ok(Vec::new());
        };
        let out = aws
            .ec2
            .describe_internet_gateways()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| {
                AwsError::from_sdk("ec2:DescribeInternetGateways", "internet gateways", e)
            })?;
        Ok(out
            .iter()
            .filter_map(|g| {
                Some(Observed {
                    kind: Kind::InternetGateway,
                    id: g.internet_gateway_id()?.to_owned(),
                    tags: from_ec2(g.tags()),
                    facts: Facts::InternetGateway(InternetGatewayFacts {
                        attached_vpcs: g
                            .attachments()
                            .iter()
                            .filter_map(|a| a.vpc_id().map(str::to_owned))
                            .collect(),
                    }),
                })
            })
            .collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let InternetGatewaySpec { vpc } = crate::resources::spec_of(res)?;
        let vpc_id = cx.bound.require(vpc, &res.name)?.to_owned();
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let out = cx
                    .aws
                    .ec2
                    .create_internet_gateway()
                    .tag_specifications(cx.owner.tag_spec(ResourceType::InternetGateway, &res.name))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2:CreateInternetGateway", &res.name, e))?;
                let id = out
                    .internet_gateway()
                    .and_then(|g| g.internet_gateway_id())
                    .ok_or_else(|| {
                        AwsError::from_fault(
                            "ec2:CreateInternetGateway",
                            &res.name,
                            Fault::NoId { what: "id" },
                        )
                    })?;
                Observed {
                    kind: Kind::InternetGateway,
                    id: id.to_owned(),
                    tags: cx.owner.tags_for(&res.name).into_iter().collect(),
                    facts: Facts::InternetGateway(InternetGatewayFacts {
                        attached_vpcs: Vec::new(),
                    }),
                }
            }
        };
        if let Facts::InternetGateway(InternetGatewayFacts { attached_vpcs }) = &mut obs.facts
            && !attached_vpcs.contains(&vpc_id)
        {
            let req = cx
                .aws
                .ec2
                .attach_internet_gateway()
                .internet_gateway_id(&obs.id)
                .vpc_id(&vpc_id);
            cx.aws
                .known("ec2:AttachInternetGateway", &res.name, || {
                    req.clone().send()
                })
                .await?;
            attached_vpcs.push(vpc_id);
        }
        Ok(obs)
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["attached to"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::InternetGateway(InternetGatewaySpec { vpc }),
            Facts::InternetGateway(InternetGatewayFacts { attached_vpcs }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let found = if attached_vpcs.is_empty() {
            "detached".to_owned()
        } else {
            attached_vpcs
                .iter()
                .map(|v| bound.label(v))
                .collect::<Vec<_>>()
                .join(", ")
        };
        vec![Attr::new("attached to", vpc, found)]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        // Detaching fails while the VPC has mapped public addresses (instances, NAT gateways).
        let Facts::InternetGateway(InternetGatewayFacts { attached_vpcs }) = &obs.facts else {
            return Vec::new();
        };
        world
            .items
            .iter()
            .filter(|o| !o.is_gone())
            .filter(|o| match &o.facts {
                Facts::Instance(InstanceFacts { vpc_id, .. })
                | Facts::NatGateway(NatGatewayFacts { vpc_id, .. }) => {
                    vpc_id.as_ref().is_some_and(|v| attached_vpcs.contains(v))
                }
                // An internet-facing load balancer maps public addresses too.
                Facts::LoadBalancer(LoadBalancerFacts { vpc_id, scheme, .. }) => {
                    scheme == "internet-facing"
                        && vpc_id.as_ref().is_some_and(|v| attached_vpcs.contains(v))
                }
                Facts::ElasticIp(_) => true,
                _ => false,
            })
            .map(|o| o.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        if let Facts::InternetGateway(InternetGatewayFacts { attached_vpcs }) = &obs.facts {
            for vpc in attached_vpcs {
                cx.wait
                    .dependency(&obs.id, || async {
                        match cx
                            .aws
                            .ec2
                            .detach_internet_gateway()
                            .internet_gateway_id(&obs.id)
                            .vpc_id(vpc)
                            .send()
                            .await
                        {
                            Ok(_) => Ok(()),
                            Err(e) => {
                                let e = AwsError::from_sdk("ec2:DetachInternetGateway", &obs.id, e);
                                // Not attached (any more) is where detaching was going.
                                if e.aws_code() == Some("Gateway.NotAttached") {
                                    Ok(())
                                } else {
                                    Err(e)
                                }
                            }
                        }
                    })
                    .await?;
            }
        }
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .ec2
                    .delete_internet_gateway()
                    .internet_gateway_id(&obs.id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2:DeleteInternetGateway", &obs.id, e))
                    .map(drop)
            })
            .await
    }

    fn typical(&self) -> Option<&'static str> {
        Some("attach + detach ~20 s")
    }

    fn related<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        _lab: &Lab,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        let Spec::InternetGateway(s) = &res.spec else {
            return None;
        };
        let vpc_id = bound.id(&s.vpc)?;
        world
            .of_kind(Kind::InternetGateway)
            .find(|g| matches!(&g.facts, Facts::InternetGateway(f) if f.attached_vpcs.iter().any(|v| v == vpc_id)))
            .map(|g| (g, format!("through its attachment to {}", s.vpc)))
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        match &res.spec {
            Spec::InternetGateway(s) => format!(
                "no internet gateway named `{}` and none attached to {}",
                names.of(&res.name),
                s.vpc
            ),
            _ => crate::resources::missing_by_name(res, names),
        }
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
