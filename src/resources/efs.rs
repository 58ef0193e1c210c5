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
use crate::lab::{Kind, Resource, Spec};
use crate::resources::SubnetFacts;

/// What a lab file declares for an EFS file system.
#[derive(Debug, Clone)]
pub struct FileSystemSpec {
    pub encrypted: bool,
    pub performance_mode: String,
    /// `AFTER_30_DAYS` and the like: the lifecycle policy.
    pub transition_to_ia: Option<String>,
}

/// What a lab file declares for an EFS mount target.
#[derive(Debug, Clone)]
pub struct MountTargetSpec {
    pub file_system: String,
    pub subnet: String,
    pub security_groups: Vec<String>,
}

/// What AWS says of an EFS file system.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileSystemFacts {
    pub state: String,
    pub encrypted: bool,
    pub performance_mode: String,
    pub transition_to_ia: Option<String>,
    /// When it was made (its mount targets are no older): how long a not-found answer
    /// about it may mean "not visible yet".
    #[serde(skip)]
    pub created: Option<std::time::SystemTime>,
}

impl crate::resources::KindSpec for FileSystemSpec {
    fn refs(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl crate::resources::KindFacts for FileSystemFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }

    fn is_gone(&self) -> bool {
        let FileSystemFacts { state, .. } = self;
        state == "deleted"
    }
}

/// What AWS says of an EFS mount target.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MountTargetFacts {
    pub file_system_id: String,
    pub subnet_id: String,
    /// From the subnet (one emulator reports a fixed VPC and AZ).
    pub vpc_id: Option<String>,
    pub az: Option<String>,
    pub state: String,
    pub ip: Option<String>,
    pub security_groups: Vec<String>,
}

impl crate::resources::KindSpec for MountTargetSpec {
    fn refs(&self) -> Vec<&str> {
        let MountTargetSpec {
            file_system,
            subnet,
            security_groups,
        } = self;
        let mut out = vec![file_system.as_str(), subnet.as_str()];
        out.extend(security_groups.iter().map(String::as_str));
        out
    }
}

impl crate::resources::KindFacts for MountTargetFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let MountTargetFacts { vpc_id, .. } = self;
        vpc_id.as_deref()
    }

    fn subnet_ids(&self) -> Vec<&str> {
        let MountTargetFacts { subnet_id, .. } = self;
        vec![subnet_id]
    }

    fn is_gone(&self) -> bool {
        let MountTargetFacts { state, .. } = self;
        state == "deleted"
    }
}

/// The creation token: makes `CreateFileSystem` idempotent for one owner's file system (at most
/// 64 characters, like IAM names).
fn token(owner: &Owner, logical: &str) -> String {
    super::iam::name_of(owner, logical)
}

fn wanted(o_tags: &Tags, scope: &Scope) -> bool {
    match scope {
        Scope::Owned(owner) => owner.owns(o_tags),
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
        // Going or gone: nothing to bind to, nothing left to delete.
        if state == "deleted" || state == "deleting" {
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

pub struct FileSystem;

impl FileSystem {
    /// (id, state) of the file system with this creation token.
    async fn by_token(aws: &Aws, token: &str) -> Result<Option<(String, String)>, AwsError> {
        let found = aws
            .efs
            .describe_file_systems()
            .creation_token(token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("efs:DescribeFileSystems", token, e))?;
        Ok(found.file_systems().first().map(|f| {
            (
                f.file_system_id().to_owned(),
                f.life_cycle_state().as_str().to_owned(),
            )
        }))
    }

    /// Carries on with a file system of this owner's token that already exists.
    async fn adopt(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        id: String,
    ) -> Result<Observed, AwsError> {
        let existing = Observed {
            kind: Kind::FileSystem,
            id,
            tags: cx.owner.tags_for(&res.name).into_iter().collect(),
            facts: Facts::FileSystem(FileSystemFacts {
                state: "creating".to_owned(),
                encrypted: true,
                performance_mode: String::new(),
                transition_to_ia: None,
                created: Some(std::time::SystemTime::now()),
            }),
        };
        self.apply(cx, res, Some(&existing)).await
    }

    async fn state(aws: &Aws, id: &str) -> Result<Option<String>, AwsError> {
        match aws
            .efs
            .describe_file_systems()
            .file_system_id(id)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .file_systems()
                .first()
                .map(|f| f.life_cycle_state().as_str().to_owned())),
            Err(e) => {
                let e = AwsError::from_sdk("efs:DescribeFileSystems", id, e);
                if e.is_gone() { Ok(None) } else { Err(e) }
            }
        }
    }
}

#[async_trait]
impl ResourceKind for FileSystem {
    fn kind(&self) -> Kind {
        Kind::FileSystem
    }

    /// Billed by what is stored: an empty lab file system costs nothing per hour.
    fn price(&self, res: &Resource, _lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        e.add(
            format!(
                "EFS file system {} (${:.2}/GB-month stored; empty: $0)",
                res.name,
                crate::cost::EFS_GB_MONTH
            ),
            0.0,
        );
    }

    fn placement(&self) -> super::Placement {
        super::Placement::Regional
    }

    async fn stamp(
        &self,
        aws: &Aws,
        obs: &Observed,
        key: &str,
        value: &str,
    ) -> Result<super::Stamped, AwsError> {
        let tag = aws_sdk_efs::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .map_err(|e| AwsError::from_fault("efs:TagResource", &obs.id, Fault::BadTag(e)))?;
        aws.known("efs:TagResource", &obs.id, || {
            aws.efs
                .tag_resource()
                .resource_id(&obs.id)
                .tags(tag.clone())
                .send()
        })
        .await?;
        Ok(super::Stamped::Done)
    }

    /// The file systems in scope *and their mount targets* (one listing, then the mount targets
    /// of each, placed by their subnets): mount targets carry no tags, so they are only found
    /// through their file systems, and listing them here once spares a second scan.
    ///
    /// A VPC scope finds only the mount targets in those VPCs, never a file system: a file
    /// system (and its data) is found by its tags or its name. `down` of a lab-owned VPC
    /// deletes the mount targets a student made there, which is all the VPC needs, and leaves
    /// the student's file system.
    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let Scope::InVpcs(ids) = scope else {
            let systems = file_systems(aws, scope, true).await?;
            let targets = mount_targets_placed(aws, &systems).await?;
            return Ok(systems.into_iter().chain(targets).collect());
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let systems = file_systems(aws, &Scope::Region, false).await?;
        let mut targets = mount_targets_placed(aws, &systems).await?;
        targets.retain(|m| m.vpc_id().is_some_and(|v| ids.iter().any(|i| i == v)));
        Ok(targets)
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::FileSystem(FileSystemSpec {
            encrypted,
            performance_mode,
            transition_to_ia,
        }) = &res.spec
        else {
            return Err(super::wrong_spec(res, self.kind()));
        };
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let tags: Vec<Tag> = cx
                    .owner
                    .tags_for(&res.name)
                    .into_iter()
                    .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
                    .collect();
                let create = || {
                    cx.aws
                        .efs
                        .create_file_system()
                        .creation_token(token(cx.owner, &res.name))
                        .encrypted(*encrypted)
                        .performance_mode(PerformanceMode::from(performance_mode.as_str()))
                        .set_tags(Some(tags.clone()))
                        .send()
                };
                let out = match create().await {
                    Ok(out) => out,
                    Err(e) => {
                        let e = AwsError::from_sdk("efs:CreateFileSystem", &res.name, e);
                        if e.aws_code() != Some("FileSystemAlreadyExists") {
                            return Err(e);
                        }
                        // The token is taken: by this owner's file system from a call that did
                        // succeed (adopt it), or by its previous one still being deleted (wait
                        // until it is gone, then create again).
                        let token = token(cx.owner, &res.name);
                        if let Some((id, state)) = Self::by_token(cx.aws, &token).await?
                            && state != "deleting"
                        {
                            cx.wait
                                .note(format!("adopting {id}, created by an earlier call"));
                            return self.adopt(cx, res, id).await;
                        }
                        cx.wait
                            .until(&res.name, "deleted", FS_DELETED, || async {
                                Ok(match Self::by_token(cx.aws, &token).await? {
                                    Some((_, state)) if state != "deleted" => Poll::Waiting(state),
                                    _ => Poll::Done,
                                })
                            })
                            .await?;
                        create()
                            .await
                            .map_err(|e| AwsError::from_sdk("efs:CreateFileSystem", &res.name, e))?
                    }
                };
                Observed {
                    kind: Kind::FileSystem,
                    id: out.file_system_id().to_owned(),
                    tags: cx.owner.tags_for(&res.name).into_iter().collect(),
                    facts: Facts::FileSystem(FileSystemFacts {
                        state: out.life_cycle_state().as_str().to_owned(),
                        encrypted: out.encrypted().unwrap_or(*encrypted),
                        performance_mode: out.performance_mode().as_str().to_owned(),
                        transition_to_ia: None,
                        created: created_at(Some(out.creation_time()))
                            .or_else(|| Some(std::time::SystemTime::now())),
                    }),
                }
            }
        };
        let id = obs.id.clone();
        cx.wait
            .until(&res.name, "available", FS_AVAILABLE, || async {
                Ok(available(Self::state(cx.aws, &id).await?))
            })
            .await?;
        if let Facts::FileSystem(FileSystemFacts {
            state,
            transition_to_ia: current,
            ..
        }) = &mut obs.facts
        {
            *state = "available".to_owned();
            if current != transition_to_ia {
                let policies = transition_to_ia
                    .iter()
                    .map(|t| {
                        LifecyclePolicy::builder()
                            .transition_to_ia(TransitionToIaRules::from(t.as_str()))
                            .build()
                    })
                    .collect();
                let req = cx
                    .aws
                    .efs
                    .put_lifecycle_configuration()
                    .file_system_id(&id)
                    .set_lifecycle_policies(Some(policies));
                cx.aws
                    .known("efs:PutLifecycleConfiguration", &res.name, || {
                        req.clone().send()
                    })
                    .await?;
                current.clone_from(transition_to_ia);
            }
        }
        Ok(obs)
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["encrypted", "performance_mode", "transition_to_ia"]
    }

    fn compare(&self, res: &Resource, obs: &Observed, _b: &Bindings, _w: &World) -> Vec<Attr> {
        let (
            Spec::FileSystem(FileSystemSpec {
                encrypted,
                performance_mode,
                transition_to_ia,
            }),
            Facts::FileSystem(FileSystemFacts {
                encrypted: e,
                performance_mode: m,
                transition_to_ia: t,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let none = || "none".to_owned();
        vec![
            Attr::new("encrypted", encrypted, e),
            Attr::new("performance_mode", performance_mode, m),
            Attr::new(
                "transition_to_ia",
                transition_to_ia.clone().unwrap_or_else(none),
                t.clone().unwrap_or_else(none),
            ),
        ]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .of_kind(Kind::MountTarget)
            .filter(|m| matches!(&m.facts, Facts::MountTarget(MountTargetFacts { file_system_id, .. }) if *file_system_id == obs.id))
            .map(|m| m.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let id = obs.id.as_str();
        // FileSystemInUse while mount targets are still being deleted.
        cx.wait
            .dependency(id, || async {
                cx.aws
                    .efs
                    .delete_file_system()
                    .file_system_id(id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| AwsError::from_sdk("efs:DeleteFileSystem", id, e))
            })
            .await?;
        cx.wait
            .until(id, "deleted", FS_DELETED, || async {
                Ok(deleted(Self::state(cx.aws, id).await?))
            })
            .await
    }

    fn typical(&self) -> Option<&'static str> {
        Some("available in ~10 s")
    }
}

pub struct MountTarget;

impl MountTarget {
    /// The mount targets of one file system, with their security groups; AZ and VPC from the
    /// subnet when it is known.
    async fn of(aws: &Aws, fs: &Observed) -> Result<Vec<Observed>, AwsError> {
        // Mount targets are no older than their file system: not found is "not visible yet"
        // only while the file system is new.
        let created = match &fs.facts {
            Facts::FileSystem(FileSystemFacts { created, .. }) => *created,
            _ => None,
        };
        let out = aws
            .follow_up(created, || async {
                aws.efs
                    .describe_mount_targets()
                    .file_system_id(&fs.id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("efs:DescribeMountTargets", &fs.id, e))
            })
            .await?;
        let Some(out) = out else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for m in out.mount_targets() {
            let state = m.life_cycle_state().as_str().to_owned();
            if state == "deleted" || state == "deleting" {
                continue;
            }
            let id = m.mount_target_id().to_owned();
            // One being made may be new to this call; one already listed as available is not.
            let fresh = (state == "creating")
                .then(std::time::SystemTime::now)
                .or(created);
            let groups = aws
                .follow_up(fresh, || async {
                    aws.efs
                        .describe_mount_target_security_groups()
                        .mount_target_id(&id)
                        .send()
                        .await
                        .map_err(|e| {
                            AwsError::from_sdk("efs:DescribeMountTargetSecurityGroups", &id, e)
                        })
                })
                .await;
            let security_groups = match groups {
                Ok(Some(g)) => g.security_groups().to_vec(),
                Ok(None) => continue,
                // A mount target still being created has no network interface to ask about.
                Err(e) if e.class == crate::aws::ErrorClass::Dependency => Vec::new(),
                Err(e) => return Err(e),
            };
            // Owner tags of the file system (mount targets have none of their own).
            let tags: Tags = fs
                .tags
                .iter()
                .filter(|(k, _)| [tags::LAB, tags::ENV].contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            found.push(Observed {
                kind: Kind::MountTarget,
                id,
                tags,
                facts: Facts::MountTarget(MountTargetFacts {
                    file_system_id: fs.id.clone(),
                    subnet_id: m.subnet_id().to_owned(),
                    vpc_id: m.vpc_id().map(str::to_owned),
                    az: m.availability_zone_name().map(str::to_owned),
                    state,
                    ip: m.ip_address().map(str::to_owned),
                    security_groups,
                }),
            });
        }
        Ok(found)
    }

    async fn state(aws: &Aws, id: &str) -> Result<Option<String>, AwsError> {
        match aws
            .efs
            .describe_mount_targets()
            .mount_target_id(id)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .mount_targets()
                .first()
                .map(|m| m.life_cycle_state().as_str().to_owned())),
            Err(e) => {
                let e = AwsError::from_sdk("efs:DescribeMountTargets", id, e);
                if e.is_gone() { Ok(None) } else { Err(e) }
            }
        }
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
        .set_filters(Some(vec![super::ec2util::filter("subnet-id", subnet_ids)]))
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

#[async_trait]
impl ResourceKind for MountTarget {
    fn kind(&self) -> Kind {
        Kind::MountTarget
    }

    /// Each has a network interface in its subnet.
    fn lives_in_vpc(&self) -> bool {
        true
    }

    fn placement(&self) -> super::Placement {
        super::Placement::Child(Kind::FileSystem)
    }

    async fn stamp(
        &self,
        _aws: &Aws,
        _obs: &Observed,
        _key: &str,
        _value: &str,
    ) -> Result<super::Stamped, AwsError> {
        Ok(super::Stamped::WithParent)
    }

    /// Found with their file systems ([`FileSystem`]'s discover returns both).
    async fn discover(&self, _aws: &Aws, _scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::MountTarget(MountTargetSpec {
            file_system,
            subnet,
            security_groups,
        }) = &res.spec
        else {
            return Err(super::wrong_spec(res, self.kind()));
        };
        let fs_id = cx.bound.require(file_system, &res.name)?.to_owned();
        let subnet_id = cx.bound.require(subnet, &res.name)?.to_owned();
        let mut groups = Vec::new();
        for g in security_groups {
            groups.push(cx.bound.require(g, &res.name)?.to_owned());
        }
        let subnet_facts = cx.bound.get(subnet).map(|s| s.facts.clone());
        let (vpc_id, az) = match subnet_facts {
            Some(Facts::Subnet(SubnetFacts { vpc_id, az, .. })) => (vpc_id, az),
            _ => (None, None),
        };
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let req = cx
                    .aws
                    .efs
                    .create_mount_target()
                    .file_system_id(&fs_id)
                    .subnet_id(&subnet_id)
                    .set_security_groups(Some(groups.clone()));
                let out = cx
                    .aws
                    .known("efs:CreateMountTarget", &res.name, || req.clone().send())
                    .await?;
                Observed {
                    kind: Kind::MountTarget,
                    id: out.mount_target_id().to_owned(),
                    tags: [
                        (tags::LAB.to_owned(), cx.owner.lab.clone()),
                        (tags::ENV.to_owned(), cx.owner.env.clone()),
                    ]
                    .into_iter()
                    .collect(),
                    facts: Facts::MountTarget(MountTargetFacts {
                        file_system_id: fs_id.clone(),
                        subnet_id: subnet_id.clone(),
                        vpc_id: vpc_id.clone(),
                        az: az.clone(),
                        state: out.life_cycle_state().as_str().to_owned(),
                        ip: out.ip_address().map(str::to_owned),
                        security_groups: groups.clone(),
                    }),
                }
            }
        };
        let id = obs.id.clone();
        cx.wait
            .until(&res.name, "available", MT_AVAILABLE, || async {
                Ok(available(Self::state(cx.aws, &id).await?))
            })
            .await?;
        if let Facts::MountTarget(MountTargetFacts {
            state,
            security_groups: current,
            ..
        }) = &mut obs.facts
        {
            *state = "available".to_owned();
            let mut want = groups.clone();
            want.sort();
            let mut have = current.clone();
            have.sort();
            if want != have {
                let req = cx
                    .aws
                    .efs
                    .modify_mount_target_security_groups()
                    .mount_target_id(&id)
                    .set_security_groups(Some(groups));
                cx.aws
                    .known("efs:ModifyMountTargetSecurityGroups", &res.name, || {
                        req.clone().send()
                    })
                    .await?;
                *current = want;
            }
        }
        Ok(obs)
    }

    fn find_existing<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<&'w Observed> {
        let Spec::MountTarget(MountTargetSpec {
            file_system,
            subnet,
            ..
        }) = &res.spec
        else {
            return None;
        };
        let (fs, sn) = (bound.id(file_system)?, bound.id(subnet)?);
        world.of_kind(Kind::MountTarget).find(|m| {
            owner.owns(&m.tags)
                && matches!(&m.facts, Facts::MountTarget(MountTargetFacts { file_system_id, subnet_id, .. }) if file_system_id == fs && subnet_id == sn)
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["file_system", "subnet", "security_groups", "state"]
    }

    fn compare(&self, res: &Resource, obs: &Observed, bound: &Bindings, _w: &World) -> Vec<Attr> {
        let (
            Spec::MountTarget(MountTargetSpec {
                file_system,
                subnet,
                security_groups,
            }),
            Facts::MountTarget(MountTargetFacts {
                file_system_id,
                subnet_id,
                security_groups: found,
                state,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let mut want = security_groups.clone();
        want.sort();
        let mut have: Vec<String> = found.iter().map(|g| bound.label(g)).collect();
        have.sort();
        vec![
            Attr::new("file_system", file_system, bound.label(file_system_id)),
            Attr::new("subnet", subnet, bound.label(subnet_id)),
            Attr::new("security_groups", want.join(", "), have.join(", ")),
            Attr::new("state", "available", state),
        ]
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let id = obs.id.as_str();
        cx.aws
            .efs
            .delete_mount_target()
            .mount_target_id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("efs:DeleteMountTarget", id, e))?;
        // Its network interface must leave the subnet and the security groups first.
        cx.wait
            .until(id, "deleted", MT_DELETED, || async {
                Ok(deleted(Self::state(cx.aws, id).await?))
            })
            .await
    }

    fn typical(&self) -> Option<&'static str> {
        Some("available in ~1-2 min")
    }
}
