//! Container images without Docker (issue 5, the part before the push): read a `docker save`
//! archive or an OCI image layout (a directory or a tar of one), or pack a directory of files
//! into a one-layer OCI image. Every blob is checked against its sha256 digest (and size) before
//! anything is uploaded, so a corrupt or truncated input fails naming the file and changes
//! nothing remotely.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// Content and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// `sha256:<hex>`.
    pub digest: String,
    pub media_type: String,
    pub data: Vec<u8>,
}

impl Blob {
    fn new(media_type: &str, data: Vec<u8>) -> Blob {
        Blob {
            digest: sha256(&data),
            media_type: media_type.to_owned(),
            data,
        }
    }
}

/// An image ready to push: its manifest (the bytes pushed, whose digest names the image), its
/// config and its layers.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest: Vec<u8>,
    pub manifest_media_type: String,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

impl Image {
    pub fn digest(&self) -> String {
        sha256(&self.manifest)
    }

    /// Bytes of the config and the layers.
    pub fn size(&self) -> u64 {
        std::iter::once(&self.config)
            .chain(&self.layers)
            .map(|b| b.data.len() as u64)
            .sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an image: {why}")]
    NotAnImage { path: PathBuf, why: String },
    #[error("{path}: {what} is missing")]
    Missing { path: PathBuf, what: String },
    #[error("{path}: {what} does not match its digest (expected {expected}, found {found})")]
    DigestMismatch {
        path: PathBuf,
        what: String,
        expected: String,
        found: String,
    },
    #[error("{path} is corrupt or truncated: {why}")]
    Corrupt { path: PathBuf, why: String },
}

pub fn sha256(data: &[u8]) -> String {
    let hex: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Reads an image from `path`: an OCI layout directory, a directory of files to pack, or a tar
/// (`docker save`, or an OCI layout).
pub fn load(path: &Path) -> Result<Image, ImageError> {
    let io = |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        if path.join("oci-layout").is_file() {
            let files = DirFiles(path.to_path_buf());
            return from_oci_layout(path, &files);
        }
        if path.join("manifest.json").is_file() {
            return Err(ImageError::NotAnImage {
                path: path.to_path_buf(),
                why: "it looks like an extracted `docker save` archive: give the .tar itself"
                    .to_owned(),
            });
        }
        return pack_dir(path);
    }
    let mut bytes = std::fs::read(path).map_err(io)?;
    // `docker save img | gzip > img.tar.gz`
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut plain)
            .map_err(|e| ImageError::Corrupt {
                path: path.to_path_buf(),
                why: format!("gzip: {e}"),
            })?;
        bytes = plain;
    }
    let files = TarFiles::read(path, &bytes)?;
    if files.0.contains_key("oci-layout") && files.0.contains_key("index.json") {
        return from_oci_layout(path, &files);
    }
    if files.0.contains_key("manifest.json") {
        return from_docker_save(path, &files);
    }
    Err(ImageError::NotAnImage {
        path: path.to_path_buf(),
        why: "a tar without manifest.json (docker save) or oci-layout and index.json (OCI)"
            .to_owned(),
    })
}

/// Files of an image source by their relative path.
trait Files {
    fn get(&self, rel: &str) -> Option<Vec<u8>>;
}

struct DirFiles(PathBuf);

impl Files for DirFiles {
    fn get(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.0.join(rel)).ok()
    }
}

struct TarFiles(BTreeMap<String, Vec<u8>>);

impl TarFiles {
    fn read(path: &Path, bytes: &[u8]) -> Result<TarFiles, ImageError> {
        let corrupt = |why: String| ImageError::Corrupt {
            path: path.to_path_buf(),
            why,
        };
        // A tar ends with two zero blocks: without them it was cut short (the reader would
        // otherwise take the entries before the cut for the whole archive).
        if bytes.len() < 1024
            || !bytes.len().is_multiple_of(512)
            || bytes[bytes.len() - 1024..].iter().any(|b| *b != 0)
        {
            return Err(corrupt(format!(
                "{} bytes without the end-of-archive marker (truncated?)",
                bytes.len()
            )));
        }
        let mut archive = tar::Archive::new(bytes);
        let mut files = BTreeMap::new();
        let entries = archive.entries().map_err(|e| corrupt(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry
                .path()
                .map_err(|e| corrupt(e.to_string()))?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_owned();
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .map_err(|e| corrupt(format!("{name}: {e}")))?;
            files.insert(name, data);
        }
        if files.is_empty() {
            return Err(corrupt("no files in the archive".to_owned()));
        }
        Ok(TarFiles(files))
    }
}

impl Files for TarFiles {
    fn get(&self, rel: &str) -> Option<Vec<u8>> {
        self.0.get(rel).cloned()
    }
}

fn parse_json(path: &Path, what: &str, bytes: &[u8]) -> Result<Value, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::Corrupt {
        path: path.to_path_buf(),
        why: format!("{what} is not JSON: {e}"),
    })
}

/// A blob of an OCI layout, checked against its descriptor (digest and size).
fn blob(
    path: &Path,
    files: &dyn Files,
    descriptor: &Value,
    what: &str,
) -> Result<Blob, ImageError> {
    let digest = descriptor["digest"].as_str().unwrap_or_default();
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| ImageError::Corrupt {
            path: path.to_path_buf(),
            why: format!("{what} has no sha256 digest ({digest:?})"),
        })?;
    let rel = format!("blobs/sha256/{hex}");
    let data = files.get(&rel).ok_or_else(|| ImageError::Missing {
        path: path.to_path_buf(),
        what: format!("{what} ({rel})"),
    })?;
    let found = sha256(&data);
    if found != digest {
        return Err(ImageError::DigestMismatch {
            path: path.to_path_buf(),
            what: format!("{what} ({rel})"),
            expected: digest.to_owned(),
            found,
        });
    }
    if let Some(size) = descriptor["size"].as_u64()
        && size != data.len() as u64
    {
        return Err(ImageError::Corrupt {
            path: path.to_path_buf(),
            why: format!(
                "{what} ({rel}) has {} bytes, its descriptor says {size}",
                data.len()
            ),
        });
    }
    Ok(Blob {
        digest: found,
        media_type: descriptor["mediaType"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        data,
    })
}

fn from_oci_layout(path: &Path, files: &dyn Files) -> Result<Image, ImageError> {
    let index = files.get("index.json").ok_or_else(|| ImageError::Missing {
        path: path.to_path_buf(),
        what: "index.json".to_owned(),
    })?;
    let index = parse_json(path, "index.json", &index)?;
    let descriptor = index["manifests"]
        .as_array()
        .and_then(|m| m.first())
        .ok_or_else(|| ImageError::NotAnImage {
            path: path.to_path_buf(),
            why: "index.json lists no manifest".to_owned(),
        })?;
    let mut manifest = blob(path, files, descriptor, "the manifest")?;
    let mut parsed = parse_json(path, "the manifest", &manifest.data)?;
    // An index (Docker's containerd image store writes one, multi-platform images have one):
    // the linux/amd64 image whose blobs are here, attestations aside.
    if let Some(entries) = parsed["manifests"].as_array() {
        let candidates: Vec<&Value> = entries
            .iter()
            .filter(|m| {
                m["annotations"]["vnd.docker.reference.type"] != "attestation-manifest"
                    && m["platform"]["os"] != "unknown"
            })
            .collect();
        let preferred = candidates
            .iter()
            .filter(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64")
            .chain(candidates.iter())
            .find(|m| {
                m["digest"]
                    .as_str()
                    .and_then(|d| d.strip_prefix("sha256:"))
                    .is_some_and(|hex| files.get(&format!("blobs/sha256/{hex}")).is_some())
            })
            .copied()
            .ok_or_else(|| ImageError::NotAnImage {
                path: path.to_path_buf(),
                why: "an index without an image manifest for linux/amd64 in the archive".to_owned(),
            })?;
        manifest = blob(path, files, preferred, "the image manifest")?;
        parsed = parse_json(path, "the image manifest", &manifest.data)?;
    }
    let config = blob(path, files, &parsed["config"], "the config")?;
    let layers = parsed["layers"]
        .as_array()
        .ok_or_else(|| ImageError::Corrupt {
            path: path.to_path_buf(),
            why: "the manifest has no layers".to_owned(),
        })?
        .iter()
        .enumerate()
        .map(|(i, d)| blob(path, files, d, &format!("layer {}", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    let media_type = parsed["mediaType"]
        .as_str()
        .or(descriptor["mediaType"].as_str())
        .unwrap_or(OCI_MANIFEST)
        .to_owned();
    Ok(Image {
        manifest: manifest.data,
        manifest_media_type: media_type,
        config,
        layers,
    })
}

/// A `docker save` archive of the classic form (`manifest.json`, a config file, one tar per
/// layer): the layers are checked against the config's `rootfs.diff_ids`, then described by a
/// new OCI manifest (uncompressed layers).
fn from_docker_save(path: &Path, files: &TarFiles) -> Result<Image, ImageError> {
    let missing = |what: String| ImageError::Missing {
        path: path.to_path_buf(),
        what,
    };
    let manifest = files
        .get("manifest.json")
        .ok_or_else(|| missing("manifest.json".to_owned()))?;
    let manifest = parse_json(path, "manifest.json", &manifest)?;
    let entry =
        manifest
            .as_array()
            .and_then(|m| m.first())
            .ok_or_else(|| ImageError::NotAnImage {
                path: path.to_path_buf(),
                why: "manifest.json lists no image".to_owned(),
            })?;
    let config_name = entry["Config"].as_str().unwrap_or_default();
    let config_bytes = files
        .get(config_name)
        .ok_or_else(|| missing(format!("the config ({config_name})")))?;
    let config_json = parse_json(path, config_name, &config_bytes)?;
    let diff_ids: Vec<&str> = config_json["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let layer_names: Vec<&str> = entry["Layers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if layer_names.len() != diff_ids.len() {
        return Err(ImageError::Corrupt {
            path: path.to_path_buf(),
            why: format!(
                "{} layers in manifest.json, {} in the config's rootfs",
                layer_names.len(),
                diff_ids.len()
            ),
        });
    }
    let mut layers = Vec::new();
    for (i, (name, expected)) in layer_names.iter().zip(&diff_ids).enumerate() {
        let data = files
            .get(name)
            .ok_or_else(|| missing(format!("layer {} ({name})", i + 1)))?;
        // Some tools store the layers gzipped: the diff id is the digest of the tar inside.
        let gzipped = data.starts_with(&[0x1f, 0x8b]);
        let diff_id = if gzipped {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(data.as_slice())
                .read_to_end(&mut plain)
                .map_err(|e| ImageError::Corrupt {
                    path: path.to_path_buf(),
                    why: format!("layer {} ({name}): gzip: {e}", i + 1),
                })?;
            sha256(&plain)
        } else {
            sha256(&data)
        };
        if diff_id != *expected {
            return Err(ImageError::DigestMismatch {
                path: path.to_path_buf(),
                what: format!("layer {} ({name})", i + 1),
                expected: (*expected).to_owned(),
                found: diff_id,
            });
        }
        layers.push(Blob::new(
            if gzipped {
                OCI_LAYER_GZIP
            } else {
                OCI_LAYER_TAR
            },
            data,
        ));
    }
    let config = Blob::new(OCI_CONFIG, config_bytes);
    Ok(Image {
        manifest: manifest_bytes(&config, &layers),
        manifest_media_type: OCI_MANIFEST.to_owned(),
        config,
        layers,
    })
}

fn descriptor(b: &Blob) -> Value {
    json!({ "mediaType": b.media_type, "digest": b.digest, "size": b.data.len() })
}

fn manifest_bytes(config: &Blob, layers: &[Blob]) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(config),
        "layers": layers.iter().map(descriptor).collect::<Vec<_>>(),
    })
    .to_string()
    .into_bytes()
}

/// Packs a directory into a one-layer OCI image: a reproducible tar (sorted, owner root, time
/// zero, modes kept) gzipped, and a config naming its uncompressed digest. The same files give
/// the same digests.
pub fn pack_dir(dir: &Path) -> Result<Image, ImageError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImageError::Io { path, source }
    };
    let mut paths = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let entry = entry.map_err(io(&d))?;
            let kind = entry.file_type().map_err(io(&entry.path()))?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                paths.push(entry.path());
            }
        }
    }
    if paths.is_empty() {
        return Err(ImageError::NotAnImage {
            path: dir.to_path_buf(),
            why: "an empty directory".to_owned(),
        });
    }
    let mut files = Vec::new();
    for p in &paths {
        let rel = p
            .strip_prefix(dir)
            .unwrap_or(p)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        files.push((rel, std::fs::read(p).map_err(io(p))?, file_mode(p)));
    }
    pack_files(&files).map_err(io(dir))
}

/// [`pack_dir`] of files given as (path, content, mode).
pub fn pack_files(files: &[(String, Vec<u8>, u32)]) -> std::io::Result<Image> {
    let mut files: Vec<&(String, Vec<u8>, u32)> = files.iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut builder = tar::Builder::new(Vec::new());
    for (rel, data, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, rel, data.as_slice())?;
    }
    let tar = builder.into_inner()?;
    let diff_id = sha256(&tar);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar)?;
    let layer = Blob::new(OCI_LAYER_GZIP, gz.finish()?);
    let config = Blob::new(
        OCI_CONFIG,
        json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": { "type": "layers", "diff_ids": [diff_id] },
            "history": [{ "created_by": "awslab: files of a directory", "comment": "packed without Docker" }],
        })
        .to_string()
        .into_bytes(),
    );
    let layers = vec![layer];
    Ok(Image {
        manifest: manifest_bytes(&config, &layers),
        manifest_media_type: OCI_MANIFEST.to_owned(),
        config,
        layers,
    })
}

/// 0755 for an executable, else 0644, whatever the umask of the checkout: the same files
/// give the same image on every machine.
#[cfg(unix)]
fn file_mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    let exec = std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    if exec { 0o755 } else { 0o644 }
}

#[cfg(not(unix))]
fn file_mode(_: &Path) -> u32 {
    0o644
}

/// Writes an image as an OCI image layout directory (what `docker save` writes since Docker 25,
/// and `skopeo copy oci:`).
pub fn write_oci_layout(image: &Image, dir: &Path) -> std::io::Result<()> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    let manifest = Blob {
        digest: image.digest(),
        media_type: image.manifest_media_type.clone(),
        data: image.manifest.clone(),
    };
    for b in std::iter::once(&manifest)
        .chain(std::iter::once(&image.config))
        .chain(&image.layers)
    {
        let hex = b.digest.trim_start_matches("sha256:");
        std::fs::write(blobs.join(hex), &b.data)?;
    }
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    std::fs::write(
        dir.join("index.json"),
        json!({ "schemaVersion": 2, "manifests": [descriptor(&manifest)] }).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("index.html"), b"<h1>hi</h1>").expect("write");
        std::fs::create_dir(dir.path().join("css")).expect("dir");
        std::fs::write(dir.path().join("css/style.css"), b"h1{}").expect("write");
        dir
    }

    /// A tar of a directory's files (what a user would hand over as an archive).
    fn tar_of(dir: &Path) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        b.append_dir_all(".", dir).expect("tar");
        b.into_inner().expect("tar")
    }

    #[test]
    fn a_packed_directory_is_reproducible_and_verifies() {
        let dir = site();
        let a = pack_dir(dir.path()).expect("pack");
        let b = pack_dir(dir.path()).expect("pack");
        assert_eq!(a.digest(), b.digest(), "same files, same image");
        assert_eq!(a.layers.len(), 1);
        assert_eq!(a.layers[0].media_type, OCI_LAYER_GZIP);
        let config: Value = serde_json::from_slice(&a.config.data).expect("json");
        // The diff id is the digest of the uncompressed layer.
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(a.layers[0].data.as_slice())
            .read_to_end(&mut tar)
            .expect("gunzip");
        assert_eq!(config["rootfs"]["diff_ids"][0], sha256(&tar));
        // Directories load as images by packing.
        assert_eq!(load(dir.path()).expect("load").digest(), a.digest());
    }

    #[test]
    fn an_oci_layout_round_trips_as_directory_and_as_tar() {
        let image = pack_dir(site().path()).expect("pack");
        let layout = tempfile::tempdir().expect("dir");
        write_oci_layout(&image, layout.path()).expect("write");
        let back = load(layout.path()).expect("layout dir");
        assert_eq!(back.digest(), image.digest());
        assert_eq!(back.layers, image.layers);
        let archive = tempfile::NamedTempFile::new().expect("file");
        std::fs::write(archive.path(), tar_of(layout.path())).expect("write");
        assert_eq!(
            load(archive.path()).expect("layout tar").digest(),
            image.digest()
        );
    }

    #[test]
    fn a_classic_docker_save_archive_loads_with_its_layers_checked() {
        let layer = tar_of(site().path());
        let config =
            json!({"rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]}}).to_string();
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir(dir.path().join("abc")).expect("dir");
        std::fs::write(dir.path().join("abc/layer.tar"), &layer).expect("write");
        std::fs::write(dir.path().join("cfg.json"), &config).expect("write");
        let manifest =
            json!([{"Config": "cfg.json", "RepoTags": ["web:v1"], "Layers": ["abc/layer.tar"]}]);
        std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).expect("write");
        let archive = tempfile::NamedTempFile::new().expect("file");
        std::fs::write(archive.path(), tar_of(dir.path())).expect("write");
        let image = load(archive.path()).expect("docker save");
        assert_eq!(image.layers.len(), 1);
        assert_eq!(image.layers[0].digest, sha256(&layer));
        assert_eq!(image.config.data, config.as_bytes());

        // A layer that does not match the config's diff id is refused, naming the layer.
        std::fs::write(dir.path().join("abc/layer.tar"), b"not the layer").expect("write");
        std::fs::write(archive.path(), tar_of(dir.path())).expect("write");
        let err = load(archive.path()).expect_err("mismatch").to_string();
        assert!(
            err.contains("layer 1 (abc/layer.tar) does not match its digest"),
            "{err}"
        );
    }

    /// Docker's containerd image store: `index.json` names an index (the image and an
    /// attestation), and the archive may be gzipped.
    #[test]
    fn a_containerd_docker_save_with_an_index_and_gzip_loads_the_image() {
        let image = pack_dir(site().path()).expect("pack");
        let layout = tempfile::tempdir().expect("dir");
        write_oci_layout(&image, layout.path()).expect("write");
        let manifest = Blob {
            digest: image.digest(),
            media_type: OCI_MANIFEST.to_owned(),
            data: image.manifest.clone(),
        };
        let attestation = Blob::new(OCI_MANIFEST, b"{}".to_vec());
        let mut image_entry = descriptor(&manifest);
        image_entry["platform"] = json!({"os": "linux", "architecture": "amd64"});
        let mut att_entry = descriptor(&attestation);
        att_entry["platform"] = json!({"os": "unknown", "architecture": "unknown"});
        att_entry["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest"});
        let index = Blob::new(
            "application/vnd.oci.image.index.v1+json",
            json!({"schemaVersion": 2, "manifests": [att_entry, image_entry]})
                .to_string()
                .into_bytes(),
        );
        let blobs = layout.path().join("blobs/sha256");
        std::fs::write(
            blobs.join(index.digest.trim_start_matches("sha256:")),
            &index.data,
        )
        .expect("write");
        std::fs::write(
            layout.path().join("index.json"),
            json!({"schemaVersion": 2, "manifests": [descriptor(&index)]}).to_string(),
        )
        .expect("write");
        assert_eq!(
            load(layout.path()).expect("through the index").digest(),
            image.digest()
        );
        // `docker save … | gzip`
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar_of(layout.path())).expect("gzip");
        let archive = tempfile::NamedTempFile::new().expect("file");
        std::fs::write(archive.path(), gz.finish().expect("gzip")).expect("write");
        assert_eq!(
            load(archive.path()).expect("gzipped").digest(),
            image.digest()
        );
        // An extracted archive is not packed as files.
        let extracted = tempfile::tempdir().expect("dir");
        std::fs::write(extracted.path().join("manifest.json"), b"[]").expect("write");
        let err = load(extracted.path()).expect_err("extracted").to_string();
        assert!(err.contains("extracted `docker save` archive"), "{err}");
    }

    #[test]
    fn gzipped_layers_of_a_docker_save_archive_are_checked_by_their_content() {
        let layer = tar_of(site().path());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&layer).expect("gzip");
        let compressed = gz.finish().expect("gzip");
        let config =
            json!({"rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]}}).to_string();
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("l.tar.gz"), &compressed).expect("write");
        std::fs::write(dir.path().join("c.json"), &config).expect("write");
        std::fs::write(
            dir.path().join("manifest.json"),
            json!([{"Config": "c.json", "Layers": ["l.tar.gz"]}]).to_string(),
        )
        .expect("write");
        let archive = tempfile::NamedTempFile::new().expect("file");
        std::fs::write(archive.path(), tar_of(dir.path())).expect("write");
        let image = load(archive.path()).expect("gzipped layer");
        assert_eq!(image.layers[0].media_type, OCI_LAYER_GZIP);
        assert_eq!(image.layers[0].digest, sha256(&compressed));
    }

    #[test]
    fn bad_inputs_name_the_file_and_the_part() {
        let image = pack_dir(site().path()).expect("pack");
        let layout = tempfile::tempdir().expect("dir");
        write_oci_layout(&image, layout.path()).expect("write");
        // A blob changed on disk.
        let hex = image.layers[0]
            .digest
            .trim_start_matches("sha256:")
            .to_owned();
        let blob = layout.path().join("blobs/sha256").join(&hex);
        std::fs::write(&blob, b"tampered").expect("write");
        let err = load(layout.path()).expect_err("tampered").to_string();
        assert!(
            err.contains(&format!(
                "layer 1 (blobs/sha256/{hex}) does not match its digest"
            )),
            "{err}"
        );
        // A blob gone.
        std::fs::remove_file(&blob).expect("rm");
        let err = load(layout.path()).expect_err("missing").to_string();
        assert!(
            err.contains("layer 1 (blobs/sha256/") && err.contains("is missing"),
            "{err}"
        );
        // A truncated archive.
        write_oci_layout(&image, layout.path()).expect("write");
        let bytes = tar_of(layout.path());
        let archive = tempfile::NamedTempFile::new().expect("file");
        std::fs::write(archive.path(), &bytes[..bytes.len() / 3]).expect("write");
        let err = load(archive.path()).expect_err("truncated").to_string();
        assert!(err.contains("is corrupt or truncated"), "{err}");
        // Not an image at all, and no such file.
        std::fs::write(archive.path(), tar_of(site().path())).expect("write");
        let err = load(archive.path()).expect_err("plain tar").to_string();
        assert!(err.contains("is not an image"), "{err}");
        let err = load(Path::new("/no/such/image.tar"))
            .expect_err("missing file")
            .to_string();
        assert!(err.contains("cannot read /no/such/image.tar"), "{err}");
    }
}
