//! ECR images: a directory packed into a layer (on top of a base image pulled from a registry,
//! or alone) and pushed under a tag.

use super::*;
use crate::check::Names;
use crate::lab::Lab;

/// The files of a directory, packed into a one-layer image and pushed under a tag.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub repository: String,
    pub tag: String,
    pub source: String,
    pub files: Vec<crate::lab::SiteFile>,
    /// The image the files go on top of.
    pub base: Option<crate::image::Reference>,
    /// Where the files go in the image, without the leading `/`.
    pub dest: String,
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

/// The keys of an `ecr_image` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct ImageKeys {
    /// The repository (an `ecr_repository` resource) the image is pushed to.
    #[schemars(with = "Option<String>")]
    pub repository: Option<toml::Spanned<String>>,
    /// The image's tag, e.g. `v1`.
    #[schemars(with = "Option<String>")]
    pub tag: Option<toml::Spanned<String>>,
    /// A directory, relative to the lab file.
    #[schemars(with = "Option<String>")]
    pub source: Option<toml::Spanned<String>>,
    /// The image the files go on top of, pulled from its registry when the image is pushed,
    /// e.g. `public.ecr.aws/docker/library/nginx:1.27-alpine` (linux/amd64 of an index). Without
    /// it the image holds the files alone.
    #[schemars(with = "Option<String>")]
    pub base: Option<toml::Spanned<String>>,
    /// Where the files go in the image, e.g. `/usr/share/nginx/html`; `/` if left out.
    #[schemars(with = "Option<String>")]
    pub dest: Option<toml::Spanned<String>>,
}

impl ParseSpec for ImageSpec {
    type Keys = ImageKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &ImageKeys) -> Self {
        let kind = Kind::Image;
        let repo = cx
            .required(name, kind, "repository", &d.repository)
            .cloned();
        let tag = cx
            .required(name, kind, "tag", &d.tag)
            .map(|t| t.get_ref().clone())
            .unwrap_or_default();
        if let Some(t) = &d.tag
            && let Err(why) = crate::push::check_tag(t.get_ref())
        {
            cx.error(t.span(), why, "invalid tag");
        }
        let (source, files) = cx.source_files(name, kind, &d.source, true);
        let base =
            d.base
                .as_ref()
                .and_then(|b| match crate::image::Reference::parse(b.get_ref()) {
                    Ok(r) => Some(r),
                    Err(why) => {
                        cx.error(b.span(), why, "an image reference");
                        None
                    }
                });
        let dest = match &d.dest {
            Some(p) => match crate::image::check_dest(p.get_ref()) {
                Ok(p) => p,
                Err(why) => {
                    cx.error(p.span(), why, "an absolute path in the image");
                    String::new()
                }
            },
            None => String::new(),
        };
        if let (Some(p), None) = (&d.dest, &d.base) {
            cx.error(
                p.span(),
                "`dest` places the files in a base image: give `base` too".to_owned(),
                "without `base`",
            );
        }
        ImageSpec {
            repository: repo
                .and_then(|r| cx.reference(&r, &[Kind::Repository]))
                .unwrap_or_default(),
            tag,
            source,
            files,
            base,
            dest,
        }
    }
}

pub struct Image;

/// The base image, pulled (or read from the cache), with its progress on the wait's line.
async fn pull_base(
    cx: &ApplyCx<'_>,
    base: &crate::image::Reference,
) -> Result<crate::image::Base, AwsError> {
    let report = |got: u64, total: u64| {
        if total > 0 {
            cx.wait.note(format!("pulling {base}: {got}/{total} bytes"));
        }
    };
    crate::image::pull(base, &report).await.map_err(|e| {
        let help = miette::Diagnostic::help(&e).map(|h| h.to_string());
        let mut err =
            AwsError::from_fault("registry:pull", base.to_string(), Fault::Pull(Box::new(e)));
        err.help = help;
        err
    })
}

#[async_trait]
impl ResourceKind for Image {
    fn kind(&self) -> Kind {
        Kind::Image
    }

    fn placement(&self) -> crate::resources::Placement {
        crate::resources::Placement::Child(Kind::Repository)
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

    /// Listed with their repository.
    async fn discover(&self, _aws: &Aws, _scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    /// Pulls the base, packs the lab's files onto it and pushes them (`awslab push`'s code:
    /// skips what is there).
    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        _existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let ImageSpec {
            repository,
            tag,
            files,
            base,
            dest,
            ..
        } = crate::resources::spec_of(res)?;
        let repo = cx.bound.require(repository, &res.name)?.to_owned();
        let base = match base {
            Some(b) => Some(pull_base(cx, b).await?),
            None => None,
        };
        let image = crate::image::pack_files(
            &files
                .iter()
                .map(|f| (f.key.clone(), f.content.clone(), 0o644))
                .collect::<Vec<_>>(),
            base.as_ref().map(|b| (b, dest.as_str())),
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

    fn related<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        _lab: &Lab,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        let Spec::Image(s) = &res.spec else {
            return None;
        };
        self.find_existing(world, owner, res, bound)
            .map(|o| (o, format!("as tag {} of {}", s.tag, s.repository)))
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        match &res.spec {
            Spec::Image(s) => format!("{} has no image tagged {}", s.repository, s.tag),
            _ => crate::resources::missing_by_name(res, names),
        }
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
