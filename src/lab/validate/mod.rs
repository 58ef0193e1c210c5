//! [`LabFile`] to [`Lab`]: every check that needs no AWS call. Kinds and their keys, references
//! (exist, right kind, no cycle), CIDRs (valid, inside the VPC, not overlapping), ports,
//! protocols, rule numbers, parameters. All problems are collected, not just the first.

mod checks;
mod includes;
mod keys;
mod lab_rules;
mod prose;
mod resources;
#[cfg(test)]
mod tests;
mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use ipnet::Ipv4Net;
use toml::Spanned;

use super::diagnostic::Collector;
use super::model::{CheckDef, LabFile, OneOrMany, ResourceDef};
use super::{
    AmiRef, Check, CheckKind, DefaultFrom, Endpoint, Kind, Lab, Param, Ports, Proto, Resource,
    SiteFile, Spec, Stage,
};
use crate::graph::Graph;

/// Reads a `source` directory of the lab: its files, or why not. The flag asks for the files
/// an image takes (`.git` and what `.dockerignore` excludes left out).
pub type Assets<'a> = dyn Fn(&str, bool) -> Result<Vec<SiteFile>, String> + 'a;

/// Validates a parsed file. `sets` are `--set name=value` overrides.
pub fn validate(
    c: &mut Collector<'_>,
    file: LabFile,
    sets: &BTreeMap<String, String>,
    origin: &str,
    included: Vec<Result<Lab, String>>,
    assets: &Assets<'_>,
) -> Option<Lab> {
    let mut v = Validator {
        assets,
        c,
        kinds: BTreeMap::new(),
        params: BTreeMap::new(),
        needed: Vec::new(),
    };
    v.check_id(&file.id);
    for (name, def) in &file.params {
        let value = sets
            .get(name.get_ref())
            .cloned()
            .unwrap_or_else(|| def.default.get_ref().clone());
        let default_from = def.default_from.as_ref().and_then(|from| {
            let found = DefaultFrom::ALL
                .iter()
                .copied()
                .find(|f| f.as_str() == from.get_ref());
            if found.is_none() {
                v.c.error(
                    from.span(),
                    format!("unknown default_from `{}`", from.get_ref()),
                    "not a source awslab knows",
                );
                v.c.help(
                    "\"caller-ip\": this machine's public IPv4 address as a /32, when it can be found",
                );
            }
            found
        });
        v.params.insert(
            name.get_ref().clone(),
            Param {
                value,
                default: def.default.get_ref().clone(),
                default_from,
                description: def.description.clone(),
            },
        );
    }
    for name in sets.keys() {
        if !v.params.contains_key(name) {
            let known: Vec<&str> = v.params.keys().map(String::as_str).collect();
            v.c.error(
                file.id.span(),
                format!(
                    "--set {name}: this lab has no parameter `{name}` (it has: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
                "in this lab",
            );
        }
    }
    let (imported, imported_checks) = v.includes(&file, included);
    for r in &imported {
        v.kinds.insert(r.name.clone(), r.kind());
    }
    // First pass: kinds, so references can be checked against them.
    for (name, def) in &file.resources {
        if let Some(r) = imported.iter().find(|r| r.name == *name.get_ref()) {
            v.c.error(
                name.span(),
                format!(
                    "`{}` is also included from another lab ({:?})",
                    name.get_ref(),
                    r.kind().as_str()
                ),
                "declared twice",
            );
            v.c.help("remove it here or from the include's `resources`");
            continue;
        }
        v.check_name(name);
        match &def.get_ref().kind {
            None => {
                v.c.error(
                    name.span(),
                    format!("resource `{}` has no `type`", name.get_ref()),
                    "needs `type = \"...\"`",
                );
                v.c.help(format!("one of: {}", kind_names()));
            }
            Some(t) => match Kind::parse(t.get_ref()) {
                Some(k) => {
                    v.kinds.insert(name.get_ref().clone(), k);
                }
                None => {
                    v.c.error(
                        t.span(),
                        format!("unknown resource type `{}`", t.get_ref()),
                        "unknown type",
                    );
                    match closest(t.get_ref(), Kind::ALL.iter().map(|k| k.as_str())) {
                        Some(close) => v.c.help(format!("did you mean `{close}`?")),
                        None => v.c.help(format!("one of: {}", kind_names())),
                    }
                }
            },
        }
    }
    let mut resources = Vec::new();
    for (name, def) in &file.resources {
        let Some(kind) = v.kinds.get(name.get_ref()).copied() else {
            continue;
        };
        if let Some(r) = v.resource(name, kind, def.get_ref()) {
            resources.push(r);
        }
    }
    resources.extend(imported);
    v.check_subnet_cidrs(&file, &resources);
    v.check_bucket_names(&file, &resources);
    v.check_cycle(&file, &resources);
    let mut checks = Vec::new();
    let mut ids = BTreeSet::new();
    for check in imported_checks {
        ids.insert(check.id.clone());
        checks.push(check);
    }
    for def in &file.checks {
        let def_ref = def.get_ref();
        if !ids.insert(def_ref.id.get_ref().clone()) {
            v.c.error(
                def_ref.id.span(),
                format!("duplicate check id `{}`", def_ref.id.get_ref()),
                "used before",
            );
        }
        if let Some(check) = v.check(def_ref) {
            checks.push(check);
        }
    }
    let instructions = v.instructions(&file, &resources);
    if v.c.has_errors() {
        return None;
    }
    Some(Lab {
        id: file.id.into_inner(),
        title: file.title,
        summary: file.summary,
        source: file.source,
        instructions: substitute_params(&instructions, &v.params),
        params: v.params,
        resources,
        checks,
        origin: origin.to_owned(),
    })
}

/// `${name}` in prose (the instructions) replaced by the parameter's value; unknown names stay.
fn substitute_params(text: &str, params: &BTreeMap<String, Param>) -> String {
    params.iter().fold(text.to_owned(), |acc, (name, p)| {
        acc.replace(&format!("${{{name}}}"), &p.value)
    })
}

fn with_article(noun: &str) -> String {
    // By sound: "an S3 bucket", "an EFS file system", "a VPC".
    let vowel =
        noun.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I']) || noun.starts_with("S3");
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

fn kind_names() -> String {
    Kind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known word closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (edit_distance(word, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// What a kind's spec parser is given: the lab's names and kinds (for references), the value
/// parsers kinds share, and the collector its located errors go to.
pub type SpecCx<'c, 'a, 'f> = Validator<'c, 'a, 'f>;

/// A kind's spec, parsed from its keys in a lab file.
pub trait ParseSpec: Sized {
    /// The keys a table of the kind takes (beyond `type`, `stage` and `description`), each
    /// with its span: a struct of `Option<Spanned<_>>` fields. Its JSON Schema (doc comments as
    /// descriptions) is the kind's part of the lab file schema.
    type Keys: serde::de::DeserializeOwned + Default + schemars::JsonSchema;

    /// The spec, with every problem reported to `cx` at the value it is about (the result is
    /// dropped when any was).
    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, keys: &Self::Keys) -> Self;
}

pub use keys::resource_keys;

/// Runs `f` on a validator of an empty lab and returns the keys it found missing.
fn missing_keys(f: impl FnOnce(&mut Validator<'_, '_, '_>)) -> Vec<String> {
    let mut c = Collector::new("", "");
    let no_files = |_: &str, _: bool| -> Result<Vec<SiteFile>, String> { Ok(Vec::new()) };
    let mut v = Validator {
        assets: &no_files,
        c: &mut c,
        kinds: BTreeMap::new(),
        params: BTreeMap::new(),
        needed: Vec::new(),
    };
    f(&mut v);
    let mut keys = v.needed;
    keys.dedup();
    keys
}

/// The keys a resource table of `kind` cannot do without: those its parser asks for when the
/// table gives none.
pub fn required_keys(kind: Kind) -> Vec<String> {
    missing_keys(|v| {
        let name = Spanned::new(0..0, "resource".to_owned());
        let def = ResourceDef {
            keys: Some(crate::resources::Keys::empty(kind)),
            ..ResourceDef::default()
        };
        let _ = Spec::parse(v, &name, &def);
    })
}

/// The keys a check of `kind` (`reachable`) cannot do without: those the validator asks for
/// when the check gives only its id, title and kind.
pub fn required_check_keys(kind: &str) -> Vec<String> {
    let text = format!(
        "id = \"check\"\ntitle = \"check\"\nkind = {}\n",
        toml::Value::String(kind.to_owned())
    );
    match toml::from_str::<CheckDef>(&text) {
        Ok(def) => missing_keys(|v| {
            let _ = v.check(&def);
        }),
        Err(_) => Vec::new(),
    }
}
pub(crate) use keys::spec_keys;

pub struct Validator<'c, 'a, 'f> {
    c: &'c mut Collector<'a>,
    /// Every key found missing that the table or check cannot do without (what the schema
    /// requires).
    needed: Vec<String>,
    kinds: BTreeMap<String, Kind>,
    params: BTreeMap<String, Param>,
    /// The files of a directory relative to the lab (`s3_objects`'s `source`).
    assets: &'f Assets<'f>,
}
