//! The instructions as the student reads them: `${NAME.KEY}` replaced by what the lab declares
//! for resource NAME's KEY (`${lab-vpc.cidr}`, `${bastion-sg.ingress}`), so the text cannot
//! drift from the resources; and a warning for each CIDR or resource name the text mentions
//! that the lab does not declare.

use super::*;
use crate::lab::REF_ATTRS;

impl Validator<'_, '_, '_> {
    /// The instructions with every `${NAME.KEY}` of a resource of this file filled in;
    /// `${NAME.id}`, `${NAME.url}` and parameters are left for later.
    pub(super) fn instructions(&mut self, file: &LabFile, resources: &[Resource]) -> String {
        let text = &file.instructions;
        // The file parsed already: the raw tables are its resources as written.
        let raw: toml::Table = toml::from_str(self.c.text).unwrap_or_default();
        let tables = raw
            .get("resources")
            .and_then(toml::Value::as_table)
            .cloned()
            .unwrap_or_default();
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let inner = &after[..end];
            let whole = &rest[start..start + 2 + end + 1];
            rest = &after[end + 1..];
            match self.quote(inner, whole, &tables, resources) {
                Some(value) => out.push_str(&value),
                None => out.push_str(whole),
            }
        }
        out.push_str(rest);
        self.warn_undeclared(text, &tables, file, resources);
        out
    }

    /// The value `${inner}` stands for, or `None` to leave it as it is (a parameter, a value
    /// AWS gives, a resource of an included lab, or an error reported here).
    fn quote(
        &mut self,
        inner: &str,
        whole: &str,
        tables: &toml::Table,
        resources: &[Resource],
    ) -> Option<String> {
        let (name, key) = inner.split_once('.')?;
        if REF_ATTRS.contains(&key) {
            return None;
        }
        let span = self.span_of(whole);
        let Some(table) = tables.get(name).and_then(toml::Value::as_table) else {
            if resources.iter().any(|r| r.name == name) {
                // Included from another lab: its keys are in that file.
                return None;
            }
            self.c.error(
                span,
                format!("`{whole}` in the instructions: the lab has no resource `{name}`"),
                "unknown resource",
            );
            let names: Vec<&str> = tables.keys().map(String::as_str).collect();
            if let Some(close) = closest(name, names.iter().copied()) {
                self.c.help(format!("did you mean `{close}`?"));
            }
            return None;
        };
        match table.get(key) {
            Some(value) => Some(self.render(key, value)),
            None => {
                let set: Vec<&str> = table.keys().map(String::as_str).collect();
                self.c.error(
                    span,
                    format!(
                        "`{whole}` in the instructions: resource `{name}` does not set `{key}`"
                    ),
                    "nothing to quote",
                );
                match closest(key, set.iter().copied()) {
                    Some(close) => self.c.help(format!("did you mean `{close}`?")),
                    None => self.c.help(format!(
                        "it sets: {}; `${{{name}.id}}` is its id once it exists",
                        set.join(", ")
                    )),
                }
                None
            }
        }
    }

    /// Where `whole` first appears in the file (the instructions hold it).
    fn span_of(&self, whole: &str) -> Range<usize> {
        self.c
            .text
            .find(whole)
            .map_or(0..0, |at| at..at + whole.len())
    }

    /// A declared value as a sentence quotes it: rules and routes read as text, parameters
    /// filled in.
    fn render(&self, key: &str, value: &toml::Value) -> String {
        match value {
            toml::Value::String(s) => substitute_params(s, &self.params),
            toml::Value::Array(items) => {
                let tables = items.iter().all(toml::Value::is_table);
                items
                    .iter()
                    .map(|i| self.render(key, i))
                    .collect::<Vec<_>>()
                    .join(if tables { "; " } else { ", " })
            }
            toml::Value::Table(t) => self.render_table(key, t),
            other => other.to_string(),
        }
    }

    /// A rule (security group or NACL) or a route as a phrase: `TCP 22 from 10.0.0.0/16`,
    /// `rule 100: allow all traffic from 10.0.0.0/16`, `0.0.0.0/0 -> lab-igw`.
    fn render_table(&self, key: &str, t: &toml::Table) -> String {
        let text = |k: &str| t.get(k).map(|v| self.render(k, v));
        let outward = matches!(key, "egress" | "outbound");
        if let Some(proto) = text("proto") {
            let proto = match Proto::parse(&proto) {
                Some(Proto::All) => "all traffic".to_owned(),
                Some(p) => p.to_string().to_ascii_uppercase(),
                None => proto,
            };
            let ports = text("port")
                .or_else(|| text("ports"))
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            let peer = text("cidr")
                .or_else(|| text("from").map(|g| format!("security group `{g}`")))
                .or_else(|| text("to").map(|g| format!("security group `{g}`")))
                .unwrap_or_default();
            let dir = if outward { "to" } else { "from" };
            let rule = format!("{proto}{ports} {dir} {peer}");
            return match text("rule") {
                Some(n) => format!(
                    "rule {n}: {} {rule}",
                    text("action").unwrap_or_else(|| "allow".to_owned())
                ),
                None => rule,
            };
        }
        if let (Some(cidr), Some(to)) = (text("cidr"), text("to")) {
            return format!("{cidr} -> `{to}`");
        }
        t.iter()
            .map(|(k, v)| format!("{k} = {}", self.render(k, v)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Warns of each CIDR and each `name` the instructions mention that the lab does not
    /// declare (placeholders aside: they are checked above).
    fn warn_undeclared(
        &mut self,
        text: &str,
        tables: &toml::Table,
        file: &LabFile,
        resources: &[Resource],
    ) {
        let mut declared = Vec::new();
        for v in tables.values() {
            self.strings(v, &mut declared);
        }
        for p in self.params.values() {
            declared.push(p.value.clone());
            declared.push(p.default.clone());
        }
        let declared_cidrs: Vec<Ipv4Net> = declared.iter().filter_map(|s| s.parse().ok()).collect();
        let prose = without_placeholders(text);
        let mut warned: Vec<String> = Vec::new();
        for word in prose.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '/')) {
            let word = word.trim_matches('.');
            let Ok(net) = word.parse::<Ipv4Net>() else {
                continue;
            };
            if net.prefix_len() == 0
                || declared_cidrs.contains(&net)
                || warned.contains(&word.to_owned())
            {
                continue;
            }
            warned.push(word.to_owned());
            let span = self.span_of(word);
            self.c.warn(
                span,
                format!("the instructions mention {word}, which the lab does not declare"),
                "not in the lab",
            );
            self.c.help(
                "quote what the lab declares, e.g. `${lab-vpc.cidr}`, so the text cannot drift",
            );
        }
        let mut known: Vec<&str> = resources.iter().map(|r| r.name.as_str()).collect();
        known.extend(tables.keys().map(String::as_str));
        known.extend(self.params.keys().map(String::as_str));
        known.extend(
            file.checks
                .iter()
                .map(|c| c.get_ref().id.get_ref().as_str()),
        );
        known.push(file.id.get_ref());
        // Other labs' ids, read only when a name is not the lab's own.
        let mut labs: Option<Vec<String>> = None;
        for (i, quoted) in prose.split('`').enumerate() {
            if i % 2 == 0 || !looks_like_name(quoted) || known.contains(&quoted) {
                continue;
            }
            if labs
                .get_or_insert_with(super::super::catalog::all_ids)
                .iter()
                .any(|l| l == quoted)
            {
                continue;
            }
            if warned.iter().any(|w| w == quoted) {
                continue;
            }
            warned.push(quoted.to_owned());
            let span = self.span_of(&format!("`{quoted}`"));
            self.c.warn(
                span,
                format!("the instructions mention `{quoted}`, which is no resource of the lab"),
                "not in the lab",
            );
            match closest(quoted, known.iter().copied()) {
                Some(close) => self.c.help(format!("did you mean `{close}`?")),
                None => self.c.help("declare it, or name one the lab declares"),
            }
        }
    }

    /// Every string in a value, parameters filled in.
    fn strings(&self, v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::String(s) => out.push(substitute_params(s, &self.params)),
            toml::Value::Array(items) => items.iter().for_each(|i| self.strings(i, out)),
            toml::Value::Table(t) => t.values().for_each(|i| self.strings(i, out)),
            _ => {}
        }
    }
}

/// The text with each `${...}` removed.
fn without_placeholders(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => rest = &rest[start + end + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A logical name as labs write them: lowercase words joined by `-` (`lab-vpc`, `public-a`).
fn looks_like_name(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    first.starts_with(|c: char| c.is_ascii_lowercase())
        && !rest.is_empty()
        && std::iter::once(first).chain(rest.iter().copied()).all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}
