//! EFS file systems (with their lifecycle policy) and mount targets. File systems carry tags;
//! mount targets cannot, so they are found through their file system and the subnet they are in,
//! and take its owner tags. A mount target's AZ and VPC are read from its subnet: one emulator
//! reports them wrong. Deletes wait: mount targets until gone (their network interfaces leave
//! the subnet and the security groups), then the file system.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_efs::types::{LifecyclePolicy, PerformanceMode, Tag, TransitionToIaRules};

use super::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, Poll, ResourceKind, Scope, World,
};
use crate::aws::tags::{self, Owner, Tags};
use crate::aws::{Aws, AwsError, Fault, created_at};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource, Spec};
use crate::resources::SubnetFacts;
use toml::Spanned;

mod file_system;
mod mount_target;

pub use file_system::{FileSystem, FileSystemFacts, FileSystemKeys, FileSystemSpec};
pub use mount_target::{MountTarget, MountTargetFacts, MountTargetKeys, MountTargetSpec};

/// EFS lifecycle transitions (`TransitionToIA`).
const IA_TRANSITIONS: &[&str] = &[
    "AFTER_1_DAY",
    "AFTER_7_DAYS",
    "AFTER_14_DAYS",
    "AFTER_30_DAYS",
    "AFTER_60_DAYS",
    "AFTER_90_DAYS",
    "AFTER_180_DAYS",
    "AFTER_270_DAYS",
    "AFTER_365_DAYS",
];

/// The creation token: makes `CreateFileSystem` idempotent for one owner's file system (at most
/// 64 characters, like IAM names).
fn token(owner: &Owner, logical: &str) -> String {
    super::iam::name_of(owner, logical)
}

fn wanted(o_tags: &Tags, scope: &Scope) -> bool {
    match scope {
        Scope::Owned(owner) => owner.owns(o_tags),
        Scope::Owners(owners) => Scope::any_owns(owners, o_tags),
        Scope::AnyLab => o_tags.contains_key(tags::LAB),
        // Hand-built ones, by name (awslab's own, of this or any env, are not: `Owned` finds
        // this env's).
        Scope::Named(names) => {
            !o_tags.contains_key(tags::LAB)
                && o_tags
                    .get(tags::NAME)
                    .is_some_and(|n| names.iter().any(|x| x == n))
        }
        Scope::Region | Scope::InVpcs(_) => true,
    }
}

/// Every file system in scope (one paginated call), with its lifecycle policy when asked (one
/// call per file system; mount target discovery does not need it).
async fn file_systems(
    aws: &Aws,
    scope: &Scope,
    with_lifecycle: bool,
) -> Result<Vec<Observed>, AwsError> {
    let all = aws
        .efs
        .describe_file_systems()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("efs:DescribeFileSystems", "file systems", e))?;
    let mut out = Vec::new();
    for fs in all {
        let tags: Tags = fs
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        if !wanted(&tags, scope) {
            continue;
        }
        let state = fs.life_cycle_state().as_str().to_owned();
        if FileSystemFacts::gone(&state) {
            continue;
        }
        let id = fs.file_system_id().to_owned();
        if !with_lifecycle {
            out.push(Observed {
                kind: Kind::FileSystem,
                id,
                tags,
                facts: Facts::FileSystem(FileSystemFacts {
                    state,
                    encrypted: fs.encrypted().unwrap_or(false),
                    performance_mode: fs.performance_mode().as_str().to_owned(),
                    transition_to_ia: None,
                    created: created_at(Some(fs.creation_time())),
                }),
            });
            continue;
        }
        let lifecycle = aws
            .follow_up(created_at(Some(fs.creation_time())), || async {
                aws.efs
                    .describe_lifecycle_configuration()
                    .file_system_id(&id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("efs:DescribeLifecycleConfiguration", &id, e))
            })
            .await;
        let transition_to_ia = match lifecycle {
            Ok(Some(l)) => l
                .lifecycle_policies()
                .iter()
                .find_map(|p| p.transition_to_ia().map(|t| t.as_str().to_owned())),
            Ok(None) => continue,
            Err(e) => return Err(e),
        };
        out.push(Observed {
            kind: Kind::FileSystem,
            id,
            tags,
            facts: Facts::FileSystem(FileSystemFacts {
                state,
                encrypted: fs.encrypted().unwrap_or(false),
                performance_mode: fs.performance_mode().as_str().to_owned(),
                transition_to_ia,
                created: created_at(Some(fs.creation_time())),
            }),
        });
    }
    Ok(out)
}

/// A file system `creating` to `available`: seconds.
const FS_AVAILABLE: Duration = Duration::from_secs(10);
/// A file system `deleting` to gone: seconds.
const FS_DELETED: Duration = Duration::from_secs(10);
/// A mount target `creating` to `available`: one to two minutes.
const MT_AVAILABLE: Duration = Duration::from_secs(90);
/// A mount target `deleting` to gone, its network interface released: about a minute.
const MT_DELETED: Duration = Duration::from_secs(60);

/// A poll of a life-cycle state until `available` (`None`: not visible yet).
fn available(state: Option<String>) -> Poll {
    match state {
        Some(s) if s == "available" => Poll::Done,
        Some(s) => Poll::Waiting(s),
        None => Poll::Waiting("not visible yet".to_owned()),
    }
}

/// A poll of a life-cycle state until gone (`None`: AWS no longer knows it).
fn deleted(state: Option<String>) -> Poll {
    match state {
        Some(s) if s != "deleted" => Poll::Waiting(s),
        _ => Poll::Done,
    }
}

/// The mount targets of these file systems, with VPC and AZ read from their subnets (one
/// `DescribeSubnets` for all of them).
async fn mount_targets_placed(aws: &Aws, systems: &[Observed]) -> Result<Vec<Observed>, AwsError> {
    let mut targets = Vec::new();
    for fs in systems {
        targets.extend(MountTarget::of(aws, fs).await?);
    }
    let subnet_ids: Vec<String> = targets
        .iter()
        .filter_map(|m| m.subnet_id().map(str::to_owned))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if subnet_ids.is_empty() {
        return Ok(targets);
    }
    let subnets = aws
        .ec2
        .describe_subnets()
        .set_filters(Some(vec![crate::resources::ec2util::filter(
            "subnet-id",
            subnet_ids,
        )]))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeSubnets", "mount target subnets", e))?;
    for m in &mut targets {
        if let Facts::MountTarget(MountTargetFacts {
            subnet_id,
            vpc_id,
            az,
            ..
        }) = &mut m.facts
            && let Some(s) = subnets
                .subnets()
                .iter()
                .find(|s| s.subnet_id() == Some(subnet_id.as_str()))
        {
            *vpc_id = s.vpc_id().map(str::to_owned);
            *az = s.availability_zone().map(str::to_owned);
        }
    }
    Ok(targets)
}
