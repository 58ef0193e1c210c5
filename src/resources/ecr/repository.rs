//! ECR repositories: scan on push, tag mutability, encryption and the lifecycle policy.

use super::*;
use crate::check::FoundBy;
use crate::check::Names;

/// An ECR repository (its name as AWS knows it, e.g. `lab/web`), AES256-encrypted.
#[derive(Debug, Clone)]
pub struct RepositorySpec {
    pub name: String,
    pub scan_on_push: bool,
    pub immutable: bool,
    pub lifecycle: Option<crate::lab::Lifecycle>,
}

/// What AWS says of an ECR repository.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RepositoryFacts {
    pub uri: String,
    pub scan_on_push: bool,
    pub mutability: String,
    pub encryption: Option<String>,
    /// The lifecycle policy's JSON.
    pub lifecycle: Option<String>,
}

impl crate::resources::KindSpec for RepositorySpec {
    fn refs(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl crate::resources::KindFacts for RepositoryFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }
}

/// The keys of an `ecr_repository` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct RepositoryKeys {
    /// The repository's name in ECR, e.g. `lab/web` (default: the resource's name).
    #[schemars(with = "Option<String>")]
    pub repository_name: Option<toml::Spanned<String>>,
    /// Scan images for vulnerabilities when they are pushed.
    #[schemars(with = "Option<bool>")]
    pub scan_on_push: Option<toml::Spanned<bool>>,
    /// `MUTABLE` or `IMMUTABLE`.
    #[schemars(with = "Option<String>")]
    pub tag_mutability: Option<toml::Spanned<String>>,
    /// Lifecycle policy: expire untagged images after this many days.
    #[schemars(with = "Option<i64>")]
    pub expire_untagged_after_days: Option<toml::Spanned<i64>>,
    /// Lifecycle policy: keep only this many tagged images.
    #[schemars(with = "Option<i64>")]
    pub keep_last_tagged: Option<toml::Spanned<i64>>,
    /// Lifecycle policy: the tag prefix `keep_last_tagged` counts.
    #[schemars(with = "Option<String>")]
    pub tag_prefix: Option<toml::Spanned<String>>,
}

impl ParseSpec for RepositorySpec {
    type Keys = RepositoryKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &RepositoryKeys) -> Self {
        let kind = Kind::Repository;
        let repo_name = cx
            .required(name, kind, "repository_name", &d.repository_name)
            .map(|n| n.get_ref().clone())
            .unwrap_or_default();
        let valid = !repo_name.is_empty()
            && repo_name.len() <= 256
            && repo_name.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            });
        if !valid && let Some(n) = &d.repository_name {
            cx.error(
                n.span(),
                format!("`{repo_name}` is not an ECR repository name"),
                "lowercase letters, digits, `._-`, parts separated by `/`",
            );
        }
        let immutable = match d.tag_mutability.as_ref().map(|m| m.get_ref().as_str()) {
            None | Some("MUTABLE") => false,
            Some("IMMUTABLE") => true,
            Some(other) => {
                let span = d.tag_mutability.as_ref().map_or(name.span(), Spanned::span);
                cx.error(
                    span,
                    format!("tag_mutability `{other}` must be MUTABLE or IMMUTABLE"),
                    "invalid mutability",
                );
                false
            }
        };
        let count = |v: &mut SpecCx<'_, '_, '_>, s: &Option<Spanned<i64>>| -> Option<u32> {
            let s = s.as_ref()?;
            match u32::try_from(*s.get_ref()) {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    v.error(s.span(), "must be 1 or more", "invalid count");
                    None
                }
            }
        };
        let expire = count(cx, &d.expire_untagged_after_days);
        let keep = count(cx, &d.keep_last_tagged);
        let lifecycle = (expire.is_some() || keep.is_some()).then(|| Lifecycle {
            expire_untagged_after_days: expire,
            keep_last_tagged: keep,
            tag_prefix: d
                .tag_prefix
                .as_ref()
                .map_or_else(|| "v".to_owned(), |p| p.get_ref().clone()),
        });
        RepositorySpec {
            name: repo_name,
            scan_on_push: d.scan_on_push.as_ref().is_some_and(|b| *b.get_ref()),
            immutable,
            lifecycle,
        }
    }
}

pub struct Repository;

#[async_trait]
impl ResourceKind for Repository {
    fn kind(&self) -> Kind {
        Kind::Repository
    }

    fn price(&self, res: &Resource, _lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        e.add(
            format!(
                "ECR repository {} (${:.2}/GB-month stored; a small image: ~$0)",
                res.name,
                crate::cost::ECR_GB_MONTH
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
        let arn = aws
            .known("ecr:DescribeRepositories", &obs.id, || {
                aws.ecr
                    .describe_repositories()
                    .repository_names(&obs.id)
                    .send()
            })
            .await?
            .repositories()
            .first()
            .and_then(|r| r.repository_arn())
            .map(str::to_owned);
        if let Some(arn) = arn {
            let tag = aws_sdk_ecr::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| AwsError::from_fault("ecr:TagResource", &obs.id, Fault::BadTag(e)))?;
            aws.known("ecr:TagResource", &obs.id, || {
                aws.ecr
                    .tag_resource()
                    .resource_arn(&arn)
                    .tags(tag.clone())
                    .send()
            })
            .await?;
        }
        Ok(crate::resources::Stamped::Done)
    }

    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        match scope {
            Scope::InVpcs(_) => return Ok(Vec::new()),
            Scope::Named(n) if n.is_empty() => return Ok(Vec::new()),
            _ => {}
        }
        let all = aws
            .ecr
            .describe_repositories()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("ecr:DescribeRepositories", "repositories", e))?;
        let mut out = Vec::new();
        for r in &all {
            let name = r.repository_name().unwrap_or_default();
            if let Scope::Named(names) = scope
                && !names.iter().any(|n| n == name)
            {
                continue;
            }
            let Some(arn) = r.repository_arn() else {
                continue;
            };
            // Not visible yet right after its creation, or deleted since the listing.
            let created = created_at(r.created_at());
            let Some(t) = aws.follow_up(created, || tags_of(aws, arn)).await? else {
                continue;
            };
            let wanted = match scope {
                Scope::Owned(owner) => owner.owns(&t),
                Scope::Owners(owners) => Scope::any_owns(owners, &t),
                Scope::AnyLab => t.contains_key(tags::LAB),
                Scope::Named(_) => !t.contains_key(tags::LAB),
                _ => true,
            };
            if wanted
                && let Some(found) = aws
                    .follow_up(created, || observe(aws, r, t.clone()))
                    .await?
            {
                out.extend(found);
            }
        }
        Ok(out)
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let RepositorySpec {
            name,
            scan_on_push,
            immutable,
            lifecycle,
        } = crate::resources::spec_of(res)?;
        let ecr = &cx.aws.ecr;
        let mutability = if *immutable {
            ImageTagMutability::Immutable
        } else {
            ImageTagMutability::Mutable
        };
        let scanning = ImageScanningConfiguration::builder()
            .scan_on_push(*scan_on_push)
            .build();
        match existing.map(|o| &o.facts) {
            None => {
                let bad = |e: aws_sdk_ecr::error::BuildError| {
                    AwsError::from_fault("ecr:CreateRepository", name, Fault::Unbuilt(e))
                };
                let tags = cx
                    .owner
                    .tags_for(&res.name)
                    .into_iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(bad))
                    .collect::<Result<Vec<_>, _>>()?;
                let created = ecr
                    .create_repository()
                    .repository_name(name)
                    .image_tag_mutability(mutability)
                    .image_scanning_configuration(scanning)
                    .encryption_configuration(
                        EncryptionConfiguration::builder()
                            .encryption_type(EncryptionType::Aes256)
                            .build()
                            .map_err(bad)?,
                    )
                    .set_tags(Some(tags))
                    .send()
                    .await;
                if let Err(e) = created {
                    let mut e = AwsError::from_sdk("ecr:CreateRepository", name, e);
                    if e.aws_code() == Some("RepositoryAlreadyExistsException") {
                        e.help = Some(format!(
                            "{name} exists but is not this env's: repository names are one per account and region (another env of this lab, or one you made by hand: `awslab check` grades that one)"
                        ));
                    }
                    return Err(e);
                }
            }
            Some(Facts::Repository(RepositoryFacts {
                scan_on_push: scan,
                mutability: m,
                ..
            })) => {
                if scan != scan_on_push {
                    cx.aws
                        .known("ecr:PutImageScanningConfiguration", name, || {
                            ecr.put_image_scanning_configuration()
                                .repository_name(name)
                                .image_scanning_configuration(scanning.clone())
                                .send()
                        })
                        .await?;
                }
                if m != mutability.as_str() {
                    cx.aws
                        .known("ecr:PutImageTagMutability", name, || {
                            ecr.put_image_tag_mutability()
                                .repository_name(name)
                                .image_tag_mutability(mutability.clone())
                                .send()
                        })
                        .await?;
                }
            }
            Some(_) => return Err(crate::resources::wrong_spec(res, self.kind())),
        }
        let current = match existing.map(|o| &o.facts) {
            Some(Facts::Repository(RepositoryFacts { lifecycle: l, .. })) => {
                l.as_deref().map(lifecycle_text)
            }
            _ => None,
        };
        if let Some(l) = lifecycle
            && current.as_deref() != Some(expected_lifecycle(l).as_str())
        {
            cx.aws
                .known("ecr:PutLifecyclePolicy", name, || {
                    ecr.put_lifecycle_policy()
                        .repository_name(name)
                        .lifecycle_policy_text(lifecycle_policy(l))
                        .send()
                })
                .await?;
        }
        let tags: Tags = cx.owner.tags_for(&res.name).into_iter().collect();
        cx.aws
            .settle(|| async {
                let found = ecr
                    .describe_repositories()
                    .repository_names(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ecr:DescribeRepositories", name, e))?;
                let r = listed(
                    found.repositories().first(),
                    "ecr:DescribeRepositories",
                    name,
                )?;
                let found = observe(cx.aws, r, tags.clone())
                    .await?
                    .into_iter()
                    .find(|o| o.kind == Kind::Repository);
                listed(found, "ecr:DescribeRepositories", name)
            })
            .await
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["scan_on_push", "tag_mutability", "encryption", "lifecycle"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::Repository(RepositorySpec {
                scan_on_push,
                immutable,
                lifecycle,
                ..
            }),
            Facts::Repository(RepositoryFacts {
                scan_on_push: scan,
                mutability,
                encryption,
                lifecycle: found,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        vec![
            Attr::new("scan_on_push", scan_on_push, scan),
            Attr::new(
                "tag_mutability",
                if *immutable { "IMMUTABLE" } else { "MUTABLE" },
                mutability,
            ),
            Attr::new(
                "encryption",
                "AES256",
                encryption.as_deref().unwrap_or("AES256"),
            ),
            Attr::new(
                "lifecycle",
                lifecycle
                    .as_ref()
                    .map_or_else(|| "no rules".to_owned(), expected_lifecycle),
                found
                    .as_deref()
                    .map_or_else(|| "no rules".to_owned(), lifecycle_text),
            ),
        ]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .of_kind(Kind::Image)
            .filter(
                |i| matches!(&i.facts, Facts::Image(ImageFacts { repository, .. }) if *repository == obs.id),
            )
            .map(|i| i.id.clone())
            .collect()
    }

    /// With its images.
    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        match cx
            .aws
            .ecr
            .delete_repository()
            .repository_name(&obs.id)
            .force(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(AwsError::from_sdk("ecr:DeleteRepository", &obs.id, e)),
        }
    }

    /// The repository name the lab gives (`lab/web`).
    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        _owner: &Owner,
        names: &Names,
    ) -> Option<FoundBy> {
        let Spec::Repository(s) = &res.spec else {
            return None;
        };
        (names.of(&s.name) == o.id).then(|| FoundBy::name(&o.id, "repository name", &o.id))
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        match &res.spec {
            Spec::Repository(s) => format!("no ECR repository named `{}`", names.of(&s.name)),
            _ => crate::resources::missing_by_name(res, names),
        }
    }

    /// The repository names the lab gives (`lab/web`).
    async fn lookup_names(
        &self,
        _aws: &Aws,
        lab: &crate::lab::Lab,
        _owner: &Owner,
        names: &Names,
    ) -> Result<Vec<String>, AwsError> {
        Ok(
            names.all(lab.resources.iter().filter_map(|r| match &r.spec {
                Spec::Repository(s) => Some(s.name.as_str()),
                _ => None,
            })),
        )
    }

    /// Its registry's host is the account's.
    fn named_by_account(&self) -> bool {
        true
    }

    /// What it stores is not in AWS's description of it: priced by the lab only (`cost`).
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
