//! Container images without Docker, read with bounded memory: a `docker save` archive (plain or
//! gzipped), an OCI image layout (a directory or a tar of one), or a directory of files packed
//! into a one-layer image. Every digest is validated before it names a file, every blob is
//! checked against its digest and size (layers against the config's diff ids) by streaming it,
//! sizes and gzip expansion are capped, and an input holding several images needs `PATH:REF`.
//! A bad input fails naming the file, the part and what it is, before anything is uploaded.

mod archive;
mod blob;
mod digest;
mod docker;
mod error;
mod layout;
pub mod limits;
mod pack;
mod pull;
mod reference;
mod select;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

pub use blob::Blob;
pub use digest::{Digest, sha256};
pub use error::ImageError;
pub use pack::{PackEntry, PackSource, check_dest, pack_dir, pack_dir_onto};
pub use pull::{Base, MIRROR_VAR, PullError, pull};
pub use reference::Reference;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// An image ready to push: its manifest (the bytes pushed, whose digest names the image), its
/// config and its layers, and what it was read from.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest: Vec<u8>,
    pub manifest_media_type: String,
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub input: Input,
}

impl Image {
    pub fn digest(&self) -> Digest {
        Digest::of(&self.manifest)
    }

    /// Bytes of the config and the layers.
    pub fn size(&self) -> u64 {
        std::iter::once(&self.config)
            .chain(&self.layers)
            .map(|b| b.size)
            .sum()
    }
}

/// The forms an image input takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// A directory of files, packed.
    #[default]
    Directory,
    OciLayout,
    OciLayoutTar,
    DockerSave,
}

/// What an image was read from, for messages and `--format json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Input {
    pub kind: InputKind,
    /// The archive was gzipped.
    pub gzipped: bool,
    /// The image chosen among those the input holds, by its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// A packed directory: files packed, links inside it followed (their targets' content is
    /// packed under the link's name), paths left out (`.git`, `.dockerignore`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
    #[serde(skip_serializing_if = "is_zero")]
    pub links_followed: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
    /// The image the files were packed on top of, pinned by its digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Where the files went in the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest: Option<String>,
    /// How the base's layers were had: bytes downloaded, and layers read from the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_downloaded_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_layers_cached: Option<usize>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gz = if self.gzipped { " (gzipped)" } else { "" };
        match self.kind {
            InputKind::Directory => {
                write!(
                    f,
                    "a directory packed into one layer: {} file(s)",
                    self.files.unwrap_or(0)
                )?;
                if self.links_followed > 0 {
                    write!(
                        f,
                        ", {} symbolic link(s) inside it followed",
                        self.links_followed
                    )?;
                }
                if !self.left_out.is_empty() {
                    write!(
                        f,
                        ", {} path(s) left out (.git, .dockerignore)",
                        self.left_out.len()
                    )?;
                }
                Ok(())
            }
            InputKind::OciLayout => write!(f, "an OCI image layout directory"),
            InputKind::OciLayoutTar => write!(f, "a tar of an OCI image layout{gz}"),
            InputKind::DockerSave => write!(f, "a `docker save` archive{gz}"),
        }?;
        if let Some(r) = &self.reference {
            write!(f, ", image {r}")?;
        }
        if let Some(d) = &self.dest {
            write!(f, ", at {d}")?;
        }
        if let Some(b) = &self.base {
            write!(f, ", on {b}")?;
        }
        Ok(())
    }
}

/// A command-line image argument: a path, then optionally `:REF` choosing one image of several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageArg {
    pub path: PathBuf,
    pub reference: Option<String>,
}

impl ImageArg {
    /// The whole argument if such a path exists; else the longest existing path before a `:`.
    pub fn parse(arg: &str) -> ImageArg {
        let whole = ImageArg {
            path: PathBuf::from(arg),
            reference: None,
        };
        if std::fs::symlink_metadata(arg).is_ok() {
            return whole;
        }
        arg.match_indices(':')
            .map(|(i, _)| i)
            .rev()
            .find(|i| *i > 0 && std::fs::symlink_metadata(&arg[..*i]).is_ok())
            .map_or(whole, |i| ImageArg {
                path: PathBuf::from(&arg[..i]),
                reference: Some(arg[i + 1..].to_owned()).filter(|r| !r.is_empty()),
            })
    }
}

/// Reads the image at `path` (the one `reference` names, if given).
pub fn load(path: &Path, reference: Option<&str>) -> Result<Image, ImageError> {
    let io = |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        let root = std::fs::canonicalize(path).map_err(io)?;
        let src = layout::Source::Dir {
            root,
            shown: path.to_path_buf(),
        };
        if src.has("oci-layout") {
            let input = Input {
                kind: InputKind::OciLayout,
                ..Input::default()
            };
            return layout::load(&src, reference, input);
        }
        if src.has("manifest.json") {
            return Err(ImageError::NotAnImage {
                path: path.to_path_buf(),
                why: "it looks like an extracted `docker save` archive: give the .tar itself"
                    .to_owned(),
            });
        }
        if let Some(wanted) = reference {
            return Err(ImageError::NoRefsInDirectory {
                path: path.to_path_buf(),
                wanted: wanted.to_owned(),
            });
        }
        return pack_dir(path);
    }
    if !meta.is_file() {
        return Err(ImageError::NotAnImage {
            path: path.to_path_buf(),
            why: format!("it is {}", crate::tree::kind_of_meta(&meta)),
        });
    }
    let (backing, gzipped) = match archive::sniff(path)? {
        archive::Sniffed::Tar => (blob::Backing::file(path), false),
        archive::Sniffed::Gzip => {
            // `docker save img | gzip > img.tar.gz`: decompressed to a temporary file (bounded).
            let temp = blob::gunzip_to_temp(path, meta.len())
                .map_err(|e| layout::stream_error(path, "the archive", meta.len(), e))?;
            match archive::sniff(&temp)? {
                archive::Sniffed::Tar => (blob::Backing::temp(temp), true),
                archive::Sniffed::Other(what) => {
                    return Err(ImageError::NotAnImage {
                        path: path.to_path_buf(),
                        why: format!("it is gzip, and inside it is {what}, not a tar archive"),
                    });
                }
                archive::Sniffed::Gzip => {
                    return Err(ImageError::NotAnImage {
                        path: path.to_path_buf(),
                        why: "it is gzip inside gzip".to_owned(),
                    });
                }
            }
        }
        archive::Sniffed::Other(what) => {
            return Err(ImageError::NotAnImage {
                path: path.to_path_buf(),
                why: format!("it is {what}, not a tar archive or a directory"),
            });
        }
    };
    let index = archive::TarIndex::read(backing, path)?;
    if index.has("oci-layout") && index.has("index.json") {
        let input = Input {
            kind: InputKind::OciLayoutTar,
            gzipped,
            ..Input::default()
        };
        return layout::load(&layout::Source::Tar(&index), reference, input);
    }
    if index.has("manifest.json") {
        let input = Input {
            kind: InputKind::DockerSave,
            gzipped,
            ..Input::default()
        };
        return docker::load(&index, reference, input);
    }
    Err(ImageError::NotAnImage {
        path: path.to_path_buf(),
        why: "it is a tar archive without manifest.json (docker save) or oci-layout and index.json (OCI layout)"
            .to_owned(),
    })
}

/// [`pack_dir`] of files given as (path in the image, content, mode): a lab's `ecr_image`; at
/// `dest` on top of `base` when it has one.
pub fn pack_files(
    files: &[(String, Vec<u8>, u32)],
    base: Option<(&Base, &str)>,
) -> std::io::Result<Image> {
    let entries = files
        .iter()
        .map(|(rel, data, mode)| PackEntry {
            rel: rel.clone(),
            source: PackSource::Bytes(data.clone()),
            mode: *mode,
        })
        .collect();
    let input = Input {
        files: Some(files.len()),
        ..Input::default()
    };
    match base {
        Some((base, dest)) => pack::onto(base, entries, dest, input),
        None => pack::pack(entries, input),
    }
}

/// Writes an image as an OCI image layout directory (what `docker save` writes since Docker 25,
/// and `skopeo copy oci:`), streaming the blobs.
pub fn write_oci_layout(image: &Image, dir: &Path) -> std::io::Result<()> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    let manifest = Blob::bytes(&image.manifest_media_type, image.manifest.clone());
    for b in std::iter::once(&manifest)
        .chain(std::iter::once(&image.config))
        .chain(&image.layers)
    {
        let mut out = std::fs::File::create(blobs.join(b.digest.hex()))?;
        std::io::copy(&mut b.reader()?, &mut out)?;
        out.flush()?;
    }
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    std::fs::write(
        dir.join("index.json"),
        json!({ "schemaVersion": 2, "manifests": [docker::descriptor(&manifest)] }).to_string(),
    )
}

#[cfg(test)]
mod tests;
