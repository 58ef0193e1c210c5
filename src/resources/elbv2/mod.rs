//! Elastic Load Balancing v2: target groups, application load balancers and their listeners.
//! Load balancers and target groups carry tags (read with one `DescribeTags` per 20 ARNs) and
//! an awslab name of at most 32 characters; a hand-built one is found by its name. Listeners are
//! listed with their load balancer (one call each), known by load balancer and port, and take
//! its owner tags. Deleting a load balancer waits until its network interfaces have left the
//! subnets, which otherwise refuse to go.

mod listener;
mod load_balancer;
mod target_group;

pub use listener::{Listener, ListenerFacts, ListenerSpec};
use load_balancer::listeners_of;
pub use load_balancer::{LoadBalancer, LoadBalancerFacts, LoadBalancerSpec, url};
pub use target_group::{TargetGroup, TargetGroupFacts, TargetGroupSpec};

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
use crate::aws::{Aws, AwsError, Fault, created_at, listed};
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
        Scope::Owners(owners) => Scope::any_owns(owners, tags),
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

/// Adds one tag to a load balancer or target group (`up --ttl`).
async fn add_tag(aws: &Aws, arn: &str, key: &str, value: &str) -> Result<super::Stamped, AwsError> {
    aws.known("elasticloadbalancing:AddTags", arn, || {
        aws.elbv2
            .add_tags()
            .resource_arns(arn)
            .tags(
                aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build(),
            )
            .send()
    })
    .await?;
    Ok(super::Stamped::Done)
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
