//! The lab file as written: serde types that keep the source span of every value a diagnostic
//! may point at. Nothing here talks to AWS; `validate` turns this into a checked [`super::Lab`].

use std::collections::BTreeMap;
use std::ops::Range;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use crate::resources::Keys;

/// An awslab lab file: one hands-on exercise, its student instructions, the resources of its
/// solution and the checks that grade it.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(title = "awslab lab", deny_unknown_fields)]
pub struct LabFile {
    /// The lab's id: letters, digits, `-` and `_`. Resources are tagged with it; a file in
    /// `./labs` is named after it.
    #[schemars(with = "String", regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub id: Spanned<String>,
    /// One line: what the student builds.
    pub title: String,
    /// A sentence or two for `awslab list` and `show`.
    #[serde(default)]
    pub summary: String,
    /// Where the exercise comes from in the course notes.
    #[serde(default)]
    pub source: Option<String>,
    /// What the student reads (`awslab show`). `${param}` is a parameter's value,
    /// `${NAME.KEY}` a value the lab declares (`${lab-vpc.cidr}`, `${bastion-sg.ingress}`),
    /// `${NAME.id}` and `${NAME.url}` what AWS gives the resource once it exists.
    #[serde(default)]
    pub instructions: String,
    /// Parameters a user may set with `--set name=value`; referenced as `${name}` in strings.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, ParamDef>")]
    pub params: BTreeMap<Spanned<String>, ParamDef>,
    /// Resources (and checks) taken from other labs, with their dependencies.
    #[serde(default)]
    #[schemars(with = "Vec<IncludeDef>")]
    pub include: Vec<Spanned<IncludeDef>>,
    /// The resources, by logical name (also their `Name` tag): `[resources.NAME]` tables with a
    /// `type` and that kind's keys.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, super::schema::ResourceTable>")]
    pub resources: BTreeMap<Spanned<String>, Spanned<ResourceDef>>,
    /// The semantic checks that grade a setup: `[[checks]]` tables.
    #[serde(default)]
    #[schemars(with = "Vec<CheckDef>")]
    pub checks: Vec<Spanned<CheckDef>>,
}

/// A parameter: a value the user may set with `--set name=value`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ParamDef {
    /// The value when the user sets none.
    #[schemars(with = "String")]
    pub default: Spanned<String>,
    /// Where a better default comes from at run time (`caller-ip`); `default` when it fails.
    #[schemars(with = "Option<super::DefaultFrom>")]
    pub default_from: Option<Spanned<String>>,
    /// What the parameter is for (shown by `awslab show`).
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
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct IncludeDef {
    /// A lab id (`labs/<id>.toml` beside this file, `./labs`, or bundled) or a path.
    #[schemars(with = "String")]
    pub lab: Spanned<String>,
    /// The resources of that lab to take, by name.
    #[schemars(with = "Vec<String>")]
    pub resources: Vec<Spanned<String>>,
    /// Checks of that lab to grade here too (all their resources must be included).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub checks: Vec<Spanned<String>>,
    /// The stage the included resources take here (default `setup`).
    #[schemars(with = "Option<super::Stage>")]
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

/// One `[[checks]]` entry: a semantic check from a fixed vocabulary (`kind`), and the keys that
/// kind takes.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, transform = super::schema::check_kinds)]
pub struct CheckDef {
    /// The check's id, unique in the lab (reports and gradebooks name it).
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// What the check verifies, as the student reads it in the report.
    pub title: String,
    /// What is checked.
    #[schemars(with = "super::schema::CheckKindName")]
    pub kind: Spanned<String>,
    /// `public_subnet`, `private_subnet`: the subnets.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub subnets: Vec<Spanned<String>>,
    /// Subnets for `egress`; one endpoint for `reachable` / `not_reachable` (`internet`, an
    /// instance, a subnet, a security group, an Auto Scaling group or a load balancer).
    #[schemars(with = "Option<OneOrMany>")]
    pub from: Option<Spanned<OneOrMany>>,
    /// The endpoint of `reachable` / `not_reachable`.
    #[schemars(with = "Option<String>")]
    pub to: Option<Spanned<String>>,
    /// `reachable` / `not_reachable`: `tcp` (the default), `udp` or `icmp`.
    #[schemars(with = "Option<String>")]
    pub proto: Option<Spanned<String>>,
    /// `reachable` / `not_reachable` over TCP or UDP: the port.
    #[schemars(with = "Option<i64>")]
    pub port: Option<Spanned<i64>>,
    /// Also test the endpoint from this machine when `check --live` runs against AWS.
    #[serde(default)]
    pub live: bool,
    /// `egress`: `nat_gateway`.
    #[schemars(with = "Option<String>")]
    pub via: Option<Spanned<String>>,
    /// `multi_az`: resources that must span two or more availability zones.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub resources: Vec<Spanned<String>>,
    /// `efs_mountable`: the file system and the instances that mount it.
    #[schemars(with = "Option<String>")]
    pub file_system: Option<Spanned<String>>,
    /// `efs_mountable`: the instances that mount the file system.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub instances: Vec<Spanned<String>>,
    /// `alb_serves_asg`: the load balancer and the Auto Scaling group.
    #[schemars(with = "Option<String>")]
    pub load_balancer: Option<Spanned<String>>,
    /// `alb_serves_asg`: the Auto Scaling group behind the load balancer.
    #[schemars(with = "Option<String>")]
    pub auto_scaling_group: Option<Spanned<String>>,
    /// `alb_serves_ecs`: the ECS service behind the load balancer.
    #[schemars(with = "Option<String>")]
    pub ecs_service: Option<Spanned<String>>,
    /// `s3_website`, `s3_encryption`, `s3_versioning`: the bucket.
    #[schemars(with = "Option<String>")]
    pub bucket: Option<Spanned<String>>,
    /// `ecr_image`: the repository and the tag.
    #[schemars(with = "Option<String>")]
    pub repository: Option<Spanned<String>>,
    /// `ecr_image`: the tag that must be in the repository.
    #[schemars(with = "Option<String>")]
    pub tag: Option<Spanned<String>>,
    /// Points the check is worth (0-100, default 1).
    #[schemars(with = "Option<i64>", range(min = 0, max = 100))]
    pub points: Option<Spanned<i64>>,
    /// What to do when the check fails.
    #[serde(default)]
    pub hint: String,
}

/// A name or a list of names (`from = "internet"`, `from = ["private-a", "private-b"]`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
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
    "ecs_service",
    "bucket",
    "repository",
    "tag",
    "points",
    "hint",
];
