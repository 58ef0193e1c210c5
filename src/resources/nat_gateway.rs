//! NAT gateways: created in a public subnet with an Elastic IP, waited on until `available`;
//! deleted and waited on until `deleted` (only then can the address be released).

use crate::aws::tags::Owner;
use crate::check::Names;
use crate::lab::Lab;
use crate::quota::Quota;
use async_trait::async_trait;
use aws_sdk_ec2::types::{NatGatewayState, ResourceType};

use std::time::Duration;

use super::ec2util::{filter, scope_filters};
use super::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, Poll, ResourceKind, Scope, World,
};
use crate::aws::tags::from_ec2;
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource, Spec};
use toml::Spanned;

/// What a lab file declares for a NAT gateway.
#[derive(Debug, Clone)]
pub struct NatGatewaySpec {
    pub subnet: String,
    pub eip: String,
}

/// What AWS says of a NAT gateway.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NatGatewayFacts {
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub state: String,
    pub allocation_ids: Vec<String>,
    pub public_ip: Option<String>,
}

impl crate::resources::KindSpec for NatGatewaySpec {
    fn refs(&self) -> Vec<&str> {
        let NatGatewaySpec { subnet, eip } = self;
        vec![subnet.as_str(), eip.as_str()]
    }
}

impl crate::resources::KindFacts for NatGatewayFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let NatGatewayFacts { vpc_id, .. } = self;
        vpc_id.as_deref()
    }

    fn subnet_ids(&self) -> Vec<&str> {
        let NatGatewayFacts { subnet_id, .. } = self;
        subnet_id.as_deref().into_iter().collect()
    }

    fn is_gone(&self) -> bool {
        let NatGatewayFacts { state, .. } = self;
        state == "deleted"
    }
}

/// The keys of a `nat_gateway` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct NatGatewayKeys {
    /// The public subnet the NAT gateway is placed in.
    #[schemars(with = "Option<String>")]
    pub subnet: Option<toml::Spanned<String>>,
    /// The Elastic IP (an `elastic_ip` resource) the NAT gateway uses.
    #[schemars(with = "Option<String>")]
    pub eip: Option<toml::Spanned<String>>,
}

impl ParseSpec for NatGatewaySpec {
    type Keys = NatGatewayKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &NatGatewayKeys) -> Self {
        let kind = Kind::NatGateway;
        let subnet = cx.required(name, kind, "subnet", &d.subnet).cloned();
        let subnet = subnet.and_then(|s| cx.reference(&s, &[Kind::Subnet]));
        let eip = cx.required(name, kind, "eip", &d.eip).cloned();
        let eip = eip.and_then(|s| cx.reference(&s, &[Kind::ElasticIp]));
        NatGatewaySpec {
            subnet: subnet.unwrap_or_default(),
            eip: eip.unwrap_or_default(),
        }
    }
}

pub struct NatGateway;

/// `pending` to `available`: 1.5 to 2 minutes (Terraform logs: 1m24s to 2m01s).
const AVAILABLE: Duration = Duration::from_secs(90);
/// `deleting` to `deleted`: 20 s to a minute.
const DELETED: Duration = Duration::from_secs(60);

impl NatGateway {
    /// The gateway as AWS lists it now; `None` when AWS does not know the id (not visible yet
    /// right after creation, gone after deletion).
    async fn describe_one(aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let out = aws
            .ec2
            .describe_nat_gateways()
            .nat_gateway_ids(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeNatGateways", id, e));
        match out {
            Ok(out) => Ok(out.nat_gateways().iter().find_map(observe)),
            Err(e) if e.is_gone() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn observe(n: &aws_sdk_ec2::types::NatGateway) -> Option<Observed> {
    Some(Observed {
        kind: Kind::NatGateway,
        id: n.nat_gateway_id()?.to_owned(),
        tags: from_ec2(n.tags()),
        facts: Facts::NatGateway(NatGatewayFacts {
            vpc_id: n.vpc_id().map(str::to_owned),
            subnet_id: n.subnet_id().map(str::to_owned),
            state: n
                .state()
                .map_or("unknown", NatGatewayState::as_str)
                .to_owned(),
            allocation_ids: n
                .nat_gateway_addresses()
                .iter()
                .filter_map(|a| a.allocation_id().map(str::to_owned))
                .collect(),
            public_ip: n
                .nat_gateway_addresses()
                .iter()
                .find_map(|a| a.public_ip().map(str::to_owned)),
        }),
    })
}

fn state(o: &Observed) -> &str {
    match &o.facts {
        Facts::NatGateway(NatGatewayFacts { state, .. }) => state,
        _ => "unknown",
    }
}

#[async_trait]
impl ResourceKind for NatGateway {
    fn kind(&self) -> Kind {
        Kind::NatGateway
    }

    /// One NAT gateway in its subnet's zone (its Elastic IP is the `elastic_ip` resource's).
    fn quota_needs(&self, _res: &Resource, _lab: &crate::lab::Lab) -> Vec<(Quota, u32)> {
        vec![(Quota::NatGatewaysPerAz, 1)]
    }

    fn price(&self, res: &Resource, _lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        e.add(
            format!("NAT gateway {}", res.name),
            crate::cost::NAT_GATEWAY_HOUR,
        );
    }

    fn price_observed(&self, obs: &Observed, _eips: &[&str], e: &mut crate::cost::Estimate) {
        if let Facts::NatGateway(NatGatewayFacts { state, .. }) = &obs.facts
            && !matches!(state.as_str(), "deleted" | "deleting" | "failed")
        {
            let name = obs.name_tag().unwrap_or(&obs.id);
            e.add(format!("NAT gateway {name}"), crate::cost::NAT_GATEWAY_HOUR);
        }
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
        let Some(mut filters) = scope_filters(scope, Some("vpc-id")) else {
            return Ok(Vec::new());
        };
        // Deleted NAT gateways stay visible for an hour; they are history, not resources.
        filters.push(filter(
            "state",
            ["pending", "available", "deleting", "failed"],
        ));
        let out = aws
            .ec2
            .describe_nat_gateways()
            .set_filter(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeNatGateways", "NAT gateways", e))?;
        Ok(out.iter().filter_map(observe).collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let NatGatewaySpec { subnet, eip } = crate::resources::spec_of(res)?;
        let id = match existing {
            Some(o) if state(o) != "failed" && state(o) != "deleting" => o.id.clone(),
            _ => {
                let subnet_id = cx.bound.require(subnet, &res.name)?;
                let alloc = cx.bound.require(eip, &res.name)?;
                let req = cx
                    .aws
                    .ec2
                    .create_nat_gateway()
                    .subnet_id(subnet_id)
                    .allocation_id(alloc)
                    .client_token(cx.owner.client_token(&res.name))
                    .tag_specifications(cx.owner.tag_spec(ResourceType::Natgateway, &res.name));
                let out = cx
                    .aws
                    .known("ec2:CreateNatGateway", &res.name, || req.clone().send())
                    .await?;
                out.nat_gateway()
                    .and_then(|n| n.nat_gateway_id())
                    .ok_or_else(|| {
                        AwsError::from_fault(
                            "ec2:CreateNatGateway",
                            &res.name,
                            Fault::NoId { what: "id" },
                        )
                    })?
                    .to_owned()
            }
        };
        let last = std::sync::Mutex::new(None);
        let last_ref = &last;
        cx.wait
            .until(&res.name, "available", AVAILABLE, || async {
                let o = Self::describe_one(cx.aws, &id).await?;
                let st = o.as_ref().map(|o| state(o).to_owned());
                if st.as_deref() == Some("failed") {
                    return Err(AwsError::from_fault(
                        "ec2:CreateNatGateway",
                        &res.name,
                        Fault::NatGatewayFailed { id: id.clone() },
                    ));
                }
                if let Ok(mut l) = last_ref.lock() {
                    *l = o;
                }
                Ok(match st.as_deref() {
                    Some("available") => Poll::Done,
                    Some(other) => Poll::Waiting(other.to_owned()),
                    None => Poll::Waiting("not visible yet".to_owned()),
                })
            })
            .await?;
        last.into_inner().ok().flatten().ok_or_else(|| {
            AwsError::from_fault(
                "ec2:DescribeNatGateways",
                &res.name,
                Fault::Vanished {
                    while_waiting: true,
                },
            )
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["subnet", "eip", "state"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::NatGateway(NatGatewaySpec { subnet, eip }),
            Facts::NatGateway(NatGatewayFacts {
                subnet_id,
                state,
                allocation_ids,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let found_eip = allocation_ids
            .iter()
            .map(|a| bound.label(a))
            .collect::<Vec<_>>()
            .join(", ");
        vec![
            Attr::new(
                "subnet",
                subnet,
                subnet_id
                    .as_deref()
                    .map_or_else(|| "none".to_owned(), |s| bound.label(s)),
            ),
            Attr::new(
                "eip",
                eip,
                if found_eip.is_empty() {
                    "none".to_owned()
                } else {
                    found_eip
                },
            ),
            Attr::new("state", "available", state),
        ]
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        if state(obs) != "deleting" {
            cx.wait
                .dependency(&obs.id, || async {
                    cx.aws
                        .ec2
                        .delete_nat_gateway()
                        .nat_gateway_id(&obs.id)
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| AwsError::from_sdk("ec2:DeleteNatGateway", &obs.id, e))
                })
                .await?;
        }
        cx.wait
            .until(&obs.id, "deleted", DELETED, || async {
                Ok(match Self::describe_one(cx.aws, &obs.id).await? {
                    Some(o) if !o.is_gone() => Poll::Waiting(state(&o).to_owned()),
                    _ => Poll::Done,
                })
            })
            .await
    }

    fn typical(&self) -> Option<&'static str> {
        Some("available in ~2 min, deleted in ~1 min")
    }

    fn related<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        _lab: &Lab,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        let Spec::NatGateway(s) = &res.spec else {
            return None;
        };
        let subnet_id = bound.id(&s.subnet)?;
        world
            .of_kind(Kind::NatGateway)
            .find(|n| n.subnet_id() == Some(subnet_id))
            .map(|n| (n, format!("as the NAT gateway in {}", s.subnet)))
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        match &res.spec {
            Spec::NatGateway(s) => format!(
                "no NAT gateway named `{}` and none in {}",
                names.of(&res.name),
                s.subnet
            ),
            _ => crate::resources::missing_by_name(res, names),
        }
    }
}
