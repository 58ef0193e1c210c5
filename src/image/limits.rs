//! How much of an input awslab reads: JSON documents are read whole and are small; blobs are
//! streamed and capped; gzip may expand only so far (a bomb is refused, not written to disk).

pub const MIB: u64 = 1024 * 1024;
pub const GIB: u64 = 1024 * MIB;

/// `index.json`, `manifest.json`, manifests, configs: ECR refuses manifests over 4 MiB.
pub const MAX_JSON: u64 = 4 * MIB;

/// One blob (a layer as stored, or a packed directory's layer).
pub const MAX_BLOB: u64 = 10 * GIB;

/// What a gzip stream may expand to: this much whatever its size…
pub const GZIP_FREE: u64 = 256 * MIB;
/// …beyond that this many times its compressed size…
pub const GZIP_RATIO: u64 = 250;
/// …and never more than this.
pub const GZIP_MAX: u64 = 20 * GIB;

/// The most a gzip stream of `compressed` bytes may expand to.
pub fn gzip_limit(compressed: u64) -> u64 {
    compressed
        .saturating_mul(GZIP_RATIO)
        .clamp(GZIP_FREE, GZIP_MAX)
}
