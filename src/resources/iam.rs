//! IAM roles and instance profiles (global, not regional). IAM cannot filter listings by tag, so
//! awslab puts its own under the path `/awslab/<lab>/<env>/<name>/` and finds them with one
//! listing by path prefix; the tags are set too, for the console. A hand-built role or profile
//! is found by its name.

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::{self, Owner, Tags};
use crate::aws::{Aws, AwsError, created_at};
use crate::lab::{Kind, Resource, Spec};

const ROOT: &str = "/awslab/";

/// The IAM path of an owner's resource.
pub fn path_of(owner: &Owner, logical: &str) -> String {
    format!("{ROOT}{}/{}/{logical}/", owner.lab, owner.env)
}

/// A name unique in the account, at most 64 characters (IAM's limit).
pub fn name_of(owner: &Owner, logical: &str) -> String {
    let full = format!("awslab-{}-{}-{logical}", owner.lab, owner.env);
    if full.len() <= 64 {
        return full;
    }
    // FNV-1a: a short, stable suffix keeps truncated names apart.
    let hash = full.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{}-{:08x}", &full[..55], hash & 0xffff_ffff)
}

/// The owner tags an awslab path stands for (`/awslab/<lab>/<env>/<name>/`).
fn tags_from_path(path: &str) -> Tags {
    let mut t = Tags::new();
    let parts: Vec<&str> = path
        .strip_prefix(ROOT)
        .unwrap_or_default()
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    if let [lab, env, logical] = parts.as_slice() {
        t.insert(tags::LAB.to_owned(), (*lab).to_owned());
        t.insert(tags::ENV.to_owned(), (*env).to_owned());
        t.insert(tags::RESOURCE.to_owned(), (*logical).to_owned());
        t.insert(tags::NAME.to_owned(), (*logical).to_owned());
    }
    t
}

/// The path prefix to list, and names also wanted outside it; `None`: nothing to ask.
fn listing(scope: &Scope) -> Option<(String, Vec<String>)> {
    match scope {
        Scope::Owned(o) => Some((format!("{ROOT}{}/{}/", o.lab, o.env), Vec::new())),
        Scope::AnyLab | Scope::Region => Some((ROOT.to_owned(), Vec::new())),
        // Hand-built ones, by name (awslab's own are found with `Owned`).
        Scope::Named(names) if names.is_empty() => None,
        Scope::Named(names) => Some(("/".to_owned(), names.clone())),
        Scope::InVpcs(_) => None,
    }
}

/// Filtered here too: one emulator ignores `PathPrefix` on some listings.
fn keep(path: &str, name: &str, prefix: &str, names: &[String]) -> bool {
    if names.is_empty() {
        path.starts_with(prefix)
    } else {
        names.iter().any(|n| n == name)
    }
}

fn iam_tags(owner: &Owner, logical: &str) -> Vec<Tag> {
    owner
        .tags_for(logical)
        .into_iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
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
}

#[async_trait]
impl ResourceKind for IamRole {
    fn kind(&self) -> Kind {
        Kind::IamRole
    }

    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let Some((prefix, names)) = listing(scope) else {
            return Ok(Vec::new());
        };
        let roles = aws
            .iam
            .list_roles()
            .path_prefix(&prefix)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListRoles", "roles", e))?;
        let mut out = Vec::new();
        for r in roles {
            if !keep(r.path(), r.role_name(), &prefix, &names) {
                continue;
            }
            // Not visible yet right after its creation, or deleted since the listing.
            let Some(policies) = aws
                .follow_up(created_at(Some(r.create_date())), || {
                    Self::attached(aws, r.role_name())
                })
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
                facts: Facts::IamRole {
                    arn: r.arn().to_owned(),
                    trust,
                    policies,
                },
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
        let Spec::IamRole {
            service,
            managed_policies,
        } = &res.spec
        else {
            return Err(AwsError::other(
                "apply",
                &res.name,
                "WrongKind",
                "not an IAM role",
            ));
        };
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let name = name_of(cx.owner, &res.name);
                let out = cx
                    .aws
                    .iam
                    .create_role()
                    .role_name(&name)
                    .path(path_of(cx.owner, &res.name))
                    .assume_role_policy_document(trust_policy(service))
                    .description(format!(
                        "awslab {} env {}: {}",
                        cx.owner.lab, cx.owner.env, res.name
                    ))
                    .set_tags(Some(iam_tags(cx.owner, &res.name)))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:CreateRole", &res.name, e))?;
                Observed {
                    kind: Kind::IamRole,
                    id: name,
                    tags: cx.owner.tags_for(&res.name).into_iter().collect(),
                    facts: Facts::IamRole {
                        arn: out.role().map(|r| r.arn().to_owned()).unwrap_or_default(),
                        trust: trust_policy(service),
                        policies: Vec::new(),
                    },
                }
            }
        };
        if let Facts::IamRole { policies, .. } = &mut obs.facts {
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

    fn compare(&self, res: &Resource, obs: &Observed, _b: &Bindings, _w: &World) -> Vec<Attr> {
        let (
            Spec::IamRole {
                service,
                managed_policies,
            },
            Facts::IamRole {
                trust, policies, ..
            },
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
            .filter(|p| matches!(&p.facts, Facts::InstanceProfile { roles, .. } if roles.contains(&obs.id)))
            .map(|p| p.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let role = obs.id.as_str();
        if let Facts::IamRole { policies, .. } = &obs.facts {
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

    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let Some((prefix, names)) = listing(scope) else {
            return Ok(Vec::new());
        };
        let profiles = aws
            .iam
            .list_instance_profiles()
            .path_prefix(&prefix)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListInstanceProfiles", "instance profiles", e))?;
        Ok(profiles
            .into_iter()
            .filter(|p| keep(p.path(), p.instance_profile_name(), &prefix, &names))
            .map(|p| Observed {
                kind: Kind::InstanceProfile,
                id: p.instance_profile_name().to_owned(),
                tags: tags_from_path(p.path()),
                facts: Facts::InstanceProfile {
                    arn: p.arn().to_owned(),
                    roles: p.roles().iter().map(|r| r.role_name().to_owned()).collect(),
                },
            })
            .collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::InstanceProfile { role } = &res.spec else {
            return Err(AwsError::other(
                "apply",
                &res.name,
                "WrongKind",
                "not an instance profile",
            ));
        };
        let role_name = cx.bound.require(role, &res.name)?.to_owned();
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let name = name_of(cx.owner, &res.name);
                let out = cx
                    .aws
                    .iam
                    .create_instance_profile()
                    .instance_profile_name(&name)
                    .path(path_of(cx.owner, &res.name))
                    .set_tags(Some(iam_tags(cx.owner, &res.name)))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:CreateInstanceProfile", &res.name, e))?;
                Observed {
                    kind: Kind::InstanceProfile,
                    id: name,
                    tags: cx.owner.tags_for(&res.name).into_iter().collect(),
                    facts: Facts::InstanceProfile {
                        arn: out
                            .instance_profile()
                            .map(|p| p.arn().to_owned())
                            .unwrap_or_default(),
                        roles: Vec::new(),
                    },
                }
            }
        };
        if let Facts::InstanceProfile { roles, .. } = &mut obs.facts
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

    fn compare(&self, res: &Resource, obs: &Observed, bound: &Bindings, _w: &World) -> Vec<Attr> {
        let (Spec::InstanceProfile { role }, Facts::InstanceProfile { roles, .. }) =
            (&res.spec, &obs.facts)
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
        let Facts::InstanceProfile { arn, .. } = &obs.facts else {
            return Vec::new();
        };
        world
            .of_kind(Kind::Instance)
            .filter(|i| !i.is_gone())
            .filter(|i| matches!(&i.facts, Facts::Instance { instance_profile: Some(p), .. } if p == arn))
            .map(|i| i.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let name = obs.id.as_str();
        if let Facts::InstanceProfile { roles, .. } = &obs.facts {
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
    fn names_and_paths_carry_the_owner() {
        let o = Owner::new("efs-shared-storage", "alice");
        assert_eq!(
            name_of(&o, "ssm-role"),
            "awslab-efs-shared-storage-alice-ssm-role"
        );
        let long = Owner::new("efs-shared-storage", &"x".repeat(40));
        let n = name_of(&long, "ssm-role");
        assert_eq!(n.len(), 64);
        assert_ne!(n, name_of(&long, "ssm-rolf"));
        let t = tags_from_path(&path_of(&o, "ssm-role"));
        assert!(o.owns(&t));
        assert_eq!(t.get(tags::RESOURCE).map(String::as_str), Some("ssm-role"));
        assert!(tags_from_path("/service-role/").is_empty());
    }
}
