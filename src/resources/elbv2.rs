//! Elastic Load Balancing v2: target groups, application load balancers and their listeners.
//! Load balancers and target groups carry tags (read with one `DescribeTags` per 20 ARNs) and
//! an awslab name of at most 32 characters; a hand-built one is found by its name. Listeners are
//! listed with their load balancer (one call each), known by load balancer and port, and take
//! its owner tags. Deleting a load balancer waits until its network interfaces have left the
//! subnets, which otherwise refuse to go.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum, Tag,
    TargetGroupAttribute, TargetTypeEnum,
};

use super::ec2util::{filter, subnet_vpcs};
use super::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, Poll, ResourceKind, Scope, World,
};
use crate::aws::tags::{self, Owner, Tags};
use crate::aws::{Aws, AwsError, created_at, listed};
use crate::lab::{Kind, Resource, Spec};

/// A name unique per owner within ELB's 32 characters: the logical name and a hash of the
/// owner (`web-alb-1a2b3c4d`).
pub fn short_name(owner: &Owner, logical: &str) -> String {
    let hash = format!("{}/{}/{logical}", owner.lab, owner.env)
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let head: String = logical
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(23)
        .collect();
    format!("{}-{:08x}", head.trim_matches('-'), hash & 0xffff_ffff)
}

fn elb_tags(owner: &Owner, logical: &str) -> Vec<Tag> {
    owner
        .tags_for(logical)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags of each ARN, listed with its creation time when the listing says (`DescribeTags`
/// takes 20 at a time).
async fn tags_of(
    aws: &Aws,
    arns: &[(String, Option<SystemTime>)],
) -> Result<BTreeMap<String, Tags>, AwsError> {
    let mut out = BTreeMap::new();
    for chunk in arns.chunks(20) {
        let found = aws
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.iter().map(|(a, _)| a.clone()).collect()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("elasticloadbalancing:DescribeTags", "tags", e));
        let found = match found {
            Ok(f) => vec![f],
            // One of them is not visible yet (just created), or was deleted since the listing
            // (another env's `down`): ask one by one, again while not visible, and leave the
            // gone ones out.
            Err(e) if e.is_gone() => {
                let mut each = Vec::new();
                for (arn, created) in chunk {
                    let one = aws
                        .follow_up(*created, || async {
                            aws.elbv2
                                .describe_tags()
                                .resource_arns(arn)
                                .send()
                                .await
                                .map_err(|e| {
                                    AwsError::from_sdk("elasticloadbalancing:DescribeTags", arn, e)
                                })
                        })
                        .await?;
                    each.extend(one);
                }
                each
            }
            Err(e) => return Err(e),
        };
        for d in found.iter().flat_map(|f| f.tag_descriptions()) {
            if let Some(arn) = d.resource_arn() {
                let t: Tags = d
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t.key()?.to_owned(),
                            t.value().unwrap_or_default().to_owned(),
                        ))
                    })
                    .collect();
                out.insert(arn.to_owned(), t);
            }
        }
    }
    Ok(out)
}

/// Whether a resource with these tags, name and VPC is in scope. Hand-built ones (`Named`) are
/// those awslab did not make.
fn in_scope(tags: &Tags, name: &str, vpc: Option<&str>, scope: &Scope) -> bool {
    match scope {
        Scope::Owned(owner) => owner.owns(tags),
        Scope::AnyLab => tags.contains_key(tags::LAB),
        Scope::Named(names) => !tags.contains_key(tags::LAB) && names.iter().any(|n| n == name),
        Scope::InVpcs(ids) => vpc.is_some_and(|v| ids.iter().any(|i| i == v)),
        Scope::Region => true,
    }
}

/// Nothing to ask for this scope.
fn nothing(scope: &Scope) -> bool {
    matches!(scope, Scope::Named(n) | Scope::InVpcs(n) if n.is_empty())
}

/// Tags with a `Name` from the resource's own name when it has none (hand-built ones).
fn named(mut t: Tags, name: &str) -> Tags {
    t.entry(tags::NAME.to_owned())
        .or_insert_with(|| name.to_owned());
    t
}

fn label_or_none(bound: &Bindings, id: Option<&str>) -> String {
    id.map_or_else(|| "none".to_owned(), |i| bound.label(i))
}

fn sorted_labels<'a>(bound: &Bindings, ids: impl Iterator<Item = &'a String>) -> String {
    let mut v: Vec<String> = ids.map(|i| bound.label(i)).collect();
    v.sort();
    v.dedup();
    v.join(", ")
}

fn sorted_names(names: &[String]) -> String {
    let mut v = names.to_vec();
    v.sort();
    v.join(", ")
}

fn wrong(res: &Resource, what: &str) -> AwsError {
    AwsError::other("apply", &res.name, "WrongKind", format!("not a {what}"))
}

// ---------------------------------------------------------------------------------------------

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
        facts: Facts::TargetGroup {
            name,
            vpc_id: t.vpc_id().map(str::to_owned),
            protocol: t.protocol().map(|p| p.as_str().to_owned()),
            port: t.port(),
            health_check_path: t.health_check_path().map(str::to_owned),
            load_balancers: t.load_balancer_arns().to_vec(),
        },
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
        let Spec::TargetGroup {
            vpc,
            protocol,
            port,
            health_check_path,
        } = &res.spec
        else {
            return Err(wrong(res, "target group"));
        };
        let tags: Tags = cx.owner.tags_for(&res.name).into_iter().collect();
        let arn = match existing {
            Some(o) => {
                if !matches!(&o.facts, Facts::TargetGroup { health_check_path: Some(p), .. } if p == health_check_path)
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
                            .target_type(TargetTypeEnum::Instance)
                            .health_check_path(health_check_path)
                            .set_tags(Some(elb_tags(cx.owner, &res.name)))
                            .send()
                    })
                    .await?
                    .target_groups()
                    .first()
                    .and_then(|t| t.target_group_arn())
                    .ok_or_else(|| {
                        AwsError::other(
                            "elasticloadbalancing:CreateTargetGroup",
                            &res.name,
                            "NoArn",
                            "no target group in the answer",
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

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["vpc", "protocol", "port", "health_check_path"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::TargetGroup {
                vpc,
                protocol,
                port,
                health_check_path,
            },
            Facts::TargetGroup {
                vpc_id,
                protocol: p,
                port: found_port,
                health_check_path: h,
                ..
            },
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        vec![
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
        ]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        // Listeners forwarding to it and groups registering into it.
        world
            .items
            .iter()
            .filter(|o| match &o.facts {
                Facts::Listener { target_groups, .. }
                | Facts::AutoScalingGroup { target_groups, .. } => target_groups.contains(&obs.id),
                _ => false,
            })
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
}

// ---------------------------------------------------------------------------------------------

pub struct LoadBalancer;

/// `provisioning` to `active`: about three minutes (2m15s to 3m10s seen).
const ACTIVE: Duration = Duration::from_secs(180);
/// Deleted load balancers leave the listing within seconds.
const DELETED: Duration = Duration::from_secs(10);
/// Its network interfaces stay in the subnets for about two minutes after the delete.
const ENIS_RELEASED: Duration = Duration::from_secs(120);

fn observe_lb(
    lb: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer,
    tags: Tags,
) -> Option<Observed> {
    let name = lb.load_balancer_name()?.to_owned();
    Some(Observed {
        kind: Kind::LoadBalancer,
        id: lb.load_balancer_arn()?.to_owned(),
        tags: named(tags, &name),
        facts: Facts::LoadBalancer {
            name,
            vpc_id: lb.vpc_id().map(str::to_owned),
            dns_name: lb.dns_name().map(str::to_owned),
            scheme: lb
                .scheme()
                .map_or_else(String::new, |s| s.as_str().to_owned()),
            lb_type: lb
                .r#type()
                .map_or_else(String::new, |t| t.as_str().to_owned()),
            state: lb
                .state()
                .and_then(|s| s.code())
                .map_or_else(String::new, |c| c.as_str().to_owned()),
            subnets: lb
                .availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id().map(str::to_owned))
                .collect(),
            azs: lb
                .availability_zones()
                .iter()
                .filter_map(|z| z.zone_name().map(str::to_owned))
                .collect(),
            security_groups: lb.security_groups().to_vec(),
        },
    })
}

/// The listeners of a load balancer, with its owner tags.
async fn listeners_of(
    aws: &Aws,
    lb: &Observed,
    created: Option<SystemTime>,
) -> Result<Vec<Observed>, AwsError> {
    let out = aws
        .follow_up(created, || async {
            aws.elbv2
                .describe_listeners()
                .load_balancer_arn(&lb.id)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk("elasticloadbalancing:DescribeListeners", &lb.id, e)
                })
        })
        .await?;
    let Some(out) = out else {
        return Ok(Vec::new());
    };
    let mut owner_tags = tags::owner_part(&lb.tags);
    let lb_label = lb
        .tags
        .get(tags::RESOURCE)
        .or_else(|| lb.tags.get(tags::NAME))
        .cloned()
        .unwrap_or_else(|| lb.id.clone());
    Ok(out
        .listeners()
        .iter()
        .filter_map(|l| {
            let target_groups = l
                .default_actions()
                .iter()
                .flat_map(|a| {
                    a.target_group_arn().map(str::to_owned).into_iter().chain(
                        a.forward_config()
                            .map(|f| {
                                f.target_groups()
                                    .iter()
                                    .filter_map(|t| t.target_group_arn().map(str::to_owned))
                                    .collect::<Vec<_>>()
                            })
                            .unwrap_or_default(),
                    )
                })
                .collect::<std::collections::BTreeSet<String>>()
                .into_iter()
                .collect();
            // For messages: `web-alb:80`.
            owner_tags.insert(
                tags::NAME.to_owned(),
                format!("{lb_label}:{}", l.port().unwrap_or_default()),
            );
            Some(Observed {
                kind: Kind::Listener,
                id: l.listener_arn()?.to_owned(),
                tags: owner_tags.clone(),
                facts: Facts::Listener {
                    load_balancer: lb.id.clone(),
                    vpc_id: lb.vpc_id().map(str::to_owned),
                    protocol: l.protocol().map(|p| p.as_str().to_owned()),
                    port: l.port(),
                    target_groups,
                },
            })
        })
        .collect())
}

impl LoadBalancer {
    async fn describe(aws: &Aws, arn: &str, tags: Tags) -> Result<Option<Observed>, AwsError> {
        match aws
            .elbv2
            .describe_load_balancers()
            .load_balancer_arns(arn)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .load_balancers()
                .first()
                .and_then(|l| observe_lb(l, tags))),
            Err(e) => {
                let e = AwsError::from_sdk("elasticloadbalancing:DescribeLoadBalancers", arn, e);
                if e.is_gone() { Ok(None) } else { Err(e) }
            }
        }
    }

    /// `ELB app/<name>/<id>`: the description of the load balancer's network interfaces.
    fn eni_description(arn: &str) -> Option<String> {
        arn.split_once(":loadbalancer/")
            .map(|(_, rest)| format!("ELB {rest}"))
    }
}

/// The URL of an internet-facing load balancer (what `up` prints at the end).
pub fn url(o: &Observed) -> Option<String> {
    match &o.facts {
        Facts::LoadBalancer {
            dns_name: Some(dns),
            ..
        } => Some(format!("http://{dns}/")),
        _ => None,
    }
}

#[async_trait]
impl ResourceKind for LoadBalancer {
    fn kind(&self) -> Kind {
        Kind::LoadBalancer
    }

    /// The load balancers in scope and their listeners.
    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        if nothing(scope) {
            return Ok(Vec::new());
        }
        let all = aws
            .elbv2
            .describe_load_balancers()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| {
                AwsError::from_sdk(
                    "elasticloadbalancing:DescribeLoadBalancers",
                    "load balancers",
                    e,
                )
            })?;
        if all.is_empty() {
            return Ok(Vec::new());
        }
        let arns: Vec<(String, Option<SystemTime>)> = all
            .iter()
            .filter_map(|l| {
                Some((
                    l.load_balancer_arn()?.to_owned(),
                    created_at(l.created_time()),
                ))
            })
            .collect();
        let mut tags = tags_of(aws, &arns).await?;
        let subnets: Vec<String> = all
            .iter()
            .flat_map(|l| l.availability_zones().iter().filter_map(|z| z.subnet_id()))
            .map(str::to_owned)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let vpcs = subnet_vpcs(aws, subnets).await?;
        let mut out = Vec::new();
        for lb in &all {
            let Some(arn) = lb.load_balancer_arn() else {
                continue;
            };
            let lb_tags = tags.remove(arn).unwrap_or_default();
            let name = lb.load_balancer_name().unwrap_or_default();
            let Some(mut o) = observe_lb(lb, lb_tags) else {
                continue;
            };
            // Placed by its subnets.
            if let Facts::LoadBalancer {
                vpc_id, subnets, ..
            } = &mut o.facts
                && let Some(v) = subnets.iter().find_map(|s| vpcs.get(s))
            {
                *vpc_id = Some(v.clone());
            }
            if !in_scope(&o.tags, name, o.vpc_id(), scope) {
                continue;
            }
            {
                let listeners = listeners_of(aws, &o, created_at(lb.created_time())).await?;
                out.push(o);
                out.extend(listeners);
            }
        }
        Ok(out)
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::LoadBalancer {
            subnets,
            security_groups,
            internet_facing,
        } = &res.spec
        else {
            return Err(wrong(res, "load balancer"));
        };
        let subnet_ids = subnets
            .iter()
            .map(|s| cx.bound.require(s, &res.name).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let group_ids = security_groups
            .iter()
            .map(|s| cx.bound.require(s, &res.name).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let arn = match existing {
            Some(o) => {
                let Facts::LoadBalancer {
                    subnets: found_subnets,
                    security_groups: found_groups,
                    ..
                } = &o.facts
                else {
                    return Err(wrong(res, "load balancer"));
                };
                if sorted_names(found_subnets) != sorted_names(&subnet_ids) {
                    cx.aws
                        .known("elasticloadbalancing:SetSubnets", &res.name, || {
                            cx.aws
                                .elbv2
                                .set_subnets()
                                .load_balancer_arn(&o.id)
                                .set_subnets(Some(subnet_ids.clone()))
                                .send()
                        })
                        .await?;
                }
                if sorted_names(found_groups) != sorted_names(&group_ids) {
                    cx.aws
                        .known("elasticloadbalancing:SetSecurityGroups", &res.name, || {
                            cx.aws
                                .elbv2
                                .set_security_groups()
                                .load_balancer_arn(&o.id)
                                .set_security_groups(Some(group_ids.clone()))
                                .send()
                        })
                        .await?;
                }
                o.id.clone()
            }
            // Same name and settings: AWS returns the existing load balancer.
            None => cx
                .aws
                .known("elasticloadbalancing:CreateLoadBalancer", &res.name, || {
                    cx.aws
                        .elbv2
                        .create_load_balancer()
                        .name(short_name(cx.owner, &res.name))
                        .r#type(LoadBalancerTypeEnum::Application)
                        .scheme(if *internet_facing {
                            LoadBalancerSchemeEnum::InternetFacing
                        } else {
                            LoadBalancerSchemeEnum::Internal
                        })
                        .set_subnets(Some(subnet_ids.clone()))
                        .set_security_groups(Some(group_ids.clone()))
                        .set_tags(Some(elb_tags(cx.owner, &res.name)))
                        .send()
                })
                .await?
                .load_balancers()
                .first()
                .and_then(|l| l.load_balancer_arn())
                .ok_or_else(|| {
                    AwsError::other(
                        "elasticloadbalancing:CreateLoadBalancer",
                        &res.name,
                        "NoArn",
                        "no load balancer in the answer",
                    )
                })?
                .to_owned(),
        };
        let tags: Tags = cx.owner.tags_for(&res.name).into_iter().collect();
        let last = std::sync::Mutex::new(None);
        let last_ref = &last;
        cx.wait
            .until(&res.name, "active", ACTIVE, || async {
                let o = Self::describe(cx.aws, &arn, tags.clone()).await?;
                let st = o.as_ref().and_then(|o| match &o.facts {
                    Facts::LoadBalancer { state, .. } => Some(state.clone()),
                    _ => None,
                });
                if let Ok(mut l) = last_ref.lock() {
                    *l = o;
                }
                Ok(match st.as_deref() {
                    Some("active") => Poll::Done,
                    Some(other) => Poll::Waiting(other.to_owned()),
                    None => Poll::Waiting("not visible yet".to_owned()),
                })
            })
            .await?;
        last.into_inner().ok().flatten().ok_or_else(|| {
            AwsError::other(
                "elasticloadbalancing:DescribeLoadBalancers",
                &res.name,
                "NotFound",
                "vanished while waiting",
            )
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["type", "scheme", "subnets", "security_groups", "state"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::LoadBalancer {
                subnets,
                security_groups,
                internet_facing,
            },
            Facts::LoadBalancer {
                scheme,
                lb_type,
                state,
                subnets: found_subnets,
                security_groups: found_groups,
                ..
            },
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        vec![
            Attr::new("type", "application", lb_type),
            Attr::new(
                "scheme",
                if *internet_facing {
                    "internet-facing"
                } else {
                    "internal"
                },
                scheme,
            ),
            Attr::new(
                "subnets",
                sorted_names(subnets),
                sorted_labels(bound, found_subnets.iter()),
            ),
            Attr::new(
                "security_groups",
                sorted_names(security_groups),
                sorted_labels(bound, found_groups.iter()),
            ),
            Attr::new("state", "active", state),
        ]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .of_kind(Kind::Listener)
            .filter(|l| matches!(&l.facts, Facts::Listener { load_balancer, .. } if *load_balancer == obs.id))
            .map(|l| l.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        cx.aws
            .elbv2
            .delete_load_balancer()
            .load_balancer_arn(&obs.id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("elasticloadbalancing:DeleteLoadBalancer", &obs.id, e))
            .map(drop)?;
        cx.wait
            .until(&obs.id, "deleted", DELETED, || async {
                Ok(match Self::describe(cx.aws, &obs.id, Tags::new()).await? {
                    Some(_) => Poll::Waiting("deleting".to_owned()),
                    None => Poll::Done,
                })
            })
            .await?;
        // Its network interfaces linger for a while; the subnets and groups cannot go before.
        let Some(description) = Self::eni_description(&obs.id) else {
            return Ok(());
        };
        cx.wait
            .until(
                &obs.id,
                "network interfaces released",
                ENIS_RELEASED,
                || async {
                    let out = cx
                        .aws
                        .ec2
                        .describe_network_interfaces()
                        .filters(filter("description", [description.clone()]))
                        .send()
                        .await
                        .map_err(|e| {
                            AwsError::from_sdk("ec2:DescribeNetworkInterfaces", &obs.id, e)
                        })?;
                    Ok(match out.network_interfaces().len() {
                        0 => Poll::Done,
                        n => Poll::Waiting(format!("{n} network interfaces left")),
                    })
                },
            )
            .await
    }

    fn typical(&self) -> Option<&'static str> {
        Some("active in ~3 min")
    }
}

// ---------------------------------------------------------------------------------------------

pub struct Listener;

#[async_trait]
impl ResourceKind for Listener {
    fn kind(&self) -> Kind {
        Kind::Listener
    }

    /// Listed with their load balancers.
    async fn discover(&self, _aws: &Aws, _scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::Listener {
            load_balancer,
            protocol,
            port,
            target_group,
        } = &res.spec
        else {
            return Err(wrong(res, "listener"));
        };
        let lb_arn = cx.bound.require(load_balancer, &res.name)?;
        let tg_arn = cx.bound.require(target_group, &res.name)?;
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg_arn)
            .build();
        match existing {
            Some(o) => {
                cx.aws
                    .known("elasticloadbalancing:ModifyListener", &res.name, || {
                        cx.aws
                            .elbv2
                            .modify_listener()
                            .listener_arn(&o.id)
                            .protocol(ProtocolEnum::from(protocol.as_str()))
                            .port(i32::from(*port))
                            .default_actions(forward.clone())
                            .send()
                    })
                    .await?;
            }
            None => {
                cx.aws
                    .known("elasticloadbalancing:CreateListener", &res.name, || {
                        cx.aws
                            .elbv2
                            .create_listener()
                            .load_balancer_arn(lb_arn)
                            .protocol(ProtocolEnum::from(protocol.as_str()))
                            .port(i32::from(*port))
                            .default_actions(forward.clone())
                            .set_tags(Some(elb_tags(cx.owner, &res.name)))
                            .send()
                    })
                    .await?;
            }
        }
        let lb = cx.bound.get(load_balancer).ok_or_else(|| {
            AwsError::other(
                "resolve",
                &res.name,
                "MissingDependency",
                "no load balancer",
            )
        })?;
        cx.aws
            .settle(|| async {
                // Just created: asked again while not visible.
                let found = listeners_of(cx.aws, lb, Some(SystemTime::now()))
                    .await?
                    .into_iter()
                    .find(
                    |l| matches!(&l.facts, Facts::Listener { port: Some(p), .. } if *p == i32::from(*port)),
                );
                listed(found, "elasticloadbalancing:DescribeListeners", &res.name)
            })
            .await
    }

    /// Listeners carry no awslab resource tag of their own here: they are known by load balancer
    /// and port.
    fn find_existing<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<&'w Observed> {
        let Spec::Listener {
            load_balancer,
            port,
            ..
        } = &res.spec
        else {
            return None;
        };
        let lb = bound.id(load_balancer)?;
        world.of_kind(Kind::Listener).find(|l| {
            matches!(&l.facts, Facts::Listener { load_balancer: b, port: Some(p), .. } if b == lb && *p == i32::from(*port))
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["protocol", "port", "forwards_to"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::Listener {
                protocol,
                port,
                target_group,
                ..
            },
            Facts::Listener {
                protocol: p,
                port: found_port,
                target_groups,
                ..
            },
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        vec![
            Attr::new("protocol", protocol, p.as_deref().unwrap_or("none")),
            Attr::new(
                "port",
                port,
                found_port.map_or_else(|| "none".to_owned(), |p| p.to_string()),
            ),
            Attr::new(
                "forwards_to",
                target_group,
                if target_groups.is_empty() {
                    "nothing".to_owned()
                } else {
                    sorted_labels(bound, target_groups.iter())
                },
            ),
        ]
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        cx.aws
            .elbv2
            .delete_listener()
            .listener_arn(&obs.id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("elasticloadbalancing:DeleteListener", &obs.id, e))
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::{LoadBalancer, short_name};
    use crate::aws::tags::Owner;

    #[test]
    fn names_fit_elb_limits_and_differ_per_owner() {
        let a = short_name(&Owner::new("alb-asg-web", "default"), "web-alb");
        let b = short_name(&Owner::new("alb-asg-web", "alice"), "web-alb");
        assert!(a.starts_with("web-alb-"), "{a}");
        assert_ne!(a, b);
        let long = short_name(
            &Owner::new("lab", "env"),
            "a-very-long-logical-name-for-a-target-group",
        );
        assert!(long.len() <= 32, "{long}");
        assert!(!long.starts_with('-') && !long.ends_with('-'));
    }

    #[test]
    fn network_interfaces_are_described_by_the_load_balancer_path() {
        let arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/50dc6c495c0c9188";
        assert_eq!(
            LoadBalancer::eni_description(arn).as_deref(),
            Some("ELB app/web-alb/50dc6c495c0c9188")
        );
    }
}
