//! `awslab push`: an image into an ECR repository through the ECR API itself (no Docker, no
//! registry login): blobs the repository already has are skipped
//! (`BatchCheckLayerAvailability`), the others go up in parts (`InitiateLayerUpload`,
//! `UploadLayerPart`, `CompleteLayerUpload`, which checks the digest), then the manifest with
//! its tag (`PutImage`). A push cut short and run again resumes by skipping what arrived. A tag
//! that already names another image in an IMMUTABLE repository is refused before anything is
//! uploaded.

use aws_sdk_ecr::primitives::Blob as EcrBlob;
use aws_sdk_ecr::types::{ImageIdentifier, ImageTagMutability, LayerAvailability};

use crate::aws::{Aws, AwsError};
use crate::image::{Blob, Image};

/// What a push did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Pushed {
    pub repository: String,
    pub tag: String,
    /// The image's digest (`sha256:…`), as the repository knows it.
    pub digest: String,
    /// Blobs uploaded and blobs the repository already had.
    pub uploaded: Vec<String>,
    pub skipped: Vec<String>,
    pub bytes_uploaded: u64,
    /// The tag already named this image: nothing was changed.
    pub unchanged: bool,
}

/// Reports bytes sent so far of the total to send.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

fn ecr_err<E, R>(
    op: &'static str,
    resource: &str,
) -> impl Fn(aws_sdk_ecr::error::SdkError<E, R>) -> AwsError
where
    E: aws_sdk_ecr::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let resource = resource.to_owned();
    move |e| AwsError::from_sdk(op, &resource, e)
}

/// The digest a tag names in the repository, if any.
async fn tagged(aws: &Aws, repository: &str, tag: &str) -> Result<Option<String>, AwsError> {
    let out = aws
        .ecr
        .describe_images()
        .repository_name(repository)
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await;
    match out {
        Ok(o) => Ok(o
            .image_details()
            .first()
            .and_then(|d| d.image_digest())
            .map(str::to_owned)),
        Err(e) => {
            let e = AwsError::from_sdk("ecr:DescribeImages", format!("{repository}:{tag}"), e);
            if e.code == "ImageNotFoundException" {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

pub async fn push(
    aws: &Aws,
    repository: &str,
    tag: &str,
    image: &Image,
    progress: Progress<'_>,
) -> Result<Pushed, AwsError> {
    let digest = image.digest();
    let mut pushed = Pushed {
        repository: repository.to_owned(),
        tag: tag.to_owned(),
        digest: digest.clone(),
        ..Pushed::default()
    };
    let repo = aws
        .ecr
        .describe_repositories()
        .repository_names(repository)
        .send()
        .await
        .map_err(ecr_err("ecr:DescribeRepositories", repository))?;
    let immutable = repo
        .repositories()
        .first()
        .and_then(|r| r.image_tag_mutability())
        .is_some_and(|m| {
            matches!(
                m,
                ImageTagMutability::Immutable | ImageTagMutability::ImmutableWithExclusion
            )
        });
    // Before any upload: what the tag names now.
    match tagged(aws, repository, tag).await? {
        Some(d) if d == digest => {
            pushed.unchanged = true;
            return Ok(pushed);
        }
        Some(d) if immutable => {
            let mut e = AwsError::other(
                "ecr:PutImage",
                format!("{repository}:{tag}"),
                "ImageTagAlreadyExistsException",
                format!(
                    "tag {tag} already names {d} in the IMMUTABLE repository {repository}; nothing was uploaded"
                ),
            );
            e.help = Some("push under a new tag (v2, …): immutable tags cannot move".to_owned());
            return Err(e);
        }
        _ => {}
    }
    // Each blob once (an image may list a layer twice), asked about 100 at a time.
    let mut blobs: Vec<&Blob> = Vec::new();
    for b in std::iter::once(&image.config).chain(&image.layers) {
        if !blobs.iter().any(|x| x.digest == b.digest) {
            blobs.push(b);
        }
    }
    let mut available: Vec<String> = Vec::new();
    for chunk in blobs.chunks(100) {
        let check = aws
            .ecr
            .batch_check_layer_availability()
            .repository_name(repository)
            .set_layer_digests(Some(chunk.iter().map(|b| b.digest.clone()).collect()))
            .send()
            .await
            .map_err(ecr_err("ecr:BatchCheckLayerAvailability", repository))?;
        available.extend(
            check
                .layers()
                .iter()
                .filter(|l| l.layer_availability() == Some(&LayerAvailability::Available))
                .filter_map(|l| l.layer_digest().map(str::to_owned)),
        );
    }
    let available: Vec<&str> = available.iter().map(String::as_str).collect();
    let missing: Vec<&Blob> = blobs
        .iter()
        .copied()
        .filter(|b| !available.contains(&b.digest.as_str()))
        .collect();
    pushed.skipped = blobs
        .iter()
        .filter(|b| available.contains(&b.digest.as_str()))
        .map(|b| b.digest.clone())
        .collect();
    let total: u64 = missing.iter().map(|b| b.data.len() as u64).sum();
    progress(0, total);
    for b in missing {
        upload(
            aws,
            repository,
            b,
            &mut pushed.bytes_uploaded,
            total,
            progress,
        )
        .await?;
        pushed.uploaded.push(b.digest.clone());
    }
    let manifest = String::from_utf8(image.manifest.clone())
        .map_err(|e| AwsError::other("ecr:PutImage", repository, "BadManifest", e.to_string()))?;
    let put = aws
        .ecr
        .put_image()
        .repository_name(repository)
        .image_manifest(manifest)
        .image_manifest_media_type(&image.manifest_media_type)
        .image_tag(tag)
        .send()
        .await;
    match put {
        Ok(out) => {
            if let Some(d) = out
                .image()
                .and_then(|i| i.image_id())
                .and_then(|i| i.image_digest())
            {
                pushed.digest = d.to_owned();
            }
        }
        Err(e) => {
            let e = AwsError::from_sdk("ecr:PutImage", format!("{repository}:{tag}"), e);
            // The same manifest under the same tag: already there.
            if e.code != "ImageAlreadyExistsException" {
                return Err(e);
            }
            pushed.unchanged = pushed.uploaded.is_empty();
        }
    }
    Ok(pushed)
}

/// One blob, in the parts the repository asks for.
async fn upload(
    aws: &Aws,
    repository: &str,
    blob: &Blob,
    sent: &mut u64,
    total: u64,
    progress: Progress<'_>,
) -> Result<(), AwsError> {
    let init = aws
        .ecr
        .initiate_layer_upload()
        .repository_name(repository)
        .send()
        .await
        .map_err(ecr_err("ecr:InitiateLayerUpload", repository))?;
    let upload_id = init.upload_id().unwrap_or_default().to_owned();
    // ECR parts are at least 5 MiB except the last; it says its own size.
    const MIB: usize = 1024 * 1024;
    let part = init
        .part_size()
        .and_then(|p| usize::try_from(p).ok())
        .unwrap_or(10 * MIB)
        .clamp(5 * MIB, 20 * MIB);
    if blob.data.is_empty() {
        return Err(AwsError::other(
            "ecr:UploadLayerPart",
            &blob.digest,
            "EmptyUpload",
            "an empty blob cannot be uploaded",
        ));
    }
    let mut first = 0usize;
    for chunk in blob.data.chunks(part) {
        let last = first + chunk.len() - 1;
        aws.ecr
            .upload_layer_part()
            .repository_name(repository)
            .upload_id(&upload_id)
            .part_first_byte(first as i64)
            .part_last_byte(last as i64)
            .layer_part_blob(EcrBlob::new(chunk.to_vec()))
            // A part is up to 20 MiB (27 MB as base64 JSON): on a slow uplink that takes
            // longer than the usual per-attempt timeout.
            .customize()
            .config_override(
                aws_sdk_ecr::config::Config::builder().timeout_config(
                    aws_smithy_types::timeout::TimeoutConfig::builder()
                        .operation_attempt_timeout(std::time::Duration::from_secs(900))
                        .operation_timeout(std::time::Duration::from_secs(3600))
                        .build(),
                ),
            )
            .send()
            .await
            .map_err(ecr_err("ecr:UploadLayerPart", &blob.digest))?;
        first = last + 1;
        *sent += chunk.len() as u64;
        progress(*sent, total);
    }
    match aws
        .ecr
        .complete_layer_upload()
        .repository_name(repository)
        .upload_id(&upload_id)
        .layer_digests(&blob.digest)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = AwsError::from_sdk("ecr:CompleteLayerUpload", &blob.digest, e);
            if e.code == "LayerAlreadyExistsException" {
                Ok(())
            } else {
                Err(e)
            }
        }
    }
}
