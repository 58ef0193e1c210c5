//! Content addresses: a digest is `sha256:` and 64 lowercase hex digits, checked before it is
//! used as a file name (`blobs/sha256/<hex>`) or sent anywhere; hashing of streams.

use std::fmt;
use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

/// A valid sha256 digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Digest(String);

impl Digest {
    /// `Some` only for `sha256:` followed by exactly 64 lowercase hex digits.
    pub fn parse(s: &str) -> Option<Digest> {
        let hex = s.strip_prefix("sha256:")?;
        (hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Digest(s.to_owned()))
    }

    pub fn of(data: &[u8]) -> Digest {
        Digest(hex(&Sha256::digest(data)))
    }

    /// The 64 hex digits: a file name under `blobs/sha256/`.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Digest {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// `sha256:<hex>` of some bytes.
pub fn sha256(data: &[u8]) -> String {
    Digest::of(data).0
}

/// A reader that hashes and counts what passes through it.
pub struct HashReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashReader<R> {
    pub fn new(inner: R) -> Self {
        HashReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads to the end; the digest and the count.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(
            &mut self.inner,
            &mut Sink(&mut self.hasher, &mut self.count),
        )?;
        Ok((Digest(hex(&self.hasher.finalize())), self.count))
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

struct Sink<'a>(&'a mut Sha256, &'a mut u64);

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        *self.1 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer that hashes and counts what passes through it.
pub struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashWriter<W> {
    pub fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The writer, the digest and the count of what was written.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, Digest(hex(&self.hasher.finalize())), self.count)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sha256_and_64_lowercase_hex_digits_is_a_digest() {
        let good = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(Digest::parse(&good).map(|d| d.hex().len()), Some(64));
        for bad in [
            "sha256:../../../../dev/zero".to_owned(),
            format!("sha256:{}", "AB".repeat(32)),
            format!("sha256:{}", "ab".repeat(31)),
            format!("sha256:{}/", "ab".repeat(32)),
            format!("sha512:{}", "ab".repeat(64)),
            "ab".repeat(32),
            String::new(),
        ] {
            assert!(Digest::parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn streams_hash_as_the_bytes_do() {
        let data = b"hello layers".repeat(10_000);
        let (d, n) = HashReader::new(data.as_slice()).finish().expect("read");
        assert_eq!(d, Digest::of(&data));
        assert_eq!(n, data.len() as u64);
        let mut w = HashWriter::new(Vec::new());
        w.write_all(&data).expect("write");
        let (out, d2, n2) = w.finish();
        assert_eq!((out, d2, n2), (data.clone(), Digest::of(&data), n));
    }
}
