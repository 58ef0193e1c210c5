//! Files awslab reads from the user's disk, confined to a folder: what a path is ([`kind`]), the
//! walk of a directory whose files are uploaded ([`walk`]: a lab's `source`, `awslab push DIR`),
//! and `.dockerignore` patterns ([`dockerignore`]).

pub mod dockerignore;
pub mod kind;
pub mod walk;

pub use kind::{inside, kind_of, kind_of_meta};
pub use walk::{File, Options, Problem, Tree, TreeError, walk};
