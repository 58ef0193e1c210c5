//! The objects uploaded from a lab folder, kept in step by their MD5.

use super::*;
use crate::check::Names;
use crate::lab::Lab;
use crate::lab::validate::{ParseSpec, SpecCx};
use toml::Spanned;

/// The files of a directory, uploaded with their content types.
#[derive(Debug, Clone)]
pub struct ObjectsSpec {
    pub bucket: String,
    pub source: String,
    pub files: Vec<crate::lab::SiteFile>,
}

/// What AWS says of a set of S3 objects.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ObjectsFacts {
    pub bucket: String,
    pub objects: Vec<crate::resources::s3::StoredObject>,
}

impl crate::resources::KindSpec for ObjectsSpec {
    fn refs(&self) -> Vec<&str> {
        let ObjectsSpec { bucket, .. } = self;
        vec![bucket.as_str()]
    }
}

impl crate::resources::KindFacts for ObjectsFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }
}

/// The keys of a `s3_objects` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct ObjectsKeys {
    /// The bucket (an `s3_bucket` resource) the files are uploaded to.
    #[schemars(with = "Option<String>")]
    pub bucket: Option<toml::Spanned<String>>,
    /// A directory, relative to the lab file.
    #[schemars(with = "Option<String>")]
    pub source: Option<toml::Spanned<String>>,
}

impl ParseSpec for ObjectsSpec {
    type Keys = ObjectsKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &ObjectsKeys) -> Self {
        let kind = Kind::Objects;
        let bucket = cx.bucket_ref(name, kind, &d.bucket);
        let (source, files) = cx.source_files(name, kind, &d.source, false);
        ObjectsSpec {
            bucket,
            source,
            files,
        }
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

    fn placement(&self) -> crate::resources::Placement {
        crate::resources::Placement::Child(Kind::Bucket)
    }

    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::WithParent
    }

    async fn stamp(
        &self,
        _aws: &Aws,
        _obs: &Observed,
        _key: &str,
        _value: &str,
    ) -> Result<crate::resources::Stamped, AwsError> {
        Ok(crate::resources::Stamped::WithParent)
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
        let ObjectsSpec { bucket, files, .. } = crate::resources::spec_of(res)?;
        let name = bucket_of(cx, res, bucket)?;
        let stored = match existing.map(|o| &o.facts) {
            Some(Facts::Objects(ObjectsFacts { objects, .. })) => objects.clone(),
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
            facts: Facts::Objects(ObjectsFacts {
                bucket: name.to_owned(),
                objects: list_objects(cx.aws, name).await?,
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
        let Spec::Objects(ObjectsSpec { bucket, .. }) = &res.spec else {
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
        let (
            Spec::Objects(ObjectsSpec { files, .. }),
            Facts::Objects(ObjectsFacts { objects, .. }),
        ) = (&res.spec, &obs.facts)
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
        let Facts::Objects(ObjectsFacts { bucket, .. }) = &obs.facts else {
            return Ok(());
        };
        empty(cx.aws, bucket, &cx.wait).await
    }

    fn related<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        _lab: &Lab,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        let Spec::Objects(s) = &res.spec else {
            return None;
        };
        self.find_existing(world, owner, res, bound)
            .map(|o| (o, format!("as part of bucket {}", s.bucket)))
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        match &res.spec {
            Spec::Objects(s) => format!("{} was not found, so neither its objects", s.bucket),
            _ => crate::resources::missing_by_name(res, names),
        }
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
