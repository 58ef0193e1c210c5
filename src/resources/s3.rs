//! S3: a bucket with its settings (versioning, default encryption, object ownership, Block Public
//! Access), and what hangs off it: the bucket policy, the website configuration and the objects
//! uploaded from a directory. Bucket names are global, so awslab derives one per lab resource,
//! env and account (`site-alice-123456789012`) — the name the student is told to use, and how a
//! hand-built bucket is found. The policy, website and objects have no identity of their own:
//! they are listed with their bucket (`<bucket>/policy`, …) and take its owner tags. Deleting a
//! bucket first deletes every object version and delete marker.

use std::collections::BTreeMap;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ErrorDocument, IndexDocument, ObjectIdentifier, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration, WebsiteConfiguration,
};
use md5::{Digest, Md5};
use serde::Serialize;

use super::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, Waiter, World,
};
use crate::aws::tags::{self, Owner, Tags};
use crate::aws::{Aws, AwsError, created_at, listed};
use crate::lab::{Kind, PublicAccess, Resource, SiteFile, Spec};

/// The bucket name of an owner's bucket: `<logical>-<env>-<account>`, lowercase, at most 63
/// characters (a hash keeps long ones apart).
/// A name part as S3 allows it: lowercase letters, digits and `-`.
fn clean(s: &str) -> String {
    s.to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// `…-123456789012`: a name awslab may have given.
fn ends_in_account(name: &str) -> bool {
    name.rsplit_once('-')
        .is_some_and(|(_, a)| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()))
}

pub fn bucket_name(owner: &Owner, logical: &str, account: &str) -> String {
    let full = format!("{}-{}-{account}", clean(logical), clean(&owner.env));
    if full.len() <= 63 {
        return full;
    }
    let hash = full.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let keep = 63 - account.len() - 10;
    format!(
        "{}-{:08x}-{account}",
        full[..keep].trim_end_matches('-'),
        hash & 0xffff_ffff
    )
}

/// Whether `bucket` is the name a lab resource `logical` of this owner gets in some account.
pub fn is_name_of(bucket: &str, owner: &Owner, logical: &str) -> bool {
    let Some((head, account)) = bucket.rsplit_once('-') else {
        return false;
    };
    account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && bucket_name(owner, logical, account) == bucket
        && !head.is_empty()
}

/// The website endpoint of a bucket (virtual-hosted; the older regions spell it with a dash).
pub fn website_url(bucket: &str, region: &str) -> String {
    const DASH: &[&str] = &[
        "us-east-1",
        "us-west-1",
        "us-west-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "eu-west-1",
        "sa-east-1",
    ];
    let sep = if DASH.contains(&region) { '-' } else { '.' };
    format!("http://{bucket}.s3-website{sep}{region}.amazonaws.com/")
}

/// A file of the site as S3 lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    /// Without quotes: the MD5 of the content for a single-part upload.
    pub etag: String,
    pub content_type: Option<String>,
}

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn wrong(res: &Resource, what: &str) -> AwsError {
    AwsError::other("apply", &res.name, "WrongKind", format!("not a {what}"))
}

/// `Ok(None)` when S3 answers that the configuration is not there (`NoSuchBucketPolicy`, …).
fn absent<T>(r: Result<T, AwsError>, codes: &[&str]) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if codes.contains(&e.code.as_str()) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn tags_of(aws: &Aws, bucket: &str) -> Result<Tags, AwsError> {
    let out = absent(
        aws.s3
            .get_bucket_tagging()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("s3:GetBucketTagging", bucket, e)),
        &["NoSuchTagSet", "NoSuchTagSetError"],
    )?;
    Ok(out
        .map(|o| {
            o.tag_set()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect()
        })
        .unwrap_or_default())
}

/// Everything about one bucket: the bucket and its policy, website and objects.
async fn observe(aws: &Aws, bucket: &str, tags: Tags) -> Result<Vec<Observed>, AwsError> {
    // Seven independent reads, at once.
    let versioning = async {
        match aws.s3.get_bucket_versioning().bucket(bucket).send().await {
            Ok(v) => Ok(v
                .status()
                .map_or_else(|| "Disabled".to_owned(), |s| s.as_str().to_owned())),
            Err(e) => match versioning_from_raw(&e) {
                Some(status) => Ok(status),
                None => Err(AwsError::from_sdk("s3:GetBucketVersioning", bucket, e)),
            },
        }
    };
    let encryption = async {
        absent(
            aws.s3
                .get_bucket_encryption()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:GetBucketEncryption", bucket, e)),
            &["ServerSideEncryptionConfigurationNotFoundError"],
        )
    };
    let ownership = async {
        absent(
            aws.s3
                .get_bucket_ownership_controls()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:GetBucketOwnershipControls", bucket, e)),
            &["OwnershipControlsNotFoundError"],
        )
    };
    let block = async {
        absent(
            aws.s3
                .get_public_access_block()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:GetPublicAccessBlock", bucket, e)),
            &["NoSuchPublicAccessBlockConfiguration"],
        )
    };
    let policy = async {
        absent(
            aws.s3
                .get_bucket_policy()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:GetBucketPolicy", bucket, e)),
            &["NoSuchBucketPolicy"],
        )
    };
    let website = async {
        absent(
            aws.s3
                .get_bucket_website()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:GetBucketWebsite", bucket, e)),
            &["NoSuchWebsiteConfiguration"],
        )
    };
    let (versioning, encryption, ownership, block, policy, website, objects) = tokio::try_join!(
        versioning,
        encryption,
        ownership,
        block,
        policy,
        website,
        list_objects(aws, bucket)
    )?;
    let rule = encryption
        .as_ref()
        .and_then(|e| e.server_side_encryption_configuration())
        .and_then(|c| c.rules().first());
    let block = block
        .as_ref()
        .and_then(|b| b.public_access_block_configuration());
    let child_tags: Tags = tags::owner_part(&tags);
    let mut out = vec![Observed {
        kind: Kind::Bucket,
        id: bucket.to_owned(),
        tags: named(tags, bucket),
        facts: Facts::Bucket {
            versioning,
            sse: rule
                .and_then(|r| r.apply_server_side_encryption_by_default())
                .map(|d| d.sse_algorithm().as_str().to_owned()),
            bucket_key: rule.and_then(|r| r.bucket_key_enabled()).unwrap_or(false),
            ownership: ownership
                .as_ref()
                .and_then(|o| o.ownership_controls())
                .and_then(|c| c.rules().first())
                .map(|r| r.object_ownership().as_str().to_owned()),
            public_access: PublicAccess {
                block_public_acls: block.and_then(|b| b.block_public_acls()).unwrap_or(false),
                ignore_public_acls: block.and_then(|b| b.ignore_public_acls()).unwrap_or(false),
                block_public_policy: block.and_then(|b| b.block_public_policy()).unwrap_or(false),
                restrict_public_buckets: block
                    .and_then(|b| b.restrict_public_buckets())
                    .unwrap_or(false),
            },
        },
    }];
    // For messages: `site/website` (the bucket's logical name when awslab made it).
    let label = out[0]
        .tags
        .get(tags::RESOURCE)
        .cloned()
        .unwrap_or_else(|| bucket.to_owned());
    let child = |what: &str, facts: Facts| Observed {
        kind: match facts {
            Facts::BucketPolicy { .. } => Kind::BucketPolicy,
            Facts::Website { .. } => Kind::Website,
            _ => Kind::Objects,
        },
        id: format!("{bucket}/{what}"),
        tags: named(child_tags.clone(), &format!("{label}/{what}")),
        facts,
    };
    if let Some(p) = policy.as_ref().and_then(|p| p.policy()) {
        out.push(child(
            "policy",
            Facts::BucketPolicy {
                bucket: bucket.to_owned(),
                document: p.to_owned(),
            },
        ));
    }
    if let Some(w) = &website {
        out.push(child(
            "website",
            Facts::Website {
                bucket: bucket.to_owned(),
                index_document: w.index_document().map(|i| i.suffix().to_owned()),
                error_document: w.error_document().map(|e| e.key().to_owned()),
            },
        ));
    }
    out.push(child(
        "objects",
        Facts::Objects {
            bucket: bucket.to_owned(),
            objects,
        },
    ));
    Ok(out)
}

fn named(mut t: Tags, name: &str) -> Tags {
    t.entry(tags::NAME.to_owned())
        .or_insert_with(|| name.to_owned());
    t
}

/// moto 5.2 wraps `GetBucketVersioning` in `<GetBucketVersioningResponse>` where S3 answers
/// `<VersioningConfiguration>`, which the SDK refuses to parse: read the status from that known
/// shape only. An answer in S3's own shape never gets here.
fn versioning_from_raw<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> Option<String> {
    let body = std::str::from_utf8(e.raw_response()?.body().bytes()?).ok()?;
    if !body.contains("<GetBucketVersioningResponse") {
        return None;
    }
    let status = body
        .split_once("<Status>")
        .and_then(|(_, rest)| rest.split_once("</Status>"))
        .map(|(s, _)| s.to_owned());
    Some(status.unwrap_or_else(|| "Disabled".to_owned()))
}

/// The current objects, with their content types (one `HeadObject` each: listings do not carry
/// them; a lab site has a handful of files).
async fn list_objects(aws: &Aws, bucket: &str) -> Result<Vec<StoredObject>, AwsError> {
    let pages = aws
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("s3:ListObjectsV2", bucket, e))?;
    let heads = pages.iter().flat_map(|p| p.contents()).filter_map(|o| {
        let key = o.key()?.to_owned();
        let etag = o.e_tag().unwrap_or_default().trim_matches('"').to_owned();
        Some(async move {
            let head = aws
                .s3
                .head_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:HeadObject", format!("{bucket}/{key}"), e))?;
            Ok::<_, AwsError>(StoredObject {
                content_type: head.content_type().map(str::to_owned),
                key,
                etag,
            })
        })
    });
    futures::future::try_join_all(heads).await
}

/// Buckets of this client's region: name and creation time.
async fn buckets_here(aws: &Aws) -> Result<Vec<(String, Option<SystemTime>)>, AwsError> {
    // Asked by region: a bucket of another region answers only through that region's endpoint.
    let out = aws
        .s3
        .list_buckets()
        .bucket_region(&aws.region)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:ListBuckets", "buckets", e))?;
    Ok(out
        .buckets()
        .iter()
        .filter(|b| b.bucket_region().is_none_or(|r| r == aws.region))
        .filter_map(|b| Some((b.name()?.to_owned(), created_at(b.creation_date()))))
        .collect())
}

/// Answers that mean "not a bucket we can look at here": in another region (an emulator may
/// ignore the region filter), or closed to us by its policy. Such a bucket is not the lab's, so
/// discovery goes on without it.
fn not_ours_here(e: &AwsError) -> bool {
    matches!(
        e.code.as_str(),
        "PermanentRedirect" | "AuthorizationHeaderMalformed" | "AccessDenied"
    )
}

pub struct Bucket;

#[async_trait]
impl ResourceKind for Bucket {
    fn kind(&self) -> Kind {
        Kind::Bucket
    }

    /// One listing; then the tags of awslab-named candidates (`…-<account>`) or the named ones,
    /// and the settings of those in scope (a handful of calls per bucket).
    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let names = match scope {
            Scope::InVpcs(_) => return Ok(Vec::new()),
            Scope::Named(n) if n.is_empty() => return Ok(Vec::new()),
            _ => buckets_here(aws).await?,
        };
        let candidates: Vec<(String, Option<SystemTime>)> = match scope {
            Scope::Named(wanted) => names
                .into_iter()
                .filter(|(n, _)| wanted.contains(n))
                .collect(),
            Scope::Region => names,
            // awslab's names end in an account id (no STS call needed); the tags decide.
            _ => names
                .into_iter()
                .filter(|(n, _)| ends_in_account(n))
                .collect(),
        };
        let mut out = Vec::new();
        for (name, created) in candidates {
            // Not visible yet right after its creation, or deleted since the listing.
            let t = match aws.follow_up(created, || tags_of(aws, &name)).await {
                Ok(Some(t)) => t,
                Ok(None) => continue,
                Err(e) if not_ours_here(&e) => continue,
                Err(e) => return Err(e),
            };
            let wanted = match scope {
                Scope::Owned(owner) => owner.owns(&t),
                Scope::AnyLab => t.contains_key(tags::LAB),
                // Hand-built ones (awslab's own are found with `Owned`).
                Scope::Named(_) => !t.contains_key(tags::LAB),
                _ => true,
            };
            // Not visible yet right after its creation, or deleted since the listing.
            if wanted
                && let Some(found) = aws
                    .follow_up(created, || observe(aws, &name, t.clone()))
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
        let Spec::Bucket {
            versioning,
            bucket_key,
            object_ownership,
            public_access,
        } = &res.spec
        else {
            return Err(wrong(res, "bucket"));
        };
        let s3 = &cx.aws.s3;
        let name = match existing {
            Some(o) => o.id.clone(),
            None => {
                let account = cx.aws.account_id().await?;
                let name = bucket_name(cx.owner, &res.name, &account);
                let mut create = s3
                    .create_bucket()
                    .bucket(&name)
                    .object_ownership(ObjectOwnership::from(object_ownership.as_str()));
                if cx.aws.region != "us-east-1" {
                    create = create.create_bucket_configuration(
                        CreateBucketConfiguration::builder()
                            .location_constraint(BucketLocationConstraint::from(
                                cx.aws.region.as_str(),
                            ))
                            .build(),
                    );
                }
                match create.send().await {
                    Ok(_) => {}
                    // Ours already (a run cut short before the tags): carry on with it.
                    Err(e) => {
                        let e = AwsError::from_sdk("s3:CreateBucket", &name, e);
                        if e.code != "BucketAlreadyOwnedByYou" {
                            return Err(e);
                        }
                    }
                }
                name
            }
        };
        // The tags first: from here on the bucket is found by them.
        let tag_set = cx
            .owner
            .tags_for(&res.name)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AwsError::other("s3:PutBucketTagging", &name, "BadTag", e.to_string()))?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|e| AwsError::other("s3:PutBucketTagging", &name, "BadTag", e.to_string()))?;
        if existing.is_none_or(|o| !cx.owner.owns(&o.tags)) {
            cx.aws
                .known("s3:PutBucketTagging", &name, || {
                    s3.put_bucket_tagging()
                        .bucket(&name)
                        .tagging(tagging.clone())
                        .send()
                })
                .await?;
        }
        let current = existing.map(|o| &o.facts);
        let (cur_versioning, cur_key, cur_sse, cur_owner, cur_block) = match current {
            Some(Facts::Bucket {
                versioning,
                bucket_key,
                sse,
                ownership,
                public_access,
            }) => (
                versioning.as_str(),
                *bucket_key,
                sse.as_deref(),
                ownership.as_deref(),
                Some(public_access),
            ),
            _ => ("Disabled", false, None, None, None),
        };
        if cur_owner != Some(object_ownership.as_str()) {
            let rule = OwnershipControlsRule::builder()
                .object_ownership(ObjectOwnership::from(object_ownership.as_str()))
                .build()
                .map_err(|e| {
                    AwsError::other("s3:PutBucketOwnershipControls", &name, "Bad", e.to_string())
                })?;
            let controls = OwnershipControls::builder()
                .rules(rule)
                .build()
                .map_err(|e| {
                    AwsError::other("s3:PutBucketOwnershipControls", &name, "Bad", e.to_string())
                })?;
            cx.aws
                .known("s3:PutBucketOwnershipControls", &name, || {
                    s3.put_bucket_ownership_controls()
                        .bucket(&name)
                        .ownership_controls(controls.clone())
                        .send()
                })
                .await?;
        }
        if cur_block != Some(public_access) {
            cx.aws
                .known("s3:PutPublicAccessBlock", &name, || {
                    s3.put_public_access_block()
                        .bucket(&name)
                        .public_access_block_configuration(
                            PublicAccessBlockConfiguration::builder()
                                .block_public_acls(public_access.block_public_acls)
                                .ignore_public_acls(public_access.ignore_public_acls)
                                .block_public_policy(public_access.block_public_policy)
                                .restrict_public_buckets(public_access.restrict_public_buckets)
                                .build(),
                        )
                        .send()
                })
                .await?;
        }
        if cur_sse != Some("AES256") || cur_key != *bucket_key {
            let default = ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .map_err(|e| {
                    AwsError::other("s3:PutBucketEncryption", &name, "Bad", e.to_string())
                })?;
            let config = ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(default)
                        .bucket_key_enabled(*bucket_key)
                        .build(),
                )
                .build()
                .map_err(|e| {
                    AwsError::other("s3:PutBucketEncryption", &name, "Bad", e.to_string())
                })?;
            cx.aws
                .known("s3:PutBucketEncryption", &name, || {
                    s3.put_bucket_encryption()
                        .bucket(&name)
                        .server_side_encryption_configuration(config.clone())
                        .send()
                })
                .await?;
        }
        let want_versioning = if *versioning { "Enabled" } else { "Disabled" };
        // A bucket that never had versioning stays unversioned; one that had it is suspended.
        if cur_versioning != want_versioning && (*versioning || cur_versioning == "Enabled") {
            let status = if *versioning {
                BucketVersioningStatus::Enabled
            } else {
                BucketVersioningStatus::Suspended
            };
            cx.aws
                .known("s3:PutBucketVersioning", &name, || {
                    s3.put_bucket_versioning()
                        .bucket(&name)
                        .versioning_configuration(
                            VersioningConfiguration::builder()
                                .status(status.clone())
                                .build(),
                        )
                        .send()
                })
                .await?;
        }
        let tags: Tags = cx.owner.tags_for(&res.name).into_iter().collect();
        cx.aws
            .settle(|| async {
                let found = observe(cx.aws, &name, tags.clone())
                    .await?
                    .into_iter()
                    .find(|o| o.kind == Kind::Bucket);
                listed(found, "s3:GetBucketVersioning", &name)
            })
            .await
    }

    /// By its awslab tags, else by the name awslab gives it (a bucket whose tags a crash cut off).
    fn find_existing<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        res: &Resource,
        _bound: &Bindings,
    ) -> Option<&'w Observed> {
        let by_tags = world.of_kind(Kind::Bucket).find(|o| {
            owner.owns(&o.tags)
                && o.tags.get(tags::RESOURCE).map(String::as_str) == Some(res.name.as_str())
        });
        by_tags.or_else(|| {
            world
                .of_kind(Kind::Bucket)
                .find(|o| !o.tags.contains_key(tags::LAB) && is_name_of(&o.id, owner, &res.name))
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec![
            "versioning",
            "encryption",
            "bucket_key",
            "object_ownership",
            "block_public_access",
        ]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::Bucket {
                versioning,
                bucket_key,
                object_ownership,
                public_access,
            },
            Facts::Bucket {
                versioning: v,
                sse,
                bucket_key: k,
                ownership,
                public_access: found,
            },
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let on_off = |b: bool| if b { "on" } else { "off" };
        vec![
            // Once enabled, versioning can only be suspended: that is "off".
            Attr::new(
                "versioning",
                if *versioning { "Enabled" } else { "off" },
                if *versioning || v == "Enabled" {
                    v.as_str()
                } else {
                    "off"
                },
            ),
            Attr::new(
                "encryption",
                "SSE-S3 (AES256), set explicitly",
                match sse.as_deref() {
                    Some("AES256") => "SSE-S3 (AES256), set explicitly".to_owned(),
                    Some(other) => other.to_owned(),
                    None => "no default encryption configured".to_owned(),
                },
            ),
            Attr::new("bucket_key", on_off(*bucket_key), on_off(*k)),
            Attr::new(
                "object_ownership",
                object_ownership,
                ownership.as_deref().unwrap_or("not set (ACLs possible)"),
            ),
            Attr::new(
                "block_public_access",
                public_access.to_string(),
                found.to_string(),
            ),
        ]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        // What hangs off it goes first (the objects are emptied then).
        world
            .items
            .iter()
            .filter(|o| o.id.starts_with(&format!("{}/", obs.id)))
            .map(|o| o.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        empty(cx.aws, &obs.id, &cx.wait).await?;
        cx.aws
            .s3
            .delete_bucket()
            .bucket(&obs.id)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("s3:DeleteBucket", &obs.id, e))
    }
}

/// Deletes every object version and delete marker (1000 per call).
async fn empty(aws: &Aws, bucket: &str, wait: &Waiter<'_>) -> Result<(), AwsError> {
    let mut deleted = 0usize;
    loop {
        let out = aws
            .s3
            .list_object_versions()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("s3:ListObjectVersions", bucket, e))?;
        let mut ids: Vec<ObjectIdentifier> = Vec::new();
        for v in out.versions() {
            if let Some(key) = v.key() {
                let id = ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(v.version_id().map(str::to_owned))
                    .build()
                    .map_err(|e| {
                        AwsError::other("s3:DeleteObjects", bucket, "Bad", e.to_string())
                    })?;
                ids.push(id);
            }
        }
        for m in out.delete_markers() {
            if let Some(key) = m.key() {
                let id = ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(m.version_id().map(str::to_owned))
                    .build()
                    .map_err(|e| {
                        AwsError::other("s3:DeleteObjects", bucket, "Bad", e.to_string())
                    })?;
                ids.push(id);
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let count = ids.len();
        for chunk in ids.chunks(1000) {
            let delete = Delete::builder()
                .set_objects(Some(chunk.to_vec()))
                .quiet(true)
                .build()
                .map_err(|e| AwsError::other("s3:DeleteObjects", bucket, "Bad", e.to_string()))?;
            let out = aws
                .s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:DeleteObjects", bucket, e))?;
            if let Some(e) = out.errors().first() {
                return Err(AwsError::other(
                    "s3:DeleteObjects",
                    format!("{bucket}/{}", e.key().unwrap_or_default()),
                    e.code().unwrap_or("Error"),
                    e.message().unwrap_or_default(),
                ));
            }
        }
        deleted += count;
        wait.note(format!(
            "deleted {deleted} object versions and delete markers"
        ));
    }
}

// ---------------------------------------------------------------------------------------------

/// The bucket a policy, website or objects resource belongs to, as bound.
fn bucket_of<'a>(cx: &'a ApplyCx<'_>, res: &Resource, bucket: &str) -> Result<&'a str, AwsError> {
    cx.bound.require(bucket, &res.name)
}

/// Finds `<bucket>/<what>` of the bound bucket.
fn child_of<'w>(
    world: &'w World,
    bound: &Bindings,
    bucket: &str,
    what: &str,
) -> Option<&'w Observed> {
    let b = bound.id(bucket)?;
    world.get(&format!("{b}/{what}"))
}

/// The policy awslab writes for `public_read`: anyone may read the objects, nothing more.
pub fn public_read_policy(bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PublicReadGetObject",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
        }]
    })
    .to_string()
}

/// What a policy grants everyone (`Principal: "*"` or `{"AWS": "*"}`), as `action on resource`
/// lines, sorted: `["s3:GetObject on arn:aws:s3:::b/*"]`.
pub fn public_grants(document: &str) -> Result<Vec<String>, String> {
    let v: serde_json::Value =
        serde_json::from_str(document).map_err(|e| format!("the policy is not JSON: {e}"))?;
    let list = |x: &serde_json::Value| -> Vec<String> {
        match x {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let statements = match &v["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        s @ serde_json::Value::Object(_) => vec![s.clone()],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for s in statements {
        let everyone =
            s["Principal"] == "*" || list(&s["Principal"]["AWS"]).iter().any(|p| p == "*");
        if !everyone && s.get("NotPrincipal").is_none() {
            continue;
        }
        // What is not a plain grant is marked: a Deny, a condition, a Not* element.
        let deny = s["Effect"] != "Allow";
        let mut marks = Vec::new();
        if s.get("Condition").is_some() {
            marks.push("with a condition");
        }
        for not in ["NotPrincipal", "NotAction", "NotResource"] {
            if s.get(not).is_some() {
                marks.push(not);
            }
        }
        let actions = list(&s["Action"]);
        let actions = if actions.is_empty() {
            list(&s["NotAction"])
                .into_iter()
                .map(|a| format!("all but {a}"))
                .collect()
        } else {
            actions
        };
        let resources = list(&s["Resource"]);
        let resources = if resources.is_empty() {
            list(&s["NotResource"])
                .into_iter()
                .map(|r| format!("all but {r}"))
                .collect()
        } else {
            resources
        };
        for action in &actions {
            for resource in &resources {
                let mut line = format!("{action} on {resource}");
                if deny {
                    line = format!("DENY {line}");
                }
                if !marks.is_empty() {
                    line.push_str(&format!(" ({})", marks.join(", ")));
                }
                out.push(line);
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub struct BucketPolicy;

#[async_trait]
impl ResourceKind for BucketPolicy {
    fn kind(&self) -> Kind {
        Kind::BucketPolicy
    }

    async fn discover(&self, _aws: &Aws, _scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        _existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::BucketPolicy { bucket, .. } = &res.spec else {
            return Err(wrong(res, "bucket policy"));
        };
        let name = bucket_of(cx, res, bucket)?;
        let document = public_read_policy(name);
        // Right after Block Public Access is relaxed, S3 may still refuse a public policy for a
        // few seconds (the change propagates): retry that, then say what else could block it.
        let started = std::time::Instant::now();
        let mut delay = std::time::Duration::from_secs(1);
        loop {
            let put = cx
                .aws
                .known("s3:PutBucketPolicy", name, || {
                    cx.aws
                        .s3
                        .put_bucket_policy()
                        .bucket(name)
                        .policy(&document)
                        .send()
                })
                .await;
            match put {
                Ok(_) => break,
                Err(e) => {
                    let waited = started.elapsed();
                    if e.code != "AccessDenied" {
                        return Err(e);
                    }
                    if waited >= std::time::Duration::from_secs(60) {
                        let mut e = e;
                        e.help = Some("Block Public Access may be on for the whole account (S3 -> Block Public Access settings for this account): a public-read policy needs it off".to_owned());
                        return Err(e);
                    }
                    cx.wait.note(format!(
                        "AccessDenied: Block Public Access still propagating, retrying ({} s)",
                        waited.as_secs()
                    ));
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(10));
                }
            }
        }
        let id = format!("{name}/policy");
        Ok(Observed {
            kind: Kind::BucketPolicy,
            tags: cx.owner.child_tags(&id),
            id,
            facts: Facts::BucketPolicy {
                bucket: name.to_owned(),
                document,
            },
        })
    }

    fn find_existing<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<&'w Observed> {
        let Spec::BucketPolicy { bucket, .. } = &res.spec else {
            return None;
        };
        child_of(world, bound, bucket, "policy")
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["public_grants"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (Spec::BucketPolicy { public_read, .. }, Facts::BucketPolicy { bucket, document }) =
            (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let want = if *public_read {
            format!("s3:GetObject on arn:aws:s3:::{bucket}/*")
        } else {
            "nothing".to_owned()
        };
        let found = match public_grants(document) {
            Ok(g) if g.is_empty() => "nothing".to_owned(),
            Ok(g) => g.join("; "),
            Err(e) => e,
        };
        vec![Attr::new("public_grants", want, found)]
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let Facts::BucketPolicy { bucket, .. } = &obs.facts else {
            return Ok(());
        };
        cx.aws
            .s3
            .delete_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("s3:DeleteBucketPolicy", bucket, e))
    }
}

pub struct Website;

#[async_trait]
impl ResourceKind for Website {
    fn kind(&self) -> Kind {
        Kind::Website
    }

    async fn discover(&self, _aws: &Aws, _scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        _existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::Website {
            bucket,
            index_document,
            error_document,
        } = &res.spec
        else {
            return Err(wrong(res, "website configuration"));
        };
        let name = bucket_of(cx, res, bucket)?;
        let bad = |e: aws_sdk_s3::error::BuildError| {
            AwsError::other("s3:PutBucketWebsite", name, "Bad", e.to_string())
        };
        let mut config = WebsiteConfiguration::builder().index_document(
            IndexDocument::builder()
                .suffix(index_document)
                .build()
                .map_err(bad)?,
        );
        if let Some(e) = error_document {
            config = config.error_document(ErrorDocument::builder().key(e).build().map_err(bad)?);
        }
        let config = config.build();
        cx.aws
            .known("s3:PutBucketWebsite", name, || {
                cx.aws
                    .s3
                    .put_bucket_website()
                    .bucket(name)
                    .website_configuration(config.clone())
                    .send()
            })
            .await?;
        let id = format!("{name}/website");
        Ok(Observed {
            kind: Kind::Website,
            tags: cx.owner.child_tags(&id),
            id,
            facts: Facts::Website {
                bucket: name.to_owned(),
                index_document: Some(index_document.clone()),
                error_document: error_document.clone(),
            },
        })
    }

    fn find_existing<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<&'w Observed> {
        let Spec::Website { bucket, .. } = &res.spec else {
            return None;
        };
        child_of(world, bound, bucket, "website")
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["index_document", "error_document"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::Website {
                index_document,
                error_document,
                ..
            },
            Facts::Website {
                index_document: i,
                error_document: e,
                ..
            },
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        vec![
            Attr::new(
                "index_document",
                index_document,
                i.as_deref().unwrap_or("none"),
            ),
            Attr::new(
                "error_document",
                error_document.as_deref().unwrap_or("none"),
                e.as_deref().unwrap_or("none"),
            ),
        ]
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let Facts::Website { bucket, .. } = &obs.facts else {
            return Ok(());
        };
        cx.aws
            .s3
            .delete_bucket_website()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("s3:DeleteBucketWebsite", bucket, e))
    }
}

pub struct Objects;

/// Local files against what the bucket holds: (key, why) of each file to upload.
fn stale<'a>(files: &'a [SiteFile], stored: &[StoredObject]) -> Vec<(&'a SiteFile, &'static str)> {
    let by_key: BTreeMap<&str, &StoredObject> =
        stored.iter().map(|o| (o.key.as_str(), o)).collect();
    files
        .iter()
        .filter_map(|f| match by_key.get(f.key.as_str()) {
            None => Some((f, "missing")),
            Some(o) if o.etag != md5_hex(&f.content) => Some((f, "changed")),
            Some(o) if o.content_type.as_deref() != Some(f.content_type.as_str()) => {
                Some((f, "wrong content type"))
            }
            Some(_) => None,
        })
        .collect()
}

#[async_trait]
impl ResourceKind for Objects {
    fn kind(&self) -> Kind {
        Kind::Objects
    }

    async fn discover(&self, _aws: &Aws, _scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    /// Uploads only the files that are missing or differ (by MD5 against the ETag, and by
    /// content type).
    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let Spec::Objects { bucket, files, .. } = &res.spec else {
            return Err(wrong(res, "set of objects"));
        };
        let name = bucket_of(cx, res, bucket)?;
        let stored = match existing.map(|o| &o.facts) {
            Some(Facts::Objects { objects, .. }) => objects.clone(),
            _ => Vec::new(),
        };
        for (f, why) in stale(files, &stored) {
            cx.wait.note(format!("uploading {} ({why})", f.key));
            cx.aws
                .known("s3:PutObject", &format!("{name}/{}", f.key), || {
                    cx.aws
                        .s3
                        .put_object()
                        .bucket(name)
                        .key(&f.key)
                        .content_type(&f.content_type)
                        .body(ByteStream::from(f.content.clone()))
                        .send()
                })
                .await?;
        }
        let id = format!("{name}/objects");
        Ok(Observed {
            kind: Kind::Objects,
            tags: cx.owner.child_tags(&id),
            id,
            facts: Facts::Objects {
                bucket: name.to_owned(),
                objects: list_objects(cx.aws, name).await?,
            },
        })
    }

    fn find_existing<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<&'w Observed> {
        let Spec::Objects { bucket, .. } = &res.spec else {
            return None;
        };
        child_of(world, bound, bucket, "objects")
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["files", "content_types"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (Spec::Objects { files, .. }, Facts::Objects { objects, .. }) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let keys: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
        let stale = stale(files, objects);
        let missing: Vec<&str> = stale
            .iter()
            .filter(|(_, why)| *why == "missing")
            .map(|(f, _)| f.key.as_str())
            .collect();
        let types_wrong: Vec<String> = stale
            .iter()
            .filter(|(_, why)| *why == "wrong content type")
            .map(|(f, _)| {
                let found = objects
                    .iter()
                    .find(|o| o.key == f.key)
                    .and_then(|o| o.content_type.clone())
                    .unwrap_or_else(|| "none".to_owned());
                format!("{} is {found}", f.key)
            })
            .collect();
        vec![
            Attr::new(
                "files",
                keys.join(", "),
                if missing.is_empty() {
                    keys.join(", ")
                } else {
                    format!("missing: {}", missing.join(", "))
                },
            ),
            Attr::new(
                "content_types",
                "each file with its type (text/html, text/css, …)",
                if types_wrong.is_empty() {
                    "each file with its type (text/html, text/css, …)".to_owned()
                } else {
                    types_wrong.join(", ")
                },
            ),
        ]
    }

    /// Empties the bucket (every version and delete marker).
    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let Facts::Objects { bucket, .. } = &obs.facts else {
            return Ok(());
        };
        empty(cx.aws, bucket, &cx.wait).await
    }
}

#[cfg(test)]
mod tests {
    use super::{bucket_name, is_name_of, public_grants, public_read_policy, website_url};
    use crate::aws::tags::Owner;

    #[test]
    fn bucket_names_are_derived_valid_and_recognised() {
        let owner = Owner::new("s3-static-website", "Alice");
        let name = bucket_name(&owner, "site", "123456789012");
        assert_eq!(name, "site-alice-123456789012");
        assert!(is_name_of(&name, &owner, "site"));
        assert!(!is_name_of("site-bob-123456789012", &owner, "site"));
        let long = bucket_name(
            &Owner::new("l", "a-very-long-environment-name-for-a-class"),
            "the-website-bucket",
            "123456789012",
        );
        assert!(long.len() <= 63, "{long}");
        assert!(long.ends_with("-123456789012"));
    }

    #[test]
    fn public_grants_are_read_from_the_policy() {
        let p = public_read_policy("b");
        assert_eq!(
            public_grants(&p).expect("json"),
            vec!["s3:GetObject on arn:aws:s3:::b/*"]
        );
        let wide = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:*"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        assert_eq!(
            public_grants(wide).expect("json"),
            vec!["s3:* on arn:aws:s3:::b", "s3:* on arn:aws:s3:::b/*"]
        );
        assert!(public_grants("not json").is_err());
        // Conditions and Deny statements are marked, not taken as plain grants.
        let conditional = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}},{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"}]}"#;
        assert_eq!(
            public_grants(conditional).expect("json"),
            vec![
                "DENY s3:GetObject on arn:aws:s3:::b/secret/*",
                "s3:GetObject on arn:aws:s3:::b/* (with a condition)"
            ]
        );
    }

    #[test]
    fn website_endpoints_by_region() {
        assert_eq!(
            website_url("b", "us-east-1"),
            "http://b.s3-website-us-east-1.amazonaws.com/"
        );
        assert_eq!(
            website_url("b", "eu-central-1"),
            "http://b.s3-website.eu-central-1.amazonaws.com/"
        );
    }
}
