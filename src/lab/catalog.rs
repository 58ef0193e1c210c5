//! Finding labs: a path to a file, a lab in `./labs`, or one bundled into the binary.

use std::collections::BTreeMap;
use std::io::Read;
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
    ("golden-ami", include_str!("../../labs/golden-ami.toml")),
    (
        "ecs-fargate-service",
        include_str!("../../labs/ecs-fargate-service.toml"),
    ),
];

/// Files the bundled labs upload, by their path relative to `labs/`: only what goes into the
/// bucket or the image (an image's folder without what its `.dockerignore` leaves out).
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

/// The most bytes a lab's `source` directory may hold: its files are read at load time.
const MAX_SOURCE_BYTES: u64 = 64 * 1024 * 1024;

/// The files under `dir` (recursively), keyed by their path below it with `/`. Every path,
/// links resolved, must stay inside `folder` (the lab's folder). `like_docker` leaves out
/// `.git` and what `dir/.dockerignore` excludes.
fn read_tree(dir: &Path, folder: &Path, like_docker: bool) -> Result<Vec<SiteFile>, String> {
    let opts = crate::tree::Options {
        like_docker,
        max_bytes: MAX_SOURCE_BYTES,
    };
    let tree = crate::tree::walk(dir, folder, opts).map_err(|e| match e {
        // The diagnostic already names the directory.
        crate::tree::TreeError::Refused { problems, .. } => problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        crate::tree::TreeError::Outside { real, .. } => {
            format!(
                "it resolves to {}, outside the lab's folder",
                real.display()
            )
        }
        other => other.to_string(),
    })?;
    tree.files
        .into_iter()
        .map(|f| {
            let content = std::fs::read(&f.path).map_err(|e| format!("{}: {e}", f.rel))?;
            Ok(site_file(f.rel, content))
        })
        .collect()
}

/// A lab's `source` directory: beside a lab file, or among the bundled assets.
fn assets_for(source: &LabSource, dir: &str, like_docker: bool) -> Result<Vec<SiteFile>, String> {
    let rel = dir.trim_end_matches('/');
    if rel.split('/').any(|part| part == "..") || Path::new(rel).is_absolute() || rel.is_empty() {
        return Err(
            "must be a directory inside the lab's directory (relative, no `..`)".to_owned(),
        );
    }
    match source {
        LabSource::File(path) => {
            let base = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or_else(|| Path::new("."));
            read_tree(&base.join(rel), base, like_docker)
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

/// The largest lab file awslab reads (the bundled ones are a few KiB).
pub const MAX_LAB_BYTES: u64 = 1024 * 1024;

/// Resolves a command-line lab argument: a `.toml` file, `./labs/<id>.toml`, or a bundled id.
pub fn resolve(arg: &str) -> Result<(LabSource, String), Error> {
    if !is_lab_id(arg) {
        let path = Path::new(arg);
        if !path.exists() {
            return Err(Error::LabNotFound {
                arg: arg.to_owned(),
                reason: "no such file".to_owned(),
                known: known_ids(),
            });
        }
        return read(path);
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

/// A lab id as `[[include]]` and the command line take it: letters, digits, `-`, `_`.
pub fn is_lab_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Reads a lab file: a regular file named `*.toml`, UTF-8, at most [`MAX_LAB_BYTES`]. Nothing
/// else is opened, so a diagnostic only ever quotes a lab file.
fn read(path: &Path) -> Result<(LabSource, String), Error> {
    let not_lab = |why: String| Error::NotALabFile {
        path: path.display().to_string(),
        why,
    };
    let read_err = |source| Error::ReadLab {
        path: path.display().to_string(),
        source,
    };
    if path.extension().is_none_or(|e| e != "toml") {
        return Err(not_lab(
            "its name does not end in `.toml`, so it is not read".to_owned(),
        ));
    }
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() {
        return Err(not_lab(format!(
            "it is {}",
            crate::tree::kind_of_meta(&meta)
        )));
    }
    if meta.len() > MAX_LAB_BYTES {
        return Err(not_lab(format!(
            "it has {} bytes; a lab file has at most {MAX_LAB_BYTES}",
            meta.len()
        )));
    }
    let mut text = String::new();
    let file = std::fs::File::open(path).map_err(read_err)?;
    match file.take(MAX_LAB_BYTES + 1).read_to_string(&mut text) {
        Ok(n) if n as u64 > MAX_LAB_BYTES => {
            Err(not_lab(format!("it has more than {MAX_LAB_BYTES} bytes")))
        }
        Ok(_) => Ok((LabSource::File(path.to_path_buf()), text)),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            Err(not_lab("it is not UTF-8 text".to_owned()))
        }
        Err(e) => Err(read_err(e)),
    }
}

/// One id a line, so that no id is broken where the terminal wraps.
fn known_ids() -> String {
    all_ids().iter().map(|id| format!("\n  {id}")).collect()
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

/// Finds an included lab. A lab id is looked up beside the including file, in `./labs`, then
/// among the bundled labs (a bundled lab's includes are bundled first). Otherwise it must be a
/// `.toml` path that, links resolved, lies under the including lab's folder or `./labs`;
/// anything else is refused unread, so that no diagnostic quotes a file that is not a lab.
fn resolve_include(from: &LabSource, arg: &str) -> Result<(LabSource, String), String> {
    let folder = match from {
        LabSource::File(path) => Some(
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or_else(|| Path::new("."))
                .to_path_buf(),
        ),
        LabSource::Bundled(_) => None,
    };
    let roots: Vec<PathBuf> = folder
        .iter()
        .cloned()
        .chain(std::iter::once(PathBuf::from("labs")))
        .collect();
    let bundled = || {
        BUNDLED
            .iter()
            .find(|(id, _)| *id == arg)
            .map(|(id, text)| (LabSource::Bundled(id), (*text).to_owned()))
    };
    let candidates: Vec<PathBuf> = if is_lab_id(arg) {
        if folder.is_none()
            && let Some(found) = bundled()
        {
            return Ok(found);
        }
        roots
            .iter()
            .map(|r| r.join(format!("{arg}.toml")))
            .collect()
    } else if arg.ends_with(".toml") {
        roots.iter().map(|r| r.join(arg)).collect()
    } else {
        return Err(
            "an include names a lab id (`vpc-public-private`) or a `.toml` file under this lab's folder or ./labs; this is neither, so it is not read"
                .to_owned(),
        );
    };
    let mut outside = None;
    for candidate in &candidates {
        if std::fs::symlink_metadata(candidate).is_err() {
            continue;
        }
        match crate::tree::inside(candidate, &roots) {
            Some(_) => return read(candidate).map_err(|e| include_error(&e)),
            None => outside = Some(candidate),
        }
    }
    if let Some(c) = outside {
        return Err(format!(
            "{} resolves outside this lab's folder and ./labs, so it is not read",
            c.display()
        ));
    }
    if is_lab_id(arg)
        && let Some(found) = bundled()
    {
        return Ok(found);
    }
    Err(if is_lab_id(arg) {
        format!(
            "no lab `{arg}` beside this file, in ./labs or among the bundled labs ({})",
            known_ids()
        )
    } else {
        "no such file under this lab's folder or ./labs".to_owned()
    })
}

/// A read error of an included file, in one line (the include's location says where).
fn include_error(e: &Error) -> String {
    match e {
        Error::ReadLab { path, source } => format!("cannot read {path}: {source}"),
        other => other.to_string(),
    }
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
            Err(why) => out.push(Err(why)),
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
            let assets = |dir: &str, like_docker: bool| assets_for(source, dir, like_docker);
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
    let loaded = load_text(&source, &text, sets)?;
    same_id(arg, &source, &loaded.lab.id)?;
    Ok(loaded)
}

/// `./labs/<id>.toml` names its lab: a file there whose `id` differs would tag resources with
/// another id than the one the user typed.
fn same_id(arg: &str, source: &LabSource, id: &str) -> Result<(), Error> {
    match source {
        LabSource::File(path) if is_lab_id(arg) && id != arg => Err(Error::LabIdMismatch {
            path: path.display().to_string(),
            id: id.to_owned(),
            name: arg.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// The id of a lab argument without validating the lab: what `down` needs (a lab file that no
/// longer validates, with a moved asset folder or a typo, can still be torn down). The file's
/// `id` key is read; a file whose TOML does not parse any more is searched for its top-level
/// `id = "..."` line.
pub fn lab_id(arg: &str) -> Result<String, Error> {
    let (source, text) = resolve(arg)?;
    let id = match text.parse::<toml::Table>() {
        Ok(table) => table
            .get("id")
            .and_then(toml::Value::as_str)
            .map(str::to_owned),
        Err(_) => id_line(&text),
    };
    let Some(id) = id.filter(|i| is_lab_id(i)) else {
        return Err(Error::NotALabFile {
            path: source.display(),
            why: "it has no readable `id = \"...\"` line, so its resources cannot be found"
                .to_owned(),
        });
    };
    same_id(arg, &source, &id)?;
    Ok(id)
}

/// The value of a top-level `id = "..."` line (before any table header).
fn id_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with('['))
        .find_map(|l| {
            let rest = l.strip_prefix("id")?.trim_start().strip_prefix('=')?.trim();
            let inner = rest.strip_prefix('"')?;
            Some(inner[..inner.find('"')?].to_owned())
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::{BUNDLED, LabSource, load_text};
    use crate::error::Error;

    #[test]
    fn every_bundled_lab_validates_without_warnings() {
        for (id, text) in BUNDLED {
            let loaded = load_text(&LabSource::Bundled(id), text, &BTreeMap::new())
                .unwrap_or_else(|e| panic!("bundled lab {id} does not load: {e:?}"));
            assert_eq!(loaded.lab.id, *id);
            assert!(loaded.warnings.is_none(), "{id}: {:?}", loaded.warnings);
        }
    }

    #[test]
    fn the_bastion_admits_the_callers_address_by_default() {
        let (id, text) = BUNDLED
            .iter()
            .find(|(id, _)| *id == "vpc-public-private")
            .expect("bundled");
        let lab = load_text(&LabSource::Bundled(id), text, &BTreeMap::new())
            .expect("loads")
            .lab;
        let ssh = &lab.params["ssh_cidr"];
        assert_eq!(ssh.default_from, Some(crate::lab::DefaultFrom::CallerIp));
        assert_eq!(ssh.default, "0.0.0.0/0");
    }

    #[test]
    fn an_unknown_default_source_is_a_located_error() {
        let text = "id = \"p\"\ntitle = \"P\"\n\n[params.ssh_cidr]\ndefault = \"0.0.0.0/0\"\ndefault_from = \"my-ip\"\n";
        let err = load_text(&LabSource::File("p.toml".into()), text, &BTreeMap::new())
            .expect_err("refused");
        let Error::Lab(d) = &err else {
            panic!("not a located lab error: {err:?}")
        };
        let issue = d.issues.first().expect("issue");
        assert!(
            issue.message.contains("unknown default_from `my-ip`"),
            "{issue:?}"
        );
        assert!(issue.location.starts_with("p.toml:6:"), "{issue:?}");
        assert!(
            issue
                .help
                .as_deref()
                .unwrap_or_default()
                .contains("caller-ip")
        );
    }

    const SECRET: &str = "wJalrXUtnFEMI-not-a-lab";

    fn including(lab: &str) -> String {
        format!(
            "id = \"top\"\ntitle = \"Top\"\n\n[[include]]\nlab = {}\nresources = [\"lab-vpc\"]\n",
            toml::Value::String(lab.to_owned())
        )
    }

    /// The lab at `dir/top.toml` including `lab`: the messages of its diagnostics, after checking
    /// that, rendered as the user sees them, they point at the include and quote no secret.
    fn include_error(dir: &Path, lab: &str) -> String {
        let top = dir.join("top.toml");
        let text = including(lab);
        let err = load_text(&LabSource::File(top.clone()), &text, &BTreeMap::new())
            .expect_err("include refused");
        let Error::Lab(d) = &err else {
            panic!("not a located lab error: {err:?}")
        };
        assert_eq!(
            d.path,
            top.display().to_string(),
            "located in the including file"
        );
        let mut rendered = String::new();
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .render_report(&mut rendered, d.as_ref())
            .expect("render");
        assert!(
            d.issues
                .iter()
                .all(|i| i.location.starts_with(&format!("{}:5:7", top.display()))),
            "{rendered}"
        );
        assert!(
            !rendered.contains(SECRET),
            "a secret was quoted: {rendered}"
        );
        d.issues
            .iter()
            .map(|i| i.message.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn an_include_that_is_not_a_lab_file_is_refused_unread() {
        let tmp = tempfile::tempdir().expect("dir");
        let lab_dir = tmp.path().join("course");
        std::fs::create_dir_all(lab_dir.join("sub")).expect("dir");
        std::fs::create_dir_all(tmp.path().join("home/.aws")).expect("dir");
        let credentials = tmp.path().join("home/.aws/credentials");
        std::fs::write(
            &credentials,
            format!("[default]\naws_secret_access_key = {SECRET}\n"),
        )
        .expect("write");
        // A .toml file outside the folder, reached by `..` and through a link.
        let outside = tmp.path().join("outside.toml");
        std::fs::write(&outside, format!("secret = \"{SECRET}\"\n[[[")).expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&outside, lab_dir.join("sub/linked.toml")).expect("link");

        for (lab, says) in [
            ("/proc/self/environ", "is neither, so it is not read"),
            ("~/.aws/credentials", "is neither, so it is not read"),
            (
                credentials.to_str().expect("utf-8"),
                "is neither, so it is not read",
            ),
            (
                "../outside.toml",
                "resolves outside this lab's folder and ./labs",
            ),
            (
                outside.to_str().expect("utf-8"),
                "resolves outside this lab's folder and ./labs",
            ),
            #[cfg(unix)]
            (
                "sub/linked.toml",
                "resolves outside this lab's folder and ./labs",
            ),
            (
                "sub/none.toml",
                "no such file under this lab's folder or ./labs",
            ),
        ] {
            let err = include_error(&lab_dir, lab);
            assert!(err.contains("cannot include"), "{lab}: {err}");
            assert!(err.contains(says), "{lab}: {err}");
        }
        // A FIFO named like a lab is not opened (opening it would block).
        #[cfg(unix)]
        {
            let status = std::process::Command::new("mkfifo")
                .arg(lab_dir.join("pipe.toml"))
                .status()
                .expect("mkfifo");
            assert!(status.success());
            let err = include_error(&lab_dir, "pipe.toml");
            assert!(err.contains("it is a FIFO"), "{err}");
        }
    }

    #[test]
    fn includes_resolve_by_id_and_by_toml_path_under_the_folder_or_labs() {
        let tmp = tempfile::tempdir().expect("dir");
        let vpc = std::fs::read_to_string("labs/vpc-public-private.toml").expect("lab");
        std::fs::create_dir_all(tmp.path().join("net")).expect("dir");
        std::fs::write(tmp.path().join("base.toml"), &vpc).expect("write");
        std::fs::write(tmp.path().join("net/base2.toml"), &vpc).expect("write");
        let top = tmp.path().join("top.toml");
        for lab in [
            "base",
            "base.toml",
            "net/base2.toml",
            // ./labs (the tests run in the crate's folder), then bundled.
            "vpc-public-private.toml",
            "vpc-public-private",
        ] {
            let loaded = load_text(
                &LabSource::File(top.clone()),
                &including(lab),
                &BTreeMap::new(),
            )
            .unwrap_or_else(|e| panic!("{lab}: {e:?}"));
            assert!(loaded.lab.resource("lab-vpc").is_some(), "{lab}");
        }
    }
}
