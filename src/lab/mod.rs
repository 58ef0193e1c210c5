//! Lab files: the model as written ([`model`]), parsing with spans ([`parse`]), validation into a
//! checked [`Lab`] ([`validate`]), and finding a lab by id or path ([`catalog`]).

pub mod catalog;
mod checks;
pub mod diagnostic;
pub mod model;
pub mod parse;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Setup,
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

pub use crate::resources::registry::Kind;
use crate::resources::registry::Placement;

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Kind {
    /// Kinds that live in no VPC (in the region or, like IAM, the account): discovered on
    /// their own, not through a VPC.
    pub fn outside_vpc(self) -> bool {
        matches!(
            self.handler().placement(),
            Placement::Regional | Placement::Global
        )
    }

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

/// What a resource must be, with references as logical names.
#[derive(Debug, Clone)]
pub enum Spec {
    Vpc {
        cidr: Ipv4Net,
        dns_hostnames: bool,
    },
    Subnet {
        vpc: String,
        cidr: Ipv4Net,
        az: usize,
        map_public_ip: bool,
    },
    /// A gateway endpoint: the service reached from the VPC through the route tables.
    VpcEndpoint {
        vpc: String,
        /// `s3` or `dynamodb`.
        service: String,
        route_tables: Vec<String>,
    },
    InternetGateway {
        vpc: String,
    },
    RouteTable {
        vpc: String,
        subnets: Vec<String>,
        routes: Vec<Route>,
    },
    ElasticIp,
    NatGateway {
        subnet: String,
        eip: String,
    },
    NetworkAcl {
        vpc: String,
        subnets: Vec<String>,
        inbound: Vec<NaclRule>,
        outbound: Vec<NaclRule>,
    },
    SecurityGroup {
        vpc: String,
        description: String,
        ingress: Vec<SgRule>,
        /// `None`: the lab says nothing about egress (AWS's default allow-all stays, unchecked).
        egress: Option<Vec<SgRule>>,
    },
    KeyPair,
    Instance {
        subnet: String,
        ami: AmiRef,
        instance_type: String,
        security_groups: Vec<String>,
        key: Option<String>,
        instance_profile: Option<String>,
        /// A script run once at first boot.
        user_data: Option<String>,
    },
    IamRole {
        /// The service that may assume it (`ec2.amazonaws.com`).
        service: String,
        /// Managed policy ARNs (a bare name means an AWS managed policy).
        managed_policies: Vec<String>,
    },
    InstanceProfile {
        role: String,
    },
    FileSystem {
        encrypted: bool,
        performance_mode: String,
        /// `AFTER_30_DAYS` and the like: the lifecycle policy.
        transition_to_ia: Option<String>,
    },
    MountTarget {
        file_system: String,
        subnet: String,
        security_groups: Vec<String>,
    },
    /// What an Auto Scaling group launches.
    LaunchTemplate {
        ami: AmiRef,
        instance_type: String,
        security_groups: Vec<String>,
        instance_profile: Option<String>,
        user_data: Option<String>,
    },
    TargetGroup {
        vpc: String,
        protocol: String,
        port: u16,
        health_check_path: String,
    },
    /// An application load balancer.
    LoadBalancer {
        subnets: Vec<String>,
        security_groups: Vec<String>,
        internet_facing: bool,
    },
    /// A listener forwarding to one target group.
    Listener {
        load_balancer: String,
        protocol: String,
        port: u16,
        target_group: String,
    },
    AutoScalingGroup {
        launch_template: String,
        subnets: Vec<String>,
        min_size: i32,
        max_size: i32,
        desired_capacity: i32,
        target_groups: Vec<String>,
        /// `EC2` or `ELB`.
        health_check_type: String,
    },
    /// A target-tracking policy on the group's average CPU utilization.
    ScalingPolicy {
        group: String,
        target_cpu: f64,
    },
    /// An S3 bucket (named per lab resource, lab and env, and account) with its settings.
    Bucket {
        versioning: bool,
        /// SSE-S3 is always set explicitly; this is its bucket key.
        bucket_key: bool,
        object_ownership: String,
        public_access: PublicAccess,
    },
    BucketPolicy {
        bucket: String,
        /// Everyone may `s3:GetObject` the bucket's objects, nothing more.
        public_read: bool,
    },
    Website {
        bucket: String,
        index_document: String,
        error_document: Option<String>,
    },
    /// The files of a directory, uploaded with their content types.
    Objects {
        bucket: String,
        source: String,
        files: Vec<SiteFile>,
    },
    /// An ECR repository (its name as AWS knows it, e.g. `lab/web`), AES256-encrypted.
    Repository {
        name: String,
        scan_on_push: bool,
        immutable: bool,
        lifecycle: Option<Lifecycle>,
    },
    /// The files of a directory, packed into a one-layer image and pushed under a tag.
    Image {
        repository: String,
        tag: String,
        source: String,
        files: Vec<SiteFile>,
    },
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

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Vpc { .. } => Kind::Vpc,
            Spec::Subnet { .. } => Kind::Subnet,
            Spec::InternetGateway { .. } => Kind::InternetGateway,
            Spec::VpcEndpoint { .. } => Kind::VpcEndpoint,
            Spec::RouteTable { .. } => Kind::RouteTable,
            Spec::ElasticIp => Kind::ElasticIp,
            Spec::NatGateway { .. } => Kind::NatGateway,
            Spec::NetworkAcl { .. } => Kind::NetworkAcl,
            Spec::SecurityGroup { .. } => Kind::SecurityGroup,
            Spec::KeyPair => Kind::KeyPair,
            Spec::Instance { .. } => Kind::Instance,
            Spec::IamRole { .. } => Kind::IamRole,
            Spec::InstanceProfile { .. } => Kind::InstanceProfile,
            Spec::FileSystem { .. } => Kind::FileSystem,
            Spec::MountTarget { .. } => Kind::MountTarget,
            Spec::LaunchTemplate { .. } => Kind::LaunchTemplate,
            Spec::TargetGroup { .. } => Kind::TargetGroup,
            Spec::LoadBalancer { .. } => Kind::LoadBalancer,
            Spec::Listener { .. } => Kind::Listener,
            Spec::AutoScalingGroup { .. } => Kind::AutoScalingGroup,
            Spec::ScalingPolicy { .. } => Kind::ScalingPolicy,
            Spec::Bucket { .. } => Kind::Bucket,
            Spec::BucketPolicy { .. } => Kind::BucketPolicy,
            Spec::Website { .. } => Kind::Website,
            Spec::Objects { .. } => Kind::Objects,
            Spec::Repository { .. } => Kind::Repository,
            Spec::Image { .. } => Kind::Image,
        }
    }

    /// Every logical name this resource depends on (the edges of the graph).
    pub fn refs(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        match self {
            Spec::Vpc { .. }
            | Spec::ElasticIp
            | Spec::KeyPair
            | Spec::IamRole { .. }
            | Spec::FileSystem { .. } => {}
            Spec::InstanceProfile { role } => out.push(role),
            Spec::LaunchTemplate {
                security_groups,
                instance_profile,
                ..
            } => {
                out.extend(security_groups.iter().map(String::as_str));
                out.extend(instance_profile.as_deref());
            }
            Spec::TargetGroup { vpc, .. } => out.push(vpc),
            Spec::LoadBalancer {
                subnets,
                security_groups,
                ..
            } => {
                out.extend(subnets.iter().map(String::as_str));
                out.extend(security_groups.iter().map(String::as_str));
            }
            Spec::Listener {
                load_balancer,
                target_group,
                ..
            } => {
                out.push(load_balancer);
                out.push(target_group);
            }
            Spec::AutoScalingGroup {
                launch_template,
                subnets,
                target_groups,
                ..
            } => {
                out.push(launch_template);
                out.extend(subnets.iter().map(String::as_str));
                out.extend(target_groups.iter().map(String::as_str));
            }
            Spec::ScalingPolicy { group, .. } => out.push(group),
            Spec::Bucket { .. } | Spec::Repository { .. } => {}
            Spec::Image { repository, .. } => out.push(repository),
            Spec::BucketPolicy { bucket, .. }
            | Spec::Website { bucket, .. }
            | Spec::Objects { bucket, .. } => out.push(bucket),
            Spec::MountTarget {
                file_system,
                subnet,
                security_groups,
            } => {
                out.push(file_system);
                out.push(subnet);
                out.extend(security_groups.iter().map(String::as_str));
            }
            Spec::Subnet { vpc, .. } | Spec::InternetGateway { vpc } => out.push(vpc),
            Spec::VpcEndpoint {
                vpc, route_tables, ..
            } => {
                out.push(vpc);
                out.extend(route_tables.iter().map(String::as_str));
            }
            Spec::RouteTable {
                vpc,
                subnets,
                routes,
            } => {
                out.push(vpc);
                out.extend(subnets.iter().map(String::as_str));
                out.extend(routes.iter().map(|r| r.target.as_str()));
            }
            Spec::NatGateway { subnet, eip } => {
                out.push(subnet);
                out.push(eip);
            }
            Spec::NetworkAcl { vpc, subnets, .. } => {
                out.push(vpc);
                out.extend(subnets.iter().map(String::as_str));
            }
            Spec::SecurityGroup {
                vpc,
                ingress,
                egress,
                ..
            } => {
                out.push(vpc);
                for rule in ingress.iter().chain(egress.iter().flatten()) {
                    if let Peer::Group(g) = &rule.peer {
                        out.push(g);
                    }
                }
            }
            Spec::Instance {
                subnet,
                security_groups,
                key,
                instance_profile,
                ..
            } => {
                out.push(subnet);
                out.extend(security_groups.iter().map(String::as_str));
                out.extend(key.as_deref());
                out.extend(instance_profile.as_deref());
            }
        }
        out
    }
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
}

impl fmt::Display for AmiRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmiRef::Ssm(p) => write!(f, "ssm:{p}"),
            AmiRef::Id(id) => f.write_str(id),
        }
    }
}
