//! The bucket itself: its settings, tags and ownership, and emptying it before delete.

use super::*;
use crate::check::FoundBy;
use crate::check::Names;
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::quota::Quota;
use toml::Spanned;

/// An S3 bucket (named per lab resource, lab and env, and account) with its settings.
#[derive(Debug, Clone)]
pub struct BucketSpec {
    pub versioning: bool,
    /// SSE-S3 is always set explicitly; this is its bucket key.
    pub bucket_key: bool,
    pub object_ownership: String,
    pub public_access: crate::lab::PublicAccess,
}

/// What AWS says of an S3 bucket.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BucketFacts {
    /// `Enabled`, `Suspended` or `Disabled` (never enabled).
    pub versioning: String,
    /// The default encryption set on the bucket (`AES256`, `aws:kms`); `None`: none set.
    pub sse: Option<String>,
    pub bucket_key: bool,
    pub ownership: Option<String>,
    pub public_access: crate::lab::PublicAccess,
    /// S3 would not let awslab read the bucket (its policy denies awslab): the settings
    /// above are unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<crate::resources::s3::Refusal>,
}

impl crate::resources::KindSpec for BucketSpec {
    fn refs(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl crate::resources::KindFacts for BucketFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }
}

/// The keys of a `s3_bucket` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct BucketKeys {
    /// Keep every version of every object.
    #[schemars(with = "Option<bool>")]
    pub versioning: Option<toml::Spanned<bool>>,
    /// Default encryption (SSE-S3) with the bucket key.
    #[schemars(with = "Option<bool>")]
    pub bucket_key: Option<toml::Spanned<bool>>,
    /// `BucketOwnerEnforced` (ACLs disabled), `BucketOwnerPreferred` or `ObjectWriter`.
    #[schemars(with = "Option<String>")]
    pub object_ownership: Option<toml::Spanned<String>>,
    /// Block Public Access: block public ACLs.
    #[schemars(with = "Option<bool>")]
    pub block_public_acls: Option<toml::Spanned<bool>>,
    /// Block Public Access: ignore public ACLs.
    #[schemars(with = "Option<bool>")]
    pub ignore_public_acls: Option<toml::Spanned<bool>>,
    /// Block Public Access: block public bucket policies.
    #[schemars(with = "Option<bool>")]
    pub block_public_policy: Option<toml::Spanned<bool>>,
    /// Block Public Access: restrict public buckets.
    #[schemars(with = "Option<bool>")]
    pub restrict_public_buckets: Option<toml::Spanned<bool>>,
}

impl ParseSpec for BucketSpec {
    type Keys = BucketKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &BucketKeys) -> Self {
        if let Some(why) = crate::resources::s3::logical_name_problem(name.get_ref()) {
            cx.error(
                name.span(),
                format!("bucket `{}`: {why}", name.get_ref()),
                "names the bucket",
            );
        }
        let flag =
            |f: &Option<Spanned<bool>>, default: bool| f.as_ref().map_or(default, |b| *b.get_ref());
        let object_ownership = match &d.object_ownership {
            None => "BucketOwnerEnforced".to_owned(),
            Some(o) => {
                match o.get_ref().as_str() {
                    v @ ("BucketOwnerEnforced" | "BucketOwnerPreferred" | "ObjectWriter") => {
                        v.to_owned()
                    }
                    other => {
                        cx.error(
                            o.span(),
                            format!("unknown object ownership `{other}`"),
                            "invalid ownership",
                        );
                        cx.help("BucketOwnerEnforced (ACLs disabled), BucketOwnerPreferred or ObjectWriter");
                        String::new()
                    }
                }
            }
        };
        // Every setting of Block Public Access defaults to on, as AWS does.
        BucketSpec {
            versioning: flag(&d.versioning, false),
            bucket_key: flag(&d.bucket_key, true),
            object_ownership,
            public_access: PublicAccess {
                block_public_acls: flag(&d.block_public_acls, true),
                ignore_public_acls: flag(&d.ignore_public_acls, true),
                block_public_policy: flag(&d.block_public_policy, true),
                restrict_public_buckets: flag(&d.restrict_public_buckets, true),
            },
        }
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

    fn quota_needs(&self, _res: &Resource, _lab: &crate::lab::Lab) -> Vec<(Quota, u32)> {
        vec![(Quota::S3Buckets, 1)]
    }

    /// Billed by what is stored and requested: a small site costs fractions of a cent.
    fn price(&self, res: &Resource, _lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        e.add(
            format!(
                "S3 bucket {} (${:.3}/GB-month stored; a small site: ~$0)",
                res.name,
                crate::cost::S3_GB_MONTH
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
        add_tags(aws, &obs.id, &[(key.to_owned(), value.to_owned())]).await?;
        Ok(crate::resources::Stamped::Done)
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
            Scope::Owners(owners) => names
                .into_iter()
                .filter(|(n, _)| {
                    owners
                        .iter()
                        .any(|o| is_owners(n, o) || is_plain_env_name(n, o))
                })
                .collect(),
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
        let BucketSpec {
            versioning,
            bucket_key,
            object_ownership,
            public_access,
        } = crate::resources::spec_of(res)?;
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
                    if e.aws_code() != Some("BucketAlreadyOwnedByYou") {
                        return Err(e);
                    }
                }
                let tags = self.take(cx, res, &name).await?;
                (name, tags)
            }
        };
        let current = existing.map(|o| &o.facts);
        let (cur_versioning, cur_key, cur_sse, cur_owner, cur_block) = match current {
            Some(Facts::Bucket(BucketFacts {
                versioning,
                bucket_key,
                sse,
                ownership,
                public_access,
                ..
            })) => (
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
                        AwsError::from_fault(
                            "s3:PutBucketOwnershipControls",
                            &name,
                            Fault::Unbuilt(e),
                        )
                    })?;
                let controls = OwnershipControls::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| {
                        AwsError::from_fault(
                            "s3:PutBucketOwnershipControls",
                            &name,
                            Fault::Unbuilt(e),
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
                        AwsError::from_fault("s3:PutBucketEncryption", &name, Fault::Unbuilt(e))
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
                        AwsError::from_fault("s3:PutBucketEncryption", &name, Fault::Unbuilt(e))
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
            Spec::Bucket(BucketSpec {
                versioning,
                bucket_key,
                object_ownership,
                public_access,
            }),
            Facts::Bucket(BucketFacts {
                versioning: v,
                sse,
                bucket_key: k,
                ownership,
                public_access: found,
                refused,
            }),
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

    /// `<name>-<code>-<account>`: the name the lab tells the student to use, already the
    /// env's own.
    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        owner: &Owner,
        _names: &Names,
    ) -> Option<FoundBy> {
        super::is_name_of(&o.id, owner, &res.name)
            .then(|| FoundBy::name(&o.id, "bucket name", &o.id))
    }

    fn missing(&self, res: &Resource, _names: &Names) -> String {
        format!(
            "no bucket named as the lab says (`awslab show` prints the name: `{}-<code of lab and env>-<account id>`)",
            res.name
        )
    }

    /// Bucket names are global: `<name>-<code of lab and env>-<account>`.
    async fn lookup_names(
        &self,
        aws: &Aws,
        lab: &crate::lab::Lab,
        owner: &Owner,
        _names: &Names,
    ) -> Result<Vec<String>, AwsError> {
        let logical: Vec<&str> = lab
            .resources
            .iter()
            .filter(|r| r.kind() == Kind::Bucket)
            .map(|r| r.name.as_str())
            .collect();
        if logical.is_empty() {
            return Ok(Vec::new());
        }
        let account = aws.account_id().await?;
        Ok(logical
            .iter()
            .map(|l| super::bucket_name(owner, l, &account))
            .collect())
    }

    fn planned_id(&self, res: &Resource, owner: &Owner, account: &str) -> Option<String> {
        Some(super::bucket_name(owner, &res.name, account))
    }

    fn named_by_account(&self) -> bool {
        true
    }

    /// What it stores is not in AWS's description of it: priced by the lab only (`cost`).
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}

/// Deletes every object version and delete marker (1000 per call).
pub(super) async fn empty(aws: &Aws, bucket: &str, wait: &Waiter<'_>) -> Result<(), AwsError> {
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
                        AwsError::from_fault("s3:DeleteObjects", bucket, Fault::Unbuilt(e))
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
                        AwsError::from_fault("s3:DeleteObjects", bucket, Fault::Unbuilt(e))
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
            return Err(AwsError::from_fault(
                "s3:DeleteObjects",
                bucket,
                Fault::NotDeleted {
                    versions: listed.len(),
                },
            ));
        }
        previous = listed;
        let count = ids.len();
        for chunk in ids.chunks(1000) {
            let delete = Delete::builder()
                .set_objects(Some(chunk.to_vec()))
                .quiet(true)
                .build()
                .map_err(|e| AwsError::from_fault("s3:DeleteObjects", bucket, Fault::Unbuilt(e)))?;
            let out = aws
                .s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:DeleteObjects", bucket, e))?;
            if let Some(e) = out.errors().first() {
                return Err(AwsError::answer(
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
