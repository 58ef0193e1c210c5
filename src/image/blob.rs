//! Blobs without holding them: small ones (manifests, configs) in memory, layers as a range of
//! a file on disk (the input itself, or a temporary file awslab wrote and deletes), read a part
//! at a time. Reading a stream checks it against its digest, and gzip against its limits.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::digest::{Digest, HashReader};
use super::limits;

/// A file blobs are read from; a temporary one is deleted when the last blob goes.
#[derive(Debug)]
pub struct Backing {
    path: PathBuf,
    _temp: Option<tempfile::TempPath>,
}

impl Backing {
    pub fn file(path: &Path) -> Arc<Backing> {
        Arc::new(Backing {
            path: path.to_path_buf(),
            _temp: None,
        })
    }

    pub fn temp(path: tempfile::TempPath) -> Arc<Backing> {
        Arc::new(Backing {
            path: path.to_path_buf(),
            _temp: Some(path),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Debug, Clone)]
enum Content {
    Bytes(Arc<Vec<u8>>),
    File { file: Arc<Backing>, offset: u64 },
}

/// Content, its address and its media type.
#[derive(Debug, Clone)]
pub struct Blob {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    content: Content,
}

impl PartialEq for Blob {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest && self.media_type == other.media_type
    }
}

impl Blob {
    pub fn bytes(media_type: &str, data: Vec<u8>) -> Blob {
        Blob {
            digest: Digest::of(&data),
            media_type: media_type.to_owned(),
            size: data.len() as u64,
            content: Content::Bytes(Arc::new(data)),
        }
    }

    /// `size` bytes at `offset` of `file`, already known to have this digest.
    pub fn in_file(
        media_type: &str,
        digest: Digest,
        file: Arc<Backing>,
        offset: u64,
        size: u64,
    ) -> Blob {
        Blob {
            digest,
            media_type: media_type.to_owned(),
            size,
            content: Content::File { file, offset },
        }
    }

    /// The whole content as a stream.
    pub fn reader(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(match &self.content {
            Content::Bytes(b) => Box::new(io::Cursor::new(b.clone().as_ref().clone())),
            Content::File { file, offset } => {
                let mut f = File::open(file.path())?;
                f.seek(SeekFrom::Start(*offset))?;
                Box::new(f.take(self.size))
            }
        })
    }

    /// `len` bytes from `start` (one upload part).
    pub fn read_range(&self, start: u64, len: usize) -> io::Result<Vec<u8>> {
        match &self.content {
            Content::Bytes(b) => {
                let from = usize::try_from(start).unwrap_or(usize::MAX).min(b.len());
                let to = from.saturating_add(len).min(b.len());
                Ok(b[from..to].to_vec())
            }
            Content::File { file, offset } => {
                let mut f = File::open(file.path())?;
                f.seek(SeekFrom::Start(offset + start))?;
                let mut buf = vec![0; len];
                f.read_exact(&mut buf)?;
                Ok(buf)
            }
        }
    }

    pub fn with_media_type(self, media_type: String) -> Blob {
        Blob { media_type, ..self }
    }

    /// The whole content in memory: for manifests and configs (small by construction).
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.reader()?.read_to_end(&mut out)?;
        Ok(out)
    }
}

/// `size` bytes at `offset` of a file.
pub fn read_at(path: &Path, offset: u64, size: u64) -> io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    f.take(size).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Why a stream failed its check.
#[derive(Debug)]
pub enum StreamError {
    Io(io::Error),
    /// Gzip expanded past the limit for its compressed size.
    Expands {
        limit: u64,
    },
    /// Not gzip after all, or cut short.
    Gzip(io::Error),
}

/// A reader that fails once more than `limit` bytes came through.
struct Capped<R> {
    inner: R,
    left: u64,
    hit: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.hit = true;
            return Err(io::Error::other("expands past its limit"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The digest and size of a stream.
pub fn hash(reader: impl Read) -> io::Result<(Digest, u64)> {
    HashReader::new(reader).finish()
}

/// One pass over gzip data of `compressed` bytes: the digest of the data as stored and of what
/// it expands to (a layer's diff id), within [`limits::gzip_limit`].
pub fn hash_gzip(reader: impl Read, compressed: u64) -> Result<(Digest, Digest), StreamError> {
    hash_gzip_within(reader, limits::gzip_limit(compressed))
}

fn hash_gzip_within(reader: impl Read, limit: u64) -> Result<(Digest, Digest), StreamError> {
    let mut raw = HashReader::new(reader);
    let (plain, hit) = {
        let mut capped = Capped {
            inner: flate2::read::MultiGzDecoder::new(&mut raw),
            left: limit,
            hit: false,
        };
        let result = HashReader::new(&mut capped).finish();
        (result, capped.hit)
    };
    let (plain, _) = match plain {
        Ok(p) => p,
        Err(_) if hit => return Err(StreamError::Expands { limit }),
        Err(e) => return Err(StreamError::Gzip(e)),
    };
    let (raw, _) = raw.finish().map_err(StreamError::Io)?;
    Ok((raw, plain))
}

/// Decompresses gzip data into a temporary file, within [`limits::gzip_limit`].
pub fn gunzip_to_temp(path: &Path, compressed: u64) -> Result<tempfile::TempPath, StreamError> {
    let limit = limits::gzip_limit(compressed);
    let input = File::open(path).map_err(StreamError::Io)?;
    let mut capped = Capped {
        inner: flate2::read::MultiGzDecoder::new(io::BufReader::new(input)),
        left: limit,
        hit: false,
    };
    let mut out = tempfile::NamedTempFile::new().map_err(StreamError::Io)?;
    match io::copy(&mut capped, &mut out) {
        Ok(_) => Ok(out.into_temp_path()),
        Err(_) if capped.hit => Err(StreamError::Expands { limit }),
        Err(e) => Err(StreamError::Gzip(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(data).expect("gzip");
        gz.finish().expect("gzip")
    }

    #[test]
    fn gzip_is_hashed_as_stored_and_as_expanded_in_one_pass() {
        let plain = b"layer content ".repeat(1000);
        let gz = gzip(&plain);
        let (raw, expanded) = hash_gzip(gz.as_slice(), gz.len() as u64).expect("hash");
        assert_eq!(raw, Digest::of(&gz));
        assert_eq!(expanded, Digest::of(&plain));
        // Not gzip: an error, not a panic or a wrong digest.
        assert!(matches!(
            hash_gzip(&b"not gzip"[..], 8),
            Err(StreamError::Gzip(_))
        ));
    }

    #[test]
    fn gzip_stops_expanding_at_its_limit() {
        let plain = vec![0u8; 1 << 20];
        let gz = gzip(&plain);
        assert!(
            hash_gzip_within(gz.as_slice(), 1 << 20).is_ok(),
            "at the limit"
        );
        assert!(matches!(
            hash_gzip_within(gz.as_slice(), (1 << 20) - 1),
            Err(StreamError::Expands { limit }) if limit == (1 << 20) - 1
        ));
        // 256 MiB whatever the size, then 250 times the size, never past 20 GiB.
        assert_eq!(limits::gzip_limit(1000), limits::GZIP_FREE);
        assert_eq!(limits::gzip_limit(2 * limits::MIB), 500 * limits::MIB);
        assert_eq!(limits::gzip_limit(limits::GIB), limits::GZIP_MAX);
    }

    #[test]
    fn parts_of_a_file_blob_are_read_at_their_offsets() {
        let file = tempfile::NamedTempFile::new().expect("file");
        std::fs::write(file.path(), b"headerBLOB-CONTENTtrailer").expect("write");
        let content = b"BLOB-CONTENT";
        let blob = Blob::in_file(
            "x",
            Digest::of(content),
            Backing::file(file.path()),
            6,
            content.len() as u64,
        );
        assert_eq!(blob.to_vec().expect("read"), content);
        assert_eq!(blob.read_range(5, 7).expect("part"), b"CONTENT");
        assert_eq!(
            hash(blob.reader().expect("reader")).expect("hash").0,
            blob.digest
        );
    }
}
