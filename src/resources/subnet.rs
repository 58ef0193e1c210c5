//! Subnets: CIDR, availability zone (by index into the region's AZs), auto-assign public IP.

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};

use super::ec2util::scope_filters;
use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::from_ec2;
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource, Spec};
use toml::Spanned;

/// What a lab file declares for a subnet.
#[derive(Debug, Clone)]
pub struct SubnetSpec {
    pub vpc: String,
    pub cidr: ipnet::Ipv4Net,
    pub az: usize,
    pub map_public_ip: bool,
}

/// What AWS says of a subnet.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SubnetFacts {
    pub vpc_id: Option<String>,
    pub cidr: Option<ipnet::Ipv4Net>,
    pub az: Option<String>,
    pub map_public_ip: bool,
}

impl crate::resources::KindSpec for SubnetSpec {
    fn refs(&self) -> Vec<&str> {
        let SubnetSpec { vpc, .. } = self;
        vec![vpc.as_str()]
    }
}

impl crate::resources::KindFacts for SubnetFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let SubnetFacts { vpc_id, .. } = self;
        vpc_id.as_deref()
    }
}

/// The keys of a `subnet` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct SubnetKeys {
    /// The VPC the subnet is in (a `vpc` resource).
    #[schemars(with = "Option<String>")]
    pub vpc: Option<toml::Spanned<String>>,
    /// The subnet's CIDR block, inside its VPC's and overlapping no other subnet's.
    #[schemars(with = "Option<String>")]
    pub cidr: Option<toml::Spanned<String>>,
    /// Index into the region's availability zones, sorted by name (0 is the first, up to 5): the lab runs in any region.
    #[schemars(with = "Option<i64>")]
    pub az: Option<toml::Spanned<i64>>,
    /// Auto-assign a public IPv4 address to instances launched in the subnet.
    #[schemars(with = "Option<bool>")]
    pub map_public_ip: Option<toml::Spanned<bool>>,
}

impl ParseSpec for SubnetSpec {
    type Keys = SubnetKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &SubnetKeys) -> Self {
        let kind = Kind::Subnet;
        let vpc = cx.vpc_ref(name, kind, &d.vpc);
        let cidr = cx.required(name, kind, "cidr", &d.cidr).cloned();
        let cidr = cidr.and_then(|c| cx.cidr(&c));
        let az = match &d.az {
            None => 0,
            Some(a) if (0..=5).contains(a.get_ref()) => usize::try_from(*a.get_ref()).unwrap_or(0),
            Some(a) => {
                cx.error(
                    a.span(),
                    format!("az index {} is outside 0-5", a.get_ref()),
                    "invalid AZ index",
                );
                cx.help("`az` is an index into the region's availability zones: 0 is the first");
                0
            }
        };
        SubnetSpec {
            vpc: vpc.unwrap_or_default(),
            cidr: cidr.unwrap_or_default(),
            az,
            map_public_ip: d.map_public_ip.as_ref().is_some_and(|b| *b.get_ref()),
        }
    }
}

pub struct Subnet;

#[async_trait]
impl ResourceKind for Subnet {
    fn kind(&self) -> Kind {
        Kind::Subnet
    }

    fn holds_what_is_inside(&self) -> bool {
        true
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
            .describe_subnets()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeSubnets", "subnets", e))?;
        Ok(out
            .iter()
            .filter_map(|s| {
                Some(Observed {
                    kind: Kind::Subnet,
                    id: s.subnet_id()?.to_owned(),
                    tags: from_ec2(s.tags()),
                    facts: Facts::Subnet(SubnetFacts {
                        vpc_id: s.vpc_id().map(str::to_owned),
                        cidr: s.cidr_block().and_then(|c| c.parse().ok()),
                        az: s.availability_zone().map(str::to_owned),
                        map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
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
        let SubnetSpec {
            vpc,
            cidr,
            az,
            map_public_ip,
        } = crate::resources::spec_of(res)?;
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let vpc_id = cx.bound.require(vpc, &res.name)?;
                let az_name = cx.azs.get(*az).ok_or_else(|| {
                    AwsError::from_fault(
                        "ec2:CreateSubnet",
                        &res.name,
                        Fault::NoSuchAz {
                            az: *az,
                            region: cx.aws.region.clone(),
                            zones: cx.azs.len(),
                        },
                    )
                })?;
                let req = cx
                    .aws
                    .ec2
                    .create_subnet()
                    .vpc_id(vpc_id)
                    .cidr_block(cidr.to_string())
                    .availability_zone(az_name)
                    .tag_specifications(cx.owner.tag_spec(ResourceType::Subnet, &res.name));
                let out = cx
                    .aws
                    .known("ec2:CreateSubnet", &res.name, || req.clone().send())
                    .await?;
                let s = out.subnet().ok_or_else(|| {
                    AwsError::from_fault(
                        "ec2:CreateSubnet",
                        &res.name,
                        Fault::NoId { what: "subnet" },
                    )
                })?;
                Observed {
                    kind: Kind::Subnet,
                    id: s.subnet_id().unwrap_or_default().to_owned(),
                    tags: cx.owner.tags_for(&res.name).into_iter().collect(),
                    facts: Facts::Subnet(SubnetFacts {
                        vpc_id: Some(vpc_id.to_owned()),
                        cidr: Some(*cidr),
                        az: Some(az_name.clone()),
                        map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
                    }),
                }
            }
        };
        if let Facts::Subnet(SubnetFacts {
            map_public_ip: current,
            ..
        }) = &mut obs.facts
            && *current != *map_public_ip
        {
            let req = cx
                .aws
                .ec2
                .modify_subnet_attribute()
                .subnet_id(&obs.id)
                .map_public_ip_on_launch(
                    AttributeBooleanValue::builder()
                        .value(*map_public_ip)
                        .build(),
                );
            cx.aws
                .known("ec2:ModifySubnetAttribute", &res.name, || {
                    req.clone().send()
                })
                .await?;
            *current = *map_public_ip;
        }
        Ok(obs)
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["vpc", "cidr", "az", "map_public_ip"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::Subnet(SubnetSpec {
                vpc,
                cidr,
                az,
                map_public_ip,
            }),
            Facts::Subnet(SubnetFacts {
                vpc_id,
                cidr: c,
                az: a,
                map_public_ip: m,
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let none = || "none".to_owned();
        let expected_az = world
            .azs
            .get(*az)
            .cloned()
            .unwrap_or_else(|| format!("AZ index {az} (the region has {})", world.azs.len()));
        vec![
            Attr::new(
                "vpc",
                vpc,
                vpc_id.as_deref().map_or_else(none, |v| bound.label(v)),
            ),
            Attr::new("cidr", cidr, c.map_or_else(none, |c| c.to_string())),
            Attr::new("az", expected_az, a.clone().unwrap_or_else(none)),
            Attr::new("map_public_ip", map_public_ip, m),
        ]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .items
            .iter()
            .filter(|o| o.subnet_ids().contains(&obs.id.as_str()))
            .filter(|o| !o.is_gone())
            .map(|o| o.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .ec2
                    .delete_subnet()
                    .subnet_id(&obs.id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2:DeleteSubnet", &obs.id, e))
                    .map(drop)
            })
            .await
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}

/// Whether the lab's subnet `name` gives its instances a public address.
pub fn maps_public_ip(lab: &crate::lab::Lab, name: &str) -> bool {
    lab.resources.iter().any(|s| {
        s.name == name
            && matches!(
                s.spec,
                crate::lab::Spec::Subnet(SubnetSpec {
                    map_public_ip: true,
                    ..
                })
            )
    })
}
