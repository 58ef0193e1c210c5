//! S3: a bucket with its settings (versioning, default encryption, object ownership, Block Public
//! Access), and what hangs off it: the bucket policy, the website configuration and the objects
//! uploaded from a directory. Bucket names are global, so awslab derives one per lab resource,
//! owner (lab and env as written) and account (`site-3f2a9c1b7d-123456789012`): the name the
//! student is told to use, and how a hand-built bucket, or one a killed `up` never tagged, is
//! found. The owner's code in the name lets discovery read only the owner's buckets. A bucket
//! awslab did not tag is taken over by `up`, and deleted by `down`, only while it is empty; one
//! whose policy shuts awslab out is reported, not passed over. The policy, website and objects
//! have no identity of their own: they are listed with their bucket (`<bucket>/policy`, …) and
//! take its owner tags. Deleting a bucket first deletes every object version and delete marker.

use std::collections::BTreeMap;
use std::fmt;
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

/// Hex digits of the owner code in a bucket name.
const CODE_LEN: usize = 10;
/// Digits of an account id.
const ACCOUNT_LEN: usize = 12;
/// The longest logical part of a bucket name: S3 allows 63 characters in all, and the name is
/// `<logical>-<code>-<account>`.
pub const MAX_LOGICAL: usize = 63 - 1 - CODE_LEN - 1 - ACCOUNT_LEN;
/// Prefixes S3 reserves for names of its own.
const RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];

/// A name part as S3 allows it: lowercase letters, digits and `-` (a logical name has letters,
/// digits, `-` and `_`).
fn clean(s: &str) -> String {
    s.to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// `…-123456789012`: a name awslab may have given.
fn ends_in_account(name: &str) -> bool {
    name.rsplit_once('-')
        .is_some_and(|(_, a)| a.len() == ACCOUNT_LEN && a.chars().all(|c| c.is_ascii_digit()))
}

/// The owner's code in its bucket names: the first 10 hex digits of SHA-256 over the lab id and
/// the env as written (`Alice` and `alice`, `a_b` and `a-b` are different owners).
pub fn owner_code(owner: &Owner) -> String {
    owner.code()
}

/// The name of an owner's bucket: `<logical>-<owner code>-<account>`, at most 63 characters
/// (validation keeps the logical part to [`MAX_LOGICAL`]).
pub fn bucket_name(owner: &Owner, logical: &str, account: &str) -> String {
    format!("{}-{}-{account}", clean(logical), owner_code(owner))
}

/// Whether `bucket` is the name a lab resource `logical` of this owner gets in some account.
pub fn is_name_of(bucket: &str, owner: &Owner, logical: &str) -> bool {
    ends_in_account(bucket)
        && bucket
            .rsplit_once('-')
            .is_some_and(|(_, account)| bucket_name(owner, logical, account) == bucket)
}

/// Whether `bucket` is a name awslab gives this owner's buckets (`<logical>-<code>-<account>`,
/// whatever the logical part).
pub fn is_owners(bucket: &str, owner: &Owner) -> bool {
    let Some((head, _)) = bucket.rsplit_once('-').filter(|_| ends_in_account(bucket)) else {
        return false;
    };
    head.strip_suffix(&owner_code(owner))
        .and_then(|logical| logical.strip_suffix('-'))
        .is_some_and(|logical| !logical.is_empty())
}

/// Whether `bucket` has the shape of the names without an owner code (`<logical>-<env,
/// lowercased, `_` as `-`>-<account>`), which several owners may share: only its tags can say
/// whose it is.
pub fn is_plain_env_name(bucket: &str, owner: &Owner) -> bool {
    let Some((head, _)) = bucket.rsplit_once('-').filter(|_| ends_in_account(bucket)) else {
        return false;
    };
    head.strip_suffix(&clean(&owner.env))
        .and_then(|logical| logical.strip_suffix('-'))
        .is_some_and(|logical| !logical.is_empty())
}

/// Why a logical name cannot name a bucket (`None`: it can).
pub fn logical_name_problem(logical: &str) -> Option<String> {
    let part = clean(logical);
    if part.len() > MAX_LOGICAL {
        return Some(format!(
            "a bucket's name is at most 63 characters: `<name>-<code of lab and env>-<account id>`, so its name is at most {MAX_LOGICAL} characters (this one has {})",
            part.len()
        ));
    }
    if !part.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("a bucket name must start with a letter or digit".to_owned());
    }
    RESERVED_PREFIXES
        .iter()
        .find(|p| part.starts_with(*p))
        .map(|p| format!("S3 reserves bucket names that start with `{p}`"))
}

/// Whether two logical names give the same bucket name (they differ only in case, `_` or `-`).
pub fn same_bucket_name(a: &str, b: &str) -> bool {
    clean(a) == clean(b)
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

/// The bucket's tags (none when it has no tag set).
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

/// Sets the bucket's whole tag set (S3 has no call that adds one tag).
async fn put_tags(aws: &Aws, bucket: &str, tags: &Tags) -> Result<(), AwsError> {
    let bad = |e: aws_sdk_s3::error::BuildError| {
        AwsError::other("s3:PutBucketTagging", bucket, "BadTag", e.to_string())
    };
    let set = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(set))
        .build()
        .map_err(bad)?;
    aws.known("s3:PutBucketTagging", bucket, || {
        aws.s3
            .put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging.clone())
            .send()
    })
    .await
    .map(drop)
}

/// Adds tags to an existing bucket, keeping those it has.
pub async fn add_tags(aws: &Aws, bucket: &str, add: &[(String, String)]) -> Result<(), AwsError> {
    let mut t = aws.settle(|| tags_of(aws, bucket)).await?;
    t.extend(add.iter().cloned());
    put_tags(aws, bucket, &t).await
}

/// Whether the bucket holds anything: an object, an object version or a delete marker.
async fn holds_objects(aws: &Aws, bucket: &str) -> Result<bool, AwsError> {
    let out = aws
        .s3
        .list_object_versions()
        .bucket(bucket)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("s3:ListObjectVersions", bucket, e))?;
    Ok(!out.versions().is_empty() || !out.delete_markers().is_empty())
}

/// A call about a bucket that S3 refused (`AccessDenied`: a bucket policy that denies awslab,
/// or an organisation's policy): the call and S3's answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Refusal {
    pub op: String,
    pub code: String,
    pub message: String,
}

impl Refusal {
    fn of(e: &AwsError) -> Option<Refusal> {
        (e.code == "AccessDenied").then(|| Refusal {
            op: e.op.to_owned(),
            code: e.code.clone(),
            message: e.message.clone(),
        })
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} refused: {}: {}", self.op, self.code, self.message)
    }
}

/// Why awslab leaves a bucket of its own name alone.
#[derive(Debug)]
enum HandsOff {
    /// No awslab tags and not empty: made by hand (or by another tool) under awslab's name.
    HoldsObjects,
    /// Tagged for another lab or env.
    OtherOwner { lab: String, env: String },
    /// S3 refused awslab's calls about it.
    Refused(Refusal),
}

impl HandsOff {
    fn error(&self, op: &'static str, bucket: &str) -> AwsError {
        let (code, message) = match self {
            HandsOff::HoldsObjects => (
                "NotAwslabsBucket",
                "holds objects and carries no awslab tags: awslab neither takes it over nor deletes it (empty it or delete it yourself, or use another --env)".to_owned(),
            ),
            HandsOff::OtherOwner { lab, env } => (
                "OtherOwnersBucket",
                format!(
                    "tagged for lab {lab}, env {env}: awslab takes no other owner's bucket"
                ),
            ),
            HandsOff::Refused(r) => (
                "AccessDenied",
                format!(
                    "{r}: the bucket's policy (or an organisation's policy) denies awslab; remove that Deny and run again"
                ),
            ),
        };
        AwsError::other(op, bucket, code, message)
    }
}

/// The tags of an existing bucket of the name awslab gives this owner, if `up` may make it the
/// owner's: tagged for the owner already, or without awslab tags and empty (a run killed
/// before it tagged the bucket). A bucket with objects and no awslab tags, or tagged for
/// another owner, is someone else's.
async fn claim(aws: &Aws, owner: &Owner, bucket: &str) -> Result<Tags, AwsError> {
    let t = aws.settle(|| tags_of(aws, bucket)).await?;
    if owner.owns(&t) {
        return Ok(t);
    }
    if let Some(lab) = t.get(tags::LAB) {
        let env = t.get(tags::ENV).cloned().unwrap_or_default();
        return Err(HandsOff::OtherOwner {
            lab: lab.clone(),
            env,
        }
        .error("s3:CreateBucket", bucket));
    }
    if aws.settle(|| holds_objects(aws, bucket)).await? {
        return Err(HandsOff::HoldsObjects.error("s3:CreateBucket", bucket));
    }
    Ok(t)
}

/// A bucket S3 would not let awslab read: its name and what tags could be read.
fn refused(bucket: &str, tags: Tags, why: Refusal) -> Observed {
    Observed {
        kind: Kind::Bucket,
        id: bucket.to_owned(),
        tags: named(tags, bucket),
        facts: Facts::Bucket {
            versioning: "Disabled".to_owned(),
            sse: None,
            bucket_key: false,
            ownership: None,
            public_access: PublicAccess {
                block_public_acls: false,
                ignore_public_acls: false,
                block_public_policy: false,
                restrict_public_buckets: false,
            },
            refused: Some(why),
        },
    }
}

/// What S3 refused about a bucket, when it refused.
fn refusal(o: &Observed) -> Option<&Refusal> {
    match &o.facts {
        Facts::Bucket { refused, .. } => refused.as_ref(),
        _ => None,
    }
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
            refused: None,
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

/// Answers that mean "a bucket of another region" (an emulator may ignore the region filter):
/// not one to look at here.
fn elsewhere(e: &AwsError) -> bool {
    matches!(
        e.code.as_str(),
        "PermanentRedirect" | "AuthorizationHeaderMalformed"
    )
}

/// One listed bucket, if it is in scope: with what hangs off it, or as refused when S3 will
/// not let awslab read it and the scope names it (the owner's name, or a name asked for).
async fn discover_one(
    aws: &Aws,
    scope: &Scope,
    name: &str,
    created: Option<SystemTime>,
) -> Result<Vec<Observed>, AwsError> {
    let by_name = match scope {
        Scope::Owned(owner) => is_owners(name, owner),
        Scope::Named(_) => true,
        _ => false,
    };
    // Not visible yet right after its creation, or deleted since the listing.
    let t = match aws.follow_up(created, || tags_of(aws, name)).await {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(Vec::new()),
        Err(e) if elsewhere(&e) => return Ok(Vec::new()),
        Err(e) => {
            return match Refusal::of(&e) {
                Some(r) if by_name => Ok(vec![refused(name, Tags::new(), r)]),
                // Whose it is cannot be read: not a lab's to list.
                Some(_) => Ok(Vec::new()),
                None => Err(e),
            };
        }
    };
    let wanted = match scope {
        // Tagged for the owner, or awslab's name without awslab's tags (a run killed before
        // it tagged the bucket, or one made by hand under that name).
        Scope::Owned(owner) => owner.owns(&t) || (by_name && !t.contains_key(tags::LAB)),
        Scope::AnyLab => t.contains_key(tags::LAB),
        // Hand-built ones (awslab's own are found with `Owned`).
        Scope::Named(_) => !t.contains_key(tags::LAB),
        Scope::Region | Scope::InVpcs(_) => true,
    };
    if !wanted {
        return Ok(Vec::new());
    }
    match aws
        .follow_up(created, || observe(aws, name, t.clone()))
        .await
    {
        Ok(found) => Ok(found.unwrap_or_default()),
        Err(e) => match Refusal::of(&e) {
            Some(r) => Ok(vec![refused(name, t, r)]),
            None => Err(e),
        },
    }
}

pub struct Bucket;

impl Bucket {
    /// Makes an existing bucket of awslab's name the owner's, if it may ([`claim`]): its tags
    /// with the owner's added (S3 sets a bucket's tags as a whole: merged, never replaced).
    async fn take(&self, cx: &ApplyCx<'_>, res: &Resource, bucket: &str) -> Result<Tags, AwsError> {
        let found = claim(cx.aws, cx.owner, bucket).await?;
        let mut tags = found.clone();
        tags.extend(cx.owner.tags_for(&res.name));
        if tags != found {
            put_tags(cx.aws, bucket, &tags).await?;
        }
        Ok(tags)
    }
}

#[async_trait]
impl ResourceKind for Bucket {
    fn kind(&self) -> Kind {
        Kind::Bucket
    }

    /// One listing; then the tags of the candidates (an owner's names carry its code; a lab's
    /// names end in an account id) or the named ones, and the settings of those in scope (a
    /// handful of calls per bucket).
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
            // Only the owner's: another env's buckets are never read (nor waited for while
            // they are being deleted).
            // Also names without an owner code, if tagged for the owner.
            Scope::Owned(owner) => names
                .into_iter()
                .filter(|(n, _)| is_owners(n, owner) || is_plain_env_name(n, owner))
                .collect(),
            // awslab's names end in an account id (no STS call needed); the tags decide.
            Scope::AnyLab => names
                .into_iter()
                .filter(|(n, _)| ends_in_account(n))
                .collect(),
            Scope::Region | Scope::InVpcs(_) => names,
        };
        let mut out = Vec::new();
        for (name, created) in candidates {
            out.extend(discover_one(aws, scope, &name, created).await?);
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
        let (name, tags) = match existing {
            Some(o) => {
                if let Some(r) = refusal(o) {
                    return Err(HandsOff::Refused(r.clone()).error("s3:CreateBucket", &o.id));
                }
                // Its own already: the tags stay as they are (`awslab:created-at` is the
                // first run's). Else found by awslab's name without awslab's tags.
                let tags = if cx.owner.owns(&o.tags) {
                    o.tags.clone()
                } else {
                    self.take(cx, res, &o.id).await?
                };
                (o.id.clone(), tags)
            }
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
                // A bucket this account has already is `BucketAlreadyOwnedByYou` (in
                // us-east-1, a success): either way, what is there is checked before it is
                // taken.
                if let Err(e) = create.send().await {
                    let e = AwsError::from_sdk("s3:CreateBucket", &name, e);
                    if e.code != "BucketAlreadyOwnedByYou" {
                        return Err(e);
                    }
                }
                let tags = self.take(cx, res, &name).await?;
                (name, tags)
            }
        };
        let current = existing.map(|o| &o.facts);
        let (cur_versioning, cur_key, cur_sse, cur_owner, cur_block) = match current {
            Some(Facts::Bucket {
                versioning,
                bucket_key,
                sse,
                ownership,
                public_access,
                ..
            }) => (
                versioning.as_str(),
                *bucket_key,
                sse.as_deref(),
                ownership.as_deref(),
                Some(public_access),
            ),
            _ => ("Disabled", false, None, None, None),
        };
        // The settings are independent of each other: set at once.
        let ownership = async {
            if cur_owner != Some(object_ownership.as_str()) {
                let rule = OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::from(object_ownership.as_str()))
                    .build()
                    .map_err(|e| {
                        AwsError::other(
                            "s3:PutBucketOwnershipControls",
                            &name,
                            "Bad",
                            e.to_string(),
                        )
                    })?;
                let controls = OwnershipControls::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| {
                        AwsError::other(
                            "s3:PutBucketOwnershipControls",
                            &name,
                            "Bad",
                            e.to_string(),
                        )
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
            Ok::<(), AwsError>(())
        };
        let block = async {
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
            Ok::<(), AwsError>(())
        };
        let encryption = async {
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
            Ok::<(), AwsError>(())
        };
        let versioning = async {
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
            Ok::<(), AwsError>(())
        };
        tokio::try_join!(ownership, block, encryption, versioning)?;
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
                refused,
            },
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let on_off = |b: bool| if b { "on" } else { "off" };
        let attrs = vec![
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
        ];
        match refused {
            // Nothing could be read: every setting says why.
            Some(r) => attrs
                .into_iter()
                .map(|a| Attr::new(&a.key, a.expected, format!("not readable: {r}")))
                .collect(),
            None => attrs,
        }
    }

    /// A bucket of the owner's name that carries no awslab tags (or none S3 would show): `down`
    /// takes it up, and [`Bucket::delete`] decides (deleted only while empty).
    fn claims(&self, obs: &Observed, owner: &Owner) -> bool {
        !obs.tags.contains_key(tags::LAB) && is_owners(&obs.id, owner)
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

    /// Empties the bucket first, when awslab tagged it; one it did not tag is deleted only while
    /// it holds nothing (and S3 refuses to delete a bucket that holds anything); one S3 will not
    /// let awslab read is left, with S3's answer.
    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        if let Some(r) = refusal(obs) {
            return Err(HandsOff::Refused(r.clone()).error("s3:DeleteBucket", &obs.id));
        }
        if obs.tags.contains_key(tags::LAB) {
            empty(cx.aws, &obs.id, &cx.wait).await?;
        } else if holds_objects(cx.aws, &obs.id).await? {
            return Err(HandsOff::HoldsObjects.error("s3:DeleteBucket", &obs.id));
        }
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
    // S3 lists versions consistently: a listing that names only what was just deleted means
    // the deletes do not take, and asking again would never end.
    let mut previous: Vec<(String, Option<String>)> = Vec::new();
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
        let listed: Vec<(String, Option<String>)> = ids
            .iter()
            .map(|i| (i.key().to_owned(), i.version_id().map(str::to_owned)))
            .collect();
        if listed == previous {
            return Err(AwsError::other(
                "s3:DeleteObjects",
                bucket,
                "NotDeleted",
                format!(
                    "S3 still lists {} object versions after deleting them (object lock or a legal hold?)",
                    listed.len()
                ),
            ));
        }
        previous = listed;
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
    use super::{
        MAX_LOGICAL, bucket_name, is_name_of, is_owners, logical_name_problem, public_grants,
        public_read_policy, same_bucket_name, website_url,
    };
    use crate::aws::tags::Owner;

    #[test]
    fn bucket_names_are_one_per_lab_and_env_as_written() {
        let account = "123456789012";
        let alice = Owner::new("s3-static-website", "Alice");
        let name = bucket_name(&alice, "site", account);
        let (head, code_and_account) = name.split_at(5);
        assert_eq!(head, "site-");
        let (code, rest) = code_and_account.split_at(10);
        assert!(code.chars().all(|c| c.is_ascii_hexdigit()), "{name}");
        assert_eq!(rest, "-123456789012");
        // The env as written, and the lab, are part of the owner.
        for other in [
            Owner::new("s3-static-website", "alice"),
            Owner::new("another-lab", "Alice"),
        ] {
            assert_ne!(bucket_name(&other, "site", account), name);
            assert!(!is_owners(&name, &other));
        }
        assert_ne!(
            bucket_name(&Owner::new("l", "a_b"), "site", account),
            bucket_name(&Owner::new("l", "a-b"), "site", account)
        );
        assert!(is_name_of(&name, &alice, "site"));
        assert!(!is_name_of(&name, &alice, "other"));
        assert!(is_owners(&name, &alice));
        assert!(is_owners(
            &bucket_name(&alice, "logs", "210987654321"),
            &alice
        ));
        assert!(!is_owners("site-alice-123456789012", &alice));
        assert!(!is_owners(&name.replacen("site-", "", 1), &alice));
        // The longest logical name validation lets through fits S3's 63 characters.
        let longest = "a".repeat(MAX_LOGICAL);
        assert_eq!(logical_name_problem(&longest), None);
        assert_eq!(bucket_name(&alice, &longest, account).len(), 63);
    }

    #[test]
    fn logical_names_that_cannot_name_a_bucket() {
        assert_eq!(logical_name_problem("site"), None);
        assert_eq!(logical_name_problem("Site_2"), None);
        let long = logical_name_problem(&"a".repeat(MAX_LOGICAL + 1)).unwrap_or_default();
        assert!(long.contains("at most 39"), "{long}");
        assert!(logical_name_problem("_site").is_some());
        assert!(logical_name_problem("xn--site").is_some());
        assert!(same_bucket_name("Site_a", "site-a"));
        assert!(!same_bucket_name("site", "sites"));
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
