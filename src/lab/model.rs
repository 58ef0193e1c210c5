//! The lab file as written: serde types that keep the source span of every value a diagnostic
//! may point at. Nothing here talks to AWS; `validate` turns this into a checked [`super::Lab`].

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::resources::Keys;

/// A whole lab file.
#[derive(Debug, Deserialize)]
pub struct LabFile {
    pub id: Spanned<String>,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub instructions: String,
    /// Parameters a user may set with `--set name=value`; referenced as `${name}` in strings.
    #[serde(default)]
    pub params: BTreeMap<Spanned<String>, ParamDef>,
    /// Resources (and checks) taken from other labs, with their dependencies.
    #[serde(default)]
    pub include: Vec<Spanned<IncludeDef>>,
    #[serde(default)]
    pub resources: BTreeMap<Spanned<String>, Spanned<ResourceDef>>,
    #[serde(default)]
    pub checks: Vec<Spanned<CheckDef>>,
}

#[derive(Debug, Deserialize)]
pub struct ParamDef {
    pub default: Spanned<String>,
    /// Where a better default comes from at run time (`caller-ip`); `default` when it fails.
    pub default_from: Option<Spanned<String>>,
    #[serde(default)]
    pub description: String,
}

/// One `[resources.NAME]` table: its type and stage, and the rest of its keys as the kind
/// reads them ([`crate::lab::validate::ParseSpec::Keys`]), each value with its span.
#[derive(Debug, Default, Deserialize)]
pub struct ResourceDef {
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    pub stage: Option<Spanned<String>>,
    pub description: Option<String>,
    /// The kind's keys; `None` when the type is unknown or a key has the wrong type (reported
    /// by the parser).
    #[serde(skip)]
    pub keys: Option<Keys>,
    /// Every key of the table with the span of its value (of a list: from its first to its
    /// last element).
    #[serde(skip)]
    pub spans: Vec<(String, Range<usize>)>,
}

impl ResourceDef {
    /// The keys of the table beyond `type`, `stage` and `description`, with their spans.
    pub fn key_spans(&self) -> impl Iterator<Item = (&str, Range<usize>)> {
        self.spans
            .iter()
            .map(|(k, s)| (k.as_str(), s.clone()))
            .filter(|(k, _)| !COMMON_RESOURCE_KEYS.contains(k))
    }

    /// The span of one key's value.
    pub fn value_span(&self, key: &str) -> Option<Range<usize>> {
        self.spans
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, s)| s.clone())
    }
}

/// The keys every resource table may hold, whatever its type.
pub const COMMON_RESOURCE_KEYS: &[&str] = &["type", "stage", "description"];

/// `[[include]]`: resources of another lab, by name; what they reference comes with them.
#[derive(Debug, Deserialize)]
pub struct IncludeDef {
    /// A lab id (`labs/<id>.toml` beside this file, `./labs`, or bundled) or a path.
    pub lab: Spanned<String>,
    pub resources: Vec<Spanned<String>>,
    /// Checks of that lab to grade here too (all their resources must be included).
    #[serde(default)]
    pub checks: Vec<Spanned<String>>,
    /// The stage the included resources take here (default `setup`).
    pub stage: Option<Spanned<String>>,
}

pub const INCLUDE_KEYS: &[&str] = &["lab", "resources", "checks", "stage"];

pub const TOP_KEYS: &[&str] = &[
    "id",
    "title",
    "summary",
    "source",
    "instructions",
    "params",
    "include",
    "resources",
    "checks",
];

/// One `[[checks]]` entry: a semantic check from a fixed vocabulary.
#[derive(Debug, Deserialize)]
pub struct CheckDef {
    pub id: Spanned<String>,
    pub title: String,
    pub kind: Spanned<String>,
    #[serde(default)]
    pub subnets: Vec<Spanned<String>>,
    /// Subnets for `egress`; one endpoint for `reachable` / `not_reachable`.
    pub from: Option<Spanned<OneOrMany>>,
    /// The endpoint of `reachable` / `not_reachable`.
    pub to: Option<Spanned<String>>,
    pub proto: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
    /// Also test the endpoint from this machine when `check --live` runs against AWS.
    #[serde(default)]
    pub live: bool,
    pub via: Option<Spanned<String>>,
    #[serde(default)]
    pub resources: Vec<Spanned<String>>,
    /// `efs_mountable`: the file system and the instances that mount it.
    pub file_system: Option<Spanned<String>>,
    #[serde(default)]
    pub instances: Vec<Spanned<String>>,
    /// `alb_serves_asg`: the load balancer and the Auto Scaling group.
    pub load_balancer: Option<Spanned<String>>,
    pub auto_scaling_group: Option<Spanned<String>>,
    /// `s3_website`, `s3_encryption`, `s3_versioning`: the bucket.
    pub bucket: Option<Spanned<String>>,
    /// `ecr_image`: the repository and the tag.
    pub repository: Option<Spanned<String>>,
    pub tag: Option<Spanned<String>>,
    pub points: Option<Spanned<i64>>,
    #[serde(default)]
    pub hint: String,
}

/// A name or a list of names (`from = "internet"`, `from = ["private-a", "private-b"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

pub const CHECK_KEYS: &[&str] = &[
    "id",
    "title",
    "kind",
    "subnets",
    "from",
    "to",
    "proto",
    "port",
    "live",
    "via",
    "resources",
    "file_system",
    "instances",
    "load_balancer",
    "auto_scaling_group",
    "bucket",
    "repository",
    "tag",
    "points",
    "hint",
];
