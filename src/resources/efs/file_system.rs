//! EFS file systems: encryption, performance mode and the lifecycle policy.

use super::*;
use crate::quota::Quota;

/// What a lab file declares for an EFS file system.
#[derive(Debug, Clone)]
pub struct FileSystemSpec {
    pub encrypted: bool,
    pub performance_mode: String,
    /// `AFTER_30_DAYS` and the like: the lifecycle policy.
    pub transition_to_ia: Option<String>,
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
        Self::gone(&self.state)
    }
}

impl FileSystemFacts {
    /// Going or gone: nothing to bind to, nothing left to delete (discovery leaves these out).
    pub fn gone(state: &str) -> bool {
        matches!(state, "deleting" | "deleted")
    }
}

/// The keys of an `efs_file_system` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct FileSystemKeys {
    /// Encrypt the file system at rest.
    #[schemars(with = "Option<bool>")]
    pub encrypted: Option<toml::Spanned<bool>>,
    /// `generalPurpose` or `maxIO`.
    #[schemars(with = "Option<String>")]
    pub performance_mode: Option<toml::Spanned<String>>,
    /// When files move to Infrequent Access, e.g. `AFTER_30_DAYS`.
    #[schemars(with = "Option<String>")]
    pub transition_to_ia: Option<toml::Spanned<String>>,
}

impl ParseSpec for FileSystemSpec {
    type Keys = FileSystemKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &FileSystemKeys) -> Self {
        let performance_mode = d
            .performance_mode
            .as_ref()
            .map_or_else(|| "generalPurpose".to_owned(), |m| m.get_ref().clone());
        if !["generalPurpose", "maxIO"].contains(&performance_mode.as_str()) {
            let span = d
                .performance_mode
                .as_ref()
                .map_or(name.span(), Spanned::span);
            cx.error(
                span,
                format!("unknown performance mode `{performance_mode}`"),
                "invalid mode",
            );
            cx.help("generalPurpose or maxIO");
        }
        let transition_to_ia = d.transition_to_ia.as_ref().and_then(|t| {
            if IA_TRANSITIONS.contains(&t.get_ref().as_str()) {
                Some(t.get_ref().clone())
            } else {
                cx.error(
                    t.span(),
                    format!("unknown transition `{}`", t.get_ref()),
                    "invalid transition",
                );
                cx.help(format!("one of: {}", IA_TRANSITIONS.join(", ")));
                None
            }
        });
        FileSystemSpec {
            encrypted: d.encrypted.as_ref().is_none_or(|e| *e.get_ref()),
            performance_mode,
            transition_to_ia,
        }
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

    fn quota_needs(&self, _res: &Resource, _lab: &crate::lab::Lab) -> Vec<(Quota, u32)> {
        vec![(Quota::EfsFileSystems, 1)]
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

    fn placement(&self) -> crate::resources::Placement {
        crate::resources::Placement::Regional
    }

    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::Named
    }

    async fn stamp(
        &self,
        aws: &Aws,
        obs: &Observed,
        key: &str,
        value: &str,
    ) -> Result<crate::resources::Stamped, AwsError> {
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
        Ok(crate::resources::Stamped::Done)
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
        let FileSystemSpec {
            encrypted,
            performance_mode,
            transition_to_ia,
        } = crate::resources::spec_of(res)?;
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

    /// What it stores is not in AWS's description of it: priced by the lab only (`cost`).
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
