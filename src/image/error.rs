//! Why an image input cannot be pushed: each error names the input, the part of it and what
//! it is; all of them exit 2 (nothing was called).

use std::path::PathBuf;

use miette::Diagnostic;

const INPUTS: &str = "give a `docker save` archive (.tar or .tar.gz), an OCI image layout (a directory or a tar of one) or a directory of files to pack";

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ImageError {
    #[error("cannot read {path}: {source}")]
    #[diagnostic(code(awslab::image::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path} is not an image: {why}")]
    #[diagnostic(code(awslab::image::not_an_image), help("{INPUTS}"))]
    NotAnImage { path: PathBuf, why: String },

    #[error("{path}: {what} is missing")]
    #[diagnostic(code(awslab::image::missing))]
    Missing { path: PathBuf, what: String },

    #[error("{path}: {what} does not match its digest (expected {expected}, found {found})")]
    #[diagnostic(code(awslab::image::digest_mismatch))]
    DigestMismatch {
        path: PathBuf,
        what: String,
        expected: String,
        found: String,
    },

    #[error("{path}: {what} has the digest {value:?}, which is not `sha256:` and 64 hex digits")]
    #[diagnostic(code(awslab::image::bad_digest))]
    BadDigest {
        path: PathBuf,
        what: String,
        value: String,
    },

    #[error("{path} is corrupt or truncated: {why}")]
    #[diagnostic(code(awslab::image::corrupt))]
    Corrupt { path: PathBuf, why: String },

    #[error("{path}: {what} has {size} bytes, more than the {limit} awslab accepts")]
    #[diagnostic(code(awslab::image::too_large))]
    TooLarge {
        path: PathBuf,
        what: String,
        size: u64,
        limit: u64,
    },

    #[error(
        "{path}: {what} expands past {limit} bytes when decompressed ({compressed} bytes compressed): refused as a likely gzip bomb"
    )]
    #[diagnostic(
        code(awslab::image::gzip_ratio),
        help(
            "awslab lets gzip data expand to 256 MiB, or beyond that up to 250 times its size, and never past 20 GiB"
        )
    )]
    Expands {
        path: PathBuf,
        what: String,
        compressed: u64,
        limit: u64,
    },

    #[error("{path} holds {} images: {}", refs.len(), refs.join(", "))]
    #[diagnostic(
        code(awslab::image::several_images),
        help("choose one as PATH:REF, e.g. `awslab push {}:{} --repository R --tag T`", path.display(), refs.first().map_or("REF", String::as_str))
    )]
    SeveralImages { path: PathBuf, refs: Vec<String> },

    #[error("{path} holds no image {wanted:?}; it holds {}", refs.join(", "))]
    #[diagnostic(code(awslab::image::no_such_image))]
    NoSuchImage {
        path: PathBuf,
        wanted: String,
        refs: Vec<String>,
    },

    #[error("{path}: {wanted:?} names {} images: {}", refs.len(), refs.join(", "))]
    #[diagnostic(
        code(awslab::image::ambiguous),
        help("give the full reference or the digest")
    )]
    Ambiguous {
        path: PathBuf,
        wanted: String,
        refs: Vec<String>,
    },

    #[error("{path} is a directory of files to pack, which has no image references (`:{wanted}`)")]
    #[diagnostic(code(awslab::image::no_refs))]
    NoRefsInDirectory { path: PathBuf, wanted: String },

    #[error(transparent)]
    #[diagnostic(
        code(awslab::image::folder),
        help(
            "links inside the folder are followed; remove the others, or leave them out with a .dockerignore"
        )
    )]
    Tree(#[from] crate::tree::TreeError),
}
