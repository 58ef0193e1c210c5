//! The walk of a directory whose files are uploaded, confined to a folder: a link is followed
//! when it resolves inside the folder (its target's content is stored under the link's name);
//! a link out of the folder, a dangling link, a link loop or a special file (FIFO, socket,
//! device) is refused, all of them named in one error, before anything is read. Optionally
//! leaves out `.git` and what the folder's `.dockerignore` excludes.

use std::fmt;
use std::path::{Path, PathBuf};

use super::dockerignore::DockerIgnore;
use super::kind::kind_of;

/// What to leave out and how much to take.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Leave out `.git` (at any depth) and what `<root>/.dockerignore` excludes.
    pub like_docker: bool,
    /// The most bytes the files may hold together.
    pub max_bytes: u64,
}

/// A file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Its path below the walked directory, `/`-separated (a link's own name, not its target's).
    pub rel: String,
    /// Where its content is, links resolved.
    pub path: PathBuf,
    pub len: u64,
    /// Some execute bit is set.
    pub executable: bool,
}

/// The files of a walk, sorted by `rel`.
#[derive(Debug, Default)]
pub struct Tree {
    pub files: Vec<File>,
    /// Links inside the folder that were followed.
    pub links_followed: usize,
    /// Paths left out: `.git` and what `.dockerignore` excludes.
    pub left_out: Vec<String>,
}

impl Tree {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }
}

/// Why an entry cannot be uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A link that resolves outside the folder.
    LinkOutside { rel: String, target: PathBuf },
    /// A link whose target does not exist.
    Dangling { rel: String, target: PathBuf },
    /// A link to a directory it is itself inside.
    Loop { rel: String, target: PathBuf },
    /// Not a file, directory or link: a FIFO, socket or device.
    Special { rel: String, what: &'static str },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::LinkOutside { rel, target } => write!(
                f,
                "`{rel}` is a symbolic link to {}, outside the folder",
                target.display()
            ),
            Problem::Dangling { rel, target } => write!(
                f,
                "`{rel}` is a symbolic link to {}, which does not exist",
                target.display()
            ),
            Problem::Loop { rel, target } => write!(
                f,
                "`{rel}` is a symbolic link to {}, a directory it is inside (a loop)",
                target.display()
            ),
            Problem::Special { rel, what } => write!(f, "`{rel}` is {what}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is {what}, not a directory")]
    NotADirectory { path: PathBuf, what: &'static str },
    #[error("{path} resolves to {real}, outside {folder}")]
    Outside {
        path: PathBuf,
        real: PathBuf,
        folder: PathBuf,
    },
    #[error("{} cannot be uploaded: {}", path.display(), list(problems))]
    Refused {
        path: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("{path}: {source}")]
    BadIgnore {
        path: PathBuf,
        #[source]
        source: super::dockerignore::BadPattern,
    },
    #[error("{path} holds more than {limit} bytes of files (awslab reads at most that much here)")]
    TooLarge { path: PathBuf, limit: u64 },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The largest `.dockerignore` read.
const MAX_IGNORE_BYTES: u64 = 1024 * 1024;

/// Walks `root`, which must lie (links resolved) inside `folder`, as must everything it holds.
pub fn walk(root: &Path, folder: &Path, opts: Options) -> Result<Tree, TreeError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TreeError::Io { path, source }
    };
    let folder_real = std::fs::canonicalize(folder).map_err(io(folder))?;
    let root_real = std::fs::canonicalize(root).map_err(io(root))?;
    if !root_real.starts_with(&folder_real) {
        return Err(TreeError::Outside {
            path: root.to_path_buf(),
            real: root_real,
            folder: folder.to_path_buf(),
        });
    }
    let meta = std::fs::metadata(&root_real).map_err(io(root))?;
    if !meta.is_dir() {
        return Err(TreeError::NotADirectory {
            path: root.to_path_buf(),
            what: kind_of(&meta.file_type()),
        });
    }
    let ignore = if opts.like_docker {
        read_ignore(root, &root_real, &folder_real)?
    } else {
        DockerIgnore::default()
    };
    let mut tree = Tree::default();
    let mut problems = Vec::new();
    let mut bytes = 0u64;
    // (directory with links resolved, its path below root with a trailing `/`, the resolved
    // directories it lies in: a link back to one of them is a loop)
    let mut stack = vec![(root_real.clone(), String::new(), vec![root_real.clone()])];
    while let Some((dir, prefix, ancestors)) = stack.pop() {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            entries.push(entry);
        }
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            let path = entry.path();
            let kind = entry.file_type().map_err(io(&path))?;
            if opts.like_docker && (name == ".git" || ignore.excludes(&rel)) {
                // An excluded directory may still hold an exception (`!dir/keep`).
                if kind.is_dir() && name != ".git" && ignore.has_exceptions() {
                    let mut within = ancestors.clone();
                    within.push(path.clone());
                    stack.push((path, format!("{rel}/"), within));
                } else {
                    tree.left_out.push(rel);
                }
                continue;
            }
            let (real, meta, via_link) = if kind.is_symlink() {
                let target = std::fs::read_link(&path).unwrap_or_default();
                let Ok(real) = std::fs::canonicalize(&path) else {
                    problems.push(Problem::Dangling { rel, target });
                    continue;
                };
                if !real.starts_with(&folder_real) {
                    problems.push(Problem::LinkOutside { rel, target });
                    continue;
                }
                let meta = std::fs::metadata(&real).map_err(io(&path))?;
                (real, meta, true)
            } else {
                let meta = entry.metadata().map_err(io(&path))?;
                (path, meta, false)
            };
            if meta.is_dir() {
                if ancestors.contains(&real) {
                    let target = std::fs::read_link(entry.path()).unwrap_or_default();
                    problems.push(Problem::Loop { rel, target });
                    continue;
                }
                tree.links_followed += usize::from(via_link);
                let mut within = ancestors.clone();
                within.push(real.clone());
                stack.push((real, format!("{rel}/"), within));
            } else if meta.is_file() {
                tree.links_followed += usize::from(via_link);
                bytes = bytes.saturating_add(meta.len());
                if bytes > opts.max_bytes {
                    return Err(TreeError::TooLarge {
                        path: root.to_path_buf(),
                        limit: opts.max_bytes,
                    });
                }
                tree.files.push(File {
                    rel,
                    len: meta.len(),
                    executable: executable(&meta),
                    path: real,
                });
            } else {
                problems.push(Problem::Special {
                    rel,
                    what: kind_of(&meta.file_type()),
                });
            }
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.to_string());
        return Err(TreeError::Refused {
            path: root.to_path_buf(),
            problems,
        });
    }
    tree.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    tree.left_out.sort();
    Ok(tree)
}

/// `<root>/.dockerignore`, if there is one (itself inside the folder, a regular file).
fn read_ignore(root: &Path, root_real: &Path, folder: &Path) -> Result<DockerIgnore, TreeError> {
    let path = root_real.join(".dockerignore");
    let shown = root.join(".dockerignore");
    let Ok(meta) = std::fs::symlink_metadata(&path) else {
        return Ok(DockerIgnore::default());
    };
    let real = std::fs::canonicalize(&path).map_err(|source| TreeError::Io {
        path: shown.clone(),
        source,
    })?;
    if meta.file_type().is_symlink() && !real.starts_with(folder) {
        return Err(TreeError::Refused {
            path: root.to_path_buf(),
            problems: vec![Problem::LinkOutside {
                rel: ".dockerignore".to_owned(),
                target: std::fs::read_link(&path).unwrap_or_default(),
            }],
        });
    }
    let real_meta = std::fs::metadata(&real).map_err(|source| TreeError::Io {
        path: shown.clone(),
        source,
    })?;
    if !real_meta.is_file() || real_meta.len() > MAX_IGNORE_BYTES {
        return Err(TreeError::Refused {
            path: root.to_path_buf(),
            problems: vec![Problem::Special {
                rel: ".dockerignore".to_owned(),
                what: if real_meta.is_file() {
                    "larger than 1 MiB"
                } else {
                    kind_of(&real_meta.file_type())
                },
            }],
        });
    }
    let text = std::fs::read(&real).map_err(|source| TreeError::Io {
        path: shown.clone(),
        source,
    })?;
    DockerIgnore::parse(&String::from_utf8_lossy(&text)).map_err(|source| TreeError::BadIgnore {
        path: shown,
        source,
    })
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    const ALL: Options = Options {
        like_docker: false,
        max_bytes: u64::MAX,
    };

    fn rels(tree: &Tree) -> Vec<&str> {
        tree.files.iter().map(|f| f.rel.as_str()).collect()
    }

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo");
        assert!(status.success());
    }

    #[test]
    fn links_inside_the_folder_are_followed_under_their_own_names() {
        let tmp = tempfile::tempdir().expect("dir");
        let site = tmp.path().join("site");
        std::fs::create_dir_all(site.join("css")).expect("dir");
        std::fs::write(site.join("index.html"), b"<h1>hi</h1>").expect("write");
        std::fs::write(site.join("css/a.css"), b"a{}").expect("write");
        symlink("index.html", site.join("home.html")).expect("link");
        symlink("css", site.join("styles")).expect("link");
        // A link to a file beside the source directory, still inside the folder.
        std::fs::write(tmp.path().join("shared.txt"), b"shared").expect("write");
        symlink("../shared.txt", site.join("shared.txt")).expect("link");
        let tree = walk(&site, tmp.path(), ALL).expect("walk");
        assert_eq!(
            rels(&tree),
            [
                "css/a.css",
                "home.html",
                "index.html",
                "shared.txt",
                "styles/a.css"
            ]
        );
        assert_eq!(tree.links_followed, 3);
        let home = tree
            .files
            .iter()
            .find(|f| f.rel == "home.html")
            .expect("link");
        assert_eq!(std::fs::read(&home.path).expect("read"), b"<h1>hi</h1>");
        // The same link is outside when the folder is the source directory itself.
        let err = walk(&site, &site, ALL).expect_err("outside").to_string();
        assert!(
            err.contains("`shared.txt` is a symbolic link to ../shared.txt, outside the folder"),
            "{err}"
        );
    }

    #[test]
    fn links_out_dangling_links_loops_and_special_files_are_refused_all_named() {
        let tmp = tempfile::tempdir().expect("dir");
        let secret = tempfile::tempdir().expect("dir");
        std::fs::write(secret.path().join("id_rsa"), b"PRIVATE KEY").expect("write");
        let site = tmp.path().join("site");
        std::fs::create_dir_all(site.join("deep/er")).expect("dir");
        std::fs::write(site.join("index.html"), b"ok").expect("write");
        symlink(secret.path(), site.join("deep/er/ssh")).expect("link");
        symlink(secret.path().join("id_rsa"), site.join("key")).expect("link");
        symlink("missing.txt", site.join("gone")).expect("link");
        symlink("..", site.join("deep/up")).expect("link");
        mkfifo(&site.join("pipe"));
        let err = walk(&site, &site, ALL).expect_err("refused");
        let TreeError::Refused { problems, .. } = &err else {
            panic!("{err}")
        };
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                format!(
                    "`deep/er/ssh` is a symbolic link to {}, outside the folder",
                    secret.path().display()
                ),
                "`deep/up` is a symbolic link to .., a directory it is inside (a loop)".to_owned(),
                "`gone` is a symbolic link to missing.txt, which does not exist".to_owned(),
                format!(
                    "`key` is a symbolic link to {}, outside the folder",
                    secret.path().join("id_rsa").display()
                ),
                "`pipe` is a FIFO (named pipe)".to_owned(),
            ]
        );
        // The directory itself reached through a link out of the folder.
        symlink(secret.path(), tmp.path().join("assets")).expect("link");
        let err = walk(&tmp.path().join("assets"), tmp.path(), ALL).expect_err("outside");
        assert!(matches!(err, TreeError::Outside { .. }), "{err}");
        // A file is not a directory.
        let err = walk(&site.join("index.html"), tmp.path(), ALL).expect_err("file");
        assert!(
            err.to_string()
                .ends_with("is a regular file, not a directory"),
            "{err}"
        );
    }

    #[test]
    fn like_docker_leaves_out_git_and_what_dockerignore_excludes() {
        let tmp = tempfile::tempdir().expect("dir");
        let d = tmp.path();
        std::fs::create_dir_all(d.join(".git/objects")).expect("dir");
        std::fs::write(d.join(".git/config"), b"[core]").expect("write");
        std::fs::create_dir_all(d.join("logs")).expect("dir");
        std::fs::write(d.join("logs/a.log"), b"log").expect("write");
        std::fs::write(d.join("logs/keep.txt"), b"keep").expect("write");
        std::fs::write(d.join("app.py"), b"print()").expect("write");
        std::fs::write(d.join(".env"), b"SECRET=1").expect("write");
        // Excluded entries are never looked at: a link out of the folder there is no error.
        symlink("/etc", d.join("logs/etc")).expect("link");
        std::fs::write(d.join(".dockerignore"), "logs\n!logs/keep.txt\n.env\n").expect("write");
        let opts = Options {
            like_docker: true,
            max_bytes: u64::MAX,
        };
        let tree = walk(d, d, opts).expect("walk");
        assert_eq!(rels(&tree), [".dockerignore", "app.py", "logs/keep.txt"]);
        assert_eq!(tree.left_out, [".env", ".git", "logs/a.log", "logs/etc"]);
        // Without it, everything but the refused link.
        std::fs::remove_file(d.join("logs/etc")).expect("rm");
        assert_eq!(walk(d, d, ALL).expect("walk").files.len(), 6);
        // A bad line is an error with its number; a size cap is an error.
        std::fs::write(d.join(".dockerignore"), "ok\n[x\n").expect("write");
        let err = walk(d, d, opts).expect_err("bad pattern").to_string();
        assert!(
            err.contains(".dockerignore: line 2: `[x` is not a valid pattern"),
            "{err}"
        );
        let small = Options {
            like_docker: false,
            max_bytes: 10,
        };
        let err = walk(d, d, small).expect_err("too large").to_string();
        assert!(err.contains("holds more than 10 bytes of files"), "{err}");
    }
}
