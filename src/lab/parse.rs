//! Text to [`LabFile`]: TOML syntax errors and type errors become located issues, and keys the
//! model does not know become warnings (serde alone would drop them silently).

use std::ops::Range;

use toml::de::{DeTable, DeValue, Deserializer};

use super::Kind;
use super::diagnostic::Collector;
use super::model::{CHECK_KEYS, COMMON_RESOURCE_KEYS, INCLUDE_KEYS, LabFile, TOP_KEYS};
use crate::resources::Keys;

/// Parses the text; on failure the collector holds the located error.
pub fn parse_file(c: &mut Collector<'_>) -> Option<LabFile> {
    let table = match DeTable::parse(c.text) {
        Ok(t) => t,
        Err(e) => {
            c.error(
                e.span().unwrap_or(0..0),
                format!("invalid TOML: {}", e.message()),
                "here",
            );
            return None;
        }
    };
    warn_unknown_keys(c, table.get_ref());
    let errors_before = c.issues.len();
    let read = resource_keys(c, table.get_ref());
    let key_errors = c.issues.len() > errors_before;
    match serde::Deserialize::deserialize(Deserializer::from(table)) {
        // A key of the wrong type stops the file before validation, as a TOML error does;
        // every such key of every resource has been reported.
        Ok(_) if key_errors => None,
        Ok(mut file) => {
            keep_resource_keys(&mut file, read);
            Some(file)
        }
        Err(e) => {
            c.error(
                e.span().unwrap_or(0..0),
                e.message().trim().to_owned(),
                "here",
            );
            None
        }
    }
}

/// Each `[resources.NAME]` table read by its kind: the keys (a wrong type is a located error)
/// and the span of every value.
fn resource_keys(c: &mut Collector<'_>, top: &DeTable<'_>) -> Vec<ReadTable> {
    let Some(DeValue::Table(resources)) = top.get("resources").map(|v| v.get_ref()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, def) in resources {
        let DeValue::Table(table) = def.get_ref() else {
            continue;
        };
        let spans = table
            .iter()
            .map(|(k, v)| {
                let span = match v.get_ref() {
                    DeValue::Array(a) => match (a.first(), a.last()) {
                        (Some(f), Some(l)) => f.span().start..l.span().end,
                        _ => 0..0,
                    },
                    _ => v.span(),
                };
                (k.get_ref().to_string(), span)
            })
            .collect();
        let kind = match table.get("type").map(|t| t.get_ref()) {
            Some(DeValue::String(t)) => Kind::parse(t),
            _ => None,
        };
        let keys = kind.and_then(|kind| match Keys::parse(kind, def.clone()) {
            Ok(keys) => Some(keys),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                // A key every table has (a security group's `description`) is the lab
                // file's own to report.
                let common = COMMON_RESOURCE_KEYS
                    .iter()
                    .any(|k| table.get(*k).is_some_and(|v| v.span() == span));
                if !common {
                    c.error(span, e.message().trim().to_owned(), "here");
                }
                None
            }
        });
        out.push(ReadTable {
            name: name.get_ref().to_string(),
            keys,
            spans,
        });
    }
    out
}

/// A resource table as its kind read it.
struct ReadTable {
    name: String,
    keys: Option<Keys>,
    spans: Vec<(String, Range<usize>)>,
}

fn keep_resource_keys(file: &mut LabFile, read: Vec<ReadTable>) {
    for t in read {
        if let Some(def) = file.resources.get_mut(t.name.as_str()) {
            let def = def.get_mut();
            def.keys = t.keys;
            def.spans = t.spans;
        }
    }
}

fn warn_unknown_keys(c: &mut Collector<'_>, top: &DeTable<'_>) {
    let known_keys = super::validate::resource_keys();
    warn_table(c, top, TOP_KEYS, "a lab file");
    if let Some(DeValue::Table(resources)) = top.get("resources").map(|v| v.get_ref()) {
        for (name, def) in resources {
            if let DeValue::Table(def) = def.get_ref() {
                warn_table(
                    c,
                    def,
                    known_keys,
                    &format!("resource `{}`", name.get_ref()),
                );
            }
        }
    }
    if let Some(DeValue::Array(includes)) = top.get("include").map(|v| v.get_ref()) {
        for inc in includes.iter() {
            if let DeValue::Table(def) = inc.get_ref() {
                warn_table(c, def, INCLUDE_KEYS, "an include");
            }
        }
    }
    if let Some(DeValue::Array(checks)) = top.get("checks").map(|v| v.get_ref()) {
        for check in checks.iter() {
            if let DeValue::Table(def) = check.get_ref() {
                warn_table(c, def, CHECK_KEYS, "a check");
            }
        }
    }
}

fn warn_table(c: &mut Collector<'_>, table: &DeTable<'_>, known: &[&str], what: &str) {
    for key in table.keys() {
        let k: &str = key.get_ref();
        if !known.contains(&k) {
            c.warn(
                key.span(),
                format!("unknown key `{k}` in {what} is ignored"),
                "unknown key",
            );
            if let Some(close) = super::validate::closest(k, known.iter().copied()) {
                c.help(format!("did you mean `{close}`?"));
            }
        }
    }
}
