//! Image inputs as files: what a file is (so a text file is called a text file, not a
//! truncated archive), and a tar archive as an index of its members (offset and size in the
//! file, links resolved inside the archive) read without loading it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::blob::Backing;
use super::error::ImageError;

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Tar,
    Gzip,
    /// Something else, in words ("a text file").
    Other(&'static str),
}

pub fn sniff(path: &Path) -> Result<Sniffed, ImageError> {
    let mut head = Vec::with_capacity(512);
    File::open(path)
        .and_then(|f| f.take(512).read_to_end(&mut head))
        .map_err(|source| ImageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(sniff_bytes(&head))
}

fn sniff_bytes(head: &[u8]) -> Sniffed {
    if head.is_empty() {
        return Sniffed::Other("an empty file");
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Sniffed::Gzip;
    }
    if head.len() == 512 && tar_checksum_ok(head) {
        return Sniffed::Tar;
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Sniffed::Other("zstd-compressed data (decompress it first)");
    }
    if head.starts_with(b"PK\x03\x04") {
        return Sniffed::Other("a zip archive");
    }
    if head.starts_with(b"BZh") {
        return Sniffed::Other("bzip2-compressed data (decompress it first)");
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Sniffed::Other("xz-compressed data (decompress it first)");
    }
    // A multi-byte character may be cut at the end of the sample.
    let text = match std::str::from_utf8(head) {
        Ok(t) => Some(t),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    match text {
        Some(t) if !t.contains('\0') => {
            let t = t.trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                Sniffed::Other("a JSON file")
            } else {
                Sniffed::Other("a text file")
            }
        }
        _ => Sniffed::Other("binary data of an unknown kind"),
    }
}

/// A tar header block: its checksum field matches the sum of its bytes (the field as spaces).
fn tar_checksum_ok(block: &[u8]) -> bool {
    let field = &block[148..156];
    let digits: String = field
        .iter()
        .map(|b| *b as char)
        .filter(|c| c.is_digit(8))
        .collect();
    let Ok(stored) = u32::from_str_radix(&digits, 8) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    !digits.is_empty() && stored == sum
}

#[derive(Debug, Clone)]
enum Member {
    File {
        offset: u64,
        size: u64,
    },
    /// A symbolic link (target relative to its directory) or a hard link (to an archive path).
    Link(String),
}

/// The members of a tar archive by normalised path.
#[derive(Debug)]
pub struct TarIndex {
    pub backing: Arc<Backing>,
    /// The input as the user named it (for messages).
    pub shown: PathBuf,
    members: BTreeMap<String, Member>,
}

/// `a/./b/../c` as `a/c`; `None` for a path that climbs out of the archive.
fn normalise(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

impl TarIndex {
    /// Indexes the tar at `backing` (`shown` is what the user gave).
    pub fn read(backing: Arc<Backing>, shown: &Path) -> Result<TarIndex, ImageError> {
        let corrupt = |why: String| ImageError::Corrupt {
            path: shown.to_path_buf(),
            why,
        };
        let io = |source| ImageError::Io {
            path: shown.to_path_buf(),
            source,
        };
        let mut file = File::open(backing.path()).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        // A tar ends with two zero blocks: without them it was cut short (the entries before
        // the cut would otherwise pass for the whole archive).
        let mut tail = [0u8; 1024];
        let ends_well = len >= 1024
            && len.is_multiple_of(512)
            && file
                .seek(SeekFrom::Start(len - 1024))
                .and_then(|_| file.read_exact(&mut tail))
                .is_ok()
            && tail.iter().all(|b| *b == 0);
        if !ends_well {
            return Err(corrupt(format!(
                "a tar archive of {len} bytes without the end-of-archive marker (truncated?)"
            )));
        }
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut archive = tar::Archive::new(file);
        let mut members = BTreeMap::new();
        for entry in archive
            .entries_with_seek()
            .map_err(|e| corrupt(e.to_string()))?
        {
            let entry = entry.map_err(|e| corrupt(e.to_string()))?;
            let raw = entry
                .path()
                .map_err(|e| corrupt(e.to_string()))?
                .to_string_lossy()
                .into_owned();
            let Some(name) = normalise(&raw) else {
                continue;
            };
            let kind = entry.header().entry_type();
            let member = if kind.is_file() {
                let (offset, size) = (entry.raw_file_position(), entry.size());
                if offset.saturating_add(size) > len {
                    return Err(corrupt(format!("{name} ends past the end of the archive")));
                }
                Member::File { offset, size }
            } else if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let resolved = if kind.is_symlink() {
                    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                    if target.starts_with('/') {
                        normalise(&target)
                    } else {
                        normalise(&format!("{dir}/{target}"))
                    }
                } else {
                    normalise(&target)
                };
                match resolved {
                    Some(t) => Member::Link(t),
                    None => continue,
                }
            } else {
                continue;
            };
            members.insert(name, member);
        }
        if members.is_empty() {
            return Err(corrupt("a tar archive with no files".to_owned()));
        }
        Ok(TarIndex {
            backing,
            shown: shown.to_path_buf(),
            members,
        })
    }

    /// (offset, size) of a file member, links inside the archive followed.
    pub fn find(&self, path: &str) -> Option<(u64, u64)> {
        let mut name = normalise(path)?;
        for _ in 0..16 {
            match self.members.get(&name)? {
                Member::File { offset, size } => return Some((*offset, *size)),
                Member::Link(target) => name = target.clone(),
            }
        }
        None
    }

    pub fn has(&self, path: &str) -> bool {
        self.find(path).is_some()
    }

    /// A small member read whole (at most `limit` bytes, else `Err(size)`).
    pub fn read_small(&self, path: &str, limit: u64) -> io::Result<Option<Result<Vec<u8>, u64>>> {
        let Some((offset, size)) = self.find(path) else {
            return Ok(None);
        };
        if size > limit {
            return Ok(Some(Err(size)));
        }
        let mut f = File::open(self.backing.path())?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::new();
        f.take(size).read_to_end(&mut buf)?;
        Ok(Some(Ok(buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_called_what_they_are() {
        assert_eq!(sniff_bytes(b""), Sniffed::Other("an empty file"));
        assert_eq!(
            sniff_bytes(b"FROM nginx\nCOPY . /usr/share/nginx/html\n"),
            Sniffed::Other("a text file")
        );
        assert_eq!(
            sniff_bytes(b"  {\"schemaVersion\": 2}"),
            Sniffed::Other("a JSON file")
        );
        assert_eq!(sniff_bytes(&[0x1f, 0x8b, 8, 0]), Sniffed::Gzip);
        assert_eq!(
            sniff_bytes(&[0, 1, 2, 0xff, 0xfe]),
            Sniffed::Other("binary data of an unknown kind")
        );
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_cksum();
        b.append_data(&mut h, "a.txt", &b"abc"[..]).expect("tar");
        let bytes = b.into_inner().expect("tar");
        assert_eq!(sniff_bytes(&bytes[..512]), Sniffed::Tar);
        // 512 bytes of text are not a tar header.
        assert_eq!(sniff_bytes(&[b'a'; 512]), Sniffed::Other("a text file"));
    }

    #[test]
    fn members_are_found_through_links_and_never_outside() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(4);
        h.set_cksum();
        b.append_data(&mut h, "./one/layer.tar", &b"data"[..])
            .expect("tar");
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        b.append_link(&mut l, "two/layer.tar", "../one/layer.tar")
            .expect("link");
        let mut out = tar::Header::new_gnu();
        out.set_entry_type(tar::EntryType::Symlink);
        out.set_size(0);
        b.append_link(&mut out, "evil", "../../../etc/passwd")
            .expect("link");
        let file = tempfile::NamedTempFile::new().expect("file");
        std::fs::write(file.path(), b.into_inner().expect("tar")).expect("write");
        let index = TarIndex::read(Backing::file(file.path()), file.path()).expect("index");
        let (offset, size) = index.find("two/layer.tar").expect("through the link");
        assert_eq!(size, 4);
        assert_eq!(index.find("one/layer.tar"), Some((offset, size)));
        assert!(index.find("evil").is_none());
        assert!(index.find("../etc/passwd").is_none());
    }
}
