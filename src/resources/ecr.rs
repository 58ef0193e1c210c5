//! ECR: a repository with its settings (scan on push, tag mutability, encryption, a lifecycle
//! policy) and images pushed into it with `awslab push`'s code. A repository is tagged at
//! creation and named as the lab says (`lab/web`: one per account and region, so two envs of a
//! lab in one account collide, with a clear error); a hand-built one is found by its name.
//! Images are listed with their repository (`<repository>:<tag>`). `down` deletes the
//! repository with its images.

use async_trait::async_trait;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Tag,
};
use serde_json::{Value, json};

use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::{self, Owner, Tags};
use crate::aws::{Aws, AwsError, Fault, created_at, listed};
use crate::lab::{Kind, Lifecycle, Resource, Spec};

/// An ECR repository (its name as AWS knows it, e.g. `lab/web`), AES256-encrypted.
#[derive(Debug, Clone)]
pub struct RepositorySpec {
    pub name: String,
    pub scan_on_push: bool,
    pub immutable: bool,
    pub lifecycle: Option<crate::lab::Lifecycle>,
}

/// The files of a directory, packed into a one-layer image and pushed under a tag.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub repository: String,
    pub tag: String,
    pub source: String,
    pub files: Vec<crate::lab::SiteFile>,
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

/// What AWS says of an ECR image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageFacts {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub scan_status: Option<String>,
}

impl crate::resources::KindSpec for ImageSpec {
    fn refs(&self) -> Vec<&str> {
        let ImageSpec { repository, .. } = self;
        vec![repository.as_str()]
    }
}

impl crate::resources::KindFacts for ImageFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }
}

/// The lifecycle policy awslab writes: untagged images expire after N days, the last N images
/// tagged with a prefix are kept.
pub fn lifecycle_policy(l: &Lifecycle) -> String {
    let mut rules = Vec::new();
    if let Some(days) = l.expire_untagged_after_days {
        rules.push(json!({
            "rulePriority": 1,
            "description": format!("expire untagged images after {days} days"),
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": days},
            "action": {"type": "expire"}
        }));
    }
    if let Some(keep) = l.keep_last_tagged {
        rules.push(json!({
            "rulePriority": 2,
            "description": format!("keep the last {keep} images tagged {}*", l.tag_prefix),
            "selection": {"tagStatus": "tagged", "tagPrefixList": [l.tag_prefix], "countType": "imageCountMoreThan", "countNumber": keep},
            "action": {"type": "expire"}
        }));
    }
    json!({ "rules": rules }).to_string()
}

/// What a lifecycle policy does, in words (`expire untagged after 14 days; keep last 10 tagged
/// v*`), from its rules.
pub fn lifecycle_text(policy: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(policy) else {
        return "not JSON".to_owned();
    };
    let mut parts: Vec<String> = v["rules"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .filter(|r| r["action"]["type"] == "expire")
                .filter_map(|r| {
                    let s = &r["selection"];
                    let n = s["countNumber"].as_u64()?;
                    match (s["tagStatus"].as_str()?, s["countType"].as_str()?) {
                        ("untagged", "sinceImagePushed") => {
                            Some(format!("expire untagged after {n} days"))
                        }
                        ("tagged", "imageCountMoreThan") => {
                            let prefixes: Vec<&str> = s["tagPrefixList"]
                                .as_array()
                                .map(|p| p.iter().filter_map(Value::as_str).collect())
                                .unwrap_or_default();
                            Some(format!("keep last {n} tagged {}*", prefixes.join("*, ")))
                        }
                        (status, count) => Some(format!("{status} by {count} {n}")),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    if parts.is_empty() {
        "no rules".to_owned()
    } else {
        parts.join("; ")
    }
}

fn expected_lifecycle(l: &Lifecycle) -> String {
    lifecycle_text(&lifecycle_policy(l))
}

async fn lifecycle_of(aws: &Aws, name: &str) -> Result<Option<String>, AwsError> {
    match aws
        .ecr
        .get_lifecycle_policy()
        .repository_name(name)
        .send()
        .await
    {
        Ok(o) => Ok(o.lifecycle_policy_text().map(str::to_owned)),
        Err(e) => {
            let e = AwsError::from_sdk("ecr:GetLifecyclePolicy", name, e);
            if e.aws_code() == Some("LifecyclePolicyNotFoundException") || e.is_gone() {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

async fn tags_of(aws: &Aws, arn: &str) -> Result<Tags, AwsError> {
    let out = aws
        .ecr
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ecr:ListTagsForResource", arn, e))?;
    Ok(out
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect())
}

/// The repository and its tagged images.
async fn observe(
    aws: &Aws,
    r: &aws_sdk_ecr::types::Repository,
    mut tags: Tags,
) -> Result<Vec<Observed>, AwsError> {
    let name = r.repository_name().unwrap_or_default().to_owned();
    tags.entry(tags::NAME.to_owned())
        .or_insert_with(|| name.clone());
    let lifecycle = lifecycle_of(aws, &name).await?;
    let images = aws
        .ecr
        .describe_images()
        .repository_name(&name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("ecr:DescribeImages", &name, e))?;
    let owner_tags: Tags = tags::owner_part(&tags);
    let label = tags
        .get(tags::RESOURCE)
        .cloned()
        .unwrap_or_else(|| name.clone());
    let mut out = vec![Observed {
        kind: Kind::Repository,
        id: name.clone(),
        tags,
        facts: Facts::Repository(RepositoryFacts {
            uri: r.repository_uri().unwrap_or_default().to_owned(),
            scan_on_push: r
                .image_scanning_configuration()
                .is_some_and(|c| c.scan_on_push()),
            mutability: r
                .image_tag_mutability()
                .map_or_else(|| "MUTABLE".to_owned(), |m| m.as_str().to_owned()),
            encryption: r
                .encryption_configuration()
                .map(|e| e.encryption_type().as_str().to_owned()),
            lifecycle,
        }),
    }];
    for d in &images {
        for tag in d.image_tags() {
            let mut t = owner_tags.clone();
            t.insert(tags::NAME.to_owned(), format!("{label}:{tag}"));
            out.push(Observed {
                kind: Kind::Image,
                id: format!("{name}:{tag}"),
                tags: t,
                facts: Facts::Image(ImageFacts {
                    repository: name.clone(),
                    tag: tag.clone(),
                    digest: d.image_digest().unwrap_or_default().to_owned(),
                    scan_status: d
                        .image_scan_status()
                        .and_then(|s| s.status())
                        .map(|s| s.as_str().to_owned()),
                }),
            });
        }
    }
    Ok(out)
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
        Ok(super::Stamped::Done)
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
        let Spec::Repository(RepositorySpec {
            name,
            scan_on_push,
            immutable,
            lifecycle,
        }) = &res.spec
        else {
            return Err(super::wrong_spec(res, self.kind()));
        };
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
            Some(_) => return Err(super::wrong_spec(res, self.kind())),
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
}

pub struct Image;

#[async_trait]
impl ResourceKind for Image {
    fn kind(&self) -> Kind {
        Kind::Image
    }

    fn placement(&self) -> super::Placement {
        super::Placement::Child(Kind::Repository)
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

    /// Listed with their repository.
    async fn discover(&self, _aws: &Aws, _scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    /// Packs the lab's files and pushes them (`awslab push`'s code: skips what is there).
    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        _existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::Image(ImageSpec {
            repository,
            tag,
            files,
            ..
        }) = &res.spec
        else {
            return Err(super::wrong_spec(res, self.kind()));
        };
        let repo = cx.bound.require(repository, &res.name)?.to_owned();
        let image = crate::image::pack_files(
            &files
                .iter()
                .map(|f| (f.key.clone(), f.content.clone(), 0o644))
                .collect::<Vec<_>>(),
        )
        .map_err(|e| AwsError::from_fault("pack", &res.name, Fault::Io(e)))?;
        let report = |sent: u64, total: u64| {
            if total > 0 {
                cx.wait.note(format!("{sent}/{total} bytes"));
            }
        };
        let pushed = crate::push::push(cx.aws, &repo, tag, &image, true, &report)
            .await
            .map_err(crate::push::PushError::into_aws)?;
        let t = cx.owner.child_tags(&format!("{repository}:{tag}"));
        Ok(Observed {
            kind: Kind::Image,
            id: format!("{repo}:{tag}"),
            tags: t,
            facts: Facts::Image(ImageFacts {
                repository: repo,
                tag: tag.clone(),
                digest: pushed.digest,
                scan_status: None,
            }),
        })
    }

    fn find_existing<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<&'w Observed> {
        let Spec::Image(ImageSpec {
            repository, tag, ..
        }) = &res.spec
        else {
            return None;
        };
        world.get(&format!("{}:{tag}", bound.id(repository)?))
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["tag"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (Spec::Image(ImageSpec { tag, .. }), Facts::Image(ImageFacts { tag: found, .. })) =
            (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        vec![Attr::new("tag", tag, found)]
    }

    /// Goes with its repository (deleted with force).
    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let Facts::Image(ImageFacts {
            repository, tag, ..
        }) = &obs.facts
        else {
            return Ok(());
        };
        match cx
            .aws
            .ecr
            .batch_delete_image()
            .repository_name(repository)
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(tag)
                    .build(),
            )
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(AwsError::from_sdk("ecr:BatchDeleteImage", &obs.id, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{lifecycle_policy, lifecycle_text};
    use crate::lab::Lifecycle;

    #[test]
    fn lifecycle_rules_read_back_in_words() {
        let l = Lifecycle {
            expire_untagged_after_days: Some(14),
            keep_last_tagged: Some(10),
            tag_prefix: "v".to_owned(),
        };
        assert_eq!(
            lifecycle_text(&lifecycle_policy(&l)),
            "expire untagged after 14 days; keep last 10 tagged v*"
        );
        // A policy that only trims tagged images leaves untagged ones forever.
        let tagged_only = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}}]}"#;
        assert_eq!(lifecycle_text(tagged_only), "keep last 10 tagged v*");
    }
}
