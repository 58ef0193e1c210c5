//! Elastic IP addresses (the NAT gateway's public address).

use crate::aws::tags::Owner;
use crate::lab::Lab;
use crate::lab::Spec;
use crate::quota::Quota;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};

use super::ec2util::scope_filters;
use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::from_ec2;
use crate::aws::{Aws, AwsError, ErrorClass, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource};
use crate::resources::NatGatewayFacts;
use toml::Spanned;

/// What a lab file declares for an elastic IP.
#[derive(Debug, Clone)]
pub struct ElasticIpSpec;

/// What AWS says of an elastic IP.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ElasticIpFacts {
    pub public_ip: Option<String>,
    pub association_id: Option<String>,
}

impl crate::resources::KindSpec for ElasticIpSpec {
    fn refs(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl crate::resources::KindFacts for ElasticIpFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }

    fn elastic_address(&self) -> Option<&str> {
        self.public_ip.as_deref()
    }
}

/// The keys of an `elastic_ip` table in a lab file: none beyond its type.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct ElasticIpKeys {}

impl ParseSpec for ElasticIpSpec {
    type Keys = ElasticIpKeys;

    fn parse(_cx: &mut SpecCx<'_, '_, '_>, _name: &Spanned<String>, _d: &ElasticIpKeys) -> Self {
        ElasticIpSpec
    }
}

pub struct ElasticIp;

#[async_trait]
impl ResourceKind for ElasticIp {
    fn kind(&self) -> Kind {
        Kind::ElasticIp
    }

    fn quota_needs(&self, _res: &Resource, _lab: &crate::lab::Lab) -> Vec<(Quota, u32)> {
        vec![(Quota::ElasticIps, 1)]
    }

    fn price(&self, res: &Resource, _lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        e.add(
            format!("Elastic IP {} (public IPv4)", res.name),
            crate::cost::PUBLIC_IPV4_HOUR,
        );
    }

    fn price_observed(&self, obs: &Observed, _eips: &[&str], e: &mut crate::cost::Estimate) {
        let name = obs.name_tag().unwrap_or(&obs.id);
        e.add(
            format!("Elastic IP {name} (public IPv4)"),
            crate::cost::PUBLIC_IPV4_HOUR,
        );
    }

    fn placement(&self) -> super::Placement {
        super::Placement::Regional
    }

    /// An address may be in no VPC: the region's, when the lab has one or a NAT gateway (whose
    /// address nobody names).
    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::Region {
            with: &[Kind::NatGateway],
        }
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
        let Some(filters) = scope_filters(scope, None) else {
            return Ok(Vec::new());
        };
        let out = aws
            .ec2
            .describe_addresses()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeAddresses", "addresses", e))?;
        Ok(out
            .addresses()
            .iter()
            .filter_map(|a| {
                Some(Observed {
                    kind: Kind::ElasticIp,
                    id: a.allocation_id()?.to_owned(),
                    tags: from_ec2(a.tags()),
                    facts: Facts::ElasticIp(ElasticIpFacts {
                        public_ip: a.public_ip().map(str::to_owned),
                        association_id: a.association_id().map(str::to_owned),
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
        if let Some(o) = existing {
            return Ok(o.clone());
        }
        let out = cx
            .aws
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(cx.owner.tag_spec(ResourceType::ElasticIp, &res.name))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:AllocateAddress", &res.name, e))?;
        let id = out.allocation_id().ok_or_else(|| {
            AwsError::from_fault(
                "ec2:AllocateAddress",
                &res.name,
                Fault::NoId {
                    what: "allocation id",
                },
            )
        })?;
        Ok(Observed {
            kind: Kind::ElasticIp,
            id: id.to_owned(),
            tags: cx.owner.tags_for(&res.name).into_iter().collect(),
            facts: Facts::ElasticIp(ElasticIpFacts {
                public_ip: out.public_ip().map(str::to_owned),
                association_id: None,
            }),
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        Vec::new()
    }

    fn compare(
        &self,
        _res: &Resource,
        _obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        Vec::new()
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .of_kind(Kind::NatGateway)
            .filter(|n| !n.is_gone())
            .filter(|n| matches!(&n.facts, Facts::NatGateway(NatGatewayFacts { allocation_ids, .. }) if allocation_ids.contains(&obs.id)))
            .map(|n| n.id.clone())
            .collect()
    }

    /// `AuthFailure` on release clears within a minute or two of the NAT gateway's deletion.
    fn delete_deadline(&self) -> Duration {
        Duration::from_secs(300)
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        // Shortly after its NAT gateway is deleted, AWS refuses the release with a misleading
        // AuthFailure or InvalidIPAddress.InUse: both mean "wait".
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .ec2
                    .release_address()
                    .allocation_id(&obs.id)
                    .send()
                    .await
                    .map_err(|e| {
                        let e = AwsError::from_sdk("ec2:ReleaseAddress", &obs.id, e);
                        if e.aws_code() == Some("AuthFailure") {
                            e.with_class(ErrorClass::Dependency)
                        } else {
                            e
                        }
                    })
                    .map(drop)
            })
            .await
    }

    /// An address nobody names: the one a NAT gateway of the lab holds.
    fn related<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        lab: &Lab,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        lab.resources.iter().find_map(|r| match &r.spec {
            Spec::NatGateway(n) if n.eip == res.name => {
                let Facts::NatGateway(nat) = &bound.get(&r.name)?.facts else {
                    return None;
                };
                let e = world
                    .of_kind(Kind::ElasticIp)
                    .find(|e| nat.allocation_ids.contains(&e.id))?;
                Some((e, format!("as the address of {}", r.name)))
            }
            _ => None,
        })
    }
}
