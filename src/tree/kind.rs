//! What a file-system entry is, in words, and whether a path stays inside a folder once its
//! links are resolved.

use std::fs::{FileType, Metadata};
use std::path::{Path, PathBuf};

/// What a file-system entry is, in words: "a directory", "a FIFO", …
pub fn kind_of(t: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// [`kind_of`] of the metadata's file type.
pub fn kind_of_meta(m: &Metadata) -> &'static str {
    kind_of(&m.file_type())
}

/// `path` with every link resolved, if that lies inside one of `roots` (themselves resolved).
pub fn inside(path: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .any(|r| real.starts_with(&r))
        .then_some(real)
}
