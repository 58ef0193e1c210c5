//! OCI image layouts (a directory, or a tar of one: what `docker save` writes since Docker 25
//! and `skopeo copy oci:`): `index.json` names the images, blobs live at
//! `blobs/sha256/<hex>`. Every digest is checked before it becomes a file name, every blob
//! against its descriptor's size and digest, and layers against the config's diff ids.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::archive::TarIndex;
use super::blob::{self, Backing, Blob, StreamError};
use super::digest::Digest;
use super::error::ImageError;
use super::limits::{MAX_BLOB, MAX_JSON};
use super::select::{Candidate, choose};
use super::{Image, Input, OCI_MANIFEST};

/// Where the layout's files are.
pub enum Source<'a> {
    /// A directory (resolved), as the user named it.
    Dir {
        root: PathBuf,
        shown: PathBuf,
    },
    Tar(&'a TarIndex),
}

impl Source<'_> {
    pub fn shown(&self) -> &Path {
        match self {
            Source::Dir { shown, .. } => shown,
            Source::Tar(t) => &t.shown,
        }
    }

    /// (file, offset, size) of a member; `None` if absent. In a directory, a member must be a
    /// regular file inside it, links resolved.
    fn locate(&self, rel: &str) -> Result<Option<(Arc<Backing>, u64, u64)>, ImageError> {
        match self {
            Source::Tar(t) => Ok(t.find(rel).map(|(o, s)| (t.backing.clone(), o, s))),
            Source::Dir { root, shown } => {
                let path = root.join(rel);
                if std::fs::symlink_metadata(&path).is_err() {
                    return Ok(None);
                }
                let io = |source| ImageError::Io {
                    path: shown.join(rel),
                    source,
                };
                let real = std::fs::canonicalize(&path).map_err(io)?;
                if !real.starts_with(root) {
                    return Err(ImageError::NotAnImage {
                        path: shown.clone(),
                        why: format!("{rel} is a link to {}, outside the layout", real.display()),
                    });
                }
                let meta = std::fs::metadata(&real).map_err(io)?;
                if !meta.is_file() {
                    return Err(ImageError::NotAnImage {
                        path: shown.clone(),
                        why: format!("{rel} is {}", crate::tree::kind_of_meta(&meta)),
                    });
                }
                Ok(Some((Backing::file(&real), 0, meta.len())))
            }
        }
    }

    pub fn has(&self, rel: &str) -> bool {
        matches!(self.locate(rel), Ok(Some(_)))
    }

    /// A JSON document of the layout, read whole (at most [`MAX_JSON`]).
    fn json(&self, rel: &str) -> Result<Value, ImageError> {
        let (backing, offset, size) = self.locate(rel)?.ok_or_else(|| ImageError::Missing {
            path: self.shown().to_path_buf(),
            what: rel.to_owned(),
        })?;
        if size > MAX_JSON {
            return Err(ImageError::TooLarge {
                path: self.shown().to_path_buf(),
                what: rel.to_owned(),
                size,
                limit: MAX_JSON,
            });
        }
        let bytes =
            blob::read_at(backing.path(), offset, size).map_err(|source| ImageError::Io {
                path: self.shown().join(rel),
                source,
            })?;
        parse_json(self.shown(), rel, &bytes)
    }
}

pub fn parse_json(path: &Path, what: &str, bytes: &[u8]) -> Result<Value, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::Corrupt {
        path: path.to_path_buf(),
        why: format!("{what} is not JSON: {e}"),
    })
}

/// A descriptor's digest, checked.
pub fn digest_of(path: &Path, descriptor: &Value, what: &str) -> Result<Digest, ImageError> {
    let value = &descriptor["digest"];
    value
        .as_str()
        .and_then(Digest::parse)
        .ok_or_else(|| ImageError::BadDigest {
            path: path.to_path_buf(),
            what: what.to_owned(),
            value: value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned),
        })
}

/// What a layer's bytes are, by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    Tar,
    Gzip,
    /// zstd, foreign or unknown: checked by digest only.
    Other,
}

pub fn layer_kind(media_type: &str) -> LayerKind {
    if media_type.ends_with("gzip") {
        LayerKind::Gzip
    } else if media_type.ends_with(".tar") {
        LayerKind::Tar
    } else {
        LayerKind::Other
    }
}

/// A stream failure as the error that names the part.
pub fn stream_error(path: &Path, what: &str, compressed: u64, e: StreamError) -> ImageError {
    match e {
        StreamError::Io(source) => ImageError::Io {
            path: path.to_path_buf(),
            source,
        },
        StreamError::Expands { limit } => ImageError::Expands {
            path: path.to_path_buf(),
            what: what.to_owned(),
            compressed,
            limit,
        },
        StreamError::Gzip(e) => ImageError::Corrupt {
            path: path.to_path_buf(),
            why: format!("{what}: gzip: {e}"),
        },
    }
}

/// Checks a blob's digest, and a layer's diff id when it has one, in one pass.
pub fn verify(
    path: &Path,
    what: &str,
    blob: &Blob,
    kind: LayerKind,
    diff_id: Option<&Digest>,
) -> Result<(), ImageError> {
    let io = |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let reader = blob.reader().map_err(io)?;
    let (raw, plain) = match kind {
        LayerKind::Gzip => match blob::hash_gzip(reader, blob.size) {
            Ok((raw, plain)) => (raw, Some(plain)),
            // Bytes that are not what the digest says are the first thing to report.
            Err(e) => {
                let (raw, _) = blob::hash(blob.reader().map_err(io)?).map_err(io)?;
                if raw != blob.digest {
                    (raw, None)
                } else {
                    return Err(stream_error(path, what, blob.size, e));
                }
            }
        },
        LayerKind::Tar => {
            let (raw, _) = blob::hash(reader).map_err(io)?;
            (raw.clone(), Some(raw))
        }
        LayerKind::Other => (blob::hash(reader).map_err(io)?.0, None),
    };
    if raw != blob.digest {
        return Err(ImageError::DigestMismatch {
            path: path.to_path_buf(),
            what: what.to_owned(),
            expected: blob.digest.to_string(),
            found: raw.to_string(),
        });
    }
    if let (Some(expected), Some(found)) = (diff_id, plain)
        && *expected != found
    {
        return Err(ImageError::DigestMismatch {
            path: path.to_path_buf(),
            what: format!("{what}, uncompressed (the config's diff id)"),
            expected: expected.to_string(),
            found: found.to_string(),
        });
    }
    Ok(())
}

/// The blob a descriptor names, after checking its size; its content is checked by [`verify`].
fn described(
    src: &Source<'_>,
    descriptor: &Value,
    what: &str,
    limit: u64,
) -> Result<Blob, ImageError> {
    let path = src.shown();
    let digest = digest_of(path, descriptor, what)?;
    let rel = format!("blobs/sha256/{}", digest.hex());
    let what = format!("{what} ({rel})");
    let size = descriptor["size"]
        .as_u64()
        .ok_or_else(|| ImageError::Corrupt {
            path: path.to_path_buf(),
            why: format!("{what} has no size in its descriptor"),
        })?;
    if size > limit {
        return Err(ImageError::TooLarge {
            path: path.to_path_buf(),
            what,
            size,
            limit,
        });
    }
    let (backing, offset, found) = src.locate(&rel)?.ok_or_else(|| ImageError::Missing {
        path: path.to_path_buf(),
        what: what.clone(),
    })?;
    if found != size {
        return Err(ImageError::Corrupt {
            path: path.to_path_buf(),
            why: format!("{what} has {found} bytes, its descriptor says {size}"),
        });
    }
    let media_type = descriptor["mediaType"].as_str().unwrap_or_default();
    Ok(Blob::in_file(media_type, digest, backing, offset, size))
}

/// A small blob (manifest, config), checked and read.
fn document(
    src: &Source<'_>,
    descriptor: &Value,
    what: &str,
) -> Result<(Blob, Vec<u8>), ImageError> {
    let blob = described(src, descriptor, what, MAX_JSON)?;
    let label = format!("{what} (blobs/sha256/{})", blob.digest.hex());
    verify(src.shown(), &label, &blob, LayerKind::Other, None)?;
    let bytes = blob.to_vec().map_err(|source| ImageError::Io {
        path: src.shown().to_path_buf(),
        source,
    })?;
    Ok((blob, bytes))
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";
const IMAGE_CONFIGS: &[&str] = &[
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// The image of a layout: the only one, or the one `wanted` names.
pub fn load(src: &Source<'_>, wanted: Option<&str>, input: Input) -> Result<Image, ImageError> {
    let path = src.shown().to_path_buf();
    let index = src.json("index.json")?;
    let entries: Vec<Value> = index["manifests"].as_array().cloned().unwrap_or_default();
    let mut candidates = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let digest = digest_of(&path, e, &format!("index.json entry {}", i + 1))?;
        let refs = [REF_NAME, CONTAINERD_NAME]
            .iter()
            .filter_map(|k| e["annotations"][*k].as_str())
            .map(str::to_owned)
            .collect();
        candidates.push(Candidate {
            refs,
            digest: digest.to_string(),
        });
    }
    let chosen = choose(&path, &candidates, wanted)?;
    let descriptor = &entries[chosen];
    let (_, mut bytes) = document(src, descriptor, "the manifest")?;
    let mut parsed = parse_json(&path, "the manifest", &bytes)?;
    // An index (Docker's containerd image store writes one, multi-platform images have one):
    // the linux/amd64 image whose blobs are here, attestations aside.
    if let Some(platforms) = parsed["manifests"].as_array() {
        let mut usable = Vec::new();
        for (i, m) in platforms.iter().enumerate() {
            let d = digest_of(&path, m, &format!("the image index's entry {}", i + 1))?;
            let attestation = m["annotations"]["vnd.docker.reference.type"]
                == "attestation-manifest"
                || m["platform"]["os"] == "unknown";
            if !attestation && src.has(&format!("blobs/sha256/{}", d.hex())) {
                usable.push(m);
            }
        }
        let amd64 = usable
            .iter()
            .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64");
        let pick = amd64
            .or(usable.first())
            .copied()
            .ok_or_else(|| ImageError::NotAnImage {
                path: path.clone(),
                why: "its index has no image manifest whose blobs are here".to_owned(),
            })?
            .clone();
        (_, bytes) = document(src, &pick, "the image manifest")?;
        parsed = parse_json(&path, "the image manifest", &bytes)?;
    }
    let (config, config_bytes) = document(src, &parsed["config"], "the config")?;
    let config_json = parse_json(&path, "the config", &config_bytes)?;
    let descriptors = parsed["layers"]
        .as_array()
        .ok_or_else(|| ImageError::Corrupt {
            path: path.clone(),
            why: "the manifest has no layers".to_owned(),
        })?;
    let is_image = IMAGE_CONFIGS.contains(&parsed["config"]["mediaType"].as_str().unwrap_or(""));
    let diff_ids = diff_ids(&path, &config_json)?;
    if is_image && diff_ids.len() != descriptors.len() {
        return Err(ImageError::Corrupt {
            path,
            why: format!(
                "{} layers in the manifest, {} diff ids in the config",
                descriptors.len(),
                diff_ids.len()
            ),
        });
    }
    let mut layers = Vec::new();
    for (i, d) in descriptors.iter().enumerate() {
        let what = format!("layer {}", i + 1);
        let blob = described(src, d, &what, MAX_BLOB)?;
        let label = format!("{what} (blobs/sha256/{})", blob.digest.hex());
        let diff_id = if is_image { diff_ids.get(i) } else { None };
        verify(&path, &label, &blob, layer_kind(&blob.media_type), diff_id)?;
        layers.push(blob);
    }
    let media_type = parsed["mediaType"]
        .as_str()
        .or(descriptor["mediaType"].as_str())
        .unwrap_or(OCI_MANIFEST)
        .to_owned();
    let config_type = parsed["config"]["mediaType"]
        .as_str()
        .unwrap_or(super::OCI_CONFIG)
        .to_owned();
    Ok(Image {
        manifest: bytes,
        manifest_media_type: media_type,
        config: config.with_media_type(config_type),
        layers,
        input: Input {
            reference: candidates[chosen]
                .refs
                .first()
                .map(|_| candidates[chosen].label()),
            ..input
        },
    })
}

/// The config's `rootfs.diff_ids`, checked.
pub fn diff_ids(path: &Path, config: &Value) -> Result<Vec<Digest>, ImageError> {
    config["rootfs"]["diff_ids"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .and_then(Digest::parse)
                .ok_or_else(|| ImageError::BadDigest {
                    path: path.to_path_buf(),
                    what: format!("the config's diff id {}", i + 1),
                    value: v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                })
        })
        .collect()
}
