//! Instance profiles: the one role an instance takes on, under the owner's path.

use super::*;
use crate::check::FoundBy;
use crate::check::Names;

/// What a lab file declares for an instance profile.
#[derive(Debug, Clone)]
pub struct InstanceProfileSpec {
    pub role: String,
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

/// The keys of an `instance_profile` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct InstanceProfileKeys {
    /// The role (an `iam_role` resource) the profile holds.
    #[schemars(with = "Option<String>")]
    pub role: Option<toml::Spanned<String>>,
}

impl ParseSpec for InstanceProfileSpec {
    type Keys = InstanceProfileKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &InstanceProfileKeys) -> Self {
        let kind = Kind::InstanceProfile;
        let role = cx.required(name, kind, "role", &d.role).cloned();
        InstanceProfileSpec {
            role: role
                .and_then(|r| cx.reference(&r, &[Kind::IamRole]))
                .unwrap_or_default(),
        }
    }
}

pub struct InstanceProfile;

#[async_trait]
impl ResourceKind for InstanceProfile {
    fn kind(&self) -> Kind {
        Kind::InstanceProfile
    }

    fn placement(&self) -> crate::resources::Placement {
        crate::resources::Placement::Global
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
        let tag = iam_tag(&obs.id, key, value)?;
        aws.known("iam:TagInstanceProfile", &obs.id, || {
            aws.iam
                .tag_instance_profile()
                .instance_profile_name(&obs.id)
                .tags(tag.clone())
                .send()
        })
        .await?;
        Ok(crate::resources::Stamped::Done)
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
        let InstanceProfileSpec { role } = crate::resources::spec_of(res)?;
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
                crate::resources::ec2util::gone_ok(
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

    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        _owner: &Owner,
        names: &Names,
    ) -> Option<FoundBy> {
        crate::resources::named_as(o, res, names, "instance profile name", &o.id)
    }

    fn create_hint(&self, res: &Resource, _name: &str) -> String {
        super::create_hint(res)
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
