//! Classic `docker save` archives: `manifest.json` lists the images (`RepoTags`, `Config`,
//! `Layers`), one tar per layer. The layers are checked against the config's diff ids and
//! described by a new OCI manifest; they stay in the archive and are read from there.

use serde_json::{Value, json};

use super::archive::TarIndex;
use super::blob::{self, Blob};
use super::digest::Digest;
use super::error::ImageError;
use super::layout::{diff_ids, parse_json, stream_error};
use super::limits::{MAX_BLOB, MAX_JSON};
use super::select::{Candidate, choose};
use super::{Image, Input, OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_MANIFEST};

/// A small member of the archive, read whole.
fn small(tar: &TarIndex, name: &str, what: &str) -> Result<Vec<u8>, ImageError> {
    let path = &tar.shown;
    match tar
        .read_small(name, MAX_JSON)
        .map_err(|source| ImageError::Io {
            path: path.clone(),
            source,
        })? {
        Some(Ok(bytes)) => Ok(bytes),
        Some(Err(size)) => Err(ImageError::TooLarge {
            path: path.clone(),
            what: format!("{what} ({name})"),
            size,
            limit: MAX_JSON,
        }),
        None => Err(ImageError::Missing {
            path: path.clone(),
            what: format!("{what} ({name})"),
        }),
    }
}

/// `sha256:<hex>` when a config's file name carries its digest (`<hex>.json`,
/// `blobs/sha256/<hex>`), else the name.
fn identity(config_name: &str) -> String {
    let stem = config_name
        .rsplit('/')
        .next()
        .unwrap_or(config_name)
        .trim_end_matches(".json");
    Digest::parse(&format!("sha256:{stem}"))
        .map_or_else(|| config_name.to_owned(), |d| d.to_string())
}

pub fn load(tar: &TarIndex, wanted: Option<&str>, input: Input) -> Result<Image, ImageError> {
    let path = tar.shown.clone();
    let manifest = parse_json(
        &path,
        "manifest.json",
        &small(tar, "manifest.json", "the image list")?,
    )?;
    let entries: Vec<Value> = manifest.as_array().cloned().unwrap_or_default();
    let candidates: Vec<Candidate> = entries
        .iter()
        .map(|e| Candidate {
            refs: e["RepoTags"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            digest: identity(e["Config"].as_str().unwrap_or_default()),
        })
        .collect();
    let chosen = choose(&path, &candidates, wanted)?;
    let entry = &entries[chosen];
    let config_name = entry["Config"].as_str().unwrap_or_default();
    let config_bytes = small(tar, config_name, "the config")?;
    let config_json = parse_json(&path, config_name, &config_bytes)?;
    let diff_ids = diff_ids(&path, &config_json)?;
    let layer_names: Vec<&str> = entry["Layers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if layer_names.len() != diff_ids.len() {
        return Err(ImageError::Corrupt {
            path,
            why: format!(
                "{} layers in manifest.json, {} in the config's rootfs",
                layer_names.len(),
                diff_ids.len()
            ),
        });
    }
    let mut layers = Vec::new();
    for (i, (name, expected)) in layer_names.iter().zip(&diff_ids).enumerate() {
        let what = format!("layer {} ({name})", i + 1);
        let (offset, size) = tar.find(name).ok_or_else(|| ImageError::Missing {
            path: path.clone(),
            what: what.clone(),
        })?;
        if size > MAX_BLOB {
            return Err(ImageError::TooLarge {
                path,
                what,
                size,
                limit: MAX_BLOB,
            });
        }
        let io = |source| ImageError::Io {
            path: path.clone(),
            source,
        };
        // Some tools store the layers gzipped: the diff id is the digest of the tar inside.
        let head = blob::read_at(tar.backing.path(), offset, size.min(2)).map_err(io)?;
        let reader = || -> Result<_, ImageError> {
            let mut f = std::fs::File::open(tar.backing.path()).map_err(io)?;
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(offset)).map_err(io)?;
            Ok(std::io::Read::take(f, size))
        };
        let (digest, diff_id, media_type) = if head == [0x1f, 0x8b] {
            let (raw, plain) = blob::hash_gzip(reader()?, size)
                .map_err(|e| stream_error(&path, &what, size, e))?;
            (raw, plain, OCI_LAYER_GZIP)
        } else {
            let (raw, _) = blob::hash(reader()?).map_err(io)?;
            (raw.clone(), raw, OCI_LAYER_TAR)
        };
        if diff_id != *expected {
            return Err(ImageError::DigestMismatch {
                path,
                what,
                expected: expected.to_string(),
                found: diff_id.to_string(),
            });
        }
        layers.push(Blob::in_file(
            media_type,
            digest,
            tar.backing.clone(),
            offset,
            size,
        ));
    }
    let config = Blob::bytes(OCI_CONFIG, config_bytes);
    let reference = candidates[chosen]
        .refs
        .first()
        .map(|_| candidates[chosen].label());
    Ok(Image {
        manifest: manifest_bytes(&config, &layers),
        manifest_media_type: OCI_MANIFEST.to_owned(),
        config,
        layers,
        input: Input { reference, ..input },
    })
}

pub fn descriptor(b: &Blob) -> Value {
    json!({ "mediaType": b.media_type, "digest": b.digest, "size": b.size })
}

/// An OCI image manifest of a config and layers.
pub fn manifest_bytes(config: &Blob, layers: &[Blob]) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(config),
        "layers": layers.iter().map(descriptor).collect::<Vec<_>>(),
    })
    .to_string()
    .into_bytes()
}
