//! IAM roles: a service trust policy and managed policies, under the owner's path.

use super::*;
use crate::check::FoundBy;
use crate::check::Names;

/// What a lab file declares for an IAM role.
#[derive(Debug, Clone)]
pub struct IamRoleSpec {
    /// The service that may assume it (`ec2.amazonaws.com`).
    pub service: String,
    /// Managed policy ARNs (a bare name means an AWS managed policy).
    pub managed_policies: Vec<String>,
    /// The role holds these policies and nothing more (no other managed or inline policy).
    pub exclusive: bool,
}

/// What AWS says of an IAM role.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IamRoleFacts {
    pub arn: String,
    /// The trust policy as IAM returns it (URL-encoded JSON).
    pub trust: String,
    /// Attached managed policy ARNs, sorted.
    pub policies: Vec<String>,
    /// Inline policy names, when read (`check` of a role that must hold nothing more).
    pub inline: Option<Vec<String>>,
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

/// The keys of an `iam_role` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct IamRoleKeys {
    /// The AWS service principal that may assume the role, e.g. `ec2.amazonaws.com`.
    #[schemars(with = "Option<String>")]
    pub service: Option<toml::Spanned<String>>,
    /// ARNs of managed policies attached to the role.
    #[schemars(with = "Option<Vec<String>>")]
    pub managed_policies: Option<Vec<toml::Spanned<String>>>,
    /// The role must hold these policies and nothing more: `check` fails on any other managed
    /// or inline policy (least privilege, e.g. a task role).
    #[schemars(with = "Option<bool>")]
    pub exclusive: Option<toml::Spanned<bool>>,
}

impl ParseSpec for IamRoleSpec {
    type Keys = IamRoleKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &IamRoleKeys) -> Self {
        let service = d
            .service
            .as_ref()
            .map_or_else(|| "ec2.amazonaws.com".to_owned(), |s| s.get_ref().clone());
        if !service.ends_with(".amazonaws.com") {
            let span = d.service.as_ref().map_or(name.span(), Spanned::span);
            cx.error(
                span,
                format!("`{service}` is not an AWS service principal"),
                "invalid service",
            );
            cx.help("e.g. \"ec2.amazonaws.com\"");
        }
        let managed_policies = d
            .managed_policies
            .iter()
            .flatten()
            .map(|p| {
                let p = p.get_ref();
                if p.starts_with("arn:") {
                    p.clone()
                } else {
                    format!("arn:aws:iam::aws:policy/{p}")
                }
            })
            .collect();
        IamRoleSpec {
            service,
            managed_policies,
            exclusive: d.exclusive.as_ref().is_some_and(|e| *e.get_ref()),
        }
    }
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
        aws.known("iam:TagRole", &obs.id, || {
            aws.iam
                .tag_role()
                .role_name(&obs.id)
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
                    inline: None,
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
        let IamRoleSpec {
            service,
            managed_policies,
            ..
        } = crate::resources::spec_of(res)?;
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
                        inline: None,
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

    fn attr_keys(&self, res: &Resource) -> Vec<&'static str> {
        let mut keys = vec!["service", "managed_policies"];
        if matches!(
            &res.spec,
            Spec::IamRole(IamRoleSpec {
                exclusive: true,
                ..
            })
        ) {
            keys.push("other_policies");
        }
        keys
    }

    /// Its inline policies (one call): what a role that must hold nothing more is checked for.
    async fn read_details(&self, aws: &Aws, obs: &mut Observed) -> Result<(), AwsError> {
        let names = aws
            .known("iam:ListRolePolicies", &obs.id, || {
                aws.iam.list_role_policies().role_name(&obs.id).send()
            })
            .await?
            .policy_names()
            .to_vec();
        if let Facts::IamRole(f) = &mut obs.facts {
            f.inline = Some(names);
        }
        Ok(())
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
                exclusive,
            }),
            Facts::IamRole(IamRoleFacts {
                trust,
                policies,
                inline,
                ..
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
        let mut attrs = vec![
            Attr::new("service", service, found_service),
            Attr::new(
                "managed_policies",
                want.iter().map(short).collect::<Vec<_>>().join(", "),
                found_text,
            ),
        ];
        if *exclusive {
            let mut others: Vec<String> = policies
                .iter()
                .filter(|p| !want.contains(p))
                .map(short)
                .chain(inline.iter().flatten().map(|i| format!("{i} (inline)")))
                .collect();
            others.sort();
            attrs.push(Attr::new(
                "other_policies",
                "none",
                if others.is_empty() {
                    "none".to_owned()
                } else {
                    others.join(", ")
                },
            ));
        }
        attrs
    }

    fn attr_hint(&self, res: &Resource, attr: &Attr) -> Option<String> {
        (attr.key == "other_policies").then(|| {
            format!(
                "remove {} from {}: the role grants only what the lab needs (least privilege)",
                attr.found, res.name
            )
        })
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
                crate::resources::ec2util::gone_ok(
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
                crate::resources::ec2util::gone_ok(
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

    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        _owner: &Owner,
        names: &Names,
    ) -> Option<FoundBy> {
        crate::resources::named_as(o, res, names, "role name", &o.id)
    }

    fn create_hint(&self, res: &Resource, _name: &str) -> String {
        super::create_hint(res)
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
