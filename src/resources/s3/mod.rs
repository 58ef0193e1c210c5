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

mod bucket;
mod objects;
mod policy;
#[cfg(test)]
mod tests;
mod website;

use bucket::empty;
pub use bucket::{Bucket, BucketFacts, BucketSpec};
pub use objects::{Objects, ObjectsFacts, ObjectsSpec};
pub use policy::{
    BucketPolicy, BucketPolicyFacts, BucketPolicySpec, Effect, Grant, public_grants,
    public_read_policy,
};
pub use website::{Website, WebsiteFacts, WebsiteSpec};

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
use crate::aws::{Aws, AwsError, Fault, created_at, listed};
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

/// `Ok(None)` when S3 answers that the configuration is not there (`NoSuchBucketPolicy`, …).
fn absent<T>(r: Result<T, AwsError>, codes: &[&str]) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.aws_code().is_some_and(|c| codes.contains(&c)) => Ok(None),
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
        AwsError::from_fault("s3:PutBucketTagging", bucket, Fault::BadTag(e))
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
        (e.aws_code() == Some("AccessDenied")).then(|| Refusal {
            op: e.op.to_owned(),
            code: e.cause.code().to_owned(),
            message: e.message(),
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
        let fault = match self {
            HandsOff::HoldsObjects => Fault::NotAwslabsBucket,
            HandsOff::OtherOwner { lab, env } => Fault::OtherOwnersBucket {
                lab: lab.clone(),
                env: env.clone(),
            },
            HandsOff::Refused(r) => Fault::BucketRefused {
                refusal: r.to_string(),
            },
        };
        AwsError::from_fault(op, bucket, fault)
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
        facts: Facts::Bucket(BucketFacts {
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
        }),
    }
}

/// What S3 refused about a bucket, when it refused.
fn refusal(o: &Observed) -> Option<&Refusal> {
    match &o.facts {
        Facts::Bucket(BucketFacts { refused, .. }) => refused.as_ref(),
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
        facts: Facts::Bucket(BucketFacts {
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
        }),
    }];
    // For messages: `site/website` (the bucket's logical name when awslab made it).
    let label = out[0]
        .tags
        .get(tags::RESOURCE)
        .cloned()
        .unwrap_or_else(|| bucket.to_owned());
    let child = |what: &str, facts: Facts| Observed {
        kind: match facts {
            Facts::BucketPolicy(_) => Kind::BucketPolicy,
            Facts::Website(_) => Kind::Website,
            _ => Kind::Objects,
        },
        id: format!("{bucket}/{what}"),
        tags: named(child_tags.clone(), &format!("{label}/{what}")),
        facts,
    };
    if let Some(p) = policy.as_ref().and_then(|p| p.policy()) {
        out.push(child(
            "policy",
            Facts::BucketPolicy(BucketPolicyFacts {
                bucket: bucket.to_owned(),
                document: p.to_owned(),
            }),
        ));
    }
    if let Some(w) = &website {
        out.push(child(
            "website",
            Facts::Website(WebsiteFacts {
                bucket: bucket.to_owned(),
                index_document: w.index_document().map(|i| i.suffix().to_owned()),
                error_document: w.error_document().map(|e| e.key().to_owned()),
            }),
        ));
    }
    out.push(child(
        "objects",
        Facts::Objects(ObjectsFacts {
            bucket: bucket.to_owned(),
            objects,
        }),
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
        e.aws_code(),
        Some("PermanentRedirect" | "AuthorizationHeaderMalformed")
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
        Scope::Owners(owners) => owners.iter().any(|o| is_owners(name, o)),
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
        Scope::Owners(owners) => owners
            .iter()
            .any(|o| o.owns(&t) || (is_owners(name, o) && !t.contains_key(tags::LAB))),
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
