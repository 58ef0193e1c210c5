//! VPCs: CIDR and the DNS-hostnames attribute.

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};

use super::ec2util::scope_filters;
use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::from_ec2;
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource, Spec};
use crate::quota::Quota;
use toml::Spanned;

/// What a lab file declares for a VPC.
#[derive(Debug, Clone)]
pub struct VpcSpec {
    pub cidr: ipnet::Ipv4Net,
    pub dns_hostnames: bool,
}

/// What AWS says of a VPC.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VpcFacts {
    pub cidr: Option<ipnet::Ipv4Net>,
    /// Read separately ([`crate::engine::discover::vpc_attributes`]), only for the VPCs a
    /// command compares; `None` until then.
    pub dns_hostnames: Option<bool>,
    pub is_default: bool,
}

impl crate::resources::KindSpec for VpcSpec {
    fn refs(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl crate::resources::KindFacts for VpcFacts {
    fn vpc_id<'a>(&'a self, id: &'a str) -> Option<&'a str> {
        Some(id)
    }

    fn is_vpc_default(&self) -> bool {
        let VpcFacts { is_default, .. } = self;
        *is_default
    }
}

/// The keys of a `vpc` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct VpcKeys {
    /// The VPC's IPv4 CIDR block, e.g. `10.0.0.0/16`.
    #[schemars(with = "Option<String>")]
    pub cidr: Option<toml::Spanned<String>>,
    /// Give instances public DNS hostnames ("DNS hostnames" in the console).
    #[schemars(with = "Option<bool>")]
    pub dns_hostnames: Option<toml::Spanned<bool>>,
}

impl ParseSpec for VpcSpec {
    type Keys = VpcKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &VpcKeys) -> Self {
        let kind = Kind::Vpc;
        let cidr = cx.required(name, kind, "cidr", &d.cidr).cloned();
        let cidr = cidr.and_then(|c| {
            let net = cx.cidr(&c)?;
            if !(16..=28).contains(&net.prefix_len()) {
                cx.error(
                    c.span(),
                    format!("a VPC CIDR must be /16 to /28, not /{}", net.prefix_len()),
                    "invalid size",
                );
                return None;
            }
            Some(net)
        });
        VpcSpec {
            cidr: cidr.unwrap_or_default(),
            dns_hostnames: d.dns_hostnames.as_ref().is_some_and(|b| *b.get_ref()),
        }
    }
}

pub struct Vpc;

impl Vpc {
    /// One call per VPC (the API takes one VPC and one attribute): only for the VPCs a command
    /// compares, never for every VPC discovered.
    pub async fn dns_hostnames(aws: &Aws, id: &str) -> Result<bool, AwsError> {
        let req = aws
            .ec2
            .describe_vpc_attribute()
            .vpc_id(id)
            .attribute(VpcAttributeName::EnableDnsHostnames);
        let out = aws
            .known("ec2:DescribeVpcAttribute", id, || req.clone().send())
            .await?;
        Ok(out
            .enable_dns_hostnames()
            .and_then(AttributeBooleanValue::value)
            .unwrap_or(false))
    }
}

#[async_trait]
impl ResourceKind for Vpc {
    fn kind(&self) -> Kind {
        Kind::Vpc
    }

    /// One VPC, and the default security group every VPC comes with (it counts against the
    /// Region's security groups).
    fn quota_needs(&self, _res: &Resource, _lab: &crate::lab::Lab) -> Vec<(Quota, u32)> {
        vec![(Quota::Vpcs, 1), (Quota::SecurityGroups, 1)]
    }

    fn holds_what_is_inside(&self) -> bool {
        true
    }

    fn placement(&self) -> super::Placement {
        super::Placement::InVpc
    }

    /// By the names the lab gives its VPCs (and the env's own by tags).
    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::Vpc
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
            .describe_vpcs()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeVpcs", "VPCs", e))?;
        let mut found = Vec::new();
        for v in out {
            let Some(id) = v.vpc_id() else { continue };
            found.push(Observed {
                kind: Kind::Vpc,
                id: id.to_owned(),
                tags: from_ec2(v.tags()),
                facts: Facts::Vpc(VpcFacts {
                    cidr: v.cidr_block().and_then(|c| c.parse().ok()),
                    dns_hostnames: None,
                    is_default: v.is_default().unwrap_or(false),
                }),
            });
        }
        Ok(found)
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let VpcSpec {
            cidr,
            dns_hostnames,
        } = crate::resources::spec_of(res)?;
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let out = cx
                    .aws
                    .ec2
                    .create_vpc()
                    .cidr_block(cidr.to_string())
                    .tag_specifications(cx.owner.tag_spec(ResourceType::Vpc, &res.name))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2:CreateVpc", &res.name, e))?;
                let id = out
                    .vpc()
                    .and_then(|v| v.vpc_id())
                    .ok_or_else(|| {
                        AwsError::from_fault(
                            "ec2:CreateVpc",
                            &res.name,
                            Fault::NoId { what: "VPC id" },
                        )
                    })?
                    .to_owned();
                Observed {
                    kind: Kind::Vpc,
                    id,
                    tags: cx.owner.tags_for(&res.name).into_iter().collect(),
                    facts: Facts::Vpc(VpcFacts {
                        cidr: Some(*cidr),
                        dns_hostnames: Some(false),
                        is_default: false,
                    }),
                }
            }
        };
        if let Facts::Vpc(VpcFacts {
            dns_hostnames: current,
            ..
        }) = &mut obs.facts
            && *current != Some(*dns_hostnames)
        {
            let req = cx
                .aws
                .ec2
                .modify_vpc_attribute()
                .vpc_id(&obs.id)
                .enable_dns_hostnames(
                    AttributeBooleanValue::builder()
                        .value(*dns_hostnames)
                        .build(),
                );
            cx.aws
                .known("ec2:ModifyVpcAttribute", &res.name, || req.clone().send())
                .await?;
            *current = Some(*dns_hostnames);
        }
        Ok(obs)
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["cidr", "dns_hostnames"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::Vpc(VpcSpec {
                cidr,
                dns_hostnames,
            }),
            Facts::Vpc(VpcFacts {
                cidr: c,
                dns_hostnames: d,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        vec![
            Attr::new(
                "cidr",
                cidr,
                c.map_or_else(|| "none".to_owned(), |c| c.to_string()),
            ),
            Attr::new(
                "dns_hostnames",
                dns_hostnames,
                d.map_or_else(|| "unknown".to_owned(), |d| d.to_string()),
            ),
        ]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .items
            .iter()
            .filter(|o| {
                o.id != obs.id && o.vpc_id() == Some(obs.id.as_str()) && !o.is_vpc_default()
            })
            .filter(|o| !o.is_gone())
            .map(|o| o.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .ec2
                    .delete_vpc()
                    .vpc_id(&obs.id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| AwsError::from_sdk("ec2:DeleteVpc", &obs.id, e))
            })
            .await
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}

    async fn read_details(&self, aws: &Aws, obs: &mut Observed) -> Result<(), AwsError> {
        let value = Vpc::dns_hostnames(aws, &obs.id).await?;
        if let Facts::Vpc(f) = &mut obs.facts {
            f.dns_hostnames = Some(value);
        }
        Ok(())
    }
}
