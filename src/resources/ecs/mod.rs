//! ECS on Fargate: clusters, task definitions (a family and its revisions) and services. Each
//! is tagged at creation and named from its owner ([`super::iam::name_of`]: unique per lab, env
//! and account, so a class's envs never collide); a hand-built one is found by the name the lab
//! gives it. Services carry tags of their own but are listed with their cluster (there is no
//! listing of services across clusters), and a service's tasks run in the VPC: a VPC's
//! teardown finds the services in its subnets, whoever made them, since their network
//! interfaces hold the subnets.

use async_trait::async_trait;
use aws_sdk_ecs::types::Tag;

use super::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, Poll, ResourceKind, Scope, World,
};
use crate::aws::tags::{self, Owner, Tags};
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource, Spec};
use toml::Spanned;

mod cluster;
mod service;
mod task_definition;

pub use cluster::{EcsCluster, EcsClusterFacts, EcsClusterKeys, EcsClusterSpec};
pub use service::{EcsService, EcsServiceFacts, EcsServiceKeys, EcsServiceSpec};
pub use task_definition::{
    ContainerFacts, EcsTaskDefinition, EcsTaskDefinitionFacts, EcsTaskDefinitionKeys,
    EcsTaskDefinitionSpec, TaskImage,
};

/// The name awslab gives an owner's cluster, family or service.
pub fn ecs_name(owner: &Owner, logical: &str) -> String {
    super::iam::name_of(owner, logical)
}

/// The owner's tags (and its stamps) as ECS takes them.
fn ecs_tags(owner: &Owner, logical: &str) -> Vec<Tag> {
    owner
        .tags_for(logical)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Adds `key = value` to the ECS resource `arn` (`up --ttl`).
async fn tag_arn(aws: &Aws, arn: &str, key: &str, value: &str) -> Result<(), AwsError> {
    let tag = Tag::builder().key(key).value(value).build();
    aws.known("ecs:TagResource", arn, || {
        aws.ecs
            .tag_resource()
            .resource_arn(arn)
            .tags(tag.clone())
            .send()
    })
    .await?;
    Ok(())
}

fn tags_from(t: &[Tag]) -> Tags {
    t.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

/// Whether a resource with these tags and this name is in scope: an owner's by tags, a
/// hand-built one (no awslab tags) by its name.
fn wanted(t: &Tags, name: &str, scope: &Scope) -> bool {
    match scope {
        Scope::Owned(owner) => owner.owns(t),
        Scope::Owners(owners) => Scope::any_owns(owners, t),
        Scope::AnyLab => t.contains_key(tags::LAB),
        Scope::Named(names) => !t.contains_key(tags::LAB) && names.iter().any(|n| n == name),
        Scope::Region | Scope::InVpcs(_) => true,
    }
}

/// Tags with a `Name` (the resource's own name when it has no Name tag), for messages and for
/// finding hand-built resources.
fn named(mut t: Tags, name: &str) -> Tags {
    t.entry(tags::NAME.to_owned())
        .or_insert_with(|| name.to_owned());
    t
}

/// The last part of an ARN (`.../cluster/web` -> `web`; `.../task-definition/web:3` -> `web:3`).
pub fn arn_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// `ecs:Op` errors with the resource's name.
fn sdk<E, R>(
    op: &'static str,
    resource: &str,
) -> impl FnOnce(aws_sdk_ecs::error::SdkError<E, R>) -> AwsError
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let resource = resource.to_owned();
    move |e| AwsError::from_sdk(op, &resource, e)
}
