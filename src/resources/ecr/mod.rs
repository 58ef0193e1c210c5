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
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Lifecycle, Resource, Spec};
use toml::Spanned;

mod image;
mod repository;

pub use image::{Image, ImageFacts, ImageKeys, ImageSpec};
pub use repository::{Repository, RepositoryFacts, RepositoryKeys, RepositorySpec};

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
