//! `awslab push`: an image into an ECR repository through the ECR API itself (no Docker, no
//! registry login): blobs the repository already has are skipped
//! (`BatchCheckLayerAvailability`), the others go up in parts read one at a time from disk
//! (`InitiateLayerUpload`, `UploadLayerPart`, `CompleteLayerUpload`, which checks the digest),
//! then the manifest with its tag (`PutImage`). A push cut short and run again resumes by
//! skipping what arrived. A tag that already names another image in an IMMUTABLE repository is
//! refused before anything is uploaded. Tags and repository names are checked against their
//! grammars before any call.

use aws_sdk_ecr::primitives::Blob as EcrBlob;
use aws_sdk_ecr::types::{ImageIdentifier, ImageTagMutability, LayerAvailability};

use miette::Diagnostic;

use crate::aws::{Aws, AwsError, Fault};
use crate::image::{Blob, Image, Input};

/// The version of `awslab push --format json`'s output; fields are only added.
pub const SCHEMA_VERSION: u32 = 1;

/// What a push did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Pushed {
    pub schema_version: u32,
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
    /// What the image was read from.
    pub input: Input,
}

/// A tag as OCI distribution (and ECR) allows it: 1-128 of `[A-Za-z0-9_.-]`, not starting with
/// `.` or `-`.
pub fn check_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if first_ok && rest_ok && tag.len() <= 128 {
        Ok(())
    } else {
        Err(format!(
            "{tag:?} is not an image tag: 1-128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
        ))
    }
}

/// An ECR repository name: 2-256 characters, lowercase parts of letters and digits joined by
/// `.`, `_` or `-`, separated by `/`.
pub fn check_repository(name: &str) -> Result<(), String> {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.split(['.', '_', '-']).all(|w| {
                !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
    };
    if (2..=256).contains(&name.len()) && name.split('/').all(part_ok) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not an ECR repository name: 2-256 characters, lowercase letters and digits in parts joined by `.`, `_` or `-`, separated by `/`"
        ))
    }
}

/// Why a push did not happen.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum PushError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),

    #[error(
        "refused: {repository}:{tag} already names {current}, and the repository's tags are IMMUTABLE; nothing was uploaded"
    )]
    #[diagnostic(
        code(awslab::push::immutable_tag),
        help("push under a new tag (v2, …): an immutable tag cannot move to another image")
    )]
    TagTaken {
        repository: String,
        tag: String,
        current: String,
    },
}

impl PushError {
    /// As an AWS error, for the engine (a lab's `ecr_image`).
    pub fn into_aws(self) -> AwsError {
        match self {
            PushError::Aws(e) => e,
            PushError::TagTaken {
                repository,
                tag,
                current,
            } => AwsError::from_fault(
                "awslab:push",
                format!("{repository}:{tag}"),
                Fault::TagTaken {
                    repository,
                    tag,
                    current,
                },
            ),
        }
    }
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
        .known("ecr:DescribeImages", &format!("{repository}:{tag}"), || {
            aws.ecr
                .describe_images()
                .repository_name(repository)
                .image_ids(ImageIdentifier::builder().image_tag(tag).build())
                .send()
        })
        .await;
    match out {
        Ok(o) => Ok(o
            .image_details()
            .first()
            .and_then(|d| d.image_digest())
            .map(str::to_owned)),
        Err(e) if e.aws_code() == Some("ImageNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Pushes `image` as `repository:tag`. `created` says the repository is known to exist (a lab
/// has just made it): then a not-found answer means "not visible yet" and is asked again;
/// otherwise a repository that is not there is an error at once (a typo on the command line).
pub async fn push(
    aws: &Aws,
    repository: &str,
    tag: &str,
    image: &Image,
    created: bool,
    progress: Progress<'_>,
) -> Result<Pushed, PushError> {
    let digest = image.digest().to_string();
    let mut pushed = Pushed {
        schema_version: SCHEMA_VERSION,
        repository: repository.to_owned(),
        tag: tag.to_owned(),
        digest: digest.clone(),
        input: image.input.clone(),
        ..Pushed::default()
    };
    let describe = || {
        aws.ecr
            .describe_repositories()
            .repository_names(repository)
            .send()
    };
    let repo = if created {
        aws.known("ecr:DescribeRepositories", repository, describe)
            .await?
    } else {
        describe()
            .await
            .map_err(ecr_err("ecr:DescribeRepositories", repository))?
    };
    // From here on the repository is known to exist.
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
        Some(current) if immutable => {
            return Err(PushError::TagTaken {
                repository: repository.to_owned(),
                tag: tag.to_owned(),
                current,
            });
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
        let digests: Vec<String> = chunk.iter().map(|b| b.digest.to_string()).collect();
        let check = aws
            .known("ecr:BatchCheckLayerAvailability", repository, || {
                aws.ecr
                    .batch_check_layer_availability()
                    .repository_name(repository)
                    .set_layer_digests(Some(digests.clone()))
                    .send()
            })
            .await?;
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
        .map(|b| b.digest.to_string())
        .collect();
    let total: u64 = missing.iter().map(|b| b.size).sum();
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
        pushed.uploaded.push(b.digest.to_string());
    }
    let manifest = String::from_utf8(image.manifest.clone())
        .map_err(|e| AwsError::from_fault("ecr:PutImage", repository, Fault::BadManifest(e)))?;
    let put = aws
        .known("ecr:PutImage", &format!("{repository}:{tag}"), || {
            aws.ecr
                .put_image()
                .repository_name(repository)
                .image_manifest(&manifest)
                .image_manifest_media_type(&image.manifest_media_type)
                .image_tag(tag)
                .send()
        })
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
            // The same manifest under the same tag: already there.
            if e.aws_code() != Some("ImageAlreadyExistsException") {
                return Err(e.into());
            }
            pushed.unchanged = pushed.uploaded.is_empty();
        }
    }
    Ok(pushed)
}

/// The size of the parts sent (the last one may be smaller). A part and its base64 form are in
/// memory while it goes up, so this bounds the memory of a push whatever the image's size:
/// 5 MiB (ECR takes parts up to 20 MiB) keeps a push of any size under about 70 MiB resident,
/// where 10 MiB parts measured about 90 MiB.
const PART: u64 = 5 * 1024 * 1024;

/// One blob, in parts of [`PART`] bytes, each read from disk just before it is sent.
async fn upload(
    aws: &Aws,
    repository: &str,
    blob: &Blob,
    sent: &mut u64,
    total: u64,
    progress: Progress<'_>,
) -> Result<(), AwsError> {
    let digest = blob.digest.to_string();
    if blob.size == 0 {
        return Err(AwsError::from_fault(
            "ecr:UploadLayerPart",
            &digest,
            Fault::EmptyUpload,
        ));
    }
    let init = aws
        .known("ecr:InitiateLayerUpload", repository, || {
            aws.ecr
                .initiate_layer_upload()
                .repository_name(repository)
                .send()
        })
        .await?;
    let upload_id = init.upload_id().unwrap_or_default().to_owned();
    let mut first = 0u64;
    while first < blob.size {
        let len = PART.min(blob.size - first);
        let chunk = blob
            .read_range(first, usize::try_from(len).unwrap_or(usize::MAX))
            .map_err(|e| {
                AwsError::from_fault("ecr:UploadLayerPart", &digest, Fault::ReadFailed(e))
            })?;
        let last = first + len - 1;
        aws.known("ecr:UploadLayerPart", &digest, || {
            aws.ecr
                .upload_layer_part()
                .repository_name(repository)
                .upload_id(&upload_id)
                .part_first_byte(i64::try_from(first).unwrap_or(i64::MAX))
                .part_last_byte(i64::try_from(last).unwrap_or(i64::MAX))
                .layer_part_blob(EcrBlob::new(chunk.clone()))
                // A part is 7 MB as base64 JSON: on a slow uplink that takes longer than the
                // usual per-attempt timeout.
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
        })
        .await?;
        first = last + 1;
        *sent += len;
        progress(*sent, total);
    }
    match aws
        .known("ecr:CompleteLayerUpload", &digest, || {
            aws.ecr
                .complete_layer_upload()
                .repository_name(repository)
                .upload_id(&upload_id)
                .layer_digests(&digest)
                .send()
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.aws_code() == Some("LayerAlreadyExistsException") => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::{check_repository, check_tag};

    #[test]
    fn tags_follow_the_oci_grammar() {
        for ok in ["v1", "latest", "1.2.3", "_x", "A-b_c.d", &"a".repeat(128)] {
            assert_eq!(check_tag(ok), Ok(()), "{ok}");
        }
        for bad in ["", "bad tag!", ".v1", "-v1", "v1/x", "é", &"a".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_tag("bad tag!").expect_err("bad"),
            "\"bad tag!\" is not an image tag: 1-128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
        );
    }

    #[test]
    fn repository_names_follow_ecr_grammar() {
        for ok in ["lab/web", "ab", "a.b-c_d/e1", "t-push-123"] {
            assert_eq!(check_repository(ok), Ok(()), "{ok}");
        }
        for bad in [
            "", "a", "Lab/web", "lab//web", "/web", "web/", "a..b", "-a", "a b",
        ] {
            assert!(check_repository(bad).is_err(), "{bad}");
        }
    }
}
