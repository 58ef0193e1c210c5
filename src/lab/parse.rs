//! Text to [`LabFile`]: TOML syntax errors and type errors become located issues, and keys the
//! model does not know become warnings (serde alone would drop them silently).

use toml::de::{DeTable, DeValue, Deserializer};

use super::diagnostic::Collector;
use super::model::{CHECK_KEYS, INCLUDE_KEYS, LabFile, RESOURCE_KEYS, TOP_KEYS};

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
    match serde::Deserialize::deserialize(Deserializer::from(table)) {
        Ok(file) => Some(file),
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

fn warn_unknown_keys(c: &mut Collector<'_>, top: &DeTable<'_>) {
    warn_table(c, top, TOP_KEYS, "a lab file");
    if let Some(DeValue::Table(resources)) = top.get("resources").map(|v| v.get_ref()) {
        for (name, def) in resources {
            if let DeValue::Table(def) = def.get_ref() {
                warn_table(
                    c,
                    def,
                    RESOURCE_KEYS,
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
