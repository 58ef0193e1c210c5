//! A directory packed into a one-layer OCI image, streamed through a temporary file: a
//! reproducible tar (sorted, owner root, time zero, modes 0644/0755) gzipped, and a config
//! naming its uncompressed digest. The same files give the same digests on every machine.

use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::blob::{Backing, Blob};
use super::digest::HashWriter;
use super::docker::manifest_bytes;
use super::error::ImageError;
use super::limits::MAX_BLOB;
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
pub fn pack(mut entries: Vec<PackEntry>, input: Input) -> io::Result<Image> {
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

/// Packs a directory like `docker build` sends its context: `.git` and what `.dockerignore`
/// excludes left out, links inside the folder followed, links out of it and special files
/// refused (all named).
pub fn pack_dir(dir: &Path) -> Result<Image, ImageError> {
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
    pack(entries, input).map_err(|source| ImageError::Io {
        path: dir.to_path_buf(),
        source,
    })
}
