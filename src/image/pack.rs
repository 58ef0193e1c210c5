//! A directory packed into a one-layer OCI image, streamed through a temporary file: a
//! reproducible tar (sorted, owner root, time zero, modes 0644/0755) gzipped, and a config
//! naming its uncompressed digest. The same files give the same digests on every machine.

use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::blob::{Backing, Blob};
use super::digest::HashWriter;
use super::docker::{descriptor, manifest_bytes};
use super::error::ImageError;
use super::limits::MAX_BLOB;
use super::pull::Base;
use super::reference::Reference;
use super::{Image, Input, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST};

/// Where a packed file's content comes from.
#[derive(Debug, Clone)]
pub enum PackSource {
    Bytes(Vec<u8>),
    File { path: PathBuf, len: u64 },
}

/// A file to pack: its path in the image, its content and its mode.
#[derive(Debug, Clone)]
pub struct PackEntry {
    pub rel: String,
    pub source: PackSource,
    pub mode: u32,
}

/// A reader that yields exactly `want` bytes, or fails (the file changed while packing).
struct Exact<R> {
    inner: io::Take<R>,
    want: u64,
    got: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.got += n as u64;
        if n == 0 && !buf.is_empty() && self.got < self.want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being packed",
            ));
        }
        Ok(n)
    }
}

/// Packs `entries` (in any order) into an image.
pub fn pack(entries: Vec<PackEntry>, input: Input) -> io::Result<Image> {
    let (layer, diff_id) = pack_layer(entries)?;
    let config = Blob::bytes(
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
        input,
    })
}

/// Packs `entries` at `dest` (a path checked by [`check_dest`]) as a layer on top of `base`:
/// the base's config keeps its command, ports and environment and gains the layer's diff id
/// and a history line; the manifest names the base by the OCI annotations.
pub fn onto(base: &Base, entries: Vec<PackEntry>, dest: &str, input: Input) -> io::Result<Image> {
    let prefix = dest.trim_matches('/');
    let files = entries.len();
    // A file named `.wh.<name>` deletes `<name>` of the layers below (`.wh..wh..opq` all of its
    // folder): on top of a base it would hide the base's files.
    if let Some(e) = entries.iter().find(|e| {
        e.rel
            .rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with(".wh."))
    }) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: a name starting with `.wh.` is a whiteout, which would delete files of the base image; rename it",
                e.rel
            ),
        ));
    }
    let entries = entries
        .into_iter()
        .map(|e| PackEntry {
            rel: if prefix.is_empty() {
                e.rel
            } else {
                format!("{prefix}/{}", e.rel)
            },
            ..e
        })
        .collect();
    let (layer, diff_id) = pack_layer(entries)?;
    let mut config = base.config.clone();
    match config
        .pointer_mut("/rootfs/diff_ids")
        .and_then(Value::as_array_mut)
    {
        Some(ids) => ids.push(json!(diff_id)),
        None => {
            return Err(io::Error::other("the base's config has no rootfs.diff_ids"));
        }
    }
    if let Some(history) = config.get_mut("history").and_then(Value::as_array_mut) {
        history.push(json!({
            "created_by": format!("awslab: COPY {files} file(s) to /{prefix}"),
            "comment": "packed without Docker",
        }));
    }
    let config = Blob::bytes(OCI_CONFIG, config.to_string().into_bytes());
    let mut layers = base.layers.clone();
    layers.push(layer);
    let name = Reference {
        digest: None,
        ..base.reference.clone()
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(&config),
        "layers": layers.iter().map(descriptor).collect::<Vec<_>>(),
        "annotations": {
            "org.opencontainers.image.base.name": name.to_string(),
            "org.opencontainers.image.base.digest": base.digest,
        },
    });
    Ok(Image {
        manifest: manifest.to_string().into_bytes(),
        manifest_media_type: OCI_MANIFEST.to_owned(),
        config,
        layers,
        input: Input {
            base: Some(format!("{name}@{}", base.digest)),
            dest: Some(format!("/{prefix}")),
            base_downloaded_bytes: Some(base.downloaded),
            base_layers_cached: Some(base.cached),
            ..input
        },
    })
}

/// Where files go in an image: an absolute path without `.`, `..` or empty parts; returned
/// without its leading and trailing `/` (empty for the root).
pub fn check_dest(dest: &str) -> Result<String, String> {
    let why = |w: &str| {
        Err(format!(
            "{dest:?} is not a path in the image ({w}), e.g. /usr/share/nginx/html"
        ))
    };
    let Some(rest) = dest.strip_prefix('/') else {
        return why("it must start with /");
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if dest.len() > 255 || dest.chars().any(|c| c.is_control() || c == '\\') {
        return why("over 255 characters, or with a control character or a backslash");
    }
    if !rest.is_empty()
        && rest
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return why("no empty, `.` or `..` parts");
    }
    Ok(rest.to_owned())
}

/// The layer of `entries` (in any order) and its diff id, streamed through a temporary file.
fn pack_layer(mut entries: Vec<PackEntry>) -> io::Result<(Blob, String)> {
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    let file = tempfile::NamedTempFile::new()?;
    let (file, path) = file.into_parts();
    let gz = flate2::GzBuilder::new().mtime(0).write(
        HashWriter::new(BufWriter::new(file)),
        flate2::Compression::default(),
    );
    let mut builder = tar::Builder::new(HashWriter::new(gz));
    for e in &entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(e.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        match &e.source {
            PackSource::Bytes(data) => {
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, &e.rel, data.as_slice())?;
            }
            PackSource::File { path, len } => {
                header.set_size(*len);
                let data = Exact {
                    inner: std::fs::File::open(path)?.take(*len),
                    want: *len,
                    got: 0,
                };
                builder
                    .append_data(&mut header, &e.rel, data)
                    .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", e.rel)))?;
            }
        }
    }
    let (gz, diff_id, _) = builder.into_inner()?.finish();
    let (out, digest, size) = gz.finish()?.finish();
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()?;
    let layer = Blob::in_file(OCI_LAYER_GZIP, digest, Backing::temp(path), 0, size);
    Ok((layer, diff_id.to_string()))
}

/// Packs a directory like `docker build` sends its context: `.git` and what `.dockerignore`
/// excludes left out, links inside the folder followed, links out of it and special files
/// refused (all named).
pub fn pack_dir(dir: &Path) -> Result<Image, ImageError> {
    let (entries, input) = dir_entries(dir)?;
    pack(entries, input).map_err(|source| ImageError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// [`pack_dir`] at `dest` on top of `base`.
pub fn pack_dir_onto(dir: &Path, base: &Base, dest: &str) -> Result<Image, ImageError> {
    let (entries, input) = dir_entries(dir)?;
    onto(base, entries, dest, input).map_err(|source| ImageError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// The files of a directory as `docker build` sends them, and what was packed.
fn dir_entries(dir: &Path) -> Result<(Vec<PackEntry>, Input), ImageError> {
    let opts = crate::tree::Options {
        like_docker: true,
        max_bytes: MAX_BLOB,
    };
    let tree = crate::tree::walk(dir, dir, opts)?;
    if tree.files.is_empty() {
        let why = if tree.left_out.is_empty() {
            "it is an empty directory".to_owned()
        } else {
            format!(
                "every file in it is left out ({}: .git and what .dockerignore excludes)",
                tree.left_out.join(", ")
            )
        };
        return Err(ImageError::NotAnImage {
            path: dir.to_path_buf(),
            why,
        });
    }
    let input = Input {
        kind: super::InputKind::Directory,
        files: Some(tree.files.len()),
        links_followed: tree.links_followed,
        left_out: tree.left_out.clone(),
        ..Input::default()
    };
    let entries = tree
        .files
        .into_iter()
        .map(|f| PackEntry {
            rel: f.rel,
            mode: if f.executable { 0o755 } else { 0o644 },
            source: PackSource::File {
                path: f.path,
                len: f.len,
            },
        })
        .collect();
    Ok((entries, input))
}
