//! Application load balancers: waited for until active, and on delete until their network
//! interfaces have left the subnets.

use super::*;
use crate::check::FoundBy;
use crate::check::Names;
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::quota::Quota;
use crate::resources::ListenerFacts;
use toml::Spanned;

/// An application load balancer.
#[derive(Debug, Clone)]
pub struct LoadBalancerSpec {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub internet_facing: bool,
}

/// What AWS says of a load balancer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadBalancerFacts {
    pub name: String,
    pub vpc_id: Option<String>,
    pub dns_name: Option<String>,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    /// `application`, `network`, `gateway`.
    pub lb_type: String,
    /// `provisioning`, `active`, …
    pub state: String,
    pub subnets: Vec<String>,
    pub azs: Vec<String>,
    pub security_groups: Vec<String>,
}

impl crate::resources::KindSpec for LoadBalancerSpec {
    fn refs(&self) -> Vec<&str> {
        let LoadBalancerSpec {
            subnets,
            security_groups,
            ..
        } = self;
        let mut out: Vec<&str> = Vec::new();
        out.extend(subnets.iter().map(String::as_str));
        out.extend(security_groups.iter().map(String::as_str));
        out
    }
}

impl crate::resources::KindFacts for LoadBalancerFacts {
    fn security_groups(&self) -> Vec<&str> {
        self.security_groups.iter().map(String::as_str).collect()
    }

    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let LoadBalancerFacts { vpc_id, .. } = self;
        vpc_id.as_deref()
    }

    fn subnet_ids(&self) -> Vec<&str> {
        let LoadBalancerFacts { subnets, .. } = self;
        subnets.iter().map(String::as_str).collect()
    }
}

/// The keys of a `load_balancer` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct LoadBalancerKeys {
    /// Subnets of the load balancer, in two or more AZs.
    #[schemars(with = "Option<Vec<String>>")]
    pub subnets: Option<Vec<toml::Spanned<String>>>,
    /// Security groups of the load balancer.
    #[schemars(with = "Option<Vec<String>>")]
    pub security_groups: Option<Vec<toml::Spanned<String>>>,
    /// `internet-facing` (the default) or `internal`.
    #[schemars(with = "Option<String>")]
    pub scheme: Option<toml::Spanned<String>>,
}

impl ParseSpec for LoadBalancerSpec {
    type Keys = LoadBalancerKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &LoadBalancerKeys) -> Self {
        let subnets = cx.subnet_refs(&d.subnets);
        if subnets.len() < 2 {
            cx.error(
                name.span(),
                format!(
                    "load balancer `{}` needs `subnets` in at least two availability zones",
                    name.get_ref()
                ),
                "an application load balancer spans two or more AZs",
            );
        }
        let internet_facing = match d.scheme.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("internet-facing") => true,
            Some("internal") => false,
            Some(other) => {
                let span = d.scheme.as_ref().map_or(name.span(), Spanned::span);
                cx.error(
                    span,
                    format!("scheme `{other}` must be `internet-facing` or `internal`"),
                    "invalid scheme",
                );
                true
            }
        };
        LoadBalancerSpec {
            subnets,
            security_groups: cx.groups(&d.security_groups),
            internet_facing,
        }
    }
}

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
        facts: Facts::LoadBalancer(LoadBalancerFacts {
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
        }),
    })
}

/// The listeners of a load balancer, with its owner tags.
pub(super) async fn listeners_of(
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
                facts: Facts::Listener(ListenerFacts {
                    load_balancer: lb.id.clone(),
                    vpc_id: lb.vpc_id().map(str::to_owned),
                    protocol: l.protocol().map(|p| p.as_str().to_owned()),
                    port: l.port(),
                    target_groups,
                }),
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
    pub(super) fn eni_description(arn: &str) -> Option<String> {
        arn.split_once(":loadbalancer/")
            .map(|(_, rest)| format!("ELB {rest}"))
    }
}

/// The URL of an internet-facing load balancer (what `up` prints at the end).
pub fn url(o: &Observed) -> Option<String> {
    match &o.facts {
        Facts::LoadBalancer(LoadBalancerFacts {
            dns_name: Some(dns),
            ..
        }) => Some(format!("http://{dns}/")),
        _ => None,
    }
}

#[async_trait]
impl ResourceKind for LoadBalancer {
    fn kind(&self) -> Kind {
        Kind::LoadBalancer
    }

    /// One Application Load Balancer (the only type a lab declares).
    fn quota_needs(&self, _res: &Resource, _lab: &crate::lab::Lab) -> Vec<(Quota, u32)> {
        vec![(Quota::ApplicationLoadBalancers, 1)]
    }

    fn price(&self, res: &Resource, _lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        if let Spec::LoadBalancer(LoadBalancerSpec {
            subnets,
            internet_facing,
            ..
        }) = &res.spec
        {
            e.load_balancer(&res.name, *internet_facing, subnets.len());
        }
    }

    fn price_observed(&self, obs: &Observed, _eips: &[&str], e: &mut crate::cost::Estimate) {
        if let Facts::LoadBalancer(LoadBalancerFacts {
            scheme, subnets, ..
        }) = &obs.facts
        {
            let name = obs.name_tag().unwrap_or(&obs.id);
            e.load_balancer(name, scheme == "internet-facing", subnets.len());
        }
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
            if let Facts::LoadBalancer(LoadBalancerFacts {
                vpc_id, subnets, ..
            }) = &mut o.facts
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
        let LoadBalancerSpec {
            subnets,
            security_groups,
            internet_facing,
        } = crate::resources::spec_of(res)?;
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
                let Facts::LoadBalancer(LoadBalancerFacts {
                    subnets: found_subnets,
                    security_groups: found_groups,
                    ..
                }) = &o.facts
                else {
                    return Err(crate::resources::wrong_spec(res, self.kind()));
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
                    AwsError::from_fault(
                        "elasticloadbalancing:CreateLoadBalancer",
                        &res.name,
                        Fault::NoArn {
                            what: "load balancer",
                        },
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
                    Facts::LoadBalancer(LoadBalancerFacts { state, .. }) => Some(state.clone()),
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
            AwsError::from_fault(
                "elasticloadbalancing:DescribeLoadBalancers",
                &res.name,
                Fault::Vanished {
                    while_waiting: true,
                },
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
            Spec::LoadBalancer(LoadBalancerSpec {
                subnets,
                security_groups,
                internet_facing,
            }),
            Facts::LoadBalancer(LoadBalancerFacts {
                scheme,
                lb_type,
                state,
                subnets: found_subnets,
                security_groups: found_groups,
                ..
            }),
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
            .filter(|l| matches!(&l.facts, Facts::Listener(ListenerFacts { load_balancer, .. }) if *load_balancer == obs.id))
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

    /// Its own name (a `Name` tag, when set, may say something else).
    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        _owner: &Owner,
        names: &Names,
    ) -> Option<FoundBy> {
        let Facts::LoadBalancer(f) = &o.facts else {
            return None;
        };
        crate::resources::named_as(o, res, names, "load balancer name", &f.name)
    }

    fn url_note(&self) -> &'static str {
        " (new instances need a minute or two to pass the health checks)"
    }

    fn url(&self, obs: &Observed, _region: &str) -> Option<String> {
        super::url(obs)
    }
}
