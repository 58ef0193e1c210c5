//! The website configuration and its endpoint.

use super::*;
use crate::check::Names;
use crate::lab::Lab;
use crate::lab::validate::{ParseSpec, SpecCx};
use toml::Spanned;

/// What a lab file declares for a website configuration.
#[derive(Debug, Clone)]
pub struct WebsiteSpec {
    pub bucket: String,
    pub index_document: String,
    pub error_document: Option<String>,
}

/// What AWS says of a website configuration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WebsiteFacts {
    pub bucket: String,
    pub index_document: Option<String>,
    pub error_document: Option<String>,
}

impl crate::resources::KindSpec for WebsiteSpec {
    fn refs(&self) -> Vec<&str> {
        let WebsiteSpec { bucket, .. } = self;
        vec![bucket.as_str()]
    }
}

impl crate::resources::KindFacts for WebsiteFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }
}

/// The keys of a `s3_website_config` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct WebsiteKeys {
    /// The bucket (an `s3_bucket` resource) that serves the website.
    #[schemars(with = "Option<String>")]
    pub bucket: Option<toml::Spanned<String>>,
    /// The index document, e.g. `index.html`.
    #[schemars(with = "Option<String>")]
    pub index_document: Option<toml::Spanned<String>>,
    /// The error document, e.g. `error.html`.
    #[schemars(with = "Option<String>")]
    pub error_document: Option<toml::Spanned<String>>,
}

impl ParseSpec for WebsiteSpec {
    type Keys = WebsiteKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &WebsiteKeys) -> Self {
        let kind = Kind::Website;
        WebsiteSpec {
            bucket: cx.bucket_ref(name, kind, &d.bucket),
            index_document: d
                .index_document
                .as_ref()
                .map_or_else(|| "index.html".to_owned(), |i| i.get_ref().clone()),
            error_document: d.error_document.as_ref().map(|e| e.get_ref().clone()),
        }
    }
}

pub struct Website;

#[async_trait]
impl ResourceKind for Website {
    fn kind(&self) -> Kind {
        Kind::Website
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

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        _existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let WebsiteSpec {
            bucket,
            index_document,
            error_document,
        } = crate::resources::spec_of(res)?;
        let name = bucket_of(cx, res, bucket)?;
        let bad = |e: aws_sdk_s3::error::BuildError| {
            AwsError::from_fault("s3:PutBucketWebsite", name, Fault::Unbuilt(e))
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
            facts: Facts::Website(WebsiteFacts {
                bucket: name.to_owned(),
                index_document: Some(index_document.clone()),
                error_document: error_document.clone(),
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
        let Spec::Website(WebsiteSpec { bucket, .. }) = &res.spec else {
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
            Spec::Website(WebsiteSpec {
                index_document,
                error_document,
                ..
            }),
            Facts::Website(WebsiteFacts {
                index_document: i,
                error_document: e,
                ..
            }),
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
        let Facts::Website(WebsiteFacts { bucket, .. }) = &obs.facts else {
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

    fn related<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        _lab: &Lab,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        let Spec::Website(s) = &res.spec else {
            return None;
        };
        self.find_existing(world, owner, res, bound)
            .map(|o| (o, format!("as part of bucket {}", s.bucket)))
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        match &res.spec {
            Spec::Website(s) => format!("{} has no static website hosting configured", s.bucket),
            _ => crate::resources::missing_by_name(res, names),
        }
    }

    fn planned_url(
        &self,
        res: &Resource,
        id_of: &dyn Fn(&str) -> Option<String>,
        region: &str,
    ) -> Option<String> {
        let Spec::Website(s) = &res.spec else {
            return None;
        };
        id_of(&s.bucket).map(|b| super::website_url(&b, region))
    }

    fn url(&self, obs: &Observed, region: &str) -> Option<String> {
        match &obs.facts {
            Facts::Website(f) => Some(super::website_url(&f.bucket, region)),
            _ => None,
        }
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
