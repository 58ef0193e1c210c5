//! Auto Scaling groups and their target-tracking policies. A group is tagged at creation, and
//! its tags propagate to the instances it launches (so `status`, `down` and the cost see them);
//! awslab's group is named `awslab-<lab>-<env>-<name>`, a hand-built one is found by its name.
//! Policies carry no tags: they are listed with their group (one call for the region) and known
//! by group. `down` drains a group (desired 0, wait for its instances to terminate) before
//! deleting it, so no instance outlives it.

mod group;
mod policy;

pub use group::{AutoScalingGroup, AutoScalingGroupFacts, AutoScalingGroupSpec};
pub use policy::{ScalingPolicy, ScalingPolicyFacts, ScalingPolicySpec};

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
use crate::aws::{Aws, AwsError, Fault};
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
    matches!(&g.facts, Facts::AutoScalingGroup(AutoScalingGroupFacts { status: Some(s), .. }) if s.starts_with("Delete"))
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
        facts: Facts::AutoScalingGroup(AutoScalingGroupFacts {
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
        }),
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
                facts: Facts::ScalingPolicy(ScalingPolicyFacts {
                    group: group.id.clone(),
                    name: p.policy_name().unwrap_or_default().to_owned(),
                    policy_type: p.policy_type().unwrap_or("SimpleScaling").to_owned(),
                    metric: tracking
                        .and_then(|t| t.predefined_metric_specification())
                        .and_then(|m| m.predefined_metric_type())
                        .map(|m| m.as_str().to_owned()),
                    target: tracking.and_then(|t| t.target_value()),
                }),
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
            Facts::AutoScalingGroup(AutoScalingGroupFacts { instances, .. }) => {
                instances.as_slice()
            }
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
    let Facts::AutoScalingGroup(AutoScalingGroupFacts { instances, .. }) = &group.facts else {
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
