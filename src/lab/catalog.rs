//! Finding labs: a path to a file, a lab in `./labs`, or one bundled into the binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use miette::NamedSource;

use super::diagnostic::{Collector, LabWarnings};
use super::{Lab, SiteFile, model, parse, validate};
use crate::error::Error;

/// The labs shipped inside the binary, by id.
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "vpc-public-private",
        include_str!("../../labs/vpc-public-private.toml"),
    ),
    (
        "efs-shared-storage",
        include_str!("../../labs/efs-shared-storage.toml"),
    ),
    ("alb-asg-web", include_str!("../../labs/alb-asg-web.toml")),
    (
        "s3-static-website",
        include_str!("../../labs/s3-static-website.toml"),
    ),
    ("ecr-push", include_str!("../../labs/ecr-push.toml")),
];

/// Files the bundled labs upload, by their path relative to `labs/`.
const BUNDLED_ASSETS: &[(&str, &[u8])] = &[
    (
        "assets/site/index.html",
        include_bytes!("../../labs/assets/site/index.html"),
    ),
    (
        "assets/site/error.html",
        include_bytes!("../../labs/assets/site/error.html"),
    ),
    (
        "assets/site/style.css",
        include_bytes!("../../labs/assets/site/style.css"),
    ),
    (
        "assets/hello-web/index.html",
        include_bytes!("../../labs/assets/hello-web/index.html"),
    ),
    (
        "assets/hello-web/README.txt",
        include_bytes!("../../labs/assets/hello-web/README.txt"),
    ),
];

/// The content type S3 should serve a file with, by its extension.
pub fn content_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html" | "htm") => "text/html",
        Some("css") => "text/css",
        Some("js" | "mjs") => "text/javascript",
        Some("json") => "application/json",
        Some("txt") => "text/plain",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("ico") => "image/x-icon",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    }
}

fn site_file(key: String, content: Vec<u8>) -> SiteFile {
    SiteFile {
        content_type: content_type(&key).to_owned(),
        key,
        content,
    }
}

/// The files under `dir` (recursively), keyed by their path below it with `/`.
fn read_tree(dir: &Path) -> Result<Vec<SiteFile>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let p = entry.path();
            // Links are not followed: what is uploaded is what lies in the directory.
            if entry.file_type().map_err(|e| e.to_string())?.is_symlink() {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let key = p
                .strip_prefix(dir)
                .map_err(|e| e.to_string())?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let content = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            out.push(site_file(key, content));
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// A lab's `source` directory: beside a lab file, or among the bundled assets.
fn assets_for(source: &LabSource, dir: &str) -> Result<Vec<SiteFile>, String> {
    let rel = dir.trim_end_matches('/');
    if rel.split('/').any(|part| part == "..") || Path::new(rel).is_absolute() || rel.is_empty() {
        return Err(
            "must be a directory inside the lab's directory (relative, no `..`)".to_owned(),
        );
    }
    match source {
        LabSource::File(path) => {
            let base = path.parent().unwrap_or_else(|| Path::new("."));
            let full = base.join(rel);
            if !full.is_dir() {
                return Err(format!("{} is not a directory", full.display()));
            }
            read_tree(&full)
        }
        LabSource::Bundled(_) => {
            let prefix = format!("{rel}/");
            let files: Vec<SiteFile> = BUNDLED_ASSETS
                .iter()
                .filter_map(|(path, bytes)| {
                    path.strip_prefix(&prefix)
                        .map(|key| site_file(key.to_owned(), bytes.to_vec()))
                })
                .collect();
            if files.is_empty() {
                return Err("no such directory among the bundled lab files".to_owned());
            }
            Ok(files)
        }
    }
}

/// Where a lab's text came from.
#[derive(Debug, Clone)]
pub enum LabSource {
    File(PathBuf),
    Bundled(&'static str),
}

impl LabSource {
    pub fn display(&self) -> String {
        match self {
            LabSource::File(p) => p.display().to_string(),
            LabSource::Bundled(id) => format!("labs/{id}.toml"),
        }
    }
}

/// A loaded lab and the warnings it raised.
#[derive(Debug)]
pub struct Loaded {
    pub lab: Lab,
    pub warnings: Option<LabWarnings>,
}

/// Resolves a command-line lab argument: an existing file path, `./labs/<id>.toml`, or a
/// bundled id.
pub fn resolve(arg: &str) -> Result<(LabSource, String), Error> {
    let path = Path::new(arg);
    let looks_like_path = arg.ends_with(".toml") || arg.contains('/');
    if path.is_file() {
        return read(path);
    }
    if looks_like_path {
        return Err(Error::LabNotFound {
            arg: arg.to_owned(),
            reason: "no such file".to_owned(),
            known: known_ids(),
        });
    }
    let local = Path::new("labs").join(format!("{arg}.toml"));
    if local.is_file() {
        return read(&local);
    }
    if let Some((id, text)) = BUNDLED.iter().find(|(id, _)| *id == arg) {
        return Ok((LabSource::Bundled(id), (*text).to_owned()));
    }
    Err(Error::LabNotFound {
        arg: arg.to_owned(),
        reason: "not a file and not a known lab id".to_owned(),
        known: known_ids(),
    })
}

fn read(path: &Path) -> Result<(LabSource, String), Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadLab {
        path: path.display().to_string(),
        source,
    })?;
    Ok((LabSource::File(path.to_path_buf()), text))
}

fn known_ids() -> String {
    all_ids().join(", ")
}

/// Ids of every lab the tool can find: bundled ones and `./labs/*.toml`.
pub fn all_ids() -> Vec<String> {
    let mut ids: Vec<String> = BUNDLED.iter().map(|(id, _)| (*id).to_owned()).collect();
    if let Ok(dir) = std::fs::read_dir("labs") {
        for entry in dir.flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "toml")
                && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
                && !ids.iter().any(|i| i == stem)
            {
                ids.push(stem.to_owned());
            }
        }
    }
    ids.sort();
    ids
}

/// How deep `[[include]]` may nest (a lab including a lab that includes a lab).
const MAX_INCLUDE_DEPTH: usize = 3;

/// Finds an included lab: beside the including file, then like a command-line argument.
fn resolve_include(from: &LabSource, arg: &str) -> Result<(LabSource, String), Error> {
    if let LabSource::File(path) = from
        && let Some(dir) = path.parent()
    {
        let beside = dir.join(if arg.ends_with(".toml") {
            arg.to_owned()
        } else {
            format!("{arg}.toml")
        });
        if beside.is_file() {
            return read(&beside);
        }
    }
    if let LabSource::Bundled(_) = from
        && let Some((id, text)) = BUNDLED.iter().find(|(id, _)| *id == arg)
    {
        return Ok((LabSource::Bundled(id), (*text).to_owned()));
    }
    resolve(arg)
}

/// The labs a file includes, in order: `Err(message)` for one that cannot be found (reported
/// at the include); an included lab with errors fails the whole load with its own diagnostics.
fn load_includes(
    source: &LabSource,
    file: &model::LabFile,
    depth: usize,
) -> Result<Vec<Result<Lab, String>>, Error> {
    let mut out = Vec::new();
    for inc in &file.include {
        let arg = inc.get_ref().lab.get_ref();
        if depth >= MAX_INCLUDE_DEPTH {
            out.push(Err(format!(
                "includes nest deeper than {MAX_INCLUDE_DEPTH} levels (a cycle?)"
            )));
            continue;
        }
        match resolve_include(source, arg) {
            Ok((src, text)) => {
                let loaded = load_nested(&src, &text, &BTreeMap::new(), depth + 1)?;
                out.push(Ok(loaded.lab));
            }
            Err(e) => out.push(Err(e.to_string())),
        }
    }
    Ok(out)
}

/// Parses and validates a lab text. Errors carry every located issue.
pub fn load_text(
    source: &LabSource,
    text: &str,
    sets: &BTreeMap<String, String>,
) -> Result<Loaded, Error> {
    load_nested(source, text, sets, 0)
}

fn load_nested(
    source: &LabSource,
    text: &str,
    sets: &BTreeMap<String, String>,
    depth: usize,
) -> Result<Loaded, Error> {
    let path = source.display();
    let mut c = Collector::new(&path, text);
    let lab = match parse::parse_file(&mut c) {
        Some(file) => {
            let included = load_includes(source, &file, depth)?;
            let assets = |dir: &str| assets_for(source, dir);
            validate::validate(&mut c, file, sets, &path, included, &assets)
        }
        None => None,
    };
    match lab {
        Some(lab) if !c.has_errors() => {
            let warnings = (!c.issues.is_empty()).then(|| LabWarnings {
                path: path.clone(),
                src: NamedSource::new(&path, text.to_owned()),
                issues: c.issues,
            });
            Ok(Loaded { lab, warnings })
        }
        _ => Err(Error::Lab(Box::new(c.into_diagnostics()))),
    }
}

/// Resolves and loads a lab argument.
pub fn load_lab(arg: &str, sets: &BTreeMap<String, String>) -> Result<Loaded, Error> {
    let (source, text) = resolve(arg)?;
    load_text(&source, &text, sets)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{BUNDLED, LabSource, load_text};

    #[test]
    fn every_bundled_lab_validates_without_warnings() {
        for (id, text) in BUNDLED {
            let loaded = load_text(&LabSource::Bundled(id), text, &BTreeMap::new())
                .unwrap_or_else(|e| panic!("bundled lab {id} does not load: {e:?}"));
            assert_eq!(loaded.lab.id, *id);
            assert!(loaded.warnings.is_none(), "{id}: {:?}", loaded.warnings);
        }
    }
}
