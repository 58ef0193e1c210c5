//! Target groups: where a load balancer sends requests, and their health checks.

use super::*;
use crate::check::FoundBy;
use crate::check::Names;
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::quota::Quota;
use toml::Spanned;

/// What a lab file declares for a target group.
#[derive(Debug, Clone)]
pub struct TargetGroupSpec {
    pub vpc: String,
    pub protocol: String,
    pub port: u16,
    pub health_check_path: String,
    /// `instance` or `ip`, when the lab says (AWS's default is `instance`).
    pub target_type: Option<String>,
}

/// What AWS says of a target group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetGroupFacts {
    pub name: String,
    pub vpc_id: Option<String>,
    pub protocol: Option<String>,
    pub port: Option<i32>,
    pub health_check_path: Option<String>,
    pub load_balancers: Vec<String>,
    /// `instance`, `ip`, `lambda` or `alb`.
    pub target_type: Option<String>,
}

impl crate::resources::KindSpec for TargetGroupSpec {
    fn refs(&self) -> Vec<&str> {
        let TargetGroupSpec { vpc, .. } = self;
        vec![vpc.as_str()]
    }
}

impl crate::resources::KindFacts for TargetGroupFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let TargetGroupFacts { vpc_id, .. } = self;
        vpc_id.as_deref()
    }
}

/// The keys of a `target_group` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct TargetGroupKeys {
    /// The VPC of the targets.
    #[schemars(with = "Option<String>")]
    pub vpc: Option<toml::Spanned<String>>,
    /// `HTTP` (the default; HTTPS is not supported).
    #[schemars(with = "Option<String>")]
    pub protocol: Option<toml::Spanned<String>>,
    /// The port the targets listen on (default 80).
    #[schemars(with = "Option<i64>")]
    pub port: Option<toml::Spanned<i64>>,
    /// The path of the health check, e.g. `/`.
    #[schemars(with = "Option<String>")]
    pub health_check_path: Option<toml::Spanned<String>>,
    /// `instance` (the default: instances register, e.g. an Auto Scaling group's) or `ip`
    /// (addresses register: Fargate tasks, `awsvpc`).
    #[schemars(with = "Option<String>")]
    pub target_type: Option<toml::Spanned<String>>,
}

impl ParseSpec for TargetGroupSpec {
    type Keys = TargetGroupKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &TargetGroupKeys) -> Self {
        let kind = Kind::TargetGroup;
        TargetGroupSpec {
            vpc: cx.vpc_ref(name, kind, &d.vpc).unwrap_or_default(),
            protocol: cx.http_protocol(&d.protocol),
            port: cx.service_port(&d.port),
            health_check_path: match &d.health_check_path {
                None => "/".to_owned(),
                Some(p) if p.get_ref().starts_with('/') => p.get_ref().clone(),
                Some(p) => {
                    cx.error(
                        p.span(),
                        format!("health check path `{}` must start with `/`", p.get_ref()),
                        "invalid path",
                    );
                    String::new()
                }
            },
            target_type: d
                .target_type
                .as_ref()
                .and_then(|t| match t.get_ref().as_str() {
                    "instance" | "ip" => Some(t.get_ref().clone()),
                    other => {
                        cx.error(
                            t.span(),
                            format!("target type `{other}` must be `instance` or `ip`"),
                            "invalid target type",
                        );
                        None
                    }
                }),
        }
    }
}

pub struct TargetGroup;

fn observe_tg(
    t: &aws_sdk_elasticloadbalancingv2::types::TargetGroup,
    tags: Tags,
) -> Option<Observed> {
    let name = t.target_group_name()?.to_owned();
    Some(Observed {
        kind: Kind::TargetGroup,
        id: t.target_group_arn()?.to_owned(),
        tags: named(tags, &name),
        facts: Facts::TargetGroup(TargetGroupFacts {
            name,
            vpc_id: t.vpc_id().map(str::to_owned),
            protocol: t.protocol().map(|p| p.as_str().to_owned()),
            port: t.port(),
            health_check_path: t.health_check_path().map(str::to_owned),
            load_balancers: t.load_balancer_arns().to_vec(),
            target_type: t.target_type().map(|t| t.as_str().to_owned()),
        }),
    })
}

impl TargetGroup {
    async fn describe(aws: &Aws, arn: &str, tags: Tags) -> Result<Option<Observed>, AwsError> {
        match aws
            .elbv2
            .describe_target_groups()
            .target_group_arns(arn)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .target_groups()
                .first()
                .and_then(|t| observe_tg(t, tags))),
            Err(e) => {
                let e = AwsError::from_sdk("elasticloadbalancing:DescribeTargetGroups", arn, e);
                if e.is_gone() { Ok(None) } else { Err(e) }
            }
        }
    }
}

#[async_trait]
impl ResourceKind for TargetGroup {
    fn kind(&self) -> Kind {
        Kind::TargetGroup
    }

    fn quota_needs(&self, _res: &Resource, _lab: &crate::lab::Lab) -> Vec<(Quota, u32)> {
        vec![(Quota::TargetGroups, 1)]
    }

    fn placement(&self) -> crate::resources::Placement {
        crate::resources::Placement::InVpc
    }

    /// Only when the lab has one: most labs do not.
    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::InVpcs { always: false }
    }

    async fn stamp(
        &self,
        aws: &Aws,
        obs: &Observed,
        key: &str,
        value: &str,
    ) -> Result<crate::resources::Stamped, AwsError> {
        add_tag(aws, &obs.id, key, value).await
    }

    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        if nothing(scope) {
            return Ok(Vec::new());
        }
        let all = aws
            .elbv2
            .describe_target_groups()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| {
                AwsError::from_sdk(
                    "elasticloadbalancing:DescribeTargetGroups",
                    "target groups",
                    e,
                )
            })?;
        if all.is_empty() {
            return Ok(Vec::new());
        }
        // Target groups do not say when they were made: one that a tag read cannot find is
        // taken as gone (a group created again by name is the same group).
        let arns: Vec<(String, Option<SystemTime>)> = all
            .iter()
            .filter_map(|t| Some((t.target_group_arn()?.to_owned(), None)))
            .collect();
        let mut tags = tags_of(aws, &arns).await?;
        Ok(all
            .iter()
            .filter_map(|t| {
                let arn = t.target_group_arn()?;
                let tg_tags = tags.remove(arn).unwrap_or_default();
                in_scope(&tg_tags, t.target_group_name()?, t.vpc_id(), scope)
                    .then(|| observe_tg(t, tg_tags))?
            })
            .collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let TargetGroupSpec {
            vpc,
            protocol,
            port,
            health_check_path,
            target_type,
        } = crate::resources::spec_of(res)?;
        let tags: Tags = cx.owner.tags_for(&res.name).into_iter().collect();
        let arn = match existing {
            Some(o) => {
                if !matches!(&o.facts, Facts::TargetGroup(TargetGroupFacts { health_check_path: Some(p), .. }) if p == health_check_path)
                {
                    cx.aws
                        .known("elasticloadbalancing:ModifyTargetGroup", &res.name, || {
                            cx.aws
                                .elbv2
                                .modify_target_group()
                                .target_group_arn(&o.id)
                                .health_check_path(health_check_path)
                                .send()
                        })
                        .await?;
                }
                o.id.clone()
            }
            // Creating with the same name and settings returns the existing group: a retry
            // after a lost answer is safe.
            None => {
                let vpc_id = cx.bound.require(vpc, &res.name)?;
                cx.aws
                    .known("elasticloadbalancing:CreateTargetGroup", &res.name, || {
                        cx.aws
                            .elbv2
                            .create_target_group()
                            .name(short_name(cx.owner, &res.name))
                            .protocol(ProtocolEnum::from(protocol.as_str()))
                            .port(i32::from(*port))
                            .vpc_id(vpc_id)
                            .target_type(TargetTypeEnum::from(
                                target_type.as_deref().unwrap_or("instance"),
                            ))
                            .health_check_path(health_check_path)
                            .set_tags(Some(elb_tags(cx.owner, &res.name)))
                            .send()
                    })
                    .await?
                    .target_groups()
                    .first()
                    .and_then(|t| t.target_group_arn())
                    .ok_or_else(|| {
                        AwsError::from_fault(
                            "elasticloadbalancing:CreateTargetGroup",
                            &res.name,
                            Fault::NoArn {
                                what: "target group",
                            },
                        )
                    })?
                    .to_owned()
            }
        };
        if existing.is_none() {
            // 30 s instead of 300 s to drain a deregistered target: lab instances serve nothing
            // long-lived, and `down` would otherwise wait five minutes per instance.
            cx.aws
                .known(
                    "elasticloadbalancing:ModifyTargetGroupAttributes",
                    &res.name,
                    || {
                        cx.aws
                            .elbv2
                            .modify_target_group_attributes()
                            .target_group_arn(&arn)
                            .attributes(
                                TargetGroupAttribute::builder()
                                    .key("deregistration_delay.timeout_seconds")
                                    .value("30")
                                    .build(),
                            )
                            .send()
                    },
                )
                .await?;
        }
        cx.aws
            .settle(|| async {
                listed(
                    Self::describe(cx.aws, &arn, tags.clone()).await?,
                    "elasticloadbalancing:DescribeTargetGroups",
                    &res.name,
                )
            })
            .await
    }

    fn attr_keys(&self, res: &Resource) -> Vec<&'static str> {
        let mut keys = vec!["vpc", "protocol", "port", "health_check_path"];
        if matches!(
            &res.spec,
            Spec::TargetGroup(TargetGroupSpec {
                target_type: Some(_),
                ..
            })
        ) {
            keys.push("target_type");
        }
        keys
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::TargetGroup(TargetGroupSpec {
                vpc,
                protocol,
                port,
                health_check_path,
                target_type,
            }),
            Facts::TargetGroup(TargetGroupFacts {
                vpc_id,
                protocol: p,
                port: found_port,
                health_check_path: h,
                target_type: found_type,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let mut attrs = vec![
            Attr::new("vpc", vpc, label_or_none(bound, vpc_id.as_deref())),
            Attr::new("protocol", protocol, p.as_deref().unwrap_or("none")),
            Attr::new(
                "port",
                port,
                found_port.map_or_else(|| "none".to_owned(), |p| p.to_string()),
            ),
            Attr::new(
                "health_check_path",
                health_check_path,
                h.as_deref().unwrap_or("none"),
            ),
        ];
        if let Some(t) = target_type {
            attrs.push(Attr::new(
                "target_type",
                t,
                found_type.as_deref().unwrap_or("instance"),
            ));
        }
        attrs
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        // Listeners forwarding to it, groups and services registering into it.
        world
            .items
            .iter()
            .filter(|o| !o.is_gone())
            .filter(|o| o.facts.of_kind().target_groups().contains(&obs.id.as_str()))
            .map(|o| o.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .elbv2
                    .delete_target_group()
                    .target_group_arn(&obs.id)
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::from_sdk("elasticloadbalancing:DeleteTargetGroup", &obs.id, e)
                    })
                    .map(drop)
            })
            .await
    }

    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        _owner: &Owner,
        names: &Names,
    ) -> Option<FoundBy> {
        let Facts::TargetGroup(f) = &o.facts else {
            return None;
        };
        crate::resources::named_as(o, res, names, "target group name", &f.name)
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
