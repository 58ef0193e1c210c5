//! EFS mount targets: one per subnet, with its security groups.

use super::*;
use crate::check::Names;
use crate::lab::Lab;

/// What a lab file declares for an EFS mount target.
#[derive(Debug, Clone)]
pub struct MountTargetSpec {
    pub file_system: String,
    pub subnet: String,
    pub security_groups: Vec<String>,
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
    fn security_groups(&self) -> Vec<&str> {
        self.security_groups.iter().map(String::as_str).collect()
    }

    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let MountTargetFacts { vpc_id, .. } = self;
        vpc_id.as_deref()
    }

    fn subnet_ids(&self) -> Vec<&str> {
        let MountTargetFacts { subnet_id, .. } = self;
        vec![subnet_id]
    }

    fn is_gone(&self) -> bool {
        Self::gone(&self.state)
    }
}

impl MountTargetFacts {
    /// Going or gone: nothing to bind to, nothing left to delete (discovery leaves these out).
    pub fn gone(state: &str) -> bool {
        matches!(state, "deleting" | "deleted")
    }
}

/// The keys of an `efs_mount_target` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct MountTargetKeys {
    /// The file system (an `efs_file_system` resource).
    #[schemars(with = "Option<String>")]
    pub file_system: Option<toml::Spanned<String>>,
    /// The subnet the mount target is in (one per AZ).
    #[schemars(with = "Option<String>")]
    pub subnet: Option<toml::Spanned<String>>,
    /// Security groups of the mount target (allow NFS, TCP 2049, from the instances).
    #[schemars(with = "Option<Vec<String>>")]
    pub security_groups: Option<Vec<toml::Spanned<String>>>,
}

impl ParseSpec for MountTargetSpec {
    type Keys = MountTargetKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &MountTargetKeys) -> Self {
        let kind = Kind::MountTarget;
        let fs = cx
            .required(name, kind, "file_system", &d.file_system)
            .cloned();
        let subnet = cx.required(name, kind, "subnet", &d.subnet).cloned();
        MountTargetSpec {
            file_system: fs
                .and_then(|f| cx.reference(&f, &[Kind::FileSystem]))
                .unwrap_or_default(),
            subnet: subnet
                .and_then(|s| cx.reference(&s, &[Kind::Subnet]))
                .unwrap_or_default(),
            security_groups: cx.groups(&d.security_groups),
        }
    }
}

pub struct MountTarget;

impl MountTarget {
    /// The mount targets of one file system, with their security groups; AZ and VPC from the
    /// subnet when it is known.
    pub(super) async fn of(aws: &Aws, fs: &Observed) -> Result<Vec<Observed>, AwsError> {
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
            if MountTargetFacts::gone(&state) {
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

#[async_trait]
impl ResourceKind for MountTarget {
    fn kind(&self) -> Kind {
        Kind::MountTarget
    }

    /// Each has a network interface in its subnet.
    fn lives_in_vpc(&self) -> bool {
        true
    }

    fn placement(&self) -> crate::resources::Placement {
        crate::resources::Placement::Child(Kind::FileSystem)
    }

    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::WithParent
    }

    async fn stamp(
        &self,
        _aws: &Aws,
        _obs: &Observed,
        _key: &str,
        _value: &str,
    ) -> Result<crate::resources::Stamped, AwsError> {
        Ok(crate::resources::Stamped::WithParent)
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
        let MountTargetSpec {
            file_system,
            subnet,
            security_groups,
        } = crate::resources::spec_of(res)?;
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

    fn related<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        _lab: &Lab,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        let Spec::MountTarget(s) = &res.spec else {
            return None;
        };
        let (fs, sn) = (bound.id(&s.file_system)?, bound.id(&s.subnet)?);
        world
            .of_kind(Kind::MountTarget)
            .find(|m| matches!(&m.facts, Facts::MountTarget(f) if f.file_system_id == fs && f.subnet_id == sn))
            .map(|m| (m, format!("as the mount target of {} in {}", s.file_system, s.subnet)))
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        match &res.spec {
            Spec::MountTarget(s) => {
                format!("{} has no mount target in {}", s.file_system, s.subnet)
            }
            _ => crate::resources::missing_by_name(res, names),
        }
    }

    /// Mount targets carry no tags: they are known by file system and subnet.
    fn create_hint(&self, res: &Resource, name: &str) -> String {
        match &res.spec {
            Spec::MountTarget(s) => format!(
                "create a mount target of {} in {} with the security group {}",
                s.file_system,
                s.subnet,
                s.security_groups.join(", ")
            ),
            _ => format!("create the mount target `{}` (Name tag `{name}`)", res.name),
        }
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
