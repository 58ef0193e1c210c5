//! The lab file as written: serde types that keep the source span of every value a diagnostic
//! may point at. Nothing here talks to AWS; `validate` turns this into a checked [`super::Lab`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

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

/// One `[resources.NAME]` table. A flat struct on purpose: every key keeps its span (serde's
/// internally tagged enums lose them), and validation says which keys a given `type` takes.
#[derive(Debug, Default, Deserialize)]
pub struct ResourceDef {
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    pub stage: Option<Spanned<String>>,
    pub description: Option<String>,
    pub vpc: Option<Spanned<String>>,
    pub subnet: Option<Spanned<String>>,
    pub subnets: Option<Vec<Spanned<String>>>,
    pub cidr: Option<Spanned<String>>,
    pub az: Option<Spanned<i64>>,
    pub dns_hostnames: Option<Spanned<bool>>,
    pub map_public_ip: Option<Spanned<bool>>,
    pub routes: Option<Vec<Spanned<RouteDef>>>,
    pub eip: Option<Spanned<String>>,
    pub inbound: Option<Vec<Spanned<NaclRuleDef>>>,
    pub outbound: Option<Vec<Spanned<NaclRuleDef>>>,
    pub ingress: Option<Vec<Spanned<SgRuleDef>>>,
    pub egress: Option<Vec<Spanned<SgRuleDef>>>,
    pub ami: Option<Spanned<String>>,
    pub instance_type: Option<Spanned<String>>,
    pub security_groups: Option<Vec<Spanned<String>>>,
    pub key: Option<Spanned<String>>,
    pub instance_profile: Option<Spanned<String>>,
    pub user_data: Option<Spanned<String>>,
    pub service: Option<Spanned<String>>,
    pub route_tables: Option<Vec<Spanned<String>>>,
    pub managed_policies: Option<Vec<Spanned<String>>>,
    pub role: Option<Spanned<String>>,
    pub encrypted: Option<Spanned<bool>>,
    pub performance_mode: Option<Spanned<String>>,
    pub transition_to_ia: Option<Spanned<String>>,
    pub file_system: Option<Spanned<String>>,
    pub protocol: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
    pub health_check_path: Option<Spanned<String>>,
    pub scheme: Option<Spanned<String>>,
    pub load_balancer: Option<Spanned<String>>,
    pub target_group: Option<Spanned<String>>,
    pub target_groups: Option<Vec<Spanned<String>>>,
    pub launch_template: Option<Spanned<String>>,
    pub min_size: Option<Spanned<i64>>,
    pub max_size: Option<Spanned<i64>>,
    pub desired_capacity: Option<Spanned<i64>>,
    pub health_check_type: Option<Spanned<String>>,
    pub auto_scaling_group: Option<Spanned<String>>,
    pub target_cpu: Option<Spanned<f64>>,
    pub versioning: Option<Spanned<bool>>,
    pub bucket_key: Option<Spanned<bool>>,
    pub object_ownership: Option<Spanned<String>>,
    pub block_public_acls: Option<Spanned<bool>>,
    pub ignore_public_acls: Option<Spanned<bool>>,
    pub block_public_policy: Option<Spanned<bool>>,
    pub restrict_public_buckets: Option<Spanned<bool>>,
    pub bucket: Option<Spanned<String>>,
    pub public_read: Option<Spanned<bool>>,
    pub index_document: Option<Spanned<String>>,
    pub error_document: Option<Spanned<String>>,
    /// A directory, relative to the lab file.
    pub source: Option<Spanned<String>>,
    pub repository_name: Option<Spanned<String>>,
    pub scan_on_push: Option<Spanned<bool>>,
    pub tag_mutability: Option<Spanned<String>>,
    pub expire_untagged_after_days: Option<Spanned<i64>>,
    pub keep_last_tagged: Option<Spanned<i64>>,
    pub tag_prefix: Option<Spanned<String>>,
    pub repository: Option<Spanned<String>>,
    pub tag: Option<Spanned<String>>,
}

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

/// Every key a `[resources.NAME]` table may hold (for the unknown-key warning).
pub const RESOURCE_KEYS: &[&str] = &[
    "type",
    "stage",
    "description",
    "vpc",
    "subnet",
    "subnets",
    "cidr",
    "az",
    "dns_hostnames",
    "map_public_ip",
    "routes",
    "eip",
    "inbound",
    "outbound",
    "ingress",
    "egress",
    "ami",
    "instance_type",
    "security_groups",
    "key",
    "instance_profile",
    "user_data",
    "service",
    "route_tables",
    "managed_policies",
    "role",
    "encrypted",
    "performance_mode",
    "transition_to_ia",
    "file_system",
    "protocol",
    "port",
    "health_check_path",
    "scheme",
    "load_balancer",
    "target_group",
    "target_groups",
    "launch_template",
    "min_size",
    "max_size",
    "desired_capacity",
    "health_check_type",
    "auto_scaling_group",
    "target_cpu",
    "versioning",
    "bucket_key",
    "object_ownership",
    "block_public_acls",
    "ignore_public_acls",
    "block_public_policy",
    "restrict_public_buckets",
    "bucket",
    "public_read",
    "index_document",
    "error_document",
    "source",
    "repository_name",
    "scan_on_push",
    "tag_mutability",
    "expire_untagged_after_days",
    "keep_last_tagged",
    "tag_prefix",
    "repository",
    "tag",
];

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

#[derive(Debug, Deserialize)]
pub struct RouteDef {
    pub cidr: Spanned<String>,
    /// Logical name of an internet gateway or NAT gateway.
    pub to: Spanned<String>,
}

#[derive(Debug, Deserialize)]
pub struct NaclRuleDef {
    pub rule: Spanned<i64>,
    #[serde(default = "default_allow")]
    pub action: Spanned<String>,
    pub proto: Spanned<String>,
    pub port: Option<Spanned<i64>>,
    pub ports: Option<Spanned<String>>,
    pub cidr: Spanned<String>,
}

fn default_allow() -> Spanned<String> {
    Spanned::new(0..0, "allow".to_owned())
}

#[derive(Debug, Deserialize)]
pub struct SgRuleDef {
    pub proto: Spanned<String>,
    pub port: Option<Spanned<i64>>,
    pub ports: Option<Spanned<String>>,
    /// A CIDR (`0.0.0.0/0`, may come from `${param}`).
    pub cidr: Option<Spanned<String>>,
    /// Logical name of a security group.
    pub from: Option<Spanned<String>>,
    /// For egress rules: logical name of a security group.
    pub to: Option<Spanned<String>>,
}

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
