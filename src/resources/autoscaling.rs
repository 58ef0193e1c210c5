//! Auto Scaling groups and their target-tracking policies. A group is tagged at creation, and
//! its tags propagate to the instances it launches (so `status`, `down` and the cost see them);
//! awslab's group is named `awslab-<lab>-<env>-<name>`, a hand-built one is found by its name.
//! Policies carry no tags: they are listed with their group (one call for the region) and known
//! by group. `down` drains a group (desired 0, wait for its instances to terminate) before
//! deleting it, so no instance outlives it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    LaunchTemplateSpecification, MetricType, PredefinedMetricSpecification, Tag,
    TargetTrackingConfiguration,
};

use super::ec2util::subnet_vpcs;
use super::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, GroupInstance, Observed, Poll, ResourceKind, Scope,
    Waiter, World,
};
use crate::aws::tags::{self, Owner, Tags};
use crate::aws::{Aws, AwsError};
use crate::lab::{Kind, Resource, Spec};

/// The group name awslab gives an owner's group (unique in the region).
pub fn name_of(owner: &Owner, logical: &str) -> String {
    super::iam::name_of(owner, logical)
}

/// The policy name awslab gives. AWS keys policies by group and name; moto by name alone in
/// the region, so the name carries lab and env too (two envs' policies never collide).
fn policy_name(owner: &Owner, logical: &str) -> String {
    name_of(owner, logical)
}

/// A group on its way out (`Delete in progress`).
fn deleting(g: &Observed) -> bool {
    matches!(&g.facts, Facts::AutoScalingGroup { status: Some(s), .. } if s.starts_with("Delete"))
}

fn wrong(res: &Resource, what: &str) -> AwsError {
    AwsError::other("apply", &res.name, "WrongKind", format!("not a {what}"))
}

fn observe(
    g: &aws_sdk_autoscaling::types::AutoScalingGroup,
    vpcs: &BTreeMap<String, String>,
) -> Option<Observed> {
    let name = g.auto_scaling_group_name()?.to_owned();
    let mut t: Tags = g
        .tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    t.entry(tags::NAME.to_owned())
        .or_insert_with(|| name.clone());
    let subnets: Vec<String> = g
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Some(Observed {
        kind: Kind::AutoScalingGroup,
        id: name,
        tags: t,
        facts: Facts::AutoScalingGroup {
            vpc_id: subnets.iter().find_map(|s| vpcs.get(s).cloned()),
            subnets,
            min_size: g.min_size().unwrap_or(0),
            max_size: g.max_size().unwrap_or(0),
            desired_capacity: g.desired_capacity().unwrap_or(0),
            target_groups: g.target_group_arns().to_vec(),
            health_check_type: g.health_check_type().unwrap_or("EC2").to_owned(),
            launch_template: g
                .launch_template()
                .and_then(|l| l.launch_template_id())
                .map(str::to_owned),
            instances: g
                .instances()
                .iter()
                .filter_map(|i| {
                    Some(GroupInstance {
                        id: i.instance_id()?.to_owned(),
                        az: i.availability_zone().map(str::to_owned),
                        lifecycle: i
                            .lifecycle_state()
                            .map_or_else(String::new, |s| s.as_str().to_owned()),
                        health: i.health_status().unwrap_or_default().to_owned(),
                    })
                })
                .collect(),
            status: g.status().map(str::to_owned),
        },
    })
}

/// Groups by name (all of them when `names` is empty), with their VPCs.
async fn groups(aws: &Aws, names: &[String]) -> Result<Vec<Observed>, AwsError> {
    let all = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .set_auto_scaling_group_names((!names.is_empty()).then(|| names.to_vec()))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| {
            AwsError::from_sdk(
                "autoscaling:DescribeAutoScalingGroups",
                "Auto Scaling groups",
                e,
            )
        })?;
    let subnet_ids: Vec<String> = all
        .iter()
        .flat_map(|g| {
            g.vpc_zone_identifier()
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let vpcs = subnet_vpcs(aws, subnet_ids).await?;
    Ok(all.iter().filter_map(|g| observe(g, &vpcs)).collect())
}

/// The target-tracking policies of these groups (one listing of the region's policies), with
/// their group's owner tags.
async fn policies(aws: &Aws, of: &[Observed]) -> Result<Vec<Observed>, AwsError> {
    if of.is_empty() {
        return Ok(Vec::new());
    }
    let all = aws
        .autoscaling
        .describe_policies()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("autoscaling:DescribePolicies", "scaling policies", e))?;
    Ok(all
        .iter()
        .filter_map(|p| {
            let group = of
                .iter()
                .find(|g| Some(g.id.as_str()) == p.auto_scaling_group_name())?;
            let mut owner_tags = tags::owner_part(&group.tags);
            // For messages: the policy's own name.
            owner_tags.insert(
                tags::NAME.to_owned(),
                p.policy_name().unwrap_or_default().to_owned(),
            );
            let tracking = p.target_tracking_configuration();
            Some(Observed {
                kind: Kind::ScalingPolicy,
                id: p.policy_arn()?.to_owned(),
                tags: owner_tags,
                facts: Facts::ScalingPolicy {
                    group: group.id.clone(),
                    name: p.policy_name().unwrap_or_default().to_owned(),
                    policy_type: p.policy_type().unwrap_or("SimpleScaling").to_owned(),
                    metric: tracking
                        .and_then(|t| t.predefined_metric_specification())
                        .and_then(|m| m.predefined_metric_type())
                        .map(|m| m.as_str().to_owned()),
                    target: tracking.and_then(|t| t.target_value()),
                },
            })
        })
        .collect())
}

/// How long `down` waits for a drained group's instances before deleting it with force.
const DRAIN_WAIT: Duration = Duration::from_secs(300);

/// A new group's instances in service: launched and running, about a minute.
const IN_SERVICE: Duration = Duration::from_secs(60);
/// A drained group's instances deregistered (30 s delay) and terminated: about 1.5 minutes.
const DRAINED: Duration = Duration::from_secs(90);
/// A group with no instances deleted: seconds.
const DELETED: Duration = Duration::from_secs(10);

/// The tag Auto Scaling puts on the instances it launches.
const GROUP_TAG: &str = "aws:autoscaling:groupName";

/// The ids of the instances among `items` that an Auto Scaling group launched: listed by a group
/// among `items`, or tagged with their group's name. They carry the group's propagated tags as
/// they were at their launch.
pub fn launched_instances(items: &[Observed]) -> BTreeSet<&str> {
    let listed = items
        .iter()
        .flat_map(|o| match &o.facts {
            Facts::AutoScalingGroup { instances, .. } => instances.as_slice(),
            _ => &[],
        })
        .map(|i| i.id.as_str());
    let tagged = items
        .iter()
        .filter(|o| o.kind == Kind::Instance && o.tags.contains_key(GROUP_TAG))
        .map(|o| o.id.as_str());
    listed.chain(tagged).collect()
}

/// The group's instances that EC2 lists as pending or running (one the group reports that EC2
/// does not list is not one to tag).
pub async fn running_instances(aws: &Aws, group: &Observed) -> Result<Vec<String>, AwsError> {
    let Facts::AutoScalingGroup { instances, .. } = &group.facts else {
        return Ok(Vec::new());
    };
    if instances.is_empty() {
        return Ok(Vec::new());
    }
    let pages = aws
        .ec2
        .describe_instances()
        .set_filters(Some(vec![
            super::ec2util::filter("instance-id", instances.iter().map(|i| i.id.clone())),
            super::ec2util::filter("instance-state-name", ["pending", "running"]),
        ]))
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", &group.id, e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.reservations())
        .flat_map(|r| r.instances())
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect())
}

pub struct AutoScalingGroup;

impl AutoScalingGroup {
    async fn describe(aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        Ok(groups(aws, &[name.to_owned()]).await?.into_iter().next())
    }

    fn in_service(o: &Observed) -> usize {
        match &o.facts {
            Facts::AutoScalingGroup { instances, .. } => instances
                .iter()
                .filter(|i| i.lifecycle == "InService")
                .count(),
            _ => 0,
        }
    }
}

#[async_trait]
impl ResourceKind for AutoScalingGroup {
    fn kind(&self) -> Kind {
        Kind::AutoScalingGroup
    }

    /// The groups in scope and their scaling policies.
    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let found = match scope {
            Scope::Named(names) | Scope::InVpcs(names) if names.is_empty() => return Ok(Vec::new()),
            // Hand-built ones, by name: the API takes names (unknown ones are left out).
            Scope::Named(names) => groups(aws, names)
                .await?
                .into_iter()
                .filter(|g| !g.tags.contains_key(tags::LAB))
                .collect(),
            Scope::InVpcs(ids) => groups(aws, &[])
                .await?
                .into_iter()
                .filter(|g| g.vpc_id().is_some_and(|v| ids.iter().any(|i| i == v)))
                .collect(),
            Scope::Owned(owner) => groups(aws, &[])
                .await?
                .into_iter()
                .filter(|g| owner.owns(&g.tags))
                .collect(),
            Scope::AnyLab => groups(aws, &[])
                .await?
                .into_iter()
                .filter(|g| g.tags.contains_key(tags::LAB))
                .collect(),
            Scope::Region => groups(aws, &[]).await?,
        };
        let found: Vec<Observed> = found.into_iter().filter(|g| !deleting(g)).collect();
        let policies = policies(aws, &found).await?;
        Ok(found.into_iter().chain(policies).collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::AutoScalingGroup {
            launch_template,
            subnets,
            min_size,
            max_size,
            desired_capacity,
            target_groups,
            health_check_type,
        } = &res.spec
        else {
            return Err(wrong(res, "Auto Scaling group"));
        };
        let subnet_ids = subnets
            .iter()
            .map(|s| cx.bound.require(s, &res.name).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let tg_arns = target_groups
            .iter()
            .map(|t| cx.bound.require(t, &res.name).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let template = LaunchTemplateSpecification::builder()
            .launch_template_id(cx.bound.require(launch_template, &res.name)?)
            .version("$Default")
            .build();
        let name = match existing {
            Some(o) => {
                let Facts::AutoScalingGroup {
                    target_groups: found_tgs,
                    ..
                } = &o.facts
                else {
                    return Err(wrong(res, "Auto Scaling group"));
                };
                let req = cx
                    .aws
                    .autoscaling
                    .update_auto_scaling_group()
                    .auto_scaling_group_name(&o.id)
                    .launch_template(template)
                    .min_size(*min_size)
                    .max_size(*max_size)
                    // Not the desired capacity: scaling moves it, and AWS keeps it within
                    // the new minimum and maximum.
                    .vpc_zone_identifier(subnet_ids.join(","))
                    .health_check_type(health_check_type);
                cx.aws
                    .known("autoscaling:UpdateAutoScalingGroup", &res.name, || {
                        req.clone().send()
                    })
                    .await?;
                let missing: Vec<String> = tg_arns
                    .iter()
                    .filter(|a| !found_tgs.contains(a))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    let req = cx
                        .aws
                        .autoscaling
                        .attach_load_balancer_target_groups()
                        .auto_scaling_group_name(&o.id)
                        .set_target_group_arns(Some(missing));
                    cx.aws
                        .known(
                            "autoscaling:AttachLoadBalancerTargetGroups",
                            &res.name,
                            || req.clone().send(),
                        )
                        .await?;
                }
                o.id.clone()
            }
            None => {
                let name = name_of(cx.owner, &res.name);
                let tags: Vec<Tag> = cx
                    .owner
                    .tags_for(&res.name)
                    .into_iter()
                    .map(|(k, v)| {
                        Tag::builder()
                            .key(k)
                            .value(v)
                            .propagate_at_launch(true)
                            .resource_id(&name)
                            .resource_type("auto-scaling-group")
                            .build()
                    })
                    .collect();
                let req = cx
                    .aws
                    .autoscaling
                    .create_auto_scaling_group()
                    .auto_scaling_group_name(&name)
                    .launch_template(template)
                    .min_size(*min_size)
                    .max_size(*max_size)
                    .desired_capacity(*desired_capacity)
                    .vpc_zone_identifier(subnet_ids.join(","))
                    .set_target_group_arns(Some(tg_arns))
                    .health_check_type(health_check_type)
                    .health_check_grace_period(300)
                    .set_tags(Some(tags));
                // A new launch template, target group or instance profile can be unknown to
                // Auto Scaling for a while: asked again.
                let created = cx
                    .aws
                    .known("autoscaling:CreateAutoScalingGroup", &res.name, || {
                        req.clone().send()
                    })
                    .await;
                match created {
                    Ok(_) => {}
                    Err(e) if e.code == "AlreadyExists" => {
                        let group = Self::describe(cx.aws, &name).await?;
                        match group {
                            // A `down` cut short left it deleting: wait it out, then create.
                            Some(g) if deleting(&g) => {
                                cx.wait
                                    .until(&res.name, "deleted", DELETED, || async {
                                        Ok(match Self::describe(cx.aws, &name).await? {
                                            Some(_) => Poll::Waiting("deleting".to_owned()),
                                            None => Poll::Done,
                                        })
                                    })
                                    .await?;
                                cx.aws
                                    .known("autoscaling:CreateAutoScalingGroup", &res.name, || {
                                        req.clone().send()
                                    })
                                    .await?;
                            }
                            // Created by an earlier call whose answer was lost: carry on with it.
                            Some(g) if cx.owner.owns(&g.tags) => {
                                cx.wait.note(format!("{name} exists already, adopting it"));
                            }
                            _ => {
                                return Err(AwsError::other(
                                    "autoscaling:CreateAutoScalingGroup",
                                    &res.name,
                                    "NotOurs",
                                    format!(
                                        "an Auto Scaling group named {name} exists and is not this env's"
                                    ),
                                ));
                            }
                        }
                    }
                    Err(e) => return Err(e),
                }
                name
            }
        };
        // A new group waits for its desired capacity; an existing one for its minimum.
        let want = usize::try_from(if existing.is_some() {
            *min_size
        } else {
            *desired_capacity
        })
        .unwrap_or(0);
        let last = std::sync::Mutex::new(None);
        let last_ref = &last;
        cx.wait
            .until(
                &res.name,
                &format!("{want} instances in service"),
                IN_SERVICE,
                || async {
                    let o = Self::describe(cx.aws, &name).await?;
                    let now = o.as_ref().map(Self::in_service);
                    if let Ok(mut l) = last_ref.lock() {
                        *l = o;
                    }
                    Ok(match now {
                        Some(n) if n >= want => Poll::Done,
                        Some(n) => Poll::Waiting(format!("{n} of {want} in service")),
                        None => Poll::Waiting("not visible yet".to_owned()),
                    })
                },
            )
            .await?;
        last.into_inner().ok().flatten().ok_or_else(|| {
            AwsError::other(
                "autoscaling:DescribeAutoScalingGroups",
                &res.name,
                "NotFound",
                "vanished while waiting",
            )
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec![
            "launch_template",
            "subnets",
            "size",
            "target_groups",
            "health_check_type",
        ]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::AutoScalingGroup {
                launch_template,
                subnets,
                min_size,
                max_size,
                desired_capacity: _,
                target_groups,
                health_check_type,
            },
            Facts::AutoScalingGroup {
                subnets: found_subnets,
                min_size: fmin,
                max_size: fmax,
                desired_capacity: fdesired,
                target_groups: found_tgs,
                health_check_type: fhealth,
                launch_template: flt,
                ..
            },
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v.dedup();
            v.join(", ")
        };
        vec![
            Attr::new(
                "launch_template",
                launch_template,
                flt.as_deref()
                    .map_or_else(|| "none".to_owned(), |t| bound.label(t)),
            ),
            Attr::new(
                "subnets",
                sorted(subnets.clone()),
                sorted(found_subnets.iter().map(|s| bound.label(s)).collect()),
            ),
            // The desired capacity is where the group starts; scaling moves it within the
            // bounds, so the bounds are what is graded.
            Attr::new(
                "size",
                format!("min {min_size} / max {max_size}"),
                if fdesired < fmin || fdesired > fmax {
                    format!("min {fmin} / max {fmax} (desired {fdesired} outside)")
                } else {
                    format!("min {fmin} / max {fmax}")
                },
            ),
            Attr::new(
                "target_groups",
                sorted(target_groups.clone()),
                sorted(found_tgs.iter().map(|t| bound.label(t)).collect()),
            ),
            // A list (`ELB,EBS`): the lab's type must be among them.
            Attr::new(
                "health_check_type",
                health_check_type,
                if fhealth.split(',').any(|t| t.trim() == health_check_type) {
                    health_check_type.clone()
                } else {
                    fhealth.clone()
                },
            ),
        ]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .of_kind(Kind::ScalingPolicy)
            .filter(|p| matches!(&p.facts, Facts::ScalingPolicy { group, .. } if *group == obs.id))
            .map(|p| p.id.clone())
            .collect()
    }

    /// Drains the group (no instance outlives it), then deletes it and waits until it is gone.
    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        cx.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&obs.id)
            .min_size(0)
            .desired_capacity(0)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("autoscaling:UpdateAutoScalingGroup", &obs.id, e))?;
        // Drained, its instances deregister from the target groups and terminate. Scale-in
        // protection, a termination hook or a warm pool can keep one: after a while the group
        // is deleted with force, which terminates what is left.
        let drain = Waiter {
            timeout: cx.wait.timeout.min(DRAIN_WAIT),
            ..cx.wait
        };
        let drained = drain
            .until(&obs.id, "drained", DRAINED, || async {
                Ok(match Self::describe(cx.aws, &obs.id).await? {
                    Some(Observed {
                        facts: Facts::AutoScalingGroup { instances, .. },
                        ..
                    }) if !instances.is_empty() => {
                        Poll::Waiting(format!("{} instances left", instances.len()))
                    }
                    _ => Poll::Done,
                })
            })
            .await;
        let force = match drained {
            Ok(()) => false,
            Err(e) if e.code == "WaitTimeout" => {
                cx.wait.note(format!(
                    "instances still there after {} s: deleting with force",
                    drain.timeout.as_secs()
                ));
                true
            }
            Err(e) => return Err(e),
        };
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .autoscaling
                    .delete_auto_scaling_group()
                    .auto_scaling_group_name(&obs.id)
                    .force_delete(force)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| {
                        AwsError::from_sdk("autoscaling:DeleteAutoScalingGroup", &obs.id, e)
                    })
            })
            .await?;
        cx.wait
            .until(&obs.id, "deleted", DELETED, || async {
                Ok(match Self::describe(cx.aws, &obs.id).await? {
                    Some(g) => Poll::Waiting(match &g.facts {
                        Facts::AutoScalingGroup {
                            status: Some(status),
                            ..
                        } => status.clone(),
                        _ => "deleting".to_owned(),
                    }),
                    None => Poll::Done,
                })
            })
            .await
    }

    fn typical(&self) -> Option<&'static str> {
        Some("instances in service in ~1-2 min")
    }
}

pub struct ScalingPolicy;

#[async_trait]
impl ResourceKind for ScalingPolicy {
    fn kind(&self) -> Kind {
        Kind::ScalingPolicy
    }

    /// Listed with their groups.
    async fn discover(&self, _aws: &Aws, _scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::ScalingPolicy { group, target_cpu } = &res.spec else {
            return Err(wrong(res, "scaling policy"));
        };
        let group_name = cx.bound.require(group, &res.name)?;
        // `PutScalingPolicy` creates or replaces: the existing policy keeps its name.
        let name = match existing.map(|o| &o.facts) {
            Some(Facts::ScalingPolicy { name, .. }) => name.clone(),
            _ => policy_name(cx.owner, &res.name),
        };
        let req = cx
            .aws
            .autoscaling
            .put_scaling_policy()
            .auto_scaling_group_name(group_name)
            .policy_name(&name)
            .policy_type("TargetTrackingScaling")
            .target_tracking_configuration(
                TargetTrackingConfiguration::builder()
                    .predefined_metric_specification(
                        PredefinedMetricSpecification::builder()
                            .predefined_metric_type(MetricType::AsgAverageCpuUtilization)
                            .build(),
                    )
                    .target_value(*target_cpu)
                    .build(),
            );
        let out = cx
            .aws
            .known("autoscaling:PutScalingPolicy", &res.name, || {
                req.clone().send()
            })
            .await?;
        Ok(Observed {
            kind: Kind::ScalingPolicy,
            id: out.policy_arn().unwrap_or(&name).to_owned(),
            tags: cx.owner.child_tags(&name),
            facts: Facts::ScalingPolicy {
                group: group_name.to_owned(),
                name,
                policy_type: "TargetTrackingScaling".to_owned(),
                metric: Some(MetricType::AsgAverageCpuUtilization.as_str().to_owned()),
                target: Some(*target_cpu),
            },
        })
    }

    /// Known by group: the target-tracking policy of the bound group (a student names theirs
    /// freely).
    fn find_existing<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<&'w Observed> {
        let Spec::ScalingPolicy { group, .. } = &res.spec else {
            return None;
        };
        let group_id = bound.id(group)?;
        let of_group = || {
            world.of_kind(Kind::ScalingPolicy).filter(
                move |p| matches!(&p.facts, Facts::ScalingPolicy { group: g, .. } if g == group_id),
            )
        };
        let mine = policy_name(owner, &res.name);
        of_group()
            .find(|p| matches!(&p.facts, Facts::ScalingPolicy { name, .. } if *name == mine))
            .or_else(|| {
                of_group().find(|p| matches!(&p.facts, Facts::ScalingPolicy { policy_type, .. } if policy_type == "TargetTrackingScaling"))
            })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["type", "metric", "target"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::ScalingPolicy { target_cpu, .. },
            Facts::ScalingPolicy {
                policy_type,
                metric,
                target,
                ..
            },
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        vec![
            Attr::new("type", "TargetTrackingScaling", policy_type),
            Attr::new(
                "metric",
                MetricType::AsgAverageCpuUtilization.as_str(),
                metric.as_deref().unwrap_or("none"),
            ),
            Attr::new(
                "target",
                format!("{target_cpu}%"),
                target.map_or_else(|| "none".to_owned(), |t| format!("{t}%")),
            ),
        ]
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let Facts::ScalingPolicy { group, name, .. } = &obs.facts else {
            return Ok(());
        };
        cx.aws
            .autoscaling
            .delete_policy()
            .auto_scaling_group_name(group)
            .policy_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("autoscaling:DeletePolicy", &obs.id, e))
    }
}
