//! IAM roles and instance profiles. IAM is global, a lab environment regional: awslab's own
//! belong to the region whose `up` made them. IAM cannot filter listings by tag, so they live
//! under the path `/awslab/<lab>/<env>/<region>/<name>/` and are named
//! `awslab-<lab>-<env>-<code>-<region>-<name>` (names are unique in the account), found with
//! one listing by path prefix; the tags are set too, for the console. Those under the path
//! without a region (`/awslab/<lab>/<env>/<name>/`, "global") belong to the env in every
//! region. A hand-built role or profile is found by its name.

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::{self, Owner, Tags};
use crate::aws::{Aws, AwsError, Fault, created_at};
use crate::lab::{Kind, Resource, Spec};
use crate::resources::InstanceFacts;

/// What a lab file declares for an IAM role.
#[derive(Debug, Clone)]
pub struct IamRoleSpec {
    /// The service that may assume it (`ec2.amazonaws.com`).
    pub service: String,
    /// Managed policy ARNs (a bare name means an AWS managed policy).
    pub managed_policies: Vec<String>,
}

/// What a lab file declares for an instance profile.
#[derive(Debug, Clone)]
pub struct InstanceProfileSpec {
    pub role: String,
}

/// What AWS says of an IAM role.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IamRoleFacts {
    pub arn: String,
    /// The trust policy as IAM returns it (URL-encoded JSON).
    pub trust: String,
    /// Attached managed policy ARNs, sorted.
    pub policies: Vec<String>,
}

impl crate::resources::KindSpec for IamRoleSpec {
    fn refs(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl crate::resources::KindFacts for IamRoleFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }
}

/// What AWS says of an instance profile.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceProfileFacts {
    pub arn: String,
    /// Role names.
    pub roles: Vec<String>,
}

impl crate::resources::KindSpec for InstanceProfileSpec {
    fn refs(&self) -> Vec<&str> {
        let InstanceProfileSpec { role } = self;
        vec![role.as_str()]
    }
}

impl crate::resources::KindFacts for InstanceProfileFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }
}

const ROOT: &str = "/awslab/";

/// The tag (and, in [`Observed::tags`], the part of the path) that names the region an IAM
/// resource belongs to; a global one has none.
pub const REGION: &str = "awslab:region";

/// The IAM path of an owner's resource made in `region`.
pub fn path_of(owner: &Owner, region: &str, logical: &str) -> String {
    format!("{ROOT}{}/{}/{region}/{logical}/", owner.lab, owner.env)
}

/// `full`, or when it is longer than 64 characters (IAM's limit, also that of launch template
/// and Auto Scaling names) its first 55 and a short, stable hash of the whole, which keeps
/// shortened names apart.
fn bounded(full: String) -> String {
    if full.chars().count() <= 64 {
        return full;
    }
    // FNV-1a.
    let hash = full.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let head: String = full.chars().take(55).collect();
    format!("{head}-{:08x}", hash & 0xffff_ffff)
}

/// One IAM tag, for `up --ttl`.
fn iam_tag(name: &str, key: &str, value: &str) -> Result<aws_sdk_iam::types::Tag, AwsError> {
    aws_sdk_iam::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| AwsError::from_fault("iam:Tag", name, Fault::BadTag(e)))
}

/// A name unique in the region, at most 64 characters (for regional kinds that take the
/// owner's name: launch templates, Auto Scaling groups, EFS creation tokens). The owner's
/// [`Owner::code`] keeps owners apart whose lab and env read alike.
pub fn name_of(owner: &Owner, logical: &str) -> String {
    bounded(format!(
        "awslab-{}-{}-{}-{logical}",
        owner.lab,
        owner.env,
        owner.code()
    ))
}

/// The name of an owner's IAM resource made in `region`: unique in the account, at most 64
/// characters.
pub fn iam_name_of(owner: &Owner, region: &str, logical: &str) -> String {
    bounded(format!(
        "awslab-{}-{}-{}-{region}-{logical}",
        owner.lab,
        owner.env,
        owner.code()
    ))
}

/// The owner tags an awslab path stands for: `/awslab/<lab>/<env>/<region>/<name>/`, or a
/// global one's `/awslab/<lab>/<env>/<name>/` (no [`REGION`]).
fn tags_from_path(path: &str) -> Tags {
    let mut t = Tags::new();
    let parts: Vec<&str> = path
        .strip_prefix(ROOT)
        .unwrap_or_default()
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let (lab, env, region, logical) = match parts.as_slice() {
        [lab, env, logical] => (lab, env, None, logical),
        [lab, env, region, logical] => (lab, env, Some(region), logical),
        _ => return t,
    };
    t.insert(tags::LAB.to_owned(), (*lab).to_owned());
    t.insert(tags::ENV.to_owned(), (*env).to_owned());
    t.insert(tags::RESOURCE.to_owned(), (*logical).to_owned());
    t.insert(tags::NAME.to_owned(), (*logical).to_owned());
    if let Some(region) = region {
        t.insert(REGION.to_owned(), (*region).to_owned());
    }
    t
}

/// The region an IAM resource of awslab's belongs to; `None`: global (made before IAM was
/// scoped to regions), or not awslab's.
pub fn region_of(o: &Observed) -> Option<&str> {
    o.tags.get(REGION).map(String::as_str)
}

/// An IAM resource of awslab's under a path without a region: the env's in every region.
pub fn is_global(o: &Observed) -> bool {
    matches!(o.kind, Kind::IamRole | Kind::InstanceProfile)
        && o.tags.contains_key(tags::LAB)
        && region_of(o).is_none()
}

/// What to list: the path prefix, names also wanted outside it, and the one region whose
/// resources are kept (global ones are kept too); `None`: nothing to ask.
struct Listing {
    prefix: String,
    names: Vec<String>,
    region: Option<String>,
}

fn listing(scope: &Scope, region: &str) -> Option<Listing> {
    let (prefix, names, region) = match scope {
        // This region's, and the global ones the env shares with every region.
        Scope::Owned(o) => (
            format!("{ROOT}{}/{}/", o.lab, o.env),
            Vec::new(),
            Some(region.to_owned()),
        ),
        // Every region's: `status` and `sweep` place them.
        Scope::AnyLab | Scope::Region => (ROOT.to_owned(), Vec::new(), None),
        // Hand-built ones, by name (awslab's own are found with `Owned`).
        Scope::Named(names) if names.is_empty() => return None,
        Scope::Named(names) => ("/".to_owned(), names.clone(), None),
        Scope::InVpcs(_) => return None,
    };
    Some(Listing {
        prefix,
        names,
        region,
    })
}

impl Listing {
    /// Filtered here too: one emulator ignores `PathPrefix` on some listings.
    fn keeps(&self, path: &str, name: &str) -> bool {
        if !self.names.is_empty() {
            return self.names.iter().any(|n| n == name);
        }
        if !path.starts_with(&self.prefix) {
            return false;
        }
        match (&self.region, tags_from_path(path).get(REGION)) {
            (Some(wanted), Some(region)) => region == wanted,
            _ => true,
        }
    }
}

/// The regions that hold IAM resources of `owner` (global ones aside), from one listing of
/// roles and one of instance profiles.
pub async fn regions_of_owner(aws: &Aws, owner: &Owner) -> Result<BTreeSet<String>, AwsError> {
    let prefix = format!("{ROOT}{}/{}/", owner.lab, owner.env);
    let (roles, profiles) = tokio::try_join!(
        async {
            aws.iam
                .list_roles()
                .path_prefix(&prefix)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| AwsError::from_sdk("iam:ListRoles", "roles", e))
        },
        async {
            aws.iam
                .list_instance_profiles()
                .path_prefix(&prefix)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| AwsError::from_sdk("iam:ListInstanceProfiles", "instance profiles", e))
        }
    )?;
    let paths = roles
        .iter()
        .map(|r| r.path())
        .chain(profiles.iter().map(|p| p.path()));
    Ok(paths
        .filter(|p| p.starts_with(&prefix))
        .filter_map(|p| tags_from_path(p).remove(REGION))
        .collect())
}

/// The owner's resource for `res`: the one made in this region (discovery lists no other
/// region's), else a global one.
fn find_regional_first<'w>(
    world: &'w World,
    owner: &Owner,
    res: &Resource,
) -> Option<&'w Observed> {
    let mut candidates = world.of_kind(res.kind()).filter(|o| {
        owner.owns(&o.tags)
            && o.tags.get(tags::RESOURCE).map(String::as_str) == Some(res.name.as_str())
    });
    let first = candidates.next()?;
    if region_of(first).is_some() {
        return Some(first);
    }
    Some(candidates.find(|o| region_of(o).is_some()).unwrap_or(first))
}

fn iam_tags(owner: &Owner, region: &str, logical: &str) -> Vec<Tag> {
    owner
        .tags_for(logical)
        .into_iter()
        .chain([(REGION.to_owned(), region.to_owned())])
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// The tags an owner's resource made in `region` is observed with.
fn observed_tags(owner: &Owner, region: &str, logical: &str) -> Tags {
    let mut t: Tags = owner.tags_for(logical).into_iter().collect();
    t.insert(REGION.to_owned(), region.to_owned());
    t
}

fn trust_policy(service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

pub struct IamRole;

impl IamRole {
    async fn attached(aws: &Aws, role: &str) -> Result<Vec<String>, AwsError> {
        let out = aws
            .iam
            .list_attached_role_policies()
            .role_name(role)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListAttachedRolePolicies", role, e))?;
        let mut arns: Vec<String> = out
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect();
        arns.sort();
        Ok(arns)
    }

    /// Whether a listing under `path` still shows the role `name`.
    async fn still_listed(aws: &Aws, path: &str, name: &str) -> Result<bool, AwsError> {
        let roles = aws
            .iam
            .list_roles()
            .path_prefix(path)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListRoles", path, e))?;
        Ok(roles.iter().any(|r| r.role_name() == name))
    }
}

#[async_trait]
impl ResourceKind for IamRole {
    fn kind(&self) -> Kind {
        Kind::IamRole
    }

    fn placement(&self) -> super::Placement {
        super::Placement::Global
    }

    async fn stamp(
        &self,
        aws: &Aws,
        obs: &Observed,
        key: &str,
        value: &str,
    ) -> Result<super::Stamped, AwsError> {
        let tag = iam_tag(&obs.id, key, value)?;
        aws.known("iam:TagRole", &obs.id, || {
            aws.iam
                .tag_role()
                .role_name(&obs.id)
                .tags(tag.clone())
                .send()
        })
        .await?;
        Ok(super::Stamped::Done)
    }

    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let Some(listing) = listing(scope, &aws.region) else {
            return Ok(Vec::new());
        };
        let roles = aws
            .iam
            .list_roles()
            .path_prefix(&listing.prefix)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListRoles", "roles", e))?;
        let mut out = Vec::new();
        for r in roles {
            if !listing.keeps(r.path(), r.role_name()) {
                continue;
            }
            // Not visible yet right after its creation, or deleted since the listing (then it
            // leaves the listing too).
            let Some(policies) = aws
                .follow_up_listed(
                    created_at(Some(r.create_date())),
                    || Self::attached(aws, r.role_name()),
                    || Self::still_listed(aws, r.path(), r.role_name()),
                )
                .await?
            else {
                continue;
            };
            let trust = r
                .assume_role_policy_document()
                .map(|d| d.replace("%2E", ".").replace("%2e", "."))
                .unwrap_or_default();
            out.push(Observed {
                kind: Kind::IamRole,
                id: r.role_name().to_owned(),
                tags: tags_from_path(r.path()),
                facts: Facts::IamRole(IamRoleFacts {
                    arn: r.arn().to_owned(),
                    trust,
                    policies,
                }),
            });
        }
        Ok(out)
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::IamRole(IamRoleSpec {
            service,
            managed_policies,
        }) = &res.spec
        else {
            return Err(super::wrong_spec(res, self.kind()));
        };
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let region = &cx.aws.region;
                let name = iam_name_of(cx.owner, region, &res.name);
                let out = cx
                    .aws
                    .iam
                    .create_role()
                    .role_name(&name)
                    .path(path_of(cx.owner, region, &res.name))
                    .assume_role_policy_document(trust_policy(service))
                    .description(format!(
                        "awslab {} env {} in {region}: {}",
                        cx.owner.lab, cx.owner.env, res.name
                    ))
                    .set_tags(Some(iam_tags(cx.owner, region, &res.name)))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:CreateRole", &res.name, e));
                let (arn, policies) = match out {
                    Ok(out) => (
                        out.role().map(|r| r.arn().to_owned()).unwrap_or_default(),
                        Vec::new(),
                    ),
                    // Made by an earlier call whose answer was lost, or listed late: carried on
                    // with when it is under this owner's path, refused otherwise.
                    Err(e) if e.aws_code() == Some("EntityAlreadyExists") => {
                        let role = cx
                            .aws
                            .known("iam:GetRole", &res.name, || {
                                cx.aws.iam.get_role().role_name(&name).send()
                            })
                            .await?;
                        let role = role.role().ok_or(e)?;
                        if role.path() != path_of(cx.owner, region, &res.name) {
                            return Err(AwsError::from_fault(
                                "iam:CreateRole",
                                &res.name,
                                Fault::NotOurs {
                                    what: "a role",
                                    name: name.clone(),
                                },
                            ));
                        }
                        cx.wait
                            .note(format!("{name} exists already, carrying on with it"));
                        (role.arn().to_owned(), Self::attached(cx.aws, &name).await?)
                    }
                    Err(e) => return Err(e),
                };
                Observed {
                    kind: Kind::IamRole,
                    id: name,
                    tags: observed_tags(cx.owner, region, &res.name),
                    facts: Facts::IamRole(IamRoleFacts {
                        arn,
                        trust: trust_policy(service),
                        policies,
                    }),
                }
            }
        };
        if let Facts::IamRole(IamRoleFacts { policies, .. }) = &mut obs.facts {
            for arn in managed_policies {
                if !policies.contains(arn) {
                    cx.aws
                        .known("iam:AttachRolePolicy", &res.name, || {
                            cx.aws
                                .iam
                                .attach_role_policy()
                                .role_name(&obs.id)
                                .policy_arn(arn)
                                .send()
                        })
                        .await?;
                    policies.push(arn.clone());
                }
            }
            policies.sort();
        }
        Ok(obs)
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["service", "managed_policies"]
    }

    fn find_existing<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        res: &Resource,
        _bound: &Bindings,
    ) -> Option<&'w Observed> {
        find_regional_first(world, owner, res)
    }

    fn compare(&self, res: &Resource, obs: &Observed, _b: &Bindings, _w: &World) -> Vec<Attr> {
        let (
            Spec::IamRole(IamRoleSpec {
                service,
                managed_policies,
            }),
            Facts::IamRole(IamRoleFacts {
                trust, policies, ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let mut want = managed_policies.clone();
        want.sort();
        let found_service = if trust.contains(service.as_str()) {
            service.clone()
        } else {
            "another principal".to_owned()
        };
        let short = |a: &String| a.rsplit('/').next().unwrap_or(a).to_owned();
        // Extra policies are the student's business; the declared ones must be there.
        let found: Vec<String> = want
            .iter()
            .filter(|w| policies.contains(w))
            .map(short)
            .collect();
        let missing: Vec<String> = want
            .iter()
            .filter(|w| !policies.contains(w))
            .map(short)
            .collect();
        let found_text = if missing.is_empty() {
            found.join(", ")
        } else {
            format!("{} (missing {})", found.join(", "), missing.join(", "))
        };
        vec![
            Attr::new("service", service, found_service),
            Attr::new(
                "managed_policies",
                want.iter().map(short).collect::<Vec<_>>().join(", "),
                found_text,
            ),
        ]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .of_kind(Kind::InstanceProfile)
            .filter(|p| matches!(&p.facts, Facts::InstanceProfile(InstanceProfileFacts { roles, .. }) if roles.contains(&obs.id)))
            .map(|p| p.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let role = obs.id.as_str();
        if let Facts::IamRole(IamRoleFacts { policies, .. }) = &obs.facts {
            for arn in policies {
                super::ec2util::gone_ok(
                    cx.aws
                        .iam
                        .detach_role_policy()
                        .role_name(role)
                        .policy_arn(arn)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("iam:DetachRolePolicy", role, e)),
                )?;
            }
        }
        // Inline policies a student may have added.
        let inline = match cx.aws.iam.list_role_policies().role_name(role).send().await {
            Ok(i) => i.policy_names().to_vec(),
            Err(e) => return Err(AwsError::from_sdk("iam:ListRolePolicies", role, e)),
        };
        {
            for p in &inline {
                super::ec2util::gone_ok(
                    cx.aws
                        .iam
                        .delete_role_policy()
                        .role_name(role)
                        .policy_name(p)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("iam:DeleteRolePolicy", role, e)),
                )?;
            }
        }
        cx.wait
            .dependency(role, || async {
                cx.aws
                    .iam
                    .delete_role()
                    .role_name(role)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| AwsError::from_sdk("iam:DeleteRole", role, e))
            })
            .await
    }
}

pub struct InstanceProfile;

#[async_trait]
impl ResourceKind for InstanceProfile {
    fn kind(&self) -> Kind {
        Kind::InstanceProfile
    }

    fn placement(&self) -> super::Placement {
        super::Placement::Global
    }

    async fn stamp(
        &self,
        aws: &Aws,
        obs: &Observed,
        key: &str,
        value: &str,
    ) -> Result<super::Stamped, AwsError> {
        let tag = iam_tag(&obs.id, key, value)?;
        aws.known("iam:TagInstanceProfile", &obs.id, || {
            aws.iam
                .tag_instance_profile()
                .instance_profile_name(&obs.id)
                .tags(tag.clone())
                .send()
        })
        .await?;
        Ok(super::Stamped::Done)
    }

    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let Some(listing) = listing(scope, &aws.region) else {
            return Ok(Vec::new());
        };
        let profiles = aws
            .iam
            .list_instance_profiles()
            .path_prefix(&listing.prefix)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListInstanceProfiles", "instance profiles", e))?;
        Ok(profiles
            .into_iter()
            .filter(|p| listing.keeps(p.path(), p.instance_profile_name()))
            .map(|p| Observed {
                kind: Kind::InstanceProfile,
                id: p.instance_profile_name().to_owned(),
                tags: tags_from_path(p.path()),
                facts: Facts::InstanceProfile(InstanceProfileFacts {
                    arn: p.arn().to_owned(),
                    roles: p.roles().iter().map(|r| r.role_name().to_owned()).collect(),
                }),
            })
            .collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::InstanceProfile(InstanceProfileSpec { role }) = &res.spec else {
            return Err(super::wrong_spec(res, self.kind()));
        };
        let role_name = cx.bound.require(role, &res.name)?.to_owned();
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let region = &cx.aws.region;
                let name = iam_name_of(cx.owner, region, &res.name);
                let out = cx
                    .aws
                    .iam
                    .create_instance_profile()
                    .instance_profile_name(&name)
                    .path(path_of(cx.owner, region, &res.name))
                    .set_tags(Some(iam_tags(cx.owner, region, &res.name)))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:CreateInstanceProfile", &res.name, e));
                let (arn, roles) = match out {
                    Ok(out) => (
                        out.instance_profile()
                            .map(|p| p.arn().to_owned())
                            .unwrap_or_default(),
                        Vec::new(),
                    ),
                    // As for roles: this owner's is carried on with, another's refused.
                    Err(e) if e.aws_code() == Some("EntityAlreadyExists") => {
                        let got = cx
                            .aws
                            .known("iam:GetInstanceProfile", &res.name, || {
                                cx.aws
                                    .iam
                                    .get_instance_profile()
                                    .instance_profile_name(&name)
                                    .send()
                            })
                            .await?;
                        let profile = got.instance_profile().ok_or(e)?;
                        if profile.path() != path_of(cx.owner, region, &res.name) {
                            return Err(AwsError::from_fault(
                                "iam:CreateInstanceProfile",
                                &res.name,
                                Fault::NotOurs {
                                    what: "an instance profile",
                                    name: name.clone(),
                                },
                            ));
                        }
                        cx.wait
                            .note(format!("{name} exists already, carrying on with it"));
                        (
                            profile.arn().to_owned(),
                            profile
                                .roles()
                                .iter()
                                .map(|r| r.role_name().to_owned())
                                .collect(),
                        )
                    }
                    Err(e) => return Err(e),
                };
                Observed {
                    kind: Kind::InstanceProfile,
                    id: name,
                    tags: observed_tags(cx.owner, region, &res.name),
                    facts: Facts::InstanceProfile(InstanceProfileFacts { arn, roles }),
                }
            }
        };
        if let Facts::InstanceProfile(InstanceProfileFacts { roles, .. }) = &mut obs.facts
            && !roles.contains(&role_name)
        {
            // A profile holds one role: take another one out first.
            for other in roles.drain(..) {
                cx.aws
                    .known("iam:RemoveRoleFromInstanceProfile", &res.name, || {
                        cx.aws
                            .iam
                            .remove_role_from_instance_profile()
                            .instance_profile_name(&obs.id)
                            .role_name(&other)
                            .send()
                    })
                    .await?;
            }
            cx.aws
                .known("iam:AddRoleToInstanceProfile", &res.name, || {
                    cx.aws
                        .iam
                        .add_role_to_instance_profile()
                        .instance_profile_name(&obs.id)
                        .role_name(&role_name)
                        .send()
                })
                .await?;
            roles.push(role_name);
        }
        Ok(obs)
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["role"]
    }

    fn find_existing<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        res: &Resource,
        _bound: &Bindings,
    ) -> Option<&'w Observed> {
        find_regional_first(world, owner, res)
    }

    fn compare(&self, res: &Resource, obs: &Observed, bound: &Bindings, _w: &World) -> Vec<Attr> {
        let (
            Spec::InstanceProfile(InstanceProfileSpec { role }),
            Facts::InstanceProfile(InstanceProfileFacts { roles, .. }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let found: Vec<String> = roles.iter().map(|r| bound.label(r)).collect();
        vec![Attr::new(
            "role",
            role,
            if found.is_empty() {
                "none".to_owned()
            } else {
                found.join(", ")
            },
        )]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        let Facts::InstanceProfile(InstanceProfileFacts { arn, .. }) = &obs.facts else {
            return Vec::new();
        };
        world
            .of_kind(Kind::Instance)
            .filter(|i| !i.is_gone())
            .filter(|i| matches!(&i.facts, Facts::Instance(InstanceFacts { instance_profile: Some(p), .. }) if p == arn))
            .map(|i| i.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let name = obs.id.as_str();
        if let Facts::InstanceProfile(InstanceProfileFacts { roles, .. }) = &obs.facts {
            for role in roles {
                super::ec2util::gone_ok(
                    cx.aws
                        .iam
                        .remove_role_from_instance_profile()
                        .instance_profile_name(name)
                        .role_name(role)
                        .send()
                        .await
                        .map_err(|e| {
                            AwsError::from_sdk("iam:RemoveRoleFromInstanceProfile", name, e)
                        }),
                )?;
            }
        }
        cx.wait
            .dependency(name, || async {
                cx.aws
                    .iam
                    .delete_instance_profile()
                    .instance_profile_name(name)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| AwsError::from_sdk("iam:DeleteInstanceProfile", name, e))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_carry_the_owner_and_region() {
        let o = Owner::new("efs-shared-storage", "alice");
        assert_eq!(
            iam_name_of(&o, "us-east-1", "ssm-role"),
            format!(
                "awslab-efs-shared-storage-alice-{}-us-east-1-ssm-role",
                o.code()
            )
        );
        // Lab and env that read alike joined by `-` still get names of their own.
        assert_ne!(
            name_of(&Owner::new("a-b", "c"), "web"),
            name_of(&Owner::new("a", "b-c"), "web")
        );
        assert_ne!(
            name_of(&Owner::new("lab", "Alice"), "web"),
            name_of(&Owner::new("lab", "alice"), "web")
        );
        assert_ne!(
            iam_name_of(&o, "us-east-1", "ssm-role"),
            iam_name_of(&o, "eu-west-1", "ssm-role")
        );
        let long = Owner::new("efs-shared-storage", &"x".repeat(40));
        let n = iam_name_of(&long, "ap-southeast-2", "ssm-role");
        assert_eq!(n.len(), 64);
        assert_ne!(n, iam_name_of(&long, "ap-southeast-1", "ssm-role"));
        assert_ne!(n, iam_name_of(&long, "ap-southeast-2", "ssm-rolf"));
        let t = tags_from_path(&path_of(&o, "eu-west-1", "ssm-role"));
        assert!(o.owns(&t));
        assert_eq!(t.get(tags::RESOURCE).map(String::as_str), Some("ssm-role"));
        assert_eq!(t.get(REGION).map(String::as_str), Some("eu-west-1"));
        // A path without a region: the owner's, in no region.
        let global = tags_from_path("/awslab/efs-shared-storage/alice/ssm-role/");
        assert!(o.owns(&global));
        assert_eq!(global.get(REGION), None);
        assert!(tags_from_path("/service-role/").is_empty());
        assert!(tags_from_path("/awslab/a/b/c/d/e/").is_empty());
    }

    #[test]
    fn an_owners_listing_keeps_its_region_and_the_global_ones() {
        let o = Owner::new("lab", "env");
        let l = listing(&Scope::Owned(o.clone()), "eu-west-1").expect("listing");
        assert!(l.keeps(&path_of(&o, "eu-west-1", "r"), "x"));
        assert!(!l.keeps(&path_of(&o, "us-east-1", "r"), "x"));
        assert!(l.keeps("/awslab/lab/env/r/", "x"));
        assert!(!l.keeps("/awslab/lab/env2/r/", "x"));
        let all = listing(&Scope::AnyLab, "eu-west-1").expect("listing");
        assert!(all.keeps(&path_of(&o, "us-east-1", "r"), "x"));
    }
}
