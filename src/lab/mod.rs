//! Lab files: the model as written ([`model`]), parsing with spans ([`parse`]), validation into a
//! checked [`Lab`] ([`validate`]), and finding a lab by id or path ([`catalog`]).

pub mod catalog;
mod checks;
pub mod diagnostic;
pub mod model;
pub mod parse;
pub mod schema;
pub mod skeleton;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;

use ipnet::Ipv4Net;
use serde::Serialize;

pub use catalog::{LabSource, load_lab};
pub use checks::{Check, CheckKind, Endpoint, REF_ATTRS, fill_refs, resource_refs};
pub use diagnostic::{LabDiagnostics, LabIssue, Severity};

/// A validated lab: every reference resolves to a resource of the right kind, every CIDR parses,
/// parameters are substituted.
#[derive(Debug, Clone)]
pub struct Lab {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub source: Option<String>,
    pub instructions: String,
    pub params: BTreeMap<String, Param>,
    /// In the order of the file's keys (sorted by name); the engine orders by the graph.
    pub resources: Vec<Resource>,
    pub checks: Vec<Check>,
    /// Where the lab came from (`labs/x.toml` or `bundled:x`).
    pub origin: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Param {
    pub value: String,
    pub default: String,
    /// Where the default comes from when it can be found, before `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_from: Option<DefaultFrom>,
    pub description: String,
}

/// A run-time source of a parameter's default (`default_from` in the lab file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultFrom {
    /// This machine's public IPv4 address as a /32 CIDR ([`crate::caller_ip`]).
    CallerIp,
}

impl DefaultFrom {
    pub const ALL: &[DefaultFrom] = &[DefaultFrom::CallerIp];

    pub fn as_str(self) -> &'static str {
        match self {
            DefaultFrom::CallerIp => "caller-ip",
        }
    }
}

impl Lab {
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == name)
    }

    /// The resources of `stage` (and, for the full solution, everything).
    pub fn resources_for(&self, stage: StageSel) -> impl Iterator<Item = &Resource> {
        self.resources
            .iter()
            .filter(move |r| stage.includes(r.stage))
    }
}

/// Which part of a lab a command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageSel {
    /// Only what the student starts from.
    Setup,
    /// The whole solution.
    Full,
}

impl StageSel {
    pub fn includes(self, stage: Stage) -> bool {
        match self {
            StageSel::Full => true,
            StageSel::Setup => stage == Stage::Setup,
        }
    }
}

/// Which part of a lab a resource belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Provided to the student: `awslab up --stage setup` creates it.
    Setup,
    /// What the student builds (the default).
    Solution,
}

#[derive(Debug, Clone)]
pub struct Resource {
    /// Logical name: the `Name` tag and the `awslab:resource` tag.
    pub name: String,
    pub stage: Stage,
    pub spec: Spec,
}

impl Resource {
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }
}

use crate::resources::registry::Placement;
pub use crate::resources::registry::{Kind, Spec};

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Kind {
    /// The kind whose listing lists this one: itself, or the parent it belongs to.
    pub fn listed_with(self) -> Kind {
        match self.handler().placement() {
            Placement::Child(parent) => parent,
            _ => self,
        }
    }

    /// Kinds found through the resource they belong to (listed with it), never on their own.
    pub fn listed_with_parent(self) -> bool {
        self.listed_with() != self
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ECR lifecycle policy as a lab states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub expire_untagged_after_days: Option<u32>,
    pub keep_last_tagged: Option<u32>,
    pub tag_prefix: String,
}

/// An S3 Block Public Access configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PublicAccess {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl fmt::Display for PublicAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = |b: bool| if b { "on" } else { "off" };
        write!(
            f,
            "block public ACLs {}, ignore public ACLs {}, block public policy {}, restrict public buckets {}",
            on(self.block_public_acls),
            on(self.ignore_public_acls),
            on(self.block_public_policy),
            on(self.restrict_public_buckets)
        )
    }
}

/// A file to upload: its key, content and content type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteFile {
    pub key: String,
    #[serde(skip)]
    pub content: Vec<u8>,
    pub content_type: String,
}

/// A route: destination CIDR to the logical name of a gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub cidr: Ipv4Net,
    pub target: String,
}

/// IP protocol as EC2 spells it in rules: `-1` (all), `6` (tcp), `17` (udp), `1` (icmp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    All,
    Tcp,
    Udp,
    Icmp,
}

impl Proto {
    pub fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "all" | "-1" => Some(Proto::All),
            "tcp" | "6" => Some(Proto::Tcp),
            "udp" | "17" => Some(Proto::Udp),
            "icmp" | "1" => Some(Proto::Icmp),
            _ => None,
        }
    }

    /// The protocol number EC2 uses in NACL entries.
    pub fn number(self) -> &'static str {
        match self {
            Proto::All => "-1",
            Proto::Tcp => "6",
            Proto::Udp => "17",
            Proto::Icmp => "1",
        }
    }

    /// The name EC2 uses in security group permissions.
    pub fn sg_name(self) -> &'static str {
        match self {
            Proto::All => "-1",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        }
    }

    pub fn has_ports(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Udp)
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::All => "all",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        })
    }
}

/// An inclusive port range; `None` in a rule means all ports (protocol `all` or `icmp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Ports {
    pub from: u16,
    pub to: u16,
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Deny,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NaclRule {
    pub rule: i32,
    pub action: Action,
    pub proto: Proto,
    pub ports: Option<Ports>,
    pub cidr: Ipv4Net,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Peer {
    Cidr(Ipv4Net),
    /// Logical name of a security group.
    Group(String),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SgRule {
    pub proto: Proto,
    pub ports: Option<Ports>,
    pub peer: Peer,
}

/// Where an instance's image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmiRef {
    /// An SSM public parameter holding the region's current image id.
    Ssm(String),
    /// A literal image id.
    Id(String),
    /// The image of an `ami` resource of the lab (its logical name).
    Resource(String),
}

impl fmt::Display for AmiRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmiRef::Ssm(p) => write!(f, "ssm:{p}"),
            AmiRef::Id(id) => f.write_str(id),
            AmiRef::Resource(name) => f.write_str(name),
        }
    }
}
